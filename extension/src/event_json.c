/*
 * event_json.c
 *		The JSON form of an event: strict parsing with json-c into an
 *		AxsEvent, and the canonical writer.
 *
 * This file owns the JSON shape (which keys each kind has, their JSON types,
 * integer range); the value rules themselves are checked by
 * axs_event_validate, so an event is judged the same way whether it arrives
 * as JSON or as a binary payload.  Pure C: it must not include PostgreSQL
 * headers.
 */
#include "event.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

/* Keys an event object may hold; id and kind are allowed for every kind. */
static const char *const amount_event_keys[] = {"account", "currency", "amount", NULL};
static const char *const transfer_keys[] = {"from", "to", "currency", "amount", NULL};
static const char *const trade_keys[] = {
	"buyer", "seller", "base", "quote", "base_amount", "quote_amount",
	"buyer_fee", "seller_fee", "fee_account", NULL
};
static const char *const legs_event_keys[] = {"legs", NULL};
static const char *const leg_keys[] = {"account", "currency", "available", "frozen", NULL};

/* The JSON object being read, and what to put in front of its key names. */
typedef struct JsonScope
{
	json_object *object;
	const char *path_prefix;	/* "" at top level, "legs[2]." in a leg */
	bool		negative_saturated; /* see find_saturated_negative_integer */
	AxsDecodeError *err;
} JsonScope;

static bool json_error(AxsDecodeError *err, AxsDecodeStatus status, const char *field,
					   const char *format,...) __attribute__((format(printf, 4, 5)));

static bool json_error(AxsDecodeError *err, AxsDecodeStatus status, const char *field,
					   const char *format,...) __attribute__((format(printf, 4, 5)));

/* Fill err and return false. */
static bool
json_error(AxsDecodeError *err, AxsDecodeStatus status, const char *field,
		   const char *format,...)
{
	va_list		args;

	err->status = status;
	snprintf(err->field, sizeof(err->field), "%s", field);
	va_start(args, format);
	vsnprintf(err->message, sizeof(err->message), format, args);
	va_end(args);
	return false;
}

static bool
json_whitespace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * json-c 0.16 clamps a negative integer below INT64_MIN to INT64_MIN instead
 * of failing, so the parsed value cannot tell "-9223372036854775808" from
 * "-99999999999999999999".  Scan the text for such a literal (outside
 * strings); when one is present, any field that reads INT64_MIN is reported
 * out of range.
 */
static bool
find_saturated_negative_integer(const char *text, size_t len)
{
	static const char int64_min_digits[] = "9223372036854775808";
	bool		in_string = false;

	for (size_t i = 0; i < len; i++)
	{
		size_t		digits_start;
		size_t		digit_count;

		if (in_string)
		{
			if (text[i] == '\\')
				i++;
			else if (text[i] == '"')
				in_string = false;
			continue;
		}
		if (text[i] == '"')
		{
			in_string = true;
			continue;
		}
		if (text[i] != '-')
			continue;

		digits_start = i + 1;
		digit_count = 0;
		while (digits_start + digit_count < len &&
			   text[digits_start + digit_count] >= '0' && text[digits_start + digit_count] <= '9')
			digit_count++;
		i = digits_start + digit_count - 1;
		if (digits_start + digit_count < len)
		{
			char		next = text[digits_start + digit_count];

			/* a fraction or exponent makes it a double, rejected by type */
			if (next == '.' || next == 'e' || next == 'E')
				continue;
		}
		if (digit_count > sizeof(int64_min_digits) - 1 ||
			(digit_count == sizeof(int64_min_digits) - 1 &&
			 memcmp(text + digits_start, int64_min_digits, digit_count) > 0))
			return true;
	}
	return false;
}

/* Report the first key of the scope's object that is not in allowed. */
static bool
check_keys(const JsonScope *scope, const char *const *allowed_common,
		   const char *const *allowed)
{
	json_object_object_foreach(scope->object, key, value)
	{
		bool		known = false;
		char		field[48];

		(void) value;
		for (int i = 0; allowed_common != NULL && allowed_common[i] != NULL && !known; i++)
			known = strcmp(key, allowed_common[i]) == 0;
		for (int i = 0; allowed[i] != NULL && !known; i++)
			known = strcmp(key, allowed[i]) == 0;
		if (!known)
		{
			snprintf(field, sizeof(field), "%s%s", scope->path_prefix, key);
			return json_error(scope->err, AXS_DECODE_INVALID_EVENT, field,
							  "unexpected field \"%s%s\"", scope->path_prefix, key);
		}
	}
	return true;
}

/*
 * Look key up in the scope; *present tells whether the key is there at all,
 * since json-c represents a JSON null as a NULL *value.  Absence is an error
 * only when required.  field receives the key's full path.
 */
