-- The queue: axs.submit / axs.submit_many validate at submit time, events are
-- pending until the applier decides them, axs.wait follows the applier.
\i ../sql/include/fresh_ledger.sql
SELECT axs.create_currency('BTC', 8) IS NOT NULL AS btc, axs.create_currency('USDT', 6) IS NOT NULL AS usdt;
\set VERBOSITY default
\set SHOW_CONTEXT never
-- turn the applier off and wait until it has released the fence
\set disable_applier 'ALTER SYSTEM SET axs.applier_enabled = off; SELECT pg_reload_conf() AS reloaded; DO $$ BEGIN FOR i IN 1..100 LOOP EXIT WHEN NOT (SELECT fence_held FROM axs.applier_status); PERFORM pg_sleep(0.1); END LOOP; END $$;'

-- an application submits; bad input is refused at submit time and queues nothing
SET ROLE regress_axs_app;
SELECT axs.submit('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":0}');
SELECT axs.submit_many('[{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":5},{"id":2,"kind":"deposit"}]');
SELECT axs.submit_many('{"id":1}');
-- (only the superuser reads the inbox itself)
RESET ROLE;
SELECT count(*) AS queued FROM axs.inbox;
SET ROLE regress_axs_app;

-- queued events are pending until applied (seen here before commit)
BEGIN;
SELECT axs.submit('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":100}') AS position \gset
SELECT * FROM axs.event_status(1);
SELECT id, kind, status FROM axs.events;
COMMIT;

