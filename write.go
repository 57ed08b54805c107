package iam

import (
	"context"
	"fmt"
	"slices"
)

// The Checker's write methods are the trusted write path: seeding,
// migrations, back-office jobs, tests. Each validates the write against
// the policy (a role, a permission or a type the policy does not know is
// an error, not a row that grants nothing) and then stores it; none asks
// who is writing. Changes a user asks for (an admin page) go through a
// Manager, which validates the same way and also authorizes the actor.
// The store's own methods of the same names are the implementer's API:
// they store what they are given.

// ValidateGrant reports whether g can be stored under the checker's policy:
// a well-formed grant (ErrInvalid), a declared permission
// (ErrUnknownPermission) or a role in the policy (ErrInvalid), and, for a
// permission declared with Types, an object or type of one of those types
// (ErrWrongType, docs/contract.md line 7). A global grant (GlobalScope()) of
// a typed permission is allowed: it covers the declared types only.
func (c *Checker) ValidateGrant(g Grant) error {
	if !g.Valid() {
		return fmt.Errorf("%w: grant %s: %s", ErrInvalid, g, g.problem())
	}
	if g.Role != "" {
		if c.pol.roles[g.Role] == nil {
			return fmt.Errorf("%w: unknown role %q", ErrInvalid, g.Role)
		}
		return nil
	}
	pi := c.pol.perms[g.Perm]
	if pi == nil {
		return fmt.Errorf("%w: %q", ErrUnknownPermission, g.Perm)
	}
	if g.On.Type != "" && len(pi.types) > 0 && !slices.Contains(pi.types, g.On.Type) {
		return fmt.Errorf("%w: %s is declared for %v, not %q", ErrWrongType, g.Perm, pi.types, g.On.Type)
	}
	return nil
}

// ValidateChange reports whether ch is well formed under the checker's
// policy, as Apply and the Manager require: a known kind, a valid holder
// and a role of the policy for profile changes (and, for ChangePutProfile,
// Active set: a profile stored inactive would grant nothing, silently),
// a grant ValidateGrant accepts, a user and a group for memberships.
func (c *Checker) ValidateChange(ch Change) error {
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
		if err := c.ValidateGrant(ch.Grant); err != nil {
			return err
		}
		if ch.Object != nil && ch.Object.ObjectRef() != ch.Grant.On {
			return fmt.Errorf("%w: Change.Object is %s, the grant is on %s", ErrInvalid, ch.Object.ObjectRef().String(), ch.Grant.On.String())
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

// Apply validates ch (see ValidateChange) and writes it to the store,
// without asking who is changing what: the trusted counterpart of
// Manager.Apply.
func (c *Checker) Apply(ctx context.Context, ch Change) error {
	if err := c.ValidateChange(ch); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("iam: %s: %w", ch.Kind, err)
	}
	return write(ctx, c.store, ch)
}

// AssignRole gives p.Holder the global role p.Role, with p's data and
// expiry, replacing any profile it had for the role. p.Active must be true.
func (c *Checker) AssignRole(ctx context.Context, p Profile) error {
	return c.Apply(ctx, Change{Kind: ChangePutProfile, Profile: p})
}

// PutProfile is AssignRole, under the store's name for the write.
func (c *Checker) PutProfile(ctx context.Context, p Profile) error {
	return c.AssignRole(ctx, p)
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

// Grant validates g (see ValidateGrant) and stores it; granting twice is
// the same as once.
func (c *Checker) Grant(ctx context.Context, g Grant) error {
	return c.Apply(ctx, Change{Kind: ChangeGrant, Grant: g})
}

// Revoke validates g and removes it; revoking a missing grant is not an
// error.
func (c *Checker) Revoke(ctx context.Context, g Grant) error {
	return c.Apply(ctx, Change{Kind: ChangeRevoke, Grant: g})
}

// AddMember makes user a member of group (idempotent).
func (c *Checker) AddMember(ctx context.Context, user, group string) error {
	return c.Apply(ctx, Change{Kind: ChangeAddMember, User: user, Group: group})
}

// RemoveMember ends user's membership of group (idempotent).
func (c *Checker) RemoveMember(ctx context.Context, user, group string) error {
	return c.Apply(ctx, Change{Kind: ChangeRemoveMember, User: user, Group: group})
}

// DeleteGrantsOn removes every grant on obj, in one call: for an object
// being deleted, so that a new object that reuses its ID starts with none.
// obj must be a saved object (a type and an ID).
func (c *Checker) DeleteGrantsOn(ctx context.Context, obj Object) error {
	ref, err := savedRef("DeleteGrantsOn", obj)
	if err != nil {
		return err
	}
	return c.store.DeleteGrantsOn(ctx, ref)
}

// savedRef returns the Ref of obj, which the write op needs to be a saved
// object (a type and an ID).
func savedRef(op string, obj Object) (Ref, error) {
	if obj == nil || typedNil(obj) {
		return Ref{}, fmt.Errorf("%w: %s needs an object", ErrInvalid, op)
	}
	ref := obj.ObjectRef()
	if !ref.IsObject() {
		return Ref{}, fmt.Errorf("%w: %s: %s", ErrInvalid, op, refProblem("the object's ref", ref))
	}
	return ref, nil
}

// SetParents records obj's parents (none: forget them) in a store that
// implements ParentStore. Every ref must be a saved object.
func (c *Checker) SetParents(ctx context.Context, obj Object, parents []Ref) error {
	ps, ok := c.store.(ParentStore)
	if !ok {
		return ErrNoParents
	}
	ref, err := savedRef("SetParents", obj)
	if err != nil {
		return err
	}
	for _, p := range parents {
		if !p.IsObject() {
			return fmt.Errorf("%w: SetParents of %s: %s", ErrInvalid, ref, refProblem("a parent", p))
		}
	}
	return ps.SetParents(ctx, ref, parents)
}
