#!/usr/bin/env bash
#
# bench/applier/run.sh
#	The applier benchmark: pre-fill axs.inbox with the generated events,
#	time the applier draining it, and time two baselines on the same events
#	(one transaction per event through axs.apply; the client-side AXS
#	technique).  Prints table rows "method|events|seconds|events/s" on
#	stdout (bench/run.sh formats them) and notes on stderr.
#
# It owns its scratch cluster .scratch/bench_applier and stops it on exit.
# fsync and synchronous_commit stay on (scripts/cluster.sh defaults).

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd -P)
HERE=$TOP/bench/applier
export PATH=/usr/lib/postgresql/15/bin:$PATH
EVENTS=${AXS_BENCH_EVENTS:-1000000}
BATCH_SIZES=${AXS_BENCH_BATCH_SIZES:-20000 100000 200000}
BASELINE_EVENTS=${AXS_BENCH_BASELINE_EVENTS:-20000}
AXS_EVENTS=${AXS_BENCH_AXS_EVENTS:-200000}
CLIENTS=${AXS_BENCH_CLIENTS:-16}
REPEATS=${AXS_BENCH_REPEATS:-3}
ACCOUNTS=100000
SEED=20260101
DIR=$TOP/.scratch/bench_applier
WORK=$DIR/work

note() { echo "applier bench: $*" >&2; }
row() { printf '%s|%s|%s\n' "$1" "$2" "$3"; }
sql() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

[ "$BASELINE_EVENTS" -le "$EVENTS" ] || BASELINE_EVENTS=$EVENTS
[ "$AXS_EVENTS" -le "$EVENTS" ] || AXS_EVENTS=$EVENTS

trap '"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true' EXIT
"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR"
mkdir -p "$WORK"
"$TOP/scripts/cluster.sh" start "$DIR" >/dev/null 2>&1
# shellcheck disable=SC1091
. "$DIR/env"
# initdb --no-sync left the catalog files dirty; the kernel would write them
# back ~30 s later, in the middle of a run (bench/e2e/run.sh)
sync
chmod 755 "$WORK"

# generate_events and bench_client, built by bench/Makefile
make -s -C "$TOP/bench" applier >&2

