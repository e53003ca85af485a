/*
 * applier_fence.c
 *		The applier fence: take, hold and release the session advisory lock
 *		(AXS_LOCK_NAMESPACE, AXS_LOCK_APPLIER_FENCE), bump the epoch in
 *		axs.applier_state at every takeover, and watch for a session that
 *		holds the lock without being an applier.
 *
 * A second applier in the same database waits as a standby, polling the
 * lock.  Every batch commits only through a compare-and-set of (epoch,
 * watermark) after checking that it still holds the lock (applier_batch.c),
 * so two appliers can never both commit a batch.  This module reads no
 * queued event.  See docs/design/applier.md.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/timestamp.h"

#include "applier_fence.h"
#include "applier_guard.h"
#include "applier_status.h"
#include "inbox.h"
#include "pg_util.h"

int			axs_applier_fence_timeout_ms = 5000;

static void
fence_locktag(LOCKTAG *tag)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, AXS_LOCK_NAMESPACE, AXS_LOCK_APPLIER_FENCE, 2);
}

bool
axs_fence_held(void)
{
	LOCKTAG		tag;

	fence_locktag(&tag);
	return LockHeldByMe(&tag, ExclusiveLock);
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
	int64		oldest;

	axs_inbox_lock_appends();
	oldest = axs_query_int64("SELECT pg_catalog.min(position) FROM axs.inbox", -1);
	if (oldest < 0)
		oldest = axs_inbox_positions_issued() + 1;
	SPI_execute(psprintf("UPDATE axs.applier_state SET watermark = %lld",
						 (long long) (oldest - 1)), false, 0);
}

bool
axs_fence_take(int64 *epoch, int64 *watermark)
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

	axs_status_took_fence(*epoch, *watermark);
	return true;
}

void
axs_fence_release(void)
{
	LOCKTAG		tag;

	fence_locktag(&tag);
	if (LockHeldByMe(&tag, ExclusiveLock))
		LockRelease(&tag, ExclusiveLock, true);
	axs_status_released_fence();
}

/*
 * If no applier published itself as the fence holder, find who holds it; a
 * session that is not an applier is reported, then terminated after
 * axs.applier_fence_timeout_ms.
 */
void
axs_fence_watch_intruder(void)
{
	static int	intruder = 0;
	static TimestampTz since = 0;
	int			pid;
	char	   *role = NULL;

	if (axs_status_has_holder())
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
	axs_status_publish_intruder(pid, since);
}

bool
axs_fence_epoch_current(int64 epoch)
{
	int64		stored;

	axs_begin_work("axs applier: checking the epoch");
	stored = axs_query_int64("SELECT epoch FROM axs.applier_state", -1);
	axs_end_work();
	return stored == epoch;
}
