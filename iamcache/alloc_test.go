package iamcache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamcache"
)

// clockModes are the two ways a cache reads time: the real clock (hits read
// the coarse clock) and a custom clock (hits call it).
var clockModes = []struct {
	name string
	opts func() iamcache.Options
}{
	{"real_clock", func() iamcache.Options { return iamcache.Options{TTL: time.Hour} }},
	{"fake_clock", func() iamcache.Options { return iamcache.Options{TTL: time.Hour, Now: newFakeClock().Now} }},
}

// TestHitAllocs: a hit allocates nothing, does not call the inner store and
// returns the pointer the store returned (requirement 1). Negative results
// are hits too.
func TestHitAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters allocate")
	}
	ctx := context.Background()
	obj := iam.Ref{Type: "doc", ID: "1"}
	parent := iam.Ref{Type: "folder", ID: "9"}
	for _, mode := range clockModes {
		t.Run(mode.name, func(t *testing.T) {
			inner := newCountingStore()
			require.NoError(t, inner.PutProfile(ctx, iam.Profile{Holder: iam.User("u1"), Role: viewer.Name, Active: true}))
			require.NoError(t, inner.Grant(ctx, iam.Grant{Holder: iam.User("u1"), Perm: "doc.view", On: obj}))
			require.NoError(t, inner.SetParents(ctx, obj, []iam.Ref{parent}))
			c := iamcache.New(inner, mode.opts())
			wantH, _ := inner.MemoryStore.Holding(ctx, iam.User("u1"))
			wantG, _ := inner.MemoryStore.Grants(ctx, obj)
			var (
				gotH *iam.Holding
				gotG *iam.GrantSet
				gotP []iam.Ref
				err  error
			)
			reads := []struct {
				name  string
				read  func() // stores into gotH, gotG or gotP, and err
				check func(t *testing.T)
			}{
				{"holding", func() { gotH, err = c.Holding(ctx, iam.User("u1")) }, func(t *testing.T) { require.Same(t, wantH, gotH) }},
				{"holding_unknown", func() { gotH, err = c.Holding(ctx, iam.User("nobody")) }, func(t *testing.T) { require.Nil(t, gotH) }},
				{"grants", func() { gotG, err = c.Grants(ctx, obj) }, func(t *testing.T) { require.Same(t, wantG, gotG) }},
				{"grants_none", func() { gotG, err = c.Grants(ctx, iam.Ref{Type: "doc", ID: "2"}) }, func(t *testing.T) { require.Nil(t, gotG) }},
				{"parents", func() { gotP, err = c.Parents(ctx, obj) }, func(t *testing.T) { require.Equal(t, []iam.Ref{parent}, gotP) }},
				{"parents_none", func() { gotP, err = c.Parents(ctx, parent) }, func(t *testing.T) { require.Nil(t, gotP) }},
			}
			for _, r := range reads {
				t.Run(r.name, func(t *testing.T) {
					r.read() // the miss
					require.NoError(t, err)
					r.check(t)
					calls := inner.total()
					n := testing.AllocsPerRun(1000, r.read)
					require.NoError(t, err)
					require.Zero(t, n, "allocs per hit")
					require.Equal(t, calls, inner.total(), "a hit called the inner store")
					r.check(t) // the same pointer as the store's
				})
			}
		})
	}
}

// The fixture of the §5 benchmarks, over any store: 100 roles of 5
// permissions; users hold 3 roles each; user u0 holds role 0, which grants
// app.perm_0_2; u0 has doc.view on doc:d0.
func checkFixture(tb testing.TB, users int) *iam.MemoryStore {
	tb.Helper()
	store := iam.NewMemoryStore()
	err := store.Transact(context.Background(), func(ctx context.Context, tx iam.Store) error {
		for u := range users {
			for k := range 3 {
				r := fmt.Sprintf("app.role_%d", (u*7+k*31)%100)
				if err := tx.PutProfile(ctx, iam.Profile{Holder: iam.User(fmt.Sprint("u", u)), Role: r, Active: true}); err != nil {
					return err
				}
			}
		}
		return tx.Grant(ctx, iam.Grant{Holder: iam.User("u0"), Perm: "doc.view", On: iam.Ref{Type: "doc", ID: "d0"}})
	})
	require.NoError(tb, err)
	return store
}

func checkPolicy() iam.Policy {
	roles := make([]*iam.Role, 100)
	for i := range roles {
		perms := make([]string, 5)
		for j := range perms {
			perms[j] = fmt.Sprintf("app.perm_%d_%d", i, j)
		}
		roles[i] = &iam.Role{Name: fmt.Sprintf("app.role_%d", i), Perms: perms}
	}
	return iam.Policy{Roles: roles, Rules: map[string]iam.Predicate{"doc.view": iam.Never()}}
}

// TestWarmCheckAllocs: a warm check through a Checker over the cache
// allocates nothing and reads no store (requirement 1).
func TestWarmCheckAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters allocate")
	}
	ctx := context.Background()
	for _, mode := range clockModes {
		t.Run(mode.name, func(t *testing.T) {
			inner := &countingStore{MemoryStore: checkFixture(t, 100), calls: map[string]int{}}
			c := iamcache.New(inner, mode.opts())
			checker, err := iam.New(checkPolicy(), c)
			require.NoError(t, err)
			var u iam.Subject = user{"u0"} // boxed once: the check itself must not allocate
			doc := iam.Ref{Type: "doc", ID: "d0"}
			for _, tc := range []struct {
				name string
				perm string
				obj  iam.Object
			}{
				{"global_role", "app.perm_0_2", nil},
				{"object_grant", "doc.view", doc},
			} {
				t.Run(tc.name, func(t *testing.T) {
					require.True(t, checker.HasPerm(ctx, u, tc.perm, tc.obj)) // cold
					calls := inner.total()
					allowed := false
					n := testing.AllocsPerRun(1000, func() { allowed = checker.HasPerm(ctx, u, tc.perm, tc.obj) })
					require.True(t, allowed)
					require.Zero(t, n, "allocs per warm check")
					require.Equal(t, calls, inner.total(), "a warm check read the store")
				})
			}
		})
	}
}
