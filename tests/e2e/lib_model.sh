# shellcheck shell=bash
#
# lib_model.sh
#	The independent check of the e2e drills: tests/e2e/ledger_model.py
#	recomputes every outcome and balance from the JSON events the test
#	produced, with README's rules and none of the product's code, and
#	compares them with the ledger.  axs.verify() recomputes balances with the
#	writers' own leg expansion, so it proves nothing lost or doubled; this
#	proves the rules.  Sourced (after lib_check.sh), not run.
#
# The caller sets TOP and DIR; the ledger's side is read as the superuser
# from database postgres of the cluster in DIR, into DIR/model/.

# model_dump_history FILE: every balance's whole history, read through
# axs.history and axs.history_after in pages (account|code|event_id|
# available_delta|frozen_delta|available|frozen, each key's rows in order).
model_dump_history()
{
	q >"$1" <<'SQL'
CREATE FUNCTION pg_temp.whole_history(a bigint, c text)
RETURNS TABLE (o_event bigint, o_available_delta bigint, o_frozen_delta bigint, o_available bigint, o_frozen bigint)
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	got integer := 500;
	last bigint;
BEGIN
	WHILE got = 500 LOOP
		got := 0;
		FOR r IN EXECUTE CASE WHEN last IS NULL THEN 'SELECT * FROM axs.history($1, $2, max_rows => 500)'
							  ELSE 'SELECT * FROM axs.history_after($1, $2, $3, 500)' END USING a, c, last LOOP
			o_event := r.event_id; o_available_delta := r.available_delta; o_frozen_delta := r.frozen_delta;
			o_available := r.available; o_frozen := r.frozen;
			RETURN NEXT;
			got := got + 1;
			last := r.event_id;
		END LOOP;
	END LOOP;
END
$$;
SELECT b.account, c.code, h.o_event, h.o_available_delta, h.o_frozen_delta, h.o_available, h.o_frozen
FROM axs.balances AS b JOIN axs.currencies AS c ON c.id = b.currency,
	 LATERAL pg_temp.whole_history(b.account, c.code) WITH ORDINALITY AS h
ORDER BY b.account, c.code, h.ordinality;
SQL
}

# model_check DESCRIPTION [MODEL_ARG...]: dump the ledger's decisions,
# conflicts, balances, history and credit-line and suspension changes, run the model
# with MODEL_ARGs (at least one --events FILE; --dead-letters N when every
# malformed message is a dead letter; --exact-conflicts when every message
# reached the queue exactly once, so that axs.id_conflicts must hold each other-content copy once and
# axs.applier_state.duplicates_total each re-sent same-content copy once),
# and check that it agrees.
model_check()
{
	local description=$1 out=$DIR/model rc=0 arg args=()
	shift
	for arg in "$@"; do
		if [ "$arg" = --exact-conflicts ]; then
			args+=(--conflicts "$out/conflicts" --duplicates "$(q -c 'SELECT duplicates_total FROM axs.applier_state')")
		else
			args+=("$arg")
		fi
	done
	mkdir -p "$out"
	q -c 'SELECT code FROM axs.currencies ORDER BY 1' >"$out/currencies"
	q -c "SELECT e.queue_position, e.id, coalesce(r.reason, 'applied')
	        FROM axs.event_log AS e LEFT JOIN axs.reasons AS r ON r.code = e.reason_code
	       ORDER BY e.queue_position NULLS FIRST" >"$out/decided"
	q -c 'SELECT b.account, c.code, b.available, b.frozen
	        FROM axs.balances AS b JOIN axs.currencies AS c ON c.id = b.currency ORDER BY 1, 2' >"$out/balances"
	# Only to pick, for an id sent with several contents, the one the
	# ledger took first; the model parses that rendering itself.
	q -c 'SELECT l.id, axs.event_json(l.id, l.payload) FROM axs.event_log AS l
	       WHERE l.id IN (SELECT id FROM axs.id_conflicts)' >"$out/chosen"
	q -c 'SELECT id, count(*) FROM axs.id_conflicts GROUP BY id ORDER BY id' >"$out/conflicts"
	q -c "SELECT applier_watermark, change, account, coalesce(currency, ''), coalesce(new_value, '')
	        FROM axs.account_changes ORDER BY change_id" >"$out/rules"
	model_dump_history "$out/history"
	python3 "$TOP/tests/e2e/ledger_model.py" --currencies "$out/currencies" --decided "$out/decided" \
		--balances "$out/balances" --chosen "$out/chosen" --rules "$out/rules" --history "$out/history" \
		"${args[@]}" >"$out/report" 2>&1 || rc=$?
	grep '^# model:' "$out/report" || true
	check "$description" "$([ "$rc" = 0 ] && echo ok || grep -v '^# model:' "$out/report")"
}
