package shard

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// TestListsMatchesModel applies random adds and removes in random batches
// and compares every list with a plain map-of-sets model, and checks that a
// committed Lists never changes afterwards.
func TestListsMatchesModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	model := map[string]map[string]bool{}
	var cur Lists[string, string]
	var snapshots []Lists[string, string]
	var wants []map[string][]string
	sorted := func() map[string][]string {
		out := map[string][]string{}
		for k, set := range model {
			for e, ok := range set {
				if ok {
					out[k] = append(out[k], e)
				}
			}
			slices.Sort(out[k])
		}
		return out
	}
	read := func(l Lists[string, string]) map[string][]string {
		out := map[string][]string{}
		for i := range 5 {
			k := strconv.Itoa(i)
			if got := l.Get(h(k), k); len(got) > 0 {
				out[k] = slices.Clone(got)
			}
		}
		return out
	}
	for range 200 {
		b := cur.Edit(h, cmp.Compare[string])
		for range r.IntN(300) {
			k := strconv.Itoa(r.IntN(5))
			e := strconv.Itoa(r.IntN(60))
			if model[k] == nil {
				model[k] = map[string]bool{}
			}
			if r.IntN(3) == 0 {
				b.Remove(k, e)
				model[k][e] = false
			} else {
				b.Add(k, e)
				model[k][e] = true
			}
		}
		cur = b.Commit()
		want := sorted()
		if diff := gocmp.Diff(want, read(cur)); diff != "" {
			t.Fatalf("lists differ from the model (-want +got):\n%s", diff)
		}
		n := 0
		for _, l := range want {
			if len(l) > 0 {
				n++
			}
		}
		require.Equal(t, n, cur.Len(), "keys with a non-empty list")
		snapshots = append(snapshots, cur)
		wants = append(wants, want)
	}
	for i, s := range snapshots {
		if diff := gocmp.Diff(wants[i], read(s)); diff != "" {
			t.Fatalf("snapshot %d changed after later batches (-want +got):\n%s", i, diff)
		}
	}
}
