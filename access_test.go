package iam_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// accessFixture: posts p1..p6 in sections s1, s2 (stored parents); roles
// reader ⊂ editor; a group staff; a rule for blog.comment.
func accessFixture(t *testing.T) (*iam.Checker, *iam.MemoryStore) {
	t.Helper()
	ctx := t.Context()
	reader := &iam.Role{Name: "blog.reader", Perms: []string{"blog.view"}}
	editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.change"}, Includes: []*iam.Role{reader}}
	isPublic := iam.Pred("is_public", func(_ context.Context, _ iam.Subject, d *ctDoc) bool { return d != nil && d.ref.ID == "p6" })
	store := iam.NewMemoryStore()
	c, err := iam.New(iam.Policy{
		Roles: []*iam.Role{reader, editor},
		Perms: []iam.Perm{
			{Name: "blog.view"}, {Name: "blog.change"},
			{Name: "blog.publish", Types: []string{"blog.post"}},
			{Name: "blog.comment"},
		},
		Rules: map[string]iam.Predicate{"blog.comment": isPublic},
	}, store)
	require.NoError(t, err)
	post := func(id string) iam.Ref { return iam.Ref{Type: "blog.post", ID: id} }
	s1, s2 := iam.Ref{Type: "blog.section", ID: "s1"}, iam.Ref{Type: "blog.section", ID: "s2"}
	for _, p := range []struct {
		post    string
		section iam.Ref
	}{{"p1", s1}, {"p2", s1}, {"p3", s2}, {"p4", s2}} {
		require.NoError(t, store.SetParents(ctx, post(p.post), []iam.Ref{p.section}))
	}
	require.NoError(t, store.AddMember(ctx, "ann", "staff"))
	require.NoError(t, store.AddMember(ctx, "bob", "staff"))
	for _, g := range []iam.Grant{
		{Holder: iam.User("ann"), Perm: "blog.view", On: post("p5")},
		{Holder: iam.User("ann"), Role: "blog.editor", On: s1},
		{Holder: iam.Group("staff"), Perm: "blog.view", On: post("p3")},
		{Holder: iam.User("cid"), Perm: "blog.view", On: iam.TypeScope("blog.post")},
		{Holder: iam.User("dee"), Role: "blog.reader", On: iam.GlobalScope()},
		{Holder: iam.User("bob"), Perm: "blog.publish", On: post("p4")},
	} {
		require.NoError(t, c.Grant(ctx, g))
	}
	require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User("eve"), Role: "blog.editor", Active: true}))
	require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User("old"), Role: "blog.editor", Active: true, ExpiresAt: time.Now().Add(-time.Minute)}))
	return c, store
}

