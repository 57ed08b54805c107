// Package shard provides Map, a persistent (immutable) hash map split into
// copy-on-write shards, and Batch, which edits a Map into a new one.
//
// A Map value is immutable once published: readers use it without any lock,
// typically after loading it through an atomic.Pointer. Writers build the
// next version with a Batch, which copies only what it edits.
//
// Layout. The keys are split by the high bits of their hash into shards of
// about targetPerShard keys (at most MaxShards shards). Each shard is an
// open-addressing table (see table) in two large arrays, tags and entries,
// plus a short delta: the edits made to the shard since its table was last
// built. The shard headers sit in chunks, and a small directory points to
// the chunks. A lookup reads the directory, the chunk, the header, and then
// the table as before the delta existed: a filter word in the header tells
// whether the key may be in the delta, so most lookups never read it. The
// headers and directory are small enough to stay in the cache, and each
// table is a few large arrays, so a lookup in a large map costs little more
// than its reads of the table itself.
//
// Write cost. A Batch's first edit of a shard copies the directory (one
// pointer per chunk), the shard's chunk (chunkShards headers) and the
// shard's delta with the edit added (a deletion is an edit too, which hides
// the key): a few kilobytes for maps of millions of keys, since the
// directory grows by one pointer per chunkShards shards. The table itself
// is shared with the versions before. When a delta is full (maxDelta
// edits), the next edit rebuilds the shard's table with the delta applied:
// O(keys per shard), once per maxDelta edits of that shard, so a write
// costs O(1) amortised on top of the copies. A batch edits the tables it
// rebuilt in place, so a bulk load of n keys costs O(n), and the shards are
// split as the map grows without hashing a key again.
//
// Concurrency: a Map is safe for concurrent reads. A Batch is not safe for
// concurrent use; one writer at a time (the store's write mutex) edits it.
package shard

import (
	"math/bits"
	"slices"
)

// MaxShards caps the number of shards. It keeps the headers, which every
// lookup reads, a small part of the memory; past it shards grow instead,
// and so does the cost of rebuilding one.
const MaxShards = 1 << 14

// targetPerShard is the number of keys a shard holds on average after a
// split (shards split in four when the average reaches twice as many): large
// enough that the headers are few and a table is a few large arrays, small
// enough that rebuilding one is cheap.
const targetPerShard = 1024

// maxDelta is the most edits a shard keeps apart from its table. A write
// copies the delta, a lookup of a key whose filter bit is set scans it, and a
// shard's table is rebuilt once per maxDelta edits: the value balances the
// three.
const maxDelta = 16

// Map is an immutable hashed map. The zero Map is empty and usable.
type Map[K comparable, V any] struct {
	dir    []*chunk[K, V] // len is a power of two
	shift  uint8          // 64 - log2(shards): a hash's shard is h >> shift
	dshift uint8          // 64 - log2(len(dir)): its chunk is h >> dshift
	n      int
}

// chunkShards is the number of shard headers in a chunk. A write copies the
// directory (8 bytes per chunk) and one chunk; at 1024 shards, the count of
// a million keys, the two copies are about equal. The chunk is a fixed
// array, so a lookup goes from the directory to the header with no slice
// in between.
const chunkShards = 16

// chunk is one block of the directory: the headers of consecutive shards.
// A map of fewer than chunkShards shards has one chunk and uses its first
// ones. The masks serve the batch that made the chunk until that batch
// commits; a published chunk has draft false and is never modified.
type chunk[K comparable, V any] struct {
	t     [chunkShards]table[K, V]
	own   uint64 // bit j: t[j]'s table was built by the draft's batch, which edits it in place (its delta is empty)
	owndt uint64 // bit j: t[j]'s delta was copied by the draft's batch, which edits it in place
	draft bool   // made by the batch in progress, not yet published
}

// Len returns the number of keys.
func (m Map[K, V]) Len() int { return m.n }

