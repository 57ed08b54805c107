package iamcache_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamcache"
)

// TestLoaderRoundTrips: with the batch loaders, a fully cold check of a user
// in one group on an object with no parents costs exactly 2 inner calls; a
// second user of the same group on another object 2 more; warm checks none.
// Entries already cached are kept, not replaced (requirement 5).
func TestLoaderRoundTrips(t *testing.T) {
	ctx := context.Background()
	inner := newLoaderStore()
	d1, d2 := iam.Ref{Type: "doc", ID: "1"}, iam.Ref{Type: "doc", ID: "2"}
	require.NoError(t, inner.PutProfile(ctx, iam.Profile{Holder: iam.Group("staff"), Role: viewer.Name, Active: false}))
	for _, u := range []string{"u1", "u2"} {
		require.NoError(t, inner.AddMember(ctx, u, "staff"))
	}
	for _, d := range []iam.Ref{d1, d2} {
		require.NoError(t, inner.Grant(ctx, iam.Grant{Holder: iam.Group("staff"), Perm: "doc.edit", On: d}))
	}
	require.NoError(t, inner.Grant(ctx, iam.Grant{Holder: iam.User("boss"), Perm: "doc.edit", On: iam.TypeScope("doc")}))
	require.NoError(t, inner.Grant(ctx, iam.Grant{Holder: iam.User("root"), Perm: "doc.edit", On: iam.GlobalScope()}))
	c := iamcache.New(inner, iamcache.Options{TTL: time.Hour})
	checker, err := iam.New(policy, c)
	require.NoError(t, err)

	steps := []struct {
		name      string
		u         string
		obj       iam.Ref
		wantCalls map[string]int
	}{
		{"cold", "u1", d1, map[string]int{opLoadHoldings: 1, opLoadGrants: 1}},
		{"second_user_other_object", "u2", d2, map[string]int{opLoadHoldings: 1, opLoadGrants: 1}},
		{"warm", "u1", d1, map[string]int{}},
		{"warm_second", "u2", d2, map[string]int{}},
	}
	var group *iam.Holding
	var global *iam.GrantSet
	for _, st := range steps {
		before := map[string]int{}
		for _, op := range []string{opHolding, opGrants, opParents, opLoadHoldings, opLoadGrants} {
			before[op] = inner.count(op)
		}
		d, err := checker.Check(ctx, user{st.u}, "doc.edit", st.obj)
		require.NoError(t, err, st.name)
		require.True(t, d.Allowed, st.name)
		got := map[string]int{}
		for op, n := range before {
			if k := inner.count(op) - n; k > 0 {
				got[op] = k
			}
		}
		require.Empty(t, cmp.Diff(st.wantCalls, got), st.name)

		// The group's Holding and the global grants stay the pointers
		// first cached, though each load returned new ones.
		calls := inner.total()
		g, err := c.Holding(ctx, iam.Group("staff"))
		require.NoError(t, err)
		gl, err := c.Grants(ctx, iam.GlobalScope())
		require.NoError(t, err)
		require.Equal(t, calls, inner.total())
		if group == nil {
			group, global = g, gl
		}
		require.Same(t, group, g, st.name)
		require.Same(t, global, gl, st.name)
	}
}

// TestLoaderWithoutParents: a GrantsLoader that does not record parents
// (ParentsLoaded false) makes the cache read Parents from the ParentStore.
func TestLoaderWithoutParents(t *testing.T) {
	ctx := context.Background()
	inner := noParentsLoader{newLoaderStore()}
	obj := iam.Ref{Type: "doc", ID: "1"}
	folder := iam.Ref{Type: "folder", ID: "f"}
	require.NoError(t, inner.SetParents(ctx, obj, []iam.Ref{folder}))
	c := iamcache.New(inner, iamcache.Options{TTL: time.Hour})
	for range 2 {
		ps, err := c.Parents(ctx, obj)
		require.NoError(t, err)
		require.Equal(t, []iam.Ref{folder}, ps)
	}
	require.Equal(t, 1, inner.count(opParents))
	require.Equal(t, 1, inner.count(opLoadGrants))
}

type noParentsLoader struct{ loaderStore }

func (s noParentsLoader) LoadGrants(ctx context.Context, on iam.Ref) (iamcache.GrantsBundle, error) {
	b, err := s.loaderStore.LoadGrants(ctx, on)
	b.Parents, b.ParentsLoaded = nil, false
	return b, err
}

