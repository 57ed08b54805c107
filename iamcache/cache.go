package iamcache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/iamgo/iam"
	"golang.org/x/sync/singleflight"
)

// DefaultTTL is the TTL the SQL store uses for its cache (docs/contract.md line
// 16): how long an entry may be served when invalidations stop arriving.
const DefaultTTL = 10 * time.Second

// defaultMaxEntries is MaxEntries when Options.MaxEntries is 0.
const defaultMaxEntries = 1 << 20

// maxShards is the number of shards of a cache that may hold at least that
// many entries; smaller bounds get fewer shards (a power of two, at most
// MaxEntries), so that the per-shard bound is at least 1.
const maxShards = 256

// Options configures a Cache. The zero value caches nothing: set TTL (for
// example to DefaultTTL) to cache.
type Options struct {
	// TTL is how long an entry may be served after the read that filled it
	// began. Zero or negative means no caching: every read goes to the
	// store. There is no "forever".
	TTL time.Duration
	// MaxEntries bounds the number of cached entries (holdings, grant sets
	// and parent lists together, negative entries included). Zero means
	// 1<<20. A fill into a full shard evicts an entry of that shard chosen
	// at random (preferring an expired one).
	MaxEntries int
	// Now is the clock for the TTL; nil means the real (monotonic) clock.
	// With a custom clock every hit calls Now; with the real clock hits read
	// a coarse clock (see the package documentation).
	Now func() time.Time
}

// Cache is a read cache in front of an iam.Store. It implements iam.Store
// and iam.ParentStore: reads are served from the cache while fresh, writes
// go to the inner store and then invalidate what they changed.
//
// Cache is safe for concurrent use. Its hit path takes no lock and does not
// allocate; misses of one key share one load (singleflight).
type Cache struct {
	inner iam.Store
	ps    iam.ParentStore // nil: inner records no parents
	hl    HoldingLoader
	gl    GrantsLoader

	ttl     int64 // ns; <= 0: no caching
	guard   int64 // see clock.go
	exact   bool  // a custom clock: read it on every hit
	nowFn   func() time.Time
	seed    maphash.Seed
	shards  []shard
	shift   uint // shard index: hash >> shift
	perShrd int  // entry bound per shard

	seq      atomic.Uint64 // invalidation sequence
	allInval atomic.Uint64 // sequence number of the last InvalidateAll
	flights  atomic.Pointer[singleflight.Group]
	// The store's LoadGrants does not return parents: load them with Parents.
	noBundleParents atomic.Bool

	misses, loads, invals atomic.Uint64
	hits                  [hitStripes]paddedCounter
}

// Hits are counted on every hit, so the counter is striped: a hot key (the
// global grants are read by every check) read on many cores would otherwise
// make every hit write one shared cache line. The stripe is picked by the
// address of the reading goroutine's stack, which differs between
// goroutines running at the same time.
const hitStripes = 32

type paddedCounter struct {
	n atomic.Uint64
	_ [56]byte
}

func (c *Cache) hit() {
	var probe byte
	c.hits[(uintptr(unsafe.Pointer(&probe))>>13)&(hitStripes-1)].n.Add(1)
}

var (
	_ iam.Store       = (*Cache)(nil)
	_ iam.ParentStore = (*Cache)(nil)
)

// Salts keep keys of different kinds with equal IDs apart.
const (
	saltUser    = 0x9e3779b97f4a7c15
	saltGroup   = 0xbf58476d1ce4e5b9
	saltGrants  = 0x94d049bb133111eb
	saltParents = 0xd6e8feb86659fd93
	saltWide    = 0xff51afd7ed558ccd
)

// New returns a cache in front of inner. It uses inner's HoldingLoader and
// GrantsLoader when inner implements them, and serves Parents when inner is
// an iam.ParentStore.
func New(inner iam.Store, opts Options) *Cache {
	c := &Cache{inner: inner, seed: maphash.MakeSeed()}
	c.ps, _ = inner.(iam.ParentStore)
	c.hl, _ = inner.(HoldingLoader)
	c.gl, _ = inner.(GrantsLoader)
	c.flights.Store(new(singleflight.Group))
	if opts.TTL > 0 {
		c.ttl = int64(opts.TTL)
	}
	c.guard = max(c.ttl/16, int64(minGuard))
	if opts.Now != nil {
		c.exact, c.nowFn = true, opts.Now
	}
	limit := opts.MaxEntries
	if limit <= 0 {
		limit = defaultMaxEntries
	}
	n := min(maxShards, 1<<(bits.Len(uint(limit))-1)) // a power of two <= limit
	c.shards = make([]shard, n)
	c.shift = uint(64 - bits.TrailingZeros(uint(n)))
	c.perShrd = limit / n
	for i := range c.shards {
		c.shards[i].init(uint64(i+1) * saltGroup)
	}
	return c
}

