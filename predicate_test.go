package iam_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// Tests of predicates and rules: docs/contract.md contract lines 8–14 (and 14b),
// the built-in leaves, String(), PredProfile / ProfileData and
// Decision.Leaves().

// pPerm is the permission the rule under test is keyed by.
const pPerm = "app.perm"

// pUser is an application user with every optional Subject interface.
type pUser struct {
	id       string
	groups   []string
	inactive bool
	super    bool
}

func (u *pUser) SubjectID() string       { return u.id }
func (u *pUser) IsActive() bool          { return !u.inactive }
func (u *pUser) IsSuperuser() bool       { return u.super }
func (u *pUser) SubjectGroups() []string { return u.groups }

// pBot is a subject of another Go type (for ErrWrongType).
type pBot struct{ id string }

func (b *pBot) SubjectID() string { return b.id }

// pDoc is an object with an owner, optional parents and an optional refusal
// of global roles.
type pDoc struct {
	id           string
	owner        string
	parents      []iam.Ref
	refuseGlobal bool
}

func (d *pDoc) ObjectRef() iam.Ref       { return iam.Ref{Type: "doc", ID: d.id} }
func (d *pDoc) Parents() []iam.Ref       { return d.parents }
func (d *pDoc) AcquireGlobalRoles() bool { return !d.refuseGlobal }

// pFolder is an object of another Go type (for ErrWrongType).
type pFolder struct{ id string }

func (f *pFolder) ObjectRef() iam.Ref { return iam.Ref{Type: "folder", ID: f.id} }

// pRecord is a medical record, for PredProfile.
type pRecord struct{ id, dept string }

func (r *pRecord) ObjectRef() iam.Ref { return iam.Ref{Type: "med.record", ID: r.id} }

// pDoctor is the data of a doctor's profile.
type pDoctor struct {
	Department string `json:"department"`
}

var (
	errPLeafA = errors.New("leaf a failed")
	errPLeafB = errors.New("leaf b failed")
)

// pNew builds a Checker over a fresh MemoryStore with the given rules and
// roles (permissions declared implicitly).
func pNew(t *testing.T, rules map[string]iam.Predicate, roles ...*iam.Role) (*iam.Checker, *iam.MemoryStore) {
	t.Helper()
	store := iam.NewMemoryStore()
	c, err := iam.New(iam.Policy{Roles: roles, Rules: rules}, store)
	require.NoError(t, err)
	return c, store
}

// pRule builds a Checker whose only rule is rule, for pPerm.
func pRule(t *testing.T, rule iam.Predicate, roles ...*iam.Role) (*iam.Checker, *iam.MemoryStore) {
	t.Helper()
	return pNew(t, map[string]iam.Predicate{pPerm: rule}, roles...)
}

// pV is the value a test leaf takes: true, false or an error.
type pV int

const (
	pT pV = iota
	pF
	pE
)

func (v pV) String() string { return [...]string{"T", "F", "E"}[v] }

// pLog records the order in which leaves run. It is safe for concurrent use.
type pLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *pLog) add(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, name)
}

func (l *pLog) got() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

func (l *pLog) count(name string) int {
	n := 0
	for _, c := range l.got() {
		if c == name {
			n++
		}
	}
	return n
}

// leaf returns a counting leaf named name that takes value v (an error v
// returns err).
func (l *pLog) leaf(name string, v pV, err error) iam.Predicate {
	return iam.PredE(name, func(ctx context.Context, s iam.Subject, o iam.Object) (bool, error) {
		l.add(name)
		switch v {
		case pT:
			return true, nil
		case pF:
			return false, nil
		}
		return false, err
	})
}

func (l *pLog) t(name string) iam.Predicate { return l.leaf(name, pT, nil) }
func (l *pLog) f(name string) iam.Predicate { return l.leaf(name, pF, nil) }

// pRequireOutcome asserts that a check ended as want: allowed by the rule
// (pT), denied by the rule without error (pF), or denied with an error that
// wraps one of wantErrs (pE).
func pRequireOutcome(t *testing.T, d iam.Decision, err error, want pV, wantErrs ...error) {
	t.Helper()
	switch want {
	case pT:
		require.NoError(t, err)
		require.True(t, d.Allowed, "decision: %v", d)
		require.Equal(t, iam.ReasonRule, d.Reason)
	case pF:
		require.NoError(t, err)
		require.False(t, d.Allowed, "decision: %v", d)
		require.Equal(t, iam.ReasonNone, d.Reason)
	case pE:
		require.Error(t, err)
		require.False(t, d.Allowed, "decision: %v", d)
		require.Equal(t, iam.ReasonError, d.Reason)
		matched := false
		for _, w := range wantErrs {
			if errors.Is(err, w) {
				matched = true
			}
		}
		require.True(t, matched, "error %v wraps none of %v", err, wantErrs)
	}
}

// pRequireLeavesMatchCalls asserts that Decision.Leaves reports a leaf as
// evaluated exactly when it ran.
func pRequireLeavesMatchCalls(t *testing.T, d iam.Decision, calls []string) {
	t.Helper()
	for _, lf := range d.Leaves() {
		require.Equal(t, slices.Contains(calls, lf.Name), lf.Evaluated, "leaf %s: calls %v", lf.Name, calls)
	}
}

func TestCombinatorShortCircuit(t *testing.T) {
	ctx := context.Background()
	u := &pUser{id: "u1"}
	tests := []struct {
		name      string
		rule      func(l *pLog) iam.Predicate
		wantCalls []string
		want      pV
	}{
		{ // contract 8
			name:      "And stops at the first false",
			rule:      func(l *pLog) iam.Predicate { return iam.And(l.t("a"), l.f("b"), l.t("c")) },
			wantCalls: []string{"a", "b"},
			want:      pF,
		},
		{ // contract 8
			name:      "And stops at a leading false",
			rule:      func(l *pLog) iam.Predicate { return iam.And(l.f("a"), l.t("b"), l.t("c")) },
			wantCalls: []string{"a"},
			want:      pF,
		},
		{ // contract 8
			name:      "And of trues runs all, left to right",
			rule:      func(l *pLog) iam.Predicate { return iam.And(l.t("a"), l.t("b"), l.t("c")) },
			wantCalls: []string{"a", "b", "c"},
			want:      pT,
		},
		{ // contract 8
			name:      "Or stops at the first true",
			rule:      func(l *pLog) iam.Predicate { return iam.Or(l.f("a"), l.t("b"), l.f("c")) },
			wantCalls: []string{"a", "b"},
			want:      pT,
		},
		{ // contract 8
			name:      "Or stops at a leading true",
			rule:      func(l *pLog) iam.Predicate { return iam.Or(l.t("a"), l.f("b"), l.t("c")) },
			wantCalls: []string{"a"},
			want:      pT,
		},
		{ // contract 8
			name:      "Or of falses runs all, left to right",
			rule:      func(l *pLog) iam.Predicate { return iam.Or(l.f("a"), l.f("b"), l.f("c")) },
			wantCalls: []string{"a", "b", "c"},
			want:      pF,
		},
		{ // contract 8
			name:      "Xor evaluates both: true true",
			rule:      func(l *pLog) iam.Predicate { return iam.Xor(l.t("a"), l.t("b")) },
			wantCalls: []string{"a", "b"},
			want:      pF,
		},
		{ // contract 8
			name:      "Xor evaluates both: true false",
			rule:      func(l *pLog) iam.Predicate { return iam.Xor(l.t("a"), l.f("b")) },
			wantCalls: []string{"a", "b"},
			want:      pT,
		},
		{ // contract 8
			name:      "Xor evaluates both: false true",
			rule:      func(l *pLog) iam.Predicate { return iam.Xor(l.f("a"), l.t("b")) },
			wantCalls: []string{"a", "b"},
			want:      pT,
		},
		{ // contract 8
			name:      "Xor evaluates both: false false",
			rule:      func(l *pLog) iam.Predicate { return iam.Xor(l.f("a"), l.f("b")) },
			wantCalls: []string{"a", "b"},
			want:      pF,
		},
		{ // contract 8
			name:      "Xor of three is odd parity",
			rule:      func(l *pLog) iam.Predicate { return iam.Xor(l.t("a"), l.t("b"), l.t("c")) },
			wantCalls: []string{"a", "b", "c"},
			want:      pT,
		},
		{ // contract 8
			name:      "Not negates",
			rule:      func(l *pLog) iam.Predicate { return iam.Not(l.t("a")) },
			wantCalls: []string{"a"},
			want:      pF,
		},
		{ // contract 8
			name:      "Not(Not(p)) behaves as p: true",
			rule:      func(l *pLog) iam.Predicate { return iam.Not(iam.Not(l.t("a"))) },
			wantCalls: []string{"a"},
			want:      pT,
		},
		{ // contract 8
			name:      "Not(Not(p)) behaves as p: false",
			rule:      func(l *pLog) iam.Predicate { return iam.Not(iam.Not(l.f("a"))) },
			wantCalls: []string{"a"},
			want:      pF,
		},
		{ // contract 8
			name:      "nested: a false And branch does not stop the Or",
			rule:      func(l *pLog) iam.Predicate { return iam.Or(iam.And(l.t("a"), l.f("b"), l.t("c")), l.t("d"), l.t("e")) },
			wantCalls: []string{"a", "b", "d"},
			want:      pT,
		},
		{ // contract 8
			name:      "nested: a true Or branch does not stop the And",
			rule:      func(l *pLog) iam.Predicate { return iam.And(iam.Or(l.f("a"), l.t("b"), l.t("c")), l.f("d"), l.t("e")) },
			wantCalls: []string{"a", "b", "d"},
			want:      pF,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l pLog
			c, _ := pRule(t, tt.rule(&l))
			d, err := c.Check(ctx, u, pPerm, nil)
			pRequireOutcome(t, d, err, tt.want)
			if diff := cmp.Diff(tt.wantCalls, l.got()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			pRequireLeavesMatchCalls(t, d, l.got())
		})
	}
}

