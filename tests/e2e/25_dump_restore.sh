#!/usr/bin/env bash
#
# 25_dump_restore.sh
#	pg_dump -Fc of a ledger with applied, rejected, conflicting, dead-lettered
#	and still-queued events, pg_restore --exit-on-error into a new database,
#	axs.start_applier() there: balances, outcomes and idempotency carry over
#	(a re-sent id is a duplicate or id_reused, never applied twice), events
#	pending at dump time are applied once, feeder offsets agree with the
#	inbox, credit lines, suspensions and their audit trail carry over and
#	are enforced, currency creation and new positions just work,
#	axs.verify() is empty.  The source applies its pending events too, and both databases
#	must then hold the same ledger.
#
# It owns the cluster .scratch/e2e_dump_restore.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=$TOP/.scratch/e2e_dump_restore
# shellcheck source=tests/e2e/lib_ledger.sh
. "$TOP/tests/e2e/lib_ledger.sh"

ledger_start_cluster
event() { printf '{"id":%s,"kind":"%s","account":%s,"currency":"%s","amount":%s}' "$@"; }

echo "# a ledger with every kind of outcome, then events left queued with the applier off"
q -c 'CREATE EXTENSION axs' -c "SELECT axs.create_currency('USDT', 6), axs.create_currency('BTC', 8)" >/dev/null
wait_for 10 "SELECT fence_held FROM axs.applier_status" || die "no applier took the fence"
q -c "SELECT axs.deposit(1, 1, 'USDT', 1000)" -c "SELECT axs.withdraw(2, 1, 'USDT', 5000)" >/dev/null
position=$(q -c "SELECT axs.submit_many(jsonb_build_array(
	'$(event 10 deposit 2 BTC 300)'::jsonb, '$(event 11 freeze 2 BTC 100)'::jsonb,
	'$(event 12 withdraw 2 BTC 900)'::jsonb, '$(event 10 deposit 2 BTC 300)'::jsonb,
	'$(event 11 deposit 2 BTC 1)'::jsonb))")
q -c "INSERT INTO axs.inbox (event_id, payload) VALUES (13, '\\x0163')" >/dev/null
q -c "SELECT axs.feeder_advance('trades', 0, NULL, 7)" >/dev/null
q -c "SELECT axs.set_credit_limit(5, 'USDT', 100)" -c "SELECT axs.suspend_account(6, 'chargeback')" \
  -c "SELECT axs.deposit(3, 6, 'BTC', 10)" >/dev/null
wait_for 10 "SELECT watermark > $position FROM axs.applier_state" || die "the first events were not applied"
q -c 'ALTER SYSTEM SET axs.applier_enabled = off' -c 'SELECT pg_reload_conf()' >/dev/null
wait_for 10 "SELECT NOT fence_held FROM axs.applier_status" || die "the applier kept the fence"
# as a feeder would: rows and the offset in one transaction
q -c 'BEGIN' -c "SELECT axs.submit('$(event 20 deposit 3 USDT 50)')" \
  -c "SELECT axs.submit('$(event 21 withdraw 3 USDT 20)')" -c "SELECT axs.submit('$(event 10 deposit 2 BTC 300)')" \
  -c "SELECT axs.feeder_advance('trades', 0, 7, 10)" -c 'COMMIT' >/dev/null
queued=$(q -c "SELECT count(*) FROM axs.inbox WHERE position > (SELECT watermark FROM axs.applier_state)")
check "three events are queued at dump time" "$([ "$queued" = 3 ] && echo ok || echo "$queued queued")"

echo "# pg_dump -Fc, pg_restore --exit-on-error into database restored"
pg_dump -Fc -f "$DIR/ledger.dump" postgres
q -c 'CREATE DATABASE restored'
restore_log=$DIR/restore.log
if pg_restore --exit-on-error -d restored "$DIR/ledger.dump" >"$restore_log" 2>&1; then
	check "pg_restore --exit-on-error succeeds" ok
else
	check "pg_restore --exit-on-error succeeds" "$(cat "$restore_log")"
fi
check "the restored offsets agree with the restored inbox (3 queued rows, next offset 10)" \
	"$(q -d restored -c "SELECT CASE WHEN (SELECT count(*) FROM axs.inbox) = 3 AND (SELECT next_offset FROM axs.feeder_offsets) = 10
	  THEN 'ok' ELSE format('%s inbox rows, offsets %s', (SELECT count(*) FROM axs.inbox), (SELECT string_agg(next_offset::text, ',') FROM axs.feeder_offsets)) END")"

echo "# an applier in each database"
q -d restored -c 'SELECT axs.start_applier()' >/dev/null
q -c 'ALTER SYSTEM RESET axs.applier_enabled' -c 'SELECT pg_reload_conf()' >/dev/null
for db in postgres restored; do
	PGDATABASE=$db wait_for 15 "SELECT count(*) = 0 FROM axs.events WHERE status = 'pending'" ||
		die "events stayed pending in $db"
done