// Inner returns the store the cache reads and writes through.
func (c *Cache) Inner() iam.Store { return c.inner }

func (c *Cache) shard(h uint64) *shard {
	return &c.shards[h>>c.shift] // a shift of 64 gives 0
}

func (c *Cache) hashPrincipal(p iam.Principal) uint64 {
	h := maphash.String(c.seed, p.ID)
	if p.Kind == iam.KindGroup {
		return h ^ saltGroup
	}
	return h ^ saltUser ^ uint64(p.Kind)
}

// hashRef hashes an object ref by its ID, and a type or global ref by its
// Type, with maphash; the Type of an object ref is folded in cheaply (its
// length and last 8 bytes), enough to keep "post:1" and "page:1" apart in
// practice. Refs with equal hashes are still told apart by their strings.
func (c *Cache) hashRef(r iam.Ref, salt uint64) uint64 {
	if r.ID == "" {
		return maphash.String(c.seed, r.Type) ^ salt ^ saltWide
	}
	h := uint64(len(r.Type))
	for i := max(len(r.Type)-8, 0); i < len(r.Type); i++ {
		h = h<<8 | uint64(r.Type[i])
	}
	return maphash.String(c.seed, r.ID) ^ salt ^ h*saltUser
}

// now is the clock for deadlines: the custom clock, or the exact monotonic
// one. Used on fills; hits use fresh.
func (c *Cache) now() int64 {
	if c.exact {
		return c.nowFn().UnixNano()
	}
	return monoNow()
}

// fresh reports whether e may still be served.
func (c *Cache) fresh(e *entry) bool {
	if !c.exact {
		if coarse.load()+c.guard < e.deadline {
			return true
		}
		return monoNow() < e.deadline
	}
	return c.nowFn().UnixNano() < e.deadline
}

type freshKey struct{}

// Fresh returns a context whose reads bypass the cache: they go straight to
// the inner store and neither read nor fill the cache (a fully consistent
// read, for example before a sensitive change).
func Fresh(ctx context.Context) context.Context {
	return context.WithValue(ctx, freshKey{}, true)
}

func bypass(ctx context.Context) bool { return ctx.Value(freshKey{}) != nil }

// Holding implements iam.ProfileStore.
func (c *Cache) Holding(ctx context.Context, p iam.Principal) (*iam.Holding, error) {
	if c.ttl <= 0 || bypass(ctx) {
		c.misses.Add(1)
		c.loads.Add(1)
		return c.inner.Holding(ctx, p)
	}
	h := c.hashPrincipal(p)
	s := c.shard(h)
	if e := s.tab.Load().find(h, KeyHolding, p.Kind, p.ID, ""); e != nil && c.fresh(e) {
		c.hit()
		return e.hold, nil
	}
	return c.missHolding(ctx, p)
}

// Grants implements iam.ObjectPermStore.
func (c *Cache) Grants(ctx context.Context, on iam.Ref) (*iam.GrantSet, error) {
	if c.ttl <= 0 || bypass(ctx) {
		c.misses.Add(1)
		c.loads.Add(1)
		return c.inner.Grants(ctx, on)
	}
	h := c.hashRef(on, saltGrants)
	s := c.shard(h)
	if e := s.tab.Load().find(h, KeyGrants, 0, on.Type, on.ID); e != nil && c.fresh(e) {
		c.hit()
		return e.gs, nil
	}
	return c.missGrants(ctx, on)
}

// Parents implements iam.ParentStore. It returns (nil, nil) when the inner
// store is not an iam.ParentStore.
func (c *Cache) Parents(ctx context.Context, ref iam.Ref) ([]iam.Ref, error) {
	if c.ps == nil {
		return nil, nil
	}
	if c.ttl <= 0 || bypass(ctx) {
		c.misses.Add(1)
		c.loads.Add(1)
		return c.ps.Parents(ctx, ref)
	}
	h := c.hashRef(ref, saltParents)
	s := c.shard(h)
	if e := s.tab.Load().find(h, KeyParents, 0, ref.Type, ref.ID); e != nil && c.fresh(e) {
		c.hit()
		return e.parents, nil
	}
	return c.missParents(ctx, ref)
}

