#!/usr/bin/env bash
#
# 10_concurrency.sh
#	The synchronous API under contention: 8 pgbench clients apply a random
#	mix of transfer / freeze / unfreeze / withdraw / deposit on 20 hot
#	accounts, with fresh ids from a shared sequence and, one time in eight,
#	a re-sent id (same id, same content) that other clients send at the same
#	time.  Afterwards the ledger must be consistent: axs.verify() empty, no
#	negative balance, each id recorded once with the outcome its callers were
#	told, totals equal to deposits minus withdrawals, and no pgbench error
#	(a deadlock or a unique violation would show up as one).
#
# It owns the cluster .scratch/e2e_concurrency and nothing else.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=$TOP/.scratch/e2e_concurrency
ACCOUNTS=20
CLIENTS=8
DURATION=${AXS_E2E_CONCURRENCY_SECONDS:-10}
FUNDING=100000		# per account and currency

# shellcheck source=tests/e2e/lib_ledger.sh
. "$TOP/tests/e2e/lib_ledger.sh"

ledger_start_cluster
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

echo "# setup: extension, currencies USDT and BTC, $ACCOUNTS accounts funded with $FUNDING of each"
"${PSQL[@]}" <<SQL
CREATE EXTENSION axs;
SELECT axs.create_currency('USDT', 6), axs.create_currency('BTC', 8);
SELECT count(*) FILTER (WHERE (axs.deposit(a * 2 - 1, a, 'USDT', $FUNDING)).status = 'applied')
     + count(*) FILTER (WHERE (axs.deposit(a * 2, a, 'BTC', $FUNDING)).status = 'applied') AS funded
  FROM generate_series(1, $ACCOUNTS) AS a;
-- fresh ids for the workload; re-sent ids live in 900000001..900100000
CREATE SEQUENCE e2e_ids START 1000;
-- what each call returned, to compare with what was recorded
CREATE UNLOGGED TABLE e2e_outcomes (id bigint NOT NULL, resent boolean NOT NULL,
	status text NOT NULL, reason text, at timestamptz NOT NULL DEFAULT clock_timestamp());
-- The re-sent events: content depends on the id only.
CREATE FUNCTION e2e_resent_event(d integer) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS \$\$
	SELECT CASE d % 5
		WHEN 0 THEN jsonb_build_object('id', 900000000 + d, 'kind', 'deposit', 'account', 1 + d % $ACCOUNTS, 'currency', 'USDT', 'amount', d)
		WHEN 1 THEN jsonb_build_object('id', 900000000 + d, 'kind', 'withdraw', 'account', 1 + d % $ACCOUNTS, 'currency', 'BTC', 'amount', d * 7)
		WHEN 2 THEN jsonb_build_object('id', 900000000 + d, 'kind', 'freeze', 'account', 1 + d % $ACCOUNTS, 'currency', 'USDT', 'amount', d * 3)
		WHEN 3 THEN jsonb_build_object('id', 900000000 + d, 'kind', 'unfreeze', 'account', 1 + d % $ACCOUNTS, 'currency', 'USDT', 'amount', d)
		ELSE jsonb_build_object('id', 900000000 + d, 'kind', 'transfer', 'from', 1 + d % $ACCOUNTS,
								'to', 1 + (d + 1 + d % 7) % $ACCOUNTS, 'currency', 'BTC', 'amount', d)
	END
\$\$;
SQL
check "funding deposits applied" "$( [ "$(q -c "SELECT count(*) FROM axs.event_log WHERE reason_code = 0")" = $((ACCOUNTS * 2)) ] && echo ok || q -c 'SELECT * FROM axs.events')"

