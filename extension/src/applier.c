/*
 * applier.c
 *		The applier: a background worker that drains axs.inbox in large
 *		batches, one transaction per batch, through the ledger core.
 *
 * Fencing: the applier holds the session advisory lock
 * (AXS_LOCK_NAMESPACE, AXS_LOCK_APPLIER_FENCE) for as long as it acts; a
 * second applier in the same database waits as a standby, polling the lock.
 * On takeover it bumps axs.applier_state.epoch, and every batch commits only
 * through a compare-and-set of (epoch, watermark), after checking it still
 * holds the lock: two appliers can never both commit a batch.
 *
 * A batch: read the next rows after the watermark in position order, decode
 * them, sort out duplicates (within the batch and against axs.event_log),
 * lock every touched balance, apply the events in order in memory, write
 * the balances back with one UPDATE, record every outcome, move the
 * watermark, commit.  Segments of the inbox whose rows are all applied are
 * truncated afterwards by a worker of their own (inbox.c).
 *
 * This file also holds the pieces other backends use to talk to the
 * applier: the shared-memory status, the wake-up at commit of a transaction
 * that appended to the inbox, axs.wait and axs.start_applier.
 */
#include "postgres.h"

#include <malloc.h>

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "applier_guard.h"
#include "axs_pg.h"
#include "outcome_block.h"

/* Databases that can run an applier at the same time. */
#define APPLIER_SLOTS 8

/* Standby: how often to try for the fence. */
#define STANDBY_POLL_MS 100

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

/* Outcome of one queued event within a batch. */
typedef enum QueuedOutcome
{
	QUEUED_PENDING,
	QUEUED_DECIDED,				/* reason says applied or rejected */
	QUEUED_DUPLICATE,			/* same id, same content as a recorded event */
	QUEUED_ID_REUSED,			/* same id, other content: recorded in id_conflicts */
	QUEUED_DEAD_LETTER			/* no valid event: kept in dead_letters, its id stays free */
} QueuedOutcome;

typedef struct QueuedEvent
{
	int64		position;
	int64		id;
	Datum		queued_at;
	bytea	   *payload;
	QueuedOutcome outcome;
	AxsReason	reason;			/* while pending: what expanding it found */
	int			first_leg;
	int			nlegs;
	AxsEventKind kind;
	char	   *invalid;		/* dead letter: why */
} QueuedEvent;

typedef struct BatchIdEntry
{
	int64		id;				/* hash key */
	int			index;			/* first event in the batch with this id */
	char		status;			/* simplehash's */
} BatchIdEntry;

/* glibc's largest mmap threshold (64-bit), and a trim threshold above any batch */
#define BATCH_MMAP_THRESHOLD (32 * 1024 * 1024)
#define BATCH_TRIM_THRESHOLD (1024 * 1024 * 1024)

/* An event of the batch by id, to record outcomes in id order. */
typedef struct EventOrder
{
	int64		id;
	int			index;			/* in the batch */
} EventOrder;

#define ST_SORT sort_event_order
#define ST_ELEMENT_TYPE EventOrder
#define ST_COMPARE(a, b) ((a)->id < (b)->id ? -1 : (a)->id > (b)->id ? 1 : 0)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* The pending ids of a batch, sorted for the outcome block lookup. */
#define ST_SORT sort_int64
#define ST_ELEMENT_TYPE int64
#define ST_COMPARE(a, b) (*(a) < *(b) ? -1 : *(a) > *(b) ? 1 : 0)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* batch_ids: the ids of a batch, an open-addressing table (lib/simplehash.h) */
#define SH_PREFIX batch_ids
#define SH_ELEMENT_TYPE BatchIdEntry
#define SH_KEY_TYPE int64
#define SH_KEY id
#define SH_HASH_KEY(table, key) murmurhash32((uint32) (key) ^ (uint32) ((uint64) (key) >> 32))
#define SH_EQUAL(table, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

static ApplierShared *applier_shared = NULL;
static ApplierSlot *my_slot = NULL;
static bool wake_registered = false;
static bool wake_pending = false;

/* The first position this transaction's appends can have had (inbox append lock held). */
static int64 own_first_position = 0;

/* Plans of the applier process. */
static SPIPlanPtr read_batch_plan = NULL;
static SPIPlanPtr sync_range_plan = NULL;
static SPIPlanPtr logged_events_plan = NULL;
static SPIPlanPtr record_conflicts_plan = NULL;
static SPIPlanPtr advance_plan = NULL;
static SPIPlanPtr record_dead_letters_plan = NULL;

