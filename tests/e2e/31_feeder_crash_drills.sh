#!/usr/bin/env bash
#
# 31_feeder_crash_drills.sh
#	Four faults hit axs-feeder mid-stream, each on a cluster and an
#	axs-broker of its own.  The stream is axs-loadgen throttled with --rate.
#	In drills a, c and d it is open-ended: it goes on until the drill has
#	seen the state it needs (a feeder assigned, a rebalance done, a takeover
#	written) and stops it with SIGTERM, so no step depends on the stream
#	outlasting it; what was produced is the loadgen's first N messages, N
#	from its summary.  "Mid-stream" = the loadgen was still producing when
#	the fault hit.
#	  a. kill -9 of the feeder mid-stream, then a new feeder in its place;
#	  b. PostgreSQL crashes (scripts/cluster.sh stop-immediate) mid-stream,
#	     with the applier running and the inbox janitor in the middle of
#	     emptying a segment, and comes back; the same feeder reconnects with
#	     backoff by itself (its last batches, committed without waiting for
#	     the WAL flush, may be lost with the crash: it consumes them again);
#	     the rest of the stream crosses into another segment, which the
#	     janitor empties too;
#	  c. two feeders in one group: the second joins mid-stream (rebalance);
#	     once it holds partition locks and has written, the first is stopped
#	     with SIGTERM (must exit 0) and the second takes every partition,
#	     writes to each, and finishes alone.
#	  d. a zombie: a second feeder in another consumer group consumes the
#	     same topic; the partition locks hold it off until the first stops
#	     mid-stream, then it finishes from the stored offsets.
#	After each, counting only what survives a crash and the janitor's
#	truncations: exactly once (stored offsets sum = produced; the applier's
#	durable count of decided inbox rows = the valid messages, one dead
#	letter per malformed one; every valid id exactly once in axs.event_log;
#	the logged ids are the valid ids produced, classified by the extension's
#	decoder), axs.verify() empty, and the reference model (ledger_model.py)
#	agrees on every outcome, id conflict, re-sent duplicate and balance.
#
# It owns the clusters .scratch/31_feeder/{kill9,pgcrash,rebalance,zombie}, their
# brokers and feeders, stopped in the EXIT trap.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
SCRATCH=${AXS_E2E_SCRATCH:-$TOP/.scratch}/31_feeder
TOPIC=axs.events
PARTITIONS=8
EVENTS=${AXS_E2E_DRILL_EVENTS:-20000}	# drill b's fixed stream
# An open-ended stream's bound: it is stopped long before (about 10 to 30 s
# in), this only caps a drill that hangs.
OPEN_STREAM_EVENTS=500000
DIR=$SCRATCH/kill9

# shellcheck source=tests/e2e/lib_feeder.sh
. "$TOP/tests/e2e/lib_feeder.sh"
# drill b's row-lock holder waits for DIR/release
trap 'touch "$DIR/release" 2>/dev/null; feeder_cleanup' EXIT

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

# drill_begin NAME RATE SEED [open]: cluster, broker, one feeder ("a"),
# feeder a assigned, the function named by BEFORE_STREAM if set, then the
# loadgen in the background (LOADGEN_PID): EVENTS
# messages, whose expected classification is made while the group's first
# join delay runs; or, with "open", a stream that runs until stop_stream.
drill_begin()
{
	local name=$1 rate=$2 seed=$3 mode=${4:-fixed} events=$EVENTS
	DIR=$SCRATCH/$name
	DRILL_START=$SECONDS
	[ "$mode" = open ] && events=$OPEN_STREAM_EVENTS
	echo
	if [ "$mode" = open ]; then
		echo "# drill $name: cluster $DIR, a stream at $rate/s into $TOPIC:$PARTITIONS until the drill stops it"
	else
		echo "# drill $name: cluster $DIR, $EVENTS events at $rate/s into $TOPIC:$PARTITIONS"
	fi
	cluster_setup
	start_broker "$TOPIC:$PARTITIONS"
	start_feeder a "$TOPIC"
	FEEDER_A=$FEEDER_PID
	LOADGEN_ARGS=(--accounts 3000 --malformed 1 --duplicates 2 --seed "$seed")
	PRODUCED=
	if [ "$mode" = fixed ]; then
		expect_produced "$EVENTS"
	fi
	wait_log "$DIR/feeder-a.log" "assigned $TOPIC" 30 || die "feeder a got no partitions within 30 s"
	[ -z "${BEFORE_STREAM:-}" ] || "$BEFORE_STREAM"
	"$TOOLS_BIN/axs-loadgen" --brokers "$BROKER" --topic "$TOPIC" --rate "$rate" --events "$events" \
		"${LOADGEN_ARGS[@]}" -X linger.ms=5 2>"$DIR/loadgen.log" &
	LOADGEN_PID=$!
}

