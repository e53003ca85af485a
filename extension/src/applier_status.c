/*
 * applier_status.c
 *		The appliers' shared memory: one slot per database, written by the
 *		applier processes and read by every backend (axs.applier_stats,
 *		axs.applier_status, axs.wait), the latch that wakes the applier when
 *		a transaction that queued events commits, and the condition variable
 *		broadcast after every batch.
 *
 * It only publishes: it takes no lock but its spinlock, runs no SQL and
 * decides nothing.  See docs/design/applier.md.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "applier_status.h"

/* Databases that can run an applier at the same time. */
#define APPLIER_SLOTS 8

/* What the fence holder of one database publishes. */
typedef struct ApplierSlot
{
	Oid			database;		/* InvalidOid: free */
	int			pid;			/* fence holder, 0 if none */
	Latch	   *latch;			/* fence holder's latch, NULL if none */
	int			standbys;		/* appliers waiting for the fence */
	int64		epoch;
	int64		watermark;
	int64		batches;
	int64		events_applied;
	int64		events_rejected;
	int64		events_duplicate;
	int64		settlements_short_frozen;	/* trades, unfreezes rejected insufficient_frozen */
	int64		last_batch_size;
	double		last_batch_ms;
	TimestampTz last_batch_at;
	TimestampTz started_at;
	int			blocked_by;		/* session keeping a batch from starting, 0 if none */
	TimestampTz blocked_since;
	int			fence_intruder; /* non-applier session holding the fence, 0 if none */
	TimestampTz fence_intruder_since;
} ApplierSlot;

typedef struct ApplierShared
{
	slock_t		mutex;
	ConditionVariable progress; /* broadcast after every batch commit */
	ApplierSlot slots[APPLIER_SLOTS];
} ApplierShared;

static ApplierShared *applier_shared = NULL;
static ApplierSlot *my_slot = NULL;
static bool wake_registered = false;
static bool wake_pending = false;

Size
axs_applier_shmem_size(void)
{
	return MAXALIGN(sizeof(ApplierShared));
}

/*
 * At (re)creation of shared memory in the postmaster: forget a pointer into
 * the segment of before a crash restart, then create the status afresh.
 */
void
axs_applier_shmem_startup(void)
{
	applier_shared = NULL;
	axs_applier_shmem_attach();
}