PGDLLEXPORT void axs_applier_main(Datum main_arg);
static void applier_wait(long timeout_ms);

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

static void
fence_locktag(LOCKTAG *tag)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, AXS_LOCK_NAMESPACE, AXS_LOCK_APPLIER_FENCE, 2);
}

static bool
fence_held(void)
{
	LOCKTAG		tag;

	fence_locktag(&tag);
	return LockHeldByMe(&tag, ExclusiveLock);
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

PG_FUNCTION_INFO_V1(axs_inbox_append_guard);
/*
 * Statement trigger on axs.inbox: take the inbox append lock for the rest of
 * the transaction, so appending transactions commit in position order, and
 * wake the applier when this one commits.
 */
static void
inbox_append_locktag(LOCKTAG *tag)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, AXS_LOCK_NAMESPACE, AXS_LOCK_INBOX_APPEND,
						 AXS_LOCK_SQL_UNREACHABLE);
}

Datum
axs_inbox_append_guard(PG_FUNCTION_ARGS)
{
	LOCKTAG		tag;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "axs_inbox_append_guard must be called as a trigger");
	inbox_append_locktag(&tag);
	if (LockAcquire(&tag, ExclusiveLock, false, false) == LOCKACQUIRE_OK)
	{
		/* every position handed out so far went to transactions that have ended */
		SPI_connect();
		own_first_position = axs_inbox_positions_issued() + 1;
		SPI_finish();
	}
	axs_applier_wake_at_commit();
	return PointerGetDatum(NULL);
}