# expect_produced N: the loadgen's first N messages (the same seed gives the
# same messages) in DIR/loadgen.values, classified (EXP_*); PRODUCED=N.
expect_produced()
{
	PRODUCED=$1
	"$TOOLS_BIN/axs-loadgen" --output "$DIR/loadgen.values" --events "$PRODUCED" "${LOADGEN_ARGS[@]}" 2>/dev/null
	expected_from_file "$DIR/loadgen.values"
	echo "# expected: $EXP_MESSAGES messages, $EXP_MALFORMED malformed, $EXP_VALID valid, $EXP_VALID_IDS distinct valid ids"
}

# loadgen_finish: wait for the loadgen once (LOADGEN_PID is then cleared) and
# require exit status 0 and a summary line; sets LOADGEN_PRODUCED.
loadgen_finish()
{
	local status=0
	[ -n "$LOADGEN_PID" ] || return 0
	wait "$LOADGEN_PID" || status=$?
	LOADGEN_PID=
	LOADGEN_PRODUCED=$(sed -n 's/.*summary: produced \([0-9]*\),.*/\1/p' "$DIR/loadgen.log")
	[ "$status" = 0 ] && [ -n "$LOADGEN_PRODUCED" ] ||
		{ cat "$DIR/loadgen.log"; die "axs-loadgen failed (exit status $status)"; }
}

# stop_stream: SIGTERM to the open-ended loadgen, which stops producing,
# flushes and exits 0; the messages it produced are then expected.
stop_stream()
{
	loadgen_running || die "the open-ended stream ended before the drill stopped it"
	kill -TERM "$LOADGEN_PID"
	loadgen_finish
	echo "# stream stopped after $LOADGEN_PRODUCED messages"
	expect_produced "$LOADGEN_PRODUCED"
}

# drill_end: wait for the loadgen, the stored offsets and the applier; check.
drill_end()
{
	loadgen_finish
	check_eq "axs-loadgen produced the messages expected" "$PRODUCED" "$LOADGEN_PRODUCED"
	wait_stored "$TOPIC" "$PRODUCED" 60 ||
		die "stored offsets sum to $(stored_sum "$TOPIC"), expected $PRODUCED, 60 s after the loadgen finished"
	wait_drained 60 || die "the applier did not drain: $(q -c 'SELECT * FROM axs.applier_status')"
	check_exactly_once "$TOPIC" "$PRODUCED" "$EXP_MALFORMED" "$EXP_VALID" "$EXP_VALID_IDS"
	model_check "the reference model (ledger_model.py, README's rules) agrees on every message, outcome, id conflict and balance" \
		--events "$DIR/loadgen.values" --exact-conflicts --dead-letters "$(q -c 'SELECT count(*) FROM axs.dead_letters')"
	echo "# drill done in $((SECONDS - DRILL_START)) s"
	feeder_cleanup
	FEEDER_PIDS=()
	BROKER_PID=
}

# The partition locks the feeders' sessions hold (feeder/README.md, Fencing;
# the applier's fence is an advisory lock too, hence the application name).
FEEDER_LOCKS_SQL="SELECT l.pid FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
	WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted AND s.application_name = 'axs-feeder'"

# offsets_snapshot: the stored offsets now, as a VALUES list of (partition, next_offset).
offsets_snapshot()
{
	q -c "SELECT string_agg(format('(%s,%s)', \"partition\", next_offset), ',')
	        FROM axs.feeder_offsets WHERE topic = '$TOPIC'"
}

