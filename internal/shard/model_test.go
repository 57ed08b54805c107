package shard

import (
	"math/bits"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// snapshot is a committed Map and what it held when it was committed: its
// length, a fingerprint of all its keys and values, and a sample of them.
type snapshot struct {
	m      Map[string, int]
	n      int
	sum    uint64
	sample map[string]int
	absent []string
}

func fingerprint(hash func(string) uint64, k string, v int) uint64 {
	return (hash(k) ^ uint64(v)*0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9
}

func takeSnapshot(m Map[string, int], want map[string]int, hash func(string) uint64, r *rand.Rand, gone []string) snapshot {
	s := snapshot{m: m, n: len(want), sample: map[string]int{}}
	for k, v := range want {
		s.sum += fingerprint(hash, k, v)
		if r.IntN(len(want)/64+1) == 0 && len(s.sample) < 256 {
			s.sample[k] = v
		}
	}
	for _, k := range gone {
		if _, ok := want[k]; !ok && len(s.absent) < 64 {
			s.absent = append(s.absent, k)
		}
	}
	return s
}

func (s snapshot) check(t *testing.T, hash func(string) uint64) {
	t.Helper()
	require.Equal(t, s.n, s.m.Len())
	var sum uint64
	n := 0
	s.m.Range(func(k string, v int) bool {
		sum += fingerprint(hash, k, v)
		n++
		return true
	})
	require.Equal(t, s.n, n, "Range count of a snapshot")
	require.Equal(t, s.sum, sum, "a snapshot changed after later batches")
	for k, v := range s.sample {
		got, ok := s.m.Get(hash(k), k)
		require.True(t, ok, k)
		require.Equal(t, v, got, k)
	}
	for _, k := range s.absent {
		_, ok := s.m.Get(hash(k), k)
		require.False(t, ok, k)
	}
}

// TestMapModel drives a Map through random batches against a Go map: growth
// from empty to about a million keys (every reshard on the way), batches of
// one edit on hot keys (deltas filling, merging, hiding and reviving keys),
// and deletes down to empty, with snapshots kept along the way and checked
// again at the end: a committed Map never changes.
func TestMapModel(t *testing.T) {
	big := 1_400_000 // it grows to 3/4 of it: past a million keys, 1024 shards
	switch {
	case testing.Short():
		big = 1 << 16
	case raceEnabled:
		big = 1 << 19
	}
	for _, tc := range []struct {
		name string
		hash func(string) uint64
		keys int
	}{
		{"maphash", h, big},
		// Four values of the low 32 bits and one filter bit: long runs,
		// equal tags in the table and in the deltas.
		{"colliding", func(s string) uint64 { x := h(s); return x&^(1<<38-1) | x&3 }, 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, uint64(tc.keys)))
			hash := tc.hash
			key := func(i int) string { return "k" + strconv.Itoa(i) }
			var m Map[string, int]
			want := map[string]int{}
			var snaps []snapshot
			var gone []string
			val := 0
			apply := func(ops int, keyspace func() int, pDelete int) {
				b := m.Edit(hash)
				for range ops {
					k := key(keyspace())
					if r.IntN(100) < pDelete {
						b.Delete(k)
						if _, ok := want[k]; ok {
							gone = append(gone, k)
						}
						delete(want, k)
					} else {
						val++
						b.Set(k, val)
						want[k] = val
					}
					if r.IntN(8) == 0 {
						gv, gok := b.Get(k)
						wv, wok := want[k]
						require.Equal(t, wok, gok, "Batch.Get(%s)", k)
						require.Equal(t, wv, gv, "Batch.Get(%s)", k)
					}
				}
				m = b.Commit()
				require.Equal(t, len(want), m.Len())
			}
			snap := func() {
				snaps = append(snaps, takeSnapshot(m, want, hash, r, gone))
				if len(gone) > 4096 {
					gone = gone[len(gone)-1024:]
				}
			}
			// A snapshot each time the size crosses a power of two, so
			// they cost O(largest) in all.
			lastLog := 0
			snapOnCross := func() {
				if l := bits.Len(uint(len(want))); l != lastLog {
					lastLog = l
					snap()
				}
			}

			// Growth: batches of every size, a few deletes.
			for len(want) < tc.keys*3/4 {
				var ops int
				switch r.IntN(4) {
				case 0:
					ops = 1
				case 1:
					ops = r.IntN(20)
				default:
					ops = r.IntN(tc.keys/8 + 1)
				}
				hi := min(tc.keys, len(want)+ops+16)
				apply(ops, func() int { return r.IntN(hi) }, 10)
				snapOnCross()
			}
			checkMap(t, m, hash, want)
			snap()

			// Single-key batches on hot keys: deltas fill, merge and
			// edit the same keys again and again.
			hot := make([]int, 64)
			for i := range hot {
				hot[i] = r.IntN(tc.keys * 2) // half of them new keys
			}
			for i := range 4000 {
				apply(1+r.IntN(2), func() int { return hot[r.IntN(len(hot))] }, 40)
				if i%1000 == 999 {
					snap()
				}
			}
			checkMap(t, m, hash, want)
			snap()

			// Deletes down to empty, in batches of every size.
			left := make([]string, 0, len(want))
			for k := range want {
				left = append(left, k)
			}
			r.Shuffle(len(left), func(i, j int) { left[i], left[j] = left[j], left[i] })
			for step := 0; len(left) > 0; step++ {
				ops := 1
				if step%3 == 0 {
					ops = r.IntN(len(left)/4 + 2)
				}
				ops = min(ops, len(left))
				ks := left[:ops]
				left = left[ops:]
				b := m.Edit(hash)
				for _, k := range ks {
					b.Delete(k)
					delete(want, k)
					gone = append(gone, k)
				}
				m = b.Commit()
				require.Equal(t, len(want), m.Len())
				snapOnCross()
			}
			checkMap(t, m, hash, want)
			for _, tb := range shards(m) {
				require.Nil(t, tb.tags, "an empty map keeps slots")
				require.Nil(t, tb.delta, "an empty map keeps edits")
			}

			for _, s := range snaps {
				s.check(t, hash)
			}
			t.Logf("%d snapshots checked; %d shards at the largest", len(snaps), func() int {
				most := 0
				for _, s := range snaps {
					most = max(most, len(shards(s.m)))
				}
				return most
			}())
		})
	}
}

