#!/usr/bin/env bash
#
# 24_hostile_sessions.sh
#	No role outside axs can stall ingest or the applier, and no session can
#	hold the ledger still for long:
#	- a login role holding the old inbox append key, pg_advisory_lock(6387827, 2),
#	  blocks no axs.submit;
#	- a login role holding the applier fence, pg_advisory_lock(6387827, 1),
#	  is shown in axs.applier_status, warned about, and terminated after
#	  axs.applier_fence_timeout_ms, with the reason in its own error;
#	- a synchronous caller idle in its transaction keeps a batch out only
#	  until axs.applier_block_timeout_ms: meanwhile synchronous calls on other
#	  accounts go through, axs.applier_status shows blocked_by, then the
#	  session is terminated with the reason in its error; a caller whose
#	  statement runs on is cancelled instead; a prepared transaction, which
#	  has no session to end, is named in the server log.
#
# It owns the cluster .scratch/e2e_hostile_sessions.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=$TOP/.scratch/e2e_hostile_sessions
# shellcheck source=tests/e2e/lib_ledger.sh
. "$TOP/tests/e2e/lib_ledger.sh"

export AXS_PG_CONF="axs.applier_fence_timeout_ms = 2000
axs.applier_block_timeout_ms = 2000"
holders=()
hostile_cleanup()
{
	touch "$DIR"/release-{0..9}
	for pid in "${holders[@]}"; do kill "$pid" 2>/dev/null || true; done
	ledger_cleanup
}
ledger_start_cluster
trap hostile_cleanup EXIT

q -c 'CREATE EXTENSION axs' -c "SELECT axs.create_currency('USDT', 6)" \
  -c 'CREATE ROLE intruder LOGIN' -c 'CREATE ROLE app LOGIN IN ROLE axs_app' >/dev/null
wait_for 10 "SELECT fence_held FROM axs.applier_status" || die "no applier took the fence"

# hold ROLE SQL...: run statements as ROLE in a session that then stays
# open (idle) until release is called; then it sends one more statement, so
# that psql reports how the session ended.  Output in holder_log.
hold()
{
	local role=$1 number=${#holders[@]}; shift
	holder_log=$DIR/holder-$number.log
	holder_release=$DIR/release-$number
	hold_session "$holder_release" "$holder_log" -U "$role" -v ON_ERROR_STOP=0 -- "$@"
	holders+=("$HELD_PID")
}

# release: let the last session held end, and wait for it.
release()
{
	touch "$holder_release"
	wait "${holders[-1]}" 2>/dev/null || true
}

# backend_of ROLE: the pid of ROLE's one session.
backend_of() { q -c "SELECT pid FROM pg_stat_activity WHERE usename = '$1' ORDER BY backend_start DESC LIMIT 1"; }

echo "# 1. the inbox append lock is no advisory key: a role holding (6387827, 2) blocks no submit"
hold intruder 'SELECT pg_advisory_lock(6387827, 2);'
wait_for 10 "SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 2 AND objsubid = 2 AND granted" ||
	die "the intruder did not get its advisory lock"
result=$(psql -X -q -At -U app -c 'SET statement_timeout = 3000' \
	-c "SELECT axs.submit('{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"USDT\",\"amount\":100}') > 0" 2>&1 || true)
check "axs.submit goes through while another role holds pg_advisory_lock(6387827, 2)" \
	"$([ "$result" = t ] && echo ok || echo "submit: $result")"
release

echo "# 2. a session holding the applier fence is shown, warned about and terminated"
q -c 'ALTER SYSTEM SET axs.applier_enabled = off' -c 'SELECT pg_reload_conf()' >/dev/null
wait_for 10 "SELECT NOT fence_held FROM axs.applier_status" || die "the applier kept the fence"
hold intruder 'SELECT pg_advisory_lock(6387827, 1);'
wait_for 10 "SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 1 AND objsubid = 2 AND granted" ||
	die "the intruder did not get the fence"
intruder_pid=$(backend_of intruder)
fence_log=$holder_log
q -c "SELECT axs.submit('{\"id\":2,\"kind\":\"deposit\",\"account\":1,\"currency\":\"USDT\",\"amount\":5}')" >/dev/null
q -c 'ALTER SYSTEM RESET axs.applier_enabled' -c 'SELECT pg_reload_conf()' >/dev/null
check "axs.applier_status shows the fence intruder (pid $intruder_pid)" \
	"$(wait_for 10 "SELECT fence_intruder = $intruder_pid AND fence_intruder_since IS NOT NULL FROM axs.applier_status" &&
		echo ok || q -c 'SELECT * FROM axs.applier_status')"
check "the intruder is terminated and an applier takes the fence" \
	"$(wait_for 20 "SELECT fence_held AND fence_intruder IS NULL AND NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $intruder_pid) FROM axs.applier_status" &&
		echo ok || q -c 'SELECT * FROM axs.applier_status')"
check "events queued meanwhile are applied" \
	"$(wait_for 10 "SELECT (axs.event_status(2)).status = 'applied'" && echo ok || q -c 'SELECT * FROM axs.event_status(2)')"