// result is what one load hands to everyone waiting on it.
type result struct {
	hold      *iam.Holding
	gs        *iam.GrantSet
	parents   []iam.Ref
	parentsOK bool // parents were loaded
	// The load failed while the leader's context was done: the failure is
	// the leader's, not the store's.
	leaderDone bool
}

// Flight key kinds.
const (
	flightHolding = 'H'
	flightGrants  = 'G'
	flightParents = 'P'
	flightBundle  = 'B' // LoadGrants: grants and parents of one ref
)

func flightKey(kind byte, pk iam.PrincipalKind, a, b string) string {
	buf := make([]byte, 0, 8+len(a)+len(b))
	buf = append(buf, kind, byte(pk))
	buf = strconv.AppendInt(buf, int64(len(a)), 10)
	buf = append(buf, ':')
	buf = append(buf, a...)
	buf = append(buf, b...)
	return string(buf)
}

// flight runs load once for every caller of the same key at the same time.
// A caller whose context ends while it waits returns its context's error at
// once. A follower that got the error of a leader whose own context ended
// loads again, as it would have alone: a cancelled request does not fail
// the others.
func (c *Cache) flight(ctx context.Context, key string, load func(context.Context) (result, error)) (result, error) {
	for {
		ch := c.flights.Load().DoChan(key, func() (v any, err error) {
			defer func() {
				if r := recover(); r != nil { // a panicking store fails the read, not the process
					v, err = result{}, fmt.Errorf("%w: iamcache: store read panicked: %v", iam.ErrPanic, r)
				}
			}()
			r, err := load(ctx)
			if err != nil {
				r.leaderDone = ctx.Err() != nil
			}
			return r, err
		})
		select {
		case <-ctx.Done():
			return result{}, ctx.Err()
		case res := <-ch:
			r, _ := res.Val.(result)
			if res.Err != nil && r.leaderDone && ctx.Err() == nil {
				continue
			}
			return r, res.Err
		}
	}
}

func (c *Cache) missHolding(ctx context.Context, p iam.Principal) (*iam.Holding, error) {
	c.misses.Add(1)
	r, err := c.flight(ctx, flightKey(flightHolding, p.Kind, p.ID, ""), func(ctx context.Context) (result, error) {
		return c.loadHolding(ctx, p)
	})
	return r.hold, err
}

func (c *Cache) missGrants(ctx context.Context, on iam.Ref) (*iam.GrantSet, error) {
	c.misses.Add(1)
	if c.gl != nil {
		r, err := c.flight(ctx, flightKey(flightBundle, 0, on.Type, on.ID), func(ctx context.Context) (result, error) {
			return c.loadBundle(ctx, on)
		})
		return r.gs, err
	}
	r, err := c.flight(ctx, flightKey(flightGrants, 0, on.Type, on.ID), func(ctx context.Context) (result, error) {
		return c.loadGrants(ctx, on)
	})
	return r.gs, err
}

func (c *Cache) missParents(ctx context.Context, ref iam.Ref) ([]iam.Ref, error) {
	c.misses.Add(1)
	if c.gl != nil && !c.noBundleParents.Load() {
		r, err := c.flight(ctx, flightKey(flightBundle, 0, ref.Type, ref.ID), func(ctx context.Context) (result, error) {
			return c.loadBundle(ctx, ref)
		})
		if err != nil || r.parentsOK {
			return r.parents, err
		}
	}
	r, err := c.flight(ctx, flightKey(flightParents, 0, ref.Type, ref.ID), func(ctx context.Context) (result, error) {
		return c.loadParents(ctx, ref)
	})
	return r.parents, err
}

// A load notes the invalidation sequence and the time before it reads the
// store; fill stores nothing if a key of the shard was invalidated since
// (the epoch guard), and the entry expires TTL after the read began.

// lookup returns the key's entry if it may be served, or nil.
func (c *Cache) lookup(h uint64, kind KeyKind, pk iam.PrincipalKind, a, b string) *entry {
	if e := c.shard(h).tab.Load().find(h, kind, pk, a, b); e != nil && c.fresh(e) {
		return e
	}
	return nil
}

