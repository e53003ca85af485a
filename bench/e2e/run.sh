#!/usr/bin/env bash
#
# bench/e2e/run.sh
#	The end-to-end benchmark: axs-loadgen -> axs-broker -> axs-feeder ->
#	axs.inbox -> applier -> axs.balances / axs.event_log, with fsync and
#	synchronous_commit on (scripts/cluster.sh defaults).  The feeder commits
#	its batches with synchronous_commit off, its default (feeder/README.md:
#	nothing is lost that way; the applier's commits wait for the flush);
#	add --synchronous-commit on to the feeder args to compare.
#	  1. sustained: AXS_BENCH_E2E_EVENTS events produced as fast as the
#	     loadgen can (or at AXS_BENCH_E2E_RATE) while the feeder and the
#	     applier run; events/s = events / (last event applied - first event
#	     produced), both taken from axs.event_log (queued_at = the Kafka
#	     CreateTime the producer set, recorded_at = when the applier decided).
#	  2. half load: AXS_BENCH_E2E_LATENCY_EVENTS more events at half the
#	     sustained rate; latency = recorded_at - queued_at of the applied
#	     events of this run (p50, p99, max), computed in SQL.  Both clocks
#	     are this machine's.
#	  With the outcome stream on (AXS_BENCH_E2E_OUTCOMES, default on), the
#	  feeder also publishes every decision (--outcomes-topic, one topic with
#	  as many partitions as the sustained run's events topic): the sustained
#	  rate is also given up to the commit of the last outcome message
#	  (axs.outcome_publishers.updated_at once it holds the last seq), and
#	  the half-load run reports the feeder's own summary of produce ->
#	  outcome committed (axs_feeder_outcome_latency_seconds, from the
#	  event's Kafka CreateTime to the return of commit_transaction).
#	  3. the feeder's peak resident memory (VmHWM of /proc/PID/status), and
#	     the rejections of both runs: those the loadgen intended (its
#	     overdrafts, axs-loadgen --intended) against the others, and the
#	     trades and unfreezes rejected insufficient_frozen (none when keyed
#	     by market, the default; AXS_BENCH_E2E_KEY=account to compare).
#	Prints a table on stdout and appends it to bench/results/<UTC>.txt (or
#	to AXS_BENCH_RESULTS_FILE).
#
# The embedded broker (librdkafka 2.0.2's mock) keeps at most 5 MiB or
# 100,000 message sets per partition, answers a Fetch with at most one
# message set per partition, and finds it by walking the partition's list
# of message sets from the oldest one.  Its CPU therefore grows with
# partitions x retained message sets, and a consumer gets about
# rate x linger.ms messages per fetch round trip.  So: few partitions and
# large producer batches (linger.ms 50) for the sustained run, throttled to
# what this machine drains so the feeder stays far inside the retention;
# linger.ms 5 and 4 partitions for the half-load run (bench/e2e/README.md).
#
# A fresh cluster has no WAL segments to recycle: it creates and zero-fills
# a new 16 MB segment every ~0.5 s at these rates, and every commit waits
# ~40 ms each time.  A server that has been running recycles the segments
# of earlier checkpoints instead.  So before the sustained run the script
# writes and checkpoints AXS_BENCH_E2E_WARM_WAL_MB of WAL, and it
# checkpoints again before the half-load run (bench/e2e/README.md).
#
# initdb --no-sync (scripts/cluster.sh) leaves the new cluster's files dirty
# in the page cache; the kernel would write them back about 30 s later,
# during the measurement, so the script syncs them first.  Likewise the new
# cluster's first autovacuum round (template1's catalogs, 30 to 40 s after
# the start) is done by vacuumdb before measuring.
#
# It owns the cluster .scratch/bench_e2e, its axs-broker and axs-feeder, all
# stopped in the EXIT trap.
#
# Env: AXS_BENCH_E2E_EVENTS (2000000), AXS_BENCH_E2E_LATENCY_EVENTS
# (400000), AXS_BENCH_E2E_RATE (default 175000, a little over what this 2-core machine
# drains; 0 = as fast as possible, which outruns the embedded broker's
# retention at 2M events), AXS_BENCH_E2E_HALF_RATE (default: half the
# measured sustained rate), AXS_BENCH_E2E_PARTITIONS (sustained topic,
# default 32), AXS_BENCH_E2E_LATENCY_PARTITIONS (half-load topic, default 4),
# AXS_BENCH_E2E_LINGER_MS (the producer's linger.ms in the sustained run,
# default 50), AXS_BENCH_E2E_LATENCY_LINGER_MS (in the half-load run, default
# 5), AXS_BENCH_E2E_PRODUCER_ARGS (extra axs-loadgen flags for both runs,
# e.g. "-X compression.codec=lz4"), AXS_BENCH_E2E_FEEDER_ARGS (extra
# axs-feeder flags for the sustained run; default none, the throughput
# defaults), AXS_BENCH_E2E_LATENCY_FEEDER_ARGS (for the half-load run;
# default --batch-ms 1 -X fetch.wait.max.ms=5), AXS_BENCH_E2E_WARM_WAL_MB
# (WAL written and checkpointed before measuring, default 1024; 0 = none),
# AXS_BENCH_E2E_TIMEOUT (240 s per phase), AXS_BENCH_E2E_BIN (programs,
# default feeder/ and tools/), AXS_BENCH_E2E_HARNESS_NICE (the CPU priority of
# axs-broker and axs-loadgen, default 10; 0 = the ledger's),
# AXS_BENCH_E2E_KEY (axs-loadgen --key: market, the default, or account),
# AXS_BENCH_E2E_OUTCOMES (on, the default, or off: the outcome stream).

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd -P)
export PATH=/usr/lib/postgresql/15/bin:$PATH
EVENTS=${AXS_BENCH_E2E_EVENTS:-2000000}
LATENCY_EVENTS=${AXS_BENCH_E2E_LATENCY_EVENTS:-400000}
RATE=${AXS_BENCH_E2E_RATE:-175000}
FEEDER_ARGS=${AXS_BENCH_E2E_FEEDER_ARGS:-}
LATENCY_FEEDER_ARGS=${AXS_BENCH_E2E_LATENCY_FEEDER_ARGS:---batch-ms 1 -X fetch.wait.max.ms=5}
LINGER_MS=${AXS_BENCH_E2E_LINGER_MS:-50}
LATENCY_LINGER_MS=${AXS_BENCH_E2E_LATENCY_LINGER_MS:-5}
WARM_WAL_MB=${AXS_BENCH_E2E_WARM_WAL_MB:-1024}
PRODUCER_ARGS=${AXS_BENCH_E2E_PRODUCER_ARGS:-}
HARNESS_NICE=${AXS_BENCH_E2E_HARNESS_NICE:-10}
KEY=${AXS_BENCH_E2E_KEY:-market}
OUTCOMES=${AXS_BENCH_E2E_OUTCOMES:-on}
FEEDER_BIN=${AXS_BENCH_E2E_BIN:-$TOP/feeder}
TOOLS_BIN=${AXS_BENCH_E2E_BIN:-$TOP/tools}
DIR=$TOP/.scratch/bench_e2e
TOPIC=axs.events
# The half-load run gets a topic of its own: the embedded broker's cost per
# fetch grows with the message sets it already holds (bench/e2e/README.md).
LATENCY_TOPIC=axs.events.latency
# One outcome topic for both runs, as in production: a publisher that
# started on a new topic would publish the whole stream into it first.  The
# half-load run's source partitions 0..3 are its partitions 0..3.
OUTCOME_TOPIC=axs.outcomes
RESULTS=${AXS_BENCH_RESULTS_FILE:-$TOP/bench/results/$(date -u +%Y%m%dT%H%M%SZ).txt}
PHASE_TIMEOUT=${AXS_BENCH_E2E_TIMEOUT:-240}
BROKER_PID=
FEEDER_PID=
LOADGEN_PID=

