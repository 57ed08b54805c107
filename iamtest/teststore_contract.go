package iamtest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// The docs/contract.md contract lines that depend on the store, checked through a
// Checker of testPolicy over the store under test.

// checkCase is one check against a fresh store prepared by setup.
type checkCase struct {
	name  string
	setup func(t *testing.T, st iam.Store)
	who   subject
	perm  string
	on    iam.Ref // the zero Ref: a model-level check (nil object)
	want  decision
}

// runCheckCases runs every case in its own subtest, on a fresh store. When
// parents is true the cases need an iam.ParentStore and are skipped without
// one.
func (s *suite) runCheckCases(t *testing.T, parents bool, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var st iam.Store
			if parents {
				st, _ = s.parentStore(t)
			} else {
				st = s.store(t)
			}
			if tc.setup != nil {
				tc.setup(t, st)
			}
			c := newChecker(t, st, nil)
			requireCheck(t, c, tc.who, tc.perm, objOf(tc.on), tc.want)
		})
	}
}

// Setup steps for check cases.

func put(p iam.Profile) func(t *testing.T, st iam.Store) {
	return func(t *testing.T, st iam.Store) {
		t.Helper()
		must(t, st.PutProfile(t.Context(), p), "PutProfile(%+v)", p)
	}
}

func setActive(holder iam.Principal, role string, active bool) func(t *testing.T, st iam.Store) {
	return func(t *testing.T, st iam.Store) {
		t.Helper()
		must(t, st.SetProfileActive(t.Context(), holder, role, active), "SetProfileActive")
	}
}

func deleteProfile(holder iam.Principal, role string) func(t *testing.T, st iam.Store) {
	return func(t *testing.T, st iam.Store) {
		t.Helper()
		must(t, st.DeleteProfile(t.Context(), holder, role), "DeleteProfile")
	}
}

func member(user, group string) func(t *testing.T, st iam.Store) {
	return func(t *testing.T, st iam.Store) {
		t.Helper()
		must(t, st.AddMember(t.Context(), user, group), "AddMember(%q, %q)", user, group)
	}
}

func unmember(user, group string) func(t *testing.T, st iam.Store) {
	return func(t *testing.T, st iam.Store) {
		t.Helper()
		must(t, st.RemoveMember(t.Context(), user, group), "RemoveMember(%q, %q)", user, group)
	}
}

func grant(gs ...iam.Grant) func(t *testing.T, st iam.Store) {
	return func(t *testing.T, st iam.Store) {
		t.Helper()
		grantAll(t, st, gs...)
	}
}

func revoke(g iam.Grant) func(t *testing.T, st iam.Store) {
	return func(t *testing.T, st iam.Store) {
		t.Helper()
		must(t, st.Revoke(t.Context(), g), "Revoke(%+v)", g)
	}
}

func deleteGrantsOn(on iam.Ref) func(t *testing.T, st iam.Store) {
	return func(t *testing.T, st iam.Store) {
		t.Helper()
		must(t, st.DeleteGrantsOn(t.Context(), on), "DeleteGrantsOn(%v)", on)
	}
}

func parents(ref iam.Ref, ps ...iam.Ref) func(t *testing.T, st iam.Store) {
	return func(t *testing.T, st iam.Store) {
		t.Helper()
		p, ok := st.(iam.ParentStore)
		require.True(t, ok, "%T does not implement iam.ParentStore", st)
		must(t, p.SetParents(t.Context(), ref, ps), "SetParents(%v, %v)", ref, ps)
	}
}

// steps runs fs in order.
func steps(fs ...func(t *testing.T, st iam.Store)) func(t *testing.T, st iam.Store) {
	return func(t *testing.T, st iam.Store) {
		t.Helper()
		for _, f := range fs {
			f(t, st)
		}
	}
}

var (
	uAlice  = subject{id: "alice"}
	uBob    = subject{id: "bob"}
	folder1 = iam.Ref{Type: typeFolder, ID: "1"}
	folder2 = iam.Ref{Type: typeFolder, ID: "2"}
	root    = iam.Ref{Type: typeFolder, ID: "root"}
	doc0    = iam.Ref{Type: typeDoc, ID: "0"}
)

