/*
 * inbox_janitor.c
 *		Emptying inbox segments whose rows are all applied: in place, to zero
 *		blocks, from an "axs inbox janitor" worker of its own, so that the
 *		applier goes on applying meanwhile; at takeover the applier runs the
 *		same sweep itself before it starts.
 *
 * Whether a segment's rows are all applied is decided without reading them:
 * rows get their positions only from the sequence, so a segment holds a row
 * after the watermark only if one of the positions handed out and not yet
 * decided, (watermark, last issued], falls in it.  A segment some other
 * transaction is using is left for a later run.
 *
 * It never reads or decides a queued event and never touches a segment that
 * can hold a row after the watermark.  See docs/design/inbox.md.
 */
#include "postgres.h"

#include "access/brin_revmap.h"
#include "access/genam.h"
#include "access/multixact.h"
#include "access/table.h"
#include "catalog/pg_am_d.h"
#include "catalog/storage.h"
#include "commands/vacuum.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "postmaster/bgworker.h"
#include "storage/bufmgr.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "applier_guard.h"
#include "inbox.h"
#include "inbox_janitor.h"
#include "pg_util.h"

PGDLLEXPORT void axs_inbox_janitor_main(Datum main_arg);

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
 * session's plans and partition descriptors on the inbox.
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
 * Freeing a file's blocks at once can stall every session's commits; a few
 * megabytes at a time lets their WAL flushes through in between.  Not much
 * less at a time: every step scans all of shared_buffers for the blocks it
 * drops.
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
	Relation	heap = table_open(axs_inbox_segment_oid(segment, ""), AccessExclusiveLock);
	Oid			brin_index = axs_inbox_segment_oid(segment, "_position");
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
 * transaction of its own.  Returns false, leaving it, if another transaction
 * is using it (even a query that only reads it).
 */
static bool
truncate_segment_if_applied(int segment, int64 watermark)
{
	bool		locked = false;
	MemoryContext context = CurrentMemoryContext;
	instr_time	started;
	char		query[64];

	INSTR_TIME_SET_CURRENT(started);
	axs_begin_work("axs: truncating an applied inbox segment");
	PG_TRY();
	{
		/* under the lock nobody appends: then look at what was handed out */
		locked = ConditionalLockRelationOid(axs_inbox_segment_oid(segment, ""), AccessExclusiveLock);
		if (locked && !segment_may_hold_unapplied(segment, watermark, axs_inbox_positions_issued()))
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
		return true;
	}
	PG_END_TRY();
	axs_end_work();
	return locked;
}

/* The number of blocks of a segment, or 0 if another transaction locks it. */
static BlockNumber
segment_blocks(int segment)
{
	Oid			heap = axs_inbox_segment_oid(segment, "");
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
 * those are looked at (opening every segment is not free).  Every
 * JANITOR_SWEEP_EVERY segments, and when the watermark moved by nearly a
 * lap, it sweeps anyway, for a segment that was busy when its turn came.
 */
#define JANITOR_SWEEP_EVERY 8

/* A busy segment is tried again this often, up to the caller's patience. */
#define JANITOR_RETRY_MS 100

void
axs_inbox_truncate_applied(int64 watermark, int64 previous_watermark, int retries)
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
	for (int attempt = 0; count > 0; attempt++)
	{
		int			busy = 0;

		for (int i = 0; i < count; i++)
			if (!truncate_segment_if_applied(applied[i], watermark))
				applied[busy++] = applied[i];
		count = busy;
		if (count == 0 || attempt >= retries)
			break;
		/* a reader's lock is brief: wait a little, never on the lock itself */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 JANITOR_RETRY_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	if (count > 0)
		ereport(LOG,
				(errmsg("axs: inbox segment %d is still in use by another session; it is emptied at a later run",
						applied[0])));
}

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

/*
 * The janitor's patience with a segment a session is reading (a query over
 * axs.inbox locks every segment for its duration): 50 tries, 5 s.
 */
#define JANITOR_PATIENCE 50

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
	axs_inbox_truncate_applied(watermarks[0], watermarks[1], JANITOR_PATIENCE);
	proc_exit(0);
}
