#!/usr/bin/env bash
#
# 21_applier_crash.sh
#	Crash the server (pg_ctl stop -m immediate) while the applier is in the
#	middle of draining a large pre-filled inbox, restart, let it drain, and
#	check exactly-once: every distinct id decided once, nothing pending,
#	axs.verify() empty, balances and outcomes equal to those of a reference
#	database whose applier drained the same queue without a crash, and the
#	outcomes of the first events equal to axs.apply's in the same order
#	(axs.apply decides only about 1500 events/s, too slow for 300k).
#
# The workload is a deterministic function of a sequence number (e2e_events),
# so the reference needs no copy of the inbox.  It contains re-sent events
# (same id, same content) and reused ids (same id, other content), and its
# outcomes depend on order (withdrawals and freezes fail on empty accounts).
#
# It owns the cluster .scratch/e2e_applier_crash and nothing else.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=$TOP/.scratch/e2e_applier_crash
EVENTS=${AXS_E2E_CRASH_EVENTS:-300000}
CHUNK=10000

trap '"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true' EXIT

failures=0
check()
{
	# check DESCRIPTION RESULT: RESULT "ok" passes, anything else fails and is shown.
	local description=$1 result=$2
	if [ "$result" = ok ]; then
		echo "ok   - $description"
	else
		echo "FAIL - $description"
		printf '%s\n' "$result" | sed 's/^/       /'
		failures=$((failures + 1))
	fi
}

server_log_tail()
{
	echo "--- last lines of $DIR/log/postgres.log"
	tail -n 40 "$DIR/log/postgres.log" 2>/dev/null || true
}

die()
{
	echo "FAIL - $*"
	server_log_tail
	exit 1
}

# wait_for SECONDS SQL: poll until SQL returns t; false on timeout.
wait_for()
{
	local limit=$1 sql=$2 deadline
	deadline=$((SECONDS + limit))
	while [ "$SECONDS" -lt "$deadline" ]; do
		[ "$(psql -X -At -c "$sql" 2>/dev/null || true)" = t ] && return 0
		sleep 0.1
	done
	return 1
}

"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR/data" "$DIR/log/postgres.log"
export AXS_PG_CONF="axs.applier_batch_size = 5000"	# kept by the start after the crash
"$TOP/scripts/cluster.sh" start "$DIR" >/dev/null
# shellcheck disable=SC1091
. "$DIR/env"
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# The deterministic workload, installed in both databases.
cat >"$DIR/workload.sql" <<'SQL'
SELECT axs.create_currency('USDT', 6), axs.create_currency('BTC', 8);
-- Events number first..last of the workload, in order.  Event n is a
-- function of n only; every 1000th re-sends event n-500 (same id, same
-- content); every 5000th (+7) reuses id n-3 with other content.
CREATE FUNCTION e2e_events(first bigint, last bigint) RETURNS TABLE (n bigint, event jsonb)
LANGUAGE sql STABLE AS $$
	SELECT n,
		   CASE WHEN n % 5000 = 7 THEN jsonb_build_object('id', n - 3, 'kind', 'deposit', 'account', 1,
														  'currency', 'USDT', 'amount', 1000000)
				WHEN kind <= 2 THEN jsonb_build_object('id', src, 'kind', 'deposit', 'account', account, 'currency', cur, 'amount', amount * 3)
				WHEN kind = 3 THEN jsonb_build_object('id', src, 'kind', 'withdraw', 'account', account, 'currency', cur, 'amount', amount)
				WHEN kind <= 5 THEN jsonb_build_object('id', src, 'kind', 'freeze', 'account', account, 'currency', cur, 'amount', amount)
				WHEN kind <= 7 THEN jsonb_build_object('id', src, 'kind', 'unfreeze', 'account', account, 'currency', cur, 'amount', amount)
				ELSE jsonb_build_object('id', src, 'kind', 'transfer', 'from', account,
										'to', 1 + (account + step) % 50, 'currency', cur, 'amount', amount)
		   END
	  FROM (SELECT n, src,
				   (hashint8extended(src, 1) % 10 + 10) % 10 AS kind,
				   1 + (hashint8extended(src, 2) % 50 + 50) % 50 AS account,
				   (hashint8extended(src, 3) % 49 + 49) % 49 AS step,
				   CASE (hashint8extended(src, 4) % 2 + 2) % 2 WHEN 0 THEN 'USDT' ELSE 'BTC' END AS cur,
				   1 + (hashint8extended(src, 5) % 1000 + 1000) % 1000 AS amount
			  FROM (SELECT g AS n, CASE WHEN g % 1000 = 0 AND g > 1000 THEN g - 500 ELSE g END AS src
					  FROM generate_series(first, last) AS g) AS s) AS h
	 ORDER BY n