/* Attach to (or create) the shared status, as autoprewarm does. */
void
axs_applier_shmem_attach(void)
{
	bool		found;

	if (applier_shared != NULL)
		return;
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	applier_shared = ShmemInitStruct("axs applier", sizeof(ApplierShared), &found);
	if (!found)
	{
		memset(applier_shared, 0, sizeof(ApplierShared));
		SpinLockInit(&applier_shared->mutex);
		ConditionVariableInit(&applier_shared->progress);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* The slot of a database, claimed if claim is set; NULL if none. Caller holds mutex. */
static ApplierSlot *
slot_for_database(Oid database, bool claim)
{
	ApplierSlot *free_slot = NULL;

	for (int i = 0; i < APPLIER_SLOTS; i++)
	{
		ApplierSlot *slot = &applier_shared->slots[i];

		if (slot->database == database)
			return slot;
		if (slot->database == InvalidOid && free_slot == NULL)
			free_slot = slot;
	}
	if (claim && free_slot != NULL)
	{
		memset(free_slot, 0, sizeof(ApplierSlot));
		free_slot->database = database;
		return free_slot;
	}
	return NULL;
}

/* Worker exit: clear what this process published. */
static void
applier_detach(int code, Datum arg)
{
	if (my_slot == NULL)
		return;
	SpinLockAcquire(&applier_shared->mutex);
	if (my_slot->pid == MyProcPid)
	{
		ereport(LOG,
				(errmsg("axs applier stopping (pid %d, epoch %lld, watermark %lld, %lld batches)",
						MyProcPid, (long long) my_slot->epoch, (long long) my_slot->watermark,
						(long long) my_slot->batches)));
		my_slot->pid = 0;
		my_slot->latch = NULL;
	}
	else if (my_slot->standbys > 0)
		my_slot->standbys--;
	SpinLockRelease(&applier_shared->mutex);
	ConditionVariableBroadcast(&applier_shared->progress);
}

void
axs_status_join(void)
{
	axs_applier_shmem_attach();
	SpinLockAcquire(&applier_shared->mutex);
	my_slot = slot_for_database(MyDatabaseId, true);
	if (my_slot != NULL)
		my_slot->standbys++;
	SpinLockRelease(&applier_shared->mutex);
	if (my_slot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("axs applier: appliers already run in %d databases", APPLIER_SLOTS)));
	before_shmem_exit(applier_detach, (Datum) 0);
}

/* Publish this process as the fence holder of a new epoch, its counters from zero. */
void
axs_status_took_fence(int64 epoch, int64 watermark)
{
	SpinLockAcquire(&applier_shared->mutex);
	my_slot->pid = MyProcPid;
	my_slot->latch = MyLatch;
	my_slot->epoch = epoch;
	my_slot->watermark = watermark;
	my_slot->started_at = GetCurrentTimestamp();
	my_slot->batches = 0;
	my_slot->events_applied = 0;
	my_slot->events_rejected = 0;
	my_slot->events_duplicate = 0;
	my_slot->settlements_short_frozen = 0;
	my_slot->last_batch_size = 0;
	my_slot->last_batch_ms = 0;
	my_slot->last_batch_at = 0;
	my_slot->blocked_by = 0;
	my_slot->blocked_since = 0;
	my_slot->fence_intruder = 0;
	my_slot->fence_intruder_since = 0;
	if (my_slot->standbys > 0)
		my_slot->standbys--;
	SpinLockRelease(&applier_shared->mutex);
	ConditionVariableBroadcast(&applier_shared->progress);
}

/* Publish that this process gave the fence up and is a standby again. */
void
axs_status_released_fence(void)
{
	SpinLockAcquire(&applier_shared->mutex);
	if (my_slot->pid == MyProcPid)
	{
		my_slot->pid = 0;
		my_slot->latch = NULL;
	}
	my_slot->standbys++;
	SpinLockRelease(&applier_shared->mutex);
}

/* Whether an applier published itself as the fence holder of this database. */
bool
axs_status_has_holder(void)
{
	bool		has_holder;

	SpinLockAcquire(&applier_shared->mutex);
	has_holder = my_slot->pid != 0;
	SpinLockRelease(&applier_shared->mutex);
	return has_holder;
}

/* Publish which session holds the fence without being an applier (0: none). */
void
axs_status_publish_intruder(int pid, TimestampTz since)
{
	SpinLockAcquire(&applier_shared->mutex);
	my_slot->fence_intruder = pid;
	my_slot->fence_intruder_since = since;
	SpinLockRelease(&applier_shared->mutex);
}

/* Publish which session keeps the next batch from starting (0: none). */
void
axs_status_publish_blocker(int pid, TimestampTz since)
{
	SpinLockAcquire(&applier_shared->mutex);
	my_slot->blocked_by = pid;
	my_slot->blocked_since = since;
	SpinLockRelease(&applier_shared->mutex);
}

/* Publish the progress of a committed batch. */
void
axs_status_publish_batch(int64 watermark, int size, const AxsBatchCounts *counts,
						 TimestampTz started)
{
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&applier_shared->mutex);
	my_slot->watermark = watermark;
	my_slot->batches++;
	my_slot->events_applied += counts->applied;
	my_slot->events_rejected += counts->rejected;
	my_slot->events_duplicate += counts->duplicates;
	my_slot->settlements_short_frozen += counts->settlements_short_frozen;
	my_slot->last_batch_size = size;
	my_slot->last_batch_ms = (double) (now - started) / 1000.0;
	my_slot->last_batch_at = now;
	SpinLockRelease(&applier_shared->mutex);
	ConditionVariableBroadcast(&applier_shared->progress);
}

