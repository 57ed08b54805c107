package iamcache

import (
	"sync"
	"sync/atomic"

	"github.com/iamgo/iam"
)

// entry is one cached read: immutable once published in a table, so a
// reader that loaded the pointer may use every field without a lock.
type entry struct {
	hash     uint64
	deadline int64 // served only while the clock is before it
	kind     KeyKind
	pk       iam.PrincipalKind // KeyHolding: the principal's kind
	a, b     string            // KeyHolding: a = ID; KeyGrants, KeyParents: a = Type, b = ID

	hold    *iam.Holding
	gs      *iam.GrantSet
	parents []iam.Ref
}

func (e *entry) is(h uint64, kind KeyKind, pk iam.PrincipalKind, a, b string) bool {
	return e.hash == h && e.kind == kind && e.pk == pk && e.a == a && e.b == b
}

// tombstone marks a deleted slot: probes go on past it. Its kind is 0, so it
// matches no key.
var tombstone = &entry{}

// table is an open-addressing hash table with linear probing. Readers use it
// without a lock: they load slot pointers atomically and never see a
// half-built entry. Writers (holding the shard's mutex) store whole entry
// pointers: a new key goes into an empty or deleted slot, a refill replaces
// its key's pointer in place, a deletion stores the tombstone. Keys never
// move within a table; growing or cleaning builds a new table and publishes
// it through shard.tab. At most 3/4 of the slots are used (live or deleted),
// so every probe ends at an empty slot.
type table struct {
	mask  uint64
	slots []atomic.Pointer[entry]
}

func newTable(size int) *table {
	return &table{mask: uint64(size - 1), slots: make([]atomic.Pointer[entry], size)}
}

// find returns the entry for the key, or nil. It takes no lock.
func (t *table) find(h uint64, kind KeyKind, pk iam.PrincipalKind, a, b string) *entry {
	for i := h; ; i++ {
		e := t.slots[i&t.mask].Load()
		if e == nil {
			return nil
		}
		if e.is(h, kind, pk, a, b) {
			return e
		}
	}
}

// index returns the slot of the key, or -1, and the first reusable
// (deleted) slot seen on the way, or -1.
func (t *table) index(h uint64, kind KeyKind, pk iam.PrincipalKind, a, b string) (at, free int) {
	free = -1
	for i := h; ; i++ {
		j := int(i & t.mask)
		e := t.slots[j].Load()
		switch {
		case e == nil:
			if free < 0 {
				free = j
			}
			return -1, free
		case e == tombstone:
			if free < 0 {
				free = j
			}
		case e.is(h, kind, pk, a, b):
			return j, free
		}
	}
}

const initialSlots = 8

// shard is one of the cache's independent partitions. Readers touch only
// tab; the write side is on its own cache line.
type shard struct {
	tab atomic.Pointer[table]
	_   [56]byte

	mu        sync.Mutex
	live      int    // entries stored (not deleted)
	used      int    // slots not empty: live + tombstones
	lastInval uint64 // sequence number of the last invalidation of a key of this shard
	rng       uint64 // eviction randomness
	_         [64]byte
}

func (s *shard) init(seed uint64) {
	s.tab.Store(newTable(initialSlots))
	s.rng = seed | 1
}

// put stores e unless the key holds an entry still live at now, and returns
// the entry the cache now holds for the key. capacity bounds live entries:
// a new key in a full shard evicts one. s.mu must be held.
func (s *shard) put(e *entry, now int64, capacity int) *entry {
	t := s.tab.Load()
	at, free := t.index(e.hash, e.kind, e.pk, e.a, e.b)
	if at >= 0 {
		if old := t.slots[at].Load(); old.deadline > now {
			return old // keep the cached pointer: the Checker's memo hangs on it
		}
		t.slots[at].Store(e)
		return e
	}
	if s.live >= capacity {
		s.evict(t, now)
	}
	if s.used+1 > len(t.slots)*3/4 {
		t = s.rebuild(now)
		_, free = t.index(e.hash, e.kind, e.pk, e.a, e.b)
	}
	if t.slots[free].Load() == nil {
		s.used++
	}
	t.slots[free].Store(e)
	s.live++
	return e
}

// del deletes the key's entry, if any. s.mu must be held.
func (s *shard) del(h uint64, kind KeyKind, pk iam.PrincipalKind, a, b string) {
	t := s.tab.Load()
	if at, _ := t.index(h, kind, pk, a, b); at >= 0 {
		t.slots[at].Store(tombstone)
		s.live--
	}
}

// evict deletes one entry chosen at random: the first expired one among up
// to 8 entries scanned from a random slot, else the first of them. s.mu must
// be held.
func (s *shard) evict(t *table, now int64) {
	s.rng ^= s.rng << 13
	s.rng ^= s.rng >> 7
	s.rng ^= s.rng << 17
	victim, seen := -1, 0
	for i := range len(t.slots) {
		j := int((s.rng + uint64(i)) & t.mask)
		e := t.slots[j].Load()
		if e == nil || e == tombstone {
			continue
		}
		if e.deadline <= now {
			victim = j
			break
		}
		if victim < 0 {
			victim = j
		}
		if seen++; seen == 8 {
			break
		}
	}
	if victim >= 0 {
		t.slots[victim].Store(tombstone)
		s.live--
	}
}

// rebuild publishes a new table holding the live, unexpired entries, sized
// for one more. s.mu must be held.
func (s *shard) rebuild(now int64) *table {
	old := s.tab.Load()
	keep := make([]*entry, 0, s.live)
	for i := range old.slots {
		if e := old.slots[i].Load(); e != nil && e != tombstone && e.deadline > now {
			keep = append(keep, e)
		}
	}
	size := initialSlots
	for size < 2*(len(keep)+1) {
		size *= 2
	}
	t := newTable(size)
	for _, e := range keep {
		_, free := t.index(e.hash, e.kind, e.pk, e.a, e.b)
		t.slots[free].Store(e)
	}
	s.live, s.used = len(keep), len(keep)
	s.tab.Store(t)
	return t
}

// clear drops every entry. s.mu must be held.
func (s *shard) clear() {
	s.tab.Store(newTable(initialSlots))
	s.live, s.used = 0, 0
}