-- start an applier for this database (the superuser's act) and wait for it
RESET ROLE;
SELECT axs.start_applier() > 0 AS started;
SET ROLE regress_axs_app;
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT * FROM axs.event_status(1);
SELECT * FROM axs.balance(42, 'USDT');

-- a batch with every kind of outcome: applied, rejected, duplicate, id_reused
SELECT axs.submit_many('[
  {"id":2,"kind":"freeze","account":42,"currency":"USDT","amount":60},
  {"id":3,"kind":"withdraw","account":42,"currency":"USDT","amount":41},
  {"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":100},
  {"id":4,"kind":"deposit","account":43,"currency":"BTC","amount":2},
  {"id":4,"kind":"deposit","account":43,"currency":"BTC","amount":2},
  {"id":5,"kind":"freeze","account":43,"currency":"BTC","amount":1},
  {"id":6,"kind":"trade","buyer":42,"seller":43,"base":"BTC","quote":"USDT","base_amount":1,"quote_amount":50,"seller_fee":1,"fee_account":1},
  {"id":7,"kind":"deposit","account":42,"currency":"DOGE","amount":1},
  {"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":999},
  {"id":8,"kind":"unfreeze","account":42,"currency":"USDT","amount":10}
]') AS position \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT id, kind, status, reason, queue_position IS NOT NULL AS queued FROM axs.events ORDER BY id;
SELECT id, payload IS NOT NULL AS has_payload FROM axs.id_conflicts;
SELECT * FROM axs.balances(42);
SELECT * FROM axs.balances(43);
SELECT * FROM axs.balances(1);
SELECT * FROM axs.verify();

-- the applier remembers where balance rows live: a rewrite of the table
-- moves them, and a synchronous change between batches replaces them
RESET ROLE;
VACUUM FULL axs.balances;
SELECT axs.submit('{"id":9,"kind":"deposit","account":42,"currency":"USDT","amount":5}') AS position \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT * FROM axs.balances(42);
SELECT (axs.deposit(10, 43, 'USDT', 7)).status;
SELECT axs.submit('{"id":11,"kind":"withdraw","account":43,"currency":"USDT","amount":56}') AS position \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT * FROM axs.balances(43);
SELECT * FROM axs.verify();

-- a payload the applier cannot decode (only a writer of the inbox, such as
-- the feeder's role, can queue one) is kept as a dead letter, not decided,
-- and the applier goes on
INSERT INTO axs.inbox (event_id, payload) VALUES (12, '\x0163');
-- no valid event is longer than 1024 bytes: the inbox refuses such a payload
\set VERBOSITY terse
INSERT INTO axs.inbox (event_id, payload) VALUES (14, decode(repeat('01', 1025), 'hex'));
\set VERBOSITY default
SELECT axs.submit('{"id":13,"kind":"deposit","account":43,"currency":"USDT","amount":3}') AS position \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT id, status, reason, event FROM axs.events WHERE id IN (12, 13) ORDER BY id;
-- the row that is no event is a dead letter, and its id stays free
SELECT topic, partition, "offset" > 0 AS at_its_position, raw, reason FROM axs.dead_letters;

-- events with the most legs (16 each), many in one batch: every leg of
-- every event lands (each moves 1 USDT from each even account to the next
-- lower odd one)
SELECT count(*) FILTER (WHERE (axs.deposit(2000 + a, 1000 + a, 'USDT', 1000)).status = 'applied') AS funded
FROM generate_series(2, 16, 2) AS a;
SELECT axs.submit_many(jsonb_agg(jsonb_build_object('id', 1000 + e, 'kind', 'legs', 'legs',
		(SELECT jsonb_agg(jsonb_build_object('account', 1000 + l, 'currency', 'USDT',
											 'available', CASE WHEN l % 2 = 1 THEN 1 ELSE -1 END))
		 FROM generate_series(1, 16) AS l))))
	   AS position
FROM generate_series(1, 500) AS e \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT count(*) AS accounts, min(available) AS least, max(available) AS most
FROM axs.balances WHERE account BETWEEN 1001 AND 1016;
SELECT status, count(*) FROM axs.events WHERE id BETWEEN 1001 AND 1500 GROUP BY status;

-- inbox segments (2^18 positions each): a batch across a boundary reads
-- the end of one segment and the start of the next; once a segment is all
-- applied, the janitor worker empties it in place, its BRIN summaries
-- first (here one, made by hand); a jump over whole segments (here by
-- setval) is found too
CREATE EXTENSION pageinspect;
SELECT relfilenode AS segment_0_file FROM pg_class WHERE oid = 'axs.inbox_0'::regclass \gset
SELECT brin_summarize_range('axs.inbox_0_position', 0) >= 0 AS summarized;
-- (a revmap entry never used is (0,0), a desummarized one is invalid)
SELECT count(*) FILTER (WHERE pages NOT IN ('(0,0)', '(4294967295,0)')) AS segment_0_summaries
FROM brin_revmap_data(get_raw_page('axs.inbox_0_position', 1));
SELECT setval('axs.inbox_position_seq', 262138) IS NOT NULL AS moved;
SELECT axs.submit_many(jsonb_agg(jsonb_build_object('id', 5000 + g, 'kind', 'deposit', 'account', 77,
												   'currency', 'USDT', 'amount', 1)))
	   AS position
FROM generate_series(1, 20) AS g \gset
SELECT :position AS last_position, axs.wait(:position, 10000) AS applied_in_time;
SELECT * FROM axs.balance(77, 'USDT');
-- (poll the file only: a lock on the segment would make the janitor leave
-- it for later)
DO $$
BEGIN
	FOR i IN 1..100 LOOP
		EXIT WHEN (pg_stat_file(pg_relation_filepath('axs.inbox_0'))).size = 0;
		PERFORM pg_sleep(0.1);
	END LOOP;
END
$$;
SELECT count(*) AS rows_left_in_segment_0, pg_relation_size('axs.inbox_0') AS bytes_left
FROM axs.inbox_0;
SELECT relfilenode = :segment_0_file AS same_file FROM pg_class WHERE oid = 'axs.inbox_0'::regclass;
SELECT count(*) FILTER (WHERE pages NOT IN ('(0,0)', '(4294967295,0)')) AS segment_0_summaries
FROM brin_revmap_data(get_raw_page('axs.inbox_0_position', 1));
SELECT setval('axs.inbox_position_seq', 3 * 262144 + 5) IS NOT NULL AS jumped;
SELECT axs.submit('{"id":5100,"kind":"deposit","account":77,"currency":"USDT","amount":1}') AS position \gset
SELECT :position AS position, axs.wait(:position, 10000) AS applied_in_time;
SELECT * FROM axs.balance(77, 'USDT');

-- positions that wrap around the 64 segments: one transaction queues a row
-- in this segment, one in the next, and one a lap later in this segment
-- again; the applier takes them in position order (so the withdrawal finds
-- too little), none passed over
BEGIN;
SELECT axs.submit('{"id":5101,"kind":"deposit","account":77,"currency":"USDT","amount":10}') AS first_position \gset
SELECT setval('axs.inbox_position_seq', 4 * 262144) IS NOT NULL AS next_segment;
SELECT axs.submit('{"id":5102,"kind":"withdraw","account":77,"currency":"USDT","amount":120}') IS NOT NULL AS queued;
SELECT setval('axs.inbox_position_seq', (3 + 64) * 262144 + 10) IS NOT NULL AS next_lap;
SELECT axs.submit('{"id":5103,"kind":"deposit","account":77,"currency":"USDT","amount":100}') AS position \gset
COMMIT;
SELECT (:first_position >> 18) % 64 = (:position >> 18) % 64 AS same_segment,
	   axs.wait(:position, 10000) AS applied_in_time;
SELECT e.id, s.status, s.reason FROM (VALUES (5101), (5102), (5103)) AS e(id),
	LATERAL axs.event_status(e.id) AS s ORDER BY e.id;
SELECT * FROM axs.balance(77, 'USDT');

-- a gap of 150,000 positions inside one segment, longer than the applier's
-- read window (axs.applier_batch_size, 100,000): it looks past the window
SELECT setval('axs.inbox_position_seq', :position + 150000) IS NOT NULL AS gap;
SELECT axs.submit('{"id":5104,"kind":"deposit","account":77,"currency":"USDT","amount":1000}') AS position \gset
SELECT (:position >> 18) % 64 = ((:position - 150001) >> 18) % 64 AS same_segment,
	   axs.wait(:position, 10000) AS applied_in_time;
SELECT * FROM axs.balance(77, 'USDT');

-- a gap inside a read window, with more rows of the segment beyond the
-- window and rows in the next segment: those beyond the window come first
-- (account 78: deposits of 1, 1 and 100, then a withdrawal of 100 that only
-- the third deposit makes possible)
SELECT setval('axs.inbox_position_seq', ((:position >> 18) + 1) << 18) IS NOT NULL AS next_segment;
SELECT axs.submit('{"id":5105,"kind":"deposit","account":78,"currency":"USDT","amount":1}') AS base \gset
SELECT axs.wait(:base, 10000) AS applied_in_time;
BEGIN;
SELECT setval('axs.inbox_position_seq', :base + 10) IS NOT NULL AS gap_in_window;
SELECT axs.submit('{"id":5106,"kind":"deposit","account":78,"currency":"USDT","amount":1}') IS NOT NULL AS queued;
SELECT setval('axs.inbox_position_seq', :base + 100050) IS NOT NULL AS beyond_window;
SELECT axs.submit('{"id":5107,"kind":"deposit","account":78,"currency":"USDT","amount":100}') IS NOT NULL AS queued;
SELECT setval('axs.inbox_position_seq', :base - 1 + 262144) IS NOT NULL AS next_segment;
SELECT axs.submit('{"id":5108,"kind":"withdraw","account":78,"currency":"USDT","amount":100}') AS position \gset
COMMIT;
SELECT (:position >> 18) = (:base >> 18) + 1 AS in_next_segment, axs.wait(:position, 10000) AS applied_in_time;
SELECT e.id, s.status, s.reason FROM generate_series(5105, 5108) AS e(id),
	LATERAL axs.event_status(e.id) AS s ORDER BY e.id;
SELECT * FROM axs.balance(78, 'USDT');

-- a takeover with a backlog over five segments: the applier first truncates
-- the applied segments, and none of those the backlog is in (account 79:
-- three deposits of 1, each in a segment of its own, then a withdrawal of 3)
SELECT decided_total AS decided_before FROM axs.applier_state \gset
:disable_applier
SELECT fence_held FROM axs.applier_status;
SELECT setval('axs.inbox_position_seq', ((:position >> 18) + 1) << 18) IS NOT NULL AS next_segment;
SELECT axs.submit('{"id":5109,"kind":"deposit","account":79,"currency":"USDT","amount":1}') AS base \gset
SELECT setval('axs.inbox_position_seq', ((:base >> 18) + 1) << 18) IS NOT NULL AS next_segment;
SELECT axs.submit('{"id":5110,"kind":"deposit","account":79,"currency":"USDT","amount":1}') IS NOT NULL AS queued;
SELECT setval('axs.inbox_position_seq', ((:base >> 18) + 2) << 18) IS NOT NULL AS next_segment;
SELECT axs.submit('{"id":5111,"kind":"deposit","account":79,"currency":"USDT","amount":1}') IS NOT NULL AS queued;
SELECT setval('axs.inbox_position_seq', ((:base >> 18) + 3) << 18) IS NOT NULL AS next_segment;
SELECT axs.submit('{"id":5112,"kind":"withdraw","account":79,"currency":"USDT","amount":3}') AS position \gset
ALTER SYSTEM RESET axs.applier_enabled;
SELECT pg_reload_conf();
SELECT (:position >> 18) = (:base >> 18) + 3 AS three_segments_on, axs.wait(:position, 10000) AS applied_in_time;
SELECT e.id, s.status, s.reason FROM generate_series(5109, 5112) AS e(id),
	LATERAL axs.event_status(e.id) AS s ORDER BY e.id;
SELECT * FROM axs.balance(79, 'USDT');

-- an emptied segment takes rows again in a later lap (segment 0, two laps
-- on): the sessions that wrote its old blocks, this one included, append
-- from its new start, and the applier reads them
SELECT setval('axs.inbox_position_seq', 2 * 64 * 262144) IS NOT NULL AS segment_0_two_laps_on;
SELECT axs.submit_many(jsonb_agg(jsonb_build_object('id', 5112 + g, 'kind', 'deposit', 'account', 79,
												   'currency', 'USDT', 'amount', 1)))
	   AS position
FROM generate_series(1, 3) AS g \gset
SELECT (:position >> 18) % 64 AS segment, axs.wait(:position, 10000) AS applied_in_time;
SELECT e.id, s.status, s.reason FROM generate_series(5113, 5115) AS e(id),
	LATERAL axs.event_status(e.id) AS s ORDER BY e.id;
SELECT * FROM axs.balance(79, 'USDT');
SELECT count(*) AS rows_in_segment_0, min(ctid) AS first_row FROM axs.inbox_0;

-- the applier's status
SELECT pid IS NOT NULL AS running, fence_held, batches >= 2 AS batches, events_applied, events_rejected,
	   events_duplicate, queue_depth, watermark = :position AS caught_up
FROM axs.applier_status;
-- the durable count goes on across the takeover: 5109 to 5115
SELECT decided_total - :decided_before AS decided_since_before_the_takeover FROM axs.applier_status;

-- a position not handed out yet is an error, not a wait
SELECT axs.wait(:position + 1000, 200) AS reached;
-- waiting on a position this very transaction queued fails at once (55000)
BEGIN;
SELECT axs.wait(axs.submit('{"id":5200,"kind":"deposit","account":79,"currency":"USDT","amount":1}'), 5000);
ROLLBACK;
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- a timeout when a handed-out position is not applied in time
:disable_applier
SELECT axs.submit('{"id":5201,"kind":"deposit","account":79,"currency":"USDT","amount":1}') AS position \gset
SELECT axs.wait(:position, 200) AS reached;
ALTER SYSTEM RESET axs.applier_enabled;
SELECT pg_reload_conf();
SELECT axs.wait(:position, 10000) AS reached;

-- stop the applier so the database can be dropped
SELECT pg_terminate_backend(pid) FROM axs.applier_status WHERE pid IS NOT NULL;
RESET ROLE;
DROP ROLE regress_axs_admin, regress_axs_app;
