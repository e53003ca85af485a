-- Idempotency by event id: a replay returns the original outcome and
-- changes nothing; another event under a used id is rejected as id_reused.
\i ../sql/include/fresh_ledger.sql
SELECT axs.create_currency('USDT', 6) IS NOT NULL AS usdt;
SET ROLE regress_axs_app;

SELECT * FROM axs.deposit(1, 42, 'USDT', 100);
SELECT * FROM axs.deposit(1, 42, 'USDT', 100);
SELECT * FROM axs.apply('{"amount":100,"currency":"USDT","account":42,"kind":"deposit","id":1}');
SELECT * FROM axs.balance(42, 'USDT');

-- same id, other content
SELECT * FROM axs.deposit(1, 42, 'USDT', 101);
SELECT * FROM axs.withdraw(1, 42, 'USDT', 100);
SELECT * FROM axs.balance(42, 'USDT');
SELECT id, status, reason, event FROM axs.events ORDER BY id;

-- a rejected event replayed stays rejected with its reason
SELECT * FROM axs.withdraw(2, 42, 'USDT', 1000);
SELECT * FROM axs.withdraw(2, 42, 'USDT', 1000);
-- and a different event under a rejected id is id_reused
SELECT * FROM axs.withdraw(2, 42, 'USDT', 10);
SELECT * FROM axs.balance(42, 'USDT');

-- within one transaction too
BEGIN;
SELECT * FROM axs.deposit(3, 42, 'USDT', 5);
SELECT * FROM axs.deposit(3, 42, 'USDT', 5);
COMMIT;
SELECT * FROM axs.balance(42, 'USDT');

-- a rolled-back event leaves no trace, so its id is free again
BEGIN;
SELECT * FROM axs.deposit(4, 42, 'USDT', 1000);
ROLLBACK;
SELECT * FROM axs.event_status(4);
SELECT * FROM axs.deposit(4, 42, 'USDT', 7);
SELECT * FROM axs.balance(42, 'USDT');
SELECT * FROM axs.verify();
RESET ROLE;
DROP ROLE regress_axs_admin, regress_axs_app;
