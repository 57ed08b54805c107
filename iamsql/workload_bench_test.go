package iamsql_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
	"github.com/iamgo/iam/internal/workload"
)

// BenchmarkSQLWorkload is the root package's BenchmarkWorkload (zipf,
// uniform, writes) on the SQL stores: many different questions over a
// large store, about half of them allowed, drawn with a Zipf or a uniform
// distribution, with writes interleaved. The checks go through the store's
// cache (DefaultOptions, with a longer TTL: see swOptions), warmed before
// the timing: the path a running application takes. The memory
// sub-benchmarks ask the same questions of an iam.MemoryStore holding the
// same grants (through the Checker's answer cache, which only the memory
// store has), so the SQL figures read as ratios to memory in one run.
//
// The scale is a tenth of the root benchmark's: 100,000 grants (25,000
// documents with 4 grants each) and 10,000 users, for all three stores
// alike, because loading 1,000,000 grants through the Writer takes too long
// for a benchmark run. The generator is the root benchmark's
// (internal/workload, by formulas), so every expected answer is known
// without asking a store. The questions (65,536 distinct) and their
// sequences are built once per process; each store is loaded once, in one
// Update transaction (SQLite into a file under the group's temporary
// directory, PostgreSQL into a schema of its own), when its group first
// runs, never by the ordinary tests, and the load time is logged.
//
// Each sub-benchmark first empties the SQL cache and checks 4,096
// questions against the generator's answers (Check and HasPerm), so they
// are read from the database; then it asks every question once so that the
// cache holds what the timed loop reads, and the timed loop compares every
// answer too. misses/op is the share of checks the SQL cache could not
// answer: zero for zipf and uniform, the refills after each write for
// writes.
func BenchmarkSQLWorkload(b *testing.B) {
	groups := []struct {
		name string
		once *swOnce
		open func(b *testing.B, g *swGen) (*swStore, error)
	}{
		{"sqlite", &swSQLite, swOpenSQLite},
		{"postgres", &swPostgres, swOpenPostgres},
		{"memory", &swMemory, swOpenMemory},
	}
	for _, grp := range groups {
		b.Run(grp.name, func(b *testing.B) {
			if grp.name == "postgres" && os.Getenv(pgDSNEnv) == "" {
				b.Skip(pgDSNEnv + " is not set: the PostgreSQL workload is not run (scripts/with-postgres starts a server)")
			}
			g, err := swGenOnce()
			if err != nil {
				b.Fatal(err)
			}
			st := grp.once.get(b, g, grp.open)
			b.Run("zipf", func(b *testing.B) { swChecks(b, g, st, g.zipf) })
			b.Run("uniform", func(b *testing.B) { swChecks(b, g, st, g.uniform) })
			b.Run("writes", func(b *testing.B) { swWrites(b, g, st) })
		})
	}
}

const (
	// swDiv scales the root benchmark's workload down: a tenth of it.
	swDiv = 10
	// swPool distinct questions; the sequences index into them.
	swPool    = 1 << 16
	swSeqMask = workload.SeqLen - 1
	// swSampleLen questions of each sequence are checked before the timing.
	swSampleLen = 4096
	// swWriteEvery checks per validated write in the writes mix.
	swWriteEvery = 100
)

type swUser struct{ id string }

func (u *swUser) SubjectID() string { return u.id }

// swQuestion is one (user, permission, document) question and its expected
// answer. Subject and object are boxed once here, so asking allocates
// nothing of the benchmark's own.
type swQuestion struct {
	sub  iam.Subject
	perm string
	obj  iam.Object
	want bool
}

// swGen is the generated data: the same for every store.
type swGen struct {
	w       *workload.Workload
	policy  iam.Policy
	pool    []swQuestion // w.Pool in iam's terms
	uniform []uint32     // indexes into pool
	zipf    []uint32
	built   time.Duration
	logged  sync.Once
}

