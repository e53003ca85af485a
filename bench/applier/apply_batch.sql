-- apply_batch.sql
--	The statement of the original AXS technique: it decides and applies the
--	events of pg_temp.batch (COPYed by the client; seq = order in the batch)
--	from seq $1 on, with the outcome of applying them one by one in seq
--	order, each event all or nothing (as axs's ledger core: the checks run
--	on every balance after all legs of the event).
--
-- Sufficiency is decided in SQL with window running sums per (account,
-- currency) in seq order over the events' legs, on top of the opening
-- balances.  Each step k takes R(k), a guess of the rejected events
-- (R(0) = none), computes for every leg the balance just before it with
-- R(k)'s deltas left out, and flags the events that go short (with their
-- own deltas added) and the events that find a balance already short
-- before them (in the shadow of an overdraft R(k) missed).  R(k+1) = the
-- events that go short from a balance that was not short: each step
-- resolves one more overdraft of a chain of overdrafts on one balance.  Up
-- to 16 steps; once R(k+1) = R(k), step k was the verification of R(k) and
-- the later steps only carry it on (their windows are skipped by one-time
-- filters), so a batch costs as many window passes as its longest chain.
-- The verification: an event outside R is confirmed when it leaves every
-- balance >= 0, an event of R when it goes short.  stop = the first
-- unconfirmed event.  By induction over seq, every event before stop is
-- decided exactly as applying one by one would decide it (the balances
-- just before it are the exact ones), so the statement applies the summed
-- deltas of the kept events before stop (UPDATE of existing rows + INSERT
-- of new ones; an upsert would check the CHECK constraints on the proposed
-- row of negative deltas) and records every event before stop in
-- bench_axs.events.  Running sums use bench_axs.int8_sum (bigint, not
-- numeric).
--
-- It returns stop, NULL when the whole rest of the batch was decided; the
-- client then runs it again from stop, in the same transaction.  The event
-- at stop is then the first one, decided against exact balances, so every
-- pass makes progress.  A batch takes more than one pass only when a
-- chain is longer than 16, or when a rejection changes a later decision
-- another way (a debit funded by a rejected credit).
--
-- Duplicates: an id already in bench_axs.events, or seen earlier in the
-- batch, is skipped and counted (only before stop, so no row is counted
-- twice over the passes).
WITH fresh AS MATERIALIZED (
	SELECT DISTINCT ON (b.id) b.*
	FROM pg_temp.batch AS b
	WHERE b.seq >= $1
	  AND NOT EXISTS (SELECT 1 FROM bench_axs.events AS x WHERE x.id = b.id)
	ORDER BY b.id, b.seq
),
-- The legs of each event, one row per balance (a trade between an account
-- and itself nets its two legs per currency into one).
raw_legs AS MATERIALIZED (
	SELECT seq, account, currency,
		   CASE kind WHEN 1 THEN amount WHEN 4 THEN amount ELSE -amount END AS available,
		   CASE kind WHEN 3 THEN amount WHEN 4 THEN -amount ELSE 0 END AS frozen
	FROM fresh WHERE kind <> 6
	UNION ALL	-- trade: the buyer's frozen quote pays
	SELECT seq, account, quote,
		   CASE WHEN counterparty = account THEN quote_amount ELSE 0 END, -quote_amount
	FROM fresh WHERE kind = 6
	UNION ALL	-- trade: the buyer receives the base
	SELECT seq, account, currency,
		   amount, CASE WHEN counterparty = account THEN -amount ELSE 0 END
	FROM fresh WHERE kind = 6
	UNION ALL	-- trade: the seller's frozen base is delivered
	SELECT seq, counterparty, currency, 0, -amount
	FROM fresh WHERE kind = 6 AND counterparty <> account
	UNION ALL	-- trade: the seller receives the quote
	SELECT seq, counterparty, quote, quote_amount, 0
	FROM fresh WHERE kind = 6 AND counterparty <> account
),
opening AS MATERIALIZED (
	SELECT k.account, k.currency, b.account IS NOT NULL AS existed,
		   coalesce(b.available, 0) AS available, coalesce(b.frozen, 0) AS frozen
	FROM (SELECT DISTINCT account, currency FROM raw_legs) AS k
	LEFT JOIN bench_axs.balances AS b ON b.account = k.account AND b.currency = k.currency
),
-- Each leg with its balance's opening values, in window order (the sorts
-- of the steps below then find their input already sorted).
legs AS MATERIALIZED (
	SELECT l.*, o.available AS open_available, o.frozen AS open_frozen
	FROM raw_legs AS l JOIN opening AS o USING (account, currency)
	ORDER BY l.account, l.currency, l.seq
),
rejected0 AS (
	SELECT NULL::bigint AS seq WHERE false
),
flags0 AS MATERIALIZED (
	SELECT seq,
		   open_available + before_available + available < 0
		   OR open_frozen + before_frozen + frozen < 0 AS short,
		   open_available + before_available < 0
		   OR open_frozen + before_frozen < 0 AS short_before
	FROM (SELECT l.seq, l.available, l.frozen, l.open_available, l.open_frozen,
				 bench_axs.int8_sum(kept_available) OVER w - kept_available AS before_available,
				 bench_axs.int8_sum(kept_frozen) OVER w - kept_frozen AS before_frozen
		  FROM (SELECT l.*, l.available AS kept_available,
					   l.frozen AS kept_frozen
				FROM legs AS l ) AS l
		  WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq ROWS UNBOUNDED PRECEDING)
		 ) AS running
	WHERE open_available + before_available + available < 0
	   OR open_frozen + before_frozen + frozen < 0
	   OR open_available + before_available < 0
	   OR open_frozen + before_frozen < 0
),
rejected1 AS MATERIALIZED (
	SELECT seq FROM flags0 GROUP BY seq HAVING bool_or(short) AND NOT bool_or(short_before)
),
done1 AS MATERIALIZED (
	SELECT (NOT EXISTS (SELECT seq FROM rejected1 EXCEPT SELECT seq FROM rejected0)
		 AND NOT EXISTS (SELECT seq FROM rejected0 EXCEPT SELECT seq FROM rejected1)) AS done
),
flags1 AS MATERIALIZED (
	SELECT seq,
		   open_available + before_available + available < 0
		   OR open_frozen + before_frozen + frozen < 0 AS short,
		   open_available + before_available < 0
		   OR open_frozen + before_frozen < 0 AS short_before
	FROM (SELECT l.seq, l.available, l.frozen, l.open_available, l.open_frozen,
				 bench_axs.int8_sum(kept_available) OVER w - kept_available AS before_available,
				 bench_axs.int8_sum(kept_frozen) OVER w - kept_frozen AS before_frozen
		  FROM (SELECT l.*, CASE WHEN l.seq IN (SELECT seq FROM rejected1) THEN 0 ELSE l.available END AS kept_available,
					   CASE WHEN l.seq IN (SELECT seq FROM rejected1) THEN 0 ELSE l.frozen END AS kept_frozen
				FROM legs AS l WHERE NOT (SELECT done FROM done1)) AS l
		  WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq ROWS UNBOUNDED PRECEDING)
		 ) AS running
	WHERE open_available + before_available + available < 0
	   OR open_frozen + before_frozen + frozen < 0
	   OR open_available + before_available < 0
	   OR open_frozen + before_frozen < 0
	UNION ALL
	SELECT * FROM flags0 WHERE (SELECT done FROM done1)
),
rejected2 AS MATERIALIZED (
	SELECT seq FROM flags1 GROUP BY seq HAVING bool_or(short) AND NOT bool_or(short_before)
),
done2 AS MATERIALIZED (
	SELECT (SELECT done FROM done1) OR (NOT EXISTS (SELECT seq FROM rejected2 EXCEPT SELECT seq FROM rejected1)
		 AND NOT EXISTS (SELECT seq FROM rejected1 EXCEPT SELECT seq FROM rejected2)) AS done
),
flags2 AS MATERIALIZED (
	SELECT seq,
		   open_available + before_available + available < 0
		   OR open_frozen + before_frozen + frozen < 0 AS short,
		   open_available + before_available < 0
		   OR open_frozen + before_frozen < 0 AS short_before
	FROM (SELECT l.seq, l.available, l.frozen, l.open_available, l.open_frozen,
				 bench_axs.int8_sum(kept_available) OVER w - kept_available AS before_available,
				 bench_axs.int8_sum(kept_frozen) OVER w - kept_frozen AS before_frozen
		  FROM (SELECT l.*, CASE WHEN l.seq IN (SELECT seq FROM rejected2) THEN 0 ELSE l.available END AS kept_available,
					   CASE WHEN l.seq IN (SELECT seq FROM rejected2) THEN 0 ELSE l.frozen END AS kept_frozen
				FROM legs AS l WHERE NOT (SELECT done FROM done2)) AS l
		  WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq ROWS UNBOUNDED PRECEDING)
		 ) AS running
	WHERE open_available + before_available + available < 0
	   OR open_frozen + before_frozen + frozen < 0
	   OR open_available + before_available < 0
	   OR open_frozen + before_frozen < 0
	UNION ALL
	SELECT * FROM flags1 WHERE (SELECT done FROM done2)
),
rejected3 AS MATERIALIZED (
	SELECT seq FROM flags2 GROUP BY seq HAVING bool_or(short) AND NOT bool_or(short_before)
),
done3 AS MATERIALIZED (
	SELECT (SELECT done FROM done2) OR (NOT EXISTS (SELECT seq FROM rejected3 EXCEPT SELECT seq FROM rejected2)
		 AND NOT EXISTS (SELECT seq FROM rejected2 EXCEPT SELECT seq FROM rejected3)) AS done
),
flags3 AS MATERIALIZED (
	SELECT seq,
		   open_available + before_available + available < 0
		   OR open_frozen + before_frozen + frozen < 0 AS short,
		   open_available + before_available < 0
		   OR open_frozen + before_frozen < 0 AS short_before
	FROM (SELECT l.seq, l.available, l.frozen, l.open_available, l.open_frozen,
				 bench_axs.int8_sum(kept_available) OVER w - kept_available AS before_available,
				 bench_axs.int8_sum(kept_frozen) OVER w - kept_frozen AS before_frozen
		  FROM (SELECT l.*, CASE WHEN l.seq IN (SELECT seq FROM rejected3) THEN 0 ELSE l.available END AS kept_available,
					   CASE WHEN l.seq IN (SELECT seq FROM rejected3) THEN 0 ELSE l.frozen END AS kept_frozen
				FROM legs AS l WHERE NOT (SELECT done FROM done3)) AS l
		  WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq ROWS UNBOUNDED PRECEDING)
		 ) AS running
	WHERE open_available + before_available + available < 0
	   OR open_frozen + before_frozen + frozen < 0
	   OR open_available + before_available < 0
	   OR open_frozen + before_frozen < 0
	UNION ALL
	SELECT * FROM flags2 WHERE (SELECT done FROM done3)
),
rejected4 AS MATERIALIZED (
	SELECT seq FROM flags3 GROUP BY seq HAVING bool_or(short) AND NOT bool_or(short_before)
),
done4 AS MATERIALIZED (
	SELECT (SELECT done FROM done3) OR (NOT EXISTS (SELECT seq FROM rejected4 EXCEPT SELECT seq FROM rejected3)
		 AND NOT EXISTS (SELECT seq FROM rejected3 EXCEPT SELECT seq FROM rejected4)) AS done
),
flags4 AS MATERIALIZED (
	SELECT seq,
		   open_available + before_available + available < 0
		   OR open_frozen + before_frozen + frozen < 0 AS short,
		   open_available + before_available < 0
		   OR open_frozen + before_frozen < 0 AS short_before
	FROM (SELECT l.seq, l.available, l.frozen, l.open_available, l.open_frozen,
				 bench_axs.int8_sum(kept_available) OVER w - kept_available AS before_available,
				 bench_axs.int8_sum(kept_frozen) OVER w - kept_frozen AS before_frozen
		  FROM (SELECT l.*, CASE WHEN l.seq IN (SELECT seq FROM rejected4) THEN 0 ELSE l.available END AS kept_available,
					   CASE WHEN l.seq IN (SELECT seq FROM rejected4) THEN 0 ELSE l.frozen END AS kept_frozen
				FROM legs AS l WHERE NOT (SELECT done FROM done4)) AS l
		  WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq ROWS UNBOUNDED PRECEDING)
		 ) AS running
	WHERE open_available + before_available + available < 0
	   OR open_frozen + before_frozen + frozen < 0
	   OR open_available + before_available < 0
	   OR open_frozen + before_frozen < 0
	UNION ALL
	SELECT * FROM flags3 WHERE (SELECT done FROM done4)
),
rejected5 AS MATERIALIZED (
	SELECT seq FROM flags4 GROUP BY seq HAVING bool_or(short) AND NOT bool_or(short_before)
),
done5 AS MATERIALIZED (
	SELECT (SELECT done FROM done4) OR (NOT EXISTS (SELECT seq FROM rejected5 EXCEPT SELECT seq FROM rejected4)
		 AND NOT EXISTS (SELECT seq FROM rejected4 EXCEPT SELECT seq FROM rejected5)) AS done
),
flags5 AS MATERIALIZED (
	SELECT seq,
		   open_available + before_available + available < 0
		   OR open_frozen + before_frozen + frozen < 0 AS short,
		   open_available + before_available < 0
		   OR open_frozen + before_frozen < 0 AS short_before
	FROM (SELECT l.seq, l.available, l.frozen, l.open_available, l.open_frozen,
				 bench_axs.int8_sum(kept_available) OVER w - kept_available AS before_available,
				 bench_axs.int8_sum(kept_frozen) OVER w - kept_frozen AS before_frozen
		  FROM (SELECT l.*, CASE WHEN l.seq IN (SELECT seq FROM rejected5) THEN 0 ELSE l.available END AS kept_available,
					   CASE WHEN l.seq IN (SELECT seq FROM rejected5) THEN 0 ELSE l.frozen END AS kept_frozen
				FROM legs AS l WHERE NOT (SELECT done FROM done5)) AS l
		  WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq ROWS UNBOUNDED PRECEDING)
		 ) AS running
	WHERE open_available + before_available + available < 0
	   OR open_frozen + before_frozen + frozen < 0
	   OR open_available + before_available < 0
	   OR open_frozen + before_frozen < 0
	UNION ALL
	SELECT * FROM flags4 WHERE (SELECT done FROM done5)
),
rejected6 AS MATERIALIZED (
	SELECT seq FROM flags5 GROUP BY seq HAVING bool_or(short) AND NOT bool_or(short_before)
),
done6 AS MATERIALIZED (
	SELECT (SELECT done FROM done5) OR (NOT EXISTS (SELECT seq FROM rejected6 EXCEPT SELECT seq FROM rejected5)
		 AND NOT EXISTS (SELECT seq FROM rejected5 EXCEPT SELECT seq FROM rejected6)) AS done
),
flags6 AS MATERIALIZED (
	SELECT seq,
		   open_available + before_available + available < 0
		   OR open_frozen + before_frozen + frozen < 0 AS short,
		   open_available + before_available < 0
		   OR open_frozen + before_frozen < 0 AS short_before
	FROM (SELECT l.seq, l.available, l.frozen, l.open_available, l.open_frozen,
				 bench_axs.int8_sum(kept_available) OVER w - kept_available AS before_available,
				 bench_axs.int8_sum(kept_frozen) OVER w - kept_frozen AS before_frozen
		  FROM (SELECT l.*, CASE WHEN l.seq IN (SELECT seq FROM rejected6) THEN 0 ELSE l.available END AS kept_available,
					   CASE WHEN l.seq IN (SELECT seq FROM rejected6) THEN 0 ELSE l.frozen END AS kept_frozen
				FROM legs AS l WHERE NOT (SELECT done FROM done6)) AS l
		  WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq ROWS UNBOUNDED PRECEDING)
		 ) AS running
	WHERE open_available + before_available + available < 0
	   OR open_frozen + before_frozen + frozen < 0
	   OR open_available + before_available < 0
	   OR open_frozen + before_frozen < 0
	UNION ALL
	SELECT * FROM flags5 WHERE (SELECT done FROM done6)
),
rejected7 AS MATERIALIZED (
	SELECT seq FROM flags6 GROUP BY seq HAVING bool_or(short) AND NOT bool_or(short_before)
),
done7 AS MATERIALIZED (
	SELECT (SELECT done FROM done6) OR (NOT EXISTS (SELECT seq FROM rejected7 EXCEPT SELECT seq FROM rejected6)
		 AND NOT EXISTS (SELECT seq FROM rejected6 EXCEPT SELECT seq FROM rejected7)) AS done
),
flags7 AS MATERIALIZED (
	SELECT seq,
		   open_available + before_available + available < 0
		   OR open_frozen + before_frozen + frozen < 0 AS short,
		   open_available + before_available < 0
		   OR open_frozen + before_frozen < 0 AS short_before
	FROM (SELECT l.seq, l.available, l.frozen, l.open_available, l.open_frozen,
				 bench_axs.int8_sum(kept_available) OVER w - kept_available AS before_available,
				 bench_axs.int8_sum(kept_frozen) OVER w - kept_frozen AS before_frozen
		  FROM (SELECT l.*, CASE WHEN l.seq IN (SELECT seq FROM rejected7) THEN 0 ELSE l.available END AS kept_available,
					   CASE WHEN l.seq IN (SELECT seq FROM rejected7) THEN 0 ELSE l.frozen END AS kept_frozen
				FROM legs AS l WHERE NOT (SELECT done FROM done7)) AS l
		  WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq ROWS UNBOUNDED PRECEDING)
		 ) AS running
	WHERE open_available + before_available + available < 0
	   OR open_frozen + before_frozen + frozen < 0
	   OR open_available + before_available < 0
	   OR open_frozen + before_frozen < 0
	UNION ALL
	SELECT * FROM flags6 WHERE (SELECT done FROM done7)
),
rejected8 AS MATERIALIZED (
	SELECT seq FROM flags7 GROUP BY seq HAVING bool_or(short) AND NOT bool_or(short_before)
),
done8 AS MATERIALIZED (
	SELECT (SELECT done FROM done7) OR (NOT EXISTS (SELECT seq FROM rejected8 EXCEPT SELECT seq FROM rejected7)
		 AND NOT EXISTS (SELECT seq FROM rejected7 EXCEPT SELECT seq FROM rejected8)) AS done
),
flags8 AS MATERIALIZED (
	SELECT seq,
		   open_available + before_available + available < 0
		   OR open_frozen + before_frozen + frozen < 0 AS short,
		   open_available + before_available < 0
		   OR open_frozen + before_frozen < 0 AS short_before
	FROM (SELECT l.seq, l.available, l.frozen, l.open_available, l.open_frozen,
				 bench_axs.int8_sum(kept_available) OVER w - kept_available AS before_available,
				 bench_axs.int8_sum(kept_frozen) OVER w - kept_frozen AS before_frozen
		  FROM (SELECT l.*, CASE WHEN l.seq IN (SELECT seq FROM rejected8) THEN 0 ELSE l.available END AS kept_available,
					   CASE WHEN l.seq IN (SELECT seq FROM rejected8) THEN 0 ELSE l.frozen END AS kept_frozen
				FROM legs AS l WHERE NOT (SELECT done FROM done8)) AS l
		  WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq ROWS UNBOUNDED PRECEDING)
		 ) AS running
	WHERE open_available + before_available + available < 0
	   OR open_frozen + before_frozen + frozen < 0
	   OR open_available + before_available < 0
	   OR open_frozen + before_frozen < 0
	UNION ALL
	SELECT * FROM flags7 WHERE (SELECT done FROM done8)
),
rejected9 AS MATERIALIZED (
	SELECT seq FROM flags8 GROUP BY seq HAVING bool_or(short) AND NOT bool_or(short_before)
),
done9 AS MATERIALIZED (
	SELECT (SELECT done FROM done8) OR (NOT EXISTS (SELECT seq FROM rejected9 EXCEPT SELECT seq FROM rejected8)
		 AND NOT EXISTS (SELECT seq FROM rejected8 EXCEPT SELECT seq FROM rejected9)) AS done
),
flags9 AS MATERIALIZED (
	SELECT seq,
		   open_available + before_available + available < 0
		   OR open_frozen + before_frozen + frozen < 0 AS short,
		   open_available + before_available < 0
		   OR open_frozen + before_frozen < 0 AS short_before
	FROM (SELECT l.seq, l.available, l.frozen, l.open_available, l.open_frozen,
				 bench_axs.int8_sum(kept_available) OVER w - kept_available AS before_available,
				 bench_axs.int8_sum(kept_frozen) OVER w - kept_frozen AS before_frozen
		  FROM (SELECT l.*, CASE WHEN l.seq IN (SELECT seq FROM rejected9) THEN 0 ELSE l.available END AS kept_available,
					   CASE WHEN l.seq IN (SELECT seq FROM rejected9) THEN 0 ELSE l.frozen END AS kept_frozen
				FROM legs AS l WHERE NOT (SELECT done FROM done9)) AS l
		  WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq ROWS UNBOUNDED PRECEDING)
		 ) AS running
	WHERE open_available + before_available + available < 0
	   OR open_frozen + before_frozen + frozen < 0
	   OR open_available + before_available < 0
	   OR open_frozen + before_frozen < 0
	UNION ALL
	SELECT * FROM flags8 WHERE (SELECT done FROM done9)
),
rejected10 AS MATERIALIZED (
	SELECT seq FROM flags9 GROUP BY seq HAVING bool_or(short) AND NOT bool_or(short_before)
),
done10 AS MATERIALIZED (
	SELECT (SELECT done FROM done9) OR (NOT EXISTS (SELECT seq FROM rejected10 EXCEPT SELECT seq FROM rejected9)
		 AND NOT EXISTS (SELECT seq FROM rejected9 EXCEPT SELECT seq FROM rejected10)) AS done
),
flags10 AS MATERIALIZED (
	SELECT seq,
		   open_available + before_available + available < 0
		   OR open_frozen + before_frozen + frozen < 0 AS short,
		   open_available + before_available < 0
		   OR open_frozen + before_frozen < 0 AS short_before
	FROM (SELECT l.seq, l.available, l.frozen, l.open_available, l.open_frozen,
				 bench_axs.int8_sum(kept_available) OVER w - kept_available AS before_available,
				 bench_axs.int8_sum(kept_frozen) OVER w - kept_frozen AS before_frozen
		  FROM (SELECT l.*, CASE WHEN l.seq IN (SELECT seq FROM rejected10) THEN 0 ELSE l.available END AS kept_available,
					   CASE WHEN l.seq IN (SELECT seq FROM rejected10) THEN 0 ELSE l.frozen END AS kept_frozen
				FROM legs AS l WHERE NOT (SELECT done FROM done10)) AS l
		  WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq ROWS UNBOUNDED PRECEDING)
		 ) AS running
	WHERE open_available + before_available + available < 0
	   OR open_frozen + before_frozen + frozen < 0
	   OR open_available + before_available < 0
	   OR open_frozen + before_frozen < 0
	UNION ALL
	SELECT * FROM flags9 WHERE (SELECT done FROM done10)
),
rejected11 AS MATERIALIZED (
	SELECT seq FROM flags10 GROUP BY seq HAVING bool_or(short) AND NOT bool_or(short_before)
),
done11 AS MATERIALIZED (
	SELECT (SELECT done FROM done10) OR (NOT EXISTS (SELECT seq FROM rejected11 EXCEPT SELECT seq FROM rejected10)
		 AND NOT EXISTS (SELECT seq FROM rejected10 EXCEPT SELECT seq FROM rejected11)) AS done
),
flags11 AS MATERIALIZED (
	SELECT seq,
		   open_available + before_available + available < 0
		   OR open_frozen + before_frozen + frozen < 0 AS short,
		   open_available + before_available < 0
		   OR open_frozen + before_frozen < 0 AS short_before
	FROM (SELECT l.seq, l.available, l.frozen, l.open_available, l.open_frozen,
				 bench_axs.int8_sum(kept_available) OVER w - kept_available AS before_available,
				 bench_axs.int8_sum(kept_frozen) OVER w - kept_frozen AS before_frozen
		  FROM (SELECT l.*, CASE WHEN l.seq IN (SELECT seq FROM rejected11) THEN 0 ELSE l.available END AS kept_available,
					   CASE WHEN l.seq IN (SELECT seq FROM rejected11) THEN 0 ELSE l.frozen END AS kept_frozen
				FROM legs AS l WHERE NOT (SELECT done FROM done11)) AS l
		  WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq ROWS UNBOUNDED PRECEDING)
		 ) AS running
	WHERE open_available + before_available + available < 0
	   OR open_frozen + before_frozen + frozen < 0
	   OR open_available + before_available < 0
	   OR open_frozen + before_frozen < 0
	UNION ALL
	SELECT * FROM flags10 WHERE (SELECT done FROM done11)
),
rejected12 AS MATERIALIZED (
	SELECT seq FROM flags11 GROUP BY seq HAVING bool_or(short) AND NOT bool_or(short_before)
),
done12 AS MATERIALIZED (
	SELECT (SELECT done FROM done11) OR (NOT EXISTS (SELECT seq FROM rejected12 EXCEPT SELECT seq FROM rejected11)
		 AND NOT EXISTS (SELECT seq FROM rejected11 EXCEPT SELECT seq FROM rejected12)) AS done
),
flags12 AS MATERIALIZED (
	SELECT seq,
		   open_available + before_available + available < 0
		   OR open_frozen + before_frozen + frozen < 0 AS short,
		   open_available + before_available < 0
		   OR open_frozen + before_frozen < 0 AS short_before
	FROM (SELECT l.seq, l.available, l.frozen, l.open_available, l.open_frozen,
				 bench_axs.int8_sum(kept_available) OVER w - kept_available AS before_available,
				 bench_axs.int8_sum(kept_frozen) OVER w - kept_frozen AS before_frozen
		  FROM (SELECT l.*, CASE WHEN l.seq IN (SELECT seq FROM rejected12) THEN 0 ELSE l.available END AS kept_available,
					   CASE WHEN l.seq IN (SELECT seq FROM rejected12) THEN 0 ELSE l.frozen END AS kept_frozen
				FROM legs AS l WHERE NOT (SELECT done FROM done12)) AS l
		  WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq ROWS UNBOUNDED PRECEDING)
		 ) AS running
	WHERE open_available + before_available + available < 0
	   OR open_frozen + before_frozen + frozen < 0
	   OR open_available + before_available < 0
	   OR open_frozen + before_frozen < 0
	UNION ALL
	SELECT * FROM flags11 WHERE (SELECT done FROM done12)
),
rejected13 AS MATERIALIZED (
	SELECT seq FROM flags12 GROUP BY seq HAVING bool_or(short) AND NOT bool_or(short_before)
),
done13 AS MATERIALIZED (
	SELECT (SELECT done FROM done12) OR (NOT EXISTS (SELECT seq FROM rejected13 EXCEPT SELECT seq FROM rejected12)
		 AND NOT EXISTS (SELECT seq FROM rejected12 EXCEPT SELECT seq FROM rejected13)) AS done
),
flags13 AS MATERIALIZED (
	SELECT seq,
		   open_available + before_available + available < 0
		   OR open_frozen + before_frozen + frozen < 0 AS short,
		   open_available + before_available < 0
		   OR open_frozen + before_frozen < 0 AS short_before
	FROM (SELECT l.seq, l.available, l.frozen, l.open_available, l.open_frozen,
				 bench_axs.int8_sum(kept_available) OVER w - kept_available AS before_available,
				 bench_axs.int8_sum(kept_frozen) OVER w - kept_frozen AS before_frozen
		  FROM (SELECT l.*, CASE WHEN l.seq IN (SELECT seq FROM rejected13) THEN 0 ELSE l.available END AS kept_available,
					   CASE WHEN l.seq IN (SELECT seq FROM rejected13) THEN 0 ELSE l.frozen END AS kept_frozen
				FROM legs AS l WHERE NOT (SELECT done FROM done13)) AS l
		  WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq ROWS UNBOUNDED PRECEDING)
		 ) AS running
	WHERE open_available + before_available + available < 0
	   OR open_frozen + before_frozen + frozen < 0
	   OR open_available + before_available < 0
	   OR open_frozen + before_frozen < 0
	UNION ALL
	SELECT * FROM flags12 WHERE (SELECT done FROM done13)
),
rejected14 AS MATERIALIZED (
	SELECT seq FROM flags13 GROUP BY seq HAVING bool_or(short) AND NOT bool_or(short_before)
),
done14 AS MATERIALIZED (
	SELECT (SELECT done FROM done13) OR (NOT EXISTS (SELECT seq FROM rejected14 EXCEPT SELECT seq FROM rejected13)
		 AND NOT EXISTS (SELECT seq FROM rejected13 EXCEPT SELECT seq FROM rejected14)) AS done
),
flags14 AS MATERIALIZED (
	SELECT seq,
		   open_available + before_available + available < 0
		   OR open_frozen + before_frozen + frozen < 0 AS short,
		   open_available + before_available < 0
		   OR open_frozen + before_frozen < 0 AS short_before
	FROM (SELECT l.seq, l.available, l.frozen, l.open_available, l.open_frozen,
				 bench_axs.int8_sum(kept_available) OVER w - kept_available AS before_available,
				 bench_axs.int8_sum(kept_frozen) OVER w - kept_frozen AS before_frozen
		  FROM (SELECT l.*, CASE WHEN l.seq IN (SELECT seq FROM rejected14) THEN 0 ELSE l.available END AS kept_available,
					   CASE WHEN l.seq IN (SELECT seq FROM rejected14) THEN 0 ELSE l.frozen END AS kept_frozen
				FROM legs AS l WHERE NOT (SELECT done FROM done14)) AS l
		  WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq ROWS UNBOUNDED PRECEDING)
		 ) AS running
	WHERE open_available + before_available + available < 0
	   OR open_frozen + before_frozen + frozen < 0
	   OR open_available + before_available < 0
	   OR open_frozen + before_frozen < 0
	UNION ALL
	SELECT * FROM flags13 WHERE (SELECT done FROM done14)
),
rejected15 AS MATERIALIZED (
	SELECT seq FROM flags14 GROUP BY seq HAVING bool_or(short) AND NOT bool_or(short_before)
),
done15 AS MATERIALIZED (
	SELECT (SELECT done FROM done14) OR (NOT EXISTS (SELECT seq FROM rejected15 EXCEPT SELECT seq FROM rejected14)
		 AND NOT EXISTS (SELECT seq FROM rejected14 EXCEPT SELECT seq FROM rejected15)) AS done
),
flags15 AS MATERIALIZED (
	SELECT seq,
		   open_available + before_available + available < 0
		   OR open_frozen + before_frozen + frozen < 0 AS short,
		   open_available + before_available < 0
		   OR open_frozen + before_frozen < 0 AS short_before
	FROM (SELECT l.seq, l.available, l.frozen, l.open_available, l.open_frozen,
				 bench_axs.int8_sum(kept_available) OVER w - kept_available AS before_available,
				 bench_axs.int8_sum(kept_frozen) OVER w - kept_frozen AS before_frozen
		  FROM (SELECT l.*, CASE WHEN l.seq IN (SELECT seq FROM rejected15) THEN 0 ELSE l.available END AS kept_available,
					   CASE WHEN l.seq IN (SELECT seq FROM rejected15) THEN 0 ELSE l.frozen END AS kept_frozen
				FROM legs AS l WHERE NOT (SELECT done FROM done15)) AS l
		  WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq ROWS UNBOUNDED PRECEDING)
		 ) AS running
	WHERE open_available + before_available + available < 0
	   OR open_frozen + before_frozen + frozen < 0
	   OR open_available + before_available < 0
	   OR open_frozen + before_frozen < 0
	UNION ALL
	SELECT * FROM flags14 WHERE (SELECT done FROM done15)
),
rejected16 AS MATERIALIZED (
	SELECT seq FROM flags15 GROUP BY seq HAVING bool_or(short) AND NOT bool_or(short_before)
),
done16 AS MATERIALIZED (
	SELECT (SELECT done FROM done15) OR (NOT EXISTS (SELECT seq FROM rejected16 EXCEPT SELECT seq FROM rejected15)
		 AND NOT EXISTS (SELECT seq FROM rejected15 EXCEPT SELECT seq FROM rejected16)) AS done
),
flags16 AS MATERIALIZED (
	SELECT seq,
		   open_available + before_available + available < 0
		   OR open_frozen + before_frozen + frozen < 0 AS short,
		   open_available + before_available < 0
		   OR open_frozen + before_frozen < 0 AS short_before
	FROM (SELECT l.seq, l.available, l.frozen, l.open_available, l.open_frozen,
				 bench_axs.int8_sum(kept_available) OVER w - kept_available AS before_available,
				 bench_axs.int8_sum(kept_frozen) OVER w - kept_frozen AS before_frozen
		  FROM (SELECT l.*, CASE WHEN l.seq IN (SELECT seq FROM rejected16) THEN 0 ELSE l.available END AS kept_available,
					   CASE WHEN l.seq IN (SELECT seq FROM rejected16) THEN 0 ELSE l.frozen END AS kept_frozen
				FROM legs AS l WHERE NOT (SELECT done FROM done16)) AS l
		  WINDOW w AS (PARTITION BY l.account, l.currency ORDER BY l.seq ROWS UNBOUNDED PRECEDING)
		 ) AS running
	WHERE open_available + before_available + available < 0
	   OR open_frozen + before_frozen + frozen < 0
	   OR open_available + before_available < 0
	   OR open_frozen + before_frozen < 0
	UNION ALL
	SELECT * FROM flags15 WHERE (SELECT done FROM done16)
),
rejected AS MATERIALIZED (
	SELECT seq FROM rejected16
),
stop AS MATERIALIZED (
	SELECT min(seq) AS seq FROM (
		SELECT seq FROM flags16 WHERE short AND seq NOT IN (SELECT seq FROM rejected)
		UNION ALL
		SELECT seq FROM rejected WHERE seq NOT IN (SELECT seq FROM flags16 WHERE short)
	) AS unconfirmed
),
deltas AS MATERIALIZED (
	SELECT l.account, l.currency, bench_axs.int8_sum(l.available) AS available, bench_axs.int8_sum(l.frozen) AS frozen
	FROM raw_legs AS l
	WHERE (l.seq < (SELECT seq FROM stop) OR (SELECT seq FROM stop) IS NULL)
	  AND l.seq NOT IN (SELECT seq FROM rejected)
	GROUP BY l.account, l.currency
),
updated AS (
	UPDATE bench_axs.balances AS b
	   SET available = b.available + d.available, frozen = b.frozen + d.frozen
	  FROM deltas AS d JOIN opening AS o USING (account, currency)
	 WHERE o.existed AND (d.available <> 0 OR d.frozen <> 0)
	   AND b.account = d.account AND b.currency = d.currency
	RETURNING 1
),
inserted AS (
	INSERT INTO bench_axs.balances (account, currency, available, frozen)
	SELECT d.account, d.currency, d.available, d.frozen
	FROM deltas AS d JOIN opening AS o USING (account, currency)
	WHERE NOT o.existed
	RETURNING 1
),
recorded AS (
	INSERT INTO bench_axs.events (id, kind, account, counterparty, currency, quote, amount, quote_amount, applied)
	SELECT f.id, f.kind, f.account, f.counterparty, f.currency, f.quote, f.amount, f.quote_amount,
		   f.seq NOT IN (SELECT seq FROM rejected)
	FROM fresh AS f
	WHERE f.seq < (SELECT seq FROM stop) OR (SELECT seq FROM stop) IS NULL
	RETURNING applied
)
SELECT (SELECT seq FROM stop) AS stop,
	   (SELECT count(*) FROM recorded WHERE applied) AS applied,
	   (SELECT count(*) FROM recorded WHERE NOT applied) AS rejected,
	   (SELECT count(*) FROM pg_temp.batch AS b
		 WHERE b.seq >= $1 AND (b.seq < (SELECT seq FROM stop) OR (SELECT seq FROM stop) IS NULL))
	   - (SELECT count(*) FROM recorded) AS duplicates,
	   (SELECT count(*) FROM updated) + (SELECT count(*) FROM inserted) AS balances_written
