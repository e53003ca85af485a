/*
 * batch_store.c
 *		The applier's direct access to axs.balances and axs.event_log: heap
 *		and index calls instead of SQL, because a batch touches many rows and
 *		the executor's per-row overhead would dominate.
 *
 * It owns the batch's guard: axs.balances is opened in EXCLUSIVE mode, which
 * waits for every transaction that locked or wrote balance rows (the
 * synchronous API takes row locks) and holds off new ones until the batch
 * commits, while plain reads go on.  Under that lock the rows read are the
 * latest versions and nobody else changes them, so they are read and
 * updated without row locks.
 *
 * Where each balance row lives is remembered across batches (a map from key
 * to tuple id), so most rows are found without an index descent.  A
 * remembered tuple id is only a hint: the tuple there is used only if it is
 * visible and carries the same key, else the index is searched.
 *
 * It must not decide anything: the ledger core has already checked every
 * balance (its rules, credit lines included) and every event; the table's CHECK constraints
 * are not evaluated on this path.  Every index of the tables it writes is
 * maintained (index_writer.c), indexes a DBA added included.  The event
 * log's own index covers only synchronously applied ids: the applier's rows
 * are indexed by id in axs.outcome_blocks (outcome_store.c), and the
 * EXCLUSIVE lock keeps the synchronous API from deciding an id while a
 * batch is in flight.  See docs/design/applier.md.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "storage/bufmgr.h"
#include "storage/itemptr.h"
#include "storage/lmgr.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"

#include "batch_store.h"
#include "index_writer.h"
#include "outcome_store.h"
#include "pg_util.h"
#include "writeback.h"

/* Rows inserted into axs.event_log per heap_multi_insert call. */
#define LOG_INSERT_CHUNK 1000

/* Most balance locations remembered; past that the map starts afresh. */
#define LOCATION_HINTS_MAX 4000000

/* Key -> location of the balance row, for the balances table location_table. */
static AxsBalanceMap *location_hints = NULL;
static Oid	location_table = InvalidOid;

/*
 * Columns of axs.balances: account, currency, available, frozen,
 * history_seqno, history_block.
 */
#define BALANCE_COLUMNS 6

/* An existing balance row's values, into entry. */
static void
load_values(AxsBalance *entry, const Datum *values)
{
	entry->available = DatumGetInt64(values[2]);
	entry->frozen = DatumGetInt64(values[3]);
	entry->history_seqno = DatumGetInt64(values[4]);
	entry->history_block = DatumGetInt64(values[5]);
}

/* The primary key index of rel, opened. */
static Relation
open_primary_key(Relation rel)
{
	Oid			index = RelationGetPrimaryKeyIndex(rel);

	if (!OidIsValid(index))
		elog(ERROR, "table \"%s\" has no primary key", RelationGetRelationName(rel));
	return index_open(index, RowExclusiveLock);
}

static uint64
pack_location(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumber(tid) << 16) | ItemPointerGetOffsetNumber(tid);
}

static void
unpack_location(uint64 location, ItemPointer tid)
{
	ItemPointerSet(tid, (BlockNumber) (location >> 16), (OffsetNumber) (location & 0xFFFF));
}

static inline int
compare_batch_balances(const AxsBatchBalance *a, const AxsBatchBalance *b)
{
	if (a->account != b->account)
		return a->account < b->account ? -1 : 1;
	if (a->currency != b->currency)
		return a->currency < b->currency ? -1 : 1;
	return 0;
}

#define ST_SORT sort_batch_balances
#define ST_ELEMENT_TYPE AxsBatchBalance
#define ST_COMPARE(a, b) compare_batch_balances(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* The entries of map in key order (for index locality), palloc'd. */
static AxsBatchBalance *
sorted_balances(AxsBalanceMap *map, size_t *count)
{
	AxsBatchBalance *balances;
	AxsBalance *entry;
	size_t		cursor = 0;

	*count = 0;
	balances = palloc_extended(sizeof(AxsBatchBalance) * Max(axs_balance_map_count(map), 1),
							   MCXT_ALLOC_HUGE);
	while ((entry = axs_balance_map_next(map, &cursor)) != NULL)
	{
		AxsBatchBalance *balance = &balances[(*count)++];

		balance->account = entry->account;
		balance->currency = entry->currency;
		balance->entry = entry;
		balance->hint = NULL;
	}
	sort_batch_balances(balances, *count);
	return balances;
}

