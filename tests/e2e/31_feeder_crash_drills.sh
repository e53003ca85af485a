#!/usr/bin/env bash
#
# 31_feeder_crash_drills.sh
#	Three faults hit axs-feeder while axs-loadgen is still producing
#	(throttled with --rate), each on a cluster and an axs-broker of its own:
#	  a. kill -9 of the feeder mid-stream, then a new feeder in its place;
#	  b. PostgreSQL crashes (scripts/cluster.sh stop-immediate) mid-stream and
#	     comes back; the same feeder reconnects with backoff by itself;
#	  c. two feeders in one group: the second joins mid-stream (rebalance),
#	     then the first is stopped with SIGTERM (must exit 0) and the second
#	     finishes alone.
#	After each: exactly once (stored offsets sum = produced; one inbox row
#	per valid message, one dead letter per malformed one; every valid id
#	exactly once in axs.event_log; the logged ids are the valid ids produced,
#	classified by the extension's decoder) and axs.verify() empty.
#
# It owns the clusters .scratch/31_feeder/{kill9,pgcrash,rebalance}, their
# brokers and feeders, stopped in the EXIT trap.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
SCRATCH=${AXS_E2E_SCRATCH:-$TOP/.scratch}/31_feeder
TOPIC=axs.events
PARTITIONS=8
EVENTS=${AXS_E2E_DRILL_EVENTS:-20000}
DIR=$SCRATCH/kill9

# shellcheck source=tests/e2e/lib_feeder.sh
. "$TOP/tests/e2e/lib_feeder.sh"
trap feeder_cleanup EXIT

