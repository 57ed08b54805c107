package answer

// Unit tests of the answer cache: slots, generations, the seqlock, and the
// question key. The black-box tests of HasPerm over the cache are the root
// package's cache_test.go.

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// Ref and Holding stand for the root package's types: an object's type and
// ID, and the user's data kept with an answer.
type (
	Ref     struct{ Type, ID string }
	Holding struct{ _ [8]byte } // not zero-sized: every &Holding{} is a distinct pointer
)

// defaultCacheSlots is the Checker's default size.
const defaultCacheSlots = 4096

// acKeyArgs are the arguments of Cache.Key.
type acKeyArgs struct {
	uid    string
	perm   int
	ref    Ref
	refuse bool
}

func (a acKeyArgs) key(c *Cache[Holding]) Key {
	var q Key
	c.Key(&q, a.uid, a.perm, a.ref.Type, a.ref.ID, a.refuse)
	return q
}

// kept reports that the question fits the key buffer (longer ones are
// never cached).
func (a acKeyArgs) kept() bool { return keyHeader+len(a.uid)+len(a.ref.Type)+len(a.ref.ID) <= keyBuf }

// requireDistinct fails unless get could never take one question for the
// other: their hashes differ (and so, then, may their headers; a question
// too long to keep is never looked up).
func requireDistinct(t *testing.T, a, b Key, msg string) {
	t.Helper()
	if !a.ok || !b.ok {
		return
	}
	require.NotEqual(t, a.k[1], b.k[1], "%s: hash", msg)
}

// ackey is acKeyArgs{...}.key(c), for short literals.
func ackey(c *Cache[Holding], uid string, perm int, ref Ref, refuse bool) Key {
	return acKeyArgs{uid, perm, ref, refuse}.key(c)
}

// TestAnswerCacheSize: the slot count is rounded up to a power of two and
// the mask selects a slot. contract 15 (the cache's structure).
func TestAnswerCacheSize(t *testing.T) {
	for _, tc := range []struct{ n, slots int }{
		{1, 1}, {2, 2}, {3, 4}, {5, 8}, {defaultCacheSlots, 4096}, {defaultCacheSlots + 1, 8192},
	} {
		c := New[Holding](tc.n)
		require.Len(t, c.slots, tc.slots, "n=%d", tc.n)
		require.Equal(t, uint64(tc.slots-1), c.mask, "n=%d", tc.n)
	}
}

