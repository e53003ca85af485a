# shellcheck shell=bash
#
# lib_ledger.sh
#	Shared helpers of the ledger and applier end-to-end scripts
#	(tests/e2e/10_concurrency.sh and 20, 21, 22_applier_*.sh): the scratch
#	cluster's life (start from scratch, stop in the EXIT trap), psql, the
#	check/report helpers, the deterministic workload e2e_events with its
#	reference database, pgbench runs, and the ledger consistency checks those
#	scripts share.  Sourced, not run (not executable, so the e2e runner does
#	not pick it up).
#
# The caller sets TOP and DIR (the cluster directory) before sourcing, and
# AXS_PG_CONF (exported) before ledger_start_cluster if it needs settings.
# Background processes it starts go in submitter_pid and racer_pid, which
# ledger_cleanup kills.

submitter_pid=
racer_pid=

# shellcheck source=tests/e2e/lib_check.sh
. "$TOP/tests/e2e/lib_check.sh"
# shellcheck source=tests/e2e/lib_model.sh
. "$TOP/tests/e2e/lib_model.sh"

# server_log_tail: the last 40 lines of the cluster's server log.
server_log_tail()
{
	echo "--- last lines of $DIR/log/postgres.log"
	tail -n 40 "$DIR/log/postgres.log" 2>/dev/null || true
}

# die MESSAGE...: fail at once, with the end of the server log.
die()
{
	echo "FAIL - $*"
	server_log_tail
	exit 1
}

# ledger_cleanup: the EXIT trap; kills the background processes if any, stops the cluster.
ledger_cleanup()
{
	[ -n "$submitter_pid" ] && kill "$submitter_pid" 2>/dev/null || true
	[ -n "$racer_pid" ] && kill "$racer_pid" 2>/dev/null || true
	"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
}

# ledger_start_cluster [FILE...]: set the EXIT trap, start the cluster in DIR
# from scratch (a new data directory and server log; FILEs removed too) and
# source its env.
# shellcheck disable=SC2120  # arguments are optional
ledger_start_cluster()
{
	trap ledger_cleanup EXIT
	"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
	rm -rf "$DIR/data" "$DIR/log/postgres.log" "$@"
	"$TOP/scripts/cluster.sh" start "$DIR" >/dev/null
	# shellcheck disable=SC1091
	. "$DIR/env"
}