// TestTTL: an entry is served until its TTL has passed and never after;
// then it is reloaded (requirement 6, fake clock).
func TestTTL(t *testing.T) {
	ctx := context.Background()
	const ttl = time.Minute
	obj := iam.Ref{Type: "doc", ID: "1"}
	for _, tc := range []struct {
		name string
		op   string
		read func(c *iamcache.Cache) error
	}{
		{"holding", opHolding, func(c *iamcache.Cache) error { _, err := c.Holding(ctx, iam.User("u1")); return err }},
		{"holding_negative", opHolding, func(c *iamcache.Cache) error { _, err := c.Holding(ctx, iam.User("nobody")); return err }},
		{"grants", opGrants, func(c *iamcache.Cache) error { _, err := c.Grants(ctx, obj); return err }},
		{"parents", opParents, func(c *iamcache.Cache) error { _, err := c.Parents(ctx, obj); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := newCountingStore()
			require.NoError(t, inner.PutProfile(ctx, iam.Profile{Holder: iam.User("u1"), Role: viewer.Name, Active: true}))
			clock := newFakeClock()
			c := iamcache.New(inner, iamcache.Options{TTL: ttl, Now: clock.Now})
			steps := []struct {
				advance time.Duration
				calls   int
			}{
				{0, 1},        // miss
				{ttl - 1, 1},  // still fresh
				{1, 2},        // exactly TTL: reloaded
				{ttl / 2, 2},  // fresh again
				{ttl / 2, 3},  // expired again
				{10 * ttl, 4}, // long after
				{ttl - 1, 4},
			}
			for i, st := range steps {
				clock.Advance(st.advance)
				require.NoError(t, tc.read(c))
				require.Equal(t, st.calls, inner.count(tc.op), "step %d", i)
			}
		})
	}
}

// TestNoCaching: the zero Options (and a negative TTL) cache nothing: every
// read goes to the store, and checks are still right (requirement 6).
func TestNoCaching(t *testing.T) {
	ctx := context.Background()
	for _, opts := range []iamcache.Options{{}, {TTL: -time.Second}} {
		inner := newCountingStore()
		c := iamcache.New(inner, opts)
		checker, err := iam.New(policy, c)
		require.NoError(t, err)
		obj := iam.Ref{Type: "doc", ID: "1"}
		require.False(t, checker.HasPerm(ctx, user{"u1"}, "doc.view", obj))
		require.NoError(t, inner.Grant(ctx, iam.Grant{Holder: iam.User("u1"), Perm: "doc.view", On: obj})) // behind its back
		require.True(t, checker.HasPerm(ctx, user{"u1"}, "doc.view", obj))
		before := inner.count(opHolding)
		require.Positive(t, before, "the checks read no holding")
		for range 3 {
			_, err := c.Holding(ctx, iam.User("u1"))
			require.NoError(t, err)
		}
		require.Equal(t, before+3, inner.count(opHolding), "a read was answered without the store")
		st := c.Stats()
		require.Zero(t, st.Hits)
		require.Zero(t, st.Entries)
		require.Equal(t, uint64(inner.total()), st.Loads)
	}
}

// TestFresh: a read whose context comes from Fresh goes to the store and
// neither reads nor fills the cache (requirement 6).
func TestFresh(t *testing.T) {
	ctx := context.Background()
	inner := newCountingStore()
	obj := iam.Ref{Type: "doc", ID: "1"}
	c := iamcache.New(inner, iamcache.Options{TTL: time.Hour})
	_, err := c.Grants(ctx, obj) // caches "no grants"
	require.NoError(t, err)
	_, err = c.Holding(ctx, iam.User("u1"))
	require.NoError(t, err)
	_, err = c.Parents(ctx, obj)
	require.NoError(t, err)
	// Changes behind the cache's back, not notified.
	require.NoError(t, inner.Grant(ctx, iam.Grant{Holder: iam.User("u1"), Perm: "doc.view", On: obj}))
	require.NoError(t, inner.PutProfile(ctx, iam.Profile{Holder: iam.User("u1"), Role: viewer.Name, Active: true}))
	require.NoError(t, inner.SetParents(ctx, obj, []iam.Ref{{Type: "folder", ID: "f"}}))

	fresh := iamcache.Fresh(ctx)
	gs, err := c.Grants(fresh, obj)
	require.NoError(t, err)
	require.Equal(t, 1, gs.Len())
	h, err := c.Holding(fresh, iam.User("u1"))
	require.NoError(t, err)
	require.Len(t, h.Profiles(), 1)
	ps, err := c.Parents(fresh, obj)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	require.Equal(t, 2, inner.count(opGrants))

	// The cache still holds (and serves) what it had: Fresh did not fill it.
	gs, err = c.Grants(ctx, obj)
	require.NoError(t, err)
	require.Nil(t, gs)
	h, err = c.Holding(ctx, iam.User("u1"))
	require.NoError(t, err)
	require.Nil(t, h)
	require.Equal(t, 2, inner.count(opGrants))

	checker, err := iam.New(policy, c)
	require.NoError(t, err)
	require.False(t, checker.HasPerm(ctx, user{"u1"}, "doc.view", obj))
	require.True(t, checker.HasPerm(fresh, user{"u1"}, "doc.view", obj))
}

