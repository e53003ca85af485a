/*
 * outcome_stream.c
 *		Writing the outcome stream (axs.outcome_stream).
 *
 * Every decided event gets a decision sequence number, seq: 1, 2, 3, ...
 * without gaps, in the order the decisions were committed.  The applier is
 * the only writer.  Each of its transactions holds axs.balances EXCLUSIVE,
 * so no synchronous call is in flight: every synchronous decision with a
 * sync_order above the last one numbered has committed, and none can
 * commit before this transaction does.  The transaction numbers those
 * first, in sync_order (which follows the order their calls took their row
 * locks), then its own batch in queue order, and advances
 * axs.applier_state.decided_seq with the batch's compare-and-set
 * (applier_batch.c).  See docs/design/outcome-stream.md.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/timestamp.h"

#include "event.h"
#include "outcome_stream.h"
#include "pg_util.h"

static SPIPlanPtr state_plan = NULL;
static SPIPlanPtr sync_plan = NULL;
static SPIPlanPtr pending_plan = NULL;
static SPIPlanPtr insert_plan = NULL;

static void
prepare_plans(void)
{
	Oid			sync_types[2] = {INT8OID, INT4OID};
	Oid			insert_types[4] = {INT8ARRAYOID, INT8ARRAYOID, INT8OID, BYTEAARRAYOID};

	if (insert_plan != NULL)
		return;
	state_plan = axs_prepare_kept(
								  "SELECT st.decided_seq, st.sync_sequenced, s.last_seq, s.sync_sequenced "
								  "FROM axs.applier_state AS st LEFT JOIN LATERAL "
								  "(SELECT o.last_seq, o.sync_sequenced FROM axs.outcome_stream AS o "
								  " ORDER BY o.last_seq USING OPERATOR(pg_catalog.>) LIMIT 1) AS s ON true",
								  0, NULL);
	sync_plan = axs_prepare_kept(
								 "SELECT e.id, e.payload, e.reason_code, e.recorded_at, e.sync_order "
								 "FROM axs.event_log AS e "
								 "WHERE e.queue_position IS NULL AND e.sync_order OPERATOR(pg_catalog.>) $1 "
								 "ORDER BY e.sync_order USING OPERATOR(pg_catalog.<) LIMIT $2",
								 2, sync_types);
	pending_plan = axs_prepare_kept(
									"SELECT EXISTS (SELECT FROM axs.event_log AS e "
									"WHERE e.queue_position IS NULL AND e.sync_order OPERATOR(pg_catalog.>) "
									"(SELECT st.sync_sequenced FROM axs.applier_state AS st))",
									0, NULL);
	/* multi-argument unnest cannot be schema-qualified: search_path is pg_catalog, pg_temp */
	insert_plan = axs_prepare_kept(
								   "INSERT INTO axs.outcome_stream (last_seq, first_seq, sync_sequenced, entries) "
								   "SELECT b.last_seq, b.first_seq, $3, b.entries "
								   "FROM unnest($1, $2, $4) AS b(last_seq, first_seq, entries)",
								   4, insert_types);
}

