package iam_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/iamgo/iam"
)

// User is the application's user type: the Subject of checks.
type User struct {
	ID        string
	Superuser bool
	Disabled  bool
	Teams     []string // groups the application knows, e.g. from SSO claims
}

func (u *User) SubjectID() string       { return u.ID }
func (u *User) IsActive() bool          { return !u.Disabled }
func (u *User) IsSuperuser() bool       { return u.Superuser }
func (u *User) SubjectGroups() []string { return u.Teams }

// Post is a blog post: an Object whose parent is its section.
type Post struct {
	ID      string
	OwnerID string
	Section string // "" for none
	Private bool   // private posts refuse global roles
}

func (p *Post) ObjectRef() iam.Ref { return iam.Ref{Type: "blog.post", ID: p.ID} }

func (p *Post) Parents() []iam.Ref {
	if p.Section == "" {
		return nil
	}
	return []iam.Ref{{Type: "blog.section", ID: p.Section}}
}

func (p *Post) AcquireGlobalRoles() bool { return !p.Private }

// This example is the README's quick start (TestReadmeQuickStart keeps the
// two identical).
func Example() {
	ctx := context.Background()

	// The policy is Go code, declared at start-up and reviewed in pull requests.
	author := &iam.Role{Name: "blog.author", Perms: []string{"blog.view_post", "blog.add_post"}}
	editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.publish_post"}, Includes: []*iam.Role{author}}
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *User, p *Post) bool {
		return u != nil && p != nil && p.OwnerID != "" && p.OwnerID == u.ID
	})
	policy := iam.Policy{
		Roles: []*iam.Role{author, editor},
		Rules: map[string]iam.Predicate{
			"blog.change_post": iam.Or(iam.HasRole(editor), iam.And(iam.HasRole(author), isOwner)),
		},
	}
	checker, err := iam.New(policy, iam.NewMemoryStore())
	if err != nil {
		log.Fatal(err)
	}

	// Who holds what lives in the store: Ann is an author (roles are profiles).
	err = checker.AssignRole(ctx, iam.Profile{Holder: iam.User("ann"), Role: "blog.author", Active: true})
	if err != nil {
		log.Fatal(err)
	}

	ann := &User{ID: "ann"}
	hers := &Post{ID: "1", OwnerID: "ann"}
	bobs := &Post{ID: "2", OwnerID: "bob"}
	fmt.Println(checker.HasPerm(ctx, ann, "blog.view_post", bobs))
	fmt.Println(checker.HasPerm(ctx, ann, "blog.change_post", hers))
	fmt.Println(checker.HasPerm(ctx, ann, "blog.change_post", bobs))
	fmt.Println(checker.HasPerm(ctx, ann, "blog.publish_post", hers))

	// Typos never pass silently.
	_, err = checker.Check(ctx, ann, "blog.chagne_post", hers)
	fmt.Println(errors.Is(err, iam.ErrUnknownPermission))
	// Output:
	// true
	// true
	// false
	// false
	// true
}

