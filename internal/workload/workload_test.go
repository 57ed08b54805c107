package workload

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// small returns the standard specs at a hundredth of their size, with
// short sequences, so that a brute force over every grant stays quick.
func small() []Spec {
	var out []Spec
	for _, s := range []Spec{Flat(100), UUIDs(100), Groups20(100), Depth4(100)} {
		s.SeqLen = 1 << 14
		out = append(out, s)
	}
	return out
}

// oracle decides questions from the yielded grants, parents and
// memberships alone, as an engine loaded with them would: the check that
// the generator's arithmetic and the data it hands out agree.
type oracle struct {
	grants  map[Grant]bool
	parents map[[2]string][2]string
	groups  map[string][]string
}

func newOracle(t *testing.T, w *Workload) *oracle {
	t.Helper()
	o := &oracle{grants: map[Grant]bool{}, parents: map[[2]string][2]string{}, groups: map[string][]string{}}
	n := 0
	for g := range w.Grants() {
		if (g.User == "") == (g.Group == "") {
			t.Fatalf("%s: grant %+v has not exactly one holder", w.Spec.Name, g)
		}
		o.grants[g] = true
		n++
	}
	if n != w.NumGrants() || len(o.grants) != n {
		t.Fatalf("%s: %d grants yielded, %d distinct, NumGrants %d", w.Spec.Name, n, len(o.grants), w.NumGrants())
	}
	for p := range w.Parents() {
		o.parents[[2]string{p.Type, p.ID}] = [2]string{p.ParentType, p.ParentID}
	}
	for m := range w.Memberships() {
		o.groups[m.User] = append(o.groups[m.User], m.Group)
	}
	for u, gs := range o.groups {
		if len(gs) != w.Spec.GroupsPerUser || len(slices.Compact(slices.Sorted(slices.Values(gs)))) != len(gs) {
			t.Fatalf("%s: user %s is in %v", w.Spec.Name, u, gs)
		}
	}
	return o
}

func (o *oracle) holds(w *Workload, u, p, d int) bool {
	user, perm := w.Users[u], w.Perms[p]
	on := [2]string{w.Spec.Levels[0].Type, w.Objects[0][d]}
	for {
		if o.grants[Grant{User: user, Perm: perm, ObjectType: on[0], ObjectID: on[1]}] {
			return true
		}
		for _, g := range o.groups[user] {
			if o.grants[Grant{Group: g, Perm: perm, ObjectType: on[0], ObjectID: on[1]}] {
				return true
			}
		}
		next, ok := o.parents[on]
		if !ok {
			return false
		}
		on = next
	}
}