// TestListObjects covers the answers of ListObjects: All and why, listed
// IDs through grants, local roles, groups and stored ancestors, Partial for
// rules, and the subjects that hold nothing. contract 2, 3, 4a-4d, 6
func TestListObjects(t *testing.T) {
	c, _ := accessFixture(t)
	tests := []struct {
		name string
		s    iam.Subject
		perm string
		want iam.ObjectList
	}{
		{"grants, local role on a section, group grant", ctPlain("ann"), "blog.view",
			iam.ObjectList{IDs: []string{"p1", "p2", "p3", "p5"}}},
		{"local role on a section gives change", ctPlain("ann"), "blog.change",
			iam.ObjectList{IDs: []string{"p1", "p2"}}},
		{"group grant only", ctPlain("bob"), "blog.view", iam.ObjectList{IDs: []string{"p3"}}},
		{"typed permission", ctPlain("bob"), "blog.publish", iam.ObjectList{IDs: []string{"p4"}}},
		{"type-level grant", ctPlain("cid"), "blog.view",
			iam.ObjectList{All: true, Why: iam.Decision{Allowed: true, Perm: "blog.view", Reason: iam.ReasonGrant, Via: iam.User("cid"), On: iam.TypeScope("blog.post")}}},
		{"global local role", ctPlain("dee"), "blog.view",
			iam.ObjectList{All: true, Why: iam.Decision{Allowed: true, Perm: "blog.view", Reason: iam.ReasonGlobalRole, Role: "blog.reader", Via: iam.User("dee"), On: iam.GlobalScope()}}},
		{"global role through a profile (Includes)", ctPlain("eve"), "blog.view",
			iam.ObjectList{All: true, Why: iam.Decision{Allowed: true, Perm: "blog.view", Reason: iam.ReasonGlobalRole, Role: "blog.editor", Via: iam.User("eve"), On: iam.GlobalScope()}}},
		{"expired profile gives nothing", ctPlain("old"), "blog.view", iam.ObjectList{}},
		{"superuser", ctSuperOnly("root"), "blog.change",
			iam.ObjectList{All: true, Why: iam.Decision{Allowed: true, Perm: "blog.change", Reason: iam.ReasonSuperuser}}},
		{"inactive superuser", &ctUser{id: "root", super: true, inactive: true}, "blog.view", iam.ObjectList{}},
		{"nil subject", nil, "blog.view", iam.ObjectList{}},
		{"anonymous", ctPlain(""), "blog.view", iam.ObjectList{}},
		{"rule: partial", ctPlain("ann"), "blog.comment", iam.ObjectList{Partial: true, Rule: "is_public"}},
		{"rule: anonymous still partial", ctPlain(""), "blog.comment", iam.ObjectList{Partial: true, Rule: "is_public"}},
		{"rule: inactive holds nothing", &ctUser{id: "ann", inactive: true}, "blog.comment", iam.ObjectList{}},
		{"app groups count", &ctUser{id: "zed", groups: []string{"staff"}}, "blog.view", iam.ObjectList{IDs: []string{"p3"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.ListObjects(t.Context(), tc.s, tc.perm, "blog.post", iam.ListOptions{})
			require.NoError(t, err)
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreUnexported(iam.Decision{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ListObjects (-want +got):\n%s", diff)
			}
		})
	}
}

// TestListObjectsErrors: undecidable listings are errors, never a list.
// contract 1, 7, 17
func TestListObjectsErrors(t *testing.T) {
	c, _ := accessFixture(t)
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		perm    string
		typ     string
		wantErr error
	}{
		{"unknown permission", t.Context(), "blog.veiw", "blog.post", iam.ErrUnknownPermission},
		{"wrong type", t.Context(), "blog.publish", "blog.section", iam.ErrWrongType},
		{"empty type", t.Context(), "blog.view", "", iam.ErrInvalid},
		{"cancelled", cancelled, "blog.view", "blog.post", context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.ListObjects(tc.ctx, ctPlain("ann"), tc.perm, tc.typ, iam.ListOptions{})
			require.ErrorIs(t, err, tc.wantErr)
			require.Equal(t, iam.ObjectList{}, got)
		})
	}
	t.Run("store without ObjectLister", func(t *testing.T) {
		c2, err := iam.New(iam.Policy{Perms: []iam.Perm{{Name: "blog.view"}}}, plainStore{iam.NewMemoryStore()})
		require.NoError(t, err)
		_, err = c2.ListObjects(t.Context(), ctPlain("ann"), "blog.view", "blog.post", iam.ListOptions{})
		require.ErrorIs(t, err, iam.ErrNotListable)
		require.ErrorIs(t, err, errors.ErrUnsupported)
	})
	t.Run("store error", func(t *testing.T) {
		boom := errors.New("disk on fire")
		c2, err := iam.New(iam.Policy{Perms: []iam.Perm{{Name: "blog.view"}}}, failingStore{iam.NewMemoryStore(), boom})
		require.NoError(t, err)
		got, err := c2.ListObjects(t.Context(), ctPlain("ann"), "blog.view", "blog.post", iam.ListOptions{})
		require.ErrorIs(t, err, boom)
		require.Equal(t, iam.ObjectList{}, got)
		_, err = c2.Holders(t.Context(), iam.Ref{Type: "blog.post", ID: "1"}, iam.HoldersOptions{})
		require.ErrorIs(t, err, boom)
		_, err = c2.Perms(t.Context(), ctPlain("ann"), iam.Ref{Type: "blog.post", ID: "1"})
		require.ErrorIs(t, err, boom)
	})
}

// plainStore hides every optional interface of the store it wraps.
type plainStore struct{ iam.Store }

// failingStore fails every read.
type failingStore struct {
	*iam.MemoryStore
	err error
}

