package iam_test

// Regression tests for escalations through the Manager (docs/contract.md line
// 19), one per reproduction of the bug report. Helpers and types here carry
// an "esc" prefix so they do not collide with the other test files of
// package iam_test.
//
// The rule these tests hold the Manager to, in short: an actor may make a
// change only if it holds the manage permission (iam.manage_roles for
// profiles, memberships and local roles, iam.manage_grants for permission
// grants) where the change applies, or is a superuser, and also holds
// every stake of the change there. A change's stakes are the permissions of
// the role it hands out or takes away (Includes followed), everything a
// group holds for a membership, and every permission whose rule the change
// can turn true: a rule with HasRole of a role in the changed role's
// closure, InGroup of the group, or PredProfile of the role. "Where" is the
// change's scope: a global change (a profile, a membership, a grant on
// GlobalScope()) counts only global holdings (profiles, grants on GlobalScope()), never a
// type-level grant nor a rule run without an object, and a global
// permission grant needs the permission held by a global permission grant;
// a type-level change counts global holdings and grants on that type; an
// object change counts what a check on the object answers (its refusal of
// global roles and its ancestry included; a bare Ref with no loader is
// taken to refuse global roles), and since a grant on an object reaches its
// descendants, a holding that does not (a global role, a type-level grant, a
// rule, a grant on an ancestor) counts only if the Manager can list the object's children and the
// actor holds the permission on every descendant too.

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// escUser is the actor and target type of these tests: every rule's
// predicates are typed on it.
type escUser struct {
	id    string
	super bool
}

func (u *escUser) SubjectID() string { return u.id }
func (u *escUser) IsSuperuser() bool { return u.super }

// escDoc is an application object with parents, an owner, a private flag
// and a switch to refuse global roles.
type escDoc struct {
	ref     iam.Ref
	parents []iam.Ref
	refuse  bool
	owner   string
	private bool
}

func (d *escDoc) ObjectRef() iam.Ref       { return d.ref }
func (d *escDoc) Parents() []iam.Ref       { return d.parents }
func (d *escDoc) AcquireGlobalRoles() bool { return !d.refuse }

// escPost is the blog demo's post (examples/blog): an owner, a section, a
// status; no parents, and it acquires global roles.
type escPost struct {
	id, owner, section, status string
}

func (p *escPost) ObjectRef() iam.Ref { return iam.Ref{Type: "blog.post", ID: p.id} }

// escEditorData is an editor profile's data.
type escEditorData struct {
	Sections []string `json:"sections"`
}

// escHeld is everything the store holds for one principal.
type escHeld struct {
	Profiles []iam.Profile
	Groups   []string
	Grants   []iam.Grant
}

// escHeldBy reads what s holds for p, grants sorted.
// escApply applies ch as actor; a refusal must be wantErr and leave who's
// stored access as it was.
func escApply(t *testing.T, m *iam.Manager, store *iam.MemoryStore, actor iam.Subject, ch iam.Change, who iam.Principal, wantErr error) {
	t.Helper()
	before := escHeldBy(t, store, who)
	err := m.Apply(context.Background(), actor, ch)
	t.Logf("result: %v", err)
	if wantErr == nil {
		require.NoError(t, err)
		return
	}
	require.ErrorIs(t, err, wantErr)
	require.Equal(t, before, escHeldBy(t, store, who), "a refused change wrote nothing")
}

func escHeldBy(t *testing.T, s *iam.MemoryStore, p iam.Principal) escHeld {
	t.Helper()
	ctx := context.Background()
	h, err := s.Holding(ctx, p)
	require.NoError(t, err)
	gs, err := s.GrantsHeldBy(ctx, p)
	require.NoError(t, err)
	slices.SortFunc(gs, func(a, b iam.Grant) int {
		return strings.Compare(a.On.String()+"|"+a.Perm+"|"+a.Role, b.On.String()+"|"+b.Perm+"|"+b.Role)
	})
	return escHeld{Profiles: slices.Clone(h.Profiles()), Groups: slices.Clone(h.Groups()), Grants: gs}
}

// escCheck is one thing the target may (want) or may not do afterwards.
type escCheck struct {
	perm string
	obj  iam.Object // nil: model level
	want bool
}

func escRequireChecks(t *testing.T, c *iam.Checker, s iam.Subject, checks []escCheck) {
	t.Helper()
	for _, ck := range checks {
		at := "model level"
		if ck.obj != nil {
			at = ck.obj.ObjectRef().String()
		}
		require.Equal(t, ck.want, c.HasPerm(context.Background(), s, ck.perm, ck.obj), "%s may %s on %s", s.SubjectID(), ck.perm, at)
	}
}

// escRequireIsAny requires err to match one of wants (errors.Is).
func escRequireIsAny(t *testing.T, err error, wants ...error) {
	t.Helper()
	require.Error(t, err)
	for _, w := range wants {
		if errors.Is(err, w) {
			return
		}
	}
	t.Fatalf("error %v matches none of %v", err, wants)
}

func escManager(c *iam.Checker, o iam.ManagerOptions) *iam.Manager {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return iam.NewManager(c, o)
}

// escNoChildren is a ManagerOptions.Children for objects that have none.
func escNoChildren(context.Context, iam.Ref) ([]iam.Object, error) { return nil, nil }

