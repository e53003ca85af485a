#!/usr/bin/env bash
#
# 26_applier_epoch_fence.sh
#	The epoch compare-and-set, exercised: the epoch moves under a batch the
#	applier has read but not committed.  A session holds a conflicting lock
#	on axs.balances, so the applier waits inside its batch (it shows the
#	session in blocked_by); meanwhile axs.applier_state.epoch is bumped, as
#	a takeover would; then the lock goes.  The stale batch must be
#	abandoned and logged, the applier must give up the fence and take it
#	again under a new epoch, and every id must still be decided exactly
#	once, with the balances the events imply.
#
# It owns the cluster .scratch/e2e_applier_epoch_fence.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=$TOP/.scratch/e2e_applier_epoch_fence
EVENTS=2000
# shellcheck source=tests/e2e/lib_ledger.sh
. "$TOP/tests/e2e/lib_ledger.sh"

# the blocking session must outlive the test's steps, not be ended by the applier
export AXS_PG_CONF="axs.applier_block_timeout_ms = 600000"
holder_pid=
epoch_cleanup()
{
	touch "$DIR/release"
	[ -n "$holder_pid" ] && kill "$holder_pid" 2>/dev/null || true
	ledger_cleanup
}
ledger_start_cluster "$DIR/release"
trap epoch_cleanup EXIT

q -c 'CREATE EXTENSION axs' -c "SELECT axs.create_currency('USDT', 6)" >/dev/null
wait_for 10 "SELECT fence_held FROM axs.applier_status" || die "no applier took the fence"
epoch_before=$(q -c 'SELECT epoch FROM axs.applier_state')

echo "# a session takes ROW EXCLUSIVE on axs.balances and holds it until released"
hold_session "$DIR/release" "$DIR/holder.log" -q -v ON_ERROR_STOP=1 -- \
	'BEGIN;' 'LOCK TABLE axs.balances IN ROW EXCLUSIVE MODE;'
holder_pid=$HELD_PID
wait_for 10 "SELECT count(*) = 1 FROM pg_locks WHERE relation = 'axs.balances'::regclass AND mode = 'RowExclusiveLock' AND granted" ||
	die "the holder did not get its lock"

echo "# queue $EVENTS deposits (ids 1..$EVENTS, account = id % 50 + 1, amount = id); the applier reads them and waits for the lock"
position=$(q -c "SELECT axs.submit_many(jsonb_agg(jsonb_build_object('id', g, 'kind', 'deposit', 'account', g % 50 + 1,
	'currency', 'USDT', 'amount', g))) FROM generate_series(1, $EVENTS) AS g")
wait_for 10 "SELECT blocked_by IS NOT NULL FROM axs.applier_status" ||
	die "the applier did not wait inside its batch: $(q -c 'SELECT * FROM axs.applier_status')"
check "nothing is applied yet (watermark 0)" \
	"$(q -c "SELECT CASE WHEN watermark = 0 THEN 'ok' ELSE 'watermark ' || watermark END FROM axs.applier_state")"

echo "# the epoch moves under the batch, then the lock goes"
q -c 'UPDATE axs.applier_state SET epoch = epoch + 1' >/dev/null
touch "$DIR/release"
wait "$holder_pid" || die "the holder failed: $(cat "$DIR/holder.log")"
holder_pid=

check "every event is decided" "$(wait_for 30 "SELECT axs.wait($position, 100)" && echo ok || q -c 'SELECT * FROM axs.applier_status')"
check "the stale batch was abandoned and logged" \
	"$(grep -q "axs applier epoch $((epoch_before)) was superseded; abandoning the batch" "$DIR/log/postgres.log" && echo ok ||
		echo "no 'epoch $epoch_before was superseded' in the server log")"
check "the applier gave up the fence and took it again under a newer epoch" \
	"$(grep -q "axs applier gave up the fence (epoch $epoch_before)" "$DIR/log/postgres.log" &&
		q -c "SELECT CASE WHEN epoch = $epoch_before + 2 AND fence_held THEN 'ok' ELSE format('epoch %s, fence %s', epoch, fence_held) END FROM axs.applier_status" ||
		echo "no 'gave up the fence' in the server log")"
check "every id is logged exactly once" \
	"$(q -c "SELECT CASE WHEN count(*) = $EVENTS AND count(DISTINCT id) = $EVENTS THEN 'ok' ELSE format('%s rows, %s ids', count(*), count(DISTINCT id)) END FROM axs.event_log")"
check "balances are the sums of the deposits (computed here, not by axs)" \
	"$(q -c "WITH expected AS (SELECT g % 50 + 1 AS account, sum(g) AS total FROM generate_series(1, $EVENTS) AS g GROUP BY 1)
	  SELECT CASE WHEN count(*) = 50 AND bool_and(b.available = e.total) THEN 'ok' ELSE count(*) || ' accounts, some differ' END
	  FROM expected AS e JOIN axs.balances AS b ON b.account = e.account")"
ledger_check_verify
ledger_finish