func TestAnswersAgreeWithGrants(t *testing.T) {
	for _, s := range small() {
		t.Run(s.Name, func(t *testing.T) {
			w, err := Generate(s)
			if err != nil {
				t.Fatal(err)
			}
			o := newOracle(t, w)
			seen := map[Question]bool{}
			for i, q := range w.Pool {
				if q.Want != (i%2 == 0) {
					t.Fatalf("question %d: want %v, out of turn", i, q.Want)
				}
				if seen[q] {
					t.Fatalf("question %d %+v is asked twice", i, q)
				}
				seen[q] = true
				if got := o.holds(w, q.User, q.Perm, q.Object); got != q.Want {
					t.Fatalf("question %d %+v: the grants say %v", i, q, got)
				}
			}
			// Any question, not only the pool's: random ones are mostly
			// denied, so also ask every slot holder's own grant.
			r := rand.New(rand.NewPCG(9, 9))
			for range 20_000 {
				u, p, d := r.IntN(s.Users), r.IntN(len(w.Perms)), r.IntN(s.Levels[0].N)
				if got, want := w.Holds(u, p, d), o.holds(w, u, p, d); got != want {
					t.Fatalf("Holds(%d, %d, %d) = %v, the grants say %v", u, p, d, got, want)
				}
			}
			users := map[string]int{}
			for i, id := range w.Users {
				users[id] = i
			}
			for g := range w.Grants() {
				if g.User == "" || g.ObjectType != s.Levels[0].Type {
					continue
				}
				d := slices.Index(w.Objects[0], g.ObjectID)
				if !w.Holds(users[g.User], slices.Index(w.Perms, g.Perm), d) {
					t.Fatalf("Holds denies the grant %+v", g)
				}
				if d > 200 {
					break
				}
			}
			for _, g := range w.Writes(64) {
				if _, ok := users[g.User]; ok || g.ObjectType != s.Levels[0].Type || !slices.Contains(w.Objects[0], g.ObjectID) {
					t.Fatalf("write %+v: a user the questions ask about, or an unknown object", g)
				}
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	s := small()[2]
	a, err := Generate(s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(s)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Pool, b.Pool) || !slices.Equal(a.Uniform, b.Uniform) || !slices.Equal(a.Zipf, b.Zipf) ||
		!slices.Equal(a.Users, b.Users) || !slices.Equal(a.Writes(16), b.Writes(16)) {
		t.Fatal("the same spec generated different workloads")
	}
}

// TestSequences: the Zipf sequence is skewed towards the first ranks, the
// uniform one is not, and both ask about half allowed questions.
func TestSequences(t *testing.T) {
	w, err := Generate(small()[0])
	if err != nil {
		t.Fatal(err)
	}
	top := len(w.Pool) / 100 // the hottest 1% of the questions
	share := func(seq []uint32) float64 {
		n := 0
		for _, k := range seq {
			if int(k) >= len(w.Pool) {
				t.Fatalf("index %d outside a pool of %d", k, len(w.Pool))
			}
			if int(k) < top {
				n++
			}
		}
		return float64(n) / float64(len(seq))
	}
	if z := share(w.Zipf); z < 0.3 {
		t.Errorf("zipf: the hottest 1%% of the questions are %.1f%% of the sequence, want at least 30%%", 100*z)
	}
	if u := share(w.Uniform); u > 0.02 {
		t.Errorf("uniform: the first 1%% of the questions are %.1f%% of the sequence, want about 1%%", 100*u)
	}
	counts := make([]int, len(w.Pool))
	for _, k := range w.Zipf {
		counts[k]++
	}
	if slices.Index(counts, slices.Max(counts)) != 0 {
		t.Error("zipf: question 0 is not the most asked")
	}
	for name, seq := range map[string][]uint32{"uniform": w.Uniform, "zipf": w.Zipf} {
		if a := w.AllowedShare(seq); a < 0.4 || a > 0.6 {
			t.Errorf("%s: %.0f%% allowed, want about half", name, 100*a)
		}
	}
	sample := w.Sample(w.Uniform, 64)
	if len(sample) != 64 || !slices.Equal(sample[:32], w.Uniform[:32]) || sample[32] != 0 {
		t.Errorf("Sample = %v", sample)
	}
}

// TestFullScaleSpecs: the benchmarks' specs are valid and make the sizes
// their documentation gives, without generating them.
func TestFullScaleSpecs(t *testing.T) {
	for _, s := range []Spec{Flat(1), UUIDs(1), Groups20(1), Depth4(1), Flat(10)} {
		if err := s.validate(); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
		w := &Workload{Spec: s}
		want := Grants
		if s.Users != Users {
			want = Grants / 10
		}
		if got := w.NumGrants(); got != want {
			t.Errorf("%s: %d grants, want %d", s.Name, got, want)
		}
	}
	bad := Flat(100)
	bad.Levels = []Level{{Type: "doc", N: 10, Slots: 4}, {Type: "folder", N: 3, Slots: 1}}
	if err := bad.validate(); err == nil {
		t.Error("a level that is not a multiple of the next one's passed")
	}
	if _, err := Generate(Spec{Name: "tiny", Seed: 1, Users: 2, Levels: []Level{{Type: "doc", N: 1, Slots: 1}}, Pool: 100, SeqLen: 16}); err == nil {
		t.Error("a pool larger than the spec's questions was generated")
	}
}