static void
prepare_plans(void)
{
	Oid			read_types[2] = {INT8OID, INT4OID};
	Oid			logged_types[1] = {INT8ARRAYOID};
	Oid			conflict_types[5] = {INT8ARRAYOID, INT8ARRAYOID, BYTEAARRAYOID,
	TIMESTAMPTZARRAYOID, TIMESTAMPTZOID};
	Oid			advance_types[5] = {INT8OID, INT8OID, INT8OID, INT8OID, INT8OID};
	Oid			dead_letter_types[3] = {INT8ARRAYOID, BYTEAARRAYOID, TEXTARRAYOID};

	if (read_batch_plan != NULL)
		return;
	read_batch_plan = axs_prepare_kept(
								   "SELECT position, event_id, payload, queued_at FROM axs.inbox "
								   "WHERE position OPERATOR(pg_catalog.>) $1 "
								   "ORDER BY position USING OPERATOR(pg_catalog.<) LIMIT $2",
								   2, read_types);
	sync_range_plan = axs_prepare_kept("SELECT pg_catalog.min(id), pg_catalog.max(id) FROM axs.event_log "
									   "WHERE queue_position IS NULL",
									   0, NULL);
	logged_events_plan = axs_prepare_kept(
									  "SELECT id, payload, reason_code FROM axs.event_log "
									  "WHERE queue_position IS NULL AND id OPERATOR(pg_catalog.=) ANY ($1)",
									  1, logged_types);
	record_conflicts_plan = axs_prepare_kept(
										 "INSERT INTO axs.id_conflicts (queue_position, id, payload, queued_at, recorded_at) "
										 "SELECT *, $5 FROM unnest($1, $2, $3, $4)",
										 5, conflict_types);
	record_dead_letters_plan = axs_prepare_kept(
											"INSERT INTO axs.dead_letters (topic, partition, \"offset\", raw, reason) "
											"SELECT 'axs.inbox', 0, d.position, d.payload, d.reason "
											"FROM unnest($1, $2, $3) AS d(position, payload, reason) "
											"ON CONFLICT DO NOTHING",
											3, dead_letter_types);
	advance_plan = axs_prepare_kept(
								"UPDATE axs.applier_state SET watermark = $1, "
								"decided_total = decided_total OPERATOR(pg_catalog.+) $4, "
								"duplicates_total = duplicates_total OPERATOR(pg_catalog.+) $5, "
								"updated_at = pg_catalog.now() "
								"WHERE epoch OPERATOR(pg_catalog.=) $2 AND watermark OPERATOR(pg_catalog.=) $3",
								5, advance_types);
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
 * The first takeover in a database (epoch 1): a new install, or a database
 * restored with pg_restore, whose inbox holds the rows that were undecided
 * when it was dumped, at their old positions.  Start the watermark just
 * before the oldest row.  Under the inbox append lock no append is in
 * flight, so every position handed out and not in the inbox was never
 * committed.
 */
static void
start_first_watermark(void)
{
	LOCKTAG		tag;
	int64		oldest;

	inbox_append_locktag(&tag);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	oldest = axs_query_int64("SELECT pg_catalog.min(position) FROM axs.inbox", -1);
	if (oldest < 0)
		oldest = axs_inbox_positions_issued() + 1;
	SPI_execute(psprintf("UPDATE axs.applier_state SET watermark = %lld",
						 (long long) (oldest - 1)), false, 0);
}

/*
 * Try to take the fence.  On success bump the epoch, publish this process as
 * the fence holder and return true.
 */
static bool
take_fence(int64 *epoch, int64 *watermark)
{
	LOCKTAG		tag;

	fence_locktag(&tag);
	if (LockAcquire(&tag, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
		return false;

	axs_begin_work("axs applier: taking over");
	*epoch = axs_query_int64("UPDATE axs.applier_state SET epoch = epoch OPERATOR(pg_catalog.+) 1, "
						 "updated_at = pg_catalog.now() RETURNING epoch", -1);
	if (*epoch == 1)
		start_first_watermark();
	*watermark = axs_query_int64("SELECT watermark FROM axs.applier_state", 0);
	axs_end_work();
	if (*epoch < 0)
		elog(ERROR, "axs.applier_state has no row; reinstall the extension");

	SpinLockAcquire(&applier_shared->mutex);
	my_slot->pid = MyProcPid;
	my_slot->latch = MyLatch;
	my_slot->epoch = *epoch;
	my_slot->watermark = *watermark;
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
	return true;
}

static void
release_fence(void)
{
	LOCKTAG		tag;

	fence_locktag(&tag);
	if (LockHeldByMe(&tag, ExclusiveLock))
		LockRelease(&tag, ExclusiveLock, true);
	SpinLockAcquire(&applier_shared->mutex);
	if (my_slot->pid == MyProcPid)
	{
		my_slot->pid = 0;
		my_slot->latch = NULL;
	}
	my_slot->standbys++;
	SpinLockRelease(&applier_shared->mutex);
}

/*
 * A standby that found the fence taken: if no applier published itself as
 * its holder, find who holds it; a session that is not an applier is
 * reported, then terminated after axs.applier_fence_timeout_ms.
 */
static void
watch_fence_intruder(void)
{
	static int	intruder = 0;
	static TimestampTz since = 0;
	bool		applier_holds;
	int			pid;
	char	   *role = NULL;

	SpinLockAcquire(&applier_shared->mutex);
	applier_holds = my_slot->pid != 0;
	SpinLockRelease(&applier_shared->mutex);
	if (applier_holds)
		pid = 0;
	else
	{
		axs_begin_work("axs applier: looking for the fence holder");
		pid = axs_guard_fence_intruder(AXS_LOCK_NAMESPACE, AXS_LOCK_APPLIER_FENCE, &role);
		if (pid != 0 && pid != intruder)
		{
			since = GetCurrentTimestamp();
			ereport(WARNING,
					(errmsg("axs applier fence is held by session %d (role \"%s\"), which is not an axs applier",
							pid, role),
					 errdetail("No applier can apply queued events while it holds pg_advisory_lock(%d, %d).",
							   AXS_LOCK_NAMESPACE, AXS_LOCK_APPLIER_FENCE),
					 errhint("The session will be terminated after axs.applier_fence_timeout_ms (%d ms).",
							 axs_applier_fence_timeout_ms)));
		}
		else if (pid != 0 &&
				 TimestampDifferenceMilliseconds(since, GetCurrentTimestamp()) >= axs_applier_fence_timeout_ms)
		{
			char		reason[256];

			snprintf(reason, sizeof(reason),
					 "The axs applier terminated this session: it held the applier fence, "
					 "pg_advisory_lock(%d, %d), for longer than axs.applier_fence_timeout_ms (%d ms).",
					 AXS_LOCK_NAMESPACE, AXS_LOCK_APPLIER_FENCE, axs_applier_fence_timeout_ms);
			ereport(WARNING,
					(errmsg("axs applier terminates session %d (role \"%s\"), which holds the applier fence",
							pid, role)));
			axs_guard_end_session(pid, true, reason);
		}
		axs_end_work();
	}
	if (pid == 0)
		since = 0;
	intruder = pid;
	SpinLockAcquire(&applier_shared->mutex);
	my_slot->fence_intruder = pid;
	my_slot->fence_intruder_since = since;
	SpinLockRelease(&applier_shared->mutex);
}

/* Whether axs.applier_state still carries this epoch. */
static bool
still_current_epoch(int64 epoch)
{
	int64		stored;

	axs_begin_work("axs applier: checking the epoch");
	stored = axs_query_int64("SELECT epoch FROM axs.applier_state", -1);
	axs_end_work();
	return stored == epoch;
}

/* Whether a queued payload has exactly the bytes of another (logged or queued) one. */
static bool
same_payload(const bytea *queued, const uint8 *other, size_t other_length)
{
	return VARSIZE_ANY_EXHDR(queued) == other_length &&
		memcmp(VARDATA_ANY(queued), other, other_length) == 0;
}

/* Mark one pending event whose id is already logged with logged payload. */
static void
mark_logged(QueuedEvent *events, batch_ids_hash *first_by_id, int64 id,
			const uint8 *logged, size_t logged_length)
{
	BatchIdEntry *entry = batch_ids_lookup(first_by_id, id);
	QueuedEvent *event;

	if (entry == NULL)
		return;
	event = &events[entry->index];
	event->outcome = same_payload(event->payload, logged, logged_length) ?
		QUEUED_DUPLICATE : QUEUED_ID_REUSED;
}

typedef struct LoggedCandidates
{
	QueuedEvent *events;
	batch_ids_hash *first_by_id;
	const int64 *ids;
} LoggedCandidates;

static void
mark_found_in_blocks(void *context, int index, const AxsOutcome *outcome)
{
	LoggedCandidates *candidates = context;

	mark_logged(candidates->events, candidates->first_by_id, candidates->ids[index],
				outcome->payload, outcome->payload_length);
}

/*
 * Mark events whose id is already decided: duplicates or id_reused.  Looks
 * at the synchronously applied events (only ids within their range can be
 * there) and at the applier's outcome blocks.  The caller holds the lock
 * that keeps the synchronous API out; the lookups use the latest snapshot,
 * so they see everything committed before it was granted.
 */
static void
sort_out_logged_ids(QueuedEvent *events, int count, batch_ids_hash *first_by_id)
{
	int64	   *ids = palloc(sizeof(int64) * count);
	int			nids = 0;
	int64		sync_low;
	int64		sync_high;
	bool		low_null;
	bool		high_null;
	int			ret;
	LoggedCandidates candidates;

	for (int i = 0; i < count; i++)
		if (events[i].outcome == QUEUED_PENDING)
			ids[nids++] = events[i].id;
	if (nids == 0)
		return;
	sort_int64(ids, nids);

	ret = SPI_execute_snapshot(sync_range_plan, NULL, NULL, GetLatestSnapshot(),
							   InvalidSnapshot, true, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the range of synchronous events failed: %s", SPI_result_code_string(ret));
	sync_low = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &low_null));
	sync_high = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &high_null));
	SPI_freetuptable(SPI_tuptable);
	if (!low_null && !high_null)
	{
		Datum	   *in_range = palloc(sizeof(Datum) * nids);
		int			nin_range = 0;
		Datum		argument;

		for (int i = 0; i < nids; i++)
			if (ids[i] >= sync_low && ids[i] <= sync_high)
				in_range[nin_range++] = Int64GetDatum(ids[i]);
		if (nin_range > 0)
		{
			argument = axs_build_array(in_range, nin_range, INT8OID);
			ret = SPI_execute_snapshot(logged_events_plan, &argument, NULL, GetLatestSnapshot(),
									   InvalidSnapshot, true, false, 0);
			if (ret != SPI_OK_SELECT)
				elog(ERROR, "reading logged events failed: %s", SPI_result_code_string(ret));
			for (uint64 row = 0; row < SPI_processed; row++)
			{
				HeapTuple	tuple = SPI_tuptable->vals[row];
				TupleDesc	tupdesc = SPI_tuptable->tupdesc;
				bool		isnull;
				int64		id = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 1, &isnull));
				bytea	   *logged = DatumGetByteaPP(SPI_getbinval(tuple, tupdesc, 2, &isnull));

				mark_logged(events, first_by_id, id,
							(const uint8 *) VARDATA_ANY(logged), VARSIZE_ANY_EXHDR(logged));
			}
			SPI_freetuptable(SPI_tuptable);
		}
		pfree(in_range);
	}

	candidates.events = events;
	candidates.first_by_id = first_by_id;
	candidates.ids = ids;
	axs_outcomes_find_many(ids, nids, true, mark_found_in_blocks, &candidates);
	pfree(ids);
}