check "the server log names the intruder's pid and role" \
	"$(grep -q "applier fence is held by session $intruder_pid (role \"intruder\")" "$DIR/log/postgres.log" && echo ok || echo "no WARNING in the log")"
release
check "the intruder's own error says why it was ended" \
	"$(grep -q 'held the applier fence' "$fence_log" && echo ok || cat "$fence_log")"

echo "# 3. a synchronous caller idle in its transaction blocks the applier only for a bounded time"
hold app 'BEGIN;' "SELECT (axs.deposit(100, 10, 'USDT', 5)).status;"
wait_for 10 "SELECT state = 'idle in transaction' FROM pg_stat_activity WHERE usename = 'app'" ||
	die "the caller did not stay idle in its transaction"
idle_pid=$(backend_of app)
idle_log=$holder_log
position=$(q -c "SELECT axs.submit('{\"id\":3,\"kind\":\"deposit\",\"account\":11,\"currency\":\"USDT\",\"amount\":7}')")
check "axs.applier_status shows blocked_by = the idle session" \
	"$(wait_for 10 "SELECT blocked_by = $idle_pid AND blocked_since IS NOT NULL FROM axs.applier_status" &&
		echo ok || q -c 'SELECT * FROM axs.applier_status')"
result=$(psql -X -q -At -U app -c 'SET statement_timeout = 1500' \
	-c "SELECT (axs.deposit(101, 12, 'USDT', 9)).status" 2>&1 || true)
check "a synchronous call on another account goes through while the applier is blocked" \
	"$([ "$result" = applied ] && echo ok || echo "deposit: $result")"
check "the idle session is still there at that point (the call did not wait for its end)" \
	"$(q -c "SELECT CASE WHEN count(*) = 1 THEN 'ok' ELSE 'gone already' END FROM pg_stat_activity WHERE pid = $idle_pid")"
check "the idle session is terminated after the block timeout and the batch applied" \
	"$(wait_for 20 "SELECT axs.wait($position, 100) AND NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $idle_pid)" &&
		echo ok || q -c 'SELECT * FROM axs.applier_status')"
check "blocked_by is cleared" "$(wait_for 5 "SELECT blocked_by IS NULL FROM axs.applier_status" && echo ok || echo 'still set')"
check "its uncommitted deposit is gone (id 100 undecided)" \
	"$(q -c "SELECT CASE WHEN axs.decided_reason(100) IS NULL THEN 'ok' ELSE 'decided' END")"
release
check "its own error says the applier terminated it and why" \
	"$(grep -q 'The axs applier terminated this session: it held a lock on axs.balances' "$idle_log" && echo ok || cat "$idle_log")"
check "the server log names the session" \
	"$(grep -q "axs applier terminates session $idle_pid (role \"app\", idle in transaction)" "$DIR/log/postgres.log" && echo ok || echo 'no WARNING')"

echo "# 4. a caller whose statement runs on while it blocks the applier is cancelled"
hold app 'BEGIN;' "SELECT (axs.deposit(102, 13, 'USDT', 5)).status;" 'SELECT pg_sleep(60);'
wait_for 10 "SELECT state = 'active' AND query LIKE '%pg_sleep%' FROM pg_stat_activity WHERE usename = 'app'" ||
	die "the caller did not start its long statement"
busy_pid=$(backend_of app)
busy_log=$holder_log
position=$(q -c "SELECT axs.submit('{\"id\":4,\"kind\":\"deposit\",\"account\":14,\"currency\":\"USDT\",\"amount\":7}')")
check "the long statement is cancelled and the batch applied" \
	"$(wait_for 20 "SELECT axs.wait($position, 100)" && echo ok || q -c 'SELECT * FROM axs.applier_status')"
check "its error says the applier cancelled it and why" \
	"$(grep -q 'The axs applier cancelled the statement of this session' "$busy_log" && echo ok || cat "$busy_log")"
check "the session itself lives on (cancelled, not terminated)" \
	"$(q -c "SELECT CASE WHEN count(*) = 1 THEN 'ok' ELSE 'terminated' END FROM pg_stat_activity WHERE pid = $busy_pid")"
release

echo "# 5. a prepared transaction that holds the lock has no session to end: the applier names it"
q -c 'BEGIN' -c "SELECT axs.deposit(103, 15, 'USDT', 5)" -c "PREPARE TRANSACTION 'regress_blocker'" >/dev/null
position=$(q -c "SELECT axs.submit('{\"id\":5,\"kind\":\"deposit\",\"account\":16,\"currency\":\"USDT\",\"amount\":7}')")
check "the server log names the prepared transaction after the block timeout" \
	"$(for _ in $(seq 100); do grep -q 'axs applier is blocked by prepared transaction "regress_blocker"' "$DIR/log/postgres.log" && break; sleep 0.1; done
	   grep -q 'axs applier is blocked by prepared transaction "regress_blocker"' "$DIR/log/postgres.log" && echo ok || echo 'no WARNING')"
q -c "ROLLBACK PREPARED 'regress_blocker'" >/dev/null
check "once it is rolled back, the batch is applied" \
	"$(wait_for 10 "SELECT axs.wait($position, 100)" && echo ok || q -c 'SELECT * FROM axs.applier_status')"

ledger_check_verify
ledger_finish
