package iam_test

// Black-box tests of the behaviour contract in docs/contract.md against the
// MemoryStore. Every test, or every table row, names the contract line it
// covers ("contract 4b"). Helpers and types here carry a "ct" prefix so they
// do not collide with the other test files of package iam_test.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// ctUser is an application user with every optional Subject interface.
type ctUser struct {
	id       string
	inactive bool
	super    bool
	groups   []string
}

func (u *ctUser) SubjectID() string       { return u.id }
func (u *ctUser) IsActive() bool          { return !u.inactive }
func (u *ctUser) IsSuperuser() bool       { return u.super }
func (u *ctUser) SubjectGroups() []string { return u.groups }

// ctPlain is a subject with no optional interface at all.
type ctPlain string

func (p ctPlain) SubjectID() string { return string(p) }

// ctSuperOnly is a superuser that does not implement IsActive (so it is
// active).
type ctSuperOnly string

func (p ctSuperOnly) SubjectID() string { return string(p) }
func (ctSuperOnly) IsSuperuser() bool   { return true }

// ctDoc is an object with parents, an owner, and a switch to refuse global
// roles.
type ctDoc struct {
	ref     iam.Ref
	parents []iam.Ref
	refuse  bool
	owner   string
}

func (d *ctDoc) ObjectRef() iam.Ref       { return d.ref }
func (d *ctDoc) Parents() []iam.Ref       { return d.parents }
func (d *ctDoc) AcquireGlobalRoles() bool { return !d.refuse }

// ctDecision is the exported, comparable part of an iam.Decision.
type ctDecision struct {
	Allowed bool
	Reason  iam.Reason
	Role    string
	Via     iam.Principal
	On      iam.Ref
}

func ctView(d iam.Decision) ctDecision {
	return ctDecision{Allowed: d.Allowed, Reason: d.Reason, Role: d.Role, Via: d.Via, On: d.On}
}

func ctRequireDecision(t *testing.T, want ctDecision, got iam.Decision) {
	t.Helper()
	if diff := cmp.Diff(want, ctView(got)); diff != "" {
		t.Fatalf("decision mismatch (-want +got):\n%s\ngot: %v", diff, got)
	}
}

var (
	ctU1      = iam.User("u1")
	ctU2      = iam.User("u2")
	ctStaff   = iam.Group("staff")
	ctExt     = iam.Group("ext")
	ctPublic  = iam.Group("public")
	ctDoc1    = iam.Ref{Type: "doc", ID: "1"}
	ctDoc2    = iam.Ref{Type: "doc", ID: "2"}
	ctFolder1 = iam.Ref{Type: "folder", ID: "1"}
	ctRoot    = iam.Ref{Type: "folder", ID: "root"}
	ctDocType = iam.TypeScope("doc")
	ctPageTyp = iam.TypeScope("page")
	ctGlobal  = iam.GlobalScope()
)

// ctD returns a doc object with the given parents.
func ctD(id string, parents ...iam.Ref) *ctDoc {
	return &ctDoc{ref: iam.Ref{Type: "doc", ID: id}, parents: parents}
}

// ctRefusing returns a doc that refuses global roles.
func ctRefusing(id string, parents ...iam.Ref) *ctDoc {
	d := ctD(id, parents...)
	d.refuse = true
	return d
}

// ctFixture is the policy most tests share.
//
//	doc.viewer    -> doc.view
//	doc.editor    -> doc.edit, includes doc.viewer
//	doc.publisher -> doc.publish (declared for types doc and page)
//	doc.comment   no role: direct grants only
//	rules: doc.delete = is_owner, doc.list = always,
//	       doc.special = has_role:doc.viewer, site.signup = ~is_authenticated
type ctFixture struct {
	viewer, editor, publisher *iam.Role
	policy                    iam.Policy
}

func ctPolicy() ctFixture {
	viewer := &iam.Role{Name: "doc.viewer", Perms: []string{"doc.view"}}
	editor := &iam.Role{Name: "doc.editor", Perms: []string{"doc.edit"}, Includes: []*iam.Role{viewer}}
	publisher := &iam.Role{Name: "doc.publisher", Perms: []string{"doc.publish"}}
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *ctUser, d *ctDoc) bool {
		return d != nil && d.owner == u.id
	})
	return ctFixture{
		viewer: viewer, editor: editor, publisher: publisher,
		policy: iam.Policy{
			Roles: []*iam.Role{viewer, editor, publisher},
			Perms: []iam.Perm{
				{Name: "doc.view"}, {Name: "doc.edit"}, {Name: "doc.comment"},
				{Name: "doc.delete"}, {Name: "doc.list"}, {Name: "doc.special"},
				{Name: "site.signup"},
				{Name: "doc.publish", Types: []string{"doc", "page"}},
			},
			Rules: map[string]iam.Predicate{
				"doc.delete":  isOwner,
				"doc.list":    iam.Always(),
				"doc.special": iam.HasRole(viewer),
				"site.signup": iam.Not(iam.IsAuthenticated()),
			},
		},
	}
}

// ctNew returns a checker over a fresh MemoryStore with the shared policy.
func ctNew(t *testing.T, opts ...iam.Options) (*iam.Checker, *iam.MemoryStore, ctFixture) {
	t.Helper()
	f := ctPolicy()
	store := iam.NewMemoryStore()
	var o iam.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	c, err := iam.NewWithOptions(f.policy, store, o)
	require.NoError(t, err)
	return c, store, f
}

// ctStep is one store write of a test fixture.
type ctStep func(t *testing.T, s *iam.MemoryStore)

func ctApply(t *testing.T, s *iam.MemoryStore, steps []ctStep) {
	t.Helper()
	for _, st := range steps {
		st(t, s)
	}
}

func ctPut(p iam.Profile) ctStep {
	return func(t *testing.T, s *iam.MemoryStore) {
		t.Helper()
		require.NoError(t, s.PutProfile(context.Background(), p))
	}
}

// ctProfile is an active profile that never expires.
func ctProfile(h iam.Principal, role string) ctStep {
	return ctPut(iam.Profile{Holder: h, Role: role, Active: true})
}

func ctGrantPerm(h iam.Principal, perm string, on iam.Ref) ctStep {
	return func(t *testing.T, s *iam.MemoryStore) {
		t.Helper()
		require.NoError(t, s.Grant(context.Background(), iam.Grant{Holder: h, Perm: perm, On: on}))
	}
}

func ctGrantRole(h iam.Principal, role string, on iam.Ref) ctStep {
	return func(t *testing.T, s *iam.MemoryStore) {
		t.Helper()
		require.NoError(t, s.Grant(context.Background(), iam.Grant{Holder: h, Role: role, On: on}))
	}
}

func ctMember(user, group string) ctStep {
	return func(t *testing.T, s *iam.MemoryStore) {
		t.Helper()
		require.NoError(t, s.AddMember(context.Background(), user, group))
	}
}

func ctParents(ref iam.Ref, parents ...iam.Ref) ctStep {
	return func(t *testing.T, s *iam.MemoryStore) {
		t.Helper()
		require.NoError(t, s.SetParents(context.Background(), ref, parents))
	}
}

// ctRow is one check against a fixture.
type ctRow struct {
	name  string
	setup []ctStep
	subj  iam.Subject // nil in the row means u1 (see ctRun)
	perm  string
	obj   iam.Object
	want  ctDecision
}

// ctRun runs table rows, each on a fresh store, expecting no error.
func ctRun(t *testing.T, rows []ctRow) {
	t.Helper()
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			c, s, _ := ctNew(t)
			ctApply(t, s, tc.setup)
			subj := tc.subj
			if subj == nil {
				subj = &ctUser{id: "u1"}
			}
			ctx := context.Background()
			d, err := c.Check(ctx, subj, tc.perm, tc.obj)
			require.NoError(t, err)
			ctRequireDecision(t, tc.want, d)
			require.Equal(t, d.Allowed, c.HasPerm(ctx, subj, tc.perm, tc.obj), "HasPerm agrees with Check")
		})
	}
}

var (
	ctAllowGlobal = func(role string, via iam.Principal) ctDecision {
		return ctDecision{Allowed: true, Reason: iam.ReasonGlobalRole, Role: role, Via: via, On: ctGlobal}
	}
	ctDenied = ctDecision{Reason: iam.ReasonNone}
	ctByRule = ctDecision{Allowed: true, Reason: iam.ReasonRule}
)

// ---------------------------------------------------------------------------
// contract 1

func TestContract1_UnknownPermission(t *testing.T) {
	// contract 1: an undeclared permission is an error wrapping
	// ErrUnknownPermission, even for superusers, even when the store holds a
	// grant of that very name.
	c, s, _ := ctNew(t)
	ctApply(t, s, []ctStep{
		ctGrantPerm(ctU1, "doc.veiw", ctDoc1),
		ctGrantPerm(ctU1, "doc.veiw", ctGlobal),
		ctProfile(ctU1, "doc.viewer"),
	})
	ctx := context.Background()
	subjects := []struct {
		name string
		s    iam.Subject
	}{
		{"user", &ctUser{id: "u1"}},
		{"active superuser", &ctUser{id: "root", super: true}},
		{"superuser without IsActive", ctSuperOnly("root")},
		{"plain subject", ctPlain("u1")},
		{"anonymous", &ctUser{}},
		{"inactive", &ctUser{id: "u1", inactive: true}},
		{"nil subject", nil},
	}
	objects := []struct {
		name string
		o    iam.Object
	}{
		{"model level", nil},
		{"object", ctD("1")},
	}
	for _, perm := range []string{"doc.veiw", "", "DOC.VIEW", "doc.view "} {
		for _, sc := range subjects {
			for _, oc := range objects {
				t.Run(fmt.Sprintf("%q/%s/%s", perm, sc.name, oc.name), func(t *testing.T) {
					d, err := c.Check(ctx, sc.s, perm, oc.o)
					require.ErrorIs(t, err, iam.ErrUnknownPermission)
					require.False(t, d.Allowed)
					require.Equal(t, iam.ReasonError, d.Reason)
					require.False(t, c.HasPerm(ctx, sc.s, perm, oc.o))
					_, err = c.Explain(ctx, sc.s, perm, oc.o)
					require.ErrorIs(t, err, iam.ErrUnknownPermission)
					require.ErrorIs(t, c.Require(ctx, sc.s, perm, oc.o), iam.ErrUnknownPermission)
				})
			}
		}
	}
}

// ---------------------------------------------------------------------------
// contract 2

func TestContract2_NilAndInactiveSubjects(t *testing.T) {
	// contract 2: nil and inactive subjects are denied everything, whatever
	// the store holds, superusers and rules included.
	everything := []ctStep{
		ctProfile(ctU1, "doc.editor"),
		ctProfile(ctStaff, "doc.publisher"),
		ctMember("u1", "staff"),
		ctGrantPerm(ctU1, "doc.comment", ctDoc1),
		ctGrantPerm(ctU1, "doc.comment", ctGlobal),
		ctGrantRole(ctU1, "doc.editor", ctDoc1),
		ctGrantPerm(ctExt, "doc.comment", ctDoc1),
	}
	subjects := []struct {
		name string
		s    iam.Subject
	}{
		{"nil subject", nil}, // contract 2
		{"inactive user", &ctUser{id: "u1", inactive: true}},                   // contract 2
		{"inactive superuser", &ctUser{id: "u1", inactive: true, super: true}}, // contract 2
		{"inactive user with app groups", &ctUser{id: "u1", inactive: true, groups: []string{"ext"}}},
		{"inactive anonymous", &ctUser{inactive: true}},
	}
	perms := []string{"doc.view", "doc.edit", "doc.comment", "doc.publish", "doc.list", "doc.special", "site.signup", "doc.delete", iam.PermManageRoles}
	c, s, _ := ctNew(t)
	ctApply(t, s, everything)
	ctx := context.Background()
	for _, sc := range subjects {
		for _, perm := range perms {
			for _, obj := range []iam.Object{nil, &ctDoc{ref: ctDoc1, owner: "u1"}} {
				name := fmt.Sprintf("%s/%s/obj=%v", sc.name, perm, obj != nil)
				t.Run(name, func(t *testing.T) {
					d, err := c.Check(ctx, sc.s, perm, obj)
					require.NoError(t, err)
					want := iam.ReasonInactive
					if sc.s == nil {
						want = iam.ReasonNoSubject // says what happened
					}
					ctRequireDecision(t, ctDecision{Reason: want}, d)
					require.False(t, c.HasPerm(ctx, sc.s, perm, obj))
					require.ErrorIs(t, c.Require(ctx, sc.s, perm, obj), iam.ErrDenied)
				})
			}
		}
	}
	t.Run("control: the same user when active is allowed", func(t *testing.T) {
		require.True(t, c.HasPerm(ctx, &ctUser{id: "u1"}, "doc.edit", ctD("1")))
		require.True(t, c.HasPerm(ctx, &ctUser{id: "u1", super: true}, "doc.view", nil))
	})
}

