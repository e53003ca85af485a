/*
 * event_store.c
 *		Storage of balances and the event log through SPI for the
 *		synchronous SQL API (the applier uses batch_store.c).
 *
 * Balances are locked in (account, currency) order, missing rows first
 * inserted as zero rows in the same order, so two transactions never wait
 * on each other in a cycle.  Rows created this way that no applied event
 * touched are removed again, so a rejected event leaves no trace in
 * axs.balances.  All callers must be connected to SPI.
 *
 * It decides nothing: the ledger core decides, this module stores.  See
 * docs/design/idempotency.md.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "storage/lmgr.h"
#include "executor/spi.h"

#include "event_store.h"
#include "outcome_store.h"
#include "pg_util.h"

/* Sorted arrays of balance keys, as SPI arguments. */
typedef struct KeyArrays
{
	int			count;
	AxsBalance **entries;		/* sorted by (account, currency) */
	Datum	   *accounts;
	Datum	   *currencies;
	Datum	   *available;
	Datum	   *frozen;
	Datum	   *history_seqnos;
	Datum	   *history_blocks;
} KeyArrays;

static SPIPlanPtr insert_missing_plan = NULL;
static SPIPlanPtr lock_plan = NULL;
static SPIPlanPtr update_plan = NULL;
static SPIPlanPtr delete_plan = NULL;
static SPIPlanPtr find_event_plan = NULL;
static SPIPlanPtr record_event_plan = NULL;

/*
 * Gather the entries of map selected by filter (NULL: all) into sorted key
 * arrays.
 */
static KeyArrays
gather_keys(AxsBalanceMap *map, bool (*filter) (const AxsBalance *))
{
	KeyArrays	keys;
	size_t		capacity = axs_balance_map_count(map);
	size_t		cursor = 0;
	AxsBalance *entry;

	keys.count = 0;
	keys.entries = palloc_extended(sizeof(AxsBalance *) * Max(capacity, 1), MCXT_ALLOC_HUGE);
	while ((entry = axs_balance_map_next(map, &cursor)) != NULL)
	{
		if (filter == NULL || filter(entry))
			keys.entries[keys.count++] = entry;
	}
	qsort(keys.entries, keys.count, sizeof(AxsBalance *), axs_balance_pointer_compare);

	keys.accounts = palloc_extended(sizeof(Datum) * Max(keys.count, 1), MCXT_ALLOC_HUGE);
	keys.currencies = palloc_extended(sizeof(Datum) * Max(keys.count, 1), MCXT_ALLOC_HUGE);
	keys.available = palloc_extended(sizeof(Datum) * Max(keys.count, 1), MCXT_ALLOC_HUGE);
	keys.frozen = palloc_extended(sizeof(Datum) * Max(keys.count, 1), MCXT_ALLOC_HUGE);
	keys.history_seqnos = palloc_extended(sizeof(Datum) * Max(keys.count, 1), MCXT_ALLOC_HUGE);
	keys.history_blocks = palloc_extended(sizeof(Datum) * Max(keys.count, 1), MCXT_ALLOC_HUGE);
	for (int i = 0; i < keys.count; i++)
	{
		keys.accounts[i] = Int64GetDatum(keys.entries[i]->account);
		keys.currencies[i] = Int32GetDatum(keys.entries[i]->currency);
		keys.available[i] = Int64GetDatum(keys.entries[i]->available);
		keys.frozen[i] = Int64GetDatum(keys.entries[i]->frozen);
		keys.history_seqnos[i] = Int64GetDatum(keys.entries[i]->history_seqno);
		keys.history_blocks[i] = Int64GetDatum(keys.entries[i]->history_block);
	}
	return keys;
}

static void
free_keys(KeyArrays *keys)
{
	pfree(keys->entries);
	pfree(keys->accounts);
	pfree(keys->currencies);
	pfree(keys->available);
	pfree(keys->frozen);
	pfree(keys->history_seqnos);
	pfree(keys->history_blocks);
}

/*
 * Lock the balance rows of every key in map, in key order, inserting the
 * missing ones as zero rows first; load their values into the map and set
 * existed for rows that were there before this call.
 */
