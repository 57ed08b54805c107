package iam

import (
	"context"
	"math"
	"slices"
	"sync/atomic"
	"time"
	"unique"
)

// The store interfaces are the implementer's API, as database/sql/driver is
// database/sql's; iamtest.TestStore is their conformance suite.

// ProfileStore keeps profiles (global roles) and group memberships. It must
// be safe for concurrent use, and a write that returns nil must be visible to
// every later Holding call (docs/contract.md line 15). Holding returns (nil,
// nil) for an unknown principal.
type ProfileStore interface {
	// Holding returns the principal's profiles and, for a user, its groups.
	Holding(ctx context.Context, p Principal) (*Holding, error)
	// PutProfile creates or replaces the profile for (p.Holder, p.Role).
	PutProfile(ctx context.Context, p Profile) error
	// SetProfileActive switches an existing profile on or off; for a missing
	// one the error wraps ErrNotFound.
	SetProfileActive(ctx context.Context, holder Principal, role string, active bool) error
	// DeleteProfile removes the profile; removing a missing one is not an error.
	DeleteProfile(ctx context.Context, holder Principal, role string) error
	// AddMember makes user a member of group; it is idempotent.
	AddMember(ctx context.Context, user, group string) error
	// RemoveMember ends the membership; it is idempotent.
	RemoveMember(ctx context.Context, user, group string) error
}

// ObjectPermStore keeps grants of permissions and local roles on objects,
// types and globally. It must be safe for concurrent use, and a write that
// returns nil must be visible to every later Grants call
// (docs/contract.md line 15). Grants returns (nil, nil) for a Ref with no grants.
type ObjectPermStore interface {
	// Grants returns every grant on exactly on (not on its parents).
	Grants(ctx context.Context, on Ref) (*GrantSet, error)
	// Grant adds g; granting twice is the same as once.
	Grant(ctx context.Context, g Grant) error
	// Revoke removes g; revoking a missing grant is not an error.
	Revoke(ctx context.Context, g Grant) error
	// DeleteGrantsOn removes every grant on exactly on (a deleted object).
	DeleteGrantsOn(ctx context.Context, on Ref) error
}

// ParentStore is an optional store interface for recorded object parents,
// which the Checker follows transitively after the object's own Parents().
type ParentStore interface {
	// Parents returns ref's recorded parents in a shared slice that neither
	// the caller nor the store may modify (checks keep pointers into it).
	Parents(ctx context.Context, ref Ref) ([]Ref, error)
	// SetParents replaces the recorded parents of ref (none: forget them).
	SetParents(ctx context.Context, ref Ref, parents []Ref) error
}

// Snapshotter is an optional store interface. A Checker takes one Snapshot
// per check and reads only through it, so a write during a check is seen
// entirely or not at all; the view's Facts let it skip reads that cannot
// matter and keep answers across checks.
//
// A view is used only when SnapshotFacts.Store is the Checker's own store: a
// wrapper embedding a Snapshotter (a test double overriding Holding) is read
// through its own methods, overrides included.
type Snapshotter interface {
	Snapshot(ctx context.Context) (Snapshot, error)
}

// Snapshot is a consistent, read-only view of a store at one moment; its
// methods mean what the store methods of the same names mean. It must be
// safe for concurrent use; the values it returns are shared and read-only.
type Snapshot interface {
	Holding(ctx context.Context, p Principal) (*Holding, error)
	Grants(ctx context.Context, on Ref) (*GrantSet, error)
	Parents(ctx context.Context, ref Ref) ([]Ref, error)
	// Facts is called on every check: a view keeps its facts and returns a
	// pointer to them, which neither side may modify.
	Facts() *SnapshotFacts
}

// SnapshotFacts is what holds for a whole Snapshot. The zero value claims
// nothing and is always correct; every field set must be true of the view.
type SnapshotFacts struct {
	// Store is the store viewed, as given to the Checker (see Snapshotter).
	Store Store
	// Generation: views with the same nonzero Generation hold the same data,
	// and every write makes a new one. The Checker caches HasPerm's answers
	// under it; zero caches none.
	Generation uint64
	// NoRoleGrants: no role is granted anywhere; HasRole reads profiles only.
	NoRoleGrants bool
	// NoWideGrants: nothing is granted on a TypeScope or GlobalScope().
	NoWideGrants bool
	// NoParents: no object has recorded parents.
	NoParents bool
}

// storeView is a non-Snapshotter store's Snapshot; its Facts claim nothing.
type storeView struct {
	Store
	parents ParentStore // nil: the store records no parents
}