// ---------------------------------------------------------------------------
// contract 3

func TestContract3_ActiveSuperuser(t *testing.T) {
	// contract 3: an active superuser holds every declared permission, with or
	// without an object, even on objects refusing global roles, with an empty
	// store.
	c, _, _ := ctNew(t)
	ctx := context.Background()
	perms := []string{"doc.view", "doc.edit", "doc.comment", "doc.delete", "doc.list", "doc.special", "site.signup", "doc.publish", iam.PermManageRoles, iam.PermManageGrants}
	supers := []struct {
		name string
		s    iam.Subject
	}{
		{"IsActive true", &ctUser{id: "root", super: true}},
		{"no IsActive method", ctSuperOnly("root")},
	}
	objects := []struct {
		name string
		o    iam.Object
	}{
		{"model level", nil},
		{"object", ctD("1", ctFolder1)},
		{"refusing object", ctRefusing("1")},
		{"bare ref", ctDoc1},
		{"page (declared type of doc.publish)", iam.Ref{Type: "page", ID: "9"}},
	}
	for _, sc := range supers {
		for _, oc := range objects {
			for _, perm := range perms {
				t.Run(sc.name+"/"+oc.name+"/"+perm, func(t *testing.T) {
					d, err := c.Check(ctx, sc.s, perm, oc.o)
					require.NoError(t, err)
					ctRequireDecision(t, ctDecision{Allowed: true, Reason: iam.ReasonSuperuser}, d)
				})
			}
		}
	}
	t.Run("control: IsSuperuser false is not a superuser", func(t *testing.T) {
		d, err := c.Check(ctx, &ctUser{id: "root"}, "doc.view", nil)
		require.NoError(t, err)
		ctRequireDecision(t, ctDenied, d)
	})
}

// ---------------------------------------------------------------------------
// contract 4

