package iamtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamcache"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// The Manager matrix's policy: four target roles of growing power, one of
// them Protected, and a manager role that holds the manage permissions.
var (
	mViewer    = &iam.Role{Name: "m.viewer", Perms: []string{"m.view"}}
	mEditor    = &iam.Role{Name: "m.editor", Perms: []string{"m.view", "m.edit"}}
	mPublisher = &iam.Role{Name: "m.publisher", Perms: []string{"m.view", "m.edit", "m.publish"}}
	mAdmin     = &iam.Role{Name: "m.admin", Perms: []string{"m.admin", iam.PermManageRoles, iam.PermManageGrants}, Protected: true}
	mManager   = &iam.Role{Name: "m.manager", Perms: []string{iam.PermManageRoles, iam.PermManageGrants}}
	mPolicy    = iam.Policy{
		Roles: []*iam.Role{mViewer, mEditor, mPublisher, mAdmin, mManager},
		Perms: []iam.Perm{
			{Name: "m.view", Types: []string{"m.doc"}}, {Name: "m.edit", Types: []string{"m.doc"}},
			{Name: "m.publish", Types: []string{"m.doc"}}, {Name: "m.admin", Types: []string{"m.doc"}},
			{Name: iam.PermManageRoles}, {Name: iam.PermManageGrants},
		},
	}
	mDoc = iam.Ref{Type: "m.doc", ID: "1"}
)

// mLoad is the matrix's object loader: every object is a plain document
// (it acquires global roles) and has no children, so the manager's global
// roles count on it.
func mLoad(_ context.Context, ref iam.Ref) (iam.Object, error) { return ref, nil }

func mNoChildren(context.Context, iam.Ref) ([]iam.Object, error) { return nil, nil }

// mSubject is an actor of the matrix.
type mSubject struct {
	id       string
	super    bool
	inactive bool
}

func (s mSubject) SubjectID() string { return s.id }
func (s mSubject) IsSuperuser() bool { return s.super }
func (s mSubject) IsActive() bool    { return !s.inactive }

// The actors: the manager and the inactive one hold the manager role and
// the editor role, so only the rule under test can refuse them; "plain"
// holds the editor role only; "self" is the target of every change and
// holds the manager role only (so what it is given can be observed).
var mActors = []struct {
	name  string
	subj  iam.Subject
	roles []*iam.Role
}{
	{"superuser", mSubject{id: "su", super: true}, nil},
	{"manager", mSubject{id: "mgr"}, []*iam.Role{mManager, mEditor}},
	{"plain", mSubject{id: "plain"}, []*iam.Role{mEditor}},
	{"self", mSubject{id: "tgt"}, []*iam.Role{mManager}},
	{"inactive", mSubject{id: "ina", inactive: true}, []*iam.Role{mManager, mEditor}},
	{"anonymous", mSubject{}, nil},
}

var mTargets = []struct {
	name string
	role *iam.Role
	perm string // the role's highest permission, for object grants
}{
	{"lesser", mViewer, "m.view"},
	{"equal", mEditor, "m.edit"},
	{"greater", mPublisher, "m.publish"},
	{"protected", mAdmin, "m.admin"},
}

// An operation: its Change, the state before it, and how to observe
// whether it happened.
type mOp struct {
	name string
	// grants reports whether the op hands out (true) or takes away access.
	grants bool
	// protectedApplies: the Protected rule concerns this op (it hands out
	// or takes away a role, not a bare permission).
	protectedApplies bool
	change           func(role *iam.Role, perm string) iam.Change
	before           func(ctx context.Context, s iam.Store, role *iam.Role, perm string) error
}

// tgtProfile gives the target a profile for the role, active or not,
// before the operation.
func tgtProfile(active bool) func(context.Context, iam.Store, *iam.Role, string) error {
	return func(ctx context.Context, s iam.Store, r *iam.Role, _ string) error {
		return s.PutProfile(ctx, iam.Profile{Holder: iam.User("tgt"), Role: r.Name, Active: active})
	}
}