note "generating $EVENTS events over $ACCOUNTS accounts (seed $SEED)"
"$HERE/generate_events" "$EVENTS" "$ACCOUNTS" "$SEED" "$WORK/events.jsonl" "$WORK/events.tsv" 2>&1 | sed 's/^/applier bench: /' >&2
head -n "$AXS_EVENTS" "$WORK/events.tsv" >"$WORK/events_axs.tsv"
chmod a+r "$WORK"/*

# A fresh axs: applier off, extension recreated, currencies in the
# generator's order (ids 1..5), inbox filled from bench.inbox_rows.
fresh_axs()
{
	sql -c "ALTER SYSTEM SET axs.applier_enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
	for _ in $(seq 100); do
		[ "$(sql -c "SELECT coalesce(bool_or(fence_held), false) FROM axs.applier_stats()" 2>/dev/null || echo f)" = f ] && break
		sleep 0.1
	done
	sql <<'SQL' >/dev/null
DROP EXTENSION IF EXISTS axs CASCADE;
CREATE EXTENSION axs;
SELECT axs.create_currency(code, CASE code WHEN 'USDT' THEN 6 ELSE 8 END)
FROM unnest(ARRAY['BTC', 'ETH', 'SOL', 'XRP', 'USDT']) WITH ORDINALITY AS c(code, n) ORDER BY n;
SQL
}

note "staging the JSON events and encoding them once through axs.submit_many"
fresh_axs
sql <<SQL
CREATE SCHEMA bench;
CREATE TABLE bench.events_json (n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event jsonb NOT NULL);
\copy bench.events_json (event) FROM '$WORK/events.jsonl'
DO \$\$
BEGIN
	FOR chunk IN 0 .. ($EVENTS - 1) / 50000 LOOP
		PERFORM axs.submit_many((SELECT jsonb_agg(event ORDER BY n) FROM bench.events_json
								 WHERE n > chunk * 50000 AND n <= (chunk + 1) * 50000));
	END LOOP;
END
\$\$;
CREATE TABLE bench.inbox_rows AS SELECT position, event_id, payload FROM axs.inbox ORDER BY position;
SQL

# Each batch size is drained REPEATS times (a fresh axs each time): this
# machine's speed varies by up to 25% from one minute to the next, so one
# run per size says little.
for batch_size in $BATCH_SIZES; do
	for run in $(seq "$REPEATS"); do
		fresh_axs
		sql -c "INSERT INTO axs.inbox (event_id, payload) SELECT event_id, payload FROM bench.inbox_rows ORDER BY position" \
			-c "ALTER SYSTEM SET axs.applier_batch_size = $batch_size" -c "CHECKPOINT"
		target=$(sql -c "SELECT max(position) FROM axs.inbox")
		seconds=$("$HERE/bench_client" drain "$target")
		# from the durable record of this fresh extension (the applier's
		# shared-memory counters span the extension's re-creations)
		read -r applied rejected duplicates ms < <(sql -F ' ' -c "
			SELECT count(*) FILTER (WHERE reason_code = 0),
				   count(*) FILTER (WHERE reason_code <> 0) + (SELECT count(*) FROM axs.id_conflicts),
				   (SELECT duplicates_total FROM axs.applier_state), (SELECT last_batch_ms FROM axs.applier_stats())
			FROM axs.event_log")
		mismatches=$(sql -c "SELECT count(*) FROM axs.verify()")
		note "applier batch $batch_size run $run: applied $applied, rejected $rejected, duplicates $duplicates, last batch ${ms} ms, axs.verify() rows: $mismatches"
		[ "$mismatches" = 0 ] || { note "axs.verify() is not empty"; exit 1; }
		note "applier batch $batch_size run $run: history $(sql -c "
			SELECT e || ' entries (' || round(e::numeric / a, 2) || ' an applied event) in ' || b || ' blocks, '
				   || h || ' bytes on disk with marks and indexes: ' || round(h::numeric / a, 1) || ' bytes an applied event, '
				   || round(h::numeric / e, 1) || ' an entry (outcome blocks: ' || round(o::numeric / a, 1) || ' an applied event; '
				   || 'outcome stream: ' || round(t::numeric / d, 1) || ' a decided event)'
			FROM (SELECT (SELECT sum(history_seqno) FROM axs.balances) AS e,
						 (SELECT count(*) FROM axs.history_blocks) AS b,
						 pg_total_relation_size('axs.history_blocks') + pg_total_relation_size('axs.history_marks') AS h,
						 pg_total_relation_size('axs.outcome_blocks') AS o,
						 pg_total_relation_size('axs.outcome_stream') AS t,
						 (SELECT decided_seq FROM axs.applier_state) AS d,
						 $applied AS a) AS s")"
		row "applier (batch $batch_size, run $run of $REPEATS)" "$target" "$seconds"
	done
done

note "one transaction per event: pgbench, $CLIENTS clients, first $BASELINE_EVENTS events"
fresh_axs
sql -c "ALTER SYSTEM SET axs.applier_enabled = off" -c "SELECT pg_reload_conf()" \
	-c "CREATE SEQUENCE bench.next_event" >/dev/null
cat >"$WORK/apply_one.sql" <<'SQL'
SELECT axs.apply(e.event) FROM bench.events_json AS e WHERE e.n = (SELECT nextval('bench.next_event'));
SQL
per_client=$((BASELINE_EVENTS / CLIENTS))
start=$(date +%s.%N)
pgbench -n -M prepared -c "$CLIENTS" -j 2 -t "$per_client" -f "$WORK/apply_one.sql" postgres >"$WORK/pgbench.log" 2>&1 ||
	{ cat "$WORK/pgbench.log" >&2; exit 1; }
end=$(date +%s.%N)
note "pgbench: $(grep -E 'tps' "$WORK/pgbench.log" | head -1)"
row "one transaction per event (axs.apply, pgbench -c $CLIENTS, first $((per_client * CLIENTS)) events)" \
	"$((per_client * CLIENTS))" "$(echo "$end - $start" | bc)"

for batch_size in $BATCH_SIZES; do
	sql -f "$HERE/axs_technique.sql" 2>/dev/null
	read -r seconds applied rejected duplicates fallbacks violations < <("$HERE/bench_client" axs-technique \
		"$WORK/events_axs.tsv" "$batch_size" "$HERE/apply_batch.sql")
	note "AXS technique batch $batch_size: applied $applied, rejected $rejected, duplicates $duplicates, batches that fell back to per-event: $fallbacks (of which CHECK violations: $violations)"
	row "client-side AXS technique (batch $batch_size, first $AXS_EVENTS events)" "$AXS_EVENTS" "$seconds"
done