func TestContract4_Decisions(t *testing.T) {
	rows := []ctRow{
		{name: "nothing held", perm: "doc.view", obj: ctD("1"), want: ctDenied}, // contract 4

		// contract 4a: global roles
		{name: "4a/profile held by the user", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctProfile(ctU1, "doc.viewer")},
			want:  ctAllowGlobal("doc.viewer", ctU1)},
		{name: "4a/permission through Includes", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctProfile(ctU1, "doc.editor")},
			want:  ctAllowGlobal("doc.editor", ctU1)},
		{name: "4a/Includes does not work upwards", perm: "doc.edit", obj: ctD("1"),
			setup: []ctStep{ctProfile(ctU1, "doc.viewer")},
			want:  ctDenied},
		{name: "4a/profile held by a group the user is a member of", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctProfile(ctStaff, "doc.viewer"), ctMember("u1", "staff")},
			want:  ctAllowGlobal("doc.viewer", ctStaff)},
		{name: "4a/group profile through Includes", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctProfile(ctStaff, "doc.editor"), ctMember("u1", "staff")},
			want:  ctAllowGlobal("doc.editor", ctStaff)},
		{name: "4a/group profile without membership", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctProfile(ctStaff, "doc.viewer"), ctMember("u2", "staff")},
			want:  ctDenied},
		{name: "4a/another user's profile", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctProfile(ctU2, "doc.viewer")},
			want:  ctDenied},
		{name: "4a/inactive profile", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctPut(iam.Profile{Holder: ctU1, Role: "doc.viewer", Active: false})},
			want:  ctDenied},
		{name: "4a/inactive group profile", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctPut(iam.Profile{Holder: ctStaff, Role: "doc.viewer"}), ctMember("u1", "staff")},
			want:  ctDenied},
		{name: "4a/expired profile", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctPut(iam.Profile{Holder: ctU1, Role: "doc.viewer", Active: true, ExpiresAt: time.Now().Add(-time.Minute)})},
			want:  ctDenied},
		{name: "4a/expired group profile", perm: "doc.view", obj: nil,
			setup: []ctStep{ctPut(iam.Profile{Holder: ctStaff, Role: "doc.viewer", Active: true, ExpiresAt: time.Now().Add(-time.Minute)}), ctMember("u1", "staff")},
			want:  ctDenied},
		{name: "4a/profile expiring in the future", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctPut(iam.Profile{Holder: ctU1, Role: "doc.viewer", Active: true, ExpiresAt: time.Now().Add(time.Hour)})},
			want:  ctAllowGlobal("doc.viewer", ctU1)},
		{name: "4a/profile expiring in 9999 (beyond int64 nanoseconds)", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctPut(iam.Profile{Holder: ctU1, Role: "doc.viewer", Active: true, ExpiresAt: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)})},
			want:  ctAllowGlobal("doc.viewer", ctU1)},
		{name: "4a/profile expiring in 2300", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctPut(iam.Profile{Holder: ctU1, Role: "doc.viewer", Active: true, ExpiresAt: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)})},
			want:  ctAllowGlobal("doc.viewer", ctU1)},
		{name: "4a/profile expired in 1600 (before int64 nanoseconds)", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctPut(iam.Profile{Holder: ctU1, Role: "doc.viewer", Active: true, ExpiresAt: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)})},
			want:  ctDenied},
		{name: "4a/profile for a role the policy does not have", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctProfile(ctU1, "doc.ghost")},
			want:  ctDenied},
		{name: "4a/role granted on the object's type", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctDocType)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGlobalRole, Role: "doc.viewer", Via: ctU1, On: ctDocType}},
		{name: "4a/role granted globally", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctGlobal)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGlobalRole, Role: "doc.viewer", Via: ctU1, On: ctGlobal}},
		{name: "4a/role granted to a group on the type", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctMember("u1", "staff"), ctGrantRole(ctStaff, "doc.editor", ctDocType)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGlobalRole, Role: "doc.editor", Via: ctStaff, On: ctDocType}},
		{name: "4a/role granted on another type", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctPageTyp)},
			want:  ctDenied},

		// contract 4b: local roles
		{name: "4b/local role on the object", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctDoc1)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonLocalRole, Role: "doc.viewer", Via: ctU1, On: ctDoc1}},
		{name: "4b/local role through Includes", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctGrantRole(ctU1, "doc.editor", ctDoc1)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonLocalRole, Role: "doc.editor", Via: ctU1, On: ctDoc1}},
		{name: "4b/local role on the object, bare Ref object", perm: "doc.view", obj: ctDoc1,
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctDoc1)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonLocalRole, Role: "doc.viewer", Via: ctU1, On: ctDoc1}},
		{name: "4b/local role on another object", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctDoc2)},
			want:  ctDenied},
		{name: "4b/local role of another user", perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctGrantRole(ctU2, "doc.viewer", ctDoc1)},
			want:  ctDenied},
		{name: "4b/local role on a parent from Parents()", perm: "doc.view", obj: ctD("1", ctFolder1),
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctFolder1)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonLocalRole, Role: "doc.viewer", Via: ctU1, On: ctFolder1}},
		{name: "4b/local role on a grandparent recorded in the store", perm: "doc.view", obj: ctD("1", ctFolder1),
			setup: []ctStep{ctParents(ctFolder1, ctRoot), ctGrantRole(ctU1, "doc.viewer", ctRoot)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonLocalRole, Role: "doc.viewer", Via: ctU1, On: ctRoot}},
		{name: "4b/local role on a parent recorded only in the store", perm: "doc.view", obj: ctDoc1,
			setup: []ctStep{ctParents(ctDoc1, ctFolder1), ctGrantRole(ctU1, "doc.viewer", ctFolder1)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonLocalRole, Role: "doc.viewer", Via: ctU1, On: ctFolder1}},
		{name: "4b/local role held by a group on an ancestor", perm: "doc.view", obj: ctD("1", ctFolder1),
			setup: []ctStep{ctMember("u1", "staff"), ctGrantRole(ctStaff, "doc.editor", ctFolder1)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonLocalRole, Role: "doc.editor", Via: ctStaff, On: ctFolder1}},
		{name: "4b/local role on a child does not reach the parent", perm: "doc.view", obj: ctFolder1,
			setup: []ctStep{ctParents(ctDoc1, ctFolder1), ctGrantRole(ctU1, "doc.viewer", ctDoc1)},
			want:  ctDenied},
		{name: "4b/local role without the permission", perm: "doc.edit", obj: ctD("1", ctFolder1),
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctDoc1), ctGrantRole(ctU1, "doc.viewer", ctFolder1)},
			want:  ctDenied},

		// contract 4c: direct grants
		{name: "4c/grant to the user on the object", perm: "doc.comment", obj: ctD("1"),
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", ctDoc1)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: ctDoc1}},
		{name: "4c/grant to a group on the object", perm: "doc.comment", obj: ctD("1"),
			setup: []ctStep{ctMember("u1", "staff"), ctGrantPerm(ctStaff, "doc.comment", ctDoc1)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctStaff, On: ctDoc1}},
		{name: "4c/grant to a group the user is not in", perm: "doc.comment", obj: ctD("1"),
			setup: []ctStep{ctMember("u2", "staff"), ctGrantPerm(ctStaff, "doc.comment", ctDoc1)},
			want:  ctDenied},
		{name: "4c/grant on a parent", perm: "doc.comment", obj: ctD("1", ctFolder1),
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", ctFolder1)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: ctFolder1}},
		{name: "4c/grant to a group on a grandparent in the store", perm: "doc.comment", obj: ctD("1", ctFolder1),
			setup: []ctStep{ctMember("u1", "staff"), ctParents(ctFolder1, ctRoot), ctGrantPerm(ctStaff, "doc.comment", ctRoot)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctStaff, On: ctRoot}},
		{name: "4c/grant on the whole type", perm: "doc.comment", obj: ctD("1"),
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", ctDocType)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: ctDocType}},
		{name: "4c/grant to a group on the whole type", perm: "doc.comment", obj: ctD("1"),
			setup: []ctStep{ctMember("u1", "staff"), ctGrantPerm(ctStaff, "doc.comment", ctDocType)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctStaff, On: ctDocType}},
		{name: "4c/grant globally", perm: "doc.comment", obj: ctD("1"),
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", ctGlobal)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: ctGlobal}},
		{name: "4c/grant to a group globally", perm: "doc.comment", obj: ctD("1"),
			setup: []ctStep{ctMember("u1", "staff"), ctGrantPerm(ctStaff, "doc.comment", ctGlobal)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctStaff, On: ctGlobal}},
		{name: "4c/grant on another type", perm: "doc.comment", obj: ctD("1"),
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", ctPageTyp)},
			want:  ctDenied},
		{name: "4c/grant of another permission", perm: "doc.comment", obj: ctD("1"),
			setup: []ctStep{ctGrantPerm(ctU1, "doc.view", ctDoc1)},
			want:  ctDenied},
		{name: "4c/grant to another user", perm: "doc.comment", obj: ctD("1"),
			setup: []ctStep{ctGrantPerm(ctU2, "doc.comment", ctDoc1), ctGrantPerm(ctU2, "doc.comment", ctGlobal)},
			want:  ctDenied},
		{name: "4c/grant on another object", perm: "doc.comment", obj: ctD("1"),
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", ctDoc2)},
			want:  ctDenied},

		// contract 4d: rules
		{name: "4d/rule true", perm: "doc.delete", obj: &ctDoc{ref: ctDoc1, owner: "u1"},
			want: ctByRule},
		{name: "4d/rule false", perm: "doc.delete", obj: &ctDoc{ref: ctDoc1, owner: "u2"},
			want: ctDenied},
		{name: "4d/rule allows although nothing is stored", perm: "doc.list", obj: ctD("1"),
			want: ctByRule},
	}
	ctRun(t, rows)
}

func TestContract4a_ObjectsRefusingGlobalRoles(t *testing.T) {
	// contract 4a: AcquireGlobalRoles() false refuses global roles (profiles,
	// roles granted on the type or globally), but direct grants (contract 4c)
	// and local roles (contract 4b) still apply.
	refusing := ctRefusing("1", ctFolder1)
	rows := []ctRow{
		{name: "4a/user profile refused", perm: "doc.view", obj: refusing,
			setup: []ctStep{ctProfile(ctU1, "doc.editor")}, want: ctDenied},
		{name: "4a/control: same profile on an accepting object", perm: "doc.view", obj: ctD("1", ctFolder1),
			setup: []ctStep{ctProfile(ctU1, "doc.editor")}, want: ctAllowGlobal("doc.editor", ctU1)},
		{name: "4a/group profile refused", perm: "doc.view", obj: refusing,
			setup: []ctStep{ctProfile(ctStaff, "doc.viewer"), ctMember("u1", "staff")}, want: ctDenied},
		{name: "4a/role granted on the type refused", perm: "doc.view", obj: refusing,
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctDocType)}, want: ctDenied},
		{name: "4a/role granted globally refused", perm: "doc.view", obj: refusing,
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctGlobal)}, want: ctDenied},
		{name: "4a/role granted to a group globally refused", perm: "doc.view", obj: refusing,
			setup: []ctStep{ctMember("u1", "staff"), ctGrantRole(ctStaff, "doc.viewer", ctGlobal)}, want: ctDenied},
		{name: "4b/local role on the refusing object still applies", perm: "doc.view", obj: refusing,
			setup: []ctStep{ctProfile(ctU1, "doc.editor"), ctGrantRole(ctU1, "doc.viewer", ctDoc1)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonLocalRole, Role: "doc.viewer", Via: ctU1, On: ctDoc1}},
		{name: "4b/local role on an ancestor of the refusing object still applies", perm: "doc.view", obj: refusing,
			setup: []ctStep{ctMember("u1", "staff"), ctGrantRole(ctStaff, "doc.viewer", ctFolder1)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonLocalRole, Role: "doc.viewer", Via: ctStaff, On: ctFolder1}},
		{name: "4c/direct grant on the refusing object still applies", perm: "doc.comment", obj: refusing,
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", ctDoc1)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: ctDoc1}},
		{name: "4c/direct grant on the ancestor still applies", perm: "doc.comment", obj: refusing,
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", ctFolder1)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: ctFolder1}},
		{name: "4c/direct grant on the type still applies", perm: "doc.comment", obj: refusing,
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", ctDocType)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: ctDocType}},
		{name: "4c/direct global grant still applies", perm: "doc.comment", obj: refusing,
			setup: []ctStep{ctMember("u1", "staff"), ctGrantPerm(ctStaff, "doc.comment", ctGlobal)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctStaff, On: ctGlobal}},
		{name: "4d/rules still apply", perm: "doc.list", obj: refusing, want: ctByRule},
		{name: "5/model-level check is not an object and does not refuse", perm: "doc.view", obj: nil,
			setup: []ctStep{ctProfile(ctU1, "doc.viewer")}, want: ctAllowGlobal("doc.viewer", ctU1)},
	}
	ctRun(t, rows)
}

func TestContract4_ExplainGrounds(t *testing.T) {
	// contract 4: ANY of 4a-4d allows; Explain reports every allowing path,
	// and its Decision is the one Check returns.
	ctx := context.Background()
	byReason := cmpopts.SortSlices(func(a, b ctDecision) bool {
		if a.Reason != b.Reason {
			return a.Reason < b.Reason
		}
		if a.On != b.On {
			return a.On.String() < b.On.String()
		}
		if a.Role != b.Role {
			return a.Role < b.Role
		}
		return a.Via.String() < b.Via.String()
	})
	cases := []struct {
		name  string
		setup []ctStep
		perm  string
		obj   iam.Object
		want  []ctDecision
	}{
		{
			name: "global role, direct grant and local role on an ancestor", // contract 4a, 4b, 4c
			setup: []ctStep{
				ctProfile(ctU1, "doc.editor"),
				ctGrantPerm(ctU1, "doc.view", ctDoc1),
				ctMember("u1", "staff"),
				ctGrantRole(ctStaff, "doc.viewer", ctFolder1),
			},
			perm: "doc.view", obj: ctD("1", ctFolder1),
			want: []ctDecision{
				{Allowed: true, Reason: iam.ReasonGlobalRole, Role: "doc.editor", Via: ctU1, On: ctGlobal},
				{Allowed: true, Reason: iam.ReasonLocalRole, Role: "doc.viewer", Via: ctStaff, On: ctFolder1},
				{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: ctDoc1},
			},
		},
		{
			name:  "type grant, global grant and rule", // contract 4c, 4d
			setup: []ctStep{ctGrantPerm(ctU1, "doc.delete", ctDocType), ctGrantPerm(ctU1, "doc.delete", ctGlobal)},
			perm:  "doc.delete", obj: &ctDoc{ref: ctDoc1, owner: "u1"},
			want: []ctDecision{
				{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: ctGlobal},
				{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: ctDocType},
				{Allowed: true, Reason: iam.ReasonRule},
			},
		},
		{
			name:  "two global roles that both grant it", // contract 4a
			setup: []ctStep{ctProfile(ctU1, "doc.editor"), ctProfile(ctU1, "doc.viewer")},
			perm:  "doc.view", obj: ctD("1"),
			want: []ctDecision{
				{Allowed: true, Reason: iam.ReasonGlobalRole, Role: "doc.editor", Via: ctU1, On: ctGlobal},
				{Allowed: true, Reason: iam.ReasonGlobalRole, Role: "doc.viewer", Via: ctU1, On: ctGlobal},
			},
		},
		{
			name: "two local roles of one holder on one object, and of its group", // contract 4b
			setup: []ctStep{
				ctGrantRole(ctU1, "doc.editor", ctDoc1), ctGrantRole(ctU1, "doc.viewer", ctDoc1),
				ctMember("u1", "staff"), ctGrantRole(ctStaff, "doc.editor", ctDoc1), ctGrantRole(ctStaff, "doc.viewer", ctDoc1),
			},
			perm: "doc.view", obj: ctD("1"),
			want: []ctDecision{
				{Allowed: true, Reason: iam.ReasonLocalRole, Role: "doc.editor", Via: ctU1, On: ctDoc1},
				{Allowed: true, Reason: iam.ReasonLocalRole, Role: "doc.viewer", Via: ctU1, On: ctDoc1},
				{Allowed: true, Reason: iam.ReasonLocalRole, Role: "doc.editor", Via: ctStaff, On: ctDoc1},
				{Allowed: true, Reason: iam.ReasonLocalRole, Role: "doc.viewer", Via: ctStaff, On: ctDoc1},
			},
		},
		{
			name:  "denied: no grounds", // contract 4
			setup: []ctStep{ctProfile(ctU1, "doc.viewer")},
			perm:  "doc.edit", obj: ctD("1"),
			want: nil,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, s, _ := ctNew(t)
			ctApply(t, s, tc.setup)
			u := &ctUser{id: "u1"}
			exp, err := c.Explain(ctx, u, tc.perm, tc.obj)
			require.NoError(t, err)
			var got []ctDecision
			for _, g := range exp.Grounds {
				got = append(got, ctView(g))
			}
			if diff := cmp.Diff(tc.want, got, byReason, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("grounds (-want +got):\n%s\n%v", diff, exp)
			}
			d, err := c.Check(ctx, u, tc.perm, tc.obj)
			require.NoError(t, err)
			if diff := cmp.Diff(ctView(d), ctView(exp.Decision)); diff != "" {
				t.Fatalf("Explain.Decision differs from Check (-check +explain):\n%s", diff)
			}
			require.Equal(t, len(tc.want) > 0, exp.Decision.Allowed)
			if len(tc.want) > 0 {
				require.Empty(t, cmp.Diff(ctView(exp.Grounds[0]), ctView(exp.Decision)), "the decision is the first ground")
			}
		})
	}
}

// ctClock is a settable clock for Options.Now.
type ctClock struct{ ns atomic.Int64 }