func TestCombinatorErrorTruthTable(t *testing.T) {
	ctx := context.Background()
	u := &pUser{id: "u1"}
	type row struct {
		name      string
		rule      func(l *pLog) iam.Predicate
		want      pV
		wantErrs  []error // pE: the error must wrap one of these
		wantCalls []string
	}
	var tests []row
	// The full truth tables of Or and And over a true, false or erring
	// left leaf a and right leaf b. // contract 9
	or := map[[2]pV]pV{
		{pT, pT}: pT, {pT, pF}: pT, {pT, pE}: pT,
		{pF, pT}: pT, {pF, pF}: pF, {pF, pE}: pE,
		{pE, pT}: pT, {pE, pF}: pE, {pE, pE}: pE,
	}
	and := map[[2]pV]pV{
		{pT, pT}: pT, {pT, pF}: pF, {pT, pE}: pE,
		{pF, pT}: pF, {pF, pF}: pF, {pF, pE}: pF,
		{pE, pT}: pE, {pE, pF}: pF, {pE, pE}: pE,
	}
	errsOf := func(a, b pV) []error {
		var es []error
		if a == pE {
			es = append(es, errPLeafA)
		}
		if b == pE {
			es = append(es, errPLeafB)
		}
		return es
	}
	for _, a := range []pV{pT, pF, pE} {
		for _, b := range []pV{pT, pF, pE} {
			orCalls := []string{"a", "b"}
			if a == pT { // Or stops at the first true
				orCalls = []string{"a"}
			}
			andCalls := []string{"a", "b"}
			if a == pF { // And stops at the first false
				andCalls = []string{"a"}
			}
			tests = append(tests,
				row{ // contract 9
					name:      fmt.Sprintf("Or(%v,%v)", a, b),
					rule:      func(l *pLog) iam.Predicate { return iam.Or(l.leaf("a", a, errPLeafA), l.leaf("b", b, errPLeafB)) },
					want:      or[[2]pV{a, b}],
					wantErrs:  errsOf(a, b),
					wantCalls: orCalls,
				},
				row{ // contract 9
					name:      fmt.Sprintf("And(%v,%v)", a, b),
					rule:      func(l *pLog) iam.Predicate { return iam.And(l.leaf("a", a, errPLeafA), l.leaf("b", b, errPLeafB)) },
					want:      and[[2]pV{a, b}],
					wantErrs:  errsOf(a, b),
					wantCalls: andCalls,
				})
		}
	}
	tests = append(tests,
		row{ // contract 9
			name:      "a lone erring leaf reaches the top",
			rule:      func(l *pLog) iam.Predicate { return l.leaf("a", pE, errPLeafA) },
			want:      pE,
			wantErrs:  []error{errPLeafA},
			wantCalls: []string{"a"},
		},
		row{ // contract 9
			name:      "Not of an error stays an error",
			rule:      func(l *pLog) iam.Predicate { return iam.Not(l.leaf("a", pE, errPLeafA)) },
			want:      pE,
			wantErrs:  []error{errPLeafA},
			wantCalls: []string{"a"},
		},
		row{ // contract 8, 9
			name:      "Not(Not(p)) behaves as p: error",
			rule:      func(l *pLog) iam.Predicate { return iam.Not(iam.Not(l.leaf("a", pE, errPLeafA))) },
			want:      pE,
			wantErrs:  []error{errPLeafA},
			wantCalls: []string{"a"},
		},
		row{ // contract 9
			name:      "Xor with an erring branch is an error",
			rule:      func(l *pLog) iam.Predicate { return iam.Xor(l.t("a"), l.leaf("b", pE, errPLeafB)) },
			want:      pE,
			wantErrs:  []error{errPLeafB},
			wantCalls: []string{"a", "b"},
		},
		row{ // contract 8, 9
			name:      "Xor evaluates the branch after an error",
			rule:      func(l *pLog) iam.Predicate { return iam.Xor(l.leaf("a", pE, errPLeafA), l.f("b")) },
			want:      pE,
			wantErrs:  []error{errPLeafA},
			wantCalls: []string{"a", "b"},
		},
		row{ // contract 9
			name:      "an error inside And is absorbed by a true Or branch",
			rule:      func(l *pLog) iam.Predicate { return iam.Or(iam.And(l.t("a"), l.leaf("b", pE, errPLeafB)), l.t("c")) },
			want:      pT,
			wantCalls: []string{"a", "b", "c"},
		},
		row{ // contract 9
			name:      "an error inside Or is absorbed by a false And branch",
			rule:      func(l *pLog) iam.Predicate { return iam.And(iam.Or(l.f("a"), l.leaf("b", pE, errPLeafB)), l.f("c")) },
			want:      pF,
			wantCalls: []string{"a", "b", "c"},
		},
		row{ // contract 9
			name:      "an error inside And reaches the top through a false Or branch",
			rule:      func(l *pLog) iam.Predicate { return iam.Or(iam.And(l.t("a"), l.leaf("b", pE, errPLeafB)), l.f("c")) },
			want:      pE,
			wantErrs:  []error{errPLeafB},
			wantCalls: []string{"a", "b", "c"},
		},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l pLog
			c, _ := pRule(t, tt.rule(&l))
			d, err := c.Check(ctx, u, pPerm, nil)
			pRequireOutcome(t, d, err, tt.want, tt.wantErrs...)
			if diff := cmp.Diff(tt.wantCalls, l.got()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			pRequireLeavesMatchCalls(t, d, l.got())
			// HasPerm agrees, and Require wraps the leaf's error.
			require.Equal(t, tt.want == pT, c.HasPerm(ctx, u, pPerm, nil))
			if tt.want == pE {
				rerr := c.Require(ctx, u, pPerm, nil)
				require.ErrorIs(t, rerr, iam.ErrDenied)
				require.ErrorIs(t, rerr, tt.wantErrs[0])
			}
		})
	}
}

func TestPredErrorLeafReported(t *testing.T) {
	// contract 9: Leaves marks the erring leaf; the check's error is the leaf's.
	var l pLog
	c, _ := pRule(t, iam.Or(l.f("a"), l.leaf("b", pE, errPLeafB)))
	d, err := c.Check(context.Background(), &pUser{id: "u1"}, pPerm, nil)
	require.ErrorIs(t, err, errPLeafB)
	require.False(t, d.Allowed)
	want := []iam.Leaf{
		{Name: "a", Evaluated: true},
		{Name: "b", Evaluated: true, Err: true},
	}
	if diff := cmp.Diff(want, d.Leaves()); diff != "" {
		t.Errorf("Leaves (-want +got):\n%s", diff)
	}
	require.Equal(t, "(a | b)", d.Rule)
}

func TestPredPanic(t *testing.T) {
	ctx := context.Background()
	boom := iam.Pred("boom", func(ctx context.Context, u *pUser, o iam.Object) bool {
		if u.id == "bomber" {
			panic("kaboom")
		}
		return false
	})
	boomErr := iam.Pred("boom_err", func(ctx context.Context, u *pUser, o iam.Object) bool {
		if u.id == "bomber" {
			panic(errPLeafA)
		}
		return false
	})
	bomber := &pUser{id: "bomber"}
	tests := []struct {
		name      string
		rule      iam.Predicate
		wantPanic bool // denied with ErrPanic
		wantAllow bool
	}{
		{name: "a lone panicking leaf", rule: boom, wantPanic: true},                                                 // contract 10
		{name: "Not of a panicking leaf", rule: iam.Not(boom), wantPanic: true},                                      // contract 10
		{name: "panic value that is an error", rule: boomErr, wantPanic: true},                                       // contract 10
		{name: "And with a panicking leaf", rule: iam.And(iam.Always(), boom), wantPanic: true},                      // contract 10
		{name: "Xor with a panicking leaf", rule: iam.Xor(iam.Never(), boom), wantPanic: true},                       // contract 10
		{name: "a short-circuited panicking leaf never runs: Or", rule: iam.Or(iam.Always(), boom), wantAllow: true}, // contract 8, 10
		{name: "a short-circuited panicking leaf never runs: And", rule: iam.And(iam.Never(), boom)},                 // contract 8, 10
		// contract 10: the library recovers at the top of the check, not per
		// leaf, so a panic denies the whole check even when another branch
		// of an Or is true (a panic is not treated as a leaf error under
		// contract 9).
		{name: "Or whose other branch is true still denies", rule: iam.Or(boom, iam.Always()), wantPanic: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := pRule(t, tt.rule)
			var d iam.Decision
			var err error
			require.NotPanics(t, func() { d, err = c.Check(ctx, bomber, pPerm, nil) })
			if tt.wantPanic {
				require.ErrorIs(t, err, iam.ErrPanic)
				require.False(t, d.Allowed)
				require.Equal(t, iam.ReasonError, d.Reason)
				require.Equal(t, pPerm, d.Perm)
				require.False(t, c.HasPerm(ctx, bomber, pPerm, nil))
			} else {
				require.NoError(t, err)
				require.Equal(t, tt.wantAllow, d.Allowed)
			}
			// The Checker is not poisoned: the next check decides normally.
			d, err = c.Check(ctx, &pUser{id: "calm"}, pPerm, nil)
			require.NoError(t, err)
			_ = d
		})
	}
}