# ledger_finish [COMMAND...]: end of a script; on failed checks print how
# many, run COMMAND (extra diagnostics) and the server log tail, exit 1.
# shellcheck disable=SC2120  # arguments are optional
ledger_finish()
{
	if [ "$failures" -ne 0 ]; then
		echo "# $failures check(s) failed"
		[ $# -eq 0 ] || "$@"
		server_log_tail
		exit 1
	fi
	echo "# all checks passed"
}

# ledger_install_workload: write DIR/workload.sql (currencies USDT and BTC and
# the deterministic stream e2e_events) and install it with the extension in
# database postgres and in a new reference database ref.
ledger_install_workload()
{
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
}

# ledger_submit_events FIRST END [PSQL_ARG...]: queue events FIRST..END of
# e2e_events with one axs.submit_many; prints the last queue position.
ledger_submit_events()
{
	q "${@:3}" -c "SELECT axs.submit_many(jsonb_agg(event ORDER BY n)) FROM e2e_events($1, $2)"
}

# ledger_wait_drained POSITION SECONDS MESSAGE [PSQL_ARG...]: axs.wait until
# the applier has passed POSITION; after SECONDS die with "MESSAGE within
# SECONDS s" and the applier's status.
ledger_wait_drained()
{
	local position=$1 limit=$2 message=$3
	shift 3
	[ "$(q "$@" -c "SELECT axs.wait($position, $((limit * 1000)))")" = t ] ||
		die "$message within $limit s: $(q "$@" -c 'SELECT * FROM axs.applier_status')"
}

# ledger_drain_ref POSITION: start an applier in database ref, wait (120 s at
# most) until it has passed POSITION, then stop it.
ledger_drain_ref()
{
	q -d ref -c 'SELECT axs.start_applier()' >/dev/null
	ledger_wait_drained "$1" 120 "the reference applier did not drain" -d ref
	q -d ref -c "SELECT pg_terminate_backend(pid) FROM axs.applier_status WHERE pid IS NOT NULL" >/dev/null
}

# ledger_check_event_log_ids NOTE: axs.event_log holds exactly one row per
# distinct id of e2e_events(1, EVENTS); NOTE goes in the description.
ledger_check_event_log_ids()
{
	local expected_ids out
	expected_ids=$(q -c "SELECT count(DISTINCT (event ->> 'id')::bigint) FROM e2e_events(1, $EVENTS)")
	out=$(q <<SQL
WITH submitted AS (SELECT DISTINCT (event ->> 'id')::bigint AS id FROM e2e_events(1, $EVENTS))
SELECT 'missing ' || id FROM (SELECT id FROM submitted EXCEPT SELECT id FROM axs.event_log) AS m
UNION ALL
SELECT 'unexpected ' || id FROM (SELECT id FROM axs.event_log EXCEPT SELECT id FROM submitted) AS u
UNION ALL
SELECT 'count ' || count(*) FROM axs.event_log HAVING count(*) <> $expected_ids
LIMIT 20
SQL
	)
	check "axs.event_log has exactly one row per distinct submitted id ($expected_ids$1)" "$( [ -z "$out" ] && echo ok || echo "$out")"
}

# ledger_same EXPECTED ACTUAL: "ok" if the two files are equal, else the
# start of their diff (a check RESULT).
ledger_same()
{
	diff "$1" "$2" | head -n 20 || true
	cmp -s "$1" "$2" && echo ok
}

# ledger_check_same_as_ref: balances and every event's outcome in database
# postgres equal those in ref (kept in DIR/{balances,outcomes}.{postgres,ref}).
ledger_check_same_as_ref()
{
	local sql
	sql="SELECT b.account, c.code, b.available, b.frozen FROM axs.balances b JOIN axs.currencies c ON c.id = b.currency ORDER BY 1, 2"
	q -c "$sql" >"$DIR/balances.postgres"
	q -d ref -c "$sql" >"$DIR/balances.ref"
	check "balances equal the reference ($(wc -l <"$DIR/balances.ref") rows)" \
		"$(ledger_same "$DIR/balances.ref" "$DIR/balances.postgres")"
	sql="SELECT id, reason_code FROM axs.event_log ORDER BY id"
	q -c "$sql" >"$DIR/outcomes.postgres"
	q -d ref -c "$sql" >"$DIR/outcomes.ref"
	check "every event's outcome equals the reference's ($(grep -c '|0$' "$DIR/outcomes.ref") applied, $(grep -vc '|0$' "$DIR/outcomes.ref") rejected)" \
		"$(ledger_same "$DIR/outcomes.ref" "$DIR/outcomes.postgres")"
}

# ledger_check_no_pending: no event left pending.
ledger_check_no_pending()
{
	check "no event pending" "$(q -c "SELECT CASE WHEN count(*) = 0 THEN 'ok' ELSE count(*) || ' pending' END FROM axs.events WHERE status = 'pending'")"
}

# ledger_check_verify: axs.verify() finds nothing.
ledger_check_verify()
{
	check "axs.verify() is empty" "$(out=$(q -c 'SELECT * FROM axs.verify() LIMIT 20'); [ -z "$out" ] && echo ok || echo "$out")"
}

# ledger_check_no_negative: no negative available or frozen balance.
ledger_check_no_negative()
{
	check "no negative balance" "$(out=$(q -c 'SELECT * FROM axs.balances WHERE available < 0 OR frozen < 0 LIMIT 20'); [ -z "$out" ] && echo ok || echo "$out")"
}

# ledger_check_totals: per currency, what accounts hold equals applied
# deposits minus applied withdrawals.
ledger_check_totals()
{
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
}

# ledger_check_server_log DESCRIPTION PATTERN EXPECTED: no line of the server
# log matches the ERE PATTERN, apart from those containing EXPECTED.  A
# missing or empty log fails: it would hide every error.
ledger_check_server_log()
{
	local log=$DIR/log/postgres.log
	if [ ! -s "$log" ] || ! grep -q 'database system is ready to accept connections' "$log"; then
		check "$1" "no server log to read: $log is missing, empty or not the server's"
		return
	fi
	check "$1" \
		"$(out=$(grep -E "$2" "$log" | grep -v "$3" | head -n 20 || true); [ -z "$out" ] && echo ok || echo "$out")"
}

# ledger_pgbench CLIENTS DURATION: run pgbench with DIR/workload.sql (2
# threads) on database postgres; sets pgbench_rc and pgbench_start, output in
# DIR/pgbench.out and DIR/pgbench.err.
ledger_pgbench()
{
	pgbench_start=$SECONDS
	pgbench_rc=0
	pgbench -n -c "$1" -j 2 -T "$2" -f "$DIR/workload.sql" postgres \
		>"$DIR/pgbench.out" 2>"$DIR/pgbench.err" || pgbench_rc=$?
}

# ledger_check_pgbench DESCRIPTION: report the pgbench run (time since
# pgbench_start, transactions, tps) and check it had no failed or aborted
# client and no error.
ledger_check_pgbench()
{
	local result=ok
	echo "# pgbench finished in $((SECONDS - pgbench_start)) s (exit $pgbench_rc)"
	grep -E '^(number of transactions actually processed|number of failed transactions|tps)' "$DIR/pgbench.out" | sed 's/^/#   /' || true
	# The counts must be there to be read: a pgbench that printed none ran nothing.
	if [ "$pgbench_rc" -ne 0 ] || grep -qiE 'error|abort|deadlock' "$DIR/pgbench.err" ||
		! grep -qE '^number of transactions actually processed: [1-9]' "$DIR/pgbench.out" ||
		! grep -qE '^number of failed transactions: 0 ' "$DIR/pgbench.out"; then
		result="pgbench exit $pgbench_rc"$'\n'"$(head -n 20 "$DIR/pgbench.err")"$'\n'"$(cat "$DIR/pgbench.out")"
	fi
	check "$1" "$result"
}
