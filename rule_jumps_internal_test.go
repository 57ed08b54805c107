package iam

// The rules compiled to jumps (compileJumps, evalRule) against the tree
// walk (eval) and against a model of docs/contract.md lines 8, 9 and 12 written
// here: the same answer, the same error, the same leaves run in the same
// order, over random rules.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

type jumpsUser struct{ id string }

func (u *jumpsUser) SubjectID() string { return u.id }

// jumpsLeaves are the predicates of a random rule: leaf i answers
// outcome[i] (0 false, 1 true, 2 an error) and logs its name when it runs.
type jumpsLeaves struct {
	outcome []int
	log     []string
	preds   []Predicate
}

var errJumpLeaf = errors.New("leaf failed")

func newJumpsLeaves(n int) *jumpsLeaves {
	l := &jumpsLeaves{outcome: make([]int, n)}
	for i := range n {
		name := fmt.Sprint("p", i)
		l.preds = append(l.preds, PredE(name, func(_ context.Context, _ *jumpsUser, _ Object) (bool, error) {
			l.log = append(l.log, name)
			switch l.outcome[i] {
			case 1:
				return true, nil
			case 2:
				return false, fmt.Errorf("%s: %w", name, errJumpLeaf)
			}
			return false, nil
		}))
	}
	return l
}

// jumpsExpr is a random rule over the leaves, with its model.
type jumpsExpr struct {
	op   op // opLeaf, opAnd, opOr, opNot, opXor
	leaf int
	kids []*jumpsExpr
}

func randJumpsExpr(rng *rand.Rand, leaves, depth int, xor bool) *jumpsExpr {
	if depth == 0 || rng.IntN(4) == 0 {
		return &jumpsExpr{op: opLeaf, leaf: rng.IntN(leaves)}
	}
	ops := []op{opAnd, opOr, opNot}
	if xor {
		ops = append(ops, opXor)
	}
	e := &jumpsExpr{op: ops[rng.IntN(len(ops))]}
	n := 1
	if e.op != opNot {
		n = 2 + rng.IntN(3)
	}
	for range n {
		e.kids = append(e.kids, randJumpsExpr(rng, leaves, depth-1, xor))
	}
	return e
}

func (e *jumpsExpr) pred(l *jumpsLeaves) Predicate {
	if e.op == opLeaf {
		return l.preds[e.leaf]
	}
	var ps []Predicate
	for _, k := range e.kids {
		ps = append(ps, k.pred(l))
	}
	switch e.op {
	case opAnd:
		return And(ps...)
	case opOr:
		return Or(ps...)
	case opXor:
		return Xor(ps...)
	}
	return Not(ps[0])
}

func (e *jumpsExpr) String() string {
	if e.op == opLeaf {
		return fmt.Sprint("p", e.leaf)
	}
	var parts []string
	for _, k := range e.kids {
		parts = append(parts, k.String())
	}
	return fmt.Sprintf("%v(%s)", map[op]string{opAnd: "And", opOr: "Or", opNot: "Not", opXor: "Xor"}[e.op], strings.Join(parts, ", "))
}

// model evaluates e as docs/contract.md says: And stops at the first false, Or at
// the first true (contract 8); an error decides only when no branch did,
// and then the first error is the answer (contract 9); a leaf runs at most
// once (contract 12). It returns the value, whether it is an error, and
// appends the leaves run to log.
func (e *jumpsExpr) model(outcome []int, ran map[int]bool, log *[]string) (bool, bool) {
	switch e.op {
	case opLeaf:
		if !ran[e.leaf] {
			ran[e.leaf] = true
			*log = append(*log, fmt.Sprint("p", e.leaf))
		}
		return outcome[e.leaf] == 1, outcome[e.leaf] == 2
	case opNot:
		v, bad := e.kids[0].model(outcome, ran, log)
		return !v && !bad, bad
	case opXor:
		odd, bad := false, false
		for _, k := range e.kids {
			v, kb := k.model(outcome, ran, log)
			bad = bad || kb
			odd = odd != (v && !kb)
		}
		return odd && !bad, bad
	}
	decisive := e.op == opOr
	bad := false
	for _, k := range e.kids {
		v, kb := k.model(outcome, ran, log)
		if kb {
			bad = true
			continue
		}
		if v == decisive {
			return decisive, false
		}
	}
	if bad {
		return false, true
	}
	return !decisive, false
}

