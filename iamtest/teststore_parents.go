package iamtest

import (
	"testing"

	"github.com/iamgo/iam"
)

// Object parents: every read and write of iam.ParentStore, for stores that
// implement it. Stores that do not skip these subtests.

func (s *suite) testParentsUnknownRef(t *testing.T) {
	st, ps := s.parentStore(t)
	for _, populated := range []bool{false, true} {
		if populated {
			must(t, ps.SetParents(t.Context(), doc1, []iam.Ref{{Type: typeFolder, ID: "1"}}), "SetParents")
			grantAll(t, st, permGrant(alice, permView, doc2))
		}
		for _, ref := range []iam.Ref{doc2, {Type: typeFolder, ID: "1"}, {Type: typeDoc, ID: "10"}, {Type: "1", ID: "doc"}} {
			requireDiff(t, []iam.Ref(nil), parentsOf(t, ps, ref), "Parents(%v) (populated=%v)", ref, populated)
		}
	}
}

func (s *suite) testSetParents(t *testing.T) {
	// SetParents replaces the parents; nil or an empty list forgets them;
	// Parents keeps the order given.
	_, ps := s.parentStore(t)
	f := func(id string) iam.Ref { return iam.Ref{Type: typeFolder, ID: id} }
	steps := []struct {
		name    string
		parents []iam.Ref
		want    []iam.Ref
	}{
		{"one", []iam.Ref{f("1")}, []iam.Ref{f("1")}},
		{"replace by three, unsorted", []iam.Ref{f("b"), doc2, f("a")}, []iam.Ref{f("b"), doc2, f("a")}},
		{"replace in another order", []iam.Ref{f("a"), f("b"), doc2}, []iam.Ref{f("a"), f("b"), doc2}},
		{"clear with nil", nil, nil},
		{"set again", []iam.Ref{f("z"), f("y")}, []iam.Ref{f("z"), f("y")}},
		{"clear with an empty list", []iam.Ref{}, nil},
		{"clear an empty list again", nil, nil},
		{"many", manyRefs(40), manyRefs(40)},
		{"one after many", []iam.Ref{f("last")}, []iam.Ref{f("last")}},
	}
	for _, step := range steps {
		must(t, ps.SetParents(t.Context(), doc1, step.parents), "step %q: SetParents", step.name)
		requireDiff(t, step.want, parentsOf(t, ps, doc1), "step %q: Parents", step.name)
	}
}

// manyRefs returns n folder refs, in an order that is not sorted.
func manyRefs(n int) []iam.Ref {
	out := make([]iam.Ref, n)
	for i := range out {
		out[i] = iam.Ref{Type: typeFolder, ID: string(rune('a'+(i*7)%26)) + string(rune('A'+i%26)) + string(rune('0'+i/26))}
	}
	return out
}

func (s *suite) testParentsExactRef(t *testing.T) {
	// Parents are recorded per object; setting or clearing them for one
	// object leaves the others.
	_, ps := s.parentStore(t)
	f1, f2 := iam.Ref{Type: typeFolder, ID: "1"}, iam.Ref{Type: typeFolder, ID: "2"}
	must(t, ps.SetParents(t.Context(), doc1, []iam.Ref{f1}), "SetParents")
	must(t, ps.SetParents(t.Context(), doc2, []iam.Ref{f2, f1}), "SetParents")
	must(t, ps.SetParents(t.Context(), f1, []iam.Ref{f2}), "SetParents")
	requireDiff(t, []iam.Ref{f1}, parentsOf(t, ps, doc1), "Parents(doc1)")
	requireDiff(t, []iam.Ref{f2, f1}, parentsOf(t, ps, doc2), "Parents(doc2)")
	requireDiff(t, []iam.Ref{f2}, parentsOf(t, ps, f1), "Parents(f1)")
	requireDiff(t, []iam.Ref(nil), parentsOf(t, ps, f2), "Parents(f2)")

	must(t, ps.SetParents(t.Context(), doc2, nil), "SetParents(nil)")
	requireDiff(t, []iam.Ref{f1}, parentsOf(t, ps, doc1), "Parents(doc1)")
	requireDiff(t, []iam.Ref(nil), parentsOf(t, ps, doc2), "Parents(doc2)")
	requireDiff(t, []iam.Ref{f2}, parentsOf(t, ps, f1), "Parents(f1)")
}
