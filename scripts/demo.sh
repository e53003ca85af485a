#!/usr/bin/env bash
#
# demo.sh
#	The axs main job, end to end, on this machine (usually run by
#	"make demo", which installs the packages, builds and installs first):
#
#	  1. a fresh scratch cluster .scratch/demo with the applier preloaded;
#	  2. a short scripted SQL session (scripts/demo.sql, database axs_demo):
#	     deposits, an order freeze, a trade with fees, an unfreeze, a
#	     rejected overdraft, axs.verify();
#	  3. the pipeline, in database postgres (the applier's axs.database):
#	       axs-loadgen --> axs-broker (topic axs.events) --> axs-feeder
#	         --> axs.inbox --> applier --> axs.balances / axs.event_log
#	         --> axs.outcome_stream --> axs-feeder --> axs-broker (axs.outcomes)
#	     CREATE EXTENSION axs, the loadgen's currencies, AXS_DEMO_EVENTS
#	     events produced at AXS_DEMO_RATE per second (with some malformed
#	     messages and re-sent duplicates), a progress line every 2 s;
#	  4. a summary: elapsed time, end-to-end events/s, applied / rejected /
#	     duplicate / dead-lettered counts, the rejections the loadgen
#	     intended (its overdrafts) against the others, axs.verify()
#	     ("verify: consistent"), the balances of the 5 most active
#	     accounts, the busiest balance's last history rows and its
#	     value halfway through the run, and the outcome stream: decisions
#	     numbered and published, the produce-to-outcome latency (the
#	     feeder's summary) and the last messages of one partition;
#	  5. the ledger's metrics as Prometheus scrapes them from
#	     prometheus-postgres-exporter (scripts/exporter.sh, stopped on exit).
#
#	Keyed by market (the default), an order's events stay in order in one
#	partition: the demo fails if a trade or an unfreeze is rejected
#	insufficient_frozen or if the unintended rejections reach 0.1% of the
#	events.  Keyed by account, it shows the ordering artefacts and says why.
#
#	Everything it started is stopped in the EXIT trap: the loadgen, the
#	feeder (SIGTERM), the broker, the exporter, the cluster.  Exits non-zero if anything
#	does not add up.
#
# Environment:
#	AXS_DEMO_EVENTS      events to produce (default 300000)
#	AXS_DEMO_RATE        producer rate, events/s (default 50000).  The broker
#	                     keeps only ~5 MiB per partition, so the producer is
#	                     throttled and the topic has AXS_DEMO_PARTITIONS
#	                     partitions (default 16: 300k events are ~3 MiB per
#	                     partition, within retention even if the feeder lags)
#	AXS_DEMO_PARTITIONS  partitions of the topic (default 16)
#	AXS_DEMO_KEY         market (default) or account: axs-loadgen --key

set -euo pipefail

usage()
{
	cat <<'USAGE'
Usage: scripts/demo.sh [--keep]

Runs the axs main job on the scratch cluster .scratch/demo: a scripted SQL
session, then axs-loadgen -> axs-broker -> axs-feeder -> axs.inbox -> applier
for AXS_DEMO_EVENTS events (default 300000) at AXS_DEMO_RATE events/s
(default 50000), with progress every 2 s and a summary.  Needs the built
extension (installed) and feeder programs: run it through "make demo".

  --keep   leave the cluster running afterwards (broker and feeder are
           stopped); reach it with scripts/cluster.sh psql .scratch/demo
           and stop it with scripts/cluster.sh stop .scratch/demo
USAGE
}

keep=0
case "${1:-}" in
	-h|--help) usage; exit 0 ;;
	--keep) keep=1 ;;
	"") ;;
	*) usage >&2; exit 2 ;;
esac

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
DIR=$TOP/.scratch/demo
FEEDER_BIN=$TOP/feeder
TOOLS_BIN=$TOP/tools
EVENTS=${AXS_DEMO_EVENTS:-300000}
RATE=${AXS_DEMO_RATE:-50000}
PARTITIONS=${AXS_DEMO_PARTITIONS:-16}
KEY=${AXS_DEMO_KEY:-market}
TOPIC=axs.events
OUTCOMES=axs.outcomes
PSQL=(/usr/lib/postgresql/15/bin/psql -X -v ON_ERROR_STOP=1)
q() { "${PSQL[@]}" -q -At "$@"; }

