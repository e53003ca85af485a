-- Applications act through the roles axs_app / axs_reader / axs_feeder: they
-- call the functions and read, but cannot write the tables directly.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS axs CASCADE;
CREATE EXTENSION axs;
DROP ROLE IF EXISTS regress_axs_app;
DROP ROLE IF EXISTS regress_axs_reader;
DROP ROLE IF EXISTS regress_axs_feeder;
DROP ROLE IF EXISTS regress_axs_admin;
RESET client_min_messages;
CREATE ROLE regress_axs_app IN ROLE axs_app;
CREATE ROLE regress_axs_reader IN ROLE axs_reader;
CREATE ROLE regress_axs_feeder IN ROLE axs_feeder;
CREATE ROLE regress_axs_admin IN ROLE axs_admin;
SET ROLE regress_axs_admin;
SELECT axs.create_currency('USDT', 6) IS NOT NULL AS usdt;
-- an admin registers currencies and applies events, but writes no table either
SELECT * FROM axs.deposit(100, 41, 'USDT', 5);
UPDATE axs.balances SET available = 1000000 WHERE account = 41;
UPDATE axs.currencies SET scale = 2;
RESET ROLE;

SET ROLE regress_axs_app;
SELECT * FROM axs.deposit(1, 42, 'USDT', 100);
SELECT * FROM axs.apply('{"id":2,"kind":"withdraw","account":42,"currency":"USDT","amount":10}');
SELECT * FROM axs.balance(42, 'USDT');
SELECT account, available, frozen FROM axs.balances;
-- direct writes are refused
UPDATE axs.balances SET available = 1000000 WHERE account = 42;
INSERT INTO axs.balances (account, currency, available) VALUES (7, 1, 5);
DELETE FROM axs.balances;
INSERT INTO axs.event_log (id, payload, reason_code, recorded_at) VALUES (99, '\x00', 0, now());
DELETE FROM axs.event_log;
INSERT INTO axs.inbox (event_id, payload) VALUES (3, '\x00');
SELECT axs.create_currency('EUR', 2);
RESET ROLE;

SET ROLE regress_axs_reader;
SELECT * FROM axs.balance(42, 'USDT');
SELECT id, status FROM axs.events ORDER BY id;
SELECT * FROM axs.deposit(3, 42, 'USDT', 100);
UPDATE axs.balances SET available = 0;
RESET ROLE;

SET ROLE regress_axs_feeder;
UPDATE axs.balances SET available = 0;
-- it appends, but the position comes from the sequence only
BEGIN;
INSERT INTO axs.inbox (event_id, payload) VALUES (3, '\x00');
ROLLBACK;
INSERT INTO axs.inbox (position, event_id, payload) VALUES (1, 3, '\x00');
UPDATE axs.feeder_offsets SET next_offset = 0;
SELECT axs.feeder_advance('trades', 0, NULL, 10);
SELECT axs.feeder_advance('trades', 0, 10, 25);
-- a stale expectation is fenced
SELECT axs.feeder_advance('trades', 0, 10, 30);
SELECT topic, partition, next_offset FROM axs.feeder_offsets;
RESET ROLE;

-- replay: only axs_admin may move stored offsets, in either direction
SELECT axs.feeder_advance('trades', 1, NULL, 40);
SET ROLE regress_axs_feeder;
SELECT * FROM axs.feeder_rewind('trades', 0, 0);
RESET ROLE;
SET ROLE regress_axs_admin;
SELECT * FROM axs.feeder_rewind('trades', 0, 3);
SELECT * FROM axs.feeder_rewind('trades', NULL, 0) ORDER BY rewound_partition;
SELECT * FROM axs.feeder_rewind('trades', 7, 0);
SELECT * FROM axs.feeder_rewind('trades', 0, -1);
RESET ROLE;
SELECT topic, partition, next_offset FROM axs.feeder_offsets ORDER BY partition;

SELECT * FROM axs.balance(42, 'USDT');
SELECT * FROM axs.verify();
DROP ROLE regress_axs_app;
DROP ROLE regress_axs_reader;
DROP ROLE regress_axs_feeder;
DROP ROLE regress_axs_admin;
