/*
 * history_read.c
 *		Per-account history, read: a key's chain of entries walked back from
 *		its head (axs.balances) or from a mark (axs.history_marks), block by
 *		block through axs.history_blocks' primary key, and the seeks that
 *		the SQL functions (history_api.c) are built on.
 *
 * A walk visits one block per decision unit that changed the key, so a
 * seek costs at most the 256 entries between two marks plus what it
 * returns.  Reads use the active snapshot and change nothing.  See
 * docs/design/history.md.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/snapmgr.h"

#include "history_read.h"
#include "pg_util.h"

struct AxsHistoryReader
{
	Relation	blocks;
	Relation	primary_key;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	AxsHistoryEntry *found;		/* one block's entries of a key */
};

static SPIPlanPtr head_plan = NULL;
static SPIPlanPtr mark_by_seqno_plan = NULL;
static SPIPlanPtr mark_by_time_plan = NULL;
static SPIPlanPtr mark_after_time_plan = NULL;

static void
prepare_plans(void)
{
	Oid			key_types[3] = {INT8OID, INT4OID, INT8OID};
	Oid			time_types[3] = {INT8OID, INT4OID, TIMESTAMPTZOID};
	SPIPlanPtr	head;
	SPIPlanPtr	by_seqno;
	SPIPlanPtr	by_time;
	SPIPlanPtr	after_time;

	if (head_plan != NULL)
		return;
	/* all four or none: an error between them must not leave a half set */
	head = axs_prepare_kept("SELECT history_seqno, history_block FROM axs.balances "
							"WHERE account OPERATOR(pg_catalog.=) $1 AND currency OPERATOR(pg_catalog.=) $2",
							2, key_types);
	by_seqno = axs_prepare_kept("SELECT seqno, block FROM axs.history_marks "
								"WHERE account OPERATOR(pg_catalog.=) $1 AND currency OPERATOR(pg_catalog.=) $2 "
								"AND seqno OPERATOR(pg_catalog.>=) $3 "
								"ORDER BY seqno USING OPERATOR(pg_catalog.<) LIMIT 1",
								3, key_types);
	by_time = axs_prepare_kept("SELECT seqno, block FROM axs.history_marks "
							   "WHERE account OPERATOR(pg_catalog.=) $1 AND currency OPERATOR(pg_catalog.=) $2 "
							   "AND decided_at OPERATOR(pg_catalog.>=) $3 "
							   "ORDER BY decided_at USING OPERATOR(pg_catalog.<), seqno USING OPERATOR(pg_catalog.<) LIMIT 1",
							   3, time_types);
	after_time = axs_prepare_kept("SELECT seqno, block FROM axs.history_marks "
								  "WHERE account OPERATOR(pg_catalog.=) $1 AND currency OPERATOR(pg_catalog.=) $2 "
								  "AND decided_at OPERATOR(pg_catalog.>) $3 "
								  "ORDER BY decided_at USING OPERATOR(pg_catalog.<), seqno USING OPERATOR(pg_catalog.<) LIMIT 1",
								  3, time_types);
	mark_by_seqno_plan = by_seqno;
	mark_by_time_plan = by_time;
	mark_after_time_plan = after_time;
	head_plan = head;
}

void
axs_history_report_damage(int64 block)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("axs history is damaged at block %lld of axs.history_blocks: missing, malformed or out of chain",
					(long long) block),
			 errhint("Restore axs.history_blocks from a backup; it must never be written by hand.")));
}

AxsHistoryReader *
axs_history_reader_open(void)
{
	AxsHistoryReader *reader = palloc0(sizeof(AxsHistoryReader));

	/* the blocks are read directly: check what SELECT would */
	if (pg_class_aclcheck(axs_table_oid("history_blocks"), GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table history_blocks"),
				 errhint("Members of axs_reader may read history.")));
	reader->blocks = table_open(axs_table_oid("history_blocks"), AccessShareLock);
	reader->primary_key = index_open(axs_table_oid("history_blocks_pkey"), AccessShareLock);
	reader->scan = index_beginscan(reader->blocks, reader->primary_key, GetActiveSnapshot(), 1, 0);
	reader->slot = table_slot_create(reader->blocks, NULL);
	reader->found = palloc(sizeof(AxsHistoryEntry) * AXS_HISTORY_BLOCK_MAX_ENTRIES);
	return reader;
}