// Each load first looks at the cache again: a caller that missed just before
// another load filled the key finds it there rather than reading the store.

func (c *Cache) loadHolding(ctx context.Context, p iam.Principal) (result, error) {
	start, t0 := c.seq.Load(), c.now()
	if e := c.lookup(c.hashPrincipal(p), KeyHolding, p.Kind, p.ID, ""); e != nil {
		return result{hold: e.hold}, nil
	}
	c.loads.Add(1)
	if c.hl != nil {
		h, groups, err := c.hl.LoadHoldings(ctx, p)
		if err != nil {
			return result{}, err
		}
		h = c.fillHolding(p, h, start, t0)
		for g, gh := range groups {
			c.fillHolding(iam.Group(g), gh, start, t0)
		}
		return result{hold: h}, nil
	}
	h, err := c.inner.Holding(ctx, p)
	if err != nil {
		return result{}, err
	}
	return result{hold: c.fillHolding(p, h, start, t0)}, nil
}

func (c *Cache) loadGrants(ctx context.Context, on iam.Ref) (result, error) {
	start, t0 := c.seq.Load(), c.now()
	if e := c.lookup(c.hashRef(on, saltGrants), KeyGrants, 0, on.Type, on.ID); e != nil {
		return result{gs: e.gs}, nil
	}
	c.loads.Add(1)
	gs, err := c.inner.Grants(ctx, on)
	if err != nil {
		return result{}, err
	}
	return result{gs: c.fillRef(KeyGrants, on, gs, nil, start, t0).gs}, nil
}

func (c *Cache) loadParents(ctx context.Context, ref iam.Ref) (result, error) {
	start, t0 := c.seq.Load(), c.now()
	if e := c.lookup(c.hashRef(ref, saltParents), KeyParents, 0, ref.Type, ref.ID); e != nil {
		return result{parents: e.parents, parentsOK: true}, nil
	}
	c.loads.Add(1)
	ps, err := c.ps.Parents(ctx, ref)
	if err != nil {
		return result{}, err
	}
	return result{parents: c.fillRef(KeyParents, ref, nil, ps, start, t0).parents, parentsOK: true}, nil
}

func (c *Cache) loadBundle(ctx context.Context, on iam.Ref) (result, error) {
	start, t0 := c.seq.Load(), c.now()
	if g := c.lookup(c.hashRef(on, saltGrants), KeyGrants, 0, on.Type, on.ID); g != nil {
		if c.ps == nil || !on.IsObject() {
			return result{gs: g.gs}, nil
		}
		if p := c.lookup(c.hashRef(on, saltParents), KeyParents, 0, on.Type, on.ID); p != nil {
			return result{gs: g.gs, parents: p.parents, parentsOK: true}, nil
		}
	}
	c.loads.Add(1)
	b, err := c.gl.LoadGrants(ctx, on)
	if err != nil {
		return result{}, err
	}
	r := result{gs: c.fillRef(KeyGrants, on, b.On, nil, start, t0).gs}
	if on.IsObject() {
		c.fillRef(KeyGrants, iam.TypeScope(on.Type), b.Type, nil, start, t0)
	}
	if on != iam.GlobalScope() {
		c.fillRef(KeyGrants, iam.GlobalScope(), b.Global, nil, start, t0)
	}
	switch {
	case !b.ParentsLoaded && on.IsObject():
		// Only an object's bundle can carry parents: a type or global
		// bundle without them says nothing about the store.
		c.noBundleParents.Store(true)
	case !b.ParentsLoaded:
	case c.ps == nil:
		// Parents are served only for a ParentStore.
	case on.IsObject():
		r.parents, r.parentsOK = c.fillRef(KeyParents, on, nil, b.Parents, start, t0).parents, true
	default:
		r.parents, r.parentsOK = b.Parents, true
	}
	return r, nil
}

func (c *Cache) fillHolding(p iam.Principal, h *iam.Holding, start uint64, t0 int64) *iam.Holding {
	e := &entry{hash: c.hashPrincipal(p), kind: KeyHolding, pk: p.Kind, a: strings.Clone(p.ID), hold: h}
	return c.fill(e, start, t0).hold
}

func (c *Cache) fillRef(kind KeyKind, r iam.Ref, gs *iam.GrantSet, ps []iam.Ref, start uint64, t0 int64) *entry {
	salt := uint64(saltGrants)
	if kind == KeyParents {
		salt = saltParents
	}
	e := &entry{hash: c.hashRef(r, salt), kind: kind, a: strings.Clone(r.Type), b: strings.Clone(r.ID), gs: gs, parents: ps}
	return c.fill(e, start, t0)
}

