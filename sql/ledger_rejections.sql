-- Every rejection reason: the event is recorded, changes no balance, and its
-- outcome is final.
\i ../sql/include/fresh_ledger.sql
SELECT axs.create_currency('BTC', 8) IS NOT NULL AS btc, axs.create_currency('USDT', 6) IS NOT NULL AS usdt;
SET ROLE regress_axs_app;
SELECT (axs.deposit(1, 42, 'USDT', 100)).status;
SELECT (axs.freeze(2, 42, 'USDT', 40)).status;

-- insufficient_available: withdraw, freeze and transfer beyond available
SELECT * FROM axs.withdraw(10, 42, 'USDT', 61);
SELECT * FROM axs.freeze(11, 42, 'USDT', 61);
SELECT * FROM axs.transfer(12, 42, 43, 'USDT', 61);
-- insufficient_frozen: unfreeze beyond frozen
SELECT * FROM axs.unfreeze(13, 42, 'USDT', 41);
-- a trade whose buyer has not frozen enough quote
SELECT (axs.deposit(14, 43, 'BTC', 1)).status, (axs.freeze(15, 43, 'BTC', 1)).status;
SELECT * FROM axs.trade(16, 42, 43, 'BTC', 'USDT', 1, 41);
-- a trade whose seller has not frozen enough base
SELECT * FROM axs.trade(17, 42, 43, 'BTC', 'USDT', 2, 40);
-- available checked before frozen: both short gives insufficient_available
SELECT * FROM axs.apply('{"id":18,"kind":"legs","legs":[{"account":42,"currency":"USDT","available":-61,"frozen":-41},{"account":44,"currency":"USDT","available":102}]}');
-- unknown_currency
SELECT * FROM axs.deposit(19, 42, 'DOGE', 5);
SELECT * FROM axs.trade(20, 42, 43, 'BTC', 'EUR', 1, 1);
-- overflow
SELECT * FROM axs.deposit(21, 45, 'USDT', 9223372036854775807);
SELECT * FROM axs.deposit(22, 45, 'USDT', 1);

-- nothing moved, no row created for 44; the rejected events are recorded
SELECT * FROM axs.balances(42);
SELECT * FROM axs.balances(43);
SELECT * FROM axs.balances(44);
SELECT * FROM axs.balances(45);
SELECT id, kind, status, reason FROM axs.events WHERE status = 'rejected' ORDER BY id;

-- outcomes are final: funding the account does not revive a rejected id
SELECT (axs.deposit(23, 42, 'USDT', 1000)).status;
SELECT * FROM axs.withdraw(10, 42, 'USDT', 61);
SELECT * FROM axs.event_status(10);
SELECT * FROM axs.balances(42);

SELECT * FROM axs.verify();
RESET ROLE;
DROP ROLE regress_axs_admin, regress_axs_app;
