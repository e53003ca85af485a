/*
 * history_api.c
 *		SQL functions over per-account history: axs.history,
 *		axs.history_after and axs.balance_at.
 *
 * A key's rows come from history_read.c in its own order (seqno).  Rows of
 * several currencies are merged in the order the ledger decided them: by
 * decided_at, then decision unit, then the event's place in its unit, then
 * currency (each key's seqno order is that order too).  A page of several
 * currencies never ends inside an event's rows, so that
 * axs.history_after(last row's event) continues without a gap.  See
 * docs/design/history.md.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/snapmgr.h"

#include "currency_cache.h"
#include "event_store.h"
#include "history_read.h"
#include "pg_util.h"

/* Most rows one call returns. */
#define HISTORY_MAX_ROWS 100000

/* Most rows one call collects over all currencies before merging (~100 MB). */
#define HISTORY_MAX_COLLECTED 1000000

/* One key's rows for a call, and its currency code. */
typedef struct KeyRows
{
	AxsHistoryKeyHead head;
	char	   *code;
	AxsHistoryRow *rows;
	int			count;
} KeyRows;

/* Where an event is in the order of decision. */
typedef struct Position
{
	TimestampTz decided_at;
	int64		unit;
	int32		ordinal;
} Position;

static SPIPlanPtr account_keys_plan = NULL;
static SPIPlanPtr currency_code_plan = NULL;

static void
invalid_argument(const char *message)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s", message)));
}

static int64
account_argument(FunctionCallInfo fcinfo, int argument)
{
	if (PG_ARGISNULL(argument) || PG_GETARG_INT64(argument) <= 0)
		invalid_argument("account must be a bigint greater than 0");
	return PG_GETARG_INT64(argument);
}

static int
max_rows_argument(FunctionCallInfo fcinfo, int argument)
{
	if (PG_ARGISNULL(argument) || PG_GETARG_INT32(argument) < 0 ||
		PG_GETARG_INT32(argument) > HISTORY_MAX_ROWS)
		invalid_argument("max_rows must be between 0 and " CppAsString2(HISTORY_MAX_ROWS));
	return PG_GETARG_INT32(argument);
}

/* The currency id of a code argument; -1 when the argument is NULL. */
static int32
currency_argument(FunctionCallInfo fcinfo, int argument)
{
	char	   *code;
	int32		id;

	if (PG_ARGISNULL(argument))
		return -1;
	code = text_to_cstring(PG_GETARG_TEXT_PP(argument));
	id = axs_currency_code_valid(code) ? axs_currency_resolve(NULL, code) : -1;
	if (id < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown currency \"%s\"", code),
				 errhint("Currencies are registered with axs.create_currency.")));
	return id;
}

