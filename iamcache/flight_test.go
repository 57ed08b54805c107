package iamcache_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamcache"
)

// waitMisses waits until the cache has counted n misses (the callers have
// reached the load). It waits on progress, not on time.
func waitMisses(c *iamcache.Cache, n uint64) {
	for c.Stats().Misses < n {
		runtime.Gosched()
	}
}

// TestSingleflight: N concurrent cold reads of one key make exactly one
// inner call, and all get the same pointer (requirement 2).
func TestSingleflight(t *testing.T) {
	ctx := context.Background()
	const n = 16
	for _, tc := range []struct {
		name string
		op   string
		mk   func() (*countingStore, iam.Store)
		read func(c *iamcache.Cache) (any, error)
	}{
		{"holding", opHolding, func() (*countingStore, iam.Store) { s := newCountingStore(); return s, s },
			func(c *iamcache.Cache) (any, error) { return c.Holding(ctx, iam.User("u1")) }},
		{"grants", opGrants, func() (*countingStore, iam.Store) { s := newCountingStore(); return s, s },
			func(c *iamcache.Cache) (any, error) { return c.Grants(ctx, iam.Ref{Type: "doc", ID: "1"}) }},
		{"parents", opParents, func() (*countingStore, iam.Store) { s := newCountingStore(); return s, s },
			func(c *iamcache.Cache) (any, error) { return c.Parents(ctx, iam.Ref{Type: "doc", ID: "1"}) }},
		{"load_holdings", opLoadHoldings, func() (*countingStore, iam.Store) { s := newLoaderStore(); return s.countingStore, s },
			func(c *iamcache.Cache) (any, error) { return c.Holding(ctx, iam.User("u1")) }},
		{"load_grants", opLoadGrants, func() (*countingStore, iam.Store) { s := newLoaderStore(); return s.countingStore, s },
			func(c *iamcache.Cache) (any, error) { return c.Grants(ctx, iam.Ref{Type: "doc", ID: "1"}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counter, inner := tc.mk()
			require.NoError(t, inner.PutProfile(ctx, iam.Profile{Holder: iam.User("u1"), Role: viewer.Name, Active: true}))
			require.NoError(t, inner.Grant(ctx, iam.Grant{Holder: iam.User("u1"), Perm: "doc.view", On: iam.Ref{Type: "doc", ID: "1"}}))
			require.NoError(t, inner.(iam.ParentStore).SetParents(ctx, iam.Ref{Type: "doc", ID: "1"}, []iam.Ref{{Type: "folder", ID: "2"}}))
			g := newGate(tc.op)
			counter.setHook(g.hook)
			c := iamcache.New(inner, iamcache.Options{TTL: time.Hour})
			results := make([]any, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					v, err := tc.read(c)
					assert.NoError(t, err)
					results[i] = v
				})
			}
			<-g.entered // the leader is in the store
			waitMisses(c, n)
			close(g.release)
			wg.Wait()
			require.Equal(t, 1, counter.count(tc.op), "inner calls")
			require.Equal(t, 1, counter.total(), "inner calls of any kind")
			for _, v := range results[1:] {
				require.Equal(t, results[0], v)
			}
		})
	}
}

// TestFollowerRetriesAfterLeaderCancel: the leader's context is cancelled
// while it loads; a follower with a live context does not share that
// failure but loads again (requirement 2).
func TestFollowerRetriesAfterLeaderCancel(t *testing.T) {
	inner := newCountingStore()
	require.NoError(t, inner.PutProfile(context.Background(), iam.Profile{Holder: iam.User("u1"), Role: viewer.Name, Active: true}))
	want, _ := inner.MemoryStore.Holding(context.Background(), iam.User("u1"))
	g := newGate(opHolding)
	inner.setHook(g.hook)
	c := iamcache.New(inner, iamcache.Options{TTL: time.Hour})

	leaderCtx, cancel := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := c.Holding(leaderCtx, iam.User("u1"))
		leaderErr <- err
	}()
	<-g.entered
	type res struct {
		h   *iam.Holding
		err error
	}
	follower := make(chan res, 1)
	go func() {
		h, err := c.Holding(context.Background(), iam.User("u1"))
		follower <- res{h, err}
	}()
	waitMisses(c, 2)
	cancel()
	require.ErrorIs(t, <-leaderErr, context.Canceled)
	<-g.entered // the follower's own load
	close(g.release)
	r := <-follower
	require.NoError(t, r.err)
	require.Same(t, want, r.h)
	require.Equal(t, 2, inner.count(opHolding))
}

