#!/usr/bin/env bash
#
# 32_feeder_operations.sh
#	Operating axs-feeder as an operator would, the feeder logging in as a
#	role in axs_feeder (no more rights than the README grants):
#	  a. replay: the stored offsets of a topic holding valid, re-sent
#	     (duplicate) and malformed messages are moved back to 0, under a
#	     running idle feeder, under a running feeder mid-stream (its batch
#	     in flight is fenced), and with the feeder stopped; every replay
#	     consumes the topic again (the inbox grows by the replayed messages)
#	     and ends with the same balances, outcomes (axs.events) and dead
#	     letters as the first pass, no failed batch, and the stored offsets
#	     at the end;
#	  b. errors retrying cannot fix (INSERT on axs.inbox revoked, a role
#	     that does not exist) stop the feeder with exit status 3 and
#	     PostgreSQL's reason in its log, within the default
#	     --max-batch-retries; a failed batch is counted by
#	     axs_feeder_batch_failures_total and the status line;
#	  c. SIGTERM or SIGINT ends the feeder with exit status 0 within 5 s in
#	     every state: retrying after an error, connecting to a stopped
#	     PostgreSQL, connecting to a server that never answers, waiting for
#	     a partition assignment from a broker that is not there, in the
#	     middle of a batch that waits for a lock, and mid-stream; then
#	     every message is still accounted for exactly once (b and c use a
#	     topic of their own, so that they do not depend on a);
#	  d. bad usage (empty --brokers, --topic, --group) exits 2 at once;
#	     --offsets-for-time answers for every partition, and refuses to
#	     guess on a broker that cannot look offsets up by time.
#
# It owns the cluster .scratch/32_feeder/primary, an axs-broker, the feeders
# and helper processes it starts (by PID), all stopped in the EXIT trap.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=${AXS_E2E_SCRATCH:-$TOP/.scratch}/32_feeder/primary
TOPIC=axs.ops
TOPIC_C=axs.ops.c
PARTITIONS=4
LIMIT=45			# seconds any replay or catch-up may take
STOP_LIMIT=5		# seconds from SIGTERM/SIGINT to exit
HELPER_PIDS=()
LOADGEN_A=(--events 3000 --accounts 500 --malformed 2 --duplicates 3 --seed 32)
LOADGEN_B=(--events 3000 --accounts 500 --malformed 2 --duplicates 3 --seed 33 --first-id 20000000)

# shellcheck source=tests/e2e/lib_feeder.sh
. "$TOP/tests/e2e/lib_feeder.sh"

cleanup()
{
	local pid
	for pid in "${HELPER_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	feeder_cleanup
}
trap cleanup EXIT

inbox_rows() { q -c 'SELECT count(*) FROM axs.inbox'; }
FEEDER_WAITS_SQL="SELECT count(*) > 0 FROM pg_stat_activity WHERE usename = 'axs_ops_feeder' AND wait_event_type = 'Lock'"

# rewind OFFSET: move every stored offset of TOPIC to OFFSET as an operator
# would, with axs.feeder_rewind as axs_admin.  Should that call fail, the
# failure is a failed check and a plain UPDATE moves the offsets instead,
# so that the feeder's checks still run.
rewind()
{
	local out
	if out=$(q -c 'SET ROLE axs_admin' -c "SELECT count(*) FROM axs.feeder_rewind('$TOPIC', NULL, $1)" 2>&1); then
		check "axs.feeder_rewind('$TOPIC', NULL, $1) as axs_admin moved $out stored offsets" \
			"$([ "$out" = "$PARTITIONS" ] && echo ok || echo "moved $out")"
	else
		check "axs.feeder_rewind('$TOPIC', NULL, $1) as axs_admin" "$out"
		q -c "UPDATE axs.feeder_offsets SET next_offset = $1 WHERE topic = '$TOPIC'" >/dev/null
	fi
}

