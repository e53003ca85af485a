/*
 * inbox.c
 *		The applier's side of axs.inbox's segments: reading the next rows
 *		from the live segment, and truncating segments whose rows are all
 *		applied, from a worker of its own.
 *
 * The inbox is LIST-partitioned into AXS_INBOX_SEGMENTS segments of
 * 2^AXS_INBOX_SEGMENT_BITS positions (install script).  Appenders commit in position order (the
 * inbox append lock), so once a row of segment N + 1 is visible every row of
 * segment N is: the next rows after the watermark are in the watermark's
 * segment, then in the one after it, each read only up to the end of its
 * current lap (positions wrap around the segments).  Reading those
 * partitions directly keeps the applier clear of the others, which a
 * TRUNCATE locks for as long as it unlinks a segment's files.
 *
 * Segments are small (2^18 positions, ~30 MB with the index) because freeing
 * a file's blocks is not free: on this project's test machines (ext4 mounted
 * with online discard) truncating a 130 MB segment stalled every other
 * session's commits for up to 70 ms, a 33 MB one for about 20 ms
 * (bench/e2e/README.md).  64 of them keep the lap, and so the longest
 * backlog read without wrapping, at 2^24 positions.
 *
 * Truncation runs in an "axs inbox janitor" worker, so the applier goes on
 * applying meanwhile; at takeover the applier truncates itself, before it
 * starts.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"

#include "axs_pg.h"

PGDLLEXPORT void axs_inbox_janitor_main(Datum main_arg);

/*
 * Plans reading one segment, up to the end of one lap of it: "position > $1
 * AND position < $3 ORDER BY position LIMIT $2".  Positions wrap around the
 * segments every AXS_INBOX_SEGMENTS << AXS_INBOX_SEGMENT_BITS, so under a
 * backlog that long (or after a setval jump) a segment holds rows of two
 * laps; a read not bounded to the lap would take the later lap's rows before
 * the next segment's earlier ones, and the watermark would pass those.
 */
static SPIPlanPtr segment_read_plans[AXS_INBOX_SEGMENTS];

static SPIPlanPtr
segment_read_plan(int segment)
{
	if (segment_read_plans[segment] == NULL)
	{
		Oid			types[3] = {INT8OID, INT4OID, INT8OID};
		char		query[160];

		snprintf(query, sizeof(query),
				 "SELECT position, event_id, payload, queued_at FROM axs.inbox_%d "
				 "WHERE position > $1 AND position < $3 ORDER BY position LIMIT $2", segment);
		segment_read_plans[segment] = axs_prepare_kept(query, 3, types);
	}
	return segment_read_plans[segment];
}