static bool
lookup(const JsonScope *scope, const char *key, bool required, bool *present,
	   json_object **value, char *field, size_t field_size)
{
	snprintf(field, field_size, "%s%s", scope->path_prefix, key);
	*value = NULL;
	*present = json_object_object_get_ex(scope->object, key, value);
	if (!*present && required)
		return json_error(scope->err, AXS_DECODE_INVALID_EVENT, field,
						  "missing field \"%s\"", field);
	return true;
}

/*
 * Read an integer field.  An absent optional field keeps *out unchanged, so
 * callers set the default first.
 */
static bool
read_integer(const JsonScope *scope, const char *key, bool required, int64_t *out)
{
	json_object *value;
	char		field[48];
	bool		present;
	int64_t		number;

	if (!lookup(scope, key, required, &present, &value, field, sizeof(field)))
		return false;
	if (!present)
		return true;
	if (!json_object_is_type(value, json_type_int))
		return json_error(scope->err, AXS_DECODE_INVALID_EVENT, field,
						  "field \"%s\" must be an integer", field);
	number = json_object_get_int64(value);
	if ((number == INT64_MAX && json_object_get_uint64(value) > (uint64_t) INT64_MAX) ||
		(number == INT64_MIN && scope->negative_saturated))
		return json_error(scope->err, AXS_DECODE_INVALID_EVENT, field,
						  "field \"%s\" is out of range for a 64-bit integer", field);
	*out = number;
	return true;
}

/*
 * Read a currency code field into dest (AXS_CURRENCY_CODE_MAX + 1 bytes).
 * Only codes that cannot be held in dest are rejected here; the character
 * rules are left to axs_event_validate.
 */
static bool
read_code(const JsonScope *scope, const char *key, char *dest)
{
	json_object *value;
	char		field[48];
	bool		present;
	const char *code;
	size_t		length;

	if (!lookup(scope, key, true, &present, &value, field, sizeof(field)))
		return false;
	if (!json_object_is_type(value, json_type_string))
		return json_error(scope->err, AXS_DECODE_INVALID_EVENT, field,
						  "field \"%s\" must be a string", field);
	code = json_object_get_string(value);
	length = (size_t) json_object_get_string_len(value);
	if (length > AXS_CURRENCY_CODE_MAX || strlen(code) != length)
		return json_error(scope->err, AXS_DECODE_INVALID_EVENT, field,
						  "field \"%s\" must be a currency code of 1 to %d characters from A-Z a-z 0-9 _ . -",
						  field, AXS_CURRENCY_CODE_MAX);
	memcpy(dest, code, length + 1);
	return true;
}

static bool
read_kind(const JsonScope *scope, AxsEventKind *kind)
{
	json_object *value;
	char		field[48];
	bool		present;
	const char *name;

	if (!lookup(scope, "kind", true, &present, &value, field, sizeof(field)))
		return false;
	if (!json_object_is_type(value, json_type_string))
		return json_error(scope->err, AXS_DECODE_INVALID_EVENT, "kind",
						  "field \"kind\" must be a string");
	name = json_object_get_string(value);
	for (int candidate = AXS_KIND_DEPOSIT; candidate <= AXS_KIND_LEGS; candidate++)
	{
		if (strcmp(name, axs_event_kind_name((AxsEventKind) candidate)) == 0)
		{
			*kind = (AxsEventKind) candidate;
			return true;
		}
	}
	return json_error(scope->err, AXS_DECODE_INVALID_EVENT, "kind",
					  "field \"kind\" must be one of deposit, withdraw, freeze, unfreeze, transfer, trade, legs");
}

static bool
read_amount_event(const JsonScope *scope, AxsAmountEvent *event)
{
	return read_integer(scope, "account", true, &event->account) &&
		read_code(scope, "currency", event->currency) &&
		read_integer(scope, "amount", true, &event->amount);
}

static bool
read_transfer(const JsonScope *scope, AxsTransferEvent *event)
{
	return read_integer(scope, "from", true, &event->from_account) &&
		read_integer(scope, "to", true, &event->to_account) &&
		read_code(scope, "currency", event->currency) &&
		read_integer(scope, "amount", true, &event->amount);
}

static bool
read_trade(const JsonScope *scope, AxsTradeEvent *event)
{
	json_object *fee_account;

	event->buyer_fee = 0;
	event->seller_fee = 0;
	event->fee_account = 0;
	if (!read_integer(scope, "buyer", true, &event->buyer) ||
		!read_integer(scope, "seller", true, &event->seller) ||
		!read_code(scope, "base", event->base) ||
		!read_code(scope, "quote", event->quote) ||
		!read_integer(scope, "base_amount", true, &event->base_amount) ||
		!read_integer(scope, "quote_amount", true, &event->quote_amount) ||
		!read_integer(scope, "buyer_fee", false, &event->buyer_fee) ||
		!read_integer(scope, "seller_fee", false, &event->seller_fee))
		return false;

	/*
	 * fee_account 0 means "none" in AxsTradeEvent, so an explicit 0 must be
	 * rejected here, where it can still be told apart from an absent key.
	 * JSON null (a NULL object in json-c) counts as absent.
	 */
	if (!json_object_object_get_ex(scope->object, "fee_account", &fee_account) ||
		fee_account == NULL)
		return true;
	if (!read_integer(scope, "fee_account", true, &event->fee_account))
		return false;
	if (event->fee_account <= 0)
		return json_error(scope->err, AXS_DECODE_INVALID_EVENT, "fee_account",
						  "field \"fee_account\" must be a positive integer");
	return true;
}