func ExampleChecker_Check() {
	ctx := context.Background()
	author := &iam.Role{Name: "blog.author", Perms: []string{"blog.add_post"}}
	editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.publish_post"}, Includes: []*iam.Role{author}}
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *User, p *Post) bool {
		return u != nil && p != nil && p.OwnerID != "" && p.OwnerID == u.ID
	})
	checker, err := iam.New(iam.Policy{
		Roles: []*iam.Role{author, editor},
		Rules: map[string]iam.Predicate{
			"blog.change_post": iam.Or(iam.HasRole(editor), iam.And(iam.HasRole(author), isOwner)),
		},
	}, iam.NewMemoryStore())
	if err != nil {
		log.Fatal(err)
	}
	err = checker.AssignRole(ctx, iam.Profile{Holder: iam.User("ann"), Role: "blog.author", Active: true})
	if err != nil {
		log.Fatal(err)
	}
	ann := &User{ID: "ann"}

	d, err := checker.Check(ctx, ann, "blog.add_post", nil) // a model-level check
	fmt.Println(d, err)
	d, err = checker.Check(ctx, ann, "blog.change_post", &Post{ID: "1", OwnerID: "ann"})
	fmt.Println(d, err)
	d, err = checker.Check(ctx, ann, "blog.change_post", &Post{ID: "2", OwnerID: "bob"})
	fmt.Println(d, err)
	d, err = checker.Check(ctx, ann, "blog.publish_post", nil)
	fmt.Println(d, err)
	d, err = checker.Check(ctx, &User{ID: "root", Superuser: true}, "blog.publish_post", nil)
	fmt.Println(d, err)
	d, err = checker.Check(ctx, &User{ID: "ann", Disabled: true}, "blog.add_post", nil)
	fmt.Println(d, err)
	// Output:
	// allowed blog.add_post: global role blog.author held by user:ann <nil>
	// allowed blog.change_post: rule (has_role:blog.editor | (has_role:blog.author & is_owner)) [has_role:blog.editor=false has_role:blog.author=true is_owner=true] <nil>
	// denied blog.change_post: no grant; rule (has_role:blog.editor | (has_role:blog.author & is_owner)) [has_role:blog.editor=false has_role:blog.author=true is_owner=false] <nil>
	// denied blog.publish_post: no grant <nil>
	// allowed blog.publish_post: superuser <nil>
	// denied blog.add_post: inactive subject <nil>
}

// Decide answers as HasPerm does (from the answer cache when it can) and
// returns the error; an allow says only that, a denial says why.
func ExampleChecker_Decide() {
	ctx := context.Background()
	author := &iam.Role{Name: "blog.author", Perms: []string{"blog.add_post"}}
	checker, err := iam.New(iam.Policy{Roles: []*iam.Role{author}, Perms: []iam.Perm{{Name: "blog.add_post"}, {Name: "blog.publish_post"}}},
		iam.NewMemoryStore())
	if err != nil {
		log.Fatal(err)
	}
	err = checker.AssignRole(ctx, iam.Profile{Holder: iam.User("ann"), Role: "blog.author", Active: true})
	if err != nil {
		log.Fatal(err)
	}
	ann := &User{ID: "ann"}
	for _, perm := range []string{"blog.add_post", "blog.publish_post", "blog.add_psot"} {
		d, err := checker.Decide(ctx, ann, perm, nil)
		fmt.Println(d, err)
	}
	// Output:
	// allowed blog.add_post <nil>
	// denied blog.publish_post: no grant <nil>
	// denied blog.add_psot: error iam: unknown permission: "blog.add_psot"
}

func ExampleChecker_Explain() {
	ctx := context.Background()
	editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.change_post"}}
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *User, p *Post) bool {
		return u != nil && p != nil && p.OwnerID != "" && p.OwnerID == u.ID
	})
	store := iam.NewMemoryStore()
	checker, err := iam.New(iam.Policy{
		Roles: []*iam.Role{editor},
		Rules: map[string]iam.Predicate{"blog.change_post": isOwner},
	}, store)
	if err != nil {
		log.Fatal(err)
	}
	// Ann may change her own post in three ways: as a global editor, as an
	// editor of its section through the staff group, and as its owner.
	err = store.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
		return errors.Join(
			tx.PutProfile(ctx, iam.Profile{Holder: iam.User("ann"), Role: "blog.editor", Active: true}),
			tx.AddMember(ctx, "ann", "staff"),
			tx.Grant(ctx, iam.Grant{Holder: iam.Group("staff"), Role: "blog.editor", On: iam.Ref{Type: "blog.section", ID: "tech"}}),
		)
	})
	if err != nil {
		log.Fatal(err)
	}

	e, err := checker.Explain(ctx, &User{ID: "ann"}, "blog.change_post", &Post{ID: "1", OwnerID: "ann", Section: "tech"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e)
	// Output:
	// allowed blog.change_post: global role blog.editor held by user:ann
	//   - allowed blog.change_post: global role blog.editor held by user:ann
	//   - allowed blog.change_post: local role blog.editor held by group:staff on blog.section:tech
	//   - allowed blog.change_post: rule is_owner [is_owner=true]
}

