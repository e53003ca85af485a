-- Per-account history on both paths: axs.history, axs.history_after,
-- axs.balance_at, and the history half of axs.verify.
\i ../sql/include/fresh_ledger.sql
SELECT axs.create_currency('BTC', 8) IS NOT NULL AS btc, axs.create_currency('USDT', 6) IS NOT NULL AS usdt;
RESET ROLE;
SELECT axs.start_applier() > 0 AS started;
CREATE ROLE regress_axs_nobody;

-- before any event: no rows, zeros
SET ROLE regress_axs_app;
SELECT count(*) FROM axs.history(7);
SELECT * FROM axs.balance_at(7, 'USDT', now());

-- the synchronous path: one row per event and currency that changed the
-- balance, with the balance after it; rejected events and events that
-- leave a balance as it was have none
SELECT (axs.deposit(1, 7, 'USDT', 1000)).status;
SELECT now() AS after_deposit \gset
SELECT pg_sleep(0.01);
SELECT (axs.freeze(2, 7, 'USDT', 300)).status;
SELECT (axs.withdraw(3, 7, 'USDT', 5000)).reason;
SELECT (axs.apply('{"id":4,"kind":"legs","legs":[{"account":7,"currency":"USDT","available":-3,"frozen":0},
												 {"account":7,"currency":"USDT","available":3,"frozen":0}]}')).status;
SELECT (axs.deposit(5, 8, 'BTC', 10)).status, (axs.freeze(50, 8, 'BTC', 2)).status;
SELECT (axs.trade(6, 7, 8, 'BTC', 'USDT', 2, 200)).status;
SELECT event_id, kind, currency, available_delta, frozen_delta, available, frozen
FROM axs.history(7);
SELECT event_id, kind, currency, available_delta, frozen_delta, available, frozen
FROM axs.history(8);
SELECT event_id, currency, available, frozen FROM axs.history(7, 'BTC');
-- an event's row has the time the event was decided
SELECT h.decided_at = e.recorded_at AS decided_at_logged
FROM axs.history(7, 'USDT') AS h JOIN axs.event_log AS e ON e.id = h.event_id WHERE h.event_id = 2;

-- the applier's path: a batch's rows share its decided_at, in queue order
SELECT axs.submit_many('[{"id":10,"kind":"unfreeze","account":7,"currency":"USDT","amount":100},
						 {"id":11,"kind":"withdraw","account":7,"currency":"BTC","amount":1},
						 {"id":12,"kind":"withdraw","account":7,"currency":"USDT","amount":99999},
						 {"id":13,"kind":"transfer","from":7,"to":8,"currency":"USDT","amount":50},
						 {"id":14,"kind":"deposit","account":7,"currency":"BTC","amount":4}]') AS position \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT event_id, kind, currency, available_delta, frozen_delta, available, frozen
FROM axs.history(7) WHERE event_id >= 10;
SELECT count(DISTINCT decided_at) AS batch_times FROM axs.history(7) WHERE event_id >= 10;
SELECT o.decided_at = h.decided_at AS decided_at_of_batch
FROM axs.history(7) AS h, axs.outcome_blocks AS o WHERE h.event_id = 13 AND o.ids @> 13::bigint;
SELECT event_id, currency, available, frozen FROM axs.history(8);

-- paging: pages of 2 walk the whole history without gaps or repeats; a page
-- of several currencies never ends inside an event's rows
SELECT event_id, currency FROM axs.history(7, NULL, max_rows => 2);
SELECT event_id, currency FROM axs.history_after(7, NULL, 2, 2);
SELECT event_id, currency FROM axs.history_after(7, NULL, 6, 2);
SELECT event_id, currency FROM axs.history_after(7, NULL, 10, 2);
SELECT event_id, currency FROM axs.history_after(7, NULL, 14, 2);
SELECT event_id FROM axs.history_after(7, 'USDT', 2, 1);
SELECT event_id FROM axs.history_after(7, 'USDT', 6, 100);
-- a page of three would split the trade: it takes the trade's other row too
SELECT event_id, currency FROM axs.history(7, max_rows => 3);
-- a page of one row that would split the trade holds the whole trade
SELECT event_id, currency FROM axs.history_after(7, NULL, 2, 1);

-- since and until: [since, until)
SELECT event_id FROM axs.history(7, 'USDT', since => :'after_deposit');
SELECT event_id FROM axs.history(7, 'USDT', until => :'after_deposit');
SELECT decided_at AS batch_time FROM axs.history(7) WHERE event_id = 10 \gset
SELECT event_id FROM axs.history(7, 'USDT', since => :'batch_time');
SELECT event_id FROM axs.history(7, 'USDT', until => :'batch_time');
SELECT event_id FROM axs.history(7, 'USDT', :'after_deposit', :'batch_time');

-- balance_at: before the first event, at an event, between events, now
SELECT * FROM axs.balance_at(7, 'USDT', '2000-01-01');
SELECT decided_at AS freeze_time FROM axs.history(7) WHERE event_id = 2 \gset
SELECT * FROM axs.balance_at(7, 'USDT', :'freeze_time');
SELECT * FROM axs.balance_at(7, 'USDT', :'freeze_time'::timestamptz - interval '1 microsecond');
SELECT * FROM axs.balance_at(7, 'USDT', :'batch_time'::timestamptz - interval '1 microsecond');
SELECT * FROM axs.balance_at(7, 'USDT', now() + interval '1 day');
SELECT * FROM axs.balance(7, 'USDT');
SELECT * FROM axs.balance_at(7, 'BTC', :'freeze_time');

