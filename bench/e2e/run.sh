#!/usr/bin/env bash
#
# bench/e2e/run.sh
#	The end-to-end benchmark: axs-loadgen -> axs-broker -> axs-feeder ->
#	axs.inbox -> applier -> axs.balances / axs.event_log, with fsync and
#	synchronous_commit on (scripts/cluster.sh defaults).
#	  1. sustained: AXS_BENCH_E2E_EVENTS events produced as fast as the
#	     loadgen can (or at AXS_BENCH_E2E_RATE) while the feeder and the
#	     applier run; events/s = events / (last event applied - first event
#	     produced), both taken from axs.event_log (queued_at = the Kafka
#	     CreateTime the producer set, recorded_at = when the applier decided).
#	  2. half load: AXS_BENCH_E2E_LATENCY_EVENTS more events at half the
#	     sustained rate; latency = recorded_at - queued_at of the applied
#	     events of this run (p50, p99, max), computed in SQL.  Both clocks
#	     are this machine's.
#	  3. the feeder's peak resident memory (VmHWM of /proc/PID/status).
#	Prints a table on stdout and appends it to bench/results/<UTC>.txt (or
#	to AXS_BENCH_RESULTS_FILE).
#
# The broker keeps about 5 MiB per partition (librdkafka mock): the topic
# gets enough partitions that every produced event stays retained even if
# the feeder falls behind (about 120 bytes a message).
#
# It owns the cluster .scratch/bench_e2e, its axs-broker and axs-feeder, all
# stopped in the EXIT trap.
#
# Env: AXS_BENCH_E2E_EVENTS (2000000), AXS_BENCH_E2E_LATENCY_EVENTS
# (400000), AXS_BENCH_E2E_RATE (default 100000, about what this 2-core machine
# sustains; 0 = as fast as
# possible, which outruns the embedded broker's retention at 2M events),
# AXS_BENCH_E2E_HALF_RATE (default: half the measured sustained rate),
# AXS_BENCH_E2E_PARTITIONS (default: from the event count, at least 32),
# AXS_BENCH_E2E_FEEDER_ARGS (extra axs-feeder flags for the sustained run;
# default none, the throughput defaults), AXS_BENCH_E2E_LATENCY_FEEDER_ARGS
# (for the half-load run; default the low-latency settings of
# feeder/README.md), AXS_BENCH_E2E_TIMEOUT (240 s per phase),
# AXS_BENCH_E2E_BIN (programs, default feeder/), AXS_BENCH_E2E_LINGER_MS (the
# producer's linger.ms, default 10: fewer, larger message sets, which the
# embedded broker serves with far less CPU), AXS_BENCH_E2E_PRODUCER_ARGS (extra
# axs-loadgen flags, e.g. "-X compression.codec=lz4").

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd -P)
export PATH=/usr/lib/postgresql/15/bin:$PATH
EVENTS=${AXS_BENCH_E2E_EVENTS:-2000000}
LATENCY_EVENTS=${AXS_BENCH_E2E_LATENCY_EVENTS:-400000}
RATE=${AXS_BENCH_E2E_RATE:-100000}
FEEDER_ARGS=${AXS_BENCH_E2E_FEEDER_ARGS:-}
LATENCY_FEEDER_ARGS=${AXS_BENCH_E2E_LATENCY_FEEDER_ARGS:---batch-ms 5 -X fetch.min.bytes=65536 -X fetch.wait.max.ms=10}
BIN=${AXS_BENCH_E2E_BIN:-$TOP/feeder}
DIR=$TOP/.scratch/bench_e2e
TOPIC=axs.events
# The half-load run gets a topic of its own: the embedded broker's cost per
# fetch grows with the message sets it already holds (bench/e2e/README.md).
LATENCY_TOPIC=axs.events.latency
RESULTS=${AXS_BENCH_RESULTS_FILE:-$TOP/bench/results/$(date -u +%Y%m%dT%H%M%SZ).txt}
PHASE_TIMEOUT=${AXS_BENCH_E2E_TIMEOUT:-240}
BROKER_PID=
FEEDER_PID=

# Every partition must hold its share of both runs within ~4 MiB.
if [ -z "${AXS_BENCH_E2E_PARTITIONS:-}" ]; then
	PARTITIONS=$(( ((EVENTS > LATENCY_EVENTS ? EVENTS : LATENCY_EVENTS) * 200 / (4 * 1024 * 1024)) + 1 ))
	[ "$PARTITIONS" -ge 32 ] || PARTITIONS=32
else
	PARTITIONS=$AXS_BENCH_E2E_PARTITIONS
fi

