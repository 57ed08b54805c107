package iam

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"sync/atomic"
)

// The answer cache: HasPerm on a MemoryStore remembers what the store's
// roles and grants answered (allowed, or not) for a (user, permission,
// object) question, so asking again costs a hash or two and a few atomic
// loads instead of the lookups.
//
// It cannot go stale. Every write to a MemoryStore publishes a new snapshot
// with a new generation number, and an answer is kept under the generation
// it was computed on: after a write (a revoked grant, a deleted profile, a
// removed membership) no earlier answer matches any more. Only answers that
// depend on nothing else are kept: no profile with an expiry took part (the
// clock could change them), the subject's SubjectGroups returned no group,
// the object has no Parents method, the ancestry was not cut short, nothing
// failed. Rules are never cached: when
// the stored part says no, the rule runs as on every check. Superuser and
// inactive subjects are decided before the cache, as before.
//
// A slot holds the question and the generation. A short question (user,
// type and ID of at most 24 bytes together, as with numeric IDs) is kept
// whole, in four words, and compared exactly: no two questions can be
// confused; a seeded multiply-mix of its words picks the slot. A longer
// question is kept as a 128-bit key (two independently seeded maphash
// hashes of it): a wrong answer needs two unrelated random 64-bit hashes
// to collide at once. Keeping short questions whole is faster, too: no
// hash call.
// Slots are seqlocks over atomic words: readers take no lock and never
// allocate, a writer that finds a slot busy simply does not cache.

// cacheSlot is one entry of the answer cache: 64 bytes, one cache line.
type cacheSlot struct {
	seq atomic.Uint64 // odd while a writer fills the slot
	w   [4]atomic.Uint64
	gen atomic.Uint64
	val atomic.Uint64 // 0: empty; 1: no, 2: allowed, plus valLong for a hashed question
	// hold is the user's Holding in that snapshot: a rule that follows a
	// cached "no" reads the user's roles from it without a lookup.
	hold atomic.Pointer[Holding]
}

// valLong marks the answer of a question kept as its two hashes.
const valLong = 4

type answerCache struct {
	slots []cacheSlot // len is a power of two
	seed1 maphash.Seed
	seed2 maphash.Seed
	mix   [5]uint64 // random seeds of a short question's slot
	mask  uint64
}

// DefaultCacheSlots is the number of answers a Checker over a MemoryStore
// keeps when Options.CacheSlots is zero (64 bytes each: 256 KB).
const DefaultCacheSlots = 4096

// maxCacheSlots caps Options.CacheSlots (64 MB of slots).
const maxCacheSlots = 1 << 20

func newAnswerCache(n int) *answerCache {
	n = min(n, maxCacheSlots)
	size := 1
	for size < n {
		size <<= 1
	}
	c := &answerCache{slots: make([]cacheSlot, size), seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(), mask: uint64(size - 1)}
	for i := range c.mix {
		c.mix[i] = rand.Uint64()
	}
	return c
}

// question is the cache key of a check: the question itself (short) or its
// two hashes (long: w[0], w[1]), and the hash that picks its slot. key
// writes it word by word through a pointer: returned by value (or written
// whole), it was copied through
// memory right after it was written, and the 16-byte loads of the
// just-stored 8-byte words stalled (pprof: 0.51 s of 2.50 s on one MOVUPS,
// BenchmarkCheck/global_role at 49 ns/op).
type question struct {
	w    [4]uint64
	slot uint64
	long bool
}

// Sizes of the buffers a question is written into: a short question's
// fields take at most shortKey bytes after its header word; a long one at
// most keyBuf bytes with its header (past that, its fields are hashed one
// by one).
const (
	shortKey  = 24
	keyBuf    = 128
	keyHeader = 8
)

