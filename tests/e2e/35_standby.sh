#!/usr/bin/env bash
#
# 35_standby.sh
#	The ledger on a streaming-replication standby, as a DBA runs one:
#	  a. a hot standby made with pg_basebackup -R while the primary applies
#	     events, then more events (queued and synchronous, a credit line)
#	     after it started;
#	  b. once it has replayed the primary's WAL: the same balances, outcomes
#	     (axs.event_status), history of every balance (axs.history paged
#	     with axs.history_after) and axs.balance_at as the primary, and
#	     axs.verify() empty; no applier acts there (no fence in recovery)
#	     and every write is refused read-only (25006);
#	  c. failover: the primary stops, the standby is promoted, its applier
#	     takes the fence and decides the events queued before the failover
#	     that it had not applied, once each, and new ones; verify() empty.
#
# It owns the clusters .scratch/e2e_standby (primary) and
# .scratch/e2e_standby_replica (standby).

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=$TOP/.scratch/e2e_standby
REPLICA=$TOP/.scratch/e2e_standby_replica
# shellcheck source=tests/e2e/lib_ledger.sh
. "$TOP/tests/e2e/lib_ledger.sh"

ledger_start_cluster
trap '"$TOP/scripts/cluster.sh" stop "$REPLICA" >/dev/null 2>&1 || true; ledger_cleanup' EXIT
"$TOP/scripts/cluster.sh" stop "$REPLICA" >/dev/null 2>&1 || true
rm -rf "$REPLICA"
ledger_install_workload
wait_for 10 "SELECT fence_held FROM axs.applier_status" || die "no applier took the fence"
# on the replica: rq ARGS... is q there
rq() { PGHOST=$REPLICA PGPORT=$replica_port q "$@"; }

echo "# a. a standby from pg_basebackup -R while the primary works"
position=$(ledger_submit_events 1 3000)
q -c "SELECT axs.deposit(900001, 7, 'USDT', 5000)" >/dev/null
install -d -o postgres -g postgres -m 755 "$REPLICA"
install -d -o postgres -g postgres -m 700 "$REPLICA/data"
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_basebackup -h "$PGHOST" -p "$PGPORT" -U postgres \
	-D "$REPLICA/data" -R -X stream -c fast >"$DIR/basebackup.log" 2>&1 || die "pg_basebackup: $(cat "$DIR/basebackup.log")"
replica_port=$("$TOP/scripts/cluster.sh" start "$REPLICA")
check "the standby is in recovery" "$([ "$(rq -c 'SELECT pg_is_in_recovery()')" = t ] && echo ok || echo 'not in recovery')"
ledger_wait_drained "$position" 60 "the primary's applier did not decide events 1..3000"
position=$(ledger_submit_events 3001 6000)
q -c "SELECT axs.set_credit_limit(8, 'USDT', 100)" -c "SELECT axs.withdraw(900002, 8, 'USDT', 50)" \
	-c "SELECT axs.transfer(900003, 7, 9, 'USDT', 1234)" >/dev/null
ledger_wait_drained "$position" 60 "the primary's applier did not decide events 3001..6000"

echo "# b. the standby reads what the primary reads"
lsn=$(q -c 'SELECT pg_current_wal_lsn()')
PGHOST=$REPLICA PGPORT=$replica_port wait_for 60 "SELECT pg_last_wal_replay_lsn() >= '$lsn'" || die "the standby did not replay up to $lsn"
for what in balances outcomes history at; do
	case $what in
		balances) sql="SELECT account, currency, available, frozen, history_seqno FROM axs.balances ORDER BY 1, 2" ;;
		outcomes) sql="SELECT e.id, s.status, s.reason FROM (SELECT DISTINCT id FROM axs.event_log) AS e,
		               LATERAL axs.event_status(e.id) AS s ORDER BY 1" ;;
		at) sql="SELECT b.account, c.code, a.available, a.frozen FROM axs.balances AS b
		         JOIN axs.currencies AS c ON c.id = b.currency,
		         LATERAL axs.balance_at(b.account, c.code, (SELECT min(recorded_at) + (max(recorded_at) - min(recorded_at)) / 2
		                                                    FROM axs.event_log)) AS a ORDER BY 1, 2" ;;
	esac
	if [ "$what" = history ]; then
		model_dump_history "$DIR/history.primary"
		PGHOST=$REPLICA PGPORT=$replica_port model_dump_history "$DIR/history.replica"
	else
		q -c "$sql" >"$DIR/$what.primary"
		rq -c "$sql" >"$DIR/$what.replica"
	fi
	check "the standby has the primary's $what ($(wc -l <"$DIR/$what.primary") rows)" \
		"$(ledger_same "$DIR/$what.primary" "$DIR/$what.replica")"
