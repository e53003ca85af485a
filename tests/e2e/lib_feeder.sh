# shellcheck shell=bash
#
# lib_feeder.sh
#	Shared helpers of the feeder end-to-end scripts (tests/e2e/30_feeder_*.sh
#	and 31/32): a scratch cluster with axs and the loadgen's currencies, an
#	axs-broker, axs-feeder processes, waiting for the stored offsets and the
#	applier, and the exactly-once checks.  Sourced, not run (not executable,
#	so the e2e runner does not pick it up).
#
# The caller sets TOP and DIR (the cluster directory) before sourcing.  Every
# process started here is recorded by PID and stopped by feeder_cleanup, which
# the scripts call from their EXIT trap.

FEEDER_BIN=$TOP/feeder
TOOLS_BIN=$TOP/tools
KAFKA_TEST_PROPS=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500)
BROKER_PID=
BROKER=
FEEDER_PIDS=()
# shellcheck source=tests/e2e/lib_check.sh
. "$TOP/tests/e2e/lib_check.sh"
# shellcheck source=tests/e2e/lib_model.sh
. "$TOP/tests/e2e/lib_model.sh"

logs_tail()
{
	local f
	echo "--- last lines of $DIR/log/postgres.log"
	tail -n 20 "$DIR/log/postgres.log" 2>/dev/null || true
	for f in "$DIR"/feeder*.log "$DIR"/broker.log; do
		[ -f "$f" ] || continue
		echo "--- last lines of $f"
		tail -n 15 "$f"
	done
}

die()
{
	echo "FAIL - $*"
	logs_tail
	exit 1
}

finish()
{
	if [ "$failures" -ne 0 ]; then
		echo "# $failures check(s) failed"
		logs_tail
		exit 1
	fi
	echo "# all checks passed"
}

# The loadgen's default 5 currencies (tools/workload.c).
CURRENCIES_SQL="SELECT axs.create_currency('USDT', 6), axs.create_currency('BTC', 8),
	axs.create_currency('ETH', 8), axs.create_currency('SOL', 8), axs.create_currency('XRP', 6)"

# The login role every feeder connects as: a member of axs_feeder and of
# nothing else, as README's Privileges section sets a feeder up, so that its
# grants (COPY into axs.inbox and axs.dead_letters, reading axs.feeder_offsets,
# axs.feeder_advance) are what the feeder runs on.
FEEDER_ROLE=feeder_login

# check_feeder_role ROLE: ROLE is no superuser, bypasses no row security and
# is a member of axs_feeder and of no other role.
check_feeder_role()
{
	check_eq "the feeder's role $1 is a plain login role, a member of axs_feeder only" \
		"f|f|axs_feeder" "$(q -c "SELECT r.rolsuper, r.rolbypassrls, string_agg(g.rolname, ',')
		                      FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid
		                      JOIN pg_roles g ON g.oid = m.roleid
		                     WHERE r.rolname = '$1' GROUP BY 1, 2")"
}

# cluster_setup: a fresh cluster in $DIR, axs installed in database postgres,
# the role FEEDER_ROLE created.
cluster_setup()
{
	"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
	rm -rf "$DIR"
	"$TOP/scripts/cluster.sh" start "$DIR" >/dev/null 2>&1 || die "the cluster did not start"
	# shellcheck disable=SC1091
	. "$DIR/env"
	q -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION axs' -c "$CURRENCIES_SQL" \
		-c "CREATE ROLE $FEEDER_ROLE LOGIN IN ROLE axs_feeder" >/dev/null
	check_feeder_role "$FEEDER_ROLE"
	FEEDER_DB="host=$PGHOST port=$PGPORT user=$FEEDER_ROLE dbname=postgres"
}

