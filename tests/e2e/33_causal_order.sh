#!/usr/bin/env bash
#
# 33_causal_order.sh
#	Causal order from Kafka: axs-loadgen -> axs-broker (a 16-partition
#	topic) -> axs-feeder -> axs.inbox -> applier, with the loadgen keying
#	by market (its default: an order's funding deposit, freezes, trade and
#	unfreezes share the market's key, so one partition keeps them in order).
#	The feeder applies partitions in whatever order they arrive; once every
#	message is stored and applied it checks:
#	  - no trade and no unfreeze is rejected insufficient_frozen;
#	  - every overdraft the loadgen intended (--intended, by id) is rejected
#	    insufficient_available;
#	  - the rejections it did not intend stay under 0.1% of the events;
#	  - axs.verify() is empty.
#	AXS_E2E_CAUSAL_KEY=account runs the same workload keyed by account, to
#	see the checks fail on the ordering artefacts that keying causes.
#
# It owns the cluster .scratch/33_causal_order/primary, an axs-broker and an
# axs-feeder, all stopped in the EXIT trap.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=${AXS_E2E_SCRATCH:-$TOP/.scratch}/33_causal_order/primary
TOPIC=axs.events
PARTITIONS=16
EVENTS=${AXS_E2E_CAUSAL_EVENTS:-60000}
KEY=${AXS_E2E_CAUSAL_KEY:-market}

# shellcheck source=tests/e2e/lib_feeder.sh
. "$TOP/tests/e2e/lib_feeder.sh"
trap feeder_cleanup EXIT

echo "# setup: cluster $DIR, CREATE EXTENSION axs, currencies USDT BTC ETH SOL XRP"
cluster_setup
start_broker "$TOPIC:$PARTITIONS"
start_feeder main "$TOPIC"

echo "# produce $EVENTS messages with axs-loadgen --key $KEY (0.5% malformed, 1% duplicates, 20000/s)"
start=$SECONDS
"$TOOLS_BIN/axs-loadgen" --brokers "$BROKER" --topic "$TOPIC" --events "$EVENTS" --rate 20000 \
	--malformed 0.5 --duplicates 1 --seed 33 --key "$KEY" --intended "$DIR/intended.ids" \
	-X linger.ms=5 2>"$DIR/loadgen.log" || { cat "$DIR/loadgen.log"; die "axs-loadgen failed"; }
summary=$(grep 'summary:' "$DIR/loadgen.log")
echo "# loadgen ${summary#*axs-loadgen: }"

wait_stored "$TOPIC" "$EVENTS" 60 ||
	die "stored offsets sum to $(stored_sum "$TOPIC"), expected $EVENTS, 60 s after the last message"
wait_drained 60 || die "the applier did not drain: $(q -c 'SELECT * FROM axs.applier_status')"
echo "# ingested and drained $((SECONDS - start)) s after the loadgen started"

IFS='|' read -r _ intended intended_rejected intended_missed unintended frozen_settlements < <(
	q -F '|' -f "$TOP/scripts/rejections.sql" <"$DIR/intended.ids")
q -c "SELECT '# rejected: ' || coalesce(string_agg(format('%s %s', n, reason), ', ' ORDER BY n DESC), 'none')
	FROM (SELECT r.reason, count(*) AS n FROM axs.event_log e JOIN axs.reasons r ON r.code = e.reason_code
	GROUP BY r.reason) AS x"

check_eq "no trade or unfreeze rejected insufficient_frozen (keyed by $KEY)" 0 "$frozen_settlements"
check_eq "axs.applier_status.settlements_short_frozen counts them as the log does" "$frozen_settlements" \
	"$(q -c 'SELECT settlements_short_frozen FROM axs.applier_status')"
check "the loadgen intended some rejections" "$([ "$intended" -gt 0 ] && echo ok || echo "none in $DIR/intended.ids")"
check_eq "every intended rejection (overdraft) rejected insufficient_available" "$intended 0" "$intended_rejected $intended_missed"
check "unintended rejections under 0.1% of $EVENTS events" \
	"$([ $((unintended * 1000)) -lt "$EVENTS" ] && echo ok || echo "$unintended unintended rejections")"
check "axs.verify() is empty" "$(out=$(q -c 'SELECT * FROM axs.verify() LIMIT 10'); [ -z "$out" ] && echo ok || echo "$out")"

stop_feeder "$FEEDER_PID"
check_eq "axs-feeder exits 0 on SIGTERM" 0 "$STOP_STATUS"
finish