// TestRuleJumps: contracts 8, 9 and 12 on random rules, with the rule's
// jumps and with the tree walk: the same decision, error, leaves and run
// order, and both as the model says.
func TestRuleJumps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	u := &jumpsUser{id: "u"}
	rules, withJumps, errs := 0, 0, 0
	for round := range 400 {
		nleaves := 1 + rng.IntN(6)
		l := newJumpsLeaves(nleaves)
		e := randJumpsExpr(rng, nleaves, 1+rng.IntN(4), round%4 == 0)
		c, err := New(Policy{Rules: map[string]Predicate{"app.do": e.pred(l)}}, NewMemoryStore())
		require.NoError(t, err, e.String())
		r := c.pol.perms["app.do"].rule
		hasXor := strings.Contains(e.String(), "Xor")
		require.Equal(t, !hasXor, r.jumps != nil, "jumps for %s", e)
		if r.jumps != nil {
			withJumps++
		}
		jumps := r.jumps
		rules++
		for range 8 {
			for i := range l.outcome {
				l.outcome[i] = rng.IntN(3)
			}
			var wantLog []string
			wantV, wantBad := e.model(l.outcome, map[int]bool{}, &wantLog)
			if wantBad {
				errs++
			}
			type run struct {
				Allowed bool
				Err     bool
				Log     []string
				Leaves  []Leaf
			}
			var got [2]run
			for k, js := range [][]jump{jumps, nil} {
				r.jumps = js
				l.log = nil
				d, err := c.Check(ctx, u, "app.do", nil)
				if err != nil {
					require.ErrorIs(t, err, errJumpLeaf, e.String())
				}
				got[k] = run{d.Allowed, err != nil, l.log, d.Leaves()}
				require.Equal(t, d.Allowed, c.HasPerm(ctx, u, "app.do", nil), "HasPerm vs Check, %s", e)
			}
			r.jumps = jumps
			if diff := cmp.Diff(got[1], got[0]); diff != "" {
				t.Fatalf("%s with %v: jumps vs tree (-tree +jumps):\n%s", e, l.outcome, diff)
			}
			want := run{Allowed: wantV && !wantBad, Err: wantBad, Log: wantLog, Leaves: got[0].Leaves}
			if diff := cmp.Diff(want, got[0]); diff != "" {
				t.Fatalf("%s with %v: (-model +got):\n%s", e, l.outcome, diff)
			}
		}
	}
	t.Logf("%d rules (%d with jumps), %d checks, %d of them errors", rules, withJumps, rules*8, errs)
}