// swGrant is g in iam's terms.
func swGrant(g workload.Grant) iam.Grant {
	return iam.Grant{Holder: iam.User(g.User), Perm: g.Perm, On: iam.Ref{Type: g.ObjectType, ID: g.ObjectID}}
}

// swGenOnce generates the root benchmark's flat workload at a tenth of its
// size, with 65,536 questions.
var swGenOnce = sync.OnceValues(func() (*swGen, error) {
	start := time.Now()
	spec := workload.Flat(swDiv)
	spec.Pool = swPool
	w, err := workload.Generate(spec)
	if err != nil {
		return nil, err
	}
	g := &swGen{w: w, uniform: w.Uniform, zipf: w.Zipf}
	for _, p := range w.Perms {
		g.policy.Perms = append(g.policy.Perms, iam.Perm{Name: p, Types: []string{spec.Levels[0].Type}})
	}
	subs := make([]*swUser, len(w.Users))
	for i, id := range w.Users {
		subs[i] = &swUser{id: id}
	}
	objs := make([]iam.Object, len(w.Objects[0]))
	for i, id := range w.Objects[0] {
		objs[i] = iam.Ref{Type: spec.Levels[0].Type, ID: id}
	}
	g.pool = make([]swQuestion, len(w.Pool))
	for k, q := range w.Pool {
		g.pool[k] = swQuestion{sub: subs[q.User], perm: w.Perms[q.Perm], obj: objs[q.Object], want: q.Want}
	}
	g.built = time.Since(start)
	return g, nil
})

// logOnce logs how the questions and the store were built, on the first
// sub-benchmark of each store: a group benchmark's own log is shown only
// with -v, a sub-benchmark's always.
func (s *swStore) logOnce(b *testing.B, g *swGen) {
	g.logged.Do(func() {
		b.Logf("questions: %d distinct, over %d grants and %d users, built in %v; allowed: %.0f%% of uniform, %.0f%% of zipf",
			len(g.pool), g.w.NumGrants(), len(g.w.Users), g.built.Round(time.Millisecond),
			100*g.w.AllowedShare(g.uniform), 100*g.w.AllowedShare(g.zipf))
	})
	s.logged.Do(func() {
		b.Logf("%s: loaded %d grants in %v", s.name, g.w.NumGrants(), s.loaded.Round(time.Millisecond))
	})
}

// swStore is one loaded store.
type swStore struct {
	name  string
	store iam.Store
	sql   *iamsql.Store // nil for the memory store
	mem   *iam.MemoryStore

	loaded time.Duration // how long opening and loading took
	logged sync.Once
	warmed sync.Once
}

