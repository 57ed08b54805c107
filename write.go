package iam

import (
	"context"
	"fmt"
	"slices"
)

// The Checker's write methods are the trusted write path for the writes
// that name the policy (roles, permissions, types): seeding, migrations,
// back-office jobs, tests. Each validates the write against the policy (a
// role, a permission or a type the policy does not know is an error, not a
// row that grants nothing, and not a revoke that silently leaves access in
// place) and then stores it; none asks who is writing. Changes a user asks
// for (an admin page) go through a Manager, which validates the same way
// and also authorizes the actor. Writes that name no policy entry
// (memberships, parents, DeleteGrantsOn) are the store's own methods.

// Apply checks ch against the checker's policy and writes it to the store,
// without asking who is changing what: the trusted counterpart of
// Manager.Apply. A profile change needs a valid holder and a role of the
// policy (and, for ChangePutProfile, Active set: a profile stored inactive
// would grant nothing, silently); a grant or revoke needs a well-formed
// grant (ErrInvalid) of a declared permission (ErrUnknownPermission) or a
// role of the policy (ErrInvalid) and, for a permission declared with
// Types, an object or type of one of them (ErrWrongType, docs/contract.md
// line 7; a GlobalScope() grant of a typed permission covers the declared
// types only); a membership needs a user and a group.
func (c *Checker) Apply(ctx context.Context, ch Change) error {
	if err := c.validChange(ch); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("iam: %s: %w", ch.Kind, err)
	}
	return write(ctx, c.store, ch)
}

// validChange is Apply's check, which the Manager makes too.
func (c *Checker) validChange(ch Change) error {
	switch {
	case ch.isProfile():
		p := ch.Profile
		if !p.Holder.Valid() {
			return fmt.Errorf("%w: profile holder %q is not a valid user or group", ErrInvalid, p.Holder.String())
		}
		if c.pol.roles[p.Role] == nil {
			return fmt.Errorf("%w: unknown role %q", ErrInvalid, p.Role)
		}
		if ch.Kind == ChangePutProfile && !p.Active {
			return fmt.Errorf("%w: the profile of %s for %s is not Active, so it would grant nothing: set Active: true (SetRoleActive switches a stored profile off)", ErrInvalid, p.Holder, p.Role)
		}
	case ch.Kind == ChangeGrant || ch.Kind == ChangeRevoke:
		g := ch.Grant
		switch pi := c.pol.perms[g.Perm]; {
		case !g.Valid():
			return fmt.Errorf("%w: grant %s: %s", ErrInvalid, g, g.problem())
		case g.Role != "":
			if c.pol.roles[g.Role] == nil {
				return fmt.Errorf("%w: unknown role %q", ErrInvalid, g.Role)
			}
		case pi == nil:
			return fmt.Errorf("%w: %q", ErrUnknownPermission, g.Perm)
		case g.On.Type != "" && len(pi.types) > 0 && !slices.Contains(pi.types, g.On.Type):
			return fmt.Errorf("%w: %s is declared for %v, not %q", ErrWrongType, g.Perm, pi.types, g.On.Type)
		}
		if ch.Object != nil && ch.Object.ObjectRef() != g.On {
			return fmt.Errorf("%w: Change.Object is %s, the grant is on %s", ErrInvalid, ch.Object.ObjectRef().String(), g.On.String())
		}
	case ch.isMembership():
		if ch.User == "" || ch.Group == "" {
			return fmt.Errorf("%w: membership needs a user and a group", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: change kind %d", ErrInvalid, ch.Kind)
	}
	return nil
}

// AssignRole gives p.Holder the global role p.Role, with p's data and
// expiry, replacing any profile it had for the role. p.Active must be true.
func (c *Checker) AssignRole(ctx context.Context, p Profile) error {
	return c.Apply(ctx, Change{Kind: ChangePutProfile, Profile: p})
}

// SetRoleActive switches holder's profile for role on or off; a missing
// profile is an error wrapping ErrNotFound.
func (c *Checker) SetRoleActive(ctx context.Context, holder Principal, role string, active bool) error {
	kind := ChangeDeactivate
	if active {
		kind = ChangeActivate
	}
	return c.Apply(ctx, Change{Kind: kind, Profile: Profile{Holder: holder, Role: role}})
}

// RemoveRole deletes holder's profile for role; removing a missing one is
// not an error.
func (c *Checker) RemoveRole(ctx context.Context, holder Principal, role string) error {
	return c.Apply(ctx, Change{Kind: ChangeDeleteProfile, Profile: Profile{Holder: holder, Role: role}})
}

// Grant validates g and stores it; granting twice is
// the same as once.
func (c *Checker) Grant(ctx context.Context, g Grant) error {
	return c.Apply(ctx, Change{Kind: ChangeGrant, Grant: g})
}

// Revoke validates g and removes it; revoking a missing grant is not an
// error.
func (c *Checker) Revoke(ctx context.Context, g Grant) error {
	return c.Apply(ctx, Change{Kind: ChangeRevoke, Grant: g})
}
