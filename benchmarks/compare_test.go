package benchmarks

import (
	"os"
	"sync"
	"testing"
)

var (
	fixturesMu sync.Mutex
	fixtures   = map[string]*Fixture{}
)

// fixture loads (once per process, so -count reuses it) and cross-checks
// the scenario; a cross-check mismatch fails the benchmark run.
func fixture(b *testing.B, name string) *Fixture {
	b.Helper()
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	if fx, ok := fixtures[name]; ok {
		return fx
	}
	fx, err := Load(name, Options{Concurrent: name == "parallel"}, os.Stdout)
	if err != nil {
		b.Fatal(err)
	}
	fixtures[name] = fx
	return fx
}

// BenchmarkCompare times the same checks through every library:
// BenchmarkCompare/<scenario>/<allowed|denied>/<iam|casbin|casbin_cached|opa>.
func BenchmarkCompare(b *testing.B) {
	for _, name := range append(Scenarios[:len(Scenarios):len(Scenarios)], "parallel") {
		b.Run(name, func(b *testing.B) {
			fx := fixture(b, name)
			for _, kind := range []string{"allowed", "denied"} {
				b.Run(kind, func(b *testing.B) {
					for _, lib := range Libraries {
						b.Run(lib, func(b *testing.B) {
							f, want := fx.Allowed[lib], true
							if kind == "denied" {
								f, want = fx.Denied[lib], false
							}
							const mask = Rotate - 1 // a power of two
							b.ReportAllocs()
							if name == "parallel" {
								runParallel(b, f, want, mask)
								return
							}
							i := 0
							for b.Loop() {
								if ok, err := f(i & mask); ok != want || err != nil {
									b.Fatalf("request %d: got %v (%v), want %v", i&mask, ok, err, want)
								}
								i++
							}
						})
					}
				})
			}
		})
	}
}

func runParallel(b *testing.B, f func(int) (bool, error), want bool, mask int) {
	var seq sync.Mutex
	start := 0
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		seq.Lock()
		i := start
		start += 7
		seq.Unlock()
		for pb.Next() {
			if ok, err := f(i & mask); ok != want || err != nil {
				b.Errorf("request %d: got %v (%v), want %v", i&mask, ok, err, want)
				return
			}
			i++
		}
	})
}

// TestCrossCheck: for a sample of 10,000 requests per scenario (fewer for
// casbin where its linear scan would take hours, see CasbinBudget), every
// library returns the expected decision, so they all agree.
func TestCrossCheck(t *testing.T) {
	for _, name := range append(Scenarios[:len(Scenarios):len(Scenarios)], "parallel") {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && (name == "object_grants_1M" || name == "object_grants_100k" || name == "rbac_large") {
				t.Skip("large scenario in -short mode")
			}
			fx, err := Load(name, Options{Concurrent: name == "parallel"}, testWriter{t})
			if err != nil {
				t.Fatal(err)
			}
			for _, lib := range Libraries {
				if fx.Checked[lib] == 0 {
					t.Errorf("%s: not checked", lib)
				}
			}
		})
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
