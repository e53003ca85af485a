#!/usr/bin/env bash
#
# 34_ledger_metrics.sh
#	The ledger's own metrics through prometheus-postgres-exporter (the
#	Debian package) with monitoring/axs-queries.yaml, scraped over HTTP as
#	Prometheus would (scripts/exporter.sh starts it beside the cluster):
#	  a. every axs_ metric is named by Prometheus conventions (axs_ prefix,
#	     counters end in _total, no unit but seconds and bytes);
#	  b. the counters move by exactly what a stream of events decided:
#	     applied, rejected (overdrafts and an id reused), a re-sent
#	     duplicate, a dead letter;
#	  c. with the applier off, queue depth, lag and segments in use show
#	     the waiting events, and drop back once it runs;
#	  d. a takeover: the epoch grows and the fence holder changes;
#	  e. every metric the Grafana dashboard (monitoring/grafana/axs.json)
#	     plots and the alerting rules (monitoring/axs-alerts.yaml) watch is
#	     one the exporter or the feeder exports.
#
# It owns the cluster .scratch/e2e_ledger_metrics.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=$TOP/.scratch/e2e_ledger_metrics
# shellcheck source=tests/e2e/lib_ledger.sh
. "$TOP/tests/e2e/lib_ledger.sh"

ledger_start_cluster "$DIR/scrape" "$DIR/scrape.before"
trap '"$TOP/scripts/exporter.sh" stop "$DIR"; ledger_cleanup' EXIT
q -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION axs' \
	-c "SELECT axs.create_currency('USDT', 6)" >/dev/null
url=$("$TOP/scripts/exporter.sh" start "$DIR")
wait_for 10 "SELECT fence_held FROM axs.applier_status" || die "no applier took the fence"

# scrape: fetch /metrics into DIR/scrape, keeping the previous one in
# DIR/scrape.before; metric NAME [FILE]: NAME's value in the last scrape (the
# exporter labels every series with server=...; one series per name here);
# delta NAME: how much NAME grew from the scrape before to the last.
scrape() { [ ! -f "$DIR/scrape" ] || mv "$DIR/scrape" "$DIR/scrape.before"; curl -sf "$url" >"$DIR/scrape"; }
metric() { awk -v name="$1" '$1 ~ "^" name "({|$)" { print $2; exit }' "${2:-$DIR/scrape}"; }
delta() { awk -v a="$(metric "$1")" -v b="$(metric "$1" "$DIR/scrape.before")" 'BEGIN { printf "%.0f", a - b }'; }

