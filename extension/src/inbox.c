/*
 * inbox.c
 *		The applier's side of axs.inbox's segments: reading the next rows
 *		from the live segment, and truncating segments whose rows are all
 *		applied (in place, to zero blocks), from a worker of its own.
 *
 * The inbox is LIST-partitioned into AXS_INBOX_SEGMENTS segments of
 * 2^AXS_INBOX_SEGMENT_BITS positions (install script).  Appenders commit in
 * position order (the inbox append lock), so once a row of segment N + 1 is
 * visible every row of segment N is: the next rows after the watermark are
 * in the watermark's segment, then in the one after it, each read only up to
 * the end of its current lap (positions wrap around the segments).  Reading those
 * partitions directly keeps the applier clear of the others, which the
 * janitor locks while it empties them.
 *
 * Segments are small (2^18 positions, ~30 MB with the index) because freeing
 * a file's blocks is not free: on this project's test machines (ext4 mounted
 * with online discard) truncating a 130 MB segment at once stalled every
 * other session's commits for up to 70 ms, a 33 MB one for about 20 ms
 * (bench/e2e/README.md).  64 of them keep the lap, and so the longest
 * backlog read without wrapping, at 2^24 positions.
 *
 * A segment's blocks are not handed to the kernel's writeback (writeback.c),
 * unlike the other tables': a segment is emptied seconds after it fills,
 * before the kernel writes back the page cache it dirtied (30 s), so its
 * pages are dropped without ever being written and, on a file system that
 * allocates at writeback (ext4), freeing them frees no disk blocks.  Handed
 * to writeback, a full segment cost the janitor 45 to 65 ms of wall time,
 * discards of 8 MB on the device included; not handed over, 13 to 40 ms
 * (bench/e2e/README.md).  Checkpoints still write a live segment's buffers.
 *
 * Truncation runs in an "axs inbox janitor" worker, so the applier goes on
 * applying meanwhile; at takeover the applier truncates itself, before it
 * starts.  Whether a segment's rows are all applied is decided without
 * reading them: rows get their positions only from the sequence, so a
 * segment holds a row after the watermark only if one of the positions
 * handed out and not yet decided, (watermark, last issued], falls in it.
 * (Reading a full segment to prove it had no such row cost a core for tens
 * of milliseconds, beside the applier and the feeder.)
 */
#include "postgres.h"

#include "access/brin_revmap.h"
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/multixact.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_type.h"
#include "catalog/storage.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "postmaster/bgworker.h"
#include "storage/lmgr.h"
#include "storage/ipc.h"
#include "storage/bufmgr.h"
#include "tcop/tcopprot.h"
#include "utils/fmgrprotos.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "applier_guard.h"
#include "axs_pg.h"

PGDLLEXPORT void axs_inbox_janitor_main(Datum main_arg);

/*
 * Reading a segment.  Its index is BRIN (pages_per_range
 * AXS_INBOX_PAGES_PER_RANGE): an append adds no index entry, since the block
 * range it extends is not summarized yet.  Before reading through it, the
 * applier summarizes the segment's complete ranges (all but the one holding
 * the last block), so the bitmap of a read holds the ranges that can contain
 * its positions plus that last one.  (Reads from the heap, below, need no
 * summaries, so the ranges are summarized only when an index read comes.)
 * Rows come back in block order, which is position order but for rows
 * placed in free space of earlier pages, so the applier sorts each read.
 *
 * A read takes the positions in a window (after, after + limit]: no more
 * than limit rows.  Positions wrap around the segments every
 * AXS_INBOX_SEGMENTS << AXS_INBOX_SEGMENT_BITS, so under a backlog that long
 * (or after a setval jump) a segment holds rows of two laps; the window ends
 * at its lap's end at the latest, or a read would take the later lap's rows
 * before the next segment's earlier ones, and the watermark would pass
 * those.  A window can be empty while later positions of the lap exist (a
 * gap of aborted or setval-skipped positions longer than the window): then
 * the lap's first rows are read in order, "position > $1 AND position < $3
 * ORDER BY position LIMIT $2".
 *
 * Most reads take neither: read_in_order scans the segment's heap from a
 * few blocks before the one where the previous read ended at position last,
 * sorts the later rows it finds and keeps those whose positions run on
 * without a gap: last + 1, last + 2, ...  Positions are unique, so those
 * rows are the whole window (last, last + k], wherever the segment's other
 * rows lie.  A scan that does not find last + 1 leaves the read to the
 * index.  Appenders fill the heap nearly in position order (one at a time,
 * under the append lock; a row goes back only into free space of a recent
 * page), so the scan visits little more than the new rows, where the
 * index's bitmap visited every row of the unsummarized last range: up to
 * 2,000 for a batch of a few hundred.
 *
 * A read moves on to the next segment only when it covered the rest of its
 * segment's lap: a window that a gap of positions left short may have rows
 * of its segment beyond it, and those come before the next segment's.
 */
