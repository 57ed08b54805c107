package iam

import (
	"encoding/json"
	"fmt"
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
