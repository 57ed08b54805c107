package iam_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/iamgo/iam"
)

// BenchmarkWorkload measures checks the way an application asks them: many
// different questions over a large store (1,000,000 grants, 100,000 users),
// about half of them allowed, drawn with a Zipf or a uniform distribution,
// with writes interleaved, through groups and through an ancestry. The
// floor sub-benchmark answers the same question sequence as uniform from a
// bare two-level Go map over the same grants, so every other figure reads
// as a ratio to it in one run.
//
// Each fixture has 1,000,000 grants and 100,000 users and is built once per
// process, on the first sub-benchmark that needs it, never by the ordinary
// tests: the flat one (short IDs) serves floor, zipf, uniform, writes and
// two_checkers; uuid, groups20 and depth4 each have their own fixture of
// the same size, because their IDs, memberships or parents would change
// what the flat figures measure. The build time of each is logged.
//
// Every question's expected answer comes from the generator, not from the
// store: each sub-benchmark first checks a sample of its questions against
// those answers (Check and HasPerm), and the timed loop compares every
// answer too, so the figures are of real decisions.
func BenchmarkWorkload(b *testing.B) {
	b.Run("floor", func(b *testing.B) {
		f := wlGet(b, wlFlat)
		floor, err := wlFloor()
		if err != nil {
			b.Fatal(err)
		}
		floor.logOnce.Do(func() { b.Logf("floor map: %d grants built in %v", wlGrants, floor.built) })
		m := floor.m
		seq := f.uniform
		for _, k := range wlSample(seq) {
			q := &f.pool[k]
			if got := m[q.user.id][q.oid]&q.bit != 0; got != q.want {
				b.Fatalf("floor map: %s %s %s = %v, want %v", q.user.id, q.perm, q.oid, got, q.want)
			}
		}
		pool := f.pool
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			q := &pool[seq[i&wlSeqMask]]
			if (m[q.user.id][q.oid]&q.bit != 0) != q.want {
				b.Fatal("floor map: wrong answer")
			}
			i++
		}
	})
	for _, v := range []struct {
		suffix string
		o      iam.Options
	}{{"", iam.Options{}}, {"_uncached", iam.Options{CacheSlots: -1}}} {
		b.Run("zipf"+v.suffix, func(b *testing.B) {
			f := wlGet(b, wlFlat)
			c := wlChecker(b, f, v.o)
			wlChecks(b, f, f.zipf, c, c)
		})
		b.Run("uniform"+v.suffix, func(b *testing.B) {
			f := wlGet(b, wlFlat)
			c := wlChecker(b, f, v.o)
			wlChecks(b, f, f.uniform, c, c)
		})
	}
	b.Run("uuid", func(b *testing.B) {
		f := wlGet(b, wlUUIDs)
		c := wlChecker(b, f, iam.Options{})
		wlChecks(b, f, f.uniform, c, c)
	})
	b.Run("writes", func(b *testing.B) {
		f := wlGet(b, wlFlat)
		c := wlChecker(b, f, iam.Options{})
		wlWrites(b, f, c)
	})
	b.Run("groups20", func(b *testing.B) {
		f := wlGet(b, wlGroups)
		c := wlChecker(b, f, iam.Options{})
		wlChecks(b, f, f.uniform, c, c)
	})
	b.Run("depth4", func(b *testing.B) {
		f := wlGet(b, wlDepth)
		c := wlChecker(b, f, iam.Options{})
		wlChecks(b, f, f.uniform, c, c)
	})
	b.Run("two_checkers", func(b *testing.B) {
		f := wlGet(b, wlFlat)
		wlChecks(b, f, f.uniform, wlChecker(b, f, iam.Options{}), wlChecker(b, f, iam.Options{}))
	})
}

const (
	wlUsers  = 100_000
	wlGrants = 1_000_000
	// wlPool distinct questions per fixture; the sequences index into them.
	wlPool = 1 << 17
	// wlSeqLen questions are drawn in advance, so the generator is not timed.
	wlSeqLen  = 1 << 20
	wlSeqMask = wlSeqLen - 1
	// wlVerify questions of each sequence are checked before the timing.
	wlVerify = 4096
	// wlStride spaces the users holding grants on one object: the holder
	// of slot j is base+j*wlStride, distinct for up to 100 slots, so no two
	// slots of an object collapse into one grant, and who holds which slot
	// is arithmetic rather than a lookup.
	wlStride = 997
	// wlGroupsPerUser groups each user of a grouped fixture is a member
	// of, wlGroupStride apart for the same reason.
	wlGroupsPerUser = 20
	wlGroupStride   = 499
	// wlZipfS is the Zipf exponent: a few hot questions, a long tail.
	wlZipfS = 1.1
)

