// Package shard provides Map, a persistent (immutable) hash map split into
// copy-on-write shards, and Batch, which edits a Map into a new one.
//
// A Map value is immutable once published: readers use it without any lock,
// typically after loading it through an atomic.Pointer. Writers build the
// next version with a Batch; a Batch clones only the shards it touches, so a
// write costs O(len/shards + shards) and a bulk load of n keys costs O(n).
// The number of shards grows with the map (about targetPerShard keys per
// shard, at most MaxShards shards), so small maps stay one compact Go map.
//
// Concurrency: a Map is safe for concurrent reads. A Batch is not safe for
// concurrent use; one writer at a time (the store's write mutex) edits it.
package shard

// MaxShards caps the number of shards: at 1M keys a shard holds ~1k keys, so
// a single write clones ~1k entries, and the shard table stays 24 KiB.
const MaxShards = 1024

const targetPerShard = 1024

// Map is an immutable hashed map. The zero Map is empty and usable.
type Map[K comparable, V any] struct {
	sh []map[K]V // len is a power of two
	n  int
}

// Len returns the number of keys.
func (m Map[K, V]) Len() int { return m.n }

// Get returns the value stored for k. h must be the key's hash, the same
// function for every call on one map.
func (m Map[K, V]) Get(h uint64, k K) (V, bool) {
	if len(m.sh) == 0 {
		var zero V
		return zero, false
	}
	v, ok := m.sh[h&uint64(len(m.sh)-1)][k]
	return v, ok
}

// Range calls fn for every key and value until fn returns false. The order is
// unspecified.
func (m Map[K, V]) Range(fn func(K, V) bool) {
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
	hash  func(K) uint64
	sh    []map[K]V
	owned []bool
	n     int
}

// Edit starts a batch of edits on m. hash must be the function whose values
// are passed to Get.
func (m Map[K, V]) Edit(hash func(K) uint64) *Batch[K, V] {
	return &Batch[K, V]{base: m, hash: hash, n: m.n}
}

func (b *Batch[K, V]) shard(h uint64) map[K]V {
	if b.sh == nil {
		if len(b.base.sh) == 0 {
			b.sh = []map[K]V{nil}
		} else {
			b.sh = append([]map[K]V(nil), b.base.sh...)
		}
		b.owned = make([]bool, len(b.sh))
	}
	i := h & uint64(len(b.sh)-1)
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
func (b *Batch[K, V]) Get(k K) (V, bool) {
	h := b.hash(k)
	if b.sh == nil {
		return b.base.Get(h, k)
	}
	v, ok := b.sh[h&uint64(len(b.sh)-1)][k]
	return v, ok
}

// Set stores v for k.
func (b *Batch[K, V]) Set(k K, v V) {
	s := b.shard(b.hash(k))
	if _, ok := s[k]; !ok {
		b.n++
	}
	s[k] = v
	if b.n > len(b.sh)*targetPerShard*2 && len(b.sh) < MaxShards {
		b.reshard()
	}
}

// reshard splits every shard in four, so shards stay near targetPerShard
// keys as the map grows. It costs O(len), amortised over the growth.
func (b *Batch[K, V]) reshard() {
	next := make([]map[K]V, min(len(b.sh)*4, MaxShards))
	for i := range next {
		next[i] = make(map[K]V, b.n/len(next)+1)
	}
	mask := uint64(len(next) - 1)
	for _, s := range b.sh {
		for k, v := range s {
			next[b.hash(k)&mask][k] = v
		}
	}
	b.sh = next
	b.owned = make([]bool, len(next))
	for i := range b.owned {
		b.owned[i] = true
	}
}

// Delete removes k, if present.
func (b *Batch[K, V]) Delete(k K) {
	if _, ok := b.Get(k); !ok {
		return
	}
	delete(b.shard(b.hash(k)), k)
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
