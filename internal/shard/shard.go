// Package shard provides Map, a persistent (immutable) hash map split into
// copy-on-write shards, and Batch, which edits a Map into a new one.
//
// A Map value is immutable once published: readers use it without any lock,
// typically after loading it through an atomic.Pointer. Writers build the
// next version with a Batch; a Batch clones only the shards it touches, so a
// write costs O(len/shards + shards) and a bulk load of n keys costs O(n).
// The number of shards grows with the map (about targetPerShard keys per
// shard, at most MaxShards shards), so small maps stay one compact table.
//
// Each shard is an open-addressing table (see table) that keeps every key's
// 64-bit hash beside it: one hash per lookup picks the shard (its high bits)
// and the slot (its low 32 bits), and a key is compared only when the stored
// hash matches. Resharding and growing reuse the stored hashes.
//
// Concurrency: a Map is safe for concurrent reads. A Batch is not safe for
// concurrent use; one writer at a time (the store's write mutex) edits it.
package shard

// MaxShards caps the number of shards: at 1M keys a shard holds ~1k keys, so
// a single write clones ~1k entries, and the shard table stays small.
const MaxShards = 1024

const targetPerShard = 1024

// Map is an immutable hashed map. The zero Map is empty and usable.
type Map[K comparable, V any] struct {
	sh    []table[K, V] // len is a power of two
	shift uint8         // 64 - log2(len(sh)): a hash's shard is h >> shift
	n     int
}

// Len returns the number of keys.
func (m Map[K, V]) Len() int { return m.n }

// Get returns the value stored for k. h must be the key's hash, the same
// function for every call on one map.
func (m Map[K, V]) Get(h uint64, k K) (V, bool) {
	if len(m.sh) != 0 {
		// table.get, by hand: this is the read path of every check.
		t := &m.sh[h>>m.shift]
		tag, lo := h|1, uint32(h)|1
		tags := t.tags
		ents := t.ents[:len(tags)]
		for i := homeOf(tag, t.home); i < len(tags); i++ {
			x := tags[i]
			if x == tag {
				if e := &ents[i]; e.k == k {
					return e.v, true
				}
				continue
			}
			if x == 0 || uint32(x) > lo {
				break
			}
		}
	}
	var zero V
	return zero, false
}

