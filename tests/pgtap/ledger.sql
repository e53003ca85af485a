-- ledger.sql
--	pgTAP tests of the axs catalogue (functions, views, balance columns), of
--	balances after a scripted sequence, of malformed input, of axs.verify()
--	catching a corrupted balance, and of the privileges of axs_app.
--
-- Run by pg_prove in a database where pgtap and axs are already created
-- (scripts/test.sh).  Everything happens in one transaction that is rolled
-- back, so it leaves the database (and the cluster's roles) as it found it.
-- No applier runs in this database: queued events stay pending.

BEGIN;
SET LOCAL client_min_messages = warning;

SELECT plan(130);

---------------------------------------------------------------------------
-- Catalogue: every public function with its exact signature, and no others
---------------------------------------------------------------------------

SELECT functions_are('axs', ARRAY[
	'apply', 'applier_stats', 'balance', 'balance_at', 'balances', 'cache_invalidate', 'create_currency',
	'decided_reason', 'deposit', 'event_json', 'event_legs', 'event_status', 'feeder_advance',
	'feeder_rewind', 'freeze', 'history', 'history_after', 'history_verify',
	'inbox_append_guard', 'outcome_frames_after', 'outcome_publisher_try_lock', 'outcomes_after',
	'outcomes_published',
	'resume_account', 'set_credit_limit', 'start_applier', 'submit', 'submit_many',
	'source_topic', 'suspend_account', 'trade', 'transfer', 'unfreeze', 'verify', 'wait', 'withdraw'],
	'schema axs has exactly the documented functions');

SELECT has_function('axs', 'apply', ARRAY['jsonb'], 'axs.apply(jsonb)');
SELECT has_function('axs', 'deposit', ARRAY['bigint', 'bigint', 'text', 'bigint'], 'axs.deposit(bigint, bigint, text, bigint)');
SELECT has_function('axs', 'withdraw', ARRAY['bigint', 'bigint', 'text', 'bigint'], 'axs.withdraw(bigint, bigint, text, bigint)');
SELECT has_function('axs', 'freeze', ARRAY['bigint', 'bigint', 'text', 'bigint'], 'axs.freeze(bigint, bigint, text, bigint)');
SELECT has_function('axs', 'unfreeze', ARRAY['bigint', 'bigint', 'text', 'bigint'], 'axs.unfreeze(bigint, bigint, text, bigint)');
SELECT has_function('axs', 'transfer', ARRAY['bigint', 'bigint', 'bigint', 'text', 'bigint'], 'axs.transfer(bigint, bigint, bigint, text, bigint)');
SELECT has_function('axs', 'trade',
	ARRAY['bigint', 'bigint', 'bigint', 'text', 'text', 'bigint', 'bigint', 'bigint', 'bigint', 'bigint'],
	'axs.trade(bigint, bigint, bigint, text, text, bigint, bigint, bigint, bigint, bigint)');
SELECT has_function('axs', 'submit', ARRAY['jsonb'], 'axs.submit(jsonb)');
SELECT has_function('axs', 'submit_many', ARRAY['jsonb'], 'axs.submit_many(jsonb)');
SELECT has_function('axs', 'wait', ARRAY['bigint', 'integer'], 'axs.wait(bigint, integer)');
SELECT has_function('axs', 'start_applier', ARRAY[]::name[], 'axs.start_applier()');
SELECT has_function('axs', 'applier_stats', ARRAY[]::name[], 'axs.applier_stats()');
SELECT has_function('axs', 'create_currency', ARRAY['text', 'integer'], 'axs.create_currency(text, integer)');
SELECT has_function('axs', 'balance', ARRAY['bigint', 'text'], 'axs.balance(bigint, text)');
SELECT has_function('axs', 'balances', ARRAY['bigint'], 'axs.balances(bigint)');
SELECT has_function('axs', 'event_status', ARRAY['bigint'], 'axs.event_status(bigint)');
SELECT has_function('axs', 'event_json', ARRAY['bigint', 'bytea'], 'axs.event_json(bigint, bytea)');
SELECT has_function('axs', 'event_legs', ARRAY['bigint', 'bytea'], 'axs.event_legs(bigint, bytea)');
SELECT has_function('axs', 'verify', ARRAY[]::name[], 'axs.verify()');
SELECT has_function('axs', 'feeder_advance', ARRAY['text', 'integer', 'bigint', 'bigint'], 'axs.feeder_advance(text, integer, bigint, bigint)');
SELECT has_function('axs', 'inbox_append_guard', ARRAY[]::name[], 'axs.inbox_append_guard()');
SELECT has_function('axs', 'set_credit_limit', ARRAY['bigint', 'text', 'bigint'], 'axs.set_credit_limit(bigint, text, bigint)');
SELECT has_function('axs', 'suspend_account', ARRAY['bigint', 'text'], 'axs.suspend_account(bigint, text)');
SELECT has_function('axs', 'resume_account', ARRAY['bigint'], 'axs.resume_account(bigint)');
SELECT has_function('axs', 'history', ARRAY['bigint', 'text', 'timestamp with time zone', 'timestamp with time zone', 'integer'],
	'axs.history(bigint, text, timestamptz, timestamptz, integer)');
SELECT has_function('axs', 'history_after', ARRAY['bigint', 'text', 'bigint', 'integer'],
	'axs.history_after(bigint, text, bigint, integer)');
SELECT has_function('axs', 'balance_at', ARRAY['bigint', 'text', 'timestamp with time zone'],
	'axs.balance_at(bigint, text, timestamptz)');
SELECT has_function('axs', 'history_verify', ARRAY[]::name[], 'axs.history_verify()');
SELECT isnt_definer('axs', 'history', ARRAY['bigint', 'text', 'timestamp with time zone', 'timestamp with time zone', 'integer'],
	'axs.history runs with the caller''s rights (EXECUTE is granted to axs_reader only)');

SELECT function_returns('axs', 'apply', ARRAY['jsonb'], 'axs.result', 'axs.apply returns axs.result');
SELECT function_returns('axs', 'transfer', ARRAY['bigint', 'bigint', 'bigint', 'text', 'bigint'], 'axs.result', 'axs.transfer returns axs.result');
SELECT function_returns('axs', 'submit', ARRAY['jsonb'], 'bigint', 'axs.submit returns bigint (queue position)');
SELECT function_returns('axs', 'submit_many', ARRAY['jsonb'], 'bigint', 'axs.submit_many returns bigint (last position)');
SELECT function_returns('axs', 'wait', ARRAY['bigint', 'integer'], 'boolean', 'axs.wait returns boolean');
SELECT function_returns('axs', 'verify', ARRAY[]::name[], 'setof record', 'axs.verify returns a set');
SELECT is_definer('axs', 'deposit', ARRAY['bigint', 'bigint', 'text', 'bigint'], 'axs.deposit is SECURITY DEFINER');
SELECT is_definer('axs', 'apply', ARRAY['jsonb'], 'axs.apply is SECURITY DEFINER');
SELECT is_definer('axs', 'verify', ARRAY[]::name[], 'axs.verify is SECURITY DEFINER');

SELECT is_empty($$
	SELECT p.oid::regprocedure::text FROM pg_proc AS p
	WHERE p.pronamespace = 'axs'::regnamespace
	  AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)$$,
	'every axs function runs with search_path pg_catalog, pg_temp');
