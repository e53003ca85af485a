/*
 * applier.c
 *		The applier background worker: its registration (at server start,
 *		or by axs.start_applier), and its main loop: wait for the fence as a
 *		standby, take it, then apply batch after batch, one transaction each,
 *		and start the janitor whenever a segment of the inbox became fully
 *		applied.
 *
 * The loop only sequences the other modules: the fence (applier_fence.c),
 * the batch (applier_batch.c), the status it publishes (applier_status.c)
 * and the janitor (inbox_janitor.c).  An error in a batch abandons that
 * batch, not the worker.  See docs/design/applier.md.
 */
#include "postgres.h"

#include <malloc.h>

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "applier.h"
#include "applier_batch.h"
#include "applier_fence.h"
#include "applier_guard.h"
#include "applier_status.h"
#include "inbox.h"
#include "inbox_janitor.h"
#include "pg_util.h"

/* Standby: how often to try for the fence. */
#define STANDBY_POLL_MS 100

/* glibc's largest mmap threshold (64-bit), and a trim threshold above any batch */
#define BATCH_MMAP_THRESHOLD (32 * 1024 * 1024)
#define BATCH_TRIM_THRESHOLD (1024 * 1024 * 1024)

char	   *axs_database = NULL;
int			axs_applier_max_delay_ms = 100;
bool		axs_applier_enabled = true;

PGDLLEXPORT void axs_applier_main(Datum main_arg);
static void applier_wait(long timeout_ms);

