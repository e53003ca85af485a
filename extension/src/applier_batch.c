/*
 * applier_batch.c
 *		One applier batch, in one transaction: read the next rows after the
 *		watermark, expand them through the ledger core, sort out duplicates
 *		(within the batch and against every decided event), apply the events
 *		in order in memory and write the balances back, record every outcome,
 *		number the decisions in the outcome stream, and advance the watermark
 *		through the fence's compare-and-set.
 *
 * The ledger core decides every event; the stores (batch_store.c,
 * outcome_store.c) write what was decided; the fence (applier_fence.c)
 * says who may commit.  This file only puts them in order and must keep
 * that order: see docs/design/applier.md and docs/design/idempotency.md.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "account_rules.h"
#include "applier_batch.h"
#include "applier_dedupe.h"
#include "applier_fence.h"
#include "applier_guard.h"
#include "applier_queued.h"
#include "applier_status.h"
#include "batch_store.h"
#include "currency_cache.h"
#include "history_store.h"
#include "inbox_reader.h"
#include "outcome_stream.h"
#include "pg_util.h"

int			axs_applier_batch_size = 100000;

/* Synchronous decisions numbered in one transaction, at most. */
#define SYNC_DECISIONS_PER_TRANSACTION 100000

/* An event of the batch by id, to record outcomes in id order. */
typedef struct EventOrder
{
	int64		id;
	int			index;			/* in the batch */
} EventOrder;

#define ST_SORT sort_event_order
#define ST_ELEMENT_TYPE EventOrder
#define ST_COMPARE(a, b) ((a)->id < (b)->id ? -1 : (a)->id > (b)->id ? 1 : 0)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* A batch between its phases. */
typedef struct Batch
{
	QueuedEvent *events;
	int			count;
	AxsLeg	   *legs;
	AxsFirstById *first_by_id;
	AxsBalanceMap *map;
	AxsBatchCounts counts;		/* what was decided, for the published counters */
	TimestampTz decided_at;		/* taken under the balances lock */
	AxsHistoryUnit history;		/* entries of the applied events */
	int64		history_unit;	/* their unit's first block; 0: none */
	AxsStreamUnit stream;		/* the outcome stream's new entries */
	int			recorded;		/* decided: outcomes to record */
	int			conflicts;		/* id reused: rows for axs.id_conflicts */
	int			dead_letters;	/* rows for axs.dead_letters */
} Batch;

/* Plans of the applier process. */
static SPIPlanPtr read_batch_plan = NULL;
static SPIPlanPtr record_conflicts_plan = NULL;
static SPIPlanPtr advance_plan = NULL;
static SPIPlanPtr record_dead_letters_plan = NULL;

static void
prepare_plans(void)
{
	Oid			read_types[2] = {INT8OID, INT4OID};
	Oid			conflict_types[5] = {INT8ARRAYOID, INT8ARRAYOID, BYTEAARRAYOID,
	TIMESTAMPTZARRAYOID, TIMESTAMPTZOID};
	Oid			advance_types[7] = {INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID};
	Oid			dead_letter_types[3] = {INT8ARRAYOID, BYTEAARRAYOID, TEXTARRAYOID};

	if (read_batch_plan != NULL)
		return;
	read_batch_plan = axs_prepare_kept(
								   "SELECT position, event_id, payload, queued_at, source_topic, source_partition, source_offset "
								   "FROM axs.inbox "
								   "WHERE position OPERATOR(pg_catalog.>) $1 "
								   "ORDER BY position USING OPERATOR(pg_catalog.<) LIMIT $2",
								   2, read_types);
	axs_dedupe_prepare_plans();
	record_conflicts_plan = axs_prepare_kept(
										 "INSERT INTO axs.id_conflicts (queue_position, id, payload, queued_at, recorded_at) "
										 "SELECT *, $5 FROM unnest($1, $2, $3, $4)",
										 5, conflict_types);
	record_dead_letters_plan = axs_prepare_kept(
											"INSERT INTO axs.dead_letters (topic, partition, \"offset\", raw, reason) "
											"SELECT 'axs.inbox', 0, d.position, d.payload, d.reason "
											"FROM unnest($1, $2, $3) AS d(position, payload, reason) "
											"ON CONFLICT DO NOTHING",
											3, dead_letter_types);
	advance_plan = axs_prepare_kept(
								"UPDATE axs.applier_state SET watermark = $1, "
								"decided_total = decided_total OPERATOR(pg_catalog.+) $4, "
								"duplicates_total = duplicates_total OPERATOR(pg_catalog.+) $5, "
								"decided_seq = $6, sync_sequenced = $7, "
								"updated_at = pg_catalog.now() "
								"WHERE epoch OPERATOR(pg_catalog.=) $2 AND watermark OPERATOR(pg_catalog.=) $3",
								7, advance_types);
}