func (c *ctClock) Now() time.Time  { return time.Unix(0, c.ns.Load()) }
func (c *ctClock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

func TestContract4_ProfileLifecycle(t *testing.T) {
	// contract 4: a global role is held iff the store holds a profile that is
	// Active and not expired; deactivating removes every permission from the
	// role at once.
	ctx := context.Background()
	u := &ctUser{id: "u1"}
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

	t.Run("expires between two checks without a store write", func(t *testing.T) {
		clock := &ctClock{}
		clock.Set(t0)
		c, s, _ := ctNew(t, iam.Options{Now: clock.Now})
		ctApply(t, s, []ctStep{ctPut(iam.Profile{Holder: ctU1, Role: "doc.editor", Active: true, ExpiresAt: t0.Add(time.Hour)})})
		obj := ctD("1")
		for _, perm := range []string{"doc.edit", "doc.view", "doc.special"} {
			require.True(t, c.HasPerm(ctx, u, perm, obj), "%s before expiry", perm)
		}
		clock.Set(t0.Add(59 * time.Minute))
		require.True(t, c.HasPerm(ctx, u, "doc.edit", obj), "a minute before expiry")
		clock.Set(t0.Add(time.Hour))
		for _, perm := range []string{"doc.edit", "doc.view", "doc.special"} {
			d, err := c.Check(ctx, u, perm, obj)
			require.NoError(t, err)
			ctRequireDecision(t, ctDenied, d)
		}
		clock.Set(t0.Add(2 * time.Hour))
		require.False(t, c.HasPerm(ctx, u, "doc.view", nil), "model level after expiry")
	})

	t.Run("group profile expires between two checks", func(t *testing.T) {
		clock := &ctClock{}
		clock.Set(t0)
		c, s, _ := ctNew(t, iam.Options{Now: clock.Now})
		ctApply(t, s, []ctStep{
			ctMember("u1", "staff"),
			ctPut(iam.Profile{Holder: ctStaff, Role: "doc.viewer", Active: true, ExpiresAt: t0.Add(time.Minute)}),
		})
		d, err := c.Check(ctx, u, "doc.view", nil)
		require.NoError(t, err)
		ctRequireDecision(t, ctAllowGlobal("doc.viewer", ctStaff), d)
		clock.Set(t0.Add(time.Minute + time.Nanosecond))
		require.False(t, c.HasPerm(ctx, u, "doc.view", nil))
	})

	t.Run("the earliest of several expiries counts", func(t *testing.T) {
		clock := &ctClock{}
		clock.Set(t0)
		c, s, _ := ctNew(t, iam.Options{Now: clock.Now})
		ctApply(t, s, []ctStep{
			ctPut(iam.Profile{Holder: ctU1, Role: "doc.viewer", Active: true, ExpiresAt: t0.Add(2 * time.Hour)}),
			ctPut(iam.Profile{Holder: ctU1, Role: "doc.editor", Active: true, ExpiresAt: t0.Add(time.Hour)}),
		})
		require.True(t, c.HasPerm(ctx, u, "doc.edit", nil))
		clock.Set(t0.Add(90 * time.Minute))
		require.False(t, c.HasPerm(ctx, u, "doc.edit", nil), "editor expired")
		require.True(t, c.HasPerm(ctx, u, "doc.view", nil), "viewer still live")
		clock.Set(t0.Add(3 * time.Hour))
		require.False(t, c.HasPerm(ctx, u, "doc.view", nil), "viewer expired")
	})

	t.Run("clock set back before the expiry holds the role again", func(t *testing.T) {
		// Held iff not expired *at the checker's clock*: a wall clock that
		// steps back (NTP, VM resume) must not leave an expired decision
		// cached for the profile.
		clock := &ctClock{}
		clock.Set(t0)
		c, s, _ := ctNew(t, iam.Options{Now: clock.Now})
		ctApply(t, s, []ctStep{ctPut(iam.Profile{Holder: ctU1, Role: "doc.viewer", Active: true, ExpiresAt: t0.Add(time.Hour)})})
		require.True(t, c.HasPerm(ctx, u, "doc.view", nil))
		clock.Set(t0.Add(2 * time.Hour))
		require.False(t, c.HasPerm(ctx, u, "doc.view", nil))
		clock.Set(t0)
		require.True(t, c.HasPerm(ctx, u, "doc.view", nil), "not expired at the checker's clock")
	})

	t.Run("SetProfileActive(false) removes every permission of the role at once", func(t *testing.T) {
		c, s, _ := ctNew(t)
		ctApply(t, s, []ctStep{ctProfile(ctU1, "doc.editor")})
		obj := ctD("1")
		for _, perm := range []string{"doc.edit", "doc.view", "doc.special"} {
			require.True(t, c.HasPerm(ctx, u, perm, obj), perm)
			require.True(t, c.HasPerm(ctx, u, perm, nil), perm)
		}
		require.NoError(t, s.SetProfileActive(ctx, ctU1, "doc.editor", false))
		for _, perm := range []string{"doc.edit", "doc.view", "doc.special"} {
			require.False(t, c.HasPerm(ctx, u, perm, obj), "%s after deactivation", perm)
			require.False(t, c.HasPerm(ctx, u, perm, nil), "%s after deactivation, model level", perm)
		}
		require.NoError(t, s.SetProfileActive(ctx, ctU1, "doc.editor", true))
		require.True(t, c.HasPerm(ctx, u, "doc.view", obj), "reactivated")
	})

	t.Run("deactivating a group profile removes it from members at once", func(t *testing.T) {
		c, s, _ := ctNew(t)
		ctApply(t, s, []ctStep{ctProfile(ctStaff, "doc.editor"), ctMember("u1", "staff"), ctMember("u2", "staff")})
		u2 := &ctUser{id: "u2"}
		require.True(t, c.HasPerm(ctx, u, "doc.edit", nil))
		require.True(t, c.HasPerm(ctx, u2, "doc.view", nil))
		require.NoError(t, s.SetProfileActive(ctx, ctStaff, "doc.editor", false))
		require.False(t, c.HasPerm(ctx, u, "doc.edit", nil))
		require.False(t, c.HasPerm(ctx, u2, "doc.view", nil))
	})

	t.Run("SetProfileActive on a missing profile is ErrNotFound", func(t *testing.T) {
		_, s, _ := ctNew(t)
		require.ErrorIs(t, s.SetProfileActive(ctx, ctU1, "doc.editor", true), iam.ErrNotFound)
	})
}

func TestContract4b_ParentCycles(t *testing.T) {
	// contract 4b: ancestry is followed transitively; cycles and diamonds
	// terminate.
	a := iam.Ref{Type: "folder", ID: "a"}
	b := iam.Ref{Type: "folder", ID: "b"}
	rows := []ctRow{
		{name: "4b/cycle a->b->a, nothing granted", perm: "doc.view", obj: ctD("1", a),
			setup: []ctStep{ctParents(a, b), ctParents(b, a)}, want: ctDenied},
		{name: "4b/cycle a->b->a, granted on b", perm: "doc.view", obj: ctD("1", a),
			setup: []ctStep{ctParents(a, b), ctParents(b, a), ctGrantRole(ctU1, "doc.viewer", b)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonLocalRole, Role: "doc.viewer", Via: ctU1, On: b}},
		{name: "4b/cycle through the object itself", perm: "doc.comment", obj: ctDoc1,
			setup: []ctStep{ctParents(ctDoc1, a), ctParents(a, ctDoc1)}, want: ctDenied},
		{name: "4b/object listing itself as parent", perm: "doc.comment", obj: ctD("1", ctDoc1), want: ctDenied},
		{name: "4b/cycle among store parents, grant on the object", perm: "doc.comment", obj: ctD("1", a),
			setup: []ctStep{ctParents(a, b), ctParents(b, a), ctGrantPerm(ctU1, "doc.comment", ctDoc1)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: ctDoc1}},
		{name: "4b/diamond: two parents sharing a root", perm: "doc.comment", obj: ctD("1", a, b),
			setup: []ctStep{ctParents(a, ctRoot), ctParents(b, ctRoot), ctGrantPerm(ctU1, "doc.comment", ctRoot)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: ctRoot}},
	}
	ctRun(t, rows)
}

func TestContract4b_AncestryDepth(t *testing.T) {
	// contract 4b: ancestry is depth-capped (DefaultMaxDepth levels); a
	// deeper ancestry is a denial with ErrTooDeep unless something within the
	// cap (or not on the chain) grants the permission.
	ctx := context.Background()
	folder := func(i int) iam.Ref { return iam.Ref{Type: "folder", ID: fmt.Sprint(i)} }
	// doc:1 -> folder:1 -> folder:2 -> ... -> folder:40; folder:k is at depth k.
	chain := func(t *testing.T, s *iam.MemoryStore) {
		require.NoError(t, s.SetParents(ctx, ctDoc1, []iam.Ref{folder(1)}))
		for i := 1; i < 40; i++ {
			require.NoError(t, s.SetParents(ctx, folder(i), []iam.Ref{folder(i + 1)}))
		}
	}
	const defaultMaxDepth = 25 // Options.MaxDepth's documented default
	cases := []struct {
		name    string
		opts    iam.Options
		setup   []ctStep
		perm    string
		obj     iam.Object
		want    ctDecision
		tooDeep bool
	}{
		{name: "grant close by allows", perm: "doc.comment", obj: ctDoc1,
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", folder(3))},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: folder(3)}},
		{name: "local role at the cap allows", perm: "doc.view", obj: ctDoc1,
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", folder(defaultMaxDepth))},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonLocalRole, Role: "doc.viewer", Via: ctU1, On: folder(defaultMaxDepth)}},
		{name: "grant just beyond the cap is too deep", perm: "doc.comment", obj: ctDoc1,
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", folder(defaultMaxDepth+1))},
			want:  ctDecision{Reason: iam.ReasonError}, tooDeep: true},
		{name: "grant far beyond the cap is too deep", perm: "doc.comment", obj: ctDoc1,
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", folder(40))},
			want:  ctDecision{Reason: iam.ReasonError}, tooDeep: true},
		{name: "nothing granted is too deep, not a plain no", perm: "doc.comment", obj: ctDoc1,
			want: ctDecision{Reason: iam.ReasonError}, tooDeep: true},
		{name: "first level from Parents() counts too", perm: "doc.comment", obj: ctD("x", folder(1)),
			want: ctDecision{Reason: iam.ReasonError}, tooDeep: true},
		{name: "global role decides despite the depth", perm: "doc.view", obj: ctDoc1,
			setup: []ctStep{ctProfile(ctU1, "doc.viewer")},
			want:  ctAllowGlobal("doc.viewer", ctU1)},
		{name: "type grant decides despite the depth", perm: "doc.comment", obj: ctDoc1,
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", ctDocType)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: ctDocType}},
		{name: "rule decides despite the depth", perm: "doc.list", obj: ctDoc1, want: ctByRule},
		{name: "MaxDepth option: within", opts: iam.Options{MaxDepth: 3}, perm: "doc.comment", obj: ctDoc1,
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", folder(3))},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: folder(3)}},
		{name: "MaxDepth option: beyond", opts: iam.Options{MaxDepth: 3}, perm: "doc.comment", obj: ctDoc1,
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", folder(4))},
			want:  ctDecision{Reason: iam.ReasonError}, tooDeep: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { // contract 4b
			c, s, _ := ctNew(t, tc.opts)
			chain(t, s)
			ctApply(t, s, tc.setup)
			d, err := c.Check(ctx, &ctUser{id: "u1"}, tc.perm, tc.obj)
			if tc.tooDeep {
				require.ErrorIs(t, err, iam.ErrTooDeep)
			} else {
				require.NoError(t, err)
			}
			ctRequireDecision(t, tc.want, d)
		})
	}
}

// ---------------------------------------------------------------------------
// contract 5

func TestContract5_ModelLevelChecks(t *testing.T) {
	// contract 5: with obj == nil only global roles, global and type-level
	// grants (types from the permission's declaration) and rules count.
	img := iam.TypeScope("img")
	rows := []ctRow{
		{name: "5/global role (profile)", perm: "doc.view",
			setup: []ctStep{ctProfile(ctU1, "doc.editor")}, want: ctAllowGlobal("doc.editor", ctU1)},
		{name: "5/global role of a group", perm: "doc.view",
			setup: []ctStep{ctProfile(ctStaff, "doc.viewer"), ctMember("u1", "staff")}, want: ctAllowGlobal("doc.viewer", ctStaff)},
		{name: "5/role granted globally", perm: "doc.view",
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctGlobal)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGlobalRole, Role: "doc.viewer", Via: ctU1, On: ctGlobal}},
		{name: "5/permission granted globally", perm: "doc.comment",
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", ctGlobal)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: ctGlobal}},
		{name: "5/typed permission granted on a declared type", perm: "doc.publish",
			setup: []ctStep{ctGrantPerm(ctU1, "doc.publish", ctDocType)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: ctDocType}},
		{name: "5/typed permission granted to a group on the other declared type", perm: "doc.publish",
			setup: []ctStep{ctMember("u1", "staff"), ctGrantPerm(ctStaff, "doc.publish", ctPageTyp)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctStaff, On: ctPageTyp}},
		{name: "5/role granted on a declared type", perm: "doc.publish",
			setup: []ctStep{ctGrantRole(ctU1, "doc.publisher", ctDocType)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGlobalRole, Role: "doc.publisher", Via: ctU1, On: ctDocType}},
		{name: "5/typed permission granted on an undeclared type (written around the checker)", perm: "doc.publish",
			setup: []ctStep{ctGrantPerm(ctU1, "doc.publish", img)}, want: ctDenied},
		{name: "5/untyped permission: a type-level grant has no type to match", perm: "doc.comment",
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", ctDocType)}, want: ctDenied},
		{name: "5/object grant does not count", perm: "doc.comment",
			setup: []ctStep{ctGrantPerm(ctU1, "doc.comment", ctDoc1)}, want: ctDenied},
		{name: "5/object grant of a typed permission does not count", perm: "doc.publish",
			setup: []ctStep{ctGrantPerm(ctU1, "doc.publish", ctDoc1)}, want: ctDenied},
		{name: "5/group object grant does not count", perm: "doc.comment",
			setup: []ctStep{ctMember("u1", "staff"), ctGrantPerm(ctStaff, "doc.comment", ctDoc1)}, want: ctDenied},
		{name: "5/local role on an object does not count", perm: "doc.view",
			setup: []ctStep{ctGrantRole(ctU1, "doc.editor", ctDoc1)}, want: ctDenied},
		{name: "5/rule counts", perm: "doc.list", want: ctByRule},
		{name: "5/rule sees the zero object (no error)", perm: "doc.delete", want: ctDenied},
	}
	for i := range rows {
		rows[i].obj = nil
	}
	ctRun(t, rows)
}

// ---------------------------------------------------------------------------
// contract 6

func TestContract6_AnonymousSubjects(t *testing.T) {
	ctx := context.Background()
	t.Run("store rejects empty principal IDs", func(t *testing.T) { // contract 6
		c, s, _ := ctNew(t)
		for name, err := range map[string]error{
			"Grant User(\"\")":              s.Grant(ctx, iam.Grant{Holder: iam.User(""), Perm: "doc.comment", On: ctDoc1}),
			"Grant role User(\"\")":         s.Grant(ctx, iam.Grant{Holder: iam.User(""), Role: "doc.viewer", On: ctGlobal}),
			"Grant Group(\"\")":             s.Grant(ctx, iam.Grant{Holder: iam.Group(""), Perm: "doc.comment", On: ctGlobal}),
			"PutProfile User(\"\")":         s.PutProfile(ctx, iam.Profile{Holder: iam.User(""), Role: "doc.viewer", Active: true}),
			"PutProfile Group(\"\")":        s.PutProfile(ctx, iam.Profile{Holder: iam.Group(""), Role: "doc.viewer", Active: true}),
			"AddMember(\"\", staff)":        s.AddMember(ctx, "", "staff"),
			"AddMember(u1, \"\")":           s.AddMember(ctx, "u1", ""),
			"checker.Grant User(\"\")":      c.Grant(ctx, iam.Grant{Holder: iam.User(""), Perm: "doc.comment", On: ctDoc1}),
			"checker.PutProfile User(\"\")": c.AssignRole(ctx, iam.Profile{Holder: iam.User(""), Role: "doc.viewer", Active: true}),
		} {
			require.ErrorIs(t, err, iam.ErrInvalid, name)
		}
		require.Equal(t, iam.MemoryCounts{}, iam.CountMemory(s), "nothing was stored")
	})

	// Everything the anonymous subject's app groups could hold.
	public := []ctStep{
		ctProfile(ctPublic, "doc.editor"),
		ctGrantPerm(ctPublic, "doc.comment", ctDoc1),
		ctGrantPerm(ctPublic, "doc.comment", ctDocType),
		ctGrantPerm(ctPublic, "doc.comment", ctGlobal),
		ctGrantRole(ctPublic, "doc.viewer", ctDoc1),
		ctGrantRole(ctPublic, "doc.publisher", ctGlobal),
	}
	anon := &ctUser{groups: []string{"public"}}
	var rows []ctRow
	for _, perm := range []string{"doc.view", "doc.edit", "doc.comment", "doc.publish", "doc.special"} {
		for _, obj := range []iam.Object{nil, ctD("1")} {
			rows = append(rows, ctRow{ // contract 6: no stored roles or grants
				name: fmt.Sprintf("6/anonymous holds nothing stored: %s obj=%v", perm, obj != nil),
				subj: anon, perm: perm, obj: obj, setup: public, want: ctDenied,
			})
		}
	}
	rows = append(rows,
		ctRow{name: "6/rule Always allows anonymous", subj: anon, perm: "doc.list", obj: ctD("1"), setup: public, want: ctByRule},
		ctRow{name: "6/rule Always allows anonymous at model level", subj: ctPlain(""), perm: "doc.list", want: ctByRule},
		ctRow{name: "6/rule Not(IsAuthenticated) allows anonymous", subj: ctPlain(""), perm: "site.signup", want: ctByRule},
		ctRow{name: "6/rule Not(IsAuthenticated) denies a user", subj: ctPlain("u1"), perm: "site.signup", want: ctDenied},
		ctRow{name: "6/control: a member of public is granted", subj: &ctUser{id: "u9", groups: []string{"public"}},
			perm: "doc.comment", obj: ctD("1"), setup: public,
			want: ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctPublic, On: ctDoc1}},
	)
	ctRun(t, rows)
}

// ---------------------------------------------------------------------------
// contract 7

func TestContract7_TypedPermissions(t *testing.T) {
	ctx := context.Background()
	u := &ctUser{id: "u1"}
	img1 := iam.Ref{Type: "img", ID: "1"}

	t.Run("checking another type is a denial with ErrWrongType", func(t *testing.T) { // contract 7
		c, s, _ := ctNew(t)
		// Written around the checker, so the store does hold them.
		ctApply(t, s, []ctStep{
			ctGrantPerm(ctU1, "doc.publish", img1),
			ctGrantPerm(ctU1, "doc.publish", iam.TypeScope("img")),
			ctGrantPerm(ctU1, "doc.publish", ctGlobal),
			ctProfile(ctU1, "doc.publisher"),
		})
		for _, sc := range []struct {
			name string
			s    iam.Subject
		}{{"user", u}, {"superuser", &ctUser{id: "root", super: true}}} {
			for _, obj := range []iam.Object{img1, &ctDoc{ref: img1}} {
				d, err := c.Check(ctx, sc.s, "doc.publish", obj)
				require.ErrorIs(t, err, iam.ErrWrongType, sc.name)
				ctRequireDecision(t, ctDecision{Reason: iam.ReasonError}, d)
				require.False(t, c.HasPerm(ctx, sc.s, "doc.publish", obj))
			}
		}
		// The declared types are fine.
		for _, obj := range []iam.Object{ctD("1"), iam.Ref{Type: "page", ID: "1"}} {
			d, err := c.Check(ctx, u, "doc.publish", obj)
			require.NoError(t, err)
			require.True(t, d.Allowed)
		}
		// An untyped permission can be checked on any type.
		_, err := c.Check(ctx, u, "doc.view", img1)
		require.NoError(t, err)
	})

	t.Run("checker.Grant on another type is ErrWrongType and stores nothing", func(t *testing.T) { // contract 7
		c, s, _ := ctNew(t)
		for _, on := range []iam.Ref{img1, iam.TypeScope("img"), {Type: "folder", ID: "1"}} {
			err := c.Grant(ctx, iam.Grant{Holder: ctU1, Perm: "doc.publish", On: on})
			require.ErrorIs(t, err, iam.ErrWrongType, on.String())
			err = c.Grant(ctx, iam.Grant{Holder: ctStaff, Perm: "doc.publish", On: on})
			require.ErrorIs(t, err, iam.ErrWrongType, on.String())
			gs, err := s.Grants(ctx, on)
			require.NoError(t, err)
			require.Zero(t, gs.Len(), "nothing stored on %s", on)
		}
		require.Equal(t, iam.MemoryCounts{}, iam.CountMemory(s))
	})

	t.Run("checker.Grant on a declared type succeeds and then allows", func(t *testing.T) { // contract 7, 4c, 15
		c, _, _ := ctNew(t)
		obj := ctD("1")
		require.False(t, c.HasPerm(ctx, u, "doc.publish", obj))
		require.NoError(t, c.Grant(ctx, iam.Grant{Holder: ctU1, Perm: "doc.publish", On: ctDoc1}))
		d, err := c.Check(ctx, u, "doc.publish", obj)
		require.NoError(t, err)
		ctRequireDecision(t, ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: ctDoc1}, d)

		page := iam.Ref{Type: "page", ID: "7"}
		require.False(t, c.HasPerm(ctx, u, "doc.publish", page))
		require.NoError(t, c.Grant(ctx, iam.Grant{Holder: ctU1, Perm: "doc.publish", On: ctPageTyp}))
		d, err = c.Check(ctx, u, "doc.publish", page)
		require.NoError(t, err)
		ctRequireDecision(t, ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctU1, On: ctPageTyp}, d)
	})

	t.Run("a global grant of a typed permission covers only the declared types", func(t *testing.T) { // contract 7
		c, _, _ := ctNew(t)
		require.NoError(t, c.Grant(ctx, iam.Grant{Holder: ctU1, Perm: "doc.publish", On: ctGlobal}))
		require.True(t, c.HasPerm(ctx, u, "doc.publish", ctD("2")))
		_, err := c.Check(ctx, u, "doc.publish", img1)
		require.ErrorIs(t, err, iam.ErrWrongType)
	})

	t.Run("checker.Grant of an unknown permission or role", func(t *testing.T) { // contract 1, 7
		c, s, _ := ctNew(t)
		require.ErrorIs(t, c.Grant(ctx, iam.Grant{Holder: ctU1, Perm: "doc.veiw", On: ctDoc1}), iam.ErrUnknownPermission)
		require.ErrorIs(t, c.Grant(ctx, iam.Grant{Holder: ctU1, Role: "doc.ghost", On: ctDoc1}), iam.ErrInvalid)
		require.Equal(t, iam.MemoryCounts{}, iam.CountMemory(s))
	})
}

// ---------------------------------------------------------------------------
// contract 14 / 14b

func TestContract14_SubjectGroupsAddToMemberships(t *testing.T) {
	// contract 14: a subject's groups are its stored memberships plus
	// SubjectGroups(); both count for global roles and grants (4a-4c).
	u := &ctUser{id: "u1", groups: []string{"ext"}}
	rows := []ctRow{
		{name: "14/global role of an app group", subj: u, perm: "doc.view", obj: ctD("1"),
			setup: []ctStep{ctProfile(ctExt, "doc.viewer")}, want: ctAllowGlobal("doc.viewer", ctExt)},
		{name: "14/direct grant to an app group", subj: u, perm: "doc.comment", obj: ctD("1"),
			setup: []ctStep{ctGrantPerm(ctExt, "doc.comment", ctDoc1)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctExt, On: ctDoc1}},
		{name: "14/local role of an app group on a parent", subj: u, perm: "doc.view", obj: ctD("1", ctFolder1),
			setup: []ctStep{ctGrantRole(ctExt, "doc.editor", ctFolder1)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonLocalRole, Role: "doc.editor", Via: ctExt, On: ctFolder1}},
		{name: "14/stored membership still counts next to app groups", subj: u, perm: "doc.comment", obj: ctD("1"),
			setup: []ctStep{ctMember("u1", "staff"), ctGrantPerm(ctStaff, "doc.comment", ctDocType)},
			want:  ctDecision{Allowed: true, Reason: iam.ReasonGrant, Via: ctStaff, On: ctDocType}},
		{name: "14/stored group profile next to app groups", subj: u, perm: "doc.edit", obj: nil,
			setup: []ctStep{ctMember("u1", "staff"), ctProfile(ctStaff, "doc.editor"), ctProfile(ctExt, "doc.viewer")},
			want:  ctAllowGlobal("doc.editor", ctStaff)},
		{name: "14/app groups of another subject do not leak", subj: &ctUser{id: "u1"}, perm: "doc.view", obj: nil,
			setup: []ctStep{ctProfile(ctExt, "doc.viewer")}, want: ctDenied},
	}
	ctRun(t, rows)
}

func TestContract14b_HasRole(t *testing.T) {
	// contract 14b: HasRole(r) is true when the subject holds r, or a role
	// that Includes it, globally (unless the object refuses global roles) or
	// locally on the object or an ancestor, directly or through a group.
	// The rule for doc.special is HasRole(doc.viewer); nothing else grants it.
	yes, no := ctByRule, ctDenied
	withExt := &ctUser{id: "u1", groups: []string{"ext"}}
	rows := []ctRow{
		{name: "14b/no role", perm: "doc.special", obj: ctD("1"), want: no},
		{name: "14b/global profile", perm: "doc.special", obj: ctD("1"), setup: []ctStep{ctProfile(ctU1, "doc.viewer")}, want: yes},
		{name: "14b/global profile of an including role", perm: "doc.special", obj: ctD("1"), setup: []ctStep{ctProfile(ctU1, "doc.editor")}, want: yes},
		{name: "14b/unrelated role", perm: "doc.special", obj: ctD("1"), setup: []ctStep{ctProfile(ctU1, "doc.publisher")}, want: no},
		{name: "14b/group profile, stored membership", perm: "doc.special", obj: ctD("1"),
			setup: []ctStep{ctProfile(ctStaff, "doc.editor"), ctMember("u1", "staff")}, want: yes},
		{name: "14b/group profile, SubjectGroups", subj: withExt, perm: "doc.special", obj: ctD("1"),
			setup: []ctStep{ctProfile(ctExt, "doc.viewer")}, want: yes},
		{name: "14b/inactive profile", perm: "doc.special", obj: ctD("1"),
			setup: []ctStep{ctPut(iam.Profile{Holder: ctU1, Role: "doc.viewer"})}, want: no},
		{name: "14b/expired profile", perm: "doc.special", obj: ctD("1"),
			setup: []ctStep{ctPut(iam.Profile{Holder: ctU1, Role: "doc.viewer", Active: true, ExpiresAt: time.Now().Add(-time.Second)})}, want: no},
		{name: "14b/local role on the object", perm: "doc.special", obj: ctD("1"),
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctDoc1)}, want: yes},
		{name: "14b/local including role on a parent", perm: "doc.special", obj: ctD("1", ctFolder1),
			setup: []ctStep{ctGrantRole(ctU1, "doc.editor", ctFolder1)}, want: yes},
		{name: "14b/local role on a grandparent in the store, through a group", perm: "doc.special", obj: ctD("1", ctFolder1),
			setup: []ctStep{ctParents(ctFolder1, ctRoot), ctMember("u1", "staff"), ctGrantRole(ctStaff, "doc.viewer", ctRoot)}, want: yes},
		{name: "14b/local role of an app group on the object", subj: withExt, perm: "doc.special", obj: ctD("1"),
			setup: []ctStep{ctGrantRole(ctExt, "doc.viewer", ctDoc1)}, want: yes},
		{name: "14b/local role on another object", perm: "doc.special", obj: ctD("1"),
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctDoc2)}, want: no},
		{name: "14b/role granted on the type", perm: "doc.special", obj: ctD("1"),
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctDocType)}, want: yes},
		{name: "14b/role granted globally", perm: "doc.special", obj: ctD("1"),
			setup: []ctStep{ctGrantRole(ctU1, "doc.editor", ctGlobal)}, want: yes},
		{name: "14b/refusing object: global profile does not count", perm: "doc.special", obj: ctRefusing("1"),
			setup: []ctStep{ctProfile(ctU1, "doc.viewer")}, want: no},
		{name: "14b/refusing object: group profile does not count", perm: "doc.special", obj: ctRefusing("1"),
			setup: []ctStep{ctProfile(ctStaff, "doc.viewer"), ctMember("u1", "staff")}, want: no},
		{name: "14b/refusing object: role on the type does not count", perm: "doc.special", obj: ctRefusing("1"),
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctDocType)}, want: no},
		{name: "14b/refusing object: global role grant does not count", perm: "doc.special", obj: ctRefusing("1"),
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctGlobal)}, want: no},
		{name: "14b/refusing object: local role on the object counts", perm: "doc.special", obj: ctRefusing("1"),
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctDoc1)}, want: yes},
		{name: "14b/refusing object: local role on a parent counts", perm: "doc.special", obj: ctRefusing("1", ctFolder1),
			setup: []ctStep{ctGrantRole(ctU1, "doc.editor", ctFolder1)}, want: yes},
		{name: "14b/model level: global profile", perm: "doc.special", obj: nil,
			setup: []ctStep{ctProfile(ctU1, "doc.viewer")}, want: yes},
		{name: "14b/model level: local role on an object does not count", perm: "doc.special", obj: nil,
			setup: []ctStep{ctGrantRole(ctU1, "doc.viewer", ctDoc1)}, want: no},
		{name: "14b/anonymous with a group holding the role", subj: &ctUser{groups: []string{"ext"}}, perm: "doc.special", obj: ctD("1"),
			setup: []ctStep{ctProfile(ctExt, "doc.viewer"), ctGrantRole(ctExt, "doc.viewer", ctDoc1)}, want: no},
	}
	ctRun(t, rows)
}