case "$KEY" in
	market|account) ;;
	*) echo "demo: AXS_DEMO_KEY must be market or account, not \"$KEY\"" >&2; exit 2 ;;
esac
for program in "$TOOLS_BIN/axs-broker" "$FEEDER_BIN/axs-feeder" "$TOOLS_BIN/axs-loadgen"; do
	[ -x "$program" ] || { echo "demo: $program is missing; run \"make demo\"" >&2; exit 1; }
done

BROKER_PID= FEEDER_PID= LOADGEN_PID=
cleanup()
{
	local status=$?
	[ -n "$LOADGEN_PID" ] && kill -TERM "$LOADGEN_PID" 2>/dev/null && wait "$LOADGEN_PID" 2>/dev/null
	if [ -n "$FEEDER_PID" ] && kill -TERM "$FEEDER_PID" 2>/dev/null; then
		wait "$FEEDER_PID" 2>/dev/null || echo "demo: axs-feeder exited with status $? (log: $DIR/feeder.log)" >&2
	fi
	[ -n "$BROKER_PID" ] && kill -TERM "$BROKER_PID" 2>/dev/null && wait "$BROKER_PID" 2>/dev/null
	if [ "$keep" = 0 ]; then
		"$TOP/scripts/exporter.sh" stop "$DIR" || true
		"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
	fi
	[ "$status" = 0 ] || echo "demo: FAILED (logs in $DIR: log/postgres.log, feeder.log, loadgen.log, broker.log)" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "demo: FAILED: $*" >&2; exit 1; }
now_ms() { local us=${EPOCHREALTIME/[.,]/}; echo $((us / 1000)); }
# seconds MS: milliseconds as seconds with one decimal
seconds() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }

# --- 1. a fresh cluster ------------------------------------------------------
echo "== cluster: fresh scratch cluster $DIR (axs preloaded, the applier serves database postgres)"
"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR"
"$TOP/scripts/cluster.sh" start "$DIR" >/dev/null
# shellcheck disable=SC1091
. "$DIR/env"

# --- 2. the scripted SQL session ----------------------------------------------
echo
echo "== part 1: a scripted SQL session with the synchronous API (scripts/demo.sql, database axs_demo)"
q -c 'CREATE DATABASE axs_demo'
"${PSQL[@]}" -d axs_demo -f "$TOP/scripts/demo.sql" || fail "the scripted session (scripts/demo.sql)"

# --- 3. the pipeline ----------------------------------------------------------
echo
echo "== part 2: the pipeline: axs-loadgen -> axs-broker -> axs-feeder -> axs.inbox -> applier"
q -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION axs'
# The loadgen's default currencies (tools/workload.c): USDT is the quote.
q -c "SELECT axs.create_currency(code, scale) FROM (VALUES ('USDT', 6), ('BTC', 8), ('ETH', 8), ('SOL', 8), ('XRP', 6)) AS c(code, scale)" >/dev/null
echo "database postgres: CREATE EXTENSION axs; currencies $(q -c "SELECT string_agg(code || ' (scale ' || scale || ')', ', ' ORDER BY id) FROM axs.currencies")"

"$TOOLS_BIN/axs-broker" --topic "$TOPIC:$PARTITIONS" --topic "$OUTCOMES:$PARTITIONS" --address-file "$DIR/broker.addr" >/dev/null 2>"$DIR/broker.log" &
BROKER_PID=$!
for _ in $(seq 50); do [ -s "$DIR/broker.addr" ] && break; sleep 0.1; done
BROKER=$(cat "$DIR/broker.addr" 2>/dev/null) || fail "axs-broker did not start (see $DIR/broker.log)"
echo "axs-broker (pid $BROKER_PID) at $BROKER, topics $TOPIC and $OUTCOMES with $PARTITIONS partitions each"

FEEDER_METRICS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$FEEDER_BIN/axs-feeder" --brokers "$BROKER" --topic "$TOPIC" --group axs-demo --outcomes-topic "$OUTCOMES" \
	--db "host=$PGHOST port=$PGPORT user=postgres dbname=postgres" --metrics-port "$FEEDER_METRICS_PORT" \
	-X session.timeout.ms=6000 -X heartbeat.interval.ms=500 >"$DIR/feeder.log" 2>&1 &
