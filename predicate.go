package iam

import (
	"context"
	"fmt"
	"strings"
)

// Predicate is a rule: a boolean expression over a check's subject and
// object, built from leaves (Pred, PredE, PredProfile, the built-ins) with
// And, Or, Not and Xor. It is true, false or an error, with no "skip" value
// (docs/contract.md line 13). Predicates are immutable and safe for
// concurrent use; New rejects a policy using the zero Predicate.
type Predicate struct{ n *pnode }

type op uint8

const (
	opInvalid op = iota
	opLeaf
	opProfile
	opAlways
	opNever
	opAuthenticated
	opSuperuser
	opActive
	opInGroup
	opHasRole
	opAnd
	opOr
	opNot
	opXor
)

type pnode struct {
	op     op
	str    string // printed form
	kids   []*pnode
	fn     func(ctx context.Context, s Subject, o Object) (bool, error)
	decode func(Profile) (any, error)
	pfn    func(ctx context.Context, s Subject, o Object, data any) (bool, error)
	args   func(s Subject, o Object) error // PredProfile's type check, run with or without a profile
	role   *Role
	groups []string
	err    error // construction error, reported by New
}

// String prints the expression, e.g.
// "(has_role:blog.editor | (has_role:blog.author & is_owner))".
func (p Predicate) String() string {
	if p.n == nil {
		return "<invalid>"
	}
	return p.n.str
}

// err returns the construction error New reports (nil for a valid p).
func (p Predicate) err() error {
	if p.n == nil {
		return fmt.Errorf("%w: zero Predicate", ErrInvalidPolicy)
	}
	return p.n.err
}

func invalid(format string, args ...any) Predicate {
	err := fmt.Errorf("%w: "+format, append([]any{ErrInvalidPolicy}, args...)...)
	return Predicate{&pnode{op: opInvalid, str: "<invalid>", err: err}}
}

func leafName(name string) error {
	if name == "" || strings.ContainsAny(name, "()|&^~ \t\n") {
		return fmt.Errorf("%w: predicate name %q must be non-empty and free of spaces and operators", ErrInvalidPolicy, name)
	}
	return nil
}

// Pred returns a leaf named name that calls fn with the subject asserted to
// S and the object to O. A nil object (a model-level check) and an anonymous
// subject (SubjectID "") of another type arrive as zero values (nil for
// pointer types); any other mismatch is false with an error wrapping
// ErrWrongType (docs/contract.md line 11). fn must be safe for concurrent
// use; it runs at most once per check, however often the leaf occurs
// (contract 12), and a panic in it denies the check with ErrPanic
// (contract 10).
func Pred[S, O any](name string, fn func(ctx context.Context, s S, o O) bool) Predicate {
	if fn == nil {
		return invalid("Pred %q: nil function", name)
	}
	// Its own wrapper rather than PredE's: one call less per leaf.
	return leafPred(name, func(ctx context.Context, s Subject, o Object) (bool, error) {
		sv, ov, ok := castArgs[S, O](s, o)
		if !ok {
			if sv, ov, ok = anonArgs[S, O](s, o); !ok {
				return false, wrongArgs[S, O](name, s, o)
			}
		}
		return fn(ctx, sv, ov), nil
	})
}

// PredE is Pred for a function that can fail. An error makes the leaf an
// error (neither true nor false); see And and Or for how errors combine.
func PredE[S, O any](name string, fn func(ctx context.Context, s S, o O) (bool, error)) Predicate {
	if fn == nil {
		if err := leafName(name); err != nil {
			return Predicate{&pnode{op: opInvalid, str: "<invalid>", err: err}}
		}
		return invalid("PredE %q: nil function", name)
	}
	return leafPred(name, func(ctx context.Context, s Subject, o Object) (bool, error) {
		sv, ov, ok := castArgs[S, O](s, o)
		if !ok {
			if sv, ov, ok = anonArgs[S, O](s, o); !ok {
				return false, wrongArgs[S, O](name, s, o)
			}
		}
		return fn(ctx, sv, ov)
	})
}

// leafPred is the leaf named name that calls fn.
func leafPred(name string, fn func(ctx context.Context, s Subject, o Object) (bool, error)) Predicate {
	if err := leafName(name); err != nil {
		return Predicate{&pnode{op: opInvalid, str: "<invalid>", err: err}}
	}
	return Predicate{&pnode{op: opLeaf, str: name, fn: fn}}
}

// castArgs asserts s to S and o (unless nil) to O. It makes no error
// (wrongArgs does), so that it inlines into every predicate call.
func castArgs[S, O any](s Subject, o Object) (sv S, ov O, ok bool) {
	sv, ok = any(s).(S)
	if ok && o != nil {
		ov, ok = any(o).(O)
	}
	return sv, ov, ok
}