// key makes the question (user, permission, object ref, refusal of global
// roles).
func (c *answerCache) key(q *question, uid string, perm int, ref Ref, refuse bool) {
	tag := uint64(uint32(perm) << 1)
	if refuse {
		tag |= 1
	}
	n := len(uid) + len(ref.Type) + len(ref.ID)
	if n <= shortKey {
		// The question itself, in four words, compared whole.
		var buf [keyHeader + shortKey]byte
		writeQuestion(buf[:], tag, uid, ref)
		q.w[0], q.w[1] = binary.LittleEndian.Uint64(buf[0:]), binary.LittleEndian.Uint64(buf[8:])
		q.w[2], q.w[3] = binary.LittleEndian.Uint64(buf[16:]), binary.LittleEndian.Uint64(buf[24:])
		q.long = false
		// The slot only spreads the questions (the words are compared
		// whole), so a seeded multiply-mix of the words is enough.
		h1, l1 := bits.Mul64(q.w[0]^c.mix[0], q.w[1]^c.mix[1])
		h2, l2 := bits.Mul64(q.w[2]^c.mix[2], q.w[3]^c.mix[3])
		h, l := bits.Mul64(h1^l2^c.mix[4], l1^h2)
		q.slot = h ^ l
		return
	}
	var k1, k2 uint64
	if n+keyHeader > keyBuf {
		mix := func(seed maphash.Seed) uint64 {
			return maphash.String(seed, uid) ^
				bits.RotateLeft64(maphash.String(seed, ref.Type), 21) ^
				bits.RotateLeft64(maphash.String(seed, ref.ID), 42) ^
				tag*0x9e3779b97f4a7c15
		}
		k1, k2 = mix(c.seed1), mix(c.seed2)
	} else {
		var buf [keyBuf]byte
		k := writeQuestion(buf[:], tag, uid, ref)
		k1, k2 = maphash.Bytes(c.seed1, buf[:k]), maphash.Bytes(c.seed2, buf[:k])
	}
	q.w[0], q.w[1], q.w[2], q.w[3], q.slot, q.long = k1, k2, 0, 0, k1, true
}

// writeQuestion writes a question into buf, unambiguously, and returns its
// length: a header word (the tag, then the three fields' lengths, each
// below keyBuf so 8 bits hold it), then the user, type and ID. buf is at
// least keyHeader plus the fields long.
func writeQuestion(buf []byte, tag uint64, uid string, ref Ref) int {
	binary.LittleEndian.PutUint64(buf, tag|uint64(len(uid))<<32|uint64(len(ref.Type))<<40|uint64(len(ref.ID))<<48)
	k := keyHeader + copy(buf[keyHeader:], uid)
	k += copy(buf[k:], ref.Type)
	return k + copy(buf[k:], ref.ID)
}

// get returns the answer kept for q at generation gen, and the user's
// Holding it was computed with.
func (c *answerCache) get(q *question, gen uint64) (allowed bool, hold *Holding, ok bool) {
	s := &c.slots[q.slot&c.mask]
	seq := s.seq.Load()
	if seq&1 != 0 {
		return false, nil, false
	}
	w0, w1, w2, w3 := s.w[0].Load(), s.w[1].Load(), s.w[2].Load(), s.w[3].Load()
	g, v, h := s.gen.Load(), s.val.Load(), s.hold.Load()
	if s.seq.Load() != seq || v&3 == 0 || (v&valLong != 0) != q.long ||
		w0 != q.w[0] || w1 != q.w[1] || w2 != q.w[2] || w3 != q.w[3] || g != gen {
		return false, nil, false
	}
	return v&3 == 2, h, true
}

// put keeps the answer for q at generation gen, unless another writer is
// filling the slot.
func (c *answerCache) put(q *question, gen uint64, allowed bool, hold *Holding) {
	s := &c.slots[q.slot&c.mask]
	seq := s.seq.Load()
	if seq&1 != 0 || !s.seq.CompareAndSwap(seq, seq+1) {
		return
	}
	v := uint64(1)
	if allowed {
		v = 2
	}
	if q.long {
		v |= valLong
	}
	for i := range s.w {
		s.w[i].Store(q.w[i])
	}
	s.gen.Store(gen)
	s.val.Store(v)
	s.hold.Store(hold)
	s.seq.Store(seq + 2)
}
