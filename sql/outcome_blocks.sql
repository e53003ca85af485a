-- Idempotency of applier-decided events, which are indexed by id in
-- axs.outcome_blocks rather than by a per-row index of axs.event_log: every
-- id is decided once, whether it comes again through the queue or through
-- the synchronous API, in the same batch, a later one, or interleaved with
-- ids of other blocks.
\i ../sql/include/fresh_ledger.sql
SELECT axs.create_currency('USDT', 6) IS NOT NULL AS usdt;
RESET ROLE;
SELECT axs.start_applier() > 0 AS started;
-- an application submits, applies and reads from here on
SET ROLE regress_axs_app;

-- 3,000 even ids in one batch: deposits, and withdrawals of which every
-- tenth overdraws
SELECT axs.submit_many(jsonb_agg(
		CASE WHEN i % 3 = 0
			 THEN jsonb_build_object('id', 2 * i, 'kind', 'withdraw', 'account', 1 + i % 50, 'currency', 'USDT',
									 'amount', CASE WHEN i % 10 = 0 THEN 1000000 ELSE 1 END)
			 ELSE jsonb_build_object('id', 2 * i, 'kind', 'deposit', 'account', 1 + i % 50, 'currency', 'USDT',
									 'amount', 10) END ORDER BY i)) AS position
FROM generate_series(1, 3000) AS i \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT status, reason, count(*) FROM axs.events GROUP BY 1, 2 ORDER BY 1, 2;

-- the batch is spread over several blocks that do not overlap, and every
-- logged id is found in them with its logged outcome
SELECT count(*) > 1 AS several_blocks, bool_and(upper(ids) - 1 = last_id) AS last_id_is_upper_bound
FROM axs.outcome_blocks;
SELECT count(*) AS overlapping_pairs
FROM axs.outcome_blocks AS a JOIN axs.outcome_blocks AS b ON a.ctid < b.ctid AND a.ids && b.ids;
SELECT count(*) AS logged, count(*) FILTER (WHERE axs.decided_reason(id) = reason_code) AS found_with_reason
FROM axs.event_log;
SELECT axs.decided_reason(3) AS odd_id_unknown, axs.decided_reason(6002) AS above_all_unknown,
	   axs.decided_reason(-5) AS negative_unknown;
SELECT * FROM axs.event_status(20);
SELECT * FROM axs.event_status(21);

-- the odd ids in between are new, although each lies inside a block's id
-- range; the even ids come again, some with the same content (duplicates)
-- and some with other content (id_reused), all in one batch
SELECT decided_total AS decided_before, duplicates_total AS duplicates_before FROM axs.applier_state \gset
SELECT axs.submit_many(jsonb_agg(e ORDER BY n)) AS position
FROM (SELECT i AS n, jsonb_build_object('id', 2 * i - 1, 'kind', 'deposit', 'account', 100, 'currency', 'USDT',
										'amount', 1) AS e
	  FROM generate_series(1, 3000) AS i
	  UNION ALL
	  SELECT 3000 + i, jsonb_build_object('id', 2 * i, 'kind', 'deposit', 'account', 1 + i % 50, 'currency', 'USDT',
										  'amount', 10)
	  FROM generate_series(1, 3000, 7) AS i WHERE i % 3 <> 0
	  UNION ALL
	  SELECT 6000 + i, jsonb_build_object('id', 2 * i, 'kind', 'deposit', 'account', 1 + i % 50, 'currency', 'USDT',
										  'amount', 11)
	  FROM generate_series(2, 3000, 11) AS i WHERE i % 3 <> 0) AS q \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT * FROM axs.balance(100, 'USDT');
SELECT count(*) AS id_conflicts FROM axs.id_conflicts;
SELECT count(*) AS logged, count(DISTINCT id) AS distinct_ids FROM axs.event_log;
SELECT s.events_duplicate AS duplicates FROM axs.applier_stats() AS s WHERE s.fence_held;
-- the durable counts (axs.applier_state) moved by the same batch
SELECT decided_total - :decided_before AS decided, duplicates_total - :duplicates_before AS duplicates
FROM axs.applier_state;

-- the synchronous API sees the applier's outcomes: the same content gets
-- the logged outcome, other content is rejected as id_reused, and nothing
-- changes
SELECT * FROM axs.balance(3, 'USDT');
SELECT * FROM axs.deposit(4, 3, 'USDT', 10);
SELECT * FROM axs.withdraw(60, 31, 'USDT', 1000000);
SELECT * FROM axs.deposit(4, 3, 'USDT', 999);
SELECT * FROM axs.balance(3, 'USDT');

-- and the applier sees the synchronous API's: an id applied synchronously
-- and then queued is a duplicate (same content) or id_reused (other)
SELECT * FROM axs.deposit(100001, 7, 'USDT', 5);
SELECT axs.submit_many('[
  {"id":100001,"kind":"deposit","account":7,"currency":"USDT","amount":5},
  {"id":100001,"kind":"deposit","account":7,"currency":"USDT","amount":6},
  {"id":100002,"kind":"deposit","account":7,"currency":"USDT","amount":1}
]') AS position \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT id, status FROM axs.events WHERE id > 100000 ORDER BY id;
SELECT * FROM axs.balance(7, 'USDT');
SELECT count(*) AS id_conflicts FROM axs.id_conflicts;
SELECT * FROM axs.verify();

-- ids far apart (ids are positive bigints): one batch's block spans nearly
-- the whole range, and the next batch finds the old ids in it and applies
-- the new one between
SELECT axs.submit_many('[
  {"id":6001,"kind":"deposit","account":99,"currency":"USDT","amount":1},
  {"id":9223372036854775807,"kind":"deposit","account":99,"currency":"USDT","amount":1}
]') AS position \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT axs.submit_many('[
  {"id":9223372036854775807,"kind":"deposit","account":99,"currency":"USDT","amount":1},
  {"id":4611686018427387904,"kind":"deposit","account":99,"currency":"USDT","amount":1},
  {"id":6001,"kind":"deposit","account":99,"currency":"USDT","amount":1}
]') AS position \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT * FROM axs.balance(99, 'USDT');
SELECT ids, last_id FROM axs.outcome_blocks WHERE last_id = 9223372036854775807;
SELECT axs.decided_reason(6001) AS lowest, axs.decided_reason(4611686018427387904) AS between,
	   axs.decided_reason(9223372036854775807) AS highest, axs.decided_reason(6003) AS unknown;

-- stop the applier so the database can be dropped
RESET ROLE;
SELECT pg_terminate_backend(pid) FROM axs.applier_status WHERE pid IS NOT NULL;
RESET ROLE;
DROP ROLE regress_axs_admin, regress_axs_app;