#define AXS_INBOX_PAGES_PER_RANGE 32	/* as the install script creates them */

typedef struct SegmentReader
{
	SPIPlanPtr	window_plan;	/* position > $1 AND position < $2 */
	SPIPlanPtr	lap_plan;		/* ... ORDER BY position LIMIT */
	int64		lap_end;		/* the lap the reads below are of */
	Oid			relfilenode;	/* of the file summarized_ranges counts in */
	BlockNumber summarized_ranges;	/* ranges 0 .. n - 1 are summarized */
	/* where the last read ended: the block of the row at position last_read */
	Oid			last_read_relfilenode;	/* InvalidOid: no hint */
	int64		last_read;
	BlockNumber last_read_block;
} SegmentReader;

static SegmentReader segment_readers[AXS_INBOX_SEGMENTS];

static SegmentReader *
segment_reader(int segment)
{
	SegmentReader *reader = &segment_readers[segment];

	if (reader->window_plan == NULL)
	{
		Oid			window_types[2] = {INT8OID, INT8OID};
		Oid			lap_types[3] = {INT8OID, INT4OID, INT8OID};
		char		query[256];

		snprintf(query, sizeof(query),
				 "SELECT position, event_id, payload, queued_at FROM axs.inbox_%d "
				 "WHERE position OPERATOR(pg_catalog.>) $1 AND position OPERATOR(pg_catalog.<) $2", segment);
		reader->window_plan = axs_prepare_kept(query, 2, window_types);
		snprintf(query, sizeof(query),
				 "SELECT position, event_id, payload, queued_at FROM axs.inbox_%d "
				 "WHERE position OPERATOR(pg_catalog.>) $1 AND position OPERATOR(pg_catalog.<) $3 "
				 "ORDER BY position USING OPERATOR(pg_catalog.<) LIMIT $2", segment);
		reader->lap_plan = axs_prepare_kept(query, 3, lap_types);
	}
	return reader;
}

/* The OID of axs.inbox_<segment><suffix>: the segment, or its index. */
static Oid
segment_oid(int segment, const char *suffix)
{
	char		name[NAMEDATALEN];

	snprintf(name, sizeof(name), "inbox_%d%s", segment, suffix);
	return axs_table_oid(name);
}

/*
 * Summarize the segment's complete block ranges not summarized yet.  The
 * count starts afresh with every lap of the segment (read_segment), since
 * the janitor empties a segment and its summaries between two laps, and
 * whenever the file is shorter than the ranges counted or is a new one (a
 * TRUNCATE); after a restart it starts at 0, and summarized ranges are
 * passed over cheaply.
 */