func TestPredWrongType(t *testing.T) {
	ctx := context.Background()
	isOwner := iam.Pred("is_owner", func(ctx context.Context, u *pUser, d *pDoc) bool {
		return d != nil && d.owner == u.id
	})
	refLeaf := iam.Pred("ref_leaf", func(ctx context.Context, u *pUser, r iam.Ref) bool { return r.ID == "1" })
	u := &pUser{id: "u1"}
	doc := &pDoc{id: "1", owner: "u1"}
	// A PredProfile leaf checks the types as Pred does, whether or not the
	// subject holds the profile (the store holds none here).
	doctor := &iam.Role{Name: "doctor"}
	prof := iam.PredProfile("treats", doctor, func(ctx context.Context, u *pUser, d *pDoc, _ pDoctor) bool { return true })
	tests := []struct {
		name    string
		rule    iam.Predicate
		s       iam.Subject
		obj     iam.Object
		want    pV
		wantErr error
	}{
		{name: "PredProfile without a profile: right types", rule: iam.Not(prof), s: u, obj: doc, want: pT},                          // contract 11
		{name: "PredProfile without a profile: wrong subject type", rule: iam.Not(prof), s: &pBot{id: "u1"}, obj: doc, want: pE},     // contract 11
		{name: "PredProfile without a profile: wrong object type", rule: iam.Not(prof), s: u, obj: &pFolder{id: "1"}, want: pE},      // contract 11
		{name: "PredProfile without a profile: a bare Ref", rule: iam.Not(prof), s: u, obj: iam.Ref{Type: "doc", ID: "1"}, want: pE}, // contract 11
		{name: "PredProfile: an anonymous subject of another type", rule: iam.Not(prof), s: &pBot{}, obj: doc, want: pT},             // contract 11
		{name: "right types", rule: isOwner, s: u, obj: doc, want: pT},                                                               // contract 11
		{name: "wrong subject type", rule: isOwner, s: &pBot{id: "u1"}, obj: doc, want: pE},                                          // contract 11
		{name: "wrong object type", rule: isOwner, s: u, obj: &pFolder{id: "1"}, want: pE},                                           // contract 11
		{name: "a bare Ref is the wrong object type", rule: isOwner, s: u, obj: iam.Ref{Type: "doc", ID: "1"}, want: pE},             // contract 11
		{name: "value object type: right", rule: refLeaf, s: u, obj: iam.Ref{Type: "doc", ID: "1"}, want: pT},                        // contract 11
		{name: "value object type: wrong", rule: refLeaf, s: u, obj: doc, want: pE},                                                  // contract 11
		// contract 11 with 9: the leaf is an error, not a plain false, so Not
		// does not turn it into true...
		{name: "Not of a wrong-type leaf is still an error", rule: iam.Not(isOwner), s: &pBot{id: "u1"}, obj: doc, want: pE},
		// ...and a true Or branch absorbs it.
		{name: "Or absorbs a wrong-type leaf", rule: iam.Or(isOwner, iam.Always()), s: &pBot{id: "u1"}, obj: doc, want: pT},
		{name: "And with a false branch absorbs it", rule: iam.And(isOwner, iam.Never()), s: &pBot{id: "u1"}, obj: doc, want: pF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := pRule(t, tt.rule, doctor)
			d, err := c.Check(ctx, tt.s, pPerm, tt.obj)
			pRequireOutcome(t, d, err, tt.want, iam.ErrWrongType)
		})
	}
	t.Run("the error names the argument of the wrong type", func(t *testing.T) {
		// contract 11: a wrong subject is reported as the subject, a wrong
		// object as the object.
		c, _ := pRule(t, isOwner)
		for _, tc := range []struct {
			name string
			s    iam.Subject
			obj  iam.Object
			want string
		}{
			{"subject", &pBot{id: "u1"}, doc, "wants subject *iam_test.pUser, got *iam_test.pBot"},
			{"object", u, &pFolder{id: "1"}, "wants object *iam_test.pDoc, got *iam_test.pFolder"},
			{"both: the subject first", &pBot{id: "u1"}, &pFolder{id: "1"}, "wants subject *iam_test.pUser, got *iam_test.pBot"},
		} {
			_, err := c.Check(ctx, tc.s, pPerm, tc.obj)
			require.ErrorIs(t, err, iam.ErrWrongType, tc.name)
			require.Contains(t, err.Error(), tc.want, tc.name)
		}
	})
	t.Run("the wrong-type leaf is false with an error in Leaves", func(t *testing.T) {
		// contract 11
		c, _ := pRule(t, iam.Or(isOwner, iam.Always()))
		d, err := c.Check(ctx, &pBot{id: "u1"}, pPerm, doc)
		require.NoError(t, err)
		want := []iam.Leaf{
			{Name: "is_owner", Evaluated: true, Value: false, Err: true},
			{Name: "always", Evaluated: true, Value: true},
		}
		if diff := cmp.Diff(want, d.Leaves()); diff != "" {
			t.Errorf("Leaves (-want +got):\n%s", diff)
		}
	})
}

func TestPredNilObject(t *testing.T) {
	// contract 11: a nil object (a model-level check) is not the wrong type:
	// it reaches the function as O's zero value.
	ctx := context.Background()
	u := &pUser{id: "u1"}

	t.Run("pointer O gets a nil pointer", func(t *testing.T) {
		var calls atomic.Int32
		var sawNil atomic.Bool
		p := iam.Pred("model_level", func(ctx context.Context, s *pUser, d *pDoc) bool {
			calls.Add(1)
			sawNil.Store(d == nil)
			return s == u && d == nil
		})
		c, _ := pRule(t, p)
		d, err := c.Check(ctx, u, pPerm, nil)
		require.NoError(t, err)
		require.True(t, d.Allowed)
		require.EqualValues(t, 1, calls.Load())
		require.True(t, sawNil.Load())
	})
	t.Run("value O gets its zero value", func(t *testing.T) {
		p := iam.Pred("zero_ref", func(ctx context.Context, s *pUser, r iam.Ref) bool { return r == (iam.Ref{}) })
		c, _ := pRule(t, p)
		d, err := c.Check(ctx, u, pPerm, nil)
		require.NoError(t, err)
		require.True(t, d.Allowed)
	})
	t.Run("interface O gets nil", func(t *testing.T) {
		p := iam.Pred("nil_object", func(ctx context.Context, s iam.Subject, o iam.Object) bool { return o == nil })
		c, _ := pRule(t, p)
		d, err := c.Check(ctx, u, pPerm, nil)
		require.NoError(t, err)
		require.True(t, d.Allowed)
	})
	t.Run("PredE gets O's zero value and no error", func(t *testing.T) {
		p := iam.PredE("model_level_e", func(ctx context.Context, s *pUser, d *pDoc) (bool, error) { return d == nil, nil })
		c, _ := pRule(t, p)
		d, err := c.Check(ctx, u, pPerm, nil)
		require.NoError(t, err)
		require.True(t, d.Allowed)
	})
}

