// Package shard provides Map, a persistent (immutable) hash map split into
// copy-on-write shards, and Batch, which edits a Map into a new one.
//
// A Map value is immutable once published: readers use it without any lock,
// typically after loading it through an atomic.Pointer. Writers build the
// next version with a Batch; a Batch clones only the shards it touches, so a
// write costs O(len/Shards + Shards) and a bulk load of n keys costs O(n).
//
// Concurrency: a Map is safe for concurrent reads. A Batch is not safe for
// concurrent use; one writer at a time (the store's write mutex) edits it.
package shard

// Shards is the number of shards of every Map. 1024 keeps single writes
// cheap (a shard holds ~1k keys at 1M keys) and the shard table small (8 KiB).
const Shards = 1024

const mask = Shards - 1

// Map is an immutable hashed map. The zero Map is empty and usable.
type Map[K comparable, V any] struct {
	sh *[Shards]map[K]V
	n  int
}

// Len returns the number of keys.
func (m Map[K, V]) Len() int { return m.n }

// Get returns the value stored for k. h must be the key's hash, the same
// function for every call on one map.
func (m Map[K, V]) Get(h uint64, k K) (V, bool) {
	if m.sh == nil {
		var zero V
		return zero, false
	}
	v, ok := m.sh[h&mask][k]
	return v, ok
}

// Range calls fn for every key and value until fn returns false. The order is
// unspecified.
func (m Map[K, V]) Range(fn func(K, V) bool) {
	if m.sh == nil {
		return
	}
	for _, s := range m.sh {
		for k, v := range s {
			if !fn(k, v) {
				return
			}
		}
	}
}

// Batch accumulates edits on top of a base Map. Commit returns the edited Map;
// the base is never modified.
type Batch[K comparable, V any] struct {
	base  Map[K, V]
	sh    *[Shards]map[K]V
	owned *[Shards]bool
	n     int
}

// Edit starts a batch of edits on m.
func (m Map[K, V]) Edit() *Batch[K, V] {
	return &Batch[K, V]{base: m, n: m.n}
}

func (b *Batch[K, V]) shard(h uint64) map[K]V {
	i := h & mask
	if b.sh == nil {
		b.sh = new([Shards]map[K]V)
		b.owned = new([Shards]bool)
		if b.base.sh != nil {
			*b.sh = *b.base.sh
		}
	}
	if !b.owned[i] {
		old := b.sh[i]
		nm := make(map[K]V, len(old)+1)
		for k, v := range old {
			nm[k] = v
		}
		b.sh[i] = nm
		b.owned[i] = true
	}
	return b.sh[i]
}

// Get reads through the batch: edits made so far are visible.
func (b *Batch[K, V]) Get(h uint64, k K) (V, bool) {
	if b.sh == nil {
		return b.base.Get(h, k)
	}
	v, ok := b.sh[h&mask][k]
	return v, ok
}

// Set stores v for k.
func (b *Batch[K, V]) Set(h uint64, k K, v V) {
	s := b.shard(h)
	if _, ok := s[k]; !ok {
		b.n++
	}
	s[k] = v
}

// Delete removes k, if present.
func (b *Batch[K, V]) Delete(h uint64, k K) {
	if _, ok := b.Get(h, k); !ok {
		return
	}
	delete(b.shard(h), k)
	b.n--
}

// Commit returns the Map with every edit applied. The batch must not be used
// afterwards.
func (b *Batch[K, V]) Commit() Map[K, V] {
	if b.sh == nil {
		return b.base
	}
	m := Map[K, V]{sh: b.sh, n: b.n}
	b.sh, b.owned = nil, nil
	return m
}
