#!/usr/bin/env bash
#
# bench/run.sh
#	Entry point of "make bench": runs every benchmark under bench/ (today
#	the applier benchmark, bench/applier/run.sh, then the end-to-end one,
#	bench/e2e/run.sh, three times without and three times with the outcome
#	stream, with the medians), prints the tables and writes them to
#	bench/results/<timestamp>.txt.  A new benchmark adds a bench/NAME/run.sh
#	that prints rows "method|events|seconds" on stdout and is listed in
#	BENCHMARKS.
#
# Options (environment): AXS_BENCH_EVENTS (1000000), AXS_BENCH_BATCH_SIZES
# ("20000 100000 200000"), AXS_BENCH_REPEATS (3 drains per batch size),
# AXS_BENCH_BASELINE_EVENTS (20000), AXS_BENCH_AXS_EVENTS (200000),
# AXS_BENCH_CLIENTS (16), AXS_BENCH_E2E=0 to skip the end-to-end benchmark,
# AXS_BENCH_E2E_RUNS (3 end-to-end runs without and 3 with the outcome
# stream, and their medians), AXS_BENCH_E2E_OUTCOMES_RATE (175000, as
# without the stream: the producer's rate in the end-to-end runs with the
# outcome stream on).

set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd -P)
BENCHMARKS=${AXS_BENCHMARKS:-applier}
RESULTS=$TOP/bench/results
mkdir -p "$RESULTS"
OUT=$RESULTS/$(date -u +%Y%m%dT%H%M%SZ).txt

for name in $BENCHMARKS; do
	{
		echo "== $name benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, fsync=on synchronous_commit=on"
		echo "load before: $(uptime)"
		"$TOP/bench/$name/run.sh" >"$OUT.$name.rows"
		echo "load after:  $(uptime)"
		awk -F'|' '
			/^one transaction per event/ { base = $2 / $3 }
			{ method[NR] = $1; events[NR] = $2; seconds[NR] = $3; n = NR }
			# repeated runs "NAME, run K of N)": their median, under NAME)
			match($1, /, run [0-9]+ of [0-9]+\)$/) {
				key = substr($1, 1, RSTART - 1) ")"
				if (!(key in runs)) order[++keys] = key
				rates[key, ++runs[key]] = $2 / $3
			}
			END {
				printf "%-80s %9s %9s %10s %9s\n", "method", "events", "seconds", "events/s", "vs 1/txn"
				for (i = 1; i <= n; i++) {
					rate = events[i] / seconds[i]
					printf "%-80s %9d %9.2f %10.0f %8.1fx\n", method[i], events[i], seconds[i], rate, base ? rate / base : 0
				}
				for (k = 1; k <= keys; k++) {
					key = order[k]; m = runs[key]
					for (i = 1; i <= m; i++) sorted[i] = rates[key, i]
					for (i = 2; i <= m; i++)
						for (j = i; j > 1 && sorted[j - 1] > sorted[j]; j--) { t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t }
					median = m % 2 ? sorted[(m + 1) / 2] : (sorted[m / 2] + sorted[m / 2 + 1]) / 2
					printf "%-80s %9s %9s %10.0f %8.1fx\n", "median of " m ": " key, "", "", median, base ? median / base : 0
				}
			}' "$OUT.$name.rows"
		rm -f "$OUT.$name.rows"
	} 2>&1 | tee -a "$OUT"
done
# e2e_runs OUTCOMES RATE: AXS_BENCH_E2E_RUNS end-to-end runs, each table
# into $OUT, then the median of each headline measure over the runs.
e2e_runs()
{
	local outcomes=$1 rate=$2 runs=${AXS_BENCH_E2E_RUNS:-3} k
	local tables=()

	for k in $(seq "$runs"); do
		AXS_BENCH_E2E_OUTCOMES=$outcomes AXS_BENCH_E2E_RATE=$rate \
			AXS_BENCH_RESULTS_FILE=$OUT.e2e.$k "$TOP/bench/e2e/run.sh"
		cat "$OUT.e2e.$k" >>"$OUT"
		tables+=("$OUT.e2e.$k")
	done
	awk -v runs="$runs" -v outcomes="$outcomes" '
		BEGIN {
			n = split("sustained: events/s|half load: latency p99 (ms)|" \
				"sustained: events/s to the outcome committed|" \
				"half load: produce->outcome commit p99 (ms)|feeder VmHWM (MB)", names, "|")
		}
		{
			for (i = 1; i <= n; i++)
				if (substr($0, 1, length(names[i])) == names[i] &&
					substr($0, length(names[i]) + 1) ~ /^ +[0-9.]+$/)
					values[i, ++count[i]] = $NF
		}
		END {
			printf "== e2e medians of %d runs, outcome stream %s\n", runs, outcomes
			for (i = 1; i <= n; i++) {
				m = count[i]
				if (m == 0) continue
				for (j = 1; j <= m; j++) sorted[j] = values[i, j] + 0
				for (j = 2; j <= m; j++)
					for (k = j; k > 1 && sorted[k - 1] > sorted[k]; k--) { t = sorted[k]; sorted[k] = sorted[k - 1]; sorted[k - 1] = t }
				median = m % 2 ? sorted[(m + 1) / 2] : (sorted[m / 2] + sorted[m / 2 + 1]) / 2
				printf "%-54s %12s   (runs: %s", "median: " names[i], median, values[i, 1]
				for (j = 2; j <= m; j++) printf ", %s", values[i, j]
				print ")"
			}
		}' "${tables[@]}" | tee -a "$OUT"
	rm -f "${tables[@]}"
}

# End to end without the outcome stream (the ledger's own targets), then
# with it.
if [ "${AXS_BENCH_E2E:-1}" != 0 ]; then
	e2e_runs off 175000
	e2e_runs on "${AXS_BENCH_E2E_OUTCOMES_RATE:-175000}"
fi
echo "results written to $OUT"