// ---------------------------------------------------------------------------
// cancelled context (contract 17, exercised on the memory store)

func TestContract17_CancelledContextDenies(t *testing.T) {
	c, s, _ := ctNew(t)
	ctApply(t, s, []ctStep{ctProfile(ctU1, "doc.editor"), ctGrantPerm(ctU1, "doc.comment", ctDoc1)})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	cases := []struct {
		name string
		ctx  context.Context
		want error
		subj iam.Subject
		perm string
		obj  iam.Object
	}{
		{"cancelled, global role", cancelled, context.Canceled, &ctUser{id: "u1"}, "doc.edit", nil},
		{"cancelled, object grant", cancelled, context.Canceled, &ctUser{id: "u1"}, "doc.comment", ctD("1")},
		{"cancelled, superuser", cancelled, context.Canceled, &ctUser{id: "root", super: true}, "doc.view", nil},
		{"cancelled, rule", cancelled, context.Canceled, ctPlain(""), "doc.list", nil},
		{"deadline exceeded", expired, context.DeadlineExceeded, &ctUser{id: "u1"}, "doc.edit", ctD("1")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { // contract 17
			d, err := c.Check(tc.ctx, tc.subj, tc.perm, tc.obj)
			require.ErrorIs(t, err, tc.want)
			require.False(t, d.Allowed)
			require.Equal(t, iam.ReasonError, d.Reason)
			require.False(t, c.HasPerm(tc.ctx, tc.subj, tc.perm, tc.obj))
			_, err = c.Explain(tc.ctx, tc.subj, tc.perm, tc.obj)
			require.ErrorIs(t, err, tc.want)
			// control: the same check with a live context is allowed
			require.True(t, c.HasPerm(context.Background(), tc.subj, tc.perm, tc.obj))
		})
	}
}