SELECT has_function('axs', 'feeder_rewind', ARRAY['text', 'integer', 'bigint'], 'axs.feeder_rewind(text, integer, bigint)');

SELECT has_view('axs', 'events', 'view axs.events exists');
SELECT has_view('axs', 'applier_status', 'view axs.applier_status exists');
SELECT columns_are('axs', 'credit_limits', ARRAY['account', 'currency', 'credit', 'set_at'],
	'axs.credit_limits has the documented columns');
SELECT columns_are('axs', 'account_status', ARRAY['account', 'status', 'reason', 'since'],
	'axs.account_status has the documented columns');
SELECT columns_are('axs', 'events',
	ARRAY['id', 'kind', 'event', 'status', 'reason', 'queue_position', 'queued_at', 'recorded_at'],
	'axs.events has the documented columns');
SELECT columns_are('axs', 'applier_status',
	ARRAY['pid', 'fence_held', 'standbys', 'epoch', 'batches', 'events_applied', 'events_rejected',
		  'events_duplicate', 'last_batch_size', 'last_batch_ms', 'last_batch_at', 'watermark',
		  'queue_depth', 'lag_seconds', 'started_at', 'blocked_by', 'blocked_since', 'fence_intruder',
		  'fence_intruder_since', 'settlements_short_frozen', 'decided_total', 'duplicates_total'],
	'axs.applier_status has the documented columns');

