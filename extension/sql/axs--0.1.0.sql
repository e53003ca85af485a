/*
 * axs--0.1.0.sql
 *		Install script of the axs balance ledger: tables, the inbox queue,
 *		the SQL API and the roles applications get privileges through.
 *
 * Balance tables are written only by functions of this extension (SECURITY
 * DEFINER); applications are granted the role axs_app, the Kafka feeder the
 * role axs_feeder, dashboards the role axs_reader.
 */
\echo Use "CREATE EXTENSION axs" to load this file. \quit

-- Group roles (cluster-wide, so created only if missing and kept on DROP EXTENSION).
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'axs_reader') THEN
		CREATE ROLE axs_reader NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'axs_app') THEN
		CREATE ROLE axs_app NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'axs_feeder') THEN
		CREATE ROLE axs_feeder NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'axs_admin') THEN
		CREATE ROLE axs_admin NOLOGIN;
	END IF;
END
$roles$;
GRANT axs_reader TO axs_app;
GRANT axs_app TO axs_admin;

-- The result of applying one event.
CREATE TYPE axs.result AS (status text, reason text);

---------------------------------------------------------------------------
-- Tables
---------------------------------------------------------------------------

CREATE TABLE axs.currencies (
	id			integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	code		text NOT NULL UNIQUE,
	scale		integer NOT NULL CHECK (scale BETWEEN 0 AND 18),
	created_at	timestamptz NOT NULL DEFAULT now()
);

-- Every backend's caches of the tables that carry this trigger
-- (currency_cache.c, account_rules.c, outcome_stream_api.c) follow them:
-- the trigger queues a relcache invalidation of the table, which the caches
-- listen to.
CREATE FUNCTION axs.cache_invalidate() RETURNS trigger
AS 'MODULE_PATHNAME', 'axs_cache_invalidate' LANGUAGE C SET search_path = pg_catalog, pg_temp;
CREATE TRIGGER currencies_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON axs.currencies
	FOR EACH STATEMENT EXECUTE FUNCTION axs.cache_invalidate();

-- One row per (account, currency), created by the first event that credits it.
-- fillfactor leaves room for HOT updates of the hot rows.
CREATE TABLE axs.balances (
	account		bigint NOT NULL CHECK (account > 0),
	currency	integer NOT NULL,	-- an id of axs.currencies (no foreign key: ids come only from that registry and currencies are never removed; a key check per row would cost the applier)
	available	bigint NOT NULL DEFAULT 0,	-- below 0 only within a credit line (axs.credit_lines)
	frozen		bigint NOT NULL DEFAULT 0 CHECK (frozen >= 0),
	-- the balance's history (axs.history_blocks): entries so far, and the
	-- block holding the latest one (0: none yet)
	history_seqno bigint NOT NULL DEFAULT 0,
	history_block bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (account, currency)
) WITH (fillfactor = 70);

-- Every event ever decided, with its outcome.  reason_code 0 means applied,
-- otherwise the rejection reason (see axs.reasons).  payload is the binary
-- event without its id (format in event.h); render it with axs.event_json.
--
-- Idempotency (an id is decided once) rests on two structures: the unique
-- index below for events applied synchronously, and axs.outcome_blocks for
-- events the applier decided.  The applier's rows carry no per-row index
-- entry: that entry and its WAL record were a third of the applier's work.
-- The applier and the synchronous API exclude each other with the table lock
-- on axs.balances (EXCLUSIVE against ROW EXCLUSIVE), and each checks both
-- structures after taking it.
CREATE TABLE axs.event_log (
	id			bigint NOT NULL,
	payload		bytea NOT NULL,
	reason_code smallint NOT NULL,
	queue_position bigint,		-- NULL when applied synchronously
	queued_at	timestamptz,	-- NULL when applied synchronously
	recorded_at timestamptz NOT NULL,
	-- applied synchronously: the order of the call's decision (a value of
	-- axs.history_block_seq taken after its row locks, also the locator of
	-- its history block when it applied); the applier gives these events
	-- their place in the outcome stream (axs.outcome_stream) in this order
	sync_order	bigint
);
CREATE UNIQUE INDEX event_log_sync_id ON axs.event_log (id) WHERE queue_position IS NULL;
CREATE INDEX event_log_sync_order ON axs.event_log (sync_order) WHERE queue_position IS NULL;

-- The applier's outcomes by id: each batch's decided events sorted by id
-- and packed into blocks of a few kilobytes (format in outcome_block.h).
-- ids is the block's [first, last] id range ([first, infinity) if last is
-- the largest bigint); blocks of one batch do not overlap, blocks of
-- different batches may.
CREATE TABLE axs.outcome_blocks (
	ids			int8range NOT NULL,
	last_id		bigint NOT NULL,
	entries		bytea NOT NULL,
	decided_at	timestamptz NOT NULL	-- when its batch was decided
);
ALTER TABLE axs.outcome_blocks ALTER COLUMN entries SET STORAGE PLAIN;	-- a block fits a page: no TOAST, no compression
CREATE INDEX outcome_blocks_ids ON axs.outcome_blocks USING gist (ids);
CREATE INDEX outcome_blocks_last_id ON axs.outcome_blocks (last_id);

