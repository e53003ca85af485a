/*
 * sql_api.c
 *		SQL-callable functions that apply one event in the caller's
 *		transaction (axs.apply and the typed shortcuts), queue events for the
 *		applier (axs.submit, axs.submit_many), and read stored events
 *		(axs.event_json, axs.event_legs, axs.decided_reason).
 *
 * Balance rules are not here: every event goes through the ledger core,
 * and storage through event_store.c.  See docs/design/idempotency.md.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "account_rules.h"
#include "currency_cache.h"
#include "event_store.h"
#include "history_store.h"
#include "pg_util.h"

/* Outcome of one event, as returned in axs.result. */
typedef struct EventOutcome
{
	bool		applied;
	AxsReason	reason;
} EventOutcome;

static SPIPlanPtr submit_plan = NULL;

/* Raise the SQL error for an event that could not be decoded. */
static void
report_decode_error(const AxsDecodeError *error)
{
	if (error->status == AXS_DECODE_INVALID_JSON)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid event: %s", error->message)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid event: %s", error->message),
			 error->field[0] != '\0' ? errdetail("The offending field is \"%s\".", error->field) : 0,
			 errhint("See the event format in the axs README.")));
}

/* The binary payload of an event as a bytea. */
static bytea *
encode_event_bytea(const AxsEvent *event)
{
	uint8		buffer[AXS_PAYLOAD_MAX];
	size_t		length = axs_event_encode(event, buffer, sizeof(buffer));
	bytea	   *result;

	if (length == 0)
		elog(ERROR, "event %lld does not fit in a payload", (long long) event->id);
	result = palloc(VARHDRSZ + length);
	SET_VARSIZE(result, VARHDRSZ + length);
	memcpy(VARDATA(result), buffer, length);
	return result;
}

/* Build an axs.result (status, reason) datum. */
static Datum
outcome_datum(FunctionCallInfo fcinfo, EventOutcome outcome)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = CStringGetTextDatum(outcome.applied ? "applied" : "rejected");
	if (outcome.applied)
		nulls[1] = true;
	else
		values[1] = CStringGetTextDatum(axs_reason_name(outcome.reason));
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/* The outcome of an id already in the log, seen from an event with payload. */
static EventOutcome
outcome_of_logged(const bytea *logged_payload, int16 logged_reason,
				  const uint8 *payload, size_t payload_length)
{
	EventOutcome outcome;

	if (VARSIZE_ANY_EXHDR(logged_payload) != payload_length ||
		memcmp(VARDATA_ANY(logged_payload), payload, payload_length) != 0)
	{
		outcome.applied = false;
		outcome.reason = AXS_REASON_ID_REUSED;
		return outcome;
	}
	outcome.applied = (logged_reason == AXS_REASON_NONE);
	outcome.reason = (AxsReason) logged_reason;
	return outcome;
}

/*
 * Apply one valid event in the current transaction: idempotency check, lock
 * the touched balances, run the ledger core, record the outcome, write the
 * balances back.  Caller is connected to SPI.
 */
static EventOutcome
apply_event(const AxsEvent *event)
{
	uint8		payload[AXS_PAYLOAD_MAX];
	size_t		payload_length = axs_event_encode(event, payload, sizeof(payload));
	bytea	   *logged_payload;
	int16		logged_reason;
	AxsLeg		legs[AXS_MAX_LEGS];
	int			nlegs = 0;
	AxsAllocator allocator = axs_memory_context_allocator(CurrentMemoryContext);
	AxsBalanceMap *map;
	AxsAppliedChange changes[AXS_MAX_LEGS];
	int			nchanges = 0;
	TimestampTz decided_at;
	int64		sync_order;
	EventOutcome outcome;

	if (payload_length == 0)
		elog(ERROR, "event %lld does not fit in a payload", (long long) event->id);

	axs_store_exclude_applier();
	if (axs_store_find_event(event->id, true, &logged_payload, &logged_reason, NULL))
		return outcome_of_logged(logged_payload, logged_reason, payload, payload_length);

	outcome.reason = axs_event_expand(event, axs_currency_resolve, NULL, legs, &nlegs);
	map = axs_balance_map_create(&allocator, AXS_MAX_LEGS);
	if (outcome.reason == AXS_REASON_NONE)
	{
		for (int i = 0; i < nlegs; i++)
			axs_balance_map_get(map, legs[i].account, legs[i].currency);
		axs_store_lock_balances(map);
		axs_account_rules_apply_to(map);
		outcome.reason = axs_ledger_apply_changes(map, legs, nlegs, changes, &nchanges);
	}
	outcome.applied = (outcome.reason == AXS_REASON_NONE);
	/* after the locks: later than every decision this one follows */
	decided_at = GetCurrentTimestamp();
	sync_order = axs_store_next_sync_order();

	if (!axs_store_record_event(event->id, payload, payload_length, outcome.reason, decided_at,
								sync_order))
	{
		/* a concurrent transaction recorded this id first: its outcome stands */
		axs_balance_map_clear(map);
		if (!axs_store_find_event(event->id, true, &logged_payload, &logged_reason, NULL))
			elog(ERROR, "event %lld vanished from the log", (long long) event->id);
		axs_balance_map_destroy(map);
		return outcome_of_logged(logged_payload, logged_reason, payload, payload_length);
	}
	if (outcome.applied)
	{
		AxsHistoryUnit history;

		axs_history_unit_init(&history, AXS_MAX_LEGS);
		axs_history_unit_add(&history, event->id, event->kind, 0, changes, nchanges);
		axs_history_store(&history, map, decided_at, sync_order);
	}
	axs_store_write_balances(map);
	axs_balance_map_destroy(map);
	return outcome;
}

