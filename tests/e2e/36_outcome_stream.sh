#!/usr/bin/env bash
#
# 36_outcome_stream.sh
#	The outcome stream end to end: axs-loadgen produces a mixed stream
#	(duplicates and malformed messages among the events) into axs.events,
#	while an application applies events through the synchronous API; feeder
#	a consumes and publishes the outcomes to axs.outcomes, feeder b is a
#	second publisher of the same topic (no --topic), waiting.  Mid-stream:
#	  1. kill -9 of feeder a, the publisher: b takes over publishing, and a
#	     new feeder c takes over consuming (and waits to publish);
#	  2. a PostgreSQL immediate stop, and restart: every feeder reconnects;
#	  3. kill -9 of feeder b, the publisher now: c takes over publishing.
#	Then a read_committed consumer (kcat) reads the whole outcome topic and
#	tests/e2e/outcome_check.py checks it against the ledger: exactly one
#	message per decided id and nothing else, seq 1..N once each, statuses
#	equal to axs.event_status, balances equal to the ledger's history (which
#	the reference model checks against README's rules in 20, 27, 30 and 31),
#	order per outcome partition and per source partition, routing p -> p.
#	Also: the stream's lag metric reaches 0, and the exactly-once checks of
#	the feeder side (lib_feeder.sh) hold.
#
# It owns the cluster .scratch/36_outcomes, its broker and feeders.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=${AXS_E2E_SCRATCH:-$TOP/.scratch}/36_outcomes
TOPIC=axs.events
OUTCOMES=axs.outcomes
PARTITIONS=8
OPEN_STREAM_EVENTS=500000	# a bound only: the stream is stopped after the drills
SYNC_ID_BASE=900000000	# ids of the synchronous calls: far from the loadgen's
# The feeders follow the server back to its port (see 31_feeder_crash_drills.sh).
export AXS_PG_FIRST_PORT=55950

# shellcheck source=tests/e2e/lib_feeder.sh
. "$TOP/tests/e2e/lib_feeder.sh"
SYNC_PID=
LOADGEN_PID=
cleanup()
{
	[ -z "$SYNC_PID" ] || kill "$SYNC_PID" 2>/dev/null || true
	[ -z "$LOADGEN_PID" ] || kill "$LOADGEN_PID" 2>/dev/null || true
	feeder_cleanup
}
trap cleanup EXIT
failures=0

published_seq()
{
	q -c "SELECT coalesce((SELECT published_seq FROM axs.outcome_publishers WHERE topic = '$OUTCOMES'), 0)" 2>/dev/null || echo 0
}