// TestEscalationTypeScope: a grant on one type is not a global holding, and
// not a holding on another type. contract 19
//
// The actor manages roles and grants through a global role and holds
// x.share (declared for doc and folder) by a grant on TypeScope("doc")
// only. A profile of a role with x.share is a global change: a type-level
// grant does not count there, so it is an escalation (before, the
// model-level check counted the doc grant, and bob could then share every
// folder). A grant on the folder type counts only global holdings and
// grants on the folder type; a grant on GlobalScope() needs x.share by a global
// permission grant. A grant on the doc type is what the actor holds itself.
// Finally a rule run without an object is no global holding either:
// x.read = ~is_private is true at model level (no object is private), but a
// global grant of x.read reaches the private docs the actor cannot read.
func TestEscalationTypeScope(t *testing.T) {
	ctx := t.Context()
	sharer := &iam.Role{Name: "x.sharer", Perms: []string{"x.share"}}
	mgr := &iam.Role{Name: "x.manager", Perms: []string{iam.PermManageRoles, iam.PermManageGrants}}
	isPrivate := iam.Pred("is_private", func(_ context.Context, _ *escUser, d *escDoc) bool {
		return d != nil && d.private
	})
	pol := iam.Policy{
		Roles: []*iam.Role{sharer, mgr},
		Perms: []iam.Perm{
			{Name: "x.share", Types: []string{"doc", "folder"}},
			{Name: "x.read"},
			{Name: iam.PermManageRoles}, {Name: iam.PermManageGrants},
		},
		Rules: map[string]iam.Predicate{"x.read": iam.Not(isPrivate)},
	}
	ann := &escUser{id: "ann"} // manager; x.share on the doc type only
	gus := &escUser{id: "gus"} // manager; x.share by a global grant
	bob := &escUser{id: "bob"}
	doc1 := &escDoc{ref: iam.Ref{Type: "doc", ID: "1"}}
	folder1 := &escDoc{ref: iam.Ref{Type: "folder", ID: "1"}}
	secret := &escDoc{ref: iam.Ref{Type: "doc", ID: "2"}, private: true}
	share := func(on iam.Ref) iam.Change {
		return iam.Change{Kind: iam.ChangeGrant, Grant: iam.Grant{Holder: iam.User("bob"), Perm: "x.share", On: on}}
	}

	tests := []struct {
		name    string
		actor   *escUser
		change  iam.Change
		wantErr error // nil: applied
		after   []escCheck
	}{
		{"(a) profile of a role with x.share: a type-level grant is not a global holding", ann,
			iam.Change{Kind: iam.ChangePutProfile, Profile: iam.Profile{Holder: iam.User("bob"), Role: sharer.Name, Active: true}},
			iam.ErrEscalation, []escCheck{{"x.share", folder1, false}, {"x.share", doc1, false}, {"x.share", nil, false}}},
		{"(b) x.share on the folder type: held on the doc type only", ann,
			share(iam.TypeScope("folder")),
			iam.ErrEscalation, []escCheck{{"x.share", folder1, false}, {"x.share", nil, false}}},
		{"(c) x.share globally: not held by a global grant", ann,
			share(iam.GlobalScope()),
			iam.ErrEscalation, []escCheck{{"x.share", folder1, false}, {"x.share", doc1, false}}},
		{"(d) control: x.share on the doc type, as held", ann,
			share(iam.TypeScope("doc")),
			nil, []escCheck{{"x.share", doc1, true}, {"x.share", folder1, false}}},
		{"(e) x.read globally: a rule run without an object is no global holding", ann,
			iam.Change{Kind: iam.ChangeGrant, Grant: iam.Grant{Holder: iam.User("bob"), Perm: "x.read", On: iam.GlobalScope()}},
			iam.ErrEscalation, []escCheck{{"x.read", secret, false}, {"x.read", doc1, true}}},
		{"control: x.share globally, held by a global grant", gus,
			share(iam.GlobalScope()),
			nil, []escCheck{{"x.share", folder1, true}, {"x.share", doc1, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := iam.NewMemoryStore()
			c, err := iam.New(pol, store)
			require.NoError(t, err)
			for _, id := range []string{"ann", "gus"} {
				require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User(id), Role: mgr.Name, Active: true}))
			}
			require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "x.share", On: iam.TypeScope("doc")}))
			require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("gus"), Perm: "x.share", On: iam.GlobalScope()}))
			// The fixture: ann shares docs, not folders, and cannot read a
			// private doc; bob holds nothing.
			escRequireChecks(t, c, ann, []escCheck{{"x.share", doc1, true}, {"x.share", folder1, false}, {"x.read", secret, false}})
			escRequireChecks(t, c, bob, []escCheck{{"x.share", doc1, false}, {"x.share", folder1, false}, {"x.read", secret, false}})

			m := escManager(c, iam.ManagerOptions{})
			escApply(t, m, store, tc.actor, tc.change, iam.User("bob"), tc.wantErr)
			escRequireChecks(t, c, bob, tc.after)
		})
	}
}