note() { echo "e2e bench: $*" >&2; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

cleanup()
{
	[ -z "$FEEDER_PID" ] || { kill -TERM "$FEEDER_PID" 2>/dev/null || true; wait "$FEEDER_PID" 2>/dev/null || true; }
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
q -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION axs' \
	-c "SELECT axs.create_currency('USDT', 6), axs.create_currency('BTC', 8),
	    axs.create_currency('ETH', 8), axs.create_currency('SOL', 8), axs.create_currency('XRP', 6)" >/dev/null

"$BIN/axs-broker" --topic "$TOPIC:$PARTITIONS" --topic "$LATENCY_TOPIC:$PARTITIONS" --address-file "$DIR/broker.addr" >/dev/null 2>"$DIR/broker.log" &
BROKER_PID=$!
for _ in $(seq 50); do [ -s "$DIR/broker.addr" ] && break; sleep 0.1; done
BROKER=$(cat "$DIR/broker.addr" 2>/dev/null) || die "axs-broker did not write its address"

# start_feeder TOPIC ARGS: a feeder on TOPIC with these extra flags, once it
# owns partitions
start_feeder()
{
	local topic=$1
	# shellcheck disable=SC2086
	"$BIN/axs-feeder" --brokers "$BROKER" --topic "$topic" --group bench \
		--db "host=$PGHOST port=$PGPORT user=postgres dbname=postgres" \
		-X session.timeout.ms=6000 -X heartbeat.interval.ms=500 $2 \
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
start_feeder "$TOPIC" "$FEEDER_ARGS"

stored() { q -c "SELECT coalesce(sum(next_offset), 0) FROM axs.feeder_offsets"; }

# run_phase TOPIC EVENTS RATE FIRST_ID: produce, then wait until the stored
# offsets cover every message and the applier's watermark reaches the last
# position.
run_phase()
{
	local topic=$1 events=$2 rate=$3 first_id=$4 target deadline
	target=$(( $(stored) + events ))
	"$BIN/axs-loadgen" --brokers "$BROKER" --topic "$topic" --events "$events" --rate "$rate" \
		--first-id "$first_id" --seed "$first_id" -X linger.ms=${AXS_BENCH_E2E_LINGER_MS:-10} ${AXS_BENCH_E2E_PRODUCER_ARGS:-} 2>"$DIR/loadgen.log" ||
		die "axs-loadgen failed"
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
note "sustained: $EVENTS events into $TOPIC:$PARTITIONS (rate ${RATE:-0}, 0 = as fast as possible)"
run_phase "$TOPIC" "$EVENTS" "$RATE" 1
read -r s_events s_seconds s_rate s_applied < <(q -F ' ' -c "
	SELECT count(*), round(extract(epoch FROM max(recorded_at) - min(queued_at))::numeric, 2),
	       round(count(*) / extract(epoch FROM max(recorded_at) - min(queued_at)))::bigint,
	       count(*) FILTER (WHERE reason_code = 0)
	  FROM axs.event_log WHERE queue_position IS NOT NULL")
s_watermark=$(q -c 'SELECT watermark FROM axs.applier_state')
note "sustained: $s_events events decided ($s_applied applied) in $s_seconds s: $s_rate events/s"

# --- 2. half load -----------------------------------------------------------
stop_feeder
start_feeder "$LATENCY_TOPIC" "$LATENCY_FEEDER_ARGS"
HALF_RATE=${AXS_BENCH_E2E_HALF_RATE:-$((s_rate / 2))}
note "half load: $LATENCY_EVENTS events at $HALF_RATE/s"
run_phase "$LATENCY_TOPIC" "$LATENCY_EVENTS" "$HALF_RATE" $((EVENTS + 1))
read -r l_events l_seconds l_p50 l_p99 l_max < <(q -F ' ' -c "
	SELECT count(*), round(extract(epoch FROM max(recorded_at) - min(queued_at))::numeric, 2),
	       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
	       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
	       round(max(ms)::numeric, 1)
	  FROM (SELECT recorded_at, queued_at, extract(epoch FROM recorded_at - queued_at) * 1000 AS ms
	          FROM axs.event_log WHERE queue_position > $s_watermark AND reason_code = 0) AS applied")

# --- 3. feeder memory and consistency -------------------------------------
stop_feeder
hwm_kb=$feeder_hwm_kb
verify=$(q -c 'SELECT count(*) FROM axs.verify()')
dead=$(q -c 'SELECT count(*) FROM axs.dead_letters')

mkdir -p "$(dirname "$RESULTS")"
{
	echo "== e2e benchmark (loadgen -> axs-broker -> axs-feeder -> inbox -> applier), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, fsync=on synchronous_commit=on"
	echo "topic $TOPIC:$PARTITIONS, feeder args: ${FEEDER_ARGS:-none} (sustained), ${LATENCY_FEEDER_ARGS:-none} (half load), load now: $(uptime | sed 's/.*load average/load average/')"
	printf '%-44s %12s\n' "measure" "value"
	printf '%-44s %12s\n' "sustained: events decided" "$s_events"
	printf '%-44s %12s\n' "sustained: seconds (first produce -> applied)" "$s_seconds"
	printf '%-44s %12s\n' "sustained: events/s" "$s_rate"
	printf '%-44s %12s\n' "half load: rate asked (events/s)" "$HALF_RATE"
	printf '%-44s %12s\n' "half load: applied events measured" "$l_events"
	printf '%-44s %12s\n' "half load: latency p50 (ms)" "$l_p50"
	printf '%-44s %12s\n' "half load: latency p99 (ms)" "$l_p99"
	printf '%-44s %12s\n' "half load: latency max (ms)" "$l_max"
	printf '%-44s %12s\n' "feeder VmHWM (MB)" "$(awk -v k="$hwm_kb" 'BEGIN { printf "%.1f", k / 1024 }')"
	printf '%-44s %12s\n' "dead letters / axs.verify() rows" "$dead / $verify"
} | tee -a "$RESULTS"
echo "results appended to $RESULTS" >&2
[ "$verify" = 0 ] || die "axs.verify() found $verify discrepancies"