/*
 * The location hints for table relid (forgetting hints of another table),
 * with room for batch_keys more, so that the hint entries of this batch stay
 * where they are until the next call.  Location 0 means none (no tuple has
 * offset 0).
 */
static AxsBalanceMap *
hints_for(Oid relid, size_t batch_keys)
{
	if (location_hints != NULL &&
		(location_table != relid || axs_balance_map_count(location_hints) > LOCATION_HINTS_MAX))
		axs_balance_map_clear(location_hints);
	if (location_hints == NULL)
	{
		AxsAllocator allocator = axs_memory_context_allocator(TopMemoryContext);

		location_hints = axs_balance_map_create(&allocator, 1024);
	}
	location_table = relid;
	axs_balance_map_reserve(location_hints, batch_keys);
	return location_hints;
}

/*
 * Load entry from the tuple at location, if that tuple is visible and has
 * entry's key.  *buffer is kept pinned for the next call (consecutive keys
 * often share a page); the caller releases it.
 */
static bool
load_from_location(Relation balances, BlockNumber nblocks, Snapshot snapshot,
				   uint64 location, AxsBalance *entry, Buffer *buffer)
{
	HeapTupleData tuple;
	ItemId		item;
	Page		page;
	bool		visible;

	unpack_location(location, &tuple.t_self);
	/* the table may have been rewritten smaller since */
	if (ItemPointerGetBlockNumber(&tuple.t_self) >= nblocks)
		return false;
	*buffer = ReleaseAndReadBuffer(*buffer, balances, ItemPointerGetBlockNumber(&tuple.t_self));
	LockBuffer(*buffer, BUFFER_LOCK_SHARE);
	page = BufferGetPage(*buffer);
	if (ItemPointerGetOffsetNumber(&tuple.t_self) > PageGetMaxOffsetNumber(page))
	{
		LockBuffer(*buffer, BUFFER_LOCK_UNLOCK);
		return false;
	}
	item = PageGetItemId(page, ItemPointerGetOffsetNumber(&tuple.t_self));
	if (!ItemIdIsNormal(item))
	{
		LockBuffer(*buffer, BUFFER_LOCK_UNLOCK);
		return false;
	}
	tuple.t_data = (HeapTupleHeader) PageGetItem(page, item);
	tuple.t_len = ItemIdGetLength(item);
	tuple.t_tableOid = RelationGetRelid(balances);
	visible = HeapTupleSatisfiesVisibility(&tuple, snapshot, *buffer);
	LockBuffer(*buffer, BUFFER_LOCK_UNLOCK);
	if (!visible)
		return false;
	{
		TupleDesc	descriptor = RelationGetDescr(balances);
		Datum		values[BALANCE_COLUMNS];
		bool		nulls[BALANCE_COLUMNS];

		/* the pin keeps the tuple; only this transaction writes the table */
		heap_deform_tuple(&tuple, descriptor, values, nulls);
		if (DatumGetInt64(values[0]) != entry->account || DatumGetInt32(values[1]) != entry->currency)
			return false;
		entry->existed = true;
		load_values(entry, values);
		entry->location = location;
	}
	return true;
}

/*
 * Take axs.balances in EXCLUSIVE mode for the rest of the transaction and
 * load the balance of every key in map; existed and location tell which rows
 * exist and where.  Returns the balances in key order, for
 * axs_batch_write_balances (*count of them).
 */