# snapshot NAME: what a replay must not change, in DIR/NAME.*
snapshot()
{
	q -c "SELECT b.account, c.code, b.available, b.frozen FROM axs.balances b
		JOIN axs.currencies c ON c.id = b.currency ORDER BY 1, 2" >"$DIR/$1.balances"
	q -c "SELECT id, kind, status, reason, queue_position FROM axs.events ORDER BY id" >"$DIR/$1.events"
	q -c "SELECT topic, partition, \"offset\", encode(raw, 'hex'), reason FROM axs.dead_letters
		ORDER BY 1, 2, 3" >"$DIR/$1.dead_letters"
	q -c "SELECT topic, partition, next_offset FROM axs.feeder_offsets ORDER BY 1, 2" >"$DIR/$1.offsets"
}

# check_same_as REFERENCE NAME WHAT: the snapshots NAME and REFERENCE agree.
check_same_as()
{
	local part
	for part in balances events dead_letters offsets; do
		check "$3: $part as after $1 ($(wc -l <"$DIR/$1.$part") rows)" \
			"$(if cmp -s "$DIR/$1.$part" "$DIR/$2.$part"; then echo ok; else diff "$DIR/$1.$part" "$DIR/$2.$part" | head -n 10; fi)"
	done
}

# check_ids_and_verify WHAT: the ids in axs.event_log are the valid ids of
# the last expected_from_file, each once, and axs.verify() is empty.
check_ids_and_verify()
{
	local out
	q -c 'SELECT id FROM axs.event_log ORDER BY id' >"$DIR/ids.logged"
	q -d expect -c 'SELECT id FROM valid_ids ORDER BY id' >"$DIR/ids.expected"
	check "$1: every valid id once in axs.event_log ($EXP_VALID_IDS)" \
		"$(if cmp -s "$DIR/ids.expected" "$DIR/ids.logged"; then echo ok; else diff "$DIR/ids.expected" "$DIR/ids.logged" | head -n 10; fi)"
	out=$(q -c 'SELECT * FROM axs.verify() LIMIT 10')
	check "$1: axs.verify() is empty" "${out:-ok}"
}

# wait_replayed ROWS PRODUCED WHAT: until the inbox holds ROWS rows and the
# stored offsets sum to PRODUCED, then until the applier has drained; a
# failed check otherwise (the script goes on, so that every check reports).
wait_replayed()
{
	if wait_for "$LIMIT" "SELECT (SELECT count(*) FROM axs.inbox) = $1
			AND (SELECT coalesce(sum(next_offset), 0) FROM axs.feeder_offsets WHERE topic = '$TOPIC') = $2"; then
		wait_drained "$LIMIT" || die "the applier did not drain: $(q -c 'SELECT * FROM axs.applier_status')"
		check "$3: the topic consumed again (inbox $1 rows) and the stored offsets at the end ($2)" ok
		return 0
	fi
	check "$3: the topic consumed again (inbox $1 rows) and the stored offsets at the end ($2)" \
		"after $LIMIT s: inbox $(inbox_rows) rows, stored offsets sum to $(stored_sum "$TOPIC")"
	return 1
}

# produce_in_background TOPIC RATE NAME LOADGEN_ARG...: axs-loadgen into
# TOPIC at RATE events/s in the background (LOADGEN_PID), its log in
# DIR/loadgen-NAME.log.
produce_in_background()
{
	"$TOOLS_BIN/axs-loadgen" --brokers "$BROKER" --topic "$1" --rate "$2" "${@:4}" -X linger.ms=5 \
		2>"$DIR/loadgen-$3.log" &
	LOADGEN_PID=$!
	HELPER_PIDS+=("$LOADGEN_PID")
}

# wait_stored_above TOPIC COUNT WHAT: until the stored offsets of TOPIC sum
# to more than COUNT; a failed check WHAT after 20 s.
wait_stored_above()
{
	wait_for 20 "SELECT coalesce(sum(next_offset), 0) > $2 FROM axs.feeder_offsets WHERE topic = '$1'" ||
		check "$3" "stored offsets of $1 sum to $(stored_sum "$1") after 20 s"
}