func (s *suite) testContract4aGlobalRole(t *testing.T) {
	// contract 4a: a role held globally (an active, unexpired profile) by
	// the subject or one of its groups grants its permissions, Includes
	// followed.
	s.runCheckCases(t, false, []checkCase{
		{"active user profile", put(iam.Profile{Holder: alice, Role: roleEditor, Active: true}),
			uAlice, permEdit, doc1, allowedBy(iam.ReasonGlobalRole, roleEditor, alice, global)},
		{"role through Includes", put(iam.Profile{Holder: alice, Role: roleAdmin, Active: true}),
			uAlice, permView, doc1, allowedBy(iam.ReasonGlobalRole, roleAdmin, alice, global)},
		{"inactive profile", put(iam.Profile{Holder: alice, Role: roleEditor}),
			uAlice, permEdit, doc1, denied},
		{"deactivated profile", steps(put(iam.Profile{Holder: alice, Role: roleEditor, Active: true}), setActive(alice, roleEditor, false)),
			uAlice, permEdit, doc1, denied},
		{"reactivated profile", steps(put(iam.Profile{Holder: alice, Role: roleEditor}), setActive(alice, roleEditor, true)),
			uAlice, permEdit, doc1, allowedBy(iam.ReasonGlobalRole, roleEditor, alice, global)},
		{"replaced by an inactive profile", steps(put(iam.Profile{Holder: alice, Role: roleEditor, Active: true}), put(iam.Profile{Holder: alice, Role: roleEditor})),
			uAlice, permEdit, doc1, denied},
		{"deleted profile", steps(put(iam.Profile{Holder: alice, Role: roleEditor, Active: true}), deleteProfile(alice, roleEditor)),
			uAlice, permEdit, doc1, denied},
		{"another user's profile", put(iam.Profile{Holder: bob, Role: roleEditor, Active: true}),
			uAlice, permEdit, doc1, denied},
		{"role without the permission", put(iam.Profile{Holder: alice, Role: roleViewer, Active: true}),
			uAlice, permEdit, doc1, denied},
		{"group profile through membership", steps(member("alice", "staff"), put(iam.Profile{Holder: staff, Role: roleEditor, Active: true})),
			uAlice, permEdit, doc1, allowedBy(iam.ReasonGlobalRole, roleEditor, staff, global)},
		{"group profile through SubjectGroups", put(iam.Profile{Holder: staff, Role: roleEditor, Active: true}),
			subject{id: "alice", groups: []string{"staff"}}, permEdit, doc1, allowedBy(iam.ReasonGlobalRole, roleEditor, staff, global)},
		{"inactive group profile", steps(member("alice", "staff"), put(iam.Profile{Holder: staff, Role: roleEditor})),
			uAlice, permEdit, doc1, denied},
		{"group profile without membership", steps(member("bob", "staff"), put(iam.Profile{Holder: staff, Role: roleEditor, Active: true})),
			uAlice, permEdit, doc1, denied},
		{"group profile after RemoveMember", steps(member("alice", "staff"), put(iam.Profile{Holder: staff, Role: roleEditor, Active: true}), unmember("alice", "staff")),
			uAlice, permEdit, doc1, denied},
		{"profile of the group named like the user", put(iam.Profile{Holder: iam.Group("alice"), Role: roleEditor, Active: true}),
			uAlice, permEdit, doc1, denied},
		{"profile of the user named like the group", steps(member("alice", "staff"), put(iam.Profile{Holder: iam.User("staff"), Role: roleEditor, Active: true})),
			uAlice, permEdit, doc1, denied},
	})
}