func (f failingStore) Holding(context.Context, iam.Principal) (*iam.Holding, error) {
	return nil, f.err
}
func (f failingStore) Grants(context.Context, iam.Ref) (*iam.GrantSet, error) { return nil, f.err }

// panickingLister is a store whose ListObjectIDs panics.
type panickingLister struct{ *iam.MemoryStore }

func (panickingLister) ListObjectIDs(context.Context, iam.ObjectQuery) ([]string, error) {
	panic("lister bug")
}

// TestListObjectsStorePanic: a panic in the store fails the listing closed
// with ErrPanic, like a check (contract 10).
func TestListObjectsStorePanic(t *testing.T) {
	store := iam.NewMemoryStore()
	c, err := iam.New(iam.Policy{Perms: []iam.Perm{{Name: "doc.view"}}}, panickingLister{store})
	require.NoError(t, err)
	require.NoError(t, c.Grant(t.Context(), iam.Grant{Holder: iam.User("u"), Perm: "doc.view", On: iam.Ref{Type: "doc", ID: "d"}}))
	got, err := c.ListObjects(t.Context(), ctPlain("u"), "doc.view", "doc", iam.ListOptions{})
	require.ErrorIs(t, err, iam.ErrPanic)
	require.Equal(t, iam.ObjectList{}, got)
}

// TestListObjectsPaging walks the list with Limit and the Next cursor.
func TestListObjectsPaging(t *testing.T) {
	ctx := t.Context()
	store := iam.NewMemoryStore()
	c, err := iam.New(iam.Policy{Perms: []iam.Perm{{Name: "doc.view"}}}, store)
	require.NoError(t, err)
	var want []string
	for _, id := range []string{"b", "a", "é", "10", "9", "A", "a b", "z"} {
		require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("u"), Perm: "doc.view", On: iam.Ref{Type: "doc", ID: id}}))
		want = append(want, id)
	}
	require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("v"), Perm: "doc.view", On: iam.Ref{Type: "doc", ID: "c"}}))
	full, err := c.ListObjects(ctx, ctPlain("u"), "doc.view", "doc", iam.ListOptions{})
	require.NoError(t, err)
	// Byte order: digits, upper case, lower case, then UTF-8 multi-byte.
	require.Equal(t, []string{"10", "9", "A", "a", "a b", "b", "z", "é"}, full.IDs)
	for _, limit := range []int{1, 2, 3, 7, 8, 9} {
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10)
			page, err := c.ListObjects(ctx, ctPlain("u"), "doc.view", "doc", iam.ListOptions{After: after, Limit: limit})
			require.NoError(t, err)
			require.LessOrEqual(t, len(page.IDs), limit)
			got = append(got, page.IDs...)
			if page.Next == "" {
				break
			}
			after = page.Next
		}
		require.Equal(t, full.IDs, got, "limit %d", limit)
	}
	require.Len(t, want, len(full.IDs))
}

// TestListObjectsDepth: ancestors above MaxDepth do not list the object,
// and Check agrees (it cannot decide: ErrTooDeep). contract 4b
func TestListObjectsDepth(t *testing.T) {
	ctx := t.Context()
	store := iam.NewMemoryStore()
	c, err := iam.NewWithOptions(iam.Policy{Perms: []iam.Perm{{Name: "doc.view"}}}, store, iam.Options{MaxDepth: 2})
	require.NoError(t, err)
	// f0 ← f1 ← f2 ← d (d is 3 levels below f0, 2 below f1).
	refs := []iam.Ref{{Type: "folder", ID: "f0"}, {Type: "folder", ID: "f1"}, {Type: "folder", ID: "f2"}, {Type: "doc", ID: "d"}}
	for i := 1; i < len(refs); i++ {
		require.NoError(t, store.SetParents(ctx, refs[i], []iam.Ref{refs[i-1]}))
	}
	require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("far"), Perm: "doc.view", On: refs[0]}))
	require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("near"), Perm: "doc.view", On: refs[1]}))
	for _, tc := range []struct {
		user string
		want []string
	}{{"far", nil}, {"near", []string{"d"}}} {
		l, err := c.ListObjects(ctx, ctPlain(tc.user), "doc.view", "doc", iam.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, tc.want, l.IDs, tc.user)
		require.Equal(t, tc.want != nil, c.HasPerm(ctx, ctPlain(tc.user), "doc.view", refs[3]), tc.user)
	}
}

