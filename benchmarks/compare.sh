#!/usr/bin/env bash
# compare.sh: what `make bench-compare` runs. Times iam, casbin and OPA on
# the same scenarios (one process per scenario, so a scenario's data is
# loaded once and only one scenario is in memory), summarises with
# benchstat, and regenerates the table in benchmarks/README.md between
# <!-- compare:start --> and <!-- compare:end -->. Then the same for the
# realistic mixes (BenchmarkWorkload, one process per library), between
# <!-- workload:start --> and <!-- workload:end -->.
#
# Environment: GO (go), BENCHSTAT (the pinned benchstat module@version),
# COUNT (6), BENCHTIME (200ms), README (README.md, in this directory),
# PARTS ("compare workload": either alone regenerates only its table),
# WORKLOAD_BENCHTIME (1s) and CASBIN_BENCHTIME (100x: casbin's plain
# Enforcer takes a large share of a second per check over 1,000,000 grants,
# so its runs are counted in checks; 100 of them hold one write of the
# writes mix).
set -euo pipefail
cd "$(dirname "$0")"
GO=${GO:-go}
BENCHSTAT=${BENCHSTAT:?set BENCHSTAT to golang.org/x/perf/cmd/benchstat@<version>}
COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-200ms}
README=${README:-README.md}
PARTS=${PARTS:-compare workload}
WORKLOAD_BENCHTIME=${WORKLOAD_BENCHTIME:-1s}
CASBIN_BENCHTIME=${CASBIN_BENCHTIME:-100x}
SCENARIOS="rbac_small rbac_medium rbac_large object_grants_1k object_grants_100k object_grants_1M owner_rule parallel"

start=$(date +%s)
mkdir -p out
rm -f out/*
"$GO" test -c -o out/compare.test .
GOBIN="$PWD/out" "$GO" install "$BENCHSTAT"
"$GO" build -o out/readme ./cmd/readme
args=()

if [[ " $PARTS " == *" compare "* ]]; then
	# The revocation observations, recorded for the table's notes.
	out/compare.test -test.run '^TestRevocation$' -test.count=1 | tee out/revocation.txt

	for s in $SCENARIOS; do
		echo "== $s" >&2
		out/compare.test -test.run '^$' -test.bench "^BenchmarkCompare\$/^$s\$/" \
			-test.benchmem -test.count="$COUNT" -test.benchtime="$BENCHTIME" | tee -a out/compare.txt
	done

	out/benchstat out/compare.txt | tee out/benchstat.txt
	out/benchstat -format csv out/compare.txt > out/benchstat.csv 2>/dev/null
	args+=(-bench out/compare.txt -benchstat out/benchstat.csv -revocation out/revocation.txt
		-count "$COUNT" -benchtime "$BENCHTIME" -elapsed "$(( $(date +%s) - start ))s")
fi

if [[ " $PARTS " == *" workload "* ]]; then
	wstart=$(date +%s)
	for lib in iam iam_nocache casbin casbin_cached opa; do
		echo "== workload $lib" >&2
		bt=$WORKLOAD_BENCHTIME
		[ "$lib" = casbin ] && bt=$CASBIN_BENCHTIME
		out/compare.test -test.run '^$' -test.bench "^BenchmarkWorkload\$/^$lib\$/" \
			-test.benchmem -test.count="$COUNT" -test.benchtime="$bt" | tee -a out/workload.txt
	done
	out/benchstat out/workload.txt | tee out/workload-benchstat.txt
	out/benchstat -format csv out/workload.txt > out/workload.csv 2>/dev/null
	args+=(-workload out/workload.txt -workload-benchstat out/workload.csv -count "$COUNT"
		-workload-benchtime "$WORKLOAD_BENCHTIME" -casbin-benchtime "$CASBIN_BENCHTIME"
		-workload-elapsed "$(( $(date +%s) - wstart ))s")
fi

out/readme -parts "$PARTS" "${args[@]}" -readme "$README"
echo "bench-compare: $(( $(date +%s) - start ))s; benchmarks/README.md regenerated ($PARTS)" >&2