AxsBatchBalance *
axs_batch_load_balances(AxsBalanceMap *map, size_t *count)
{
	Relation	balances = table_open(axs_table_oid("balances"), ExclusiveLock);
	Relation	primary_key = open_primary_key(balances);
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	TupleTableSlot *slot = table_slot_create(balances, NULL);
	IndexScanDesc scan = index_beginscan(balances, primary_key, snapshot, 2, 0);
	AxsBatchBalance *batch = sorted_balances(map, count);
	AxsBalanceMap *hints = hints_for(RelationGetRelid(balances), *count);
	BlockNumber nblocks = RelationGetNumberOfBlocks(balances);
	Buffer		buffer = InvalidBuffer;

	if (RelationGetDescr(balances)->natts != BALANCE_COLUMNS)
		elog(ERROR, "axs.balances has %d columns, expected %d",
			 RelationGetDescr(balances)->natts, BALANCE_COLUMNS);
	for (size_t i = 0; i < *count; i++)
	{
		AxsBalance *entry = batch[i].entry;
		AxsBalance *hint = axs_balance_map_get(hints, entry->account, entry->currency);
		ScanKeyData keys[2];

		batch[i].hint = hint;
		if (hint->location != 0 &&
			load_from_location(balances, nblocks, snapshot, hint->location, entry, &buffer))
			continue;

		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(entry->account));
		ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(entry->currency));
		index_rescan(scan, keys, 2, NULL, 0);
		hint->location = 0;
		if (index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			slot_getallattrs(slot);
			entry->existed = true;
			load_values(entry, slot->tts_values);
			entry->location = pack_location(&slot->tts_tid);
			hint->location = entry->location;
		}
	}
	if (BufferIsValid(buffer))
		ReleaseBuffer(buffer);
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snapshot);
	index_close(primary_key, NoLock);
	table_close(balances, NoLock);
	return batch;
}

/* Rows of new balances inserted per heap_multi_insert call. */
#define NEW_BALANCE_CHUNK 1000

/* Insert the new balance rows in slots[0..n) and index them. */
static void
insert_new_balances(Relation balances, AxsIndexWriter *indexes,
					TupleTableSlot **slots, AxsBalance **hints, int n)
{
	heap_multi_insert(balances, slots, n, GetCurrentCommandId(true), 0, NULL);
	for (int i = 0; i < n; i++)
	{
		axs_index_writer_insert(indexes, slots[i]);
		/* a hint only: if this transaction aborts, the tuple is not visible */
		hints[i]->location = pack_location(&slots[i]->tts_tid);
	}
}

/*
 * Write every changed balance among those axs_batch_load_balances returned:
 * update the rows that exist, insert the new ones.
 */
void
axs_batch_write_balances(AxsBatchBalance *batch, size_t count)
{
	Relation	balances = table_open(axs_table_oid("balances"), ExclusiveLock);
	AxsIndexWriter *indexes = axs_index_writer_open(balances, InvalidOid);
	TupleDesc	descriptor = axs_unpinned_descriptor(balances);
	TupleTableSlot *updated_row = MakeSingleTupleTableSlot(descriptor, &TTSOpsHeapTuple);
	TupleTableSlot *new_rows[NEW_BALANCE_CHUNK];
	AxsBalance *new_row_hints[NEW_BALANCE_CHUNK];
	int			nnew = 0;

	for (int i = 0; i < NEW_BALANCE_CHUNK; i++)
		new_rows[i] = NULL;
	for (size_t i = 0; i < count; i++)
	{
		AxsBalance *entry = batch[i].entry;
		Datum		values[BALANCE_COLUMNS];
		bool		nulls[BALANCE_COLUMNS] = {false, false, false, false, false, false};
		HeapTuple	tuple;
		ItemPointerData old_location;

		if (!entry->changed)
			continue;
		values[0] = Int64GetDatum(entry->account);
		values[1] = Int32GetDatum(entry->currency);
		values[2] = Int64GetDatum(entry->available);
		values[3] = Int64GetDatum(entry->frozen);
		values[4] = Int64GetDatum(entry->history_seqno);
		values[5] = Int64GetDatum(entry->history_block);
		if (!entry->existed)
		{
			TupleTableSlot *slot;

			if (new_rows[nnew] == NULL)
				new_rows[nnew] = MakeSingleTupleTableSlot(descriptor, &TTSOpsVirtual);
			slot = new_rows[nnew];
			ExecClearTuple(slot);
			memcpy(slot->tts_values, values, sizeof(values));
			memcpy(slot->tts_isnull, nulls, sizeof(nulls));
			ExecStoreVirtualTuple(slot);
			new_row_hints[nnew++] = batch[i].hint;
			if (nnew == NEW_BALANCE_CHUNK)
			{
				insert_new_balances(balances, indexes, new_rows, new_row_hints, nnew);
				nnew = 0;
			}
			continue;
		}
		tuple = heap_form_tuple(descriptor, values, nulls);
		unpack_location(entry->location, &old_location);
		simple_heap_update(balances, &old_location, tuple);
		/* HOT only when no indexed column of any index changed: no new entries */
		if (!HeapTupleIsHeapOnly(tuple))
		{
			ExecStoreHeapTuple(tuple, updated_row, false);
			axs_index_writer_insert(indexes, updated_row);
			ExecClearTuple(updated_row);
		}
		batch[i].hint->location = pack_location(&tuple->t_self);
		heap_freetuple(tuple);
	}
	if (nnew > 0)
		insert_new_balances(balances, indexes, new_rows, new_row_hints, nnew);
	for (int i = 0; i < NEW_BALANCE_CHUNK && new_rows[i] != NULL; i++)
		ExecDropSingleTupleTableSlot(new_rows[i]);
	ExecDropSingleTupleTableSlot(updated_row);
	axs_writeback_growth(balances);
	axs_index_writer_close(indexes);
	table_close(balances, NoLock);
	CommandCounterIncrement();
}