/*
 * Decode and expand one queued row: its legs go to legs, their balances
 * into map.  A row that is no valid event (an id that is not positive, a
 * payload that does not decode: only a writer other than axs code can queue
 * one) becomes a dead letter and false is returned.  An event that cannot
 * be applied (unknown currency, say) keeps that reason while its id is
 * checked: a duplicate of a decided event must stay a duplicate.
 */
static bool
expand_queued(QueuedEvent *event, AxsLeg *all_legs, int first_leg, AxsBalanceMap *map)
{
	AxsLeg	   *legs = &all_legs[first_leg];
	AxsEvent	decoded;
	AxsDecodeError error;

	event->nlegs = 0;
	event->first_leg = first_leg;
	if (event->id <= 0)
		event->invalid = psprintf("event id %lld is not positive", (long long) event->id);
	else if (!axs_event_decode(event->id, (const uint8 *) VARDATA_ANY(event->payload),
							   VARSIZE_ANY_EXHDR(event->payload), &decoded, &error))
		event->invalid = psprintf("event %lld: %s", (long long) event->id, error.message);
	if (event->invalid != NULL)
	{
		ereport(WARNING,
				(errmsg("axs applier: inbox row at queue position %lld is not a valid event, kept as a dead letter",
						(long long) event->position),
				 errdetail("%s.", event->invalid)));
		event->outcome = QUEUED_DEAD_LETTER;
		return false;
	}
	event->kind = decoded.kind;
	event->reason = axs_event_expand(&decoded, axs_currency_resolve, NULL, legs, &event->nlegs);
	if (event->reason != AXS_REASON_NONE)
		event->nlegs = 0;
	for (int l = 0; l < event->nlegs; l++)
		axs_balance_map_get(map, legs[l].account, legs[l].currency);
	return true;
}

