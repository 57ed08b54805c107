package shard

import (
	"hash/maphash"
	"maps"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

var seed = maphash.MakeSeed()

func h(s string) uint64 { return maphash.String(seed, s) }

func TestBatchIsolation(t *testing.T) {
	var m0 Map[string, int]
	_, ok := m0.Get(h("a"), "a")
	require.False(t, ok)

	b := m0.Edit(h)
	for i := range 5000 {
		k := strconv.Itoa(i)
		b.Set(k, i)
	}
	m1 := b.Commit()
	require.Equal(t, 5000, m1.Len())
	require.Equal(t, 0, m0.Len())

	b = m1.Edit(h)
	b.Delete("7")
	b.Delete("missing")
	b.Set("8", 80)
	b.Set("new", -1)
	v, ok := b.Get("8")
	require.True(t, ok)
	require.Equal(t, 80, v)
	m2 := b.Commit()

	// m1 is unchanged by the second batch.
	v, ok = m1.Get(h("7"), "7")
	require.True(t, ok)
	require.Equal(t, 7, v)
	v, _ = m1.Get(h("8"), "8")
	require.Equal(t, 8, v)
	_, ok = m1.Get(h("new"), "new")
	require.False(t, ok)

	_, ok = m2.Get(h("7"), "7")
	require.False(t, ok)
	v, _ = m2.Get(h("8"), "8")
	require.Equal(t, 80, v)
	require.Equal(t, 5000, m2.Len())

	got := map[string]int{}
	m2.Range(func(k string, v int) bool { got[k] = v; return true })
	want := map[string]int{}
	for i := range 5000 {
		if i != 7 {
			want[strconv.Itoa(i)] = i
		}
	}
	want["8"] = 80
	want["new"] = -1
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("Range (-want +got):\n%s", d)
	}
}

func TestEmptyBatchCommit(t *testing.T) {
	var m Map[string, int]
	b := m.Edit(h)
	b.Delete("x")
	require.Equal(t, 0, b.Commit().Len())
}

func TestMap2(t *testing.T) {
	var m Map2[int]
	_, ok := m.Get(seed, "a", "1")
	require.False(t, ok)
	b := m.Edit(seed)
	b.Set("a", "1", 1)
	b.Set("a", "2", 2)
	b.Set("b", "1", 3)
	b.Set("", "", 4)
	m1 := b.Commit()
	require.Equal(t, 4, m1.Len())
	for _, tc := range []struct {
		a, b string
		want int
	}{{"a", "1", 1}, {"a", "2", 2}, {"b", "1", 3}, {"", "", 4}} {
		v, ok := m1.Get(seed, tc.a, tc.b)
		require.True(t, ok, tc)
		require.Equal(t, tc.want, v)
	}
	b = m1.Edit(seed)
	b.Delete("b", "1")
	b.Delete("zz", "1")
	b.Set("a", "1", 10)
	m2 := b.Commit()
	require.Equal(t, 3, m2.Len())
	_, ok = m2.Get(seed, "b", "1")
	require.False(t, ok)
	v, _ := m1.Get(seed, "a", "1")
	require.Equal(t, 1, v, "base map unchanged")
	got := map[[2]string]int{}
	m2.Range(func(a, b string, v int) bool { got[[2]string{a, b}] = v; return true })
	if d := cmp.Diff(map[[2]string]int{{"a", "1"}: 10, {"a", "2"}: 2, {"", ""}: 4}, got); d != "" {
		t.Fatalf("Range (-want +got):\n%s", d)
	}
}