func ExampleAnd() {
	ctx := context.Background()
	author := &iam.Role{Name: "blog.author", Perms: []string{"blog.add_post"}}
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *User, p *Post) bool {
		return u != nil && p != nil && p.OwnerID != "" && p.OwnerID == u.ID
	})
	// Authors may delete their own posts. And stops at the first false leaf.
	rule := iam.And(iam.HasRole(author), isOwner)
	fmt.Println(rule)

	checker, err := iam.New(iam.Policy{
		Roles: []*iam.Role{author},
		Rules: map[string]iam.Predicate{"blog.delete_post": rule},
	}, iam.NewMemoryStore())
	if err != nil {
		log.Fatal(err)
	}
	err = checker.AssignRole(ctx, iam.Profile{Holder: iam.User("ann"), Role: "blog.author", Active: true})
	if err != nil {
		log.Fatal(err)
	}
	post := &Post{ID: "1", OwnerID: "ann"}
	fmt.Println(checker.HasPerm(ctx, &User{ID: "ann"}, "blog.delete_post", post))
	d, _ := checker.Check(ctx, &User{ID: "bob"}, "blog.delete_post", post)
	fmt.Println(d)
	// Output:
	// (has_role:blog.author & is_owner)
	// true
	// denied blog.delete_post: no grant; rule (has_role:blog.author & is_owner) [has_role:blog.author=false is_owner=skipped]
}

func ExampleOr() {
	ctx := context.Background()
	moderator := &iam.Role{Name: "blog.moderator", Perms: []string{"blog.hide_comment"}}
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *User, p *Post) bool {
		return u != nil && p != nil && p.OwnerID != "" && p.OwnerID == u.ID
	})
	// A post's comments may be locked by its owner or by a moderator. Or
	// stops at the first true leaf.
	rule := iam.Or(isOwner, iam.HasRole(moderator))
	fmt.Println(rule)

	checker, err := iam.New(iam.Policy{
		Roles: []*iam.Role{moderator},
		Rules: map[string]iam.Predicate{"blog.lock_comments": rule},
	}, iam.NewMemoryStore())
	if err != nil {
		log.Fatal(err)
	}
	err = checker.AssignRole(ctx, iam.Profile{Holder: iam.User("mo"), Role: "blog.moderator", Active: true})
	if err != nil {
		log.Fatal(err)
	}
	post := &Post{ID: "1", OwnerID: "ann"}
	for _, id := range []string{"ann", "mo", "bob"} {
		d, _ := checker.Check(ctx, &User{ID: id}, "blog.lock_comments", post)
		fmt.Println(id, d)
	}
	// Output:
	// (is_owner | has_role:blog.moderator)
	// ann allowed blog.lock_comments: rule (is_owner | has_role:blog.moderator) [is_owner=true has_role:blog.moderator=skipped]
	// mo allowed blog.lock_comments: rule (is_owner | has_role:blog.moderator) [is_owner=false has_role:blog.moderator=true]
	// bob denied blog.lock_comments: no grant; rule (is_owner | has_role:blog.moderator) [is_owner=false has_role:blog.moderator=false]
}

