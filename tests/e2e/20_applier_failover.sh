#!/usr/bin/env bash
#
# 20_applier_failover.sh
#	Two appliers in one database: the preloaded one holds the fence, a
#	second one started with axs.start_applier() waits as a standby.  While a
#	stream of 200k events (with re-sent and reused ids) is being submitted,
#	the active applier is terminated (pg_terminate_backend): the standby must
#	take the fence within two seconds; later the new active applier is killed
#	with SIGKILL: the postmaster restarts every backend and the preloaded
#	applier must come back and resume.  In the end every submitted id is
#	decided exactly once, axs.verify() is empty, and balances and outcomes
#	equal those of a reference database that drained the same stream
#	without any failure.
#
# It owns the cluster .scratch/e2e_applier_failover and nothing else.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=$TOP/.scratch/e2e_applier_failover
EVENTS=${AXS_E2E_FAILOVER_EVENTS:-200000}
CHUNK=2000
CHUNKS=$(((EVENTS + CHUNK - 1) / CHUNK))
FENCE_LOCK="locktype = 'advisory' AND classid = 6387827 AND objid = 1 AND objsubid = 2 AND granted"
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
		sleep 0.05
	done
	return 1
}

now_ms() { date +%s%3N; }

"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR/data" "$DIR/log/postgres.log" "$DIR/submitted"
export AXS_PG_CONF="axs.applier_batch_size = 5000"
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
# fence lock: objsubid 2 is how PostgreSQL marks a two-key advisory lock
q -c "SELECT count(*) FROM pg_locks WHERE $FENCE_LOCK" >/dev/null

wait_for 10 "SELECT pid IS NOT NULL AND fence_held FROM axs.applier_status" ||
	die "the preloaded applier did not take the fence within 10 s"
first_pid=$(q -c 'SELECT pid FROM axs.applier_status')
second_pid=$(q -c 'SELECT axs.start_applier()')
echo "# preloaded applier pid $first_pid holds the fence; started a second applier, pid $second_pid"
wait_for 5 "SELECT standbys >= 1 FROM axs.applier_status" ||
	check "the second applier waits as a standby" "$(q -c 'SELECT * FROM axs.applier_status')"
check "the second applier waits: standbys >= 1, the fence still with $first_pid, one fence lock in pg_locks" "$(q -c "
	SELECT CASE WHEN s.standbys >= 1 AND s.pid = $first_pid AND l.holders = ARRAY[$first_pid]
				 AND EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $second_pid)
				THEN 'ok' ELSE format('standbys %s, status pid %s, lock holders %s', s.standbys, s.pid, l.holders) END
	  FROM axs.applier_status AS s,
		   (SELECT array_agg(pid) AS holders FROM pg_locks WHERE $FENCE_LOCK) AS l")"
epoch_start=$(q -c 'SELECT epoch FROM axs.applier_state')

# The stream: CHUNKS calls of axs.submit_many, in order, each retried until
# it succeeds (a crash restart drops the connection; a chunk that committed
# but looked failed is sent again, which only adds re-sent ids).
submit_stream()
{
	local chunk first end position attempt
	for ((chunk = 0; chunk < CHUNKS; chunk++)); do
		first=$((chunk * CHUNK + 1))
		end=$((first + CHUNK - 1))
		[ "$end" -gt "$EVENTS" ] && end=$EVENTS
		for ((attempt = 1; ; attempt++)); do
			if position=$(q -c "SELECT axs.submit_many(jsonb_agg(event ORDER BY n)) FROM e2e_events($first, $end)" 2>/dev/null); then
				break
			fi
			[ "$attempt" -ge 600 ] && { echo "submitter: chunk $chunk failed 600 times" >&2; exit 1; }
			echo "retry $chunk" >>"$DIR/submitted"
			sleep 0.1
		done
		echo "chunk $chunk $position" >>"$DIR/submitted"
		sleep 0.05
	done
}
chunks_done()
{
	local done
	done=$(grep -c '^chunk' "$DIR/submitted" 2>/dev/null) || true
	echo "${done:-0}"
}

echo "# submitting $EVENTS events in $CHUNKS chunks of $CHUNK"
stream_start=$SECONDS
submit_stream &
submitter_pid=$!