// checkTable verifies a table's invariant: entries ascending by the low 32
// bits of their tag, each at or after its home with no empty slot between;
// a delta in the same order, its filter covering it; and n counting the
// keys with the delta applied.
func checkTable[K, V comparable](t *testing.T, tb *table[K, V]) {
	t.Helper()
	require.Equal(t, len(tb.tags), len(tb.ents))
	require.GreaterOrEqual(t, len(tb.tags), int(tb.home))
	prev := uint32(0)
	var zero entry[K, V]
	for i, x := range tb.tags {
		if x == 0 {
			if tb.ents[i] != zero {
				t.Fatalf("empty slot %d keeps an entry", i)
			}
			continue
		}
		if x&1 == 0 {
			t.Fatalf("slot %d: tag %#x without bit 0", i, x)
		}
		if uint32(x) < prev {
			t.Fatalf("slot %d out of order", i)
		}
		prev = uint32(x)
		hm := homeOf(x, tb.home)
		if hm > i {
			t.Fatalf("slot %d before its home %d", i, hm)
		}
		for j := hm; j < i; j++ {
			if tb.tags[j] == 0 {
				t.Fatalf("gap at %d between home %d and slot %d", j, hm, i)
			}
		}
	}
	require.LessOrEqual(t, len(tb.delta), maxDelta)
	var filter table[K, V]
	for i, d := range tb.delta {
		filter.addFilter(d.tag)
		require.Equal(t, uint64(1), d.tag&1)
		if i > 0 && uint32(d.tag) < uint32(tb.delta[i-1].tag) {
			t.Fatalf("delta %d out of order", i)
		}
		_, inBase := tb.find(d.tag, d.e.k)
		if d.dead {
			require.True(t, inBase, "a dead edit hides a key of the table")
			require.Zero(t, d.e.v)
		}
		for j := range i {
			if tb.delta[j].tag == d.tag && tb.delta[j].e.k == d.e.k {
				t.Fatalf("delta edits key %v twice", d.e.k)
			}
		}
	}
	require.Equal(t, filter.filter, tb.filter, "filter")
	n, last := 0, uint32(0)
	tb.each(func(x uint64, _ *entry[K, V]) bool {
		if uint32(x) < last {
			t.Fatalf("each out of order")
		}
		last = uint32(x)
		n++
		return true
	})
	require.Equal(t, n, int(tb.n))
}

// shards returns m's tables in shard order.
func shards[K comparable, V any](m Map[K, V]) []*table[K, V] {
	var out []*table[K, V]
	for _, c := range m.dir {
		for i := range m.perChunk() {
			out = append(out, &c.t[i])
		}
	}
	return out
}

// checkMap verifies m's shape (directory, chunks, shards), every table, and
// its contents against want.
func checkMap[K, V comparable](t *testing.T, m Map[K, V], hash func(K) uint64, want map[K]V) {
	t.Helper()
	require.Equal(t, len(want), m.Len())
	if m.dir != nil {
		nd := len(m.dir)
		require.Equal(t, 0, nd&(nd-1), "directory length a power of two")
		per := m.perChunk()
		require.Equal(t, 64-int(m.dshift), bits.Len(uint(nd))-1, "dshift")
		require.Equal(t, int(chunkBits(64-m.shift)), bits.Len(uint(per))-1, "shards per chunk")
		require.True(t, per == chunkShards || nd == 1, "a partly used chunk is the only one")
		require.LessOrEqual(t, nd*per, MaxShards)
		var zero table[K, V]
		for _, c := range m.dir {
			for i := per; i < chunkShards; i++ {
				require.Equal(t, zero, c.t[i], "unused header %d in use", i)
			}
			require.False(t, c.draft, "published chunk still a draft")
			require.Zero(t, c.own)
			require.Zero(t, c.owndt)
		}
	}
	total := 0
	for i, tb := range shards(m) {
		checkTable(t, tb)
		total += int(tb.n)
		for _, x := range tb.tags {
			if x != 0 && x>>m.shift != uint64(i) {
				t.Fatalf("tag %#x in shard %d", x, i)
			}
		}
		for _, d := range tb.delta {
			if d.tag>>m.shift != uint64(i) {
				t.Fatalf("delta tag %#x in shard %d", d.tag, i)
			}
		}
	}
	require.Equal(t, len(want), total)
	for k, v := range want {
		if got, ok := m.Get(hash(k), k); !ok || got != v {
			t.Fatalf("Get(%v) = %v, %v; want %v", k, got, ok, v)
		}
	}
	got := map[K]V{}
	m.Range(func(k K, v V) bool {
		if _, dup := got[k]; dup {
			t.Fatalf("Range: %v twice", k)
		}
		got[k] = v
		return true
	})
	require.Equal(t, want, got)
}

