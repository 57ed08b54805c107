package iam

import (
	"context"
	"sync/atomic"
	"unique"
)

// The store interfaces: the implementer's API, as database/sql/driver is
// database/sql's. A Checker reads a Store; the optional interfaces add
// recorded parents, atomic transactions and the listing queries that
// access queries and the Manager need. Every store must be safe for
// concurrent use and make a successful write visible to every later
// read; iamtest.TestStore is the conformance suite that checks it.

// ProfileStore keeps profiles (global roles) and group memberships.
//
// Implementations must be safe for concurrent use. A write that returns nil
// must be visible to every later Holding call (docs/contract.md line 15). Holding
// returns (nil, nil) for a principal the store knows nothing about.
type ProfileStore interface {
	// Holding returns the principal's profiles and, for a user, its groups.
	Holding(ctx context.Context, p Principal) (*Holding, error)
	// PutProfile creates or replaces the profile for (p.Holder, p.Role).
	PutProfile(ctx context.Context, p Profile) error
	// SetProfileActive activates or deactivates an existing profile; a
	// missing profile is an error wrapping ErrNotFound.
	SetProfileActive(ctx context.Context, holder Principal, role string, active bool) error
	// DeleteProfile removes the profile; removing a missing one is not an error.
	DeleteProfile(ctx context.Context, holder Principal, role string) error
	// AddMember makes user a member of group; it is idempotent.
	AddMember(ctx context.Context, user, group string) error
	// RemoveMember ends the membership; it is idempotent.
	RemoveMember(ctx context.Context, user, group string) error
}

// ObjectPermStore keeps per-object, per-type and global grants of
// permissions and local roles.
//
// Implementations must be safe for concurrent use. A write that returns nil
// must be visible to every later Grants call (docs/contract.md line 15). Grants
// returns (nil, nil) for a Ref with no grants.
type ObjectPermStore interface {
	// Grants returns every grant on exactly on (not on its parents).
	Grants(ctx context.Context, on Ref) (*GrantSet, error)
	// Grant adds g; granting twice is the same as once.
	Grant(ctx context.Context, g Grant) error
	// Revoke removes g; revoking a missing grant is not an error.
	Revoke(ctx context.Context, g Grant) error
	// DeleteGrantsOn removes every grant on exactly on, in one call (for an
	// object being deleted).
	DeleteGrantsOn(ctx context.Context, on Ref) error
}

// ParentStore is an optional interface of a store that records object
// parents. The Checker follows them, after the object's own Parents(), to
// walk the ancestry transitively.
type ParentStore interface {
	// Parents returns the recorded parents of ref; the slice is shared and
	// must not be modified (by the caller, nor by the store while a check
	// that read it may still run: the Checker keeps pointers into it).
	Parents(ctx context.Context, ref Ref) ([]Ref, error)
	// SetParents replaces the recorded parents of ref (none: forget them).
	SetParents(ctx context.Context, ref Ref, parents []Ref) error
}

// Snapshotter is an optional interface of a store that gives each check
// one consistent view of everything the check reads. A Checker over a
// Snapshotter takes one Snapshot per check and reads only through it: a
// write that lands during a check is seen entirely or not at all, and the
// view's Facts let the Checker skip reads that cannot matter and keep
// answers across checks.
//
// The Checker uses a view only when its Facts name the Checker's own store
// (SnapshotFacts.Store). A type that embeds a Snapshotter, such as a test
// double that overrides Holding to fail, inherits Snapshot, but the views
// name the embedded store, not the wrapper: the Checker then reads through
// the wrapper's own methods, overrides included.
type Snapshotter interface {
	Snapshot(ctx context.Context) (Snapshot, error)
}

// Snapshot is a consistent, read-only view of a store at one moment. Its
// methods mean what the Store's and ParentStore's methods of the same names
// mean, on the data as it was when the view was taken. It must be safe
// for concurrent use; the values it returns are shared and must not be
// modified.
type Snapshot interface {
	Holding(ctx context.Context, p Principal) (*Holding, error)
	Grants(ctx context.Context, on Ref) (*GrantSet, error)
	Parents(ctx context.Context, ref Ref) ([]Ref, error)
	// Facts reports what holds for the whole view. It is called on every
	// check, so it must be cheap: a view keeps its facts and returns a
	// pointer to them, which neither side may modify.
	Facts() *SnapshotFacts
}