// TestWritesVisible: a write through the cache is visible to the next check
// at once, in both directions, for every write method (docs/contract.md line 15,
// requirement 7). Each case first warms the cache with the old answer.
func TestWritesVisible(t *testing.T) {
	ctx := context.Background()
	d1 := iam.Ref{Type: "doc", ID: "1"}
	folder := iam.Ref{Type: "folder", ID: "f"}
	u1 := iam.User("u1")
	staff := iam.Group("staff")
	type op func(c *iamcache.Cache) error
	putProfile := func(p iam.Principal, role string, active bool) op {
		return func(c *iamcache.Cache) error {
			return c.PutProfile(ctx, iam.Profile{Holder: p, Role: role, Active: active})
		}
	}
	grant := func(g iam.Grant) op { return func(c *iamcache.Cache) error { return c.Grant(ctx, g) } }
	revoke := func(g iam.Grant) op { return func(c *iamcache.Cache) error { return c.Revoke(ctx, g) } }
	ops := func(fs ...op) []op { return fs }
	cases := []struct {
		name   string
		setup  []op
		write  op
		perm   string
		obj    iam.Object
		before bool
	}{
		{"PutProfile/allow", nil, putProfile(u1, viewer.Name, true), "doc.view", nil, false},
		{"PutProfile/inactive_denies", ops(putProfile(u1, viewer.Name, true)), putProfile(u1, viewer.Name, false), "doc.view", nil, true},
		{"PutProfile/group_allow", ops(func(c *iamcache.Cache) error { return c.AddMember(ctx, "u1", "staff") }),
			putProfile(staff, editor.Name, true), "doc.edit", d1, false},
		{"SetProfileActive/deny", ops(putProfile(u1, viewer.Name, true)),
			func(c *iamcache.Cache) error { return c.SetProfileActive(ctx, u1, viewer.Name, false) }, "doc.view", nil, true},
		{"SetProfileActive/allow", ops(putProfile(u1, viewer.Name, false)),
			func(c *iamcache.Cache) error { return c.SetProfileActive(ctx, u1, viewer.Name, true) }, "doc.view", nil, false},
		{"SetProfileActive/group_deny", ops(putProfile(staff, viewer.Name, true), func(c *iamcache.Cache) error { return c.AddMember(ctx, "u1", "staff") }),
			func(c *iamcache.Cache) error { return c.SetProfileActive(ctx, staff, viewer.Name, false) }, "doc.view", d1, true},
		{"DeleteProfile/deny", ops(putProfile(u1, editor.Name, true)),
			func(c *iamcache.Cache) error { return c.DeleteProfile(ctx, u1, editor.Name) }, "doc.edit", d1, true},
		{"AddMember/allow", ops(putProfile(staff, viewer.Name, true)),
			func(c *iamcache.Cache) error { return c.AddMember(ctx, "u1", "staff") }, "doc.view", nil, false},
		{"AddMember/group_grant_allow", ops(grant(iam.Grant{Holder: staff, Perm: "doc.edit", On: d1})),
			func(c *iamcache.Cache) error { return c.AddMember(ctx, "u1", "staff") }, "doc.edit", d1, false},
		{"RemoveMember/deny", ops(putProfile(staff, viewer.Name, true), func(c *iamcache.Cache) error { return c.AddMember(ctx, "u1", "staff") }),
			func(c *iamcache.Cache) error { return c.RemoveMember(ctx, "u1", "staff") }, "doc.view", nil, true},
		{"Grant/object_allow", nil, grant(iam.Grant{Holder: u1, Perm: "doc.edit", On: d1}), "doc.edit", d1, false},
		{"Grant/local_role_allow", nil, grant(iam.Grant{Holder: u1, Role: editor.Name, On: d1}), "doc.edit", d1, false},
		{"Grant/type_allow", nil, grant(iam.Grant{Holder: u1, Perm: "doc.edit", On: iam.TypeScope("doc")}), "doc.edit", d1, false},
		{"Grant/global_allow", nil, grant(iam.Grant{Holder: u1, Perm: "doc.edit", On: iam.GlobalScope()}), "doc.edit", d1, false},
		{"Grant/parent_allow", ops(func(c *iamcache.Cache) error { return c.SetParents(ctx, d1, []iam.Ref{folder}) }),
			grant(iam.Grant{Holder: u1, Perm: "doc.edit", On: folder}), "doc.edit", d1, false},
		{"Revoke/object_deny", ops(grant(iam.Grant{Holder: u1, Perm: "doc.edit", On: d1})),
			revoke(iam.Grant{Holder: u1, Perm: "doc.edit", On: d1}), "doc.edit", d1, true},
		{"Revoke/group_deny", ops(grant(iam.Grant{Holder: staff, Perm: "doc.edit", On: d1}), func(c *iamcache.Cache) error { return c.AddMember(ctx, "u1", "staff") }),
			revoke(iam.Grant{Holder: staff, Perm: "doc.edit", On: d1}), "doc.edit", d1, true},
		{"Revoke/type_deny", ops(grant(iam.Grant{Holder: u1, Perm: "doc.edit", On: iam.TypeScope("doc")})),
			revoke(iam.Grant{Holder: u1, Perm: "doc.edit", On: iam.TypeScope("doc")}), "doc.edit", d1, true},
		{"Revoke/global_deny", ops(grant(iam.Grant{Holder: u1, Role: viewer.Name, On: iam.GlobalScope()})),
			revoke(iam.Grant{Holder: u1, Role: viewer.Name, On: iam.GlobalScope()}), "doc.view", nil, true},
		{"DeleteGrantsOn/deny", ops(grant(iam.Grant{Holder: u1, Perm: "doc.edit", On: d1})),
			func(c *iamcache.Cache) error { return c.DeleteGrantsOn(ctx, d1) }, "doc.edit", d1, true},
		{"SetParents/allow", ops(grant(iam.Grant{Holder: u1, Perm: "doc.edit", On: folder})),
			func(c *iamcache.Cache) error { return c.SetParents(ctx, d1, []iam.Ref{folder}) }, "doc.edit", d1, false},
		{"SetParents/deny", ops(grant(iam.Grant{Holder: u1, Perm: "doc.edit", On: folder}), func(c *iamcache.Cache) error { return c.SetParents(ctx, d1, []iam.Ref{folder}) }),
			func(c *iamcache.Cache) error { return c.SetParents(ctx, d1, nil) }, "doc.edit", d1, true},
	}
	for _, store := range []struct {
		name string
		mk   func() iam.Store
	}{
		{"memory", func() iam.Store { return iam.NewMemoryStore() }},
		{"loaders", func() iam.Store { return newLoaderStore() }},
	} {
		for _, tc := range cases {
			t.Run(store.name+"/"+tc.name, func(t *testing.T) {
				c := iamcache.New(store.mk(), iamcache.Options{TTL: time.Hour})
				checker, err := iam.New(policy, c)
				require.NoError(t, err)
				for _, s := range tc.setup {
					require.NoError(t, s(c))
				}
				require.Equal(t, tc.before, checker.HasPerm(ctx, user{"u1"}, tc.perm, tc.obj), "before (warms the cache)")
				require.Equal(t, tc.before, checker.HasPerm(ctx, user{"u1"}, tc.perm, tc.obj), "before, warm")
				require.NoError(t, tc.write(c))
				require.Equal(t, !tc.before, checker.HasPerm(ctx, user{"u1"}, tc.perm, tc.obj), "after the write")
			})
		}
	}
}