# free_port: a TCP port nothing listens on (bound once and released).
free_port()
{
	perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
		Listen => 1, ReuseAddr => 1)->sockport'
}

# stop_check WHAT PID SIGNAL: send SIGNAL; the feeder must exit 0 within
# STOP_LIMIT s (killed after STOP_LIMIT + 5 s if it has not).
stop_check()
{
	local what=$1 pid=$2 signal=$3 start=$EPOCHREALTIME status=0 elapsed
	kill -"$signal" "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do
		elapsed=$(awk -v s="$start" -v n="$EPOCHREALTIME" 'BEGIN { print int(n - s) }')
		if [ "$elapsed" -ge $((STOP_LIMIT + 5)) ]; then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			check "$what: exit status 0 within $STOP_LIMIT s of SIG$signal" \
				"still running $elapsed s after SIG$signal (killed)"
			return
		fi
		sleep 0.05
	done
	wait "$pid" 2>/dev/null || status=$?
	elapsed=$(awk -v s="$start" -v n="$EPOCHREALTIME" 'BEGIN { printf "%.1f", n - s }')
	check "$what: exit status 0 within $STOP_LIMIT s of SIG$signal (exit $status after $elapsed s)" \
		"$([ "$status" = 0 ] && awk -v e="$elapsed" -v l="$STOP_LIMIT" 'BEGIN { exit !(e <= l) }' && echo ok ||
			echo "exit status $status after $elapsed s")"
}

# exit_check WHAT PID STATUS SECONDS: the feeder exits by itself with STATUS
# within SECONDS (killed otherwise).
exit_check()
{
	local what=$1 pid=$2 expected=$3 limit=$4 start=$SECONDS status=0
	while kill -0 "$pid" 2>/dev/null && [ $((SECONDS - start)) -lt "$limit" ]; do sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		check "$what: exits by itself with status $expected within $limit s" "still running after $limit s (killed)"
		return
	fi
	wait "$pid" 2>/dev/null || status=$?
	check_eq "$what: exits by itself with status $expected within $limit s (after $((SECONDS - start)) s)" "$expected" "$status"
}

# log_check WHAT FILE PATTERN: FILE has a line matching the ERE PATTERN.
log_check()
{
	check "$1" "$(grep -qE -- "$3" "$2" && echo ok || echo "no line matching /$3/ in $2")"
}

echo "# setup: cluster $DIR, the feeder's login role in axs_feeder, axs-broker"
cluster_setup
q -c 'CREATE ROLE axs_ops_feeder LOGIN IN ROLE axs_feeder' >/dev/null
FEEDER_DB="host=$PGHOST port=$PGPORT user=axs_ops_feeder dbname=postgres"
start_broker "$TOPIC:$PARTITIONS" "$TOPIC_C:$PARTITIONS"

# --- d. usage ----------------------------------------------------------------
echo "# d. bad usage exits 2 at once"
for args in "--brokers '' --topic $TOPIC --group g" "--brokers $BROKER --topic '' --group g" \
	"--brokers $BROKER --topic $TOPIC --group ''" "--brokers ' , ' --topic $TOPIC --group g"; do
	status=0
	start=$SECONDS
	eval "timeout 10 '$FEEDER_BIN/axs-feeder' $args --db '$FEEDER_DB'" >"$DIR/usage.log" 2>&1 || status=$?
	check "axs-feeder $args: exit status 2 at once ($(head -n 1 "$DIR/usage.log"))" \
		"$([ "$status" = 2 ] && [ $((SECONDS - start)) -le 2 ] && echo ok || echo "exit status $status after $((SECONDS - start)) s")"
