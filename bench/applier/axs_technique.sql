-- axs_technique.sql
--	Plain-SQL copy of the ledger for the "original AXS technique" baseline:
--	a client COPYs each batch into a temporary table and applies it with one
--	CTE statement (bench/applier/apply_batch.sql).  It owns schema bench_axs
--	only and must not touch the axs extension's tables.
--
-- Balances are (account, currency id) rows like axs.balances; events keeps
-- every decided event with its outcome, and its primary key makes a re-sent
-- event (same id) a duplicate, as axs.event_log does.

DROP SCHEMA IF EXISTS bench_axs CASCADE;
CREATE SCHEMA bench_axs;

CREATE TABLE bench_axs.balances (
	account		bigint NOT NULL,
	currency	integer NOT NULL,
	available	bigint NOT NULL DEFAULT 0 CHECK (available >= 0),
	frozen		bigint NOT NULL DEFAULT 0 CHECK (frozen >= 0),
	PRIMARY KEY (account, currency)
) WITH (fillfactor = 70);

-- kind: 1 deposit, 2 withdraw, 3 freeze, 4 unfreeze, 6 trade (buyer =
-- account, seller = counterparty, base = currency, quote = quote).
CREATE TABLE bench_axs.events (
	id			bigint PRIMARY KEY,
	kind		smallint NOT NULL,
	account		bigint NOT NULL,
	counterparty bigint NOT NULL,
	currency	integer NOT NULL,
	quote		integer NOT NULL,
	amount		bigint NOT NULL,
	quote_amount bigint NOT NULL,
	applied		boolean NOT NULL,
	recorded_at timestamptz NOT NULL DEFAULT now()
);

-- A bigint sum that stays bigint (sum(bigint) returns numeric, several
-- times slower in the window running sums of apply_batch.sql); int8pl
-- raises an error on overflow.
CREATE AGGREGATE bench_axs.int8_sum(bigint) (SFUNC = int8pl, STYPE = bigint, INITCOND = '0');

-- The balance changes of one event (the same legs as axs's ledger core).
CREATE FUNCTION bench_axs.legs(kind smallint, account bigint, counterparty bigint,
							   currency integer, quote integer, amount bigint, quote_amount bigint,
							   OUT account bigint, OUT currency integer,
							   OUT available bigint, OUT frozen bigint)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE
AS $$
	SELECT l.* FROM (VALUES
		($2, CASE WHEN $1 = 6 THEN $5 ELSE $4 END,
		 CASE $1 WHEN 1 THEN $6 WHEN 2 THEN -$6 WHEN 3 THEN -$6 WHEN 4 THEN $6 ELSE 0 END,
		 CASE $1 WHEN 3 THEN $6 WHEN 4 THEN -$6 WHEN 6 THEN -$7 ELSE 0 END),
		(CASE WHEN $1 = 6 THEN $2 END, $4, $6, 0::bigint),
		(CASE WHEN $1 = 6 THEN $3 END, $4, 0::bigint, -$6),
		(CASE WHEN $1 = 6 THEN $3 END, $5, $7, 0::bigint)
	) AS l(account, currency, available, frozen)
	WHERE l.account IS NOT NULL
$$;

-- Fallback when the set-based check of a batch cannot prove its outcome:
-- apply the batch's events one by one, in order, in the caller's
-- transaction.  Returns the number of events applied.
CREATE FUNCTION bench_axs.apply_batch_sequentially() RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	e			record;
	sufficient	boolean;
	applied		bigint := 0;
BEGIN
	FOR e IN
		SELECT * FROM (
			SELECT DISTINCT ON (b.id) b.* FROM pg_temp.batch AS b
			WHERE NOT EXISTS (SELECT 1 FROM bench_axs.events AS x WHERE x.id = b.id)
			ORDER BY b.id, b.seq) AS first_seen
		ORDER BY seq
	LOOP
		INSERT INTO bench_axs.balances (account, currency)
		SELECT l.account, l.currency
		FROM bench_axs.legs(e.kind, e.account, e.counterparty, e.currency, e.quote, e.amount, e.quote_amount) AS l
		ORDER BY 1, 2
		ON CONFLICT DO NOTHING;
		SELECT bool_and(b.available + l.available >= 0 AND b.frozen + l.frozen >= 0) INTO sufficient
		FROM bench_axs.legs(e.kind, e.account, e.counterparty, e.currency, e.quote, e.amount, e.quote_amount) AS l
		JOIN bench_axs.balances AS b ON b.account = l.account AND b.currency = l.currency;
		IF sufficient THEN
			UPDATE bench_axs.balances AS b
			   SET available = b.available + l.available, frozen = b.frozen + l.frozen
			  FROM bench_axs.legs(e.kind, e.account, e.counterparty, e.currency, e.quote, e.amount, e.quote_amount) AS l
			 WHERE b.account = l.account AND b.currency = l.currency;
			applied := applied + 1;
		END IF;
		INSERT INTO bench_axs.events (id, kind, account, counterparty, currency, quote, amount, quote_amount, applied)
		VALUES (e.id, e.kind, e.account, e.counterparty, e.currency, e.quote, e.amount, e.quote_amount, sufficient);
	END LOOP;
	RETURN applied;
END
$$;