// TestEscalationRules: a change can make a rule true, and what the rule
// gives is at stake as much as the role's own permissions. contract 19
//
// (a) moderator grants nothing itself, but post.delete = has_role:moderator:
// a moderator profile hands out post.delete. (b) admin.panel =
// in_group:admins: a membership of admins hands out admin.panel though the
// group holds nothing. (c) post.publish = edits_section, a PredProfile of
// the editor role: an editor profile hands out post.publish, and the
// actor's own post.publish comes from a rule, which is no global holding
// (so even an editor of tech cannot make bob an editor of tech and life).
// The controls: an actor holding each of these by a global grant may make
// the same change.
func TestEscalationRules(t *testing.T) {
	ctx := t.Context()
	moderator := &iam.Role{Name: "post.moderator"}
	editor := &iam.Role{Name: "post.editor", Perms: []string{"post.add"}}
	mgr := &iam.Role{Name: "post.manager", Perms: []string{iam.PermManageRoles}}
	editsSection := iam.PredProfile("edits_section", editor, func(_ context.Context, _ *escUser, p *escPost, d escEditorData) bool {
		return p != nil && slices.Contains(d.Sections, p.section)
	})
	post := []string{"blog.post"}
	pol := iam.Policy{
		Roles: []*iam.Role{moderator, editor, mgr},
		Perms: []iam.Perm{
			{Name: "post.add", Types: post}, {Name: "post.delete", Types: post}, {Name: "post.publish", Types: post},
			{Name: "admin.panel"}, {Name: iam.PermManageRoles},
		},
		Rules: map[string]iam.Predicate{
			"post.delete":  iam.HasRole(moderator),
			"admin.panel":  iam.InGroup("admins"),
			"post.publish": editsSection,
		},
	}
	erin := &escUser{id: "erin"} // manager, editor of tech
	gina := &escUser{id: "gina"} // manager, editor of tech, and global grants of all three
	bob := &escUser{id: "bob"}
	techPost := &escPost{id: "1", owner: "alice", section: "tech"}
	lifePost := &escPost{id: "2", owner: "alice", section: "life"}

	modProfile := iam.Change{Kind: iam.ChangePutProfile, Profile: iam.Profile{Holder: iam.User("bob"), Role: moderator.Name, Active: true}}
	joinAdmins := iam.Change{Kind: iam.ChangeAddMember, User: "bob", Group: "admins"}
	edProfile := iam.Change{Kind: iam.ChangePutProfile, Profile: iam.Profile{Holder: iam.User("bob"), Role: editor.Name, Active: true,
		Data: []byte(`{"sections":["tech","life"]}`)}}
	tests := []struct {
		name    string
		actor   *escUser
		change  iam.Change
		wantErr error
		after   []escCheck
	}{
		{"(a) moderator profile: post.delete = has_role:moderator", erin, modProfile,
			iam.ErrEscalation, []escCheck{{"post.delete", techPost, false}, {"post.delete", nil, false}}},
		{"(b) membership of admins: admin.panel = in_group:admins", erin, joinAdmins,
			iam.ErrEscalation, []escCheck{{"admin.panel", nil, false}}},
		{"(c) editor profile: post.publish = edits_section (PredProfile of the role)", erin, edProfile,
			iam.ErrEscalation, []escCheck{{"post.publish", lifePost, false}, {"post.publish", techPost, false}, {"post.add", nil, false}}},
		{"control (a): post.delete held by a global grant", gina, modProfile,
			nil, []escCheck{{"post.delete", techPost, true}}},
		{"control (b): admin.panel held by a global grant", gina, joinAdmins,
			nil, []escCheck{{"admin.panel", nil, true}}},
		{"control (c): post.publish held by a global grant", gina, edProfile,
			nil, []escCheck{{"post.publish", lifePost, true}, {"post.add", nil, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := iam.NewMemoryStore()
			c, err := iam.New(pol, store)
			require.NoError(t, err)
			for _, id := range []string{"erin", "gina"} {
				require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User(id), Role: mgr.Name, Active: true}))
				require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User(id), Role: editor.Name, Active: true,
					Data: []byte(`{"sections":["tech"]}`)}))
			}
			for _, p := range []string{"post.delete", "admin.panel", "post.publish"} {
				require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("gina"), Perm: p, On: iam.GlobalScope()}))
			}
			// The fixture: erin publishes tech posts only, deletes
			// nothing and has no admin panel; bob holds nothing.
			escRequireChecks(t, c, erin, []escCheck{{"post.publish", techPost, true}, {"post.publish", lifePost, false},
				{"post.delete", techPost, false}, {"admin.panel", nil, false}})
			escRequireChecks(t, c, bob, []escCheck{{"post.publish", techPost, false}, {"post.delete", techPost, false}, {"admin.panel", nil, false}})

			m := escManager(c, iam.ManagerOptions{})
			escApply(t, m, store, tc.actor, tc.change, iam.User("bob"), tc.wantErr)
			escRequireChecks(t, c, bob, tc.after)
		})
	}
}