void
axs_store_lock_balances(AxsBalanceMap *map)
{
	KeyArrays	keys = gather_keys(map, NULL);
	Datum		arguments[2];
	int			ret;

	if (keys.count == 0)
		return;
	if (lock_plan == NULL)
	{
		Oid			argtypes[2] = {INT8ARRAYOID, INT4ARRAYOID};

		/* lock_plan last: both or neither, should an error come between */
		insert_missing_plan = axs_prepare_kept(
										   "INSERT INTO axs.balances (account, currency) "
										   "SELECT k.account, k.currency FROM unnest($1, $2) AS k(account, currency) "
										   "ORDER BY k.account USING OPERATOR(pg_catalog.<), k.currency USING OPERATOR(pg_catalog.<) "
										   "ON CONFLICT DO NOTHING RETURNING account, currency",
										   2, argtypes);
		lock_plan = axs_prepare_kept(
								 "SELECT b.account, b.currency, b.available, b.frozen, b.history_seqno, b.history_block "
								 "FROM unnest($1, $2) AS k(account, currency) "
								 "JOIN axs.balances AS b ON b.account OPERATOR(pg_catalog.=) k.account "
								 "AND b.currency OPERATOR(pg_catalog.=) k.currency "
								 "ORDER BY b.account USING OPERATOR(pg_catalog.<), b.currency USING OPERATOR(pg_catalog.<) "
								 "FOR UPDATE OF b",
								 2, argtypes);
	}
	arguments[0] = axs_build_array(keys.accounts, keys.count, INT8OID);
	arguments[1] = axs_build_array(keys.currencies, keys.count, INT4OID);

	for (int i = 0; i < keys.count; i++)
		keys.entries[i]->existed = true;
	ret = SPI_execute_plan(insert_missing_plan, arguments, NULL, false, 0);
	if (ret != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "inserting missing balances failed: %s", SPI_result_code_string(ret));
	for (uint64 row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[row];
		bool		isnull;
		int64		account = DatumGetInt64(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &isnull));
		int32		currency = DatumGetInt32(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2, &isnull));

		axs_balance_map_find(map, account, currency)->existed = false;
	}
	SPI_freetuptable(SPI_tuptable);

	ret = SPI_execute_plan(lock_plan, arguments, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "locking balances failed: %s", SPI_result_code_string(ret));
	if (SPI_processed != (uint64) keys.count)
		elog(ERROR, "locked " UINT64_FORMAT " balance rows, expected %d", SPI_processed, keys.count);
	for (uint64 row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[row];
		TupleDesc	tupdesc = SPI_tuptable->tupdesc;
		bool		isnull;
		AxsBalance *entry;

		entry = axs_balance_map_find(map,
									 DatumGetInt64(SPI_getbinval(tuple, tupdesc, 1, &isnull)),
									 DatumGetInt32(SPI_getbinval(tuple, tupdesc, 2, &isnull)));
		entry->available = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 3, &isnull));
		entry->frozen = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 4, &isnull));
		entry->history_seqno = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 5, &isnull));
		entry->history_block = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 6, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	pfree(DatumGetPointer(arguments[0]));
	pfree(DatumGetPointer(arguments[1]));
	free_keys(&keys);
}

static bool
balance_changed(const AxsBalance *entry)
{
	return entry->changed;
}

static bool
balance_created_unused(const AxsBalance *entry)
{
	return !entry->existed && !entry->changed;
}

/* Run an array statement over the given key arrays; check the row count. */
static void
execute_with_keys(SPIPlanPtr plan, KeyArrays *keys, int nargs, int expected_ret,
				  const char *what)
{
	Datum		arguments[6];
	int			ret;

	arguments[0] = axs_build_array(keys->accounts, keys->count, INT8OID);
	arguments[1] = axs_build_array(keys->currencies, keys->count, INT4OID);
	if (nargs == 6)
	{
		arguments[2] = axs_build_array(keys->available, keys->count, INT8OID);
		arguments[3] = axs_build_array(keys->frozen, keys->count, INT8OID);
		arguments[4] = axs_build_array(keys->history_seqnos, keys->count, INT8OID);
		arguments[5] = axs_build_array(keys->history_blocks, keys->count, INT8OID);
	}
	ret = SPI_execute_plan(plan, arguments, NULL, false, 0);
	if (ret != expected_ret)
		elog(ERROR, "%s failed: %s", what, SPI_result_code_string(ret));
	if (expected_ret != SPI_OK_DELETE && SPI_processed != (uint64) keys->count)
		elog(ERROR, "%s touched " UINT64_FORMAT " rows, expected %d", what, SPI_processed, keys->count);
	for (int i = 0; i < nargs; i++)
		pfree(DatumGetPointer(arguments[i]));
}

static void
prepare_write_plans(void)
{
	Oid			value_types[6] = {INT8ARRAYOID, INT4ARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
	INT8ARRAYOID, INT8ARRAYOID};
	Oid			key_types[2] = {INT8ARRAYOID, INT4ARRAYOID};

	if (delete_plan != NULL)
		return;
	/* delete_plan last: both or neither, should an error come between */
	update_plan = axs_prepare_kept(
							   "UPDATE axs.balances AS b SET available = v.available, frozen = v.frozen, "
							   "history_seqno = v.history_seqno, history_block = v.history_block "
							   "FROM unnest($1, $2, $3, $4, $5, $6) "
							   "AS v(account, currency, available, frozen, history_seqno, history_block) "
							   "WHERE b.account OPERATOR(pg_catalog.=) v.account AND b.currency OPERATOR(pg_catalog.=) v.currency",
							   6, value_types);
	delete_plan = axs_prepare_kept(
							   "DELETE FROM axs.balances AS b USING unnest($1, $2) AS k(account, currency) "
							   "WHERE b.account OPERATOR(pg_catalog.=) k.account AND b.currency OPERATOR(pg_catalog.=) k.currency "
							   "AND b.available OPERATOR(pg_catalog.=) 0 AND b.frozen OPERATOR(pg_catalog.=) 0 "
							   "AND b.history_seqno OPERATOR(pg_catalog.=) 0",
							   2, key_types);
}

