#!/usr/bin/env bash
#
# bench/e2e/feeder_throughput.sh
#	axs-feeder alone: N loadgen events pre-produced into an axs-broker topic
#	of P partitions, the applier disabled, then one axs-feeder started; it
#	reports msg/s from the first stored offset until the stored offsets
#	cover every message (Kafka -> axs.inbox, committed).  Prints one row
#	"feeder|messages|seconds|msg/s|VmHWM kB" on stdout, notes on stderr.
#
# It owns the cluster .scratch/bench_feeder and its broker and feeder, all
# stopped on exit.  Env: AXS_BENCH_FEEDER_EVENTS (500000),
# AXS_BENCH_FEEDER_PARTITIONS (32), AXS_BENCH_FEEDER_ARGS (extra feeder flags),
# AXS_BENCH_FEEDER_BIN (directory of the programs, default feeder/ for
# axs-feeder and tools/ for axs-broker and axs-loadgen).

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd -P)
export PATH=/usr/lib/postgresql/15/bin:$PATH
EVENTS=${AXS_BENCH_FEEDER_EVENTS:-500000}
PARTITIONS=${AXS_BENCH_FEEDER_PARTITIONS:-32}
FEEDER_BIN=${AXS_BENCH_FEEDER_BIN:-$TOP/feeder}
TOOLS_BIN=${AXS_BENCH_FEEDER_BIN:-$TOP/tools}
DIR=$TOP/.scratch/bench_feeder
TOPIC=axs.events
BROKER_PID=
FEEDER_PID=

note() { echo "feeder bench: $*" >&2; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

cleanup()
{
	[ -z "$FEEDER_PID" ] || { kill -TERM "$FEEDER_PID" 2>/dev/null || true; wait "$FEEDER_PID" 2>/dev/null || true; }
	[ -z "$BROKER_PID" ] || { kill -TERM "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; }
	"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT

"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR"
"$TOP/scripts/cluster.sh" start "$DIR" >/dev/null 2>&1
# shellcheck disable=SC1091
. "$DIR/env"
q -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION axs' \
	-c "SELECT axs.create_currency('USDT', 6), axs.create_currency('BTC', 8),
	    axs.create_currency('ETH', 8), axs.create_currency('SOL', 8), axs.create_currency('XRP', 6)" \
	-c 'ALTER SYSTEM SET axs.applier_enabled = off' -c 'SELECT pg_reload_conf()' >/dev/null

"$TOOLS_BIN/axs-broker" --topic "$TOPIC:$PARTITIONS" --address-file "$DIR/broker.addr" >/dev/null 2>"$DIR/broker.log" &
BROKER_PID=$!
for _ in $(seq 50); do [ -s "$DIR/broker.addr" ] && break; sleep 0.1; done
BROKER=$(cat "$DIR/broker.addr")

note "producing $EVENTS events into $TOPIC:$PARTITIONS"
"$TOOLS_BIN/axs-loadgen" --brokers "$BROKER" --topic "$TOPIC" --events "$EVENTS" --rate 0 \
	--malformed 1 --duplicates 1 -X linger.ms=20 2>"$DIR/loadgen.log"

# shellcheck disable=SC2086
"$FEEDER_BIN/axs-feeder" --brokers "$BROKER" --topic "$TOPIC" --group bench \
	--db "host=$PGHOST port=$PGPORT user=postgres dbname=postgres" \
	-X session.timeout.ms=6000 -X heartbeat.interval.ms=500 ${AXS_BENCH_FEEDER_ARGS:-} \
	>"$DIR/feeder.log" 2>&1 &
FEEDER_PID=$!

stored() { q -c "SELECT coalesce(sum(next_offset), 0) FROM axs.feeder_offsets"; }
t0= s0=0
deadline=$((SECONDS + 300))
while [ "$SECONDS" -lt "$deadline" ]; do
	s=$(stored)
	now=$(date +%s.%N)
	if [ -z "$t0" ] && [ "$s" -gt 0 ]; then t0=$now s0=$s; fi
	[ "$s" -ge "$EVENTS" ] && break
	kill -0 "$FEEDER_PID" 2>/dev/null || { tail "$DIR/feeder.log" >&2; exit 1; }
	sleep 0.05
done
[ "$s" -ge "$EVENTS" ] || { note "timed out at $s of $EVENTS"; exit 1; }
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$FEEDER_PID/status")
awk -v n=$((EVENTS - s0)) -v t0="$t0" -v t1="$now" -v hwm="$hwm" \
	'BEGIN { printf "feeder|%d|%.2f|%.0f|%s\n", n, t1 - t0, n / (t1 - t0), hwm }'
