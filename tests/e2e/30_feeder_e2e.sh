#!/usr/bin/env bash
#
# 30_feeder_e2e.sh
#	Kafka -> axs-feeder -> axs.inbox -> applier, end to end, against a
#	reference.  Messages are produced into an axs-broker topic by a real
#	Kafka client (kcat: hand-written events, malformed ones among them) and
#	by axs-loadgen (the exchange workload with malformed messages and
#	re-sent duplicates).  Once the stored offsets cover every message and the
#	applier has drained the inbox it checks:
#	  - every message is accounted for exactly once: valid ones in axs.inbox
#	    and decided (axs.event_log / axs.id_conflicts / duplicate), malformed
#	    ones in axs.dead_letters; the logged ids are exactly the valid ids
#	    produced (classified by the extension's own decoder);
#	  - the malformed kcat messages (invalid JSON, not JSON, wrong field types,
#	    non-positive amounts, unknown kind, empty message) are dead letters
#	    with their raw bytes and a reason, and the valid messages behind them
#	    in the same partition were applied (the stream does not stop);
#	  - axs.verify() is empty;
#	  - a reference database "ref" on the same cluster, where the logged
#	    events are applied with axs.apply in queue order (the rejected ones
#	    too), ends with the same balances and the same outcomes.
#
# It owns the cluster .scratch/30_feeder/primary, an axs-broker and an
# axs-feeder, all stopped in the EXIT trap.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=${AXS_E2E_SCRATCH:-$TOP/.scratch}/30_feeder/primary
TOPIC=axs.events
PARTITIONS=4
LOADGEN_EVENTS=${AXS_E2E_FEEDER_EVENTS:-30000}
LOADGEN_ARGS=(--events "$LOADGEN_EVENTS" --accounts 3000 --malformed 1 --duplicates 2 --seed 30)

# shellcheck source=tests/e2e/lib_feeder.sh
. "$TOP/tests/e2e/lib_feeder.sh"
trap feeder_cleanup EXIT

echo "# setup: cluster $DIR, CREATE EXTENSION axs, currencies USDT BTC ETH SOL XRP"
cluster_setup
start_broker "$TOPIC:$PARTITIONS"
start_feeder main "$TOPIC"