-- Per-account history: for every (account, currency) an applied event
-- changed, its net change and the balance right after it (one entry),
-- packed per decision unit (an applier batch, or one synchronous call) into
-- blocks of a few kilobytes (format in history_block.h).  Each entry names
-- the block of the key's previous entry, so a key's history is a chain
-- walked back from axs.balances.history_block.  Written only by the ledger.
CREATE SEQUENCE axs.history_block_seq;
CREATE TABLE axs.history_blocks (
	block		bigint PRIMARY KEY,	-- the locator entries name
	unit		bigint NOT NULL,	-- the first block of its decision unit: units in the order they were decided
	decided_at	timestamptz NOT NULL,	-- when its unit was decided (an applier batch's time)
	entries		bytea NOT NULL
);
ALTER TABLE axs.history_blocks ALTER COLUMN entries SET STORAGE PLAIN;	-- a block fits a page: no TOAST, no compression

-- Every 256th entry of each key's history: where to start a walk that
-- seeks by position or by time (history_read.c).
CREATE TABLE axs.history_marks (
	account		bigint NOT NULL,
	currency	integer NOT NULL,
	seqno		bigint NOT NULL,	-- 256, 512, ...
	block		bigint NOT NULL,	-- the block holding that entry
	decided_at	timestamptz NOT NULL,
	PRIMARY KEY (account, currency, seqno)
);
CREATE INDEX history_marks_time ON axs.history_marks (account, currency, decided_at);

-- The outcome stream: every decided event, on either path, in the order of
-- its decision sequence number seq (1, 2, 3, ... without gaps), packed into
-- blocks of a few kilobytes (format in stream_block.h): its id, outcome,
-- kind, when it was decided and queued, its Kafka source, and where its
-- history entries are (the balances right after it).  The applier, the only
-- writer, numbers the synchronous decisions committed since its last batch
-- and then its own batch, in one transaction with the batch
-- (docs/design/outcome-stream.md); axs.outcomes_after reads it.
CREATE TABLE axs.outcome_stream (
	last_seq	bigint PRIMARY KEY,	-- seq of the block's last entry
	first_seq	bigint NOT NULL,	-- seq of its first
	-- applier_state.sync_sequenced once this block was written: with
	-- last_seq, what a restored database's applier resumes numbering from
	sync_sequenced bigint NOT NULL,
	entries		bytea NOT NULL
);
ALTER TABLE axs.outcome_stream ALTER COLUMN entries SET STORAGE PLAIN;	-- a block fits a page

-- Kafka topics the inbox's rows came from, by a small id (axs.source_topic).
CREATE TABLE axs.source_topics (
	id			integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	topic		text NOT NULL UNIQUE
);
CREATE TRIGGER source_topics_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON axs.source_topics
	FOR EACH STATEMENT EXECUTE FUNCTION axs.cache_invalidate();

-- Where each outcome publisher (axs-feeder --outcomes-topic) has got to,
-- for monitoring: the committed Kafka transactions are the publisher's own
-- record of what it published (feeder/README.md).
CREATE TABLE axs.outcome_publishers (
	topic		text PRIMARY KEY,	-- the outcome topic
	published_seq bigint NOT NULL,	-- last seq in a committed transaction
	updated_at	timestamptz NOT NULL
);

CREATE TABLE axs.reasons (
	code		smallint PRIMARY KEY,
	reason		text NOT NULL UNIQUE
);
INSERT INTO axs.reasons VALUES
	(1, 'insufficient_available'),
	(2, 'insufficient_frozen'),
	(3, 'unknown_currency'),
	(4, 'overflow'),
	(5, 'id_reused'),
	(6, 'invalid_payload'),
	(7, 'account_suspended');

-- Inbox events whose id was already used by an event with other content:
-- the original stays untouched, the newcomer is recorded here (reason id_reused).
CREATE TABLE axs.id_conflicts (
	queue_position bigint PRIMARY KEY,
	id			bigint NOT NULL,
	payload		bytea NOT NULL,
	queued_at	timestamptz NOT NULL,
	recorded_at timestamptz NOT NULL
);

---------------------------------------------------------------------------
-- Inbox: the durable queue the applier drains.
--
-- Row format (what axs-feeder COPYs, in binary): event_id bigint, payload
-- bytea (binary event, see event.h), queued_at timestamptz.  position is
-- assigned from axs.inbox_position_seq.  A statement trigger takes the inbox
-- append lock for the inserting transaction, so transactions that append
-- commit one after another and positions become visible in order; the
-- applier can then follow a plain watermark.  The table is split into 64
-- segments of 2^18 positions (small, so that emptying one is a short
-- burst of file-system work: inbox_janitor.c); a segment is truncated in place, to
-- zero blocks, once every row in it is applied, so the inbox never needs
-- VACUUM.
---------------------------------------------------------------------------

CREATE SEQUENCE axs.inbox_position_seq AS bigint;	-- CACHE 1: see above

CREATE TABLE axs.inbox (
	position	bigint NOT NULL DEFAULT nextval('axs.inbox_position_seq'),
	event_id	bigint NOT NULL,
	payload		bytea NOT NULL,
	queued_at	timestamptz NOT NULL DEFAULT now(),
	-- the Kafka message it came from (an id of axs.source_topics); NULL for
	-- axs.submit
	source_offset bigint,
	source_topic integer,
	source_partition integer,
	-- AXS_PAYLOAD_MAX in event.h: no valid event is longer, and the
	-- applier's outcome blocks (outcome_block.h) rely on the bound
	CONSTRAINT inbox_payload_size CHECK (octet_length(payload) <= 1024)
) PARTITION BY LIST (((position >> 18) & 63));

DO $segments$
BEGIN
	FOR segment IN 0..63 LOOP
		EXECUTE format('CREATE TABLE axs.inbox_%s PARTITION OF axs.inbox FOR VALUES IN (%s)',
					   segment, segment);
		EXECUTE format('ALTER TABLE axs.inbox_%s SET (autovacuum_enabled = off)', segment);
		-- BRIN, not btree: appends only extend the last block range, and
		-- the applier summarizes the complete ones before it reads (inbox_reader.c)
		EXECUTE format('CREATE INDEX inbox_%s_position ON axs.inbox_%s USING brin (position) '
					   'WITH (pages_per_range = 32, autosummarize = off)', segment, segment);
	END LOOP;
END
$segments$;

-- The applier's durable progress.  epoch grows at every takeover; a batch
-- commits only if epoch and watermark are still the ones it started from.
CREATE TABLE axs.applier_state (
	singleton	boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	watermark	bigint NOT NULL DEFAULT 0,	-- every position <= watermark is decided
	epoch		bigint NOT NULL DEFAULT 0,
	-- inbox rows decided (every outcome, duplicates and dead letters
	-- included) and, of them, re-sent duplicates: committed with each
	-- batch, so they survive restarts, takeovers and segment truncations
	decided_total bigint NOT NULL DEFAULT 0,
	duplicates_total bigint NOT NULL DEFAULT 0,
	-- the outcome stream: the last seq given, and the largest
	-- event_log.sync_order among the synchronous decisions numbered
	decided_seq bigint NOT NULL DEFAULT 0,
	sync_sequenced bigint NOT NULL DEFAULT 0,
	updated_at	timestamptz NOT NULL DEFAULT now()
);
INSERT INTO axs.applier_state DEFAULT VALUES;

-- Kafka offsets, written in the same transaction as the batch they cover.
CREATE TABLE axs.feeder_offsets (
	topic		text NOT NULL,
	partition	integer NOT NULL,
	next_offset bigint NOT NULL,	-- first offset not yet in PostgreSQL
	updated_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (topic, partition)
);

-- Kafka messages that are not valid events, kept with their raw bytes.
CREATE TABLE axs.dead_letters (
	topic		text NOT NULL,
	partition	integer NOT NULL,
	"offset"	bigint NOT NULL,
	raw			bytea,			-- the message value; NULL for a message without one
	reason		text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (topic, partition, "offset")
);

-- Credit lines: available of (account, currency) may go down to -credit.
-- No row: credit 0.  Changed only by axs.set_credit_limit.
CREATE TABLE axs.credit_lines (
	account		bigint NOT NULL CHECK (account > 0),
	currency	integer NOT NULL REFERENCES axs.currencies (id),
	credit		bigint NOT NULL CHECK (credit >= 0),
	set_at		timestamptz NOT NULL,
	PRIMARY KEY (account, currency)
);

-- Accounts whose status was ever changed; no row: active.  Changed only by
-- axs.suspend_account and axs.resume_account.
CREATE TABLE axs.account_states (
	account		bigint PRIMARY KEY CHECK (account > 0),
	status		text NOT NULL CHECK (status IN ('active', 'suspended')),
	reason		text,			-- why it was suspended; NULL when active
	since		timestamptz NOT NULL
);

-- The rules' caches in every backend (account_rules.c) follow both tables.
CREATE TRIGGER credit_lines_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON axs.credit_lines
	FOR EACH STATEMENT EXECUTE FUNCTION axs.cache_invalidate();
CREATE TRIGGER account_states_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON axs.account_states
	FOR EACH STATEMENT EXECUTE FUNCTION axs.cache_invalidate();

-- Every change of a credit line or an account's status: who, when, the old
-- and the new value, and the applier's watermark when it took effect (queued
-- events at or below it were decided under the old rule, the ones after it
-- under the new).
CREATE TABLE axs.account_changes (
	change_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,	-- the order the changes were made in
	changed_at	timestamptz NOT NULL,
	changed_by	name NOT NULL,	-- the session user who called the function
	account		bigint NOT NULL,
	currency	text,			-- the credit line's currency; NULL for a status change
	change		text NOT NULL CHECK (change IN ('credit_limit', 'suspend', 'resume')),
	old_value	text,
	new_value	text,
	applier_watermark bigint NOT NULL
);
CREATE INDEX account_changes_account ON axs.account_changes (account, changed_at);