SELECT has_table('axs', 'balances', 'table axs.balances exists');
SELECT columns_are('axs', 'balances', ARRAY['account', 'currency', 'available', 'frozen', 'history_seqno', 'history_block'],
	'axs.balances has exactly account, currency, available, frozen and its history head');
SELECT col_type_is('axs', 'balances', 'account', 'bigint', 'axs.balances.account is bigint');
SELECT col_type_is('axs', 'balances', 'currency', 'integer', 'axs.balances.currency is integer');
SELECT col_type_is('axs', 'balances', 'available', 'bigint', 'axs.balances.available is bigint');
SELECT col_type_is('axs', 'balances', 'frozen', 'bigint', 'axs.balances.frozen is bigint');
SELECT col_not_null('axs', 'balances', 'available', 'axs.balances.available is NOT NULL');
SELECT col_not_null('axs', 'balances', 'frozen', 'axs.balances.frozen is NOT NULL');
SELECT col_is_pk('axs', 'balances', ARRAY['account', 'currency'], 'axs.balances key is (account, currency)');
SELECT index_is_unique('axs', 'event_log', 'event_log_sync_id',
	'synchronously applied ids are unique in axs.event_log (idempotency)');
SELECT is((SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = 'axs.event_log_sync_id'::regclass),
	'(queue_position IS NULL)', 'the unique index covers exactly the synchronously applied events');
SELECT is((SELECT amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.oid = 'axs.outcome_blocks_ids'::regclass),
	'gist'::name, 'the applier''s outcome blocks are found by id range through a GiST index');

---------------------------------------------------------------------------
-- Balances after a scripted sequence, each step by the user it stands for:
-- an admin registers currencies, an application applies events, a
-- dashboard reads.  Each role is a member of one axs group only.
---------------------------------------------------------------------------

CREATE ROLE regress_tap_admin IN ROLE axs_admin;
CREATE ROLE regress_tap_app IN ROLE axs_app;
CREATE ROLE regress_tap_reader IN ROLE axs_reader;
CREATE ROLE regress_tap_nobody;
GRANT USAGE ON SCHEMA axs TO regress_tap_nobody;

SET ROLE regress_tap_admin;
SELECT lives_ok($$SELECT axs.create_currency('TBTC', 8), axs.create_currency('TUSD', 2)$$,
	'create currencies TBTC and TUSD');

SET ROLE regress_tap_app;
CREATE TEMP TABLE tap_outcomes (step integer PRIMARY KEY, status text, reason text);
INSERT INTO tap_outcomes
SELECT step, (r).status, (r).reason FROM (VALUES
	(1, axs.deposit(9001, 101, 'TUSD', 10000)),
	(2, axs.deposit(9002, 102, 'TBTC', 300)),
	(3, axs.freeze(9003, 101, 'TUSD', 6000)),
	(4, axs.freeze(9004, 102, 'TBTC', 200)),
	(5, axs.trade(9005, 101, 102, 'TBTC', 'TUSD', 150, 4500, 3, 45, 900)),
	(6, axs.transfer(9006, 102, 103, 'TUSD', 1000)),
	(7, axs.withdraw(9007, 101, 'TUSD', 5000)),		-- only 4000 available: rejected
	(8, axs.unfreeze(9008, 101, 'TUSD', 1500)),
	(9, axs.withdraw(9009, 101, 'TUSD', 5000)),
	(10, axs.deposit(9001, 101, 'TUSD', 10000)),		-- replay: same outcome, no effect
	(11, axs.deposit(9001, 101, 'TUSD', 1)),			-- same id, other content
	(12, axs.apply('{"id":9012,"kind":"unfreeze","account":102,"currency":"TBTC","amount":51}')),	-- 50 frozen left
	(13, axs.apply('{"id":9013,"kind":"deposit","account":104,"currency":"NOPE","amount":1}'))
) AS s(step, r);