done
status=0
AXS_BROKERS=$BROKER AXS_TOPIC=$TOPIC AXS_GROUP=' ' timeout 10 "$FEEDER_BIN/axs-feeder" --db "$FEEDER_DB" >"$DIR/usage.log" 2>&1 || status=$?
check_eq "AXS_GROUP=' ': exit status 2 ($(head -n 1 "$DIR/usage.log"))" 2 "$status"

# --- the first pass ------------------------------------------------------------
# KEY:VALUE per line (kcat -K:); ids 60000001.. are outside the loadgen's.
# Valid events, one re-sent with its keys in another order, an overdraft,
# and malformed messages (one with a quote and a backslash, one empty).
cat >"$DIR/kcat.txt" <<'EOF'
k7:{"id":60000001,"kind":"deposit","account":910001,"currency":"ETH","amount":900}
k7:{"id":60000002,"kind":"freeze","account":910001,"currency":"ETH","amount":300}
k8:{"id":60000003,"kind":"unfreeze","account":910001,"currency":"ETH","amount":100}
k7:{"currency":"ETH","amount":900,"kind":"deposit","account":910001,"id":60000001}
k8:{"id":60000004,"kind":"withdraw","account":910001,"currency":"ETH","amount":5000}
bad:{"id":60000010,"kind":"deposit","acc
bad:it's a quote \ and a backslash, not JSON
bad:{"id":60000011,"kind":"freeze","account":910002,"currency":"ETH","amount":-1}
bad:
bad:{"id":60000009,"kind":"deposit","account":910002,"currency":"SOL","amount":3}
EOF
cut -d: -f2- "$DIR/kcat.txt" >"$DIR/kcat.values"
kcat -P -b "$BROKER" -t "$TOPIC" -K: <"$DIR/kcat.txt" || die "kcat failed"
"$TOOLS_BIN/axs-loadgen" --brokers "$BROKER" --topic "$TOPIC" --rate 20000 "${LOADGEN_A[@]}" -X linger.ms=5 \
	2>"$DIR/loadgen-a.log" || { cat "$DIR/loadgen-a.log"; die "axs-loadgen failed"; }
"$TOOLS_BIN/axs-loadgen" --output "$DIR/loadgen-a.values" "${LOADGEN_A[@]}" 2>/dev/null
cat "$DIR/kcat.values" "$DIR/loadgen-a.values" >"$DIR/a.values"
expected_from_file "$DIR/a.values"
PRODUCED_A=$EXP_MESSAGES
VALID_A=$EXP_VALID
echo "# produced $PRODUCED_A messages: $EXP_MALFORMED malformed, $VALID_A valid ($EXP_VALID_IDS distinct ids)"

echo "# first pass"
start_feeder main "$TOPIC" --group ops
MAIN=$FEEDER_PID
wait_stored "$TOPIC" "$PRODUCED_A" "$LIMIT" ||
	die "first pass: stored offsets sum to $(stored_sum "$TOPIC"), expected $PRODUCED_A"
wait_drained "$LIMIT" || die "the applier did not drain: $(q -c 'SELECT * FROM axs.applier_status')"
check_exactly_once "$TOPIC" "$PRODUCED_A" "$EXP_MALFORMED" "$VALID_A" "$EXP_VALID_IDS"
check_eq "the malformed message with a quote and a backslash is a dead letter with its raw bytes" 1 \
	"$(q -c "SELECT count(*) FROM axs.dead_letters WHERE raw = convert_to(E'it''s a quote \\\\ and a backslash, not JSON', 'UTF8')")"
snapshot first
ROWS=$(inbox_rows)

# --- a. replay --------------------------------------------------------------
echo "# a1. rewind to 0 under the running feeder, no new message"
rewind 0
ROWS=$((ROWS + VALID_A))
wait_replayed "$ROWS" "$PRODUCED_A" "a1 rewind under an idle feeder" || true
snapshot a1
check_same_as first a1 "a1 rewind under an idle feeder"

echo "# a2. rewind to 0 under the running feeder mid-stream, while its batch waits for a lock on axs.inbox"
produce_in_background "$TOPIC" 2000 b "${LOADGEN_B[@]}"
wait_stored_above "$TOPIC" $((PRODUCED_A + 200)) "a2: the feeder writes the new stream"
# A batch in flight now waits for the lock; the rewind commits meanwhile.
q -c 'BEGIN' -c 'LOCK TABLE axs.inbox IN EXCLUSIVE MODE' -c 'SELECT pg_sleep(3)' -c 'COMMIT' >/dev/null &
LOCK_PID=$!
wait_for 3 "$FEEDER_WAITS_SQL" || check "a2: the feeder's batch waits for the lock" "no session of axs_ops_feeder waits for a lock"
stored_at_rewind=$(stored_sum "$TOPIC")
rewind 0
wait "$LOCK_PID" || true
wait "$LOADGEN_PID" || die "axs-loadgen failed: $(cat "$DIR/loadgen-b.log")"
"$TOOLS_BIN/axs-loadgen" --output "$DIR/loadgen-b.values" "${LOADGEN_B[@]}" 2>/dev/null
cat "$DIR/a.values" "$DIR/loadgen-b.values" >"$DIR/ab.values"
expected_from_file "$DIR/ab.values"
PRODUCED_AB=$EXP_MESSAGES
echo "# rewound when the stored offsets summed to $stored_at_rewind; $PRODUCED_AB messages produced in all"
# The new stream's valid messages, and again every one below the offsets
# stored at the rewind (all of the first pass among them).
if wait_for "$LIMIT" "SELECT (SELECT coalesce(sum(next_offset), 0) FROM axs.feeder_offsets WHERE topic = '$TOPIC') = $PRODUCED_AB
		AND (SELECT count(*) FROM axs.inbox) >= $ROWS + $EXP_VALID"; then
	wait_drained "$LIMIT" || die "the applier did not drain: $(q -c 'SELECT * FROM axs.applier_status')"
	check "a2: the stored offsets at the end ($PRODUCED_AB) and the topic consumed again from 0 (inbox $(inbox_rows) >= $((ROWS + EXP_VALID)) rows)" ok
else
	check "a2: the stored offsets at the end ($PRODUCED_AB) and the topic consumed again from 0" \
		"after $LIMIT s: stored offsets sum to $(stored_sum "$TOPIC"), inbox $(inbox_rows) rows"
fi
log_check "a2: the batch in flight was fenced (SQLSTATE 40001) and the feeder sought the stored offsets" \
	"$DIR/feeder-main.log" "SQLSTATE 40001.*fenced: re-reading the stored offsets"
check_eq "a2: one dead letter per malformed message, none twice" "$EXP_MALFORMED" \
	"$(q -c "SELECT count(*) FROM axs.dead_letters WHERE topic = '$TOPIC'")"
check_ids_and_verify a2
check_eq "a2: no event pending" 0 "$(q -c "SELECT count(*) FROM axs.events WHERE status = 'pending'")"
snapshot a2
ROWS=$(inbox_rows)

echo "# a3. stop the feeder, rewind to 0, start it again"
stop_feeder "$MAIN"
check_eq "a3: the feeder exits 0 on SIGTERM" 0 "$STOP_STATUS"
rewind 0
start_feeder main-a3 "$TOPIC" --group ops
MAIN=$FEEDER_PID
ROWS=$((ROWS + EXP_VALID))
wait_replayed "$ROWS" "$PRODUCED_AB" "a3 rewind with the feeder stopped" || true
snapshot a3
check_same_as a2 a3 "a3 rewind with the feeder stopped"
check_eq "a3: no batch failed during the replay" 0 "$(grep -c 'not committed' "$DIR/feeder-main-a3.log" || true)"
stop_feeder "$MAIN"
check_eq "a3: the feeder exits 0 on SIGTERM" 0 "$STOP_STATUS"

# --- b. errors retrying cannot fix --------------------------------------------
# b and c use a topic of their own, so that they do not depend on a.
echo "# b1. INSERT on axs.inbox revoked: exit status 3 within the default --max-batch-retries (5)"
q -c 'REVOKE INSERT ON axs.inbox FROM axs_feeder' >/dev/null
printf '%s\n' 'b1:{"id":50000100,"kind":"deposit","account":900004,"currency":"USDT","amount":5}' |
	kcat -P -b "$BROKER" -t "$TOPIC_C" -K: || die "kcat failed"
start_feeder revoked "$TOPIC_C" --group ops-b1
exit_check "b1 permission denied on axs.inbox" "$FEEDER_PID" 3 30
log_check "b1: the log has PostgreSQL's SQLSTATE and message for each failed batch, and what comes next" \
	"$DIR/feeder-revoked.log" "not committed: SQLSTATE 42501: writing the batch: permission denied for table inbox; permanent error, failure 1 of 6 before stopping: consuming it again"
log_check "b1: the log says it stops, with the exit status" \
	"$DIR/feeder-revoked.log" "FATAL: .*SQLSTATE 42501.*failure 6 of 6: stopping with exit status 3"

echo "# b2. a role that does not exist: exit status 3"
start_feeder norole "$TOPIC_C" --group ops-b2 --db "host=$PGHOST port=$PGPORT user=axs_no_such_role dbname=postgres"
exit_check "b2 login role missing" "$FEEDER_PID" 3 30
log_check "b2: the log has the server's SQLSTATE 28000 and the reason" \
	"$DIR/feeder-norole.log" "FATAL: connecting to PostgreSQL: SQLSTATE 28000: .*role \"axs_no_such_role\" does not exist.*stopping with exit status 3"

# --- c. SIGTERM / SIGINT in every state ---------------------------------------
echo "# c1. retrying after an error (INSERT still revoked)"
MPORT=$(free_port)
AXS_MAX_BATCH_RETRIES=1000 start_feeder retrying "$TOPIC_C" --group ops-c1 --metrics-port "$MPORT"
for _ in $(seq 300); do
	[ "$(grep -c 'not committed: SQLSTATE 42501' "$DIR/feeder-retrying.log" || true)" -ge 3 ] && break
	sleep 0.1
done
metrics=$(curl -s "http://127.0.0.1:$MPORT/metrics" || true)
failed=$(sed -n 's/^axs_feeder_batch_failures_total{class="permanent"} //p' <<<"$metrics")
check "c1: axs_feeder_batch_failures_total{class=\"permanent\"} counts the failed batches (${failed:-absent})" \
	"$([[ "$failed" =~ ^[0-9]+$ ]] && [ "$failed" -ge 3 ] && echo ok || echo "got '${failed:-nothing}'")"
sleep 5
log_check "c1: the status line shows the failed batches" "$DIR/feeder-retrying.log" "failed batches [1-9]"
stop_check "c1 retrying after an error" "$FEEDER_PID" TERM
q -c 'GRANT INSERT (event_id, payload, queued_at, source_topic, source_partition, source_offset) ON axs.inbox TO axs_feeder' >/dev/null

echo "# c2. connecting to a stopped PostgreSQL"
"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1
start_feeder pgdown "$TOPIC_C" --group ops-c2
for _ in $(seq 100); do
	[ "$(grep -c 'connecting to PostgreSQL\|cannot connect' "$DIR/feeder-pgdown.log" || true)" -ge 2 ] && break
	sleep 0.1
done
stop_check "c2 connecting to a stopped PostgreSQL" "$FEEDER_PID" TERM
"$TOP/scripts/cluster.sh" start "$DIR" >/dev/null 2>&1 || die "the cluster did not restart"
# shellcheck disable=SC1091
. "$DIR/env"		# another port if someone took ours meanwhile
FEEDER_DB="host=$PGHOST port=$PGPORT user=axs_ops_feeder dbname=postgres"

echo "# c3. connecting to a server that accepts and never answers"
perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
	Listen => 5, ReuseAddr => 1) or die; open(F, ">", $ARGV[0]); print F $s->sockport; close(F);
	sleep 600' "$DIR/hung.port" &