# wait_log FILE PATTERN SECONDS: until FILE has a line matching PATTERN.
wait_log()
{
	local deadline=$((SECONDS + $3))
	while [ "$SECONDS" -lt "$deadline" ]; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# wait_stored_at_least COUNT SECONDS
wait_stored_at_least()
{
	local deadline=$((SECONDS + $2)) sum
	while [ "$SECONDS" -lt "$deadline" ]; do
		sum=$(stored_sum "$TOPIC")
		[[ "$sum" =~ ^[0-9]+$ ]] && [ "$sum" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# drill_begin NAME RATE SEED: cluster, broker, the expected classification,
# one feeder ("a", assigned), then the loadgen in the background (LOADGEN_PID).
drill_begin()
{
	local name=$1 rate=$2 seed=$3
	DIR=$SCRATCH/$name
	DRILL_START=$SECONDS
	echo
	echo "# drill $name: cluster $DIR, $EVENTS events at $rate/s into $TOPIC:$PARTITIONS"
	cluster_setup
	start_broker "$TOPIC:$PARTITIONS"
	LOADGEN_ARGS=(--events "$EVENTS" --accounts 3000 --malformed 1 --duplicates 2 --seed "$seed")
	"$BIN/axs-loadgen" --output "$DIR/loadgen.values" "${LOADGEN_ARGS[@]}" 2>/dev/null
	expected_from_file "$DIR/loadgen.values"
	echo "# expected: $EXP_MESSAGES messages, $EXP_MALFORMED malformed, $EXP_VALID valid, $EXP_VALID_IDS distinct valid ids"
	start_feeder a "$TOPIC"
	FEEDER_A=$FEEDER_PID
	wait_log "$DIR/feeder-a.log" "assigned $TOPIC" 30 || die "feeder a got no partitions within 30 s"
	"$BIN/axs-loadgen" --brokers "$BROKER" --topic "$TOPIC" --rate "$rate" "${LOADGEN_ARGS[@]}" \
		-X linger.ms=5 2>"$DIR/loadgen.log" &
	LOADGEN_PID=$!
}

# drill_end: wait for the loadgen, the stored offsets and the applier; check.
drill_end()
{
	local status=0
	wait "$LOADGEN_PID" 2>/dev/null || status=$?
	[ "$status" = 127 ] && status=0	# already waited for
	[ "$status" = 0 ] || { cat "$DIR/loadgen.log"; die "axs-loadgen failed ($status)"; }
	wait_stored "$TOPIC" "$EVENTS" 60 ||
		die "stored offsets sum to $(stored_sum "$TOPIC"), expected $EVENTS, 60 s after the loadgen finished"
	wait_drained 60 || die "the applier did not drain: $(q -c 'SELECT * FROM axs.applier_status')"
	check_exactly_once "$TOPIC" "$EVENTS" "$EXP_MALFORMED" "$EXP_VALID" "$EXP_VALID_IDS"
	echo "# drill done in $((SECONDS - DRILL_START)) s"
	feeder_cleanup
	FEEDER_PIDS=()
	BROKER_PID=
}

loadgen_running()
{
	kill -0 "$LOADGEN_PID" 2>/dev/null
}

# --- a. kill -9 of the feeder mid-stream ------------------------------------
drill_begin kill9 10000 311
wait_stored_at_least 5000 30 || die "nothing stored 30 s after the loadgen started"
kill -KILL "$FEEDER_A"
wait "$FEEDER_A" 2>/dev/null || true
at_kill=$(stored_sum "$TOPIC")
check "kill -9 hit mid-stream (stored $at_kill of $EVENTS, loadgen still producing)" \
	"$([ "$at_kill" -lt "$EVENTS" ] && loadgen_running && echo ok || echo "stored $at_kill, loadgen running: $(loadgen_running && echo yes || echo no)")"
start_feeder b "$TOPIC"
wait_log "$DIR/feeder-b.log" "assigned $TOPIC.* at stored offset" 40 ||
	die "the new feeder did not resume from a stored offset within 40 s"
echo "# new feeder resumed: $(grep -c 'at stored offset' "$DIR/feeder-b.log") partitions from stored offsets"
drill_end

# --- b. PostgreSQL crash mid-stream ----------------------------------------
# The applier is off until the feeder has finished: a restarted applier
# TRUNCATEs inbox segments whose rows are all applied (applier.c,
# truncate_applied_segments at takeover), which would erase the pre-crash
# inbox rows this drill counts to prove that nothing was written twice.
export AXS_PG_CONF="axs.applier_enabled = off"
drill_begin pgcrash 10000 312
wait_stored_at_least 5000 30 || die "nothing stored 30 s after the loadgen started"
"$TOP/scripts/cluster.sh" stop-immediate "$DIR" >/dev/null 2>&1
at_crash=$(q -c 'SELECT 1' 2>/dev/null || echo down)
check "PostgreSQL crashed mid-stream (loadgen still producing)" \
	"$([ "$at_crash" = down ] && loadgen_running && echo ok || echo "server: $at_crash, loadgen running: $(loadgen_running && echo yes || echo no)")"
sleep 2
port_before=$PGPORT
"$TOP/scripts/cluster.sh" start "$DIR" >/dev/null 2>&1 || die "the cluster did not restart"
# shellcheck disable=SC1091
. "$DIR/env"
[ "$PGPORT" = "$port_before" ] || die "the cluster came back on port $PGPORT instead of $port_before; the feeder cannot follow"
grep -q 'automatic recovery in progress' "$DIR/log/postgres.log" || die "no crash recovery in the server log"
wait_log "$DIR/feeder-a.log" "resuming at offset" 30 || die "the feeder did not resync after the crash within 30 s"
echo "# feeder log: $(grep -c 'failed\|cannot connect' "$DIR/feeder-a.log") failed attempts, then $(grep -c 'resuming at offset' "$DIR/feeder-a.log") partitions resumed"
check "the feeder kept running through the crash" "$(kill -0 "$FEEDER_A" 2>/dev/null && echo ok || echo 'it exited')"
wait "$LOADGEN_PID" || die "axs-loadgen failed"
wait_stored "$TOPIC" "$EVENTS" 60 || die "stored offsets sum to $(stored_sum "$TOPIC"), expected $EVENTS"
echo "# feeder done; enable the applier (ALTER SYSTEM SET axs.applier_enabled = on)"
q -c 'ALTER SYSTEM SET axs.applier_enabled = on' -c 'SELECT pg_reload_conf()' >/dev/null
unset AXS_PG_CONF
drill_end

# --- c. rebalance: a second feeder joins, the first leaves with SIGTERM ----
drill_begin rebalance 2500 313
wait_stored_at_least 3000 30 || die "nothing stored 30 s after the loadgen started"
start_feeder b "$TOPIC"
FEEDER_B=$FEEDER_PID
wait_log "$DIR/feeder-b.log" "assigned $TOPIC" 40 || die "feeder b got no partitions within 40 s"
wait_log "$DIR/feeder-a.log" "revoked $TOPIC" 5 || die "feeder a never gave up a partition"
shared_a=$(grep -c "assigned $TOPIC" "$DIR/feeder-a.log")
echo "# rebalanced: feeder b got $(grep -c "assigned $TOPIC" "$DIR/feeder-b.log") partitions; stored $(stored_sum "$TOPIC") of $EVENTS"
sleep 1
stop_feeder "$FEEDER_A"
check_eq "feeder a exits 0 on SIGTERM" 0 "$STOP_STATUS"
check "feeder a stopped mid-stream (loadgen still producing; a had $shared_a assignments)" \
	"$(loadgen_running && echo ok || echo 'the loadgen had already finished')"
wait_log "$DIR/feeder-b.log" "at stored offset" 40 || die "feeder b did not take over a stored partition within 40 s"
wait "$LOADGEN_PID" || die "axs-loadgen failed"
wait_stored "$TOPIC" "$EVENTS" 60 || die "stored offsets sum to $(stored_sum "$TOPIC"), expected $EVENTS"
check "feeder b alone finished the stream and is still running" "$(kill -0 "$FEEDER_B" 2>/dev/null && echo ok || echo 'it exited')"
drill_end

finish