// TestListObjectsWideAndDeep: an ancestry 70 objects wide, and one 64
// levels deep (MaxDepth 64), are followed whole by Check, ListObjects and
// Holders alike; an ancestry wider than a check's 4,096-ref bound is denied
// with ErrTooDeep, never allowed. contract 4b
func TestListObjectsWideAndDeep(t *testing.T) {
	ctx := t.Context()
	folder := func(i int) iam.Ref { return iam.Ref{Type: "folder", ID: fmt.Sprintf("f%04d", i)} }
	doc := iam.Ref{Type: "doc", ID: "d"}
	// wide records n folders as doc's parents.
	wide := func(n int) func(s *iam.MemoryStore) error {
		return func(s *iam.MemoryStore) error {
			ps := make([]iam.Ref, n)
			for i := range ps {
				ps[i] = folder(i)
			}
			return s.SetParents(ctx, doc, ps)
		}
	}
	for _, tc := range []struct {
		name    string
		opts    iam.Options
		setup   func(s *iam.MemoryStore) error
		grantOn iam.Ref
		allowed bool
	}{
		{name: "70 parents, grant on the last", grantOn: folder(69), allowed: true, setup: wide(70)},
		{name: "64 levels with MaxDepth 64", opts: iam.Options{MaxDepth: 64}, grantOn: folder(63), allowed: true,
			setup: func(s *iam.MemoryStore) error {
				if err := s.SetParents(ctx, doc, []iam.Ref{folder(0)}); err != nil {
					return err
				}
				for i := range 63 {
					if err := s.SetParents(ctx, folder(i), []iam.Ref{folder(i + 1)}); err != nil {
						return err
					}
				}
				return nil
			}},
		{name: "4,100 parents: beyond a check's bound", grantOn: folder(4099), allowed: false, setup: wide(4100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := iam.NewMemoryStore()
			c, err := iam.NewWithOptions(iam.Policy{Perms: []iam.Perm{{Name: "doc.view"}}}, store, tc.opts)
			require.NoError(t, err)
			require.NoError(t, tc.setup(store))
			require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("u"), Perm: "doc.view", On: tc.grantOn}))
			d, err := c.Check(ctx, ctPlain("u"), "doc.view", doc)
			if !tc.allowed {
				require.ErrorIs(t, err, iam.ErrTooDeep)
				require.False(t, d.Allowed)
				_, err = c.Holders(ctx, doc, iam.HoldersOptions{})
				require.ErrorIs(t, err, iam.ErrTooDeep)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.grantOn, d.On)
			l, err := c.ListObjects(ctx, ctPlain("u"), "doc.view", "doc", iam.ListOptions{})
			require.NoError(t, err)
			require.Equal(t, []string{"d"}, l.IDs)
			h, err := c.Holders(ctx, doc, iam.HoldersOptions{})
			require.NoError(t, err)
			require.True(t, holderHas(h, iam.User("u"), "doc.view"))
		})
	}
}

// TestFilter runs candidates through Check, the companion of a Partial list.
func TestFilter(t *testing.T) {
	c, _ := accessFixture(t)
	var docs []*ctDoc
	for _, id := range []string{"p1", "p5", "p6"} {
		docs = append(docs, &ctDoc{ref: iam.Ref{Type: "blog.post", ID: id}})
	}
	got, err := iam.Filter(t.Context(), c, ctPlain("ann"), "blog.comment", docs)
	require.NoError(t, err)
	require.Equal(t, []*ctDoc{docs[2]}, got)
	got, err = iam.Filter(t.Context(), c, ctPlain("ann"), "blog.view", docs)
	require.NoError(t, err)
	require.Equal(t, docs[:2], got)
	got, err = iam.Filter(t.Context(), c, ctPlain("ann"), "blog.nope", docs)
	require.ErrorIs(t, err, iam.ErrUnknownPermission)
	require.Nil(t, got)
}

