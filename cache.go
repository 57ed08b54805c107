package iam

import (
	"encoding/binary"
	"hash/maphash"
	"sync/atomic"
)

// The answer cache: HasPerm remembers what the store's roles and grants
// answered (allowed, or not) for a (user, permission,
// object) question, so asking again costs a hash or two and a few atomic
// loads instead of the lookups.
//
// It cannot go stale. It serves stores whose snapshots carry a Generation
// (SnapshotFacts), as MemoryStore's do: every write publishes a new
// snapshot with a new generation, and an answer is kept under the
// generation it was computed on: after a write (a revoked grant, a deleted profile, a
// removed membership) no earlier answer matches any more. Only answers that
// depend on nothing else are kept: no profile with an expiry took part (the
// clock could change them), the subject's SubjectGroups returned no group,
// the object has no Parents method, the ancestry was not cut short, nothing
// failed. Rules are never cached: when the stored part says no, the rule
// runs as on every check. Superuser and inactive subjects are decided
// before the cache.
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
// allocate, a writer that finds a slot busy simply does not cache.

// cacheSlot is one entry of the answer cache: 48 bytes.
type cacheSlot struct {
	seq atomic.Uint64 // odd while a writer fills the slot
	k   [2]atomic.Uint64
	gen atomic.Uint64
	val atomic.Uint64 // 0: empty; 1: no, 2: allowed
	// hold is the user's Holding in that snapshot: a rule that follows a
	// cached "no" reads the user's roles from it without a lookup.
	hold atomic.Pointer[Holding]
}

type answerCache struct {
	slots []cacheSlot // len is a power of two
	seed  maphash.Seed
	mask  uint64
}

// defaultCacheSlots is the number of answers a Checker keeps when
// Options.CacheSlots is zero (48 bytes each: 192 KB).
const defaultCacheSlots = 4096

// maxCacheSlots caps Options.CacheSlots (48 MB of slots).
const maxCacheSlots = 1 << 20

func newAnswerCache(n int) *answerCache {
	n = min(n, maxCacheSlots)
	size := 1
	for size < n {
		size <<= 1
	}
	return &answerCache{slots: make([]cacheSlot, size), seed: maphash.MakeSeed(), mask: uint64(size - 1)}
}

// question is the cache key of a check: its header word (k[0]) and the
// hash of its bytes (k[1], which also picks the slot). ok is false for a
// question too long to keep.
type question struct {
	k  [2]uint64
	ok bool
}

// keyBuf bounds a kept question: its header word and fields.
const (
	keyBuf      = 128
	smallKeyBuf = 48
	keyHeader   = 8
)

// key makes the question (user, permission, object ref, refusal of global
// roles). The ref comes by pointer: copied whole right after the check
// wrote it field by field, its 16-byte loads stalled on those stores
// (pprof: most of a cached check's time on one MOVUPS).
func (c *answerCache) key(q *question, uid string, perm int, ref *Ref, refuse bool) {
	if keyHeader+len(uid)+len(ref.Type)+len(ref.ID) > keyBuf {
		q.ok = false
		return
	}
	tag := uint64(uint32(perm) << 1)
	if refuse {
		tag |= 1
	}
	// The same bytes either way; most questions fit the small buffer,
	// which costs less to clear.
	q.k[0], q.ok = questionHeader(tag, uid, ref.Type, ref.ID), true
	if keyHeader+len(uid)+len(ref.Type)+len(ref.ID) <= smallKeyBuf {
		var buf [smallKeyBuf]byte
		q.k[1] = maphash.Bytes(c.seed, buf[:writeQuestion(buf[:], q.k[0], uid, ref)])
		return
	}
	var buf [keyBuf]byte
	q.k[1] = maphash.Bytes(c.seed, buf[:writeQuestion(buf[:], q.k[0], uid, ref)])
}

// questionHeader is a question's header word: the tag, then the three
// fields' lengths (each below keyBuf, so 8 bits hold it).
func questionHeader(tag uint64, uid, typ, id string) uint64 {
	return tag | uint64(len(uid))<<32 | uint64(len(typ))<<40 | uint64(len(id))<<48
}

// writeQuestion writes a question into buf, unambiguously, and returns its
// length: its header word, then the user, type and ID. buf is at least
// keyHeader plus the fields long.
func writeQuestion(buf []byte, header uint64, uid string, ref *Ref) int {
	binary.LittleEndian.PutUint64(buf, header)
	k := keyHeader + copy(buf[keyHeader:], uid)
	k += copy(buf[k:], ref.Type)
	return k + copy(buf[k:], ref.ID)
}

// get returns the answer kept for q at generation gen, and the user's
// Holding it was computed with.
func (c *answerCache) get(q *question, gen uint64) (allowed bool, hold *Holding, ok bool) {
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

// put keeps the answer for q at generation gen, unless another writer is
// filling the slot.
func (c *answerCache) put(q *question, gen uint64, allowed bool, hold *Holding) {
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