/*
 * Read: the next rows after the watermark, in position order, into the
 * batch's events.  Returns their number.
 */
static int
read_batch(Batch *batch, int64 watermark)
{
	AxsInboxRows parts[2];
	int			nparts;
	int			count = 0;

	nparts = axs_inbox_read(watermark, axs_applier_batch_size, read_batch_plan, parts);
	for (int p = 0; p < nparts; p++)
		count += (int) parts[p].count;
	batch->count = count;
	if (count == 0)
		return 0;

	/* Keep the rows: SPI tuple tables live until SPI_finish. */
	batch->events = palloc_extended(sizeof(QueuedEvent) * count, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	for (int p = 0, i = 0; p < nparts; p++)
	{
		SPITupleTable *rows = parts[p].rows;

		for (uint64 r = 0; r < parts[p].count; r++, i++)
		{
			HeapTuple	tuple = rows->vals[r];
			QueuedEvent *event = &batch->events[i];
			bool		isnull;

			event->position = DatumGetInt64(SPI_getbinval(tuple, rows->tupdesc, 1, &isnull));
			event->id = DatumGetInt64(SPI_getbinval(tuple, rows->tupdesc, 2, &isnull));
			event->payload = DatumGetByteaPP(SPI_getbinval(tuple, rows->tupdesc, 3, &isnull));
			event->queued_at = SPI_getbinval(tuple, rows->tupdesc, 4, &isnull);
			event->source_topic = DatumGetInt32(SPI_getbinval(tuple, rows->tupdesc, 5, &isnull));
			if (isnull)
				event->source_topic = 0;
			event->source_partition = DatumGetInt32(SPI_getbinval(tuple, rows->tupdesc, 6, &isnull));
			event->source_offset = DatumGetInt64(SPI_getbinval(tuple, rows->tupdesc, 7, &isnull));
			event->outcome = QUEUED_PENDING;
		}
	}
	return count;
}

/*
 * Decode and expand one queued row: its legs go to legs, their balances
 * into map.  A row that is no valid event (an id that is not positive, a
 * payload that does not decode: only a writer other than axs code can queue
 * one) becomes a dead letter and false is returned.  An event that cannot
 * be applied (unknown currency, say) keeps that reason while its id is
 * checked: a duplicate of a decided event must stay a duplicate.
 */
static bool
expand_queued(QueuedEvent *event, AxsLeg *all_legs, int first_leg, AxsBalanceMap *map)
{
	AxsLeg	   *legs = &all_legs[first_leg];
	AxsEvent	decoded;
	AxsDecodeError error;

	event->nlegs = 0;
	event->first_leg = first_leg;
	if (event->id <= 0)
		event->invalid = psprintf("event id %lld is not positive", (long long) event->id);
	else if (!axs_event_decode(event->id, (const uint8 *) VARDATA_ANY(event->payload),
							   VARSIZE_ANY_EXHDR(event->payload), &decoded, &error))
		event->invalid = psprintf("event %lld: %s", (long long) event->id, error.message);
	if (event->invalid != NULL)
	{
		ereport(WARNING,
				(errmsg("axs applier: inbox row at queue position %lld is not a valid event, kept as a dead letter",
						(long long) event->position),
				 errdetail("%s.", event->invalid)));
		event->outcome = QUEUED_DEAD_LETTER;
		return false;
	}
	event->kind = decoded.kind;
	event->reason = axs_event_expand(&decoded, axs_currency_resolve, NULL, legs, &event->nlegs);
	if (event->reason != AXS_REASON_NONE)
		event->nlegs = 0;
	for (int l = 0; l < event->nlegs; l++)
		axs_balance_map_get(map, legs[l].account, legs[l].currency);
	return true;
}

/*
 * Expand: every row of the batch, its legs into the batch's legs and their
 * balances into the batch's map.
 */
static void
expand_batch(Batch *batch, MemoryContext batch_context)
{
	/* about three legs an event on average; grown below when needed */
	Size		legs_capacity = (Size) batch->count * 3 + AXS_MAX_LEGS;
	int			nlegs_total = 0;
	AxsAllocator allocator = axs_memory_context_allocator(batch_context);

	batch->legs = palloc_extended(sizeof(AxsLeg) * legs_capacity, MCXT_ALLOC_HUGE);
	batch->map = axs_balance_map_create(&allocator, (size_t) batch->count);
	for (int i = 0; i < batch->count; i++)
	{
		if (nlegs_total + AXS_MAX_LEGS > legs_capacity)
		{
			legs_capacity *= 2;
			batch->legs = repalloc_huge(batch->legs, sizeof(AxsLeg) * legs_capacity);
		}
		if (!expand_queued(&batch->events[i], batch->legs, nlegs_total, batch->map))
		{
			batch->dead_letters++;
			continue;
		}
		nlegs_total += batch->events[i].nlegs;
	}
}

/*
 * Apply: load every balance the batch touches, decide the pending events in
 * queue order through the ledger core, count what was decided, store the
 * history of the applied ones, and write the balances back.
 */
static void
apply_events(Batch *batch)
{
	size_t		nbalances;
	AxsBatchBalance *balances = axs_batch_load_balances(batch->map, &nbalances);

	AxsAppliedChange changes[AXS_MAX_LEGS];

	axs_account_rules_apply_to(batch->map);
	/* about two entries an event */
	axs_history_unit_init(&batch->history, (size_t) batch->count * 2);

	for (int i = 0; i < batch->count; i++)
	{
		QueuedEvent *event = &batch->events[i];

		if (event->outcome == QUEUED_PENDING)
		{
			int			nchanges = 0;

			if (event->reason == AXS_REASON_NONE)
				event->reason = axs_ledger_apply_changes(batch->map, &batch->legs[event->first_leg],
														 event->nlegs, changes, &nchanges);
			if (event->reason == AXS_REASON_NONE)
				axs_history_unit_add(&batch->history, event->id, event->kind, i, changes, nchanges);
			event->outcome = QUEUED_DECIDED;
		}
		switch (event->outcome)
		{
			case QUEUED_DECIDED:
				batch->recorded++;
				if (event->reason == AXS_REASON_NONE)
					batch->counts.applied++;
				else
					batch->counts.rejected++;
				/* funds its own earlier freeze should have put there: an upstream ordering bug */
				if (event->reason == AXS_REASON_INSUFFICIENT_FROZEN &&
					(event->kind == AXS_KIND_TRADE || event->kind == AXS_KIND_UNFREEZE))
					batch->counts.settlements_short_frozen++;
				break;
			case QUEUED_DUPLICATE:
				batch->counts.duplicates++;
				break;
			case QUEUED_ID_REUSED:
				batch->conflicts++;
				batch->counts.rejected++;
				break;
			case QUEUED_PENDING:
			case QUEUED_DEAD_LETTER:
				break;
		}
	}
	batch->history_unit = axs_history_store(&batch->history, batch->map, batch->decided_at, 0);
	axs_batch_write_balances(balances, nbalances);
}

/* Columns of the batch's events of one outcome, as SQL arrays. */
typedef struct EventColumns
{
	Datum		positions;
	Datum		ids;
	Datum		payloads;
	Datum		queued_at;
	Datum		reasons;		/* why each is a dead letter; only for dead letters */
} EventColumns;

/* The columns of the batch's events with this outcome (count of them). */
static EventColumns
event_columns(const Batch *batch, QueuedOutcome outcome, int count)
{
	Datum	   *positions = palloc(sizeof(Datum) * count);
	Datum	   *ids = palloc(sizeof(Datum) * count);
	Datum	   *payloads = palloc(sizeof(Datum) * count);
	Datum	   *queued_at = palloc(sizeof(Datum) * count);
	Datum	   *reasons = palloc(sizeof(Datum) * count);
	EventColumns columns;
	int			n = 0;

	for (int i = 0; i < batch->count; i++)
	{
		const QueuedEvent *event = &batch->events[i];

		if (event->outcome != outcome)
			continue;
		positions[n] = Int64GetDatum(event->position);
		ids[n] = Int64GetDatum(event->id);
		payloads[n] = PointerGetDatum(event->payload);
		queued_at[n] = event->queued_at;
		if (outcome == QUEUED_DEAD_LETTER)
			reasons[n] = CStringGetTextDatum(event->invalid);
		n++;
	}
	columns.positions = axs_build_array(positions, n, INT8OID);
	columns.ids = axs_build_array(ids, n, INT8OID);
	columns.payloads = axs_build_array(payloads, n, BYTEAOID);
	columns.queued_at = axs_build_array(queued_at, n, TIMESTAMPTZOID);
	columns.reasons = outcome == QUEUED_DEAD_LETTER ? axs_build_array(reasons, n, TEXTOID) : (Datum) 0;
	return columns;
}

/* Run one of the batch's INSERT plans; what names it in the error. */
static void
execute_insert(SPIPlanPtr plan, Datum *arguments, const char *what)
{
	int			ret = SPI_execute_plan(plan, arguments, NULL, false, 0);

	if (ret != SPI_OK_INSERT)
		elog(ERROR, "%s failed: %s", what, SPI_result_code_string(ret));
}

/* Record the decided events' outcomes, in id order: outcome blocks hold sorted ids. */
static void
record_outcomes(const Batch *batch)
{
	int			recorded = batch->recorded;
	int64	   *ids = palloc(sizeof(int64) * recorded);
	bytea	  **payloads = palloc(sizeof(bytea *) * recorded);
	int16	   *reasons = palloc(sizeof(int16) * recorded);
	int64	   *positions = palloc(sizeof(int64) * recorded);
	TimestampTz *queued = palloc(sizeof(TimestampTz) * recorded);
	EventOrder *order = palloc(sizeof(EventOrder) * recorded);
	int			n = 0;

	for (int i = 0; i < batch->count; i++)
		if (batch->events[i].outcome == QUEUED_DECIDED)
		{
			order[n].id = batch->events[i].id;
			order[n].index = i;
			n++;
		}
	sort_event_order(order, n);
	for (int k = 0; k < n; k++)
	{
		const QueuedEvent *event = &batch->events[order[k].index];

		ids[k] = event->id;
		payloads[k] = event->payload;
		reasons[k] = (int16) event->reason;
		positions[k] = event->position;
		queued[k] = DatumGetTimestampTz(event->queued_at);
	}
	axs_batch_record_outcomes(n, ids, payloads, reasons, positions, queued, batch->decided_at);
}

/*
 * Record: the dead letters with their raw payloads in axs.dead_letters, the
 * decided events' outcomes, and the events that reused a decided id with
 * other content in axs.id_conflicts.
 */
static void
record_batch(const Batch *batch)
{
	if (batch->dead_letters > 0)
	{
		EventColumns dead = event_columns(batch, QUEUED_DEAD_LETTER, batch->dead_letters);
		Datum		arguments[3] = {dead.positions, dead.payloads, dead.reasons};

		execute_insert(record_dead_letters_plan, arguments, "recording dead letters");
	}
	if (batch->recorded > 0)
		record_outcomes(batch);
	if (batch->conflicts > 0)
	{
		EventColumns reused = event_columns(batch, QUEUED_ID_REUSED, batch->conflicts);
		Datum		arguments[5] = {reused.positions, reused.ids, reused.payloads, reused.queued_at,
		TimestampTzGetDatum(GetCurrentTimestamp())};

		execute_insert(record_conflicts_plan, arguments, "recording id conflicts");
	}
}

/* Number the batch's decided events in the outcome stream, in queue order. */
static void
add_to_stream(Batch *batch)
{
	for (int i = 0; i < batch->count; i++)
	{
		const QueuedEvent *event = &batch->events[i];
		AxsStreamEntry *entry;

		if (event->outcome != QUEUED_DECIDED)
			continue;
		entry = axs_stream_add(&batch->stream);
		entry->id = event->id;
		entry->reason = (uint8) event->reason;
		entry->kind = (uint8) event->kind;
		entry->ordinal = i;
		entry->history_unit = event->reason == AXS_REASON_NONE ? batch->history_unit : 0;
		entry->decided_at = batch->decided_at;
		entry->queued_at = DatumGetTimestampTz(event->queued_at);
		entry->source_topic = event->source_topic;
		entry->source_partition = event->source_partition;
		entry->source_offset = event->source_offset;
	}
}

/*
 * Advance: move the watermark past the batch and add to the durable
 * counters, only if this process still holds the fence and nobody moved
 * epoch or watermark; otherwise raise an error, abandoning the batch.
 */
static void
advance_watermark(const Batch *batch, int64 epoch, int64 watermark, int64 new_watermark)
{
	Datum		arguments[7];
	int			ret;

	if (!axs_fence_held())
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("axs applier lost its fence; abandoning the batch")));
	arguments[0] = Int64GetDatum(new_watermark);
	arguments[1] = Int64GetDatum(epoch);
	arguments[2] = Int64GetDatum(watermark);
	arguments[3] = Int64GetDatum(batch->count);
	arguments[4] = Int64GetDatum(batch->counts.duplicates);
	arguments[5] = Int64GetDatum(axs_stream_last_seq(&batch->stream));
	arguments[6] = Int64GetDatum(batch->stream.sync_sequenced);
	ret = SPI_execute_plan(advance_plan, arguments, NULL, false, 0);
	if (ret != SPI_OK_UPDATE || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("axs applier epoch %lld was superseded; abandoning the batch",
						(long long) epoch)));
}