/* Run a read plan (the whole inbox's ignores before); its rows stay in SPI_tuptable. */
static uint64
run_read(SPIPlanPtr plan, int64 after, int limit, int64 before)
{
	Datum		arguments[3];
	int			ret;

	arguments[0] = Int64GetDatum(after);
	arguments[1] = Int32GetDatum(limit);
	arguments[2] = Int64GetDatum(before);
	ret = SPI_execute_plan(plan, arguments, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the inbox failed: %s", SPI_result_code_string(ret));
	return SPI_processed;
}

/* The first position of the lap after the one position is in, of its segment. */
static int64
segment_lap_end(int64 position)
{
	return ((position >> AXS_INBOX_SEGMENT_BITS) + 1) << AXS_INBOX_SEGMENT_BITS;
}

/* The last position the inbox sequence has handed out (0 if none). */
static int64
positions_issued(void)
{
	bool		isnull;
	bool		called;
	int64		last;

	if (SPI_execute("SELECT last_value, is_called FROM axs.inbox_position_seq", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading axs.inbox_position_seq failed");
	last = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	called = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return called ? last : 0;
}

int
axs_inbox_read(int64 watermark, int limit, SPIPlanPtr whole_inbox_plan, AxsInboxRows *parts)
{
	int			segment = axs_inbox_segment(watermark + 1);
	int64		lap_end = segment_lap_end(watermark + 1);
	uint64		got;
	int			nparts = 0;
	int64		after = watermark;

	got = run_read(segment_read_plan(segment), after, limit, lap_end);
	if (got > 0)
	{
		bool		isnull;

		parts[nparts].rows = SPI_tuptable;
		parts[nparts].count = got;
		nparts++;
		after = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[got - 1], SPI_tuptable->tupdesc, 1, &isnull));
	}
	if (got < (uint64) limit)
	{
		uint64		more = run_read(segment_read_plan((segment + 1) % AXS_INBOX_SEGMENTS),
									after, limit - (int) got,
									lap_end + ((int64) 1 << AXS_INBOX_SEGMENT_BITS));

		if (more > 0)
		{
			parts[nparts].rows = SPI_tuptable;
			parts[nparts].count = more;
			nparts++;
		}
	}
	if (nparts > 0)
		return nparts;

	/*
	 * Nothing in either.  Positions may have jumped further (setval): only
	 * then read the whole inbox, whose plan locks every segment (a janitor
	 * would find its segment busy).
	 */
	if (positions_issued() < ((((watermark + 1) >> AXS_INBOX_SEGMENT_BITS) + 2) << AXS_INBOX_SEGMENT_BITS))
		return 0;
	got = run_read(whole_inbox_plan, watermark, limit, 0);
	if (got == 0)
		return 0;
	parts[0].rows = SPI_tuptable;
	parts[0].count = got;
	return 1;
}

/* The largest position in a segment, -1 if it is empty (positions are > 0). */
static int64
segment_largest_position(int segment)
{
	char		query[64];
	bool		isnull;
	Datum		largest;

	snprintf(query, sizeof(query), "SELECT max(position) FROM axs.inbox_%d", segment);
	if (SPI_execute(query, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "\"%s\" failed", query);
	largest = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? -1 : DatumGetInt64(largest);
}

/*
 * Truncate one segment if all its rows are at or below the watermark, in a
 * transaction of its own.  A segment some other transaction is using is
 * left for a later call.
 */
static void
truncate_segment_if_applied(int segment, int64 watermark)
{
	MemoryContext context = CurrentMemoryContext;
	char		query[128];

	axs_begin_work("axs: truncating an applied inbox segment");
	PG_TRY();
	{
		int64		largest = segment_largest_position(segment);

		if (largest >= 0 && largest <= watermark)
		{
			snprintf(query, sizeof(query), "LOCK TABLE axs.inbox_%d IN ACCESS EXCLUSIVE MODE NOWAIT", segment);
			if (SPI_execute(query, false, 0) != SPI_OK_UTILITY)
				elog(ERROR, "\"%s\" failed", query);
			/* under the lock nobody appends: look again */
			largest = segment_largest_position(segment);
			if (largest >= 0 && largest <= watermark)
			{
				snprintf(query, sizeof(query), "TRUNCATE axs.inbox_%d", segment);
				if (SPI_execute(query, false, 0) != SPI_OK_UTILITY)
					elog(ERROR, "\"%s\" failed", query);
				ereport(LOG,
						(errmsg("axs: truncated inbox segment %d, applied up to queue position %lld",
								segment, (long long) largest)));
			}
		}
	}
	PG_CATCH();
	{
		/* busy: try again after a later segment */
		MemoryContextSwitchTo(context);
		FlushErrorState();
		AbortCurrentTransaction();
		pgstat_report_activity(STATE_IDLE, NULL);
		return;
	}
	PG_END_TRY();
	axs_end_work();
}

void
axs_inbox_truncate_applied(int64 watermark)
{
	int			live = axs_inbox_segment(watermark + 1);

	/* not the two segments the applier reads next: they are in use */
	for (int segment = 0; segment < AXS_INBOX_SEGMENTS; segment++)
		if (segment != live && segment != (live + 1) % AXS_INBOX_SEGMENTS)
			truncate_segment_if_applied(segment, watermark);
}

bool
axs_inbox_start_janitor(int64 watermark)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "axs", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "axs_inbox_janitor_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "axs inbox janitor", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "axs inbox janitor", BGW_MAXLEN);
	worker.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
	memcpy(worker.bgw_extra, &watermark, sizeof(watermark));
	return RegisterDynamicBackgroundWorker(&worker, &handle);
}

/* The janitor: truncate every segment at or below the watermark it was given, then exit. */
void
axs_inbox_janitor_main(Datum main_arg)
{
	int64		watermark;

	memcpy(&watermark, MyBgworkerEntry->bgw_extra, sizeof(watermark));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(main_arg), InvalidOid, 0);
	axs_inbox_truncate_applied(watermark);
	proc_exit(0);
}