# What must fit in a partition's 5 MiB (~47,000 messages of ~110 bytes) is
# the feeder's lag, not the whole run: the loadgen is throttled to what the
# pipeline drains.  Keyed by market (the loadgen's default), the hottest
# partition gets a market's events, ~20% of them with the 4 default markets
# (keyed by account: ~10%, the hot account's), so 32 partitions leave room
# for a total lag of ~200,000 messages; runs at the defaults lag by at most
# ~45,000 (measured keyed by account).  More partitions cost the broker CPU
# and add no room (a market's partition stays hot).
PARTITIONS=${AXS_BENCH_E2E_PARTITIONS:-32}
LATENCY_PARTITIONS=${AXS_BENCH_E2E_LATENCY_PARTITIONS:-4}

note() { echo "e2e bench: $*" >&2; }

# harness PROGRAM ARGS...: run axs-broker or axs-loadgen, which stand in for
# machines of their own (Kafka, the trading engine), at a lower CPU priority
# than the ledger: in a session of its own, which the kernel's autogroup
# scheduling makes a scheduling group of its own (as every PostgreSQL
# backend is), at autogroup nice HARNESS_NICE; at plain nice where
# autogroups are off.  They still take all the CPU they need when the
# ledger leaves some (bench/e2e/README.md).  Run it with &: it becomes the
# program (exec), so that $! is the program's PID.
harness()
{
	# shellcheck disable=SC2016  # expanded by the inner shell
	exec setsid bash -c '
		if [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ]; then
			echo "$0" >/proc/self/autogroup
		else
			renice -n "$0" -p $$ >/dev/null
		fi
		exec "$@"' "$HARNESS_NICE" "$@"
}
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

