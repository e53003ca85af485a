/*
 * history_store.c
 *		Per-account history, written: a decision unit's entries (an applier
 *		batch, or one synchronous call) sorted, packed into blocks
 *		(history_block.h) and appended to axs.history_blocks with direct heap
 *		and index calls, every 256th entry of a key marked in
 *		axs.history_marks, and each key's new head left on its balance for
 *		the caller to write back.
 *
 * Block locators come from axs.history_block_seq, taken while the unit holds
 * its balances' locks, so a key's later units always get larger locators:
 * the blocks in locator order are every key's history in order (the check
 * in history_verify.c relies on it; the sequence must keep CACHE 1).  The unit's first locator is its unit
 * number, which orders the entries of different currencies.
 *
 * It decides nothing: the ledger core applied the events and reported their
 * changes.  See docs/design/history.md.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "history_store.h"
#include "index_writer.h"
#include "pg_util.h"
#include "writeback.h"

/* Every how many entries of a key a mark is kept (history_read.c). */
#define HISTORY_MARK_EVERY 256

/* Block rows inserted per heap_multi_insert call. */
#define BLOCK_INSERT_CHUNK 64

/* A mark to record: the key's entry seqno is in block. */
typedef struct Mark
{
	int64		account;
	int32		currency;
	int64		seqno;
	int64		block;
} Mark;

/* What axs_history_pack's callbacks need while a unit is packed. */
typedef struct PackState
{
	Oid			sequence;
	int64		reserved;		/* a locator the caller took for the first block; 0: none */
	int64		unit;			/* the unit's first locator; 0 before the first */
	TimestampTz decided_at;
	const AxsHistoryEntry *entries;
	size_t		next_entry;		/* the first entry of the next block */
	Relation	blocks;
	AxsIndexWriter *indexes;
	TupleDesc	descriptor;
	TupleTableSlot *slots[BLOCK_INSERT_CHUNK];	/* made as needed: a call
												 * of the synchronous API
												 * usually fills one */
	int			pending;		/* slots filled, not yet inserted */
	Mark	   *marks;			/* about one per 256 entries: grown as needed */
	int			nmarks;
	int			marks_capacity;
} PackState;

static SPIPlanPtr insert_marks_plan = NULL;

/*
 * Memory a process reuses from one unit to the next (the applier's
 * batches): the unit's entries, and the sort's two scratch areas.  Fresh
 * memory of this size would be faulted in page by page at every batch,
 * which costs more than the sort itself.  Kept in TopMemoryContext, grown
 * when a unit needs more; a scratch area is free again when the sort
 * returns, and every store starts by freeing both (a sort an error
 * interrupted never returned them).
 */
typedef struct KeptMemory
{
	void	   *memory;
	size_t		size;
	bool		in_use;
} KeptMemory;

static AxsHistoryEntry *kept_entries = NULL;
static size_t kept_entries_capacity = 0;
static KeptMemory kept_scratch[2];

static void *
scratch_allocate(void *context, size_t size)
{
	for (int i = 0; i < lengthof(kept_scratch); i++)
	{
		KeptMemory *kept = &kept_scratch[i];

		if (kept->in_use)
			continue;
		if (kept->size < size)
		{
			if (kept->memory != NULL)
				pfree(kept->memory);
			/* nothing dangling if the allocation fails */
			kept->memory = NULL;
			kept->size = 0;
			kept->memory = MemoryContextAllocExtended(TopMemoryContext, size, MCXT_ALLOC_HUGE);
			kept->size = size;
		}
		kept->in_use = true;
		memset(kept->memory, 0, size);
		return kept->memory;
	}
	elog(ERROR, "history sort asked for more than two scratch areas");
	pg_unreachable();
}

static void
scratch_release(void *context, void *pointer)
{
	for (int i = 0; i < lengthof(kept_scratch); i++)
		if (kept_scratch[i].memory == pointer)
			kept_scratch[i].in_use = false;
}

static const AxsAllocator scratch_allocator = {scratch_allocate, scratch_release, NULL};

/* The kept entry memory, with room for at least capacity entries. */
static AxsHistoryEntry *
entry_memory(size_t capacity)
{
	if (kept_entries_capacity < capacity)
	{
		if (kept_entries != NULL)
			pfree(kept_entries);
		/* nothing dangling if the allocation fails */
		kept_entries = NULL;
		kept_entries_capacity = 0;
		kept_entries = MemoryContextAllocExtended(TopMemoryContext,
												  sizeof(AxsHistoryEntry) * capacity,
												  MCXT_ALLOC_HUGE);
		kept_entries_capacity = capacity;
	}
	return kept_entries;
}

