/*
 * inbox.c
 *		axs.inbox from the appending side: the positions handed out, the
 *		inbox append lock and the statement trigger that takes it, and the
 *		wake-up of the applier when an appending transaction commits.
 *
 * Appending transactions commit in position order: the trigger takes the
 * append lock, which no SQL can take, for the rest of the transaction.
 * Reading is inbox_reader.c, emptying applied segments inbox_janitor.c.  It
 * decides nothing about the events queued.  See docs/design/inbox.md.
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lock.h"

#include "applier_status.h"
#include "inbox.h"
#include "pg_util.h"

/* The first position this transaction's appends can have had (inbox append lock held). */
static int64 own_first_position = 0;

Oid
axs_inbox_segment_oid(int segment, const char *suffix)
{
	char		name[NAMEDATALEN];

	snprintf(name, sizeof(name), "inbox_%d%s", segment, suffix);
	return axs_table_oid(name);
}

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

static void
inbox_append_locktag(LOCKTAG *tag)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, AXS_LOCK_NAMESPACE, AXS_LOCK_INBOX_APPEND,
						 AXS_LOCK_SQL_UNREACHABLE);
}

void
axs_inbox_lock_appends(void)
{
	LOCKTAG		tag;

	inbox_append_locktag(&tag);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

bool
axs_inbox_queued_by_this_transaction(int64 position)
{
	LOCKTAG		tag;

	inbox_append_locktag(&tag);
	return LockHeldByMe(&tag, ExclusiveLock) && position >= own_first_position;
}

PG_FUNCTION_INFO_V1(axs_inbox_append_guard);
/*
 * Statement trigger on axs.inbox: take the inbox append lock for the rest of
 * the transaction, so appending transactions commit in position order, and
 * wake the applier when this one commits.
 */
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