// Get returns the value stored for k. h must be the key's hash, the same
// function for every call on one map.
func (m Map[K, V]) Get(h uint64, k K) (V, bool) {
	if len(m.dir) != 0 {
		c := m.dir[h>>m.dshift]
		t := &c.t[(h>>m.shift)&(chunkShards-1)]
		tag, lo := h|1, uint32(h)|1
		// table.find, by hand: this is the read path of every check. The
		// table is probed before the delta, whose edits take precedence,
		// so that the two reads can overlap when both are needed.
		var v V
		found := false
		tags := t.tags
		ents := t.ents[:len(tags)]
		for i := homeOf(tag, t.home); i < len(tags); i++ {
			x := tags[i]
			if x == tag {
				if e := &ents[i]; e.k == k {
					v, found = e.v, true
					break
				}
				continue
			}
			if x == 0 || uint32(x) > lo {
				break
			}
		}
		if w, fb := t.filterWord(tag); w&fb == fb {
			if i, ok := t.findDelta(tag, k); ok {
				d := &t.delta[i]
				return d.e.v, !d.dead
			}
		}
		return v, found
	}
	var zero V
	return zero, false
}

// Range calls fn for every key and value until fn returns false. The order is
// unspecified.
func (m Map[K, V]) Range(fn func(K, V) bool) {
	per := m.perChunk()
	for _, c := range m.dir {
		for i := range per {
			if !c.t[i].each(func(_ uint64, e *entry[K, V]) bool { return fn(e.k, e.v) }) {
				return
			}
		}
	}
}

// Batch accumulates edits on top of a base Map. Commit returns the edited Map;
// the base is never modified.
type Batch[K comparable, V any] struct {
	base Map[K, V]
	hash func(K) uint64
	// The batch's version: nil until the first edit, then a copy of the
	// base's directory whose chunks the batch copies as it edits them.
	dir           []*chunk[K, V]
	shift, dshift uint8
	n             int
	touched       []int32 // indexes in dir of the draft chunks
	touchedBuf    [2]int32
}

// Edit starts a batch of edits on m. hash must be the function whose values
// are passed to Get.
func (m Map[K, V]) Edit(hash func(K) uint64) *Batch[K, V] {
	return &Batch[K, V]{base: m, hash: hash, n: m.n}
}

// view returns the batch's current version, as a Map to read.
func (b *Batch[K, V]) view() Map[K, V] {
	if b.dir == nil {
		return b.base
	}
	return Map[K, V]{dir: b.dir, shift: b.shift, dshift: b.dshift, n: b.n}
}

// chunk returns the batch's draft of the chunk of hash h and the index in it
// of h's shard. The draft's shards still share their tables and deltas with
// the base until the batch takes them over (own, owndt).
func (b *Batch[K, V]) chunk(h uint64) (*chunk[K, V], int) {
	if b.dir == nil {
		b.touched = b.touchedBuf[:0]
		if len(b.base.dir) == 0 {
			// An empty map: one shard, the batch's own from the start.
			c := &chunk[K, V]{own: 1, draft: true}
			b.dir, b.shift, b.dshift = []*chunk[K, V]{c}, 64, 64
			b.touched = append(b.touched, 0)
		} else {
			b.dir, b.shift, b.dshift = slices.Clone(b.base.dir), b.base.shift, b.base.dshift
		}
	}
	ci := h >> b.dshift
	c := b.dir[ci]
	if !c.draft {
		c = &chunk[K, V]{t: c.t, draft: true}
		b.dir[ci] = c
		b.touched = append(b.touched, int32(ci))
	}
	return c, int((h >> b.shift) & (chunkShards - 1))
}

// Range calls fn for every entry of the batch's current version (edits made
// so far included) until fn returns false.
func (b *Batch[K, V]) Range(fn func(K, V) bool) { b.view().Range(fn) }

// Get reads through the batch: edits made so far are visible.
func (b *Batch[K, V]) Get(k K) (V, bool) { return b.view().Get(b.hash(k), k) }

