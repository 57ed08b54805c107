package iamsql_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
)

// expiryModel is the test's own account of grants with expiries, apart
// from the code it judges: the live grants at now give doc.view (directly,
// or by the role doc.viewer) on an object, its folder, the doc type or
// globally, to a user or to the group staff (bob's).
type expiryModel struct {
	grants map[iam.Grant]time.Time // the grant without its expiry → expiry
}

func (m *expiryModel) allows(now time.Time, u string, on []iam.Ref) bool {
	for g, exp := range m.grants {
		if !exp.IsZero() && !now.Before(exp) {
			continue
		}
		if g.Holder != iam.User(u) && !(u == "bob" && g.Holder == iam.Group("staff")) {
			continue
		}
		if slices.ContainsFunc(on, func(r iam.Ref) bool { return r.Equal(g.On) }) {
			return true
		}
	}
	return false
}

var expiryDocs = []string{"d0", "d1", "d2", "d3"}

func expiryFolder(d string) iam.Ref {
	return iam.Ref{Type: "folder", ID: map[string]string{"d0": "f0", "d1": "f0", "d2": "f1", "d3": "f1"}[d]}
}

// contract 7d, differentially: random grants with and without expiries,
// revokes and re-grants, and a clock that moves on; after every step the
// memory store, SQLite and PostgreSQL (each through a Checker on the same
// fake clock, the SQL ones behind their cache) answer every check and
// every ListObjects as the model does.
func TestGrantExpiryDifferential(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	pol := iam.Policy{
		Roles: []*iam.Role{{Name: "doc.viewer", Perms: []string{"doc.view"}}},
		Perms: []iam.Perm{{Name: "doc.view", Types: []string{"doc", "folder"}}},
	}
	stores := map[string]iam.Store{
		"memory":   iam.NewMemoryStore(),
		"sqlite":   openSQLite(t, iamsql.Options{CacheTTL: time.Hour}),
		"postgres": openPostgres(t, iamsql.Options{CacheTTL: time.Hour}),
	}
	checkers := map[string]*iam.Checker{}
	for name, s := range stores {
		c, err := iam.NewWithOptions(pol, s, iam.Options{Now: now})
		require.NoError(t, err)
		checkers[name] = c
		require.NoError(t, s.AddMember(ctx, "bob", "staff"))
		for _, d := range expiryDocs {
			require.NoError(t, s.(iam.ParentStore).SetParents(ctx, doc(d), []iam.Ref{expiryFolder(d)}))
		}
	}
	m := &expiryModel{grants: map[iam.Grant]time.Time{}}
	r := rand.New(rand.NewPCG(4, 2))
	ons := []iam.Ref{doc("d0"), doc("d1"), doc("d2"), doc("d3"), {Type: "folder", ID: "f0"}, {Type: "folder", ID: "f1"},
		iam.TypeScope("doc"), iam.GlobalScope()}
	checks := 0
	for step := range 300 {
		g := iam.Grant{Holder: []iam.Principal{iam.User("ann"), iam.User("bob"), iam.Group("staff")}[r.IntN(3)], On: ons[r.IntN(len(ons))]}
		if r.IntN(2) == 0 {
			g.Perm = "doc.view"
		} else {
			g.Role = "doc.viewer"
		}
		if g.On.IsObject() && g.On.Type == "doc" && r.IntN(3) == 0 {
			g.On = doc(expiryDocs[r.IntN(len(expiryDocs))])
		}
		var exp time.Time
		switch r.IntN(4) {
		case 0: // no expiry
		case 1:
			exp = clock.Add(-time.Minute) // already past
		default:
			exp = clock.Add(time.Duration(1+r.IntN(10)) * time.Minute)
		}
		revoke := r.IntN(4) == 0
		for name, c := range checkers {
			var err error
			if revoke {
				err = c.Revoke(ctx, g)
			} else {
				eg := g
				eg.ExpiresAt = exp
				err = c.Grant(ctx, eg)
			}
			require.NoError(t, err, "%s step %d", name, step)
		}
		if revoke {
			delete(m.grants, g)
		} else {
			m.grants[g] = exp
		}
		clock = clock.Add(time.Duration(r.IntN(4)) * time.Minute)

		for _, u := range []string{"ann", "bob", "cy"} {
			subject := user(u)
			var wantIDs []string
			wantAll := m.allows(clock, u, []iam.Ref{iam.TypeScope("doc"), iam.GlobalScope()})
			for _, d := range expiryDocs {
				want := m.allows(clock, u, []iam.Ref{doc(d), expiryFolder(d), iam.TypeScope("doc"), iam.GlobalScope()})
				if want && !wantAll {
					wantIDs = append(wantIDs, d)
				}
				for name, c := range checkers {
					require.Equal(t, want, c.HasPerm(ctx, subject, "doc.view", doc(d)), "%s step %d: %s on %s at %v", name, step, u, d, clock)
					dec, err := c.Check(ctx, subject, "doc.view", doc(d))
					require.NoError(t, err)
					require.Equal(t, want, dec.Allowed, "%s step %d: Check %s on %s", name, step, u, d)
					checks += 2
				}
			}
			for name, c := range checkers {
				require.Equal(t, wantAll, c.HasPerm(ctx, subject, "doc.view", nil), "%s step %d: %s model level", name, step, u)
				list, err := c.ListObjects(ctx, subject, "doc.view", "doc", iam.ListOptions{})
				require.NoError(t, err)
				require.Equal(t, wantAll, list.All, "%s step %d: %s list All", name, step, u)
				if !wantAll {
					if diff := cmp.Diff(wantIDs, list.IDs); diff != "" {
						t.Fatalf("%s step %d: ListObjects for %s (-want +got):\n%s", name, step, u, diff)
					}
				}
				checks++
			}
		}
	}
	t.Logf("%d answers compared with the model over 300 steps", checks)
}