-- bad arguments
SELECT * FROM axs.history(0);
SELECT * FROM axs.history(7, 'EUR');
SELECT * FROM axs.history(7, max_rows => -1);
SELECT * FROM axs.history(7, max_rows => 100001);
SELECT count(*) FROM axs.history(7, max_rows => 0);
SELECT * FROM axs.history_after(7, 'USDT', 999);
SELECT * FROM axs.history_after(7, 'USDT', 3);
SELECT * FROM axs.history_after(7, 'USDT', 5);
SELECT * FROM axs.history_after(7, 'USDT', NULL);
SELECT * FROM axs.balance_at(7, NULL, now());
SELECT * FROM axs.balance_at(7, 'USDT', NULL);

-- a long history: marks every 256 entries; seeks by time and paging cross them
SELECT axs.submit_many(jsonb_agg(jsonb_build_object('id', 1000 + i, 'kind', 'deposit', 'account', 9,
													'currency', 'USDT', 'amount', i)))
	   AS position FROM generate_series(1, 300) AS i \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT now() AS middle \gset
SELECT pg_sleep(0.01);
SELECT axs.submit_many(jsonb_agg(jsonb_build_object('id', 2000 + i, 'kind', 'withdraw', 'account', 9,
													'currency', 'USDT', 'amount', 1)))
	   AS position FROM generate_series(1, 300) AS i \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT count(*), min(event_id), max(event_id), sum(available_delta) FROM axs.history(9, max_rows => 100000);
SELECT event_id, available FROM axs.history(9, 'USDT', since => :'middle', max_rows => 2);
SELECT * FROM axs.balance_at(9, 'USDT', :'middle');
SELECT event_id, available FROM axs.history_after(9, 'USDT', 1255, 3);
RESET ROLE;
SELECT seqno FROM axs.history_marks WHERE account = 9 ORDER BY seqno;
SET ROLE regress_axs_app;
-- walking in pages of 7 gives every row once, in order
WITH RECURSIVE pages(n, last) AS (
	SELECT 1, (SELECT max(event_id) FILTER (WHERE event_id IS NOT NULL) FROM
			  (SELECT event_id FROM axs.history(9, 'USDT', max_rows => 7)) AS p)
	UNION ALL
	SELECT n + 1, (SELECT event_id FROM axs.history_after(9, 'USDT', last, 7) ORDER BY 1 DESC LIMIT 1)
	FROM pages WHERE last IS NOT NULL AND last <> 2300
)
SELECT count(*) AS pages, max(last) AS last_event FROM pages;

-- only readers read history
RESET ROLE;
GRANT USAGE ON SCHEMA axs TO regress_axs_nobody;
SET ROLE regress_axs_nobody;
SELECT * FROM axs.history(7);
SELECT * FROM axs.balance_at(7, 'USDT', now());
SELECT * FROM axs.history_after(7, 'USDT', 1);
RESET ROLE;

-- verify checks history: consistent now; a balance changed behind the
-- ledger's back disagrees with the log and with its history
SELECT count(*) AS problems FROM axs.verify();
SELECT count(*) AS history_problems FROM axs.history_verify();
UPDATE axs.balances SET available = available + 1 WHERE account = 8 AND currency = 2;
SELECT account, currency, expected_available, actual_available FROM axs.verify();
SELECT account, currency, expected_available, actual_available FROM axs.history_verify();
-- a history entry that does not add up: the chain check finds it
UPDATE axs.balances SET available = available - 1 WHERE account = 8 AND currency = 2;
CREATE TEMP TABLE saved AS SELECT * FROM axs.history_blocks;
UPDATE axs.history_blocks SET entries = overlay(entries PLACING '\x7f'::bytea FROM octet_length(entries))
WHERE block = (SELECT history_block FROM axs.balances WHERE account = 9);
SELECT account, currency FROM axs.history_verify();
SELECT count(*) FROM axs.history(9, max_rows => 100000);
UPDATE axs.history_blocks AS b SET entries = s.entries FROM saved AS s WHERE s.block = b.block;
-- a balance whose head claims more rows than its chain holds, or names a
-- block without its rows: reads stop with an error (XX001), never read past
\set VERBOSITY terse
UPDATE axs.balances SET history_seqno = history_seqno + 100 WHERE account = 9;
SELECT count(*) FROM axs.history(9, 'USDT', max_rows => 100000);
SELECT * FROM axs.balance_at(9, 'USDT', now());
UPDATE axs.balances SET history_seqno = history_seqno - 100, history_block = history_block - 1 WHERE account = 9;
SELECT count(*) FROM axs.history(9, 'USDT', max_rows => 100000);
UPDATE axs.balances SET history_block = history_block + 1 WHERE account = 9;
\set VERBOSITY default
SELECT count(*) FROM axs.history(9, 'USDT', max_rows => 100000);
SELECT count(*) AS problems FROM axs.verify();

-- reading all currencies collects max_rows + 1 rows of each before merging:
-- bounded to 1,000,000 in all (54000); one currency is not limited by that
SET ROLE regress_axs_admin;
SELECT count(axs.create_currency('C' || i, 2)) FROM generate_series(1, 9) AS i;
SET ROLE regress_axs_app;
SELECT count(axs.deposit(3000 + i, 7, 'C' || i, 1)) FROM generate_series(1, 9) AS i;
SELECT count(*) FROM axs.history(7, max_rows => 90000);
SELECT count(*) FROM axs.history(7, max_rows => 100000);
SELECT count(*) FROM axs.history_after(7, NULL, 1, 100000);
SELECT count(*) FROM axs.history(7, 'USDT', max_rows => 100000);
RESET ROLE;

-- stop the applier so the database can be dropped
SELECT pg_terminate_backend(pid) FROM axs.applier_status WHERE pid IS NOT NULL;
REVOKE USAGE ON SCHEMA axs FROM regress_axs_nobody;
DROP ROLE regress_axs_admin, regress_axs_app, regress_axs_nobody;