/* Fill and register a worker entry (static or dynamic). */
static void
applier_worker_init(BackgroundWorker *worker, bool dynamic)
{
	memset(worker, 0, sizeof(BackgroundWorker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = dynamic ? BGW_NEVER_RESTART : 1;
	strlcpy(worker->bgw_library_name, "axs", BGW_MAXLEN);
	strlcpy(worker->bgw_function_name, "axs_applier_main", BGW_MAXLEN);
	strlcpy(worker->bgw_name, "axs applier", BGW_MAXLEN);
	strlcpy(worker->bgw_type, "axs applier", BGW_MAXLEN);
	worker->bgw_main_arg = ObjectIdGetDatum(dynamic ? MyDatabaseId : InvalidOid);
}

/* Register the applier at server start (shared_preload_libraries). */
void
axs_applier_register_static(void)
{
	BackgroundWorker worker;

	applier_worker_init(&worker, false);
	RegisterBackgroundWorker(&worker);
}

/* Whether the axs extension exists in this database. */
static bool
extension_present(void)
{
	bool		present;

	axs_begin_work("axs applier: looking for the extension");
	present = axs_query_int64("SELECT pg_catalog.count(*) FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'axs'", 0) > 0;
	axs_end_work();
	return present;
}

/*
 * axs_batch_apply, turning an error into a logged, abandoned batch: the worker
 * keeps running.  If the fence was lost, give it up and become a standby.
 * Returns the rows consumed (0 after an error).
 */
static int
apply_batch_or_recover(int64 epoch, int64 *watermark, MemoryContext batch_context,
					   bool *holding)
{
	MemoryContext context = CurrentMemoryContext;
	volatile int consumed = 0;

	PG_TRY();
	{
		consumed = axs_batch_apply(epoch, watermark, batch_context);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(context);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextReset(batch_context);
		pgstat_report_activity(STATE_IDLE, NULL);
		if (!axs_fence_held() || !axs_fence_epoch_current(epoch))
		{
			ereport(LOG, (errmsg("axs applier gave up the fence (epoch %lld); now a standby",
								 (long long) epoch)));
			axs_fence_release();
			*holding = false;
		}
		applier_wait(Min(axs_applier_max_delay_ms * 10, 1000));
	}
	PG_END_TRY();
	return consumed;
}

/* Reload configuration on SIGHUP. */
static void
applier_reload_if_asked(void)
{
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
		axs_worker_session_settings(axs_applier_block_timeout_ms);
	}
}

static void
applier_wait(long timeout_ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 timeout_ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	applier_reload_if_asked();
}

/*
 * Connect to the database (the one axs.start_applier was called in, or
 * axs.database), take this database's status slot as a standby and set the
 * session up.  Returns the database's name.
 */
static char *
applier_start_up(Oid database)
{
	char	   *database_name;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	if (OidIsValid(database))
		BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
	else
		BackgroundWorkerInitializeConnection(axs_database, NULL, 0);

	axs_status_join();

	/*
	 * A batch allocates and frees large chunks.  Keep freed memory in this
	 * process (no mmap per large chunk, no trimming), so that the next batch
	 * reuses pages instead of faulting fresh zeroed ones in.
	 */
	mallopt(M_MMAP_THRESHOLD, BATCH_MMAP_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, BATCH_TRIM_THRESHOLD);

	/*
	 * Generic plans from the first execution, the same for every batch.  And
	 * no sequential scans: the planner has no statistics on the inbox
	 * segments (never analyzed, truncated whole), so it cannot tell that a
	 * read's position window holds a few block ranges of a segment and
	 * would scan all of it; the applier's other statements have indexes to
	 * use, or scan sequences and one-row tables either way.  No JIT either:
	 * a plan with a sequential scan left in it looks costly enough to
	 * compile, and compiling takes longer than any of these statements runs.
	 */
	axs_worker_session_settings(axs_applier_block_timeout_ms);
	SetConfigOption("plan_cache_mode", "force_generic_plan", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("enable_seqscan", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	StartTransactionCommand();
	database_name = MemoryContextStrdup(TopMemoryContext, get_database_name(MyDatabaseId));
	CommitTransactionCommand();
	ereport(LOG, (errmsg("axs applier started in database \"%s\" (pid %d), waiting for the fence",
						 database_name, MyProcPid)));
	return database_name;
}

/* Entry point of the applier background worker. */
void
axs_applier_main(Datum main_arg)
{
	char	   *database_name = applier_start_up(DatumGetObjectId(main_arg));
	MemoryContext batch_context = AllocSetContextCreate(TopMemoryContext, "axs applier batch",
														ALLOCSET_DEFAULT_SIZES);
	bool		reported_missing_extension = false;
	int64		epoch = 0;
	int64		watermark = 0;
	bool		holding = false;

	for (;;)
	{
		int			consumed;
		int64		previous_watermark;

		if (!axs_applier_enabled)
		{
			if (holding)
			{
				axs_fence_release();
				holding = false;
				ereport(LOG, (errmsg("axs applier disabled by axs.applier_enabled; fence released")));
			}
			applier_wait(1000L);
			continue;
		}
		if (!holding)
		{
			if (!extension_present())
			{
				if (!reported_missing_extension)
					ereport(LOG, (errmsg("axs applier: extension axs is not installed in database \"%s\"; waiting",
										 database_name)));
				reported_missing_extension = true;
				applier_wait(1000L);
				continue;
			}
			if (!axs_fence_take(&epoch, &watermark))
			{
				axs_fence_watch_intruder();
				applier_wait(STANDBY_POLL_MS);
				continue;
			}
			holding = true;
			ereport(LOG, (errmsg("axs applier took the fence (epoch %lld), resuming after queue position %lld",
								 (long long) epoch, (long long) watermark)));
			axs_inbox_truncate_applied(watermark, -1, 0);
		}

		previous_watermark = watermark;
		consumed = apply_batch_or_recover(epoch, &watermark, batch_context, &holding);
		/* A segment became fully applied: truncate it beside, not in, the loop. */
		if (holding && (watermark >> AXS_INBOX_SEGMENT_BITS) != (previous_watermark >> AXS_INBOX_SEGMENT_BITS) &&
			!axs_inbox_start_janitor(watermark, previous_watermark))
			axs_inbox_truncate_applied(watermark, previous_watermark, 0);
		if (consumed < axs_applier_batch_size)
			applier_wait(axs_applier_max_delay_ms);
		else
		{
			CHECK_FOR_INTERRUPTS();
			applier_reload_if_asked();
		}
	}
}

PG_FUNCTION_INFO_V1(axs_start_applier);
/*
 * axs.start_applier(): start an applier for the current database without a
 * server restart.  It becomes a standby if another applier holds the fence.
 * Returns the new worker's pid.
 */
Datum
axs_start_applier(PG_FUNCTION_ARGS)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	pid_t		pid;

	applier_worker_init(&worker, true);
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not register an axs applier"),
				 errhint("Raise max_worker_processes.")));
	if (WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start an axs applier"),
				 errhint("See the server log.")));
	PG_RETURN_INT32(pid);
}