SELECT results_eq(
	$$SELECT step, status, reason FROM tap_outcomes ORDER BY step$$,
	$$VALUES (1, 'applied', NULL::text), (2, 'applied', NULL), (3, 'applied', NULL), (4, 'applied', NULL),
			 (5, 'applied', NULL), (6, 'applied', NULL), (7, 'rejected', 'insufficient_available'),
			 (8, 'applied', NULL), (9, 'applied', NULL), (10, 'applied', NULL),
			 (11, 'rejected', 'id_reused'), (12, 'rejected', 'insufficient_frozen'),
			 (13, 'rejected', 'unknown_currency')$$,
	'outcome of each step of the scripted sequence');

SET ROLE regress_tap_reader;

-- 101: 10000 TUSD, freeze 6000, pays 4500 from frozen for 150 TBTC (fee 3 to 900),
--      unfreeze 1500 -> available 5500, withdraw 5000 -> 500; frozen 0.
-- 102: 300 TBTC, freeze 200, sells 150 from frozen -> 100 available, 50 frozen;
--      receives 4500 - 45 TUSD = 4455, sends 1000 to 103 -> 3455.
SELECT results_eq(
	$$SELECT b.account, c.code, b.available, b.frozen
	    FROM axs.balances b JOIN axs.currencies c ON c.id = b.currency
	   WHERE c.code IN ('TBTC', 'TUSD') ORDER BY 1, 2$$,
	$$VALUES (101::bigint, 'TBTC'::text, 147::bigint, 0::bigint),
			 (101, 'TUSD', 500, 0),
			 (102, 'TBTC', 100, 50),
			 (102, 'TUSD', 3455, 0),
			 (103, 'TUSD', 1000, 0),
			 (900, 'TBTC', 3, 0),
			 (900, 'TUSD', 45, 0)$$,
	'balances after the scripted sequence');

SELECT results_eq($$SELECT * FROM axs.balance(102, 'TUSD')$$, $$VALUES (3455::bigint, 0::bigint)$$,
	'axs.balance(102, TUSD)');
SELECT results_eq($$SELECT * FROM axs.balance(555, 'TUSD')$$, $$VALUES (0::bigint, 0::bigint)$$,
	'axs.balance of an account without a row is (0, 0)');
SELECT results_eq($$SELECT currency, available, frozen FROM axs.balances(102)$$,
	$$VALUES ('TBTC'::text, 100::bigint, 50::bigint), ('TUSD', 3455, 0)$$,
	'axs.balances(102) lists both currencies by code');
SELECT is((SELECT count(*) FROM axs.event_log WHERE id BETWEEN 9001 AND 9013), 11::bigint,
	'11 distinct ids recorded (9001 once although sent three times)');
SELECT results_eq($$SELECT status, reason FROM axs.event_status(9007)$$,
	$$VALUES ('rejected'::text, 'insufficient_available'::text)$$,
	'axs.event_status of a rejected event');
SELECT results_eq($$SELECT kind, status FROM axs.events WHERE id = 9005$$,
	$$VALUES ('trade'::text, 'applied'::text)$$, 'axs.events shows the trade as applied');
SELECT is((SELECT event FROM axs.events WHERE id = 9006),
	'{"id":9006,"kind":"transfer","from":102,"to":103,"currency":"TUSD","amount":1000}'::jsonb,
	'axs.events renders the transfer back as the JSON event');
SELECT is_empty($$SELECT * FROM axs.verify()$$, 'axs.verify() is empty after the sequence');

-- a queued event is pending (no applier runs in this database)
SET ROLE regress_tap_app;
SELECT ok(axs.submit('{"id":9020,"kind":"deposit","account":101,"currency":"TUSD","amount":5}') > 0,
	'axs.submit returns a queue position');
SELECT results_eq($$SELECT status FROM axs.event_status(9020)$$, $$VALUES ('pending'::text)$$,
	'a submitted event is pending');
SELECT results_eq($$SELECT available FROM axs.balance(101, 'TUSD')$$, $$VALUES (500::bigint)$$,
	'a pending event changes no balance');

---------------------------------------------------------------------------
-- Malformed events: 22023 (invalid_parameter_value) or 22P02 (not JSON)
---------------------------------------------------------------------------

SELECT throws_ok($$SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"TUSD"}')$$,
	'22023', 'invalid event: missing field "amount"', 'missing amount: 22023');
SELECT throws_ok($$SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"TUSD","amount":0}')$$,
	'22023', 'invalid event: field "amount" must be a positive integer', 'zero amount: 22023');