// TestBatchRange: a batch's Range shows its current version, edits made so
// far included, for Map and Map2, checked against Go maps after every edit.
func TestBatchRange(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	var m Map[string, int]
	var m2 Map2[int]
	want := map[string]int{}
	want2 := map[[2]string]int{}
	for round := range 40 {
		b, b2 := m.Edit(h), m2.Edit(seed)
		for op := range r.IntN(30) {
			k, a := "k"+strconv.Itoa(r.IntN(200)), "a"+strconv.Itoa(r.IntN(4))
			if r.IntN(3) == 0 {
				b.Delete(k)
				delete(want, k)
				b2.Delete(a, k)
				delete(want2, [2]string{a, k})
			} else {
				v := round*100 + op
				b.Set(k, v)
				want[k] = v
				b2.Set(a, k, v)
				want2[[2]string{a, k}] = v
			}
			got := map[string]int{}
			b.Range(func(k string, v int) bool { got[k] = v; return true })
			require.Equal(t, want, got, "Batch.Range, round %d op %d", round, op)
			got2 := map[[2]string]int{}
			b2.Range(func(a, k string, v int) bool { got2[[2]string{a, k}] = v; return true })
			require.Equal(t, want2, got2, "Batch2.Range, round %d op %d", round, op)
		}
		m, m2 = b.Commit(), b2.Commit()
	}
	n := 0
	b2 := m2.Edit(seed)
	b2.Range(func(string, string, int) bool { n++; return n < 3 })
	require.Equal(t, min(3, len(want2)), n, "Batch2.Range stops when fn returns false")
}