/*
 * Write every changed balance of map with one UPDATE, and remove rows that
 * axs_store_lock_balances created but no applied event touched.
 */
void
axs_store_write_balances(AxsBalanceMap *map)
{
	KeyArrays	changed;
	KeyArrays	unused;

	prepare_write_plans();
	changed = gather_keys(map, balance_changed);
	if (changed.count > 0)
		execute_with_keys(update_plan, &changed, 6, SPI_OK_UPDATE, "writing balances");
	free_keys(&changed);

	unused = gather_keys(map, balance_created_unused);
	if (unused.count > 0)
		execute_with_keys(delete_plan, &unused, 2, SPI_OK_DELETE, "removing unused balances");
	free_keys(&unused);
}

/*
 * Keep the applier out until this transaction ends: ROW EXCLUSIVE on
 * axs.balances conflicts with the EXCLUSIVE lock each applier batch holds.
 * Taken before an id is looked up, so that the lookup sees every batch the
 * applier committed and no batch decides the same id meanwhile.
 */
void
axs_store_exclude_applier(void)
{
	LockRelationOid(axs_table_oid("balances"), RowExclusiveLock);
}

/*
 * Look an event id up in the log: among the synchronously applied events
 * (with the transaction's snapshot; a concurrent duplicate is caught by the
 * unique index when recording) and in the applier's outcome blocks (with the
 * latest snapshot if latest).  Returns false if unknown; otherwise sets
 * *payload (palloc'd in the caller's context) and *reason_code.
 */
bool
axs_store_find_event(int64 id, bool latest, bytea **payload, int16 *reason_code,
					 TimestampTz *decided_at)
{
	Datum		argument = Int64GetDatum(id);
	bool		isnull;
	int			ret;

	if (find_event_plan == NULL)
	{
		Oid			argtype = INT8OID;

		find_event_plan = axs_prepare_kept("SELECT payload, reason_code, recorded_at FROM axs.event_log "
										   "WHERE id OPERATOR(pg_catalog.=) $1 AND queue_position IS NULL",
										   1, &argtype);
	}
	/* with the caller's snapshot, read only, unless the latest is asked for */
	ret = SPI_execute_plan(find_event_plan, &argument, NULL, !latest, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "event lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		SPI_freetuptable(SPI_tuptable);
		return axs_outcomes_find(id, latest, payload, reason_code, decided_at);
	}
	*payload = DatumGetByteaPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*reason_code = DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (decided_at != NULL)
		*decided_at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return true;
}

int64
axs_store_next_sync_order(void)
{
	return nextval_internal(axs_table_oid("history_block_seq"), false);
}

/* Record a synchronously decided event (event_store.h). */
bool
axs_store_record_event(int64 id, const uint8 *payload, size_t payload_length,
					   AxsReason reason, TimestampTz decided_at, int64 sync_order)
{
	Datum		arguments[5];
	bytea	   *payload_datum = palloc(VARHDRSZ + payload_length);
	int			ret;

	if (record_event_plan == NULL)
	{
		Oid			argtypes[5] = {INT8OID, BYTEAOID, INT2OID, TIMESTAMPTZOID, INT8OID};

		record_event_plan = axs_prepare_kept(
										 "INSERT INTO axs.event_log (id, payload, reason_code, recorded_at, sync_order) "
										 "VALUES ($1, $2, $3, $4, $5) "
										 "ON CONFLICT (id) WHERE queue_position IS NULL DO NOTHING",
										 5, argtypes);
	}
	SET_VARSIZE(payload_datum, VARHDRSZ + payload_length);
	memcpy(VARDATA(payload_datum), payload, payload_length);
	arguments[0] = Int64GetDatum(id);
	arguments[1] = PointerGetDatum(payload_datum);
	arguments[2] = Int16GetDatum((int16) reason);
	arguments[3] = TimestampTzGetDatum(decided_at);
	arguments[4] = Int64GetDatum(sync_order);
	ret = SPI_execute_plan(record_event_plan, arguments, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "recording event failed: %s", SPI_result_code_string(ret));
	pfree(payload_datum);
	return SPI_processed == 1;
}
