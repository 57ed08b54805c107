package iam

// The rule evaluator (eval, with its leaf memo) against a model of
// docs/contract.md lines 8, 9 and 12 written here: the same answer, the
// same error, the same leaves run in the same order, over random rules,
// some with more than 64 leaves (past the memo's bit masks).

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

type ruleUser struct{ id string }

func (u *ruleUser) SubjectID() string { return u.id }

// ruleLeaves are the predicates of a random rule: leaf i answers
// outcome[i] (0 false, 1 true, 2 an error) and logs its name when it runs.
type ruleLeaves struct {
	outcome []int
	log     []string
	preds   []Predicate
}

var errRuleLeaf = errors.New("leaf failed")

func newRuleLeaves(n int) *ruleLeaves {
	l := &ruleLeaves{outcome: make([]int, n)}
	for i := range n {
		name := fmt.Sprint("p", i)
		l.preds = append(l.preds, PredE(name, func(_ context.Context, _ *ruleUser, _ Object) (bool, error) {
			l.log = append(l.log, name)
			switch l.outcome[i] {
			case 1:
				return true, nil
			case 2:
				return false, fmt.Errorf("%s: %w", name, errRuleLeaf)
			}
			return false, nil
		}))
	}
	return l
}

// ruleExpr is a random rule over the leaves, with its model.
type ruleExpr struct {
	op   op // opLeaf, opAnd, opOr, opNot, opXor
	leaf int
	kids []*ruleExpr
}

func randRuleExpr(rng *rand.Rand, leaves, depth int, xor bool) *ruleExpr {
	if depth == 0 || rng.IntN(4) == 0 {
		return &ruleExpr{op: opLeaf, leaf: rng.IntN(leaves)}
	}
	ops := []op{opAnd, opOr, opNot}
	if xor {
		ops = append(ops, opXor)
	}
	e := &ruleExpr{op: ops[rng.IntN(len(ops))]}
	n := 1
	if e.op != opNot {
		n = 2 + rng.IntN(3)
	}
	for range n {
		e.kids = append(e.kids, randRuleExpr(rng, leaves, depth-1, xor))
	}
	return e
}

