package shard

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

func BenchmarkDiag(b *testing.B) {
	f := benchFixture(1_000_000)
	m := f.m
	w := rand.New(rand.NewPCG(1_000_000, 8))
	for range 1 << 14 {
		bt := m.Edit(h)
		bt.Set(f.keys[w.IntN(len(f.keys))], new(int))
		m = bt.Commit()
	}
	// flushed: the written map with every delta merged.
	bt := m.Edit(h)
	bt.dir = append([]*chunk[string, *int](nil), m.dir...)
	bt.shift, bt.dshift = m.shift, m.dshift
	bt.touched = nil
	for ci := range bt.dir {
		c := &chunk[string, *int]{t: bt.dir[ci].t, draft: true}
		bt.dir[ci] = c
		bt.touched = append(bt.touched, int32(ci))
		for j := range m.perChunk() {
			if len(c.t[j].delta) > 0 {
				bt.take(c, j)
			}
		}
	}
	flushed := bt.Commit()
	// nofilter: the written map, deltas kept, but filter bits cleared
	// (wrong answers for edited keys, only to time the read path).
	r := rand.New(rand.NewPCG(1, 7))
	qs := questions(1<<16, func() string { return f.keys[r.IntN(len(f.keys))] })
	miss := questions(1<<16, func() string { return "x" + strconv.Itoa(r.IntN(len(f.keys))) })
	for _, v := range []struct {
		name string
		m    Map[string, *int]
	}{{"fresh", f.m}, {"written", m}, {"flushed", flushed}} {
		mm := v.m
		b.Run("random/"+v.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				k := qs[i&(len(qs)-1)]
				mm.Get(h(k), k)
				i++
			}
		})
		b.Run("miss/"+v.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				k := miss[i&(len(miss)-1)]
				mm.Get(h(k), k)
				i++
			}
		})
	}
}