// TestEscalationRulesBlog is the blog demo's shape (examples/blog Policy,
// copied): erin edits the tech section (her editor profile's data), which
// lets her choose the reviewers of tech posts (iam.manage_roles =
// is_owner | edits_section). A local blog.moderator role on alice's tech
// post grants no permission itself, but blog.delete_post = is_owner |
// has_role:blog.moderator: bob could then delete the post, which erin
// cannot, so it is an escalation. A reviewer (blog.view_post, which erin
// holds there through edits_section) she may add, when the Manager can see
// the post has no children; a superuser assigns any role. contract 19
func TestEscalationRulesBlog(t *testing.T) {
	ctx := t.Context()
	const (
		permView    = "blog.view_post"
		permAdd     = "blog.add_post"
		permChange  = "blog.change_post"
		permPublish = "blog.publish_post"
		permDelete  = "blog.delete_post"
	)
	author := &iam.Role{Name: "blog.author", Perms: []string{permAdd}}
	editor := &iam.Role{Name: "blog.editor", Perms: []string{permAdd}}
	moderator := &iam.Role{Name: "blog.moderator"}
	reader := &iam.Role{Name: "blog.reader", Perms: []string{permView}}
	reviewer := &iam.Role{Name: "blog.reviewer", Perms: []string{permView}}
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *escUser, p *escPost) bool {
		return p != nil && u.id != "" && p.owner == u.id
	})
	isPublic := iam.Pred("is_public", func(_ context.Context, _ *escUser, p *escPost) bool {
		return p != nil && p.status == "public"
	})
	editsSection := iam.PredProfile("edits_section", editor, func(_ context.Context, _ *escUser, p *escPost, d escEditorData) bool {
		return p != nil && slices.Contains(d.Sections, p.section)
	})
	post := []string{"blog.post"}
	pol := iam.Policy{
		Roles: []*iam.Role{author, editor, moderator, reader, reviewer},
		Perms: []iam.Perm{
			{Name: permView, Types: post}, {Name: permAdd, Types: post}, {Name: permChange, Types: post},
			{Name: permPublish, Types: post}, {Name: permDelete, Types: post}, {Name: iam.PermManageRoles},
		},
		Rules: map[string]iam.Predicate{
			permView:            iam.Or(isPublic, isOwner, editsSection),
			permChange:          iam.Or(iam.And(iam.HasRole(author), isOwner), editsSection),
			permPublish:         editsSection,
			permDelete:          iam.Or(isOwner, iam.HasRole(moderator)),
			iam.PermManageRoles: iam.Or(isOwner, editsSection),
		},
	}
	erin := &escUser{id: "erin"}
	root := &escUser{id: "root", super: true}
	bob := &escUser{id: "bob"}
	rita := &escUser{id: "rita"}
	draft := &escPost{id: "2", owner: "alice", section: "tech", status: "draft"}
	local := func(who, role string) iam.Change {
		return iam.Change{Kind: iam.ChangeGrant, Grant: iam.Grant{Holder: iam.User(who), Role: role, On: draft.ObjectRef()}, Object: draft}
	}
	profile := func(role string) iam.Change {
		return iam.Change{Kind: iam.ChangePutProfile, Profile: iam.Profile{Holder: iam.User("bob"), Role: role, Active: true}}
	}

	tests := []struct {
		name    string
		actor   *escUser
		change  iam.Change
		target  *escUser
		wantErr error
		after   []escCheck
	}{
		{"erin makes bob a local moderator of alice's tech post", erin, local("bob", moderator.Name), bob,
			iam.ErrEscalation, []escCheck{{permDelete, draft, false}}},
		{"control: erin adds rita as a reviewer of alice's tech post", erin, local("rita", reviewer.Name), rita,
			nil, []escCheck{{permView, draft, true}, {permDelete, draft, false}}},
		{"control: a superuser makes bob a local moderator", root, local("bob", moderator.Name), bob,
			nil, []escCheck{{permDelete, draft, true}}},
		{"control: a superuser assigns blog.author", root, profile(author.Name), bob, nil, []escCheck{{permAdd, nil, true}}},
		{"control: a superuser assigns blog.editor", root, profile(editor.Name), bob, nil, []escCheck{{permAdd, nil, true}}},
		{"control: a superuser assigns blog.moderator", root, profile(moderator.Name), bob, nil, []escCheck{{permDelete, draft, true}}},
		{"control: a superuser assigns blog.reader", root, profile(reader.Name), bob, nil, []escCheck{{permView, draft, true}}},
		{"control: a superuser assigns blog.reviewer", root, profile(reviewer.Name), bob, nil, []escCheck{{permView, draft, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := iam.NewMemoryStore()
			c, err := iam.New(pol, store)
			require.NoError(t, err)
			require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User("alice"), Role: author.Name, Active: true}))
			require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User("erin"), Role: editor.Name, Active: true,
				Data: []byte(`{"sections":["tech"]}`)}))
			// The fixture: erin chooses the post's reviewers, views it,
			// and cannot delete it; bob and rita hold nothing on it.
			escRequireChecks(t, c, erin, []escCheck{{iam.PermManageRoles, draft, true}, {permView, draft, true}, {permDelete, draft, false}})
			escRequireChecks(t, c, tc.target, []escCheck{{permView, draft, false}, {permDelete, draft, false}})

			m := escManager(c, iam.ManagerOptions{Children: escNoChildren})
			escApply(t, m, store, tc.actor, tc.change, iam.User(tc.target.id), tc.wantErr)
			escRequireChecks(t, c, tc.target, tc.after)
		})
	}
}