/* Keep the batch's dead letters, with their raw payloads, in axs.dead_letters. */
static void
record_dead_letters(QueuedEvent *events, int count, int ndead)
{
	Datum	   *positions = palloc(sizeof(Datum) * ndead);
	Datum	   *payloads = palloc(sizeof(Datum) * ndead);
	Datum	   *reasons = palloc(sizeof(Datum) * ndead);
	Datum		arguments[3];
	int			n = 0;
	int			ret;

	for (int i = 0; i < count; i++)
	{
		if (events[i].outcome != QUEUED_DEAD_LETTER)
			continue;
		positions[n] = Int64GetDatum(events[i].position);
		payloads[n] = PointerGetDatum(events[i].payload);
		reasons[n] = CStringGetTextDatum(events[i].invalid);
		n++;
	}
	arguments[0] = axs_build_array(positions, n, INT8OID);
	arguments[1] = axs_build_array(payloads, n, BYTEAOID);
	arguments[2] = axs_build_array(reasons, n, TEXTOID);
	ret = SPI_execute_plan(record_dead_letters_plan, arguments, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "recording dead letters failed: %s", SPI_result_code_string(ret));
}

/* Publish which session keeps the next batch from starting (0: none). */
static void
publish_blocker(int pid, TimestampTz since)
{
	SpinLockAcquire(&applier_shared->mutex);
	my_slot->blocked_by = pid;
	my_slot->blocked_since = since;
	SpinLockRelease(&applier_shared->mutex);
}

/* What a batch decided, for the published counters. */
typedef struct BatchCounts
{
	int			applied;
	int			rejected;
	int			duplicates;
	int			settlements_short_frozen;
} BatchCounts;

/* Publish the progress of a committed batch. */
static void
publish_batch(int64 watermark, int size, const BatchCounts *counts, TimestampTz started)
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

/*
 * Apply the next batch.  Returns the number of inbox rows consumed (0 when
 * the inbox is drained).  *watermark moves on commit.
 */