// anonArgs is castArgs for an anonymous subject (SubjectID "") of another
// type than S, such as iamhttp.Anonymous: it arrives as S's zero value, so a
// rule typed on the application's user decides for visitors too
// (docs/contract.md line 11). Off the fast path: castArgs failed first.
func anonArgs[S, O any](s Subject, o Object) (sv S, ov O, ok bool) {
	if s == nil || s.SubjectID() != "" {
		return sv, ov, false
	}
	if o != nil {
		ov, ok = any(o).(O)
		return sv, ov, ok
	}
	return sv, ov, true
}

// wrongArgs is the error of arguments castArgs refused (docs/contract.md line 11).
func wrongArgs[S, O any](name string, s Subject, o Object) error {
	// An anonymous subject of another type is fine (anonArgs).
	if _, ok := any(s).(S); !ok && (s == nil || s.SubjectID() != "") {
		return fmt.Errorf("%w: predicate %s wants subject %T, got %T", ErrWrongType, name, *new(S), s)
	}
	return fmt.Errorf("%w: predicate %s wants object %T, got %T", ErrWrongType, name, *new(O), o)
}

// PredProfile returns a leaf true when the subject's own stored, live profile
// for role exists and fn returns true for its data decoded as a T
// (ProfileData); without one it is false, and undecodable data is an error.
// Group profiles do not count (they carry no personal data). The decoded
// data is cached with the profile. S and O are handled as in Pred.
func PredProfile[S, O, T any](name string, role *Role, fn func(ctx context.Context, s S, o O, data T) bool) Predicate {
	if err := leafName(name); err != nil {
		return Predicate{&pnode{op: opInvalid, str: "<invalid>", err: err}}
	}
	if role == nil || fn == nil {
		return invalid("PredProfile %q: nil role or function", name)
	}
	n := &pnode{op: opProfile, str: name, role: role}
	n.decode = func(p Profile) (any, error) { return ProfileData[T](p) }
	n.args = func(s Subject, o Object) error {
		if _, _, ok := castArgs[S, O](s, o); ok {
			return nil
		}
		if _, _, ok := anonArgs[S, O](s, o); ok {
			return nil
		}
		return wrongArgs[S, O](name, s, o)
	}
	n.pfn = func(ctx context.Context, s Subject, o Object, data any) (bool, error) {
		sv, ov, ok := castArgs[S, O](s, o)
		if !ok {
			sv, ov, _ = anonArgs[S, O](s, o) // args has accepted them
		}
		d, _ := data.(T)
		return fn(ctx, sv, ov, d), nil
	}
	return Predicate{n}
}

var (
	alwaysP = Predicate{&pnode{op: opAlways, str: "always"}}
	neverP  = Predicate{&pnode{op: opNever, str: "never"}}
	authP   = Predicate{&pnode{op: opAuthenticated, str: "is_authenticated"}}
	superP  = Predicate{&pnode{op: opSuperuser, str: "is_superuser"}}
	activeP = Predicate{&pnode{op: opActive, str: "is_active"}}
)

// Always is true for every check that reaches it (a public rule).
func Always() Predicate { return alwaysP }

// Never is false.
func Never() Predicate { return neverP }

// IsAuthenticated is true when the subject has a non-empty SubjectID.
func IsAuthenticated() Predicate { return authP }

// IsSuperuser is true when the subject is an active superuser.
func IsSuperuser() Predicate { return superP }

// IsActive is true unless the subject reports IsActive() == false. Inactive
// subjects are denied before any rule runs: use it inside Not or to document.
func IsActive() Predicate { return activeP }

// InGroup is true when the subject is a member of every named group (docs/contract.md
// line 14): its stored memberships plus what SubjectGroups() returns.
func InGroup(groups ...string) Predicate {
	if len(groups) == 0 {
		return invalid("InGroup needs at least one group")
	}
	for _, g := range groups {
		if g == "" || strings.Contains(g, ",") {
			return invalid("InGroup: group name %q is empty or contains a comma", g)
		}
	}
	gs := append([]string(nil), groups...)
	return Predicate{&pnode{op: opInGroup, groups: gs, str: "in_group:" + strings.Join(gs, ",")}}
}

// HasRole is true when the subject holds r, or a role that includes r,
// globally (unless the object refuses global roles) or locally on the object
// or one of its ancestors, directly or through a group (docs/contract.md line 14b).
// A role on a type counts for its objects and, model-level, for the types the
// permission is declared for. r must be listed in Policy.Roles.
func HasRole(r *Role) Predicate {
	if r == nil {
		return invalid("HasRole(nil)")
	}
	return Predicate{&pnode{op: opHasRole, role: r, str: "has_role:" + r.Name}}
}