func ExampleNot() {
	ctx := context.Background()
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *User, p *Post) bool {
		return u != nil && p != nil && p.OwnerID != "" && p.OwnerID == u.ID
	})
	// Signed-in users may flag posts, except their own.
	rule := iam.And(iam.IsAuthenticated(), iam.Not(isOwner))
	fmt.Println(rule)
	fmt.Println(iam.Not(iam.Not(isOwner))) // a double negation is the predicate itself

	checker, err := iam.New(iam.Policy{Rules: map[string]iam.Predicate{"blog.flag_post": rule}}, iam.NewMemoryStore())
	if err != nil {
		log.Fatal(err)
	}
	post := &Post{ID: "1", OwnerID: "ann"}
	fmt.Println(checker.HasPerm(ctx, &User{ID: "bob"}, "blog.flag_post", post))
	fmt.Println(checker.HasPerm(ctx, &User{ID: "ann"}, "blog.flag_post", post))
	fmt.Println(checker.HasPerm(ctx, &User{}, "blog.flag_post", post)) // anonymous
	// Output:
	// (is_authenticated & ~is_owner)
	// is_owner
	// true
	// false
	// false
}

func ExampleXor() {
	ctx := context.Background()
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *User, p *Post) bool {
		return u != nil && p != nil && p.OwnerID != "" && p.OwnerID == u.ID
	})
	// A review is requested by the post's owner or by staff, but staff may
	// not request a review of their own post. Xor evaluates every branch.
	rule := iam.Xor(isOwner, iam.InGroup("staff"))
	fmt.Println(rule)

	checker, err := iam.New(iam.Policy{Rules: map[string]iam.Predicate{"blog.request_review": rule}}, iam.NewMemoryStore())
	if err != nil {
		log.Fatal(err)
	}
	post := &Post{ID: "1", OwnerID: "ann"}
	for _, u := range []*User{
		{ID: "ann"},                           // owner
		{ID: "sam", Teams: []string{"staff"}}, // staff
		{ID: "ann", Teams: []string{"staff"}}, // both
		{ID: "bob"},                           // neither
	} {
		fmt.Println(u.ID, u.Teams, checker.HasPerm(ctx, u, "blog.request_review", post))
	}
	// Output:
	// (is_owner ^ in_group:staff)
	// ann [] true
	// sam [staff] true
	// ann [staff] false
	// bob [] false
}

func ExamplePred() {
	ctx := context.Background()
	// The subject is type-asserted to *User and the object to *Post. In a
	// model-level check (nil object) p is a nil *Post.
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *User, p *Post) bool {
		return u != nil && p != nil && p.OwnerID != "" && p.OwnerID == u.ID
	})
	fmt.Println(isOwner)

	checker, err := iam.New(iam.Policy{Rules: map[string]iam.Predicate{"blog.change_post": isOwner}}, iam.NewMemoryStore())
	if err != nil {
		log.Fatal(err)
	}
	ann := &User{ID: "ann"}
	fmt.Println(checker.HasPerm(ctx, ann, "blog.change_post", &Post{ID: "1", OwnerID: "ann"}))
	fmt.Println(checker.HasPerm(ctx, ann, "blog.change_post", nil))

	// An object of another Go type is an error, and a denial.
	_, err = checker.Check(ctx, ann, "blog.change_post", iam.Ref{Type: "blog.post", ID: "1"})
	fmt.Println(errors.Is(err, iam.ErrWrongType))
	// Output:
	// is_owner
	// true
	// false
	// true
}

// EditorData is the data of a blog.editor profile.
type EditorData struct {
	Sections []string `json:"sections"`
}

func ExamplePredProfile() {
	ctx := context.Background()
	editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.view_post"}}
	// Editors publish posts in the sections their profile lists.
	editsSection := iam.PredProfile("edits_section", editor,
		func(_ context.Context, u *User, p *Post, d EditorData) bool {
			return p != nil && slices.Contains(d.Sections, p.Section)
		})
	checker, err := iam.New(iam.Policy{
		Roles: []*iam.Role{editor},
		Rules: map[string]iam.Predicate{"blog.publish_post": editsSection},
	}, iam.NewMemoryStore())
	if err != nil {
		log.Fatal(err)
	}
	err = checker.AssignRole(ctx, iam.Profile{
		Holder: iam.User("eve"), Role: "blog.editor", Active: true,
		Data: []byte(`{"sections": ["tech", "science"]}`),
	})
	if err != nil {
		log.Fatal(err)
	}
	eve := &User{ID: "eve"}
	fmt.Println(checker.HasPerm(ctx, eve, "blog.publish_post", &Post{ID: "1", Section: "tech"}))
	fmt.Println(checker.HasPerm(ctx, eve, "blog.publish_post", &Post{ID: "2", Section: "sport"}))

	// Deactivating the profile takes the role, and its rule, away at once.
	err = checker.Store().SetProfileActive(ctx, iam.User("eve"), "blog.editor", false)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(checker.HasPerm(ctx, eve, "blog.publish_post", &Post{ID: "1", Section: "tech"}))
	// Output:
	// true
	// false
	// false
}

