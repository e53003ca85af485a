-- The outcome stream: every decision, on both paths, numbered once in the
-- order it was committed, with the message the outcome topic carries
-- (axs.outcomes_after); the numbering survives a takeover.
\i ../sql/include/fresh_ledger.sql
SELECT axs.create_currency('BTC', 8) IS NOT NULL AS btc, axs.create_currency('USDT', 6) IS NOT NULL AS usdt;
\set VERBOSITY default
\set SHOW_CONTEXT never
RESET ROLE;
CREATE ROLE regress_axs_nobody;
GRANT USAGE ON SCHEMA axs TO regress_axs_nobody;
CREATE ROLE regress_axs_reader IN ROLE axs_reader;
-- a message without its time (checked apart), for stable output
CREATE FUNCTION pg_temp.shown(message text) RETURNS jsonb
LANGUAGE sql AS $$ SELECT message::jsonb - 'decided_at' $$;

-- synchronous decisions wait for the applier to number them
SET ROLE regress_axs_app;
SELECT (axs.deposit(1, 7, 'USDT', 1000)).status;
SELECT (axs.withdraw(2, 7, 'USDT', 5000)).reason;
RESET ROLE;
SELECT count(*) AS numbered_without_applier FROM axs.outcomes_after(0, 10);
SELECT axs.start_applier() > 0 AS started;
SET ROLE regress_axs_reader;
SELECT seq, id, source_topic, source_partition, source_offset, queued_at IS NULL AS synchronous,
	   pg_temp.shown(message)
FROM axs.outcomes_after(0, 10, 10000);

-- a batch with every kind of outcome: applied and rejected ones are
-- numbered in queue order; a re-sent duplicate, an id reused with other
-- content and an invalid row are not
SET ROLE regress_axs_app;
SELECT axs.submit_many('[
  {"id":3,"kind":"freeze","account":7,"currency":"USDT","amount":600},
  {"id":4,"kind":"withdraw","account":7,"currency":"USDT","amount":401},
  {"id":1,"kind":"deposit","account":7,"currency":"USDT","amount":1000},
  {"id":5,"kind":"deposit","account":8,"currency":"BTC","amount":2},
  {"id":5,"kind":"deposit","account":8,"currency":"BTC","amount":2},
  {"id":6,"kind":"freeze","account":8,"currency":"BTC","amount":1},
  {"id":7,"kind":"trade","buyer":7,"seller":8,"base":"BTC","quote":"USDT","base_amount":1,"quote_amount":500,"seller_fee":1,"fee_account":1},
  {"id":8,"kind":"deposit","account":7,"currency":"DOGE","amount":1},
  {"id":1,"kind":"deposit","account":7,"currency":"USDT","amount":999}
]') AS position \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SET ROLE regress_axs_reader;
SELECT seq, id, queued_at IS NOT NULL AS queued, pg_temp.shown(message)
FROM axs.outcomes_after(2, 100);

-- a synchronous call between batches comes before the next batch
SET ROLE regress_axs_app;
SELECT (axs.unfreeze(9, 7, 'USDT', 100)).status;
SELECT axs.submit('{"id":10,"kind":"transfer","from":7,"to":9,"currency":"USDT","amount":50}') AS position \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SET ROLE regress_axs_reader;
SELECT seq, id, queued_at IS NULL AS synchronous, pg_temp.shown(message)
FROM axs.outcomes_after(8, 100, 10000);

-- paging: pages of 2 give every seq once, in order
WITH RECURSIVE pages(after, seqs) AS (
	SELECT 0::bigint, ARRAY[]::bigint[]
	UNION ALL
	SELECT p.last, pages.seqs || p.page
	FROM pages, LATERAL (SELECT max(o.seq) AS last, array_agg(o.seq ORDER BY o.seq) AS page
						 FROM axs.outcomes_after(pages.after, 2) AS o) AS p
	WHERE p.last IS NOT NULL
)
SELECT seqs FROM pages ORDER BY cardinality(seqs) DESC LIMIT 1;

-- each decided id once; statuses are axs.event_status's; the balances are
-- the history's rows of the event; decided_at is RFC 3339 in UTC
CREATE TEMP TABLE outcomes AS SELECT seq, id, message::jsonb AS m FROM axs.outcomes_after(0, 1000);
SELECT count(*) AS outcomes, count(DISTINCT id) AS ids, max(seq) AS last_seq,
	   (SELECT count(*) FROM axs.events WHERE status <> 'pending') AS decided
