// Command readme regenerates the side-by-side tables of benchmarks/README.md from a
// `make bench-compare` run: benchstat's CSV summary (medians and 95%
// confidence intervals), the raw benchmark output (CPU, load and
// cross-check lines) and the revocation test's output. It rewrites the
// README between <!-- compare:start --> and <!-- compare:end -->; when
// the markers are missing it inserts them after <!-- bench:end -->. With
// -parts workload (or "compare workload") it does the same for the
// realistic mixes (BenchmarkWorkload), between <!-- workload:start -->
// and <!-- workload:end -->, or after the line <!-- workload:here -->.
//
//	readme -bench out/compare.txt -benchstat out/benchstat.csv -revocation out/revocation.txt -readme README.md
//	readme -parts workload -workload out/workload.txt -workload-benchstat out/workload.csv -readme README.md
package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	startMarker = "<!-- compare:start -->"
	endMarker   = "<!-- compare:end -->"
	afterMarker = "<!-- bench:end -->"
)

var (
	scenarios = []string{"rbac_small", "rbac_medium", "rbac_large", "object_grants_1k", "object_grants_100k", "object_grants_1M", "owner_rule", "parallel"}
	libraries = []string{"iam", "iam_nocache", "casbin", "casbin_cached", "opa"}
	kinds     = []string{"allowed", "denied"}
)

// stat is one benchstat summary: the median and its 95% confidence
// interval ("3%", "∞", or "" when benchstat gives none).
type stat struct {
	v  float64
	ci string
}

type key struct{ scenario, kind, lib string }

// result is one benchmark's summary; wns, wbytes and wallocs are the
// writes mix's ns/write, B/write and allocs/write.
type result struct{ ns, bytes, allocs, wns, wbytes, wallocs stat }

func main() {
	benchPath := flag.String("bench", "out/compare.txt", "raw `go test -bench` output")
	csvPath := flag.String("benchstat", "out/benchstat.csv", "benchstat -format csv output")
	revPath := flag.String("revocation", "out/revocation.txt", "TestRevocation output")
	readmePath := flag.String("readme", "README.md", "README to rewrite (benchmarks/README.md when run from benchmarks/)")
	count := flag.String("count", "6", "the -count of the run")
	benchtime := flag.String("benchtime", "200ms", "the -benchtime of the run")
	elapsed := flag.String("elapsed", "", "how long the whole run took")
	parts := flag.String("parts", "compare", `the tables to regenerate: "compare", "workload" or both`)
	wPath := flag.String("workload", "out/workload.txt", "raw BenchmarkWorkload output")
	wCSV := flag.String("workload-benchstat", "out/workload.csv", "benchstat -format csv output of BenchmarkWorkload")
	wBenchtime := flag.String("workload-benchtime", "1s", "the -benchtime of the BenchmarkWorkload runs")
	casbinBenchtime := flag.String("casbin-benchtime", "100x", "the -benchtime of casbin's BenchmarkWorkload runs")
	wElapsed := flag.String("workload-elapsed", "", "how long the BenchmarkWorkload runs took")
	flag.Parse()

	readme, err := os.ReadFile(*readmePath)
	if err != nil {
		log.Fatal(err)
	}
	if strings.Contains(*parts, "compare") {
		results, err := readBenchstat(*csvPath, compareRE, func(m []string) key { return key{m[1], m[2], m[3]} })
		if err != nil {
			log.Fatal(err)
		}
		raw, err := os.ReadFile(*benchPath)
		if err != nil {
			log.Fatal(err)
		}
		rev, err := os.ReadFile(*revPath)
		if err != nil {
			log.Fatal(err)
		}
		block, err := render(results, raw, rev, *count, *benchtime, *elapsed)
		if err != nil {
			log.Fatal(err)
		}
		if readme, err = splice(readme, block, startMarker, endMarker, afterMarker); err != nil {
			log.Fatal(err)
		}
	}
	if strings.Contains(*parts, "workload") {
		results, err := readBenchstat(*wCSV, workloadRE, func(m []string) key { return key{"workload", m[2], m[1]} })
		if err != nil {
			log.Fatal(err)
		}
		raw, err := os.ReadFile(*wPath)
		if err != nil {
			log.Fatal(err)
		}
		block, err := renderWorkload(results, raw, *count, *wBenchtime, *casbinBenchtime, *wElapsed)
		if err != nil {
			log.Fatal(err)
		}
		if readme, err = splice(readme, block, workloadStart, workloadEnd, workloadAfter); err != nil {
			log.Fatal(err)
		}
	}
	if err := os.WriteFile(*readmePath, readme, 0o644); err != nil {
		log.Fatal(err)
	}
}

