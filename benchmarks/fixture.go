package benchmarks

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// CasbinBudget bounds the casbin policy lines one casbin engine scans in a
// scenario's sample cross-check (requests × p lines). casbin's Enforce
// scans every p line (~1-3 µs each with a g() matcher), so
// 10,000 requests over 1M lines would take hours: at that size casbin
// checks the first CasbinBudget/lines requests of the sample instead, and
// the README says so.
const CasbinBudget = 2_000_000

// Fixture is one scenario loaded into every library, cross-checked, and
// ready to time.
type Fixture struct {
	S       *Scenario
	Engines map[string]Engine
	// Allowed and Denied are each library's prepared timed requests; the
	// timed loop cycles through all Rotate of them.
	Allowed, Denied map[string]func(i int) (bool, error)
	// Checked is how many sample requests each library decided in the
	// cross-check.
	Checked map[string]int
}

// PLines is the number of casbin p lines of s (what casbin's Enforce scans).
func (s *Scenario) PLines() int {
	switch s.Kind {
	case RBAC:
		return s.Roles
	case ObjectGrants:
		return len(s.Grants)
	}
	return 0
}

// casbinRequests is how many requests a casbin engine decides in the
// cross-check (and at most how many it rotates over when timed).
func casbinRequests(s *Scenario) int {
	if s.PLines() == 0 {
		return SampleSize
	}
	return min(SampleSize, max(2, CasbinBudget/s.PLines()))
}

// Load generates the scenario, loads it into every library, reports the
// heap each library holds (to log, in a line benchstat ignores), and runs
// the cross-check. A mismatch with the expected decision is an error.
func Load(name string, o Options, log io.Writer) (*Fixture, error) {
	s, err := Generate(name)
	if err != nil {
		return nil, err
	}
	fx := &Fixture{S: s, Engines: map[string]Engine{}, Allowed: map[string]func(int) (bool, error){},
		Denied: map[string]func(int) (bool, error){}, Checked: map[string]int{}}
	for _, lib := range Libraries {
		before := heap()
		t0 := time.Now()
		e, err := Build(lib, s, o)
		if err != nil {
			return nil, fmt.Errorf("%s: loading %s: %w", name, lib, err)
		}
		took := time.Since(t0)
		after := heap()
		fx.Engines[lib] = e
		count, unit := s.Lines(), "line"
		if s.Kind == ObjectGrants {
			count, unit = len(s.Grants), "grant"
		}
		delta := float64(after) - float64(before)
		fmt.Fprintf(log, "Load %s %s: %d %ss in %v, heap %.1f MB, %.1f bytes per %s\n",
			name, lib, count, unit, took.Round(time.Millisecond), delta/1e6, delta/float64(max(count, 1)), unit)
	}
	for _, lib := range Libraries {
		e := fx.Engines[lib]
		n := SampleSize
		if lib == "casbin" || lib == "casbin_cached" {
			n = casbinRequests(s)
		}
		if err := crossCheck(name, lib, e, s.Sample[:n]); err != nil {
			return nil, err
		}
		fx.Checked[lib] = n
		fx.Allowed[lib] = e.Prepare(s.Allowed)
		fx.Denied[lib] = e.Prepare(s.Denied)
		if lib == "casbin" {
			continue // nothing to warm; the timed loop checks every answer
		}
		// Warms the caches: every timed request is decided once here. At
		// 1M grants that is 128 casbin misses of about a second each.
		if err := crossCheck(name+"/allowed+denied", lib, e, append(slices.Clone(s.Allowed), s.Denied...)); err != nil {
			return nil, err
		}
	}
	counts := make([]string, len(Libraries))
	for i, lib := range Libraries {
		counts[i] = fmt.Sprintf("%s %d", lib, fx.Checked[lib])
	}
	fmt.Fprintf(log, "Crosscheck %s: every library agrees with the expected decision (requests: %s)\n",
		name, strings.Join(counts, ", "))
	return fx, nil
}

// crossCheck decides every request with e and compares with the expected
// decision, which the other libraries are held to as well. casbin_cached
// (a SyncedCachedEnforcer, safe for concurrent use) decides on every core:
// its misses are casbin's linear scans.
func crossCheck(name, lib string, e Engine, rs []Request) error {
	f := e.Prepare(rs)
	workers := 1
	if lib == "casbin_cached" {
		workers = runtime.GOMAXPROCS(0)
	}
	got := make([]bool, len(rs))
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(rs); i += workers {
				got[i], errs[i] = f(i)
			}
		})
	}
	wg.Wait()
	bad := 0
	var first error
	for i, q := range rs {
		if errs[i] == nil && got[i] == q.Want {
			continue
		}
		bad++
		if first == nil {
			first = fmt.Errorf("request %d (user %d, object %d): got %v (err %v), want %v", i, q.User, q.Obj, got[i], errs[i], q.Want)
		}
	}
	if bad > 0 {
		return fmt.Errorf("cross-check %s: %s disagrees on %d of %d requests; first: %w", name, lib, bad, len(rs), first)
	}
	return nil
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
