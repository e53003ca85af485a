-- Indexes a DBA adds on the tables the applier writes with heap calls are
-- maintained (the history blocks and marks included): plain, partial and
-- expression indexes stay complete
-- (amcheck's heapallindexed check) and index scans find applied rows.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS axs CASCADE;
CREATE EXTENSION axs;
CREATE EXTENSION IF NOT EXISTS amcheck;
RESET client_min_messages;
SELECT axs.create_currency('USDT', 6) IS NOT NULL AS usdt, axs.create_currency('BTC', 8) IS NOT NULL AS btc;

CREATE INDEX event_log_by_id ON axs.event_log (id);
CREATE INDEX balances_by_currency ON axs.balances (currency, available);
CREATE INDEX balances_rich ON axs.balances (account) WHERE available > 1000;
CREATE INDEX outcome_blocks_last ON axs.outcome_blocks ((upper(ids)));
CREATE INDEX history_blocks_by_time ON axs.history_blocks (decided_at);

SELECT axs.start_applier() > 0 AS started;
-- new balance rows, then updates that change an indexed column (no HOT)
SELECT axs.submit_many(jsonb_agg(jsonb_build_object('id', g, 'kind', 'deposit', 'account', g,
		'currency', CASE WHEN g % 2 = 0 THEN 'USDT' ELSE 'BTC' END, 'amount', 500 + g * 10)))
	   AS position FROM generate_series(1, 300) AS g \gset
SELECT axs.wait(:position, 10000) AS applied;
SELECT axs.submit_many(jsonb_agg(jsonb_build_object('id', 1000 + g, 'kind', 'withdraw', 'account', g,
		'currency', CASE WHEN g % 2 = 0 THEN 'USDT' ELSE 'BTC' END, 'amount', 7)))
	   AS position FROM generate_series(1, 300) AS g \gset
SELECT axs.wait(:position, 10000) AS applied;
-- a synchronous change between batches
SELECT (axs.deposit(5000, 1, 'BTC', 1)).status;

SELECT c.relname, 'complete' AS heapallindexed
FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid JOIN pg_am AS a ON a.oid = c.relam,
	 LATERAL bt_index_check(c.oid, true)
WHERE i.indrelid IN ('axs.event_log'::regclass, 'axs.balances'::regclass, 'axs.outcome_blocks'::regclass,
					 'axs.history_blocks'::regclass, 'axs.history_marks'::regclass)
  AND a.amname = 'btree'
ORDER BY c.relname;

SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*) AS logged_by_index FROM axs.event_log WHERE id BETWEEN 1 AND 1300;
SELECT count(*) AS usdt_by_index FROM axs.balances WHERE currency = 1 AND available >= 0;
SELECT count(*) AS rich_by_index FROM axs.balances WHERE available > 1000 AND account > 0;
SELECT count(*) AS blocks_by_expression FROM axs.outcome_blocks WHERE upper(ids) > 0;
SELECT count(*) = (SELECT count(*) FROM axs.history_blocks) AS history_by_index
FROM axs.history_blocks WHERE decided_at > '2000-01-01';
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT count(*) FILTER (WHERE id BETWEEN 1 AND 1300) AS logged,
	   (SELECT count(*) FROM axs.balances WHERE currency = 1) AS usdt,
	   (SELECT count(*) FROM axs.balances WHERE available > 1000) AS rich
FROM axs.event_log;
SELECT * FROM axs.verify();

SELECT pg_terminate_backend(pid) FROM axs.applier_status WHERE pid IS NOT NULL;