HELPER_PIDS+=($!)
for _ in $(seq 50); do [ -s "$DIR/hung.port" ] && break; sleep 0.1; done
start_feeder hung "$TOPIC_C" --group ops-c3 --db "host=127.0.0.1 port=$(cat "$DIR/hung.port") user=axs_ops_feeder dbname=postgres"
sleep 3
stop_check "c3 connecting to a server that never answers" "$FEEDER_PID" TERM

echo "# c4. waiting for a partition assignment from a broker that is not there (SIGINT)"
start_feeder nobroker "$TOPIC_C" --group ops-c4 --brokers "127.0.0.1:$(free_port)"
sleep 3
stop_check "c4 waiting for an assignment" "$FEEDER_PID" INT

echo "# c5. in the middle of a batch that waits for a lock on axs.inbox"
start_feeder locked "$TOPIC_C" --group ops-c5
wait_stored "$TOPIC_C" 1 "$LIMIT" || check "c5: the feeder writes b1's message after the GRANT" \
	"stored offsets of $TOPIC_C sum to $(stored_sum "$TOPIC_C"), expected 1"
q -c 'BEGIN' -c 'LOCK TABLE axs.inbox IN EXCLUSIVE MODE' -c 'SELECT pg_sleep(30)' -c 'COMMIT' >/dev/null 2>&1 &
LOCK_PID=$!
HELPER_PIDS+=("$LOCK_PID")
sleep 0.5
printf '%s\n' 'c5:{"id":50000101,"kind":"deposit","account":900004,"currency":"USDT","amount":6}' |
	kcat -P -b "$BROKER" -t "$TOPIC_C" -K: || die "kcat failed"