$$;
SQL

echo "# setup: extension and workload in database postgres and in the reference database ref"
q -c 'CREATE EXTENSION axs' -f "$DIR/workload.sql" >/dev/null
q -c 'CREATE DATABASE ref' >/dev/null
q -d ref -c 'CREATE EXTENSION axs' -f "$DIR/workload.sql" >/dev/null

echo "# disable the applier (ALTER SYSTEM SET axs.applier_enabled = off) and queue $EVENTS events in both databases"
q -c 'ALTER SYSTEM SET axs.applier_enabled = off' -c 'SELECT pg_reload_conf()' >/dev/null
wait_for 10 "SELECT pid IS NULL FROM axs.applier_status" ||
	die "the applier still holds the fence 10 s after axs.applier_enabled = off"
start=$SECONDS
last=0
for ((first = 1; first <= EVENTS; first += CHUNK)); do
	end=$((first + CHUNK - 1))
	[ "$end" -gt "$EVENTS" ] && end=$EVENTS
	# the reference database's queue fills in parallel (its own inbox, no contention)
	q -d ref -c "SELECT axs.submit_many(jsonb_agg(event ORDER BY n)) FROM e2e_events($first, $end)" >/dev/null &
	last=$(q -c "SELECT axs.submit_many(jsonb_agg(event ORDER BY n)) FROM e2e_events($first, $end)")
	wait $! || die "queueing events $first..$end in database ref failed"
done
echo "# filled in $((SECONDS - start)) s; last queue position $last"
check "nothing applied while the applier is disabled (watermark 0, $EVENTS queued)" \
	"$(q -c "SELECT CASE WHEN watermark = 0 AND queue_depth = $EVENTS THEN 'ok' ELSE format('watermark %s, queue_depth %s', watermark, queue_depth) END FROM axs.applier_status")"

echo "# enable the applier and crash the server (stop -m immediate) once it has applied 10%"
q -c 'ALTER SYSTEM SET axs.applier_enabled = on' -c 'SELECT pg_reload_conf()' >/dev/null
start=$SECONDS
wait_for 60 "SELECT watermark >= $last / 10 FROM axs.applier_state" ||
	die "the applier did not reach 10% of the inbox within 60 s"
watermark_before=$(q -c 'SELECT watermark FROM axs.applier_state')
"$TOP/scripts/cluster.sh" stop-immediate "$DIR" >/dev/null 2>&1
echo "# crashed $((SECONDS - start)) s after enabling; last watermark seen $watermark_before of $last"

"$TOP/scripts/cluster.sh" start "$DIR" >/dev/null 2>&1 || die "the cluster did not restart"
grep -q 'database system was not properly shut down; automatic recovery in progress' "$DIR/log/postgres.log" ||
	die "no crash recovery in the server log"
wait_for 30 "SELECT pid IS NOT NULL AND fence_held FROM axs.applier_status" ||
	die "no applier holds the fence 30 s after the restart"
resumed=$(sed -n 's/.*axs applier took the fence (epoch [0-9]*), resuming after queue position \([0-9]*\).*/\1/p' "$DIR/log/postgres.log" | tail -n 1)
check "after the crash the applier resumed mid-drain (from position ${resumed:-?}: >= $watermark_before, < $last)" \
	"$( [ -n "$resumed" ] && [ "$resumed" -ge "$watermark_before" ] && [ "$resumed" -lt "$last" ] && echo ok ||
		grep 'took the fence' "$DIR/log/postgres.log")"

start=$SECONDS
[ "$(q -c "SELECT axs.wait($last, 120000)")" = t ] ||
	die "the inbox was not drained within 120 s: $(q -c 'SELECT * FROM axs.applier_status')"
echo "# drained $((SECONDS - start)) s after the restart"
q -c "SELECT '# applier: ' || format('epoch %s, watermark %s, batches %s, applied %s, rejected %s, duplicate %s', epoch, watermark, batches, events_applied, events_rejected, events_duplicate) FROM axs.applier_status"

# The reference: the same queue drained by an applier that never crashed
# (axs.apply decides about 1500 events/s here, too slow for the whole
# stream; it checks a prefix below).
echo "# reference: start an applier in database ref and let it drain the same queue"
start=$SECONDS
q -d ref -c 'SELECT axs.start_applier()' >/dev/null
ref_last=$(q -d ref -c 'SELECT max(position) FROM axs.inbox')
[ "$(q -d ref -c "SELECT axs.wait($ref_last, 120000)")" = t ] ||
	die "the reference applier did not drain within 120 s: $(q -d ref -c 'SELECT * FROM axs.applier_status')"
echo "# reference drained in $((SECONDS - start)) s"
q -d ref -c "SELECT pg_terminate_backend(pid) FROM axs.applier_status WHERE pid IS NOT NULL" >/dev/null