// The benchmark names of BenchmarkCompare/<scenario>/<kind>/<library> and
// BenchmarkWorkload/<library>/<mix>, as benchstat prints them.
var (
	compareRE  = regexp.MustCompile(`^Compare/([^/]+)/([^/]+)/([^/-]+)(-\d+)?$`)
	workloadRE = regexp.MustCompile(`^Workload/([^/]+)/([^/-]+)(-\d+)?$`)
)

// readBenchstat parses benchstat's CSV: one section per unit, each with a
// header row ",<unit>,CI" and rows "<name>,<value>,<CI>". The rows whose
// name matches nameRE are kept, under the key mk makes of the match.
func readBenchstat(path string, nameRE *regexp.Regexp, mk func([]string) key) (map[key]*result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	res := map[key]*result{}
	unit := ""
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(rec) < 2 {
			continue
		}
		if rec[0] == "" {
			if len(rec) >= 3 && rec[2] == "CI" {
				unit = rec[1]
			}
			continue
		}
		m := nameRE.FindStringSubmatch(rec[0])
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(rec[1], 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", path, rec[0], err)
		}
		s := stat{v: v}
		if len(rec) >= 3 {
			s.ci = rec[2]
		}
		k := mk(m)
		if res[k] == nil {
			res[k] = &result{}
		}
		switch unit {
		case "sec/op":
			s.v *= 1e9
			res[k].ns = s
		case "B/op":
			res[k].bytes = s
		case "allocs/op":
			res[k].allocs = s
		case "sec/write":
			s.v *= 1e9
			res[k].wns = s
		case "ns/write":
			res[k].wns = s
		case "B/write":
			res[k].wbytes = s
		case "allocs/write":
			res[k].wallocs = s
		}
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("%s: no results named like %s", path, nameRE)
	}
	return res, nil
}