func (v *storeView) Parents(ctx context.Context, ref Ref) ([]Ref, error) {
	if v.parents == nil {
		return nil, nil
	}
	return v.parents.Parents(ctx, ref)
}

func (v *storeView) Facts() *SnapshotFacts { return &noFacts }

var noFacts SnapshotFacts

// Store is what the Checker reads: profiles, memberships and grants.
type Store interface {
	ProfileStore
	ObjectPermStore
}

// Transactor is an optional store interface; the Manager checks and writes
// each change in one Transact. fn runs while no other Transact on the same
// data runs (across processes, for a shared database), reads everything
// committed before it started, and its writes through tx commit together,
// or not at all if fn returns an error. The Manager reads only through tx,
// so tx should implement RoleLister and HolderGrantLister if the store does.
type Transactor interface {
	Transact(ctx context.Context, fn func(ctx context.Context, tx Store) error) error
}

// RoleLister is an optional store interface listing a role's profiles, live
// or not. Without it the Manager refuses to remove a Protected role's holder.
type RoleLister interface {
	RoleProfiles(ctx context.Context, role string) ([]Profile, error)
}

// HolderGrantLister is an optional store interface listing a principal's
// direct grants, which the Manager counts as stakes of a membership change;
// without it only superusers change memberships.
type HolderGrantLister interface {
	GrantsHeldBy(ctx context.Context, holder Principal) ([]Grant, error)
}

// ObjectLister is the optional store interface Checker.ListObjects needs.
// ListObjectIDs returns the IDs of q.Type's matching objects, each once,
// ascending in byte order (Go's string order, SQL's COLLATE "C"), greater
// than q.After, at most q.Limit. It must honour ctx's deadline and return an
// error rather than a partial answer.
type ObjectLister interface {
	ListObjectIDs(ctx context.Context, q ObjectQuery) ([]string, error)
}

// MemberLister is the optional store interface Checker.Holders needs to
// expand groups; GroupMembers returns user IDs in ascending byte order.
type MemberLister interface {
	GroupMembers(ctx context.Context, group string) ([]string, error)
}

// Holding is a principal's profiles (active or not) and, for a user, its
// stored groups; immutable and safe for concurrent use. Stores build it with
// NewHolding and should return the same *Holding while the data is
// unchanged: the Checker attaches its compiled form, so a warm check costs
// one pointer load. A fresh Holding per call is correct, only slower.
type Holding struct {
	profiles []Profile
	groups   []string
	memo     atomic.Pointer[holdingMemo]
}

// NewHolding returns a Holding over copies of profiles and groups.
func NewHolding(profiles []Profile, groups []string) *Holding {
	h := &Holding{}
	if len(profiles) > 0 {
		h.profiles = append([]Profile(nil), profiles...)
	}
	if len(groups) > 0 {
		h.groups = append([]string(nil), groups...)
	}
	return h
}

// Profiles returns the profiles (shared, read-only; none for a nil Holding).
func (h *Holding) Profiles() []Profile {
	if h == nil {
		return nil
	}
	return h.profiles
}

// Groups returns a user's stored groups (shared, read-only; none if nil).
func (h *Holding) Groups() []string {
	if h == nil {
		return nil
	}
	return h.groups
}

// Profile returns the principal's profile for role, if any (live or not).
func (h *Holding) Profile(role string) (Profile, bool) {
	for _, p := range h.Profiles() {
		if p.Role == role {
			return p, true
		}
	}
	return Profile{}, false
}

// GrantSet is every grant on one Ref; immutable and safe for concurrent use.
// Stores build it with NewGrantSet and should return the same *GrantSet
// while the grants are unchanged: the Checker attaches its compiled form. A
// fresh set per call is correct, only slower.
type GrantSet struct {
	entries []grantEntry
	// memo is the set compiled for the Checkers that read it (large sets
	// only). A set with expiring grants is never compiled to keep (it is
	// compiled afresh, for the time of each use): its memo holds instead
	// the entries' expiries (a grantMemo with no policy), which costs the
	// sets without expiring grants, nearly all of them, no memory.
	memo atomic.Pointer[grantMemo]
}

// newGrantSet returns a set of entries with their expiries (nil: none
// expires).
func newGrantSet(entries []grantEntry, exp []int64) *GrantSet {
	s := &GrantSet{entries: entries}
	if exp = compactExp(exp); exp != nil {
		s.memo.Store(&grantMemo{exp: exp})
	}
	return s
}