snapshot()
{
	q -d "$1" -c "SELECT string_agg(format('%s %s %s %s', id, status, coalesce(reason, '-'), queue_position IS NULL), '; ' ORDER BY id, recorded_at) FROM axs.events" \
	  -c "SELECT string_agg(format('%s %s %s %s', account, currency, available, frozen), '; ' ORDER BY account, currency) FROM axs.balances" \
	  -c "SELECT string_agg(format('%s %s %s', id, queue_position IS NOT NULL, octet_length(payload)), '; ' ORDER BY id) FROM axs.id_conflicts" \
	  -c "SELECT string_agg(format('%s %s %s', topic, \"offset\", reason), '; ' ORDER BY topic, \"offset\") FROM axs.dead_letters" \
	  -c "SELECT string_agg(format('%s %s %s', topic, partition, next_offset), '; ') FROM axs.feeder_offsets" \
	  -c "SELECT string_agg(format('%s %s %s', account, currency, credit), '; ') FROM axs.credit_limits" \
	  -c "SELECT string_agg(format('%s %s %s', account, status, reason), '; ') FROM axs.account_status" \
	  -c "SELECT string_agg(format('%s %s %s %s %s %s %s %s', b.account, c.code, h.event_id, h.kind, h.available_delta,
	                                h.frozen_delta, h.available, h.frozen), '; ' ORDER BY b.account, c.code, h.n)
	        FROM axs.balances AS b JOIN axs.currencies AS c ON c.id = b.currency,
	             LATERAL axs.history(b.account, c.code) WITH ORDINALITY
	               AS h(event_id, kind, currency, available_delta, frozen_delta, available, frozen, decided_at, n)" \
	  -c "SELECT string_agg(format('%s %s %s %s', change_id, account, change, new_value), '; ' ORDER BY change_id) FROM axs.account_changes"
}
source_state=$(snapshot postgres)
restored_state=$(snapshot restored)
check "outcomes, balances, their history, id conflicts, dead letters, offsets, credit lines, suspensions and their changes are the same in both databases" \
	"$([ "$source_state" = "$restored_state" ] && echo ok || diff <(echo "$source_state") <(echo "$restored_state"))"
check "the pending events were applied once (event 20 and 21 applied, the re-sent 10 a duplicate)" \
	"$(q -d restored -c "SELECT CASE WHEN string_agg(format('%s:%s', id, status), ' ' ORDER BY id) = '10:applied 20:applied 21:applied'
	  THEN 'ok' ELSE string_agg(format('%s:%s', id, status), ' ' ORDER BY id) END FROM axs.events WHERE id IN (10, 20, 21)")"

echo "# idempotency, currencies and positions in the restored database"
PGDATABASE=restored
q -c "SELECT axs.deposit(1, 1, 'USDT', 1000)" -c "SELECT axs.deposit(22, 3, 'USDT', 1)" >/dev/null
restored_last=$(q -c 'SELECT max(queue_position) FROM axs.event_log')
position=$(q -c "SELECT axs.submit_many(jsonb_build_array('$(event 10 deposit 2 BTC 300)'::jsonb, '$(event 20 deposit 3 USDT 999)'::jsonb,
	'$(event 23 deposit 4 ETH 5)'::jsonb))")
check "a new queue position comes after every restored one" \
	"$([ "$position" -gt "$((restored_last + 2))" ] && echo ok || echo "last new position $position, last restored $restored_last")"
check "axs.wait on it returns true" "$(q -c "SELECT CASE WHEN axs.wait($position, 10000) THEN 'ok' ELSE 'timed out' END")"
check "re-sent ids were not applied twice (account 1 USDT 1000, account 2 BTC 300/100, account 3 USDT 31)" \
	"$(q -c "SELECT CASE WHEN string_agg(format('%s %s %s %s', account, currency, available, frozen), '; ' ORDER BY account, currency)
	  = '1 1 1000 0; 2 2 200 100; 3 1 31 0' THEN 'ok' ELSE string_agg(format('%s %s %s %s', account, currency, available, frozen), '; ' ORDER BY account, currency) END
	  FROM axs.balances WHERE account <= 3")"
check "the re-sent id 20 with other content is id_reused" \
	"$(q -c "SELECT CASE WHEN count(*) = 1 THEN 'ok' ELSE count(*) || ' conflicts for id 20' END FROM axs.id_conflicts WHERE id = 20")"
check "the restored credit line and suspension are enforced (account 5 withdraws 100 on credit, 101 is refused; account 6 cannot withdraw)" \
	"$(q -c "SELECT CASE WHEN (axs.withdraw(30, 5, 'USDT', 101)).reason = 'insufficient_available'
	                       AND (axs.withdraw(31, 5, 'USDT', 100)).status = 'applied'
	                       AND (axs.withdraw(32, 6, 'BTC', 1)).reason = 'account_suspended' THEN 'ok' ELSE 'not as restored' END")"
q -c "SELECT axs.resume_account(6)" >/dev/null
check "a change in the restored database continues the audit trail" \
	"$(q -c "SELECT CASE WHEN max(change_id) = 3 THEN 'ok' ELSE 'change ids ' || string_agg(change_id::text, ',') END FROM axs.account_changes")"
currency=$(q -c "SELECT axs.create_currency('ETH', 18)" 2>&1 || true)
check "a new currency gets the next id (3) after the restored ones" "$([ "$currency" = 3 ] && echo ok || echo "$currency")"
check "and is usable at once" "$(q -c "SELECT CASE WHEN (axs.deposit(24, 4, 'ETH', 5)).status = 'applied' THEN 'ok' ELSE 'not applied' END")"
ledger_check_verify
PGDATABASE=postgres ledger_check_verify
ledger_finish