func combine(o op, sym string, ps []Predicate) Predicate {
	if len(ps) == 0 {
		return invalid("%s needs at least one predicate", sym)
	}
	if len(ps) == 1 && o != opXor {
		return ps[0]
	}
	n := &pnode{op: o, kids: make([]*pnode, len(ps))}
	parts := make([]string, len(ps))
	for i, p := range ps {
		if err := p.err(); err != nil && n.err == nil {
			n.err = err
		}
		if p.n == nil {
			return Predicate{&pnode{op: opInvalid, str: "<invalid>", err: p.err()}}
		}
		n.kids[i] = p.n
		parts[i] = p.n.str
	}
	n.str = "(" + strings.Join(parts, " "+sym+" ") + ")"
	return Predicate{n}
}

// And is true when every predicate is true, evaluating left to right up to
// the first false (docs/contract.md line 8); if none is false but one erred,
// And is that error (contract 9). And of one predicate is that predicate.
func And(ps ...Predicate) Predicate { return combine(opAnd, "&", ps) }

// Or is true when any predicate is true. It evaluates left to right and stops
// at the first true. If none is true but one erred, Or is that error.
func Or(ps ...Predicate) Predicate { return combine(opOr, "|", ps) }

// Xor is true when an odd number of at least two predicates are true; it
// evaluates all, and any error makes it an error.
func Xor(ps ...Predicate) Predicate {
	if len(ps) < 2 {
		return invalid("Xor needs at least two predicates")
	}
	return combine(opXor, "^", ps)
}

// Not negates p; an error stays an error. Not(Not(p)) is p, and prints as p.
func Not(p Predicate) Predicate {
	if p.n == nil {
		return Predicate{&pnode{op: opInvalid, str: "<invalid>", err: p.err()}}
	}
	if p.n.op == opNot {
		return Predicate{p.n.kids[0]}
	}
	return Predicate{&pnode{op: opNot, kids: []*pnode{p.n}, str: "~" + p.n.str, err: p.n.err}}
}

// cnode is a predicate compiled against a policy.
type cnode struct {
	op   op
	kids []*cnode
	leaf int // index in rule.leaves, for leaves
	src  *pnode
	role *roleInfo
	slot int // profile-data slot, for opProfile
}

// rule is a compiled Rule of a Policy.
type rule struct {
	perm   string
	expr   string
	root   *cnode
	leaves []*pnode
}

func (p *policy) compileRule(perm string, pr Predicate) (*rule, error) {
	if err := pr.err(); err != nil {
		return nil, fmt.Errorf("rule for %q: %w", perm, err)
	}
	r := &rule{perm: perm, expr: pr.n.str}
	seen := map[any]int{}
	var walk func(n *pnode) (*cnode, error)
	walk = func(n *pnode) (*cnode, error) {
		c := &cnode{op: n.op, src: n, leaf: -1}
		switch n.op {
		case opAnd, opOr, opXor, opNot:
			for _, k := range n.kids {
				ck, err := walk(k)
				if err != nil {
					return nil, err
				}
				c.kids = append(c.kids, ck)
			}
			return c, nil
		case opHasRole, opProfile:
			ri := p.roles[n.role.Name]
			if ri == nil || ri.role != n.role {
				return nil, fmt.Errorf("%w: rule for %q: %s names role %q, which is not in Policy.Roles", ErrInvalidPolicy, perm, n.str, n.role.Name)
			}
			c.role = ri
		case opInvalid:
			return nil, n.err
		}
		if n.op == opProfile {
			c.slot = p.dataSlots
			p.dataSlots++
		}
		// Leaves: user leaves are the same leaf when they are the same
		// value; built-ins when they print the same.
		var key any = n
		if n.op != opLeaf && n.op != opProfile {
			key = n.str
		}
		if i, ok := seen[key]; ok {
			c.leaf = i
		} else {
			c.leaf = len(r.leaves)
			seen[key] = c.leaf
			r.leaves = append(r.leaves, n)
		}
		return c, nil
	}
	root, err := walk(pr.n)
	if err != nil {
		return nil, err
	}
	r.root = root
	return r, nil
}

// Leaf is the value one leaf of a rule took in a check.
type Leaf struct {
	Name      string // the leaf as printed, e.g. "is_owner" or "has_role:blog.editor"
	Evaluated bool   // false: short-circuited, never run
	Value     bool
	Err       bool // the leaf failed (the check returns the error unless another branch decided it)
}