// Equal hashes: every key collides, lookups fall back to comparing keys.
func TestTableCollisions(t *testing.T) {
	for _, hash := range []func(string) uint64{
		func(string) uint64 { return 42 },
		func(s string) uint64 { return uint64(len(s)) << 40 }, // equal low bits, few shards
		func(s string) uint64 { return h(s) &^ (1<<32 - 1) },  // low 32 bits all zero
		func(s string) uint64 { return h(s) | (1<<32 - 1) },   // all at the last home slot: a tail
	} {
		var m Map[string, int]
		want := map[string]int{}
		b := m.Edit(hash)
		for i := range 300 {
			k := strconv.Itoa(i)
			b.Set(k, i)
			want[k] = i
		}
		m1 := b.Commit()
		checkMap(t, m1, hash, want)
		_, ok := m1.Get(hash("nope"), "nope")
		require.False(t, ok)

		b = m1.Edit(hash)
		for i := 0; i < 300; i += 3 {
			k := strconv.Itoa(i)
			b.Delete(k)
			delete(want, k)
		}
		b.Set("1", -1)
		want["1"] = -1
		m2 := b.Commit()
		checkMap(t, m2, hash, want)
		v, _ := m1.Get(hash("1"), "1")
		require.Equal(t, 1, v, "base unchanged")
		_, ok = m1.Get(hash("3"), "3")
		require.True(t, ok, "base unchanged")
	}
}

// Random edits against a Go map, across growth, resharding, deletes
// (backward shift) and compaction, with every snapshot kept and rechecked.
func TestTableRandomEdits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	hashes := map[string]func(string) uint64{
		"maphash": h,
		"narrow": func(s string) uint64 { // many equal low bits: long runs
			x := h(s)
			return x&^(1<<32-1) | x&0xff00_0000
		},
	}
	for name, hash := range hashes {
		t.Run(name, func(t *testing.T) {
			var m Map[string, int]
			want := map[string]int{}
			type snap struct {
				m    Map[string, int]
				want map[string]int
			}
			var snaps []snap
			for round := range 40 {
				b := m.Edit(hash)
				ops := rng.IntN(3000)
				if round%10 == 9 {
					ops = 20_000 // bulk: crosses reshard thresholds
				}
				for range ops {
					k := strconv.Itoa(rng.IntN(30_000))
					switch rng.IntN(3) {
					case 0:
						b.Delete(k)
						delete(want, k)
					default:
						v := rng.Int()
						b.Set(k, v)
						want[k] = v
					}
					if rng.IntN(100) == 0 {
						gv, gok := b.Get(k)
						wv, wok := want[k]
						require.Equal(t, wok, gok)
						require.Equal(t, wv, gv)
					}
				}
				m = b.Commit()
				checkMap(t, m, hash, want)
				snaps = append(snaps, snap{m, maps.Clone(want)})
			}
			for _, s := range snaps {
				checkMap(t, s.m, hash, s.want)
			}
		})
	}
}

// Deleting everything leaves an empty, reusable map.
func TestTableDeleteAll(t *testing.T) {
	var m Map[string, int]
	b := m.Edit(h)
	for i := range 5000 {
		b.Set(strconv.Itoa(i), i)
	}
	m1 := b.Commit()
	b = m1.Edit(h)
	for i := range 5000 {
		b.Delete(strconv.Itoa(i))
	}
	m2 := b.Commit()
	checkMap(t, m2, h, map[string]int{})
	for _, tb := range shards(m2) {
		require.Nil(t, tb.tags, "empty shard keeps its slots")
		require.Nil(t, tb.delta, "empty shard keeps its delta")
	}
	checkMap(t, m1, h, func() map[string]int {
		w := map[string]int{}
		for i := range 5000 {
			w[strconv.Itoa(i)] = i
		}
		return w
	}())
	b = m2.Edit(h)
	b.Set("x", 1)
	checkMap(t, b.Commit(), h, map[string]int{"x": 1})
}

