#!/usr/bin/env bash
#
# 27_account_rules.sh
#	Credit lines and suspended accounts on both paths, against the
#	reference model.  One seeded workload (tests/e2e/rules_workload.py:
#	20,000 events over 40 accounts in 25 steps, a credit line set, raised
#	or lowered, or an account suspended or resumed after each step):
#	  a. database sync: each step through axs.apply, then its change;
#	  b. database postgres: each step through axs.submit_many and the
#	     applier (axs.wait), then its change;
#	     a and b must decide every event alike and record the same history
#	     (axs.history, paged with axs.history_after), and b as the model
#	     does (ledger_model.py, which knows the rules from README, not from
#	     axs), history included;
#	  c. the race, database race: the steps are queued one after another
#	     without waiting while another session makes the same changes, so
#	     changes land between and against the applier's batches (batches of
#	     at most 300 events).  Each change records the applier's watermark
#	     (axs.account_changes); the model, applying each change to the events
#	     queued after its watermark, must agree on every outcome and balance.
#
# It owns the cluster .scratch/e2e_account_rules.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=$TOP/.scratch/e2e_account_rules
# shellcheck source=tests/e2e/lib_ledger.sh
. "$TOP/tests/e2e/lib_ledger.sh"
# shellcheck source=tests/e2e/lib_model.sh
. "$TOP/tests/e2e/lib_model.sh"

export AXS_PG_CONF="axs.applier_batch_size = 300"
ledger_start_cluster
mkdir -p "$DIR/workload"
python3 "$TOP/tests/e2e/rules_workload.py" "$DIR/workload"
STEPS=$(wc -l <"$DIR/workload/changes.tsv")
EVENTS=$(wc -l <"$DIR/workload/events.jsonl")

# setup DATABASE: the extension, the currencies, the workload in table plan
setup()
{
	q -d "$1" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION axs' \
		-c "SELECT axs.create_currency('USDT', 6), axs.create_currency('BTC', 8)" \
		-c 'CREATE TABLE plan (step integer, n integer, event jsonb)' \
		-c "\\copy plan FROM '$DIR/workload/plan.tsv'" >/dev/null
}
q -c 'CREATE DATABASE sync' -c 'CREATE DATABASE race' >/dev/null
for database in postgres sync race; do
	setup "$database"
done
q -d sync >/dev/null <<'SQL'
CREATE FUNCTION apply_step(k integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT event FROM plan WHERE step = k ORDER BY n LOOP
		PERFORM axs.apply(r.event);
	END LOOP;
END
$$;
SQL
wait_for 10 "SELECT fence_held FROM axs.applier_status" || die "no applier took the fence in database postgres"
submit_step() { q -d "$1" -c "SELECT axs.submit_many(jsonb_agg(event ORDER BY n)) FROM plan WHERE step = $2"; }

echo "# a and b: $EVENTS events in $STEPS steps, a change after each, through axs.apply (sync) and the applier (postgres)"
while IFS=$'\t' read -r step change; do
	q -d sync -c "SELECT apply_step($step)" -c "$change" >/dev/null
	position=$(submit_step postgres "$step")
	ledger_wait_drained "$position" 60 "the applier did not decide step $step"
	q -c "$change" >/dev/null
done <"$DIR/workload/changes.tsv"
check "every change is recorded on both paths" \
	"$(q -c "SELECT CASE WHEN count(*) = $STEPS THEN 'ok' ELSE count(*) || ' changes' END FROM axs.account_changes")"
check_eq "the synchronous path recorded the same changes" "$STEPS" "$(q -d sync -c 'SELECT count(*) FROM axs.account_changes')"
outcomes="SELECT id, reason_code FROM axs.event_log ORDER BY id"
balances="SELECT b.account, c.code, b.available, b.frozen FROM axs.balances b JOIN axs.currencies c ON c.id = b.currency ORDER BY 1, 2"
q -c "$outcomes" >"$DIR/outcomes.queued"
q -d sync -c "$outcomes" >"$DIR/outcomes.sync"
q -c "$balances" >"$DIR/balances.queued"
q -d sync -c "$balances" >"$DIR/balances.sync"
check "both paths decide every event alike ($(grep -c '|7$' "$DIR/outcomes.sync") account_suspended, $(grep -c '|1$' "$DIR/outcomes.sync") insufficient_available)" \
	"$(ledger_same "$DIR/outcomes.sync" "$DIR/outcomes.queued")"
check "both paths end with the same balances ($(awk -F'|' '$3 < 0' "$DIR/balances.sync" | wc -l) below zero on a credit line)" \
	"$(ledger_same "$DIR/balances.sync" "$DIR/balances.queued")"
model_dump_history "$DIR/history.queued"
PGDATABASE=sync model_dump_history "$DIR/history.sync"
check "both paths record the same history ($(wc -l <"$DIR/history.sync") rows, read in pages through axs.history_after)" \
	"$(ledger_same "$DIR/history.sync" "$DIR/history.queued")"
check "axs.verify() (balances against the log and the history) is empty in database sync" \
	"$(out=$(q -d sync -c 'SELECT * FROM axs.verify() LIMIT 20'); [ -z "$out" ] && echo ok || echo "$out")"
model_check "b agrees with the reference model, history included (credit lines and suspensions from axs.account_changes)" \
	--events "$DIR/workload/events.jsonl" --exact-conflicts
ledger_check_verify

echo "# c: the same steps queued without waiting while another session makes the changes"
q -d race -c 'SELECT axs.start_applier()' >/dev/null
(
	for ((step = 0; step < STEPS; step++)); do
		submit_step race "$step" >"$DIR/race.position"
	done
) &
submitter=$!
while IFS=$'\t' read -r _ change; do
	q -d race -c "$change" >/dev/null
	sleep 0.02
done <"$DIR/workload/changes.tsv"
wait "$submitter" || die "queueing the race's steps failed"
last=$(cat "$DIR/race.position")
ledger_wait_drained "$last" 60 "the race's applier did not decide every event" -d race
check "changes landed while events were being decided ($(q -d race -c "SELECT count(*) FILTER (WHERE applier_watermark > 0 AND applier_watermark < $last) FROM axs.account_changes") of $STEPS inside the stream)" \
	"$(q -d race -c "SELECT CASE WHEN count(*) FILTER (WHERE applier_watermark > 0 AND applier_watermark < $last) >= 3 THEN 'ok'
	                        ELSE 'only ' || count(*) FILTER (WHERE applier_watermark > 0 AND applier_watermark < $last) || ' changes inside the stream' END
	                   FROM axs.account_changes")"
PGDATABASE=race model_check "c agrees with the reference model, each change taking effect after its recorded watermark" \
	--events "$DIR/workload/events.jsonl" --exact-conflicts
check "axs.verify() is empty in database race" "$(out=$(q -d race -c 'SELECT * FROM axs.verify() LIMIT 20'); [ -z "$out" ] && echo ok || echo "$out")"
q -d race -c "SELECT pg_terminate_backend(pid) FROM axs.applier_status WHERE pid IS NOT NULL" >/dev/null
ledger_finish