// Set stores v for k.
func (b *Batch[K, V]) Set(k K, v V) {
	h := b.hash(k)
	tag := h | 1
	c, j := b.chunk(h)
	t, bit := &c.t[j], uint64(1)<<j
	if c.own&bit == 0 {
		// A shared table: the edit goes to the delta, unless it is full.
		di, inDelta := t.findDelta(tag, k)
		if inDelta {
			t.ownDelta(c, bit, 0)
			d := &t.delta[di]
			if d.dead {
				d.dead = false
				t.n++
				b.grew()
			}
			d.e.v = v
			return
		}
		if len(t.delta) < maxDelta {
			_, inBase := t.find(tag, k)
			t.ownDelta(c, bit, 1)
			t.insertDelta(di, dslot[K, V]{tag: tag, e: entry[K, V]{k, v}})
			if !inBase {
				t.n++
				b.grew()
			}
			return
		}
		b.take(c, j)
	}
	if t.full() {
		*t = t.rebuild(tightHome(2*int(t.n)+16), 64, 0)
	}
	if t.set(tag, k, v) {
		b.grew()
	}
}

// grew counts a new key and splits the shards when the map has outgrown
// them.
func (b *Batch[K, V]) grew() {
	b.n++
	if shards := 1 << (64 - b.shift); b.n > shards*targetPerShard*2 && shards < MaxShards {
		b.reshard()
	}
}

// take makes shard j of draft chunk c the batch's own: its table is
// rebuilt with its delta applied, to be edited in place. A batch that
// filled the delta itself is likely to edit the shard more, and gets room
// to grow; otherwise the table has room for the one edit that needs it, so
// a single write rebuilds it once and Commit leaves it as it is.
func (b *Batch[K, V]) take(c *chunk[K, V], j int) {
	t := &c.t[j]
	home := tightHome(int(t.n) + 1)
	if c.owndt&(1<<j) != 0 {
		home = roomyHome(int(t.n))
	}
	*t = t.rebuild(home, 64, 0)
	c.own |= 1 << j
	c.owndt &^= 1 << j
}

// reshard splits every shard in four, so shards stay near targetPerShard
// keys as the map grows. It costs O(len), amortised over the growth, and
// hashes nothing: the tables keep their keys' hashes.
func (b *Batch[K, V]) reshard() {
	const split = 4
	shards := min((1<<(64-b.shift))*split, MaxShards)
	shift := uint8(64 - bits.TrailingZeros(uint(shards)))
	ratio := shards >> (64 - b.shift)
	cbits := chunkBits(64 - shift)
	all := ^uint64(0) >> (64 - (1 << cbits))
	dir := make([]*chunk[K, V], shards>>cbits)
	b.touched = make([]int32, len(dir))
	for ci := range dir {
		c := &chunk[K, V]{own: all, draft: true}
		for jj := range 1 << cbits {
			j := ci<<cbits | jj // the new shard; j/ratio is the one it splits
			src := b.shard(j / ratio)
			c.t[jj] = src.rebuild(roomyHome(src.count(shift, uint64(j))), shift, uint64(j))
		}
		dir[ci] = c
		b.touched[ci] = int32(ci)
	}
	b.dir, b.shift, b.dshift = dir, shift, shift+cbits
}

// chunkBits returns log2 of the shards per chunk for 1<<sbits shards.
func chunkBits(sbits uint8) uint8 { return min(sbits, uint8(bits.TrailingZeros(chunkShards))) }

// perChunk returns the number of shards in each of m's chunks.
func (m Map[K, V]) perChunk() int { return 1 << (m.dshift - m.shift) }

// shard returns shard i of the batch's directory.
func (b *Batch[K, V]) shard(i int) *table[K, V] {
	per := b.view().perChunk()
	return &b.dir[i/per].t[i%per]
}