# wait_all_advanced SNAPSHOT SECONDS: until every one of the PARTITIONS has a
# stored offset beyond SNAPSHOT's (a partition missing there counts as 0).
wait_all_advanced()
{
	wait_for "$2" "SELECT count(*) = $PARTITIONS AND bool_and(o.next_offset > coalesce(s.start, 0))
		FROM axs.feeder_offsets o LEFT JOIN (VALUES $1) s(part, start) ON s.part = o.\"partition\"
		WHERE o.topic = '$TOPIC'"
}

# --- a. kill -9 of the feeder mid-stream ------------------------------------
# An open-ended stream at 1500/s; feeder a is killed once it has stored 5000
# messages, feeder b resumes from the stored offsets and writes to every
# partition, then the stream is stopped.
drill_begin kill9 1500 311 open
wait_stored_at_least 5000 30 || die "nothing stored 30 s after the loadgen started"
killed=ok
kill -KILL "$FEEDER_A" 2>/dev/null || killed="feeder a was not running"
status=0
wait "$FEEDER_A" 2>/dev/null || status=$?
at_kill=$(stored_sum "$TOPIC")
check "kill -9 hit feeder a mid-stream (stored $at_kill; exit status $status; loadgen $(loadgen_running && echo 'still producing' || echo finished))" \
	"$([ "$killed" = ok ] && [ "$status" = 137 ] && loadgen_running && echo ok ||
		echo "kill: $killed, exit status $status (137 = SIGKILL), loadgen $(loadgen_running && echo running || echo finished)")"
snapshot=$(offsets_snapshot)
start_feeder b "$TOPIC"
wait_log "$DIR/feeder-b.log" "assigned $TOPIC.* at stored offset" 40 ||
	die "the new feeder did not resume from a stored offset within 40 s"
echo "# new feeder resumed: $(grep -c 'at stored offset' "$DIR/feeder-b.log") partitions from stored offsets"
wait_all_advanced "$snapshot" 40 || die "feeder b did not write to all $PARTITIONS partitions within 40 s"
stop_stream
drill_end

# --- b. PostgreSQL crash mid-stream, in the middle of a janitor truncation --
# The applier runs, and the stream crosses inbox segments: the position
# sequence starts 4000 before the end of segment 0, so once the applier's
# watermark enters segment 1 the janitor empties segment 0 (inbox_janitor.c).  A
# session holds segment 0's pg_class row FOR UPDATE: the janitor gives the
# segment's blocks back, then waits for that row to record the emptied
# segment's statistics, its transaction still open (the janitor's
# lock_timeout is axs.applier_block_timeout_ms, raised here so that it
# waits rather than gives up).  PostgreSQL crashes there
# (scripts/cluster.sh stop-immediate) while the loadgen still produces, and
# comes back; the same feeder reconnects with backoff by itself.  Once
# back, the sequence is moved to 1000 before the end of segment 1, so the
# rest of the stream crosses into segment 2 and segment 1 is emptied too.
# The checks of drill_end count only what survives truncation.
export AXS_PG_CONF="axs.applier_block_timeout_ms = 600000"
# The feeder can only follow the server back to the port it had: while the
# server is down, another cluster on this machine (others test too) would
# take that port if it were the lowest free one, where every cluster looks
# first.  This one's port comes from far above.
export AXS_PG_FIRST_PORT=55900
SEGMENT=262144	# positions per inbox segment (2^18)
# a session that holds segment 0's pg_class row until DIR/release exists
hold_segment_0_row()
{
	q -c "SELECT setval('axs.inbox_position_seq', $SEGMENT - 4000)" >/dev/null
	hold_session "$DIR/release" "$DIR/holder.log" -q -- \
		'BEGIN;' "SELECT oid FROM pg_class WHERE oid = 'axs.inbox_0'::regclass FOR UPDATE;"
	HOLDER_PID=$HELD_PID
	wait_for 10 "SELECT count(*) = 1 FROM pg_stat_activity WHERE state = 'idle in transaction' AND query LIKE '%FOR UPDATE%'" ||
		die "the session holding segment 0's pg_class row did not start: $(cat "$DIR/holder.log")"
}
# 20000 events at 2500/s: an 8 s stream.  Segment 0 is applied after about
# 1.6 s; "mid-stream" = the stored offsets were below the produced total
# just before the crash.
BEFORE_STREAM=hold_segment_0_row
drill_begin pgcrash 2500 312
BEFORE_STREAM=
JANITOR_WAITING="SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'axs inbox janitor'
	AND query = 'axs: truncating an applied inbox segment' AND wait_event_type = 'Lock'"
