/*
 * pg_util.c
 *		Small PostgreSQL helpers shared by the extension's modules.
 *
 * A leaf: nothing here calls another module of the extension, keeps state
 * between calls or decides anything about events, balances or the inbox.
 * A helper belongs here once two modules need it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "pg_util.h"

Oid
axs_table_oid(const char *name)
{
	Oid			namespace = get_namespace_oid("axs", false);
	Oid			relid = get_relname_relid(name, namespace);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table axs.%s does not exist", name),
				 errhint("Reinstall the axs extension.")));
	return relid;
}

SPIPlanPtr
axs_prepare_kept(const char *query, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(query, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", query,
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

int64
axs_query_int64(const char *query, int64 default_value)
{
	bool		isnull;
	Datum		value;
	int			ret = SPI_execute(query, false, 0);

	if (ret < 0)
		elog(ERROR, "\"%s\" failed: %s", query, SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return default_value;
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? default_value : DatumGetInt64(value);
}

Datum
axs_build_array(Datum *values, int count, Oid element_type)
{
	int16		length;
	bool		byval;
	char		align;

	/* the element types of the hot paths without a catalog lookup */
	switch (element_type)
	{
		case INT8OID:
			length = sizeof(int64);
			byval = FLOAT8PASSBYVAL;
			align = TYPALIGN_DOUBLE;
			break;
		case INT4OID:
			length = sizeof(int32);
			byval = true;
			align = TYPALIGN_INT;
			break;
		default:
			get_typlenbyvalalign(element_type, &length, &byval, &align);
			break;
	}
	return PointerGetDatum(construct_array(values, count, element_type, length, byval, align));
}

Datum
axs_int64_array(const int64 *values, int count)
{
	Datum	   *datums = palloc(sizeof(Datum) * Max(count, 1));
	Datum		array;

	for (int i = 0; i < count; i++)
		datums[i] = Int64GetDatum(values[i]);
	array = axs_build_array(datums, count, INT8OID);
	pfree(datums);
	return array;
}

static void *
memory_context_allocate(void *context, size_t size)
{
	return MemoryContextAllocExtended((MemoryContext) context, size,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
}

static void
memory_context_release(void *context, void *pointer)
{
	pfree(pointer);
}

AxsAllocator
axs_memory_context_allocator(MemoryContext context)
{
	AxsAllocator allocator;

	allocator.allocate = memory_context_allocate;
	allocator.release = memory_context_release;
	allocator.context = context;
	return allocator;
}

/*
 * A slot on the relcache's descriptor pins it in the resource owner, and
 * each release searches the owner's list, which grows with the slots of a
 * batch.  A copy is not reference-counted.
 */
TupleDesc
axs_unpinned_descriptor(Relation rel)
{
	return CreateTupleDescCopy(RelationGetDescr(rel));
}

void
axs_begin_work(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

void
axs_end_work(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Names resolve in pg_catalog only: a worker runs as a superuser and must
 * not call what a role put in public or in a schema named like the
 * superuser.
 */
void
axs_worker_session_settings(int block_timeout_ms)
{
	char		lock_timeout[32];

	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	snprintf(lock_timeout, sizeof(lock_timeout), "%d", Max(block_timeout_ms, 1000));
	SetConfigOption("lock_timeout", lock_timeout, PGC_SUSET, PGC_S_OVERRIDE);
}

PG_FUNCTION_INFO_V1(axs_cache_invalidate);
/*
 * Statement trigger axs.cache_invalidate(): queue an invalidation of the
 * table's relcache entry, which the backends' caches of that table follow
 * (currency_cache.c, account_rules.c, outcome_stream_api.c).
 */
Datum
axs_cache_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "axs_cache_invalidate must be called as a trigger");
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigger->tg_relation));
	return PointerGetDatum(NULL);
}