// wlPerms are the permissions the fixtures grant and ask about.
var wlPerms = [...]string{"doc.view", "doc.edit", "doc.comment"}

// The fixtures, built on first use only.
var (
	wlFlat = sync.OnceValues(func() (*wlFixture, error) {
		return wlBuild(&wlSpec{name: "flat", seed: 1, levels: []wlLevel{{typ: "doc", n: 250_000, slots: 4}}})
	})
	wlUUIDs = sync.OnceValues(func() (*wlFixture, error) {
		return wlBuild(&wlSpec{name: "uuid", seed: 2, uuid: true, levels: []wlLevel{{typ: "doc", n: 250_000, slots: 4}}})
	})
	// Half of the grants on each document go to groups; each user is a
	// member of 20 of the 10,000 groups (2,000,000 memberships).
	wlGroups = sync.OnceValues(func() (*wlFixture, error) {
		return wlBuild(&wlSpec{name: "groups20", seed: 3, nGroups: 10_000, levels: []wlLevel{{typ: "doc", n: 250_000, slots: 4, groups: 2}}})
	})
	// Documents in folders in projects in organisations, with grants on
	// every level: fewer on a document, many on an organisation, as
	// sharing a whole organisation with its staff would give.
	wlDepth = sync.OnceValues(func() (*wlFixture, error) {
		return wlBuild(&wlSpec{name: "depth4", seed: 4, levels: []wlLevel{
			{typ: "doc", n: 200_000, slots: 3},
			{typ: "folder", n: 50_000, slots: 4},
			{typ: "project", n: 10_000, slots: 10},
			{typ: "org", n: 1_000, slots: 100},
		}})
	})
	wlFloor = sync.OnceValues(wlBuildFloor)
)

type wlUser struct{ id string }

func (u *wlUser) SubjectID() string { return u.id }

// wlQuestion is one (user, permission, object) question and its expected
// answer. The object is boxed once here, so asking it allocates nothing.
type wlQuestion struct {
	user *wlUser
	perm string
	obj  iam.Object
	oid  string // the document's ID, for the floor map
	bit  uint8  // the permission's bit, for the floor map
	want bool
}

// wlLevel is one level of a fixture's objects: level 0 holds the checked
// documents; object x of level L has parent x/(n_L/n_{L+1}) on level L+1.
type wlLevel struct {
	typ    string
	n      int // objects on the level
	slots  int // grants on each object
	groups int // how many of those (the last ones) go to groups
}

// wlSpec describes a fixture by formulas, so that the expected answer of
// any question is computed without asking the store.
type wlSpec struct {
	name    string
	seed    uint64
	uuid    bool // user and object IDs are UUID-shaped
	nGroups int
	levels  []wlLevel
}

// wlMix is the splitmix64 finaliser: a deterministic hash of x.
func wlMix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func (s *wlSpec) hash(salt uint64, l, x int) uint64 {
	return wlMix(s.seed<<56 ^ salt<<48 ^ uint64(l)<<40 ^ uint64(x))
}

func (s *wlSpec) perm(l, x, j int) int { return (x + j + l) % len(wlPerms) }

// holder returns who holds slot j of object x on level l: a user index, or
// a group index when group is true.
func (s *wlSpec) holder(l, x, j int) (id int, group bool) {
	us := s.levels[l].slots - s.levels[l].groups
	if j < us {
		return (int(s.hash(1, l, x)%wlUsers) + j*wlStride) % wlUsers, false
	}
	return (int(s.hash(2, l, x)%uint64(s.nGroups)) + (j-us)*wlGroupStride) % s.nGroups, true
}

// group returns the k-th group of user u.
func (s *wlSpec) group(u, k int) int {
	return (int(s.hash(3, 0, u)%uint64(s.nGroups)) + k*wlGroupStride) % s.nGroups
}

func (s *wlSpec) member(u, g int) bool {
	diff := (g - int(s.hash(3, 0, u)%uint64(s.nGroups)) + s.nGroups) % s.nGroups
	return diff%wlGroupStride == 0 && diff/wlGroupStride < wlGroupsPerUser
}

// parent returns the index of x's parent on level l+1.
func (s *wlSpec) parent(l, x int) int { return x / (s.levels[l].n / s.levels[l+1].n) }