void
axs_history_reader_close(AxsHistoryReader *reader)
{
	index_endscan(reader->scan);
	ExecDropSingleTupleTableSlot(reader->slot);
	index_close(reader->primary_key, AccessShareLock);
	table_close(reader->blocks, AccessShareLock);
	pfree(reader->found);
	pfree(reader);
}

/*
 * The key's entries in the block with this locator, oldest first, into
 * reader->found; returns their number (> 0: a chain never names a block
 * without the key).
 */
static int
find_in_block(AxsHistoryReader *reader, const AxsHistoryKeyHead *head, int64 locator,
			  TimestampTz *decided_at, int64 *unit)
{
	ScanKeyData key;
	bytea	   *entries;
	size_t		count = 0;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(locator));
	index_rescan(reader->scan, &key, 1, NULL, 0);
	if (!index_getnext_slot(reader->scan, ForwardScanDirection, reader->slot))
		axs_history_report_damage(locator);
	slot_getallattrs(reader->slot);
	*unit = DatumGetInt64(reader->slot->tts_values[1]);
	*decided_at = DatumGetTimestampTz(reader->slot->tts_values[2]);
	entries = DatumGetByteaPP(reader->slot->tts_values[3]);
	if (!axs_history_block_find((const uint8 *) VARDATA_ANY(entries), VARSIZE_ANY_EXHDR(entries),
								locator, head->account, head->currency,
								reader->found, AXS_HISTORY_BLOCK_MAX_ENTRIES, &count) ||
		count == 0)
		axs_history_report_damage(locator);
	return (int) count;
}

void
axs_history_walk_back(AxsHistoryReader *reader, const AxsHistoryKeyHead *head,
					  int64 seqno, int64 block, AxsHistoryVisit visit, void *context)
{
	int64		expected = -1;	/* the newest seqno the next block must hold */

	if (block == 0 && seqno > 0)
		axs_history_report_damage(0);
	while (block != 0)
	{
		AxsHistoryRow row;
		int			count;
		const AxsHistoryEntry *first;
		const AxsHistoryEntry *last;

		CHECK_FOR_INTERRUPTS();
		count = find_in_block(reader, head, block, &row.decided_at, &row.unit);
		first = &reader->found[0];
		last = &reader->found[count - 1];
		/* the chain must go back one seqno at a time, to older blocks */
		if (expected < 0 ? last->seqno < seqno : last->seqno != expected)
			axs_history_report_damage(block);
		for (int i = count - 1; i >= 0; i--)
		{
			if (reader->found[i].seqno > seqno)
				continue;
			row.entry = reader->found[i];
			if (!visit(context, &row))
				return;
		}
		if (first->seqno == 1)
			return;
		if (first->previous_block <= 0 || first->previous_block >= block)
			axs_history_report_damage(block);
		expected = first->seqno - 1;
		block = first->previous_block;
	}
}

