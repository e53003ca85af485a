/*
 * applier_guard.c
 *		The applier's answer to sessions that stand in its way.
 *
 * Two kinds: a session that holds the applier fence (an advisory lock any
 * role can take) without being an axs applier, which would keep every
 * applier out; and a session whose lock on axs.balances keeps a batch from
 * starting, typically a synchronous caller idle in its transaction.  The
 * applier never waits for either without a bound: it tries the balances
 * lock for a few milliseconds at a time (so that sessions queued behind its
 * request wait no longer than that), and ends a session that has blocked it
 * past a timeout: cancelled, or terminated when idle in a transaction.
 *
 * A session so ended is told why: the applier leaves a note in shared
 * memory before it signals, and every backend's log hook adds the note to
 * the error that ends the statement or the session, for the client and the
 * server log alike.
 *
 * It decides nothing about events and takes no lock but the ones it is
 * asked for.  See docs/design/applier.md.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "applier_guard.h"

/* One try for the balances lock, and the pause between tries. */
#define LOCK_TRY_MS 20
#define LOCK_PAUSE_MS 2

/* Sessions the applier tracks as blockers at once; notes kept for ended sessions. */
#define MAX_BLOCKERS 32
#define NOTE_SLOTS 16
#define NOTE_LENGTH 320

int			axs_applier_block_timeout_ms = 5000;

typedef struct SessionNote
{
	int			pid;			/* 0: free */
	char		reason[NOTE_LENGTH];
} SessionNote;

typedef struct GuardShared
{
	slock_t		mutex;
	SessionNote notes[NOTE_SLOTS];
} GuardShared;

/* A session seen blocking the applier, since when, and whether it was ended. */
typedef struct Blocker
{
	int			pid;
	TimestampTz since;
	TimestampTz ended_at;		/* 0 if not yet */
} Blocker;

static GuardShared *guard_shared = NULL;
static emit_log_hook_type previous_emit_log_hook = NULL;

Size
axs_guard_shmem_size(void)
{
	return MAXALIGN(sizeof(GuardShared));
}

/* At (re)creation of shared memory: see axs_applier_shmem_startup. */
void
axs_guard_shmem_startup(void)
{
	guard_shared = NULL;
	axs_guard_shmem_attach();
}