func TestPredLeafRunsOncePerCheck(t *testing.T) {
	ctx := context.Background()
	u := &pUser{id: "u1"}
	tests := []struct {
		name      string
		rule      func(l *pLog) iam.Predicate
		want      pV
		wantCalls []string
		wantNames []string // Decision.Leaves names, in order
	}{
		{ // contract 12
			name: "And(Or(p, q), Or(p, r)) runs p once",
			rule: func(l *pLog) iam.Predicate {
				p, q, r := l.f("p"), l.t("q"), l.t("r")
				return iam.And(iam.Or(p, q), iam.Or(p, r))
			},
			want:      pT,
			wantCalls: []string{"p", "q", "r"},
			wantNames: []string{"p", "q", "r"},
		},
		{ // contract 12
			name: "Or(p, p, p)",
			rule: func(l *pLog) iam.Predicate {
				p := l.f("p")
				return iam.Or(p, p, p)
			},
			want:      pF,
			wantCalls: []string{"p"},
			wantNames: []string{"p"},
		},
		{ // contract 12
			name: "And(p, Not(p)) reuses p's value",
			rule: func(l *pLog) iam.Predicate {
				p := l.t("p")
				return iam.And(p, iam.Not(p))
			},
			want:      pF,
			wantCalls: []string{"p"},
			wantNames: []string{"p"},
		},
		{ // contract 8, 12: Xor evaluates both operands, but p runs once
			name: "Xor(p, p)",
			rule: func(l *pLog) iam.Predicate {
				p := l.t("p")
				return iam.Xor(p, p)
			},
			want:      pF,
			wantCalls: []string{"p"},
			wantNames: []string{"p"},
		},
		{ // contract 8, 12: Not(Not(p)) is p, the same leaf
			name: "Or(Not(Not(p)), p)",
			rule: func(l *pLog) iam.Predicate {
				p := l.f("p")
				return iam.Or(iam.Not(iam.Not(p)), l.f("q"), p)
			},
			want:      pF,
			wantCalls: []string{"p", "q"},
			wantNames: []string{"p", "q"},
		},
		{ // contract 9, 12: a repeated erring leaf runs once and its error is reused
			name: "Or(e, Not(e))",
			rule: func(l *pLog) iam.Predicate {
				e := l.leaf("e", pE, errPLeafA)
				return iam.Or(e, iam.Not(e))
			},
			want:      pE,
			wantCalls: []string{"e"},
			wantNames: []string{"e"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l pLog
			c, _ := pRule(t, tt.rule(&l))
			d, err := c.Check(ctx, u, pPerm, nil)
			pRequireOutcome(t, d, err, tt.want, errPLeafA)
			if diff := cmp.Diff(tt.wantCalls, l.got()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			var names []string
			for _, lf := range d.Leaves() {
				names = append(names, lf.Name)
			}
			if diff := cmp.Diff(tt.wantNames, names); diff != "" {
				t.Errorf("Leaves names (-want +got):\n%s", diff)
			}
			// The next check runs every leaf again.
			d2, err2 := c.Check(ctx, u, pPerm, nil)
			pRequireOutcome(t, d2, err2, tt.want, errPLeafA)
			if diff := cmp.Diff(append(slices.Clone(tt.wantCalls), tt.wantCalls...), l.got()); diff != "" {
				t.Errorf("calls after two checks (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("built-ins appearing twice count once", func(t *testing.T) {
		// contract 12
		editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.publish"}}
		rule := iam.Or(
			iam.And(iam.IsAuthenticated(), iam.HasRole(editor)),
			iam.And(iam.HasRole(editor), iam.IsAuthenticated()),
			iam.Never(),
			iam.Never(),
		)
		c, _ := pRule(t, rule, editor)
		d, err := c.Check(ctx, u, pPerm, nil)
		require.NoError(t, err)
		require.False(t, d.Allowed)
		want := []iam.Leaf{
			{Name: "is_authenticated", Evaluated: true, Value: true},
			{Name: "has_role:blog.editor", Evaluated: true, Value: false},
			{Name: "never", Evaluated: true, Value: false},
		}
		if diff := cmp.Diff(want, d.Leaves()); diff != "" {
			t.Errorf("Leaves (-want +got):\n%s", diff)
		}
	})

	t.Run("once per check under concurrent checks", func(t *testing.T) {
		// contract 12: the memo is per check, never shared between checks.
		var calls atomic.Int64
		p := iam.Pred("p", func(ctx context.Context, s *pUser, o iam.Object) bool {
			calls.Add(1)
			return true
		})
		c, _ := pRule(t, iam.And(iam.Or(iam.Never(), p), iam.Or(p, iam.Never()), p))
		const n = 32
		var wg sync.WaitGroup
		var allowed atomic.Int64
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if c.HasPerm(ctx, &pUser{id: fmt.Sprint("u", i)}, pPerm, nil) {
					allowed.Add(1)
				}
			}()
		}
		wg.Wait()
		require.EqualValues(t, n, allowed.Load())
		require.EqualValues(t, n, calls.Load())
	})
}

func TestPredLeafManyLeaves(t *testing.T) {
	// contract 12 beyond the first 64 distinct leaves of a rule; Leaves
	// reports at most 64.
	ctx := context.Background()
	u := &pUser{id: "u1"}
	var l pLog
	var kids []iam.Predicate
	for i := range 69 {
		kids = append(kids, l.f(fmt.Sprint("l", i)))
	}
	e := l.leaf("e69", pE, errPLeafA)
	last := l.f("l70")
	// Or(l0..l68, e69, l70, l70, e69), and the same leaves again in a Not.
	or := iam.Or(append(slices.Clone(kids), e, last, last, e)...)
	rule := iam.Or(or, iam.Not(iam.Or(e, last)))
	c, _ := pRule(t, rule)
	d, err := c.Check(ctx, u, pPerm, nil)
	require.ErrorIs(t, err, errPLeafA)
	require.False(t, d.Allowed)
	for i := range 69 {
		require.Equal(t, 1, l.count(fmt.Sprint("l", i)), "l%d", i)
	}
	require.Equal(t, 1, l.count("e69"))
	require.Equal(t, 1, l.count("l70"))
	require.Len(t, d.Leaves(), 64)
	require.Equal(t, iam.Leaf{Name: "l63", Evaluated: true}, d.Leaves()[63])
}

func TestPredNoSkip(t *testing.T) {
	// contract 13: a leaf is true, false or an error; a (false, nil) from
	// PredE is a plain false, never "no opinion".
	ctx := context.Background()
	u := &pUser{id: "u1"}
	no := iam.PredE("no_opinion", func(ctx context.Context, s *pUser, o iam.Object) (bool, error) { return false, nil })
	tests := []struct {
		name string
		rule iam.Predicate
		want pV
	}{
		{name: "PredE (false, nil) is a denial without error", rule: no, want: pF},           // contract 13
		{name: "Not flips it to true", rule: iam.Not(no), want: pT},                          // contract 13
		{name: "And with a true branch is false", rule: iam.And(iam.Always(), no), want: pF}, // contract 13
		{name: "Or with a true branch is true", rule: iam.Or(no, iam.Always()), want: pT},    // contract 13
		{name: "Xor with a true branch is true", rule: iam.Xor(no, iam.Always()), want: pT},  // contract 13
		{name: "Or with a false branch is false", rule: iam.Or(no, iam.Never()), want: pF},   // contract 13
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := pRule(t, tt.rule)
			d, err := c.Check(ctx, u, pPerm, nil)
			pRequireOutcome(t, d, err, tt.want)
			require.Equal(t, tt.rule.String(), d.Rule)
			for _, lf := range d.Leaves() {
				require.False(t, lf.Err, "leaf %s", lf.Name)
			}
		})
	}
	t.Run("a denied rule reports the false leaf", func(t *testing.T) {
		c, _ := pRule(t, no)
		d, err := c.Check(ctx, u, pPerm, nil)
		require.NoError(t, err)
		if diff := cmp.Diff([]iam.Leaf{{Name: "no_opinion", Evaluated: true}}, d.Leaves()); diff != "" {
			t.Errorf("Leaves (-want +got):\n%s", diff)
		}
	})
}

func TestPredInGroup(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		stored  []string // groups stored for u1
		other   []string // groups stored for another user
		subject []string // u1's SubjectGroups()
		anon    bool
		rule    iam.Predicate
		want    bool
	}{
		{name: "no groups", rule: iam.InGroup("a", "b")},                                                                                // contract 14
		{name: "stored a only", stored: []string{"a"}, rule: iam.InGroup("a", "b")},                                                     // contract 14
		{name: "stored b only", stored: []string{"b"}, rule: iam.InGroup("a", "b")},                                                     // contract 14
		{name: "stored a and b", stored: []string{"a", "b"}, rule: iam.InGroup("a", "b"), want: true},                                   // contract 14
		{name: "stored a, b and c", stored: []string{"c", "b", "a"}, rule: iam.InGroup("a", "b"), want: true},                           // contract 14
		{name: "SubjectGroups a and b", subject: []string{"a", "b"}, rule: iam.InGroup("a", "b"), want: true},                           // contract 14
		{name: "SubjectGroups a only", subject: []string{"a"}, rule: iam.InGroup("a", "b")},                                             // contract 14
		{name: "stored a plus SubjectGroups b", stored: []string{"a"}, subject: []string{"b"}, rule: iam.InGroup("a", "b"), want: true}, // contract 14
		{name: "stored b plus SubjectGroups a", stored: []string{"b"}, subject: []string{"a"}, rule: iam.InGroup("a", "b"), want: true}, // contract 14
		{name: "another user's memberships do not count", other: []string{"a", "b"}, rule: iam.InGroup("a", "b")},                       // contract 14
		{name: "single group, stored", stored: []string{"a"}, rule: iam.InGroup("a"), want: true},                                       // contract 14
		{name: "single group, SubjectGroups", subject: []string{"a"}, rule: iam.InGroup("a"), want: true},                               // contract 14
		{name: "Not(InGroup) of a member", stored: []string{"a"}, rule: iam.Not(iam.InGroup("a"))},                                      // contract 14
		{name: "Not(InGroup) of a non-member", rule: iam.Not(iam.InGroup("a")), want: true},                                             // contract 14
		{name: "anonymous without groups", anon: true, rule: iam.InGroup("a")},                                                          // contract 14
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, store := pRule(t, tt.rule)
			for _, g := range tt.stored {
				require.NoError(t, store.AddMember(ctx, "u1", g))
			}
			for _, g := range tt.other {
				require.NoError(t, store.AddMember(ctx, "u2", g))
			}
			u := &pUser{id: "u1", groups: tt.subject}
			if tt.anon {
				u.id = ""
			}
			d, err := c.Check(ctx, u, pPerm, nil)
			require.NoError(t, err)
			require.Equal(t, tt.want, d.Allowed, "decision %v", d)
		})
	}
	t.Run("removing a stored membership takes effect on the next check", func(t *testing.T) {
		// contract 14 (and 15)
		c, store := pRule(t, iam.InGroup("a", "b"))
		u := &pUser{id: "u1", groups: []string{"b"}}
		require.NoError(t, store.AddMember(ctx, "u1", "a"))
		require.True(t, c.HasPerm(ctx, u, pPerm, nil))
		require.NoError(t, store.RemoveMember(ctx, "u1", "a"))
		require.False(t, c.HasPerm(ctx, u, pPerm, nil))
	})
}