// expiries returns each entry's expiry in Unix nanoseconds (expNever:
// none), or nil when no grant of the set expires.
func (s *GrantSet) expiries() []int64 {
	if s == nil {
		return nil
	}
	if m := s.memo.Load(); m != nil && m.pol == nil {
		return m.exp
	}
	return nil
}

// expNever is the expiry of a grant that does not expire.
const expNever = 0

// expNanos returns t as an entry's expiry.
func expNanos(t time.Time) int64 {
	switch {
	case t.IsZero() || t.After(lastNano):
		return expNever // never, or after 2262: beyond int64 nanoseconds
	case t.Before(firstNano):
		return math.MinInt64 + 1 // before 1678: always past
	case t.UnixNano() == expNever:
		return -1
	}
	return t.UnixNano()
}

// live reports whether entry i gives anything at now.
func (s *GrantSet) live(i int, now int64) bool {
	exp := s.expiries()
	return exp == nil || exp[i] == expNever || now < exp[i]
}

// index returns the position of e in s, or -1.
func (s *GrantSet) index(e grantEntry) int {
	if s == nil {
		return -1
	}
	return slices.Index(s.entries, e)
}

// expiry returns entry i's expiry (expNever: none).
func (s *GrantSet) expiry(i int) int64 {
	exp := s.expiries()
	if exp == nil {
		return expNever
	}
	return exp[i]
}

// compactExp returns exps, or nil when no entry expires.
func compactExp(exps []int64) []int64 {
	for _, x := range exps {
		if x != expNever {
			return exps
		}
	}
	return nil
}

// expiresAt returns entry i's expiry as a time (zero: never).
func (s *GrantSet) expiresAt(i int) time.Time {
	if x := s.expiry(i); x != expNever {
		return time.Unix(0, x)
	}
	return time.Time{}
}

// grantEntry is one grant of a GrantSet, without the Ref it is on. Names are
// interned handles: 24 bytes an entry, and equal names share their bytes.
type grantEntry struct {
	holder unique.Handle[string]
	name   unique.Handle[string] // permission or role name
	kind   PrincipalKind
	role   bool
}

func (e grantEntry) principal() Principal { return Principal{Kind: e.kind, ID: e.holder.Value()} }

// grant returns the entry as a Grant on on.
func (e grantEntry) grant(on Ref) Grant {
	g := Grant{Holder: e.principal(), On: on}
	if e.role {
		g.Role = e.name.Value()
	} else {
		g.Perm = e.name.Value()
	}
	return g
}

// NewGrantSet returns a GrantSet of the grants' holders and permissions or
// roles, ignoring Grant.On (a set is on one Ref) and dropping invalid grants.
func NewGrantSet(grants []Grant) *GrantSet {
	entries := make([]grantEntry, 0, len(grants))
	var exp []int64
	for _, g := range grants {
		g.On = GlobalScope()
		if !g.Valid() {
			continue
		}
		if x := expNanos(g.ExpiresAt); x != expNever && exp == nil {
			exp = make([]int64, len(entries), cap(entries))
		}
		entries = append(entries, entryOf(g))
		if exp != nil {
			exp = append(exp, expNanos(g.ExpiresAt))
		}
	}
	return newGrantSet(entries, exp)
}

func entryOf(g Grant) grantEntry {
	if g.Role != "" {
		return grantEntry{holder: unique.Make(g.Holder.ID), name: unique.Make(g.Role), kind: g.Holder.Kind, role: true}
	}
	return grantEntry{holder: unique.Make(g.Holder.ID), name: unique.Make(g.Perm), kind: g.Holder.Kind}
}

// Len returns the number of grants in the set. A nil set is empty.
func (s *GrantSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.entries)
}

// Grants returns the set's grants, each with On set to on.
func (s *GrantSet) Grants(on Ref) []Grant {
	if s == nil {
		return nil
	}
	out := make([]Grant, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.grant(on)
		out[i].ExpiresAt = s.expiresAt(i)
	}
	return out
}

// Tokener is an optional store interface: Token returns a token of the
// store's state now, which every write that returned before the call is
// part of. A Tokener's reads honour AtLeast: under a context that carries
// one of its tokens they answer from that state or a newer one. For a store
// shared by several processes (iamsql) this is what keeps replicas
// consistent for one request; MemoryStore, one process whose writes are
// seen at once, satisfies every token of its own.
type Tokener interface {
	Token(ctx context.Context) (Token, error)
}
