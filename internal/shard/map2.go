package shard

import "hash/maphash"

// Map2 is an immutable map keyed by a pair of strings (a, b), stored as one
// string-keyed Map per distinct a. A lookup hashes only b, once; a is
// expected to take few values (object types) and is found by comparing
// strings, not by hashing (an index map takes over past maxScan values).
type Map2[V any] struct {
	as  []inner2[V]    // by a, in no particular order
	idx map[string]int // index into as, when len(as) > maxScan
	n   int
}

type inner2[V any] struct {
	a string
	m Map[string, V]
}

const maxScan = 8

// Len returns the number of keys.
func (m Map2[V]) Len() int { return m.n }

// Of returns the Map of the keys (a, *), nil if there is none. Its keys are
// hashed with maphash.String and the seed given to Edit.
func (m *Map2[V]) Of(a string) *Map[string, V] { return m.inner(a) }

func (m *Map2[V]) inner(a string) *Map[string, V] {
	if m.idx != nil {
		if i, ok := m.idx[a]; ok {
			return &m.as[i].m
		}
		return nil
	}
	for i := range m.as {
		if m.as[i].a == a {
			return &m.as[i].m
		}
	}
	return nil
}

// Get returns the value stored for (a, b).
func (m Map2[V]) Get(seed maphash.Seed, a, b string) (V, bool) {
	inner := m.inner(a)
	if inner == nil {
		var zero V
		return zero, false
	}
	return inner.Get(maphash.String(seed, b), b)
}

// RangeA calls fn for every distinct a until fn returns false.
func (m Map2[V]) RangeA(fn func(a string) bool) {
	for _, in := range m.as {
		if !fn(in.a) {
			return
		}
	}
}

// Range calls fn for every key and value until fn returns false.
func (m Map2[V]) Range(fn func(a, b string, v V) bool) {
	for _, in := range m.as {
		stop := false
		in.m.Range(func(b string, v V) bool {
			if !fn(in.a, b, v) {
				stop = true
				return false
			}
			return true
		})
		if stop {
			return
		}
	}
}

// Batch2 edits a Map2 into a new one.
type Batch2[V any] struct {
	base    Map2[V]
	seed    maphash.Seed
	batches map[string]*Batch[string, V]
}

// Edit starts a batch of edits on m; seed must be the one used with Get.
func (m Map2[V]) Edit(seed maphash.Seed) *Batch2[V] {
	return &Batch2[V]{base: m, seed: seed}
}

func (b *Batch2[V]) inner(a string) *Batch[string, V] {
	if ib, ok := b.batches[a]; ok {
		return ib
	}
	if b.batches == nil {
		b.batches = map[string]*Batch[string, V]{}
	}
	var base Map[string, V]
	if in := b.base.inner(a); in != nil {
		base = *in
	}
	ib := base.Edit(b.hashB)
	b.batches[a] = ib
	return ib
}

func (b *Batch2[V]) hashB(k string) uint64 { return maphash.String(b.seed, k) }

// Get reads through the batch.
func (b *Batch2[V]) Get(a, k string) (V, bool) {
	if ib, ok := b.batches[a]; ok {
		return ib.Get(k)
	}
	return b.base.Get(b.seed, a, k)
}

// Range calls fn for every key and value of the batch's current version
// until fn returns false.
func (b *Batch2[V]) Range(fn func(a, k string, v V) bool) {
	for _, in := range b.base.as {
		if _, edited := b.batches[in.a]; edited {
			continue
		}
		stop := false
		in.m.Range(func(k string, v V) bool {
			stop = !fn(in.a, k, v)
			return !stop
		})
		if stop {
			return
		}
	}
	for a, ib := range b.batches {
		stop := false
		ib.Range(func(k string, v V) bool {
			stop = !fn(a, k, v)
			return !stop
		})
		if stop {
			return
		}
	}
}

// Set stores v for (a, k).
func (b *Batch2[V]) Set(a, k string, v V) { b.inner(a).Set(k, v) }

// Delete removes (a, k), if present.
func (b *Batch2[V]) Delete(a, k string) {
	if _, ok := b.Get(a, k); ok {
		b.inner(a).Delete(k)
	}
}

// Commit returns the edited Map2.
func (b *Batch2[V]) Commit() Map2[V] {
	if len(b.batches) == 0 {
		return b.base
	}
	// Edited values of a keep their place; new ones are appended.
	var out Map2[V]
	add := func(in inner2[V]) {
		if in.m.Len() > 0 {
			out.as = append(out.as, in)
			out.n += in.m.Len()
		}
	}
	for _, in := range b.base.as {
		if ib, edited := b.batches[in.a]; edited {
			in.m = ib.Commit()
			delete(b.batches, in.a)
		}
		add(in)
	}
	for a, ib := range b.batches {
		add(inner2[V]{a, ib.Commit()})
	}
	if len(out.as) > maxScan {
		out.idx = make(map[string]int, len(out.as))
		for i, in := range out.as {
			out.idx[in.a] = i
		}
	}
	b.batches = nil
	return out
}