/* Validate an event and apply it, returning axs.result. */
static Datum
validate_and_apply(FunctionCallInfo fcinfo, const AxsEvent *event)
{
	AxsDecodeError error;
	EventOutcome outcome;

	if (!axs_event_validate(event, &error))
		report_decode_error(&error);
	SPI_connect();
	outcome = apply_event(event);
	SPI_finish();
	return outcome_datum(fcinfo, outcome);
}

/* Decode a jsonb event, raising the documented errors. */
static void
decode_jsonb_event(Jsonb *jsonb, AxsEvent *event)
{
	char	   *text = JsonbToCString(NULL, &jsonb->root, VARSIZE(jsonb));
	AxsDecodeError error;

	if (!axs_event_from_json(text, strlen(text), event, &error))
		report_decode_error(&error);
	pfree(text);
}

/* Copy a currency argument, rejecting codes that cannot be valid. */
static void
currency_argument(FunctionCallInfo fcinfo, int argument, const char *field, char *out)
{
	char	   *code;

	if (PG_ARGISNULL(argument))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid event: field \"%s\" must not be null", field)));
	code = text_to_cstring(PG_GETARG_TEXT_PP(argument));
	if (!axs_currency_code_valid(code))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid event: field \"%s\" must be a currency code of 1 to %d characters from A-Z a-z 0-9 _ . -",
						field, AXS_CURRENCY_CODE_MAX)));
	strcpy(out, code);
}

/* An int8 argument that must not be NULL. */
static int64
int64_argument(FunctionCallInfo fcinfo, int argument, const char *field)
{
	if (PG_ARGISNULL(argument))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid event: field \"%s\" must not be null", field)));
	return PG_GETARG_INT64(argument);
}

/* Shared body of deposit, withdraw, freeze and unfreeze. */
static Datum
apply_amount_event(FunctionCallInfo fcinfo, AxsEventKind kind)
{
	AxsEvent	event;

	memset(&event, 0, sizeof(event));
	event.kind = kind;
	event.id = int64_argument(fcinfo, 0, "id");
	event.u.amount.account = int64_argument(fcinfo, 1, "account");
	currency_argument(fcinfo, 2, "currency", event.u.amount.currency);
	event.u.amount.amount = int64_argument(fcinfo, 3, "amount");
	return validate_and_apply(fcinfo, &event);
}

PG_FUNCTION_INFO_V1(axs_apply);
/* axs.apply(event jsonb): apply one JSON event now. */
Datum
axs_apply(PG_FUNCTION_ARGS)
{
	AxsEvent	event;

	decode_jsonb_event(PG_GETARG_JSONB_P(0), &event);
	return validate_and_apply(fcinfo, &event);
}

PG_FUNCTION_INFO_V1(axs_deposit);
/* axs.deposit(id, account, currency, amount) */
Datum
axs_deposit(PG_FUNCTION_ARGS)
{
	return apply_amount_event(fcinfo, AXS_KIND_DEPOSIT);
}

PG_FUNCTION_INFO_V1(axs_withdraw);
/* axs.withdraw(id, account, currency, amount) */
Datum
axs_withdraw(PG_FUNCTION_ARGS)
{
	return apply_amount_event(fcinfo, AXS_KIND_WITHDRAW);
}

