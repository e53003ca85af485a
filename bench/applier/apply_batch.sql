-- apply_batch.sql
--	The one statement that applies a batch in the original AXS technique.
--	The client has COPYed the batch into pg_temp.batch (seq = order in the
--	batch); this statement decides every event, writes the balances and
--	records the outcomes, or changes nothing and returns verified = false,
--	in which case the client calls bench_axs.apply_batch_sequentially().
--
-- Sufficiency is checked in SQL with running sums per (account, currency)
-- in batch order (window functions), so that the result equals applying the
-- events one by one.  Each step takes a set R of events believed rejected,
-- recomputes the running balances with R's deltas left out, and derives the
-- next R: the events of R that still go short on some leg given the balance
-- just before them, plus, per (account, currency), the first event outside R
-- whose leg goes short (an overdraft, or a debit that only an event of R had
-- funded).  Step 1 starts from R = {} and steps 2 and 3 refine it; step 4
-- proves it: when R3 = R4, every kept event keeps every balance >= 0 and
-- every event of R goes short against the balances the kept events leave,
-- so by induction over the batch order the outcome is exactly the
-- sequential one.  Three steps resolve up to three overdrafts of one
-- balance in a batch; beyond that the batch is not verified.
-- When verified, the statement applies the summed deltas of the kept events
-- with one upsert and inserts every decided event.  Duplicates (id already
-- recorded, or seen earlier in the batch) are skipped.
WITH fresh AS (
	SELECT DISTINCT ON (b.id) b.*
	FROM pg_temp.batch AS b
	WHERE NOT EXISTS (SELECT 1 FROM bench_axs.events AS x WHERE x.id = b.id)
	ORDER BY b.id, b.seq
),
legs AS MATERIALIZED (
	SELECT f.seq, l.account, l.currency, l.available, l.frozen
	FROM fresh AS f
	CROSS JOIN LATERAL (VALUES
		(f.account, CASE WHEN f.kind = 6 THEN f.quote ELSE f.currency END,
		 CASE f.kind WHEN 1 THEN f.amount WHEN 2 THEN -f.amount WHEN 3 THEN -f.amount
					 WHEN 4 THEN f.amount ELSE 0 END,
		 CASE f.kind WHEN 3 THEN f.amount WHEN 4 THEN -f.amount WHEN 6 THEN -f.quote_amount
					 ELSE 0 END),
		(CASE WHEN f.kind = 6 THEN f.account END, f.currency, f.amount, 0::bigint),
		(CASE WHEN f.kind = 6 THEN f.counterparty END, f.currency, 0::bigint, -f.amount),
		(CASE WHEN f.kind = 6 THEN f.counterparty END, f.quote, f.quote_amount, 0::bigint)
	) AS l(account, currency, available, frozen)
	WHERE l.account IS NOT NULL
),
opening AS MATERIALIZED (
	SELECT k.account, k.currency,
		   coalesce(b.available, 0) AS available, coalesce(b.frozen, 0) AS frozen
	FROM (SELECT DISTINCT account, currency FROM legs) AS k
	LEFT JOIN bench_axs.balances AS b ON b.account = k.account AND b.currency = k.currency
),
running1 AS (
	SELECT l.seq, l.account, l.currency, r.seq IS NOT NULL AS was_rejected,
		   o.available + sum(CASE WHEN r.seq IS NULL THEN l.available ELSE 0 END) OVER w
			 + CASE WHEN r.seq IS NULL THEN 0 ELSE l.available END < 0
		   OR o.frozen + sum(CASE WHEN r.seq IS NULL THEN l.frozen ELSE 0 END) OVER w
			 + CASE WHEN r.seq IS NULL THEN 0 ELSE l.frozen END < 0 AS short
	FROM legs AS l JOIN opening AS o USING (account, currency)
	LEFT JOIN (SELECT NULL::bigint AS seq) AS r ON false
	WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq)
),
rejected1 AS (
	SELECT seq FROM running1 WHERE was_rejected AND short
	UNION
	SELECT min(seq) FROM running1 WHERE NOT was_rejected AND short GROUP BY account, currency
),
running2 AS (
	SELECT l.seq, l.account, l.currency, r.seq IS NOT NULL AS was_rejected,
		   o.available + sum(CASE WHEN r.seq IS NULL THEN l.available ELSE 0 END) OVER w
			 + CASE WHEN r.seq IS NULL THEN 0 ELSE l.available END < 0
		   OR o.frozen + sum(CASE WHEN r.seq IS NULL THEN l.frozen ELSE 0 END) OVER w
			 + CASE WHEN r.seq IS NULL THEN 0 ELSE l.frozen END < 0 AS short
	FROM legs AS l JOIN opening AS o USING (account, currency)
	LEFT JOIN rejected1 AS r ON r.seq = l.seq
	WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq)
),
rejected2 AS (
	SELECT seq FROM running2 WHERE was_rejected AND short
	UNION
	SELECT min(seq) FROM running2 WHERE NOT was_rejected AND short GROUP BY account, currency
),
running3 AS (
	SELECT l.seq, l.account, l.currency, r.seq IS NOT NULL AS was_rejected,
		   o.available + sum(CASE WHEN r.seq IS NULL THEN l.available ELSE 0 END) OVER w
			 + CASE WHEN r.seq IS NULL THEN 0 ELSE l.available END < 0
		   OR o.frozen + sum(CASE WHEN r.seq IS NULL THEN l.frozen ELSE 0 END) OVER w
			 + CASE WHEN r.seq IS NULL THEN 0 ELSE l.frozen END < 0 AS short
	FROM legs AS l JOIN opening AS o USING (account, currency)
	LEFT JOIN rejected2 AS r ON r.seq = l.seq
	WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq)
),
rejected3 AS (
	SELECT seq FROM running3 WHERE was_rejected AND short
	UNION
	SELECT min(seq) FROM running3 WHERE NOT was_rejected AND short GROUP BY account, currency
),
running4 AS (
	SELECT l.seq, l.account, l.currency, r.seq IS NOT NULL AS was_rejected,
		   o.available + sum(CASE WHEN r.seq IS NULL THEN l.available ELSE 0 END) OVER w
			 + CASE WHEN r.seq IS NULL THEN 0 ELSE l.available END < 0
		   OR o.frozen + sum(CASE WHEN r.seq IS NULL THEN l.frozen ELSE 0 END) OVER w
			 + CASE WHEN r.seq IS NULL THEN 0 ELSE l.frozen END < 0 AS short
	FROM legs AS l JOIN opening AS o USING (account, currency)
	LEFT JOIN rejected3 AS r ON r.seq = l.seq
	WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq)
),
rejected4 AS (
	SELECT seq FROM running4 WHERE was_rejected AND short
	UNION
	SELECT min(seq) FROM running4 WHERE NOT was_rejected AND short GROUP BY account, currency
),
verdict AS MATERIALIZED (
	SELECT NOT EXISTS (SELECT seq FROM rejected3 EXCEPT SELECT seq FROM rejected4)
		   AND NOT EXISTS (SELECT seq FROM rejected4 EXCEPT SELECT seq FROM rejected3) AS verified
),
written AS (
	INSERT INTO bench_axs.balances AS b (account, currency, available, frozen)
	SELECT l.account, l.currency, sum(l.available), sum(l.frozen)
	FROM legs AS l
	WHERE (SELECT verified FROM verdict)
	  AND NOT EXISTS (SELECT 1 FROM rejected3 AS r WHERE r.seq = l.seq)
	GROUP BY l.account, l.currency
	ORDER BY l.account, l.currency
	ON CONFLICT (account, currency) DO UPDATE
		SET available = b.available + excluded.available, frozen = b.frozen + excluded.frozen
	RETURNING 1
),
recorded AS (
	INSERT INTO bench_axs.events (id, kind, account, counterparty, currency, quote, amount, quote_amount, applied)
	SELECT f.id, f.kind, f.account, f.counterparty, f.currency, f.quote, f.amount, f.quote_amount,
		   NOT EXISTS (SELECT 1 FROM rejected3 AS r WHERE r.seq = f.seq)
	FROM fresh AS f
	WHERE (SELECT verified FROM verdict)
	RETURNING applied
)
SELECT (SELECT verified FROM verdict),
	   (SELECT count(*) FROM recorded WHERE applied) AS applied,
	   (SELECT count(*) FROM recorded WHERE NOT applied) AS rejected,
	   (SELECT count(*) FROM pg_temp.batch) - (SELECT count(*) FROM fresh) AS duplicates,
	   (SELECT count(*) FROM written) AS balances_written
