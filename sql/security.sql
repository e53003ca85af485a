-- Code that runs with raised rights (the applier, SECURITY DEFINER and C
-- functions) resolves no name a caller can shadow, and the currency cache
-- follows transactions exactly.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS axs CASCADE;
CREATE EXTENSION axs;
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_hostile') THEN
		EXECUTE 'DROP OWNED BY regress_hostile';
		EXECUTE 'DROP ROLE regress_hostile';
	END IF;
END
$$;
RESET client_min_messages;
SELECT axs.create_currency('USDT', 6) IS NOT NULL AS usdt;

-- A role that may create objects in public and in a schema named after the
-- applier's role (the bootstrap superuser), as a database owner could.
CREATE ROLE regress_hostile IN ROLE axs_app;
GRANT CREATE ON SCHEMA public TO regress_hostile;
SELECT format('CREATE SCHEMA %I AUTHORIZATION regress_hostile', rolname) FROM pg_roles WHERE oid = 10 \gexec

SET ROLE regress_hostile;
-- operators that make whoever calls them with superuser rights a superuser
CREATE FUNCTION public.escalate_overlaps(int8range, int8range) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	IF current_setting('is_superuser') = 'on' THEN
		EXECUTE 'ALTER ROLE regress_hostile SUPERUSER';
	END IF;
	RETURN pg_catalog.range_overlaps($1, $2);
END
$$;
CREATE OPERATOR public.&& (LEFTARG = int8range, RIGHTARG = int8range, FUNCTION = public.escalate_overlaps);
CREATE FUNCTION public.escalate_contains(int8range, bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	IF current_setting('is_superuser') = 'on' THEN
		EXECUTE 'ALTER ROLE regress_hostile SUPERUSER';
	END IF;
	RETURN pg_catalog.range_contains_elem($1, $2);
END
$$;
CREATE OPERATOR public.@> (LEFTARG = int8range, RIGHTARG = bigint, FUNCTION = public.escalate_contains);
SELECT format('CREATE OPERATOR %I.&& (LEFTARG = int8range, RIGHTARG = int8range, FUNCTION = public.escalate_overlaps)',
			  rolname) FROM pg_roles WHERE oid = 10 \gexec
SELECT format('CREATE OPERATOR %I.@> (LEFTARG = int8range, RIGHTARG = bigint, FUNCTION = public.escalate_contains)',
			  rolname) FROM pg_roles WHERE oid = 10 \gexec
-- events for the applier, then the same ids again: the applier looks them up
SELECT axs.submit('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":100}') IS NOT NULL AS queued;
SELECT axs.submit('{"id":2,"kind":"deposit","account":42,"currency":"USDT","amount":5}') IS NOT NULL AS queued;
RESET ROLE;
SELECT axs.start_applier() > 0 AS started;
SELECT axs.wait((SELECT last_value FROM axs.inbox_position_seq), 10000) AS applied;
SET ROLE regress_hostile;
SELECT axs.submit('{"id":1,"kind":"deposit","account":42,"currency":"USDT","amount":100}') AS position \gset
RESET ROLE;
SELECT axs.wait(:position, 10000) AS applied;
-- the synchronous path looks ids up too
SET ROLE regress_hostile;
SET search_path = public, pg_catalog;
SELECT * FROM axs.deposit(1, 42, 'USDT', 100);
SELECT * FROM axs.event_status(2);
RESET search_path;
RESET ROLE;
SELECT rolsuper AS hostile_is_superuser FROM pg_roles WHERE rolname = 'regress_hostile';
SELECT * FROM axs.balance(42, 'USDT');

-- A caller's own text = text operator, first on its search_path, must not
-- make axs.event_legs resolve (and cache) an unregistered currency.
SELECT (axs.deposit(3, 42, 'NOPE', 1)).reason;
SET ROLE regress_hostile;
CREATE FUNCTION public.always_equal(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.always_equal);
SET search_path = public, pg_catalog;
SELECT l.account, l.currency FROM axs.event_log AS e, axs.event_legs(e.id, e.payload) AS l WHERE e.id = 3;
SELECT * FROM axs.deposit(4, 42, 'NOPE', 100);
RESET search_path;
RESET ROLE;
SELECT * FROM axs.verify();

-- The currency cache follows transactions: a currency created in a
-- rolled-back savepoint, in a prepared transaction rolled back, or in a
-- transaction that aborts does not exist afterwards.
BEGIN;
SAVEPOINT s;
SELECT axs.create_currency('DOGE', 8) IS NOT NULL AS doge;
SELECT (axs.deposit(10, 42, 'DOGE', 100)).status AS inside_savepoint;
ROLLBACK TO s;
SELECT * FROM axs.deposit(11, 42, 'DOGE', 100);
COMMIT;
SELECT * FROM axs.deposit(12, 42, 'DOGE', 100);
BEGIN;
SELECT axs.create_currency('PREP', 2) IS NOT NULL AS prep;
SELECT (axs.deposit(13, 42, 'PREP', 100)).status AS inside_prepared;
PREPARE TRANSACTION 'regress_axs_currency';
ROLLBACK PREPARED 'regress_axs_currency';
SELECT * FROM axs.deposit(14, 42, 'PREP', 100);
-- and one created and committed is found at once
SELECT axs.create_currency('DOGE', 8) IS NOT NULL AS doge;
SELECT * FROM axs.deposit(15, 42, 'DOGE', 100);
SELECT * FROM axs.balances(42);
SELECT * FROM axs.verify();

-- stop the applier so the database can be dropped; remove the hostile objects
SELECT pg_terminate_backend(pid) FROM axs.applier_status WHERE pid IS NOT NULL;
SET client_min_messages = warning;
DROP OWNED BY regress_hostile;
DROP ROLE regress_hostile;
RESET client_min_messages;
