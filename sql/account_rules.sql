-- Credit lines and suspended accounts: an administrator sets them, both
-- paths (the synchronous API and the applier) enforce them with the same
-- rule, every change is in axs.account_changes.
\i ../sql/include/fresh_ledger.sql
SELECT axs.create_currency('BTC', 8) IS NOT NULL AS btc, axs.create_currency('USDT', 6) IS NOT NULL AS usdt;
RESET ROLE;
SELECT axs.start_applier() > 0 AS started;
SET ROLE regress_axs_app;
SELECT (axs.deposit(1, 42, 'USDT', 100)).status, (axs.deposit(2, 43, 'USDT', 100)).status,
	   (axs.deposit(3, 43, 'BTC', 10)).status, (axs.deposit(4, 44, 'USDT', 10)).status;

-- an application may neither set a credit line nor suspend an account
SELECT axs.set_credit_limit(42, 'USDT', 1000);
SELECT axs.suspend_account(42, 'fraud review');
SELECT axs.resume_account(42);

-- invalid changes
SET ROLE regress_axs_admin;
SELECT axs.set_credit_limit(42, 'USDT', -1);
SELECT axs.set_credit_limit(0, 'USDT', 5);
SELECT axs.set_credit_limit(42, 'EUR', 5);
SELECT axs.set_credit_limit(42, NULL, 5);
SELECT axs.suspend_account(42, ' ');
SELECT axs.suspend_account(-1, 'x');

-- a credit line of 50: down to -50 and not one past it, on both paths
SELECT axs.set_credit_limit(42, 'USDT', 50);
SELECT account, currency, credit, set_at IS NOT NULL AS set_at FROM axs.credit_limits;
SET ROLE regress_axs_app;
SELECT * FROM axs.withdraw(10, 42, 'USDT', 151);
SELECT * FROM axs.withdraw(11, 42, 'USDT', 120);
SELECT * FROM axs.balance(42, 'USDT');
SELECT axs.submit_many('[{"id":12,"kind":"withdraw","account":42,"currency":"USDT","amount":31},
						 {"id":13,"kind":"withdraw","account":42,"currency":"USDT","amount":30},
						 {"id":14,"kind":"freeze","account":42,"currency":"USDT","amount":1}]') AS position \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT e.id, s.status, s.reason FROM generate_series(12, 14) AS e(id), LATERAL axs.event_status(e.id) AS s;
SELECT * FROM axs.balance(42, 'USDT');
-- other accounts and currencies keep the rule of 0
SELECT * FROM axs.withdraw(15, 43, 'USDT', 101);
SELECT * FROM axs.withdraw(16, 42, 'BTC', 1);

-- the line lowered below what is used (-50 available): debits stop, credits
-- and events that leave available as it is go on
SET ROLE regress_axs_admin;
SELECT axs.set_credit_limit(42, 'USDT', 10);
SET ROLE regress_axs_app;
SELECT * FROM axs.withdraw(20, 42, 'USDT', 1);
SELECT axs.submit('{"id":21,"kind":"freeze","account":42,"currency":"USDT","amount":1}') AS position \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT * FROM axs.event_status(21);
SELECT * FROM axs.deposit(22, 42, 'USDT', 5);
SELECT * FROM axs.apply('{"id":23,"kind":"legs","legs":[{"account":42,"currency":"USDT","available":-3,"frozen":0},
										  {"account":42,"currency":"USDT","available":3,"frozen":0}]}');
SELECT * FROM axs.balance(42, 'USDT');

-- a suspended account: whatever lowers its total is rejected account_suspended
-- (before the sufficiency checks); credits, freezes and unfreezes apply
SET ROLE regress_axs_admin;
SELECT axs.suspend_account(43, 'fraud review') AS suspended;
SELECT axs.suspend_account(43, 'fraud review') AS suspended_again;
SELECT account, status, reason, since IS NOT NULL AS since FROM axs.account_status;
SET ROLE regress_axs_app;
SELECT * FROM axs.withdraw(30, 43, 'USDT', 1);
SELECT * FROM axs.withdraw(31, 43, 'USDT', 1000000);
SELECT * FROM axs.transfer(32, 43, 42, 'USDT', 1);
SELECT * FROM axs.deposit(33, 43, 'USDT', 7);
SELECT * FROM axs.freeze(34, 43, 'BTC', 4);
SELECT * FROM axs.unfreeze(35, 43, 'BTC', 1);
SELECT * FROM axs.transfer(37, 44, 43, 'USDT', 1);
SELECT axs.submit_many('[{"id":38,"kind":"freeze","account":42,"currency":"BTC","amount":1},
						 {"id":39,"kind":"deposit","account":42,"currency":"BTC","amount":5},
						 {"id":40,"kind":"freeze","account":42,"currency":"BTC","amount":2},
						 {"id":41,"kind":"trade","buyer":42,"seller":43,"base":"BTC","quote":"USDT",
						  "base_amount":2,"quote_amount":2},
						 {"id":42,"kind":"withdraw","account":43,"currency":"BTC","amount":1}]') AS position \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT e.id, s.status, s.reason FROM generate_series(30, 42) AS e(id), LATERAL axs.event_status(e.id) AS s
WHERE e.id <> 36;
SELECT * FROM axs.balances(43);

-- resumed: the same debits apply
SET ROLE regress_axs_admin;
SELECT axs.resume_account(43) AS resumed;
SELECT axs.resume_account(43) AS resumed_again;
SELECT account, status, reason FROM axs.account_status;
SET ROLE regress_axs_app;
SELECT axs.submit_many('[{"id":49,"kind":"freeze","account":44,"currency":"USDT","amount":2},
						 {"id":50,"kind":"trade","buyer":44,"seller":43,"base":"BTC","quote":"USDT",
						  "base_amount":2,"quote_amount":2}]') AS position \gset
SELECT axs.wait(:position, 10000) AS applied_in_time;
SELECT e.id, s.status, s.reason FROM generate_series(49, 50) AS e(id), LATERAL axs.event_status(e.id) AS s;
SELECT * FROM axs.withdraw(51, 43, 'USDT', 1);
SELECT * FROM axs.balances(43);

-- the audit trail: who, what, old and new value, and the applier's
-- watermark (every queued event up to it was decided before the change)
SELECT changed_by, account, currency, change, old_value, new_value,
	   applier_watermark IS NOT NULL AS watermark, changed_at IS NOT NULL AS changed_at
FROM axs.account_changes ORDER BY change_id;
SELECT rejected.id FROM axs.events AS rejected WHERE rejected.reason = 'account_suspended' ORDER BY 1;
SELECT * FROM axs.verify();

-- stop the applier so the database can be dropped
RESET ROLE;
SELECT pg_terminate_backend(pid) FROM axs.applier_status WHERE pid IS NOT NULL;
DROP ROLE regress_axs_admin, regress_axs_app;