// ---------------------------------------------------------------------------
// contract 15

func TestContract15_WritesVisibleToTheNextCheck(t *testing.T) {
	// contract 15: after a write returns without error, the very next check
	// sees it, both ways (no stale allow after a revoke or deactivation).
	// Each row warms the checker with a check before the write.
	type row struct {
		name          string
		setup         []ctStep
		perm          string
		obj           iam.Object
		write         func(ctx context.Context, s *iam.MemoryStore) error
		before, after bool
	}
	u1 := ctU1
	rows := []row{
		{name: "PutProfile grants", perm: "doc.view", obj: ctD("1"), before: false, after: true,
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.PutProfile(ctx, iam.Profile{Holder: u1, Role: "doc.editor", Active: true})
			}},
		{name: "PutProfile replacing with an inactive profile revokes", perm: "doc.view", obj: ctD("1"), before: true, after: false,
			setup: []ctStep{ctProfile(u1, "doc.viewer")},
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.PutProfile(ctx, iam.Profile{Holder: u1, Role: "doc.viewer", Active: false})
			}},
		{name: "PutProfile replacing with an expired profile revokes", perm: "doc.view", obj: nil, before: true, after: false,
			setup: []ctStep{ctProfile(u1, "doc.viewer")},
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.PutProfile(ctx, iam.Profile{Holder: u1, Role: "doc.viewer", Active: true, ExpiresAt: time.Now().Add(-time.Second)})
			}},
		{name: "SetProfileActive(false) revokes", perm: "doc.edit", obj: ctD("1"), before: true, after: false,
			setup: []ctStep{ctProfile(u1, "doc.editor")},
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.SetProfileActive(ctx, u1, "doc.editor", false)
			}},
		{name: "SetProfileActive(false) revokes HasRole", perm: "doc.special", obj: ctD("1"), before: true, after: false,
			setup: []ctStep{ctProfile(u1, "doc.editor")},
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.SetProfileActive(ctx, u1, "doc.editor", false)
			}},
		{name: "SetProfileActive(true) grants", perm: "doc.edit", obj: nil, before: false, after: true,
			setup: []ctStep{ctPut(iam.Profile{Holder: u1, Role: "doc.editor"})},
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.SetProfileActive(ctx, u1, "doc.editor", true)
			}},
		{name: "SetProfileActive(false) on a group profile revokes", perm: "doc.view", obj: ctD("1"), before: true, after: false,
			setup: []ctStep{ctProfile(ctStaff, "doc.viewer"), ctMember("u1", "staff")},
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.SetProfileActive(ctx, ctStaff, "doc.viewer", false)
			}},
		{name: "DeleteProfile revokes", perm: "doc.view", obj: ctD("1"), before: true, after: false,
			setup: []ctStep{ctProfile(u1, "doc.viewer"), ctMember("u1", "staff")},
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.DeleteProfile(ctx, u1, "doc.viewer")
			}},
		{name: "DeleteProfile of a group profile revokes", perm: "doc.view", obj: nil, before: true, after: false,
			setup: []ctStep{ctProfile(ctStaff, "doc.viewer"), ctMember("u1", "staff")},
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.DeleteProfile(ctx, ctStaff, "doc.viewer")
			}},
		{name: "AddMember grants a group's global role", perm: "doc.view", obj: ctD("1"), before: false, after: true,
			setup: []ctStep{ctProfile(ctStaff, "doc.viewer")},
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.AddMember(ctx, "u1", "staff") }},
		{name: "AddMember grants a group's object grant", perm: "doc.comment", obj: ctD("1"), before: false, after: true,
			setup: []ctStep{ctGrantPerm(ctStaff, "doc.comment", ctDoc1), ctProfile(u1, "doc.viewer")},
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.AddMember(ctx, "u1", "staff") }},
		{name: "RemoveMember revokes a group's global role", perm: "doc.view", obj: ctD("1"), before: true, after: false,
			setup: []ctStep{ctProfile(ctStaff, "doc.viewer"), ctMember("u1", "staff"), ctMember("u1", "other")},
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.RemoveMember(ctx, "u1", "staff") }},
		{name: "RemoveMember revokes a group's local role", perm: "doc.view", obj: ctD("1", ctFolder1), before: true, after: false,
			setup: []ctStep{ctGrantRole(ctStaff, "doc.viewer", ctFolder1), ctMember("u1", "staff")},
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.RemoveMember(ctx, "u1", "staff") }},
		{name: "Grant of a permission grants", perm: "doc.comment", obj: ctD("1"), before: false, after: true,
			setup: []ctStep{ctGrantPerm(u1, "doc.view", ctDoc1)},
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Grant(ctx, iam.Grant{Holder: u1, Perm: "doc.comment", On: ctDoc1})
			}},
		{name: "Grant of a local role grants", perm: "doc.view", obj: ctD("1", ctFolder1), before: false, after: true,
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Grant(ctx, iam.Grant{Holder: u1, Role: "doc.editor", On: ctFolder1})
			}},
		{name: "Grant globally grants", perm: "doc.comment", obj: nil, before: false, after: true,
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Grant(ctx, iam.Grant{Holder: u1, Perm: "doc.comment", On: ctGlobal})
			}},
		{name: "Revoke of a permission revokes", perm: "doc.comment", obj: ctD("1"), before: true, after: false,
			setup: []ctStep{ctGrantPerm(u1, "doc.comment", ctDoc1), ctGrantPerm(u1, "doc.view", ctDoc1)},
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Revoke(ctx, iam.Grant{Holder: u1, Perm: "doc.comment", On: ctDoc1})
			}},
		{name: "Revoke of the only grant on a ref revokes", perm: "doc.comment", obj: ctD("1"), before: true, after: false,
			setup: []ctStep{ctGrantPerm(u1, "doc.comment", ctDoc1)},
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Revoke(ctx, iam.Grant{Holder: u1, Perm: "doc.comment", On: ctDoc1})
			}},
		{name: "Revoke of a local role revokes", perm: "doc.view", obj: ctD("1"), before: true, after: false,
			setup: []ctStep{ctGrantRole(u1, "doc.editor", ctDoc1)},
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Revoke(ctx, iam.Grant{Holder: u1, Role: "doc.editor", On: ctDoc1})
			}},
		{name: "Revoke of a group's type grant revokes", perm: "doc.comment", obj: ctD("1"), before: true, after: false,
			setup: []ctStep{ctMember("u1", "staff"), ctGrantPerm(ctStaff, "doc.comment", ctDocType)},
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Revoke(ctx, iam.Grant{Holder: ctStaff, Perm: "doc.comment", On: ctDocType})
			}},
		{name: "Revoke of a global role grant revokes", perm: "doc.view", obj: nil, before: true, after: false,
			setup: []ctStep{ctGrantRole(u1, "doc.viewer", ctGlobal)},
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Revoke(ctx, iam.Grant{Holder: u1, Role: "doc.viewer", On: ctGlobal})
			}},
		{name: "DeleteGrantsOn revokes everything on the object", perm: "doc.view", obj: ctD("1"), before: true, after: false,
			setup: []ctStep{ctGrantPerm(u1, "doc.view", ctDoc1), ctMember("u1", "staff"), ctGrantRole(ctStaff, "doc.viewer", ctDoc1)},
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.DeleteGrantsOn(ctx, ctDoc1) }},
		{name: "DeleteGrantsOn an ancestor revokes", perm: "doc.comment", obj: ctD("1", ctFolder1), before: true, after: false,
			setup: []ctStep{ctGrantPerm(u1, "doc.comment", ctFolder1)},
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.DeleteGrantsOn(ctx, ctFolder1) }},
		{name: "SetParents linking an ancestor grants", perm: "doc.comment", obj: ctDoc1, before: false, after: true,
			setup: []ctStep{ctGrantPerm(u1, "doc.comment", ctFolder1)},
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.SetParents(ctx, ctDoc1, []iam.Ref{ctFolder1})
			}},
		{name: "SetParents with none unlinks and revokes", perm: "doc.comment", obj: ctDoc1, before: true, after: false,
			setup: []ctStep{ctParents(ctDoc1, ctFolder1), ctGrantPerm(u1, "doc.comment", ctFolder1)},
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.SetParents(ctx, ctDoc1, nil) }},
		{name: "SetParents moving a folder revokes what the old root gave", perm: "doc.view", obj: ctD("1", ctFolder1), before: true, after: false,
			setup: []ctStep{ctParents(ctFolder1, ctRoot), ctGrantRole(u1, "doc.viewer", ctRoot)},
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.SetParents(ctx, ctFolder1, []iam.Ref{{Type: "folder", ID: "elsewhere"}})
			}},
		{name: "Transact revokes", perm: "doc.view", obj: ctD("1"), before: true, after: false,
			setup: []ctStep{ctProfile(u1, "doc.viewer"), ctGrantPerm(u1, "doc.view", ctDoc1)},
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
					if err := tx.DeleteProfile(ctx, u1, "doc.viewer"); err != nil {
						return err
					}
					return tx.Revoke(ctx, iam.Grant{Holder: u1, Perm: "doc.view", On: ctDoc1})
				})
			}},
	}
	ctx := context.Background()
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) { // contract 15
			c, s, _ := ctNew(t)
			ctApply(t, s, tc.setup)
			u := &ctUser{id: "u1"}
			// Warm the checker (and any compiled forms) before the write.
			for range 3 {
				require.Equal(t, tc.before, c.HasPerm(ctx, u, tc.perm, tc.obj), "before the write")
			}
			require.NoError(t, tc.write(ctx, s))
			d, err := c.Check(ctx, u, tc.perm, tc.obj)
			require.NoError(t, err)
			require.Equal(t, tc.after, d.Allowed, "the very next check after the write: %v", d)
			// A checker created after the write agrees.
			c2, err := iam.New(ctPolicy().policy, s)
			require.NoError(t, err)
			require.Equal(t, tc.after, c2.HasPerm(ctx, u, tc.perm, tc.obj))
		})
	}
}