PG_FUNCTION_INFO_V1(axs_freeze);
/* axs.freeze(id, account, currency, amount) */
Datum
axs_freeze(PG_FUNCTION_ARGS)
{
	return apply_amount_event(fcinfo, AXS_KIND_FREEZE);
}

PG_FUNCTION_INFO_V1(axs_unfreeze);
/* axs.unfreeze(id, account, currency, amount) */
Datum
axs_unfreeze(PG_FUNCTION_ARGS)
{
	return apply_amount_event(fcinfo, AXS_KIND_UNFREEZE);
}

PG_FUNCTION_INFO_V1(axs_transfer);
/* axs.transfer(id, from_account, to_account, currency, amount) */
Datum
axs_transfer(PG_FUNCTION_ARGS)
{
	AxsEvent	event;

	memset(&event, 0, sizeof(event));
	event.kind = AXS_KIND_TRANSFER;
	event.id = int64_argument(fcinfo, 0, "id");
	event.u.transfer.from_account = int64_argument(fcinfo, 1, "from");
	event.u.transfer.to_account = int64_argument(fcinfo, 2, "to");
	currency_argument(fcinfo, 3, "currency", event.u.transfer.currency);
	event.u.transfer.amount = int64_argument(fcinfo, 4, "amount");
	return validate_and_apply(fcinfo, &event);
}

PG_FUNCTION_INFO_V1(axs_trade);
/* axs.trade(id, buyer, seller, base, quote, base_amount, quote_amount, buyer_fee, seller_fee, fee_account) */
Datum
axs_trade(PG_FUNCTION_ARGS)
{
	AxsEvent	event;

	memset(&event, 0, sizeof(event));
	event.kind = AXS_KIND_TRADE;
	event.id = int64_argument(fcinfo, 0, "id");
	event.u.trade.buyer = int64_argument(fcinfo, 1, "buyer");
	event.u.trade.seller = int64_argument(fcinfo, 2, "seller");
	currency_argument(fcinfo, 3, "base", event.u.trade.base);
	currency_argument(fcinfo, 4, "quote", event.u.trade.quote);
	event.u.trade.base_amount = int64_argument(fcinfo, 5, "base_amount");
	event.u.trade.quote_amount = int64_argument(fcinfo, 6, "quote_amount");
	event.u.trade.buyer_fee = int64_argument(fcinfo, 7, "buyer_fee");
	event.u.trade.seller_fee = int64_argument(fcinfo, 8, "seller_fee");
	event.u.trade.fee_account = PG_ARGISNULL(9) ? 0 : PG_GETARG_INT64(9);
	if (!PG_ARGISNULL(9) && event.u.trade.fee_account <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid event: field \"fee_account\" must be a positive integer")));
	return validate_and_apply(fcinfo, &event);
}

/* Queue one valid event into the inbox; returns its queue position. */
static int64
submit_event(const AxsEvent *event)
{
	Datum		arguments[2];
	bool		isnull;
	int			ret;
	int64		position;

	if (submit_plan == NULL)
	{
		Oid			argtypes[2] = {INT8OID, BYTEAOID};

		submit_plan = axs_prepare_kept("INSERT INTO axs.inbox (event_id, payload) VALUES ($1, $2) RETURNING position",
									   2, argtypes);
	}
	arguments[0] = Int64GetDatum(event->id);
	arguments[1] = PointerGetDatum(encode_event_bytea(event));
	ret = SPI_execute_plan(submit_plan, arguments, NULL, false, 1);
	if (ret != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "queueing event failed: %s", SPI_result_code_string(ret));
	position = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	pfree(DatumGetPointer(arguments[1]));
	return position;
}

PG_FUNCTION_INFO_V1(axs_submit);
/* axs.submit(event jsonb): validate and queue one event for the applier. */
Datum
axs_submit(PG_FUNCTION_ARGS)
{
	AxsEvent	event;
	int64		position;

	decode_jsonb_event(PG_GETARG_JSONB_P(0), &event);
	SPI_connect();
	position = submit_event(&event);
	SPI_finish();
	PG_RETURN_INT64(position);
}

PG_FUNCTION_INFO_V1(axs_submit_many);
/*
 * axs.submit_many(events jsonb): validate a JSON array of events, then queue
 * them in array order; returns the last queue position (NULL for []).
 * Nothing is queued if any element is invalid.
 */
