package benchmarks

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/iamgo/iam/internal/workload"
)

// MixDiv divides the root BenchmarkWorkload's flat workload for
// BenchmarkWorkload here: 1 is the same 1,000,000 grants over 100,000
// users and 250,000 documents, with the same 131,072 questions and
// sequences.
const MixDiv = 1

// Mixes are BenchmarkWorkload's mixes, in table order: the Zipf (s ≈ 1.1)
// and uniform sequences over the question pool, and the uniform one with
// one write per mixWriteEvery checks.
var Mixes = []string{"zipf", "uniform", "writes"}

const (
	// mixVerify questions of each sequence are checked before the
	// timing, as in the root benchmark.
	mixVerify     = 4096
	mixWriteEvery = 100
	// mixWriteProbe writes (grants and their revocations in turn) are
	// timed alone after the writes mix.
	mixWriteProbe = 64
)

// mixSpec is the workload BenchmarkWorkload loads.
func mixSpec() workload.Spec { return workload.Flat(MixDiv) }

var mixWorkload = sync.OnceValues(func() (*workload.Workload, error) { return workload.Generate(mixSpec()) })

// mixFixture is one library loaded with the workload.
type mixFixture struct {
	lib    string
	w      *workload.Workload
	e      MixEngine
	decide func(k int) (bool, error)
	// verified decides the questions verified before the timing: decide,
	// or casbin's own evaluation under casbin_cached's filled cache.
	verified func(k int) (bool, error)
	writes   []workload.Grant
}

func newMixFixture(lib string, w *workload.Workload, e MixEngine) *mixFixture {
	f := &mixFixture{lib: lib, w: w, e: e, decide: e.Prepare(), writes: w.Writes(1024)}
	f.verified = f.decide
	if v, ok := e.(mixVerifier); ok {
		f.verified = v.PrepareUncached()
	}
	return f
}

var (
	mixMu       sync.Mutex
	mixFixtures = map[string]*mixFixture{}
)

// loadMix builds lib's fixture once per process, on the first
// BenchmarkWorkload run that needs it (never in the ordinary tests), and
// prints its load time and heap in a line benchstat ignores.
func loadMix(b *testing.B, lib string) *mixFixture {
	b.Helper()
	mixMu.Lock()
	defer mixMu.Unlock()
	if f, ok := mixFixtures[lib]; ok {
		return f
	}
	w, err := mixWorkload()
	if err != nil {
		b.Fatal(err)
	}
	before := heap()
	t0 := time.Now()
	e, err := BuildMix(lib, w)
	if err != nil {
		b.Fatal(err)
	}
	took := time.Since(t0)
	delta := float64(heap()) - float64(before)
	n := w.NumGrants()
	fmt.Fprintf(os.Stdout, "Load workload %s: %d grants in %v, heap %.1f MB, %.1f bytes per grant\n",
		lib, n, took.Round(time.Millisecond), delta/1e6, delta/float64(n))
	f := newMixFixture(lib, w, e)
	mixFixtures[lib] = f
	return f
}

// BenchmarkWorkload runs the root package's realistic mixes through every
// library: BenchmarkWorkload/<iam|iam_nocache|casbin|casbin_cached|opa>/<zipf|uniform|writes>.
// The data is internal/workload's flat workload, the root
// BenchmarkWorkload's: 1,000,000 grants of 3 permissions on 250,000
// documents to 100,000 users, 131,072 distinct questions about half of
// them allowed, drawn with a Zipf or a uniform distribution. The writes
// mix adds one write per 100 checks through the library's own write API: a
// grant to a user the questions never ask about, then its revocation.
// Each library is loaded once per process, by the first run that needs
// it; run one library per process (compare.sh does), so that the others'
// heaps do not weigh on its garbage collections.
//
// Every answer is compared with the generator's: before the timing a
// sample of the sequence (4,096 questions; 8 for casbin, whose Enforce
// scans every policy line), and every answer of the timed loop. Then each
// engine is put in the state of a running application that has asked
// every question before: the iam and OPA engines answer every question
// once; casbin_cached's cache is filled with every answer (see
// cachedCasbinMix.Warm), its sample verified through casbin's uncached
// evaluation; the plain Enforcer has nothing to warm.
func BenchmarkWorkload(b *testing.B) {
	for _, lib := range Libraries {
		b.Run(lib, func(b *testing.B) {
			f := loadMix(b, lib)
			for _, mix := range Mixes {
				b.Run(mix, func(b *testing.B) { f.run(b, mix) })
			}
		})
	}
}

func isCasbin(lib string) bool { return lib == "casbin" || lib == "casbin_cached" }

// verify checks a sample of seq against the generator's answers.
func (f *mixFixture) verify(b *testing.B, seq []uint32) {
	b.Helper()
	n := mixVerify
	if isCasbin(f.lib) {
		n = min(mixVerify, max(8, CasbinBudget/f.w.NumGrants()))
	}
	if err := f.check(f.verified, f.w.Sample(seq, n)); err != nil {
		b.Fatal(err)
	}
}

