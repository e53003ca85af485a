/*
 * outcome_store.c
 *		axs.outcome_blocks: the applier's decided events by id, in blocks
 *		(format in outcome_block.h), and the lookups of idempotency.
 *
 * The applier appends one row per block of a batch's outcomes with direct
 * heap and index calls.  Lookups go through SPI: one id (the synchronous
 * API, axs.event_status) or a whole batch's candidates at once (the
 * applier), which probes the GiST index on the blocks' id ranges once per
 * cluster of nearby ids instead of once per id.
 *
 * Callers that decide events look up with the latest snapshot after taking
 * the lock that keeps the applier and the synchronous API apart (see
 * axs.event_log in the install script), so a block committed just before the
 * lock was granted is seen even in a REPEATABLE READ transaction.
 *
 * It decides nothing: it stores and finds what the applier decided.  See
 * docs/design/idempotency.md.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "utils/lsyscache.h"
#include "utils/rangetypes.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "index_writer.h"
#include "outcome_store.h"
#include "pg_util.h"
#include "writeback.h"

/* Block rows inserted per heap_multi_insert call. */
#define BLOCK_INSERT_CHUNK 64

/* Blocks with the largest ids whose median id span sets the cluster width. */
#define NEWEST_BLOCKS 8

static SPIPlanPtr find_one_plan = NULL;
static SPIPlanPtr newest_block_plan = NULL;
static SPIPlanPtr find_clusters_plan = NULL;

static void
prepare_plans(void)
{
	Oid			int8_type = INT8OID;
	Oid			cluster_types[2] = {INT8ARRAYOID, INT8ARRAYOID};

	if (find_one_plan != NULL)
		return;
	find_one_plan = axs_prepare_kept("SELECT entries, decided_at FROM axs.outcome_blocks WHERE ids OPERATOR(pg_catalog.@>) $1",
									 1, &int8_type);
	newest_block_plan = axs_prepare_kept("SELECT pg_catalog.lower(ids), last_id FROM axs.outcome_blocks "
										 "ORDER BY last_id DESC LIMIT " CppAsString2(NEWEST_BLOCKS),
										 0, NULL);
	find_clusters_plan = axs_prepare_kept(
										  "SELECT b.entries FROM unnest($1, $2) AS c(low, high) "
										  "JOIN axs.outcome_blocks AS b "
										  "ON b.ids OPERATOR(pg_catalog.&&) pg_catalog.int8range(c.low, nullif(c.high, 9223372036854775807), '[]')",
										  2, cluster_types);
}

/* Run a prepared read with the latest snapshot or the caller's. */
static int
execute_read(SPIPlanPtr plan, Datum *arguments, bool latest)
{
	if (latest)
		return SPI_execute_snapshot(plan, arguments, NULL, GetLatestSnapshot(),
									InvalidSnapshot, true, false, 0);
	return SPI_execute_plan(plan, arguments, NULL, true, 0);
}

/* The block of one SPI result row. */
static bytea *
row_block(uint64 row)
{
	bool		isnull;

	return DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1, &isnull));
}

static void
report_damaged_block(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("axs.outcome_blocks holds a malformed block"),
			 errhint("Restore axs.outcome_blocks from a backup; it must never be written by hand.")));
}

bool
axs_outcomes_find(int64 id, bool latest, bytea **payload, int16 *reason_code,
				  TimestampTz *decided_at)
{
	Datum		argument = Int64GetDatum(id);
	int			ret;

	prepare_plans();
	ret = execute_read(find_one_plan, &argument, latest);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "outcome block lookup failed: %s", SPI_result_code_string(ret));
	for (uint64 row = 0; row < SPI_processed; row++)
	{
		bytea	   *block = row_block(row);
		AxsOutcome	outcome;

		if (axs_outcome_block_count((const uint8 *) VARDATA_ANY(block), VARSIZE_ANY_EXHDR(block)) == 0)
			report_damaged_block();
		if (axs_outcome_block_find((const uint8 *) VARDATA_ANY(block), VARSIZE_ANY_EXHDR(block),
								   id, &outcome))
		{
			bool		isnull;

			*reason_code = outcome.reason;
			if (decided_at != NULL)
				*decided_at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[row],
																SPI_tuptable->tupdesc, 2, &isnull));
			*payload = palloc(VARHDRSZ + outcome.payload_length);
			SET_VARSIZE(*payload, VARHDRSZ + outcome.payload_length);
			memcpy(VARDATA(*payload), outcome.payload, outcome.payload_length);
			SPI_freetuptable(SPI_tuptable);
			return true;
		}
	}
	SPI_freetuptable(SPI_tuptable);
	return false;
}

#define ST_SORT sort_spans
#define ST_ELEMENT_TYPE uint64
#define ST_COMPARE(a, b) (*(a) < *(b) ? -1 : *(a) > *(b) ? 1 : 0)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* First index in sorted ids[0..count) whose id is > key (or >= key if inclusive). */
static int
search_sorted(const int64 *ids, int count, int64 key, bool inclusive)
{
	int			low = 0;
	int			high = count;

	while (low < high)
	{
		int			middle = low + (high - low) / 2;

		if (ids[middle] < key || (!inclusive && ids[middle] == key))
			low = middle + 1;
		else
			high = middle;
	}
	return low;
}