func (s *suite) testContract4aProfileExpiry(t *testing.T) {
	// contract 4a: an expired profile holds no role; expiry is read from
	// the store's ExpiresAt against the Checker's clock.
	st := s.store(t)
	t0 := time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)
	clock := newFakeClock(t0)
	c := newChecker(t, st, clock)
	for _, p := range []iam.Profile{
		{Holder: iam.User("soon"), Role: roleEditor, Active: true, ExpiresAt: t0.Add(time.Hour)},
		{Holder: iam.User("past"), Role: roleEditor, Active: true, ExpiresAt: t0.Add(-time.Hour)},
		{Holder: iam.User("never"), Role: roleEditor, Active: true},
		{Holder: iam.User("inactive"), Role: roleEditor, ExpiresAt: t0.Add(time.Hour)},
		{Holder: iam.Group("temps"), Role: roleEditor, Active: true, ExpiresAt: t0.Add(3 * time.Hour)},
	} {
		must(t, st.PutProfile(t.Context(), p), "PutProfile(%+v)", p)
	}
	must(t, st.AddMember(t.Context(), "temp", "temps"), "AddMember")
	edit := func(who string) decision { return check(t, c, subject{id: who}, permEdit, doc1) }
	userRole := func(who string) decision {
		return allowedBy(iam.ReasonGlobalRole, roleEditor, iam.User(who), global)
	}
	groupRole := allowedBy(iam.ReasonGlobalRole, roleEditor, iam.Group("temps"), global)
	for _, step := range []struct {
		at   time.Duration
		want map[string]decision
	}{
		{0, map[string]decision{"soon": userRole("soon"), "past": denied, "never": userRole("never"), "inactive": denied, "temp": groupRole}},
		{2 * time.Hour, map[string]decision{"soon": denied, "past": denied, "never": userRole("never"), "inactive": denied, "temp": groupRole}},
		{4 * time.Hour, map[string]decision{"soon": denied, "past": denied, "never": userRole("never"), "inactive": denied, "temp": denied}},
	} {
		clock.Set(t0.Add(step.at))
		got := map[string]decision{}
		for who := range step.want {
			got[who] = edit(who)
		}
		requireDiff(t, step.want, got, "decisions at t0+%v", step.at)
	}
	// Extending the expiry (PutProfile replaces) brings the role back.
	must(t, st.PutProfile(t.Context(), iam.Profile{Holder: iam.User("soon"), Role: roleEditor, Active: true, ExpiresAt: t0.Add(5 * time.Hour)}), "PutProfile")
	requireDiff(t, userRole("soon"), edit("soon"), "after extending the expiry")
}

func (s *suite) testContract4bLocalRole(t *testing.T) {
	// contract 4b: a role held locally on the object, by the subject or one
	// of its groups, grants its permissions there only.
	s.runCheckCases(t, false, []checkCase{
		{"user local role", grant(roleGrant(alice, roleEditor, doc1)),
			uAlice, permEdit, doc1, allowedBy(iam.ReasonLocalRole, roleEditor, alice, doc1)},
		{"included role", grant(roleGrant(alice, roleEditor, doc1)),
			uAlice, permView, doc1, allowedBy(iam.ReasonLocalRole, roleEditor, alice, doc1)},
		{"role on another object", grant(roleGrant(alice, roleEditor, doc2)),
			uAlice, permEdit, doc1, denied},
		{"role on an object of another type, same ID", grant(roleGrant(alice, roleEditor, iam.Ref{Type: typePage, ID: "1"})),
			uAlice, permEdit, doc1, denied},
		{"role without the permission", grant(roleGrant(alice, roleViewer, doc1)),
			uAlice, permEdit, doc1, denied},
		{"group local role through membership", steps(member("bob", "staff"), grant(roleGrant(staff, roleViewer, doc1))),
			uBob, permView, doc1, allowedBy(iam.ReasonLocalRole, roleViewer, staff, doc1)},
		{"group local role through SubjectGroups", grant(roleGrant(staff, roleViewer, doc1)),
			subject{id: "bob", groups: []string{"staff"}}, permView, doc1, allowedBy(iam.ReasonLocalRole, roleViewer, staff, doc1)},
		{"group local role without membership", steps(member("alice", "staff"), grant(roleGrant(staff, roleViewer, doc1))),
			uBob, permView, doc1, denied},
		{"local role of the group named like the user", grant(roleGrant(iam.Group("bob"), roleViewer, doc1)),
			uBob, permView, doc1, denied},
		{"revoked local role", steps(grant(roleGrant(alice, roleEditor, doc1)), revoke(roleGrant(alice, roleEditor, doc1))),
			uAlice, permEdit, doc1, denied},
		{"permission grant is not a role grant", grant(permGrant(alice, roleEditor, doc1)),
			uAlice, permEdit, doc1, denied},
	})
}