Datum
axs_submit_many(PG_FUNCTION_ARGS)
{
	Jsonb	   *events = PG_GETARG_JSONB_P(0);
	JsonbIterator *iterator;
	JsonbValue	value;
	JsonbIteratorToken token;
	AxsEvent   *decoded;
	int			count = 0;
	int			capacity;
	int64		position = 0;

	if (!JB_ROOT_IS_ARRAY(events) || JB_ROOT_IS_SCALAR(events))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("axs.submit_many expects a JSON array of events")));
	capacity = Max(JB_ROOT_COUNT(events), 1);
	decoded = palloc_extended(sizeof(AxsEvent) * capacity, MCXT_ALLOC_HUGE);
	iterator = JsonbIteratorInit(&events->root);
	while ((token = JsonbIteratorNext(&iterator, &value, true)) != WJB_DONE)
	{
		char	   *text;
		AxsDecodeError error;

		if (token != WJB_ELEM)
			continue;
		if (value.type != jbvBinary)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid event at index %d: an event must be a JSON object", count)));
		text = JsonbToCString(NULL, value.val.binary.data, value.val.binary.len);
		if (!axs_event_from_json(text, strlen(text), &decoded[count], &error))
			ereport(ERROR,
					(errcode(error.status == AXS_DECODE_INVALID_JSON ?
							 ERRCODE_INVALID_TEXT_REPRESENTATION : ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid event at index %d: %s", count, error.message)));
		pfree(text);
		count++;
	}
	if (count == 0)
		PG_RETURN_NULL();
	SPI_connect();
	for (int i = 0; i < count; i++)
		position = submit_event(&decoded[i]);
	SPI_finish();
	pfree(decoded);
	PG_RETURN_INT64(position);
}

/* Decode a stored payload; false if it is not a valid event. */
static bool
decode_payload(int64 id, bytea *payload, AxsEvent *event)
{
	AxsDecodeError error;

	return axs_event_decode(id, (const uint8 *) VARDATA_ANY(payload),
							VARSIZE_ANY_EXHDR(payload), event, &error);
}

PG_FUNCTION_INFO_V1(axs_event_json);
/* axs.event_json(id bigint, payload bytea): the event as jsonb, NULL if undecodable. */
Datum
axs_event_json(PG_FUNCTION_ARGS)
{
	AxsEvent	event;
	char		buffer[4096];

	if (!decode_payload(PG_GETARG_INT64(0), PG_GETARG_BYTEA_PP(1), &event))
		PG_RETURN_NULL();
	if (axs_event_to_json(&event, buffer, sizeof(buffer)) == 0)
		elog(ERROR, "event %lld does not fit in %zu bytes of JSON", (long long) event.id, sizeof(buffer));
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buffer));
}

PG_FUNCTION_INFO_V1(axs_decided_reason);
/*
 * axs.decided_reason(id bigint): the reason code an event was decided with
 * (0: applied), NULL if the id is not decided (unknown or still queued).
 */
Datum
axs_decided_reason(PG_FUNCTION_ARGS)
{
	bytea	   *payload;
	int16		reason_code;
	bool		found;

	SPI_connect();
	found = axs_store_find_event(PG_GETARG_INT64(0), false, &payload, &reason_code, NULL);
	SPI_finish();
	if (!found)
		PG_RETURN_NULL();
	PG_RETURN_INT16(reason_code);
}

PG_FUNCTION_INFO_V1(axs_event_legs);
/*
 * axs.event_legs(id bigint, payload bytea): the balance changes an event
 * makes, as (account, currency id, available delta, frozen delta) rows.
 */
Datum
axs_event_legs(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AxsEvent	event;
	AxsLeg		legs[AXS_MAX_LEGS];
	int			nlegs = 0;

	InitMaterializedSRF(fcinfo, 0);
	if (!decode_payload(PG_GETARG_INT64(0), PG_GETARG_BYTEA_PP(1), &event))
		PG_RETURN_NULL();
	SPI_connect();
	if (axs_event_expand(&event, axs_currency_resolve, NULL, legs, &nlegs) != AXS_REASON_NONE)
		nlegs = 0;
	SPI_finish();
	for (int i = 0; i < nlegs; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = Int64GetDatum(legs[i].account);
		values[1] = Int32GetDatum(legs[i].currency);
		values[2] = Int64GetDatum(legs[i].available);
		values[3] = Int64GetDatum(legs[i].frozen);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