// TestAnswerCacheGetPut: what get returns after what put. contract 15: an
// answer is only ever returned for the question and generation it was put
// under.
func TestAnswerCacheGetPut(t *testing.T) {
	c := New[Holding](8)
	q := ackey(c, "u1", 3, Ref{Type: "doc", ID: "1"}, false)
	require.True(t, q.ok)
	other := q // the same slot, another question
	other.k[0] ^= 1

	t.Run("empty cache misses", func(t *testing.T) {
		for _, gen := range []uint64{0, 1, 7} {
			_, _, ok := c.Get(&q, gen)
			require.False(t, ok, "gen %d", gen)
		}
		// The zero question at generation zero matches an empty slot's
		// words, and still misses: an empty slot holds no answer.
		_, _, ok := c.Get(&Key{}, 0)
		require.False(t, ok)
	})
	t.Run("put then get", func(t *testing.T) {
		for _, allowed := range []bool{true, false, true} {
			c.Put(&q, 5, allowed, nil)
			a, _, ok := c.Get(&q, 5)
			require.True(t, ok)
			require.Equal(t, allowed, a)
		}
	})
	t.Run("another generation misses", func(t *testing.T) {
		c.Put(&q, 5, true, nil)
		for _, gen := range []uint64{0, 4, 6, 1 << 40} {
			_, _, ok := c.Get(&q, gen)
			require.False(t, ok, "gen %d", gen)
		}
	})
	t.Run("same slot, header or hash different, misses", func(t *testing.T) {
		c.Put(&q, 5, true, nil)
		for i, flip := range []func(*Key){
			func(x *Key) { x.k[0] ^= 1 << 40 }, // another length
			func(x *Key) { x.k[0] ^= 1 },       // refusal
			func(x *Key) { x.k[1] ^= 1 << 63 }, // above the mask: the same slot
		} {
			x := q
			flip(&x)
			_, _, ok := c.Get(&x, 5)
			require.False(t, ok, "change %d", i)
		}
	})
	t.Run("a question put in the slot evicts the one there", func(t *testing.T) {
		c.Put(&q, 5, true, nil)
		c.Put(&other, 5, false, nil)
		a, _, ok := c.Get(&other, 5)
		require.True(t, ok)
		require.False(t, a)
		_, _, ok = c.Get(&q, 5)
		require.False(t, ok)
	})
	t.Run("questions in different slots coexist", func(t *testing.T) {
		next := other
		next.k[1] = q.k[1] + 1
		c.Put(&q, 9, true, nil)
		c.Put(&next, 9, false, nil)
		a, _, ok := c.Get(&q, 9)
		require.True(t, ok)
		require.True(t, a)
		a, _, ok = c.Get(&next, 9)
		require.True(t, ok)
		require.False(t, a)
	})
	t.Run("one slot: every question shares it", func(t *testing.T) {
		one := New[Holding](1)
		q1, q2 := ackey(one, "u1", 0, Ref{}, false), ackey(one, "u2", 0, Ref{}, false)
		one.Put(&q1, 1, true, nil)
		a, _, ok := one.Get(&q1, 1)
		require.True(t, ok && a)
		one.Put(&q2, 1, false, nil)
		_, _, ok = one.Get(&q1, 1)
		require.False(t, ok)
		a, _, ok = one.Get(&q2, 1)
		require.True(t, ok)
		require.False(t, a)
	})
	t.Run("put leaves the sequence even, two further on", func(t *testing.T) {
		s := &c.slots[q.k[1]&c.mask]
		before := s.seq.Load()
		require.Zero(t, before&1)
		c.Put(&q, 11, true, nil)
		require.Equal(t, before+2, s.seq.Load())
	})
}

// TestAnswerCacheBusySlot: a slot whose sequence is odd is being filled by a
// writer: get misses even though the words match, and put leaves the slot
// alone. contract 15 (no torn answer is ever read).
func TestAnswerCacheBusySlot(t *testing.T) {
	c := New[Holding](4)
	q := ackey(c, "u1", 2, Ref{Type: "doc", ID: "7"}, true)
	c.Put(&q, 3, true, nil)
	s := &c.slots[q.k[1]&c.mask]
	words := func() [5]uint64 {
		return [5]uint64{s.seq.Load(), s.k[0].Load(), s.k[1].Load(), s.gen.Load(), s.val.Load()}
	}

	s.seq.Add(1) // a writer is filling the slot
	busy := words()
	_, _, ok := c.Get(&q, 3)
	require.False(t, ok, "get on a busy slot")

	c.Put(&q, 3, false, nil)
	require.Equal(t, busy, words(), "put on a busy slot changed it")
	other := q // the same slot, another question
	other.k[0] ^= 5
	c.Put(&other, 4, false, nil)
	require.Equal(t, busy, words(), "put of another question on a busy slot changed it")
	_, _, ok = c.Get(&other, 4)
	require.False(t, ok)

	s.seq.Add(1) // the writer is done
	a, _, ok := c.Get(&q, 3)
	require.True(t, ok)
	require.True(t, a, "the answer from before the busy period")
	c.Put(&q, 3, false, nil)
	a, _, ok = c.Get(&q, 3)
	require.True(t, ok)
	require.False(t, a)
}

