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
# shellcheck source=tests/e2e/lib_ledger.sh
. "$TOP/tests/e2e/lib_ledger.sh"

export AXS_PG_CONF="axs.applier_batch_size = 5000"	# kept by the start after the crash
ledger_start_cluster

# The deterministic workload, installed in both databases.
ledger_install_workload

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
	ledger_submit_events "$first" "$end" -d ref >/dev/null &
	last=$(ledger_submit_events "$first" "$end")
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
ledger_wait_drained "$last" 120 "the inbox was not drained"
echo "# drained $((SECONDS - start)) s after the restart"
q -c "SELECT '# applier: ' || format('epoch %s, watermark %s, batches %s, applied %s, rejected %s, duplicate %s', epoch, watermark, batches, events_applied, events_rejected, events_duplicate) FROM axs.applier_status"

# The reference: the same queue drained by an applier that never crashed
# (axs.apply decides about 1500 events/s here, too slow for the whole
# stream; it checks a prefix below).
echo "# reference: start an applier in database ref and let it drain the same queue"
start=$SECONDS
ref_last=$(q -d ref -c 'SELECT max(position) FROM axs.inbox')
ledger_drain_ref "$ref_last"
echo "# reference drained in $((SECONDS - start)) s"

ledger_check_no_pending

ledger_check_event_log_ids ""

reused=$(q -c "SELECT count(*) FROM generate_series(1, $EVENTS) AS n WHERE n % 5000 = 7")
check "each reused id recorded once in axs.id_conflicts ($reused)" "$(q -c "
	SELECT CASE WHEN count(*) = $reused AND count(DISTINCT queue_position) = $reused AND count(DISTINCT id) = $reused
				THEN 'ok' ELSE format('%s rows, %s positions, %s ids', count(*), count(DISTINCT queue_position), count(DISTINCT id)) END
	  FROM axs.id_conflicts")"

ledger_check_verify

ledger_check_same_as_ref

echo "# the reference model: the $EVENTS events as JSON, decided again in the crashed applier's queue order"
q -c "SELECT event FROM e2e_events(1, $EVENTS) ORDER BY n" >"$DIR/events.json"
model_check "the reference model (ledger_model.py, README's rules) agrees on every outcome, id conflict and balance" \
	--events "$DIR/events.json" --exact-conflicts

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
	"$(ledger_same "$DIR/outcomes.ref_apply" "$DIR/outcomes.prefix")"

ledger_finish