func TestPredBuiltins(t *testing.T) {
	ctx := context.Background()
	user := &pUser{id: "u1"}
	anon := &pUser{id: ""}
	super := &pUser{id: "root", super: true}
	tests := []struct {
		name       string
		rule       iam.Predicate
		s          iam.Subject
		wantAllow  bool
		wantReason iam.Reason
	}{
		{name: "Always allows a user", rule: iam.Always(), s: user, wantAllow: true, wantReason: iam.ReasonRule},
		{name: "Always allows an anonymous subject", rule: iam.Always(), s: anon, wantAllow: true, wantReason: iam.ReasonRule}, // contract 6
		{name: "Never denies", rule: iam.Never(), s: user, wantReason: iam.ReasonNone},
		{name: "Not(Never) allows", rule: iam.Not(iam.Never()), s: user, wantAllow: true, wantReason: iam.ReasonRule},
		{name: "IsAuthenticated: user", rule: iam.IsAuthenticated(), s: user, wantAllow: true, wantReason: iam.ReasonRule},
		{name: "IsAuthenticated: anonymous is false", rule: iam.IsAuthenticated(), s: anon, wantReason: iam.ReasonNone}, // contract 6
		{name: "Not(IsAuthenticated): anonymous", rule: iam.Not(iam.IsAuthenticated()), s: anon, wantAllow: true, wantReason: iam.ReasonRule},
		{name: "Not(IsAuthenticated): user", rule: iam.Not(iam.IsAuthenticated()), s: user, wantReason: iam.ReasonNone},
		{name: "IsActive: active user", rule: iam.IsActive(), s: user, wantAllow: true, wantReason: iam.ReasonRule},
		{name: "IsActive: subject without IsActive", rule: iam.IsActive(), s: &pBot{id: "b"}, wantAllow: true, wantReason: iam.ReasonRule},
		{name: "Not(IsActive) never allows", rule: iam.Not(iam.IsActive()), s: user, wantReason: iam.ReasonNone},
		{name: "inactive subject denied before the rule", rule: iam.Always(), s: &pUser{id: "u2", inactive: true}, wantReason: iam.ReasonInactive}, // contract 2
		{name: "IsSuperuser: ordinary user", rule: iam.IsSuperuser(), s: user, wantReason: iam.ReasonNone},
		{name: "Not(IsSuperuser): ordinary user", rule: iam.Not(iam.IsSuperuser()), s: user, wantAllow: true, wantReason: iam.ReasonRule},
		{name: "IsSuperuser: subject without IsSuperuser", rule: iam.IsSuperuser(), s: &pBot{id: "b"}, wantReason: iam.ReasonNone},
		// contract 3: an active superuser is allowed before the rule runs,
		// whatever the rule says.
		{name: "superuser allowed before a Never rule", rule: iam.Never(), s: super, wantAllow: true, wantReason: iam.ReasonSuperuser},
		{name: "superuser allowed before Not(IsSuperuser)", rule: iam.Not(iam.IsSuperuser()), s: super, wantAllow: true, wantReason: iam.ReasonSuperuser},
		{name: "inactive superuser denied", rule: iam.IsSuperuser(), s: &pUser{id: "root", super: true, inactive: true}, wantReason: iam.ReasonInactive}, // contract 2
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := pRule(t, tt.rule)
			d, err := c.Check(ctx, tt.s, pPerm, nil)
			require.NoError(t, err)
			require.Equal(t, tt.wantAllow, d.Allowed, "decision %v", d)
			require.Equal(t, tt.wantReason, d.Reason, "decision %v", d)
		})
	}

	// A superuser never reaches the rule through Check; Explain keeps
	// looking after the superuser ground, so the rule does run, with
	// IsSuperuser true.
	t.Run("Explain runs the rule for a superuser", func(t *testing.T) {
		c, _ := pNew(t, map[string]iam.Predicate{
			"app.super_only": iam.IsSuperuser(),
			"app.not_super":  iam.Not(iam.IsSuperuser()),
		})
		ex, err := c.Explain(ctx, super, "app.super_only", nil)
		require.NoError(t, err)
		require.True(t, ex.Decision.Allowed)
		require.Equal(t, iam.ReasonSuperuser, ex.Decision.Reason)
		require.Len(t, ex.Grounds, 2)
		require.Equal(t, iam.ReasonSuperuser, ex.Grounds[0].Reason)
		require.Equal(t, iam.ReasonRule, ex.Grounds[1].Reason)
		require.Equal(t, "is_superuser", ex.Grounds[1].Rule)
		if diff := cmp.Diff([]iam.Leaf{{Name: "is_superuser", Evaluated: true, Value: true}}, ex.Grounds[1].Leaves()); diff != "" {
			t.Errorf("Leaves (-want +got):\n%s", diff)
		}

		ex, err = c.Explain(ctx, super, "app.not_super", nil)
		require.NoError(t, err)
		require.True(t, ex.Decision.Allowed)
		require.Len(t, ex.Grounds, 1)
		require.Equal(t, iam.ReasonSuperuser, ex.Grounds[0].Reason)

		ex, err = c.Explain(ctx, user, "app.super_only", nil)
		require.NoError(t, err)
		require.False(t, ex.Decision.Allowed)
		require.Empty(t, ex.Grounds)
	})

	// Past an allow, Explain's look at a rule that panics or errs changes
	// nothing: its Decision is Check's, which stopped at the grant.
	// contract 10, contract 9
	t.Run("Explain past an allow keeps Check's decision", func(t *testing.T) {
		c, store := pNew(t, map[string]iam.Predicate{
			"app.panics": iam.Pred("boom", func(context.Context, *pUser, *pDoc) bool { panic("boom") }),
			"app.errs":   iam.PredE("fails", func(context.Context, *pUser, *pDoc) (bool, error) { return false, errors.New("db down") }),
		})
		doc := &pDoc{id: "1"}
		for _, perm := range []string{"app.panics", "app.errs"} {
			require.NoError(t, store.Grant(ctx, iam.Grant{Holder: iam.User(user.id), Perm: perm, On: doc.ObjectRef()}))
			d, err := c.Check(ctx, user, perm, doc)
			require.NoError(t, err)
			require.True(t, d.Allowed)
			ex, err := c.Explain(ctx, user, perm, doc)
			require.NoError(t, err, perm)
			if diff := cmp.Diff(d.String(), ex.Decision.String()); diff != "" {
				t.Errorf("%s: Explain's decision differs from Check's (-check +explain):\n%s", perm, diff)
			}
		}
	})
}

