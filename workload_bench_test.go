package iam_test

import (
	"context"
	"fmt"
	"iter"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/internal/workload"
)

// BenchmarkWorkload measures checks the way an application asks them: many
// different questions over a large store (1,000,000 grants, 100,000 users),
// about half of them allowed, drawn with a Zipf or a uniform distribution,
// with writes interleaved, through groups and through an ancestry. The
// floor sub-benchmark answers the same question sequence as uniform from a
// bare two-level Go map over the same grants, so every other figure reads
// as a ratio to it in one run.
//
// The data comes from internal/workload, which the iamsql benchmarks and
// the benchmarks module (iam beside casbin and OPA) load too. Each fixture
// has 1,000,000 grants and 100,000 users and is built once per process, on
// the first sub-benchmark that needs it, never by the ordinary tests: the
// flat one (short IDs) serves floor, zipf, uniform, writes and
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
		floor.logOnce.Do(func() { b.Logf("floor map: %d grants built in %v", workload.Grants, floor.built) })
		m := floor.m
		seq := f.w.Uniform
		for _, k := range f.w.Sample(seq, wlVerify) {
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
			wlChecks(b, f, f.w.Zipf, c, c)
		})
		b.Run("uniform"+v.suffix, func(b *testing.B) {
			f := wlGet(b, wlFlat)
			c := wlChecker(b, f, v.o)
			wlChecks(b, f, f.w.Uniform, c, c)
		})
	}
	b.Run("uuid", func(b *testing.B) {
		f := wlGet(b, wlUUIDs)
		c := wlChecker(b, f, iam.Options{})
		wlChecks(b, f, f.w.Uniform, c, c)
	})
	b.Run("writes", func(b *testing.B) {
		f := wlGet(b, wlFlat)
		c := wlChecker(b, f, iam.Options{})
		wlWrites(b, f, c)
	})
	b.Run("groups20", func(b *testing.B) {
		f := wlGet(b, wlGroups)
		c := wlChecker(b, f, iam.Options{})
		wlChecks(b, f, f.w.Uniform, c, c)
	})
	b.Run("depth4", func(b *testing.B) {
		f := wlGet(b, wlDepth)
		c := wlChecker(b, f, iam.Options{})
		wlChecks(b, f, f.w.Uniform, c, c)
	})
	b.Run("two_checkers", func(b *testing.B) {
		f := wlGet(b, wlFlat)
		wlChecks(b, f, f.w.Uniform, wlChecker(b, f, iam.Options{}), wlChecker(b, f, iam.Options{}))
	})
}

const (
	wlSeqMask = workload.SeqLen - 1
	// wlVerify questions of each sequence are checked before the timing.
	wlVerify = 4096
	// wlBatch changes go into one Update while loading: a handful of
	// snapshots rather than one per write.
	wlBatch = 1 << 20
)

// The fixtures, built on first use only. Flat: documents with 4 grants
// each; uuid: the same with UUID-shaped IDs; groups20: half of the grants
// on each document go to groups, each user in 20 of 10,000 groups;
// depth4: documents in folders in projects in organisations, with grants
// on every level (see the workload package).
var (
	wlFlat   = sync.OnceValues(func() (*wlFixture, error) { return wlBuild(workload.Flat(1)) })
	wlUUIDs  = sync.OnceValues(func() (*wlFixture, error) { return wlBuild(workload.UUIDs(1)) })
	wlGroups = sync.OnceValues(func() (*wlFixture, error) { return wlBuild(workload.Groups20(1)) })
	wlDepth  = sync.OnceValues(func() (*wlFixture, error) { return wlBuild(workload.Depth4(1)) })
	wlFloor  = sync.OnceValues(wlBuildFloor)
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

type wlFixture struct {
	w       *workload.Workload
	store   *iam.MemoryStore
	policy  iam.Policy
	pool    []wlQuestion // w.Pool in iam's terms
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
		st := iam.CountMemory(f.store)
		b.Logf("fixture %s: %d grants, %d principals, built in %v; allowed: %.0f%% of uniform, %.0f%% of zipf",
			f.w.Spec.Name, st.Grants, st.Principals, f.built.Round(time.Millisecond),
			100*f.w.AllowedShare(f.w.Uniform), 100*f.w.AllowedShare(f.w.Zipf))
	})
	return f
}

// wlGrant is g in iam's terms.
func wlGrant(g workload.Grant) iam.Grant {
	h := iam.User(g.User)
	if g.Group != "" {
		h = iam.Group(g.Group)
	}
	return iam.Grant{Holder: h, Perm: g.Perm, On: iam.Ref{Type: g.ObjectType, ID: g.ObjectID}}
}