# start_broker TOPIC:PARTITIONS...: sets BROKER and BROKER_PID.
start_broker()
{
	local args=() t
	for t in "$@"; do args+=(--topic "$t"); done
	rm -f "$DIR/broker.addr"
	"$TOOLS_BIN/axs-broker" "${args[@]}" --address-file "$DIR/broker.addr" >/dev/null 2>"$DIR/broker.log" &
	BROKER_PID=$!
	for _ in $(seq 50); do
		[ -s "$DIR/broker.addr" ] && break
		sleep 0.1
	done
	BROKER=$(cat "$DIR/broker.addr" 2>/dev/null) || die "axs-broker did not write its address"
	echo "# axs-broker (pid $BROKER_PID) at $BROKER, topics $*"
}

# start_feeder NAME TOPIC [ARGS...]: starts axs-feeder in group axs, log in
# $DIR/feeder-NAME.log; its PID is echoed into FEEDER_PID and kept in FEEDER_PIDS.
start_feeder()
{
	local name=$1 topic=$2
	shift 2
	"$FEEDER_BIN/axs-feeder" --brokers "$BROKER" --topic "$topic" --group axs --db "$FEEDER_DB" \
		"${KAFKA_TEST_PROPS[@]}" "$@" >>"$DIR/feeder-$name.log" 2>&1 &
	FEEDER_PID=$!
	FEEDER_PIDS+=("$FEEDER_PID")
	echo "# axs-feeder $name started (pid $FEEDER_PID)"
}

# stop_feeder PID: SIGTERM, wait; its exit status goes into STOP_STATUS, or
# "not running" if it had already exited (its own exit status would then say
# nothing about how it stops).
# (Not in a $(...) subshell: only this shell can wait for its children.)
stop_feeder()
{
	local pid=$1
	STOP_STATUS=0
	if ! kill -TERM "$pid" 2>/dev/null; then
		STOP_STATUS="not running"
		wait "$pid" 2>/dev/null || true
		return
	fi
	wait "$pid" || STOP_STATUS=$?
}

feeder_cleanup()
{
	local pid
	for pid in "${FEEDER_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${FEEDER_PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ -n "$BROKER_PID" ]; then
		kill -TERM "$BROKER_PID" 2>/dev/null || true
		wait "$BROKER_PID" 2>/dev/null || true
	fi
	"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
}

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

# loadgen_running: the loadgen started in the background as LOADGEN_PID still runs.
loadgen_running()
{
	[ -n "${LOADGEN_PID:-}" ] && kill -0 "$LOADGEN_PID" 2>/dev/null
}

stored_sum()
{
	q -c "SELECT coalesce(sum(next_offset), 0) FROM axs.feeder_offsets WHERE topic = '$1'" 2>/dev/null || echo "?"
}

# wait_stored TOPIC COUNT SECONDS: until the stored offsets of TOPIC sum to COUNT.
wait_stored()
{
	local topic=$1 count=$2 limit=$3 deadline
	deadline=$((SECONDS + limit))
	while [ "$SECONDS" -lt "$deadline" ]; do
		[ "$(stored_sum "$topic")" = "$count" ] && return 0
		sleep 0.2
	done
	return 1
}

# wait_drained SECONDS: until the applier decided every inbox row.
wait_drained()
{
	local limit=$1
	[ "$(q -c "SELECT axs.wait((SELECT coalesce(max(position), 0) FROM axs.inbox), ${limit}000)")" = t ] &&
		[ "$(q -c "SELECT queue_depth = 0 AND watermark >= (SELECT coalesce(max(position), 0) FROM axs.inbox) FROM axs.applier_status")" = t ]
}