// holds is the expected answer: user u holds permission p on document d
// through a grant to itself or to one of its groups, on d or an ancestor.
func (s *wlSpec) holds(u, p, d int) bool {
	x := d
	for l, lv := range s.levels {
		us := lv.slots - lv.groups
		diff := (u - int(s.hash(1, l, x)%wlUsers) + wlUsers) % wlUsers
		if j := diff / wlStride; diff%wlStride == 0 && j < us && s.perm(l, x, j) == p {
			return true
		}
		for j := us; j < lv.slots; j++ {
			if g, _ := s.holder(l, x, j); s.perm(l, x, j) == p && s.member(u, g) {
				return true
			}
		}
		if l+1 < len(s.levels) {
			x = s.parent(l, x)
		}
	}
	return false
}

type wlFixture struct {
	spec    *wlSpec
	store   *iam.MemoryStore
	policy  iam.Policy
	users   []*wlUser
	ids     [][]string // object IDs by level
	pool    []wlQuestion
	uniform []uint32 // indexes into pool
	zipf    []uint32
	allowed [2]float64 // share of allowed answers in uniform and zipf
	built   time.Duration
	logOnce sync.Once
}

// wlGet returns the fixture, logging its build once.
func wlGet(b *testing.B, get func() (*wlFixture, error)) *wlFixture {
	b.Helper()
	f, err := get()
	if err != nil {
		b.Fatal(err)
	}
	f.logOnce.Do(func() {
		st := f.store.Stats()
		b.Logf("fixture %s: %d grants, %d principals, built in %v; allowed: %.0f%% of uniform, %.0f%% of zipf",
			f.spec.name, st.Grants, st.Principals, f.built.Round(time.Millisecond), 100*f.allowed[0], 100*f.allowed[1])
	})
	return f
}