echo "# a. names"
scrape
check_eq "the exporter serves the 25 axs series of monitoring/axs-queries.yaml (no outcome publisher yet)" 25 "$(grep -c '^axs_' "$DIR/scrape")"
bad_names=$(awk '
	$1 == "#" && $2 == "TYPE" && $3 ~ /^axs_/ {
		if ($3 !~ /^axs_[a-z_]+$/) print "bad name " $3
		if ($4 == "counter" && $3 !~ /_total$/) print "counter without _total: " $3
		if ($4 != "counter" && $3 ~ /_total$/) print "_total on a " $4 ": " $3
		if ($3 ~ /_(ms|milliseconds|minutes|kb|mb)$/) print "not a base unit: " $3
	}' "$DIR/scrape")
check "every counter ends in _total, every name is axs_[a-z_]+ in base units" "$([ -z "$bad_names" ] && echo ok || echo "$bad_names")"

echo "# b. counters of a decided stream"
# 500 deposits, 20 overdrafts, one re-sent copy of event 1, event 2 again with other content
position=$(q -c "SELECT axs.submit_many(jsonb_agg(e ORDER BY n)) FROM (
	SELECT n, jsonb_build_object('id', n, 'kind', 'deposit', 'account', n, 'currency', 'USDT', 'amount', 100) AS e
	  FROM generate_series(1, 500) AS n
	UNION ALL
	SELECT 500 + n, jsonb_build_object('id', 500 + n, 'kind', 'withdraw', 'account', n, 'currency', 'USDT', 'amount', 101)
	  FROM generate_series(1, 20) AS n
	UNION ALL SELECT 600, '{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"USDT\",\"amount\":100}'
	UNION ALL SELECT 601, '{\"id\":2,\"kind\":\"deposit\",\"account\":2,\"currency\":\"USDT\",\"amount\":7}') AS s")
# and a row that is no event (only a writer other than axs code can queue one)
q -c "INSERT INTO axs.inbox (event_id, payload) VALUES (9999, '\\x00')" >/dev/null
ledger_wait_drained "$((position + 1))" 30 "the applier did not decide the stream"
scrape
check_eq "axs_applier_decided_total grew by every inbox row (523)" 523 "$(delta axs_applier_decided_total)"
check_eq "axs_applier_events_applied_total grew by the deposits (500)" 500 "$(delta axs_applier_events_applied_total)"
check_eq "axs_applier_events_rejected_total grew by the overdrafts and the reused id (21)" 21 "$(delta axs_applier_events_rejected_total)"
check_eq "axs_applier_duplicates_total grew by the re-sent copy (1)" 1 "$(delta axs_applier_duplicates_total)"
check_eq "axs_dead_letters_total grew by the row that is no event (1)" 1 "$(delta axs_dead_letters_total)"
check_eq "axs_id_conflicts_total grew by the reused id (1)" 1 "$(delta axs_id_conflicts_total)"
check "axs_applier_batches_total grew, the last batch is recent and its size and duration set" "$(
	awk -v b="$(delta axs_applier_batches_total)" -v t="$(metric axs_applier_last_batch_timestamp_seconds)" \
		-v s="$(metric axs_applier_last_batch_size)" -v d="$(metric axs_applier_last_batch_seconds)" -v now="$(date +%s)" \
		'BEGIN { if (b >= 1 && now - t < 60 && s >= 1 && d > 0) print "ok"; else print "batches +" b ", last at " t " (now " now "), size " s ", seconds " d }')"
check_eq "axs_applier_queue_depth is 0 once drained" 0 "$(metric axs_applier_queue_depth)"
check_eq "axs_applier_watermark is the last queue position" "$((position + 1))" "$(metric axs_applier_watermark)"
check_eq "axs_outcomes_decided_total grew by the decided events (520: not the duplicate, the conflict, the dead letter)" 520 \
	"$(delta axs_outcomes_decided_total)"
# an outcome publisher's progress, as axs-feeder --outcomes-topic records it after a commit
q -c "SELECT axs.outcomes_published('axs.outcomes', 500)" >/dev/null
scrape
check_eq "axs_outcome_publisher_published_total is the publisher's last committed seq" 500 \
	"$(metric 'axs_outcome_publisher_published_total')"
check_eq "axs_outcome_publisher_lag counts the decisions not yet published" 20 "$(metric axs_outcome_publisher_lag)"
check "axs_outcome_publisher_* carry the topic as a label" \
	"$(grep -q '^axs_outcome_publisher_lag{.*topic="axs.outcomes"' "$DIR/scrape" && echo ok || grep '^axs_outcome_publisher' "$DIR/scrape")"

echo "# c. waiting events"
q -c 'ALTER SYSTEM SET axs.applier_enabled = off' -c 'SELECT pg_reload_conf()' >/dev/null
wait_for 10 "SELECT NOT coalesce(fence_held, false) FROM axs.applier_status" || die "the applier did not stop"
position=$(q -c "SELECT axs.submit_many(jsonb_agg(jsonb_build_object('id', 1000 + n, 'kind', 'deposit', 'account', n,
	'currency', 'USDT', 'amount', 1))) FROM generate_series(1, 5) AS n")