// TestEscalationRefusingObjects: a grant on an object counts only what a
// check on that object answers, and a grant on an object reaches its
// descendants. contract 19
//
// (a) doc:1 refuses global roles; the admin holds doc.read only through a
// global role, which does not reach it: granting doc.read on doc:1 is an
// escalation whether the Manager sees the object (Change.Object, or its
// ManagerOptions.Object loader) or only the Ref (which it must then take to
// refuse global roles). In the main rows the admin holds
// iam.manage_grants by a global permission grant, which reaches refusing
// objects, so the escalation is the only thing wrong; with manage_grants
// through the global role too (the bug report's fixture) the actor does not
// even manage grants there, so either refusal will do. (b) folder:1
// acquires global roles but its child doc:2 refuses them: a grant of
// doc.read on the folder reaches doc:2, which the admin cannot read; with
// no way to list the folder's children the global role does not count at
// all; when the child acquires global roles the grant is the admin's to
// give.
func TestEscalationRefusingObjects(t *testing.T) {
	ctx := t.Context()
	readerRole := &iam.Role{Name: "doc.reader", Perms: []string{"doc.read"}}
	grantsRole := &iam.Role{Name: "doc.grants", Perms: []string{iam.PermManageGrants}}
	pol := iam.Policy{
		Roles: []*iam.Role{readerRole, grantsRole},
		Perms: []iam.Perm{{Name: "doc.read", Types: []string{"doc", "folder"}}, {Name: iam.PermManageGrants}},
	}
	admin := &escUser{id: "admin"}
	bob := &escUser{id: "bob"}
	doc1Ref := iam.Ref{Type: "doc", ID: "1"}
	refusing1 := &escDoc{ref: doc1Ref, refuse: true}
	acquiring1 := &escDoc{ref: doc1Ref}
	folder1 := &escDoc{ref: iam.Ref{Type: "folder", ID: "1"}}
	refusing2 := &escDoc{ref: iam.Ref{Type: "doc", ID: "2"}, parents: []iam.Ref{folder1.ref}, refuse: true}
	acquiring2 := &escDoc{ref: iam.Ref{Type: "doc", ID: "2"}, parents: []iam.Ref{folder1.ref}}
	loader := func(o *escDoc) func(context.Context, iam.Ref) (iam.Object, error) {
		return func(_ context.Context, ref iam.Ref) (iam.Object, error) {
			if ref == o.ref {
				return o, nil
			}
			return ref, nil
		}
	}
	childOfFolder := func(child *escDoc) func(context.Context, iam.Ref) ([]iam.Object, error) {
		return func(_ context.Context, ref iam.Ref) ([]iam.Object, error) {
			if ref == folder1.ref {
				return []iam.Object{child}, nil
			}
			return nil, nil
		}
	}
	read := func(on iam.Ref, obj iam.Object) iam.Change {
		return iam.Change{Kind: iam.ChangeGrant, Grant: iam.Grant{Holder: iam.User("bob"), Perm: "doc.read", On: on}, Object: obj}
	}

	tests := []struct {
		name string
		// manageByRole: iam.manage_grants through the global role
		// doc.grants; else by a global permission grant (on GlobalScope()).
		manageByRole bool
		change       iam.Change
		opts         iam.ManagerOptions
		wantErr      []error // any of; nil: applied
		after        []escCheck
	}{
		{name: "(a) bare ref, no loader: taken to refuse global roles",
			change: read(doc1Ref, nil), wantErr: []error{iam.ErrEscalation},
			after: []escCheck{{"doc.read", refusing1, false}}},
		{name: "(a) Change.Object refuses global roles",
			change: read(doc1Ref, refusing1), wantErr: []error{iam.ErrEscalation},
			after: []escCheck{{"doc.read", refusing1, false}}},
		{name: "(a) bare ref, the loaded object refuses global roles",
			change: read(doc1Ref, nil), opts: iam.ManagerOptions{Object: loader(refusing1), Children: escNoChildren},
			wantErr: []error{iam.ErrEscalation}, after: []escCheck{{"doc.read", refusing1, false}}},
		{name: "(a) the bug report's fixture (manage_grants by the global role too), bare ref", manageByRole: true,
			change: read(doc1Ref, nil), wantErr: []error{iam.ErrNotManager, iam.ErrEscalation},
			after: []escCheck{{"doc.read", refusing1, false}}},
		{name: "(a) the bug report's fixture, Change.Object refuses global roles", manageByRole: true,
			change: read(doc1Ref, refusing1), wantErr: []error{iam.ErrNotManager, iam.ErrEscalation},
			after: []escCheck{{"doc.read", refusing1, false}}},
		{name: "(a) control: bare ref, the loaded object acquires global roles and has no children",
			change: read(doc1Ref, nil), opts: iam.ManagerOptions{Object: loader(acquiring1), Children: escNoChildren},
			after: []escCheck{{"doc.read", acquiring1, true}, {"doc.read", refusing1, true}}},
		{name: "(b) the folder's child refuses global roles",
			change: read(folder1.ref, folder1), opts: iam.ManagerOptions{Children: childOfFolder(refusing2)},
			wantErr: []error{iam.ErrEscalation}, after: []escCheck{{"doc.read", refusing2, false}, {"doc.read", folder1, false}}},
		{name: "(b) the folder's children cannot be listed: the global role does not count",
			change: read(folder1.ref, folder1), wantErr: []error{iam.ErrEscalation},
			after: []escCheck{{"doc.read", refusing2, false}, {"doc.read", folder1, false}}},
		{name: "(b) control: the folder's child acquires global roles",
			change: read(folder1.ref, folder1), opts: iam.ManagerOptions{Children: childOfFolder(acquiring2)},
			after: []escCheck{{"doc.read", folder1, true}, {"doc.read", acquiring2, true}, {"doc.read", refusing2, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := iam.NewMemoryStore()
			c, err := iam.New(pol, store)
			require.NoError(t, err)
			require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User("admin"), Role: readerRole.Name, Active: true}))
			if tc.manageByRole {
				require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User("admin"), Role: grantsRole.Name, Active: true}))
			} else {
				require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("admin"), Perm: iam.PermManageGrants, On: iam.GlobalScope()}))
			}
			// The fixture: the admin reads what acquires global roles and
			// nothing that refuses them; bob reads nothing.
			escRequireChecks(t, c, admin, []escCheck{{"doc.read", acquiring1, true}, {"doc.read", folder1, true},
				{"doc.read", refusing1, false}, {"doc.read", refusing2, false}})
			escRequireChecks(t, c, bob, []escCheck{{"doc.read", acquiring1, false}, {"doc.read", folder1, false}, {"doc.read", acquiring2, false}})

			m := escManager(c, tc.opts)
			before := escHeldBy(t, store, iam.User("bob"))
			err = m.Apply(ctx, admin, tc.change)
			t.Logf("result: %v", err)
			if tc.wantErr != nil {
				escRequireIsAny(t, err, tc.wantErr...)
				require.Equal(t, before, escHeldBy(t, store, iam.User("bob")), "a refused change wrote nothing")
			} else {
				require.NoError(t, err)
			}
			escRequireChecks(t, c, bob, tc.after)
		})
	}
}