static char *
currency_code(int32 currency)
{
	Datum		argument = Int32GetDatum(currency);
	char	   *code = NULL;

	if (currency_code_plan == NULL)
	{
		Oid			type = INT4OID;

		currency_code_plan = axs_prepare_kept("SELECT code FROM axs.currencies WHERE id OPERATOR(pg_catalog.=) $1",
											  1, &type);
	}
	if (SPI_execute_plan(currency_code_plan, &argument, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading a currency code failed");
	if (SPI_processed == 1)
		code = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	SPI_freetuptable(SPI_tuptable);
	return code != NULL ? code : psprintf("%d", currency);
}

/*
 * The keys a call reads: the one currency, or every currency the account
 * has history in.  Returns their number.
 */
static int
call_keys(int64 account, int32 currency, KeyRows **keys)
{
	Datum		argument = Int64GetDatum(account);
	int			count;

	if (currency >= 0)
	{
		*keys = palloc0(sizeof(KeyRows));
		(*keys)[0].head = axs_history_head(account, currency);
		(*keys)[0].code = currency_code(currency);
		return 1;
	}
	if (account_keys_plan == NULL)
	{
		Oid			type = INT8OID;

		account_keys_plan = axs_prepare_kept("SELECT currency FROM axs.balances "
											 "WHERE account OPERATOR(pg_catalog.=) $1 "
											 "AND history_seqno OPERATOR(pg_catalog.>) 0",
											 1, &type);
	}
	if (SPI_execute_plan(account_keys_plan, &argument, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading an account's currencies failed");
	count = (int) SPI_processed;
	*keys = palloc0(sizeof(KeyRows) * Max(count, 1));
	{
		SPITupleTable *table = SPI_tuptable;

		for (int i = 0; i < count; i++)
		{
			bool		isnull;
			int32		id = DatumGetInt32(SPI_getbinval(table->vals[i], table->tupdesc, 1, &isnull));

			(*keys)[i].head = axs_history_head(account, id);
			(*keys)[i].code = currency_code(id);
		}
		SPI_freetuptable(table);
	}
	return count;
}

static Position
position_of(const AxsHistoryRow *row)
{
	Position	position = {row->decided_at, row->unit, row->entry.ordinal};

	return position;
}

static bool
position_after(Position a, Position b)
{
	if (a.decided_at != b.decided_at)
		return a.decided_at > b.decided_at;
	return a.unit > b.unit || (a.unit == b.unit && a.ordinal > b.ordinal);
}

/* Rows of one key and its code, merged. */
typedef struct MergedRow
{
	const AxsHistoryRow *row;
	const char *code;
} MergedRow;

static int
compare_merged(const void *a, const void *b)
{
	const AxsHistoryRow *x = ((const MergedRow *) a)->row;
	const AxsHistoryRow *y = ((const MergedRow *) b)->row;

	if (x->decided_at != y->decided_at)
		return x->decided_at < y->decided_at ? -1 : 1;
	if (x->unit != y->unit)
		return x->unit < y->unit ? -1 : 1;
	if (x->entry.ordinal != y->entry.ordinal)
		return x->entry.ordinal < y->entry.ordinal ? -1 : 1;
	if (x->entry.currency != y->entry.currency)
		return x->entry.currency < y->entry.currency ? -1 : 1;
	return 0;
}

static bool
same_event(const MergedRow *a, const MergedRow *b)
{
	return a->row->unit == b->row->unit && a->row->entry.ordinal == b->row->entry.ordinal;
}

/*
 * How many of the merged rows make the page: max_rows, and the rest of the
 * last event's rows if it has more.  Those are among the rows collected:
 * each key collected max_rows + 1, and a key's row of that event has fewer
 * than max_rows of its own rows before it.
 */
static int
page_length(const MergedRow *merged, int count, int max_rows)
{
	int			end = Min(count, max_rows);

	while (end > 0 && end < count && same_event(&merged[end - 1], &merged[end]))
		end++;
	return end;
}

static void
put_row(ReturnSetInfo *rsinfo, const AxsHistoryRow *row, const char *code)
{
	Datum		values[8];
	bool		nulls[8] = {false, false, false, false, false, false, false, false};
	const char *kind = axs_event_kind_name((AxsEventKind) row->entry.kind);

	values[0] = Int64GetDatum(row->entry.event_id);
	values[1] = CStringGetTextDatum(kind != NULL ? kind : "unknown");
	values[2] = CStringGetTextDatum(code);
	values[3] = Int64GetDatum(row->entry.available_delta);
	values[4] = Int64GetDatum(row->entry.frozen_delta);
	values[5] = Int64GetDatum(row->entry.available);
	values[6] = Int64GetDatum(row->entry.frozen);
	values[7] = TimestampTzGetDatum(row->decided_at);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* Return the keys' rows, merged and paged, as the function's result. */
static void
put_page(FunctionCallInfo fcinfo, KeyRows *keys, int nkeys, int max_rows)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			total = 0;
	MergedRow  *merged;
	int			length;

	for (int k = 0; k < nkeys; k++)
		total += keys[k].count;
	merged = palloc(sizeof(MergedRow) * Max(total, 1));
	total = 0;
	for (int k = 0; k < nkeys; k++)
		for (int i = 0; i < keys[k].count; i++)
		{
			merged[total].row = &keys[k].rows[i];
			merged[total].code = keys[k].code;
			total++;
		}
	if (nkeys > 1)
		qsort(merged, total, sizeof(MergedRow), compare_merged);
	length = nkeys > 1 ? page_length(merged, total, max_rows) : Min(total, max_rows);
	for (int i = 0; i < length; i++)
		put_row(rsinfo, merged[i].row, merged[i].code);
}

/*
 * Each currency's rows are collected before they are merged: keep what one
 * call may hold bounded.
 */
static void
check_collected(int nkeys, int max_rows)
{
	if (nkeys > 1 && (int64) nkeys * (max_rows + 1) > HISTORY_MAX_COLLECTED)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a page of %d rows over %d currencies is too large", max_rows, nkeys),
				 errdetail("Reading all currencies collects up to max_rows + 1 rows of each, at most %d in all.",
						   HISTORY_MAX_COLLECTED),
				 errhint("Lower max_rows, or read one currency at a time.")));
}

/* Drop a key's rows decided at or after until (NULL: none). */
static void
drop_from(KeyRows *key, FunctionCallInfo fcinfo, int until_argument)
{
	TimestampTz until;

	if (PG_ARGISNULL(until_argument))
		return;
	until = PG_GETARG_TIMESTAMPTZ(until_argument);
	while (key->count > 0 && key->rows[key->count - 1].decided_at >= until)
		key->count--;
}

PG_FUNCTION_INFO_V1(axs_history);
/*
 * axs.history(account, currency DEFAULT NULL, since DEFAULT NULL,
 * until DEFAULT NULL, max_rows DEFAULT 1000): the account's rows decided
 * in [since, until), oldest first.
 */
Datum
axs_history(PG_FUNCTION_ARGS)
{
	int64		account = account_argument(fcinfo, 0);
	int			max_rows = max_rows_argument(fcinfo, 4);
	int32		currency;
	KeyRows    *keys;
	int			nkeys;
	AxsHistoryReader *reader;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	currency = currency_argument(fcinfo, 1);
	nkeys = call_keys(account, currency, &keys);
	check_collected(nkeys, max_rows);
	reader = axs_history_reader_open();
	for (int k = 0; k < nkeys; k++)
	{
		KeyRows    *key = &keys[k];
		int64		from = 1;
		int			wanted = nkeys > 1 ? max_rows + 1 : max_rows;

		if (!PG_ARGISNULL(2))
		{
			AxsHistoryRow before;
			bool		has_before;

			from = axs_history_seek_time(reader, &key->head, PG_GETARG_TIMESTAMPTZ(2), false,
										 &before, &has_before);
		}
		key->rows = palloc(sizeof(AxsHistoryRow) * Max(wanted, 1));
		key->count = axs_history_collect(reader, &key->head, from, wanted, key->rows);
		drop_from(key, fcinfo, 3);
	}
	axs_history_reader_close(reader);
	put_page(fcinfo, keys, nkeys, max_rows);
	SPI_finish();
	return (Datum) 0;
}

/*
 * A key's rows after position, from seqno from on: up to wanted of them,
 * skipping those at or before the position.
 */
static void
collect_after(AxsHistoryReader *reader, KeyRows *key, int64 from, Position after, int wanted)
{
	key->rows = palloc(sizeof(AxsHistoryRow) * Max(wanted, 1));
	key->count = 0;
	while (key->count < wanted)
	{
		int			requested = wanted - key->count;
		int			got = axs_history_collect(reader, &key->head, from,
											  requested, &key->rows[key->count]);
		int			kept = key->count;

		for (int i = key->count; i < key->count + got; i++)
			if (position_after(position_of(&key->rows[i]), after))
				key->rows[kept++] = key->rows[i];
		key->count = kept;
		from += got;
		if (got < requested)
			break;
	}
}

/* When an applied event was decided; an error if it was not applied. */
static TimestampTz
applied_event_time(int64 event_id)
{
	bytea	   *payload;
	int16		reason;
	TimestampTz decided_at;

	if (!axs_store_find_event(event_id, false, &payload, &reason, &decided_at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event %lld has not been decided", (long long) event_id),
				 errhint("Pass the event_id of a row axs.history returned.")));
	if (reason != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event %lld was rejected and changed no balance", (long long) event_id),
				 errhint("Pass the event_id of a row axs.history returned.")));
	return decided_at;
}

PG_FUNCTION_INFO_V1(axs_history_after);
/*
 * axs.history_after(account, currency, after_event, max_rows DEFAULT 1000):
 * the rows after the row of after_event, oldest first.
 */
Datum
axs_history_after(PG_FUNCTION_ARGS)
{
	int64		account = account_argument(fcinfo, 0);
	int			max_rows = max_rows_argument(fcinfo, 3);
	int64		event_id;
	int32		currency;
	KeyRows    *keys;
	int			nkeys;
	AxsHistoryReader *reader;
	TimestampTz decided_at;
	AxsHistoryRow found;
	bool		present = false;

	if (PG_ARGISNULL(2))
		invalid_argument("after_event must not be null");
	event_id = PG_GETARG_INT64(2);
	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	currency = currency_argument(fcinfo, 1);
	decided_at = applied_event_time(event_id);
	nkeys = call_keys(account, currency, &keys);
	check_collected(nkeys, max_rows);
	reader = axs_history_reader_open();
	for (int k = 0; k < nkeys && !present; k++)
		present = axs_history_find_event(reader, &keys[k].head, decided_at, event_id, &found);
	if (!present)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event %lld did not change account %lld%s%s", (long long) event_id,
						(long long) account, currency >= 0 ? " in " : "",
						currency >= 0 ? keys[0].code : "")));
	for (int k = 0; k < nkeys; k++)
	{
		AxsHistoryRow before;
		bool		has_before;
		int64		from = axs_history_seek_time(reader, &keys[k].head, decided_at, false,
												 &before, &has_before);

		collect_after(reader, &keys[k], from, position_of(&found),
					  nkeys > 1 ? max_rows + 1 : max_rows);
	}
	axs_history_reader_close(reader);
	put_page(fcinfo, keys, nkeys, max_rows);
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(axs_balance_at);
/*
 * axs.balance_at(account, currency, at): the balance after the last event
 * decided at or before at; zeros before the first.
 */
Datum
axs_balance_at(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		account = account_argument(fcinfo, 0);
	int32		currency;
	AxsHistoryKeyHead head;
	AxsHistoryReader *reader;
	AxsHistoryRow before;
	bool		has_before;
	Datum		values[2] = {Int64GetDatum(0), Int64GetDatum(0)};
	bool		nulls[2] = {false, false};

	if (PG_ARGISNULL(1))
		invalid_argument("currency must not be null");
	if (PG_ARGISNULL(2))
		invalid_argument("at must not be null");
	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	currency = currency_argument(fcinfo, 1);
	head = axs_history_head(account, currency);
	reader = axs_history_reader_open();
	axs_history_seek_time(reader, &head, PG_GETARG_TIMESTAMPTZ(2), true, &before, &has_before);
	axs_history_reader_close(reader);
	SPI_finish();
	if (has_before)
	{
		values[0] = Int64GetDatum(before.entry.available);
		values[1] = Int64GetDatum(before.entry.frozen);
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}