func (s *suite) testContract4bAncestor(t *testing.T) {
	// contract 4b (and 4c on an ancestor): local roles and grants on an
	// ancestor recorded with iam.ParentStore apply to the object.
	s.parentStore(t) // skips the whole subtest without a ParentStore
	s.runCheckCases(t, true, []checkCase{
		{"local role on a parent", steps(parents(doc1, folder1), grant(roleGrant(alice, roleEditor, folder1))),
			uAlice, permEdit, doc1, allowedBy(iam.ReasonLocalRole, roleEditor, alice, folder1)},
		{"local role on a grandparent, through a group", steps(parents(doc1, folder1), parents(folder1, root), member("bob", "staff"), grant(roleGrant(staff, roleViewer, root))),
			uBob, permView, doc1, allowedBy(iam.ReasonLocalRole, roleViewer, staff, root)},
		{"local role on the second parent", steps(parents(doc1, folder1, folder2), grant(roleGrant(alice, roleEditor, folder2))),
			uAlice, permEdit, doc1, allowedBy(iam.ReasonLocalRole, roleEditor, alice, folder2)},
		{"contract 4c: grant on a parent", steps(parents(doc1, doc0), grant(permGrant(alice, permView, doc0))),
			uAlice, permView, doc1, allowedBy(iam.ReasonGrant, "", alice, doc0)},
		{"parents cleared", steps(parents(doc1, folder1), grant(roleGrant(alice, roleEditor, folder1)), parents(doc1)),
			uAlice, permEdit, doc1, denied},
		{"parents replaced", steps(parents(doc1, folder1), grant(roleGrant(alice, roleEditor, folder1)), parents(doc1, folder2)),
			uAlice, permEdit, doc1, denied},
		{"a child's role does not reach its parent", steps(parents(doc1, doc0), grant(roleGrant(alice, roleEditor, doc1))),
			uAlice, permEdit, doc0, denied},
		{"another object's parents", steps(parents(doc2, folder1), grant(roleGrant(alice, roleEditor, folder1))),
			uAlice, permEdit, doc1, denied},
	})
}