check "no event pending" "$(q -c "SELECT CASE WHEN count(*) = 0 THEN 'ok' ELSE count(*) || ' pending' END FROM axs.events WHERE status = 'pending'")"

expected_ids=$(q -c "SELECT count(DISTINCT (event ->> 'id')::bigint) FROM e2e_events(1, $EVENTS)")
check "axs.event_log has exactly one row per distinct submitted id ($expected_ids)" "$(out=$(q <<SQL
WITH submitted AS (SELECT DISTINCT (event ->> 'id')::bigint AS id FROM e2e_events(1, $EVENTS))
SELECT 'missing ' || id FROM (SELECT id FROM submitted EXCEPT SELECT id FROM axs.event_log) AS m
UNION ALL
SELECT 'unexpected ' || id FROM (SELECT id FROM axs.event_log EXCEPT SELECT id FROM submitted) AS u
UNION ALL
SELECT 'count ' || count(*) FROM axs.event_log HAVING count(*) <> $expected_ids
LIMIT 20
SQL
); [ -z "$out" ] && echo ok || echo "$out")"

reused=$(q -c "SELECT count(*) FROM generate_series(1, $EVENTS) AS n WHERE n % 5000 = 7")
check "each reused id recorded once in axs.id_conflicts ($reused)" "$(q -c "
	SELECT CASE WHEN count(*) = $reused AND count(DISTINCT queue_position) = $reused AND count(DISTINCT id) = $reused
				THEN 'ok' ELSE format('%s rows, %s positions, %s ids', count(*), count(DISTINCT queue_position), count(DISTINCT id)) END
	  FROM axs.id_conflicts")"

check "axs.verify() is empty" "$(out=$(q -c 'SELECT * FROM axs.verify() LIMIT 20'); [ -z "$out" ] && echo ok || echo "$out")"

balances_sql="SELECT b.account, c.code, b.available, b.frozen FROM axs.balances b JOIN axs.currencies c ON c.id = b.currency ORDER BY 1, 2"
q -c "$balances_sql" >"$DIR/balances.postgres"
q -d ref -c "$balances_sql" >"$DIR/balances.ref"
check "balances equal the reference ($(wc -l <"$DIR/balances.ref") rows)" \
	"$(diff "$DIR/balances.ref" "$DIR/balances.postgres" | head -n 20 || true; cmp -s "$DIR/balances.ref" "$DIR/balances.postgres" && echo ok)"

outcomes_sql="SELECT id, reason_code FROM axs.event_log ORDER BY id"
q -c "$outcomes_sql" >"$DIR/outcomes.postgres"
q -d ref -c "$outcomes_sql" >"$DIR/outcomes.ref"
check "every event's outcome equals the reference's ($(grep -c '|0$' "$DIR/outcomes.ref") applied, $(grep -vc '|0$' "$DIR/outcomes.ref") rejected)" \
	"$(diff "$DIR/outcomes.ref" "$DIR/outcomes.postgres" | head -n 20 || true; cmp -s "$DIR/outcomes.ref" "$DIR/outcomes.postgres" && echo ok)"

# The same events applied synchronously with axs.apply, in order, in a
# third database: the first PREFIX events, whose outcomes must be the ones
# the crashed applier recorded.
PREFIX=${AXS_E2E_CRASH_PREFIX:-6000}
echo "# reference by axs.apply: the first $PREFIX events in database ref_apply"
start=$SECONDS
q -c 'CREATE DATABASE ref_apply' >/dev/null
q -d ref_apply -c 'CREATE EXTENSION axs' -f "$DIR/workload.sql" >/dev/null
q -d ref_apply -c "SELECT count(axs.apply(event)) FROM (SELECT event FROM e2e_events(1, $PREFIX) ORDER BY n) AS e" >/dev/null
echo "# applied in $((SECONDS - start)) s"
q -d ref_apply -c "SELECT id, reason_code FROM axs.event_log ORDER BY id" >"$DIR/outcomes.ref_apply"
q -c "SELECT id, reason_code FROM axs.event_log WHERE id IN (SELECT (event ->> 'id')::bigint FROM e2e_events(1, $PREFIX)) ORDER BY id" >"$DIR/outcomes.prefix"
check "the outcomes of the first $PREFIX events equal those of axs.apply in order" \
	"$(diff "$DIR/outcomes.ref_apply" "$DIR/outcomes.prefix" | head -n 20 || true; cmp -s "$DIR/outcomes.ref_apply" "$DIR/outcomes.prefix" && echo ok)"

if [ "$failures" -ne 0 ]; then
	echo "# $failures check(s) failed"
	server_log_tail
	exit 1
fi
echo "# all checks passed"
