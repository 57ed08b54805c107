package iam

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Ref names what permissions are granted on and checked against; a plain
// value, comparable with == and usable as a map key:
//
//   - Ref{Type: "blog.post", ID: "42"}: one object;
//   - TypeScope("blog.post"): every object of the type;
//   - GlobalScope(): everything.
//
// Scopes have their own constructors so none is reached by accident: a Ref
// with an empty ID (a post not saved yet) and the zero Ref (a Grant without
// On) are invalid, refused with ErrInvalid by grants, checks and the Manager.
type Ref struct {
	Type string
	ID   string

	// scope tells scopes from object Refs with empty fields; only
	// TypeScope, GlobalScope and StoredRef set it.
	scope refScope
}

type refScope uint8

const (
	scopeObject refScope = iota
	scopeType
	scopeGlobal
)

// TypeScope returns the Ref of every object of type typ ("every post").
func TypeScope(typ string) Ref { return Ref{Type: typ, scope: scopeType} }

// GlobalScope returns the Ref of everything, for global grants.
func GlobalScope() Ref { return Ref{scope: scopeGlobal} }

// StoredRef rebuilds a Ref a store persisted as its two fields: both empty
// is GlobalScope(), an empty id TypeScope(typ), else the object. It is for
// stores reading back the valid Refs they wrote; applications use literals,
// TypeScope and GlobalScope, so an object missing its ID never becomes a scope.
func StoredRef(typ, id string) Ref {
	switch {
	case typ == "" && id == "":
		return GlobalScope()
	case id == "":
		return TypeScope(typ)
	}
	return Ref{Type: typ, ID: id}
}

// refJSON is a Ref's JSON form: Type and ID, plus Scope "type" or "global"
// for scopes, so a Ref stored as JSON (in a Manager Request, say) reads back
// as the same scope, never as an object missing its ID.
type refJSON struct {
	Type  string
	ID    string
	Scope string `json:",omitempty"`
}

// MarshalJSON encodes r as described at refJSON.
func (r Ref) MarshalJSON() ([]byte, error) {
	j := refJSON{Type: r.Type, ID: r.ID}
	switch r.scope {
	case scopeType:
		j.Scope = "type"
	case scopeGlobal:
		j.Scope = "global"
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON encodes; an unknown Scope is an
// error wrapping ErrInvalid.
func (r *Ref) UnmarshalJSON(b []byte) error {
	var j refJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out := Ref{Type: j.Type, ID: j.ID}
	switch j.Scope {
	case "":
	case "type":
		out.scope = scopeType
	case "global":
		out.scope = scopeGlobal
	default:
		return fmt.Errorf("%w: Ref scope %q (want \"type\", \"global\" or none)", ErrInvalid, j.Scope)
	}
	*r = out
	return nil
}

// ObjectRef makes a Ref an Object, so a bare Ref can be checked.
func (r Ref) ObjectRef() Ref { return r }

// Equal reports whether r and o are the same Ref (as ==; go-cmp uses it).
func (r Ref) Equal(o Ref) bool { return r == o }

// String returns "type:id" for an object, "type:*" for a type, "*" for
// global, "" for the zero Ref and "invalid(type:id)" for other invalid Refs.
func (r Ref) String() string {
	switch {
	case r == Ref{}:
		return "" // no ref at all, as in a Decision that is on nothing
	case !r.Valid():
		return "invalid(" + r.Type + ":" + r.ID + ")"
	case r.scope == scopeGlobal:
		return "*"
	case r.scope == scopeType:
		return r.Type + ":*"
	}
	return r.Type + ":" + r.ID
}

// Valid reports whether r is an object, a TypeScope or the GlobalScope.
func (r Ref) Valid() bool { return validRef(r.scope, r.Type, r.ID) }

// validRef is Valid on a Ref's fields, for hot reads: the compiler copies a
// Ref argument in 16-byte words right after spilling it in 8-byte ones, a
// store-forwarding stall.
func validRef(sc refScope, typ, id string) bool {
	switch sc {
	case scopeObject:
		return typ != "" && id != ""
	case scopeType:
		return typ != "" && id == ""
	case scopeGlobal:
		return typ == "" && id == ""
	}
	return false
}

// IsObject reports whether r names one object (type and ID both set).
func (r Ref) IsObject() bool { return r.scope == scopeObject && r.Type != "" && r.ID != "" }

// isScope reports whether r is a valid TypeScope or the GlobalScope.
func (r Ref) isScope() bool {
	return r.scope == scopeType && r.Type != "" && r.ID == "" || r.scope == scopeGlobal && r.Type == "" && r.ID == ""
}

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

// Perm declares a permission. Types, if set, are the only object types it is
// granted on and checked against (as in django-rubberstamp); empty: any.
type Perm struct {
	Name  string
	Types []string
}

// Grant gives a permission or a local role (exactly one of Perm and Role)
// to a user or a group on On: an object, TypeScope(t) or GlobalScope() (see
// Ref). A Grant is a plain value.
type Grant struct {
	Holder Principal // a user or a group
	Perm   string    // the permission granted, or
	Role   string    // the local role granted
	On     Ref       // where
	// ExpiresAt, if set, ends the grant: from then on it gives nothing, to
	// checks, access queries and the Manager alike, as Profile.ExpiresAt
	// ends a profile. Granting the same grant again replaces its expiry;
	// Revoke removes it whatever its expiry.
	ExpiresAt time.Time
}

// Live reports whether g still gives what it names at now.
func (g Grant) Live(now time.Time) bool { return g.ExpiresAt.IsZero() || now.Before(g.ExpiresAt) }

// Valid reports whether g names a valid holder, a valid Ref and exactly one
// of Perm and Role.
func (g Grant) Valid() bool {
	return g.Holder.Valid() && g.On.Valid() && (g.Perm == "") != (g.Role == "")
}

// String returns "user:alice perm blog.edit on blog.post:42" or "group:staff
// role editor on blog.post:*".
func (g Grant) String() string {
	what := "perm " + g.Perm
	if g.Role != "" || g.Perm == "" {
		what = "role " + g.Role
	}
	return g.Holder.String() + " " + what + " on " + g.On.String()
}

// problem says, actionably, what makes g invalid ("" if nothing).
func (g Grant) problem() string {
	switch {
	case !g.Holder.Valid():
		return "holder " + g.Holder.String() + " is not a valid user or group"
	case (g.Perm == "") == (g.Role == ""):
		return "exactly one of Perm and Role must be set"
	}
	return refProblem("On", g.On)
}

// refProblem says what makes r, the field named field, invalid ("" if none).
func refProblem(field string, r Ref) string {
	switch {
	case r.Valid():
		return ""
	case r == Ref{}:
		return field + " is not set (use iam.GlobalScope() for everything)"
	case r.scope == scopeObject && r.Type != "" && r.ID == "":
		return field + " is a " + r.Type + " with no ID, such as an object not saved yet (use iam.TypeScope(" + strconv.Quote(r.Type) + ") for every " + r.Type + ")"
	}
	return field + " " + r.String() + " is not an object, a TypeScope or the GlobalScope"
}