void
axs_history_unit_init(AxsHistoryUnit *unit, size_t expected)
{
	unit->capacity = Max(expected, (size_t) AXS_MAX_LEGS);
	unit->count = 0;
	unit->entries = entry_memory(unit->capacity);
	unit->capacity = kept_entries_capacity;
}

void
axs_history_unit_add(AxsHistoryUnit *unit, int64 event_id, AxsEventKind kind,
					 int32 ordinal, const AxsAppliedChange *changes, int nchanges)
{
	if (unit->count + AXS_MAX_LEGS > unit->capacity)
	{
		unit->capacity *= 2;
		unit->entries = kept_entries = repalloc_huge(kept_entries,
													 sizeof(AxsHistoryEntry) * unit->capacity);
		kept_entries_capacity = unit->capacity;
	}
	unit->count += axs_history_record(event_id, (uint8) kind, ordinal, changes, nchanges,
									  &unit->entries[unit->count]);
}

static int64
next_locator(void *context)
{
	PackState  *state = context;
	int64		locator;

	if (state->unit == 0 && state->reserved != 0)
		locator = state->reserved;
	else
		locator = nextval_internal(state->sequence, false);
	if (state->unit == 0)
		state->unit = locator;
	return locator;
}

static void
insert_pending_blocks(PackState *state)
{
	if (state->pending == 0)
		return;
	heap_multi_insert(state->blocks, state->slots, state->pending,
					  GetCurrentCommandId(true), 0, NULL);
	for (int i = 0; i < state->pending; i++)
		axs_index_writer_insert(state->indexes, state->slots[i]);
	state->pending = 0;
}

/* Remember the marks among the entries of the block just packed. */
static void
note_marks(PackState *state, int64 locator, size_t entry_count)
{
	for (size_t i = state->next_entry; i < state->next_entry + entry_count; i++)
	{
		const AxsHistoryEntry *entry = &state->entries[i];

		if (entry->seqno % HISTORY_MARK_EVERY != 0)
			continue;
		if (state->nmarks == state->marks_capacity)
		{
			state->marks_capacity = Max(64, state->marks_capacity * 2);
			state->marks = state->marks == NULL
				? palloc(sizeof(Mark) * state->marks_capacity)
				: repalloc(state->marks, sizeof(Mark) * state->marks_capacity);
		}
		state->marks[state->nmarks].account = entry->account;
		state->marks[state->nmarks].currency = entry->currency;
		state->marks[state->nmarks].seqno = entry->seqno;
		state->marks[state->nmarks].block = locator;
		state->nmarks++;
	}
	state->next_entry += entry_count;
}

static void
emit_block(void *context, int64 locator, const uint8_t *bytes, size_t length)
{
	PackState  *state = context;
	bytea	   *block = palloc(VARHDRSZ + length);
	TupleTableSlot *slot;

	SET_VARSIZE(block, VARHDRSZ + length);
	memcpy(VARDATA(block), bytes, length);
	if (state->pending == BLOCK_INSERT_CHUNK)
		insert_pending_blocks(state);
	if (state->slots[state->pending] == NULL)
		state->slots[state->pending] = MakeSingleTupleTableSlot(state->descriptor, &TTSOpsVirtual);
	slot = state->slots[state->pending++];
	ExecClearTuple(slot);
	slot->tts_values[0] = Int64GetDatum(locator);
	slot->tts_values[1] = Int64GetDatum(state->unit);
	slot->tts_values[2] = TimestampTzGetDatum(state->decided_at);
	slot->tts_values[3] = PointerGetDatum(block);
	memset(slot->tts_isnull, 0, sizeof(bool) * 4);
	ExecStoreVirtualTuple(slot);
	note_marks(state, locator, axs_history_block_count(bytes, length));
}

