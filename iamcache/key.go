package iamcache

import (
	"context"

	"github.com/iamgo/iam"
	"golang.org/x/sync/singleflight"
)

// KeyKind says which read a Key names.
type KeyKind uint8

// The kinds of Key. The zero kind is invalid.
const (
	KeyHolding KeyKind = 1 + iota // Holding(Principal)
	KeyGrants                     // Grants(Ref)
	KeyParents                    // Parents(Ref)
)

// Key names one cached read, for Invalidate. It is a plain comparable value.
type Key struct {
	Kind      KeyKind
	Principal iam.Principal // KeyHolding
	Ref       iam.Ref       // KeyGrants, KeyParents
}

// HoldingKey names the cached Holding of p. A change to a user's profiles or
// group memberships invalidates the user's key; a change to a group's
// profiles, the group's key.
func HoldingKey(p iam.Principal) Key { return Key{Kind: KeyHolding, Principal: p} }

// GrantsKey names the cached grants on exactly on.
func GrantsKey(on iam.Ref) Key { return Key{Kind: KeyGrants, Ref: on} }

// ParentsKey names the cached parents of ref.
func ParentsKey(ref iam.Ref) Key { return Key{Kind: KeyParents, Ref: ref} }

// Invalidate drops the cached entries of keys. When it returns, the next
// read of each key loads from the inner store: a load that began before the
// call does not store what it read, and later reads do not join it. A key
// of unknown kind invalidates everything (a notifier bug must not leave
// stale entries).
//
// Call it after the change is committed in the inner store.
func (c *Cache) Invalidate(keys ...Key) {
	for _, k := range keys {
		c.invalidate(k)
	}
}

func (c *Cache) invalidate(k Key) {
	var (
		h     uint64
		pk    iam.PrincipalKind
		a, b  string
		fk    byte
		extra bool // also forget the key's LoadGrants flight
	)
	switch k.Kind {
	case KeyHolding:
		h, pk, a, fk = c.hashPrincipal(k.Principal), k.Principal.Kind, k.Principal.ID, flightHolding
	case KeyGrants:
		h, a, b, fk, extra = c.hashRef(k.Ref, saltGrants), k.Ref.Type, k.Ref.ID, flightGrants, true
	case KeyParents:
		h, a, b, fk, extra = c.hashRef(k.Ref, saltParents), k.Ref.Type, k.Ref.ID, flightParents, true
	default:
		c.InvalidateAll()
		return
	}
	c.invals.Add(1)
	s := c.shard(h)
	s.mu.Lock()
	s.lastInval = c.seq.Add(1)
	s.del(h, k.Kind, pk, a, b)
	s.mu.Unlock()
	g := c.flights.Load()
	g.Forget(flightKey(fk, pk, a, b))
	if extra {
		g.Forget(flightKey(flightBundle, 0, a, b))
	}
}

// InvalidateAll drops every cached entry (for example after the
// notification listener lost its connection and may have missed changes).
// Loads in flight store nothing, and later reads do not join them.
func (c *Cache) InvalidateAll() {
	c.invals.Add(1)
	// Only ever raise allInval: two concurrent calls may store their
	// sequence numbers out of order.
	n := c.seq.Add(1)
	for {
		cur := c.allInval.Load()
		if cur >= n || c.allInval.CompareAndSwap(cur, n) {
			break
		}
	}
	c.flights.Store(new(singleflight.Group))
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.clear()
		s.mu.Unlock()
	}
}

// HoldingLoader is an optional interface of an inner store that can read a
// principal's holding and its groups' holdings in one round trip. The cache
// uses it on a Holding miss and fills every holding it returns.
type HoldingLoader interface {
	// LoadHoldings returns p's Holding (nil if unknown) and, when p is a
	// user, the Holding of every group it is a stored member of (map value
	// nil for a group with no profiles) — in one round trip.
	LoadHoldings(ctx context.Context, p iam.Principal) (*iam.Holding, map[string]*iam.Holding, error)
}

// GrantsLoader is an optional interface of an inner store that can read the
// grants a check needs for one ref in one round trip. The cache uses it on a
// Grants or Parents miss and fills every part of the bundle, so a cold check
// costs at most 2 round trips (HoldingLoader, then GrantsLoader) plus one
// per ancestor.
type GrantsLoader interface {
	// LoadGrants returns, in one round trip, the grants on `on` and, when on
	// is an object (on.IsObject()), on its type, TypeScope(on.Type); when
	// on != GlobalScope(), also the global grants GlobalScope(); and on's recorded parents
	// when the store records parents.
	LoadGrants(ctx context.Context, on iam.Ref) (GrantsBundle, error)
}

// GrantsBundle is what GrantsLoader.LoadGrants returns.
type GrantsBundle struct {
	On, Type, Global *iam.GrantSet // Type meaningful only when on.IsObject(); Global only when on != iam.GlobalScope()
	Parents          []iam.Ref
	ParentsLoaded    bool // Parents is meaningful (the store records parents); consulted only for an object ref
}