// TestHolders lists who holds what on one post, with every path.
func TestHolders(t *testing.T) {
	c, _ := accessFixture(t)
	p1 := &ctDoc{ref: iam.Ref{Type: "blog.post", ID: "p1"}}
	s1 := iam.Ref{Type: "blog.section", ID: "s1"}
	view, change := []string{"blog.view"}, []string{"blog.change", "blog.view"}
	ann := iam.Holder{Principal: iam.User("ann"), Perms: change, Paths: []iam.Path{
		{Reason: iam.ReasonLocalRole, Role: "blog.editor", Via: iam.User("ann"), On: s1, Perms: change}}}
	cid := iam.Holder{Principal: iam.User("cid"), Perms: view, Paths: []iam.Path{
		{Reason: iam.ReasonGrant, Via: iam.User("cid"), On: iam.TypeScope("blog.post"), Perms: view}}}
	dee := iam.Holder{Principal: iam.User("dee"), Perms: view, Paths: []iam.Path{
		{Reason: iam.ReasonGlobalRole, Role: "blog.reader", Via: iam.User("dee"), On: iam.GlobalScope(), Perms: view}}}
	eve := iam.Holder{Principal: iam.User("eve"), Perms: change, Paths: []iam.Path{
		{Reason: iam.ReasonGlobalRole, Role: "blog.editor", Via: iam.User("eve"), On: iam.GlobalScope(), Perms: change}}}
	all := []string{"blog.change", "blog.comment", "blog.publish", "blog.view", iam.PermManageGrants, iam.PermManageRoles}
	root := iam.Holder{Principal: iam.User("root"), Perms: all, Paths: []iam.Path{
		{Reason: iam.ReasonSuperuser, Via: iam.User("root"), Perms: all}}}
	rules := []string{"blog.comment"}

	got, err := c.Holders(t.Context(), p1, iam.HoldersOptions{})
	require.NoError(t, err)
	requireDiffHolders(t, iam.HolderList{Holders: []iam.Holder{ann, cid, dee, eve}, Rules: rules}, got)

	got, err = c.Holders(t.Context(), p1, iam.HoldersOptions{Superusers: []string{"root"}})
	require.NoError(t, err)
	requireDiffHolders(t, iam.HolderList{Holders: []iam.Holder{ann, cid, dee, eve, root}, Rules: rules}, got)

	// An object that refuses global roles keeps its direct grants and
	// local roles, loses global roles (profiles and roles granted
	// globally). contract 4a
	refusing := &ctDoc{ref: p1.ref, refuse: true}
	got, err = c.Holders(t.Context(), refusing, iam.HoldersOptions{})
	require.NoError(t, err)
	requireDiffHolders(t, iam.HolderList{Holders: []iam.Holder{ann, cid}, Rules: rules}, got)

	// Group holders, expanded to their members.
	p3 := iam.Ref{Type: "blog.post", ID: "p3"}
	staffPath := iam.Path{Reason: iam.ReasonGrant, Via: iam.Group("staff"), On: p3, Perms: view}
	got, err = c.Holders(t.Context(), p3, iam.HoldersOptions{ExpandGroups: true})
	require.NoError(t, err)
	require.True(t, holderHas(got, iam.User("bob"), "blog.view"))
	require.True(t, holderHas(got, iam.Group("staff"), "blog.view"))
	require.False(t, holderHas(got, iam.User("bob"), "blog.change"))
	require.False(t, holderHas(got, iam.User("zed"), "blog.view"), "application groups are not stored")
	for _, h := range got.Holders {
		if h.Principal == iam.User("ann") || h.Principal == iam.User("bob") || h.Principal == iam.Group("staff") {
			require.Equal(t, []iam.Path{staffPath}, h.Paths, "%s", h.Principal)
		}
	}
	// Each holder owns its paths: editing one member's copy of the group's
	// path leaves the group's and the other members' alone.
	for _, h := range got.Holders {
		if h.Principal == iam.User("bob") {
			h.Paths[0].Perms[0] = "edited"
		}
	}
	for _, h := range got.Holders {
		if h.Principal == iam.User("ann") || h.Principal == iam.Group("staff") {
			require.Equal(t, []iam.Path{staffPath}, h.Paths, "%s after editing bob's", h.Principal)
		}
	}
	// The object's own Parents count like stored ones: p9 has no stored
	// parent, and names s1 itself (found in review: Holders had lost them).
	// contract 4b
	p9 := &ctDoc{ref: iam.Ref{Type: "blog.post", ID: "p9"}, parents: []iam.Ref{s1}}
	got, err = c.Holders(t.Context(), p9, iam.HoldersOptions{})
	require.NoError(t, err)
	requireDiffHolders(t, iam.HolderList{Holders: []iam.Holder{ann, cid, dee, eve}, Rules: rules}, got)
	require.True(t, c.HasPerm(t.Context(), ctPlain("ann"), "blog.change", p9))

	_, err = c.Holders(t.Context(), nil, iam.HoldersOptions{})
	require.ErrorIs(t, err, iam.ErrInvalid)
	_, err = c.Holders(t.Context(), iam.TypeScope("blog.post"), iam.HoldersOptions{})
	require.ErrorIs(t, err, iam.ErrInvalid)
}