-- What pg_dump keeps (pg_restore then gives a working ledger):
--  * the ledger's state: currencies (and their id sequence), balances, the
--    decided events, the outcome blocks and stream, id conflicts, feeder offsets, dead
--    letters, credit lines, account states and their changes, the source
--    topics and the outcome publishers' progress;
--  * the inbox rows the applier had not decided yet, and the position
--    sequence, so that new positions come after every restored one;
--  * not axs.applier_state: the restored database starts with the install
--    script's row (epoch 0), and the applier's first takeover there moves
--    the watermark to just before the oldest restored inbox row and the
--    outcome stream's numbering to after its last restored block.
-- One pg_dump snapshot covers them all, so the offsets agree with the inbox.
SELECT pg_catalog.pg_extension_config_dump('axs.currencies', '');
SELECT pg_catalog.pg_extension_config_dump('axs.currencies_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('axs.balances', '');
SELECT pg_catalog.pg_extension_config_dump('axs.event_log', '');
SELECT pg_catalog.pg_extension_config_dump('axs.outcome_blocks', '');
SELECT pg_catalog.pg_extension_config_dump('axs.history_blocks', '');
SELECT pg_catalog.pg_extension_config_dump('axs.history_block_seq', '');
SELECT pg_catalog.pg_extension_config_dump('axs.history_marks', '');
SELECT pg_catalog.pg_extension_config_dump('axs.outcome_stream', '');
SELECT pg_catalog.pg_extension_config_dump('axs.source_topics', '');
SELECT pg_catalog.pg_extension_config_dump('axs.source_topics_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('axs.outcome_publishers', '');
SELECT pg_catalog.pg_extension_config_dump('axs.id_conflicts', '');
SELECT pg_catalog.pg_extension_config_dump('axs.feeder_offsets', '');
SELECT pg_catalog.pg_extension_config_dump('axs.dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('axs.credit_lines', '');
SELECT pg_catalog.pg_extension_config_dump('axs.account_states', '');
SELECT pg_catalog.pg_extension_config_dump('axs.account_changes', '');
SELECT pg_catalog.pg_extension_config_dump('axs.account_changes_change_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('axs.inbox_position_seq', '');
DO $dump_inbox$
BEGIN
	FOR segment IN 0..63 LOOP
		PERFORM pg_catalog.pg_extension_config_dump(pg_catalog.format('axs.inbox_%s', segment)::regclass,
			'WHERE position OPERATOR(pg_catalog.>) (SELECT watermark FROM axs.applier_state)');
	END LOOP;
END
$dump_inbox$;

---------------------------------------------------------------------------
-- Feeder support
---------------------------------------------------------------------------

-- Advance the stored Kafka offset of one partition from expected_next (NULL:
-- no offset stored yet) to new_next, in the caller's transaction.  This
-- compare-and-set is the partition fence: a feeder that lost the partition,
-- or a zombie, finds another offset stored and its whole batch rolls back.
CREATE FUNCTION axs.feeder_advance(topic text, partition integer,
								   expected_next bigint, new_next bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	stored bigint;
BEGIN
	IF new_next IS NULL OR new_next OPERATOR(pg_catalog.<) 0
	   OR (expected_next IS NOT NULL AND new_next OPERATOR(pg_catalog.<) expected_next) THEN
		RAISE EXCEPTION 'invalid offset range % to % for %[%]', expected_next, new_next, topic, partition
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF expected_next IS NULL THEN
		INSERT INTO axs.feeder_offsets AS o (topic, partition, next_offset)
		VALUES (feeder_advance.topic, feeder_advance.partition, new_next)
		ON CONFLICT DO NOTHING;
		IF FOUND THEN
			RETURN;
		END IF;
	ELSE
		UPDATE axs.feeder_offsets AS o
		   SET next_offset = new_next, updated_at = pg_catalog.now()
		 WHERE o.topic OPERATOR(pg_catalog.=) feeder_advance.topic
		   AND o.partition OPERATOR(pg_catalog.=) feeder_advance.partition
		   AND o.next_offset OPERATOR(pg_catalog.=) expected_next;
		IF FOUND THEN
			RETURN;
		END IF;
	END IF;
	SELECT o.next_offset INTO stored FROM axs.feeder_offsets AS o
	 WHERE o.topic OPERATOR(pg_catalog.=) feeder_advance.topic
	   AND o.partition OPERATOR(pg_catalog.=) feeder_advance.partition;
	RAISE EXCEPTION 'partition %[%] is fenced: stored next offset is %, this feeder expected %',
		topic, partition, coalesce(stored::text, 'none'), coalesce(expected_next::text, 'none')
		USING ERRCODE = 'serialization_failure',
			  HINT = 'Another feeder owns this partition now; re-read the stored offsets before writing again.';
END
$$;

-- Replay: set the stored next offset of one partition of topic (of every
-- stored partition of it when partition is NULL) to next_offset, backwards
-- or forwards.  A feeder that owns the partition finds its next batch fenced
-- by feeder_advance, re-reads the stored offsets and consumes from there.
-- Events consumed again are duplicates of their first pass (same outcome),
-- malformed messages already dead-lettered are not recorded twice.
CREATE FUNCTION axs.feeder_rewind(topic text, partition integer, next_offset bigint)
RETURNS TABLE (rewound_partition integer, previous_offset bigint, new_offset bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF feeder_rewind.topic IS NULL OR feeder_rewind.next_offset IS NULL
	   OR feeder_rewind.next_offset OPERATOR(pg_catalog.<) 0 THEN
		RAISE EXCEPTION 'invalid replay of %[%] from offset %', feeder_rewind.topic,
			coalesce(feeder_rewind.partition::text, 'all'), coalesce(feeder_rewind.next_offset::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Give a topic and an offset of 0 or more; partition NULL means every stored partition.';
	END IF;
	RETURN QUERY
	UPDATE axs.feeder_offsets AS o
	   SET next_offset = feeder_rewind.next_offset, updated_at = pg_catalog.now()
	  FROM axs.feeder_offsets AS before
	 WHERE o.topic OPERATOR(pg_catalog.=) feeder_rewind.topic
	   AND (feeder_rewind.partition IS NULL OR o.partition OPERATOR(pg_catalog.=) feeder_rewind.partition)
	   AND before.topic OPERATOR(pg_catalog.=) o.topic AND before.partition OPERATOR(pg_catalog.=) o.partition
	RETURNING o.partition, before.next_offset, o.next_offset;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no stored offset for %[%]', feeder_rewind.topic,
			coalesce(feeder_rewind.partition::text, 'any partition')
			USING ERRCODE = 'no_data_found',
				  HINT = 'axs.feeder_offsets lists the partitions a feeder has written.';
	END IF;
END
$$;

-- The id of a Kafka topic for axs.inbox.source_topic, registered on first use.
CREATE FUNCTION axs.source_topic(topic text) RETURNS integer
LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	found_id integer;
BEGIN
	IF source_topic.topic OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'a source topic needs a name' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO axs.source_topics AS t (topic) VALUES (source_topic.topic) ON CONFLICT DO NOTHING
		RETURNING t.id INTO found_id;
	IF found_id IS NULL THEN
		SELECT t.id INTO found_id FROM axs.source_topics AS t
		 WHERE t.topic OPERATOR(pg_catalog.=) source_topic.topic;
	END IF;
	RETURN found_id;
END
$$;

---------------------------------------------------------------------------
-- The outcome stream (docs/design/outcome-stream.md)
---------------------------------------------------------------------------

-- The decided events after after_seq in seq order, at most max_rows, each
-- with its message for the outcome topic (JSON, README "The outcome
-- stream"); waits up to wait_ms for the first when none is decided yet.
CREATE FUNCTION axs.outcomes_after(after_seq bigint, max_rows integer DEFAULT 1000,
								   wait_ms integer DEFAULT 0)
RETURNS TABLE (seq bigint, id bigint, source_topic text, source_partition integer,
			   source_offset bigint, queued_at timestamptz, message text)
AS 'MODULE_PATHNAME', 'axs_outcomes_after' LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp SET work_mem = '32MB';	-- the rows stay in memory: a call returns at most a few MB

-- The same events as axs.outcomes_after, packed for the outcome publisher
-- (axs-feeder) into rows of about 256 kB of frames, in seq order: one frame
-- per event, its numbers big-endian: seq int8, id int8, queued_at int8
-- (microseconds since 2000-01-01), source_offset int8, source_partition
-- int4, message length int4, flags int2 (1: from Kafka, 2: queued_at set),
-- source topic length int2, the source topic's name, the message.
CREATE FUNCTION axs.outcome_frames_after(after_seq bigint, max_rows integer DEFAULT 1000,
										 wait_ms integer DEFAULT 0)
RETURNS SETOF bytea
AS 'MODULE_PATHNAME', 'axs_outcome_frames_after' LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp SET work_mem = '32MB';

-- The fence of the publishers of one outcome topic: a session-level
-- advisory lock (classid 6387828, objid hashtext of the topic), taken
-- without waiting.  True if this session holds it.
CREATE FUNCTION axs.outcome_publisher_try_lock(outcomes_topic text) RETURNS boolean
LANGUAGE sql STRICT VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.pg_try_advisory_lock(6387828, pg_catalog.hashtext(outcomes_topic)) $$;

-- A publisher's progress, for monitoring (axs_outcomes_* metrics).
CREATE FUNCTION axs.outcomes_published(outcomes_topic text, seq bigint) RETURNS void
LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO axs.outcome_publishers AS p (topic, published_seq, updated_at)
	VALUES (outcomes_topic, seq, pg_catalog.now())
	ON CONFLICT (topic) DO UPDATE SET published_seq = excluded.published_seq, updated_at = excluded.updated_at
$$;

---------------------------------------------------------------------------
-- Inbox append guard and applier control
---------------------------------------------------------------------------

-- SECURITY DEFINER: it reads the position sequence, which the feeder's role
-- may use but not read.
CREATE FUNCTION axs.inbox_append_guard() RETURNS trigger
AS 'MODULE_PATHNAME', 'axs_inbox_append_guard' LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE TRIGGER inbox_append_guard BEFORE INSERT ON axs.inbox
	FOR EACH STATEMENT EXECUTE FUNCTION axs.inbox_append_guard();

CREATE FUNCTION axs.start_applier() RETURNS integer
AS 'MODULE_PATHNAME', 'axs_start_applier' LANGUAGE C STRICT SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION axs.wait("position" bigint, timeout_ms integer DEFAULT 5000) RETURNS boolean
AS 'MODULE_PATHNAME', 'axs_wait' LANGUAGE C STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION axs.applier_stats(
	OUT pid integer, OUT fence_held boolean, OUT standbys integer, OUT epoch bigint,
	OUT batches bigint, OUT events_applied bigint, OUT events_rejected bigint,
	OUT events_duplicate bigint, OUT last_batch_size bigint, OUT last_batch_ms double precision,
	OUT last_batch_at timestamptz, OUT started_at timestamptz, OUT published_watermark bigint,
	OUT blocked_by integer, OUT blocked_since timestamptz,
	OUT fence_intruder integer, OUT fence_intruder_since timestamptz,
	OUT settlements_short_frozen bigint)
AS 'MODULE_PATHNAME', 'axs_applier_stats' LANGUAGE C STRICT SET search_path = pg_catalog, pg_temp;

---------------------------------------------------------------------------
-- Applying events now, in the caller's transaction
---------------------------------------------------------------------------

CREATE FUNCTION axs.apply(event jsonb) RETURNS axs.result
AS 'MODULE_PATHNAME', 'axs_apply' LANGUAGE C STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION axs.deposit(id bigint, account bigint, currency text, amount bigint) RETURNS axs.result
AS 'MODULE_PATHNAME', 'axs_deposit' LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION axs.withdraw(id bigint, account bigint, currency text, amount bigint) RETURNS axs.result
AS 'MODULE_PATHNAME', 'axs_withdraw' LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION axs.freeze(id bigint, account bigint, currency text, amount bigint) RETURNS axs.result
AS 'MODULE_PATHNAME', 'axs_freeze' LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION axs.unfreeze(id bigint, account bigint, currency text, amount bigint) RETURNS axs.result
AS 'MODULE_PATHNAME', 'axs_unfreeze' LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION axs.transfer(id bigint, from_account bigint, to_account bigint, currency text, amount bigint)
RETURNS axs.result
AS 'MODULE_PATHNAME', 'axs_transfer' LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION axs.trade(id bigint, buyer bigint, seller bigint, base text, quote text,
						  base_amount bigint, quote_amount bigint,
						  buyer_fee bigint DEFAULT 0, seller_fee bigint DEFAULT 0,
						  fee_account bigint DEFAULT NULL)
RETURNS axs.result
AS 'MODULE_PATHNAME', 'axs_trade' LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

---------------------------------------------------------------------------
-- Queueing events for the applier
---------------------------------------------------------------------------

CREATE FUNCTION axs.submit(event jsonb) RETURNS bigint
AS 'MODULE_PATHNAME', 'axs_submit' LANGUAGE C STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION axs.submit_many(events jsonb) RETURNS bigint
AS 'MODULE_PATHNAME', 'axs_submit_many' LANGUAGE C STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

---------------------------------------------------------------------------
-- Currencies
---------------------------------------------------------------------------

CREATE FUNCTION axs.create_currency(code text, scale integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	new_id integer;
BEGIN
	IF code IS NULL OR code OPERATOR(pg_catalog.!~) '^[A-Za-z0-9_.-]{1,16}$' THEN
		RAISE EXCEPTION 'invalid currency code %', coalesce(pg_catalog.quote_literal(code), 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A code has 1 to 16 characters from A-Z a-z 0-9 _ . -';
	END IF;
	IF scale IS NULL OR scale OPERATOR(pg_catalog.<) 0 OR scale OPERATOR(pg_catalog.>) 18 THEN
		RAISE EXCEPTION 'invalid scale % for currency %', coalesce(scale::text, 'NULL'), code
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The scale is the number of decimal places of the minor unit, 0 to 18.';
	END IF;
	INSERT INTO axs.currencies (code, scale) VALUES (code, scale) RETURNING id INTO new_id;
	RETURN new_id;
EXCEPTION WHEN unique_violation THEN
	RAISE EXCEPTION 'currency % already exists', code
		USING ERRCODE = 'unique_violation';
END
$$;

---------------------------------------------------------------------------
-- Credit lines and suspended accounts (axs_admin)
--
-- A change takes effect for every event decided after its transaction
-- commits, on both paths: it takes ROW EXCLUSIVE on axs.balances, so it
-- waits for an applier batch in progress and the next batch waits for its
-- commit; both paths read the rules after they lock axs.balances
-- (account_rules.c).  Each change is recorded in axs.account_changes with
-- the applier's watermark at that point.
---------------------------------------------------------------------------

CREATE FUNCTION axs.set_credit_limit(account bigint, currency text, credit bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	currency_id integer;
	previous bigint;
BEGIN
	IF account IS NULL OR account OPERATOR(pg_catalog.<=) 0 THEN
		RAISE EXCEPTION 'invalid account %', coalesce(account::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value', DETAIL = 'An account id is a bigint greater than 0.';
	END IF;
	IF credit IS NULL OR credit OPERATOR(pg_catalog.<) 0 THEN
		RAISE EXCEPTION 'invalid credit limit % for account %', coalesce(credit::text, 'NULL'), account
			USING ERRCODE = 'invalid_parameter_value', DETAIL = 'A credit limit is 0 or more, in minor units.';
	END IF;
	SELECT c.id INTO currency_id FROM axs.currencies AS c WHERE c.code OPERATOR(pg_catalog.=) set_credit_limit.currency;
	IF currency_id IS NULL THEN
		RAISE EXCEPTION 'unknown currency %', coalesce(pg_catalog.quote_literal(set_credit_limit.currency), 'NULL')
			USING ERRCODE = 'invalid_parameter_value', HINT = 'axs.currencies lists the registered codes.';
	END IF;
	LOCK TABLE axs.balances IN ROW EXCLUSIVE MODE;
	SELECT l.credit INTO previous FROM axs.credit_lines AS l
	 WHERE l.account OPERATOR(pg_catalog.=) set_credit_limit.account
	   AND l.currency OPERATOR(pg_catalog.=) currency_id
	   FOR UPDATE;
	INSERT INTO axs.credit_lines AS l (account, currency, credit, set_at)
	VALUES (set_credit_limit.account, currency_id, set_credit_limit.credit, pg_catalog.now())
	ON CONFLICT ON CONSTRAINT credit_lines_pkey
	DO UPDATE SET credit = excluded.credit, set_at = excluded.set_at;
	INSERT INTO axs.account_changes (changed_at, changed_by, account, currency, change, old_value, new_value,
									 applier_watermark)
	SELECT pg_catalog.now(), session_user, set_credit_limit.account, set_credit_limit.currency, 'credit_limit',
		   coalesce(previous, 0)::text, set_credit_limit.credit::text, st.watermark
	FROM axs.applier_state AS st;
END
$$;

CREATE FUNCTION axs.suspend_account(account bigint, reason text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	previous axs.account_states;
BEGIN
	IF account IS NULL OR account OPERATOR(pg_catalog.<=) 0 THEN
		RAISE EXCEPTION 'invalid account %', coalesce(account::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value', DETAIL = 'An account id is a bigint greater than 0.';
	END IF;
	IF reason IS NULL OR pg_catalog.btrim(reason) OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'a suspension of account % needs a reason', account
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Say why, for the audit trail (axs.account_changes).';
	END IF;
	LOCK TABLE axs.balances IN ROW EXCLUSIVE MODE;
	SELECT * INTO previous FROM axs.account_states AS a
	 WHERE a.account OPERATOR(pg_catalog.=) suspend_account.account FOR UPDATE;
	IF previous.status OPERATOR(pg_catalog.=) 'suspended' AND previous.reason OPERATOR(pg_catalog.=) suspend_account.reason THEN
		RETURN false;
	END IF;
	INSERT INTO axs.account_states AS a (account, status, reason, since)
	VALUES (suspend_account.account, 'suspended', suspend_account.reason, pg_catalog.now())
	ON CONFLICT ON CONSTRAINT account_states_pkey
	DO UPDATE SET status = 'suspended', reason = excluded.reason,
				  since = CASE WHEN a.status OPERATOR(pg_catalog.=) 'suspended' THEN a.since ELSE excluded.since END;
	INSERT INTO axs.account_changes (changed_at, changed_by, account, currency, change, old_value, new_value,
									 applier_watermark)
	SELECT pg_catalog.now(), session_user, suspend_account.account, NULL, 'suspend',
		   CASE WHEN previous.status OPERATOR(pg_catalog.=) 'suspended' THEN previous.reason ELSE 'active' END,
		   suspend_account.reason, st.watermark
	FROM axs.applier_state AS st;
	RETURN previous.status IS NULL OR previous.status OPERATOR(pg_catalog.<>) 'suspended';
END
$$;

CREATE FUNCTION axs.resume_account(account bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	previous axs.account_states;
BEGIN
	IF account IS NULL OR account OPERATOR(pg_catalog.<=) 0 THEN
		RAISE EXCEPTION 'invalid account %', coalesce(account::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value', DETAIL = 'An account id is a bigint greater than 0.';
	END IF;
	LOCK TABLE axs.balances IN ROW EXCLUSIVE MODE;
	SELECT * INTO previous FROM axs.account_states AS a
	 WHERE a.account OPERATOR(pg_catalog.=) resume_account.account FOR UPDATE;
	IF previous.status IS NULL OR previous.status OPERATOR(pg_catalog.<>) 'suspended' THEN
		RETURN false;
	END IF;
	UPDATE axs.account_states AS a SET status = 'active', reason = NULL, since = pg_catalog.now()
	 WHERE a.account OPERATOR(pg_catalog.=) resume_account.account;
	INSERT INTO axs.account_changes (changed_at, changed_by, account, currency, change, old_value, new_value,
									 applier_watermark)
	SELECT pg_catalog.now(), session_user, resume_account.account, NULL, 'resume', previous.reason, 'active', st.watermark
	FROM axs.applier_state AS st;
	RETURN true;
END
$$;

CREATE VIEW axs.credit_limits AS
	SELECT l.account, c.code AS currency, l.credit, l.set_at
	FROM axs.credit_lines AS l JOIN axs.currencies AS c ON c.id OPERATOR(pg_catalog.=) l.currency;

CREATE VIEW axs.account_status AS
	SELECT a.account, a.status, a.reason, a.since FROM axs.account_states AS a;

---------------------------------------------------------------------------
-- Reads
---------------------------------------------------------------------------

CREATE FUNCTION axs.event_json(id bigint, payload bytea) RETURNS jsonb
AS 'MODULE_PATHNAME', 'axs_event_json' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp;

-- The reason code an id was decided with (0: applied); NULL if not decided.
-- The lookup by id for every event, through the log's index of synchronous
-- events and axs.outcome_blocks.
CREATE FUNCTION axs.decided_reason(id bigint) RETURNS smallint
AS 'MODULE_PATHNAME', 'axs_decided_reason'
LANGUAGE C STRICT STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION axs.event_legs(id bigint, payload bytea,
	OUT account bigint, OUT currency integer, OUT available bigint, OUT frozen bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'axs_event_legs' LANGUAGE C STRICT STABLE SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION axs.balance(account bigint, currency text,
	OUT available bigint, OUT frozen bigint)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(b.available, 0), coalesce(b.frozen, 0)
	FROM (SELECT 1) AS one
	LEFT JOIN axs.currencies AS c ON c.code OPERATOR(pg_catalog.=) balance.currency
	LEFT JOIN axs.balances AS b ON b.account OPERATOR(pg_catalog.=) balance.account
								AND b.currency OPERATOR(pg_catalog.=) c.id
$$;

CREATE FUNCTION axs.balances(account bigint,
	OUT currency text, OUT available bigint, OUT frozen bigint)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	SELECT c.code, b.available, b.frozen
	FROM axs.balances AS b JOIN axs.currencies AS c ON c.id OPERATOR(pg_catalog.=) b.currency
	WHERE b.account OPERATOR(pg_catalog.=) balances.account
	ORDER BY c.code USING OPERATOR(pg_catalog.<)
$$;

-- Every event: decided ones from the log, queued ones as pending.
CREATE VIEW axs.events AS
	SELECT e.id,
		   (axs.event_json(e.id, e.payload) OPERATOR(pg_catalog.->>) 'kind') AS kind,
		   axs.event_json(e.id, e.payload) AS event,
		   CASE WHEN e.reason_code OPERATOR(pg_catalog.=) 0 THEN 'applied' ELSE 'rejected' END AS status,
		   r.reason,
		   e.queue_position,
		   e.queued_at,
		   e.recorded_at
	FROM axs.event_log AS e
	LEFT JOIN axs.reasons AS r ON r.code OPERATOR(pg_catalog.=) e.reason_code
	UNION ALL
	SELECT i.event_id,
		   (axs.event_json(i.event_id, i.payload) OPERATOR(pg_catalog.->>) 'kind'),
		   axs.event_json(i.event_id, i.payload),
		   'pending',
		   NULL,
		   i.position,
		   i.queued_at,
		   NULL
	FROM axs.inbox AS i
	WHERE i.position OPERATOR(pg_catalog.>) (SELECT watermark FROM axs.applier_state)
	  AND axs.decided_reason(i.event_id) IS NULL;

CREATE FUNCTION axs.event_status(id bigint) RETURNS axs.result
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(
		(SELECT ROW(CASE WHEN d.code OPERATOR(pg_catalog.=) 0 THEN 'applied' ELSE 'rejected' END,
					r.reason)::axs.result
		   FROM (SELECT axs.decided_reason(event_status.id) AS code) AS d
		   LEFT JOIN axs.reasons AS r ON r.code OPERATOR(pg_catalog.=) d.code
		  WHERE d.code IS NOT NULL),
		(SELECT ROW('pending', NULL)::axs.result
		   FROM axs.inbox AS i
		  WHERE i.position OPERATOR(pg_catalog.>) (SELECT watermark FROM axs.applier_state)
		    AND i.event_id OPERATOR(pg_catalog.=) event_status.id
		  LIMIT 1))
$$;

-- Per-account history (history_api.c): one row per applied event and
-- currency that changed the account's balance, with the balance after it,
-- oldest first in the order the ledger applied them.
CREATE FUNCTION axs.history(account bigint, currency text DEFAULT NULL,
	since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL, max_rows integer DEFAULT 1000)
RETURNS TABLE (event_id bigint, kind text, currency text, available_delta bigint, frozen_delta bigint,
			   available bigint, frozen bigint, decided_at timestamptz)
AS 'MODULE_PATHNAME', 'axs_history' LANGUAGE C STABLE SET search_path = pg_catalog, pg_temp;

-- The next page: the rows after the row of after_event.
CREATE FUNCTION axs.history_after(account bigint, currency text, after_event bigint,
	max_rows integer DEFAULT 1000)
RETURNS TABLE (event_id bigint, kind text, currency text, available_delta bigint, frozen_delta bigint,
			   available bigint, frozen bigint, decided_at timestamptz)
AS 'MODULE_PATHNAME', 'axs_history_after' LANGUAGE C STABLE SET search_path = pg_catalog, pg_temp;

-- The balance after the last event decided at or before at (zeros before the first).
CREATE FUNCTION axs.balance_at(account bigint, currency text, at timestamptz)
RETURNS TABLE (available bigint, frozen bigint)
AS 'MODULE_PATHNAME', 'axs_balance_at' LANGUAGE C STABLE SET search_path = pg_catalog, pg_temp;

-- Every key whose history does not chain or does not end at its balance
-- (history_verify.c): expected is what the history gives, actual what is stored.
CREATE FUNCTION axs.history_verify()
RETURNS TABLE (account bigint, currency integer,
			   expected_available bigint, expected_frozen bigint,
			   actual_available bigint, actual_frozen bigint)
AS 'MODULE_PATHNAME', 'axs_history_verify' LANGUAGE C STABLE SET search_path = pg_catalog, pg_temp;

-- Recompute every balance from the applied events and from its history, and
-- list the ones that differ: expected is what the log (or the history) gives,
-- actual what axs.balances holds.
CREATE FUNCTION axs.verify()
RETURNS TABLE (account bigint, currency text,
			   expected_available bigint, expected_frozen bigint,
			   actual_available bigint, actual_frozen bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	WITH expected AS (
		SELECT l.account, l.currency,
			   pg_catalog.sum(l.available)::bigint AS available, pg_catalog.sum(l.frozen)::bigint AS frozen
		FROM axs.event_log AS e, axs.event_legs(e.id, e.payload) AS l
		WHERE e.reason_code OPERATOR(pg_catalog.=) 0
		GROUP BY l.account, l.currency
	)
	SELECT coalesce(x.account, b.account), c.code,
		   coalesce(x.available, 0), coalesce(x.frozen, 0),
		   coalesce(b.available, 0), coalesce(b.frozen, 0)
	FROM expected AS x
	FULL JOIN axs.balances AS b ON b.account OPERATOR(pg_catalog.=) x.account
							   AND b.currency OPERATOR(pg_catalog.=) x.currency
	JOIN axs.currencies AS c ON c.id OPERATOR(pg_catalog.=) coalesce(x.currency, b.currency)
	WHERE coalesce(x.available, 0) OPERATOR(pg_catalog.<>) coalesce(b.available, 0)
	   OR coalesce(x.frozen, 0) OPERATOR(pg_catalog.<>) coalesce(b.frozen, 0)
	UNION	-- the same finding of both checks (a balance changed behind the ledger's back) once
	SELECT h.account, c.code, h.expected_available, h.expected_frozen, h.actual_available, h.actual_frozen
	FROM axs.history_verify() AS h
	JOIN axs.currencies AS c ON c.id OPERATOR(pg_catalog.=) h.currency
	ORDER BY 1, 2
$$;

CREATE VIEW axs.applier_status AS
	SELECT s.pid,
		   s.fence_held,
		   s.standbys,
		   st.epoch,
		   s.batches,
		   s.events_applied,
		   s.events_rejected,
		   s.events_duplicate,
		   s.last_batch_size,
		   s.last_batch_ms,
		   s.last_batch_at,
		   st.watermark,
		   q.queue_depth,
		   coalesce(extract(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) q.oldest_queued_at), 0)::double precision
			   AS lag_seconds,
		   s.started_at,
		   s.blocked_by,
		   s.blocked_since,
		   s.fence_intruder,
		   s.fence_intruder_since,
		   s.settlements_short_frozen,
		   st.decided_total,
		   st.duplicates_total
	FROM axs.applier_stats() AS s,
		 axs.applier_state AS st,
		 LATERAL (SELECT pg_catalog.count(*) AS queue_depth, pg_catalog.min(i.queued_at) AS oldest_queued_at
					FROM axs.inbox AS i WHERE i.position OPERATOR(pg_catalog.>) st.watermark) AS q;

---------------------------------------------------------------------------
-- Privileges: nobody but the extension's functions writes these tables.
---------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA axs FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA axs FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA axs FROM PUBLIC;
GRANT USAGE ON SCHEMA axs TO axs_reader, axs_app, axs_feeder, axs_admin;

GRANT SELECT ON axs.currencies, axs.balances, axs.event_log, axs.outcome_blocks, axs.reasons, axs.id_conflicts,
	axs.applier_state, axs.feeder_offsets, axs.dead_letters, axs.events, axs.applier_status,
	axs.credit_lines, axs.account_states, axs.account_changes, axs.credit_limits, axs.account_status,
	axs.history_blocks, axs.history_marks, axs.outcome_stream, axs.source_topics, axs.outcome_publishers
	TO axs_reader;
GRANT EXECUTE ON FUNCTION axs.balance(bigint, text), axs.balances(bigint), axs.event_status(bigint),
	axs.verify(), axs.history_verify(),
	axs.history(bigint, text, timestamptz, timestamptz, integer),
	axs.history_after(bigint, text, bigint, integer), axs.balance_at(bigint, text, timestamptz), axs.event_json(bigint, bytea), axs.event_legs(bigint, bytea), axs.decided_reason(bigint),
	axs.applier_stats(), axs.outcomes_after(bigint, integer, integer),
	axs.outcome_frames_after(bigint, integer, integer)
	TO axs_reader;

GRANT EXECUTE ON FUNCTION axs.apply(jsonb),
	axs.deposit(bigint, bigint, text, bigint), axs.withdraw(bigint, bigint, text, bigint),
	axs.freeze(bigint, bigint, text, bigint), axs.unfreeze(bigint, bigint, text, bigint),
	axs.transfer(bigint, bigint, bigint, text, bigint),
	axs.trade(bigint, bigint, bigint, text, text, bigint, bigint, bigint, bigint, bigint),
	axs.submit(jsonb), axs.submit_many(jsonb), axs.wait(bigint, integer)
	TO axs_app;

GRANT EXECUTE ON FUNCTION axs.create_currency(text, integer), axs.feeder_rewind(text, integer, bigint),
	axs.set_credit_limit(bigint, text, bigint), axs.suspend_account(bigint, text), axs.resume_account(bigint)
	TO axs_admin;

-- The feeder COPYs into the inbox (the trigger runs with the inserter's rights).
-- Not the position: rows get theirs from the sequence, which is how the
-- janitor knows that a segment holds nothing undecided (inbox_janitor.c).
GRANT INSERT (event_id, payload, queued_at, source_topic, source_partition, source_offset)
	ON axs.inbox TO axs_feeder;
GRANT INSERT ON axs.dead_letters TO axs_feeder;
GRANT SELECT ON axs.feeder_offsets TO axs_feeder;
GRANT USAGE ON SEQUENCE axs.inbox_position_seq TO axs_feeder;
GRANT EXECUTE ON FUNCTION axs.feeder_advance(text, integer, bigint, bigint),
	axs.inbox_append_guard() TO axs_feeder;
-- The outcome publisher (axs-feeder --outcomes-topic).
GRANT SELECT ON axs.outcome_stream, axs.history_blocks, axs.source_topics, axs.currencies TO axs_feeder;
GRANT EXECUTE ON FUNCTION axs.source_topic(text), axs.outcomes_after(bigint, integer, integer),
	axs.outcome_frames_after(bigint, integer, integer), axs.outcome_publisher_try_lock(text), axs.outcomes_published(text, bigint) TO axs_feeder;