func ExampleProfileData() {
	ctx := context.Background()
	store := iam.NewMemoryStore()
	err := store.PutProfile(ctx, iam.Profile{
		Holder: iam.User("eve"), Role: "blog.editor", Active: true,
		Data: []byte(`{"sections": ["tech", "science"]}`),
	})
	if err != nil {
		log.Fatal(err)
	}

	h, err := store.Holding(ctx, iam.User("eve"))
	if err != nil {
		log.Fatal(err)
	}
	p, ok := h.Profile("blog.editor")
	if !ok {
		log.Fatal("no profile")
	}
	data, err := iam.ProfileData[EditorData](p)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Holder, p.Role, data.Sections)
	// Output:
	// user:eve blog.editor [tech science]
}

// Local roles: a role granted on one object, or on an ancestor, holds there
// only. Posts name their section as parent (Post.Parents); the store records
// that sections belong to the site (a grandparent of every post).
func ExampleChecker_Grant() {
	ctx := context.Background()
	editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.change_post", "blog.publish_post"}}
	moderator := &iam.Role{Name: "blog.moderator", Perms: []string{"blog.hide_post"}}
	store := iam.NewMemoryStore()
	checker, err := iam.New(iam.Policy{Roles: []*iam.Role{editor, moderator}}, store)
	if err != nil {
		log.Fatal(err)
	}
	site := iam.Ref{Type: "blog.site", ID: "main"}
	tech := iam.Ref{Type: "blog.section", ID: "tech"}
	sport := iam.Ref{Type: "blog.section", ID: "sport"}
	for _, section := range []iam.Ref{tech, sport} {
		if err := store.SetParents(ctx, section, []iam.Ref{site}); err != nil {
			log.Fatal(err)
		}
	}
	grants := []iam.Grant{
		{Holder: iam.Group("staff"), Role: "blog.editor", On: tech},                                  // staff edit the tech section
		{Holder: iam.User("mo"), Role: "blog.moderator", On: site},                                   // Mo moderates the whole site
		{Holder: iam.User("ann"), Perm: "blog.change_post", On: iam.Ref{Type: "blog.post", ID: "9"}}, // one post
	}
	for _, g := range grants {
		if err := checker.Grant(ctx, g); err != nil {
			log.Fatal(err)
		}
	}
	if err := store.AddMember(ctx, "sam", "staff"); err != nil {
		log.Fatal(err)
	}

	sam, mo, ann := &User{ID: "sam"}, &User{ID: "mo"}, &User{ID: "ann"}
	techPost := &Post{ID: "1", Section: "tech"}
	sportPost := &Post{ID: "2", Section: "sport"}
	for _, c := range []struct {
		u    *User
		perm string
		p    *Post
	}{
		{sam, "blog.publish_post", techPost},
		{sam, "blog.publish_post", sportPost},
		{mo, "blog.hide_post", sportPost},
		{ann, "blog.change_post", &Post{ID: "9", Section: "sport"}},
		{ann, "blog.change_post", sportPost},
	} {
		d, _ := checker.Check(ctx, c.u, c.perm, c.p)
		fmt.Println(d)
	}

	// A private post refuses global roles, not local ones.
	err = checker.AssignRole(ctx, iam.Profile{Holder: iam.User("eve"), Role: "blog.editor", Active: true})
	if err != nil {
		log.Fatal(err)
	}
	private := &Post{ID: "3", Section: "tech", Private: true}
	fmt.Println(checker.HasPerm(ctx, &User{ID: "eve"}, "blog.publish_post", techPost))
	fmt.Println(checker.HasPerm(ctx, &User{ID: "eve"}, "blog.publish_post", private))
	fmt.Println(checker.HasPerm(ctx, sam, "blog.publish_post", private))
	// Output:
	// allowed blog.publish_post: local role blog.editor held by group:staff on blog.section:tech
	// denied blog.publish_post: no grant
	// allowed blog.hide_post: local role blog.moderator held by user:mo on blog.site:main
	// allowed blog.change_post: grant held by user:ann on blog.post:9
	// denied blog.change_post: no grant
	// true
	// false
	// true
}