// Range calls fn for every key and value until fn returns false. The order is
// unspecified.
func (m Map[K, V]) Range(fn func(K, V) bool) {
	for i := range m.sh {
		t := &m.sh[i]
		for j, tag := range t.tags {
			if tag != 0 && !fn(t.ents[j].k, t.ents[j].v) {
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
	sh    []table[K, V]
	shift uint8
	owned []bool
	n     int
}

// Edit starts a batch of edits on m. hash must be the function whose values
// are passed to Get.
func (m Map[K, V]) Edit(hash func(K) uint64) *Batch[K, V] {
	return &Batch[K, V]{base: m, hash: hash, n: m.n}
}

// shard returns the batch's own copy of the shard of hash h.
func (b *Batch[K, V]) shard(h uint64) *table[K, V] {
	if b.sh == nil {
		if len(b.base.sh) == 0 {
			b.sh, b.shift = make([]table[K, V], 1), 64
		} else {
			b.sh, b.shift = append([]table[K, V](nil), b.base.sh...), b.base.shift
		}
		b.owned = make([]bool, len(b.sh))
	}
	i := h >> b.shift
	if !b.owned[i] {
		old := &b.sh[i]
		b.sh[i] = old.rebuild(roomyHome(old.n), 64, 0)
		b.owned[i] = true
	}
	return &b.sh[i]
}

// Get reads through the batch: edits made so far are visible.
func (b *Batch[K, V]) Get(k K) (V, bool) {
	h := b.hash(k)
	if b.sh == nil {
		return b.base.Get(h, k)
	}
	return b.sh[h>>b.shift].get(h|1, k)
}

// Set stores v for k.
func (b *Batch[K, V]) Set(k K, v V) {
	h := b.hash(k)
	t := b.shard(h)
	if t.full() {
		*t = t.rebuild(tightHome(2*t.n+16), 64, 0)
	}
	if t.set(h|1, k, v) {
		b.n++
		if b.n > len(b.sh)*targetPerShard*2 && len(b.sh) < MaxShards {
			b.reshard()
		}
	}
}

// reshard splits every shard in four, so shards stay near targetPerShard
// keys as the map grows. It costs O(len), amortised over the growth, and
// hashes nothing: the tables keep their keys' hashes.
func (b *Batch[K, V]) reshard() {
	const split = 4
	next := make([]table[K, V], min(len(b.sh)*split, MaxShards))
	ratio := len(next) / len(b.sh)
	shift := b.shift - uint8(len64(ratio))
	for j := range next {
		src := &b.sh[j/ratio]
		next[j] = src.rebuild(roomyHome(src.count(shift, uint64(j))), shift, uint64(j))
	}
	b.sh, b.shift = next, shift
	b.owned = make([]bool, len(next))
	for i := range b.owned {
		b.owned[i] = true
	}
}

// len64 returns log2 of a power of two.
func len64(n int) int {
	l := 0
	for n > 1 {
		n >>= 1
		l++
	}
	return l
}

// Delete removes k, if present.
func (b *Batch[K, V]) Delete(k K) {
	h := b.hash(k)
	var ok bool
	if b.sh == nil {
		_, ok = b.base.Get(h, k)
	} else {
		_, ok = b.sh[h>>b.shift].get(h|1, k)
	}
	if ok {
		b.shard(h).delete(h|1, k)
		b.n--
	}
}

// Commit returns the Map with every edit applied. The batch must not be used
// afterwards. The shards it edited are compacted to their final size.
func (b *Batch[K, V]) Commit() Map[K, V] {
	if b.sh == nil {
		return b.base
	}
	for i, own := range b.owned {
		if t := &b.sh[i]; own && t.loose() {
			*t = t.rebuild(tightHome(t.n), 64, 0)
		}
	}
	m := Map[K, V]{sh: b.sh, shift: b.shift, n: b.n}
	b.sh, b.owned = nil, nil
	return m
}

// table is one shard: an open-addressing hash table with linear probing
// that stores each key's hash (its tag, the hash with bit 0 set, so that 0
// marks an empty slot) in tags and the key and value at the same index in
// ents. The tags are scanned apart from the entries, so a probe reads 8
// bytes per slot and an entry is read only when its tag matches.
//
// A tag's home slot is uint32(tag)*home>>32 (a multiply-shift range
// reduction, so home need not be a power of two and a table can be sized
// tightly). Entries never wrap around: a run may spill past home into a tail,
// so len(tags) >= home. The invariant, kept by insertion (shifting right) and
// deletion (backward shift), is that entries are in ascending order of
// uint32(tag) and every entry sits at or after its home with no empty slot
// in between. A lookup therefore starts at its home and stops at an empty
// slot or at a greater uint32(tag): a miss costs about as little as a hit,
// and no tombstones are needed.
//
// A published table is immutable; a Batch rebuilds a shard it edits into a
// new table first.
type table[K comparable, V any] struct {
	tags []uint64
	ents []entry[K, V] // len(ents) == len(tags)
	home uint64        // number of home slots
	n    int
}

type entry[K comparable, V any] struct {
	k K
	v V
}

// The load factor of a table is at most 3/4 over its home slots: a hit
// probes about 2.5 slots (TestTableCompact measures it: 2.48; 4.23 at 7/8).

// tightHome is the number of home slots for n keys at the full load factor.
func tightHome(n int) uint64 { return uint64(n + n/3 + 1) }

// roomyHome leaves room for about n/16 more keys (a batch's working copy).
func roomyHome(n int) uint64 { return tightHome(n + n/16 + 8) }

// full reports whether one more key would exceed the load factor.
func (t *table[K, V]) full() bool { return uint64(t.n+1)*4 > t.home*3 }

// loose reports whether the table is worth compacting after a batch.
func (t *table[K, V]) loose() bool {
	return t.n == 0 && t.tags != nil || uint64(len(t.tags)) > tightHome(t.n)+uint64(t.n/8)+16
}

func homeOf(tag, home uint64) int { return int(uint64(uint32(tag)) * home >> 32) }

func (t *table[K, V]) get(tag uint64, k K) (V, bool) {
	lo := uint32(tag)
	tags := t.tags
	ents := t.ents[:len(tags)]
	for i := homeOf(tag, t.home); i < len(tags); i++ {
		x := tags[i]
		if x == tag {
			if e := &ents[i]; e.k == k {
				return e.v, true
			}
			continue
		}
		if x == 0 || uint32(x) > lo {
			break
		}
	}
	var zero V
	return zero, false
}

// set stores v for k and reports whether k is new. The table must not be
// full.
func (t *table[K, V]) set(tag uint64, k K, v V) bool {
	lo := uint32(tag)
	i := homeOf(tag, t.home)
	for ; i < len(t.tags); i++ {
		x := t.tags[i]
		if x == tag && t.ents[i].k == k {
			t.ents[i].v = v
			return false
		}
		if x == 0 || uint32(x) > lo {
			break
		}
	}
	// Insert at i: shift the run from i to the next empty slot right by one.
	e := i
	for e < len(t.tags) && t.tags[e] != 0 {
		e++
	}
	if e == len(t.tags) {
		t.tags = append(t.tags, 0)
		t.ents = append(t.ents, entry[K, V]{})
	}
	copy(t.tags[i+1:e+1], t.tags[i:e])
	copy(t.ents[i+1:e+1], t.ents[i:e])
	t.tags[i] = tag
	t.ents[i] = entry[K, V]{k, v}
	t.n++
	return true
}

// delete removes k, if present, shifting the displaced entries after it
// back by one slot.
func (t *table[K, V]) delete(tag uint64, k K) {
	lo := uint32(tag)
	i := homeOf(tag, t.home)
	for ; i < len(t.tags); i++ {
		x := t.tags[i]
		if x == tag && t.ents[i].k == k {
			break
		}
		if x == 0 || uint32(x) > lo {
			return
		}
	}
	if i == len(t.tags) {
		return
	}
	j := i + 1
	for j < len(t.tags) && t.tags[j] != 0 && homeOf(t.tags[j], t.home) < j {
		j++
	}
	copy(t.tags[i:j-1], t.tags[i+1:j])
	copy(t.ents[i:j-1], t.ents[i+1:j])
	t.tags[j-1] = 0
	t.ents[j-1] = entry[K, V]{}
	t.n--
}

// count returns how many of t's tags have x>>shift == want.
func (t *table[K, V]) count(shift uint8, want uint64) int {
	n := 0
	for _, x := range t.tags {
		if x != 0 && x>>shift == want {
			n++
		}
	}
	return n
}

// rebuild returns a new table with home slots holding the entries of t
// whose tags have x>>shift == want (shift 64: all of them). The entries are
// taken in order, so each is placed at its home or right after the one
// before: O(len(t)), no hashing, exactly sized.
func (t *table[K, V]) rebuild(home uint64, shift uint8, want uint64) table[K, V] {
	last, n := -1, 0
	for _, x := range t.tags {
		if x != 0 && x>>shift == want {
			last = max(homeOf(x, home), last+1)
			n++
		}
	}
	if n == 0 && home <= 1 {
		return table[K, V]{}
	}
	size := max(int(home), last+1)
	out := table[K, V]{tags: make([]uint64, size), ents: make([]entry[K, V], size), home: home, n: n}
	last = -1
	for i, x := range t.tags {
		if x != 0 && x>>shift == want {
			last = max(homeOf(x, home), last+1)
			out.tags[last] = x
			out.ents[last] = t.ents[i]
		}
	}
	return out
}