func TestContract15_TransactIsAtomic(t *testing.T) {
	// contract 15, MemoryStore.Transact: several writes become visible at once
	// when fn returns nil, and none of them when it fails.
	ctx := context.Background()
	u1 := &ctUser{id: "u1"}
	u2 := &ctUser{id: "u2"}

	t.Run("all writes visible together after Transact returns", func(t *testing.T) {
		c, s, _ := ctNew(t)
		checks := func() []bool {
			return []bool{
				c.HasPerm(ctx, u1, "doc.edit", nil),                    // PutProfile
				c.HasPerm(ctx, u1, "doc.comment", ctDoc1),              // Grant
				c.HasPerm(ctx, u2, "doc.view", nil),                    // AddMember + group PutProfile
				c.HasPerm(ctx, u1, "doc.publish", ctD("1", ctFolder1)), // SetParents(folder1, root) + Grant on root
			}
		}
		require.Equal(t, []bool{false, false, false, false}, checks())
		var inside []bool
		err := s.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
			for _, err := range []error{
				tx.PutProfile(ctx, iam.Profile{Holder: ctU1, Role: "doc.editor", Active: true}),
				tx.Grant(ctx, iam.Grant{Holder: ctU1, Perm: "doc.comment", On: ctDoc1}),
				tx.AddMember(ctx, "u2", "staff"),
				tx.PutProfile(ctx, iam.Profile{Holder: ctStaff, Role: "doc.viewer", Active: true}),
				tx.(iam.ParentStore).SetParents(ctx, ctFolder1, []iam.Ref{ctRoot}),
				tx.Grant(ctx, iam.Grant{Holder: ctU1, Perm: "doc.publish", On: ctRoot}),
			} {
				if err != nil {
					return err
				}
			}
			inside = checks() // readers do not see a half-done transaction
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, []bool{false, false, false, false}, inside, "checks during the transaction")
		require.Equal(t, []bool{true, true, true, true}, checks(), "checks after Transact returned")
	})

	t.Run("a failing Transact changes nothing", func(t *testing.T) {
		c, s, _ := ctNew(t)
		ctApply(t, s, []ctStep{
			ctProfile(ctU1, "doc.viewer"),
			ctGrantPerm(ctU1, "doc.comment", ctDoc1),
			ctMember("u2", "staff"),
			ctProfile(ctStaff, "doc.viewer"),
		})
		state := func() []bool {
			return []bool{
				c.HasPerm(ctx, u1, "doc.view", nil),
				c.HasPerm(ctx, u1, "doc.comment", ctDoc1),
				c.HasPerm(ctx, u2, "doc.view", nil),
				c.HasPerm(ctx, u1, "doc.edit", nil),
				c.HasPerm(ctx, u1, "doc.publish", ctDoc1),
			}
		}
		want := []bool{true, true, true, false, false}
		require.Equal(t, want, state())
		statsBefore := iam.CountMemory(s)
		boom := errors.New("boom")
		err := s.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
			require.NoError(t, tx.DeleteProfile(ctx, ctU1, "doc.viewer"))
			require.NoError(t, tx.Revoke(ctx, iam.Grant{Holder: ctU1, Perm: "doc.comment", On: ctDoc1}))
			require.NoError(t, tx.RemoveMember(ctx, "u2", "staff"))
			require.NoError(t, tx.SetProfileActive(ctx, ctStaff, "doc.viewer", false))
			require.NoError(t, tx.PutProfile(ctx, iam.Profile{Holder: ctU1, Role: "doc.editor", Active: true}))
			require.NoError(t, tx.Grant(ctx, iam.Grant{Holder: ctU1, Perm: "doc.publish", On: ctDoc1}))
			require.NoError(t, tx.DeleteGrantsOn(ctx, ctDoc1))
			require.NoError(t, tx.(iam.ParentStore).SetParents(ctx, ctDoc1, []iam.Ref{ctFolder1}))
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.Equal(t, want, state(), "state after the failed Transact")
		require.Equal(t, statsBefore, iam.CountMemory(s))
		ps, err := s.Parents(ctx, ctDoc1)
		require.NoError(t, err)
		require.Empty(t, ps)
	})

	t.Run("an invalid write fails the whole Transact", func(t *testing.T) {
		c, s, _ := ctNew(t)
		err := s.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
			if err := tx.Grant(ctx, iam.Grant{Holder: ctU1, Perm: "doc.comment", On: ctDoc1}); err != nil {
				return err
			}
			return tx.Grant(ctx, iam.Grant{Holder: ctU1, Perm: "doc.comment", Role: "doc.viewer", On: ctDoc1}) // both Perm and Role
		})
		require.ErrorIs(t, err, iam.ErrInvalid)
		require.False(t, c.HasPerm(ctx, u1, "doc.comment", ctDoc1))
		require.Equal(t, iam.MemoryCounts{}, iam.CountMemory(s))
	})

	t.Run("Transact with a cancelled context does nothing", func(t *testing.T) {
		_, s, _ := ctNew(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		called := false
		err := s.Transact(cctx, func(ctx context.Context, tx iam.Store) error {
			called = true
			return tx.Grant(ctx, iam.Grant{Holder: ctU1, Perm: "doc.comment", On: ctDoc1})
		})
		require.ErrorIs(t, err, context.Canceled)
		require.False(t, called)
		require.Equal(t, iam.MemoryCounts{}, iam.CountMemory(s))
	})
}

func TestContract15_ConcurrentChecksDuringWrites(t *testing.T) {
	// contract 15 under -race: readers check while a writer grants, revokes,
	// deactivates and moves grants. Every check decides without error; a
	// permission moved between two holders on one object by a single Transact
	// is never seen as held by neither; once the writer is done every
	// checker sees the final state.
	ctx := context.Background()
	c, s, _ := ctNew(t)
	c2, err := iam.New(ctPolicy().policy, s)
	require.NoError(t, err)
	ctApply(t, s, []ctStep{
		ctMember("u1", "staff"),
		ctGrantPerm(ctU1, "doc.view", ctDoc1), // moved between u1 and staff below
	})
	u := &ctUser{id: "u1"}
	obj := ctD("1", ctFolder1)
	perms := []string{"doc.view", "doc.comment", "doc.edit", "doc.special", "doc.publish"}

	const readers = 6
	var (
		done     atomic.Bool
		checks   atomic.Int64
		errCount atomic.Int64
		viewGaps atomic.Int64
		wg       sync.WaitGroup
	)
	finals := make([]map[string]bool, readers)
	for r := range readers {
		chk := c
		if r%2 == 1 {
			chk = c2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				for _, perm := range perms {
					// doc.view after every other check: it must always hold.
					for _, p := range []string{perm, "doc.view"} {
						d, err := chk.Check(ctx, u, p, obj)
						checks.Add(1)
						if err != nil {
							errCount.Add(1)
						}
						if p == "doc.view" && !d.Allowed {
							viewGaps.Add(1)
						}
					}
				}
			}
			// The writer has returned from its last write: this must see it.
			final := map[string]bool{}
			for _, perm := range perms {
				final[perm] = chk.HasPerm(ctx, u, perm, obj)
			}
			finals[r] = final
		}()
	}

	var werr error
	note := func(err error) {
		if err != nil && werr == nil {
			werr = err
		}
	}
	const rounds = 500
	for i := range rounds {
		note(s.Grant(ctx, iam.Grant{Holder: ctU1, Perm: "doc.comment", On: ctDoc1}))
		note(s.PutProfile(ctx, iam.Profile{Holder: ctU1, Role: "doc.editor", Active: true}))
		note(s.Grant(ctx, iam.Grant{Holder: ctStaff, Perm: "doc.publish", On: ctFolder1}))
		// Move doc.view between u1 and staff in one atomic Transact.
		from, to := ctU1, ctStaff
		if i%2 == 1 {
			from, to = to, from
		}
		note(s.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
			if err := tx.Revoke(ctx, iam.Grant{Holder: from, Perm: "doc.view", On: ctDoc1}); err != nil {
				return err
			}
			return tx.Grant(ctx, iam.Grant{Holder: to, Perm: "doc.view", On: ctDoc1})
		}))
		note(s.Revoke(ctx, iam.Grant{Holder: ctU1, Perm: "doc.comment", On: ctDoc1}))
		note(s.SetProfileActive(ctx, ctU1, "doc.editor", false))
		note(s.DeleteGrantsOn(ctx, ctFolder1))
	}
	// Final state: doc.comment granted, editor deactivated, publish revoked.
	note(s.Grant(ctx, iam.Grant{Holder: ctU1, Perm: "doc.comment", On: ctDoc1}))
	done.Store(true)
	wg.Wait()

	require.NoError(t, werr)
	require.Zero(t, errCount.Load(), "checks that failed during writes")
	require.Zero(t, viewGaps.Load(), "checks that saw doc.view held by neither u1 nor staff")
	require.Positive(t, checks.Load())
	want := map[string]bool{"doc.view": true, "doc.comment": true, "doc.edit": false, "doc.special": false, "doc.publish": false}
	for r, got := range finals {
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("reader %d final state (-want +got):\n%s", r, diff)
		}
	}
	for _, chk := range []*iam.Checker{c, c2} {
		for perm, allowed := range want {
			require.Equal(t, allowed, chk.HasPerm(ctx, u, perm, obj), perm)
		}
	}
}

