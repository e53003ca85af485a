/*
 * history_verify.c
 *		axs.history_verify(): the history half of axs.verify.  Every key's
 *		entries must chain (seqnos 1, 2, 3, ..., each balance the one before
 *		plus the entry's deltas, starting from zero) and end at the key's
 *		balance in axs.balances, head included.
 *
 * One pass over axs.history_blocks in locator order (history_store.c: a
 * key's later units have larger locators), replaying every entry into a
 * map with one element per key, then one pass over axs.balances.  A key
 * that fails is reported once, with what its history gives (expected) and
 * what is stored (actual): the entry that breaks the chain, or the balance.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "common/int.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "history_block.h"
#include "history_read.h"
#include "pg_util.h"

/*
 * The replay of one key is kept in an AxsBalance: available and frozen as
 * replayed, history_seqno and history_block of the last entry; changed
 * marks a key already reported, existed one that has a balance row.
 */

static void
report(ReturnSetInfo *rsinfo, int64 account, int32 currency,
	   int64 expected_available, int64 expected_frozen,
	   int64 actual_available, int64 actual_frozen)
{
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	values[0] = Int64GetDatum(account);
	values[1] = Int32GetDatum(currency);
	values[2] = Int64GetDatum(expected_available);
	values[3] = Int64GetDatum(expected_frozen);
	values[4] = Int64GetDatum(actual_available);
	values[5] = Int64GetDatum(actual_frozen);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* Replay one entry of the block with this locator onto its key. */
static void
replay_entry(ReturnSetInfo *rsinfo, AxsBalanceMap *replay, const AxsHistoryEntry *entry,
			 int64 locator)
{
	AxsBalance *key = axs_balance_map_get(replay, entry->account, entry->currency);
	int64		available;
	int64		frozen;

	if (key->changed)
		return;
	CHECK_FOR_INTERRUPTS();
	if (pg_add_s64_overflow(key->available, entry->available_delta, &available) ||
		pg_add_s64_overflow(key->frozen, entry->frozen_delta, &frozen) ||
		entry->seqno != key->history_seqno + 1 || entry->previous_block != key->history_block ||
		available != entry->available || frozen != entry->frozen)
	{
		key->changed = true;
		/* what the deltas give, wrapping where they overflow */
		report(rsinfo, entry->account, entry->currency,
			   (int64) ((uint64) key->available + (uint64) entry->available_delta),
			   (int64) ((uint64) key->frozen + (uint64) entry->frozen_delta),
			   entry->available, entry->frozen);
		return;
	}
	key->available = available;
	key->frozen = frozen;
	key->history_seqno = entry->seqno;
	key->history_block = locator;
}

/* Replay every block, in locator order. */
static void
replay_blocks(ReturnSetInfo *rsinfo, AxsBalanceMap *replay)
{
	Relation	blocks = table_open(axs_table_oid("history_blocks"), AccessShareLock);
	Relation	primary_key = index_open(axs_table_oid("history_blocks_pkey"), AccessShareLock);
	IndexScanDesc scan = index_beginscan(blocks, primary_key, GetActiveSnapshot(), 0, 0);
	TupleTableSlot *slot = table_slot_create(blocks, NULL);
	AxsHistoryEntry *entries = palloc(sizeof(AxsHistoryEntry) * AXS_HISTORY_BLOCK_MAX_ENTRIES);

	index_rescan(scan, NULL, 0, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		int64		locator;
		bytea	   *block;
		size_t		count;

		CHECK_FOR_INTERRUPTS();
		slot_getallattrs(slot);
		locator = DatumGetInt64(slot->tts_values[0]);
		block = DatumGetByteaPP(slot->tts_values[3]);
		if (!axs_history_block_decode((const uint8 *) VARDATA_ANY(block), VARSIZE_ANY_EXHDR(block),
									  locator, entries, AXS_HISTORY_BLOCK_MAX_ENTRIES, &count))
			axs_history_report_damage(locator);
		for (size_t i = 0; i < count; i++)
			replay_entry(rsinfo, replay, &entries[i], locator);
	}
	pfree(entries);
	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	index_close(primary_key, AccessShareLock);
	table_close(blocks, AccessShareLock);
}

/* Compare every balance row with its replayed history. */
static void
compare_balances(ReturnSetInfo *rsinfo, AxsBalanceMap *replay)
{
	Relation	balances = table_open(axs_table_oid("balances"), AccessShareLock);
	TableScanDesc scan = table_beginscan(balances, GetActiveSnapshot(), 0, NULL);
	TupleTableSlot *slot = table_slot_create(balances, NULL);
	size_t		cursor = 0;
	AxsBalance *key;

	if (RelationGetDescr(balances)->natts != 6)
		elog(ERROR, "axs.balances has %d columns, expected 6", RelationGetDescr(balances)->natts);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		int64		account;
		int32		currency;
		int64		available;
		int64		frozen;

		slot_getallattrs(slot);
		account = DatumGetInt64(slot->tts_values[0]);
		currency = DatumGetInt32(slot->tts_values[1]);
		available = DatumGetInt64(slot->tts_values[2]);
		frozen = DatumGetInt64(slot->tts_values[3]);
		key = axs_balance_map_get(replay, account, currency);
		key->existed = true;
		if (key->changed)
			continue;
		if (key->available != available || key->frozen != frozen ||
			key->history_seqno != DatumGetInt64(slot->tts_values[4]) ||
			key->history_block != DatumGetInt64(slot->tts_values[5]))
			report(rsinfo, account, currency, key->available, key->frozen, available, frozen);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	table_close(balances, AccessShareLock);

	/* history of a balance that has no row */
	while ((key = axs_balance_map_next(replay, &cursor)) != NULL)
		if (!key->existed && !key->changed)
			report(rsinfo, key->account, key->currency, key->available, key->frozen, 0, 0);
}

PG_FUNCTION_INFO_V1(axs_history_verify);
/*
 * axs.history_verify(): (account, currency id, expected, actual) of every
 * key whose history does not chain or does not end at its balance.
 */
Datum
axs_history_verify(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AxsAllocator allocator = axs_memory_context_allocator(CurrentMemoryContext);
	AxsBalanceMap *replay = axs_balance_map_create(&allocator, 1024);

	/* it reads the tables directly: check what SELECT would */
	if (pg_class_aclcheck(axs_table_oid("history_blocks"), GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		pg_class_aclcheck(axs_table_oid("balances"), GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to verify history"),
				 errhint("Members of axs_reader may.")));
	InitMaterializedSRF(fcinfo, 0);
	replay_blocks(rsinfo, replay);
	compare_balances(rsinfo, replay);
	axs_balance_map_destroy(replay);
	return (Datum) 0;
}