static bool
read_legs(const JsonScope *scope, AxsLegsEvent *event)
{
	json_object *array;
	char		field[48];
	bool		present;
	size_t		count;

	if (!lookup(scope, "legs", true, &present, &array, field, sizeof(field)))
		return false;
	if (!json_object_is_type(array, json_type_array))
		return json_error(scope->err, AXS_DECODE_INVALID_EVENT, "legs",
						  "field \"legs\" must be an array");
	count = json_object_array_length(array);
	if (count > AXS_MAX_RAW_LEGS)
		return json_error(scope->err, AXS_DECODE_INVALID_EVENT, "legs",
						  "field \"legs\" must hold 1 to %d legs", AXS_MAX_RAW_LEGS);
	event->count = (int) count;

	for (int i = 0; i < event->count; i++)
	{
		char		prefix[24];
		JsonScope	leg_scope = *scope;
		AxsRawLeg  *leg = &event->legs[i];

		snprintf(prefix, sizeof(prefix), "legs[%d].", i);
		leg_scope.object = json_object_array_get_idx(array, (size_t) i);
		leg_scope.path_prefix = prefix;
		if (!json_object_is_type(leg_scope.object, json_type_object))
		{
			snprintf(field, sizeof(field), "legs[%d]", i);
			return json_error(scope->err, AXS_DECODE_INVALID_EVENT, field,
							  "field \"%s\" must be an object", field);
		}
		leg->available = 0;
		leg->frozen = 0;
		if (!check_keys(&leg_scope, NULL, leg_keys) ||
			!read_integer(&leg_scope, "account", true, &leg->account) ||
			!read_code(&leg_scope, "currency", leg->currency) ||
			!read_integer(&leg_scope, "available", false, &leg->available) ||
			!read_integer(&leg_scope, "frozen", false, &leg->frozen))
			return false;
	}
	return true;
}

/* Read the fields of a parsed JSON object into out. */
static bool
read_event(const JsonScope *scope, AxsEvent *out)
{
	static const char *const common_keys[] = {"id", "kind", NULL};
	const char *const *kind_keys;

	if (!read_kind(scope, &out->kind))
		return false;
	switch (out->kind)
	{
		case AXS_KIND_TRANSFER:
			kind_keys = transfer_keys;
			break;
		case AXS_KIND_TRADE:
			kind_keys = trade_keys;
			break;
		case AXS_KIND_LEGS:
			kind_keys = legs_event_keys;
			break;
		default:
			kind_keys = amount_event_keys;
			break;
	}
	if (!check_keys(scope, common_keys, kind_keys) ||
		!read_integer(scope, "id", true, &out->id))
		return false;

	switch (out->kind)
	{
		case AXS_KIND_TRANSFER:
			return read_transfer(scope, &out->u.transfer);
		case AXS_KIND_TRADE:
			return read_trade(scope, &out->u.trade);
		case AXS_KIND_LEGS:
			return read_legs(scope, &out->u.legs);
		default:
			return read_amount_event(scope, &out->u.amount);
	}
}

bool
axs_event_from_json(const char *text, size_t len, AxsEvent *out,
					AxsDecodeError *err)
{
	json_tokener *tokener;
	json_object *root;
	enum json_tokener_error parse_error;
	size_t		parse_end;
	bool		ok;

	memset(out, 0, sizeof(*out));
	err->status = AXS_DECODE_OK;
	err->field[0] = '\0';
	err->message[0] = '\0';
	if (len > INT32_MAX)
		return json_error(err, AXS_DECODE_INVALID_JSON, "", "event text is too long");

	tokener = json_tokener_new();
	json_tokener_set_flags(tokener, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tokener, text, (int) len);
	parse_error = json_tokener_get_error(tokener);
	parse_end = json_tokener_get_parse_end(tokener);
	if (parse_error == json_tokener_continue)
	{
		/*
		 * All input was consumed but the value may go on (a bare number, or
		 * truncated text): a NUL byte tells the tokener the text has ended.
		 */
		root = json_tokener_parse_ex(tokener, "", 1);
		parse_error = json_tokener_get_error(tokener);
		parse_end = len;
	}
	if (parse_error != json_tokener_success)
	{
		json_error(err, AXS_DECODE_INVALID_JSON, "", "invalid JSON: %s",
				   json_tokener_error_desc(parse_error));
		json_tokener_free(tokener);
		return false;
	}
	json_tokener_free(tokener);

	while (parse_end < len && json_whitespace(text[parse_end]))
		parse_end++;
	if (parse_end < len)
		ok = json_error(err, AXS_DECODE_INVALID_JSON, "", "invalid JSON: unexpected text after the value");
	else if (!json_object_is_type(root, json_type_object))
		ok = json_error(err, AXS_DECODE_INVALID_EVENT, "", "event must be a JSON object");
	else
	{
		JsonScope	scope = {root, "", find_saturated_negative_integer(text, len), err};

		ok = read_event(&scope, out) && axs_event_validate(out, err);
	}
	json_object_put(root);
	return ok;
}