static int
apply_batch(int64 epoch, int64 *watermark, MemoryContext batch_context)
{
	TimestampTz started = GetCurrentTimestamp();
	MemoryContext caller_context = CurrentMemoryContext;
	AxsInboxRows parts[2];
	int			nparts;
	QueuedEvent *events;
	AxsLeg	   *legs;
	Size		legs_capacity;
	int			count;
	int			nlegs_total = 0;
	batch_ids_hash *first_by_id;
	AxsAllocator allocator;
	AxsBalanceMap *map;
	AxsBatchBalance *balances;
	size_t		nbalances;
	BatchCounts counts = {0};
	int			conflicts = 0,
				recorded = 0,
				dead_letters = 0;
	int64		new_watermark;
	int			ret;

	axs_begin_work("axs applier: applying a batch");
	prepare_plans();
	MemoryContextSwitchTo(batch_context);

	nparts = axs_inbox_read(*watermark, axs_applier_batch_size, read_batch_plan, parts);
	count = 0;
	for (int p = 0; p < nparts; p++)
		count += (int) parts[p].count;
	if (count == 0)
	{
		MemoryContextSwitchTo(caller_context);
		axs_end_work();
		return 0;
	}

	/* Keep the rows: SPI tuple tables live until SPI_finish. */
	events = palloc_extended(sizeof(QueuedEvent) * count, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	/* about three legs an event on average; grown below when needed */
	legs_capacity = (Size) count * 3 + AXS_MAX_LEGS;
	legs = palloc_extended(sizeof(AxsLeg) * legs_capacity, MCXT_ALLOC_HUGE);
	first_by_id = batch_ids_create(batch_context, count, NULL);
	allocator = axs_memory_context_allocator(batch_context);
	map = axs_balance_map_create(&allocator, (size_t) count);
	for (int p = 0, i = 0; p < nparts; p++)
	{
		SPITupleTable *rows = parts[p].rows;

		for (uint64 r = 0; r < parts[p].count; r++, i++)
		{
			HeapTuple	tuple = rows->vals[r];
			bool		isnull;
			BatchIdEntry *entry;
			bool		found;

			events[i].position = DatumGetInt64(SPI_getbinval(tuple, rows->tupdesc, 1, &isnull));
			events[i].id = DatumGetInt64(SPI_getbinval(tuple, rows->tupdesc, 2, &isnull));
			events[i].payload = DatumGetByteaPP(SPI_getbinval(tuple, rows->tupdesc, 3, &isnull));
			events[i].queued_at = SPI_getbinval(tuple, rows->tupdesc, 4, &isnull);
			events[i].outcome = QUEUED_PENDING;
			if (nlegs_total + AXS_MAX_LEGS > legs_capacity)
			{
				legs_capacity *= 2;
				legs = repalloc_huge(legs, sizeof(AxsLeg) * legs_capacity);
			}
			/* before the id is looked at: a row that is no event uses up no id */
			if (!expand_queued(&events[i], legs, nlegs_total, map))
			{
				dead_letters++;
				continue;
			}
			nlegs_total += events[i].nlegs;
			entry = batch_ids_insert(first_by_id, events[i].id, &found);
			if (found)
			{
				QueuedEvent *first = &events[entry->index];

				events[i].outcome = same_payload(events[i].payload, (const uint8 *) VARDATA_ANY(first->payload),
												 VARSIZE_ANY_EXHDR(first->payload)) ?
					QUEUED_DUPLICATE : QUEUED_ID_REUSED;
			}
			else
				entry->index = i;
		}
	}
	new_watermark = events[count - 1].position;

	/* Keep the synchronous API out from here to commit (batch_store.c). */
	axs_guard_lock_balances(axs_table_oid("balances"), publish_blocker);
	sort_out_logged_ids(events, count, first_by_id);

	balances = axs_batch_load_balances(map, &nbalances);
	for (int i = 0; i < count; i++)
	{
		QueuedEvent *event = &events[i];

		if (event->outcome == QUEUED_PENDING)
		{
			if (event->reason == AXS_REASON_NONE)
				event->reason = axs_ledger_apply(map, &legs[event->first_leg], event->nlegs);
			event->outcome = QUEUED_DECIDED;
		}
		switch (event->outcome)
		{
			case QUEUED_DECIDED:
				recorded++;
				if (event->reason == AXS_REASON_NONE)
					counts.applied++;
				else
					counts.rejected++;
				/* funds its own earlier freeze should have put there: an upstream ordering bug */
				if (event->reason == AXS_REASON_INSUFFICIENT_FROZEN &&
					(event->kind == AXS_KIND_TRADE || event->kind == AXS_KIND_UNFREEZE))
					counts.settlements_short_frozen++;
				break;
			case QUEUED_DUPLICATE:
				counts.duplicates++;
				break;
			case QUEUED_ID_REUSED:
				conflicts++;
				counts.rejected++;
				break;
			case QUEUED_PENDING:
			case QUEUED_DEAD_LETTER:
				break;
		}
	}
	axs_batch_write_balances(balances, nbalances);
	if (dead_letters > 0)
		record_dead_letters(events, count, dead_letters);

	if (recorded > 0)
	{
		int64	   *ids = palloc(sizeof(int64) * recorded);
		bytea	  **payloads = palloc(sizeof(bytea *) * recorded);
		int16	   *reasons = palloc(sizeof(int16) * recorded);
		int64	   *positions = palloc(sizeof(int64) * recorded);
		TimestampTz *queued = palloc(sizeof(TimestampTz) * recorded);
		EventOrder *order = palloc(sizeof(EventOrder) * recorded);
		int			n = 0;

		/* In id order: outcome blocks hold sorted ids (outcome_block.h). */
		for (int i = 0; i < count; i++)
			if (events[i].outcome == QUEUED_DECIDED)
			{
				order[n].id = events[i].id;
				order[n].index = i;
				n++;
			}
		sort_event_order(order, n);
		for (int k = 0; k < n; k++)
		{
			QueuedEvent *event = &events[order[k].index];

			ids[k] = event->id;
			payloads[k] = event->payload;
			reasons[k] = (int16) event->reason;
			positions[k] = event->position;
			queued[k] = DatumGetTimestampTz(event->queued_at);
		}
		axs_batch_record_outcomes(n, ids, payloads, reasons, positions, queued,
								  GetCurrentTimestamp());
	}
	if (conflicts > 0)
	{
		Datum	   *positions = palloc(sizeof(Datum) * conflicts);
		Datum	   *ids = palloc(sizeof(Datum) * conflicts);
		Datum	   *payloads = palloc(sizeof(Datum) * conflicts);
		Datum	   *queued = palloc(sizeof(Datum) * conflicts);
		Datum		arguments[5];
		int			n = 0;

		for (int i = 0; i < count; i++)
		{
			if (events[i].outcome != QUEUED_ID_REUSED)
				continue;
			positions[n] = Int64GetDatum(events[i].position);
			ids[n] = Int64GetDatum(events[i].id);
			payloads[n] = PointerGetDatum(events[i].payload);
			queued[n] = events[i].queued_at;
			n++;
		}
		arguments[0] = axs_build_array(positions, n, INT8OID);
		arguments[1] = axs_build_array(ids, n, INT8OID);
		arguments[2] = axs_build_array(payloads, n, BYTEAOID);
		arguments[3] = axs_build_array(queued, n, TIMESTAMPTZOID);
		arguments[4] = TimestampTzGetDatum(GetCurrentTimestamp());
		ret = SPI_execute_plan(record_conflicts_plan, arguments, NULL, false, 0);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "recording id conflicts failed: %s", SPI_result_code_string(ret));
	}

	/* The fence: still the lock holder, and nobody moved epoch or watermark. */
	if (!fence_held())
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("axs applier lost its fence; abandoning the batch")));
	{
		Datum		arguments[5];

		arguments[0] = Int64GetDatum(new_watermark);
		arguments[1] = Int64GetDatum(epoch);
		arguments[2] = Int64GetDatum(*watermark);
		arguments[3] = Int64GetDatum(count);
		arguments[4] = Int64GetDatum(counts.duplicates);
		ret = SPI_execute_plan(advance_plan, arguments, NULL, false, 0);
		if (ret != SPI_OK_UPDATE || SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("axs applier epoch %lld was superseded; abandoning the batch",
							(long long) epoch)));
	}

	MemoryContextSwitchTo(caller_context);
	axs_end_work();
	MemoryContextReset(batch_context);
	*watermark = new_watermark;
	publish_batch(new_watermark, count, &counts, started);
	return count;
}