cleanup()
{
	[ -z "$FEEDER_PID" ] || { kill -TERM "$FEEDER_PID" 2>/dev/null || true; wait "$FEEDER_PID" 2>/dev/null || true; }
	[ -z "$LOADGEN_PID" ] || { kill -TERM "$LOADGEN_PID" 2>/dev/null || true; wait "$LOADGEN_PID" 2>/dev/null || true; }
	[ -z "$BROKER_PID" ] || { kill -TERM "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; }
	"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT

die()
{
	note "FAILED: $*"
	for f in "$DIR/feeder.log" "$DIR/loadgen.log" "$DIR/log/postgres.log"; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
	done
	exit 1
}

"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR"
"$TOP/scripts/cluster.sh" start "$DIR" >/dev/null 2>&1 || die "the cluster did not start"
# shellcheck disable=SC1091
. "$DIR/env"
# cluster.sh runs initdb --no-sync: the new cluster's ~18 MB of catalog files
# stay dirty in the page cache until the kernel writes them back 30 s later,
# in the middle of the measurement, and every commit waits behind that burst.
sync
# Segments for the checkpointer to recycle, as on a server that has been up
# (about 1 MB of WAL per 4,000 rows of 200 bytes).
if [ "$WARM_WAL_MB" -gt 0 ]; then
	note "writing and checkpointing ${WARM_WAL_MB} MB of WAL, so that WAL segments are recycled, not created"
	q -c "CREATE TABLE bench_warm_wal AS SELECT g, repeat('x', 200) AS filler FROM generate_series(1, $((WARM_WAL_MB * 4000))) AS g" \
		-c 'CHECKPOINT' -c 'DROP TABLE bench_warm_wal' -c 'CHECKPOINT' >/dev/null
fi
q -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION axs' \
	-c "SELECT axs.create_currency('USDT', 6), axs.create_currency('BTC', 8),
	    axs.create_currency('ETH', 8), axs.create_currency('SOL', 8), axs.create_currency('XRP', 6)" >/dev/null
# The new cluster's first autovacuum round (template1's catalogs, then the
# catalogs CREATE EXTENSION filled) would land in the half-load window: do
# it now, as a server that has been up has.  The second pass vacuums the
# statistics rows the first one's ANALYZE replaced.
vacuumdb --all --analyze --freeze --quiet
vacuumdb --all --freeze --quiet
q -c 'CHECKPOINT'
sync

harness "$TOOLS_BIN/axs-broker" --topic "$TOPIC:$PARTITIONS" --topic "$LATENCY_TOPIC:$LATENCY_PARTITIONS" \
	--topic "$OUTCOME_TOPIC:$PARTITIONS" --address-file "$DIR/broker.addr" >/dev/null 2>"$DIR/broker.log" &
BROKER_PID=$!
for _ in $(seq 50); do [ -s "$DIR/broker.addr" ] && break; sleep 0.1; done
BROKER=$(cat "$DIR/broker.addr" 2>/dev/null) || die "axs-broker did not write its address"

# start_feeder TOPIC OUTCOME_TOPIC ARGS: a feeder on TOPIC with these extra
# flags, publishing outcomes to OUTCOME_TOPIC if the stream is on, once it
# owns partitions
FEEDER_METRICS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_feeder()
{
	local topic=$1 outcome_args=()
	[ "$OUTCOMES" = off ] || outcome_args=(--outcomes-topic "$2" --metrics-port "$FEEDER_METRICS_PORT")
	# shellcheck disable=SC2086
	"$FEEDER_BIN/axs-feeder" --brokers "$BROKER" --topic "$topic" --group bench "${outcome_args[@]}" \
		--db "host=$PGHOST port=$PGPORT user=postgres dbname=postgres" \
		-X session.timeout.ms=6000 -X heartbeat.interval.ms=500 $3 \
		>>"$DIR/feeder.log" 2>&1 &
	FEEDER_PID=$!
	local assigned_before
	assigned_before=$(grep -c "assigned $topic\[" "$DIR/feeder.log" || true)
	for _ in $(seq 300); do
		[ "$(grep -c "assigned $topic\[" "$DIR/feeder.log" || true)" -gt "$assigned_before" ] && break
		sleep 0.1
	done
	[ "$(grep -c "assigned $topic\[" "$DIR/feeder.log" || true)" -gt "$assigned_before" ] ||
		die "the feeder got no partitions"
	sleep 0.5
}

# stop_feeder: SIGTERM, wait; its VmHWM (kB) goes to feeder_hwm_kb
feeder_hwm_kb=0
stop_feeder()
{
	local hwm
	hwm=$(awk '/VmHWM/ {print $2}' "/proc/$FEEDER_PID/status")
	[ "$hwm" -le "$feeder_hwm_kb" ] || feeder_hwm_kb=$hwm
	kill -TERM "$FEEDER_PID"
	wait "$FEEDER_PID" || die "axs-feeder did not exit cleanly"
	FEEDER_PID=
}

: >"$DIR/feeder.log"
start_feeder "$TOPIC" "$OUTCOME_TOPIC" "$FEEDER_ARGS"

# published_at: once the publisher holds the last seq decided, when it
# committed it (epoch seconds); waits up to PHASE_TIMEOUT.
published_at()
{
	local deadline=$((SECONDS + PHASE_TIMEOUT)) at
	while true; do
		at=$(q -c "SELECT extract(epoch FROM p.updated_at) FROM axs.outcome_publishers p, axs.applier_state st
		            WHERE p.published_seq = st.decided_seq")
		[ -z "$at" ] || { echo "$at"; return 0; }
		[ "$SECONDS" -lt "$deadline" ] || die "the outcome publisher did not catch up within ${PHASE_TIMEOUT} s"
		sleep 0.05
	done
}

stored() { q -c "SELECT coalesce(sum(next_offset), 0) FROM axs.feeder_offsets"; }

# run_phase TOPIC EVENTS RATE FIRST_ID LINGER_MS: produce, then wait until
# the stored offsets cover every message and the applier's watermark reaches
# the last position.
run_phase()
{
	local topic=$1 events=$2 rate=$3 first_id=$4 linger=$5 target deadline
	target=$(( $(stored) + events ))
	# shellcheck disable=SC2086
	harness "$TOOLS_BIN/axs-loadgen" --brokers "$BROKER" --topic "$topic" --events "$events" --rate "$rate" \
		--first-id "$first_id" --seed "$first_id" --key "$KEY" --intended "$DIR/intended-$first_id.ids" \
		-X linger.ms="$linger" $PRODUCER_ARGS 2>"$DIR/loadgen.log" &
	LOADGEN_PID=$!
	wait "$LOADGEN_PID" || die "axs-loadgen failed"
	LOADGEN_PID=
	deadline=$((SECONDS + PHASE_TIMEOUT))
	while [ "$(stored)" -lt "$target" ]; do
		[ "$SECONDS" -lt "$deadline" ] || die "stored offsets at $(stored) of $target after ${PHASE_TIMEOUT} s"
		kill -0 "$FEEDER_PID" 2>/dev/null || die "axs-feeder exited"
		sleep 0.2
	done
	q -c "SELECT axs.wait((SELECT max(position) FROM axs.inbox), ${PHASE_TIMEOUT}000)" | grep -qx t ||
		die "the applier did not reach the last position"
}

# --- 1. sustained --------------------------------------------------------
note "sustained: $EVENTS events into $TOPIC:$PARTITIONS (rate ${RATE:-0}, 0 = as fast as possible; linger.ms $LINGER_MS)"
run_phase "$TOPIC" "$EVENTS" "$RATE" 1 "$LINGER_MS"
read -r s_events s_seconds s_rate s_applied < <(q -F ' ' -c "
	SELECT count(*), round(extract(epoch FROM max(recorded_at) - min(queued_at))::numeric, 2),
	       round(count(*) / extract(epoch FROM max(recorded_at) - min(queued_at)))::bigint,
	       count(*) FILTER (WHERE reason_code = 0)
	  FROM axs.event_log WHERE queue_position IS NOT NULL")
s_watermark=$(q -c 'SELECT watermark FROM axs.applier_state')
note "sustained: $s_events events decided ($s_applied applied) in $s_seconds s: $s_rate events/s"
s_published_rate=off
if [ "$OUTCOMES" != off ]; then
	s_published_at=$(published_at)
	read -r s_published_seconds s_published_rate < <(q -F ' ' -c "
		SELECT round(($s_published_at - extract(epoch FROM min(queued_at)))::numeric, 2),
		       round(count(*) / ($s_published_at - extract(epoch FROM min(queued_at))))::bigint
		  FROM axs.event_log WHERE queue_position IS NOT NULL")
	note "sustained: the last outcome committed $s_published_seconds s after the first produce: $s_published_rate events/s with the outcome stream"
fi

# --- 2. half load -----------------------------------------------------------
stop_feeder
# recycle the sustained run's WAL segments, as the next checkpoint would
q -c 'CHECKPOINT'
start_feeder "$LATENCY_TOPIC" "$OUTCOME_TOPIC" "$LATENCY_FEEDER_ARGS"
HALF_RATE=${AXS_BENCH_E2E_HALF_RATE:-$((s_rate / 2))}
note "half load: $LATENCY_EVENTS events at $HALF_RATE/s into $LATENCY_TOPIC:$LATENCY_PARTITIONS (linger.ms $LATENCY_LINGER_MS)"
run_phase "$LATENCY_TOPIC" "$LATENCY_EVENTS" "$HALF_RATE" $((EVENTS + 1)) "$LATENCY_LINGER_MS"
read -r l_events l_seconds l_p50 l_p99 l_max < <(q -F ' ' -c "
	SELECT count(*), round(extract(epoch FROM max(recorded_at) - min(queued_at))::numeric, 2),
	       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
	       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
	       round(max(ms)::numeric, 1)
	  FROM (SELECT recorded_at, queued_at, extract(epoch FROM recorded_at - queued_at) * 1000 AS ms
	          FROM axs.event_log WHERE queue_position > $s_watermark AND reason_code = 0) AS applied")

o_p50=off o_p99=off o_max=off
if [ "$OUTCOMES" != off ]; then
	published_at >/dev/null
	read -r o_p50 o_p99 o_max < <(curl -sf "http://127.0.0.1:$FEEDER_METRICS_PORT/metrics" | awk '
		$1 == "axs_feeder_outcome_latency_seconds{quantile=\"0.5\"}" { p50 = $2 * 1000 }
		$1 == "axs_feeder_outcome_latency_seconds{quantile=\"0.99\"}" { p99 = $2 * 1000 }
		$1 == "axs_feeder_outcome_latency_seconds{quantile=\"0.999\"}" { p999 = $2 * 1000 }
		END { printf "%.1f %.1f %.1f\n", p50, p99, p999 }')
	note "half load: produce -> outcome committed p50 $o_p50 ms, p99 $o_p99 ms"
fi

# --- 3. feeder memory and consistency -------------------------------------
stop_feeder
hwm_kb=$feeder_hwm_kb
verify=$(q -c 'SELECT count(*) FROM axs.verify()')
dead=$(q -c 'SELECT count(*) FROM axs.dead_letters')
cat "$DIR"/intended-*.ids >"$DIR/intended.ids"
IFS='|' read -r rejected _ intended_rejected _ unintended frozen_settlements < <(
	q -F '|' -f "$TOP/scripts/rejections.sql" <"$DIR/intended.ids")

mkdir -p "$(dirname "$RESULTS")"
{
	echo "== e2e benchmark (loadgen -> axs-broker -> axs-feeder -> inbox -> applier$([ "$OUTCOMES" = off ] || echo ' -> outcome stream -> axs-feeder -> axs-broker')), outcome stream $OUTCOMES, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, fsync=on synchronous_commit=on (the feeder's batches: off unless its args say --synchronous-commit on)"
	echo "sustained: $TOPIC:$PARTITIONS, keyed by $KEY, rate ${RATE}, linger.ms $LINGER_MS, feeder args ${FEEDER_ARGS:-none}; half load: $LATENCY_TOPIC:$LATENCY_PARTITIONS, linger.ms $LATENCY_LINGER_MS, feeder args ${LATENCY_FEEDER_ARGS:-none}; producer args ${PRODUCER_ARGS:-none}; broker and loadgen at nice $HARNESS_NICE; load now: $(uptime | sed 's/.*load average/load average/')"
	printf '%-44s %12s\n' "measure" "value"
	printf '%-44s %12s\n' "sustained: events decided" "$s_events"
	printf '%-44s %12s\n' "sustained: seconds (first produce -> applied)" "$s_seconds"
	printf '%-44s %12s\n' "sustained: events/s" "$s_rate"
	printf '%-44s %12s\n' "half load: rate asked (events/s)" "$HALF_RATE"
	printf '%-44s %12s\n' "half load: applied events measured" "$l_events"
	printf '%-44s %12s\n' "half load: latency p50 (ms)" "$l_p50"
	printf '%-44s %12s\n' "half load: latency p99 (ms)" "$l_p99"
	printf '%-44s %12s\n' "half load: latency max (ms)" "$l_max"
	printf '%-44s %12s\n' "outcome stream" "$OUTCOMES"
	printf '%-44s %12s\n' "sustained: events/s to the outcome committed" "$s_published_rate"
	printf '%-44s %12s\n' "half load: produce->outcome commit p50 (ms)" "$o_p50"
	printf '%-44s %12s\n' "half load: produce->outcome commit p99 (ms)" "$o_p99"
	printf '%-44s %12s\n' "half load: produce->outcome commit p99.9 (ms)" "$o_max"
	printf '%-44s %12s\n' "feeder VmHWM (MB)" "$(awk -v k="$hwm_kb" 'BEGIN { printf "%.1f", k / 1024 }')"
	printf '%-44s %12s\n' "dead letters / axs.verify() rows" "$dead / $verify"
	printf '%-44s %12s\n' "rejected (intended / others)" "$rejected ($intended_rejected / $unintended)"
	printf '%-44s %12s\n' "trades+unfreezes insufficient_frozen" "$frozen_settlements"
} | tee -a "$RESULTS"
echo "results appended to $RESULTS" >&2
[ "$verify" = 0 ] || die "axs.verify() found $verify discrepancies"
