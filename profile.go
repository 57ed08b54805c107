package iam

import (
	"encoding/json"
	"fmt"
	"time"
)

// PrincipalKind tells whether a Principal is a user or a group.
type PrincipalKind uint8

// The kinds of Principal. The zero kind is invalid: a zero Principal matches
// nothing.
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

// User returns the Principal of the user whose SubjectID is id.
func User(id string) Principal { return Principal{Kind: KindUser, ID: id} }

// Group returns the Principal for a group.
func Group(name string) Principal { return Principal{Kind: KindGroup, ID: name} }

// String returns "user:ID" or "group:ID".
func (p Principal) String() string { return p.Kind.String() + ":" + p.ID }

// Valid reports whether p names a user or a group with a non-empty ID.
func (p Principal) Valid() bool {
	return (p.Kind == KindUser || p.Kind == KindGroup) && p.ID != ""
}

// Profile is a principal's global role, held iff the profile is Active and
// not expired. Data is role-specific JSON (a doctor's department), read with
// ProfileData or in a rule with PredProfile. A Profile is a plain value;
// stores copy what they keep, and Data must not be modified once handed over.
type Profile struct {
	Holder    Principal // a user or a group
	Role      string    // the global role held
	Active    bool      // false: held in name only (deactivated)
	ExpiresAt time.Time // zero: never expires
	Data      []byte    // JSON, may be empty
}

// Live reports whether the profile is active and unexpired at now.
func (p Profile) Live(now time.Time) bool {
	return p.Active && (p.ExpiresAt.IsZero() || now.Before(p.ExpiresAt))
}

// ProfileData decodes p.Data into a T; empty data gives T's zero value.
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
