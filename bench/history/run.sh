#!/usr/bin/env bash
#
# bench/history/run.sh
#	Reading history from a large ledger.  AXS_BENCH_HISTORY_EVENTS events
#	(default 100,000,000: the applier benchmark's 1,000,000 generated
#	events, queued again and again with fresh ids, so that balances and
#	their histories keep growing) are applied by the applier, then each
#	read is timed with pgbench (-T 5, one client) on the busiest balance
#	and on a typical one (the median balance among those with at least
#	2,000 rows):
#	  near the end  axs.history(account, currency, since => the time of a
#	                row 1,000 to 1,255 before the last), max_rows 1,000
#	  middle page   axs.history_after(account, currency, the event of the
#	                middle row, 1,000)
#	  balance_at    axs.balance_at(account, currency, the middle row's time)
#	(row times are read from axs.history_marks).
#	and it prints the ledger's size: events, history rows, bytes on disk
#	per table and per applied event.
#
# About 12 minutes and 16 GB of disk at the default size on this 2-core
# machine; AXS_BENCH_HISTORY_EVENTS=10000000 takes 2 minutes.  Not part of
# "make bench": run it with "make -C bench history".  It owns the scratch
# cluster .scratch/bench_history and stops it on exit.

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd -P)
export PATH=/usr/lib/postgresql/15/bin:$PATH
EVENTS=${AXS_BENCH_HISTORY_EVENTS:-100000000}
ROUND=1000000
DIR=$TOP/.scratch/bench_history
WORK=$DIR/work

note() { echo "history bench: $*" >&2; }
sql() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

trap '"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true' EXIT
"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR"
mkdir -p "$WORK"
"$TOP/scripts/cluster.sh" start "$DIR" >/dev/null 2>&1
# shellcheck disable=SC1091
. "$DIR/env"
chmod 755 "$WORK"
make -s -C "$TOP/bench" applier >&2

