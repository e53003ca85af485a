-- demo.sql
--	A scripted session with the axs SQL API, run by scripts/demo.sh in a
--	fresh database: deposits, an order's freeze, a trade with fees, the
--	unfreeze of the order's remainder, a rejected overdraft, and the
--	consistency check.  It ends with an error if an outcome is not the
--	expected one, so the demo doubles as a smoke test.
--
-- Amounts are integers in minor units: BTC has scale 8 (1 BTC = 100000000),
-- USDT scale 6 (1 USDT = 1000000).  Accounts: 1001 alice (buys BTC),
-- 1002 bob (sells BTC), 9000 the exchange's fee account.

\set ON_ERROR_STOP on
\set QUIET on
\pset footer off

-- Every account's balances, raw and in whole units.
\set show_balances 'SELECT a.who AS account, b.currency, b.available, b.frozen, round(b.available / power(10::numeric, c.scale), c.scale) AS available_units, round(b.frozen / power(10::numeric, c.scale), c.scale) AS frozen_units FROM (VALUES (1001, ''alice 1001''), (1002, ''bob 1002''), (9000, ''fees 9000'')) AS a(id, who) CROSS JOIN LATERAL axs.balances(a.id) AS b JOIN axs.currencies AS c ON c.code = b.currency ORDER BY a.id, b.currency;'

\echo
\echo '== 0. install the extension and register the currencies'
\set ECHO queries
SET client_min_messages = warning;
CREATE EXTENSION axs;
SELECT axs.create_currency('BTC', 8) AS btc_id, axs.create_currency('USDT', 6) AS usdt_id;
\set ECHO none

\echo
\echo '== 1. deposits: alice 50,000 USDT, bob 2 BTC'
\set ECHO queries
SELECT * FROM axs.deposit(1, 1001, 'USDT', 50000000000);
SELECT * FROM axs.deposit(2, 1002, 'BTC', 200000000);
\set ECHO none
:show_balances

\echo
\echo '== 2. orders: alice bids for 1 BTC at 30,000 USDT and freezes 30,000 USDT;'
\echo '      bob offers 0.6 BTC and freezes it'
\set ECHO queries
SELECT * FROM axs.freeze(3, 1001, 'USDT', 30000000000);
SELECT * FROM axs.freeze(4, 1002, 'BTC', 60000000);
\set ECHO none
:show_balances
SELECT clock_timestamp() AS orders_placed \gset
SELECT set_config('demo.orders_placed', :'orders_placed', false) IS NOT NULL AS noted \gset

\echo
\echo '== 3. trade: 0.6 BTC for 18,000 USDT, paid from the frozen funds;'
\echo '      fees 0.1%: buyer pays 0.0006 BTC, seller pays 18 USDT, to account 9000'
\set ECHO queries
SELECT * FROM axs.trade(5, 1001, 1002, 'BTC', 'USDT', 60000000, 18000000000,
						buyer_fee => 60000, seller_fee => 18000000, fee_account => 9000);
\set ECHO none
:show_balances

\echo
\echo '== 4. alice cancels the rest of her order: unfreeze the remaining 12,000 USDT'
\set ECHO queries
SELECT * FROM axs.unfreeze(6, 1001, 'USDT', 12000000000);
\set ECHO none
:show_balances

\echo
\echo '== 5. overdraft: bob tries to withdraw 2 BTC but has only 1.4 BTC available'
\set ECHO queries
SELECT * FROM axs.withdraw(7, 1002, 'BTC', 200000000);
\set ECHO none
\echo 'balances are unchanged:'
:show_balances

\echo
\echo '== 6. consistency: axs.verify() lists every balance that differs from'
\echo '      the sum of the applied events (an empty result means consistent)'
\set ECHO queries
SELECT * FROM axs.verify();
\set ECHO none

\echo
\echo '== 7. history: every change of alice''s balances, with the balance after it,'
\echo '      and her USDT balance as it was when the orders had been placed (after step 2)'
\set ECHO queries
SELECT event_id, kind, currency, available_delta, frozen_delta, available, frozen FROM axs.history(1001);
SELECT * FROM axs.balance_at(1001, 'USDT', :'orders_placed');
\set ECHO none

-- The demo is also a smoke test: stop with an error on any surprise.
DO $check$
DECLARE
	outcome axs.result;
BEGIN
	outcome := axs.event_status(7);
	IF outcome.status IS DISTINCT FROM 'rejected' OR outcome.reason IS DISTINCT FROM 'insufficient_available' THEN
		RAISE EXCEPTION 'overdraft outcome is (%, %), expected (rejected, insufficient_available)',
			outcome.status, outcome.reason;
	END IF;
	IF (SELECT count(*) FROM axs.history(1001)) <> 5
	   OR (SELECT available FROM axs.balance_at(1001, 'USDT', current_setting('demo.orders_placed')::timestamptz))
		  <> 20000000000 THEN
		RAISE EXCEPTION 'alice''s history is not the expected one';
	END IF;
	IF EXISTS (SELECT 1 FROM axs.verify()) THEN
		RAISE EXCEPTION 'axs.verify() found balances that differ from the event log';
	END IF;
	IF (SELECT available FROM axs.balances(1001) WHERE currency = 'USDT') IS DISTINCT FROM 32000000000
	   OR (SELECT frozen FROM axs.balances(1001) WHERE currency = 'USDT') IS DISTINCT FROM 0
	   OR (SELECT available FROM axs.balances(1001) WHERE currency = 'BTC') IS DISTINCT FROM 59940000
	   OR (SELECT available FROM axs.balances(1002) WHERE currency = 'BTC') IS DISTINCT FROM 140000000
	   OR (SELECT available FROM axs.balances(1002) WHERE currency = 'USDT') IS DISTINCT FROM 17982000000
	   OR (SELECT available FROM axs.balances(9000) WHERE currency = 'BTC') IS DISTINCT FROM 60000
	   OR (SELECT available FROM axs.balances(9000) WHERE currency = 'USDT') IS DISTINCT FROM 18000000 THEN
		RAISE EXCEPTION 'final balances are not the expected ones';
	END IF;
END
$check$;

\echo
\echo 'demo: all outcomes as expected'