// failingWrites is a store whose writes apply and then report an error, as
// a database whose commit succeeded but whose answer was lost.
type failingWrites struct{ *iam.MemoryStore }

func (s failingWrites) Grant(ctx context.Context, g iam.Grant) error {
	_ = s.MemoryStore.Grant(ctx, g)
	return errBoom
}

// TestWriteErrorInvalidates: a write that returned an error may have been
// applied, so the cache invalidates anyway.
func TestWriteErrorInvalidates(t *testing.T) {
	ctx := context.Background()
	obj := iam.Ref{Type: "doc", ID: "1"}
	c := iamcache.New(failingWrites{iam.NewMemoryStore()}, iamcache.Options{TTL: time.Hour})
	gs, err := c.Grants(ctx, obj)
	require.NoError(t, err)
	require.Nil(t, gs)
	require.ErrorIs(t, c.Grant(ctx, iam.Grant{Holder: iam.User("u1"), Perm: "doc.view", On: obj}), errBoom)
	gs, err = c.Grants(ctx, obj)
	require.NoError(t, err)
	require.Equal(t, 1, gs.Len())
}

// TestStoreFaults: store errors, timeouts and cancelled contexts seen by
// the inner store make the Checker over the cache deny, with an error that
// wraps the store's; the failure is not cached, and a later successful read
// is not poisoned (docs/contract.md line 17, requirement 8).
func TestStoreFaults(t *testing.T) {
	obj := iam.Ref{Type: "doc", ID: "1"}
	parent := iam.Ref{Type: "folder", ID: "f"}
	for _, loader := range []bool{false, true} {
		for _, fault := range []struct {
			name string
			op   string // the failing operation ("" : any)
			err  error  // nil: the hook cancels the check's context and returns its error
		}{
			{"holding_error", opHolding, errBoom},
			{"holding_timeout", opHolding, context.DeadlineExceeded},
			{"holding_cancelled", opHolding, nil},
			{"grants_error", opGrants, errBoom},
			{"grants_timeout", opGrants, context.DeadlineExceeded},
			{"grants_cancelled", opGrants, nil},
			{"parents_error", opParents, errBoom},
			{"parents_cancelled", opParents, nil},
			{"load_holdings_error", opLoadHoldings, errBoom},
			{"load_holdings_timeout", opLoadHoldings, context.DeadlineExceeded},
			{"load_holdings_cancelled", opLoadHoldings, nil},
			{"load_grants_error", opLoadGrants, errBoom},
			{"load_grants_timeout", opLoadGrants, context.DeadlineExceeded},
			{"load_grants_cancelled", opLoadGrants, nil},
		} {
			isLoaderOp := fault.op == opLoadHoldings || fault.op == opLoadGrants
			if loader != isLoaderOp && !(loader && fault.op == opParents) {
				continue
			}
			name := fault.name
			if loader {
				name = "loaders/" + name
			}
			t.Run(name, func(t *testing.T) {
				counter := newCountingStore()
				var inner iam.Store = counter
				if loader {
					inner = loaderStore{counter}
				}
				ctx := context.Background()
				require.NoError(t, counter.Grant(ctx, iam.Grant{Holder: iam.User("u1"), Perm: "doc.view", On: parent}))
				require.NoError(t, counter.SetParents(ctx, obj, []iam.Ref{parent}))
				if loader && fault.op == opParents {
					// The loader's bundle does not carry parents, so Parents
					// is read on its own.
					inner = noParentsLoader{loaderStore{counter}}
				}
				c := iamcache.New(inner, iamcache.Options{TTL: time.Hour})
				checker, err := iam.New(policy, c)
				require.NoError(t, err)

				checkCtx, cancel := context.WithCancel(ctx)
				defer cancel()
				want := fault.err
				if want == nil {
					want = context.Canceled
				}
				counter.setHook(func(hctx context.Context, op string) error {
					if op != fault.op {
						return nil
					}
					if fault.err == nil {
						cancel() // the request is cancelled while the store works
						return hctx.Err()
					}
					return fault.err
				})
				d, err := checker.Check(checkCtx, user{"u1"}, "doc.view", obj)
				require.ErrorIs(t, err, want) // contract 17: denied, with the error
				require.False(t, d.Allowed)
				require.Equal(t, iam.ReasonError, d.Reason)
				require.False(t, checker.HasPerm(checkCtx, user{"u1"}, "doc.view", obj))

				counter.setHook(nil) // the store recovers: nothing poisoned
				d, err = checker.Check(ctx, user{"u1"}, "doc.view", obj)
				require.NoError(t, err)
				require.True(t, d.Allowed, d.String())
			})
		}
	}
}

