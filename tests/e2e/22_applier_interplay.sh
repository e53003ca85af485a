#!/usr/bin/env bash
#
# 22_applier_interplay.sh
#	The synchronous API and the applier on the same hot accounts at the same
#	time: pgbench clients call axs.transfer / freeze / unfreeze on 10
#	accounts while a submitter queues batches of events on those accounts
#	with axs.submit_many, for about 10 s.  Then the applier must drain, and
#	the ledger must be consistent: axs.verify() empty, no negative balance,
#	totals equal to deposits minus withdrawals, every id decided once, no
#	pgbench failure and no deadlock or error in the server log.
#
# It owns the cluster .scratch/e2e_applier_interplay and nothing else.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=$TOP/.scratch/e2e_applier_interplay
ACCOUNTS=10
CLIENTS=6
DURATION=${AXS_E2E_INTERPLAY_SECONDS:-10}
QUEUE_CHUNK=500
submitter_pid=

cleanup()
{
	[ -n "$submitter_pid" ] && kill "$submitter_pid" 2>/dev/null || true
	"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT

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
rm -rf "$DIR/data" "$DIR/log/postgres.log" "$DIR/submitted"
export AXS_PG_CONF="axs.applier_batch_size = 1000
axs.applier_max_delay_ms = 20"
"$TOP/scripts/cluster.sh" start "$DIR" >/dev/null
# shellcheck disable=SC1091
. "$DIR/env"
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

echo "# setup: extension, currencies USDT and BTC, $ACCOUNTS accounts funded synchronously"
q >/dev/null <<SQL
CREATE EXTENSION axs;
SELECT axs.create_currency('USDT', 6), axs.create_currency('BTC', 8);
SELECT axs.deposit(a * 2 - 1, a, 'USDT', 50000), axs.deposit(a * 2, a, 'BTC', 50000)
  FROM generate_series(1, $ACCOUNTS) AS a;
CREATE SEQUENCE e2e_sync_ids START 1000000;		-- ids of the pgbench calls
CREATE SEQUENCE e2e_queue_ids START 500000000;	-- ids of the queued events
SQL
wait_for 10 "SELECT pid IS NOT NULL AND fence_held FROM axs.applier_status" ||
	die "the preloaded applier did not take the fence within 10 s"

cat >"$DIR/workload.sql" <<SQL
\\set from random(1, $ACCOUNTS)
\\set step random(1, $((ACCOUNTS - 1)))
\\set to 1 + (:from - 1 + :step) % $ACCOUNTS
\\set amount random(1, 500)
\\set op random(1, 3)
\\set currency random(1, 2)
SELECT CASE :op WHEN 1 THEN axs.transfer(nextval('e2e_sync_ids'), :from, :to, c, :amount)
				WHEN 2 THEN axs.freeze(nextval('e2e_sync_ids'), :from, c, :amount)
				ELSE axs.unfreeze(nextval('e2e_sync_ids'), :from, c, :amount) END
  FROM (SELECT CASE :currency WHEN 1 THEN 'USDT' ELSE 'BTC' END AS c) AS cur;
SQL

# Batches of random events on the same accounts, queued until told to stop.
submit_queue()
{
	local position
	while [ ! -e "$DIR/stop" ]; do
		position=$(q <<SQL
SELECT axs.submit_many(jsonb_agg(e ORDER BY g))
  FROM (SELECT g, CASE WHEN kind < 0.25 THEN jsonb_build_object('id', id, 'kind', 'deposit', 'account', a, 'currency', c, 'amount', amount * 2)
					   WHEN kind < 0.40 THEN jsonb_build_object('id', id, 'kind', 'withdraw', 'account', a, 'currency', c, 'amount', amount)
					   WHEN kind < 0.55 THEN jsonb_build_object('id', id, 'kind', 'freeze', 'account', a, 'currency', c, 'amount', amount)
					   WHEN kind < 0.70 THEN jsonb_build_object('id', id, 'kind', 'unfreeze', 'account', a, 'currency', c, 'amount', amount)
					   ELSE jsonb_build_object('id', id, 'kind', 'transfer', 'from', a, 'to', 1 + (a + step) % $ACCOUNTS, 'currency', c, 'amount', amount)
				  END AS e
		  FROM (SELECT g, nextval('e2e_queue_ids') AS id, random() AS kind, 1 + floor(random() * $ACCOUNTS)::int AS a,
					   floor(random() * $((ACCOUNTS - 1)))::int AS step,
					   CASE WHEN random() < 0.5 THEN 'USDT' ELSE 'BTC' END AS c, 1 + floor(random() * 500)::int AS amount
				  FROM generate_series(1, $QUEUE_CHUNK) AS g) AS r) AS events
SQL
		) || exit 1
		echo "$position" >>"$DIR/submitted"
		sleep 0.02
	done
}

rm -f "$DIR/stop"
echo "# for $DURATION s: pgbench ($CLIENTS clients, 2 threads) on the synchronous API, and a submitter queueing batches of $QUEUE_CHUNK"
submit_queue &
submitter_pid=$!
start=$SECONDS
pgbench_rc=0
pgbench -n -c "$CLIENTS" -j 2 -T "$DURATION" -f "$DIR/workload.sql" postgres \
	>"$DIR/pgbench.out" 2>"$DIR/pgbench.err" || pgbench_rc=$?
touch "$DIR/stop"
wait "$submitter_pid" || die "the submitter failed"
submitter_pid=
echo "# pgbench finished in $((SECONDS - start)) s (exit $pgbench_rc)"
grep -E '^(number of transactions actually processed|number of failed transactions|tps)' "$DIR/pgbench.out" | sed 's/^/#   /' || true

result=ok
if [ "$pgbench_rc" -ne 0 ] || grep -qiE 'error|abort|deadlock' "$DIR/pgbench.err" ||
	grep -qE '^number of failed transactions: [1-9]' "$DIR/pgbench.out"; then
	result="pgbench exit $pgbench_rc"$'\n'"$(head -n 20 "$DIR/pgbench.err")"$'\n'"$(cat "$DIR/pgbench.out")"
fi
check "pgbench: no failed or aborted client" "$result"

last=$(tail -n 1 "$DIR/submitted")
batches=$(wc -l <"$DIR/submitted")
start=$SECONDS
[ "$(q -c "SELECT axs.wait($last, 60000)")" = t ] ||
	die "the inbox was not drained within 60 s: $(q -c 'SELECT * FROM axs.applier_status')"
echo "# $batches batches queued (last position $last), drained $((SECONDS - start)) s after the submitter stopped"
q -c "SELECT '# applier: ' || format('epoch %s, batches %s, applied %s, rejected %s, duplicate %s', epoch, batches, events_applied, events_rejected, events_duplicate) FROM axs.applier_status"

sync_calls=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$DIR/pgbench.out")
check "every call and every queued event decided once ($sync_calls synchronous, $((batches * QUEUE_CHUNK)) queued)" "$(q -c "
	SELECT CASE WHEN count(*) FILTER (WHERE queue_position IS NULL AND id >= 1000000) = $sync_calls
				 AND count(*) FILTER (WHERE queue_position IS NOT NULL) = $((batches * QUEUE_CHUNK))
				 AND count(*) = count(DISTINCT id)
				THEN 'ok' ELSE format('%s synchronous, %s queued, %s rows, %s ids',
					 count(*) FILTER (WHERE queue_position IS NULL AND id >= 1000000),
					 count(*) FILTER (WHERE queue_position IS NOT NULL), count(*), count(DISTINCT id)) END
	  FROM axs.event_log")"

check "both paths changed the same accounts at the same time" "$(q -c "
	SELECT CASE WHEN s.first_at < a.last_at AND a.first_at < s.last_at AND s.n > 0 AND a.n > 0 THEN 'ok'
				ELSE format('sync %s applied %s..%s, queued %s applied %s..%s', s.n, s.first_at, s.last_at, a.n, a.first_at, a.last_at) END
	  FROM (SELECT count(*) AS n, min(recorded_at) AS first_at, max(recorded_at) AS last_at FROM axs.event_log
			 WHERE queue_position IS NULL AND id >= 1000000 AND reason_code = 0) AS s,
		   (SELECT count(*) AS n, min(recorded_at) AS first_at, max(recorded_at) AS last_at FROM axs.event_log
			 WHERE queue_position IS NOT NULL AND reason_code = 0) AS a")"

check "no event pending" "$(q -c "SELECT CASE WHEN count(*) = 0 THEN 'ok' ELSE count(*) || ' pending' END FROM axs.events WHERE status = 'pending'")"

check "axs.verify() is empty" "$(out=$(q -c 'SELECT * FROM axs.verify() LIMIT 20'); [ -z "$out" ] && echo ok || echo "$out")"

check "no negative balance" "$(out=$(q -c 'SELECT * FROM axs.balances WHERE available < 0 OR frozen < 0 LIMIT 20'); [ -z "$out" ] && echo ok || echo "$out")"

check "per currency: available + frozen = applied deposits - applied withdrawals" "$(out=$(q <<'SQL'
WITH held AS (
	SELECT c.code, sum(b.available + b.frozen) AS held
	  FROM axs.balances AS b JOIN axs.currencies AS c ON c.id = b.currency GROUP BY c.code
), flows AS (
	SELECT event ->> 'currency' AS code,
		   sum(CASE kind WHEN 'deposit' THEN (event ->> 'amount')::numeric
						 WHEN 'withdraw' THEN -(event ->> 'amount')::numeric END) AS net
	  FROM axs.events WHERE status = 'applied' AND kind IN ('deposit', 'withdraw')
	 GROUP BY 1
)
SELECT coalesce(h.code, f.code), h.held, f.net
  FROM held AS h FULL JOIN flows AS f ON f.code = h.code
 WHERE h.held IS DISTINCT FROM f.net
SQL
); [ -z "$out" ] && echo ok || echo "code|held|deposits-withdrawals: $out")"

check "no deadlock, no abandoned batch and no ERROR in the server log" \
	"$(out=$(grep -E 'deadlock|ERROR|PANIC|FATAL|abandoning the batch|gave up the fence' "$DIR/log/postgres.log" | grep -v 'terminating background worker "axs applier" due to administrator command' | head -n 20 || true); [ -z "$out" ] && echo ok || echo "$out")"

if [ "$failures" -ne 0 ]; then
	echo "# $failures check(s) failed"
	server_log_tail
	exit 1
fi
echo "# all checks passed"