// TestAnswerCacheKey: the key of a question differs in both hashes when any
// field differs, and is unambiguous where two fields meet (a byte moved
// from one field to the next is another question); a question too long
// for the buffer is not kept. contract 15 (an answer is only returned for
// its own question).
func TestAnswerCacheKey(t *testing.T) {
	c := New[Holding](16)
	long := func(prefix string, n int) string { return prefix + strings.Repeat("x", n-len(prefix)) }

	bases := map[string]acKeyArgs{
		"short":        {uid: "u1", perm: 3, ref: Ref{Type: "doc", ID: "1"}},
		"short, model": {uid: "u1", perm: 3},
		"long uid":     {uid: long("u", 100), perm: 3, ref: Ref{Type: "doc", ID: "1"}},
		"long type":    {uid: "u1", perm: 3, ref: Ref{Type: long("t", 100), ID: "1"}},
		"long ID":      {uid: "u1", perm: 3, ref: Ref{Type: "doc", ID: long("i", 100)}},
		"all long":     {uid: long("u", 36), perm: 3, ref: Ref{Type: long("t", 36), ID: long("i", 36)}},
	}
	for name, base := range bases {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, base.key(c), base.key(c), "the key is a function of the question")
			require.True(t, base.key(c).ok, "kept")
			variants := map[string]acKeyArgs{}
			v := base
			v.uid += "2"
			variants["uid longer"] = v
			v = base
			v.uid = "v" + base.uid[1:]
			variants["uid changed"] = v
			v = base
			v.uid = ""
			variants["anonymous"] = v
			v = base
			v.perm = 4
			variants["perm 4"] = v
			v = base
			v.perm = 0
			variants["perm 0"] = v
			v = base
			v.perm = 3 + 1<<20
			variants["perm +2^20"] = v
			v = base
			v.refuse = !base.refuse
			variants["refuse"] = v
			v = base
			v.ref.Type = "folder" + base.ref.Type
			variants["type"] = v
			v = base
			v.ref.ID = base.ref.ID + "9"
			variants["ID"] = v
			v = base
			v.ref = Ref{}
			variants["model level"] = v
			v = base
			v.ref.Type, v.ref.ID = base.ref.ID, base.ref.Type
			variants["type and ID swapped"] = v
			v = base
			v.uid, v.ref.ID = base.ref.ID, base.uid
			variants["uid and ID swapped"] = v
			v = base
			v.uid, v.ref.Type = base.ref.Type, base.uid
			variants["uid and type swapped"] = v
			bk := base.key(c)
			for vname, v := range variants {
				if v == base {
					continue // a swap of equal fields
				}
				requireDistinct(t, bk, v.key(c), vname)
			}
		})
	}

	// Field boundaries: the same bytes, cut differently.
	pairs := []struct {
		name string
		a, b acKeyArgs
	}{
		{"uid|type", acKeyArgs{uid: "ab", ref: Ref{Type: "c", ID: "1"}}, acKeyArgs{uid: "a", ref: Ref{Type: "bc", ID: "1"}}},
		{"type|ID", acKeyArgs{uid: "u", ref: Ref{Type: "ab", ID: "c"}}, acKeyArgs{uid: "u", ref: Ref{Type: "a", ID: "bc"}}},
		{"uid|ID, empty type", acKeyArgs{uid: "ab", ref: Ref{ID: "c"}}, acKeyArgs{uid: "a", ref: Ref{ID: "bc"}}},
		{"uid or type", acKeyArgs{uid: "a"}, acKeyArgs{ref: Ref{Type: "a"}}},
		{"uid or ID", acKeyArgs{uid: "a"}, acKeyArgs{ref: Ref{ID: "a"}}},
		{"type or ID", acKeyArgs{uid: "u", ref: Ref{Type: "a"}}, acKeyArgs{uid: "u", ref: Ref{ID: "a"}}},
		{"perm or refuse", acKeyArgs{uid: "u", perm: 1}, acKeyArgs{uid: "u", perm: 0, refuse: true}},
		// Fields holding bytes that look like lengths or a tag: the
		// header's lengths, not the bytes, tell the fields apart.
		{"a length inside the uid", acKeyArgs{uid: "x\x01\x00\x00\x00y"}, acKeyArgs{uid: "x", ref: Ref{Type: "y", ID: "\x00\x00\x00\x00"}}},
		{"a length inside the uid, with an ID", acKeyArgs{uid: "x\x01\x00\x00\x00y", ref: Ref{ID: "1"}}, acKeyArgs{uid: "x", ref: Ref{Type: "y", ID: "\x00\x00\x00\x001"}}},
		{"a length inside the type", acKeyArgs{uid: "u", ref: Ref{Type: "t\x00\x00\x00\x00", ID: "1"}}, acKeyArgs{uid: "u", ref: Ref{Type: "t", ID: "\x00\x00\x00\x001"}}},
		{"a tag inside the uid", acKeyArgs{uid: "\x06\x00\x00\x00", perm: 0}, acKeyArgs{uid: "", perm: 3}},
		{
			"long: uid|type",
			acKeyArgs{uid: long("u", 70) + "ab", ref: Ref{Type: "c" + long("t", 20), ID: "1"}},
			acKeyArgs{uid: long("u", 70) + "a", ref: Ref{Type: "bc" + long("t", 20), ID: "1"}},
		},
		{
			"long: type|ID",
			acKeyArgs{uid: "u", ref: Ref{Type: long("t", 70) + "ab", ID: "c" + long("i", 20)}},
			acKeyArgs{uid: "u", ref: Ref{Type: long("t", 70) + "a", ID: "bc" + long("i", 20)}},
		},
		{
			"long: uid|ID, empty type",
			acKeyArgs{uid: long("u", 70) + "ab", ref: Ref{ID: "c" + long("i", 20)}},
			acKeyArgs{uid: long("u", 70) + "a", ref: Ref{ID: "bc" + long("i", 20)}},
		},
		{
			"long: the same string in another field",
			acKeyArgs{uid: long("s", 100), ref: Ref{Type: "doc", ID: "1"}},
			acKeyArgs{uid: "1", ref: Ref{Type: "doc", ID: long("s", 100)}},
		},
		{
			"long: uid and ID equal, vs type",
			acKeyArgs{uid: long("s", 50), ref: Ref{Type: "t", ID: long("s", 50)}},
			acKeyArgs{uid: long("s", 50), ref: Ref{Type: long("s", 50), ID: "t"}},
		},
		{
			"long: perm or refuse",
			acKeyArgs{uid: long("u", 100), perm: 1},
			acKeyArgs{uid: long("u", 100), perm: 0, refuse: true},
		},
		{
			// 24 bytes of fields are kept whole; one more byte is hashed.
			"whole vs hashed",
			acKeyArgs{uid: long("u", 20), ref: Ref{Type: "doc", ID: "1"}},
			acKeyArgs{uid: long("u", 21), ref: Ref{Type: "doc", ID: "1"}},
		},
		{
			"whole vs hashed, same bytes cut differently",
			acKeyArgs{uid: long("u", 20), ref: Ref{Type: "doc", ID: "1"}},
			acKeyArgs{uid: long("u", 20) + "d", ref: Ref{Type: "oc", ID: "1x"}},
		},
		{
			"whole: the full 24 bytes, the last one differs",
			acKeyArgs{uid: long("u", 8), ref: Ref{Type: long("t", 8), ID: long("i", 7) + "a"}},
			acKeyArgs{uid: long("u", 8), ref: Ref{Type: long("t", 8), ID: long("i", 7) + "b"}},
		},
		{
			"whole: a zero byte at the end of the ID",
			acKeyArgs{uid: "u", ref: Ref{Type: "doc", ID: "1"}},
			acKeyArgs{uid: "u", ref: Ref{Type: "doc", ID: "1\x00"}},
		},
		{
			"buffer exactly full, same bytes cut differently",
			acKeyArgs{uid: long("u", 115), ref: Ref{Type: "doc", ID: "1"}},
			acKeyArgs{uid: long("u", 115) + "d", ref: Ref{Type: "oc", ID: "1"}},
		},
	}
	for _, p := range pairs {
		require.True(t, p.a.key(c).ok && p.b.key(c).ok, "%s: kept", p.name)
		requireDistinct(t, p.a.key(c), p.b.key(c), p.name)
	}
	// 120 bytes of fields and the 8-byte header fill the buffer exactly;
	// a question one byte longer is not kept.
	full := acKeyArgs{uid: long("u", 116), ref: Ref{Type: "doc", ID: "1"}}
	over := acKeyArgs{uid: long("u", 117), ref: Ref{Type: "doc", ID: "1"}}
	require.True(t, full.kept() && full.key(c).ok)
	require.False(t, over.kept() || over.key(c).ok)
}