func ExampleMemoryStore_Transact() {
	ctx := context.Background()
	editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.publish_post"}}
	store := iam.NewMemoryStore()
	checker, err := iam.New(iam.Policy{Roles: []*iam.Role{editor}}, store)
	if err != nil {
		log.Fatal(err)
	}
	sam := &User{ID: "sam"}

	// Several writes, visible together or not at all.
	err = store.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
		if err := tx.AddMember(ctx, "sam", "staff"); err != nil {
			return err
		}
		return tx.PutProfile(ctx, iam.Profile{Holder: iam.Group("staff"), Role: "blog.editor", Active: true})
	})
	fmt.Println(err, checker.HasPerm(ctx, sam, "blog.publish_post", nil))

	// A failed update applies nothing.
	err = store.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
		if err := tx.RemoveMember(ctx, "sam", "staff"); err != nil {
			return err
		}
		return errors.New("changed my mind")
	})
	fmt.Println(err, checker.HasPerm(ctx, sam, "blog.publish_post", nil))

	// A write that returned is seen by the next check.
	err = store.SetProfileActive(ctx, iam.Group("staff"), "blog.editor", false)
	fmt.Println(err, checker.HasPerm(ctx, sam, "blog.publish_post", nil))
	// Output:
	// <nil> true
	// changed my mind true
	// <nil> false
}

// A token names a store's state; a check under AtLeast reads state at
// least that new. A memory store is one process whose writes are seen at
// once, so its own tokens never wait; with iamsql the same code keeps
// replicas consistent for a request that carries its write's token.
func ExampleAtLeast() {
	ctx := context.Background()
	store := iam.NewMemoryStore()
	checker, err := iam.New(iam.Policy{Perms: []iam.Perm{{Name: "doc.view"}}}, store)
	if err != nil {
		log.Fatal(err)
	}
	doc := iam.Ref{Type: "doc", ID: "1"}
	if err := checker.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc}); err != nil {
		log.Fatal(err)
	}
	tok, err := store.Token(ctx) // the state after the grant
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(checker.HasPerm(iam.AtLeast(ctx, tok), &User{ID: "ann"}, "doc.view", doc))
	// Output:
	// true
}

func ExampleHasRole() {
	ctx := context.Background()
	author := &iam.Role{Name: "blog.author", Perms: []string{"blog.add_post"}}
	editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.publish_post"}, Includes: []*iam.Role{author}}
	// Authors may comment on posts; editors are authors too (Includes).
	rule := iam.HasRole(author)
	fmt.Println(rule)

	store := iam.NewMemoryStore()
	checker, err := iam.New(iam.Policy{
		Roles: []*iam.Role{author, editor},
		Rules: map[string]iam.Predicate{"blog.comment_post": rule},
	}, store)
	if err != nil {
		log.Fatal(err)
	}
	err = store.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
		return errors.Join(
			tx.PutProfile(ctx, iam.Profile{Holder: iam.User("eve"), Role: "blog.editor", Active: true}),
			tx.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Role: "blog.author", On: iam.Ref{Type: "blog.section", ID: "tech"}}),
		)
	})
	if err != nil {
		log.Fatal(err)
	}
	tech := &Post{ID: "1", Section: "tech"}
	sport := &Post{ID: "2", Section: "sport"}
	fmt.Println(checker.HasPerm(ctx, &User{ID: "eve"}, "blog.comment_post", sport)) // global editor
	fmt.Println(checker.HasPerm(ctx, &User{ID: "ann"}, "blog.comment_post", tech))  // author of the section
	fmt.Println(checker.HasPerm(ctx, &User{ID: "ann"}, "blog.comment_post", sport))
	// Output:
	// has_role:blog.author
	// true
	// true
	// false
}