// TestEscalationProtectedIncludes: a role that includes a Protected role is
// Protected, and the last-holder rule follows Includes: some user must keep
// an active, non-expiring profile of a role that is or includes a
// Protected role. An expiring profile is a removal to come, so it neither
// counts as a holder nor may replace the last one; groups do not count
// either. Only superusers touch such roles (ErrProtected otherwise). The
// clock is fixed, so expiry is deterministic (the Manager uses the
// Checker's). contract 19
func TestEscalationProtectedIncludes(t *testing.T) {
	ctx := t.Context()
	t0 := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	root := &iam.Role{Name: "sys.root", Perms: []string{"sys.all"}, Protected: true}
	superadmin := &iam.Role{Name: "sys.superadmin", Includes: []*iam.Role{root}}
	mgr := &iam.Role{Name: "sys.manager", Perms: []string{iam.PermManageRoles}}
	pol := iam.Policy{Roles: []*iam.Role{root, superadmin, mgr}}
	su := &escUser{id: "su", super: true}
	hank := &escUser{id: "hank"} // manager, holds sys.all by a global grant: not a superuser
	prof := func(who iam.Principal, role string, expires time.Time) iam.Profile {
		return iam.Profile{Holder: who, Role: role, Active: true, ExpiresAt: expires}
	}
	alice := iam.User("alice")

	tests := []struct {
		name    string
		actor   *escUser
		others  []iam.Profile // besides alice's non-expiring superadmin profile (unless noAlice)
		noAlice bool
		change  iam.Change
		wantErr error
		target  iam.Principal
		after   []escCheck // of the target
	}{
		{name: "(a) remove the only superadmin", actor: su,
			change:  iam.Change{Kind: iam.ChangeDeleteProfile, Profile: iam.Profile{Holder: alice, Role: superadmin.Name}},
			wantErr: iam.ErrLastHolder},
		{name: "(b) deactivate the only superadmin", actor: su,
			change:  iam.Change{Kind: iam.ChangeDeactivate, Profile: iam.Profile{Holder: alice, Role: superadmin.Name}},
			wantErr: iam.ErrLastHolder},
		{name: "(c) make the only superadmin's profile expire (in 1ns)", actor: su,
			change:  iam.Change{Kind: iam.ChangePutProfile, Profile: prof(alice, superadmin.Name, t0.Add(time.Nanosecond))},
			wantErr: iam.ErrLastHolder},
		{name: "replace the only superadmin's profile with an inactive one (invalid: grants nothing)", actor: su,
			change:  iam.Change{Kind: iam.ChangePutProfile, Profile: iam.Profile{Holder: alice, Role: superadmin.Name}},
			wantErr: iam.ErrInvalid},
		{name: "switch the only superadmin's profile off", actor: su,
			change:  iam.Change{Kind: iam.ChangeDeactivate, Profile: iam.Profile{Holder: alice, Role: superadmin.Name}},
			wantErr: iam.ErrLastHolder},
		{name: "an expiring holder of root does not count", actor: su,
			others:  []iam.Profile{prof(iam.User("carol"), root.Name, t0.Add(time.Hour))},
			change:  iam.Change{Kind: iam.ChangeDeleteProfile, Profile: iam.Profile{Holder: alice, Role: superadmin.Name}},
			wantErr: iam.ErrLastHolder},
		{name: "a group holding root does not count", actor: su,
			others:  []iam.Profile{prof(iam.Group("ops"), root.Name, time.Time{})},
			change:  iam.Change{Kind: iam.ChangeDeleteProfile, Profile: iam.Profile{Holder: alice, Role: superadmin.Name}},
			wantErr: iam.ErrLastHolder},
		{name: "remove the only non-expiring root (another root expires)", actor: su, noAlice: true,
			others: []iam.Profile{prof(alice, root.Name, time.Time{}), prof(iam.User("carol"), root.Name, t0.Add(time.Hour))},
			change: iam.Change{Kind: iam.ChangeDeleteProfile, Profile: iam.Profile{Holder: alice, Role: root.Name}},
			// alice then holds sys.all through root, as before.
			wantErr: iam.ErrLastHolder},
		{name: "(d) control: carol holds root itself, alice's superadmin can go", actor: su,
			others: []iam.Profile{prof(iam.User("carol"), root.Name, time.Time{})},
			change: iam.Change{Kind: iam.ChangeDeleteProfile, Profile: iam.Profile{Holder: alice, Role: superadmin.Name}},
			after:  []escCheck{{"sys.all", nil, false}}},
		{name: "control: with no holder before, an expiring superadmin may be assigned", actor: su, noAlice: true,
			change: iam.Change{Kind: iam.ChangePutProfile, Profile: prof(iam.User("dave"), superadmin.Name, t0.Add(time.Hour))},
			target: iam.User("dave"), after: []escCheck{{"sys.all", nil, true}}},
		{name: "a non-superuser holding everything assigns superadmin", actor: hank,
			change:  iam.Change{Kind: iam.ChangePutProfile, Profile: prof(iam.User("bob"), superadmin.Name, time.Time{})},
			wantErr: iam.ErrProtected, target: iam.User("bob"), after: []escCheck{{"sys.all", nil, false}}},
		{name: "a non-superuser holding everything removes a superadmin", actor: hank,
			others:  []iam.Profile{prof(iam.User("carol"), superadmin.Name, time.Time{})},
			change:  iam.Change{Kind: iam.ChangeDeleteProfile, Profile: iam.Profile{Holder: alice, Role: superadmin.Name}},
			wantErr: iam.ErrProtected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := iam.NewMemoryStore()
			c, err := iam.NewWithOptions(pol, store, iam.Options{Now: func() time.Time { return t0 }})
			require.NoError(t, err)
			require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User("hank"), Role: mgr.Name, Active: true}))
			require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("hank"), Perm: "sys.all", On: iam.GlobalScope()}))
			if !tc.noAlice {
				require.NoError(t, c.AssignRole(ctx, prof(alice, superadmin.Name, time.Time{})))
			}
			for _, p := range tc.others {
				require.NoError(t, c.AssignRole(ctx, p))
			}
			target := tc.target
			if target == (iam.Principal{}) {
				target = alice
			}
			subj := &escUser{id: target.ID}
			had := c.HasPerm(ctx, subj, "sys.all", nil)

			m := escManager(c, iam.ManagerOptions{})
			before := escHeldBy(t, store, target)
			err = m.Apply(ctx, tc.actor, tc.change)
			t.Logf("result: %v", err)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.Equal(t, before, escHeldBy(t, store, target), "a refused change wrote nothing")
				require.Equal(t, had, c.HasPerm(ctx, subj, "sys.all", nil))
			} else {
				require.NoError(t, err)
			}
			escRequireChecks(t, c, subj, tc.after)
		})
	}
}