/*
 * With nothing queued: number the synchronous decisions committed since
 * the last batch, if any, in a transaction of their own (the caller's).
 */
static bool
number_sync_decisions(Batch *batch, int64 epoch, int64 watermark)
{
	if (!axs_stream_sync_pending())
		return false;
	axs_guard_lock_balances(axs_table_oid("balances"), axs_status_publish_blocker);
	axs_stream_begin(&batch->stream, 64);
	axs_stream_add_sync_decisions(&batch->stream, SYNC_DECISIONS_PER_TRANSACTION);
	axs_stream_write(&batch->stream);
	advance_watermark(batch, epoch, watermark, watermark);
	return true;
}

int
axs_batch_apply(int64 epoch, int64 *watermark, MemoryContext batch_context)
{
	TimestampTz started = GetCurrentTimestamp();
	MemoryContext caller_context = CurrentMemoryContext;
	Batch		batch;
	int64		new_watermark;

	memset(&batch, 0, sizeof(batch));
	axs_begin_work("axs applier: applying a batch");
	prepare_plans();
	MemoryContextSwitchTo(batch_context);

	if (read_batch(&batch, *watermark) == 0)
	{
		bool		numbered = number_sync_decisions(&batch, epoch, *watermark);

		MemoryContextSwitchTo(caller_context);
		axs_end_work();
		MemoryContextReset(batch_context);
		if (numbered)
			axs_status_publish_progress();	/* after the commit: waiters can see it */
		return 0;
	}
	/* before the ids are looked at: a row that is no event uses up no id */
	expand_batch(&batch, batch_context);
	batch.first_by_id = axs_dedupe_within_batch(batch.events, batch.count, batch_context);
	new_watermark = batch.events[batch.count - 1].position;

	/* Keep the synchronous API out from here to commit (batch_store.c). */
	axs_guard_lock_balances(axs_table_oid("balances"), axs_status_publish_blocker);
	/* after the lock: later than every decision this batch follows */
	batch.decided_at = GetCurrentTimestamp();
	axs_stream_begin(&batch.stream, (size_t) batch.count);
	if (!axs_stream_add_sync_decisions(&batch.stream, SYNC_DECISIONS_PER_TRANSACTION))
	{
		/* a backlog of synchronous decisions: they go first, the batch waits */
		axs_stream_write(&batch.stream);
		batch.count = 0;
		memset(&batch.counts, 0, sizeof(batch.counts));
		advance_watermark(&batch, epoch, *watermark, *watermark);
		MemoryContextSwitchTo(caller_context);
		axs_end_work();
		MemoryContextReset(batch_context);
		axs_status_publish_progress();
		return 0;
	}
	axs_dedupe_against_decided(batch.events, batch.count, batch.first_by_id);
	apply_events(&batch);
	record_batch(&batch);
	add_to_stream(&batch);
	axs_stream_write(&batch.stream);
	advance_watermark(&batch, epoch, *watermark, new_watermark);

	MemoryContextSwitchTo(caller_context);
	axs_end_work();
	MemoryContextReset(batch_context);
	*watermark = new_watermark;
	axs_status_publish_batch(new_watermark, batch.count, &batch.counts, started);
	return batch.count;
}