func render(res map[key]*result, raw, rev []byte, count, benchtime, elapsed string) ([]byte, error) {
	cpu, goos, goarch := "unknown CPU", runtime.GOOS, runtime.GOARCH
	var loads, checks []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "cpu: "):
			cpu = strings.TrimPrefix(line, "cpu: ")
		case strings.HasPrefix(line, "goos: "):
			goos = strings.TrimPrefix(line, "goos: ")
		case strings.HasPrefix(line, "goarch: "):
			goarch = strings.TrimPrefix(line, "goarch: ")
		case strings.HasPrefix(line, "Load "):
			loads = append(loads, strings.TrimPrefix(line, "Load "))
		case strings.HasPrefix(line, "Crosscheck "):
			checks = append(checks, strings.TrimPrefix(line, "Crosscheck "))
		}
	}
	var revs []string
	sc = bufio.NewScanner(bytes.NewReader(rev))
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "Revocation ") {
			revs = append(revs, strings.TrimPrefix(line, "Revocation "))
		}
	}

	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s\n", startMarker)
	p("### Side by side with casbin and OPA\n\n")
	p("Generated by `make bench-compare` from its own output: %s, %s %s/%s, %s (%d cores),\n",
		time.Now().UTC().Format("2006-01-02"), runtime.Version(), goos, goarch, cpu, runtime.NumCPU())
	p("`-count=%s -benchtime=%s`, benchstat median ± 95%% confidence interval", count, benchtime)
	if elapsed != "" {
		p("; the whole run took %s", elapsed)
	}
	p(".\nThe [`benchmarks/`](benchmarks) module (its own `go.mod`) pins casbin and OPA and runs the\n")
	p("same checks, on one data set generated from a fixed seed, through iam (memory store; `iam` is\n")
	p("the default Checker, whose `HasPerm` answers a repeated question from its answer cache, and\n")
	p("`iam_nocache` the same Checker with that cache off, so every check does the lookups),\n")
	p("casbin's plain `Enforcer`, casbin's `SyncedCachedEnforcer` (`casbin_cached`) and an OPA\n")
	p("prepared rego query (`opa`). Each timed benchmark cycles through the same 64 allowed or 64\n")
	p("denied requests for every library and size; the cached enforcer's cache is warm. \"vs iam\" is\n")
	p("the library's ns/op over iam's: above 1× iam is faster; ratios where iam loses are in bold.\n\n")

	p("| scenario | request | library | ns/op | B/op | allocs/op | vs iam |\n")
	p("|---|---|---|---:|---:|---:|---:|\n")
	missing := 0
	for _, s := range scenarios {
		for _, k := range kinds {
			base := res[key{s, k, "iam"}]
			for _, lib := range libraries {
				r := res[key{s, k, lib}]
				if r == nil {
					p("| `%s` | %s | %s | not run | | | |\n", s, k, lib)
					missing++
					continue
				}
				ratio := ""
				if base != nil && base.ns.v > 0 {
					x := r.ns.v / base.ns.v
					ratio = fmtRatio(x)
					if !strings.HasPrefix(lib, "iam") && x <= 1 {
						ratio = "**" + ratio + "**"
					}
				}
				p("| `%s` | %s | %s | %s | %s | %s | %s |\n", s, k, lib, fmtStat(r.ns, 1), fmtNum(r.bytes.v, 0), fmtNum(r.allocs.v, 0), ratio)
			}
		}
	}

	p("\nTargets (see the top of this file), from the numbers above:\n\n")
	for _, t := range targets(res, loads, revs) {
		p("- %s\n", t)
	}

	p("\nNotes:\n\n")
	p("- **How each library models the scenarios.** `rbac_*` is casbin's RBAC benchmark at 1×, 10× and 100×\n")
	p("  (1,000 users, 100 roles, 10 resources at 1×; role *r* may read resource *r*/10; each user holds one\n")
	p("  role drawn from the seed): casbin's `rbac_model.conf` with one `p, role, dataN, read` line per role\n")
	p("  and one `g, user, role` line per user; in iam each casbin role is a `Role` granting `dataN.read`\n")
	p("  and a user's role is a `Profile` (model-level check); in rego `data.user_roles[user]` and\n")
	p("  `data.role_perms[role][resource][action]`. `object_grants_*`: *n* grants of `doc.view` on *n*/2\n")
	p("  documents, 80%% to one of 10,000 users and 20%% to one of 100 groups, each user in two groups:\n")
	p("  casbin has one `p` line per grant and one `g, user, group` line per membership (same model);\n")
	p("  iam has `Grant{Holder: User|Group, Perm: \"doc.view\", On: Ref{doc, id}}` and `AddMember`; rego\n")
	p("  reads `data.user_grants[doc][user][action]`, `data.members[user]` and\n")
	p("  `data.group_grants[doc][group][action]`, all keyed by ID. `owner_rule`: 10,000 posts with an\n")
	p("  owner, 10%% of 10,000 users editors; iam `Or(HasRole(editor), Pred(is_owner))`, casbin's ABAC\n")
	p("  matcher `r.sub == r.obj.Owner || g(r.sub, \"editor\")` over a struct that implements\n")
	p("  `CacheableParam` (so the cached enforcer can cache it), rego `input.obj.owner == input.sub` or\n")
	p("  `data.editors[input.sub]`. `parallel` is `rbac_small` under `b.RunParallel`; there the `casbin`\n")
	p("  row is a `SyncedEnforcer`, because the plain `Enforcer` is not safe for concurrent use. OPA gets\n")
	p("  its input as a prebuilt `ast.Value` (`rego.EvalParsedInput`), its fastest documented path.\n")
	p("- **Cross-check before timing.** Every benchmark process first decides a sample of 10,000\n")
	p("  requests (half allowed, half denied) with every library against the answer computed from the\n")
	p("  data set, and also the 128 timed requests; a mismatch fails the run. casbin's `Enforce` scans\n")
	p("  every policy line, so casbin decides the first 2,000,000 / *p-lines* requests of the sample\n")
	p("  (10,000 where that is more), plus the timed ones:\n")
	for _, c := range checks {
		p("  - %s\n", c)
	}
	p("- **Memory and loading** (heap after loading, `runtime.ReadMemStats` after GC, minus the heap\n")
	p("  before; the IDs are the application's strings and exist before, so they are not counted for\n")
	p("  any library; `object_grants` per grant, the memberships included):\n")
	for _, l := range loads {
		if strings.HasPrefix(l, "object_grants_1M ") {
			p("  - %s\n", l)
		}
	}
	p("- **Caches compared.** A warm `SyncedCachedEnforcer` hit is one key concatenation and one map\n")
	p("  lookup under a read lock, whatever the policy; it is also the answer that stays stale after a\n")
	p("  role is removed (below). iam's answer cache keys an answer by the store snapshot it was\n")
	p("  computed on, so any write retires every earlier answer; `iam_nocache` shows the cost of the\n")
	p("  lookups themselves, which is what a check costs right after a write or for a question not asked\n")
	p("  before. casbin's plain `Enforcer` at 100k and 1M grants takes longer per check than\n")
	p("  `-benchtime`, so each of its samples is one check.\n")
	p("- **Revocation** (`TestRevocation`: `rbac_small`, a user's role is removed between two checks\n")
	p("  through each library's own API; the second answer as observed):\n")
	for _, r := range revs {
		p("  - %s\n", r)
	}
	p("%s\n", endMarker)
	if missing > 0 {
		return nil, fmt.Errorf("%d benchmark rows missing from the benchstat output", missing)
	}
	return []byte(b.String()), nil
}

