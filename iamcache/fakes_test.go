package iamcache_test

import (
	"context"
	"sync"
	"time"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamcache"
)

// Read operations of the fake stores, as counted.
const (
	opHolding      = "Holding"
	opGrants       = "Grants"
	opParents      = "Parents"
	opLoadHoldings = "LoadHoldings"
	opLoadGrants   = "LoadGrants"
)

// countingStore is a MemoryStore whose reads are counted and may be slowed
// down or failed by a hook. A read first reads the data, then calls the hook
// (the store read the data and is slow to answer), and returns the data
// together with the hook's error: a failed read may still carry a partial
// result, which the cache must not keep.
type countingStore struct {
	*iam.MemoryStore
	mu    sync.Mutex
	calls map[string]int
	hook  func(ctx context.Context, op string) error
}

func newCountingStore() *countingStore {
	return &countingStore{MemoryStore: iam.NewMemoryStore(), calls: map[string]int{}}
}

func (s *countingStore) after(ctx context.Context, op string) error {
	s.mu.Lock()
	s.calls[op]++
	hook := s.hook
	s.mu.Unlock()
	if hook != nil {
		return hook(ctx, op)
	}
	return nil
}

func (s *countingStore) setHook(h func(ctx context.Context, op string) error) {
	s.mu.Lock()
	s.hook = h
	s.mu.Unlock()
}

// total returns the number of reads so far.
func (s *countingStore) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.calls {
		n += v
	}
	return n
}

func (s *countingStore) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

func (s *countingStore) Holding(ctx context.Context, p iam.Principal) (*iam.Holding, error) {
	h, _ := s.MemoryStore.Holding(ctx, p)
	return h, s.after(ctx, opHolding)
}

func (s *countingStore) Grants(ctx context.Context, on iam.Ref) (*iam.GrantSet, error) {
	g, _ := s.MemoryStore.Grants(ctx, on)
	return g, s.after(ctx, opGrants)
}

func (s *countingStore) Parents(ctx context.Context, ref iam.Ref) ([]iam.Ref, error) {
	ps, _ := s.MemoryStore.Parents(ctx, ref)
	return ps, s.after(ctx, opParents)
}

// loaderStore adds the batch loaders, as the SQL store has them. Like a SQL
// store, it builds new group Holdings on every load (the cache must keep
// the pointers it has).
type loaderStore struct{ *countingStore }

func newLoaderStore() loaderStore { return loaderStore{newCountingStore()} }

var (
	_ iamcache.HoldingLoader = loaderStore{}
	_ iamcache.GrantsLoader  = loaderStore{}
)

func (s loaderStore) LoadHoldings(ctx context.Context, p iam.Principal) (*iam.Holding, map[string]*iam.Holding, error) {
	h, _ := s.MemoryStore.Holding(ctx, p)
	var groups map[string]*iam.Holding
	if p.Kind == iam.KindUser {
		groups = map[string]*iam.Holding{}
		for _, g := range h.Groups() {
			gh, _ := s.MemoryStore.Holding(ctx, iam.Group(g))
			if gh != nil {
				gh = iam.NewHolding(gh.Profiles(), gh.Groups())
			}
			groups[g] = gh
		}
	}
	return h, groups, s.after(ctx, opLoadHoldings)
}

func (s loaderStore) LoadGrants(ctx context.Context, on iam.Ref) (iamcache.GrantsBundle, error) {
	var b iamcache.GrantsBundle
	b.On, _ = s.MemoryStore.Grants(ctx, on)
	if on.IsObject() {
		b.Type, _ = s.MemoryStore.Grants(ctx, iam.TypeScope(on.Type))
	}
	if on != iam.GlobalScope() {
		b.Global, _ = s.MemoryStore.Grants(ctx, iam.GlobalScope())
	}
	b.Parents, _ = s.MemoryStore.Parents(ctx, on)
	b.ParentsLoaded = true
	return b, s.after(ctx, opLoadGrants)
}

// storeOnly hides every method but iam.Store's: no parents, no loaders.
type storeOnly struct{ iam.Store }

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// gate blocks reads of one operation: each blocked read reports on entered,
// then waits for release (or for its context to end).
type gate struct {
	op      string
	entered chan struct{}
	release chan struct{}
}

func newGate(op string) *gate {
	return &gate{op: op, entered: make(chan struct{}, 64), release: make(chan struct{})}
}

func (g *gate) hook(ctx context.Context, op string) error {
	if op != g.op {
		return nil
	}
	g.entered <- struct{}{}
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// once blocks only the first read of op; later reads pass.
func (g *gate) once() func(ctx context.Context, op string) error {
	var mu sync.Mutex
	done := false
	return func(ctx context.Context, op string) error {
		mu.Lock()
		first := op == g.op && !done
		if first {
			done = true
		}
		mu.Unlock()
		if !first {
			return nil
		}
		return g.hook(ctx, op)
	}
}

// user is a test subject.
type user struct{ id string }

func (u user) SubjectID() string { return u.id }

var (
	viewer = &iam.Role{Name: "doc.viewer", Perms: []string{"doc.view"}}
	editor = &iam.Role{Name: "doc.editor", Perms: []string{"doc.view", "doc.edit"}}
	policy = iam.Policy{Roles: []*iam.Role{viewer, editor}}
)