// TestRuleJumpsShape: the jumps of a few rules, as compiled.
func TestRuleJumpsShape(t *testing.T) {
	l := newJumpsLeaves(3)
	a, b, c := l.preds[0], l.preds[1], l.preds[2]
	type j struct{ Leaf, T, F int32 }
	for _, tc := range []struct {
		name string
		p    Predicate
		want []j
	}{
		{"a", a, []j{{0, ruleTrue, ruleFalse}}},
		{"Not a", Not(a), []j{{0, ruleFalse, ruleTrue}}},
		{"a & b", And(a, b), []j{{0, 1, ruleFalse}, {1, ruleTrue, ruleFalse}}},
		{"a | b", Or(a, b), []j{{0, ruleTrue, 1}, {1, ruleTrue, ruleFalse}}},
		{"a | (b & c)", Or(a, And(b, c)), []j{{0, ruleTrue, 1}, {1, 2, ruleFalse}, {2, ruleTrue, ruleFalse}}},
		{"~(a & b) | c", Or(Not(And(a, b)), c), []j{{0, 1, ruleTrue}, {1, 2, ruleTrue}, {2, ruleTrue, ruleFalse}}},
		{"a & a", And(a, a), []j{{0, 1, ruleFalse}, {0, ruleTrue, ruleFalse}}},
		{"Xor: none", Xor(a, b), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := New(Policy{Rules: map[string]Predicate{"app.do": tc.p}}, NewMemoryStore())
			require.NoError(t, err)
			var got []j
			for _, x := range ch.pol.perms["app.do"].rule.jumps {
				got = append(got, j{int32(x.n.leaf), x.onTrue, x.onFalse})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

type rvUser struct{ id string }

func (u *rvUser) SubjectID() string { return u.id }

type rvObj struct {
	id     string
	refuse bool
}

func (o rvObj) ObjectRef() Ref           { return Ref{Type: "doc", ID: o.id} }
func (o rvObj) AcquireGlobalRoles() bool { return !o.refuse }

// TestRuleJumpsRoles: rules mixing predicates with HasRole (a plain role,
// one reached through Includes, one granted on an object), Always, Never
// and IsAuthenticated, for anonymous and known users, objects that refuse
// global roles or not: the jumps and the tree walk give the same Check
// (decision, error text, leaves run and their order), Explain and HasPerm,
// the second HasPerm from the answer cache. Contracts 8, 9, 12, 14b.
func TestRuleJumpsRoles(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ctx := context.Background()
	rA := &Role{Name: "app.a"}
	rB := &Role{Name: "app.b"}
	rC := &Role{Name: "app.c", Includes: []*Role{rA}}
	roles := []*Role{rA, rB, rC}
	for round := range 600 {
		nl := 1 + rng.IntN(5)
		l := newJumpsLeaves(nl)
		// extra leaves: HasRole a/b/c, Always, Never, IsAuthenticated
		extra := []Predicate{HasRole(rA), HasRole(rB), HasRole(rC), Always(), Never(), IsAuthenticated()}
		all := append(append([]Predicate{}, l.preds...), extra...)
		var build func(d int) Predicate
		build = func(d int) Predicate {
			if d == 0 || rng.IntN(4) == 0 {
				return all[rng.IntN(len(all))]
			}
			k := 2 + rng.IntN(3)
			var ps []Predicate
			for range k {
				ps = append(ps, build(d-1))
			}
			switch rng.IntN(3) {
			case 0:
				return And(ps...)
			case 1:
				return Or(ps...)
			}
			return Not(ps[0])
		}
		p := build(1 + rng.IntN(4))
		st := NewMemoryStore()
		c, err := New(Policy{Roles: roles, Perms: []Perm{{Name: "app.do"}}, Rules: map[string]Predicate{"app.do": p}}, st)
		require.NoError(t, err)
		for _, u := range []string{"u1", "u2", "u3"} {
			for _, r := range roles {
				if rng.IntN(2) == 0 {
					require.NoError(t, c.PutProfile(ctx, Profile{Holder: User(u), Role: r.Name, Active: true}))
				}
			}
		}
		if rng.IntN(2) == 0 {
			require.NoError(t, c.Grant(ctx, Grant{Holder: User("u1"), Role: "app.b", On: Ref{Type: "doc", ID: "1"}}))
		}
		r := c.pol.perms["app.do"].rule
		jumps := r.jumps
		for range 6 {
			for i := range l.outcome {
				l.outcome[i] = rng.IntN(3)
			}
			u := &rvUser{id: []string{"", "u1", "u2", "u3"}[rng.IntN(4)]}
			var obj Object
			if rng.IntN(3) > 0 {
				obj = rvObj{id: fmt.Sprint(1 + rng.IntN(2)), refuse: rng.IntN(2) == 0}
			}
			type res struct {
				A, H1, H2, E bool
				Err, ExErr   string
				Log          []string
				Leaves       []Leaf
				Grounds      []string
			}
			var got [2]res
			for k, js := range [][]jump{jumps, nil} {
				r.jumps = js
				var x res
				l.log = nil
				d, err := c.Check(ctx, u, "app.do", obj)
				x.A, x.Leaves, x.Log = d.Allowed, d.Leaves(), l.log
				if err != nil {
					x.Err = err.Error()
				}
				ex, err := c.Explain(ctx, u, "app.do", obj)
				if err != nil {
					x.ExErr = err.Error()
				}
				x.E = ex.Decision.Allowed
				for _, g := range ex.Grounds {
					x.Grounds = append(x.Grounds, g.String())
				}
				x.H1 = c.HasPerm(ctx, u, "app.do", obj)
				x.H2 = c.HasPerm(ctx, u, "app.do", obj) // cached path
				got[k] = x
			}
			r.jumps = jumps
			if diff := cmp.Diff(got[1], got[0]); diff != "" {
				t.Fatalf("round %d %s outcome %v user %q obj %v: (-tree +jumps)\n%s", round, p, l.outcome, u.id, obj, diff)
			}
			require.Equal(t, got[0].A, got[0].H1)
			require.Equal(t, got[0].A, got[0].H2)
		}
	}
}