func (s *suite) testContract4cDirectGrant(t *testing.T) {
	// contract 4c: the permission granted directly to the subject or one of
	// its groups, on the object, on its whole type, or globally.
	s.runCheckCases(t, false, []checkCase{
		{"user on the object", grant(permGrant(alice, permView, doc1)),
			uAlice, permView, doc1, allowedBy(iam.ReasonGrant, "", alice, doc1)},
		{"user on the type", grant(permGrant(alice, permView, docType)),
			uAlice, permView, doc1, allowedBy(iam.ReasonGrant, "", alice, docType)},
		{"user globally", grant(permGrant(alice, permView, global)),
			uAlice, permView, doc1, allowedBy(iam.ReasonGrant, "", alice, global)},
		{"group on the object", steps(member("bob", "staff"), grant(permGrant(staff, permView, doc1))),
			uBob, permView, doc1, allowedBy(iam.ReasonGrant, "", staff, doc1)},
		{"group on the type", steps(member("bob", "staff"), grant(permGrant(staff, permView, docType))),
			uBob, permView, doc1, allowedBy(iam.ReasonGrant, "", staff, docType)},
		{"group globally", steps(member("bob", "staff"), grant(permGrant(staff, permView, global))),
			uBob, permView, doc1, allowedBy(iam.ReasonGrant, "", staff, global)},
		{"second of several groups", steps(member("bob", "a"), member("bob", "staff"), member("bob", "z"), grant(permGrant(staff, permView, doc1))),
			uBob, permView, doc1, allowedBy(iam.ReasonGrant, "", staff, doc1)},
		{"group through SubjectGroups", grant(permGrant(staff, permView, doc1)),
			subject{id: "bob", groups: []string{"staff"}}, permView, doc1, allowedBy(iam.ReasonGrant, "", staff, doc1)},
		{"another object", grant(permGrant(alice, permView, doc2)),
			uAlice, permView, doc1, denied},
		{"another type", grant(permGrant(alice, permView, iam.TypeScope(typePage))),
			uAlice, permView, doc1, denied},
		{"same ID, another type", grant(permGrant(alice, permView, iam.Ref{Type: typePage, ID: "1"})),
			uAlice, permView, doc1, denied},
		{"another permission", grant(permGrant(alice, permEdit, doc1)),
			uAlice, permView, doc1, denied},
		{"another user", grant(permGrant(bob, permView, doc1)),
			uAlice, permView, doc1, denied},
		{"group without membership", steps(member("alice", "staff"), grant(permGrant(staff, permView, doc1))),
			uBob, permView, doc1, denied},
		{"group named like the user", grant(permGrant(iam.Group("bob"), permView, doc1)),
			uBob, permView, doc1, denied},
		{"user named like the group", steps(member("bob", "staff"), grant(permGrant(iam.User("staff"), permView, doc1))),
			uBob, permView, doc1, denied},
		{"membership removed", steps(member("bob", "staff"), grant(permGrant(staff, permView, doc1)), unmember("bob", "staff")),
			uBob, permView, doc1, denied},
		{"revoked", steps(grant(permGrant(alice, permView, doc1)), revoke(permGrant(alice, permView, doc1))),
			uAlice, permView, doc1, denied},
		{"deleted with DeleteGrantsOn", steps(grant(permGrant(alice, permView, doc1)), deleteGrantsOn(doc1)),
			uAlice, permView, doc1, denied},
		{"role grant is not a permission grant", grant(roleGrant(alice, permView, doc1)),
			uAlice, permView, doc1, denied},
	})
}

func (s *suite) testContract5ModelLevel(t *testing.T) {
	// contract 5: a model-level check (obj == nil) counts global roles,
	// global grants and grants on the permission's declared types only.
	s.runCheckCases(t, false, []checkCase{
		{"global role", put(iam.Profile{Holder: alice, Role: roleEditor, Active: true}),
			uAlice, permEdit, global, allowedBy(iam.ReasonGlobalRole, roleEditor, alice, global)},
		{"group global role", steps(member("alice", "staff"), put(iam.Profile{Holder: staff, Role: roleAdmin, Active: true})),
			uAlice, permManage, global, allowedBy(iam.ReasonGlobalRole, roleAdmin, staff, global)},
		{"grant on the declared type", grant(permGrant(alice, permView, docType)),
			uAlice, permView, global, allowedBy(iam.ReasonGrant, "", alice, docType)},
		{"group grant on the declared type", steps(member("alice", "staff"), grant(permGrant(staff, permView, docType))),
			uAlice, permView, global, allowedBy(iam.ReasonGrant, "", staff, docType)},
		{"global grant", grant(permGrant(alice, permView, global)),
			uAlice, permView, global, allowedBy(iam.ReasonGrant, "", alice, global)},
		{"untyped permission, global grant", grant(permGrant(alice, permManage, global)),
			uAlice, permManage, global, allowedBy(iam.ReasonGrant, "", alice, global)},
		{"grant on an object", grant(permGrant(alice, permView, doc1)),
			uAlice, permView, global, denied},
		{"local role on an object", grant(roleGrant(alice, roleEditor, doc1)),
			uAlice, permView, global, denied},
		{"grant on another type", grant(permGrant(alice, permView, iam.TypeScope(typePage))),
			uAlice, permView, global, denied},
		{"inactive global role", put(iam.Profile{Holder: alice, Role: roleEditor}),
			uAlice, permEdit, global, denied},
	})
}