// Delete removes k, if present.
func (b *Batch[K, V]) Delete(k K) {
	h := b.hash(k)
	tag := h | 1
	if _, ok := b.view().Get(h, k); !ok {
		return
	}
	c, j := b.chunk(h)
	t, bit := &c.t[j], uint64(1)<<j
	b.n--
	if c.own&bit != 0 {
		t.delete(tag, k)
		return
	}
	di, inDelta := t.findDelta(tag, k)
	_, inBase := t.find(tag, k)
	switch {
	case inDelta && inBase: // the key's new value is forgotten, its old one hidden
		t.ownDelta(c, bit, 0)
		t.delta[di] = dslot[K, V]{tag: tag, e: entry[K, V]{k: k}, dead: true}
	case inDelta: // a key added since the table was built
		t.ownDelta(c, bit, 0)
		t.delta = slices.Delete(t.delta, di, di+1)
		t.filter = [2]uint64{}
		for i := range t.delta {
			t.addFilter(t.delta[i].tag)
		}
	case len(t.delta) < maxDelta:
		t.ownDelta(c, bit, 1)
		t.insertDelta(di, dslot[K, V]{tag: tag, e: entry[K, V]{k: k}, dead: true})
	default:
		b.take(c, j)
		t.delete(tag, k)
		return
	}
	t.n--
}