// SnapshotFacts is what a Snapshot knows about all of its data. The zero
// value claims nothing and is always correct; every field set must be true
// of the whole view.
type SnapshotFacts struct {
	// Store is the store the view is of: the value a Checker was given.
	// A view that names another store (or none) is not used; the Checker
	// reads through its store's methods instead.
	Store Store
	// Generation numbers the view: two views with the same nonzero
	// Generation hold the same data, and every write makes a new one. A
	// Checker keeps HasPerm's answers under it (the answer cache); zero
	// keeps none.
	Generation uint64
	// NoRoleGrants: no role is granted on any object, type or globally,
	// so HasRole need look at profiles only.
	NoRoleGrants bool
	// NoWideGrants: nothing is granted on a type (TypeScope) or globally
	// (GlobalScope).
	NoWideGrants bool
	// NoParents: no object has recorded parents.
	NoParents bool
}

// storeView is the Snapshot of a store that is not a Snapshotter: each
// read asks the store itself, and its Facts claim nothing.
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

// noFacts claims nothing.
var noFacts SnapshotFacts

// Store is what the Checker reads: profiles, memberships and grants.
type Store interface {
	ProfileStore
	ObjectPermStore
}

// Transactor is an optional interface of a store in which the Manager
// checks and writes a change atomically: fn runs while no other Transact
// on the same data runs (across processes, for a shared database), its
// reads see every change committed before it started, and its writes
// through tx commit together, or not at all if fn returns an error. The
// Manager reads only through tx, so tx should also implement RoleLister and
// HolderGrantLister when the store does.
type Transactor interface {
	Transact(ctx context.Context, fn func(ctx context.Context, tx Store) error) error
}

// RoleLister is an optional interface of a store that lists the profiles of
// a role, live or not. The Manager's last-holder rule needs it; without it,
// removing a holder of a Protected role is refused.
type RoleLister interface {
	RoleProfiles(ctx context.Context, role string) ([]Profile, error)
}

// HolderGrantLister is an optional interface of a store that lists every
// grant a principal holds directly. The Manager needs it to treat a
// membership change as granting the group's grants; without it, a
// non-superuser cannot add members to a group that holds any.
type HolderGrantLister interface {
	GrantsHeldBy(ctx context.Context, holder Principal) ([]Grant, error)
}

// ObjectLister is an optional interface of a store that can answer
// ObjectQuery, which Checker.ListObjects needs.
//
// ListObjectIDs returns the IDs of the matching objects of q.Type, each
// once, in ascending byte order (Go's string order, SQL's COLLATE "C"),
// greater than q.After and at most q.Limit of them. It must honour ctx's
// deadline and return an error rather than a partial answer.
type ObjectLister interface {
	ListObjectIDs(ctx context.Context, q ObjectQuery) ([]string, error)
}

// MemberLister is an optional interface of a store that lists the stored
// members of a group; Checker.Holders needs it to expand groups to users.
// GroupMembers returns the user IDs in ascending byte order.
type MemberLister interface {
	GroupMembers(ctx context.Context, group string) ([]string, error)
}

// Holding is what a store holds for one principal: its profiles (active or
// not) and, for a user, the groups it is a stored member of.
//
// A Holding is immutable once built and safe for concurrent use. Stores
// build one with NewHolding and should return the same *Holding for as long
// as the principal's data does not change: the Checker attaches its compiled
// form (a permission bitset) to it, so a warm check costs one pointer load.
// Returning a fresh Holding on every call is correct, only slower.
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

// Profiles returns the principal's profiles. The slice is shared: do not
// modify it. A nil Holding has none.
func (h *Holding) Profiles() []Profile {
	if h == nil {
		return nil
	}
	return h.profiles
}

// Groups returns the groups a user is a stored member of. The slice is
// shared: do not modify it. A nil Holding has none.
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

// GrantSet is every grant on one Ref, as returned by a store. It is immutable
// once built and safe for concurrent use.
//
// Stores build one with NewGrantSet and should return the same *GrantSet for
// as long as the grants on the Ref do not change: the Checker attaches its
// compiled form to it. Returning a fresh set on every call is correct, only
// slower.
type GrantSet struct {
	entries []grantEntry
	memo    atomic.Pointer[grantMemo]
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

// NewGrantSet returns a GrantSet over the holder and permission or role of
// each grant; Grant.On is ignored (the set is on one Ref). Invalid grants are
// dropped: a set never grants more than its valid entries.
func NewGrantSet(grants []Grant) *GrantSet {
	s := &GrantSet{entries: make([]grantEntry, 0, len(grants))}
	for _, g := range grants {
		g.On = GlobalScope()
		if !g.Valid() {
			continue
		}
		s.entries = append(s.entries, entryOf(g))
	}
	return s
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
	}
	return out
}