func targets(res map[key]*result, loads, revs []string) []string {
	var out []string
	ns := func(s, k, lib string) float64 {
		if r := res[key{s, k, lib}]; r != nil {
			return r.ns.v
		}
		return math.NaN()
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}

	// ≥ 1,000× faster than casbin's plain Enforcer on rbac_medium and above.
	worst, where := math.Inf(1), ""
	for _, s := range []string{"rbac_medium", "rbac_large"} {
		for _, k := range kinds {
			if x := ns(s, k, "casbin") / ns(s, k, "iam"); x < worst {
				worst, where = x, s+"/"+k
			}
		}
	}
	out = append(out, fmt.Sprintf("At least 1,000× faster than casbin's plain `Enforcer` on `rbac_medium` and above: %s (lowest %s, %s).",
		verdict(worst >= 1000), fmtRatio(worst), where))

	// Faster than the SyncedCachedEnforcer on every scenario; the same
	// comparison without iam's answer cache, for the record.
	slower := func(lib string) []string {
		var lost []string
		for _, s := range scenarios {
			for _, k := range kinds {
				if x := ns(s, k, "casbin_cached") / ns(s, k, lib); !(x > 1) {
					lost = append(lost, fmt.Sprintf("`%s/%s` (%s vs %s ns)", s, k, fmtNum(ns(s, k, lib), 1), fmtNum(ns(s, k, "casbin_cached"), 1)))
				}
			}
		}
		return lost
	}
	if lost := slower("iam"); len(lost) == 0 {
		out = append(out, "Faster than casbin's `SyncedCachedEnforcer` (warm) on every scenario: met.")
	} else {
		out = append(out, fmt.Sprintf("Faster than casbin's `SyncedCachedEnforcer` (warm) on every scenario: **missed** on %d of %d: %s (iam vs casbin_cached).",
			len(lost), len(scenarios)*len(kinds), strings.Join(lost, ", ")))
	}
	if lost := slower("iam_nocache"); len(lost) == 0 {
		out = append(out, "Without iam's answer cache (`iam_nocache`), faster than the warm `SyncedCachedEnforcer` on every scenario as well.")
	} else {
		out = append(out, fmt.Sprintf("Without iam's answer cache (`iam_nocache`, not a target), slower than the warm `SyncedCachedEnforcer` on %d of %d: %s.",
			len(lost), len(scenarios)*len(kinds), strings.Join(lost, ", ")))
	}

	// iam's growth from 1k to 1M grants, with and without the answer
	// cache (without it, every check does the lookups in the store).
	var growth []string
	ok := true
	for _, lib := range []string{"iam", "iam_nocache"} {
		for _, k := range kinds {
			x := ns("object_grants_1M", k, lib) / ns("object_grants_1k", k, lib)
			ok = ok && x <= 1.5
			growth = append(growth, fmt.Sprintf("%s %s %s", lib, k, fmtRatio(x)))
		}
	}
	out = append(out, fmt.Sprintf("iam's cost from 1k to 1M grants grows by at most 1.5×: %s (%s).", verdict(ok), strings.Join(growth, ", ")))

	// Zero allocations on every iam row. benchstat rounds allocs/op, so an
	// allocation in fewer than half the checks shows only in B/op.
	var allocating []string
	for _, s := range scenarios {
		for _, k := range kinds {
			for _, lib := range []string{"iam", "iam_nocache"} {
				if r := res[key{s, k, lib}]; r != nil && (r.allocs.v > 0 || r.bytes.v > 0) {
					allocating = append(allocating, fmt.Sprintf("`%s/%s` %s (%s B/op, %s allocs/op)", s, k, lib, fmtNum(r.bytes.v, 0), fmtNum(r.allocs.v, 0)))
				}
			}
		}
	}
	if len(allocating) == 0 {
		out = append(out, "iam allocates nothing per check, in every scenario, cache on or off: met (0 B/op, 0 allocs/op).")
	} else {
		out = append(out, fmt.Sprintf("iam allocates nothing per check, in every scenario: **missed** on %s: some checks allocate (B/op above 0 while allocs/op rounds to 0).",
			strings.Join(allocating, ", ")))
	}

	// Memory at 1M grants.
	perRE := regexp.MustCompile(`^object_grants_1M iam: .* ([0-9.]+) bytes per grant$`)
	for _, l := range loads {
		if m := perRE.FindStringSubmatch(l); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			out = append(out, fmt.Sprintf("Memory store ≤ 150 bytes per grant at 1M grants (the IDs excluded, see the notes): %s (%s bytes).", verdict(v <= 150), m[1]))
		}
	}

	// Revocation.
	for _, r := range revs {
		if lib, _, ok := strings.Cut(r, ":"); ok && strings.HasPrefix(lib, "iam") {
			out = append(out, fmt.Sprintf("%s's answer right after a revocation is a denial: %s.", lib, verdict(strings.Contains(r, "denied (correct)"))))
		}
	}
	return out
}