wait_for 30 "$JANITOR_WAITING" ||
	die "the janitor did not reach segment 0's pg_class row within 30 s: $(q -c "SELECT watermark FROM axs.applier_state")"
segment_0_file=$(q -c "SELECT current_setting('data_directory') || '/' || pg_relation_filepath('axs.inbox_0')")
bytes_at_crash=$(stat -c %s "$segment_0_file")
before_crash=$(stored_sum "$TOPIC")
"$TOP/scripts/cluster.sh" stop-immediate "$DIR" >/dev/null 2>&1
at_crash=$(q -c 'SELECT 1' 2>/dev/null || echo down)
touch "$DIR/release"
wait "$HOLDER_PID" 2>/dev/null || true	# its session died with the server
check "PostgreSQL crashed mid-stream (stored $before_crash of $EVENTS just before; loadgen $(loadgen_running && echo 'still producing' || echo finished))" \
	"$([ "$at_crash" = down ] && [[ "$before_crash" =~ ^[0-9]+$ ]] && [ "$before_crash" -lt "$EVENTS" ] && echo ok || echo "server: $at_crash, stored $before_crash of $EVENTS just before the crash")"
check "the crash hit the janitor inside its truncation of segment 0: blocks given back ($bytes_at_crash bytes left), transaction not committed" \
	"$([ "$bytes_at_crash" = 0 ] && echo ok || echo "segment 0 still had $bytes_at_crash bytes")"
sleep 2
port_before=$PGPORT
"$TOP/scripts/cluster.sh" start "$DIR" >/dev/null 2>&1 || die "the cluster did not restart"
# shellcheck disable=SC1091
. "$DIR/env"
[ "$PGPORT" = "$port_before" ] || die "the cluster came back on port $PGPORT instead of $port_before; the feeder cannot follow"
grep -q 'automatic recovery in progress' "$DIR/log/postgres.log" || die "no crash recovery in the server log"
q -c "SELECT setval('axs.inbox_position_seq', greatest(last_value, 2 * $SEGMENT - 1000)) FROM axs.inbox_position_seq" >/dev/null
wait_log "$DIR/feeder-a.log" "resuming at offset" 30 || die "the feeder did not resync after the crash within 30 s"
echo "# feeder log: $(grep -c 'failed\|cannot connect' "$DIR/feeder-a.log") failed attempts, then $(grep -c 'resuming at offset' "$DIR/feeder-a.log") partitions resumed"
# The feeder commits its batches with synchronous_commit off (pg_sink.c), so
# the crash may take the last ones, rows and offsets together; it then
# consumes those messages again, and drill_end proves none is lost.
resumed_sum=$(grep -h 'resuming at offset' "$DIR/feeder-a.log" | tail -n "$PARTITIONS" | awk '{ s += $NF } END { print s + 0 }')
echo "# the resumed offsets sum to $resumed_sum; the stored offsets read just before the crash summed to $before_crash"
check "the feeder kept running through the crash" "$(kill -0 "$FEEDER_A" 2>/dev/null && echo ok || echo 'it exited')"
loadgen_finish
wait_stored "$TOPIC" "$EVENTS" 60 || die "stored offsets sum to $(stored_sum "$TOPIC"), expected $EVENTS"
wait_drained 60 || die "the applier did not drain: $(q -c 'SELECT * FROM axs.applier_status')"
check_eq "segment 0, whose truncation the crash interrupted, holds no row after recovery" 0 \
	"$(q -c 'SELECT count(*) FROM axs.inbox_0')"
check "after the crash the rest of the stream crossed into segment 2 and the janitor emptied segment 1" \
	"$(sed -n '/automatic recovery in progress/,$p' "$DIR/log/postgres.log" | grep -q 'axs: truncated inbox segment 1 ' && echo ok ||
		echo "no 'truncated inbox segment 1' after the recovery; segment 2 holds $(q -c 'SELECT count(*) FROM axs.inbox_2') rows")"
