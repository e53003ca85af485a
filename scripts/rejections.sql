-- rejections.sql
--	Splits the ledger's rejections into those axs-loadgen intended (its
--	overdrafts, whose ids it wrote with --intended) and the others, for
--	scripts/demo.sh, bench/e2e/run.sh and tests/e2e/33_causal_order.sh.
--	The ids come on standard input, one a line:
--
--	  psql -At -F '|' -f scripts/rejections.sql < intended.ids
--
--	One row: rejected | intended | intended_rejected (rejected
--	insufficient_available) | intended_missed (not rejected) | unintended |
--	frozen_settlements (trades and unfreezes rejected insufficient_frozen,
--	which keyed by market only an upstream bug can cause).  Reads only.

\set ON_ERROR_STOP on
\set QUIET on
CREATE TEMP TABLE intended (id bigint PRIMARY KEY);
\copy intended FROM pstdin
SELECT count(*) AS rejected,
	   (SELECT count(*) FROM intended) AS intended,
	   count(*) FILTER (WHERE i.id IS NOT NULL AND r.reason = 'insufficient_available') AS intended_rejected,
	   (SELECT count(*) FROM intended AS i2
		 WHERE NOT EXISTS (SELECT 1 FROM axs.event_log AS e2
							WHERE e2.id = i2.id AND e2.reason_code <> 0)) AS intended_missed,
	   count(*) FILTER (WHERE i.id IS NULL) AS unintended,
	   count(*) FILTER (WHERE r.reason = 'insufficient_frozen'
						  AND axs.event_json(e.id, e.payload) ->> 'kind' IN ('trade', 'unfreeze')) AS frozen_settlements
  FROM axs.event_log AS e
  LEFT JOIN axs.reasons AS r ON r.code = e.reason_code
  LEFT JOIN intended AS i ON i.id = e.id
 WHERE e.reason_code <> 0;