/*
 * Insert count outcome rows, sorted by id, into axs.event_log with
 * heap_multi_insert, and their ids into axs.outcome_blocks.  Columns: id,
 * payload, reason_code, queue_position, queued_at, recorded_at.  The log's
 * index on synchronously applied ids does not cover these rows; any other
 * index of the log gets their entries.
 */
void
axs_batch_record_outcomes(int count, const int64 *ids, bytea *const *payloads,
						  const int16 *reasons, const int64 *positions,
						  const TimestampTz *queued_at, TimestampTz recorded_at)
{
	Relation	event_log = table_open(axs_table_oid("event_log"), RowExclusiveLock);
	/* the log's index of synchronous ids never covers a queued event's row */
	AxsIndexWriter *indexes = axs_index_writer_open(event_log, axs_table_oid("event_log_sync_id"));
	AxsOutcome *outcomes = palloc_extended(sizeof(AxsOutcome) * Max(count, 1), MCXT_ALLOC_HUGE);
	TupleDesc	descriptor = axs_unpinned_descriptor(event_log);
	TupleTableSlot *slots[LOG_INSERT_CHUNK];
	CommandId	command = GetCurrentCommandId(true);
	int			nslots = Min(count, LOG_INSERT_CHUNK);

	if (descriptor->natts != 7)
		elog(ERROR, "axs.event_log has %d columns, expected 7", descriptor->natts);
	for (int i = 0; i < nslots; i++)
		slots[i] = MakeSingleTupleTableSlot(descriptor, &TTSOpsVirtual);

	for (int start = 0; start < count; start += LOG_INSERT_CHUNK)
	{
		int			n = Min(count - start, LOG_INSERT_CHUNK);

		for (int i = 0; i < n; i++)
		{
			TupleTableSlot *slot = slots[i];
			int			row = start + i;

			ExecClearTuple(slot);
			slot->tts_values[0] = Int64GetDatum(ids[row]);
			slot->tts_values[1] = PointerGetDatum(payloads[row]);
			slot->tts_values[2] = Int16GetDatum(reasons[row]);
			slot->tts_values[3] = Int64GetDatum(positions[row]);
			slot->tts_values[4] = TimestampTzGetDatum(queued_at[row]);
			slot->tts_values[5] = TimestampTzGetDatum(recorded_at);
			memset(slot->tts_isnull, 0, sizeof(bool) * 6);
			slot->tts_values[6] = (Datum) 0;
			slot->tts_isnull[6] = true;	/* sync_order: synchronous calls only */
			ExecStoreVirtualTuple(slot);
		}
		/*
		 * No BulkInsertState: a large batch outgrows its buffer ring and
		 * recycles its own dirty log pages, and each recycled page first
		 * waits for a WAL flush.
		 */
		heap_multi_insert(event_log, slots, n, command, 0, NULL);
		for (int i = 0; i < n; i++)
			axs_index_writer_insert(indexes, slots[i]);
	}
	for (int i = 0; i < nslots; i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	axs_index_writer_close(indexes);
	axs_writeback_growth(event_log);
	table_close(event_log, NoLock);

	for (int i = 0; i < count; i++)
	{
		outcomes[i].id = ids[i];
		outcomes[i].reason = reasons[i];
		outcomes[i].payload_length = (uint16) VARSIZE_ANY_EXHDR(payloads[i]);
		outcomes[i].payload = (const uint8 *) VARDATA_ANY(payloads[i]);
	}
	axs_outcomes_append(count, outcomes, recorded_at);
	pfree(outcomes);
	CommandCounterIncrement();
}