// A committed map is sized near the load factor: the memory budget.
func TestTableCompact(t *testing.T) {
	var m Map[string, int]
	b := m.Edit(h)
	const n = 200_000
	for i := range n {
		b.Set(strconv.Itoa(i), i)
	}
	m = b.Commit()
	slots := 0
	for _, tb := range shards(m) {
		slots += len(tb.tags)
	}
	load := float64(n) / float64(slots)
	t.Logf("%d shards in %d chunks, load %.3f", len(shards(m)), len(m.dir), load)
	require.Greater(t, load, 0.72)
	require.LessOrEqual(t, load, 0.751)

	// The price of a hit: slots probed from the key's home to the key.
	probes := 0
	all := shards(m)
	for i := range n {
		k := strconv.Itoa(i)
		hk := h(k)
		tb := all[hk>>m.shift]
		for j := homeOf(hk|1, tb.home); ; j++ {
			probes++
			if tb.tags[j] == hk|1 && tb.ents[j].k == k {
				break
			}
		}
	}
	avg := float64(probes) / n
	t.Logf("%.2f slots probed per hit", avg)
	require.Less(t, avg, 3.0, "linear probing at load 3/4 averages about 2.5")

	// One more write copies one chunk and one delta: every table and the
	// other chunks stay shared, and the base is unchanged.
	for _, k := range []string{"extra", "7"} {
		b = m.Edit(h)
		b.Set(k, 1)
		m2 := b.Commit()
		require.Len(t, m2.dir, len(m.dir))
		sharedChunks := 0
		for i := range m.dir {
			if m.dir[i] == m2.dir[i] {
				sharedChunks++
			}
		}
		require.Equal(t, len(m.dir)-1, sharedChunks)
		old, cur := shards(m), shards(m2)
		for i := range old {
			require.Same(t, &old[i].tags[0], &cur[i].tags[0], "table %d copied", i)
		}
		v, ok := m.Get(h("7"), "7")
		require.True(t, ok)
		require.Equal(t, 7, v)
		_, ok = m.Get(h("extra"), "extra")
		require.False(t, ok)
		v, _ = m2.Get(h(k), k)
		require.Equal(t, 1, v)
	}
}

// Past maxScan values of a, Map2 indexes them; edits keep both paths right.
func TestMap2ManyTypes(t *testing.T) {
	var m Map2[int]
	want := map[[2]string]int{}
	for round := range 3 {
		b := m.Edit(seed)
		for a := range 4 + round*6 {
			for i := range 50 {
				k := [2]string{"t" + strconv.Itoa(a), strconv.Itoa(i)}
				b.Set(k[0], k[1], a*1000+i+round)
				want[k] = a*1000 + i + round
			}
		}
		b.Delete("t1", "7")
		delete(want, [2]string{"t1", "7"})
		for i := range 50 {
			b.Delete("t0", strconv.Itoa(i)) // t0 disappears
			delete(want, [2]string{"t0", strconv.Itoa(i)})
		}
		m = b.Commit()
		require.Equal(t, len(want), m.Len())
		for k, v := range want {
			got, ok := m.Get(seed, k[0], k[1])
			require.True(t, ok, k)
			require.Equal(t, v, got)
		}
		_, ok := m.Get(seed, "t0", "1")
		require.False(t, ok)
		_, ok = m.Get(seed, "nope", "1")
		require.False(t, ok)
		require.Nil(t, m.Of("nope"))
		require.Nil(t, m.Of("t0"))
		v, ok := m.Of("t1").Get(h("8"), "8")
		require.True(t, ok)
		require.Equal(t, want[[2]string{"t1", "8"}], v)
		as := map[string]bool{}
		m.RangeA(func(a string) bool { as[a] = true; return true })
		require.Len(t, as, 3+round*6)
		require.False(t, as["t0"])
		require.Equal(t, len(m.as) > maxScan, m.idx != nil)
	}
}
