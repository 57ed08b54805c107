package shard

import "hash/maphash"

// Map2 is an immutable map keyed by a pair of strings (a, b), stored as one
// string-keyed Map per distinct a. Lookups hash only b with the fast string
// hash; a is expected to take few values (object types).
type Map2[V any] struct {
	byA map[string]Map[string, V]
	n   int
}

// Len returns the number of keys.
func (m Map2[V]) Len() int { return m.n }

// Get returns the value stored for (a, b).
func (m Map2[V]) Get(seed maphash.Seed, a, b string) (V, bool) {
	inner, ok := m.byA[a]
	if !ok {
		var zero V
		return zero, false
	}
	return inner.Get(maphash.String(seed, b), b)
}

// RangeA calls fn for every distinct a until fn returns false.
func (m Map2[V]) RangeA(fn func(a string) bool) {
	for a := range m.byA {
		if !fn(a) {
			return
		}
	}
}

// Range calls fn for every key and value until fn returns false.
func (m Map2[V]) Range(fn func(a, b string, v V) bool) {
	for a, inner := range m.byA {
		stop := false
		inner.Range(func(b string, v V) bool {
			if !fn(a, b, v) {
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
	ib := b.base.byA[a].Edit(b.hashB)
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
	out := Map2[V]{byA: make(map[string]Map[string, V], len(b.base.byA)+len(b.batches))}
	for a, inner := range b.base.byA {
		out.byA[a] = inner
	}
	for a, ib := range b.batches {
		inner := ib.Commit()
		if inner.Len() == 0 {
			delete(out.byA, a)
			continue
		}
		out.byA[a] = inner
	}
	for _, inner := range out.byA {
		out.n += inner.Len()
	}
	b.batches = nil
	return out
}