func ExampleInGroup() {
	ctx := context.Background()
	// Legal review needs staff who are also on the legal team.
	rule := iam.InGroup("staff", "legal")
	fmt.Println(rule)

	store := iam.NewMemoryStore()
	checker, err := iam.New(iam.Policy{Rules: map[string]iam.Predicate{"blog.legal_review": rule}}, store)
	if err != nil {
		log.Fatal(err)
	}
	// Memberships come from the store and from the subject's SubjectGroups.
	if err := store.AddMember(ctx, "lee", "staff"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(checker.HasPerm(ctx, &User{ID: "lee"}, "blog.legal_review", nil))
	fmt.Println(checker.HasPerm(ctx, &User{ID: "lee", Teams: []string{"legal"}}, "blog.legal_review", nil))
	fmt.Println(checker.HasPerm(ctx, &User{ID: "max", Teams: []string{"legal"}}, "blog.legal_review", nil))
	// Output:
	// in_group:staff,legal
	// false
	// true
	// false
}

// Permission declarations: when Policy.Perms is set it is the complete list
// (strict mode), and Types restricts where a permission applies.
func ExamplePerm() {
	ctx := context.Background()
	editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.publish"}}
	store := iam.NewMemoryStore()
	policy := iam.Policy{
		Roles: []*iam.Role{editor},
		Perms: []iam.Perm{
			{Name: "blog.publish", Types: []string{"blog.post", "blog.page"}}, // one action, two types
			{Name: "blog.view"},
		},
	}
	checker, err := iam.New(policy, store)
	if err != nil {
		log.Fatal(err)
	}

	// Granting a typed permission on another type is an error.
	err = checker.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "blog.publish", On: iam.TypeScope("blog.comment")})
	fmt.Println(errors.Is(err, iam.ErrWrongType))

	// A type-level grant covers every page, and model-level checks.
	err = checker.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "blog.publish", On: iam.TypeScope("blog.page")})
	if err != nil {
		log.Fatal(err)
	}
	ann := &User{ID: "ann"}
	fmt.Println(checker.HasPerm(ctx, ann, "blog.publish", iam.Ref{Type: "blog.page", ID: "about"}))
	fmt.Println(checker.HasPerm(ctx, ann, "blog.publish", &Post{ID: "1"}))
	fmt.Println(checker.HasPerm(ctx, ann, "blog.publish", nil))

	// Checking against another type is a denial with an error.
	_, err = checker.Check(ctx, ann, "blog.publish", iam.Ref{Type: "blog.comment", ID: "7"})
	fmt.Println(errors.Is(err, iam.ErrWrongType))

	// In strict mode a role naming an undeclared permission is a policy error.
	policy.Roles = append(policy.Roles, &iam.Role{Name: "blog.author", Perms: []string{"blog.veiw"}})
	_, err = iam.New(policy, store)
	fmt.Println(errors.Is(err, iam.ErrInvalidPolicy))
	// Output:
	// true
	// true
	// false
	// true
	// true
	// true
}

