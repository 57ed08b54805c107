package iamcache_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamcache"
)

// view turns a read's result into plain data for cmp: stores that build new
// values on every read (the loader fake) are compared by content.
func view(v any) any {
	switch v := v.(type) {
	case *iam.Holding:
		if v == nil {
			return nil
		}
		return struct {
			Profiles []iam.Profile
			Groups   []string
		}{v.Profiles(), v.Groups()}
	case *iam.GrantSet:
		if v == nil {
			return nil
		}
		return v.Grants(iam.GlobalScope())
	case []iam.Ref:
		if len(v) == 0 {
			return nil
		}
		return v
	}
	return v
}

// TestEpochGuard: a load that began before an invalidation does not store
// what it read. The fake store has read the old data and blocks; the key is
// invalidated and the data changed; released, the blocked read returns the
// old data to its caller, and the next read calls the store again and sees
// the new data (requirement 4). The loader cases check the other entries of
// a batch (a group filled by its member's load, a type's grants and an
// object's parents filled by the object's load).
func TestEpochGuard(t *testing.T) {
	ctx := context.Background()
	obj := iam.Ref{Type: "doc", ID: "1"}
	typ := iam.TypeScope("doc")
	u1, staff := iam.User("u1"), iam.Group("staff")
	holding := func(p iam.Principal) func(context.Context, iam.Store) (any, error) {
		return func(ctx context.Context, s iam.Store) (any, error) { return s.Holding(ctx, p) }
	}
	grants := func(r iam.Ref) func(context.Context, iam.Store) (any, error) {
		return func(ctx context.Context, s iam.Store) (any, error) { return s.Grants(ctx, r) }
	}
	parents := func(ctx context.Context, s iam.Store) (any, error) { return s.(iam.ParentStore).Parents(ctx, obj) }
	type change func(ctx context.Context, m *iam.MemoryStore) error
	putProfile := func(p iam.Principal) change {
		return func(ctx context.Context, m *iam.MemoryStore) error {
			return m.PutProfile(ctx, iam.Profile{Holder: p, Role: editor.Name, Active: true})
		}
	}
	grant := func(r iam.Ref) change {
		return func(ctx context.Context, m *iam.MemoryStore) error {
			return m.Grant(ctx, iam.Grant{Holder: iam.User("u2"), Perm: "doc.edit", On: r})
		}
	}
	setParents := func(ctx context.Context, m *iam.MemoryStore) error {
		return m.SetParents(ctx, obj, []iam.Ref{{Type: "folder", ID: "other"}})
	}
	cases := []struct {
		name    string
		loader  bool
		op      string // the blocked operation
		load    func(context.Context, iam.Store) (any, error)
		key     iamcache.Key // zero: InvalidateAll
		change  change
		reread  func(context.Context, iam.Store) (any, error)
		readsOp string
	}{
		{"holding", false, opHolding, holding(u1), iamcache.HoldingKey(u1), putProfile(u1), holding(u1), opHolding},
		{"holding_all", false, opHolding, holding(u1), iamcache.Key{}, putProfile(u1), holding(u1), opHolding},
		{"grants", false, opGrants, grants(obj), iamcache.GrantsKey(obj), grant(obj), grants(obj), opGrants},
		{"grants_all", false, opGrants, grants(obj), iamcache.Key{}, grant(obj), grants(obj), opGrants},
		{"parents", false, opParents, parents, iamcache.ParentsKey(obj), setParents, parents, opParents},
		{"load_holdings", true, opLoadHoldings, holding(u1), iamcache.HoldingKey(u1), putProfile(u1), holding(u1), opLoadHoldings},
		{"load_holdings_group", true, opLoadHoldings, holding(u1), iamcache.HoldingKey(staff), putProfile(staff), holding(staff), opLoadHoldings},
		{"load_holdings_all", true, opLoadHoldings, holding(u1), iamcache.Key{}, putProfile(staff), holding(staff), opLoadHoldings},
		{"load_grants", true, opLoadGrants, grants(obj), iamcache.GrantsKey(obj), grant(obj), grants(obj), opLoadGrants},
		{"load_grants_type", true, opLoadGrants, grants(obj), iamcache.GrantsKey(typ), grant(typ), grants(typ), opLoadGrants},
		{"load_grants_global", true, opLoadGrants, grants(obj), iamcache.GrantsKey(iam.GlobalScope()), grant(iam.GlobalScope()), grants(iam.GlobalScope()), opLoadGrants},
		{"load_grants_parents", true, opLoadGrants, grants(obj), iamcache.ParentsKey(obj), setParents, parents, opLoadGrants},
		{"load_grants_all", true, opLoadGrants, grants(obj), iamcache.Key{}, grant(typ), grants(typ), opLoadGrants},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			counter := newCountingStore()
			var inner iam.Store = counter
			if tc.loader {
				inner = loaderStore{counter}
			}
			mem := counter.MemoryStore
			require.NoError(t, mem.PutProfile(ctx, iam.Profile{Holder: u1, Role: viewer.Name, Active: true}))
			require.NoError(t, mem.PutProfile(ctx, iam.Profile{Holder: staff, Role: viewer.Name, Active: true}))
			require.NoError(t, mem.AddMember(ctx, "u1", "staff"))
			for _, r := range []iam.Ref{obj, typ, iam.GlobalScope()} {
				require.NoError(t, mem.Grant(ctx, iam.Grant{Holder: u1, Perm: "doc.view", On: r}))
			}
			require.NoError(t, mem.SetParents(ctx, obj, []iam.Ref{{Type: "folder", ID: "2"}}))

			old, err := tc.load(ctx, mem)
			require.NoError(t, err)
			c := iamcache.New(inner, iamcache.Options{TTL: time.Hour})
			g := newGate(tc.op)
			counter.setHook(g.once())
			got := make(chan any, 1)
			go func() {
				v, err := tc.load(ctx, c)
				assert.NoError(t, err)
				got <- v
			}()
			<-g.entered // the store has read the old data
			if tc.key == (iamcache.Key{}) {
				c.InvalidateAll()
			} else {
				c.Invalidate(tc.key)
			}
			require.NoError(t, tc.change(ctx, mem))
			close(g.release)
			require.Empty(t, cmp.Diff(view(old), view(<-got)), "the blocked read returns what it read")

			calls := counter.count(tc.readsOp)
			now, err := tc.reread(ctx, c)
			require.NoError(t, err)
			require.Equal(t, calls+1, counter.count(tc.readsOp), "the next read must load again")
			want, err := tc.reread(ctx, mem)
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(view(want), view(now)))
			require.NotEmpty(t, cmp.Diff(view(old), view(want)), "the change changed nothing")
		})
	}
}