wait_for 10 "$FEEDER_WAITS_SQL" ||
	check "c5: the feeder's batch waits for the lock" "no session of axs_ops_feeder waits for a lock"
stop_check "c5 in the middle of a batch" "$FEEDER_PID" TERM
check_eq "c5: the batch was left for the next run (stored offsets unchanged)" 1 "$(stored_sum "$TOPIC_C")"
q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()" >/dev/null
wait "$LOCK_PID" 2>/dev/null || true

echo "# c6. mid-stream"
LOADGEN_C=(--events 6000 --accounts 500 --malformed 2 --duplicates 3 --seed 34 --first-id 30000000)
start_feeder stream "$TOPIC_C" --group ops-c6
for _ in $(seq 300); do grep -q "assigned $TOPIC_C" "$DIR/feeder-stream.log" && break; sleep 0.1; done
produce_in_background "$TOPIC_C" 1000 c "${LOADGEN_C[@]}"
wait_stored_above "$TOPIC_C" 500 "c6: the feeder writes the stream"
at_stop=$(stored_sum "$TOPIC_C")
stop_check "c6 mid-stream" "$FEEDER_PID" TERM
check "c6: the SIGTERM came mid-stream (stored $at_stop of 6002)" \
	"$([[ "$at_stop" =~ ^[0-9]+$ ]] && [ "$at_stop" -lt 6002 ] && kill -0 "$LOADGEN_PID" 2>/dev/null &&
		echo ok || echo "stored $at_stop of 6002, loadgen $(kill -0 "$LOADGEN_PID" 2>/dev/null && echo running || echo finished)")"