# 1. pg_terminate_backend of the active applier, a quarter into the stream
deadline=$((SECONDS + 60))
until [ "$(chunks_done)" -ge $((CHUNKS / 4)) ]; do
	[ "$SECONDS" -lt "$deadline" ] || die "the submitter made no progress: $(tail -n 3 "$DIR/submitted" 2>/dev/null)"
	sleep 0.05
done
wait_for 10 "SELECT watermark > 0 FROM axs.applier_state" || die "nothing applied 10 s into the stream"
active=$(q -c 'SELECT pid FROM axs.applier_status')
epoch_before=$(q -c 'SELECT epoch FROM axs.applier_state')
echo "# chunk $(chunks_done)/$CHUNKS: pg_terminate_backend($active), the active applier (epoch $epoch_before)"
t0=$(now_ms)
q -c "SELECT pg_terminate_backend($active)" >/dev/null
wait_for 10 "SELECT count(*) = 1 AND min(pid) <> $active AND min(pid) = (SELECT pid FROM axs.applier_status)
			   FROM pg_locks WHERE $FENCE_LOCK" || die "no other applier took the fence within 10 s"
takeover_ms=$(($(now_ms) - t0))
new_active=$(q -c 'SELECT pid FROM axs.applier_status')
epoch_after=$(q -c 'SELECT epoch FROM axs.applier_state')
echo "# pid $new_active holds the fence after $takeover_ms ms (epoch $epoch_after)"
check "the standby ($second_pid) took over within 2 s (took $takeover_ms ms)" \
	"$( [ "$new_active" = "$second_pid" ] && [ "$takeover_ms" -le 2000 ] && echo ok || echo "new holder $new_active after $takeover_ms ms")"
check "the epoch grew ($epoch_before -> $epoch_after)" "$( [ "$epoch_after" -gt "$epoch_before" ] && echo ok || echo no)"
check "the server log says [$new_active] took the fence (epoch $epoch_after)" \
	"$(grep -q "\[$new_active\] .*axs applier took the fence (epoch $epoch_after)" "$DIR/log/postgres.log" && echo ok || grep 'fence' "$DIR/log/postgres.log")"
wait_for 10 "SELECT standbys >= 1 FROM axs.applier_status" ||
	check "the terminated preloaded applier came back as a standby" "$(q -c 'SELECT * FROM axs.applier_status')"
check "exactly one process holds the fence lock" "$(q -c "SELECT CASE WHEN count(*) = 1 THEN 'ok' ELSE string_agg(pid::text, ',') END FROM pg_locks WHERE $FENCE_LOCK")"

# 2. SIGKILL of the active applier, past the middle of the stream
deadline=$((SECONDS + 60))
until [ "$(chunks_done)" -ge $((CHUNKS * 3 / 5)) ]; do
	[ "$SECONDS" -lt "$deadline" ] || die "the submitter made no progress: $(tail -n 3 "$DIR/submitted" 2>/dev/null)"
	sleep 0.05
done
killed=$(q -c 'SELECT pid FROM axs.applier_status')
epoch_before=$(q -c 'SELECT epoch FROM axs.applier_state')
crash_line=$(wc -l <"$DIR/log/postgres.log")
echo "# chunk $(chunks_done)/$CHUNKS: kill -9 $killed, the active applier (epoch $epoch_before)"
t0=$(now_ms)
kill -9 "$killed"
wait_for 60 "SELECT count(*) = 1 AND min(pid) <> $killed AND min(pid) = (SELECT pid FROM axs.applier_status)
			   FROM pg_locks WHERE $FENCE_LOCK" || die "no applier holds the fence 60 s after kill -9"
recovery_ms=$(($(now_ms) - t0))
after_crash=$(q -c 'SELECT pid FROM axs.applier_status')
epoch_after=$(q -c 'SELECT epoch FROM axs.applier_state')
echo "# pid $after_crash holds the fence $recovery_ms ms after the kill (epoch $epoch_after)"
check "the postmaster restarted all backends after the SIGKILL" \
	"$(tail -n +"$crash_line" "$DIR/log/postgres.log" | grep -q "terminated by signal 9: Killed" &&
	   tail -n +"$crash_line" "$DIR/log/postgres.log" | grep -q "all server processes terminated; reinitializing" && echo ok ||
	   tail -n +"$crash_line" "$DIR/log/postgres.log" | head -n 20)"