var mOps = []mOp{
	{name: "grant", grants: true, protectedApplies: true,
		change: func(r *iam.Role, _ string) iam.Change {
			return iam.Change{Kind: iam.ChangePutProfile, Profile: iam.Profile{Holder: iam.User("tgt"), Role: r.Name, Active: true}}
		}},
	{name: "revoke", protectedApplies: true,
		change: func(r *iam.Role, _ string) iam.Change {
			return iam.Change{Kind: iam.ChangeDeleteProfile, Profile: iam.Profile{Holder: iam.User("tgt"), Role: r.Name}}
		},
		before: tgtProfile(true)},
	{name: "activate", grants: true, protectedApplies: true,
		change: func(r *iam.Role, _ string) iam.Change {
			return iam.Change{Kind: iam.ChangeActivate, Profile: iam.Profile{Holder: iam.User("tgt"), Role: r.Name}}
		},
		before: tgtProfile(false)},
	{name: "deactivate", protectedApplies: true,
		change: func(r *iam.Role, _ string) iam.Change {
			return iam.Change{Kind: iam.ChangeDeactivate, Profile: iam.Profile{Holder: iam.User("tgt"), Role: r.Name}}
		},
		before: tgtProfile(true)},
	{name: "membership", grants: true, protectedApplies: true,
		change: func(r *iam.Role, _ string) iam.Change {
			return iam.Change{Kind: iam.ChangeAddMember, User: "tgt", Group: "g." + r.Name}
		}},
	{name: "local_role", grants: true, protectedApplies: true,
		change: func(r *iam.Role, _ string) iam.Change {
			return iam.Change{Kind: iam.ChangeGrant, Grant: iam.Grant{Holder: iam.User("tgt"), Role: r.Name, On: mDoc}}
		}},
	{name: "object_grant", grants: true,
		change: func(_ *iam.Role, p string) iam.Change {
			return iam.Change{Kind: iam.ChangeGrant, Grant: iam.Grant{Holder: iam.User("tgt"), Perm: p, On: mDoc}}
		}},
	{name: "object_revoke",
		change: func(_ *iam.Role, p string) iam.Change {
			return iam.Change{Kind: iam.ChangeRevoke, Grant: iam.Grant{Holder: iam.User("tgt"), Perm: p, On: mDoc}}
		},
		before: func(ctx context.Context, s iam.Store, _ *iam.Role, p string) error {
			return s.Grant(ctx, iam.Grant{Holder: iam.User("tgt"), Perm: p, On: mDoc})
		}},
}

// mExpect derives the outcome of a matrix cell from the rules of docs/contract.md
// line 19, independently of the Manager's code: nil or the sentinel.
func mExpect(actor string, target string, op mOp) error {
	switch actor {
	case "anonymous", "inactive":
		return iam.ErrNotManager
	case "self":
		return iam.ErrSelfChange
	case "plain":
		return iam.ErrNotManager
	case "superuser":
		return nil
	}
	// The manager holds m.view and m.edit (and the manage permissions).
	if target == "protected" && op.protectedApplies {
		return iam.ErrProtected
	}
	if target == "greater" || target == "protected" {
		return iam.ErrEscalation
	}
	return nil
}