// TestAnswerCacheKeyAllocs: key allocates nothing, for questions it keeps
// and for those too long to keep (docs/contract.md: 0 allocs/op for HasPerm).
func TestAnswerCacheKeyAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters allocate")
	}
	c := New[Holding](16)
	for _, a := range []acKeyArgs{
		{uid: "u1", perm: 3, ref: Ref{Type: "doc", ID: "1"}},
		{uid: strings.Repeat("u", 20), perm: 3, ref: Ref{Type: "doc", ID: "1"}},
		{uid: strings.Repeat("u", 21), perm: 3, ref: Ref{Type: "doc", ID: "1"}},
		{uid: strings.Repeat("u", 116), perm: 3, ref: Ref{Type: "doc", ID: "1"}},
		{uid: strings.Repeat("u", 117), perm: 3, ref: Ref{Type: "doc", ID: "1"}},
		{uid: strings.Repeat("u", 300), perm: 3, ref: Ref{Type: strings.Repeat("t", 300), ID: strings.Repeat("i", 300)}},
	} {
		var q Key
		allocs := testing.AllocsPerRun(1000, func() { q = a.key(c) })
		require.Zero(t, allocs, "len %d", len(a.uid)+len(a.ref.Type)+len(a.ref.ID))
		require.Equal(t, a.kept(), q.ok)
		if q.ok {
			require.NotEqual(t, Key{}, q)
		}
	}
}