wait "$LOADGEN_PID" || die "axs-loadgen failed: $(cat "$DIR/loadgen-c.log")"
"$TOOLS_BIN/axs-loadgen" --output "$DIR/loadgen-c.values" "${LOADGEN_C[@]}" 2>/dev/null
printf '%s\n' '{"id":50000100,"kind":"deposit","account":900004,"currency":"USDT","amount":5}' \
	'{"id":50000101,"kind":"deposit","account":900004,"currency":"USDT","amount":6}' |
	cat - "$DIR/loadgen-c.values" >"$DIR/c.values"
expected_from_file "$DIR/c.values"
start_feeder after "$TOPIC_C" --group ops-c6
wait_stored "$TOPIC_C" "$EXP_MESSAGES" "$LIMIT" || check "c6: the next run finishes the stream" \
	"stored offsets of $TOPIC_C sum to $(stored_sum "$TOPIC_C"), expected $EXP_MESSAGES"
wait_drained "$LIMIT" || die "the applier did not drain: $(q -c 'SELECT * FROM axs.applier_status')"
check_eq "c6: one dead letter per malformed message, none twice" "$EXP_MALFORMED" \
	"$(q -c "SELECT count(*) FROM axs.dead_letters WHERE topic = '$TOPIC_C'")"
q -c 'SELECT id FROM axs.event_log ORDER BY id' >"$DIR/ids.logged"
q -d expect -c 'SELECT id FROM valid_ids ORDER BY id' >"$DIR/ids.expected"
check "c6: every valid id of $TOPIC_C in axs.event_log ($EXP_VALID_IDS)" \
	"$(missing=$(comm -23 <(sort "$DIR/ids.expected") <(sort "$DIR/ids.logged") | head -n 10); echo "${missing:-ok}")"