func (s *suite) testContract6Anonymous(t *testing.T) {
	// contract 6: an anonymous subject (SubjectID "") holds no stored roles
	// or grants, whatever the store holds for others and for its groups.
	st := s.store(t)
	for _, p := range []iam.Profile{
		{Holder: alice, Role: roleAdmin, Active: true},
		{Holder: staff, Role: roleAdmin, Active: true},
		{Holder: iam.Group("everyone"), Role: roleAdmin, Active: true},
	} {
		must(t, st.PutProfile(t.Context(), p), "PutProfile")
	}
	grantAll(t, st,
		permGrant(staff, permView, doc1), permGrant(staff, permView, docType), permGrant(staff, permView, global),
		roleGrant(staff, roleEditor, doc1), permGrant(alice, permView, global),
		permGrant(iam.Group("everyone"), permView, global))
	must(t, st.AddMember(t.Context(), "alice", "staff"), "AddMember")
	c := newChecker(t, st, nil)
	for _, who := range []subject{{id: ""}, {id: "", groups: []string{"staff", "everyone"}}} {
		for _, perm := range []string{permView, permEdit, permManage} {
			for _, on := range []iam.Ref{doc1, global} {
				if perm == permManage && on != global {
					continue
				}
				requireCheck(t, c, who, perm, objOf(on), denied)
			}
		}
	}
}

func (s *suite) testContract7WrongType(t *testing.T) {
	// contract 7: a permission declared for type "doc" cannot be checked on,
	// or granted through the Checker on, another type.
	st := s.store(t)
	page1 := iam.Ref{Type: typePage, ID: "1"}
	must(t, st.PutProfile(t.Context(), iam.Profile{Holder: alice, Role: roleAdmin, Active: true}), "PutProfile")
	grantAll(t, st, permGrant(alice, permView, global), permGrant(alice, permView, page1))
	c := newChecker(t, st, nil)

	d, err := c.Check(t.Context(), uAlice, permView, page1)
	require.Error(t, err, "Check of doc.view on a page")
	require.True(t, errors.Is(err, iam.ErrWrongType), "error %q does not wrap iam.ErrWrongType", err)
	require.False(t, d.Allowed, "Check of doc.view on a page allowed: %v", d)

	for _, on := range []iam.Ref{{Type: typePage, ID: "2"}, iam.TypeScope(typePage)} {
		err := c.Grant(t.Context(), permGrant(bob, permView, on))
		require.True(t, errors.Is(err, iam.ErrWrongType), "Checker.Grant of doc.view on %v: error %v does not wrap iam.ErrWrongType", on, err)
		requireGrants(t, st, on)
	}
	// The same grant on the declared type goes through.
	must(t, c.Grant(t.Context(), permGrant(bob, permView, doc2)), "Checker.Grant")
	requireGrants(t, st, doc2, permGrant(bob, permView, doc2))
}

