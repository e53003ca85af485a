-- Malformed events raise 22023 (or 22P02 for text that is not JSON), name
-- the field, and record nothing.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS axs CASCADE;
CREATE EXTENSION axs;
RESET client_min_messages;
SELECT axs.create_currency('USDT', 6) IS NOT NULL AS usdt;
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

-- nothing was recorded
SELECT count(*) AS events, (SELECT count(*) FROM axs.balances) AS balances FROM axs.event_log;