// fill stores e, read by a load that began at sequence start and time t0,
// unless a key of its shard was invalidated since, or the key holds a live
// entry (whose pointer is kept). It returns the entry the cache holds for
// the key, or e when it stored nothing.
func (c *Cache) fill(e *entry, start uint64, t0 int64) *entry {
	e.deadline = t0 + c.ttl
	if e.deadline < t0 { // overflow: an absurd TTL
		e.deadline = math.MaxInt64
	}
	now := c.now()
	if e.deadline <= now {
		return e // the load took longer than the TTL
	}
	s := c.shard(e.hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastInval > start || c.allInval.Load() > start {
		return e
	}
	return s.put(e, now, c.perShrd)
}

// Writes: each passes through to the inner store, then invalidates what it
// may have changed, also when the store returned an error (the write may
// have been applied).

// PutProfile implements iam.ProfileStore.
func (c *Cache) PutProfile(ctx context.Context, p iam.Profile) error {
	err := c.inner.PutProfile(ctx, p)
	c.Invalidate(HoldingKey(p.Holder))
	return err
}

// SetProfileActive implements iam.ProfileStore.
func (c *Cache) SetProfileActive(ctx context.Context, holder iam.Principal, role string, active bool) error {
	err := c.inner.SetProfileActive(ctx, holder, role, active)
	c.Invalidate(HoldingKey(holder))
	return err
}

// DeleteProfile implements iam.ProfileStore.
func (c *Cache) DeleteProfile(ctx context.Context, holder iam.Principal, role string) error {
	err := c.inner.DeleteProfile(ctx, holder, role)
	c.Invalidate(HoldingKey(holder))
	return err
}

// AddMember implements iam.ProfileStore.
func (c *Cache) AddMember(ctx context.Context, user, group string) error {
	err := c.inner.AddMember(ctx, user, group)
	c.Invalidate(HoldingKey(iam.User(user)))
	return err
}

// RemoveMember implements iam.ProfileStore.
func (c *Cache) RemoveMember(ctx context.Context, user, group string) error {
	err := c.inner.RemoveMember(ctx, user, group)
	c.Invalidate(HoldingKey(iam.User(user)))
	return err
}

// Grant implements iam.ObjectPermStore.
func (c *Cache) Grant(ctx context.Context, g iam.Grant) error {
	err := c.inner.Grant(ctx, g)
	c.Invalidate(GrantsKey(g.On))
	return err
}

// Revoke implements iam.ObjectPermStore.
func (c *Cache) Revoke(ctx context.Context, g iam.Grant) error {
	err := c.inner.Revoke(ctx, g)
	c.Invalidate(GrantsKey(g.On))
	return err
}

// DeleteGrantsOn implements iam.ObjectPermStore.
func (c *Cache) DeleteGrantsOn(ctx context.Context, on iam.Ref) error {
	err := c.inner.DeleteGrantsOn(ctx, on)
	c.Invalidate(GrantsKey(on))
	return err
}

// SetParents implements iam.ParentStore. It returns an error wrapping
// errors.ErrUnsupported when the inner store is not an iam.ParentStore.
func (c *Cache) SetParents(ctx context.Context, ref iam.Ref, parents []iam.Ref) error {
	if c.ps == nil {
		return fmt.Errorf("iamcache: %T records no parents: %w", c.inner, errors.ErrUnsupported)
	}
	err := c.ps.SetParents(ctx, ref, parents)
	c.Invalidate(ParentsKey(ref))
	return err
}

// Stats counts a cache's activity since New.
type Stats struct {
	Hits          uint64 // reads answered from the cache
	Misses        uint64 // reads not answered from the cache (Fresh and uncached reads included)
	Loads         uint64 // reads of the inner store (one per batch load)
	Invalidations uint64 // keys invalidated (by writes or Invalidate), plus InvalidateAll calls
	Entries       int    // entries held now (expired ones not yet replaced included)
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	st := Stats{Misses: c.misses.Load(), Loads: c.loads.Load(), Invalidations: c.invals.Load()}
	for i := range c.hits {
		st.Hits += c.hits[i].n.Load()
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Entries += s.live
		s.mu.Unlock()
	}
	return st
}