// Commit returns the Map with every edit applied. The batch must not be used
// afterwards. The tables it rebuilt are compacted to their final size.
func (b *Batch[K, V]) Commit() Map[K, V] {
	if b.dir == nil {
		return b.base
	}
	for _, ci := range b.touched {
		c := b.dir[ci]
		for m := c.own | c.owndt; m != 0; m &= m - 1 {
			j := bits.TrailingZeros64(m)
			switch t := &c.t[j]; {
			case t.n == 0:
				*t = table[K, V]{}
			case c.own&(1<<j) != 0 && t.loose():
				*t = t.rebuild(tightHome(int(t.n)), 64, 0)
			}
		}
		c.own, c.owndt, c.draft = 0, 0, false
	}
	m := b.view()
	b.dir, b.touched = nil, nil
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
// A published table is immutable. Edits made on top of it are kept in
// delta, in the same order of uint32(tag), where they take precedence:
// a key's new value, a key added, or a key deleted (dead). filter has the
// bits of each of them set (see filterWord).
type table[K comparable, V any] struct {
	tags   []uint64
	ents   []entry[K, V] // len(ents) == len(tags)
	home   uint32        // number of home slots
	n      uint32        // keys in the shard, the delta applied
	filter [2]uint64
	delta  []dslot[K, V] // at most maxDelta
}

type entry[K comparable, V any] struct {
	k K
	v V
}

// dslot is one edit of a delta.
type dslot[K comparable, V any] struct {
	tag  uint64
	e    entry[K, V]
	dead bool // k is deleted (e.v is zero)
}

// filterWord returns the word of t's delta filter for tag and the two bits
// of it that tag sets, drawn from hash bits that neither the shard (the high
// bits) nor the home slot (the low 32) are drawn from. A key not in the
// delta rarely finds both set, so a lookup rarely reads the delta, a
// separate allocation that is likely not in the cache.
func (t *table[K, V]) filterWord(tag uint64) (uint64, uint64) {
	return t.filter[tag>>44&1], 1<<(tag>>32&63) | 1<<(tag>>38&63)
}

// addFilter sets tag's bits in t's delta filter.
func (t *table[K, V]) addFilter(tag uint64) {
	_, fb := t.filterWord(tag)
	t.filter[tag>>44&1] |= fb
}

// findDelta returns the index of k's edit in the delta and true, or where an
// edit of k would be inserted and false.
func (t *table[K, V]) findDelta(tag uint64, k K) (int, bool) {
	lo := uint32(tag)
	for i := range t.delta {
		d := &t.delta[i]
		if d.tag == tag && d.e.k == k {
			return i, true
		}
		if uint32(d.tag) > lo {
			return i, false
		}
	}
	return len(t.delta), false
}

// ownDelta makes t's delta the batch's own copy, with room for extra more
// edits.
func (t *table[K, V]) ownDelta(c *chunk[K, V], bit uint64, extra int) {
	if c.owndt&bit == 0 {
		t.delta = append(make([]dslot[K, V], 0, len(t.delta)+extra), t.delta...)
		c.owndt |= bit
	}
}

// insertDelta inserts d at index i of the delta, which is the batch's own.
func (t *table[K, V]) insertDelta(i int, d dslot[K, V]) {
	t.delta = slices.Insert(t.delta, i, d)
	t.addFilter(d.tag)
}

// each calls fn for every key of the shard, the delta applied, in ascending
// order of uint32(tag), until fn returns false; it reports whether fn
// always returned true.
func (t *table[K, V]) each(fn func(tag uint64, e *entry[K, V]) bool) bool {
	d, di := t.delta, 0
	for i, x := range t.tags {
		if x == 0 {
			continue
		}
		for ; di < len(d) && uint32(d[di].tag) < uint32(x); di++ {
			if !d[di].dead && !fn(d[di].tag, &d[di].e) {
				return false
			}
		}
		if w, fb := t.filterWord(x); w&fb == fb {
			if _, edited := t.findDelta(x, t.ents[i].k); edited {
				continue
			}
		}
		if !fn(x, &t.ents[i]) {
			return false
		}
	}
	for ; di < len(d); di++ {
		if !d[di].dead && !fn(d[di].tag, &d[di].e) {
			return false
		}
	}
	return true
}

// The load factor of a table is at most 3/4 over its home slots, so that a
// hit probes few slots (TestTableCompact measures it).

// tightHome is the number of home slots for n keys at the full load factor.
func tightHome(n int) uint64 { return uint64(n + n/3 + 1) }

// roomyHome leaves room for about n/16 more keys, for a table rebuilt in
// the middle of many edits (a split while the map grows, a batch that
// filled a delta), which will likely take more.
func roomyHome(n int) uint64 { return tightHome(n + n/16 + 8) }

// full reports whether one more key would exceed the load factor.
func (t *table[K, V]) full() bool { return uint64(t.n+1)*4 > uint64(t.home)*3 }

// loose reports whether the table is worth compacting after a batch.
func (t *table[K, V]) loose() bool {
	return uint64(len(t.tags)) > tightHome(int(t.n))+uint64(t.n/8)+16
}

func homeOf(tag uint64, home uint32) int { return int(uint64(uint32(tag)) * uint64(home) >> 32) }

// find returns the index of k in the table (the delta aside) and true, or
// where k would be inserted and false.
func (t *table[K, V]) find(tag uint64, k K) (int, bool) {
	lo := uint32(tag)
	i := homeOf(tag, t.home)
	for ; i < len(t.tags); i++ {
		x := t.tags[i]
		if x == tag && t.ents[i].k == k {
			return i, true
		}
		if x == 0 || uint32(x) > lo {
			break
		}
	}
	return i, false
}

// set stores v for k and reports whether k is new. The table must have no
// delta, and must not be full.
func (t *table[K, V]) set(tag uint64, k K, v V) bool {
	i, found := t.find(tag, k)
	if found {
		t.ents[i].v = v
		return false
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
// back by one slot. The table must have no delta.
func (t *table[K, V]) delete(tag uint64, k K) {
	i, found := t.find(tag, k)
	if !found {
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

// count returns how many of the shard's keys have tags with x>>shift ==
// want.
func (t *table[K, V]) count(shift uint8, want uint64) int {
	n := 0
	t.each(func(x uint64, _ *entry[K, V]) bool {
		if x>>shift == want {
			n++
		}
		return true
	})
	return n
}

// rebuild returns a new table, without a delta, with home slots holding the
// shard's keys (the delta applied) whose tags have x>>shift == want (shift
// 64: all of them). The entries are taken in order, so each is placed at its
// home or right after the one before: O(len(t)), no hashing, exactly sized.
func (t *table[K, V]) rebuild(home uint64, shift uint8, want uint64) table[K, V] {
	h32 := uint32(home)
	last, n := -1, 0
	t.each(func(x uint64, _ *entry[K, V]) bool {
		if x>>shift == want {
			last = max(homeOf(x, h32), last+1)
			n++
		}
		return true
	})
	if n == 0 && home <= 1 {
		return table[K, V]{}
	}
	size := max(int(home), last+1)
	out := table[K, V]{tags: make([]uint64, size), ents: make([]entry[K, V], size), home: h32, n: uint32(n)}
	last = -1
	t.each(func(x uint64, e *entry[K, V]) bool {
		if x>>shift == want {
			last = max(homeOf(x, h32), last+1)
			out.tags[last] = x
			out.ents[last] = *e
		}
		return true
	})
	return out
}