// wlUUID returns a random version-4 UUID string drawn from r.
func wlUUID(r *rand.Rand) string {
	var u [16]byte
	for i := range 2 {
		x := r.Uint64()
		for k := range 8 {
			u[i*8+k] = byte(x >> (8 * k))
		}
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	hex.Encode(s[9:13], u[4:6])
	hex.Encode(s[14:18], u[6:8])
	hex.Encode(s[19:23], u[8:10])
	hex.Encode(s[24:36], u[10:16])
	s[8], s[13], s[18], s[23] = '-', '-', '-', '-'
	return string(s[:])
}

func wlBuild(s *wlSpec) (*wlFixture, error) {
	start := time.Now()
	ctx := context.Background()
	f := &wlFixture{spec: s, store: iam.NewMemoryStore()}
	names := rand.New(rand.NewPCG(s.seed, 0x1d))
	name := func(prefix string, i int) string {
		if s.uuid {
			return wlUUID(names)
		}
		return prefix + strconv.Itoa(i)
	}
	f.users = make([]*wlUser, wlUsers)
	for i := range f.users {
		f.users[i] = &wlUser{id: name("u", i)}
	}
	f.ids = make([][]string, len(s.levels))
	types := make([]string, len(s.levels))
	for l, lv := range s.levels {
		types[l] = lv.typ
		f.ids[l] = make([]string, lv.n)
		for x := range f.ids[l] {
			f.ids[l][x] = name(lv.typ[:1], x)
		}
	}
	groupIDs := make([]string, s.nGroups)
	for g := range groupIDs {
		groupIDs[g] = "g" + strconv.Itoa(g)
	}
	for _, p := range wlPerms {
		f.policy.Perms = append(f.policy.Perms, iam.Perm{Name: p, Types: types})
	}

	// Loaded in batches of 256k objects (or users), one Update each: a
	// handful of snapshots rather than one per write.
	const batch = 1 << 18
	load := func(n int, fn func(tx *iam.MemoryTx, i int) error) error {
		for lo := 0; lo < n; lo += batch {
			err := f.store.Update(ctx, func(tx *iam.MemoryTx) error {
				for i := lo; i < min(lo+batch, n); i++ {
					if err := fn(tx, i); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
	want := 0
	for l, lv := range s.levels {
		want += lv.n * lv.slots
		err := load(lv.n, func(tx *iam.MemoryTx, x int) error {
			on := iam.Ref{Type: lv.typ, ID: f.ids[l][x]}
			for j := range lv.slots {
				id, group := s.holder(l, x, j)
				h := iam.User(f.users[id].id)
				if group {
					h = iam.Group(groupIDs[id])
				}
				if err := tx.Grant(iam.Grant{Holder: h, Perm: wlPerms[s.perm(l, x, j)], On: on}); err != nil {
					return err
				}
			}
			if l+1 < len(s.levels) {
				p := iam.Ref{Type: s.levels[l+1].typ, ID: f.ids[l+1][s.parent(l, x)]}
				return tx.SetParents(on, []iam.Ref{p})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if s.nGroups > 0 {
		err := load(wlUsers, func(tx *iam.MemoryTx, u int) error {
			for k := range wlGroupsPerUser {
				if err := tx.AddMember(f.users[u].id, groupIDs[s.group(u, k)]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if got := f.store.Stats().Grants; got != want || want != wlGrants {
		return nil, fmt.Errorf("fixture %s: the store holds %d grants, the spec makes %d, want %d", s.name, got, want, wlGrants)
	}
	f.questions()
	f.built = time.Since(start)
	return f, nil
}

// questions draws the fixture's distinct questions, allowed and denied in
// turn, and the sequences asked from them. Denied questions are half near
// misses (a holder of a grant on the document's chain, asking for another
// permission) and half a random user.
func (f *wlFixture) questions() {
	s := f.spec
	r := rand.New(rand.NewPCG(s.seed, 0x9e37))
	var members [][]int32
	if s.nGroups > 0 {
		members = make([][]int32, s.nGroups)
		for u := range wlUsers {
			for k := range wlGroupsPerUser {
				g := s.group(u, k)
				members[g] = append(members[g], int32(u))
			}
		}
	}
	seen := make(map[[3]int32]bool, wlPool)
	f.pool = make([]wlQuestion, 0, wlPool)
	for len(f.pool) < wlPool {
		want := len(f.pool)%2 == 0
		d := r.IntN(s.levels[0].n)
		var u, p int
		if want || r.IntN(2) == 0 {
			l := r.IntN(len(s.levels))
			x := d
			for k := range l {
				x = s.parent(k, x)
			}
			j := r.IntN(s.levels[l].slots)
			id, group := s.holder(l, x, j)
			u, p = id, s.perm(l, x, j)
			if group {
				ms := members[id]
				if len(ms) == 0 {
					continue
				}
				u = int(ms[r.IntN(len(ms))])
			}
			if !want {
				p = (p + 1 + r.IntN(len(wlPerms)-1)) % len(wlPerms)
			}
		} else {
			u, p = r.IntN(wlUsers), r.IntN(len(wlPerms))
		}
		k := [3]int32{int32(u), int32(p), int32(d)}
		if s.holds(u, p, d) != want || seen[k] {
			continue
		}
		seen[k] = true
		oid := f.ids[0][d]
		f.pool = append(f.pool, wlQuestion{user: f.users[u], perm: wlPerms[p], obj: iam.Ref{Type: s.levels[0].typ, ID: oid},
			oid: oid, bit: 1 << p, want: want})
	}
	f.uniform = make([]uint32, wlSeqLen)
	for i := range f.uniform {
		f.uniform[i] = uint32(r.IntN(wlPool))
	}
	// Zipf rank k is question k: the hottest questions alternate between
	// allowed and denied too.
	z := rand.NewZipf(r, wlZipfS, 1, wlPool-1)
	f.zipf = make([]uint32, wlSeqLen)
	for i := range f.zipf {
		f.zipf[i] = uint32(z.Uint64())
	}
	for n, seq := range [2][]uint32{f.uniform, f.zipf} {
		yes := 0
		for _, k := range seq {
			if f.pool[k].want {
				yes++
			}
		}
		f.allowed[n] = float64(yes) / float64(len(seq))
	}
}

type wlFloorMap struct {
	m       map[string]map[string]uint8 // user ID -> document ID -> permission bits
	built   time.Duration
	logOnce sync.Once
}

// wlBuildFloor fills the floor map from the flat fixture's generator: the
// same 1,000,000 grants, keyed by the same strings.
func wlBuildFloor() (*wlFloorMap, error) {
	f, err := wlFlat()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	s := f.spec
	m := make(map[string]map[string]uint8, wlUsers)
	for x := range s.levels[0].n {
		oid := f.ids[0][x]
		for j := range s.levels[0].slots {
			id, _ := s.holder(0, x, j)
			uid := f.users[id].id
			inner := m[uid]
			if inner == nil {
				inner = make(map[string]uint8)
				m[uid] = inner
			}
			inner[oid] |= 1 << s.perm(0, x, j)
		}
	}
	return &wlFloorMap{m: m, built: time.Since(start)}, nil
}

func wlChecker(b *testing.B, f *wlFixture, o iam.Options) *iam.Checker {
	b.Helper()
	c, err := iam.NewWithOptions(f.policy, f.store, o)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// wlSample returns the pool indexes checked before the timing: the first
// questions of the sequence (what the timed loop asks first) and questions
// spread over the whole pool (the hottest Zipf ranks among them).
func wlSample(seq []uint32) []uint32 {
	out := make([]uint32, 0, wlVerify)
	out = append(out, seq[:wlVerify/2]...)
	for k := range wlVerify / 2 {
		out = append(out, uint32(k*(wlPool/(wlVerify/2))))
	}
	return out
}

func wlVerifyAnswers(b *testing.B, f *wlFixture, seq []uint32, cs ...*iam.Checker) {
	b.Helper()
	ctx := context.Background()
	for _, k := range wlSample(seq) {
		q := &f.pool[k]
		for _, c := range cs {
			d, err := c.Check(ctx, q.user, q.perm, q.obj)
			if err != nil || d.Allowed != q.want {
				b.Fatalf("%s: Check(%s, %s, %s) = %v, %v; want allowed %v", f.spec.name, q.user.id, q.perm, q.oid, d, err, q.want)
			}
			if got := c.HasPerm(ctx, q.user, q.perm, q.obj); got != q.want {
				b.Fatalf("%s: HasPerm(%s, %s, %s) = %v, want %v", f.spec.name, q.user.id, q.perm, q.oid, got, q.want)
			}
		}
	}
	// Then every question once: the Checker compiles what it reads from
	// the store on first sight and keeps it until the store changes, so a
	// running application is in this state; without this pass the timing
	// would be of the first sight of each of the 131,072 questions.
	for k := range f.pool {
		q := &f.pool[k]
		for _, c := range cs {
			if got := c.HasPerm(ctx, q.user, q.perm, q.obj); got != q.want {
				b.Fatalf("%s: HasPerm(%s, %s, %s) = %v, want %v", f.spec.name, q.user.id, q.perm, q.oid, got, q.want)
			}
		}
	}
}

// wlChecks times seq through two checkers in turn (the same one twice for
// every mix but two_checkers): indexing by i&1 costs every mix the same.
func wlChecks(b *testing.B, f *wlFixture, seq []uint32, c0, c1 *iam.Checker) {
	wlVerifyAnswers(b, f, seq, c0, c1)
	ctx := context.Background()
	cs := [2]*iam.Checker{c0, c1}
	pool := f.pool
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q := &pool[seq[i&wlSeqMask]]
		if cs[i&1].HasPerm(ctx, q.user, q.perm, q.obj) != q.want {
			b.Fatalf("%s: wrong answer for %s %s %s", f.spec.name, q.user.id, q.perm, q.oid)
		}
		i++
	}
}

// wlWrites times the uniform sequence with one write per 100 checks,
// through the Checker's validated write path: a grant to a user the
// questions never ask about, then its revocation, so the store keeps its
// size and the expected answers hold. Every write also makes the answer
// cache's earlier answers unusable, as in an application. The cost of a
// write is in ns/op; allocs/write and B/write say what it allocates, which
// allocs/op (an integer, per check) would round away.
func wlWrites(b *testing.B, f *wlFixture, c *iam.Checker) {
	ctx := context.Background()
	seq := f.uniform
	wlVerifyAnswers(b, f, seq, c)
	r := rand.New(rand.NewPCG(f.spec.seed, 0x77))
	writes := make([]iam.Grant, 1024)
	for k := range writes {
		doc := iam.Ref{Type: "doc", ID: f.ids[0][r.IntN(len(f.ids[0]))]}
		writes[k] = iam.Grant{Holder: iam.User("w" + strconv.Itoa(k)), Perm: wlPerms[k%len(wlPerms)], On: doc}
	}
	pool := f.pool
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	i, w, next := 0, 0, 100
	for b.Loop() {
		if next--; next == 0 {
			next = 100
			g := writes[(w/2)%len(writes)]
			var err error
			if w&1 == 0 {
				err = c.Grant(ctx, g)
			} else {
				err = c.Revoke(ctx, g)
			}
			if err != nil {
				b.Fatal(err)
			}
			w++
		}
		q := &pool[seq[i&wlSeqMask]]
		if c.HasPerm(ctx, q.user, q.perm, q.obj) != q.want {
			b.Fatalf("writes: wrong answer for %s %s %s", q.user.id, q.perm, q.oid)
		}
		i++
	}
	runtime.ReadMemStats(&after)
	if w > 0 {
		b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(w), "allocs/write")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(w), "B/write")
	}
	if w&1 == 1 {
		if err := c.Revoke(ctx, writes[(w/2)%len(writes)]); err != nil {
			b.Fatal(err)
		}
	}
	if got := f.store.Stats().Grants; got != wlGrants {
		b.Fatalf("writes: the store holds %d grants after the run, want %d", got, wlGrants)
	}
	wlVerifyAnswers(b, f, seq, c)
}