/*
 * Canonical JSON writer.  Once a write does not fit, overflowed stays set and
 * the result is discarded.
 */
typedef struct JsonWriter
{
	char	   *buf;
	size_t		cap;
	size_t		length;
	bool		overflowed;
} JsonWriter;

static void append(JsonWriter *writer, const char *format,...) __attribute__((format(printf, 2, 3)));

static void
append(JsonWriter *writer, const char *format,...)
{
	va_list		args;
	int			written;

	if (writer->overflowed)
		return;
	va_start(args, format);
	written = vsnprintf(writer->buf + writer->length, writer->cap - writer->length, format, args);
	va_end(args);
	if (written < 0 || (size_t) written >= writer->cap - writer->length)
		writer->overflowed = true;
	else
		writer->length += (size_t) written;
}

/*
 * Currency codes are written as they are: a valid code needs no escaping, and
 * only valid events are written.
 */
size_t
axs_event_to_json(const AxsEvent *event, char *buf, size_t cap)
{
	JsonWriter	writer = {buf, cap, 0, cap == 0};
	const char *kind_name = axs_event_kind_name(event->kind);

	if (kind_name == NULL)
		return 0;
	append(&writer, "{\"id\":%" PRId64 ",\"kind\":\"%s\"", event->id, kind_name);
	switch (event->kind)
	{
		case AXS_KIND_DEPOSIT:
		case AXS_KIND_WITHDRAW:
		case AXS_KIND_FREEZE:
		case AXS_KIND_UNFREEZE:
			append(&writer, ",\"account\":%" PRId64 ",\"currency\":\"%.*s\",\"amount\":%" PRId64,
				   event->u.amount.account, AXS_CURRENCY_CODE_MAX, event->u.amount.currency,
				   event->u.amount.amount);
			break;
		case AXS_KIND_TRANSFER:
			append(&writer, ",\"from\":%" PRId64 ",\"to\":%" PRId64 ",\"currency\":\"%.*s\",\"amount\":%" PRId64,
				   event->u.transfer.from_account, event->u.transfer.to_account,
				   AXS_CURRENCY_CODE_MAX, event->u.transfer.currency, event->u.transfer.amount);
			break;
		case AXS_KIND_TRADE:
			append(&writer, ",\"buyer\":%" PRId64 ",\"seller\":%" PRId64
				   ",\"base\":\"%.*s\",\"quote\":\"%.*s\""
				   ",\"base_amount\":%" PRId64 ",\"quote_amount\":%" PRId64
				   ",\"buyer_fee\":%" PRId64 ",\"seller_fee\":%" PRId64,
				   event->u.trade.buyer, event->u.trade.seller,
				   AXS_CURRENCY_CODE_MAX, event->u.trade.base,
				   AXS_CURRENCY_CODE_MAX, event->u.trade.quote,
				   event->u.trade.base_amount, event->u.trade.quote_amount,
				   event->u.trade.buyer_fee, event->u.trade.seller_fee);
			if (event->u.trade.fee_account != 0)
				append(&writer, ",\"fee_account\":%" PRId64, event->u.trade.fee_account);
			break;
		case AXS_KIND_LEGS:
			if (event->u.legs.count < 0 || event->u.legs.count > AXS_MAX_RAW_LEGS)
				return 0;
			append(&writer, ",\"legs\":[");
			for (int i = 0; i < event->u.legs.count; i++)
			{
				const AxsRawLeg *leg = &event->u.legs.legs[i];

				append(&writer, "%s{\"account\":%" PRId64 ",\"currency\":\"%.*s\",\"available\":%" PRId64 ",\"frozen\":%" PRId64 "}",
					   i == 0 ? "" : ",", leg->account, AXS_CURRENCY_CODE_MAX, leg->currency,
					   leg->available, leg->frozen);
			}
			append(&writer, "]");
			break;
	}
	append(&writer, "}");
	return writer.overflowed ? 0 : writer.length;
}