// TestAnswerCacheKeysSpread: many distinct questions, short and long, get
// distinct hashes, spread over the slots.
// contract 15.
func TestAnswerCacheKeysSpread(t *testing.T) {
	c := New[Holding](defaultCacheSlots)
	rng := rand.New(rand.NewPCG(7, 11))
	seen := map[uint64]acKeyArgs{}
	slots := map[uint64]int{}
	questions := map[acKeyArgs]bool{}
	for i := range 20000 {
		a := acKeyArgs{
			uid:    fmt.Sprint("u", rng.IntN(200)),
			perm:   rng.IntN(20),
			ref:    Ref{Type: []string{"", "doc", "folder"}[rng.IntN(3)], ID: fmt.Sprint(rng.IntN(50))},
			refuse: rng.IntN(2) == 0,
		}
		if i%10 == 0 {
			a.uid += strings.Repeat("L", 90) // a long question
		}
		if questions[a] {
			continue
		}
		questions[a] = true
		q := a.key(c)
		require.True(t, q.ok, "%+v", a)
		if prev, ok := seen[q.k[1]]; ok {
			t.Fatalf("hash collision: %+v and %+v", prev, a)
		}
		seen[q.k[1]] = a
		slots[q.k[1]&c.mask]++
	}
	// The slot index spreads the questions: no slot takes a large share.
	most := 0
	for _, n := range slots {
		most = max(most, n)
	}
	t.Logf("%d distinct questions over %d of %d slots, at most %d in one", len(questions), len(slots), len(c.slots), most)
	require.Greater(t, len(slots), len(c.slots)*9/10)
	require.Less(t, most, 30)
}

