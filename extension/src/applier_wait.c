/*
 * applier_wait.c
 *		axs.wait: a session waits until the applier has decided every queued
 *		event up to a position, on the progress the applier publishes.
 *
 * It only waits: it takes no lock and changes nothing.  See
 * docs/design/applier.md.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/condition_variable.h"
#include "utils/timestamp.h"

#include "applier_status.h"
#include "inbox.h"
#include "pg_util.h"

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
	int64		issued;

	if (axs_inbox_queued_by_this_transaction(position))
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

		if (axs_status_published_watermark() >= position)
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
		axs_status_sleep_for_progress(Min(remaining, 1000L));
		CHECK_FOR_INTERRUPTS();
	}
	ConditionVariableCancelSleep();
	PG_RETURN_BOOL(reached);
}
