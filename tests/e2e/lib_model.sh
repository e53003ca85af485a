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

# model_check DESCRIPTION [MODEL_ARG...]: dump the ledger's decisions,
# conflicts, balances and credit-line and suspension changes, run the model
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
	python3 "$TOP/tests/e2e/ledger_model.py" --currencies "$out/currencies" --decided "$out/decided" \
		--balances "$out/balances" --chosen "$out/chosen" --rules "$out/rules" "${args[@]}" >"$out/report" 2>&1 || rc=$?
	grep '^# model:' "$out/report" || true
	check "$description" "$([ "$rc" = 0 ] && echo ok || grep -v '^# model:' "$out/report")"
}