# One call per transaction: the extension must order its row locks so that
# concurrent single events never deadlock.  Every statement records what the
# call returned.
cat >"$DIR/workload.sql" <<SQL
\\set from random(1, $ACCOUNTS)
\\set step random(1, $((ACCOUNTS - 1)))
\\set to 1 + (:from - 1 + :step) % $ACCOUNTS
\\set amount random(1, 2000)
\\set op random(1, 10)
\\set currency random(1, 2)
\\set resend random(1, 4)
WITH fresh AS MATERIALIZED (
	SELECT nextval('e2e_ids') AS id, (CASE :currency WHEN 1 THEN 'USDT' ELSE 'BTC' END) AS cur
	 WHERE :resend <> 1
), call AS MATERIALIZED (
	SELECT id, false AS resent,
		   CASE WHEN :op <= 4 THEN axs.transfer(id, :from, :to, cur, :amount)
				WHEN :op <= 6 THEN axs.freeze(id, :from, cur, :amount)
				WHEN :op <= 8 THEN axs.unfreeze(id, :from, cur, :amount)
				WHEN :op = 9 THEN axs.withdraw(id, :from, cur, :amount)
				ELSE axs.deposit(id, :from, cur, :amount) END AS r
	  FROM fresh
	UNION ALL
	-- all clients re-sending within the same 50 ms window send the same id
	SELECT 900000000 + d, true, axs.apply(e2e_resent_event(d))
	  FROM (SELECT 1 + (floor(extract(epoch FROM clock_timestamp()) * 20)::bigint % 100000)::integer AS d) AS w
	 WHERE :resend = 1
)
INSERT INTO e2e_outcomes (id, resent, status, reason)
SELECT id, resent, (r).status, (r).reason FROM call;
SQL

echo "# pgbench: $CLIENTS clients, 2 threads, $DURATION s on $ACCOUNTS hot accounts"
ledger_pgbench "$CLIENTS" "$DURATION"
ledger_check_pgbench "pgbench: no failed or aborted client (no deadlock, no unique violation, no error)"

calls=$(q -c "SELECT count(*) FROM e2e_outcomes")
resent_calls=$(q -c "SELECT count(*) FROM e2e_outcomes WHERE resent")
resent_concurrent=$(q -c "SELECT count(*) FROM (SELECT id FROM e2e_outcomes WHERE resent GROUP BY id HAVING count(*) > 1 AND count(DISTINCT pg_catalog.floor(extract(epoch FROM at) * 4)) <= 2) AS d")
echo "# $calls calls, $resent_calls of them re-sent ids ($resent_concurrent ids sent by several clients within half a second)"
check "the workload ran (more than 1000 calls, some re-sent ids sent several times)" \
	"$( [ "$calls" -gt 1000 ] && [ "$resent_concurrent" -gt 10 ] && echo ok || echo "calls=$calls resent ids sent twice=$resent_concurrent")"

ledger_check_verify

ledger_check_no_negative

check "every id in axs.event_log exactly once" \
	"$(out=$(q -c 'SELECT id, count(*) FROM axs.event_log GROUP BY id HAVING count(*) > 1 LIMIT 20'); [ -z "$out" ] && echo ok || echo "$out")"

check "event_log holds exactly the funding ids and the ids the clients sent" "$(out=$(q <<SQL
(SELECT id FROM axs.event_log EXCEPT (SELECT id FROM e2e_outcomes UNION SELECT generate_series(1, $((ACCOUNTS * 2)))))
UNION ALL
(SELECT id FROM e2e_outcomes EXCEPT SELECT id FROM axs.event_log)
LIMIT 20
SQL
); [ -z "$out" ] && echo ok || echo "ids in one set only: $out")"

check "every call was told the outcome that was recorded (re-sent ids included)" "$(out=$(q <<'SQL'
SELECT o.id, o.status, o.reason, s.status AS recorded_status, s.reason AS recorded_reason
  FROM e2e_outcomes AS o, axs.event_status(o.id) AS s
 WHERE (o.status, o.reason) IS DISTINCT FROM (s.status, s.reason)
 LIMIT 20
SQL
); [ -z "$out" ] && echo ok || echo "$out")"

check "a re-sent id never got id_reused (same content)" \
	"$(out=$(q -c "SELECT id, status, reason FROM e2e_outcomes WHERE reason = 'id_reused' LIMIT 20"); [ -z "$out" ] && echo ok || echo "$out")"

check "applied and rejected both occur" "$(q -c "SELECT CASE WHEN count(*) FILTER (WHERE reason_code = 0) > 0 AND count(*) FILTER (WHERE reason_code <> 0) > 0 THEN 'ok' ELSE 'outcomes: ' || string_agg(DISTINCT reason_code::text, ',') END FROM axs.event_log")"

ledger_check_totals

ledger_check_server_log "no deadlock and no unexpected ERROR in the server log" \
	'deadlock|ERROR|PANIC|FATAL' 'terminating connection due to administrator command'

dump_balances() { q -c "SELECT account, currency, available, frozen FROM axs.balances ORDER BY 1, 2" | head -n 50; }
ledger_finish dump_balances