# expected_from_file FILE: classify the produced messages (one per line) with
# the extension's own decoder in a scratch database "expect" (axs.submit inside
# an exception block: a malformed message raises).  Sets EXP_MESSAGES,
# EXP_MALFORMED, EXP_VALID (valid messages, duplicates included) and
# EXP_VALID_IDS (distinct valid ids); leaves the valid ids in expect.valid_ids.
expected_from_file()
{
	local file=$1
	q -c 'SET client_min_messages = warning' -c 'DROP DATABASE IF EXISTS expect' -c 'CREATE DATABASE expect' >/dev/null
	q -d expect -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION axs' -c "$CURRENCIES_SQL" \
		-c 'CREATE TABLE produced (n bigserial, line text)' -c 'CREATE TABLE judged (n bigint, valid boolean, id bigint)' >/dev/null
	q -d expect -c "\\copy produced (line) FROM '$file' WITH (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')"
	# axs.submit validates like the feeder's decoder and only queues (no
	# applier runs in database expect), so this stays fast.
	q -d expect >/dev/null <<'SQL'
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT n, line FROM produced ORDER BY n LOOP
		BEGIN
			PERFORM axs.submit(coalesce(r.line, '')::jsonb);
			INSERT INTO judged VALUES (r.n, true, (r.line::jsonb ->> 'id')::bigint);
		EXCEPTION WHEN invalid_parameter_value OR invalid_text_representation THEN
			INSERT INTO judged VALUES (r.n, false, NULL);
		END;
	END LOOP;
END
$$;
CREATE TABLE valid_ids AS SELECT DISTINCT id FROM judged WHERE valid;
SQL
	read -r EXP_MESSAGES EXP_MALFORMED EXP_VALID EXP_VALID_IDS < <(q -d expect -F ' ' -c \
		"SELECT count(*), count(*) FILTER (WHERE NOT valid), count(*) FILTER (WHERE valid),
		        (SELECT count(*) FROM valid_ids) FROM judged")
}

# check_exactly_once TOPIC PRODUCED MALFORMED VALID VALID_IDS: the stored
# offsets, the dead letters, the applier's durable counts and the event log
# account for every message, once the applier has drained the inbox.  Only
# what survives a crash and the janitor's truncations is counted: inbox
# rows of applied segments may be gone, axs.applier_state's counts are
# committed with each batch (README, Monitoring).
check_exactly_once()
{
	local topic=$1 produced=$2 malformed=$3 valid=$4 valid_ids=$5 got user
	# the role FEEDER_DB connects as (a script may set up its own)
	user=$(sed -n 's/.*user=\([^ ]*\).*/\1/p' <<<"$FEEDER_DB")
	[ "$user" = "$FEEDER_ROLE" ] || check_feeder_role "$user"
	check_eq "the running feeders' sessions are all ${user:-?}'s" "${user:-?}" \
		"$(q -c "SELECT coalesce(string_agg(DISTINCT usename, ','), 'no feeder session')
		           FROM pg_stat_activity WHERE application_name = 'axs-feeder'")"
	check_eq "stored offsets of $topic sum to the messages produced" "$produced" "$(stored_sum "$topic")"
	check_eq "axs.dead_letters holds one row per malformed message" "$malformed" \
		"$(q -c "SELECT count(*) FROM axs.dead_letters WHERE topic = '$topic'")"
	check_eq "no undecided inbox row is left" 0 "$(q -c 'SELECT queue_depth FROM axs.applier_status')"
	check_eq "the applier decided one inbox row per valid message (axs.applier_state.decided_total): none written twice, none lost" \
		"$valid" "$(q -c 'SELECT decided_total FROM axs.applier_state')"
	check_eq "axs.event_log has one row per distinct valid id" "$valid_ids" \
		"$(q -c 'SELECT count(*) FROM axs.event_log')"
	check_eq "every inbox row decided once: a first occurrence in event_log, an id conflict or a re-sent duplicate" \
		"$valid" "$(q -c "SELECT (SELECT count(*) FROM axs.event_log WHERE queue_position IS NOT NULL)
		                      + (SELECT count(*) FROM axs.id_conflicts)
		                      + (SELECT duplicates_total FROM axs.applier_state)")"
	q -c 'SELECT id FROM axs.event_log ORDER BY id' >"$DIR/ids.logged"
	q -d expect -c 'SELECT id FROM valid_ids ORDER BY id' >"$DIR/ids.expected"
	check "the ids in axs.event_log are exactly the valid ids produced" \
		"$(cmp -s "$DIR/ids.expected" "$DIR/ids.logged" && echo ok || diff "$DIR/ids.expected" "$DIR/ids.logged" | head -n 10)"
	got=$(q -c 'SELECT * FROM axs.verify() LIMIT 10')
	check "axs.verify() is empty" "$([ -z "$got" ] && echo ok || echo "$got")"
}