func fmtRatio(x float64) string {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return "?"
	case x >= 100:
		return fmtNum(x, 0) + "×"
	case x >= 10:
		return fmtNum(x, 1) + "×"
	}
	return strconv.FormatFloat(x, 'f', 2, 64) + "×"
}

func fmtStat(s stat, prec int) string {
	v := fmtNum(s.v, prec)
	if s.v >= 10_000 {
		v = fmtNum(s.v, 0)
	}
	if s.ci == "" {
		return v
	}
	return v + " ± " + s.ci
}

// fmtNum formats v with prec decimals and thousands separators.
func fmtNum(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b []byte
	for i, c := range []byte(intPart) {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, c)
	}
	out := string(b)
	if neg {
		out = "-" + out
	}
	if frac != "" {
		out += "." + frac
	}
	return out
}

// splice replaces the block between startMarker and endMarker, or inserts
// it after the line holding afterMarker.
func splice(readme, block []byte, startMarker, endMarker, afterMarker string) ([]byte, error) {
	if i := bytes.Index(readme, []byte(startMarker)); i >= 0 {
		j := bytes.Index(readme[i:], []byte(endMarker))
		if j < 0 {
			return nil, fmt.Errorf("README: %s without %s", startMarker, endMarker)
		}
		end := i + j + len(endMarker)
		if end < len(readme) && readme[end] == '\n' {
			end++
		}
		return slices.Concat(readme[:i], block, readme[end:]), nil
	}
	i := bytes.Index(readme, []byte(afterMarker+"\n"))
	if i < 0 {
		return nil, fmt.Errorf("README: neither %s nor %s found", startMarker, afterMarker)
	}
	at := i + len(afterMarker) + 1
	return slices.Concat(readme[:at], []byte("\n"), block, readme[at:]), nil
}