func requireDiffHolders(t *testing.T, want, got iam.HolderList) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Holders (-want +got):\n%s", diff)
	}
}

// TestPerms lists the permissions a subject holds on an object, with the
// reason for each. contract 3, 4, 7
func TestPerms(t *testing.T) {
	c, _ := accessFixture(t)
	p1 := &ctDoc{ref: iam.Ref{Type: "blog.post", ID: "p1"}}
	s1 := iam.Ref{Type: "blog.section", ID: "s1"}
	tests := []struct {
		name string
		s    iam.Subject
		obj  iam.Object
		want []iam.Decision
	}{
		{"local role on the section", ctPlain("ann"), p1, []iam.Decision{
			{Allowed: true, Perm: "blog.change", Reason: iam.ReasonLocalRole, Role: "blog.editor", Via: iam.User("ann"), On: s1},
			{Allowed: true, Perm: "blog.view", Reason: iam.ReasonLocalRole, Role: "blog.editor", Via: iam.User("ann"), On: s1},
		}},
		{"typed permission counts on its type only", ctPlain("bob"), &ctDoc{ref: iam.Ref{Type: "blog.post", ID: "p4"}}, []iam.Decision{
			{Allowed: true, Perm: "blog.publish", Reason: iam.ReasonGrant, Via: iam.User("bob"), On: iam.Ref{Type: "blog.post", ID: "p4"}},
		}},
		{"rule", ctPlain("nobody"), &ctDoc{ref: iam.Ref{Type: "blog.post", ID: "p6"}}, []iam.Decision{
			{Allowed: true, Perm: "blog.comment", Reason: iam.ReasonRule, Rule: "is_public"},
		}},
		{"nothing", ctPlain("nobody"), p1, nil},
		{"section: publish does not apply", ctPlain("ann"), &ctDoc{ref: s1}, []iam.Decision{
			{Allowed: true, Perm: "blog.change", Reason: iam.ReasonLocalRole, Role: "blog.editor", Via: iam.User("ann"), On: s1},
			{Allowed: true, Perm: "blog.view", Reason: iam.ReasonLocalRole, Role: "blog.editor", Via: iam.User("ann"), On: s1},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Perms(t.Context(), tc.s, tc.obj)
			require.NoError(t, err)
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreUnexported(iam.Decision{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Perms (-want +got):\n%s", diff)
			}
		})
	}
	// A rule that errs fails the whole call closed (contract 9, 11).
	got, err := c.Perms(t.Context(), ctPlain("ann"), p1.ref)
	require.ErrorIs(t, err, iam.ErrWrongType)
	require.Nil(t, got)
	su, err := c.Perms(t.Context(), ctSuperOnly("root"), p1)
	require.NoError(t, err)
	require.Len(t, su, 6, "a superuser holds every permission that applies to a post")
}

// TestGroupMembersContext: a cancelled context is an error, not a list.
// contract 17
func TestGroupMembersContext(t *testing.T) {
	store := iam.NewMemoryStore()
	require.NoError(t, store.AddMember(t.Context(), "bob", "staff"))
	got, err := store.GroupMembers(t.Context(), "staff")
	require.NoError(t, err)
	require.Equal(t, []string{"bob"}, got)
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	got, err = store.GroupMembers(cancelled, "staff")
	require.ErrorIs(t, err, context.Canceled)
	require.Nil(t, got)
}

// holderHas reports whether hl lists p holding perm.
func holderHas(hl iam.HolderList, p iam.Principal, perm string) bool {
	for _, h := range hl.Holders {
		if h.Principal == p {
			return slices.Contains(h.Perms, perm)
		}
	}
	return false
}