# Hand-written messages, KEY:VALUE per line (kcat -K:).  Ids 50000001.. are
# outside the loadgen's range.  The key "dl" puts the malformed messages and
# the valid deposit 50000009 behind them into one partition, in this order.
cat >"$DIR/kcat.txt" <<'EOF'
900001:{"id":50000001,"kind":"deposit","account":900001,"currency":"USDT","amount":1000000}
900002:{"id":50000002,"kind":"deposit","account":900002,"currency":"BTC","amount":500}
900001:{"id":50000003,"kind":"transfer","from":900001,"to":900002,"currency":"USDT","amount":400000}
900002:{"id":50000004,"kind":"withdraw","account":900002,"currency":"BTC","amount":1000}
900001:{ "amount":1000000, "currency":"USDT", "account":900001, "kind":"deposit", "id":50000001 }
900002:{"id":50000002,"kind":"deposit","account":900002,"currency":"BTC","amount":999}
900001:{"id":50000005,"kind":"freeze","account":900001,"currency":"USDT","amount":100000}
dl:{"id":50000010,"kind":"deposit","account":900003,"curr
dl:hello axs, this is not JSON
dl:{"id":50000011,"kind":"deposit","account":900003,"currency":"USDT","amount":"100"}
dl:{"id":50000012,"kind":"deposit","account":"900003","currency":"USDT","amount":100}
dl:{"id":50000013,"kind":"deposit","account":900003,"currency":"USDT","amount":0}
dl:{"id":50000014,"kind":"withdraw","account":900003,"currency":"USDT","amount":-5}
dl:{"id":50000015,"kind":"teleport","account":900003,"currency":"USDT","amount":5}
dl:
dl:{"id":50000009,"kind":"deposit","account":900003,"currency":"ETH","amount":7}
EOF
KCAT_MALFORMED=8
cut -d: -f2- "$DIR/kcat.txt" >"$DIR/kcat.values"
KCAT_COUNT=$(wc -l <"$DIR/kcat.txt")

echo "# produce $KCAT_COUNT messages with kcat (7 valid incl. a duplicate and a reused id, $KCAT_MALFORMED malformed, 1 valid after them)"
kcat -P -b "$BROKER" -t "$TOPIC" -K: <"$DIR/kcat.txt" || die "kcat failed"

echo "# produce $LOADGEN_EVENTS messages with axs-loadgen (1% malformed, 2% duplicates, 15000/s)"
start=$SECONDS
"$TOOLS_BIN/axs-loadgen" --brokers "$BROKER" --topic "$TOPIC" --rate 15000 "${LOADGEN_ARGS[@]}" \
	-X linger.ms=5 2>"$DIR/loadgen.log" || { cat "$DIR/loadgen.log"; die "axs-loadgen failed"; }
summary=$(grep 'summary:' "$DIR/loadgen.log")
echo "# loadgen ${summary#*axs-loadgen: }"
"$TOOLS_BIN/axs-loadgen" --output "$DIR/loadgen.values" "${LOADGEN_ARGS[@]}" 2>/dev/null
PRODUCED=$((KCAT_COUNT + LOADGEN_EVENTS))

echo "# classify the produced messages with the extension's decoder (database expect)"
cat "$DIR/kcat.values" "$DIR/loadgen.values" >"$DIR/produced.values"
expected_from_file "$DIR/produced.values"
echo "# expected: $EXP_MESSAGES messages, $EXP_MALFORMED malformed, $EXP_VALID valid, $EXP_VALID_IDS distinct valid ids"
check_eq "the classification saw every produced message" "$PRODUCED" "$EXP_MESSAGES"
loadgen_malformed=$(sed -n 's/.*malformed \([0-9]*\),.*/\1/p' <<<"$summary")
check_eq "malformed = the loadgen's malformed + the kcat malformed" \
	"$((loadgen_malformed + KCAT_MALFORMED))" "$EXP_MALFORMED"

wait_stored "$TOPIC" "$PRODUCED" 60 ||
	die "stored offsets sum to $(stored_sum "$TOPIC"), expected $PRODUCED, 60 s after the last message"
wait_drained 60 || die "the applier did not drain: $(q -c 'SELECT * FROM axs.applier_status')"
echo "# ingested and drained $((SECONDS - start)) s after the loadgen started"
q -c "SELECT 'applier: ' || format('watermark %s, applied %s, rejected %s, duplicate %s, queue_depth %s',
	watermark, events_applied, events_rejected, events_duplicate, queue_depth) FROM axs.applier_status"

check_exactly_once "$TOPIC" "$PRODUCED" "$EXP_MALFORMED" "$EXP_VALID" "$EXP_VALID_IDS"
model_check "the reference model (ledger_model.py, README's rules) agrees on every message, outcome, id conflict and balance" \
	--events "$DIR/produced.values" --exact-conflicts --dead-letters "$(q -c 'SELECT count(*) FROM axs.dead_letters')"

echo "# the hand-written messages"
check_eq "duplicate 50000001 (other key order and spacing) and reused id 50000002 recorded once each" \
	"applied|1|t" "$(q -c "SELECT (axs.event_status(50000001)).status,
		(SELECT count(*) FROM axs.id_conflicts WHERE id = 50000002),
		(SELECT axs.event_json(id, payload) ->> 'amount' FROM axs.event_log WHERE id = 50000002) = '500'")"
check_eq "overdraft 50000004 rejected" "(rejected,insufficient_available)" "$(q -c 'SELECT axs.event_status(50000004)')"
check_eq "balances of 900001 and 900002" "900001|USDT|500000|100000 900002|BTC|500|0 900002|USDT|400000|0" \
	"$(q -c "SELECT a, b.* FROM unnest('{900001,900002}'::bigint[]) AS a, axs.balances(a) AS b ORDER BY 1, 2" | tr '\n' ' ' | sed 's/ $//')"
missing=""
looked_up=0
while IFS= read -r value; do
	found=$(q -v v="$value" <<'SQL'
SELECT count(*) FROM axs.dead_letters
 WHERE topic = 'axs.events' AND raw = convert_to(:'v', 'UTF8') AND length(reason) > 0
SQL
)
	looked_up=$((looked_up + 1))
	[ "$found" = 1 ] || missing+="$value (found $found)"$'\n'
