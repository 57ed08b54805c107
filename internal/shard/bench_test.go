package shard

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// benchMap is a Map of n keys "d0", "d1", ... and its keys, built once per
// size and shared by the benchmarks.
type benchMap struct {
	m    Map[string, *int]
	keys []string
}

var benchMaps = map[int]*benchMap{}

func benchFixture(n int) *benchMap {
	if f := benchMaps[n]; f != nil {
		return f
	}
	f := &benchMap{keys: make([]string, n)}
	bt := f.m.Edit(h)
	for i := range n {
		f.keys[i] = "d" + strconv.Itoa(i)
		bt.Set(f.keys[i], new(int))
	}
	f.m = bt.Commit()
	benchMaps[n] = f
	return f
}

// questions returns n strings made by next, copied into one allocation.
func questions(n int, next func() string) []string {
	var sb strings.Builder
	ends := make([]int, n)
	for i := range ends {
		sb.WriteString(next())
		ends[i] = sb.Len()
	}
	all := sb.String()
	out := make([]string, n)
	for i, start := 0, 0; i < n; i++ {
		out[i], start = all[start:ends[i]], ends[i]
	}
	return out
}

// BenchmarkMapGet reads hits and misses. "hot" asks about 1024 keys over
// and over, so the touched part of a large map stays in the cache;
// "random" draws keys uniformly from the whole map, so most lookups go to
// memory, the way checks against a large store do; "random_written" does
// the same after many single-key writes; "miss" asks about keys the map does
// not hold.
func BenchmarkMapGet(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		f := benchFixture(n)
		m, keys := f.m, f.keys
		b.Run(strconv.Itoa(n)+"/hot", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				k := keys[(i*7919)&1023%n]
				if _, ok := m.Get(h(k), k); !ok {
					b.Fatal("missing")
				}
				i++
			}
		})
		// The questions are copies of the keys laid out in one string, as
		// a request's IDs would be: reading them costs little, and
		// comparing one with the stored key reads the stored key.
		r := rand.New(rand.NewPCG(uint64(n), 7))
		qs := questions(1<<16, func() string { return keys[r.IntN(n)] })
		b.Run(strconv.Itoa(n)+"/random", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				k := qs[i&(len(qs)-1)]
				if _, ok := m.Get(h(k), k); !ok {
					b.Fatal("missing")
				}
				i++
			}
		})
		if n >= 1_000_000 {
			// The same map after 16k writes of one key each, as a store
			// that has been written to since it was loaded.
			written := f.m
			w := rand.New(rand.NewPCG(uint64(n), 8))
			for range 1 << 14 {
				bt := written.Edit(h)
				bt.Set(keys[w.IntN(n)], new(int))
				written = bt.Commit()
			}
			b.Run(strconv.Itoa(n)+"/random_written", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					k := qs[i&(len(qs)-1)]
					if _, ok := written.Get(h(k), k); !ok {
						b.Fatal("missing")
					}
					i++
				}
			})
		}
		misses := questions(1<<16, func() string { return "x" + strconv.Itoa(r.IntN(n)) })
		b.Run(strconv.Itoa(n)+"/miss", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				k := misses[i&(len(misses)-1)]
				if _, ok := m.Get(h(k), k); ok {
					b.Fatal("found")
				}
				i++
			}
		})
	}
}

// BenchmarkMapWrite times one edit and its Commit on a large map, the cost
// of a single write to the store: "set" replaces the value of an existing
// key, "insert_delete" alternates adding a new key and deleting it again,
// so the map keeps its size. Each op is one batch.
func BenchmarkMapWrite(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		f := benchFixture(n)
		r := rand.New(rand.NewPCG(uint64(n), 9))
		picks := make([]string, 1<<16)
		for i := range picks {
			picks[i] = f.keys[r.IntN(n)]
		}
		fresh := make([]string, 1<<12)
		for i := range fresh {
			fresh[i] = "w" + strconv.Itoa(i)
		}
		b.Run(strconv.Itoa(n)+"/set", func(b *testing.B) {
			m := f.m
			v := new(int)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				bt := m.Edit(h)
				bt.Set(picks[i&(len(picks)-1)], v)
				m = bt.Commit()
				i++
			}
		})
		b.Run(strconv.Itoa(n)+"/insert_delete", func(b *testing.B) {
			m := f.m
			v := new(int)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				k := fresh[(i>>1)&(len(fresh)-1)]
				bt := m.Edit(h)
				if i&1 == 0 {
					bt.Set(k, v)
				} else {
					bt.Delete(k)
				}
				m = bt.Commit()
				i++
			}
			if m.Len() != n && m.Len() != n+1 {
				b.Fatalf("Len = %d, want %d or %d", m.Len(), n, n+1)
			}
		})
	}
}

// BenchmarkMapBuild bulk-loads 1M keys in one batch and reports the heap
// the committed map keeps per key (the keys' own strings excluded: they
// exist before the load).
func BenchmarkMapBuild(b *testing.B) {
	const n = 1_000_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "d" + strconv.Itoa(i)
	}
	v := new(int)
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	b.ReportAllocs()
	var perKey float64
	for b.Loop() {
		b.StopTimer()
		before := heap()
		b.StartTimer()
		var m Map[string, *int]
		bt := m.Edit(h)
		for _, k := range keys {
			bt.Set(k, v)
		}
		m = bt.Commit()
		b.StopTimer()
		perKey = float64(heap()-before) / n
		runtime.KeepAlive(m)
		b.StartTimer()
	}
	b.ReportMetric(perKey, "B/key")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/key")
}