// TestEscalationApprove: Approve judges the approver on the object the
// Manager loads itself (ManagerOptions.Object), never on the Change.Object
// of the request, which the requester shaped. Here the requester asks for
// doc.edit on doc:7 for carol with a fake doc:7 that says the approver owns
// it (doc.edit = is_owner, iam.manage_grants = is_owner); the real doc:7
// belongs to someone else, so the approver neither manages its grants nor
// edits it. When the real doc:7 is the approver's, the same request is
// approved. Nobody approves their own request. contract 19
func TestEscalationApprove(t *testing.T) {
	ctx := t.Context()
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *escUser, d *escDoc) bool {
		return d != nil && d.owner == u.id
	})
	pol := iam.Policy{
		Perms: []iam.Perm{{Name: "doc.edit", Types: []string{"doc"}}, {Name: iam.PermManageGrants}},
		Rules: map[string]iam.Predicate{"doc.edit": isOwner, iam.PermManageGrants: isOwner},
	}
	ref := iam.Ref{Type: "doc", ID: "7"}
	olga := &escUser{id: "olga"} // the approver
	mallory := &escUser{id: "mallory"}
	carol := &escUser{id: "carol"}
	fake := &escDoc{ref: ref, owner: "olga"}
	ch := iam.Change{Kind: iam.ChangeGrant, Grant: iam.Grant{Holder: iam.User("carol"), Perm: "doc.edit", On: ref}, Object: fake}

	tests := []struct {
		name      string
		realOwner string
		approver  *escUser
		wantErr   []error
	}{
		{"the real doc:7 is not the approver's", "zed", olga, []error{iam.ErrNotManager, iam.ErrEscalation}},
		{"control: the real doc:7 is the approver's", "olga", olga, nil},
		{"the requester approves its own request", "olga", mallory, []error{iam.ErrSelfChange}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := iam.NewMemoryStore()
			c, err := iam.New(pol, store)
			require.NoError(t, err)
			realDoc := &escDoc{ref: ref, owner: tc.realOwner}
			m := escManager(c, iam.ManagerOptions{
				Object: func(_ context.Context, r iam.Ref) (iam.Object, error) {
					if r == ref {
						return realDoc, nil
					}
					return r, nil
				},
				Children: escNoChildren,
			})
			req, err := m.Request(ctx, mallory, ch)
			require.NoError(t, err)
			escRequireChecks(t, c, carol, []escCheck{{"doc.edit", realDoc, false}})

			before := escHeldBy(t, store, iam.User("carol"))
			err = m.Approve(ctx, tc.approver, req)
			t.Logf("result: %v", err)
			if tc.wantErr != nil {
				escRequireIsAny(t, err, tc.wantErr...)
				require.Equal(t, before, escHeldBy(t, store, iam.User("carol")), "a refused approval wrote nothing")
				gs, err := store.Grants(ctx, ref)
				require.NoError(t, err)
				require.Zero(t, gs.Len(), "no grant on doc:7")
				escRequireChecks(t, c, carol, []escCheck{{"doc.edit", realDoc, false}})
				return
			}
			require.NoError(t, err)
			escRequireChecks(t, c, carol, []escCheck{{"doc.edit", realDoc, true}})
		})
	}
}

