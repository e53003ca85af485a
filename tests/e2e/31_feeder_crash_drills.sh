#!/usr/bin/env bash
#
# 31_feeder_crash_drills.sh
#	Three faults hit axs-feeder mid-stream (axs-loadgen throttled with
#	--rate; "mid-stream" = the stored offsets are below the produced total
#	when the fault hits), each on a cluster and an axs-broker of its own:
#	  a. kill -9 of the feeder mid-stream, then a new feeder in its place;
#	  b. PostgreSQL crashes (scripts/cluster.sh stop-immediate) mid-stream and
#	     comes back; the same feeder reconnects with backoff by itself (its
#	     last batches, committed without waiting for the WAL flush, may be
#	     lost with the crash: it consumes them again);
#	  c. two feeders in one group: the second joins mid-stream (rebalance);
#	     once it holds partition locks and has written, the first is stopped
#	     with SIGTERM (must exit 0) and the second takes every partition and
#	     finishes alone.
#	  d. a zombie: a second feeder in another consumer group consumes the
#	     same topic; the partition locks hold it off until the first stops
#	     mid-stream, then it finishes from the stored offsets.
#	After each: exactly once (stored offsets sum = produced; one inbox row
#	per valid message, one dead letter per malformed one; every valid id
#	exactly once in axs.event_log; the logged ids are the valid ids produced,
#	classified by the extension's decoder) and axs.verify() empty.
#
# It owns the clusters .scratch/31_feeder/{kill9,pgcrash,rebalance,zombie}, their
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