sleep 1.1
scrape
check_eq "axs_applier_fence_held is 0 with the applier off" 0 "$(metric axs_applier_fence_held)"
check_eq "axs_applier_queue_depth shows the 5 waiting events" 5 "$(metric axs_applier_queue_depth)"
check "axs_applier_lag_seconds is at least the second they have waited ($(metric axs_applier_lag_seconds))" \
	"$(awk -v l="$(metric axs_applier_lag_seconds)" 'BEGIN { print (l >= 1 ? "ok" : "lag " l) }')"
check "axs_inbox_segments_in_use counts the segment that holds them ($(metric axs_inbox_segments_in_use) of $(metric axs_inbox_segments))" \
	"$(awk -v u="$(metric axs_inbox_segments_in_use)" -v b="$(metric axs_inbox_bytes)" 'BEGIN { print (u >= 1 && b > 0 ? "ok" : "in use " u ", bytes " b) }')"
q -c 'ALTER SYSTEM RESET axs.applier_enabled' -c 'SELECT pg_reload_conf()' >/dev/null
ledger_wait_drained "$position" 30 "the applier did not decide the waiting events"
scrape
check "queue depth and lag drop back to 0 once the applier runs" \
	"$([ "$(metric axs_applier_queue_depth)" = 0 ] && [ "$(metric axs_applier_lag_seconds)" = 0 ] && echo ok ||
	   echo "depth $(metric axs_applier_queue_depth), lag $(metric axs_applier_lag_seconds)")"

echo "# d. a takeover"
epoch=$(metric axs_applier_epoch)
holder=$(metric axs_applier_fence_holder_pid)
q -c "SELECT pg_terminate_backend($holder)" >/dev/null
wait_for 20 "SELECT fence_held AND pid <> $holder FROM axs.applier_status" || die "no applier took the fence again"
scrape
check "axs_applier_epoch grew ($epoch -> $(metric axs_applier_epoch)) and the fence holder changed ($holder -> $(metric axs_applier_fence_holder_pid))" \
	"$([ "$(metric axs_applier_epoch)" -gt "$epoch" ] && [ "$(metric axs_applier_fence_holder_pid)" != "$holder" ] && echo ok || echo no)"

echo "# e. the dashboard and the alerts use only exported metrics"
feeder_names=$(grep -oh '"axs_feeder_[a-z_]*' "$TOP"/feeder/src/*.c | tr -d '"' | sed 's/_\(bucket\|sum\|count\)$//' | sort -u)
exported=$( (grep -o '^axs_[a-z_]*' "$DIR/scrape"; echo "$feeder_names") | sort -u)
plotted=$(python3 -c '
import json, re, sys
names = set()
def walk(node):
    if isinstance(node, dict):
        if isinstance(node.get("expr"), str):
            names.update(re.findall(r"\baxs_[a-z_]+", node["expr"]))
        for value in node.values():
            walk(value)
    elif isinstance(node, list):
        for value in node:
            walk(value)
walk(json.load(open(sys.argv[1])))
print("\n".join(sorted(names)))' "$TOP/monitoring/grafana/axs.json")
missing=$(comm -23 <(echo "$plotted" | sed 's/_\(bucket\|sum\|count\)$//' | sort -u) <(echo "$exported"))
check "all $(echo "$plotted" | wc -l) metrics of the dashboard are exported" "$([ -z "$missing" ] && echo ok || echo "not exported: $missing")"
alerted=$(sed -n 's/^ *expr: //p' "$TOP/monitoring/axs-alerts.yaml" | grep -o '\baxs_[a-z_]*' | sort -u)
missing=$(comm -23 <(echo "$alerted") <(echo "$exported"))
check "all $(echo "$alerted" | wc -l) metrics of the alerting rules (monitoring/axs-alerts.yaml) are exported" \
	"$([ -z "$missing" ] && echo ok || echo "not exported: $missing")"

ledger_check_verify
ledger_finish