done < <(grep '^dl:' "$DIR/kcat.txt" | grep -v 50000009 | cut -d: -f2-)
# The loop must have looked every malformed message up: an empty list passes nothing.
[ "$looked_up" = "$KCAT_MALFORMED" ] || missing+="looked up $looked_up messages, not the $KCAT_MALFORMED malformed ones"
check "each of the $KCAT_MALFORMED malformed kcat messages is a dead letter with its raw bytes and a reason" "${missing:-ok}"
q -c "SELECT format('  dead letter %s[%s]@%s: %s  <- %s', partition, topic, \"offset\", reason,
	left(convert_from(raw, 'UTF8'), 50)) FROM axs.dead_letters
	WHERE raw = ''::bytea OR convert_from(raw, 'UTF8') LIKE '%9000_3%' OR convert_from(raw, 'UTF8') LIKE 'hello%'
	ORDER BY \"offset\""
check_eq "the empty message is a dead letter with reason 'empty message'" "1" \
	"$(q -c "SELECT count(*) FROM axs.dead_letters WHERE raw = ''::bytea AND reason = 'empty message'")"
check_eq "the valid deposit behind the malformed ones (same partition, later offset) was applied" "(applied,)|t" \
	"$(q -c "SELECT axs.event_status(50000009), (SELECT axs.balance(900003, 'ETH')) = ROW(7::bigint, 0::bigint)")"

echo "# reference: database ref, the logged events applied with axs.apply in queue order"
q -c "SELECT axs.event_json(id, payload) FROM axs.event_log ORDER BY queue_position" >"$DIR/events.ordered"
q -c 'SET client_min_messages = warning' -c 'DROP DATABASE IF EXISTS ref' -c 'CREATE DATABASE ref' >/dev/null
q -d ref -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION axs' -c "$CURRENCIES_SQL" \
	-c 'CREATE TABLE ordered (n bigserial, event jsonb)' >/dev/null
q -d ref -c "\\copy ordered (event) FROM '$DIR/events.ordered' WITH (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')"
start=$SECONDS
# A commit every 500 events keeps the hot balance rows' version chains short.
q -d ref -c 'DO $$ DECLARE r record; k bigint := 0; BEGIN
	FOR r IN SELECT event FROM ordered ORDER BY n LOOP
		PERFORM axs.apply(r.event);
		k := k + 1;
		IF k % 500 = 0 THEN COMMIT; END IF;
	END LOOP; END $$'
echo "# reference applied $(wc -l <"$DIR/events.ordered") events in $((SECONDS - start)) s"

balances_sql="SELECT b.account, c.code, b.available, b.frozen FROM axs.balances b JOIN axs.currencies c ON c.id = b.currency ORDER BY 1, 2"
q -c "$balances_sql" >"$DIR/balances.feeder"
q -d ref -c "$balances_sql" >"$DIR/balances.ref"
check "all balances equal the reference's ($(wc -l <"$DIR/balances.ref") rows)" \
	"$(cmp -s "$DIR/balances.ref" "$DIR/balances.feeder" && echo ok || diff "$DIR/balances.ref" "$DIR/balances.feeder" | head -n 20)"
outcomes_sql="SELECT id, reason_code FROM axs.event_log ORDER BY id"
q -c "$outcomes_sql" >"$DIR/outcomes.feeder"
q -d ref -c "$outcomes_sql" >"$DIR/outcomes.ref"
check "every event's outcome equals the reference's ($(grep -c '|0$' "$DIR/outcomes.ref") applied, $(grep -vc '|0$' "$DIR/outcomes.ref") rejected)" \
	"$(cmp -s "$DIR/outcomes.ref" "$DIR/outcomes.feeder" && echo ok || diff "$DIR/outcomes.ref" "$DIR/outcomes.feeder" | head -n 20)"
check "axs.verify() is empty in ref" "$(out=$(q -d ref -c 'SELECT * FROM axs.verify() LIMIT 10'); [ -z "$out" ] && echo ok || echo "$out")"

stop_feeder "$FEEDER_PID"
check_eq "axs-feeder still running, exits 0 on SIGTERM" 0 "$STOP_STATUS"
finish