/* Wake the applier of this database after the current transaction commits. */
static void
wake_on_xact(XactEvent event, void *arg)
{
	if (!wake_pending)
		return;
	if (event == XACT_EVENT_COMMIT)
	{
		ApplierSlot *slot;

		axs_applier_shmem_attach();
		SpinLockAcquire(&applier_shared->mutex);
		slot = slot_for_database(MyDatabaseId, false);
		if (slot != NULL && slot->latch != NULL)
			SetLatch(slot->latch);
		SpinLockRelease(&applier_shared->mutex);
		wake_pending = false;
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE)
		wake_pending = false;
}

void
axs_applier_wake_at_commit(void)
{
	if (!wake_registered)
	{
		RegisterXactCallback(wake_on_xact, NULL);
		wake_registered = true;
	}
	wake_pending = true;
}

int64
axs_status_published_watermark(void)
{
	ApplierSlot *slot;
	int64		watermark = -1;

	SpinLockAcquire(&applier_shared->mutex);
	slot = slot_for_database(MyDatabaseId, false);
	if (slot != NULL && slot->pid != 0)
		watermark = slot->watermark;
	SpinLockRelease(&applier_shared->mutex);
	return watermark;
}

void
axs_status_sleep_for_progress(long timeout_ms)
{
	ConditionVariableTimedSleep(&applier_shared->progress, timeout_ms, PG_WAIT_EXTENSION);
}

void
axs_status_prepare_for_progress(void)
{
	axs_applier_shmem_attach();
	ConditionVariablePrepareToSleep(&applier_shared->progress);
}

void
axs_status_end_progress_wait(void)
{
	ConditionVariableCancelSleep();
}

void
axs_status_publish_progress(void)
{
	ConditionVariableBroadcast(&applier_shared->progress);
}

PG_FUNCTION_INFO_V1(axs_applier_stats);
/*
 * axs.applier_stats(): what the applier of this database published since it
 * took the fence (one row, NULL pid if no applier holds the fence).
 */
Datum
axs_applier_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[18];
	bool		nulls[18];
	ApplierSlot copy;
	ApplierSlot *slot;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	axs_applier_shmem_attach();
	memset(&copy, 0, sizeof(copy));
	SpinLockAcquire(&applier_shared->mutex);
	slot = slot_for_database(MyDatabaseId, false);
	if (slot != NULL)
		copy = *slot;
	SpinLockRelease(&applier_shared->mutex);

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int32GetDatum(copy.pid);
	nulls[0] = (copy.pid == 0);
	values[1] = BoolGetDatum(copy.pid != 0);
	values[2] = Int32GetDatum(copy.standbys);
	values[3] = Int64GetDatum(copy.epoch);
	values[4] = Int64GetDatum(copy.batches);
	values[5] = Int64GetDatum(copy.events_applied);
	values[6] = Int64GetDatum(copy.events_rejected);
	values[7] = Int64GetDatum(copy.events_duplicate);
	values[8] = Int64GetDatum(copy.last_batch_size);
	values[9] = Float8GetDatum(copy.last_batch_ms);
	values[10] = TimestampTzGetDatum(copy.last_batch_at);
	nulls[10] = (copy.last_batch_at == 0);
	values[11] = TimestampTzGetDatum(copy.started_at);
	nulls[11] = (copy.started_at == 0);
	values[12] = Int64GetDatum(copy.watermark);
	nulls[12] = (copy.pid == 0);
	values[13] = Int32GetDatum(copy.blocked_by);
	nulls[13] = (copy.blocked_by == 0);
	values[14] = TimestampTzGetDatum(copy.blocked_since);
	nulls[14] = (copy.blocked_by == 0);
	values[15] = Int32GetDatum(copy.fence_intruder);
	nulls[15] = (copy.fence_intruder == 0);
	values[16] = TimestampTzGetDatum(copy.fence_intruder_since);
	nulls[16] = (copy.fence_intruder == 0);
	values[17] = Int64GetDatum(copy.settlements_short_frozen);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