unset AXS_PG_CONF AXS_PG_FIRST_PORT
drill_end

# --- c. rebalance: a second feeder joins, the first leaves with SIGTERM ----
# The mock broker takes 5 to 10 s per rebalance; the stream (1000/s) goes on
# until the drill stops it.  Feeder a is stopped only once feeder b owns
# partitions (its session holds their advisory locks) and has written to
# them, while the loadgen still produces; the stream is stopped only once
# feeder b, alone, has written to every partition.
drill_begin rebalance 1000 313 open
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
echo "# rebalanced: feeder b owns $(grep -c "assigned $TOPIC" "$DIR/feeder-b.log") partitions and has written; stored $at_stop"
mid_stream=$(loadgen_running && echo ok || echo "the loadgen had finished before feeder a was stopped")
stop_feeder "$FEEDER_A"
check_eq "feeder a exits 0 on SIGTERM" 0 "$STOP_STATUS"
check "feeder a stopped mid-stream (stored $at_stop at the SIGTERM, $(stored_sum "$TOPIC") after it exited; a had $shared_a assignments)" \
	"$mid_stream"
wait_for 40 "SELECT count(*) = $PARTITIONS AND count(DISTINCT pid) = 1 FROM ($FEEDER_LOCKS_SQL) l" ||
	die "feeder b did not take all $PARTITIONS partition locks within 40 s of feeder a's exit"
snapshot=$(offsets_snapshot)
wait_all_advanced "$snapshot" 40 || die "feeder b did not write to all $PARTITIONS partitions within 40 s of taking them"
stop_stream
wait_stored "$TOPIC" "$PRODUCED" 60 || die "stored offsets sum to $(stored_sum "$TOPIC"), expected $PRODUCED"
check "feeder b alone finished the stream and is still running ($(grep -c "assigned $TOPIC.* at stored offset" "$DIR/feeder-b.log") assignments at stored offsets)" \
	"$(kill -0 "$FEEDER_B" 2>/dev/null && echo ok || echo 'it exited')"
drill_end

# --- d. a zombie: a second feeder in another group on the same topic --------
# Both consume every partition (different consumer groups), as a feeder that
# kept running after it should have stopped would.  The partition's advisory
# lock keeps feeder z from writing while feeder a holds it; once feeder a
# stops (SIGTERM, mid-stream), z takes the locks, starts at the stored
# offsets and, alone, writes to every partition; then the stream (1000/s,
# open-ended: feeder z's group must first form, a few seconds on the
# embedded broker) is stopped and z finishes it.
drill_begin zombie 1000 314 open
start_feeder z "$TOPIC" --group axs-zombie
FEEDER_Z=$FEEDER_PID
wait_log "$DIR/feeder-z.log" "advisory lock of $TOPIC.* is held by another session" 30 ||
	die "feeder z did not find the partitions locked within 30 s"
at_stop=$(stored_sum "$TOPIC")
mid_stream=$(loadgen_running && echo ok || echo "the loadgen had finished before feeder a was stopped")
stop_feeder "$FEEDER_A"
check_eq "feeder a exits 0 on SIGTERM" 0 "$STOP_STATUS"
check "feeder a stopped mid-stream (stored $at_stop at the SIGTERM), while feeder z waited for its locks" "$mid_stream"
wait_for 30 "SELECT count(*) = $PARTITIONS AND count(DISTINCT pid) = 1 FROM ($FEEDER_LOCKS_SQL) l" ||
	die "feeder z did not take all $PARTITIONS partition locks within 30 s of feeder a's exit"
snapshot=$(offsets_snapshot)
wait_all_advanced "$snapshot" 40 || die "feeder z did not write to all $PARTITIONS partitions within 40 s of taking them"
stop_stream
wait_stored "$TOPIC" "$PRODUCED" 60 || die "stored offsets sum to $(stored_sum "$TOPIC"), expected $PRODUCED"
check "feeder z took over at the stored offsets ($(grep -c 'resuming at offset\|at stored offset' "$DIR/feeder-z.log") partitions) and is still running" \
	"$(kill -0 "$FEEDER_Z" 2>/dev/null && echo ok || echo 'it exited')"
drill_end

finish