note "generating $ROUND events (the applier benchmark's workload) and queueing them $((EVENTS / ROUND)) times"
"$TOP/bench/applier/generate_events" "$ROUND" 100000 20260101 "$WORK/events.jsonl" "$WORK/events.tsv" >/dev/null 2>&1
chmod a+r "$WORK"/*
sql -c "ALTER SYSTEM SET axs.applier_enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
sql <<SQL
CREATE EXTENSION axs;
SELECT axs.create_currency(code, CASE code WHEN 'USDT' THEN 6 ELSE 8 END)
FROM unnest(ARRAY['BTC', 'ETH', 'SOL', 'XRP', 'USDT']) WITH ORDINALITY AS c(code, n) ORDER BY n;
CREATE SCHEMA bench;
CREATE TABLE bench.events_json (n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event jsonb NOT NULL);
\copy bench.events_json (event) FROM '$WORK/events.jsonl'
SELECT count(axs.submit_many((SELECT jsonb_agg(event ORDER BY n) FROM bench.events_json
							  WHERE n > chunk * 50000 AND n <= (chunk + 1) * 50000)))
FROM generate_series(0, $ROUND / 50000 - 1) AS chunk;
CREATE TABLE bench.round_rows AS SELECT event_id, payload FROM axs.inbox ORDER BY position;
SQL
start=$(date +%s)
for ((round = 0; round < EVENTS / ROUND; round++)); do
	# ids of round k: the generator's (below 10^7) plus k * 10^7
	[ "$round" = 0 ] || sql -c "INSERT INTO axs.inbox (event_id, payload)
		SELECT event_id + $round::bigint * 10000000, payload FROM bench.round_rows" >/dev/null
	target=$(sql -c "SELECT max(position) FROM axs.inbox")
	"$TOP/bench/applier/bench_client" drain "$target" >/dev/null
	[ $(((round + 1) % 10)) != 0 ] || note "$(((round + 1) * ROUND)) events applied ($(($(date +%s) - start)) s)"
done
sql -c "ALTER SYSTEM SET axs.applier_enabled = off" -c "SELECT pg_reload_conf()" -c "VACUUM ANALYZE" >/dev/null

echo "== history bench, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
sql -c "
	SELECT 'ledger: ' || (SELECT decided_total FROM axs.applier_state) || ' events decided, '
		   || (SELECT count(*) FROM axs.event_log WHERE reason_code = 0) || ' applied, '
		   || (SELECT sum(history_seqno) FROM axs.balances) || ' history rows in '
		   || (SELECT count(*) FROM axs.history_blocks) || ' blocks over '
		   || (SELECT count(*) FROM axs.balances) || ' balances'"
sql -c "
	WITH applied AS (SELECT count(*) AS n FROM axs.event_log WHERE reason_code = 0)
	SELECT 'on disk: ' || string_agg(format('%s %s (%s bytes an applied event)', t,
									 pg_size_pretty(pg_total_relation_size(t)),
									 round(pg_total_relation_size(t)::numeric / applied.n, 1)), ', ')
	FROM applied, unnest(ARRAY['axs.history_blocks', 'axs.history_marks', 'axs.event_log',
							   'axs.outcome_blocks', 'axs.balances']::regclass[]) AS t GROUP BY applied.n"

# time_read LABEL SQL: pgbench -T 5 on one client; prints the average latency
time_read()
{
	echo "$2" >"$WORK/read.sql"
	local rows
	rows=$(sql -c "SELECT count(*) FROM ($2) AS r")
	pgbench -n -T 5 -c 1 -f "$WORK/read.sql" postgres >"$WORK/pgbench.log" 2>&1 || { cat "$WORK/pgbench.log" >&2; exit 1; }
	printf '  %-62s %6s rows  %s\n' "$1" "$rows" "$(sed -n 's/^latency average = /average /p' "$WORK/pgbench.log")"
}

# mark_time ACCOUNT CODE SEQNO: when the balance's row SEQNO (a multiple of 256) was decided
mark_time()
{
	sql -c "SELECT m.decided_at FROM axs.history_marks m JOIN axs.currencies c ON c.id = m.currency
			WHERE m.account = $1 AND c.code = '$2' AND m.seqno = $3"
}

# read_balance WHICH ACCOUNT CURRENCY_CODE ROWS (ROWS >= 1,256)
read_balance()
{
	local which=$1 account=$2 code=$3 rows=$4 near_end middle middle_event
	near_end=$(mark_time "$account" "$code" $(((rows - 1000) / 256 * 256)))
	middle=$(mark_time "$account" "$code" $((rows / 2 / 256 * 256)))
	middle_event=$(sql -c "SELECT event_id FROM axs.history($account, '$code', since => '$middle', max_rows => 1)")
	echo "$which: account $account, $code, $rows rows"
	time_read "1,000 rows from a time near the end (axs.history since)" \
		"SELECT * FROM axs.history($account, '$code', since => '$near_end', max_rows => 1000)"
	time_read "a page of 1,000 in the middle (axs.history_after)" \
		"SELECT * FROM axs.history_after($account, '$code', $middle_event, 1000)"
	time_read "axs.balance_at in the middle" \
		"SELECT * FROM axs.balance_at($account, '$code', '$middle')"
}

read -r account code rows < <(sql -F ' ' -c "
	SELECT b.account, c.code, b.history_seqno FROM axs.balances b JOIN axs.currencies c ON c.id = b.currency
	ORDER BY b.history_seqno DESC LIMIT 1")
read_balance "busiest balance" "$account" "$code" "$rows"
read -r account code rows < <(sql -F ' ' -c "
	SELECT b.account, c.code, b.history_seqno FROM axs.balances b JOIN axs.currencies c ON c.id = b.currency
	WHERE b.history_seqno >= 2000 ORDER BY b.history_seqno
	OFFSET (SELECT count(*) / 2 FROM axs.balances WHERE history_seqno >= 2000) LIMIT 1")
read_balance "typical balance" "$account" "$code" "$rows"
