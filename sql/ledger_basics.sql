-- Currencies, deposits, withdrawals, freezes and unfreezes through the typed
-- shortcuts and axs.apply, with the balances after each step.
\i ../sql/include/fresh_ledger.sql
SELECT axs.create_currency('BTC', 8) AS btc, axs.create_currency('USDT', 6) AS usdt;
SELECT code, scale FROM axs.currencies ORDER BY id;

-- invalid registrations
SELECT axs.create_currency('BTC', 8);
SELECT axs.create_currency('no spaces', 2);
SELECT axs.create_currency('ETH', 19);

SET ROLE regress_axs_app;
SELECT * FROM axs.deposit(1, 42, 'USDT', 1000);
SELECT * FROM axs.balance(42, 'USDT');
SELECT * FROM axs.withdraw(2, 42, 'USDT', 300);
SELECT * FROM axs.balance(42, 'USDT');
SELECT * FROM axs.freeze(3, 42, 'USDT', 500);
SELECT * FROM axs.balance(42, 'USDT');
SELECT * FROM axs.unfreeze(4, 42, 'USDT', 200);
SELECT * FROM axs.balance(42, 'USDT');

-- the same through the JSON event
SELECT * FROM axs.apply('{"id":5,"kind":"deposit","account":43,"currency":"BTC","amount":7}');
SELECT * FROM axs.apply('{"id":6,"kind":"freeze","account":43,"currency":"BTC","amount":5}');
SELECT * FROM axs.apply('{"id":7,"kind":"unfreeze","account":43,"currency":"BTC","amount":1}');
SELECT * FROM axs.apply('{"id":8,"kind":"withdraw","account":43,"currency":"BTC","amount":3}');
SELECT * FROM axs.balance(43, 'BTC');

-- transfer between accounts, creating the receiver's row
SELECT * FROM axs.transfer(9, 42, 44, 'USDT', 150);
SELECT * FROM axs.apply('{"id":10,"kind":"transfer","from":44,"to":42,"currency":"USDT","amount":50}');
SELECT account, currency, available, frozen FROM axs.balances ORDER BY account, currency;

-- raw legs: move 5 USDT of account 42 from available to frozen and 10 to account 45
SELECT * FROM axs.apply('{"id":11,"kind":"legs","legs":[{"account":42,"currency":"USDT","available":-15,"frozen":5},{"account":45,"currency":"USDT","available":10}]}');
SELECT * FROM axs.balances(42);
SELECT * FROM axs.balances(45);

SELECT * FROM axs.verify();
RESET ROLE;
DROP ROLE regress_axs_admin, regress_axs_app;