# drill_begin NAME RATE SEED: cluster, broker, one feeder ("a"), the expected
# classification (while the group's first join delay runs), feeder a
# assigned, then the loadgen in the background (LOADGEN_PID).
drill_begin()
{
	local name=$1 rate=$2 seed=$3
	DIR=$SCRATCH/$name
	DRILL_START=$SECONDS
	echo
	echo "# drill $name: cluster $DIR, $EVENTS events at $rate/s into $TOPIC:$PARTITIONS"
	cluster_setup
	start_broker "$TOPIC:$PARTITIONS"
	start_feeder a "$TOPIC"
	FEEDER_A=$FEEDER_PID
	LOADGEN_ARGS=(--events "$EVENTS" --accounts 3000 --malformed 1 --duplicates 2 --seed "$seed")
	"$BIN/axs-loadgen" --output "$DIR/loadgen.values" "${LOADGEN_ARGS[@]}" 2>/dev/null
	expected_from_file "$DIR/loadgen.values"
	echo "# expected: $EXP_MESSAGES messages, $EXP_MALFORMED malformed, $EXP_VALID valid, $EXP_VALID_IDS distinct valid ids"
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

# The partition locks the feeders' sessions hold (feeder/README.md, Fencing;
# the applier's fence is an advisory lock too, hence the application name).
FEEDER_LOCKS_SQL="SELECT l.pid FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
	WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted AND s.application_name = 'axs-feeder'"

loadgen_running()
{
	kill -0 "$LOADGEN_PID" 2>/dev/null
}

# --- a. kill -9 of the feeder mid-stream ------------------------------------
# 20000 events at 5000/s: a 4 s stream; "mid-stream" = the stored offsets
# were below the produced total when the feeder died.
drill_begin kill9 5000 311
wait_stored_at_least 5000 30 || die "nothing stored 30 s after the loadgen started"
kill -KILL "$FEEDER_A"
wait "$FEEDER_A" 2>/dev/null || true
at_kill=$(stored_sum "$TOPIC")
check "kill -9 hit mid-stream (stored $at_kill of $EVENTS; loadgen $(loadgen_running && echo 'still producing' || echo finished))" \
	"$([[ "$at_kill" =~ ^[0-9]+$ ]] && [ "$at_kill" -lt "$EVENTS" ] && echo ok || echo "stored $at_kill of $EVENTS after the kill")"
start_feeder b "$TOPIC"
wait_log "$DIR/feeder-b.log" "assigned $TOPIC.* at stored offset" 40 ||
	die "the new feeder did not resume from a stored offset within 40 s"
echo "# new feeder resumed: $(grep -c 'at stored offset' "$DIR/feeder-b.log") partitions from stored offsets"
drill_end

# --- b. PostgreSQL crash mid-stream ----------------------------------------
# The applier is off until the feeder has finished: a restarted applier
# truncates inbox segments whose rows are all applied (inbox.c,
# axs_inbox_truncate_applied at takeover), which would erase the pre-crash
# inbox rows this drill counts to prove that nothing was written twice.
export AXS_PG_CONF="axs.applier_enabled = off"
# 20000 events at 5000/s: a 4 s stream; "mid-stream" = the stored offsets
# were below the produced total just before the crash.
drill_begin pgcrash 5000 312
wait_stored_at_least 5000 30 || die "nothing stored 30 s after the loadgen started"
before_crash=$(stored_sum "$TOPIC")
"$TOP/scripts/cluster.sh" stop-immediate "$DIR" >/dev/null 2>&1
at_crash=$(q -c 'SELECT 1' 2>/dev/null || echo down)
check "PostgreSQL crashed mid-stream (stored $before_crash of $EVENTS just before; loadgen $(loadgen_running && echo 'still producing' || echo finished))" \
	"$([ "$at_crash" = down ] && [[ "$before_crash" =~ ^[0-9]+$ ]] && [ "$before_crash" -lt "$EVENTS" ] && echo ok || echo "server: $at_crash, stored $before_crash of $EVENTS just before the crash")"
sleep 2
port_before=$PGPORT
"$TOP/scripts/cluster.sh" start "$DIR" >/dev/null 2>&1 || die "the cluster did not restart"
# shellcheck disable=SC1091
. "$DIR/env"
[ "$PGPORT" = "$port_before" ] || die "the cluster came back on port $PGPORT instead of $port_before; the feeder cannot follow"
grep -q 'automatic recovery in progress' "$DIR/log/postgres.log" || die "no crash recovery in the server log"
wait_log "$DIR/feeder-a.log" "resuming at offset" 30 || die "the feeder did not resync after the crash within 30 s"
echo "# feeder log: $(grep -c 'failed\|cannot connect' "$DIR/feeder-a.log") failed attempts, then $(grep -c 'resuming at offset' "$DIR/feeder-a.log") partitions resumed"
# The feeder commits its batches with synchronous_commit off (pg_sink.c), so
# the crash may take the last ones, rows and offsets together; it then
# consumes those messages again, and the checks below prove none is lost.
resumed_sum=$(grep -h 'resuming at offset' "$DIR/feeder-a.log" | tail -n "$PARTITIONS" | awk '{ s += $NF } END { print s + 0 }')
echo "# the resumed offsets sum to $resumed_sum; the stored offsets read just before the crash summed to $before_crash"
check "the feeder kept running through the crash" "$(kill -0 "$FEEDER_A" 2>/dev/null && echo ok || echo 'it exited')"
wait "$LOADGEN_PID" || die "axs-loadgen failed"
wait_stored "$TOPIC" "$EVENTS" 60 || die "stored offsets sum to $(stored_sum "$TOPIC"), expected $EVENTS"
echo "# feeder done; enable the applier (ALTER SYSTEM SET axs.applier_enabled = on)"
q -c 'ALTER SYSTEM SET axs.applier_enabled = on' -c 'SELECT pg_reload_conf()' >/dev/null
unset AXS_PG_CONF
drill_end

# --- c. rebalance: a second feeder joins, the first leaves with SIGTERM ----
# The mock broker takes 5 to 10 s per rebalance, so the stream must outlast
# one: 20000 events at 1000/s last 20 s.  Feeder a is stopped only once
# feeder b owns partitions (its session holds their advisory locks) and has
# written to them; "mid-stream" means the stored offsets were below the
# produced total at the SIGTERM, so feeder b had to finish the stream alone.
drill_begin rebalance 1000 313
wait_stored_at_least 2000 30 || die "nothing stored 30 s after the loadgen started"
start_feeder b "$TOPIC"
FEEDER_B=$FEEDER_PID
wait_log "$DIR/feeder-b.log" "assigned $TOPIC" 40 || die "feeder b got no partitions within 40 s"
wait_log "$DIR/feeder-a.log" "revoked $TOPIC" 5 || die "feeder a never gave up a partition"
wait_for 20 "SELECT count(DISTINCT pid) = 2 FROM ($FEEDER_LOCKS_SQL) l" ||
	die "the two feeders' sessions do not both hold partition locks: $(q -c "SELECT string_agg(pid || ':' || locks, ' ') FROM (SELECT pid, count(*) AS locks FROM ($FEEDER_LOCKS_SQL) l GROUP BY pid) p")"
# Feeder b's partitions and the offsets it started them at (no stored offset: 0).
b_start=$(sed -n "s/.*assigned $TOPIC\[\([0-9]*\)\] at stored offset \([0-9]*\)$/(\1,\2)/p;
	s/.*assigned $TOPIC\[\([0-9]*\)\] from the beginning.*/(\1,0)/p" "$DIR/feeder-b.log" | paste -sd,)
wait_for 20 "SELECT bool_or(o.next_offset > s.start) FROM (VALUES $b_start) s(part, start)
		JOIN axs.feeder_offsets o ON o.topic = '$TOPIC' AND o.\"partition\" = s.part" ||
	die "feeder b wrote nothing to its partitions ($b_start) within 20 s"
shared_a=$(grep -c "assigned $TOPIC" "$DIR/feeder-a.log")
at_stop=$(stored_sum "$TOPIC")
echo "# rebalanced: feeder b owns $(grep -c "assigned $TOPIC" "$DIR/feeder-b.log") partitions and has written; stored $at_stop of $EVENTS"
stop_feeder "$FEEDER_A"
check_eq "feeder a exits 0 on SIGTERM" 0 "$STOP_STATUS"
check "feeder a stopped mid-stream (stored $at_stop of $EVENTS at the SIGTERM, $(stored_sum "$TOPIC") after it exited; loadgen $(loadgen_running && echo 'still producing' || echo finished); a had $shared_a assignments)" \
	"$([[ "$at_stop" =~ ^[0-9]+$ ]] && [ "$at_stop" -lt "$EVENTS" ] && echo ok || echo "stored $at_stop of $EVENTS at the SIGTERM")"
wait_for 40 "SELECT count(*) = $PARTITIONS AND count(DISTINCT pid) = 1 FROM ($FEEDER_LOCKS_SQL) l" ||
	die "feeder b did not take all $PARTITIONS partition locks within 40 s of feeder a's exit"
wait "$LOADGEN_PID" || die "axs-loadgen failed"
wait_stored "$TOPIC" "$EVENTS" 60 || die "stored offsets sum to $(stored_sum "$TOPIC"), expected $EVENTS"
check "feeder b alone finished the stream and is still running ($(grep -c "assigned $TOPIC.* at stored offset" "$DIR/feeder-b.log") assignments at stored offsets)" \
	"$(kill -0 "$FEEDER_B" 2>/dev/null && echo ok || echo 'it exited')"
drill_end

# --- d. a zombie: a second feeder in another group on the same topic --------
# Both consume every partition (different consumer groups), as a feeder that
# kept running after it should have stopped would.  The partition's advisory
# lock keeps feeder z from writing while feeder a holds it; once feeder a
# stops (SIGTERM, mid-stream), z takes the locks, starts at the stored
# offsets and finishes the stream.  20000 events at 1000/s last 20 s: feeder
# z's group must first form (a few seconds on the embedded broker).
drill_begin zombie 1000 314
start_feeder z "$TOPIC" --group axs-zombie
FEEDER_Z=$FEEDER_PID
wait_log "$DIR/feeder-z.log" "advisory lock of $TOPIC.* is held by another session" 30 ||
	die "feeder z did not find the partitions locked within 30 s"
at_stop=$(stored_sum "$TOPIC")
stop_feeder "$FEEDER_A"
check_eq "feeder a exits 0 on SIGTERM" 0 "$STOP_STATUS"
check "feeder a stopped mid-stream (stored $at_stop of $EVENTS), while feeder z waited for its locks" \
	"$([[ "$at_stop" =~ ^[0-9]+$ ]] && [ "$at_stop" -lt "$EVENTS" ] && echo ok || echo "stored $at_stop of $EVENTS at the SIGTERM")"
wait_for 30 "SELECT count(*) = $PARTITIONS FROM ($FEEDER_LOCKS_SQL) l" ||
	die "feeder z did not take all $PARTITIONS partition locks within 30 s of feeder a's exit"
wait "$LOADGEN_PID" || die "axs-loadgen failed"
wait_stored "$TOPIC" "$EVENTS" 60 || die "stored offsets sum to $(stored_sum "$TOPIC"), expected $EVENTS"
check "feeder z took over at the stored offsets ($(grep -c 'resuming at offset\|at stored offset' "$DIR/feeder-z.log") partitions) and is still running" \
	"$(kill -0 "$FEEDER_Z" 2>/dev/null && echo ok || echo 'it exited')"
drill_end

finish