// TestConcurrentConsistency: many goroutines read through the cache, write
// through it, write behind its back and invalidate, and invalidate
// everything; once they stop, every read through the cache equals the
// inner store's (requirement 4). Run with -race.
func TestConcurrentConsistency(t *testing.T) {
	for _, tc := range []struct {
		name       string
		loader     bool
		maxEntries int
	}{
		{"plain", false, 0},
		{"loaders", true, 0},
		{"plain_evicting", false, 8},
		{"loaders_evicting", true, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testConsistency(t, tc.loader, tc.maxEntries)
		})
	}
}

func testConsistency(t *testing.T, loader bool, maxEntries int) {
	ctx := context.Background()
	counter := newCountingStore()
	var inner iam.Store = counter
	if loader {
		inner = loaderStore{counter}
	}
	mem := counter.MemoryStore
	c := iamcache.New(inner, iamcache.Options{TTL: time.Hour, MaxEntries: maxEntries})
	checker, err := iam.New(policy, c)
	require.NoError(t, err)

	var principals []iam.Principal
	var users, groups []string
	for i := range 6 {
		users = append(users, fmt.Sprint("u", i))
		principals = append(principals, iam.User(fmt.Sprint("u", i)))
	}
	for i := range 3 {
		groups = append(groups, fmt.Sprint("g", i))
		principals = append(principals, iam.Group(fmt.Sprint("g", i)))
	}
	refs := []iam.Ref{iam.GlobalScope(), iam.TypeScope("doc"), iam.TypeScope("folder")}
	var objs []iam.Ref
	for i := range 6 {
		objs = append(objs, iam.Ref{Type: "doc", ID: fmt.Sprint(i)}, iam.Ref{Type: "folder", ID: fmt.Sprint(i)})
	}
	refs = append(refs, objs...)
	roles := []string{viewer.Name, editor.Name}
	perms := []string{"doc.view", "doc.edit"}

	// write makes one random change to s and returns the key it changed.
	write := func(r *rand.Rand, s iam.Store) iamcache.Key {
		p := principals[r.IntN(len(principals))]
		ref := refs[r.IntN(len(refs))]
		obj := objs[r.IntN(len(objs))]
		switch r.IntN(9) {
		case 0:
			_ = s.PutProfile(ctx, iam.Profile{Holder: p, Role: roles[r.IntN(2)], Active: r.IntN(2) == 0})
			return iamcache.HoldingKey(p)
		case 1:
			_ = s.SetProfileActive(ctx, p, roles[r.IntN(2)], r.IntN(2) == 0) // may be ErrNotFound
			return iamcache.HoldingKey(p)
		case 2:
			_ = s.DeleteProfile(ctx, p, roles[r.IntN(2)])
			return iamcache.HoldingKey(p)
		case 3:
			u := users[r.IntN(len(users))]
			_ = s.AddMember(ctx, u, groups[r.IntN(len(groups))])
			return iamcache.HoldingKey(iam.User(u))
		case 4:
			u := users[r.IntN(len(users))]
			_ = s.RemoveMember(ctx, u, groups[r.IntN(len(groups))])
			return iamcache.HoldingKey(iam.User(u))
		case 5:
			_ = s.Grant(ctx, iam.Grant{Holder: p, Perm: perms[r.IntN(2)], On: ref})
			return iamcache.GrantsKey(ref)
		case 6:
			_ = s.Revoke(ctx, iam.Grant{Holder: p, Perm: perms[r.IntN(2)], On: ref})
			return iamcache.GrantsKey(ref)
		case 7:
			_ = s.DeleteGrantsOn(ctx, ref)
			return iamcache.GrantsKey(ref)
		default:
			var ps []iam.Ref
			if r.IntN(3) > 0 {
				ps = []iam.Ref{objs[r.IntN(len(objs))]}
			}
			_ = s.(iam.ParentStore).SetParents(ctx, obj, ps)
			return iamcache.ParentsKey(obj)
		}
	}

	var wg sync.WaitGroup
	for g := range 4 { // readers
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 3000 {
				switch r.IntN(4) {
				case 0:
					_, err := c.Holding(ctx, principals[r.IntN(len(principals))])
					assert.NoError(t, err)
				case 1:
					_, err := c.Grants(ctx, refs[r.IntN(len(refs))])
					assert.NoError(t, err)
				case 2:
					_, err := c.Parents(ctx, objs[r.IntN(len(objs))])
					assert.NoError(t, err)
				default:
					_, err := checker.Check(ctx, user{users[r.IntN(len(users))]}, perms[r.IntN(2)], objs[r.IntN(len(objs))])
					assert.NoError(t, err)
				}
			}
		})
	}
	for g := range 2 { // writers through the cache
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 2))
			for range 400 {
				write(r, c)
			}
		})
	}
	wg.Go(func() { // writes behind the cache's back, then a notification
		r := rand.New(rand.NewPCG(3, 3))
		for range 400 {
			c.Invalidate(write(r, mem))
		}
	})
	wg.Go(func() { // a listener that reconnects now and then
		for range 20 {
			c.InvalidateAll()
			for range 50 {
				_, _ = c.Grants(ctx, iam.GlobalScope())
			}
		}
	})
	wg.Wait()

	for _, p := range principals {
		got, err := c.Holding(ctx, p)
		require.NoError(t, err)
		want, _ := mem.Holding(ctx, p)
		require.Empty(t, cmp.Diff(view(want), view(got)), "holding of %s", p)
	}
	for _, ref := range refs {
		got, err := c.Grants(ctx, ref)
		require.NoError(t, err)
		want, _ := mem.Grants(ctx, ref)
		require.Empty(t, cmp.Diff(view(want), view(got)), "grants on %s", ref)
	}
	for _, obj := range objs {
		got, err := c.Parents(ctx, obj)
		require.NoError(t, err)
		want, _ := mem.Parents(ctx, obj)
		require.Empty(t, cmp.Diff(view(want), view(got)), "parents of %s", obj)
	}
	if maxEntries > 0 {
		require.LessOrEqual(t, c.Stats().Entries, maxEntries)
	}
}

