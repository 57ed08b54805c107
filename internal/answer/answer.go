// Package answer is the Checker's answer cache: a fixed-size table of
// yes/no answers to (user, permission, object) questions, each kept under
// the store generation it was computed on, with a pointer to the user's
// data at that generation.
//
// A slot holds the question as a 128-bit key and the generation. The key
// is the question's header word (its permission, its refusal of global
// roles and the lengths of its user, type and ID), kept exactly, and a
// seeded maphash hash of the question written out unambiguously (the
// header, then the fields): a wrong answer needs a question of the same
// permission and field lengths whose random 64-bit hash collides. A
// question longer than keyBuf bytes is not kept.
//
// Slots are seqlocks over atomic words: readers take no lock and never
// allocate; a writer that finds a slot busy does not cache. A Cache is
// safe for concurrent use.
package answer

import (
	"encoding/binary"
	"hash/maphash"
	"sync/atomic"
)

// slot is one entry: 48 bytes.
type slot[H any] struct {
	seq atomic.Uint64 // odd while a writer fills the slot
	k   [2]atomic.Uint64
	gen atomic.Uint64
	val atomic.Uint64 // 0: empty; 1: no, 2: allowed
	// hold is the user's data in that generation: a rule that follows a
	// cached "no" reads the user's roles from it without a lookup.
	hold atomic.Pointer[H]
}

// Cache keeps answers, with a pointer to an H (the user's data) each.
type Cache[H any] struct {
	slots []slot[H] // len is a power of two
	seed  maphash.Seed
	mask  uint64
}

// MaxSlots caps the size of a Cache (48 MB of slots).
const MaxSlots = 1 << 20

// New returns a cache of n slots, rounded up to a power of two and capped
// at MaxSlots.
func New[H any](n int) *Cache[H] {
	n = min(n, MaxSlots)
	size := 1
	for size < n {
		size <<= 1
	}
	return &Cache[H]{slots: make([]slot[H], size), seed: maphash.MakeSeed(), mask: uint64(size - 1)}
}

// Key is the cache key of a question: its header word (k[0]) and the hash
// of its bytes (k[1], which also picks the slot). ok is false for a
// question too long to keep.
type Key struct {
	k  [2]uint64
	ok bool
}

// OK reports whether the question can be kept.
func (q *Key) OK() bool { return q.ok }

// keyBuf bounds a kept question: its header word and fields.
const (
	keyBuf      = 128
	smallKeyBuf = 48
	keyHeader   = 8
)

// Key makes q the key of the question (user, permission, object type and
// ID, refusal of global roles).
func (c *Cache[H]) Key(q *Key, uid string, perm int, typ, id string, refuse bool) {
	if keyHeader+len(uid)+len(typ)+len(id) > keyBuf {
		q.ok = false
		return
	}
	tag := uint64(uint32(perm) << 1)
	if refuse {
		tag |= 1
	}
	// The same bytes either way; most questions fit the small buffer,
	// which costs less to clear.
	q.k[0], q.ok = header(tag, uid, typ, id), true
	if keyHeader+len(uid)+len(typ)+len(id) <= smallKeyBuf {
		var buf [smallKeyBuf]byte
		q.k[1] = maphash.Bytes(c.seed, buf[:write(buf[:], q.k[0], uid, typ, id)])
		return
	}
	var buf [keyBuf]byte
	q.k[1] = maphash.Bytes(c.seed, buf[:write(buf[:], q.k[0], uid, typ, id)])
}

// header is a question's header word: the tag, then the three fields'
// lengths (each below keyBuf, so 8 bits hold it).
func header(tag uint64, uid, typ, id string) uint64 {
	return tag | uint64(len(uid))<<32 | uint64(len(typ))<<40 | uint64(len(id))<<48
}

// write writes a question into buf, unambiguously, and returns its length:
// its header word, then the user, type and ID. buf is at least keyHeader
// plus the fields long.
func write(buf []byte, header uint64, uid, typ, id string) int {
	binary.LittleEndian.PutUint64(buf, header)
	k := keyHeader + copy(buf[keyHeader:], uid)
	k += copy(buf[k:], typ)
	return k + copy(buf[k:], id)
}

// Get returns the answer kept for q at generation gen, and the user's data
// it was computed with.
func (c *Cache[H]) Get(q *Key, gen uint64) (allowed bool, hold *H, ok bool) {
	s := &c.slots[q.k[1]&c.mask]
	seq := s.seq.Load()
	if seq&1 != 0 {
		return false, nil, false
	}
	k0, k1 := s.k[0].Load(), s.k[1].Load()
	g, v, h := s.gen.Load(), s.val.Load(), s.hold.Load()
	if s.seq.Load() != seq || v == 0 || k0 != q.k[0] || k1 != q.k[1] || g != gen {
		return false, nil, false
	}
	return v == 2, h, true
}

// Put keeps the answer for q at generation gen, unless another writer is
// filling the slot.
func (c *Cache[H]) Put(q *Key, gen uint64, allowed bool, hold *H) {
	s := &c.slots[q.k[1]&c.mask]
	seq := s.seq.Load()
	if seq&1 != 0 || !s.seq.CompareAndSwap(seq, seq+1) {
		return
	}
	v := uint64(1)
	if allowed {
		v = 2
	}
	s.k[0].Store(q.k[0])
	s.k[1].Store(q.k[1])
	s.gen.Store(gen)
	s.val.Store(v)
	s.hold.Store(hold)
	s.seq.Store(seq + 2)
}