func TestPredHasRole(t *testing.T) {
	ctx := context.Background()
	author := &iam.Role{Name: "blog.author", Perms: []string{"blog.write"}}
	editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.publish"}, Includes: []*iam.Role{author}}
	other := &iam.Role{Name: "blog.other", Perms: []string{"blog.other"}}
	roles := []*iam.Role{author, editor, other}
	now := time.Now()
	doc1 := &pDoc{id: "1"}
	doc2 := &pDoc{id: "2"}
	inFolder := &pDoc{id: "3", parents: []iam.Ref{{Type: "folder", ID: "f"}}}
	refusing := &pDoc{id: "1", refuseGlobal: true}
	u1 := iam.User("u1")
	profile := func(h iam.Principal, r *iam.Role) iam.Profile {
		return iam.Profile{Holder: h, Role: r.Name, Active: true}
	}
	tests := []struct {
		name    string
		role    *iam.Role
		setup   func(s *iam.MemoryStore) error
		subject *pUser
		obj     iam.Object
		want    bool
	}{
		{name: "no profile", role: author}, // contract 14b
		{ // contract 14b
			name:  "global profile",
			role:  author,
			setup: func(s *iam.MemoryStore) error { return s.PutProfile(ctx, profile(u1, author)) },
			want:  true,
		},
		{ // contract 14b
			name:  "global profile, checked on an object",
			role:  author,
			setup: func(s *iam.MemoryStore) error { return s.PutProfile(ctx, profile(u1, author)) },
			obj:   doc1,
			want:  true,
		},
		{ // contract 14b
			name:  "another role",
			role:  author,
			setup: func(s *iam.MemoryStore) error { return s.PutProfile(ctx, profile(u1, other)) },
		},
		{ // contract 14b: a role that includes r
			name:  "editor includes author",
			role:  author,
			setup: func(s *iam.MemoryStore) error { return s.PutProfile(ctx, profile(u1, editor)) },
			want:  true,
		},
		{ // contract 14b: inclusion is one way
			name:  "author does not include editor",
			role:  editor,
			setup: func(s *iam.MemoryStore) error { return s.PutProfile(ctx, profile(u1, author)) },
		},
		{ // contract 4
			name: "inactive profile",
			role: author,
			setup: func(s *iam.MemoryStore) error {
				p := profile(u1, author)
				p.Active = false
				return s.PutProfile(ctx, p)
			},
		},
		{ // contract 4
			name: "expired profile",
			role: author,
			setup: func(s *iam.MemoryStore) error {
				p := profile(u1, author)
				p.ExpiresAt = now.Add(-time.Hour)
				return s.PutProfile(ctx, p)
			},
		},
		{ // contract 4
			name: "profile expiring later",
			role: author,
			setup: func(s *iam.MemoryStore) error {
				p := profile(u1, author)
				p.ExpiresAt = now.Add(time.Hour)
				return s.PutProfile(ctx, p)
			},
			want: true,
		},
		{ // contract 4: another user's profile
			name:  "another user's profile",
			role:  author,
			setup: func(s *iam.MemoryStore) error { return s.PutProfile(ctx, profile(iam.User("u2"), author)) },
		},
		{ // contract 14b: through a group (stored membership)
			name: "group profile, stored membership",
			role: author,
			setup: func(s *iam.MemoryStore) error {
				if err := s.AddMember(ctx, "u1", "staff"); err != nil {
					return err
				}
				return s.PutProfile(ctx, profile(iam.Group("staff"), editor))
			},
			want: true,
		},
		{ // contract 14, 14b: through a group from SubjectGroups()
			name:    "group profile, SubjectGroups",
			role:    editor,
			setup:   func(s *iam.MemoryStore) error { return s.PutProfile(ctx, profile(iam.Group("staff"), editor)) },
			subject: &pUser{id: "u1", groups: []string{"staff"}},
			want:    true,
		},
		{ // contract 14b
			name:  "group profile, not a member",
			role:  editor,
			setup: func(s *iam.MemoryStore) error { return s.PutProfile(ctx, profile(iam.Group("staff"), editor)) },
		},
		{ // contract 14b: locally on the object
			name: "local role on the object",
			role: editor,
			setup: func(s *iam.MemoryStore) error {
				return s.Grant(ctx, iam.Grant{Holder: u1, Role: editor.Name, On: doc1.ObjectRef()})
			},
			obj:  doc1,
			want: true,
		},
		{ // contract 14b: a local role includes too
			name: "local editor role includes author",
			role: author,
			setup: func(s *iam.MemoryStore) error {
				return s.Grant(ctx, iam.Grant{Holder: u1, Role: editor.Name, On: doc1.ObjectRef()})
			},
			obj:  doc1,
			want: true,
		},
		{ // contract 14b: a local role is only on its object
			name: "local role on another object",
			role: editor,
			setup: func(s *iam.MemoryStore) error {
				return s.Grant(ctx, iam.Grant{Holder: u1, Role: editor.Name, On: doc1.ObjectRef()})
			},
			obj: doc2,
		},
		{ // contract 5, 14b: a local role does not count at model level
			name: "local role, model-level check",
			role: editor,
			setup: func(s *iam.MemoryStore) error {
				return s.Grant(ctx, iam.Grant{Holder: u1, Role: editor.Name, On: doc1.ObjectRef()})
			},
		},
		{ // contract 14b: locally through a group
			name: "local role held by a group",
			role: editor,
			setup: func(s *iam.MemoryStore) error {
				if err := s.AddMember(ctx, "u1", "staff"); err != nil {
					return err
				}
				return s.Grant(ctx, iam.Grant{Holder: iam.Group("staff"), Role: editor.Name, On: doc1.ObjectRef()})
			},
			obj:  doc1,
			want: true,
		},
		{ // contract 14b: locally on an ancestor
			name: "local role on a parent",
			role: editor,
			setup: func(s *iam.MemoryStore) error {
				return s.Grant(ctx, iam.Grant{Holder: u1, Role: editor.Name, On: iam.Ref{Type: "folder", ID: "f"}})
			},
			obj:  inFolder,
			want: true,
		},
		{ // contract 14b: an ancestor recorded in the store
			name: "local role on a stored parent",
			role: editor,
			setup: func(s *iam.MemoryStore) error {
				if err := s.SetParents(ctx, doc2.ObjectRef(), []iam.Ref{{Type: "folder", ID: "g"}}); err != nil {
					return err
				}
				return s.Grant(ctx, iam.Grant{Holder: u1, Role: editor.Name, On: iam.Ref{Type: "folder", ID: "g"}})
			},
			obj:  doc2,
			want: true,
		},
		{ // contract 14b: the object refuses global roles
			name:  "global profile, object refuses global roles",
			role:  editor,
			setup: func(s *iam.MemoryStore) error { return s.PutProfile(ctx, profile(u1, editor)) },
			obj:   refusing,
		},
		{ // contract 14b: ...through a group too
			name: "group profile, object refuses global roles",
			role: editor,
			setup: func(s *iam.MemoryStore) error {
				return s.PutProfile(ctx, profile(iam.Group("staff"), editor))
			},
			subject: &pUser{id: "u1", groups: []string{"staff"}},
			obj:     refusing,
		},
		{ // contract 14b: ...but local roles still count
			name: "local role, object refuses global roles",
			role: editor,
			setup: func(s *iam.MemoryStore) error {
				return s.Grant(ctx, iam.Grant{Holder: u1, Role: editor.Name, On: refusing.ObjectRef()})
			},
			obj:  refusing,
			want: true,
		},
		{ // library: a role granted on a whole type is held on its objects (a global role for the type)
			name: "role granted on the type",
			role: editor,
			setup: func(s *iam.MemoryStore) error {
				return s.Grant(ctx, iam.Grant{Holder: u1, Role: editor.Name, On: iam.TypeScope("doc")})
			},
			obj:  doc2,
			want: true,
		},
		{ // library: a role granted globally (GlobalScope()) is held everywhere...
			name: "role granted globally",
			role: editor,
			setup: func(s *iam.MemoryStore) error {
				return s.Grant(ctx, iam.Grant{Holder: u1, Role: editor.Name, On: iam.GlobalScope()})
			},
			want: true,
		},
		{ // ...except on an object that refuses global roles
			name: "role granted globally, object refuses global roles",
			role: editor,
			setup: func(s *iam.MemoryStore) error {
				return s.Grant(ctx, iam.Grant{Holder: u1, Role: editor.Name, On: iam.GlobalScope()})
			},
			obj: refusing,
		},
		{ // contract 6: anonymous subjects hold no stored roles
			name:    "anonymous",
			role:    author,
			subject: &pUser{id: ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, store := pRule(t, iam.HasRole(tt.role), roles...)
			if tt.setup != nil {
				require.NoError(t, tt.setup(store))
			}
			s := tt.subject
			if s == nil {
				s = &pUser{id: "u1"}
			}
			d, err := c.Check(ctx, s, pPerm, tt.obj)
			require.NoError(t, err)
			require.Equal(t, tt.want, d.Allowed, "decision %v", d)
			require.Equal(t, "has_role:"+tt.role.Name, d.Rule)
			if diff := cmp.Diff([]iam.Leaf{{Name: "has_role:" + tt.role.Name, Evaluated: true, Value: tt.want}}, d.Leaves()); diff != "" {
				t.Errorf("Leaves (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("deactivating the profile takes effect on the next check", func(t *testing.T) {
		// contract 4, 15
		c, store := pRule(t, iam.HasRole(author), roles...)
		u := &pUser{id: "u1"}
		require.NoError(t, store.PutProfile(ctx, profile(u1, editor)))
		require.True(t, c.HasPerm(ctx, u, pPerm, nil))
		require.NoError(t, store.SetProfileActive(ctx, u1, editor.Name, false))
		require.False(t, c.HasPerm(ctx, u, pPerm, nil))
	})
}

func TestPredString(t *testing.T) {
	editor := &iam.Role{Name: "blog.editor"}
	author := &iam.Role{Name: "blog.author"}
	isOwner := iam.Pred("is_owner", func(ctx context.Context, u *pUser, d *pDoc) bool { return d != nil && d.owner == u.id })
	x := iam.Pred("x", func(ctx context.Context, s iam.Subject, o iam.Object) bool { return true })
	a := iam.Pred("a", func(ctx context.Context, s iam.Subject, o iam.Object) bool { return true })
	b := iam.PredE("b", func(ctx context.Context, s iam.Subject, o iam.Object) (bool, error) { return true, nil })
	c := iam.Pred("c", func(ctx context.Context, s iam.Subject, o iam.Object) bool { return true })
	prof := iam.PredProfile("same_department", editor, func(ctx context.Context, u *pUser, r *pRecord, d pDoctor) bool { return true })
	tests := []struct {
		name string
		p    iam.Predicate
		want string
	}{
		{name: "docs/contract.md example", p: iam.Or(iam.HasRole(editor), iam.And(iam.HasRole(author), isOwner)), want: "(has_role:blog.editor | (has_role:blog.author & is_owner))"},
		{name: "leaf", p: isOwner, want: "is_owner"},
		{name: "PredE leaf", p: b, want: "b"},
		{name: "PredProfile leaf", p: prof, want: "same_department"},
		{name: "Not", p: iam.Not(x), want: "~x"},
		{name: "Not(Not(x)) prints as x", p: iam.Not(iam.Not(x)), want: "x"}, // contract 8
		{name: "Not(Not(Not(x)))", p: iam.Not(iam.Not(iam.Not(x))), want: "~x"},
		{name: "Not of a group", p: iam.Not(iam.And(a, b)), want: "~(a & b)"},
		{name: "Not(Not(group)) prints as the group", p: iam.Not(iam.Not(iam.Or(a, b))), want: "(a | b)"}, // contract 8
		{name: "Xor", p: iam.Xor(a, b), want: "(a ^ b)"},
		{name: "Xor of three", p: iam.Xor(a, b, c), want: "(a ^ b ^ c)"},
		{name: "And", p: iam.And(a, b, c), want: "(a & b & c)"},
		{name: "Or", p: iam.Or(a, b, c), want: "(a | b | c)"},
		{name: "And of one is that predicate", p: iam.And(a), want: "a"},
		{name: "Or of one is that predicate", p: iam.Or(a), want: "a"},
		{name: "nested", p: iam.And(iam.Or(a, iam.Not(b)), iam.Xor(c, a)), want: "((a | ~b) & (c ^ a))"},
		{name: "InGroup", p: iam.InGroup("a", "b"), want: "in_group:a,b"},
		{name: "InGroup of one", p: iam.InGroup("staff"), want: "in_group:staff"},
		{name: "HasRole", p: iam.HasRole(editor), want: "has_role:blog.editor"},
		{name: "Always", p: iam.Always(), want: "always"},
		{name: "Never", p: iam.Never(), want: "never"},
		{name: "IsAuthenticated", p: iam.IsAuthenticated(), want: "is_authenticated"},
		{name: "IsSuperuser", p: iam.IsSuperuser(), want: "is_superuser"},
		{name: "IsActive", p: iam.IsActive(), want: "is_active"},
		{name: "Not of a built-in", p: iam.Not(iam.IsAuthenticated()), want: "~is_authenticated"},
		{name: "zero Predicate", p: iam.Predicate{}, want: "<invalid>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.p.String())
			require.Equal(t, tt.want, fmt.Sprint(tt.p))
		})
	}
}

func TestPredInvalidPolicy(t *testing.T) {
	listed := &iam.Role{Name: "blog.editor", Perms: []string{"blog.publish"}}
	unlisted := &iam.Role{Name: "blog.ghost", Perms: []string{"blog.publish"}}
	impostor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.publish"}} // same name, not the listed value
	ok := iam.Pred("ok", func(ctx context.Context, s iam.Subject, o iam.Object) bool { return true })
	profFn := func(ctx context.Context, u *pUser, r *pRecord, d pDoctor) bool { return true }
	tests := []struct {
		name string
		p    iam.Predicate
		// errAtNew: the predicate is well formed on its own (Err() is nil)
		// and only New, which knows the policy, rejects it.
		errAtNew bool
	}{
		{name: "zero Predicate", p: iam.Predicate{}},
		{name: "And()", p: iam.And()},
		{name: "Or()", p: iam.Or()},
		{name: "Xor()", p: iam.Xor()},
		{name: "Xor of one", p: iam.Xor(ok)},
		{name: "Not(zero)", p: iam.Not(iam.Predicate{})},
		{name: "Pred with a nil func", p: iam.Pred[*pUser, *pDoc]("nil_fn", nil)},
		{name: "PredE with a nil func", p: iam.PredE[*pUser, *pDoc]("nil_fn", nil)},
		{name: "Pred with an empty name", p: iam.Pred("", func(ctx context.Context, s iam.Subject, o iam.Object) bool { return true })},
		{name: "PredE with an empty name", p: iam.PredE("", func(ctx context.Context, s iam.Subject, o iam.Object) (bool, error) { return true, nil })},
		{name: "Pred name with a space", p: iam.Pred("is owner", func(ctx context.Context, s iam.Subject, o iam.Object) bool { return true })},
		{name: "Pred name with a tab", p: iam.Pred("is\towner", func(ctx context.Context, s iam.Subject, o iam.Object) bool { return true })},
		{name: "Pred name with |", p: iam.Pred("a|b", func(ctx context.Context, s iam.Subject, o iam.Object) bool { return true })},
		{name: "Pred name with &", p: iam.Pred("a&b", func(ctx context.Context, s iam.Subject, o iam.Object) bool { return true })},
		{name: "Pred name with ^", p: iam.Pred("a^b", func(ctx context.Context, s iam.Subject, o iam.Object) bool { return true })},
		{name: "Pred name with ~", p: iam.Pred("~a", func(ctx context.Context, s iam.Subject, o iam.Object) bool { return true })},
		{name: "Pred name with parentheses", p: iam.Pred("(a)", func(ctx context.Context, s iam.Subject, o iam.Object) bool { return true })},
		{name: "HasRole(nil)", p: iam.HasRole(nil)},
		{name: "HasRole of a role not in Policy.Roles", p: iam.HasRole(unlisted), errAtNew: true},
		{name: "HasRole of another role value with a listed name", p: iam.HasRole(impostor), errAtNew: true},
		{name: "InGroup()", p: iam.InGroup()},
		{name: "InGroup with an empty group", p: iam.InGroup("a", "")},
		{name: "PredProfile with a nil role", p: iam.PredProfile[*pUser, *pRecord, pDoctor]("prof", nil, profFn)},
		{name: "PredProfile with a nil func", p: iam.PredProfile[*pUser, *pRecord, pDoctor]("prof", listed, nil)},
		{name: "PredProfile with a bad name", p: iam.PredProfile("bad name", listed, profFn)},
		{name: "PredProfile of a role not in Policy.Roles", p: iam.PredProfile("prof", unlisted, profFn), errAtNew: true},
		{name: "an invalid leaf deep inside", p: iam.Or(ok, iam.And(iam.Not(ok), iam.Pred("bad name", func(ctx context.Context, s iam.Subject, o iam.Object) bool { return true })))},
		{name: "a zero Predicate inside Or", p: iam.Or(ok, iam.Predicate{})},
		{name: "a zero Predicate inside And", p: iam.And(iam.Predicate{}, ok)},
		{name: "a zero Predicate inside Xor", p: iam.Xor(ok, iam.Predicate{})},
		{name: "Not of an invalid predicate", p: iam.Not(iam.And())},
		{name: "an unlisted role deep inside", p: iam.And(ok, iam.Or(iam.Not(iam.HasRole(unlisted)), ok)), errAtNew: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := iam.New(iam.Policy{Roles: []*iam.Role{listed}, Rules: map[string]iam.Predicate{pPerm: tt.p}}, iam.NewMemoryStore())
			require.ErrorIs(t, err, iam.ErrInvalidPolicy)
			require.Nil(t, c)
		})
	}
	t.Run("valid names and listed roles are accepted", func(t *testing.T) {
		rule := iam.Or(
			iam.HasRole(listed),
			iam.Pred("blog.is_owner-2:x", func(ctx context.Context, s iam.Subject, o iam.Object) bool { return true }),
			iam.PredProfile("prof", listed, profFn),
		)
		_, err := iam.New(iam.Policy{Roles: []*iam.Role{listed}, Rules: map[string]iam.Predicate{pPerm: rule}}, iam.NewMemoryStore())
		require.NoError(t, err)
	})
}

// pProfileFixture: a doctor role, a PredProfile rule "same_department" for
// "med.view_record" that counts its calls, and a checker whose clock the
// test controls.
type pProfileFixture struct {
	doctor *iam.Role
	rule   iam.Predicate
	calls  *atomic.Int64
	now    *atomic.Int64 // unix nanos
	c      *iam.Checker
	store  *iam.MemoryStore
}

func pNewProfileFixture(t *testing.T, wrap func(iam.Predicate) iam.Predicate) *pProfileFixture {
	t.Helper()
	f := &pProfileFixture{
		doctor: &iam.Role{Name: "med.doctor", Perms: []string{"med.prescribe"}},
		calls:  new(atomic.Int64),
		now:    new(atomic.Int64),
		store:  iam.NewMemoryStore(),
	}
	f.now.Store(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	f.rule = iam.PredProfile("same_department", f.doctor, func(ctx context.Context, u *pUser, r *pRecord, d pDoctor) bool {
		f.calls.Add(1)
		return r != nil && r.dept == d.Department
	})
	rule := f.rule
	if wrap != nil {
		rule = wrap(rule)
	}
	var err error
	f.c, err = iam.NewWithOptions(iam.Policy{
		Roles: []*iam.Role{f.doctor},
		Rules: map[string]iam.Predicate{"med.view_record": rule},
	}, f.store, iam.Options{Now: func() time.Time { return time.Unix(0, f.now.Load()) }})
	require.NoError(t, err)
	return f
}

func (f *pProfileFixture) clock() time.Time { return time.Unix(0, f.now.Load()) }

func TestPredProfile(t *testing.T) {
	ctx := context.Background()
	cardio := &pRecord{id: "1", dept: "cardiology"}
	neuro := &pRecord{id: "2", dept: "neurology"}
	u1 := iam.User("u1")
	tests := []struct {
		name      string
		wrap      func(iam.Predicate) iam.Predicate
		profile   *iam.Profile // stored before the check, with Role filled in
		groupOf   bool         // the profile is held by group "doctors", u1 a member
		subject   iam.Subject
		obj       iam.Object
		want      pV
		wantCalls int64
	}{
		{
			name:      "cardiologist views a cardiology record",
			profile:   &iam.Profile{Holder: u1, Active: true, Data: []byte(`{"department":"cardiology"}`)},
			obj:       cardio,
			want:      pT,
			wantCalls: 1,
		},
		{
			name:      "cardiologist may not view a neurology record",
			profile:   &iam.Profile{Holder: u1, Active: true, Data: []byte(`{"department":"cardiology"}`)},
			obj:       neuro,
			want:      pF,
			wantCalls: 1,
		},
		{
			name:      "unknown fields are ignored",
			profile:   &iam.Profile{Holder: u1, Active: true, Data: []byte(`{"department":"neurology","licence":"X-1"}`)},
			obj:       neuro,
			want:      pT,
			wantCalls: 1,
		},
		{
			name:      "empty data decodes to the zero value",
			profile:   &iam.Profile{Holder: u1, Active: true},
			obj:       &pRecord{id: "3", dept: ""},
			want:      pT,
			wantCalls: 1,
		},
		{
			name:    "no profile",
			obj:     cardio,
			want:    pF,
			profile: nil,
		},
		{
			name:    "inactive profile",
			profile: &iam.Profile{Holder: u1, Active: false, Data: []byte(`{"department":"cardiology"}`)},
			obj:     cardio,
			want:    pF,
		},
		{
			name:    "expired profile",
			profile: &iam.Profile{Holder: u1, Active: true, ExpiresAt: time.Date(2030, 1, 1, 11, 0, 0, 0, time.UTC), Data: []byte(`{"department":"cardiology"}`)},
			obj:     cardio,
			want:    pF,
		},
		{
			name:      "profile expiring later",
			profile:   &iam.Profile{Holder: u1, Active: true, ExpiresAt: time.Date(2030, 1, 1, 13, 0, 0, 0, time.UTC), Data: []byte(`{"department":"cardiology"}`)},
			obj:       cardio,
			want:      pT,
			wantCalls: 1,
		},
		{
			name:    "malformed JSON is an error",
			profile: &iam.Profile{Holder: u1, Active: true, Data: []byte(`{"department":`)},
			obj:     cardio,
			want:    pE,
		},
		{
			name:    "JSON of the wrong shape is an error",
			profile: &iam.Profile{Holder: u1, Active: true, Data: []byte(`{"department":5}`)},
			obj:     cardio,
			want:    pE,
		},
		{
			name:      "malformed JSON absorbed by a true Or branch",
			wrap:      func(p iam.Predicate) iam.Predicate { return iam.Or(p, iam.Always()) },
			profile:   &iam.Profile{Holder: u1, Active: true, Data: []byte(`not json`)},
			obj:       cardio,
			want:      pT,
			wantCalls: 0,
		},
		{
			// Library (PredProfile doc): only the subject's own profile
			// counts; a role held through a group carries no personal data.
			name:    "a group's profile does not count",
			profile: &iam.Profile{Holder: iam.Group("doctors"), Active: true, Data: []byte(`{"department":"cardiology"}`)},
			groupOf: true,
			obj:     cardio,
			want:    pF,
		},
		{
			name:    "anonymous",
			profile: &iam.Profile{Holder: u1, Active: true, Data: []byte(`{"department":"cardiology"}`)},
			subject: &pUser{id: ""},
			obj:     cardio,
			want:    pF,
		},
		{
			name:      "model-level check: fn gets a nil record",
			profile:   &iam.Profile{Holder: u1, Active: true, Data: []byte(`{"department":"cardiology"}`)},
			obj:       nil,
			want:      pF,
			wantCalls: 1,
		},
		{ // contract 11
			name:    "wrong subject type",
			profile: &iam.Profile{Holder: u1, Active: true, Data: []byte(`{"department":"cardiology"}`)},
			subject: &pBot{id: "u1"},
			obj:     cardio,
			want:    pE,
		},
		{ // contract 11
			name:    "wrong object type",
			profile: &iam.Profile{Holder: u1, Active: true, Data: []byte(`{"department":"cardiology"}`)},
			obj:     &pDoc{id: "1"},
			want:    pE,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := pNewProfileFixture(t, tt.wrap)
			if tt.profile != nil {
				p := *tt.profile
				p.Role = f.doctor.Name
				require.NoError(t, f.store.PutProfile(ctx, p))
			}
			if tt.groupOf {
				require.NoError(t, f.store.AddMember(ctx, "u1", "doctors"))
			}
			s := tt.subject
			if s == nil {
				s = &pUser{id: "u1"}
			}
			d, err := f.c.Check(ctx, s, "med.view_record", tt.obj)
			switch tt.want {
			case pE:
				require.Error(t, err)
				require.False(t, d.Allowed)
				require.Equal(t, iam.ReasonError, d.Reason)
				if _, ok := tt.subject.(*pBot); ok {
					require.ErrorIs(t, err, iam.ErrWrongType)
				}
			default:
				pRequireOutcome(t, d, err, tt.want)
			}
			require.Equal(t, tt.wantCalls, f.calls.Load())
		})
	}
}

func TestPredProfileWarm(t *testing.T) {
	ctx := context.Background()
	cardio := &pRecord{id: "1", dept: "cardiology"}
	neuro := &pRecord{id: "2", dept: "neurology"}
	u := &pUser{id: "u1"}

	t.Run("fn runs on every check", func(t *testing.T) {
		f := pNewProfileFixture(t, nil)
		require.NoError(t, f.store.PutProfile(ctx, iam.Profile{Holder: iam.User("u1"), Role: f.doctor.Name, Active: true, Data: []byte(`{"department":"cardiology"}`)}))
		for i := range 3 {
			require.True(t, f.c.HasPerm(ctx, u, "med.view_record", cardio), "check %d", i)
			require.False(t, f.c.HasPerm(ctx, u, "med.view_record", neuro), "check %d", i)
		}
		require.EqualValues(t, 6, f.calls.Load())
	})
	t.Run("a replaced profile is decoded afresh", func(t *testing.T) {
		// contract 15: cached data never outlives a store write.
		f := pNewProfileFixture(t, nil)
		put := func(dept string) {
			require.NoError(t, f.store.PutProfile(ctx, iam.Profile{Holder: iam.User("u1"), Role: f.doctor.Name, Active: true,
				Data: []byte(fmt.Sprintf(`{"department":%q}`, dept))}))
		}
		put("cardiology")
		require.True(t, f.c.HasPerm(ctx, u, "med.view_record", cardio))
		require.False(t, f.c.HasPerm(ctx, u, "med.view_record", neuro))
		put("neurology")
		require.False(t, f.c.HasPerm(ctx, u, "med.view_record", cardio))
		require.True(t, f.c.HasPerm(ctx, u, "med.view_record", neuro))
		require.NoError(t, f.store.SetProfileActive(ctx, iam.User("u1"), f.doctor.Name, false))
		require.False(t, f.c.HasPerm(ctx, u, "med.view_record", neuro))
	})
	t.Run("a cached profile stops counting when it expires", func(t *testing.T) {
		f := pNewProfileFixture(t, nil)
		require.NoError(t, f.store.PutProfile(ctx, iam.Profile{Holder: iam.User("u1"), Role: f.doctor.Name, Active: true,
			ExpiresAt: f.clock().Add(time.Hour), Data: []byte(`{"department":"cardiology"}`)}))
		require.True(t, f.c.HasPerm(ctx, u, "med.view_record", cardio))
		require.True(t, f.c.HasPerm(ctx, u, "med.view_record", cardio))
		f.now.Add(int64(2 * time.Hour))
		require.False(t, f.c.HasPerm(ctx, u, "med.view_record", cardio))
		require.EqualValues(t, 2, f.calls.Load())
	})
	t.Run("a malformed profile keeps failing", func(t *testing.T) {
		f := pNewProfileFixture(t, nil)
		require.NoError(t, f.store.PutProfile(ctx, iam.Profile{Holder: iam.User("u1"), Role: f.doctor.Name, Active: true, Data: []byte(`{`)}))
		for range 2 {
			d, err := f.c.Check(ctx, u, "med.view_record", cardio)
			require.Error(t, err)
			require.False(t, d.Allowed)
		}
		require.Zero(t, f.calls.Load())
	})
	t.Run("concurrent warm checks", func(t *testing.T) {
		f := pNewProfileFixture(t, nil)
		require.NoError(t, f.store.PutProfile(ctx, iam.Profile{Holder: iam.User("u1"), Role: f.doctor.Name, Active: true, Data: []byte(`{"department":"cardiology"}`)}))
		var wg sync.WaitGroup
		var bad atomic.Int64
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					if !f.c.HasPerm(ctx, u, "med.view_record", cardio) || f.c.HasPerm(ctx, u, "med.view_record", neuro) {
						bad.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		require.Zero(t, bad.Load())
	})
}

func TestPredProfileData(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    pDoctor
		wantErr bool
	}{
		{name: "object", data: `{"department":"cardiology"}`, want: pDoctor{Department: "cardiology"}},
		{name: "unknown fields ignored", data: `{"department":"neurology","licence":"X-1"}`, want: pDoctor{Department: "neurology"}},
		{name: "empty data is the zero value", data: ``, want: pDoctor{}},
		{name: "null is the zero value", data: `null`, want: pDoctor{}},
		{name: "empty object", data: `{}`, want: pDoctor{}},
		{name: "malformed", data: `{"department":`, wantErr: true},
		{name: "wrong shape", data: `{"department":5}`, wantErr: true},
		{name: "not an object", data: `"cardiology"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := iam.Profile{Holder: iam.User("u1"), Role: "med.doctor", Active: true}
			if tt.data != "" {
				p.Data = []byte(tt.data)
			}
			got, err := iam.ProfileData[pDoctor](p)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ProfileData (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("the JSON error is wrapped", func(t *testing.T) {
		_, err := iam.ProfileData[pDoctor](iam.Profile{Holder: iam.User("u1"), Role: "med.doctor", Data: []byte(`{`)})
		var syn *json.SyntaxError
		require.ErrorAs(t, err, &syn)
		_, err = iam.ProfileData[pDoctor](iam.Profile{Holder: iam.User("u1"), Role: "med.doctor", Data: []byte(`{"department":5}`)})
		var typ *json.UnmarshalTypeError
		require.ErrorAs(t, err, &typ)
	})
	t.Run("other types", func(t *testing.T) {
		m, err := iam.ProfileData[map[string]any](iam.Profile{Data: []byte(`{"sections":["news","sport"]}`)})
		require.NoError(t, err)
		if diff := cmp.Diff(map[string]any{"sections": []any{"news", "sport"}}, m); diff != "" {
			t.Errorf("ProfileData (-want +got):\n%s", diff)
		}
		n, err := iam.ProfileData[int](iam.Profile{Data: []byte(`42`)})
		require.NoError(t, err)
		require.Equal(t, 42, n)
	})
}

func TestRuleDecisionLeaves(t *testing.T) {
	ctx := context.Background()
	editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.publish"}}
	author := &iam.Role{Name: "blog.author", Perms: []string{"blog.write"}}
	isOwner := iam.Pred("is_owner", func(ctx context.Context, u *pUser, d *pDoc) bool { return d != nil && d.owner == u.id })
	rule := iam.Or(iam.HasRole(editor), iam.And(iam.HasRole(author), isOwner))
	const perm = "blog.change_post"
	post := &pDoc{id: "1", owner: "alice"}
	tests := []struct {
		name       string
		user       string
		roles      []*iam.Role // global roles of the user
		wantAllow  bool
		wantLeaves []iam.Leaf
	}{
		{
			name:      "editor: the Or stops at the first leaf",
			user:      "ed",
			roles:     []*iam.Role{editor},
			wantAllow: true,
			wantLeaves: []iam.Leaf{
				{Name: "has_role:blog.editor", Evaluated: true, Value: true},
				{Name: "has_role:blog.author"},
				{Name: "is_owner"},
			},
		},
		{
			name:      "author and owner",
			user:      "alice",
			roles:     []*iam.Role{author},
			wantAllow: true,
			wantLeaves: []iam.Leaf{
				{Name: "has_role:blog.editor", Evaluated: true},
				{Name: "has_role:blog.author", Evaluated: true, Value: true},
				{Name: "is_owner", Evaluated: true, Value: true},
			},
		},
		{
			name:  "author, not the owner",
			user:  "bob",
			roles: []*iam.Role{author},
			wantLeaves: []iam.Leaf{
				{Name: "has_role:blog.editor", Evaluated: true},
				{Name: "has_role:blog.author", Evaluated: true, Value: true},
				{Name: "is_owner", Evaluated: true},
			},
		},
		{
			name: "owner without a role: the And stops at the first leaf",
			user: "alice",
			wantLeaves: []iam.Leaf{
				{Name: "has_role:blog.editor", Evaluated: true},
				{Name: "has_role:blog.author", Evaluated: true},
				{Name: "is_owner"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, store := pNew(t, map[string]iam.Predicate{perm: rule}, editor, author)
			for _, r := range tt.roles {
				require.NoError(t, store.PutProfile(ctx, iam.Profile{Holder: iam.User(tt.user), Role: r.Name, Active: true}))
			}
			d, err := c.Check(ctx, &pUser{id: tt.user}, perm, post)
			require.NoError(t, err)
			require.Equal(t, tt.wantAllow, d.Allowed)
			require.Equal(t, perm, d.Perm)
			require.Equal(t, rule.String(), d.Rule)
			require.Equal(t, "(has_role:blog.editor | (has_role:blog.author & is_owner))", d.Rule)
			if tt.wantAllow {
				require.Equal(t, iam.ReasonRule, d.Reason)
			} else {
				require.Equal(t, iam.ReasonNone, d.Reason)
			}
			if diff := cmp.Diff(tt.wantLeaves, d.Leaves()); diff != "" {
				t.Errorf("Leaves (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a decision not made by a rule has no leaves", func(t *testing.T) {
		c, store := pNew(t, map[string]iam.Predicate{perm: rule}, editor, author)
		require.NoError(t, store.PutProfile(ctx, iam.Profile{Holder: iam.User("ed"), Role: editor.Name, Active: true}))
		d, err := c.Check(ctx, &pUser{id: "ed"}, "blog.publish", post)
		require.NoError(t, err)
		require.True(t, d.Allowed)
		require.Equal(t, iam.ReasonGlobalRole, d.Reason)
		require.Empty(t, d.Rule)
		require.Nil(t, d.Leaves())
	})
	t.Run("the zero Decision has no leaves", func(t *testing.T) {
		require.Nil(t, iam.Decision{}.Leaves())
	})
}
