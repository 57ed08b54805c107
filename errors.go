package iam

import (
	"errors"
	"fmt"
)

// Sentinel errors, matched with errors.Is, never by text. Errors of a check,
// a write or a Manager change wrap one, often with the cause as well.
var (
	// ErrUnknownPermission: the policy declares no such permission
	// (docs/contract.md line 1).
	ErrUnknownPermission = errors.New("iam: unknown permission")
	// ErrWrongType: an object of a type the permission is not declared for,
	// or a predicate given a subject or object of the wrong Go type.
	ErrWrongType = errors.New("iam: wrong type")
	// ErrPanic: a predicate (or a subject or object method) panicked during
	// a check; the check is denied.
	ErrPanic = errors.New("iam: panic during check")
	// ErrDenied: wrapped by Checker.Require when access is denied.
	ErrDenied = errors.New("iam: permission denied")
	// ErrInvalidPolicy: New rejected the policy.
	ErrInvalidPolicy = errors.New("iam: invalid policy")
	// ErrInvalid: a malformed argument (empty ID, a Ref with an ID and no
	// type, a grant with both or neither of Perm and Role, an unknown role).
	ErrInvalid = errors.New("iam: invalid argument")
	// ErrNotFound: a store write addressed a profile that does not exist.
	ErrNotFound = errors.New("iam: not found")
	// ErrTooDeep: the object's ancestry is deeper (or wider) than the
	// Checker follows; the check is denied rather than decided on part of it.
	ErrTooDeep = errors.New("iam: ancestry too deep")
)

// Errors of the Manager's rules (docs/contract.md line 19), matched with errors.Is.
var (
	// ErrNotManager: the actor is nil, anonymous or inactive, or lacks
	// iam.manage_roles or iam.manage_grants where the change applies.
	ErrNotManager = errors.New("iam: actor may not manage this")
	// ErrEscalation: the change would hand out a permission the actor does
	// not hold itself (where it would apply).
	ErrEscalation = errors.New("iam: change would grant more than the actor holds")
	// ErrSelfChange: the actor would change its own access or a group's it
	// belongs to, or approve its own request.
	ErrSelfChange = errors.New("iam: actors cannot change their own access")
	// ErrProtected: only an active superuser changes who holds a Protected role.
	ErrProtected = errors.New("iam: only a superuser can change a protected role")
	// ErrLastHolder: the change would leave a Protected role with no user
	// holding it (groups do not count: they may have no members).
	ErrLastHolder = errors.New("iam: the last holder of a protected role cannot be removed")
)

// ErrNotListable is wrapped by ListObjects, Holders and iamsql.AccessFilter
// when the store does not implement the optional interface the query needs
// (ObjectLister, RoleLister, MemberLister). It also wraps errors.ErrUnsupported.
var ErrNotListable = fmt.Errorf("iam: the store cannot answer this query: %w", errors.ErrUnsupported)
