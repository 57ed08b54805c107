package iam

import "fmt"

// Role bundles permissions. Holding it (globally by a live Profile, locally
// by a Grant) means holding its Perms and, transitively, its Includes' Perms.
// Roles are listed in Policy.Roles; New requires unique names, listed
// Includes and no cycle. A Role must not be modified after New.
type Role struct {
	Name     string   // "blog.editor"
	Perms    []string // permissions the role grants
	Includes []*Role  // holding this role means holding these too
	// Protected marks a superuser-equivalent role: through the Manager, only
	// an active superuser changes who holds it (or a role including it), and
	// its last holder cannot be removed.
	Protected bool
}

// String returns the role's name.
func (r *Role) String() string {
	if r == nil {
		return "<nil role>"
	}
	return r.Name
}

// bitset is a fixed-size set of small integers (permission or role indexes).
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) has(i int) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }
func (b bitset) set(i int)      { b[i>>6] |= 1 << (uint(i) & 63) }

// any reports whether b and o share an element.
func (b bitset) any(o bitset) bool {
	for i := range b {
		if b[i]&o[i] != 0 {
			return true
		}
	}
	return false
}

func (b bitset) or(o bitset) {
	for i := range b {
		b[i] |= o[i]
	}
}

// roleInfo is a role compiled against a policy.
type roleInfo struct {
	role  *Role
	name  string
	idx   int
	perms bitset // every permission the role grants, Includes followed
	roles bitset // this role and every role it includes, transitively
}

// compileRoles indexes roles, follows Includes and rejects duplicates,
// unlisted included roles and cycles.
func compileRoles(roles []*Role, permIdx func(string) (int, bool), nPerms int) (map[string]*roleInfo, []*roleInfo, error) {
	byName := make(map[string]*roleInfo, len(roles))
	byPtr := make(map[*Role]*roleInfo, len(roles))
	list := make([]*roleInfo, 0, len(roles))
	for _, r := range roles {
		if r == nil {
			return nil, nil, fmt.Errorf("%w: nil role in Policy.Roles", ErrInvalidPolicy)
		}
		if r.Name == "" {
			return nil, nil, fmt.Errorf("%w: role with an empty name", ErrInvalidPolicy)
		}
		if _, dup := byName[r.Name]; dup {
			return nil, nil, fmt.Errorf("%w: duplicate role %q", ErrInvalidPolicy, r.Name)
		}
		ri := &roleInfo{role: r, name: r.Name, idx: len(list)}
		byName[r.Name] = ri
		byPtr[r] = ri
		list = append(list, ri)
	}
	for _, ri := range list {
		ri.perms = newBitset(nPerms)
		ri.roles = newBitset(len(list))
		for _, p := range ri.role.Perms {
			i, ok := permIdx(p)
			if !ok {
				return nil, nil, fmt.Errorf("%w: role %q grants undeclared permission %q", ErrInvalidPolicy, ri.name, p)
			}
			ri.perms.set(i)
		}
		for _, inc := range ri.role.Includes {
			if inc == nil {
				return nil, nil, fmt.Errorf("%w: role %q includes a nil role", ErrInvalidPolicy, ri.name)
			}
			if byPtr[inc] == nil {
				return nil, nil, fmt.Errorf("%w: role %q includes role %q, which is not in Policy.Roles", ErrInvalidPolicy, ri.name, inc.Name)
			}
		}
	}
	// Depth-first closure with cycle detection.
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(list))
	var visit func(ri *roleInfo, path []string) error
	visit = func(ri *roleInfo, path []string) error {
		switch state[ri.idx] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("%w: role cycle %v -> %s", ErrInvalidPolicy, path, ri.name)
		}
		state[ri.idx] = visiting
		ri.roles.set(ri.idx)
		for _, inc := range ri.role.Includes {
			ii := byPtr[inc]
			if err := visit(ii, append(path, ri.name)); err != nil {
				return err
			}
			ri.perms.or(ii.perms)
			ri.roles.or(ii.roles)
		}
		state[ri.idx] = done
		return nil
	}
	for _, ri := range list {
		if err := visit(ri, nil); err != nil {
			return nil, nil, err
		}
	}
	return byName, list, nil
}