/*
 * apply_batch, turning an error into a logged, abandoned batch: the worker
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
		consumed = apply_batch(epoch, watermark, batch_context);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(context);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextReset(batch_context);
		pgstat_report_activity(STATE_IDLE, NULL);
		if (!fence_held() || !still_current_epoch(epoch))
		{
			ereport(LOG, (errmsg("axs applier gave up the fence (epoch %lld); now a standby",
								 (long long) epoch)));
			release_fence();
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

/* Entry point of the applier background worker. */
void
axs_applier_main(Datum main_arg)
{
	Oid			database = DatumGetObjectId(main_arg);
	MemoryContext batch_context;
	bool		reported_missing_extension = false;
	int64		epoch = 0;
	int64		watermark = 0;
	bool		holding = false;
	char	   *database_name;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	if (OidIsValid(database))
		BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
	else
		BackgroundWorkerInitializeConnection(axs_database, NULL, 0);

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

	/*
	 * A batch allocates and frees tens of MB.  Keep freed memory in this
	 * process (no mmap per large chunk, no trimming), so that the next batch
	 * reuses pages instead of faulting fresh zeroed ones in: that was about
	 * a tenth of the applier's CPU.
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
	 * compile, and compiling took longer than any of these statements runs.
	 */
	axs_worker_session_settings(axs_applier_block_timeout_ms);
	SetConfigOption("plan_cache_mode", "force_generic_plan", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("enable_seqscan", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	batch_context = AllocSetContextCreate(TopMemoryContext, "axs applier batch",
										  ALLOCSET_DEFAULT_SIZES);
	StartTransactionCommand();
	database_name = MemoryContextStrdup(TopMemoryContext, get_database_name(MyDatabaseId));
	CommitTransactionCommand();
	ereport(LOG, (errmsg("axs applier started in database \"%s\" (pid %d), waiting for the fence",
						 database_name, MyProcPid)));

	for (;;)
	{
		int			consumed;
		int64		previous_watermark;

		if (!axs_applier_enabled)
		{
			if (holding)
			{
				release_fence();
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
			if (!take_fence(&epoch, &watermark))
			{
				watch_fence_intruder();
				applier_wait(STANDBY_POLL_MS);
				continue;
			}
			holding = true;
			ereport(LOG, (errmsg("axs applier took the fence (epoch %lld), resuming after queue position %lld",
								 (long long) epoch, (long long) watermark)));
			axs_inbox_truncate_applied(watermark, -1);
		}

		previous_watermark = watermark;
		consumed = apply_batch_or_recover(epoch, &watermark, batch_context, &holding);
		/* A segment became fully applied: truncate it beside, not in, the loop. */
		if (holding && (watermark >> AXS_INBOX_SEGMENT_BITS) != (previous_watermark >> AXS_INBOX_SEGMENT_BITS) &&
			!axs_inbox_start_janitor(watermark, previous_watermark))
			axs_inbox_truncate_applied(watermark, previous_watermark);
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

/* The watermark the applier of this database has published, or -1. */
static int64
published_watermark(void)
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

PG_FUNCTION_INFO_V1(axs_wait);
/*
 * axs.wait(position bigint, timeout_ms int): wait until the applier has
 * decided every queued event up to position; false on timeout.
 */
Datum
axs_wait(PG_FUNCTION_ARGS)
{
	int64		position = PG_GETARG_INT64(0);
	int			timeout_ms = PG_GETARG_INT32(1);
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	bool		reached = false;
	LOCKTAG		append_tag;
	int64		issued;

	inbox_append_locktag(&append_tag);
	if (LockHeldByMe(&append_tag, ExclusiveLock) && position >= own_first_position)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("queue position %lld was queued by this transaction, which has not committed",
						(long long) position),
				 errdetail("The applier sees a queued event only once the transaction that queued it commits."),
				 errhint("Commit first, then call axs.wait in a later transaction.")));
	SPI_connect();
	issued = axs_inbox_positions_issued();
	SPI_finish();
	if (position > issued)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("queue position %lld has not been handed out", (long long) position),
				 errdetail("The last queue position handed out is %lld.", (long long) issued),
				 errhint("Pass a position returned by axs.submit or axs.submit_many.")));

	axs_applier_shmem_attach();
	for (;;)
	{
		long		remaining;

		if (published_watermark() >= position)
		{
			reached = true;
			break;
		}
		/* the applier may not have published yet: ask the table too */
		SPI_connect();
		reached = axs_query_int64("SELECT watermark FROM axs.applier_state", 0) >= position;
		SPI_finish();
		if (reached)
			break;
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (remaining <= 0)
			break;
		ConditionVariableTimedSleep(&applier_shared->progress, Min(remaining, 1000L),
									PG_WAIT_EXTENSION);
		CHECK_FOR_INTERRUPTS();
	}
	ConditionVariableCancelSleep();
	PG_RETURN_BOOL(reached);
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
