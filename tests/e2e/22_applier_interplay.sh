#!/usr/bin/env bash
#
# 22_applier_interplay.sh
#	The synchronous API and the applier on the same hot accounts at the same
#	time: pgbench clients call axs.transfer / freeze / unfreeze on 10
#	accounts while a submitter queues batches of events on those accounts
#	with axs.submit_many, and a racer sends each of its events through both
#	paths at once (axs.submit and axs.deposit with the same id and content,
#	concurrently), for about 10 s.  Then the applier must drain, and the
#	ledger must be consistent: axs.verify() empty, no negative balance,
#	totals equal to deposits minus withdrawals, every id decided once (each
#	raced id exactly once, by whichever path came first), no pgbench failure
#	and no deadlock or error in the server log.
#
# It owns the cluster .scratch/e2e_applier_interplay and nothing else.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=$TOP/.scratch/e2e_applier_interplay
ACCOUNTS=10
CLIENTS=6
DURATION=${AXS_E2E_INTERPLAY_SECONDS:-10}
QUEUE_CHUNK=500
# shellcheck source=tests/e2e/lib_ledger.sh
. "$TOP/tests/e2e/lib_ledger.sh"

export AXS_PG_CONF="axs.applier_batch_size = 1000
axs.applier_max_delay_ms = 20"
ledger_start_cluster "$DIR/submitted"

echo "# setup: extension, currencies USDT and BTC, $ACCOUNTS accounts funded synchronously"
q >/dev/null <<SQL
CREATE EXTENSION axs;
SELECT axs.create_currency('USDT', 6), axs.create_currency('BTC', 8);
SELECT axs.deposit(a * 2 - 1, a, 'USDT', 50000), axs.deposit(a * 2, a, 'BTC', 50000)
  FROM generate_series(1, $ACCOUNTS) AS a;
CREATE SEQUENCE e2e_sync_ids START 1000000;		-- ids of the pgbench calls
CREATE SEQUENCE e2e_queue_ids START 500000000;	-- ids of the queued events
-- ids of the racer: from 900000000
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

# Each event both queued and applied synchronously at the same moment; the
# ids raced go to $DIR/raced.
race_both_paths()
{
	local id=900000000 event
	while [ ! -e "$DIR/stop" ]; do
		id=$((id + 1))
		event="{\"id\":$id,\"kind\":\"deposit\",\"account\":$((1 + id % ACCOUNTS)),\"currency\":\"USDT\",\"amount\":3}"
		q -c "SELECT axs.submit('$event')" >/dev/null &
		q -c "SELECT axs.apply('$event')" >/dev/null || exit 1
		wait $! || exit 1
		echo "$id" >>"$DIR/raced"
	done
}

rm -f "$DIR/stop" "$DIR/raced"
echo "# for $DURATION s: pgbench ($CLIENTS clients, 2 threads) on the synchronous API, a submitter queueing batches of $QUEUE_CHUNK, and a racer sending each event through both paths at once"
submit_queue &
submitter_pid=$!
race_both_paths &
racer_pid=$!
ledger_pgbench "$CLIENTS" "$DURATION"
touch "$DIR/stop"
wait "$submitter_pid" || die "the submitter failed"
submitter_pid=
wait "$racer_pid" || die "the racer failed"
racer_pid=
raced=$(wc -l <"$DIR/raced")
# the racer's last queued events are decided with the rest of the queue
last_race_position=$(q -c "SELECT max(position) FROM axs.inbox WHERE event_id > 900000000")
ledger_check_pgbench "pgbench: no failed or aborted client"

last=$(tail -n 1 "$DIR/submitted")
if [ -n "$last_race_position" ] && [ "$last_race_position" -gt "$last" ]; then
	last=$last_race_position
fi
batches=$(wc -l <"$DIR/submitted")
start=$SECONDS
ledger_wait_drained "$last" 60 "the inbox was not drained"
echo "# $batches batches queued (last position $last), drained $((SECONDS - start)) s after the submitter stopped"
q -c "SELECT '# applier: ' || format('epoch %s, batches %s, applied %s, rejected %s, duplicate %s', epoch, batches, events_applied, events_rejected, events_duplicate) FROM axs.applier_status"

sync_calls=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$DIR/pgbench.out")
check "every call and every queued event decided once ($sync_calls synchronous, $((batches * QUEUE_CHUNK)) queued)" "$(q -c "
	SELECT CASE WHEN count(*) FILTER (WHERE queue_position IS NULL AND id >= 1000000) = $sync_calls
				 AND count(*) FILTER (WHERE queue_position IS NOT NULL AND id < 900000000) = $((batches * QUEUE_CHUNK))
				 AND count(*) = count(DISTINCT id)
				THEN 'ok' ELSE format('%s synchronous, %s queued, %s rows, %s ids',
					 count(*) FILTER (WHERE queue_position IS NULL AND id >= 1000000),
					 count(*) FILTER (WHERE queue_position IS NOT NULL AND id < 900000000), count(*), count(DISTINCT id)) END
	  FROM axs.event_log WHERE id < 900000000")"

check "each of the $raced raced ids decided exactly once, and applied" "$(q -c "
	SELECT CASE WHEN count(*) = $raced AND count(DISTINCT id) = $raced AND bool_and(reason_code = 0)
				THEN 'ok'
				ELSE format('%s rows, %s ids, %s not applied', count(*), count(DISTINCT id),
							count(*) FILTER (WHERE reason_code <> 0)) END
	  FROM axs.event_log WHERE id > 900000000")"
q -c "SELECT format('# raced ids: %s decided by the synchronous API, %s by the applier',
					count(*) FILTER (WHERE queue_position IS NULL), count(*) FILTER (WHERE queue_position IS NOT NULL))
		FROM axs.event_log WHERE id > 900000000"

check "both paths changed the same accounts at the same time" "$(q -c "
	SELECT CASE WHEN s.first_at < a.last_at AND a.first_at < s.last_at AND s.n > 0 AND a.n > 0 THEN 'ok'
				ELSE format('sync %s applied %s..%s, queued %s applied %s..%s', s.n, s.first_at, s.last_at, a.n, a.first_at, a.last_at) END
	  FROM (SELECT count(*) AS n, min(recorded_at) AS first_at, max(recorded_at) AS last_at FROM axs.event_log
			 WHERE queue_position IS NULL AND id >= 1000000 AND reason_code = 0) AS s,
		   (SELECT count(*) AS n, min(recorded_at) AS first_at, max(recorded_at) AS last_at FROM axs.event_log
			 WHERE queue_position IS NOT NULL AND reason_code = 0) AS a")"

ledger_check_no_pending

ledger_check_verify

ledger_check_no_negative

ledger_check_totals

ledger_check_server_log "no deadlock, no abandoned batch and no ERROR in the server log" \
	'deadlock|ERROR|PANIC|FATAL|abandoning the batch|gave up the fence' 'terminating background worker "axs applier" due to administrator command'

ledger_finish