static void
summarize_complete_ranges(int segment, SegmentReader *reader)
{
	Relation	heap;
	BlockNumber blocks;
	BlockNumber complete;
	Oid			index;

	heap = table_open(segment_oid(segment, ""), AccessShareLock);
	blocks = RelationGetNumberOfBlocks(heap);
	if (reader->relfilenode != heap->rd_node.relNode ||
		blocks < reader->summarized_ranges * AXS_INBOX_PAGES_PER_RANGE)
	{
		reader->relfilenode = heap->rd_node.relNode;
		reader->summarized_ranges = 0;
	}
	table_close(heap, AccessShareLock);
	complete = blocks == 0 ? 0 : (blocks - 1) / AXS_INBOX_PAGES_PER_RANGE;
	if (complete <= reader->summarized_ranges)
		return;
	index = segment_oid(segment, "_position");
	for (BlockNumber range = reader->summarized_ranges; range < complete; range++)
		(void) DirectFunctionCall2(brin_summarize_range, ObjectIdGetDatum(index),
								   Int64GetDatum((int64) range * AXS_INBOX_PAGES_PER_RANGE));
	reader->summarized_ranges = complete;
}

/* Sort a read's rows by position (column 1). */
typedef struct PositionedRow
{
	int64		position;
	HeapTuple	tuple;
} PositionedRow;

static int
compare_positioned_rows(const void *a, const void *b)
{
	int64		left = ((const PositionedRow *) a)->position;
	int64		right = ((const PositionedRow *) b)->position;

	return left < right ? -1 : left > right ? 1 : 0;
}

static void
sort_by_position(SPITupleTable *rows, uint64 count)
{
	PositionedRow *sorted = palloc(sizeof(PositionedRow) * count);
	bool		in_order = true;
	bool		isnull;

	for (uint64 i = 0; i < count; i++)
	{
		sorted[i].tuple = rows->vals[i];
		sorted[i].position = DatumGetInt64(heap_getattr(rows->vals[i], 1, rows->tupdesc, &isnull));
		if (i > 0 && sorted[i].position < sorted[i - 1].position)
			in_order = false;
	}
	if (!in_order)
	{
		qsort(sorted, count, sizeof(PositionedRow), compare_positioned_rows);
		for (uint64 i = 0; i < count; i++)
			rows->vals[i] = sorted[i].tuple;
	}
	pfree(sorted);
}

/* Run a read plan with these arguments; its rows stay in SPI_tuptable. */
static uint64
run_read(SPIPlanPtr plan, Datum *arguments)
{
	int			ret = SPI_execute_plan(plan, arguments, NULL, true, 0);

	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the inbox failed: %s", SPI_result_code_string(ret));
	return SPI_processed;
}

/*
 * The rows at positions after + 1, after + 2, ... (before lap_end, at most
 * limit), from a scan of the blocks from IN_ORDER_LOOKBACK_BLOCKS before the
 * one where the previous read of the segment ended at position after: the
 * rows found there with later positions, sorted, as far as their positions
 * run on without a gap.  Returns their number, or -1 when there is no such
 * hint or the scan did not find after + 1 (a gap of positions, a row placed
 * further back, or nothing new yet).
 */
#define IN_ORDER_LOOKBACK_BLOCKS 4
#define IN_ORDER_SLACK_ROWS 256