func (f *mixFixture) check(decide func(int) (bool, error), ks []uint32) error {
	for _, k := range ks {
		q := f.w.Pool[k]
		if got, err := decide(int(k)); err != nil || got != q.Want {
			return fmt.Errorf("%s: question %d (%s %s %s) = %v, %v; want %v",
				f.lib, k, f.w.Users[q.User], f.w.Perms[q.Perm], f.w.Objects[0][q.Object], got, err, q.Want)
		}
	}
	return nil
}

// warm puts the engine in the state of an application that has asked
// every question once.
func (f *mixFixture) warm(b *testing.B) {
	b.Helper()
	switch e := f.e.(type) {
	case mixWarmer:
		e.Warm()
	default:
		if f.lib == "casbin" {
			return // no cache, nothing compiled on first sight
		}
		all := make([]uint32, len(f.w.Pool))
		for k := range all {
			all[k] = uint32(k)
		}
		if err := f.check(f.decide, all); err != nil {
			b.Fatal(err)
		}
	}
}

// run times seq (uniform for writes), with one write per mixWriteEvery
// checks in the writes mix. After the timing, the writes mix also times
// mixWriteProbe writes alone, without checks between them: ns/write,
// B/write and allocs/write are the write API's own cost (casbin's and
// OPA's checks allocate, so what the timed loop allocated per write would
// be mostly theirs); what a write costs the checks after it (iam's
// retired answers) is in ns/op.
func (f *mixFixture) run(b *testing.B, mix string) {
	w := f.w
	seq := w.Uniform
	if mix == "zipf" {
		seq = w.Zipf
	}
	f.verify(b, seq)
	f.warm(b)
	writes := mix == "writes"
	decide, pool, e := f.decide, w.Pool, f.e
	mask := len(seq) - 1
	b.ReportAllocs()
	i, nw, next := 0, 0, mixWriteEvery
	for b.Loop() {
		if writes {
			if next--; next == 0 {
				next = mixWriteEvery
				g := f.writes[(nw/2)%len(f.writes)]
				var err error
				if nw&1 == 0 {
					err = e.Grant(g)
				} else {
					err = e.Revoke(g)
				}
				if err != nil {
					b.Fatal(err)
				}
				nw++
			}
		}
		k := seq[i&mask]
		if got, err := decide(int(k)); err != nil || got != pool[k].Want {
			b.Fatalf("%s %s: question %d = %v, %v; want %v", f.lib, mix, k, got, err, pool[k].Want)
		}
		i++
	}
	if !writes {
		return
	}
	if nw&1 == 1 {
		if err := e.Revoke(f.writes[(nw/2)%len(f.writes)]); err != nil {
			b.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	for n := range mixWriteProbe {
		g := f.writes[n/2]
		var err error
		if n&1 == 0 {
			err = e.Grant(g)
		} else {
			err = e.Revoke(g)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	took := time.Since(t0)
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(took.Nanoseconds())/mixWriteProbe, "ns/write")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/mixWriteProbe, "B/write")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/mixWriteProbe, "allocs/write")
	f.verify(b, seq)
}

// TestWorkloadEngines loads a hundredth of BenchmarkWorkload's workload
// into every library (never the full one) and checks that each gives the
// generator's answers, and that a grant written and revoked through its
// write API turns a denied question allowed and back.
func TestWorkloadEngines(t *testing.T) {
	spec := workload.Flat(100)
	spec.SeqLen = 1 << 12
	w, err := workload.Generate(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, lib := range Libraries {
		t.Run(lib, func(t *testing.T) {
			e, err := BuildMix(lib, w)
			if err != nil {
				t.Fatal(err)
			}
			f := newMixFixture(lib, w, e)
			ks := w.Sample(w.Uniform, 400)
			if isCasbin(lib) {
				ks = ks[:100] // each check scans every line
			}
			if err := f.check(f.verified, ks); err != nil {
				t.Fatal(err)
			}
			if wm, ok := e.(mixWarmer); ok {
				wm.Warm()
			}
			if err := f.check(f.decide, ks); err != nil {
				t.Fatal(err)
			}
			k := slices.IndexFunc(w.Pool, func(q workload.Question) bool { return !q.Want })
			q := w.Pool[k]
			g := workload.Grant{User: w.Users[q.User], Perm: w.Perms[q.Perm], ObjectType: spec.Levels[0].Type, ObjectID: w.Objects[0][q.Object]}
			if got, err := f.decide(k); err != nil || got {
				t.Fatalf("before the grant: %v, %v; want denied", got, err)
			}
			if err := e.Grant(g); err != nil {
				t.Fatal(err)
			}
			if got, err := f.decide(k); err != nil || !got {
				t.Fatalf("after Grant(%+v): %v, %v; want allowed", g, got, err)
			}
			if err := e.Revoke(g); err != nil {
				t.Fatal(err)
			}
			if got, err := f.decide(k); err != nil || got {
				t.Fatalf("after Revoke(%+v): %v, %v; want denied", g, got, err)
			}
			for _, g := range w.Writes(4) {
				if err := e.Grant(g); err != nil {
					t.Fatal(err)
				}
				if err := e.Revoke(g); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.check(f.decide, ks); err != nil {
				t.Fatal(err)
			}
		})
	}
}