// TestEscalationExpiredWideGrants: an actor's grants on GlobalScope() or a
// type that have expired give it nothing to hand out, nor the manage
// permission: the Manager counts only live grants, as the Checker does.
// contract 7d, contract 19
func TestEscalationExpiredWideGrants(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	past, later := now.Add(-time.Hour), now.Add(time.Hour)
	admin := &iam.Role{Name: "admin", Perms: []string{iam.PermManageRoles, iam.PermManageGrants, "doc.read"}}
	tests := []struct {
		name   string
		grants []iam.Grant // alice's
		change iam.Change
		want   error
	}{
		{
			name: "expired global grants of the manage permission and the stake",
			grants: []iam.Grant{
				{Holder: iam.User("alice"), Perm: iam.PermManageGrants, On: iam.GlobalScope(), ExpiresAt: past},
				{Holder: iam.User("alice"), Perm: "doc.read", On: iam.GlobalScope(), ExpiresAt: past},
			},
			change: iam.Change{Kind: iam.ChangeGrant, Grant: iam.Grant{Holder: iam.User("bob"), Perm: "doc.read", On: iam.GlobalScope()}},
			want:   iam.ErrNotManager,
		},
		{
			name: "expired global grant of the stake only",
			grants: []iam.Grant{
				{Holder: iam.User("alice"), Perm: iam.PermManageGrants, On: iam.GlobalScope()},
				{Holder: iam.User("alice"), Perm: "doc.read", On: iam.GlobalScope(), ExpiresAt: past},
			},
			change: iam.Change{Kind: iam.ChangeGrant, Grant: iam.Grant{Holder: iam.User("bob"), Perm: "doc.read", On: iam.GlobalScope()}},
			want:   iam.ErrEscalation,
		},
		{
			name: "expired type-level grant of the stake",
			grants: []iam.Grant{
				{Holder: iam.User("alice"), Perm: iam.PermManageGrants, On: iam.GlobalScope()},
				{Holder: iam.User("alice"), Perm: "doc.read", On: iam.TypeScope("doc"), ExpiresAt: past},
			},
			change: iam.Change{Kind: iam.ChangeGrant, Grant: iam.Grant{Holder: iam.User("bob"), Perm: "doc.read", On: iam.TypeScope("doc")}},
			want:   iam.ErrEscalation,
		},
		{
			name:   "expired global role grant",
			grants: []iam.Grant{{Holder: iam.User("alice"), Role: "admin", On: iam.GlobalScope(), ExpiresAt: past}},
			change: iam.Change{Kind: iam.ChangePutProfile, Profile: iam.Profile{Holder: iam.User("bob"), Role: "admin", Active: true}},
			want:   iam.ErrNotManager,
		},
		{
			name:   "live global role grant",
			grants: []iam.Grant{{Holder: iam.User("alice"), Role: "admin", On: iam.GlobalScope(), ExpiresAt: later}},
			change: iam.Change{Kind: iam.ChangePutProfile, Profile: iam.Profile{Holder: iam.User("bob"), Role: "admin", Active: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			store := iam.NewMemoryStore()
			c, err := iam.NewWithOptions(iam.Policy{Roles: []*iam.Role{admin}}, store, iam.Options{Now: func() time.Time { return now }})
			require.NoError(t, err)
			for _, g := range tt.grants {
				require.NoError(t, c.Grant(ctx, g))
			}
			escApply(t, escManager(c, iam.ManagerOptions{}), store, &escUser{id: "alice"}, tt.change, iam.User("bob"), tt.want)
		})
	}
}

// TestEscalationAncestorGrants: what the actor holds on an object through a
// grant on one of its ancestors need not reach the object's descendants
// (the ancestor may be known only from the object's own Parents method, or
// lie past MaxDepth from below), so the Manager checks each descendant
// rather than assume it. contract 19
func TestEscalationAncestorGrants(t *testing.T) {
	folder := iam.Ref{Type: "folder", ID: "A"}
	tests := []struct {
		name     string
		maxDepth int
		stored   bool  // the doc's parent is stored, not only its method's
		want     error // the refusal
	}{
		{name: "ancestor known from the object's method", want: iam.ErrEscalation},
		// The actor's own check on the attachment cannot be decided.
		{name: "ancestor past MaxDepth from the descendant", maxDepth: 1, stored: true, want: iam.ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			store := iam.NewMemoryStore()
			mgr := &iam.Role{Name: "mgr", Perms: []string{iam.PermManageGrants}}
			c, err := iam.NewWithOptions(iam.Policy{Roles: []*iam.Role{mgr}, Perms: []iam.Perm{{Name: "doc.read"}}}, store, iam.Options{MaxDepth: tt.maxDepth})
			require.NoError(t, err)
			doc := &escDoc{ref: iam.Ref{Type: "doc", ID: "O"}, parents: []iam.Ref{folder}}
			att := &escDoc{ref: iam.Ref{Type: "att", ID: "D"}, parents: []iam.Ref{doc.ref}}
			if tt.stored {
				doc.parents = nil
				require.NoError(t, store.SetParents(ctx, doc.ref, []iam.Ref{folder}))
				require.NoError(t, store.SetParents(ctx, att.ref, []iam.Ref{doc.ref}))
			}
			objs := map[iam.Ref]iam.Object{doc.ref: doc, att.ref: att}
			m := escManager(c, iam.ManagerOptions{
				Object: func(_ context.Context, r iam.Ref) (iam.Object, error) { return objs[r], nil },
				Children: func(_ context.Context, r iam.Ref) ([]iam.Object, error) {
					if r == doc.ref {
						return []iam.Object{att}, nil
					}
					return nil, nil
				},
			})
			require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User("alice"), Role: "mgr", Active: true}))
			require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("alice"), Perm: "doc.read", On: folder}))
			alice, bob := &escUser{id: "alice"}, &escUser{id: "bob"}
			require.True(t, c.HasPerm(ctx, alice, "doc.read", doc), "alice reads the doc through the folder")
			require.False(t, c.HasPerm(ctx, alice, "doc.read", att), "but not its attachment")

			escApply(t, m, store, alice, iam.Change{Kind: iam.ChangeGrant, Grant: iam.Grant{Holder: iam.User("bob"), Perm: "doc.read", On: doc.ref}}, iam.User("bob"), tt.want)
			escRequireChecks(t, c, bob, []escCheck{{"doc.read", doc, false}, {"doc.read", att, false}})

			// A grant on the doc itself reaches its attachment just as the
			// change would: handing out doc.read there is the actor's own.
			require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("alice"), Perm: "doc.read", On: doc.ref}))
			escApply(t, m, store, alice, iam.Change{Kind: iam.ChangeGrant, Grant: iam.Grant{Holder: iam.User("bob"), Perm: "doc.read", On: doc.ref}}, iam.User("bob"), nil)
		})
	}
}

// TestEscalationMessageNamesTheScope: a refused change says where the
// actor lacks the stake, in words, for every kind of scope (a profile is a
// global change). contract 19
func TestEscalationMessageNamesTheScope(t *testing.T) {
	ctx := context.Background()
	mgr := &iam.Role{Name: "mgr", Perms: []string{iam.PermManageRoles, iam.PermManageGrants, "doc.read"}}
	writer := &iam.Role{Name: "writer", Perms: []string{"doc.read", "doc.write"}}
	store := iam.NewMemoryStore()
	c, err := iam.New(iam.Policy{Roles: []*iam.Role{mgr, writer}}, store)
	require.NoError(t, err)
	require.NoError(t, store.PutProfile(ctx, iam.Profile{Holder: iam.User("alice"), Role: "mgr", Active: true}))
	// A bare Ref is judged as refusing global roles: on doc:1, alice
	// manages by her own grant there.
	require.NoError(t, store.Grant(ctx, iam.Grant{Holder: iam.User("alice"), Perm: iam.PermManageGrants, On: iam.Ref{Type: "doc", ID: "1"}}))
	m := iam.NewManager(c, iam.ManagerOptions{Logger: slog.New(slog.DiscardHandler)})
	alice := &escUser{id: "alice"}
	bob := iam.User("bob")
	tests := []struct {
		name   string
		change iam.Change
		want   string
	}{
		{"profile", iam.Change{Kind: iam.ChangePutProfile, Profile: iam.Profile{Holder: bob, Role: "writer", Active: true}},
			"actor lacks doc.write globally"},
		{"global grant", iam.Change{Kind: iam.ChangeGrant, Grant: iam.Grant{Holder: bob, Perm: "doc.write", On: iam.GlobalScope()}},
			"actor lacks doc.write globally"},
		{"type grant", iam.Change{Kind: iam.ChangeGrant, Grant: iam.Grant{Holder: bob, Perm: "doc.write", On: iam.TypeScope("doc")}},
			"actor lacks doc.write on every doc"},
		{"object grant", iam.Change{Kind: iam.ChangeGrant, Grant: iam.Grant{Holder: bob, Perm: "doc.write", On: iam.Ref{Type: "doc", ID: "1"}}},
			"actor lacks doc.write on doc:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.Apply(ctx, alice, tt.change)
			require.ErrorIs(t, err, iam.ErrEscalation)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}