func (s *suite) testContract15WritesVisible(t *testing.T) {
	// contract 15: a write that returned without error is visible to the
	// next check by the same Checker (no stale allow, no stale deny). Every
	// step checks once before its write (so whatever the Checker caches is
	// warm) and once after.
	st := s.store(t)
	ps, hasParents := st.(iam.ParentStore)
	c := newChecker(t, st, nil)
	doc3, doc4, doc5 := iam.Ref{Type: typeDoc, ID: "3"}, iam.Ref{Type: typeDoc, ID: "4"}, iam.Ref{Type: typeDoc, ID: "5"}
	type step struct {
		name    string
		write   func() error
		who     subject
		perm    string
		on      iam.Ref
		allowed bool
		parents bool // needs an iam.ParentStore
	}
	bg := t.Context()
	run := []step{
		{"Grant on the object", func() error { return st.Grant(bg, permGrant(alice, permView, doc1)) }, uAlice, permView, doc1, true, false},
		{"Revoke", func() error { return st.Revoke(bg, permGrant(alice, permView, doc1)) }, uAlice, permView, doc1, false, false},
		{"Grant of a local role", func() error { return st.Grant(bg, roleGrant(alice, roleEditor, doc1)) }, uAlice, permEdit, doc1, true, false},
		{"Revoke of the local role", func() error { return st.Revoke(bg, roleGrant(alice, roleEditor, doc1)) }, uAlice, permEdit, doc1, false, false},
		{"PutProfile active", func() error {
			return st.PutProfile(bg, iam.Profile{Holder: alice, Role: roleEditor, Active: true})
		}, uAlice, permEdit, doc2, true, false},
		{"SetProfileActive false", func() error { return st.SetProfileActive(bg, alice, roleEditor, false) }, uAlice, permEdit, doc2, false, false},
		{"SetProfileActive true", func() error { return st.SetProfileActive(bg, alice, roleEditor, true) }, uAlice, permEdit, doc2, true, false},
		{"PutProfile replaced by inactive", func() error {
			return st.PutProfile(bg, iam.Profile{Holder: alice, Role: roleEditor})
		}, uAlice, permEdit, doc2, false, false},
		{"PutProfile replaced by active", func() error {
			return st.PutProfile(bg, iam.Profile{Holder: alice, Role: roleEditor, Active: true})
		}, uAlice, permEdit, global, true, false},
		{"DeleteProfile", func() error { return st.DeleteProfile(bg, alice, roleEditor) }, uAlice, permEdit, global, false, false},
		{"Grant to a group", func() error { return st.Grant(bg, permGrant(staff, permView, doc2)) }, uBob, permView, doc2, false, false},
		{"AddMember", func() error { return st.AddMember(bg, "bob", "staff") }, uBob, permView, doc2, true, false},
		{"RemoveMember", func() error { return st.RemoveMember(bg, "bob", "staff") }, uBob, permView, doc2, false, false},
		{"AddMember again", func() error { return st.AddMember(bg, "bob", "staff") }, uBob, permView, doc2, true, false},
		{"PutProfile of the group", func() error {
			return st.PutProfile(bg, iam.Profile{Holder: staff, Role: roleAdmin, Active: true})
		}, uBob, permManage, global, true, false},
		{"SetProfileActive of the group", func() error { return st.SetProfileActive(bg, staff, roleAdmin, false) }, uBob, permManage, global, false, false},
		{"Grants on one object", func() error {
			if err := st.Grant(bg, permGrant(alice, permEdit, doc3)); err != nil {
				return err
			}
			return st.Grant(bg, roleGrant(alice, roleViewer, doc3))
		}, uAlice, permEdit, doc3, true, false},
		{"DeleteGrantsOn the object", func() error { return st.DeleteGrantsOn(bg, doc3) }, uAlice, permEdit, doc3, false, false},
		{"Grant on the type", func() error { return st.Grant(bg, permGrant(alice, permView, docType)) }, uAlice, permView, doc4, true, false},
		{"DeleteGrantsOn the type", func() error { return st.DeleteGrantsOn(bg, docType) }, uAlice, permView, doc4, false, false},
		{"Grant globally", func() error { return st.Grant(bg, permGrant(alice, permView, global)) }, uAlice, permView, doc4, true, false},
		{"Revoke globally", func() error { return st.Revoke(bg, permGrant(alice, permView, global)) }, uAlice, permView, doc4, false, false},
		{"Grant on the future parent", func() error { return st.Grant(bg, roleGrant(alice, roleViewer, doc4)) }, uAlice, permView, doc5, false, true},
		{"SetParents", func() error { return ps.SetParents(bg, doc5, []iam.Ref{doc4}) }, uAlice, permView, doc5, true, true},
		{"SetParents cleared", func() error { return ps.SetParents(bg, doc5, nil) }, uAlice, permView, doc5, false, true},
	}
	for _, step := range run {
		if step.parents && !hasParents {
			t.Logf("step %q skipped: %T does not implement iam.ParentStore", step.name, st)
			continue
		}
		check(t, c, step.who, step.perm, objOf(step.on)) // warm whatever is cached
		require.NoError(t, step.write(), "step %q", step.name)
		got := check(t, c, step.who, step.perm, objOf(step.on))
		require.Equal(t, step.allowed, got.Allowed, "step %q: %s %s on %v right after the write: %+v",
			step.name, step.who.id, step.perm, step.on, got)
	}
}