FEEDER_PID=$!
for _ in $(seq 300); do grep -q "assigned $TOPIC" "$DIR/feeder.log" && break; sleep 0.1; done
grep -q "assigned $TOPIC" "$DIR/feeder.log" || fail "axs-feeder got no partitions within 30 s (see $DIR/feeder.log)"
echo "axs-feeder (pid $FEEDER_PID) consuming $TOPIC as group axs-demo, publishing every decision to $OUTCOMES"

echo "axs-loadgen: $EVENTS events at $RATE/s (0.5% malformed, 1% re-sent duplicates), keyed by $KEY"
echo
started=$(now_ms)
"$TOOLS_BIN/axs-loadgen" --brokers "$BROKER" --topic "$TOPIC" --events "$EVENTS" --rate "$RATE" \
	--malformed 0.5 --duplicates 1 --key "$KEY" --intended "$DIR/intended.ids" \
	-X linger.ms=5 2>"$DIR/loadgen.log" &
LOADGEN_PID=$!

# Inbox rows are counted as ingested minus dead letters: the applier
# truncates inbox segments (2^18 positions) once they are applied.
status_sql="SELECT (SELECT coalesce(sum(next_offset), 0) FROM axs.feeder_offsets),
	(SELECT coalesce(sum(next_offset), 0) FROM axs.feeder_offsets) - (SELECT count(*) FROM axs.dead_letters), s.events_applied, s.events_rejected, s.events_duplicate,
	s.queue_depth, (SELECT count(*) FROM axs.dead_letters)
	FROM axs.applier_status AS s"
progress()
{
	local produced ingested inbox applied rejected duplicate depth dead
	produced=$(sed -n 's/.*produced \([0-9]*\)\/.*/\1/p' "$DIR/loadgen.log" | tail -n 1)
	IFS='|' read -r ingested inbox applied rejected duplicate depth dead < <(q -c "$status_sql")
	printf '%6ss  produced %7s | ingested %7s (in inbox %7s, dead letters %4s) | applied %7s, rejected %6s, duplicate %5s | queue depth %6s\n' \
		"$(seconds $(($(now_ms) - started)))" "${produced:-0}" "$ingested" "$inbox" "$dead" \
		"$applied" "$rejected" "$duplicate" "$depth"
	[ "$ingested" = "$EVENTS" ] && [ "$depth" = 0 ]
}

loadgen_status=
while true; do
	sleep 2
	if [ -z "$loadgen_status" ] && ! kill -0 "$LOADGEN_PID" 2>/dev/null; then
		loadgen_status=0
		wait "$LOADGEN_PID" || loadgen_status=$?
		LOADGEN_PID=
		[ "$loadgen_status" = 0 ] || fail "axs-loadgen exited with status $loadgen_status (see $DIR/loadgen.log)"
	fi
	kill -0 "$FEEDER_PID" 2>/dev/null || fail "axs-feeder stopped: $(tail -n 3 "$DIR/feeder.log")"
	if progress && [ -n "$loadgen_status" ]; then
		break
	fi