static void
insert_marks(PackState *state)
{
	Datum		arguments[5];
	Datum	   *accounts;
	Datum	   *currencies;
	Datum	   *seqnos;
	Datum	   *blocks;
	int			ret;

	if (state->nmarks == 0)
		return;
	if (insert_marks_plan == NULL)
	{
		Oid			types[5] = {INT8ARRAYOID, INT4ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, TIMESTAMPTZOID};

		insert_marks_plan = axs_prepare_kept(
											 "INSERT INTO axs.history_marks (account, currency, seqno, block, decided_at) "
											 "SELECT m.account, m.currency, m.seqno, m.block, $5 "
											 "FROM unnest($1, $2, $3, $4) AS m(account, currency, seqno, block)",
											 5, types);
	}
	accounts = palloc(sizeof(Datum) * state->nmarks);
	currencies = palloc(sizeof(Datum) * state->nmarks);
	seqnos = palloc(sizeof(Datum) * state->nmarks);
	blocks = palloc(sizeof(Datum) * state->nmarks);
	for (int i = 0; i < state->nmarks; i++)
	{
		accounts[i] = Int64GetDatum(state->marks[i].account);
		currencies[i] = Int32GetDatum(state->marks[i].currency);
		seqnos[i] = Int64GetDatum(state->marks[i].seqno);
		blocks[i] = Int64GetDatum(state->marks[i].block);
	}
	arguments[0] = axs_build_array(accounts, state->nmarks, INT8OID);
	arguments[1] = axs_build_array(currencies, state->nmarks, INT4OID);
	arguments[2] = axs_build_array(seqnos, state->nmarks, INT8OID);
	arguments[3] = axs_build_array(blocks, state->nmarks, INT8OID);
	arguments[4] = TimestampTzGetDatum(state->decided_at);
	ret = SPI_execute_plan(insert_marks_plan, arguments, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "recording history marks failed: %s", SPI_result_code_string(ret));
}

/* Set each key's head on its balance. */
static void
set_heads(AxsBalanceMap *map, const AxsHistoryHead *heads, size_t count)
{
	for (size_t i = 0; i < count; i++)
	{
		AxsBalance *balance = axs_balance_map_find(map, heads[i].account, heads[i].currency);

		if (balance == NULL || balance->history_seqno != heads[i].seqno)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("history of account %lld in currency %d ends at entry %lld, its balance at %lld",
							(long long) heads[i].account, heads[i].currency, (long long) heads[i].seqno,
							balance != NULL ? (long long) balance->history_seqno : -1LL)));
		balance->history_block = heads[i].locator;
	}
}

int64
axs_history_store(AxsHistoryUnit *unit, AxsBalanceMap *map, TimestampTz decided_at,
				  int64 first_locator)
{
	AxsHistoryHead *heads;
	size_t		max_heads = axs_balance_map_count(map);	/* a key is a balance of the map */
	size_t		nheads;
	PackState	state;

	if (unit->count == 0)
		return 0;
	kept_scratch[0].in_use = kept_scratch[1].in_use = false;
	axs_history_sort(unit->entries, unit->count, &scratch_allocator);
	heads = palloc_extended(sizeof(AxsHistoryHead) * max_heads, MCXT_ALLOC_HUGE);

	memset(&state, 0, sizeof(state));
	state.sequence = axs_table_oid("history_block_seq");
	state.reserved = first_locator;
	state.decided_at = decided_at;
	state.entries = unit->entries;
	state.blocks = table_open(axs_table_oid("history_blocks"), RowExclusiveLock);
	state.descriptor = axs_unpinned_descriptor(state.blocks);
	if (state.descriptor->natts != 4)
		elog(ERROR, "axs.history_blocks has %d columns, expected 4", state.descriptor->natts);
	state.indexes = axs_index_writer_open(state.blocks, InvalidOid);

	if (!axs_history_pack(unit->entries, unit->count, next_locator, emit_block, &state,
						  heads, max_heads, &nheads))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("history entries of a decision unit do not chain onto their balances' history"),
				 errhint("Check axs.history_verify(): a balance's history_seqno or history_block was changed by hand.")));
	insert_pending_blocks(&state);
	for (int i = 0; i < BLOCK_INSERT_CHUNK && state.slots[i] != NULL; i++)
		ExecDropSingleTupleTableSlot(state.slots[i]);
	axs_writeback_growth(state.blocks);
	axs_index_writer_close(state.indexes);
	table_close(state.blocks, NoLock);
	insert_marks(&state);
	set_heads(map, heads, nheads);
	pfree(heads);
	CommandCounterIncrement();
	return state.unit;
}
