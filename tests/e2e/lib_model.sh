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
# axs.history and axs.history_after in pages of 97 (account|code|event_id|
# available_delta|frozen_delta|available|frozen, each key's rows in order).
# One read-only query: it runs on a hot standby too.
model_dump_history()
{
	q >"$1" <<'SQL'
WITH RECURSIVE pages (account, code, page, events, available_deltas, frozen_deltas, available, frozen) AS (
	SELECT b.account, c.code, 1, h.*
	FROM axs.balances AS b JOIN axs.currencies AS c ON c.id = b.currency,
		 LATERAL (SELECT array_agg(event_id ORDER BY n), array_agg(available_delta ORDER BY n),
						 array_agg(frozen_delta ORDER BY n), array_agg(available ORDER BY n), array_agg(frozen ORDER BY n)
				  FROM axs.history(b.account, c.code, max_rows => 97) WITH ORDINALITY
					   AS r(event_id, kind, currency, available_delta, frozen_delta, available, frozen, decided_at, n)) AS h
	UNION ALL
	SELECT p.account, p.code, p.page + 1, h.*
	FROM pages AS p,
		 LATERAL (SELECT array_agg(event_id ORDER BY n), array_agg(available_delta ORDER BY n),
						 array_agg(frozen_delta ORDER BY n), array_agg(available ORDER BY n), array_agg(frozen ORDER BY n)
				  FROM axs.history_after(p.account, p.code, p.events[97], 97) WITH ORDINALITY
					   AS r(event_id, kind, currency, available_delta, frozen_delta, available, frozen, decided_at, n)) AS h
	WHERE cardinality(p.events) = 97
)
SELECT p.account, p.code, r.event_id, r.available_delta, r.frozen_delta, r.available, r.frozen
FROM pages AS p,
	 LATERAL unnest(p.events, p.available_deltas, p.frozen_deltas, p.available, p.frozen) WITH ORDINALITY
		AS r(event_id, available_delta, frozen_delta, available, frozen, n)
WHERE p.events IS NOT NULL
ORDER BY p.account, p.code, p.page, r.n;
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