out=$(q -c 'SELECT * FROM axs.verify() LIMIT 10')
check "c6: axs.verify() is empty" "${out:-ok}"
stop_feeder "$FEEDER_PID"
check_eq "c6: the next run exits 0 on SIGTERM" 0 "$STOP_STATUS"

# --- d. --offsets-for-time ------------------------------------------------------
echo "# d. --offsets-for-time"
status=0
"$FEEDER_BIN/axs-feeder" --offsets-for-time 2999-01-01T00:00:00Z --brokers "$BROKER" --topic "$TOPIC" \
	>"$DIR/oft-after.sql" 2>"$DIR/oft-after.log" || status=$?
check "--offsets-for-time after every message: exit 0, nothing to replay in each of the $PARTITIONS partitions" \
	"$([ "$status" = 0 ] && [ "$(grep -c "^-- $TOPIC\[[0-9]\]: no message at or after 2999-01-01T00:00:00.000Z (end offset [0-9]*): nothing to replay$" "$DIR/oft-after.sql")" = "$PARTITIONS" ] &&
		echo ok || echo "exit $status: $(cat "$DIR/oft-after.sql" "$DIR/oft-after.log")")"
# librdkafka's mock answers every time with "no offset" (its ListOffsets
# handler does not look timestamps up): the feeder must notice rather than
# print "nothing to replay".
status=0
"$FEEDER_BIN/axs-feeder" --offsets-for-time 2000-01-01T00:00:00Z --brokers "$BROKER" --topic "$TOPIC" \
	>"$DIR/oft-before.sql" 2>"$DIR/oft-before.log" || status=$?
check "--offsets-for-time before the messages on axs-broker: exit 1, the broker cannot look offsets up by time" \
	"$([ "$status" = 1 ] && grep -q 'this broker does not look offsets up by time' "$DIR/oft-before.log" &&
		! grep -q 'nothing to replay' "$DIR/oft-before.sql" && echo ok ||
		echo "exit $status: $(cat "$DIR/oft-before.sql" "$DIR/oft-before.log" | head -n 5)")"
status=0
"$FEEDER_BIN/axs-feeder" --offsets-for-time 'yesterday' --brokers "$BROKER" --topic "$TOPIC" >/dev/null 2>&1 || status=$?
check_eq "--offsets-for-time yesterday: exit status 2" 2 "$status"

finish