# wait_published_beyond SEQ SECONDS
wait_published_beyond()
{
	local deadline=$((SECONDS + $2)) now
	while [ "$SECONDS" -lt "$deadline" ]; do
		now=$(published_seq)
		[[ "$now" =~ ^[0-9]+$ ]] && [ "$now" -gt "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# publisher_only NAME: a feeder that only publishes (no --topic, no --group).
publisher_only()
{
	"$FEEDER_BIN/axs-feeder" --brokers "$BROKER" --outcomes-topic "$OUTCOMES" --db "$FEEDER_DB" \
		>>"$DIR/feeder-$1.log" 2>&1 &
	FEEDER_PID=$!
	FEEDER_PIDS+=("$FEEDER_PID")
	echo "# axs-feeder $1 (publisher only) started (pid $FEEDER_PID)"
}

# kill9 PID WHAT: kill -9 mid-stream, checked.
kill9()
{
	local status=0
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || status=$?
	check "kill -9 hit $2 mid-stream (exit status $status, published seq $(published_seq), loadgen $(loadgen_running && echo producing || echo finished))" \
		"$([ "$status" = 137 ] && loadgen_running && echo ok || echo "exit status $status (137 = SIGKILL), loadgen $(loadgen_running && echo running || echo finished)")"
}

# Synchronous calls from an application, during the whole stream: deposits
# and (some rejected) withdrawals on the loadgen's accounts, until DIR/stop-sync.
sync_calls()
{
	local i=0
	while [ ! -e "$DIR/stop-sync" ]; do
		i=$((i + 1))
		q -c "SELECT axs.deposit($((SYNC_ID_BASE + 2 * i)), $((i % 50 + 1)), 'USDT', 1000)" >/dev/null 2>&1 || true
		q -c "SELECT axs.withdraw($((SYNC_ID_BASE + 2 * i + 1)), $((i % 50 + 1)), 'BTC', 5000000)" >/dev/null 2>&1 || true
		sleep 0.02
	done
}

echo "# cluster $DIR, broker with $TOPIC:$PARTITIONS and $OUTCOMES:$PARTITIONS"
cluster_setup
rm -f "$DIR/stop-sync"
start_broker "$TOPIC:$PARTITIONS" "$OUTCOMES:$PARTITIONS"
start_feeder a "$TOPIC" --outcomes-topic "$OUTCOMES"
FEEDER_A=$FEEDER_PID
wait_log "$DIR/feeder-a.log" "outcome topic $OUTCOMES: publisher lock taken" 30 || die "feeder a did not take the publisher lock"
publisher_only b
FEEDER_B=$FEEDER_PID
wait_log "$DIR/feeder-b.log" "another publisher holds the lock" 30 || die "feeder b did not wait for the publisher lock"
check "a second publisher of the same topic waits while the first publishes" \
	"$(grep -q 'publisher lock taken' "$DIR/feeder-b.log" && echo 'feeder b took the lock too' || echo ok)"
wait_log "$DIR/feeder-a.log" "assigned $TOPIC" 30 || die "feeder a got no partitions within 30 s"

LOADGEN_ARGS=(--accounts 3000 --malformed 1 --duplicates 2 --seed 361)
"$TOOLS_BIN/axs-loadgen" --brokers "$BROKER" --topic "$TOPIC" --rate 2000 --events "$OPEN_STREAM_EVENTS" \
	"${LOADGEN_ARGS[@]}" -X linger.ms=5 2>"$DIR/loadgen.log" &
LOADGEN_PID=$!
sync_calls &
SYNC_PID=$!

# 1. kill -9 of the publishing feeder
wait_published_beyond 3000 60 || die "nothing published 60 s after the stream started: $(tail -n 5 "$DIR/feeder-a.log")"
kill9 "$FEEDER_A" "feeder a (consuming and publishing)"
wait_log "$DIR/feeder-b.log" "publisher lock taken" 30 || die "feeder b did not take over publishing within 30 s"
# only now: started earlier, c could take the lock before b (both try every 200 ms)
start_feeder c "$TOPIC" --outcomes-topic "$OUTCOMES"
at=$(published_seq)
wait_published_beyond "$at" 30 || die "feeder b took the lock but published nothing within 30 s"
echo "# feeder b publishes: $(grep 'recovered the last seq' "$DIR/feeder-b.log" | tail -n 1)"

# 2. PostgreSQL immediate stop mid-stream, and back
at=$(published_seq)
"$TOP/scripts/cluster.sh" stop-immediate "$DIR" >/dev/null 2>&1
check "PostgreSQL stopped (immediate) mid-stream (published seq $at, loadgen $(loadgen_running && echo producing || echo finished))" \
	"$(q -c 'SELECT 1' >/dev/null 2>&1 && echo 'the server still answers' || { loadgen_running && echo ok || echo 'the loadgen had finished'; })"
sleep 2
port_before=$PGPORT
"$TOP/scripts/cluster.sh" start "$DIR" >/dev/null 2>&1 || die "the cluster did not restart"
# shellcheck disable=SC1091
. "$DIR/env"
[ "$PGPORT" = "$port_before" ] || die "the cluster came back on port $PGPORT instead of $port_before; the feeders cannot follow"
at=$(published_seq)
wait_published_beyond "$at" 60 || die "nothing published within 60 s of the restart: $(tail -n 5 "$DIR/feeder-b.log")"
echo "# publishing again after the restart (published seq $(published_seq))"

# 3. kill -9 of the publisher again: feeder c takes over
kill9 "$FEEDER_B" "feeder b (publishing only)"
wait_log "$DIR/feeder-c.log" "publisher lock taken" 30 || die "feeder c did not take over publishing within 30 s"
at=$(published_seq)
wait_published_beyond "$at" 30 || die "feeder c took the lock but published nothing within 30 s"

# the end of the stream
touch "$DIR/stop-sync"
wait "$SYNC_PID" || true
SYNC_PID=
kill -TERM "$LOADGEN_PID"
wait "$LOADGEN_PID" || die "axs-loadgen failed: $(tail -n 3 "$DIR/loadgen.log")"
LOADGEN_PID=
PRODUCED=$(sed -n 's/.*summary: produced \([0-9]*\),.*/\1/p' "$DIR/loadgen.log")
echo "# stream stopped after $PRODUCED messages; $(q -c "SELECT count(*) FROM axs.event_log WHERE queue_position IS NULL") synchronous decisions"
"$TOOLS_BIN/axs-loadgen" --output "$DIR/loadgen.values" --events "$PRODUCED" "${LOADGEN_ARGS[@]}" 2>/dev/null
expected_from_file "$DIR/loadgen.values"
wait_stored "$TOPIC" "$PRODUCED" 60 || die "stored offsets sum to $(stored_sum "$TOPIC"), expected $PRODUCED"
wait_drained 60 || die "the applier did not drain: $(q -c 'SELECT * FROM axs.applier_status')"
wait_for 60 "SELECT p.published_seq = st.decided_seq FROM axs.outcome_publishers p, axs.applier_state st WHERE p.topic = '$OUTCOMES'" ||
	die "the publisher did not catch up: $(q -c "SELECT published_seq FROM axs.outcome_publishers") of $(q -c 'SELECT decided_seq FROM axs.applier_state')"
check_eq "the exporter's lag query says 0 behind once caught up" 0 \
	"$(q -c "SELECT greatest(st.decided_seq - p.published_seq, 0) FROM axs.outcome_publishers p, axs.applier_state st")"
check_eq "axs.dead_letters holds one row per malformed message" "$EXP_MALFORMED" \
	"$(q -c "SELECT count(*) FROM axs.dead_letters WHERE topic = '$TOPIC'")"
check_eq "the applier decided one inbox row per valid message: none written twice, none lost" \
	"$EXP_VALID" "$(q -c 'SELECT decided_total FROM axs.applier_state')"
q -c 'SELECT id FROM axs.event_log WHERE queue_position IS NOT NULL ORDER BY id' >"$DIR/ids.logged"
q -d expect -c 'SELECT id FROM valid_ids ORDER BY id' >"$DIR/ids.expected"
check "the queued ids in axs.event_log are exactly the valid ids produced" \
	"$(cmp -s "$DIR/ids.expected" "$DIR/ids.logged" && echo ok || diff "$DIR/ids.expected" "$DIR/ids.logged" | head -n 10)"
check_eq "axs.verify() is empty" "" "$(q -c 'SELECT * FROM axs.verify() LIMIT 10')"

# the outcome topic as a read_committed consumer sees it
kcat -C -b "$BROKER" -t "$OUTCOMES" -o beginning -e -q -X isolation.level=read_committed \
	-f '%p\t%o\t%k\t%h\t%s\n' >"$DIR/outcomes.tsv" 2>"$DIR/kcat.log" || die "kcat failed: $(cat "$DIR/kcat.log")"
q -c "SELECT e.id, s.status, coalesce(s.reason, '') FROM axs.event_log AS e, axs.event_status(e.id) AS s" >"$DIR/decided"
model_dump_history "$DIR/history"
python3 "$TOP/tests/e2e/outcome_check.py" --messages "$DIR/outcomes.tsv" --decided "$DIR/decided" \
	--history "$DIR/history" --partitions "$PARTITIONS" --source-topic "$TOPIC" >"$DIR/outcome_check.out" || true
cat "$DIR/outcome_check.out"
check "outcome_check.py: every check of the outcome topic passed" \
	"$(grep -q '^not ok' "$DIR/outcome_check.out" && echo 'see above' ||
		{ grep -q '^ok' "$DIR/outcome_check.out" && echo ok || echo 'it printed no result'; })"
check "no feeder stopped on a fatal error" \
	"$(! grep -h 'axs-feeder: FATAL' "$DIR"/feeder-*.log >/dev/null && echo ok || grep -h 'axs-feeder: FATAL' "$DIR"/feeder-*.log | head -n 3)"
finish
