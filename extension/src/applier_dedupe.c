/*
 * applier_dedupe.c
 *		Idempotency of an applier batch: which queued events repeat an id,
 *		within the batch or among the decided events (the synchronously
 *		applied ones in axs.event_log and the applier's outcome blocks), and
 *		whether each is a duplicate (the same bytes) or reuses the id with
 *		other content.
 *
 * It only marks events: it writes nothing and takes no lock of its own.
 * See docs/design/idempotency.md.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "utils/snapmgr.h"

#include "applier_dedupe.h"
#include "outcome_store.h"
#include "pg_util.h"

typedef struct BatchIdEntry
{
	int64		id;				/* hash key */
	int			index;			/* first event in the batch with this id */
	char		status;			/* simplehash's */
} BatchIdEntry;

/* The pending ids of a batch, sorted for the outcome block lookup. */
#define ST_SORT sort_int64
#define ST_ELEMENT_TYPE int64
#define ST_COMPARE(a, b) (*(a) < *(b) ? -1 : *(a) > *(b) ? 1 : 0)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* batch_ids: the ids of a batch, an open-addressing table (lib/simplehash.h) */
#define SH_PREFIX batch_ids
#define SH_ELEMENT_TYPE BatchIdEntry
#define SH_KEY_TYPE int64
#define SH_KEY id
#define SH_HASH_KEY(table, key) murmurhash32((uint32) (key) ^ (uint32) ((uint64) (key) >> 32))
#define SH_EQUAL(table, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

static SPIPlanPtr sync_range_plan = NULL;
static SPIPlanPtr logged_events_plan = NULL;

void
axs_dedupe_prepare_plans(void)
{
	Oid			logged_types[1] = {INT8ARRAYOID};

	sync_range_plan = axs_prepare_kept("SELECT pg_catalog.min(id), pg_catalog.max(id) FROM axs.event_log "
									   "WHERE queue_position IS NULL",
									   0, NULL);
	logged_events_plan = axs_prepare_kept(
									  "SELECT id, payload, reason_code FROM axs.event_log "
									  "WHERE queue_position IS NULL AND id OPERATOR(pg_catalog.=) ANY ($1)",
									  1, logged_types);
}

/* Whether a queued payload has exactly the bytes of another (logged or queued) one. */
static bool
same_payload(const bytea *queued, const uint8 *other, size_t other_length)
{
	return VARSIZE_ANY_EXHDR(queued) == other_length &&
		memcmp(VARDATA_ANY(queued), other, other_length) == 0;
}

AxsFirstById *
axs_dedupe_within_batch(QueuedEvent *events, int count, MemoryContext context)
{
	batch_ids_hash *first_by_id = batch_ids_create(context, count, NULL);

	for (int i = 0; i < count; i++)
	{
		QueuedEvent *event = &events[i];
		BatchIdEntry *entry;
		bool		found;

		if (event->outcome == QUEUED_DEAD_LETTER)
			continue;
		entry = batch_ids_insert(first_by_id, event->id, &found);
		if (found)
		{
			QueuedEvent *first = &events[entry->index];

			event->outcome = same_payload(event->payload, (const uint8 *) VARDATA_ANY(first->payload),
										  VARSIZE_ANY_EXHDR(first->payload)) ?
				QUEUED_DUPLICATE : QUEUED_ID_REUSED;
		}
		else
			entry->index = i;
	}
	return first_by_id;
}

/* Mark one pending event whose id is already logged with logged payload. */
static void
mark_logged(QueuedEvent *events, batch_ids_hash *first_by_id, int64 id,
			const uint8 *logged, size_t logged_length)
{
	BatchIdEntry *entry = batch_ids_lookup(first_by_id, id);
	QueuedEvent *event;

	if (entry == NULL)
		return;
	event = &events[entry->index];
	event->outcome = same_payload(event->payload, logged, logged_length) ?
		QUEUED_DUPLICATE : QUEUED_ID_REUSED;
}

typedef struct LoggedCandidates
{
	QueuedEvent *events;
	batch_ids_hash *first_by_id;
	const int64 *ids;
} LoggedCandidates;

static void
mark_found_in_blocks(void *context, int index, const AxsOutcome *outcome)
{
	LoggedCandidates *candidates = context;

	mark_logged(candidates->events, candidates->first_by_id, candidates->ids[index],
				outcome->payload, outcome->payload_length);
}

/*
 * Looks at the synchronously applied events (only ids within their range
 * can be there) and at the applier's outcome blocks.  The lookups use the
 * latest snapshot, so they see everything committed before the caller's
 * lock was granted.
 */
void
axs_dedupe_against_decided(QueuedEvent *events, int count, AxsFirstById *first_by_id)
{
	int64	   *ids = palloc(sizeof(int64) * count);
	int			nids = 0;
	int64		sync_low;
	int64		sync_high;
	bool		low_null;
	bool		high_null;
	int			ret;
	LoggedCandidates candidates;

	for (int i = 0; i < count; i++)
		if (events[i].outcome == QUEUED_PENDING)
			ids[nids++] = events[i].id;
	if (nids == 0)
		return;
	sort_int64(ids, nids);

	ret = SPI_execute_snapshot(sync_range_plan, NULL, NULL, GetLatestSnapshot(),
							   InvalidSnapshot, true, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the range of synchronous events failed: %s", SPI_result_code_string(ret));
	sync_low = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &low_null));
	sync_high = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &high_null));
	SPI_freetuptable(SPI_tuptable);
	if (!low_null && !high_null)
	{
		Datum	   *in_range = palloc(sizeof(Datum) * nids);
		int			nin_range = 0;
		Datum		argument;

		for (int i = 0; i < nids; i++)
			if (ids[i] >= sync_low && ids[i] <= sync_high)
				in_range[nin_range++] = Int64GetDatum(ids[i]);
		if (nin_range > 0)
		{
			argument = axs_build_array(in_range, nin_range, INT8OID);
			ret = SPI_execute_snapshot(logged_events_plan, &argument, NULL, GetLatestSnapshot(),
									   InvalidSnapshot, true, false, 0);
			if (ret != SPI_OK_SELECT)
				elog(ERROR, "reading logged events failed: %s", SPI_result_code_string(ret));
			for (uint64 row = 0; row < SPI_processed; row++)
			{
				HeapTuple	tuple = SPI_tuptable->vals[row];
				TupleDesc	tupdesc = SPI_tuptable->tupdesc;
				bool		isnull;
				int64		id = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 1, &isnull));
				bytea	   *logged = DatumGetByteaPP(SPI_getbinval(tuple, tupdesc, 2, &isnull));

				mark_logged(events, first_by_id, id,
							(const uint8 *) VARDATA_ANY(logged), VARSIZE_ANY_EXHDR(logged));
			}
			SPI_freetuptable(SPI_tuptable);
		}
		pfree(in_range);
	}

	candidates.events = events;
	candidates.first_by_id = first_by_id;
	candidates.ids = ids;
	axs_outcomes_find_many(ids, nids, true, mark_found_in_blocks, &candidates);
	pfree(ids);
}