// TestParentsUnsupported: over a store that records no parents, Parents is
// (nil, nil) and SetParents an error wrapping errors.ErrUnsupported; checks
// still work.
func TestParentsUnsupported(t *testing.T) {
	ctx := context.Background()
	inner := storeOnly{iam.NewMemoryStore()}
	c := iamcache.New(inner, iamcache.Options{TTL: time.Hour})
	ps, err := c.Parents(ctx, iam.Ref{Type: "doc", ID: "1"})
	require.NoError(t, err)
	require.Nil(t, ps)
	require.ErrorIs(t, c.SetParents(ctx, iam.Ref{Type: "doc", ID: "1"}, nil), errors.ErrUnsupported)
	require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("u1"), Perm: "doc.view", On: iam.Ref{Type: "doc", ID: "1"}}))
	checker, err := iam.New(policy, c)
	require.NoError(t, err)
	require.True(t, checker.HasPerm(ctx, user{"u1"}, "doc.view", iam.Ref{Type: "doc", ID: "1"}))
	require.Equal(t, iam.Store(inner), c.Inner())
}

// TestInvalidateKeys: Invalidate drops exactly the named entries; a key of
// unknown kind drops everything; InvalidateAll drops everything.
func TestInvalidateKeys(t *testing.T) {
	ctx := context.Background()
	inner := newCountingStore()
	obj := iam.Ref{Type: "doc", ID: "1"}
	c := iamcache.New(inner, iamcache.Options{TTL: time.Hour})
	readAll := func() {
		_, err := c.Holding(ctx, iam.User("u1"))
		require.NoError(t, err)
		_, err = c.Holding(ctx, iam.Group("u1")) // same ID, other kind
		require.NoError(t, err)
		_, err = c.Grants(ctx, obj)
		require.NoError(t, err)
		_, err = c.Grants(ctx, iam.Ref{Type: "page", ID: "1"}) // same ID, other type
		require.NoError(t, err)
		_, err = c.Parents(ctx, obj)
		require.NoError(t, err)
	}
	readAll()
	require.Equal(t, 5, inner.total())
	require.Equal(t, 5, c.Stats().Entries)
	for _, tc := range []struct {
		name  string
		keys  []iamcache.Key
		loads int
	}{
		{"none", nil, 0},
		{"holding", []iamcache.Key{iamcache.HoldingKey(iam.User("u1"))}, 1},
		{"group", []iamcache.Key{iamcache.HoldingKey(iam.Group("u1"))}, 1},
		{"grants", []iamcache.Key{iamcache.GrantsKey(obj)}, 1},
		{"parents", []iamcache.Key{iamcache.ParentsKey(obj)}, 1},
		{"two", []iamcache.Key{iamcache.ParentsKey(obj), iamcache.GrantsKey(iam.Ref{Type: "page", ID: "1"})}, 2},
		{"unknown_kind", []iamcache.Key{{}}, 5},
		{"absent", []iamcache.Key{iamcache.GrantsKey(iam.Ref{Type: "x", ID: "y"})}, 0},
	} {
		before := inner.total()
		c.Invalidate(tc.keys...)
		readAll()
		require.Equal(t, tc.loads, inner.total()-before, tc.name)
	}
	c.InvalidateAll()
	require.Zero(t, c.Stats().Entries)
	readAll()
	require.Equal(t, 5, c.Stats().Entries)
}