// ---------------------------------------------------------------------------
// Policy validation by New

func TestPolicyValidation(t *testing.T) {
	viewer := func() *iam.Role { return &iam.Role{Name: "doc.viewer", Perms: []string{"doc.view"}} }
	cycleA := &iam.Role{Name: "a", Perms: []string{"doc.view"}}
	cycleB := &iam.Role{Name: "b", Includes: []*iam.Role{cycleA}}
	cycleA.Includes = []*iam.Role{cycleB}
	self := &iam.Role{Name: "self"}
	self.Includes = []*iam.Role{self}
	unlisted := &iam.Role{Name: "unlisted", Perms: []string{"doc.view"}}

	cases := []struct {
		name   string
		policy iam.Policy
		store  iam.Store
	}{
		{name: "duplicate role names",
			policy: iam.Policy{Roles: []*iam.Role{viewer(), viewer()}}},
		{name: "duplicate permission names",
			policy: iam.Policy{Perms: []iam.Perm{{Name: "doc.view"}, {Name: "doc.edit"}, {Name: "doc.view", Types: []string{"doc"}}}}},
		{name: "role including a role not listed",
			policy: iam.Policy{Roles: []*iam.Role{{Name: "doc.editor", Includes: []*iam.Role{unlisted}}}}},
		{name: "role cycle A includes B includes A",
			policy: iam.Policy{Roles: []*iam.Role{cycleA, cycleB}}},
		{name: "role including itself",
			policy: iam.Policy{Roles: []*iam.Role{self}}},
		{name: "strict: role naming an undeclared permission",
			policy: iam.Policy{Perms: []iam.Perm{{Name: "doc.view"}}, Roles: []*iam.Role{{Name: "doc.editor", Perms: []string{"doc.view", "doc.eidt"}}}}},
		{name: "strict: rule for an undeclared permission",
			policy: iam.Policy{Perms: []iam.Perm{{Name: "doc.view"}}, Rules: map[string]iam.Predicate{"doc.lsit": iam.Always()}}},
		{name: "rule naming a role not in the policy",
			policy: iam.Policy{Rules: map[string]iam.Predicate{"doc.view": iam.HasRole(unlisted)}}},
		{name: "nil store",
			policy: iam.Policy{Roles: []*iam.Role{viewer()}}, store: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := tc.store
			if tc.name != "nil store" {
				store = iam.NewMemoryStore()
			}
			c, err := iam.New(tc.policy, store)
			require.ErrorIs(t, err, iam.ErrInvalidPolicy)
			require.Nil(t, c)
			c, err = iam.NewWithOptions(tc.policy, store, iam.Options{MaxDepth: 3})
			require.ErrorIs(t, err, iam.ErrInvalidPolicy)
			require.Nil(t, c)
		})
	}

	t.Run("control: the shared policy is valid", func(t *testing.T) {
		_, err := iam.New(ctPolicy().policy, iam.NewMemoryStore())
		require.NoError(t, err)
	})
	t.Run("control: a diamond of Includes is not a cycle", func(t *testing.T) {
		base := &iam.Role{Name: "base", Perms: []string{"doc.view"}}
		l := &iam.Role{Name: "l", Includes: []*iam.Role{base}}
		r := &iam.Role{Name: "r", Includes: []*iam.Role{base}}
		top := &iam.Role{Name: "top", Includes: []*iam.Role{l, r}}
		_, err := iam.New(iam.Policy{Roles: []*iam.Role{top, l, r, base}}, iam.NewMemoryStore())
		require.NoError(t, err)
	})
}

func TestPolicyImplicitPermissions(t *testing.T) {
	// contract 1 with Policy.Perms empty: permissions named by roles and
	// rules are declared implicitly; anything else is still unknown.
	ctx := context.Background()
	viewer := &iam.Role{Name: "doc.viewer", Perms: []string{"doc.view"}}
	editor := &iam.Role{Name: "doc.editor", Perms: []string{"doc.edit"}, Includes: []*iam.Role{viewer}}
	store := iam.NewMemoryStore()
	c, err := iam.New(iam.Policy{
		Roles: []*iam.Role{viewer, editor},
		Rules: map[string]iam.Predicate{"doc.list": iam.Always(), "doc.view": iam.Never()},
	}, store)
	require.NoError(t, err)
	require.NoError(t, store.PutProfile(ctx, iam.Profile{Holder: ctU1, Role: "doc.editor", Active: true}))
	u := &ctUser{id: "u1"}
	nobody := &ctUser{id: "u2"}

	cases := []struct {
		name string
		subj iam.Subject
		perm string
		want ctDecision
	}{
		{"role permission is declared", u, "doc.edit", ctAllowGlobal("doc.editor", ctU1)},
		{"included role's permission is declared", u, "doc.view", ctAllowGlobal("doc.editor", ctU1)},
		{"role permission, not held: plain denial", nobody, "doc.edit", ctDenied},
		{"rule permission is declared", nobody, "doc.list", ctByRule},
		{"library permission is declared", nobody, iam.PermManageRoles, ctDenied},
		{"superuser holds implicit permissions", &ctUser{id: "root", super: true}, "doc.edit", ctDecision{Allowed: true, Reason: iam.ReasonSuperuser}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := c.Check(ctx, tc.subj, tc.perm, ctD("1"))
			require.NoError(t, err)
			ctRequireDecision(t, tc.want, d)
		})
	}
	t.Run("a name no role or rule uses is unknown", func(t *testing.T) {
		for _, s := range []iam.Subject{u, &ctUser{id: "root", super: true}} {
			_, err := c.Check(ctx, s, "doc.delete", nil)
			require.ErrorIs(t, err, iam.ErrUnknownPermission)
		}
	})
	t.Run("implicit permissions have no type restriction", func(t *testing.T) {
		_, err := c.Check(ctx, u, "doc.view", iam.Ref{Type: "anything", ID: "1"})
		require.NoError(t, err)
		require.NoError(t, c.Grant(ctx, iam.Grant{Holder: ctU1, Perm: "doc.list", On: iam.Ref{Type: "anything", ID: "1"}}))
	})
}

// TestContract4b_CutShort: a rule never decides on part of the ancestry.
// HasRole cannot say "no" when the chain was cut short (Not(HasRole) would
// then allow with the role held above the cut); a ref seen already does not
// count against the bounds (a cycle at the depth cap is a plain "no").
func TestContract4b_CutShort(t *testing.T) {
	ctx := context.Background()
	banned := &iam.Role{Name: "doc.banned", Perms: []string{"doc.flag"}}
	notBanned := iam.And(iam.IsAuthenticated(), iam.Not(iam.HasRole(banned)))
	folder := func(i int) iam.Ref { return iam.Ref{Type: "folder", ID: fmt.Sprint(i)} }
	doc := iam.Ref{Type: "doc", ID: "d"}
	newChecker := func(t *testing.T, maxDepth int) (*iam.Checker, *iam.MemoryStore) {
		store := iam.NewMemoryStore()
		c, err := iam.NewWithOptions(iam.Policy{
			Roles: []*iam.Role{banned},
			Perms: []iam.Perm{{Name: "doc.comment"}, {Name: "doc.flag"}, {Name: "doc.view"}},
			Rules: map[string]iam.Predicate{"doc.comment": notBanned},
		}, store, iam.Options{MaxDepth: maxDepth})
		require.NoError(t, err)
		return c, store
	}
	// doc → folder 1 → folder 2 → … → folder 6.
	line := func(t *testing.T, s *iam.MemoryStore) {
		require.NoError(t, s.SetParents(ctx, doc, []iam.Ref{folder(1)}))
		for i := 1; i < 6; i++ {
			require.NoError(t, s.SetParents(ctx, folder(i), []iam.Ref{folder(i + 1)}))
		}
	}
	tests := []struct {
		name     string
		banOn    iam.Ref // where u holds doc.banned locally (none: zero Ref)
		want     bool
		tooDeep  bool
		maxDepth int
	}{
		// A denial on a cut-short chain is ErrTooDeep, whatever decided it.
		{name: "banned within the cap: denied", banOn: folder(2), maxDepth: 3, tooDeep: true},
		{name: "banned above the cap: cannot decide", banOn: folder(5), maxDepth: 3, tooDeep: true},
		{name: "not banned anywhere, ancestry cut: cannot decide", maxDepth: 3, tooDeep: true},
		{name: "not banned, whole ancestry seen: allowed", maxDepth: 10, want: true},
		{name: "banned far up, whole ancestry seen: denied", banOn: folder(6), maxDepth: 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { // contract 4b, 9
			c, s := newChecker(t, tc.maxDepth)
			line(t, s)
			if tc.banOn.IsObject() {
				require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("u"), Role: banned.Name, On: tc.banOn}))
			}
			d, err := c.Check(ctx, ctPlain("u"), "doc.comment", doc)
			require.Equal(t, tc.want, d.Allowed)
			require.Equal(t, tc.want, c.HasPerm(ctx, ctPlain("u"), "doc.comment", doc))
			if tc.tooDeep {
				require.ErrorIs(t, err, iam.ErrTooDeep)
			} else {
				require.NoError(t, err)
			}
		})
	}
	t.Run("a cycle at the depth cap is seen whole", func(t *testing.T) { // contract 4b
		c, s := newChecker(t, 2)
		// doc → a → b → a: a is met again at depth 3, already in the chain.
		a, b := folder(1), folder(2)
		require.NoError(t, s.SetParents(ctx, doc, []iam.Ref{a}))
		require.NoError(t, s.SetParents(ctx, a, []iam.Ref{b}))
		require.NoError(t, s.SetParents(ctx, b, []iam.Ref{a}))
		d, err := c.Check(ctx, ctPlain("u"), "doc.view", doc)
		require.NoError(t, err)
		require.False(t, d.Allowed)
		require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("u"), Perm: "doc.view", On: b}))
		d, err = c.Check(ctx, ctPlain("u"), "doc.view", doc)
		require.NoError(t, err)
		require.True(t, d.Allowed)
	})
}