// TestWaiterCancelled: a caller whose context is cancelled while it waits
// for a load returns ctx.Err() at once, while the load goes on (requirement
// 2); so does a leader whose store ignores its context.
func TestWaiterCancelled(t *testing.T) {
	for _, leaderCancelled := range []bool{false, true} {
		name := "follower"
		if leaderCancelled {
			name = "leader"
		}
		t.Run(name, func(t *testing.T) {
			inner := newCountingStore()
			release := make(chan struct{})
			entered := make(chan struct{}, 4)
			inner.setHook(func(ctx context.Context, op string) error { // ignores ctx
				entered <- struct{}{}
				<-release
				return nil
			})
			c := iamcache.New(inner, iamcache.Options{TTL: time.Hour})
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			other := make(chan error, 1)
			if leaderCancelled {
				go func() { _, err := c.Grants(ctx, iam.GlobalScope()); errc <- err }()
				<-entered
			} else {
				go func() { _, err := c.Grants(context.Background(), iam.GlobalScope()); other <- err }()
				<-entered
				go func() { _, err := c.Grants(ctx, iam.GlobalScope()); errc <- err }()
				waitMisses(c, 2)
			}
			cancel()
			require.ErrorIs(t, <-errc, context.Canceled) // the store is still blocked
			close(release)
			if !leaderCancelled {
				require.NoError(t, <-other)
			}
		})
	}
}

// TestStorePanic: a store that panics fails the read with an error wrapping
// iam.ErrPanic instead of crashing the process; nothing is cached.
func TestStorePanic(t *testing.T) {
	inner := newCountingStore()
	inner.setHook(func(context.Context, string) error { panic("boom") })
	c := iamcache.New(inner, iamcache.Options{TTL: time.Hour})
	_, err := c.Holding(context.Background(), iam.User("u1"))
	require.ErrorIs(t, err, iam.ErrPanic)
	inner.setHook(nil)
	_, err = c.Holding(context.Background(), iam.User("u1"))
	require.NoError(t, err)
	require.Equal(t, 2, inner.count(opHolding))
}

var errBoom = errors.New("boom")

// TestErrorsNotCached: an inner error reaches the caller and is not cached;
// the next read calls the store again. A failed read's partial result (the
// fakes return their data along with the error) and, with the batch
// loaders, nothing of the bundle is stored (requirement 3).
func TestErrorsNotCached(t *testing.T) {
	ctx := context.Background()
	obj := iam.Ref{Type: "doc", ID: "1"}
	for _, tc := range []struct {
		name   string
		loader bool
		op     string
		read   func(c *iamcache.Cache) error
	}{
		{"holding", false, opHolding, func(c *iamcache.Cache) error { _, err := c.Holding(ctx, iam.User("u1")); return err }},
		{"grants", false, opGrants, func(c *iamcache.Cache) error { _, err := c.Grants(ctx, obj); return err }},
		{"parents", false, opParents, func(c *iamcache.Cache) error { _, err := c.Parents(ctx, obj); return err }},
		{"load_holdings", true, opLoadHoldings, func(c *iamcache.Cache) error { _, err := c.Holding(ctx, iam.User("u1")); return err }},
		{"load_grants", true, opLoadGrants, func(c *iamcache.Cache) error { _, err := c.Grants(ctx, obj); return err }},
		{"load_grants_parents", true, opLoadGrants, func(c *iamcache.Cache) error { _, err := c.Parents(ctx, obj); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counter := newCountingStore()
			var inner iam.Store = counter
			if tc.loader {
				inner = loaderStore{counter}
			}
			require.NoError(t, inner.PutProfile(ctx, iam.Profile{Holder: iam.Group("staff"), Role: viewer.Name, Active: true}))
			require.NoError(t, inner.AddMember(ctx, "u1", "staff"))
			require.NoError(t, inner.Grant(ctx, iam.Grant{Holder: iam.User("u1"), Perm: "doc.view", On: obj}))
			require.NoError(t, inner.Grant(ctx, iam.Grant{Holder: iam.User("u1"), Perm: "doc.view", On: iam.GlobalScope()}))
			require.NoError(t, counter.SetParents(ctx, obj, []iam.Ref{{Type: "folder", ID: "2"}}))
			c := iamcache.New(inner, iamcache.Options{TTL: time.Hour})
			counter.setHook(func(context.Context, string) error { return errBoom })
			require.ErrorIs(t, tc.read(c), errBoom)
			require.ErrorIs(t, tc.read(c), errBoom, "the error was cached")
			require.Equal(t, 2, counter.count(tc.op))
			require.Zero(t, c.Stats().Entries, "a failed read stored something")
			counter.setHook(nil)
			require.NoError(t, tc.read(c))
			require.NoError(t, tc.read(c))
			require.Equal(t, 3, counter.count(tc.op))
		})
	}
}
