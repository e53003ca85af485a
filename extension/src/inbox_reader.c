/*
 * inbox_reader.c
 *		The applier's read of the next rows after its watermark, straight
 *		from the segments that can hold them.
 *
 * Appenders commit in position order (the inbox append lock), so once a row
 * of segment N + 1 is visible every row of segment N is: the next rows after
 * the watermark are in the watermark's segment, then in the one after it,
 * each read only up to the end of its current lap (positions wrap around the
 * segments).  Reading those partitions directly keeps the applier clear of
 * the others, which the janitor locks while it empties them.
 *
 * It only reads: it decides nothing about the rows and changes no table but
 * the BRIN summaries of the segments it reads.  See docs/design/inbox.md.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/bufmgr.h"
#include "utils/fmgrprotos.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "inbox.h"
#include "inbox_reader.h"
#include "pg_util.h"

/*
 * Reading a segment.  Its index is BRIN: an append adds no index entry,
 * since the block range it extends is not summarized yet.  Before reading
 * through it, the applier summarizes the segment's complete ranges (all but
 * the one holding the last block), so the bitmap of a read holds the ranges
 * that can contain its positions plus that last one.  (Reads from the heap,
 * below, need no summaries, so the ranges are summarized only when an index
 * read comes.)  Rows come back in block order, which is position order but
 * for rows placed in free space of earlier pages, so the applier sorts each
 * read.
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
 * index's bitmap visits every row of the unsummarized last range.
 *
 * A read moves on to the next segment only when it covered the rest of its
 * segment's lap: a window that a gap of positions left short may have rows
 * of its segment beyond it, and those come before the next segment's.
 */
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
				 "SELECT position, event_id, payload, queued_at, source_topic, source_partition, source_offset FROM axs.inbox_%d "
				 "WHERE position OPERATOR(pg_catalog.>) $1 AND position OPERATOR(pg_catalog.<) $2", segment);
		reader->window_plan = axs_prepare_kept(query, 2, window_types);
		snprintf(query, sizeof(query),
				 "SELECT position, event_id, payload, queued_at, source_topic, source_partition, source_offset FROM axs.inbox_%d "
				 "WHERE position OPERATOR(pg_catalog.>) $1 AND position OPERATOR(pg_catalog.<) $3 "
				 "ORDER BY position USING OPERATOR(pg_catalog.<) LIMIT $2", segment);
		reader->lap_plan = axs_prepare_kept(query, 3, lap_types);
	}
	return reader;
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

	heap = table_open(axs_inbox_segment_oid(segment, ""), AccessShareLock);
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
	index = axs_inbox_segment_oid(segment, "_position");
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
	heap = table_open(axs_inbox_segment_oid(segment, ""), AccessShareLock);
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