FROM outcomes;
SELECT count(*) AS status_differs
FROM outcomes AS o, axs.event_status(o.id) AS s
WHERE (o.m->>'status', o.m->>'reason') IS DISTINCT FROM (s.status, s.reason);
SELECT count(*) FILTER (WHERE m->>'decided_at' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$') AS rfc3339,
	   count(*) FILTER (WHERE (m->>'decided_at')::timestamptz BETWEEN now() - interval '1 hour' AND now()) AS recent
FROM outcomes;
(SELECT o.id, b->>'account' AS account, b->>'currency' AS currency,
		(b->>'available')::bigint AS available, (b->>'frozen')::bigint AS frozen
 FROM outcomes AS o, jsonb_array_elements(o.m->'balances') AS b)
EXCEPT
(SELECT h.event_id, a::text, h.currency, h.available, h.frozen
 FROM unnest(ARRAY[1, 7, 8, 9]::bigint[]) AS a, axs.history(a) AS h);
SELECT count(*) AS history_rows_not_in_messages FROM (
 SELECT h.event_id, a::text, h.currency, h.available, h.frozen
 FROM unnest(ARRAY[1, 7, 8, 9]::bigint[]) AS a, axs.history(a) AS h
 EXCEPT
 SELECT o.id, b->>'account', b->>'currency', (b->>'available')::bigint, (b->>'frozen')::bigint
 FROM outcomes AS o, jsonb_array_elements(o.m->'balances') AS b) AS missing;

-- a wait with nothing new returns no rows after the wait
SELECT count(*) AS nothing_new FROM axs.outcomes_after(1000, 10, 50);

-- bad arguments and roles without the right
SELECT * FROM axs.outcomes_after(-1, 10);
SELECT * FROM axs.outcomes_after(0, 0);
SELECT * FROM axs.outcomes_after(0, 100001);
SELECT * FROM axs.outcomes_after(0, 10, -1);
SET ROLE regress_axs_nobody;
SELECT * FROM axs.outcomes_after(0, 10);
RESET ROLE;

-- a takeover (a restarted applier) goes on numbering where the stream ends
SELECT decided_seq, sync_sequenced > 0 AS sync_numbered FROM axs.applier_state;
SELECT pg_terminate_backend(pid) FROM axs.applier_status WHERE fence_held;
UPDATE axs.applier_state SET decided_seq = 0, sync_sequenced = 0;	-- as after pg_restore: the row is not dumped
SELECT axs.start_applier() > 0 AS started;
SET ROLE regress_axs_app;
SELECT (axs.deposit(11, 7, 'BTC', 3)).status;
RESET ROLE;
SELECT seq, id, pg_temp.shown(message) FROM axs.outcomes_after(10, 10, 10000);
SELECT decided_seq FROM axs.applier_state;

DROP TABLE outcomes;

-- damage is reported, never read past: a block that does not decode, a
-- missing block, history that does not hold the event (XX001)
BEGIN;
UPDATE axs.outcome_stream SET entries = set_byte(entries, 0, 99) WHERE first_seq = 1;
SELECT count(*) FROM axs.outcomes_after(0, 10);
ROLLBACK;
BEGIN;
DELETE FROM axs.outcome_stream WHERE first_seq = 3;
SELECT count(*) FROM axs.outcomes_after(2, 10);
ROLLBACK;
\c
BEGIN;	-- (a new session: a session keeps the last unit it decoded)
DELETE FROM axs.history_blocks WHERE unit = (SELECT max(unit) FROM axs.history_blocks);
SELECT count(*) FROM axs.outcomes_after(10, 10);
ROLLBACK;
SELECT count(*) AS intact FROM axs.outcomes_after(0, 100);

-- axs.outcome_frames_after packs the same events for the publisher, in
-- rows of about 256 kB: decoded here field by field, they equal
-- axs.outcomes_after's rows, for an event from Kafka (queued as the feeder
-- queues one) and for the others; bad arguments and rights as above
INSERT INTO axs.inbox (event_id, payload, queued_at, source_topic, source_partition, source_offset)
SELECT 12, payload, now(), axs.source_topic('orders'), 3, 41 FROM axs.event_log WHERE id = 5;
-- a big-endian integer of the frames
CREATE FUNCTION pg_temp.int_at(frames bytea, at bigint, bytes int) RETURNS bigint
LANGUAGE sql AS $$
	SELECT ('x' || lpad(encode(substring(frames FROM at::int + 1 FOR bytes), 'hex'), 16, '0'))::bit(64)::bigint
$$;
SET ROLE regress_axs_app;
SELECT axs.submit_many(jsonb_agg(jsonb_build_object('id', 100 + e, 'kind', 'deposit', 'account', 7,
													'currency', 'USDT', 'amount', e)))
	AS position FROM generate_series(1, 1500) AS e \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SET ROLE regress_axs_reader;