// TestAnswerCacheConcurrentSlot (run with -race): writers fill one slot
// with different questions while readers read it; a hit always returns the
// answer that was put for that question and generation, never words of two
// puts mixed (the seqlock). contract 15.
func TestAnswerCacheConcurrentSlot(t *testing.T) {
	c := New[Holding](1)
	const (
		nq      = 16
		rounds  = 20000
		writers = 4
		readers = 4
	)
	type entry struct {
		q       Key
		gen     uint64
		allowed bool
	}
	entries := make([]entry, nq)
	for i := range entries {
		uid := fmt.Sprint("u", i)
		if i%2 == 1 {
			uid += strings.Repeat("L", 30) // a longer question
		}
		entries[i] = entry{q: ackey(c, uid, i, Ref{Type: "doc", ID: fmt.Sprint(i)}, false), gen: uint64(i % 3), allowed: i%4 < 2}
	}
	var (
		wg                 sync.WaitGroup
		hits, misses, torn atomic.Int64
	)
	var writing sync.WaitGroup
	var written atomic.Bool
	for w := range writers {
		writing.Add(1)
		go func() {
			defer writing.Done()
			for i := range rounds {
				e := entries[(i*7+w)%nq]
				c.Put(&e.q, e.gen, e.allowed, nil)
			}
		}()
	}
	go func() { writing.Wait(); written.Store(true) }()
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Read while the writers write, then a few rounds more: once
			// the slot is still, every reader hits its question.
			after := 0
			for i := 0; i < rounds || after < 2*nq; i++ {
				if written.Load() {
					after++
				}
				e := entries[(i*5+r)%nq]
				a, _, ok := c.Get(&e.q, e.gen)
				switch {
				case !ok:
					misses.Add(1)
				case a != e.allowed:
					torn.Add(1)
				default:
					hits.Add(1)
				}
				// A generation this question was never put under: a hit
				// would mix its key with another question's generation.
				if _, _, ok := c.Get(&e.q, e.gen+3); ok {
					torn.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d hits, %d misses, %d torn", hits.Load(), misses.Load(), torn.Load())
	require.Zero(t, torn.Load())
	require.Positive(t, hits.Load())
	// When the writers are done, the slot holds one whole answer.
	s := &c.slots[0]
	require.Zero(t, s.seq.Load()&1)
	found := 0
	for _, e := range entries {
		if a, _, ok := c.Get(&e.q, e.gen); ok {
			found++
			require.Equal(t, e.allowed, a)
		}
	}
	require.Equal(t, 1, found)
}

// The slot keeps the user's Holding with the answer, for the rule that
// follows a cached "no"; another question or generation gets none.
func TestAnswerCacheHolding(t *testing.T) {
	c := New[Holding](8)
	q := ackey(c, "ann", 1, Ref{Type: "doc", ID: "d1"}, false)
	h := &Holding{}
	c.Put(&q, 7, false, h)
	a, got, ok := c.Get(&q, 7)
	if !ok || a || got != h {
		t.Fatalf("get = %v, %p, %v; want false, %p, true", a, got, ok, h)
	}
	if _, got, ok := c.Get(&q, 8); ok || got != nil {
		t.Fatalf("another generation: got %p, %v; want nil, false", got, ok)
	}
	c.Put(&q, 8, true, nil)
	if a, got, ok := c.Get(&q, 8); !ok || !a || got != nil {
		t.Fatalf("refilled: got %v, %p, %v; want true, nil, true", a, got, ok)
	}
}

// TestAnswerCacheEncodingInjective: the bytes a question is hashed from
// are injective: every split of every byte string of up to 4 bytes over
// {0, 'a', 0xff} into user, type and ID, with five permission indexes and
// both refusals, then 300,000 random ones of up to 24 bytes; no two write
// the same bytes (contract 15: an answer is only returned for its own
// question).
func TestAnswerCacheEncodingInjective(t *testing.T) {
	type tup struct {
		u, ty, id string
		p         int
		r         bool
	}
	seen := map[string]tup{}
	alpha := []byte{0, 'a', 0xff}
	rng := rand.New(rand.NewPCG(7, 7))
	add := func(x tup) {
		tag := uint64(uint32(x.p) << 1)
		if x.r {
			tag |= 1
		}
		var buf [keyBuf]byte
		ref := Ref{Type: x.ty, ID: x.id}
		k := string(buf[:write(buf[:], header(tag, x.u, ref.Type, ref.ID), x.u, ref.Type, ref.ID)])
		if prev, ok := seen[k]; ok && prev != x {
			t.Fatalf("collision %+v vs %+v", prev, x)
		}
		seen[k] = x
	}
	// exhaustive for total length <= 4
	var gen func(s []byte, n int)
	gen = func(s []byte, n int) {
		for i := 0; i <= len(s); i++ {
			for j := i; j <= len(s); j++ {
				for _, p := range []int{0, 1, 2, 1 << 30, 1<<31 - 1} {
					for _, r := range []bool{false, true} {
						add(tup{string(s[:i]), string(s[i:j]), string(s[j:]), p, r})
					}
				}
			}
		}
		if n == 0 {
			return
		}
		for _, b := range alpha {
			gen(append(append([]byte{}, s...), b), n-1)
		}
	}
	gen(nil, 4)
	// random up to 24 bytes
	for range 300000 {
		n := rng.IntN(25)
		s := make([]byte, n)
		for i := range s {
			s[i] = alpha[rng.IntN(3)]
		}
		i := rng.IntN(n + 1)
		j := i + rng.IntN(n-i+1)
		add(tup{string(s[:i]), string(s[i:j]), string(s[j:]), rng.IntN(4), rng.IntN(2) == 0})
	}
	t.Logf("%d distinct encodings", len(seen))
}