func (e *ruleExpr) pred(l *ruleLeaves) Predicate {
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

func (e *ruleExpr) String() string {
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
func (e *ruleExpr) model(outcome []int, ran map[int]bool, log *[]string) (bool, bool) {
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

// TestRuleModel: contracts 8, 9 and 12 on random rules: Check gives the
// model's decision, error, leaves and run order, and HasPerm agrees.
func TestRuleModel(t *testing.T) { // contract 8, contract 9, contract 12
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	u := &ruleUser{id: "u"}
	rules, big, errs := 0, 0, 0
	for round := range 400 {
		nleaves := 1 + rng.IntN(6)
		depth := 1 + rng.IntN(4)
		if round%10 == 0 {
			// Past the first 64 leaves, the memo is one byte a leaf.
			nleaves = 70 + rng.IntN(30)
		}
		l := newRuleLeaves(nleaves)
		e := randRuleExpr(rng, nleaves, depth, round%4 == 0)
		if round%10 == 0 {
			e = bigRuleExpr(rng, nleaves)
		}
		c, err := New(Policy{Rules: map[string]Predicate{"app.do": e.pred(l)}}, NewMemoryStore())
		require.NoError(t, err, e.String())
		rules++
		if len(c.pol.perms["app.do"].rule.leaves) > 64 {
			big++
		}
		for range 8 {
			for i := range l.outcome {
				l.outcome[i] = rng.IntN(3)
			}
			var wantLog []string
			wantV, wantBad := e.model(l.outcome, map[int]bool{}, &wantLog)
			if wantBad {
				errs++
			}
			l.log = nil
			d, err := c.Check(ctx, u, "app.do", nil)
			if err != nil {
				require.ErrorIs(t, err, errRuleLeaf, e.String())
			}
			type run struct {
				Allowed bool
				Err     bool
				Log     []string
			}
			want := run{Allowed: wantV && !wantBad, Err: wantBad, Log: wantLog}
			if diff := cmp.Diff(want, run{d.Allowed, err != nil, l.log}); diff != "" {
				t.Fatalf("%s with %v: (-model +got):\n%s", e, l.outcome, diff)
			}
			// Leaves reports the first 64 leaves as they ran.
			for _, lf := range d.Leaves() {
				i := leafIndex(t, lf.Name)
				ran := slices.Contains(l.log, lf.Name)
				require.Equal(t, ran, lf.Evaluated, "%s: leaf %s evaluated", e, lf.Name)
				if ran {
					require.Equal(t, l.outcome[i] == 2, lf.Err, "%s: leaf %s error", e, lf.Name)
					require.Equal(t, l.outcome[i] == 1, lf.Value, "%s: leaf %s value", e, lf.Name)
				}
			}
			require.Equal(t, d.Allowed, c.HasPerm(ctx, u, "app.do", nil), "HasPerm vs Check, %s", e)
		}
	}
	t.Logf("%d rules (%d over 64 leaves), %d checks, %d of them errors", rules, big, rules*8, errs)
	require.Positive(t, big, "no rule had more than 64 leaves")
}

type rvUser struct{ id string }

func (u *rvUser) SubjectID() string { return u.id }

type rvObj struct {
	id     string
	refuse bool
}

func (o rvObj) ObjectRef() Ref           { return Ref{Type: "doc", ID: o.id} }
func (o rvObj) AcquireGlobalRoles() bool { return !o.refuse }

// TestRuleRoles: rules mixing predicates with HasRole (a plain role, one
// reached through Includes, one granted on an object), Always, Never and
// IsAuthenticated, for anonymous and known users, objects that refuse
// global roles or not: Check, Explain and HasPerm (the second from the
// answer cache) agree. Contracts 8, 9, 12, 14b.
func TestRuleRoles(t *testing.T) { // contract 14b
	rng := rand.New(rand.NewPCG(3, 4))
	ctx := context.Background()
	rA := &Role{Name: "app.a"}
	rB := &Role{Name: "app.b"}
	rC := &Role{Name: "app.c", Includes: []*Role{rA}}
	roles := []*Role{rA, rB, rC}
	for round := range 600 {
		nl := 1 + rng.IntN(5)
		l := newRuleLeaves(nl)
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
					require.NoError(t, c.AssignRole(ctx, Profile{Holder: User(u), Role: r.Name, Active: true}))
				}
			}
		}
		if rng.IntN(2) == 0 {
			require.NoError(t, c.Grant(ctx, Grant{Holder: User("u1"), Role: "app.b", On: Ref{Type: "doc", ID: "1"}}))
		}
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
			{
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
				dd, derr := c.Decide(ctx, u, "app.do", obj)
				require.Equal(t, x.A, dd.Allowed, "round %d %s: Check vs Decide", round, p)
				if !x.A {
					// A denial is Check's, leaves and all.
					cd, _ := c.Check(ctx, u, "app.do", obj)
					require.Equal(t, cd.String(), dd.String(), "round %d %s: Decide's denial", round, p)
					require.Equal(t, x.Err != "", derr != nil, "round %d %s: Decide's error", round, p)
				}
				require.Equal(t, x.A, x.E, "round %d %s: Check vs Explain", round, p)
				require.Equal(t, x.Err, x.ExErr, "round %d %s: Check vs Explain error", round, p)
				require.Equal(t, x.A, x.H1, "round %d %s: Check vs HasPerm", round, p)
				require.Equal(t, x.A, x.H2, "round %d %s: Check vs cached HasPerm", round, p)
				require.Equal(t, x.A && x.Err == "", len(x.Grounds) > 0, "round %d %s: grounds %v", round, p, x.Grounds)
			}
		}
	}
}

// bigRuleExpr is a random rule in which every one of n leaves occurs
// twice, in groups of a few under random operators, so that the memo of
// leaves past the first 64 is both written and read.
func bigRuleExpr(rng *rand.Rand, n int) *ruleExpr {
	ops := []op{opAnd, opOr, opXor}
	var halves []*ruleExpr
	for range 2 {
		h := &ruleExpr{op: ops[rng.IntN(len(ops))]}
		perm := rng.Perm(n)
		for len(perm) > 0 {
			k := min(len(perm), 2+rng.IntN(4))
			if len(perm)-k == 1 {
				k++ // no group of one: Xor needs two
			}
			g := &ruleExpr{op: ops[rng.IntN(len(ops))]}
			for _, i := range perm[:k] {
				leaf := &ruleExpr{op: opLeaf, leaf: i}
				if rng.IntN(4) == 0 {
					leaf = &ruleExpr{op: opNot, kids: []*ruleExpr{leaf}}
				}
				g.kids = append(g.kids, leaf)
			}
			perm = perm[k:]
			h.kids = append(h.kids, g)
		}
		halves = append(halves, h)
	}
	return &ruleExpr{op: ops[rng.IntN(2)], kids: halves}
}

// leafIndex is the index of leaf "p<i>" among the random rule's leaves.
func leafIndex(t *testing.T, name string) int {
	t.Helper()
	i, err := strconv.Atoi(strings.TrimPrefix(name, "p"))
	require.NoError(t, err, "leaf name %q", name)
	return i
}