void
axs_outcomes_find_many(const int64 *ids, int count, bool latest,
					   void (*found) (void *context, int index, const AxsOutcome *outcome),
					   void *context)
{
	int64		largest;
	uint64		spans[NEWEST_BLOCKS];
	int			nspans;
	uint64		span;
	bool		isnull;
	int64	   *lows;
	int64	   *highs;
	int			nclusters = 0;
	int			considered;
	Datum		arguments[2];
	int			ret;

	if (count == 0)
		return;
	prepare_plans();
	ret = execute_read(newest_block_plan, NULL, latest);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the newest outcome block failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return;
	largest = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	nspans = (int) SPI_processed;
	for (int row = 0; row < nspans; row++)
	{
		int64		first = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1, &isnull));
		int64		last = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 2, &isnull));

		/* unsigned: ids may span the whole int64 range; last >= first */
		spans[row] = (uint64) last - (uint64) first;
	}
	SPI_freetuptable(SPI_tuptable);
	sort_spans(spans, nspans);
	span = spans[nspans / 2];

	/*
	 * Ids above every block are new.  The others are probed in clusters:
	 * ids closer together than a typical block's id span (the median of the
	 * newest blocks, so that one block around an outlying id does not widen
	 * every cluster) usually share a block, so they go in one probe; ids
	 * further apart get their own.
	 */
	considered = search_sorted(ids, count, largest, false);
	if (considered == 0)
		return;
	lows = palloc(sizeof(int64) * considered);
	highs = palloc(sizeof(int64) * considered);
	for (int i = 0; i < considered; i++)
	{
		if (nclusters > 0 && (uint64) ids[i] - (uint64) highs[nclusters - 1] <= span)
			highs[nclusters - 1] = ids[i];
		else
		{
			lows[nclusters] = ids[i];
			highs[nclusters] = ids[i];
			nclusters++;
		}
	}
	arguments[0] = axs_int64_array(lows, nclusters);
	arguments[1] = axs_int64_array(highs, nclusters);
	ret = execute_read(find_clusters_plan, arguments, latest);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "outcome block lookup failed: %s", SPI_result_code_string(ret));
	for (uint64 row = 0; row < SPI_processed; row++)
	{
		bytea	   *block = row_block(row);
		const uint8 *bytes = (const uint8 *) VARDATA_ANY(block);
		size_t		length = VARSIZE_ANY_EXHDR(block);
		int64		first;
		int64		last;

		if (!axs_outcome_block_bounds(bytes, length, &first, &last))
			report_damaged_block();
		for (int i = search_sorted(ids, considered, first, true); i < considered && ids[i] <= last; i++)
		{
			AxsOutcome	outcome;

			if (axs_outcome_block_find(bytes, length, ids[i], &outcome))
				found(context, i, &outcome);
		}
	}
	SPI_freetuptable(SPI_tuptable);
	pfree(lows);
	pfree(highs);
}

/*
 * The int8range [first, last].  int8range stores an exclusive upper bound,
 * last + 1, which does not exist for the largest bigint: that block's range
 * is [first, infinity), which holds the same ids.
 */
static Datum
id_range(TypeCacheEntry *range_type, int64 first, int64 last)
{
	RangeBound	lower;
	RangeBound	upper;

	lower.val = Int64GetDatum(first);
	lower.infinite = false;
	lower.inclusive = true;
	lower.lower = true;
	upper.val = Int64GetDatum(last);
	upper.infinite = (last == PG_INT64_MAX);
	upper.inclusive = true;
	upper.lower = false;
	return RangeTypePGetDatum(make_range(range_type, &lower, &upper, false));
}

void
axs_outcomes_append(int count, const AxsOutcome *outcomes, TimestampTz decided_at)
{
	Relation	blocks = table_open(axs_table_oid("outcome_blocks"), RowExclusiveLock);
	TupleDesc	descriptor = axs_unpinned_descriptor(blocks);
	TypeCacheEntry *range_type = lookup_type_cache(INT8RANGEOID, TYPECACHE_RANGE_INFO);
	AxsIndexWriter *indexes = axs_index_writer_open(blocks, InvalidOid);
	TupleTableSlot *slots[BLOCK_INSERT_CHUNK];
	int			nslots = Min(BLOCK_INSERT_CHUNK, count / 100 + 1);
	CommandId	command = GetCurrentCommandId(true);
	int			done = 0;

	if (descriptor->natts != 4)
		elog(ERROR, "axs.outcome_blocks has %d columns, expected 4", descriptor->natts);
	for (int i = 0; i < nslots; i++)
		slots[i] = MakeSingleTupleTableSlot(descriptor, &TTSOpsVirtual);

	while (done < count)
	{
		int			n = 0;

		while (n < nslots && done < count)
		{
			bytea	   *block = palloc(VARHDRSZ + AXS_OUTCOME_BLOCK_MAX);
			size_t		length;
			size_t		encoded = axs_outcome_block_encode(&outcomes[done], count - done,
														   (uint8 *) VARDATA(block),
														   AXS_OUTCOME_BLOCK_MAX, &length);
			TupleTableSlot *slot = slots[n];

			if (encoded == 0)
				elog(ERROR, "event %lld does not fit in an outcome block", (long long) outcomes[done].id);
			SET_VARSIZE(block, VARHDRSZ + length);
			ExecClearTuple(slot);
			slot->tts_values[0] = id_range(range_type, outcomes[done].id, outcomes[done + encoded - 1].id);
			slot->tts_values[1] = Int64GetDatum(outcomes[done + encoded - 1].id);
			slot->tts_values[2] = PointerGetDatum(block);
			slot->tts_values[3] = TimestampTzGetDatum(decided_at);
			memset(slot->tts_isnull, 0, sizeof(bool) * 4);
			ExecStoreVirtualTuple(slot);
			done += (int) encoded;
			n++;
		}
		heap_multi_insert(blocks, slots, n, command, 0, NULL);
		for (int s = 0; s < n; s++)
			axs_index_writer_insert(indexes, slots[s]);
	}

	for (int i = 0; i < nslots; i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	axs_writeback_growth(blocks);
	axs_index_writer_close(indexes);
	table_close(blocks, NoLock);
}