AxsHistoryKeyHead
axs_history_head(int64 account, int32 currency)
{
	AxsHistoryKeyHead head;
	Datum		arguments[2] = {Int64GetDatum(account), Int32GetDatum(currency)};
	bool		isnull;

	prepare_plans();
	head.account = account;
	head.currency = currency;
	head.seqno = 0;
	head.block = 0;
	if (SPI_execute_plan(head_plan, arguments, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading a history head failed");
	if (SPI_processed == 1)
	{
		head.seqno = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		head.block = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	return head;
}

/*
 * The mark found by plan (with the key and value as arguments) into
 * *seqno, *block; else the head's.
 */
static void
start_point(SPIPlanPtr plan, const AxsHistoryKeyHead *head, Datum value,
			int64 *seqno, int64 *block)
{
	Datum		arguments[3] = {Int64GetDatum(head->account), Int32GetDatum(head->currency), value};
	bool		isnull;

	*seqno = head->seqno;
	*block = head->block;
	if (SPI_execute_plan(plan, arguments, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading history marks failed");
	if (SPI_processed == 1)
	{
		*seqno = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		*block = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
}

typedef struct CollectState
{
	int64		from;
	int64		last;
	int64		next;			/* the seqno the walk must visit next */
	AxsHistoryRow *rows;
} CollectState;

static bool
collect_row(void *context, const AxsHistoryRow *row)
{
	CollectState *state = context;

	if (row->entry.seqno != state->next || row->entry.seqno < state->from)
		axs_history_report_damage(0);
	state->rows[row->entry.seqno - state->from] = *row;
	state->next--;
	return row->entry.seqno > state->from;
}

int
axs_history_collect(AxsHistoryReader *reader, const AxsHistoryKeyHead *head,
					int64 from, int max_rows, AxsHistoryRow *rows)
{
	CollectState state;
	int64		last;
	int64		seqno;
	int64		block;

	if (from < 1 || from > head->seqno || max_rows <= 0)
		return 0;
	last = (head->seqno - from < max_rows) ? head->seqno : from + max_rows - 1;
	prepare_plans();
	start_point(mark_by_seqno_plan, head, Int64GetDatum(last), &seqno, &block);
	state.from = from;
	state.last = last;
	state.next = last;
	state.rows = rows;
	axs_history_walk_back(reader, head, last, block, collect_row, &state);
	if (state.next != from - 1)
		axs_history_report_damage(block);
	return (int) (last - from + 1);
}

typedef struct SeekState
{
	TimestampTz at;
	bool		strict;
	int64		first;			/* the earliest entry at or after at so far */
	AxsHistoryRow *before;
	bool		found_before;
} SeekState;

static bool
seek_row(void *context, const AxsHistoryRow *row)
{
	SeekState  *state = context;

	if (state->strict ? row->decided_at > state->at : row->decided_at >= state->at)
	{
		state->first = row->entry.seqno;
		return true;
	}
	*state->before = *row;
	state->found_before = true;
	return false;
}

int64
axs_history_seek_time(AxsHistoryReader *reader, const AxsHistoryKeyHead *head,
					  TimestampTz at, bool strict, AxsHistoryRow *before, bool *has_before)
{
	SeekState	state;
	int64		seqno;
	int64		block;

	prepare_plans();
	state.at = at;
	state.strict = strict;
	state.first = head->seqno + 1;
	state.before = before;
	state.found_before = false;
	if (head->seqno > 0)
	{
		start_point(strict ? mark_after_time_plan : mark_by_time_plan, head,
					TimestampTzGetDatum(at), &seqno, &block);
		axs_history_walk_back(reader, head, seqno, block, seek_row, &state);
	}
	*has_before = state.found_before;
	return state.first;
}

typedef struct FindState
{
	TimestampTz decided_at;
	int64		event_id;
	AxsHistoryRow *row;
	bool		found;
} FindState;

static bool
find_row(void *context, const AxsHistoryRow *row)
{
	FindState  *state = context;

	if (row->decided_at > state->decided_at)
		return true;
	if (row->decided_at < state->decided_at)
		return false;
	if (row->entry.event_id != state->event_id)
		return true;
	*state->row = *row;
	state->found = true;
	return false;
}

bool
axs_history_find_event(AxsHistoryReader *reader, const AxsHistoryKeyHead *head,
					   TimestampTz decided_at, int64 event_id, AxsHistoryRow *row)
{
	FindState	state;
	int64		seqno;
	int64		block;

	if (head->seqno == 0)
		return false;
	prepare_plans();
	state.decided_at = decided_at;
	state.event_id = event_id;
	state.row = row;
	state.found = false;
	start_point(mark_after_time_plan, head, TimestampTzGetDatum(decided_at), &seqno, &block);
	axs_history_walk_back(reader, head, seqno, block, find_row, &state);
	return state.found;
}