done
check "axs.verify() is empty on the standby" "$(out=$(rq -c 'SELECT * FROM axs.verify() LIMIT 20'); [ -z "$out" ] && echo ok || echo "$out")"
check "no applier holds a fence on the standby" \
	"$(rq -c "SELECT CASE WHEN NOT coalesce(fence_held, false) THEN 'ok' ELSE 'fence held by ' || pid END FROM axs.applier_status")"
refused=$(rq -c "SELECT axs.deposit(900004, 7, 'USDT', 1)" 2>&1 || true)
check "a synchronous event on the standby is refused read-only" \
	"$(echo "$refused" | grep -q 'read-only transaction' && echo ok || echo "$refused")"
refused=$(rq -v VERBOSITY=verbose -c "SELECT axs.submit('{\"id\":900005,\"kind\":\"deposit\",\"account\":7,\"currency\":\"USDT\",\"amount\":1}')" 2>&1 || true)
check "queueing on the standby is refused read-only (25006)" "$(echo "$refused" | grep -q '25006' && echo ok || echo "$refused")"

echo "# c. failover: the primary stops with events queued, the standby is promoted"
q -c 'ALTER SYSTEM SET axs.applier_enabled = off' -c 'SELECT pg_reload_conf()' >/dev/null
wait_for 10 "SELECT NOT coalesce(fence_held, false) FROM axs.applier_status" || die "the primary's applier did not stop"
queued=$(ledger_submit_events 6001 7000)
lsn=$(q -c 'SELECT pg_current_wal_lsn()')
PGHOST=$REPLICA PGPORT=$replica_port wait_for 60 "SELECT pg_last_wal_replay_lsn() >= '$lsn'" || die "the standby did not replay the queued events"
"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$REPLICA/data" promote -w >/dev/null
PGHOST=$REPLICA PGPORT=$replica_port wait_for 30 "SELECT fence_held FROM axs.applier_status" || die "no applier took the fence on the promoted standby"
rq -c 'ALTER SYSTEM RESET axs.applier_enabled' -c 'SELECT pg_reload_conf()' >/dev/null
PGHOST=$REPLICA PGPORT=$replica_port ledger_wait_drained "$queued" 60 "the promoted standby's applier did not decide the queued events"
position=$(PGHOST=$REPLICA PGPORT=$replica_port ledger_submit_events 7001 8000)
PGHOST=$REPLICA PGPORT=$replica_port ledger_wait_drained "$position" 60 "the promoted standby's applier did not decide new events"
rq -c "SELECT axs.deposit(900006, 7, 'USDT', 1)" >/dev/null
check "the promoted standby decided every event once (ids of events 1..8000 and 4 synchronous ones, none twice)" \
	"$(rq -c "SELECT CASE WHEN count(*) = count(DISTINCT id) AND count(*) = (SELECT count(DISTINCT (e.event->>'id')::bigint)
	                                                                             FROM e2e_events(1, 8000) AS e) + 4
	                   THEN 'ok' ELSE count(*) || ' logged, ' || count(DISTINCT id) || ' distinct' END FROM axs.event_log")"
PGHOST=$REPLICA PGPORT=$replica_port ledger_check_verify
ledger_finish
