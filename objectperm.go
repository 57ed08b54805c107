package iam

import (
	"context"
	"sync/atomic"
	"unique"
)

// Ref names a thing permissions can be granted on. It is a plain value, safe
// to copy and to use as a map key.
//
//   - Ref{Type: "blog.post", ID: "42"}: one object;
//   - Ref{Type: "blog.post"}: every object of the type (a type-level grant);
//   - Ref{}: everything (a global grant).
//
// A Ref with an ID but no Type is invalid.
type Ref struct {
	Type string
	ID   string
}

// ObjectRef makes a Ref an Object, so a bare Ref can be checked.
func (r Ref) ObjectRef() Ref { return r }

// String returns "type:id", "type:*" for a whole type, or "*" for global.
func (r Ref) String() string {
	switch {
	case r.Type == "" && r.ID == "":
		return "*"
	case r.ID == "":
		return r.Type + ":*"
	}
	return r.Type + ":" + r.ID
}

// Valid reports whether r is an object, a whole type or global (not an ID
// without a type).
func (r Ref) Valid() bool { return r.Type != "" || r.ID == "" }

// IsObject reports whether r names one object (type and ID both set).
func (r Ref) IsObject() bool { return r.Type != "" && r.ID != "" }

// Object is an application value permissions can be checked on.
//
// Optional interfaces, found by type assertion:
//
//	interface{ Parents() []Ref }           grants and local roles on a parent apply to the object
//	                                       (the Checker reads the slice during the check: do not modify it then)
//	interface{ AcquireGlobalRoles() bool } false: global roles do not apply (direct grants still do)
type Object interface{ ObjectRef() Ref }

type parenter interface{ Parents() []Ref }
type globalRoleAcquirer interface{ AcquireGlobalRoles() bool }

// Perm declares a permission. Types, when set, lists the only object types
// the permission may be granted on and checked against (one action for
// several types, as in django-rubberstamp); empty means any type.
type Perm struct {
	Name  string
	Types []string
}

// Grant gives a permission, or a local role, to a user or a group, on one
// object, on a whole type, or globally (see Ref). Exactly one of Perm and
// Role is set.
type Grant struct {
	Holder Principal
	Perm   string
	Role   string
	On     Ref
}

// Valid reports whether g names a valid holder, a valid Ref and exactly one
// of Perm and Role.
func (g Grant) Valid() bool {
	return g.Holder.Valid() && g.On.Valid() && (g.Perm == "") != (g.Role == "")
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
		g.On = Ref{}
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

// Store is what the Checker reads: profiles, memberships and grants.
type Store interface {
	ProfileStore
	ObjectPermStore
}
