#!/usr/bin/env bash
# compare.sh: what `make bench-compare` runs. Times iam, casbin and OPA on
# the same scenarios (one process per scenario, so a scenario's data is
# loaded once and only one scenario is in memory), summarises with
# benchstat, and regenerates the table in benchmarks/README.md between
# <!-- compare:start --> and <!-- compare:end -->.
#
# Environment: GO (go), BENCHSTAT (the pinned benchstat module@version),
# COUNT (6), BENCHTIME (200ms), README (README.md, in this directory).
set -euo pipefail
cd "$(dirname "$0")"
GO=${GO:-go}
BENCHSTAT=${BENCHSTAT:?set BENCHSTAT to golang.org/x/perf/cmd/benchstat@<version>}
COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-200ms}
README=${README:-README.md}
SCENARIOS="rbac_small rbac_medium rbac_large object_grants_1k object_grants_100k object_grants_1M owner_rule parallel"

start=$(date +%s)
mkdir -p out
rm -f out/*
"$GO" test -c -o out/compare.test .
GOBIN="$PWD/out" "$GO" install "$BENCHSTAT"
"$GO" build -o out/readme ./cmd/readme

# The revocation observations, recorded for the table's notes.
out/compare.test -test.run '^TestRevocation$' -test.count=1 | tee out/revocation.txt

for s in $SCENARIOS; do
	echo "== $s" >&2
	out/compare.test -test.run '^$' -test.bench "^BenchmarkCompare\$/^$s\$/" \
		-test.benchmem -test.count="$COUNT" -test.benchtime="$BENCHTIME" | tee -a out/compare.txt
done

out/benchstat out/compare.txt | tee out/benchstat.txt
out/benchstat -format csv out/compare.txt > out/benchstat.csv 2>/dev/null
elapsed=$(( $(date +%s) - start ))
out/readme -bench out/compare.txt -benchstat out/benchstat.csv -revocation out/revocation.txt \
	-count "$COUNT" -benchtime "$BENCHTIME" -elapsed "${elapsed}s" -readme "$README"
echo "bench-compare: ${elapsed}s; benchmarks/README.md regenerated from out/benchstat.csv" >&2