// TestReadmeQuickStart keeps the README's quick start identical to the
// package-level Example (so the README's code compiles and runs) and to the
// User and Post types above.
func TestReadmeQuickStart(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "example_test.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	text := func(from, to token.Pos) string {
		return string(src[fset.Position(from).Offset:fset.Position(to).Offset])
	}
	withDoc := func(doc *ast.CommentGroup, n ast.Node) string {
		if doc != nil {
			return text(doc.Pos(), n.End())
		}
		return text(n.Pos(), n.End())
	}
	var types, body string
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.GenDecl:
			if d.Tok == token.TYPE && (d.Specs[0].(*ast.TypeSpec).Name.Name == "User" || d.Specs[0].(*ast.TypeSpec).Name.Name == "Post") {
				types += withDoc(d.Doc, d) + "\n"
			}
		case *ast.FuncDecl:
			if d.Recv != nil {
				if r := readmeRecvName(d.Recv.List[0].Type); r == "User" || r == "Post" {
					types += withDoc(d.Doc, d) + "\n"
				}
			}
			if d.Name.Name == "Example" && d.Recv == nil {
				body = text(d.Body.Lbrace+1, d.Body.Rbrace)
			}
		}
	}
	// The body without the Output comment, one tab less indented.
	body, _, _ = strings.Cut(body, "\t// Output:")
	var lines []string
	for _, l := range strings.Split(strings.Trim(body, "\n"), "\n") {
		lines = append(lines, strings.TrimPrefix(l, "\t"))
	}
	body = strings.Join(lines, "\n") + "\n"

	for _, c := range []struct{ marker, want string }{{"quickstart-types", types}, {"quickstart", body}} {
		got, ok := readmeBetween(readme, "<!-- "+c.marker+":start -->\n```go\n", "```\n<!-- "+c.marker+":end -->")
		if !ok {
			t.Errorf("README.md: no go code block between the %s markers", c.marker)
			continue
		}
		if readmeNormalize(got) != readmeNormalize(c.want) {
			t.Errorf("README.md %s block differs from example_test.go:\n--- README\n%s\n--- example_test.go\n%s", c.marker, got, c.want)
		}
	}
}

func readmeRecvName(e ast.Expr) string {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

func readmeBetween(b []byte, start, end string) (string, bool) {
	_, after, ok := bytes.Cut(b, []byte(start))
	if !ok {
		return "", false
	}
	in, _, ok := bytes.Cut(after, []byte(end))
	return string(in), ok
}

// readmeNormalize drops blank lines and trailing spaces so that the comparison is
// about the code, not the spacing between declarations.
func readmeNormalize(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, " \t"); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// HasPerm answers a repeated question from its answer cache (on a
// MemoryStore), and a write retires every cached answer: the check right
// after a revocation is a denial.
func ExampleChecker_HasPerm() {
	ctx := context.Background()
	store := iam.NewMemoryStore()
	checker, err := iam.New(iam.Policy{Perms: []iam.Perm{{Name: "doc.view", Types: []string{"doc"}}}}, store)
	if err != nil {
		log.Fatal(err)
	}
	plan := iam.Ref{Type: "doc", ID: "plan"}
	g := iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: plan}
	u := &User{ID: "ann"}

	fmt.Println(checker.HasPerm(ctx, u, "doc.view", plan)) // the lookups; the answer is kept
	fmt.Println(store.Grant(ctx, g))
	fmt.Println(checker.HasPerm(ctx, u, "doc.view", plan)) // the write retired the "false"
	fmt.Println(checker.HasPerm(ctx, u, "doc.view", plan)) // from the cache
	fmt.Println(store.Revoke(ctx, g))
	fmt.Println(checker.HasPerm(ctx, u, "doc.view", plan))

	// The same Checker without the answer cache: every check does the lookups.
	uncached, err := iam.NewWithOptions(iam.Policy{Perms: []iam.Perm{{Name: "doc.view", Types: []string{"doc"}}}}, store, iam.Options{CacheSlots: -1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(uncached.HasPerm(ctx, u, "doc.view", plan))
	// Output:
	// false
	// <nil>
	// true
	// true
	// <nil>
	// false
	// false
}
