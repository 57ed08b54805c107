# Pinned tool versions: bump deliberately.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHSTAT := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
GO ?= go

.PHONY: test lint vet staticcheck race tour bench demo fmt bench-compare

## test: what CI runs: vet, staticcheck, every test with the race detector,
## then the demo's scripted tour exactly as a user runs it.
test: lint race tour

## tour: `go run ./examples/blog -tour` (a fresh SQLite file; exits non-zero
## if any request is not answered as scripted).
tour:
	$(GO) run ./examples/blog -tour > /dev/null

lint: vet staticcheck
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

# Every test, with a throwaway PostgreSQL server (IAM_TEST_POSTGRES_DSN).
race:
	./scripts/with-postgres $(GO) test -race -count=1 -timeout 45m ./...

## bench: the docs/contract.md benchmarks (compare runs with benchstat).
bench:
	$(GO) test -run '^$$' -bench 'BenchmarkCheck|BenchmarkListObjects|BenchmarkWorkload' -benchmem -count=6 . | tee bench.out
	./scripts/with-postgres $(GO) test -run '^$$' -bench 'BenchmarkSQLCheck|BenchmarkSQLWorkload' -benchmem -count=6 ./iamsql | tee -a bench.out

## bench-compare: iam side by side with casbin and OPA (the benchmarks/
## module), -count=6, summarised by benchstat; regenerates the README table
## between <!-- compare:start --> and <!-- compare:end -->.
bench-compare:
	GO=$(GO) BENCHSTAT=$(BENCHSTAT) ./benchmarks/compare.sh

## demo: the README's first command.
demo:
	$(GO) run ./examples/blog

fmt:
	gofmt -w .