done
# Everything is in: the offsets cover every message and the applier drained.
last=$(q -c 'SELECT coalesce(max(position), 0) FROM axs.inbox')
[ "$(q -c "SELECT axs.wait($last, 60000)")" = t ] || fail "the applier did not reach position $last"
# From the first event's Kafka CreateTime (its queued_at) to the applier's
# decision on the last one, as bench/e2e/run.sh measures: the loop above
# looks only every 2 s.
elapsed_ms=$(q -c "SELECT greatest(1, round(extract(epoch FROM max(recorded_at) - min(queued_at)) * 1000))::bigint
	FROM axs.event_log WHERE queue_position IS NOT NULL")
# The outcome stream catches up: every decision published.
for _ in $(seq 600); do
	[ "$(q -c "SELECT coalesce((SELECT published_seq FROM axs.outcome_publishers WHERE topic = '$OUTCOMES'), -1) = decided_seq FROM axs.applier_state")" = t ] && break
	sleep 0.1
done
outcome_latency=$(curl -sf "http://127.0.0.1:$FEEDER_METRICS_PORT/metrics" |
	awk '$1 ~ /^axs_feeder_outcome_latency_seconds\{quantile="0.(5|99)"\}/ { printf "%s%.1f ms", sep, $2 * 1000; sep = " / " }')

kill -TERM "$FEEDER_PID"
feeder_status=0
wait "$FEEDER_PID" || feeder_status=$?
FEEDER_PID=
[ "$feeder_status" = 0 ] || fail "axs-feeder exited with status $feeder_status on SIGTERM"

# --- 4. the summary -------------------------------------------------------------
echo
echo "== summary"
echo "loadgen  $(sed -n 's/.*summary: //p' "$DIR/loadgen.log")"
echo "elapsed  $(seconds "$elapsed_ms") s from the first produced event to the last one applied"
echo "rate     $((EVENTS * 1000 / elapsed_ms)) events/s end to end (Kafka -> feeder -> inbox -> applier -> balances)"
IFS='|' read -r applied rejected conflicts duplicates dead ingested < <(q -c "
	SELECT count(*) FILTER (WHERE reason_code = 0), count(*) FILTER (WHERE reason_code <> 0),
		   (SELECT count(*) FROM axs.id_conflicts), (SELECT events_duplicate FROM axs.applier_status),
		   (SELECT count(*) FROM axs.dead_letters), (SELECT sum(next_offset) FROM axs.feeder_offsets)
	  FROM axs.event_log")
echo "events   $applied applied, $rejected rejected, $duplicates duplicates (re-sent ids), $conflicts id conflicts, $dead dead-lettered"
q -c "SELECT '         rejected: ' || string_agg(format('%s %s', n, reason), ', ' ORDER BY n DESC)
	FROM (SELECT r.reason, count(*) AS n FROM axs.event_log e JOIN axs.reasons r ON r.code = e.reason_code GROUP BY r.reason) AS x"
q -c "SELECT '         dead letters: ' || string_agg(format('%s %s', n, reason), ', ' ORDER BY n DESC)
	FROM (SELECT reason, count(*) AS n FROM axs.dead_letters GROUP BY reason) AS x"
[ "$ingested" = "$EVENTS" ] || fail "the stored offsets cover $ingested messages, not $EVENTS"
[ $((applied + rejected + conflicts + duplicates + dead)) = "$EVENTS" ] ||
	fail "applied + rejected + id conflicts + duplicates + dead letters <> $EVENTS produced"
malformed=$(sed -n 's/.*summary: .*malformed \([0-9]*\),.*/\1/p' "$DIR/loadgen.log")
[ "$dead" = "$malformed" ] || fail "$dead dead letters, but the loadgen produced $malformed malformed messages"

# The loadgen's intended rejections (its overdrafts, by id) against the rest.
IFS='|' read -r rejected_total intended intended_rejected intended_missed unintended frozen_settlements < <(
	q -F '|' -f "$TOP/scripts/rejections.sql" <"$DIR/intended.ids")
unintended_percent=$(awk -v u="$unintended" -v n="$EVENTS" 'BEGIN { printf "%.3f", 100 * u / n }')
echo "intended $intended_rejected of $rejected_total rejections intended by the loadgen (its $intended overdrafts; $intended_missed of them not rejected);" \
	"$unintended unintended ($unintended_percent% of the events), $frozen_settlements trades/unfreezes rejected insufficient_frozen"
[ "$intended_missed" = 0 ] || fail "$intended_missed overdrafts the loadgen intended to be rejected were not"
if [ "$KEY" = market ]; then
	[ "$frozen_settlements" = 0 ] ||
		fail "keyed by market, $frozen_settlements trades or unfreezes were rejected insufficient_frozen"
	[ $((unintended * 1000)) -lt "$EVENTS" ] ||
		fail "keyed by market, $unintended unintended rejections: 0.1% of $EVENTS events or more"
	echo "keying:  by market: each order's funding deposit, freezes, trade and unfreezes share one key"
	echo "         (BTC-USDT, ...), so one partition keeps them in order; the only rejections are the overdrafts"
else
	echo "keying:  by account: the $unintended unintended rejections are ordering artefacts, not ledger errors."
	echo "         A trade is keyed by its buyer, so it can reach the ledger before the seller's freeze (another"
	echo "         partition: insufficient_frozen), and an order can be decided before the credit that funded"
	echo "         it (insufficient_available, then its trade insufficient_frozen).  Kafka orders messages only"
	echo "         within a partition: key an order's events by its market (AXS_DEMO_KEY=market, the default)."
fi

mismatches=$(q -c 'SELECT count(*) FROM axs.verify()')
if [ "$mismatches" = 0 ]; then
	echo "verify:  consistent (axs.verify() is empty: every balance equals the sum of its applied events and the last row of its history)"
else
	q -c 'SELECT * FROM axs.verify() LIMIT 10'
	fail "axs.verify() found $mismatches balances that differ from the event log"
fi

echo
echo "the 5 most active accounts (applied events that touched them), axs.balances in minor units:"
"${PSQL[@]}" -q -P footer=off -c "
	WITH activity AS (
		SELECT l.account, count(DISTINCT e.id) AS events
		  FROM axs.event_log AS e, axs.event_legs(e.id, e.payload) AS l
		 WHERE e.reason_code = 0
		 GROUP BY l.account ORDER BY events DESC, l.account LIMIT 5)
	SELECT a.account, a.events, b.currency, b.available, b.frozen
	  FROM activity AS a
	 CROSS JOIN LATERAL axs.balances(a.account) AS b
	 ORDER BY a.events DESC, a.account, b.currency"

IFS='|' read -r busiest busiest_currency midpoint < <(q -c "
	SELECT b.account, c.code, (SELECT min(recorded_at) + (max(recorded_at) - min(recorded_at)) / 2 FROM axs.event_log)
	  FROM axs.balances AS b JOIN axs.currencies AS c ON c.id = b.currency
	 ORDER BY b.history_seqno DESC, b.account LIMIT 1")
echo
echo "account $busiest's history in $busiest_currency, its last 5 rows (axs.history), and its balance halfway"
echo "through the run, at $midpoint (axs.balance_at):"
"${PSQL[@]}" -q -P footer=off -c "
	SELECT event_id, kind, available_delta, frozen_delta, available, frozen, decided_at
	  FROM (SELECT * FROM axs.history($busiest, '$busiest_currency', max_rows => 100000) WITH ORDINALITY
			ORDER BY ordinality DESC LIMIT 5) AS h ORDER BY ordinality" \
	-c "SELECT * FROM axs.balance_at($busiest, '$busiest_currency', '$midpoint')"

IFS='|' read -r decided_seq published_seq < <(q -c "SELECT st.decided_seq, p.published_seq
	FROM axs.applier_state AS st LEFT JOIN axs.outcome_publishers AS p ON p.topic = '$OUTCOMES'")
echo
echo "the outcome stream: $decided_seq decisions numbered (seq 1..$decided_seq), $published_seq published to $OUTCOMES"
echo "exactly once; produce-to-outcome-commit latency p50 / p99 ${outcome_latency:-(not measured)}; the last 3 messages of partition 0"
echo "(kcat -C -X isolation.level=read_committed; key = event id, headers = the source message):"
kcat -C -b "$BROKER" -t "$OUTCOMES" -p 0 -o -3 -e -q -X isolation.level=read_committed -f '  key %k  %h\n  %s\n' 2>/dev/null ||
	fail "kcat could not read $OUTCOMES"
[ "$published_seq" = "$decided_seq" ] || fail "the publisher published up to seq ${published_seq:-none} of $decided_seq"

echo
metrics_url=$("$TOP/scripts/exporter.sh" start "$DIR") || fail "prometheus-postgres-exporter did not start (log: $DIR/exporter/log)"
echo "the ledger's metrics, scraped from prometheus-postgres-exporter at $metrics_url"
echo "(monitoring/axs-queries.yaml; Grafana dashboard monitoring/grafana/axs.json):"
curl -sf "$metrics_url" | grep -E '^axs_(applier_(decided_total|duplicates_total|fence_held|epoch|queue_depth|lag_seconds|last_batch_size|last_batch_seconds)|dead_letters_total|id_conflicts_total|inbox_segments_in_use|outcomes_decided_total|outcome_publisher_lag)[{ ]' |
	sed 's/{[^}]*}//; s/^/  /'

echo "demo: done"
if [ "$keep" = 1 ]; then
	echo "demo: cluster left running; scripts/cluster.sh psql .scratch/demo (pipeline) or -d axs_demo (session)"
fi
