package iam

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"
)

// PrincipalKind tells whether a Principal is a user or a group.
type PrincipalKind uint8

// The kinds of Principal. The zero kind is invalid, so a zero Principal never
// matches anything.
const (
	KindUser  PrincipalKind = 1
	KindGroup PrincipalKind = 2
)

// String returns "user", "group" or "invalid".
func (k PrincipalKind) String() string {
	switch k {
	case KindUser:
		return "user"
	case KindGroup:
		return "group"
	}
	return "invalid"
}

// Principal is who holds a role or a grant: a user or a group. It is a plain
// value, safe to copy and to use as a map key.
type Principal struct {
	Kind PrincipalKind
	ID   string
}

// User returns the Principal for the user with the given ID (the subject's
// SubjectID).
func User(id string) Principal { return Principal{Kind: KindUser, ID: id} }

// Group returns the Principal for a group.
func Group(name string) Principal { return Principal{Kind: KindGroup, ID: name} }

// String returns "user:ID" or "group:ID".
func (p Principal) String() string { return p.Kind.String() + ":" + p.ID }

// Valid reports whether p names a user or a group with a non-empty ID.
func (p Principal) Valid() bool {
	return (p.Kind == KindUser || p.Kind == KindGroup) && p.ID != ""
}

// Profile is a role held globally by a principal. Roles are profiles: the
// principal holds the role iff the profile is Active and not expired. The
// profile carries role-specific data (a doctor's department, an editor's
// sections) as JSON; read it with ProfileData or use it in a rule with
// PredProfile.
//
// A Profile is a plain value. Stores copy what they keep; Data must not be
// modified after it is handed to a store.
type Profile struct {
	Holder    Principal
	Role      string
	Active    bool
	ExpiresAt time.Time // zero: never expires
	Data      []byte    // JSON, may be empty
}

// Live reports whether the profile grants its role at time now: it is active
// and either never expires or expires after now.
func (p Profile) Live(now time.Time) bool {
	return p.Active && (p.ExpiresAt.IsZero() || now.Before(p.ExpiresAt))
}

// ProfileData decodes the profile's JSON data into a T. Empty data decodes to
// T's zero value.
func ProfileData[T any](p Profile) (T, error) {
	var v T
	if len(p.Data) == 0 {
		return v, nil
	}
	if err := json.Unmarshal(p.Data, &v); err != nil {
		return v, fmt.Errorf("iam: profile data of %s for role %q: %w", p.Holder, p.Role, err)
	}
	return v, nil
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
