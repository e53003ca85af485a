-- The read side: balance, balances, event_status, the events view, verify.
\i ../sql/include/fresh_ledger.sql
RESET ROLE;
CREATE ROLE regress_axs_reader IN ROLE axs_reader;
SET ROLE regress_axs_admin;
SELECT axs.create_currency('BTC', 8) IS NOT NULL AS btc, axs.create_currency('USDT', 6) IS NOT NULL AS usdt;
SET ROLE regress_axs_app;
SELECT (axs.deposit(1, 42, 'USDT', 100)).status, (axs.deposit(2, 42, 'BTC', 3)).status;
SELECT (axs.withdraw(3, 42, 'BTC', 4)).reason;

-- the read side as a dashboard sees it
SET ROLE regress_axs_reader;
-- zeros for pairs that do not exist
SELECT * FROM axs.balance(42, 'USDT');
SELECT * FROM axs.balance(42, 'BTC');
SELECT * FROM axs.balance(99, 'USDT');
SELECT * FROM axs.balance(42, 'NOPE');
SELECT * FROM axs.balances(42);
SELECT * FROM axs.balances(99);

SELECT * FROM axs.event_status(1);
SELECT * FROM axs.event_status(3);
SELECT axs.event_status(999) IS NULL AS unknown_is_null;
SELECT (axs.event_status(999)).status IS NULL AS unknown_status_is_null;

SELECT id, kind, status, reason, event, queue_position, recorded_at IS NOT NULL AS recorded
FROM axs.events ORDER BY id;

-- verify: consistent, then a balance corrupted behind the ledger's back
-- (by the superuser: no axs role may write a balance)
SELECT * FROM axs.verify();
RESET ROLE;
UPDATE axs.balances SET available = available + 1 WHERE account = 42
	AND currency = (SELECT id FROM axs.currencies WHERE code = 'BTC');
SET ROLE regress_axs_reader;
SELECT * FROM axs.verify();
RESET ROLE;
UPDATE axs.balances SET available = available - 1 WHERE account = 42
	AND currency = (SELECT id FROM axs.currencies WHERE code = 'BTC');
SET ROLE regress_axs_reader;
SELECT * FROM axs.verify();
RESET ROLE;
DROP ROLE regress_axs_admin, regress_axs_app, regress_axs_reader;