// A Manager hands out an expiring grant as any other, and the store keeps
// its expiry; the expired grant counts for nothing after.
func TestManagerExpiringGrant(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	s := openSQLite(t, iamsql.DefaultOptions())
	viewer := &iam.Role{Name: "doc.viewer", Perms: []string{"doc.view"}}
	c, err := iam.NewWithOptions(iam.Policy{Roles: []*iam.Role{viewer}}, s, iam.Options{Now: func() time.Time { return clock }})
	require.NoError(t, err)
	for _, p := range []string{"doc.view", iam.PermManageGrants} {
		require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("mia"), Perm: p, On: iam.GlobalScope()}))
	}
	m := iam.NewManager(c, iam.ManagerOptions{})
	g := iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc("1"), ExpiresAt: clock.Add(time.Hour)}
	require.NoError(t, m.Apply(ctx, user("mia"), iam.Change{Kind: iam.ChangeGrant, Grant: g}))
	held, err := s.GrantsHeldBy(ctx, iam.User("ann"))
	require.NoError(t, err)
	require.Len(t, held, 1)
	require.True(t, held[0].ExpiresAt.Equal(g.ExpiresAt), "stored expiry %v", held[0].ExpiresAt)
	require.True(t, c.HasPerm(ctx, user("ann"), "doc.view", doc("1")))
	clock = clock.Add(time.Hour)
	require.False(t, c.HasPerm(ctx, user("ann"), "doc.view", doc("1")), "expired")
	f, err := iamsql.AccessFilter(ctx, c, user("ann"), "doc.view", iamsql.FilterOptions{Type: "doc", Column: "d.id"})
	require.NoError(t, err)
	var n int
	require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT count(*) FROM (SELECT '1' AS id) d WHERE `+f.SQL, f.Args...).Scan(&n))
	require.Zero(t, n, "the access filter keeps no row for an expired grant")
}