void
axs_guard_shmem_attach(void)
{
	bool		found;

	if (guard_shared != NULL)
		return;
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	guard_shared = ShmemInitStruct("axs applier guard", sizeof(GuardShared), &found);
	if (!found)
	{
		memset(guard_shared, 0, sizeof(GuardShared));
		SpinLockInit(&guard_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Take the note left for this backend, if any, into reason. */
static bool
take_note(char *reason)
{
	bool		found = false;

	SpinLockAcquire(&guard_shared->mutex);
	for (int i = 0; i < NOTE_SLOTS; i++)
		if (guard_shared->notes[i].pid == MyProcPid)
		{
			strlcpy(reason, guard_shared->notes[i].reason, NOTE_LENGTH);
			guard_shared->notes[i].pid = 0;
			found = true;
			break;
		}
	SpinLockRelease(&guard_shared->mutex);
	return found;
}

/* Log hook: the cancel or termination the applier caused says why. */
static void
guard_emit_log(ErrorData *edata)
{
	if (guard_shared != NULL && edata->elevel >= ERROR &&
		(edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN || edata->sqlerrcode == ERRCODE_QUERY_CANCELED))
	{
		char		reason[NOTE_LENGTH];

		if (take_note(reason))
		{
			edata->detail = MemoryContextStrdup(ErrorContext, reason);
			edata->hint = MemoryContextStrdup(ErrorContext,
											  "End transactions that call axs functions promptly; "
											  "a transaction left open blocks the applier.");
		}
	}
	if (previous_emit_log_hook)
		previous_emit_log_hook(edata);
}

void
axs_guard_install_log_hook(void)
{
	previous_emit_log_hook = emit_log_hook;
	emit_log_hook = guard_emit_log;
}

void
axs_guard_end_session(int pid, bool terminate, const char *reason)
{
	axs_guard_shmem_attach();
	SpinLockAcquire(&guard_shared->mutex);
	for (int i = 0; i < NOTE_SLOTS; i++)
		if (guard_shared->notes[i].pid == 0 || guard_shared->notes[i].pid == pid ||
			i == NOTE_SLOTS - 1)
		{
			guard_shared->notes[i].pid = pid;
			strlcpy(guard_shared->notes[i].reason, reason, NOTE_LENGTH);
			break;
		}
	SpinLockRelease(&guard_shared->mutex);
	if (terminate)
		(void) DirectFunctionCall2(pg_terminate_backend, Int32GetDatum(pid), Int64GetDatum(0));
	else
		(void) DirectFunctionCall1(pg_cancel_backend, Int32GetDatum(pid));
}

/*
 * Wait at most timeout_ms for relid's EXCLUSIVE lock, in a subtransaction
 * so that the lock timeout's error leaves the batch's transaction intact.
 * Returns whether the lock is now held (by the enclosing transaction).
 */
static bool
try_lock_for(Oid relid, int timeout_ms)
{
	MemoryContext context = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	int			saved_timeout = LockTimeout;
	volatile bool locked = false;

	if (ConditionalLockRelationOid(relid, ExclusiveLock))
		return true;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(context);
	PG_TRY();
	{
		LockTimeout = timeout_ms;
		LockRelationOid(relid, ExclusiveLock);
		LockTimeout = saved_timeout;
		ReleaseCurrentSubTransaction();
		locked = true;
	}
	PG_CATCH();
	{
		ErrorData  *error;

		LockTimeout = saved_timeout;
		MemoryContextSwitchTo(context);
		error = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		if (error->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			ReThrowError(error);
		FreeErrorData(error);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(context);
	CurrentResourceOwner = owner;
	return locked;
}

/* Run a read-only query built from trusted numbers; ERROR on failure. */
static void
run_lock_query(const char *query)
{
	int			ret = SPI_execute(query, true, 0);

	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading pg_locks failed: %s", SPI_result_code_string(ret));
}

/* Text of column column of row row of the last SPI result ("" if NULL). */
static char *
result_text(uint64 row, int column)
{
	char	   *value = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column);

	return value != NULL ? value : "";
}

static int
result_int(uint64 row, int column)
{
	bool		isnull;
	Datum		value = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column, &isnull);

	return isnull ? 0 : DatumGetInt32(value);
}

/*
 * One look at who holds relid in a mode that conflicts with EXCLUSIVE:
 * carry over when each was first seen, end those past the timeout, report
 * the longest-standing one.
 */
static void
handle_blockers(Oid relid, Blocker *blockers, int *nblockers, AxsBlockerReport report)
{
	char		query[640];
	Blocker		seen[MAX_BLOCKERS];
	int			nseen = 0;
	TimestampTz now = GetCurrentTimestamp();
	int			oldest = -1;

	snprintf(query, sizeof(query),
			 "SELECT DISTINCT l.pid, a.state, a.usename::pg_catalog.text "
			 "FROM pg_catalog.pg_locks AS l "
			 "LEFT JOIN pg_catalog.pg_stat_activity AS a ON a.pid OPERATOR(pg_catalog.=) l.pid "
			 "WHERE l.locktype OPERATOR(pg_catalog.=) 'relation' "
			 "AND l.database OPERATOR(pg_catalog.=) %u AND l.relation OPERATOR(pg_catalog.=) %u "
			 "AND l.granted AND l.mode OPERATOR(pg_catalog.<>) 'AccessShareLock' "
			 "AND l.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid() "
			 "LIMIT %d",
			 MyDatabaseId, relid, MAX_BLOCKERS);
	run_lock_query(query);
	for (uint64 row = 0; row < SPI_processed; row++)
	{
		int			pid = result_int(row, 1);
		const char *state = result_text(row, 2);
		const char *role = result_text(row, 3);
		Blocker    *blocker = &seen[nseen++];
		long		blocked_ms;

		blocker->pid = pid;
		blocker->since = now;
		blocker->ended_at = 0;
		for (int i = 0; i < *nblockers; i++)
			if (blockers[i].pid == pid)
				*blocker = blockers[i];
		blocked_ms = TimestampDifferenceMilliseconds(blocker->since, now);
		if (blocked_ms >= axs_applier_block_timeout_ms &&
			(blocker->ended_at == 0 ||
			 TimestampDifferenceMilliseconds(blocker->ended_at, now) >= axs_applier_block_timeout_ms))
		{
			bool		idle_in_transaction = strncmp(state, "idle in transaction", 19) == 0;
			bool		terminate = idle_in_transaction || blocker->ended_at != 0;
			char		reason[NOTE_LENGTH];

			snprintf(reason, sizeof(reason),
					 "The axs applier %s this session: it held a lock on axs.balances for %ld ms (%s), "
					 "longer than axs.applier_block_timeout_ms (%d ms), and kept queued events from being applied.",
					 terminate ? "terminated" : "cancelled the statement of",
					 blocked_ms, state[0] != '\0' ? state : "state unknown", axs_applier_block_timeout_ms);
			ereport(WARNING,
					(errmsg("axs applier %s session %d (role \"%s\", %s): it has blocked the applier for %ld ms",
							terminate ? "terminates" : "cancels the statement of",
							pid, role, state[0] != '\0' ? state : "state unknown", blocked_ms),
					 errdetail("It holds a lock on axs.balances that conflicts with the applier's; "
							   "axs.applier_block_timeout_ms is %d ms.", axs_applier_block_timeout_ms)));
			axs_guard_end_session(pid, terminate, reason);
			blocker->ended_at = now;
		}
		if (oldest < 0 || blocker->since < seen[oldest].since)
			oldest = nseen - 1;
	}
	SPI_freetuptable(SPI_tuptable);
	memcpy(blockers, seen, sizeof(Blocker) * nseen);
	*nblockers = nseen;
	if (oldest >= 0)
		report(blockers[oldest].pid, blockers[oldest].since);
}

/*
 * A prepared transaction that holds relid has no session to end: say so,
 * naming it, once per block timeout while it blocks the applier.
 */
static void
warn_about_prepared_blockers(Oid relid, TimestampTz *last_warning)
{
	char		query[768];
	TimestampTz now = GetCurrentTimestamp();

	if (*last_warning != 0 &&
		TimestampDifferenceMilliseconds(*last_warning, now) < axs_applier_block_timeout_ms)
		return;
	snprintf(query, sizeof(query),
			 "SELECT DISTINCT p.gid, p.owner::pg_catalog.text, p.prepared::pg_catalog.text "
			 "FROM pg_catalog.pg_locks AS l "
			 "JOIN pg_catalog.pg_locks AS x ON x.virtualtransaction OPERATOR(pg_catalog.=) l.virtualtransaction "
			 "AND x.locktype OPERATOR(pg_catalog.=) 'transactionid' "
			 "JOIN pg_catalog.pg_prepared_xacts AS p ON p.transaction OPERATOR(pg_catalog.=) x.transactionid "
			 "WHERE l.pid IS NULL AND l.locktype OPERATOR(pg_catalog.=) 'relation' "
			 "AND l.database OPERATOR(pg_catalog.=) %u AND l.relation OPERATOR(pg_catalog.=) %u "
			 "AND l.granted AND l.mode OPERATOR(pg_catalog.<>) 'AccessShareLock'",
			 MyDatabaseId, relid);
	run_lock_query(query);
	for (uint64 row = 0; row < SPI_processed; row++)
		ereport(WARNING,
				(errmsg("axs applier is blocked by prepared transaction \"%s\" (owner \"%s\", prepared at %s)",
						result_text(row, 1), result_text(row, 2), result_text(row, 3)),
				 errdetail("It holds a lock on axs.balances; a prepared transaction has no session to end."),
				 errhint("COMMIT PREPARED or ROLLBACK PREPARED it; queued events wait until then.")));
	if (SPI_processed > 0)
		*last_warning = now;
	SPI_freetuptable(SPI_tuptable);
}

void
axs_guard_lock_balances(Oid balances, AxsBlockerReport report)
{
	Blocker		blockers[MAX_BLOCKERS];
	int			nblockers = 0;
	bool		reported = false;
	TimestampTz waiting_since = GetCurrentTimestamp();
	TimestampTz prepared_warning = 0;

	while (!try_lock_for(balances, LOCK_TRY_MS))
	{
		handle_blockers(balances, blockers, &nblockers, report);
		if (nblockers == 0 &&
			TimestampDifferenceMilliseconds(waiting_since, GetCurrentTimestamp()) >= axs_applier_block_timeout_ms)
			warn_about_prepared_blockers(balances, &prepared_warning);
		reported = true;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 LOCK_PAUSE_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	if (reported)
		report(0, 0);
}

int
axs_guard_fence_intruder(int64 lock_namespace, int64 lock_key, char **role)
{
	char		query[512];
	int			intruder = 0;

	snprintf(query, sizeof(query),
			 "SELECT l.pid, a.usename::pg_catalog.text "
			 "FROM pg_catalog.pg_locks AS l "
			 "LEFT JOIN pg_catalog.pg_stat_activity AS a ON a.pid OPERATOR(pg_catalog.=) l.pid "
			 "WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory' AND l.granted "
			 "AND l.database OPERATOR(pg_catalog.=) %u "
			 "AND l.classid OPERATOR(pg_catalog.=) %lld AND l.objid OPERATOR(pg_catalog.=) %lld "
			 "AND l.objsubid OPERATOR(pg_catalog.=) 2",
			 MyDatabaseId, (long long) lock_namespace, (long long) lock_key);
	run_lock_query(query);
	for (uint64 row = 0; row < SPI_processed && intruder == 0; row++)
	{
		int			pid = result_int(row, 1);
		const char *type = pid != 0 ? GetBackgroundWorkerTypeByPid(pid) : NULL;

		if (pid != 0 && (type == NULL || strcmp(type, "axs applier") != 0))
		{
			intruder = pid;
			*role = pstrdup(result_text(row, 2));
		}
	}
	SPI_freetuptable(SPI_tuptable);
	return intruder;
}