static int64
read_in_order(int segment, SegmentReader *reader, int64 after, int limit, int64 lap_end,
			  AxsInboxRows *part)
{
	Relation	heap;
	TableScanDesc scan;
	BlockNumber blocks;
	BlockNumber first_block;
	HeapTuple	tuple;
	PositionedRow *found;
	int64		most = Min((int64) limit, lap_end - after - 1);
	int64		capacity = most + IN_ORDER_SLACK_ROWS;
	int64		nfound = 0;
	int64		got = 0;
	bool		in_order = true;

	if (reader->last_read_relfilenode == InvalidOid || reader->last_read != after || most <= 0)
		return -1;
	heap = table_open(segment_oid(segment, ""), AccessShareLock);
	blocks = RelationGetNumberOfBlocks(heap);
	if (heap->rd_node.relNode != reader->last_read_relfilenode || reader->last_read_block >= blocks)
	{
		table_close(heap, NoLock);
		return -1;
	}
	first_block = reader->last_read_block > IN_ORDER_LOOKBACK_BLOCKS ?
		reader->last_read_block - IN_ORDER_LOOKBACK_BLOCKS : 0;
	found = palloc(sizeof(PositionedRow) * capacity);
	scan = table_beginscan_strat(heap, GetActiveSnapshot(), 0, NULL, false, false);
	heap_setscanlimits(scan, first_block, blocks - first_block);
	while (nfound < capacity && (tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		int64		position = DatumGetInt64(heap_getattr(tuple, 1, RelationGetDescr(heap), &isnull));

		if (position <= after || position >= lap_end)
			continue;			/* decided already, or a later lap's */
		if (nfound > 0 && position < found[nfound - 1].position)
			in_order = false;
		found[nfound].position = position;
		found[nfound].tuple = heap_copytuple(tuple);
		nfound++;
	}
	table_endscan(scan);
	if (!in_order)
		qsort(found, nfound, sizeof(PositionedRow), compare_positioned_rows);
	while (got < nfound && got < most && found[got].position == after + 1 + got)
		got++;
	if (got > 0)
	{
		HeapTuple  *rows = palloc(sizeof(HeapTuple) * got);

		for (int64 i = 0; i < got; i++)
			rows[i] = found[i].tuple;
		part->rows = palloc0(sizeof(SPITupleTable));
		part->rows->tupdesc = CreateTupleDescCopy(RelationGetDescr(heap));
		part->rows->vals = rows;
		part->count = (uint64) got;
		reader->last_read = after + got;
		reader->last_read_block = ItemPointerGetBlockNumber(&rows[got - 1]->t_self);
	}
	table_close(heap, NoLock);
	return got > 0 ? got : -1;
}

/* Remember where a read of the index ended: the block of its last row. */
static void
remember_last_read(SegmentReader *reader, const AxsInboxRows *part)
{
	HeapTuple	last = part->rows->vals[part->count - 1];
	bool		isnull;

	if (!ItemPointerIsValid(&last->t_self))
	{
		reader->last_read_relfilenode = InvalidOid;
		return;
	}
	reader->last_read_relfilenode = reader->relfilenode;
	reader->last_read = DatumGetInt64(heap_getattr(last, 1, part->rows->tupdesc, &isnull));
	reader->last_read_block = ItemPointerGetBlockNumber(&last->t_self);
}

/*
 * Read up to limit rows of a segment after position after and before
 * lap_end, in position order, into part; returns their number.  *exhausted
 * tells whether the read covered the rest of the segment's lap, so that the
 * next segment's rows come next: a window that ends before lap_end may have
 * left rows of this segment beyond it (when a gap made it return fewer than
 * limit rows), and those come before any row of the next segment.
 */
static uint64
read_segment(int segment, int64 after, int limit, int64 lap_end, AxsInboxRows *part,
			 bool *exhausted)
{
	SegmentReader *reader = segment_reader(segment);
	int64		window_end = Min(lap_end, after + limit + 1);
	Datum		arguments[3];
	int64		in_order;
	uint64		got;

	if (reader->lap_end != lap_end)
	{
		/* the janitor may have emptied the segment since its last lap */
		reader->lap_end = lap_end;
		reader->summarized_ranges = 0;
		reader->last_read_relfilenode = InvalidOid;
	}
	in_order = read_in_order(segment, reader, after, limit, lap_end, part);
	if (in_order > 0)
	{
		*exhausted = after + in_order == lap_end - 1;
		return (uint64) in_order;
	}
	summarize_complete_ranges(segment, reader);
	arguments[0] = Int64GetDatum(after);
	arguments[1] = Int64GetDatum(window_end);
	got = run_read(reader->window_plan, arguments);
	*exhausted = window_end == lap_end;
	if (got > 0)
		sort_by_position(SPI_tuptable, got);
	else if (window_end < lap_end)
	{
		arguments[1] = Int32GetDatum(limit);
		arguments[2] = Int64GetDatum(lap_end);
		got = run_read(reader->lap_plan, arguments);
		*exhausted = got < (uint64) limit;
	}
	part->rows = SPI_tuptable;
	part->count = got;
	if (got > 0)
		remember_last_read(reader, part);
	return got;
}

/* The first position of the lap after the one position is in, of its segment. */
static int64
segment_lap_end(int64 position)
{
	return ((position >> AXS_INBOX_SEGMENT_BITS) + 1) << AXS_INBOX_SEGMENT_BITS;
}

/*
 * The last position the inbox sequence has handed out (0 if none yet).
 * Needs SPI and the right to read the sequence.
 */
int64
axs_inbox_positions_issued(void)
{
	bool		isnull;
	bool		called;
	int64		last;

	if (SPI_execute("SELECT last_value, is_called FROM axs.inbox_position_seq", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading axs.inbox_position_seq failed");
	last = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	called = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	/* not called yet: the next nextval hands out last itself */
	return called ? last : last - 1;
}

int
axs_inbox_read(int64 watermark, int limit, SPIPlanPtr whole_inbox_plan, AxsInboxRows *parts)
{
	int			segment = axs_inbox_segment(watermark + 1);
	int64		lap_end = segment_lap_end(watermark + 1);
	uint64		got;
	int			nparts = 0;
	Datum		arguments[2];
	bool		exhausted;

	got = read_segment(segment, watermark, limit, lap_end, &parts[nparts], &exhausted);
	if (got > 0)
		nparts++;
	if (got < (uint64) limit && exhausted)
	{
		int64		after = watermark;
		bool		isnull;

		if (got > 0)
			after = DatumGetInt64(SPI_getbinval(parts[0].rows->vals[got - 1],
												parts[0].rows->tupdesc, 1, &isnull));
		if (read_segment((segment + 1) % AXS_INBOX_SEGMENTS, after, limit - (int) got,
						 lap_end + ((int64) 1 << AXS_INBOX_SEGMENT_BITS), &parts[nparts],
						 &exhausted) > 0)
			nparts++;
	}
	if (nparts > 0)
		return nparts;

	/*
	 * Nothing in either.  Positions may have jumped further (setval): only
	 * then read the whole inbox, whose plan locks every segment (a janitor
	 * would find its segment busy).
	 */
	if (axs_inbox_positions_issued() < ((((watermark + 1) >> AXS_INBOX_SEGMENT_BITS) + 2) << AXS_INBOX_SEGMENT_BITS))
		return 0;
	arguments[0] = Int64GetDatum(watermark);
	arguments[1] = Int32GetDatum(limit);
	got = run_read(whole_inbox_plan, arguments);
	if (got == 0)
		return 0;
	parts[0].rows = SPI_tuptable;
	parts[0].count = got;
	return 1;
}

/*
 * true if the segment may hold a row the applier has not passed: one at a
 * position in (watermark, issued], handed out by the sequence and not yet
 * decided.  Rows get their positions only from the sequence (axs_feeder may
 * insert no other column), so every other row of the segment is at or below
 * the watermark, and a position handed out later than issued goes into a
 * segment only after any lock held on it now is released.
 */
static bool
segment_may_hold_unapplied(int segment, int64 watermark, int64 issued)
{
	int64		first_range = (watermark + 1) >> AXS_INBOX_SEGMENT_BITS;
	int64		ranges;
	int			offset;

	if (issued <= watermark)
		return false;
	ranges = (issued >> AXS_INBOX_SEGMENT_BITS) - first_range + 1;
	if (ranges >= AXS_INBOX_SEGMENTS)
		return true;
	/* the segment is the offset-th of the ranges from first_range on */
	offset = (segment - (int) (first_range % AXS_INBOX_SEGMENTS) + AXS_INBOX_SEGMENTS) %
		AXS_INBOX_SEGMENTS;
	return offset < ranges;
}

/*
 * Empty a locked segment in place, keeping its files: its BRIN summaries
 * first, then its heap from the end, TRUNCATE_STEP_BLOCKS at a time, then
 * its pg_class row's statistics and freeze horizons (forget_emptied_rows).
 * A TRUNCATE would create new files, update pg_class and invalidate every
 * session's plans and partition descriptors on the inbox; the janitor's
 * truncations were still in the worst 100 ms windows of the end-to-end
 * benchmark at half load after the shrink steps below (bench/e2e/README.md).
 *
 * This is VACUUM's heap truncation (RelationTruncate under an
 * AccessExclusiveLock: WAL-logged, not undone by an abort, other sessions
 * drop their cached block numbers through the shared invalidation it sends),
 * and it is safe for the same reason: nothing points into the blocks given
 * back.  The heap's rows are all applied (nobody needs them again), and the
 * index is BRIN, whose only pointers are the summaries of block ranges;
 * they are removed first, each desummarization WAL-logged on its own.  A
 * crash at any step leaves a consistent segment: a summary left behind
 * stays correct, since an insert into a summarized range widens its
 * summary, and the next sweep (at the applier's takeover after a crash,
 * and every JANITOR_SWEEP_EVERY segments) finishes the job.  The toast table
 * needs nothing: no payload is toasted (at most 1024 bytes, the CHECK of
 * the install script), and a segment whose toast table has blocks anyway
 * (an owner lowered toast_tuple_target) gets a TRUNCATE instead, as does a
 * segment with any index besides its BRIN one.
 *
 * Freeing a file's blocks at once can stall every session's commits (on a
 * file system with online discard, ~20 ms for a full 33 MB segment); a few
 * megabytes at a time lets their WAL flushes through in between.  Not much
 * less at a time: every step scans all of shared_buffers for the blocks it
 * drops; in 1 MB steps a full segment cost the janitor 20 to 25 ms of CPU,
 * in 8 MB steps about 5 ms, and the device discarded each 8 MB in about
 * 5 ms (bench/e2e/README.md).
 */
#define TRUNCATE_STEP_BLOCKS 1024	/* 8 MB */

static bool
segment_toast_is_empty(Relation heap)
{
	Relation	toast;
	BlockNumber blocks;

	if (!OidIsValid(heap->rd_rel->reltoastrelid))
		return true;
	toast = table_open(heap->rd_rel->reltoastrelid, AccessExclusiveLock);
	blocks = RelationGetNumberOfBlocks(toast);
	table_close(toast, NoLock);
	return blocks == 0;
}

/*
 * Whether the segment's only index is its BRIN index on position.  Any
 * other index (one an operator added on axs.inbox, which every segment
 * inherits) holds pointers to the rows themselves and would keep them past
 * the truncation in place: such a segment gets a TRUNCATE.
 */
static bool
segment_has_only_its_brin_index(Relation heap, Oid brin_index)
{
	List	   *indexes = RelationGetIndexList(heap);
	bool		only_brin = list_length(indexes) == 1 && linitial_oid(indexes) == brin_index;
	Relation	index;

	list_free(indexes);
	if (!only_brin)
		return false;
	index = index_open(brin_index, AccessExclusiveLock);
	only_brin = index->rd_rel->relam == BRIN_AM_OID;
	index_close(index, NoLock);
	return only_brin;
}

/*
 * Record in pg_class what a TRUNCATE would: no pages, no tuple count, and
 * no transaction or multixact older than now in the heap (it has no rows).
 * Without it the segment's relfrozenxid would stay where its first rows put
 * it, and after autovacuum_freeze_max_age transactions autovacuum would
 * vacuum every segment to prevent wraparound, autovacuum_enabled = off or
 * not.  This is VACUUM's in-place update of the segment's pg_class row
 * (not transactional, like the truncation); a crash before it leaves the
 * old relfrozenxid, which is merely conservative.
 */
static void
forget_emptied_rows(Relation heap)
{
	vac_update_relstats(heap, 0, -1, 0, true, RecentXmin, GetOldestMultiXactId(),
						NULL, NULL, false);
}

/* Empty a segment locked in AccessExclusiveLock mode; false if it needs a TRUNCATE. */
static bool
empty_segment_in_place(int segment)
{
	Relation	heap = table_open(segment_oid(segment, ""), AccessExclusiveLock);
	Oid			brin_index = segment_oid(segment, "_position");
	Relation	index;
	BlockNumber blocks = RelationGetNumberOfBlocks(heap);

	if (!segment_toast_is_empty(heap) || !segment_has_only_its_brin_index(heap, brin_index))
	{
		table_close(heap, NoLock);
		return false;
	}
	index = index_open(brin_index, AccessExclusiveLock);
	for (BlockNumber range_start = 0; range_start < blocks; range_start += AXS_INBOX_PAGES_PER_RANGE)
	{
		/* false: the index changed under it (not with these locks); again */
		while (!brinRevmapDesummarizeRange(index, range_start))
			CHECK_FOR_INTERRUPTS();
	}
	index_close(index, NoLock);
	while (blocks > 0)
	{
		blocks = blocks > TRUNCATE_STEP_BLOCKS ? blocks - TRUNCATE_STEP_BLOCKS : 0;
		RelationTruncate(heap, blocks);
		CHECK_FOR_INTERRUPTS();
	}
	forget_emptied_rows(heap);
	table_close(heap, NoLock);
	return true;
}

/*
 * Truncate one segment if none of its rows can be after the watermark, in a
 * transaction of its own.  A segment some other transaction is using is
 * left for a later call.
 */
static void
truncate_segment_if_applied(int segment, int64 watermark)
{
	MemoryContext context = CurrentMemoryContext;
	instr_time	started;
	char		query[64];

	INSTR_TIME_SET_CURRENT(started);
	axs_begin_work("axs: truncating an applied inbox segment");
	PG_TRY();
	{
		/* under the lock nobody appends: then look at what was handed out */
		if (ConditionalLockRelationOid(segment_oid(segment, ""), AccessExclusiveLock) &&
			!segment_may_hold_unapplied(segment, watermark, axs_inbox_positions_issued()))
		{
			instr_time	elapsed;
			bool		in_place = empty_segment_in_place(segment);

			if (!in_place)
			{
				snprintf(query, sizeof(query), "TRUNCATE axs.inbox_%d", segment);
				if (SPI_execute(query, false, 0) != SPI_OK_UTILITY)
					elog(ERROR, "\"%s\" failed", query);
			}
			INSTR_TIME_SET_CURRENT(elapsed);
			INSTR_TIME_SUBTRACT(elapsed, started);
			ereport(LOG,
					(errmsg("axs: truncated inbox segment %d%s, all applied (watermark %lld), in %.1f ms",
							segment, in_place ? " in place" : "", (long long) watermark,
							INSTR_TIME_GET_MILLISEC(elapsed))));
		}
	}
	PG_CATCH();
	{
		ErrorData  *error;

		/* a later call tries again */
		MemoryContextSwitchTo(context);
		error = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		pgstat_report_activity(STATE_IDLE, NULL);
		ereport(WARNING,
				(errmsg("axs: could not truncate inbox segment %d: %s", segment, error->message)));
		FreeErrorData(error);
		return;
	}
	PG_END_TRY();
	axs_end_work();
}

/* The number of blocks of a segment, or 0 if another transaction locks it. */
static BlockNumber
segment_blocks(int segment)
{
	Oid			heap = segment_oid(segment, "");
	Relation	relation;
	BlockNumber blocks;

	if (!ConditionalLockRelationOid(heap, AccessShareLock))
		return 0;
	relation = table_open(heap, NoLock);
	blocks = RelationGetNumberOfBlocks(relation);
	table_close(relation, NoLock);
	return blocks;
}

/*
 * Truncate the segments with blocks that hold no row after the watermark.
 * One transaction finds them from the positions handed out; each is then
 * truncated in a transaction of its own.  Not the two segments the applier
 * reads next: they are in use.
 *
 * A sweep (previous_watermark < 0) looks at all of them.  The applier
 * passes the watermark before the batch that took it into a new segment:
 * the last run had a watermark in that same segment, so only the segments
 * from there to the live one can have become truncatable since, and only
 * those are looked at (opening every segment costs a fresh janitor ~9 ms of
 * CPU, bench/e2e/README.md).  Every JANITOR_SWEEP_EVERY segments, and when
 * the watermark moved by nearly a lap, it sweeps anyway, for a segment that
 * was busy when its turn came.
 */
#define JANITOR_SWEEP_EVERY 8

void
axs_inbox_truncate_applied(int64 watermark, int64 previous_watermark)
{
	int			live = axs_inbox_segment(watermark + 1);
	int			first = (live + 2) % AXS_INBOX_SEGMENTS;
	int			candidates = AXS_INBOX_SEGMENTS - 2;
	int			applied[AXS_INBOX_SEGMENTS];
	int			count = 0;
	int64		issued;

	if (previous_watermark >= 0 && live % JANITOR_SWEEP_EVERY != 0 &&
		watermark - previous_watermark < ((int64) (AXS_INBOX_SEGMENTS - 2) << AXS_INBOX_SEGMENT_BITS))
	{
		/* the last run's live segment was this one or the next */
		first = axs_inbox_segment(previous_watermark);
		candidates = (live - first + AXS_INBOX_SEGMENTS) % AXS_INBOX_SEGMENTS;
		if (candidates == 0)
			return;
	}
	axs_begin_work("axs: looking for applied inbox segments");
	issued = axs_inbox_positions_issued();
	if (issued < watermark)
	{
		/* the sequence was set back: what it hands out next is undecidable */
		ereport(WARNING,
				(errmsg("axs: not truncating inbox segments: axs.inbox_position_seq (%lld) "
						"is behind the applier's watermark (%lld)",
						(long long) issued, (long long) watermark),
				 errhint("Set the sequence to at least the watermark shown in axs.applier_status.")));
		axs_end_work();
		return;
	}
	for (int i = 0; i < candidates; i++)
	{
		int			segment = (first + i) % AXS_INBOX_SEGMENTS;

		if (!segment_may_hold_unapplied(segment, watermark, issued) &&
			segment_blocks(segment) > 0)
			applied[count++] = segment;
	}
	axs_end_work();
	for (int i = 0; i < count; i++)
		truncate_segment_if_applied(applied[i], watermark);
}

/* Start a janitor for axs_inbox_truncate_applied(watermark, previous_watermark). */
bool
axs_inbox_start_janitor(int64 watermark, int64 previous_watermark)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	int64		watermarks[2] = {watermark, previous_watermark};

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "axs", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "axs_inbox_janitor_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "axs inbox janitor", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "axs inbox janitor", BGW_MAXLEN);
	worker.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
	StaticAssertStmt(sizeof(watermarks) <= BGW_EXTRALEN, "bgw_extra too small");
	memcpy(worker.bgw_extra, watermarks, sizeof(watermarks));
	return RegisterDynamicBackgroundWorker(&worker, &handle);
}

/* The janitor: truncate the segments applied at the watermark it was given, then exit. */
void
axs_inbox_janitor_main(Datum main_arg)
{
	int64		watermarks[2];

	memcpy(watermarks, MyBgworkerEntry->bgw_extra, sizeof(watermarks));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(main_arg), InvalidOid, 0);
	axs_worker_session_settings(axs_applier_block_timeout_ms);
	axs_inbox_truncate_applied(watermarks[0], watermarks[1]);
	proc_exit(0);
}