// TestManager runs the Manager's anti-escalation matrix (docs/contract.md line
// 19) on stores made by newStore: every actor kind × target role ×
// operation, each cell on a fresh store, the expected outcome derived from
// the rules; then the audit trail, the approval workflow, and two managers
// racing to remove the last two holders of a Protected role.
func TestManager(t *testing.T, newStore func(t *testing.T) iam.Store) {
	t.Helper()
	ctx := context.Background()
	setup := func(t *testing.T) (iam.Store, *iam.Checker) {
		s := newStore(t)
		c, err := iam.New(mPolicy, s)
		require.NoError(t, err)
		for _, a := range mActors {
			for _, r := range a.roles {
				require.NoError(t, s.PutProfile(ctx, iam.Profile{Holder: iam.User(a.subj.SubjectID()), Role: r.Name, Active: true}))
			}
		}
		// A second admin, so the matrix never meets the last-holder rule.
		require.NoError(t, s.PutProfile(ctx, iam.Profile{Holder: iam.User("admin2"), Role: mAdmin.Name, Active: true}))
		for _, tg := range mTargets {
			require.NoError(t, s.PutProfile(ctx, iam.Profile{Holder: iam.Group("g." + tg.role.Name), Role: tg.role.Name, Active: true}))
		}
		return s, c
	}

	escalations := 0
	cells := 0
	for _, a := range mActors {
		for _, tg := range mTargets {
			for _, op := range mOps {
				name := a.name + "/" + tg.name + "/" + op.name
				t.Run("Matrix/"+name, func(t *testing.T) {
					s, c := setup(t)
					if op.before != nil {
						require.NoError(t, op.before(ctx, s, tg.role, tg.perm))
					}
					var events []iam.AuditEvent
					m := iam.NewManager(c, iam.ManagerOptions{
						Object: mLoad, Children: mNoChildren, Logger: discardLogger(),
						Audit: func(_ context.Context, e iam.AuditEvent) { events = append(events, e) },
					})
					had := c.HasPerm(ctx, mSubject{id: "tgt"}, tg.perm, mDoc)
					want := mExpect(a.name, tg.name, op)
					err := m.Apply(ctx, a.subj, op.change(tg.role, tg.perm))
					has := c.HasPerm(iamcache.Fresh(ctx), mSubject{id: "tgt"}, tg.perm, mDoc)
					cells++
					if want == nil {
						require.NoError(t, err)
						require.Equal(t, op.grants, has, "the change took effect")
						require.Equal(t, "applied", events[0].Result)
					} else {
						require.ErrorIs(t, err, want)
						if has != had {
							escalations++
						}
						require.Equal(t, had, has, "a refused change changed nothing")
						require.Equal(t, "refused", events[0].Result)
					}
					require.Len(t, events, 1, "one audit event per attempt")
					require.Equal(t, a.subj.SubjectID(), events[0].Actor)
				})
			}
		}
	}
	t.Logf("manager matrix: %d cells, %d escalations", cells, escalations)
	require.Zero(t, escalations)

	t.Run("LastHolder", func(t *testing.T) {
		_, c := setup(t)
		m := iam.NewManager(c, iam.ManagerOptions{Object: mLoad, Children: mNoChildren, Logger: discardLogger()})
		su := mSubject{id: "su", super: true}
		// admin2 is the only holder: removing or deactivating it is refused.
		require.ErrorIs(t, m.RemoveRole(ctx, su, iam.User("admin2"), mAdmin.Name), iam.ErrLastHolder)
		require.ErrorIs(t, m.SetRoleActive(ctx, su, iam.User("admin2"), mAdmin.Name, false), iam.ErrLastHolder)
		// With a second holder, one can go.
		require.NoError(t, m.AssignRole(ctx, su, iam.Profile{Holder: iam.User("admin3"), Role: mAdmin.Name, Active: true}))
		require.NoError(t, m.RemoveRole(ctx, su, iam.User("admin2"), mAdmin.Name))
		require.ErrorIs(t, m.RemoveRole(ctx, su, iam.User("admin3"), mAdmin.Name), iam.ErrLastHolder)
	})

	t.Run("LastHolderRace", func(t *testing.T) {
		s, c := setup(t)
		su := mSubject{id: "su", super: true}
		su2 := mSubject{id: "su2", super: true}
		require.NoError(t, s.PutProfile(ctx, iam.Profile{Holder: iam.User("admin3"), Role: mAdmin.Name, Active: true}))
		for round := range 10 {
			// Two managers race to remove the last two holders.
			m1 := iam.NewManager(c, iam.ManagerOptions{Object: mLoad, Children: mNoChildren, Logger: discardLogger()})
			m2 := iam.NewManager(c, iam.ManagerOptions{Object: mLoad, Children: mNoChildren, Logger: discardLogger()})
			var wg sync.WaitGroup
			errs := make([]error, 2)
			wg.Add(2)
			go func() { defer wg.Done(); errs[0] = m1.RemoveRole(ctx, su, iam.User("admin2"), mAdmin.Name) }()
			go func() { defer wg.Done(); errs[1] = m2.RemoveRole(ctx, su2, iam.User("admin3"), mAdmin.Name) }()
			wg.Wait()
			failed := 0
			for _, err := range errs {
				if err != nil {
					require.ErrorIs(t, err, iam.ErrLastHolder)
					failed++
				}
			}
			require.Equal(t, 1, failed, "round %d: exactly one removal is refused", round)
			left := 0
			for _, u := range []string{"admin2", "admin3"} {
				if c.HasPerm(iamcache.Fresh(ctx), mSubject{id: u}, "m.admin", mDoc) {
					left++
				}
			}
			require.Equal(t, 1, left, "round %d: exactly one holder is left", round)
			// Restore both for the next round.
			for _, u := range []string{"admin2", "admin3"} {
				require.NoError(t, s.PutProfile(ctx, iam.Profile{Holder: iam.User(u), Role: mAdmin.Name, Active: true}))
			}
		}
	})

	t.Run("ApprovalWorkflow", func(t *testing.T) {
		_, c := setup(t)
		var events []iam.AuditEvent
		m := iam.NewManager(c, iam.ManagerOptions{Object: mLoad, Children: mNoChildren, Logger: discardLogger(),
			Audit: func(_ context.Context, e iam.AuditEvent) { events = append(events, e) }})
		ch := iam.Change{Kind: iam.ChangePutProfile, Profile: iam.Profile{Holder: iam.User("tgt"), Role: mViewer.Name, Active: true}}
		// tgt asks for a promotion for itself: allowed to ask, not to apply.
		req, err := m.Request(ctx, mSubject{id: "tgt"}, ch)
		require.NoError(t, err)
		require.ErrorIs(t, m.Approve(ctx, mSubject{id: "tgt"}, req), iam.ErrSelfChange)
		require.ErrorIs(t, m.Approve(ctx, mSubject{id: "plain"}, req), iam.ErrNotManager)
		require.NoError(t, m.Approve(ctx, mSubject{id: "mgr"}, req))
		require.True(t, c.HasPerm(iamcache.Fresh(ctx), mSubject{id: "tgt"}, "m.view", mDoc))
		stages := make([]string, len(events))
		for i, e := range events {
			stages[i] = e.Stage + ":" + e.Result
		}
		require.Equal(t, []string{"request:requested", "approve:refused", "approve:refused", "approve:applied"}, stages)
		require.Equal(t, "tgt", events[3].RequestedBy)
		// A request for a greater role cannot be approved by the manager.
		req, err = m.Request(ctx, mSubject{id: "tgt"}, iam.Change{Kind: iam.ChangePutProfile,
			Profile: iam.Profile{Holder: iam.User("tgt"), Role: mPublisher.Name, Active: true}})
		require.NoError(t, err)
		require.ErrorIs(t, m.Approve(ctx, mSubject{id: "mgr"}, req), iam.ErrEscalation)
		_, err = m.Request(ctx, mSubject{id: "tgt"}, iam.Change{Kind: iam.ChangePutProfile,
			Profile: iam.Profile{Holder: iam.User("tgt"), Role: "no.such.role"}})
		require.ErrorIs(t, err, iam.ErrInvalid)
	})

	t.Run("GroupMemberSelfChange", func(t *testing.T) {
		s, c := setup(t)
		m := iam.NewManager(c, iam.ManagerOptions{Object: mLoad, Children: mNoChildren, Logger: discardLogger()})
		require.NoError(t, s.AddMember(ctx, "mgr", "staff"))
		err := m.AssignRole(ctx, mSubject{id: "mgr"}, iam.Profile{Holder: iam.Group("staff"), Role: mViewer.Name, Active: true})
		require.ErrorIs(t, err, iam.ErrSelfChange, "a manager cannot give roles to its own group")
		require.NoError(t, m.AssignRole(ctx, mSubject{id: "mgr"}, iam.Profile{Holder: iam.Group("others"), Role: mViewer.Name, Active: true}))
	})

	t.Run("MembershipCarriesGroupGrants", func(t *testing.T) {
		s, c := setup(t)
		m := iam.NewManager(c, iam.ManagerOptions{Object: mLoad, Children: mNoChildren, Logger: discardLogger()})
		// The group holds no role, only a grant the manager lacks.
		require.NoError(t, s.Grant(ctx, iam.Grant{Holder: iam.Group("pubs"), Perm: "m.publish", On: mDoc}))
		require.ErrorIs(t, m.AddMember(ctx, mSubject{id: "mgr"}, "tgt", "pubs"), iam.ErrEscalation)
		require.ErrorIs(t, m.RemoveMember(ctx, mSubject{id: "mgr"}, "tgt", "pubs"), iam.ErrEscalation)
		require.NoError(t, s.Grant(ctx, iam.Grant{Holder: iam.Group("viewers"), Perm: "m.view", On: mDoc}))
		require.NoError(t, m.AddMember(ctx, mSubject{id: "mgr"}, "tgt", "viewers"))
		require.NoError(t, m.AddMember(ctx, mSubject{id: "su", super: true}, "tgt", "pubs"))
		require.True(t, c.HasPerm(iamcache.Fresh(ctx), mSubject{id: "tgt"}, "m.publish", mDoc))
	})

	t.Run("BareRefFailsClosed", func(t *testing.T) {
		// Without a loader the Manager cannot know that m.doc:1 acquires
		// global roles: it judges it as refusing them, so the manager's
		// global roles do not count there, and without Children a
		// holding that may not reach the object's descendants does not
		// either.
		s, c := setup(t)
		m := iam.NewManager(c, iam.ManagerOptions{Logger: discardLogger()})
		mgr := mSubject{id: "mgr"}
		g := iam.Grant{Holder: iam.User("x"), Perm: "m.view", On: mDoc}
		require.ErrorIs(t, m.Grant(ctx, mgr, g), iam.ErrNotManager)
		// Holding the manage permission on the document itself is not
		// enough: m.view comes from a global role.
		require.NoError(t, s.Grant(ctx, iam.Grant{Holder: iam.User("mgr"), Perm: iam.PermManageGrants, On: mDoc}))
		require.ErrorIs(t, m.Grant(ctx, mgr, g), iam.ErrEscalation)
		// A grant of m.view on the document reaches all it reaches.
		require.NoError(t, s.Grant(ctx, iam.Grant{Holder: iam.User("mgr"), Perm: "m.view", On: mDoc}))
		require.NoError(t, m.Grant(ctx, mgr, g))
		require.True(t, c.HasPerm(iamcache.Fresh(ctx), mSubject{id: "x"}, "m.view", mDoc))
	})

	t.Run("PanickingActorFailsClosed", func(t *testing.T) {
		_, c := setup(t)
		var events []iam.AuditEvent
		m := iam.NewManager(c, iam.ManagerOptions{Object: mLoad, Children: mNoChildren, Logger: discardLogger(),
			Audit: func(_ context.Context, e iam.AuditEvent) { events = append(events, e) }})
		err := m.AssignRole(ctx, panicky{}, iam.Profile{Holder: iam.User("x"), Role: mViewer.Name, Active: true})
		require.ErrorIs(t, err, iam.ErrPanic)
		require.False(t, c.HasPerm(iamcache.Fresh(ctx), mSubject{id: "x"}, "m.view", mDoc))
		require.Len(t, events, 1)
		require.Equal(t, "failed", events[0].Result)
	})

	t.Run("StoreErrorFailsClosed", func(t *testing.T) {
		_, c := setup(t)
		m := iam.NewManager(c, iam.ManagerOptions{Object: mLoad, Children: mNoChildren, Logger: discardLogger()})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := m.AssignRole(cctx, mSubject{id: "mgr"}, iam.Profile{Holder: iam.User("x"), Role: mViewer.Name, Active: true})
		require.Error(t, err)
		require.False(t, c.HasPerm(ctx, mSubject{id: "x"}, "m.view", mDoc))
		if errors.Is(err, iam.ErrEscalation) || errors.Is(err, iam.ErrNotManager) {
			t.Logf("refused as %v", err)
		} else {
			require.ErrorIs(t, err, context.Canceled, fmt.Sprint(err))
		}
	})
}

// panicky is an actor whose IsSuperuser panics.
type panicky struct{}

func (panicky) SubjectID() string { return "boom" }
func (panicky) IsSuperuser() bool { panic("IsSuperuser exploded") }