SELECT throws_ok($$SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"TUSD","amount":"5"}')$$,
	'22023', NULL, 'amount as a string: 22023');
SELECT throws_ok($$SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"TUSD","amount":5,"memo":1}')$$,
	'22023', 'invalid event: unexpected field "memo"', 'unexpected field: 22023');
SELECT throws_ok($$SELECT axs.apply('{"id":1,"kind":"mint","account":42,"currency":"TUSD","amount":5}')$$,
	'22023', NULL, 'unknown kind: 22023');
SELECT throws_ok($$SELECT axs.apply('{"id":-3,"kind":"deposit","account":42,"currency":"TUSD","amount":5}')$$,
	'22023', 'invalid event: field "id" must be a positive integer', 'negative id: 22023');
SELECT throws_ok($$SELECT axs.apply('[1,2]')$$, '22023', NULL, 'a JSON array as event: 22023');
SELECT throws_ok($$SELECT axs.apply('{"id":1,"kind":"transfer","from":7,"to":7,"currency":"TUSD","amount":5}')$$,
	'22023', NULL, 'transfer to itself: 22023');
SELECT throws_ok($$SELECT axs.transfer(1, 7, 8, 'TUSD', -5)$$, '22023', NULL, 'typed shortcut, negative amount: 22023');
SELECT throws_ok($$SELECT axs.deposit(1, 0, 'TUSD', 5)$$, '22023', NULL, 'typed shortcut, account 0: 22023');
SELECT throws_ok($$SELECT axs.submit('{"id":1,"kind":"deposit","account":42,"currency":"TUSD","amount":0}')$$,
	'22023', NULL, 'axs.submit validates at submit time: 22023');
SELECT throws_ok($$SELECT axs.submit_many('{"id":1}')$$, '22023', NULL,
	'axs.submit_many of a non-array: 22023');
SELECT throws_ok($$SELECT axs.apply('{"id":1,'::jsonb)$$, '22P02', NULL, 'text that is not JSON: 22P02');
SELECT throws_ok($$SELECT axs.submit('not json'::text::jsonb)$$, '22P02', NULL, 'axs.submit of non-JSON: 22P02');
SELECT is((SELECT count(*) FROM axs.event_log WHERE id < 9000), 0::bigint,
	'malformed events recorded nothing');

---------------------------------------------------------------------------
-- axs.verify() catches a balance corrupted behind the extension's back (by
-- the superuser: no axs role may write a balance)
---------------------------------------------------------------------------

RESET ROLE;

UPDATE axs.balances SET available = available + 7
 WHERE account = 103 AND currency = (SELECT id FROM axs.currencies WHERE code = 'TUSD');
SELECT is((SELECT count(*) FROM axs.verify()), 1::bigint, 'axs.verify() reports exactly one differing row');
SELECT results_eq($$SELECT account, currency, expected_available, expected_frozen, actual_available, actual_frozen
					  FROM axs.verify()$$,
	$$VALUES (103::bigint, 'TUSD'::text, 1000::bigint, 0::bigint, 1007::bigint, 0::bigint)$$,
	'axs.verify() names account 103 TUSD: expected 1000, actual 1007');

UPDATE axs.balances SET available = available - 7, frozen = frozen + 2
 WHERE account = 103 AND currency = (SELECT id FROM axs.currencies WHERE code = 'TUSD');
SELECT results_eq($$SELECT account, currency, expected_frozen, actual_frozen FROM axs.verify()$$,
	$$VALUES (103::bigint, 'TUSD'::text, 0::bigint, 2::bigint)$$,
	'axs.verify() catches a corrupted frozen amount');

UPDATE axs.balances SET frozen = frozen - 2
 WHERE account = 103 AND currency = (SELECT id FROM axs.currencies WHERE code = 'TUSD');
CREATE TEMP TABLE saved_balance AS SELECT * FROM axs.balances
 WHERE account = 103 AND currency = (SELECT id FROM axs.currencies WHERE code = 'TUSD');
DELETE FROM axs.balances
 WHERE account = 103 AND currency = (SELECT id FROM axs.currencies WHERE code = 'TUSD');
SELECT results_eq($$SELECT account, expected_available, actual_available FROM axs.verify()$$,
	$$VALUES (103::bigint, 1000::bigint, 0::bigint)$$,
	'axs.verify() catches a deleted balance row');