void
axs_stream_begin(AxsStreamUnit *unit, size_t expected)
{
	HeapTuple	row;
	TupleDesc	descriptor;
	bool		isnull;
	int64		stream_last;
	int			ret;

	prepare_plans();
	/* not read only: a snapshot taken now, after the lock */
	ret = SPI_execute_plan(state_plan, NULL, NULL, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading the outcome stream's numbering failed: %s", SPI_result_code_string(ret));
	row = SPI_tuptable->vals[0];
	descriptor = SPI_tuptable->tupdesc;
	unit->decided_seq = DatumGetInt64(SPI_getbinval(row, descriptor, 1, &isnull));
	unit->sync_sequenced = DatumGetInt64(SPI_getbinval(row, descriptor, 2, &isnull));
	stream_last = DatumGetInt64(SPI_getbinval(row, descriptor, 3, &isnull));
	if (!isnull && stream_last > unit->decided_seq)
	{
		/* a restored database: applier_state is not dumped, the stream is */
		unit->decided_seq = stream_last;
		unit->sync_sequenced = DatumGetInt64(SPI_getbinval(row, descriptor, 4, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	unit->count = 0;
	unit->capacity = Max(expected, 16);
	unit->entries = palloc_extended(sizeof(AxsStreamEntry) * unit->capacity, MCXT_ALLOC_HUGE);
}

AxsStreamEntry *
axs_stream_add(AxsStreamUnit *unit)
{
	AxsStreamEntry *entry;

	if (unit->count == unit->capacity)
	{
		unit->capacity *= 2;
		unit->entries = repalloc_huge(unit->entries, sizeof(AxsStreamEntry) * unit->capacity);
	}
	entry = &unit->entries[unit->count++];
	memset(entry, 0, sizeof(*entry));
	return entry;
}

bool
axs_stream_add_sync_decisions(AxsStreamUnit *unit, int limit)
{
	Datum		arguments[2] = {Int64GetDatum(unit->sync_sequenced), Int32GetDatum(limit)};
	TupleDesc	descriptor;
	uint64		found;
	int			ret;

	ret = SPI_execute_plan(sync_plan, arguments, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the synchronous decisions failed: %s", SPI_result_code_string(ret));
	descriptor = SPI_tuptable->tupdesc;
	found = SPI_processed;
	for (uint64 r = 0; r < found; r++)
	{
		HeapTuple	row = SPI_tuptable->vals[r];
		AxsStreamEntry *entry = axs_stream_add(unit);
		bytea	   *payload;
		AxsEvent	event;
		AxsDecodeError error;
		bool		isnull;

		entry->id = DatumGetInt64(SPI_getbinval(row, descriptor, 1, &isnull));
		payload = DatumGetByteaPP(SPI_getbinval(row, descriptor, 2, &isnull));
		entry->reason = (uint8) DatumGetInt16(SPI_getbinval(row, descriptor, 3, &isnull));
		entry->decided_at = DatumGetTimestampTz(SPI_getbinval(row, descriptor, 4, &isnull));
		unit->sync_sequenced = DatumGetInt64(SPI_getbinval(row, descriptor, 5, &isnull));
		if (!axs_event_decode(entry->id, (const uint8 *) VARDATA_ANY(payload),
							  VARSIZE_ANY_EXHDR(payload), &event, &error))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("event %lld in axs.event_log does not decode: %s",
							(long long) entry->id, error.message)));
		entry->kind = (uint8) event.kind;
		/* an applied call's history block has its sync_order as locator */
		entry->history_unit = entry->reason == AXS_REASON_NONE ? unit->sync_sequenced : 0;
	}
	SPI_freetuptable(SPI_tuptable);
	return found < (uint64) limit;
}

void
axs_stream_write(AxsStreamUnit *unit)
{
	int			nblocks = 0;
	int			capacity = 16;
	Datum	   *last_seqs = palloc(sizeof(Datum) * capacity);
	Datum	   *first_seqs = palloc(sizeof(Datum) * capacity);
	Datum	   *blocks = palloc(sizeof(Datum) * capacity);
	Datum		arguments[4];
	size_t		done = 0;
	int			ret;

	if (unit->count == 0)
		return;
	while (done < unit->count)
	{
		bytea	   *block = palloc(VARHDRSZ + AXS_STREAM_BLOCK_MAX);
		size_t		packed = 0;
		size_t		length = axs_stream_block_pack(&unit->entries[done], unit->count - done,
												   (uint8 *) VARDATA(block), AXS_STREAM_BLOCK_MAX,
												   &packed);

		if (packed == 0)
			elog(ERROR, "an outcome stream entry does not fit in a block");
		SET_VARSIZE(block, VARHDRSZ + length);
		if (nblocks == capacity)
		{
			capacity *= 2;
			last_seqs = repalloc(last_seqs, sizeof(Datum) * capacity);
			first_seqs = repalloc(first_seqs, sizeof(Datum) * capacity);
			blocks = repalloc(blocks, sizeof(Datum) * capacity);
		}
		first_seqs[nblocks] = Int64GetDatum(unit->decided_seq + 1 + (int64) done);
		last_seqs[nblocks] = Int64GetDatum(unit->decided_seq + (int64) (done + packed));
		blocks[nblocks] = PointerGetDatum(block);
		nblocks++;
		done += packed;
	}
	arguments[0] = axs_build_array(last_seqs, nblocks, INT8OID);
	arguments[1] = axs_build_array(first_seqs, nblocks, INT8OID);
	arguments[2] = Int64GetDatum(unit->sync_sequenced);
	arguments[3] = axs_build_array(blocks, nblocks, BYTEAOID);
	ret = SPI_execute_plan(insert_plan, arguments, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "writing the outcome stream failed: %s", SPI_result_code_string(ret));
}

bool
axs_stream_sync_pending(void)
{
	bool		isnull;
	bool		pending;
	int			ret;

	prepare_plans();
	ret = SPI_execute_plan(pending_plan, NULL, NULL, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "checking for synchronous decisions failed: %s", SPI_result_code_string(ret));
	pending = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return pending;
}
