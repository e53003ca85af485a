-- Trade settlement from frozen funds, with fees to a fee account, and the
-- order life cycle: freeze, partial fill, unfreeze of the remainder.
\i ../sql/include/fresh_ledger.sql
SELECT axs.create_currency('BTC', 8) IS NOT NULL AS btc, axs.create_currency('USDT', 6) IS NOT NULL AS usdt;
SET ROLE regress_axs_app;

-- buyer 42 has quote, seller 43 has base
SELECT (axs.deposit(1, 42, 'USDT', 100000)).status;
SELECT (axs.deposit(2, 43, 'BTC', 10)).status;
-- orders placed: buyer freezes 90000 USDT, seller freezes 3 BTC
SELECT * FROM axs.freeze(3, 42, 'USDT', 90000);
SELECT * FROM axs.freeze(4, 43, 'BTC', 3);

-- fill 2 BTC at 30000: buyer pays 60000 from frozen, gets 2 BTC minus fee 0;
-- seller pays 2 BTC from frozen, gets 60000 minus 30 fee; fees to account 1
SELECT * FROM axs.trade(5, 42, 43, 'BTC', 'USDT', 2, 60000, 0, 30, 1);
SELECT * FROM axs.balances(42);
SELECT * FROM axs.balances(43);
SELECT * FROM axs.balances(1);

-- a trade with a buyer fee through the JSON event
SELECT * FROM axs.apply('{"id":6,"kind":"trade","buyer":42,"seller":43,"base":"BTC","quote":"USDT","base_amount":1,"quote_amount":29000,"buyer_fee":1,"fee_account":1}');
SELECT * FROM axs.balances(42);
SELECT * FROM axs.balances(1);

-- buyer cancels: release the rest of the frozen quote
SELECT * FROM axs.unfreeze(7, 42, 'USDT', 1000);
SELECT * FROM axs.balances(42);

-- a trade with oneself is invalid, like a transfer to oneself
SELECT (axs.deposit(8, 50, 'BTC', 5)).status, (axs.deposit(9, 50, 'USDT', 500)).status;
SELECT (axs.freeze(10, 50, 'BTC', 2)).status, (axs.freeze(11, 50, 'USDT', 200)).status;
SELECT * FROM axs.trade(12, 50, 50, 'BTC', 'USDT', 2, 200, 1, 10, 50);
-- fee account equal to the buyer: legs on the same balance
SELECT (axs.deposit(13, 51, 'BTC', 2)).status, (axs.freeze(14, 51, 'BTC', 2)).status;
SELECT * FROM axs.trade(15, 50, 51, 'BTC', 'USDT', 2, 200, 1, 10, 50);
SELECT * FROM axs.balances(51);
SELECT * FROM axs.balances(50);

SELECT * FROM axs.verify();
RESET ROLE;
DROP ROLE regress_axs_admin, regress_axs_app;