check "an applier came back and took the fence (epoch $epoch_before -> $epoch_after)" \
	"$( [ "$epoch_after" -gt "$epoch_before" ] &&
		tail -n +"$crash_line" "$DIR/log/postgres.log" | grep -q "\[$after_crash\] .*axs applier took the fence (epoch $epoch_after)" && echo ok ||
		tail -n +"$crash_line" "$DIR/log/postgres.log" | grep fence)"

wait "$submitter_pid" || die "the submitter failed: $(tail -n 5 "$DIR/submitted")"
submitter_pid=
last=$(awk '$1 == "chunk" { p = $3 } END { print p }' "$DIR/submitted")
echo "# stream submitted in $((SECONDS - stream_start)) s ($(grep -c '^retry' "$DIR/submitted" || true) retried calls), last position $last"
start=$SECONDS
[ "$(q -c "SELECT axs.wait($last, 120000)")" = t ] ||
	die "the inbox was not drained within 120 s: $(q -c 'SELECT * FROM axs.applier_status')"
echo "# drained $((SECONDS - start)) s after the stream ended"
q -c "SELECT '# applier: ' || format('pid %s, epoch %s, watermark %s, batches %s, applied %s, rejected %s, duplicate %s', pid, epoch, watermark, batches, events_applied, events_rejected, events_duplicate) FROM axs.applier_status"

echo "# reference: the same stream, submitted once, drained by an applier in database ref"
start=$SECONDS
for ((first = 1; first <= EVENTS; first += 20000)); do
	end=$((first + 19999))
	[ "$end" -gt "$EVENTS" ] && end=$EVENTS
	ref_last=$(q -d ref -c "SELECT axs.submit_many(jsonb_agg(event ORDER BY n)) FROM e2e_events($first, $end)")
done
q -d ref -c 'SELECT axs.start_applier()' >/dev/null
[ "$(q -d ref -c "SELECT axs.wait($ref_last, 120000)")" = t ] ||
	die "the reference applier did not drain within 120 s: $(q -d ref -c 'SELECT * FROM axs.applier_status')"
q -d ref -c "SELECT pg_terminate_backend(pid) FROM axs.applier_status WHERE pid IS NOT NULL" >/dev/null
echo "# reference done in $((SECONDS - start)) s"

check "no event pending" "$(q -c "SELECT CASE WHEN count(*) = 0 THEN 'ok' ELSE count(*) || ' pending' END FROM axs.events WHERE status = 'pending'")"

expected_ids=$(q -c "SELECT count(DISTINCT (event ->> 'id')::bigint) FROM e2e_events(1, $EVENTS)")
check "axs.event_log has exactly one row per distinct submitted id ($expected_ids; re-sent ones once)" "$(out=$(q <<SQL
WITH submitted AS (SELECT DISTINCT (event ->> 'id')::bigint AS id FROM e2e_events(1, $EVENTS))
SELECT 'missing ' || id FROM (SELECT id FROM submitted EXCEPT SELECT id FROM axs.event_log) AS m
UNION ALL
SELECT 'unexpected ' || id FROM (SELECT id FROM axs.event_log EXCEPT SELECT id FROM submitted) AS u
UNION ALL
SELECT 'count ' || count(*) FROM axs.event_log HAVING count(*) <> $expected_ids
LIMIT 20
SQL
); [ -z "$out" ] && echo ok || echo "$out")"

check "axs.id_conflicts holds exactly the reused ids (each at least once)" "$(out=$(q <<SQL
WITH reused AS (SELECT n - 3 AS id FROM generate_series(1, $EVENTS) AS n WHERE n % 5000 = 7)
(SELECT 'missing ' || id FROM reused EXCEPT SELECT 'missing ' || id FROM axs.id_conflicts)
UNION ALL
(SELECT 'unexpected ' || id FROM axs.id_conflicts EXCEPT SELECT 'unexpected ' || id FROM reused)
LIMIT 20
SQL
); [ -z "$out" ] && echo ok || echo "$out")"

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

check "exactly one process holds the fence lock at the end" "$(q -c "SELECT CASE WHEN count(*) = 1 THEN 'ok' ELSE coalesce(string_agg(pid::text, ','), 'none') END FROM pg_locks WHERE $FENCE_LOCK")"

if [ "$failures" -ne 0 ]; then
	echo "# $failures check(s) failed"
	server_log_tail
	exit 1
fi
echo "# all checks passed"