CREATE TEMP TABLE frame_rows AS SELECT row_number() OVER () AS r, f FROM axs.outcome_frames_after(0, 10000) AS f;
SELECT count(*) > 1 AS several_rows, max(length(f)) < 300 * 1024 AS rows_near_256kb FROM frame_rows;
CREATE TEMP TABLE unpacked AS
WITH RECURSIVE frame(r, at, f) AS (
	SELECT r, 0::bigint, f FROM frame_rows
	UNION ALL
	SELECT r, at + 44 + pg_temp.int_at(f, at + 42, 2) + pg_temp.int_at(f, at + 36, 4), f FROM frame
	WHERE at + 44 + pg_temp.int_at(f, at + 42, 2) + pg_temp.int_at(f, at + 36, 4) < length(f)
)
SELECT pg_temp.int_at(f, at, 8) AS seq, pg_temp.int_at(f, at + 8, 8) AS id,
	   CASE WHEN flags & 1 = 1 THEN convert_from(substring(f FROM at::int + 45 FOR topic_length::int), 'UTF8') END AS source_topic,
	   CASE WHEN flags & 1 = 1 THEN pg_temp.int_at(f, at + 32, 4)::int END AS source_partition,
	   CASE WHEN flags & 1 = 1 THEN pg_temp.int_at(f, at + 24, 8) END AS source_offset,
	   CASE WHEN flags & 2 = 2 THEN pg_temp.int_at(f, at + 16, 8) END AS queued_at_us,
	   convert_from(substring(f FROM (at + 45 + topic_length)::int FOR pg_temp.int_at(f, at + 36, 4)::int), 'UTF8') AS message
FROM frame, LATERAL (SELECT pg_temp.int_at(f, at + 40, 2) AS flags, pg_temp.int_at(f, at + 42, 2) AS topic_length) AS h;
CREATE TEMP TABLE rows_after AS
SELECT seq, id, source_topic, source_partition, source_offset,
	   (extract(epoch FROM queued_at - timestamptz '2000-01-01 00:00:00+00') * 1000000)::bigint AS queued_at_us, message
FROM axs.outcomes_after(0, 10000);
SELECT (SELECT count(*) FROM unpacked) AS frames, (SELECT count(*) FROM rows_after) AS rows,
	   (SELECT count(*) FROM (TABLE unpacked EXCEPT TABLE rows_after) AS d) AS frames_not_rows,
	   (SELECT count(*) FROM (TABLE rows_after EXCEPT TABLE unpacked) AS d) AS rows_not_frames;
SELECT seq, id, source_topic, source_partition, source_offset, queued_at_us IS NOT NULL AS queued,
	   message::jsonb - 'decided_at' AS message
FROM unpacked WHERE id = 12;
SELECT count(*) AS seq_in_order FROM unpacked AS u
WHERE u.seq <> (SELECT count(*) FROM unpacked AS v WHERE v.seq <= u.seq);
SELECT count(*) AS nothing_new FROM axs.outcome_frames_after((SELECT max(seq) FROM unpacked), 10, 50);
SELECT * FROM axs.outcome_frames_after(-1, 10);
SELECT * FROM axs.outcome_frames_after(0, 100001);
SET ROLE regress_axs_nobody;
SELECT * FROM axs.outcome_frames_after(0, 10);
RESET ROLE;
DROP TABLE frame_rows, unpacked, rows_after;

-- a session keeps the currency codes and source topic names it has read,
-- and follows their tables: renamed in a transaction, the outcomes show
-- the new names; rolled back, the old ones
SELECT source_topic, message::jsonb #>> '{balances,0,currency}' AS currency
FROM axs.outcomes_after(0, 10000) WHERE id = 12;
BEGIN;
UPDATE axs.currencies SET code = 'XBT' WHERE code = 'BTC';
UPDATE axs.source_topics SET topic = 'orders.v2' WHERE topic = 'orders';
SELECT source_topic, message::jsonb #>> '{balances,0,currency}' AS currency
FROM axs.outcomes_after(0, 10000) WHERE id = 12;
SELECT count(*) AS frames_with_new_names
FROM axs.outcome_frames_after(0, 10000) AS f
WHERE position('orders.v2'::bytea IN f) > 0 AND position('"currency":"XBT"'::bytea IN f) > 0;
ROLLBACK;
SELECT source_topic, message::jsonb #>> '{balances,0,currency}' AS currency
FROM axs.outcomes_after(0, 10000) WHERE id = 12;

REVOKE USAGE ON SCHEMA axs FROM regress_axs_nobody;
DROP ROLE regress_axs_nobody, regress_axs_reader;