INSERT INTO axs.balances SELECT * FROM saved_balance;
INSERT INTO axs.balances (account, currency, available)
SELECT 777, id, 1 FROM axs.currencies WHERE code = 'TBTC';
SELECT results_eq($$SELECT account, currency, expected_available, actual_available FROM axs.verify()$$,
	$$VALUES (777::bigint, 'TBTC'::text, 0::bigint, 1::bigint)$$,
	'axs.verify() catches a balance row no event explains');
DELETE FROM axs.balances WHERE account = 777;
SELECT is_empty($$SELECT * FROM axs.verify()$$, 'axs.verify() is empty again once repaired');

---------------------------------------------------------------------------
-- Privileges: a member of axs_app acts only through the functions
---------------------------------------------------------------------------

SET ROLE regress_tap_app;
SELECT is(current_user, 'regress_tap_app'::name, 'now acting as regress_tap_app (member of axs_app)');

SELECT throws_ok($$UPDATE axs.balances SET available = 1000000 WHERE account = 101$$,
	'42501', 'permission denied for table balances', 'axs_app cannot UPDATE axs.balances');
SELECT throws_ok($$INSERT INTO axs.balances (account, currency, available) VALUES (5, 1, 5)$$,
	'42501', 'permission denied for table balances', 'axs_app cannot INSERT into axs.balances');
SELECT throws_ok($$DELETE FROM axs.balances$$,
	'42501', 'permission denied for table balances', 'axs_app cannot DELETE from axs.balances');
SELECT throws_ok($$UPDATE axs.event_log SET reason_code = 0$$,
	'42501', 'permission denied for table event_log', 'axs_app cannot UPDATE axs.event_log');
SELECT throws_ok($$INSERT INTO axs.event_log (id, payload, reason_code, recorded_at) VALUES (99, '\x00', 0, now())$$,
	'42501', 'permission denied for table event_log', 'axs_app cannot INSERT into axs.event_log');
SELECT throws_ok($$DELETE FROM axs.event_log$$,
	'42501', 'permission denied for table event_log', 'axs_app cannot DELETE from axs.event_log');
SELECT throws_ok($$INSERT INTO axs.inbox (event_id, payload) VALUES (3, '\x00')$$,
	'42501', NULL, 'axs_app cannot INSERT into axs.inbox directly');
SELECT throws_ok($$UPDATE axs.applier_state SET watermark = 0$$,
	'42501', NULL, 'axs_app cannot move the applier watermark');
SELECT throws_ok($$SELECT axs.create_currency('EUR', 2)$$,
	'42501', NULL, 'axs_app cannot create currencies');
SELECT throws_ok($$SELECT axs.start_applier()$$,
	'42501', NULL, 'axs_app cannot start appliers');
SELECT throws_ok($$SELECT axs.set_credit_limit(101, 'TUSD', 1000)$$,
	'42501', NULL, 'axs_app cannot set credit lines');
SELECT throws_ok($$SELECT axs.suspend_account(102, 'x')$$,
	'42501', NULL, 'axs_app cannot suspend accounts');
SELECT throws_ok($$SELECT axs.resume_account(102)$$,
	'42501', NULL, 'axs_app cannot resume accounts');
SELECT throws_ok($$INSERT INTO axs.credit_lines VALUES (101, 1, 5, now())$$,
	'42501', NULL, 'axs_app cannot write axs.credit_lines');
SELECT throws_ok($$DELETE FROM axs.account_changes$$,
	'42501', NULL, 'axs_app cannot erase the audit trail');

SELECT lives_ok($$SELECT axs.deposit(9100, 101, 'TUSD', 25)$$, 'axs_app can call axs.deposit');
SELECT lives_ok($$SELECT axs.transfer(9101, 101, 103, 'TUSD', 5)$$, 'axs_app can call axs.transfer');
SELECT results_eq($$SELECT * FROM axs.balance(101, 'TUSD')$$, $$VALUES (520::bigint, 0::bigint)$$,
	'axs_app reads its effect through axs.balance');
SELECT lives_ok($$SELECT axs.submit('{"id":9102,"kind":"deposit","account":101,"currency":"TUSD","amount":1}')$$,
	'axs_app can call axs.submit');
