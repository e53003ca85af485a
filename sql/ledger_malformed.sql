-- Malformed events raise 22023 (or 22P02 for text that is not JSON), name
-- the field, and record nothing; then numbers jsonb normalizes (1e2) apply.
\i ../sql/include/fresh_ledger.sql
SELECT axs.create_currency('USDT', 6) IS NOT NULL AS usdt;
SET ROLE regress_axs_app;
\set VERBOSITY default
\set SHOW_CONTEXT never

SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"USDT"}');
SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":5,"memo":"x"}');
SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":"5"}');
SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":1.5}');
SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":0}');
SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":-5}');
SELECT axs.apply('{"id":1,"kind":"deposit","account":0,"currency":"USDT","amount":5}');
SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":7,"amount":5}');
SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"US DT","amount":5}');
SELECT axs.apply('{"id":0,"kind":"deposit","account":42,"currency":"USDT","amount":5}');
SELECT axs.apply('{"kind":"deposit","account":42,"currency":"USDT","amount":5}');
SELECT axs.apply('{"id":1,"kind":"mint","account":42,"currency":"USDT","amount":5}');
SELECT axs.apply('{"id":1,"account":42,"currency":"USDT","amount":5}');
SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":99999999999999999999}');
SELECT axs.apply('[1,2]');
SELECT axs.apply('{"id":1,"kind":"transfer","from":42,"to":42,"currency":"USDT","amount":5}');
SELECT axs.apply('{"id":1,"kind":"trade","buyer":1,"seller":2,"base":"BTC","quote":"USDT","base_amount":2,"quote_amount":10,"buyer_fee":3,"fee_account":9}');
SELECT axs.apply('{"id":1,"kind":"trade","buyer":1,"seller":2,"base":"BTC","quote":"USDT","base_amount":2,"quote_amount":10,"seller_fee":11,"fee_account":9}');
SELECT axs.apply('{"id":1,"kind":"trade","buyer":1,"seller":2,"base":"BTC","quote":"USDT","base_amount":2,"quote_amount":10,"seller_fee":1}');
SELECT axs.apply('{"id":1,"kind":"trade","buyer":1,"seller":2,"base":"BTC","quote":"BTC","base_amount":2,"quote_amount":10}');
SELECT axs.apply('{"id":1,"kind":"legs","legs":[{"account":42,"currency":"USDT","available":-5}]}');
SELECT axs.apply('{"id":1,"kind":"legs","legs":[]}');
SELECT axs.apply('{"id":1,"kind":"legs","legs":[{"account":42,"currency":"USDT","available":-5,"frozen":5,"note":1}]}');
-- not JSON at all
SELECT axs.apply('{"id":1,');
-- typed shortcuts check their arguments the same way
SELECT axs.deposit(1, 42, 'USDT', -1);
SELECT axs.withdraw(1, -42, 'USDT', 1);
SELECT axs.freeze(1, 42, NULL, 1);
SELECT axs.trade(1, 42, 43, 'BTC', 'USDT', 1, 1, 0, 1, NULL);

-- the SQLSTATEs
DO $$
BEGIN
	PERFORM axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":0}');
EXCEPTION WHEN invalid_parameter_value THEN
	RAISE NOTICE 'amount 0: SQLSTATE %', SQLSTATE;
END
$$;
DO $$
BEGIN
	PERFORM axs.apply('not json'::text::jsonb);
EXCEPTION WHEN invalid_text_representation THEN
	RAISE NOTICE 'invalid JSON: SQLSTATE %', SQLSTATE;
END
$$;

-- one text, one answer on every path (the Kafka feeder decodes the same way)
-- numbers: jsonb keeps them as numeric, so axs sees 1e2 as 100 and 1.50e1 as
-- 15.0; an integer field takes a number left with no fractional digit
SELECT '{"a":1e2,"b":1.5e1,"c":12E+1,"d":100e-2,"e":1.50e1,"f":100.0,"g":1e-1}'::jsonb AS numbers;
SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":1.50e1}');
SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":100e-2}');
SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":1e-1}');
SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":100.0}');
SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":1e19}');
SELECT axs.apply('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":-1e2}');
-- a trade with oneself is refused like a transfer to oneself
SELECT axs.apply('{"id":1,"kind":"trade","buyer":42,"seller":42,"base":"BTC","quote":"USDT","base_amount":2,"quote_amount":10}');
SELECT axs.submit('{"id":1,"kind":"trade","buyer":42,"seller":42,"base":"BTC","quote":"USDT","base_amount":2,"quote_amount":10}');
SELECT axs.trade(1, 42, 42, 'BTC', 'USDT', 2, 10);
-- a value at level 33 (the event object is level 1) is an invalid event, not invalid JSON
SELECT axs.apply(('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":5,"memo":' || repeat('[', 31) || '1' || repeat(']', 31) || '}')::jsonb);
SELECT axs.submit(('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":5,"memo":' || repeat('[', 31) || '1' || repeat(']', 31) || '}')::jsonb);
-- at level 32 the event is judged as any other
SELECT axs.apply(('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":5,"memo":' || repeat('[', 30) || '1' || repeat(']', 30) || '}')::jsonb);
-- \u0000: jsonb refuses it (22P05) before axs sees the event; from Kafka the
-- message is a dead letter
SELECT axs.apply('{"id":1,"kind":"deposit\u0000junk","account":42,"currency":"USDT","amount":5}');
SELECT axs.submit('{"kind":"deposit","account":42,"currency":"USDT","amount":5,"id\u0000x":832}');
DO $$
BEGIN
	PERFORM axs.apply(('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":5,"memo":' || repeat('[', 31) || '1' || repeat(']', 31) || '}')::jsonb);
EXCEPTION WHEN invalid_parameter_value THEN
	RAISE NOTICE 'deeper than 32 levels: SQLSTATE %', SQLSTATE;
END
$$;
DO $$
BEGIN
	PERFORM axs.apply('{"id":1,"kind":"trade","buyer":42,"seller":42,"base":"BTC","quote":"USDT","base_amount":2,"quote_amount":10}');
EXCEPTION WHEN invalid_parameter_value THEN
	RAISE NOTICE 'buyer = seller: SQLSTATE %', SQLSTATE;
END
$$;
DO $$
BEGIN
	PERFORM axs.apply('{"id":1,"kind":"deposit\u0000junk","account":42,"currency":"USDT","amount":5}');
EXCEPTION WHEN untranslatable_character THEN
	RAISE NOTICE '\u0000: SQLSTATE %', SQLSTATE;
END
$$;

-- nothing was recorded
SELECT count(*) AS events, (SELECT count(*) FROM axs.balances) AS balances FROM axs.event_log;

-- 1e2 is the integer 100, and the same event as 100 (a duplicate, not id_reused)
SELECT * FROM axs.apply('{"id":101,"kind":"deposit","account":42,"currency":"USDT","amount":1e2}');
SELECT * FROM axs.apply('{"id":101,"kind":"deposit","account":42,"currency":"USDT","amount":100}');
SELECT * FROM axs.apply('{"id":102,"kind":"deposit","account":42,"currency":"USDT","amount":1.5e1}');
SELECT * FROM axs.apply('{"id":103,"kind":"deposit","account":42,"currency":"USDT","amount":12E+1}');
SELECT * FROM axs.balances(42);
RESET ROLE;
DROP ROLE regress_axs_admin, regress_axs_app;