// grants counts the grants the SQL store holds.
func (s *swStore) grants(ctx context.Context) (int, error) {
	var n int
	err := s.sql.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM iam_grants`).Scan(&n)
	return n, err
}

// misses is the SQL cache's miss count so far (0 for the memory store).
func (s *swStore) misses() uint64 {
	if s.sql == nil {
		return 0
	}
	return s.sql.Cache().Stats().Misses
}

// swOnce loads one kind of store once per process. The store lives in the
// group benchmark's temporary directory or schema, so it is closed (and
// its data removed) when the group ends.
type swOnce struct {
	once sync.Once
	s    *swStore
	err  error
}

var swSQLite, swPostgres, swMemory swOnce

func (o *swOnce) get(b *testing.B, g *swGen, open func(*testing.B, *swGen) (*swStore, error)) *swStore {
	b.Helper()
	o.once.Do(func() {
		o.err = fmt.Errorf("%s: the load stopped", b.Name()) // replaced unless the load failed the benchmark
		start := time.Now()
		s, err := open(b, g)
		if err != nil {
			o.err = err
			return
		}
		s.loaded = time.Since(start)
		o.s, o.err = s, nil
	})
	if o.err != nil {
		b.Fatal(o.err)
	}
	return o.s
}

func swOpenMemory(_ *testing.B, g *swGen) (*swStore, error) {
	m := iam.NewMemoryStore()
	err := m.Transact(context.Background(), func(ctx context.Context, tx iam.Store) error {
		for gr := range g.w.Grants() {
			if err := tx.Grant(ctx, swGrant(gr)); err != nil {
				return err
			}
		}
		return nil
	})
	return &swStore{name: "memory", store: m, mem: m}, err
}

// swLoadSQL writes every grant through the Writer, in one transaction.
func swLoadSQL(s *iamsql.Store, g *swGen) error {
	ctx := context.Background()
	return s.Update(ctx, func(_ *sql.Tx, w *iamsql.Writer) error {
		for gr := range g.w.Grants() {
			if err := w.Grant(ctx, swGrant(gr)); err != nil {
				return err
			}
		}
		return nil
	})
}

// swOptions are DefaultOptions with a longer cache TTL. Filling the cache
// with every question's entries (about 35,000 reads) takes 5 to 10 s here,
// as long as the default TTL of 10 s, so entries filled first would expire
// during the timing and the figure would count refills at a rate set by
// the machine's speed, not by the workload. The hit path is the same for
// any TTL.
func swOptions() iamsql.Options {
	o := iamsql.DefaultOptions()
	o.CacheTTL = time.Minute
	return o
}

func swOpenSQLite(b *testing.B, g *swGen) (*swStore, error) {
	s := openSQLite(b, swOptions())
	if err := swLoadSQL(s, g); err != nil {
		return nil, err
	}
	return &swStore{name: "sqlite", store: s, sql: s}, nil
}

func swOpenPostgres(b *testing.B, g *swGen) (*swStore, error) {
	s := openPostgres(b, swOptions())
	before := s.ListenerStats().Notifications
	if err := swLoadSQL(s, g); err != nil {
		return nil, err
	}
	// The load's NOTIFYs reach this process's own listener after the
	// commit; let it drain them first, or its invalidations would empty
	// entries the warm-up fills. Drained means the count has moved and
	// then stood still for half a second (or nothing came within 10 s).
	start, last, still := time.Now(), before, 0
	for still < 5 && time.Since(start) < time.Minute {
		time.Sleep(100 * time.Millisecond)
		n := s.ListenerStats().Notifications
		switch {
		case n == before && time.Since(start) > 10*time.Second:
			still = 5
		case n != last || n == before:
			last, still = n, 0
		default:
			still++
		}
	}
	// A freshly filled table has no planner statistics yet; autovacuum
	// would gather them soon after in a running application.
	if _, err := s.DB().Exec(`ANALYZE iam_grants`); err != nil {
		return nil, err
	}
	return &swStore{name: "postgres", store: s, sql: s}, nil
}

func swChecker(b *testing.B, g *swGen, st *swStore) *iam.Checker {
	b.Helper()
	st.logOnce(b, g)
	c, err := iam.New(g.policy, st.store)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// swVerify checks a sample of seq against the generator's answers, read
// from the database: the SQL cache is emptied first.
func swVerify(b *testing.B, g *swGen, st *swStore, c *iam.Checker, seq []uint32) {
	b.Helper()
	ctx := context.Background()
	if st.sql != nil {
		st.sql.Cache().InvalidateAll()
	}
	for _, k := range g.w.Sample(seq, swSampleLen) {
		q := &g.pool[k]
		d, err := c.Check(ctx, q.sub, q.perm, q.obj)
		if err != nil || d.Allowed != q.want {
			b.Fatalf("%s: Check(%s, %s, %v) = %v, %v; want allowed %v", st.name, q.sub.SubjectID(), q.perm, q.obj, d, err, q.want)
		}
		if got := c.HasPerm(ctx, q.sub, q.perm, q.obj); got != q.want {
			b.Fatalf("%s: HasPerm(%s, %s, %v) = %v, want %v", st.name, q.sub.SubjectID(), q.perm, q.obj, got, q.want)
		}
	}
}

// swVerifyAndWarm verifies, then asks every question once, so that the
// cache and the Checker hold what the timed loop reads, and once more to
// confirm that the cache answers everything.
func swVerifyAndWarm(b *testing.B, g *swGen, st *swStore, c *iam.Checker, seq []uint32) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	swVerify(b, g, st, c, seq)
	var misses uint64
	for range 2 {
		m := st.misses()
		for k := range g.pool {
			q := &g.pool[k]
			if got := c.HasPerm(ctx, q.sub, q.perm, q.obj); got != q.want {
				b.Fatalf("%s: HasPerm(%s, %s, %v) = %v, want %v", st.name, q.sub.SubjectID(), q.perm, q.obj, got, q.want)
			}
		}
		misses = st.misses() - m
	}
	st.warmed.Do(func() {
		if st.sql == nil {
			b.Logf("%s: verified and warmed in %v", st.name, time.Since(start).Round(time.Millisecond))
			return
		}
		b.Logf("%s: verified and warmed from an empty cache in %v (%d misses on the confirming pass)",
			st.name, time.Since(start).Round(time.Millisecond), misses)
	})
}

func swChecks(b *testing.B, g *swGen, st *swStore, seq []uint32) {
	c := swChecker(b, g, st)
	swVerifyAndWarm(b, g, st, c, seq)
	ctx := context.Background()
	pool := g.pool
	m := st.misses()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q := &pool[seq[i&swSeqMask]]
		if c.HasPerm(ctx, q.sub, q.perm, q.obj) != q.want {
			b.Fatalf("%s: wrong answer for %s %s %v", st.name, q.sub.SubjectID(), q.perm, q.obj)
		}
		i++
	}
	if st.sql != nil {
		b.ReportMetric(float64(st.misses()-m)/float64(i), "misses/op")
	}
}

// swWrites times the uniform sequence with one validated write per
// swWriteEvery checks: a grant to a user the questions never ask about,
// then its revocation, so the store keeps its size and the expected
// answers hold. Every write drops the written document's cache entry, so
// the next check on it reads the database again, as in an application.
// The cost of a write is in ns/op; allocs/write and B/write say what each
// write allocates with its refills (and, on PostgreSQL, its notification),
// which allocs/op (an integer, per check) would round away.
func swWrites(b *testing.B, g *swGen, st *swStore) {
	ctx := context.Background()
	seq := g.uniform
	c := swChecker(b, g, st)
	swVerifyAndWarm(b, g, st, c, seq)
	writes := make([]iam.Grant, 1024)
	for k, wg := range g.w.Writes(len(writes)) {
		writes[k] = swGrant(wg)
	}
	pool := g.pool
	m := st.misses()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	i, w, next := 0, 0, swWriteEvery
	for b.Loop() {
		if next--; next == 0 {
			next = swWriteEvery
			wg := writes[(w/2)%len(writes)]
			var err error
			if w&1 == 0 {
				err = c.Grant(ctx, wg)
			} else {
				err = c.Revoke(ctx, wg)
			}
			if err != nil {
				b.Fatal(err)
			}
			w++
		}
		q := &pool[seq[i&swSeqMask]]
		if c.HasPerm(ctx, q.sub, q.perm, q.obj) != q.want {
			b.Fatalf("%s writes: wrong answer for %s %s %v", st.name, q.sub.SubjectID(), q.perm, q.obj)
		}
		i++
	}
	runtime.ReadMemStats(&after)
	if w > 0 {
		b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(w), "allocs/write")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(w), "B/write")
	}
	if st.sql != nil {
		b.ReportMetric(float64(st.misses()-m)/float64(i), "misses/op")
	}
	if w&1 == 1 {
		if err := c.Revoke(ctx, writes[(w/2)%len(writes)]); err != nil {
			b.Fatal(err)
		}
	}
	// The root package's BenchmarkWorkload/writes counts the memory
	// store's grants the same way.
	if st.sql != nil {
		n, err := st.grants(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n != g.w.NumGrants() {
			b.Fatalf("%s writes: the store holds %d grants after the run, want %d", st.name, n, g.w.NumGrants())
		}
	}
	swVerify(b, g, st, c, seq)
}