SELECT is_empty($$SELECT * FROM axs.verify()$$, 'axs_app can run axs.verify(), and it is empty');
SELECT results_eq($$SELECT event_id, kind, currency, available_delta, available FROM axs.history(101, 'TUSD')
					 WHERE event_id >= 9100$$,
	$$VALUES (9100::bigint, 'deposit'::text, 'TUSD'::text, 25::bigint, 525::bigint),
			 (9101::bigint, 'transfer'::text, 'TUSD'::text, -5::bigint, 520::bigint)$$,
	'axs_app (a reader) reads its history through axs.history');
SELECT results_eq($$SELECT available FROM axs.history(101, 'TUSD') ORDER BY decided_at DESC LIMIT 1$$,
	$$SELECT available FROM axs.balance(101, 'TUSD')$$,
	'the last history row is the balance');
SELECT throws_ok($$SELECT axs.history(101, 'TUSD', max_rows => -5)$$,
	'22023', 'max_rows must be between 0 and 100000', 'axs.history rejects a negative max_rows with 22023');
SELECT throws_ok($$SELECT axs.history_after(101, 'TUSD', 424242)$$,
	'22023', 'event 424242 has not been decided', 'axs.history_after rejects an unknown event with 22023');
SELECT throws_ok($$SELECT axs.balance_at(101, 'NOPE', now())$$,
	'22023', 'unknown currency "NOPE"', 'axs.balance_at rejects an unknown currency with 22023');
SELECT results_eq($$SELECT * FROM axs.balance_at(101, 'TUSD', '1999-12-31')$$, $$VALUES (0::bigint, 0::bigint)$$,
	'axs.balance_at before the first event is zero');
RESET ROLE;
SET ROLE regress_tap_nobody;
SELECT throws_ok($$SELECT axs.history(101)$$, '42501', NULL, 'a role outside axs_reader cannot read history');
RESET ROLE;

-- the outcome stream's functions: who may call them, with whose rights
SELECT isnt_definer('axs', 'outcomes_after', ARRAY['bigint', 'integer', 'integer'],
	'axs.outcomes_after runs with the caller''s rights');
SELECT isnt_definer('axs', 'outcome_frames_after', ARRAY['bigint', 'integer', 'integer'],
	'axs.outcome_frames_after runs with the caller''s rights');
SELECT is_definer('axs', 'source_topic', ARRAY['text'], 'axs.source_topic is SECURITY DEFINER (registers a topic)');
SELECT ok(has_function_privilege('axs_feeder', 'axs.outcomes_after(bigint, integer, integer)', 'EXECUTE')
	AND has_function_privilege('axs_feeder', 'axs.outcome_frames_after(bigint, integer, integer)', 'EXECUTE')
	AND has_function_privilege('axs_feeder', 'axs.outcomes_published(text, bigint)', 'EXECUTE')
	AND has_function_privilege('axs_feeder', 'axs.outcome_publisher_try_lock(text)', 'EXECUTE')
	AND has_function_privilege('axs_feeder', 'axs.source_topic(text)', 'EXECUTE'),
	'axs_feeder may publish outcomes and register its source topics');
SELECT ok(NOT has_function_privilege('axs_app', 'axs.outcomes_published(text, bigint)', 'EXECUTE')
	AND NOT has_function_privilege('axs_app', 'axs.source_topic(text)', 'EXECUTE')
	AND has_function_privilege('axs_reader', 'axs.outcomes_after(bigint, integer, integer)', 'EXECUTE')
	AND has_function_privilege('axs_reader', 'axs.outcome_frames_after(bigint, integer, integer)', 'EXECUTE'),
	'applications read the outcome stream but neither record a publisher''s progress nor register topics');
SELECT is(axs.source_topic('tap.events'), axs.source_topic('tap.events'), 'axs.source_topic gives a topic one id');
SELECT throws_ok($$SELECT axs.source_topic('')$$, '22023', 'a source topic needs a name',
	'axs.source_topic rejects an empty name with 22023');
SELECT ok(axs.outcome_publisher_try_lock('tap.outcomes') AND pg_advisory_unlock(6387828, hashtext('tap.outcomes')),
	'axs.outcome_publisher_try_lock takes the documented session advisory lock');

SELECT * FROM finish();
ROLLBACK;