// wlLoad applies fn to every element of seq, wlBatch of them per Update.
func wlLoad[T any](store *iam.MemoryStore, seq iter.Seq[T], fn func(ctx context.Context, tx iam.Store, v T) error) error {
	next, stop := iter.Pull(seq)
	defer stop()
	for more := true; more; {
		err := store.Transact(context.Background(), func(ctx context.Context, tx iam.Store) error {
			for range wlBatch {
				v, ok := next()
				if !ok {
					more = false
					return nil
				}
				if err := fn(ctx, tx, v); err != nil {
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

func wlBuild(s workload.Spec) (*wlFixture, error) {
	start := time.Now()
	w, err := workload.Generate(s)
	if err != nil {
		return nil, err
	}
	f := &wlFixture{w: w, store: iam.NewMemoryStore()}
	types := make([]string, len(s.Levels))
	for l, lv := range s.Levels {
		types[l] = lv.Type
	}
	for _, p := range w.Perms {
		f.policy.Perms = append(f.policy.Perms, iam.Perm{Name: p, Types: types})
	}
	err = wlLoad(f.store, w.Grants(), func(ctx context.Context, tx iam.Store, g workload.Grant) error { return tx.Grant(ctx, wlGrant(g)) })
	if err == nil {
		err = wlLoad(f.store, w.Parents(), func(ctx context.Context, tx iam.Store, p workload.Parent) error {
			return tx.(iam.ParentStore).SetParents(ctx, iam.Ref{Type: p.Type, ID: p.ID}, []iam.Ref{{Type: p.ParentType, ID: p.ParentID}})
		})
	}
	if err == nil {
		err = wlLoad(f.store, w.Memberships(), func(ctx context.Context, tx iam.Store, m workload.Membership) error {
			return tx.AddMember(ctx, m.User, m.Group)
		})
	}
	if err != nil {
		return nil, err
	}
	if got, want := iam.CountMemory(f.store).Grants, w.NumGrants(); got != want || want != workload.Grants {
		return nil, fmt.Errorf("fixture %s: the store holds %d grants, the spec makes %d, want %d", s.Name, got, want, workload.Grants)
	}
	users := make([]*wlUser, len(w.Users))
	for i, id := range w.Users {
		users[i] = &wlUser{id: id}
	}
	f.pool = make([]wlQuestion, len(w.Pool))
	for k, q := range w.Pool {
		oid := w.Objects[0][q.Object]
		f.pool[k] = wlQuestion{user: users[q.User], perm: w.Perms[q.Perm], obj: iam.Ref{Type: s.Levels[0].Type, ID: oid},
			oid: oid, bit: 1 << q.Perm, want: q.Want}
	}
	f.built = time.Since(start)
	return f, nil
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
	bits := map[string]uint8{}
	for p, name := range f.w.Perms {
		bits[name] = 1 << p
	}
	m := make(map[string]map[string]uint8, len(f.w.Users))
	for g := range f.w.Grants() {
		inner := m[g.User]
		if inner == nil {
			inner = make(map[string]uint8)
			m[g.User] = inner
		}
		inner[g.ObjectID] |= bits[g.Perm]
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

func wlVerifyAnswers(b *testing.B, f *wlFixture, seq []uint32, cs ...*iam.Checker) {
	b.Helper()
	ctx := context.Background()
	name := f.w.Spec.Name
	for _, k := range f.w.Sample(seq, wlVerify) {
		q := &f.pool[k]
		for _, c := range cs {
			d, err := c.Check(ctx, q.user, q.perm, q.obj)
			if err != nil || d.Allowed != q.want {
				b.Fatalf("%s: Check(%s, %s, %s) = %v, %v; want allowed %v", name, q.user.id, q.perm, q.oid, d, err, q.want)
			}
			if got := c.HasPerm(ctx, q.user, q.perm, q.obj); got != q.want {
				b.Fatalf("%s: HasPerm(%s, %s, %s) = %v, want %v", name, q.user.id, q.perm, q.oid, got, q.want)
			}
		}
	}
	// Then every question once: the Checker compiles what it reads from
	// the store on first sight and keeps it until the store changes, so a
	// running application is in this state; without this pass the timing
	// would be of the first sight of each of the pool's questions.
	for k := range f.pool {
		q := &f.pool[k]
		for _, c := range cs {
			if got := c.HasPerm(ctx, q.user, q.perm, q.obj); got != q.want {
				b.Fatalf("%s: HasPerm(%s, %s, %s) = %v, want %v", name, q.user.id, q.perm, q.oid, got, q.want)
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
			b.Fatalf("%s: wrong answer for %s %s %s", f.w.Spec.Name, q.user.id, q.perm, q.oid)
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
	seq := f.w.Uniform
	wlVerifyAnswers(b, f, seq, c)
	writes := make([]iam.Grant, 1024)
	for k, g := range f.w.Writes(len(writes)) {
		writes[k] = wlGrant(g)
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
	if got := iam.CountMemory(f.store).Grants; got != workload.Grants {
		b.Fatalf("writes: the store holds %d grants after the run, want %d", got, workload.Grants)
	}
	wlVerifyAnswers(b, f, seq, c)
}