// TestInvalidateDetachesFlight: a read that starts after Invalidate (or
// InvalidateAll) returned does not join a load that began before it: it
// loads again and sees the change at once (docs/contract.md line 15), while the
// old load is still blocked.
func TestInvalidateDetachesFlight(t *testing.T) {
	ctx := context.Background()
	obj := iam.Ref{Type: "doc", ID: "1"}
	for _, tc := range []struct {
		name   string
		loader bool
		all    bool
	}{
		{"key", false, false},
		{"all", false, true},
		{"loader_key", true, false},
		{"loader_all", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counter := newCountingStore()
			var inner iam.Store = counter
			op := opGrants
			if tc.loader {
				inner, op = loaderStore{counter}, opLoadGrants
			}
			c := iamcache.New(inner, iamcache.Options{TTL: time.Hour})
			g := newGate(op)
			counter.setHook(g.once())
			old := make(chan *iam.GrantSet, 1)
			go func() {
				gs, err := c.Grants(ctx, obj)
				assert.NoError(t, err)
				old <- gs
			}()
			<-g.entered // read nil, blocked
			require.NoError(t, counter.MemoryStore.Grant(ctx, iam.Grant{Holder: iam.User("u1"), Perm: "doc.view", On: obj}))
			if tc.all {
				c.InvalidateAll()
			} else {
				c.Invalidate(iamcache.GrantsKey(obj))
			}
			gs, err := c.Grants(ctx, obj) // would hang on the old flight
			require.NoError(t, err)
			require.Equal(t, 1, gs.Len())
			close(g.release)
			require.Nil(t, <-old)
			gs, err = c.Grants(ctx, obj)
			require.NoError(t, err)
			require.Equal(t, 1, gs.Len(), "the old load stored its stale nil")
		})
	}
}
