package iam

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"sync/atomic"
)

// The answer cache: HasPerm on a MemoryStore remembers what the store's
// roles and grants answered (allowed, or not) for a (user, permission,
// object) question, so asking again costs two hashes and a few atomic
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
// A slot holds a 128-bit key (two independently seeded hashes of the
// question) and the generation: a wrong answer needs two unrelated random
// 64-bit hashes to collide at once. Slots are seqlocks over atomic words:
// readers take no lock and never allocate, a writer that finds a slot busy
// simply does not cache.

// cacheSlot is one entry of the answer cache.
type cacheSlot struct {
	seq    atomic.Uint64 // odd while a writer fills the slot
	k1, k2 atomic.Uint64
	gen    atomic.Uint64
	val    atomic.Uint64 // 0: empty, 1: no, 2: allowed
	// hold is the user's Holding in that snapshot: a rule that follows a
	// cached "no" reads the user's roles from it without a lookup.
	hold atomic.Pointer[Holding]
}

type answerCache struct {
	slots []cacheSlot // len is a power of two
	seed1 maphash.Seed
	seed2 maphash.Seed
	mask  uint64
}

// DefaultCacheSlots is the number of answers a Checker over a MemoryStore
// keeps when Options.CacheSlots is zero (48 bytes each: 192 KB).
const DefaultCacheSlots = 4096

// maxCacheSlots caps Options.CacheSlots (48 MB of slots).
const maxCacheSlots = 1 << 20

func newAnswerCache(n int) *answerCache {
	n = min(n, maxCacheSlots)
	size := 1
	for size < n {
		size <<= 1
	}
	return &answerCache{slots: make([]cacheSlot, size), seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(), mask: uint64(size - 1)}
}

// question is the cache key of a check.
type question struct{ k1, k2 uint64 }

// key hashes (user, permission, object ref, refusal of global roles). The
// question is written once, unambiguously (lengths before the strings),
// into a buffer on the stack and hashed with both seeds; a question too
// long for the buffer is hashed field by field.
func (c *answerCache) key(uid string, perm int, ref Ref, refuse bool) question {
	tag := uint32(perm) << 1
	if refuse {
		tag |= 1
	}
	var buf [keyBuf]byte
	if len(uid)+len(ref.Type)+len(ref.ID)+keyHeader > len(buf) {
		mix := func(seed maphash.Seed) uint64 {
			return maphash.String(seed, uid) ^
				bits.RotateLeft64(maphash.String(seed, ref.Type), 21) ^
				bits.RotateLeft64(maphash.String(seed, ref.ID), 42) ^
				uint64(tag)*0x9e3779b97f4a7c15
		}
		return question{mix(c.seed1), mix(c.seed2)}
	}
	// The header is one word: tag, then the two lengths that make the
	// fields unambiguous (each < keyBuf, so 16 bits hold it).
	binary.LittleEndian.PutUint64(buf[:keyHeader], uint64(tag)|uint64(len(uid))<<32|uint64(len(ref.Type))<<48)
	n := keyHeader + copy(buf[keyHeader:], uid)
	n += copy(buf[n:], ref.Type)
	n += copy(buf[n:], ref.ID)
	b := buf[:n]
	return question{maphash.Bytes(c.seed1, b), maphash.Bytes(c.seed2, b)}
}

// keyBuf is the size of the buffer key writes a question into, and
// keyHeader the size of the word before the fields.
const (
	keyBuf    = 128
	keyHeader = 8
)

// get returns the answer kept for q at generation gen, and the user's
// Holding it was computed with.
func (c *answerCache) get(q question, gen uint64) (allowed bool, hold *Holding, ok bool) {
	s := &c.slots[q.k1&c.mask]
	seq := s.seq.Load()
	if seq&1 != 0 {
		return false, nil, false
	}
	k1, k2, g, v, h := s.k1.Load(), s.k2.Load(), s.gen.Load(), s.val.Load(), s.hold.Load()
	if s.seq.Load() != seq || v == 0 || k1 != q.k1 || k2 != q.k2 || g != gen {
		return false, nil, false
	}
	return v == 2, h, true
}

// put keeps the answer for q at generation gen, unless another writer is
// filling the slot.
func (c *answerCache) put(q question, gen uint64, allowed bool, hold *Holding) {
	s := &c.slots[q.k1&c.mask]
	seq := s.seq.Load()
	if seq&1 != 0 || !s.seq.CompareAndSwap(seq, seq+1) {
		return
	}
	v := uint64(1)
	if allowed {
		v = 2
	}
	s.k1.Store(q.k1)
	s.k2.Store(q.k2)
	s.gen.Store(gen)
	s.val.Store(v)
	s.hold.Store(hold)
	s.seq.Store(seq + 2)
}
