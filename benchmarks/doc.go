// Package benchmarks runs the same authorization checks through iam,
// casbin (the plain Enforcer and the SyncedCachedEnforcer) and OPA (a
// prepared rego query), on one data set generated from a fixed seed, and
// checks that they all decide alike before timing them.
//
// It is its own Go module, so the iam module never depends on casbin or
// OPA. `make bench-compare` at the repository root runs compare.sh: the
// BenchmarkCompare/<scenario>/<allowed|denied>/<library> benchmarks with
// -count=6, benchstat, and cmd/readme, which regenerates the table in
// benchmarks/README.md between <!-- compare:start --> and <!-- compare:end -->.
//
// Scenarios (Generate): rbac_small, rbac_medium, rbac_large (casbin's RBAC
// benchmark at 1×, 10×, 100×), object_grants_1k, _100k, _1M (per-object
// grants to users and groups), owner_rule (owner of the object, or editor)
// and parallel (rbac_small under b.RunParallel). Engines built by Build
// are safe for concurrent use of their prepared checks, except casbin's
// plain Enforcer, which Options.Concurrent replaces by a SyncedEnforcer.
//
// BenchmarkWorkload/<library>/<zipf|uniform|writes> runs the root
// package's realistic mixes through the same libraries (BuildMix), over
// the data of the root BenchmarkWorkload's flat fixture (internal/workload:
// 1,000,000 grants, 100,000 users, 131,072 distinct questions). compare.sh
// runs it one library per process and regenerates its table between
// <!-- workload:start --> and <!-- workload:end -->; the ordinary tests
// (TestWorkloadEngines) load a hundredth of it.
package benchmarks