// TestMaxEntries: the cache holds at most MaxEntries entries, evicting as it
// fills, and every read stays right.
func TestMaxEntries(t *testing.T) {
	ctx := context.Background()
	inner := newCountingStore()
	for i := range 200 {
		require.NoError(t, inner.PutProfile(ctx, iam.Profile{Holder: iam.User(fmt.Sprint("u", i)), Role: viewer.Name, Active: true}))
	}
	for _, max := range []int{1, 7, 64} {
		c := iamcache.New(inner, iamcache.Options{TTL: time.Hour, MaxEntries: max})
		for round := range 3 {
			for i := range 200 {
				p := iam.User(fmt.Sprint("u", i))
				h, err := c.Holding(ctx, p)
				require.NoError(t, err)
				want, _ := inner.MemoryStore.Holding(ctx, p)
				require.Same(t, want, h, "round %d", round)
				require.LessOrEqual(t, c.Stats().Entries, max)
			}
		}
		require.Positive(t, c.Stats().Entries)
	}
}

// TestStats counts hits, misses, loads and invalidations.
func TestStats(t *testing.T) {
	ctx := context.Background()
	inner := newCountingStore()
	c := iamcache.New(inner, iamcache.Options{TTL: time.Hour})
	for range 3 {
		_, err := c.Holding(ctx, iam.User("u1"))
		require.NoError(t, err)
	}
	_, err := c.Grants(iamcache.Fresh(ctx), iam.GlobalScope())
	require.NoError(t, err)
	require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("u1"), Perm: "doc.view", On: iam.GlobalScope()}))
	c.InvalidateAll()
	require.Equal(t, iamcache.Stats{Hits: 2, Misses: 2, Loads: 2, Invalidations: 2, Entries: 0}, c.Stats())
}
