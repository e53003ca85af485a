/*
 * event_json_reference.c
 *		The reference JSON decoder: strict parsing with json-c into an
 *		AxsEvent.  It decides every text, valid or not, and words every
 *		error; the fast scanner (event_json_fast.c) hands it whatever it
 *		declines.
 *
 * This file owns the JSON shape (which keys each kind has, their JSON types,
 * which numbers are integers, integer range, nesting depth, the ban on
 * \u0000); the keys themselves are listed in event_json_fields.h.  The value
 * rules are checked by axs_event_validate, so an event is judged the same
 * way whether it arrives as JSON or as a binary payload.  Pure C: it must
 * not include PostgreSQL headers.
 */
#include "event.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "event_json_fields.h"

static const char *const field_names[FIELD_COUNT] = {
	[FIELD_ID] = "id",
	[FIELD_KIND] = "kind",
	[FIELD_ACCOUNT] = "account",
	[FIELD_CURRENCY] = "currency",
	[FIELD_AMOUNT] = "amount",
	[FIELD_FROM] = "from",
	[FIELD_TO] = "to",
	[FIELD_BUYER] = "buyer",
	[FIELD_SELLER] = "seller",
	[FIELD_BASE] = "base",
	[FIELD_QUOTE] = "quote",
	[FIELD_BASE_AMOUNT] = "base_amount",
	[FIELD_QUOTE_AMOUNT] = "quote_amount",
	[FIELD_BUYER_FEE] = "buyer_fee",
	[FIELD_SELLER_FEE] = "seller_fee",
	[FIELD_FEE_ACCOUNT] = "fee_account",
	[FIELD_LEGS] = "legs",
	[FIELD_AVAILABLE] = "available",
	[FIELD_FROZEN] = "frozen",
};

/* What one decode shares between its scopes. */
typedef struct JsonDecode
{
	const char *text;
	size_t		len;
	int			negative_saturated; /* -1 until needed; see
									 * find_saturated_negative_integer */
	AxsDecodeError *err;
} JsonDecode;

/* The JSON object being read: its fields by JsonField, and where it sits. */
typedef struct JsonScope
{
	json_object *object;
	int			leg_index;		/* -1 at top level, i in legs[i] */
	uint32_t	present;		/* FIELD_BIT of every known key present */
	bool		has_unknown_key;
	json_object *values[FIELD_COUNT];	/* valid where present; NULL is JSON
										 * null */
	JsonDecode *decode;
} JsonScope;

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

/*
 * The deepest level a value may sit at: the event object is level 1, a value
 * inside an object or array is one level below it.  json-c's tokener counts
 * levels this way and fails at the first value deeper than its limit.  jsonb
 * has no such limit, so without this rule axs.apply would hand json-c a text
 * it calls malformed JSON while PostgreSQL has just read it as JSON.
 */
#define EVENT_MAX_DEPTH 32

/*
 * Offset of the first \u0000 escape in text, or len if there is none.
 * json-c decodes it into a NUL byte, and C strings end there: a key
 * "id\u0000x" would read as "id", a kind "deposit\u0000junk" as "deposit".
 * jsonb refuses the escape (22P05), so on every path it is an error.  Only
 * text json-c has read without a syntax error is judged by the offset, and
 * there a backslash is always an escape inside a string, so skipping the
 * character after each backslash keeps an escaped backslash ("\\u0000")
 * from passing for one.
 */
static size_t
find_nul_escape(const char *text, size_t len)
{
	static const char nul_escape[] = "\\u0000";
	const char *backslash = memchr(text, '\\', len);

	while (backslash != NULL)
	{
		size_t		at = (size_t) (backslash - text);

		if (len - at >= sizeof(nul_escape) - 1 &&
			memcmp(backslash, nul_escape, sizeof(nul_escape) - 1) == 0)
			return at;
		at += 2;
		if (at >= len)
			break;
		backslash = memchr(text + at, '\\', len - at);
	}
	return len;
}

/*
 * What a JSON number's text holds, read the way PostgreSQL's numeric reads
 * it: jsonb stores numbers as numeric, and axs.apply decodes the text jsonb
 * prints back ("100" for 1e2, "15.0" for 1.50e1, "1.00" for 100e-2).
 */
typedef enum JsonNumber
{
	NUMBER_INTEGER,				/* no fractional digit, fits in int64 */
	NUMBER_NOT_INTEGER,			/* a fractional digit left (even a zero), or
								 * no number at all */
	NUMBER_OUT_OF_RANGE			/* no fractional digit, beyond int64 */
} JsonNumber;

/* Exponents beyond this are all alike here: the digits overflow or vanish. */
#define NUMBER_EXPONENT_CAP 1000000000

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* magnitude = magnitude * 10^digits + the digits; false past limit. */
static bool
append_digits(const char *start, const char *end, uint64_t limit, uint64_t *magnitude)
{
	for (const char *at = start; at < end; at++)
	{
		unsigned	digit = (unsigned) (*at - '0');

		if (*magnitude > (limit - digit) / 10)
			return false;
		*magnitude = *magnitude * 10 + digit;
	}
	return true;
}

/*
 * Read the text of a JSON number (length bytes) as an integer.  numeric
 * keeps max(0, digits after the point - exponent) fractional digits (its
 * display scale); the number is an integer only when that is 0.  Anything
 * that is not JSON number syntax is NUMBER_NOT_INTEGER, so its field reads as
 * "must be an integer".
 */
static JsonNumber
read_number_text(const char *text, size_t length, int64_t *out)
{
	const char *at = text;
	const char *end = text + length;
	const char *integer_start;
	const char *integer_end;
	const char *fraction_start;
	const char *fraction_end;
	bool		negative = false;
	int64_t		exponent = 0;
	uint64_t	magnitude = 0;
	uint64_t	limit;

	if (at < end && *at == '-')
	{
		negative = true;
		at++;
	}
	integer_start = at;
	while (at < end && is_digit(*at))
		at++;
	integer_end = at;
	if (integer_end == integer_start)
		return NUMBER_NOT_INTEGER;
	fraction_start = fraction_end = at;
	if (at < end && *at == '.')
	{
		fraction_start = ++at;
		while (at < end && is_digit(*at))
			at++;
		fraction_end = at;
		if (fraction_end == fraction_start)
			return NUMBER_NOT_INTEGER;
	}
	if (at < end && (*at == 'e' || *at == 'E'))
	{
		bool		exponent_negative = false;

		at++;
		if (at < end && (*at == '+' || *at == '-'))
			exponent_negative = *at++ == '-';
		if (at == end || !is_digit(*at))
			return NUMBER_NOT_INTEGER;
		while (at < end && is_digit(*at))
		{
			if (exponent < NUMBER_EXPONENT_CAP)
				exponent = exponent * 10 + (*at - '0');
			at++;
		}
		if (exponent_negative)
			exponent = -exponent;
	}
	if (at != end)
		return NUMBER_NOT_INTEGER;
	if ((int64_t) (fraction_end - fraction_start) - exponent > 0)
		return NUMBER_NOT_INTEGER;

	/* every digit, then the zeros the exponent adds beyond the fraction */
	limit = negative ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
	if (!append_digits(integer_start, integer_end, limit, &magnitude) ||
		!append_digits(fraction_start, fraction_end, limit, &magnitude))
		return NUMBER_OUT_OF_RANGE;
	for (int64_t zeros = exponent - (fraction_end - fraction_start);
		 zeros > 0 && magnitude != 0; zeros--)
	{
		if (magnitude > limit / 10)
			return NUMBER_OUT_OF_RANGE;
		magnitude *= 10;
	}
	if (negative && magnitude != 0)
		*out = -(int64_t) (magnitude - 1) - 1;
	else
		*out = (int64_t) magnitude;
	return NUMBER_INTEGER;
}

/*
 * json-c 0.16 clamps a negative integer below INT64_MIN to INT64_MIN instead
 * of failing, so the parsed value cannot tell "-9223372036854775808" from
 * "-99999999999999999999".  Scan the text for such a literal (outside
 * strings); when one is present, any field that reads INT64_MIN is reported
 * out of range.  The scan is only needed once a field reads INT64_MIN.
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
		/* an exponent's sign ("1e-99999999999999999999") is no integer's */
		if (text[i] != '-' || (i > 0 && (text[i - 1] == 'e' || text[i - 1] == 'E')))
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

static bool
negative_saturated(JsonDecode *decode)
{
	if (decode->negative_saturated < 0)
		decode->negative_saturated = find_saturated_negative_integer(decode->text, decode->len);
	return decode->negative_saturated != 0;
}

/* Set up scope for object: one pass over its keys. */
static void
open_scope(JsonScope *scope, json_object *object, int leg_index, JsonDecode *decode)
{
	json_object_iter entry;

	scope->object = object;
	scope->leg_index = leg_index;
	scope->present = 0;
	scope->has_unknown_key = false;
	scope->decode = decode;
	json_object_object_foreachC(object, entry)
	{
		JsonField	field = json_classify_key(entry.key, strlen(entry.key));

		if (field == FIELD_UNKNOWN)
			scope->has_unknown_key = true;
		else
		{
			scope->present |= FIELD_BIT(field);
			scope->values[field] = entry.val;
		}
	}
}

/* The full path of a field of the scope, e.g. "amount" or "legs[2].currency". */
static const char *
field_path(const JsonScope *scope, JsonField field, char *buf, size_t size)
{
	if (scope->leg_index < 0)
		return field_names[field];
	snprintf(buf, size, "legs[%d].%s", scope->leg_index, field_names[field]);
	return buf;
}

/*
 * Report the first key of the scope's object, in object order, that is not
 * in allowed.  The mask test settles the usual case; only an event with an
 * unexpected key walks the object again to name it.
 */
static bool
check_keys(const JsonScope *scope, uint32_t allowed)
{
	char		prefix[24] = "";
	json_object_iter entry;

	if (!scope->has_unknown_key && (scope->present & ~allowed) == 0)
		return true;
	if (scope->leg_index >= 0)
		snprintf(prefix, sizeof(prefix), "legs[%d].", scope->leg_index);
	json_object_object_foreachC(scope->object, entry)
	{
		JsonField	field = json_classify_key(entry.key, strlen(entry.key));
		char		path[48];

		if (field != FIELD_UNKNOWN && (allowed & FIELD_BIT(field)) != 0)
			continue;
		snprintf(path, sizeof(path), "%s%s", prefix, entry.key);
		return json_error(scope->decode->err, AXS_DECODE_INVALID_EVENT, path,
						  "unexpected field \"%s%s\"", prefix, entry.key);
	}
	return true;
}

/*
 * Look a field up in the scope; *present tells whether the key is there at
 * all, since json-c represents a JSON null as a NULL *value.  Absence is an
 * error only when required.
 */
static bool
lookup(const JsonScope *scope, JsonField field, bool required, bool *present,
	   json_object **value)
{
	*present = (scope->present & FIELD_BIT(field)) != 0;
	*value = *present ? scope->values[field] : NULL;
	if (!*present && required)
	{
		char		buf[48];
		const char *path = field_path(scope, field, buf, sizeof(buf));

		return json_error(scope->decode->err, AXS_DECODE_INVALID_EVENT, path,
						  "missing field \"%s\"", path);
	}
	return true;
}

/*
 * Read an integer field.  An absent optional field keeps *out unchanged, so
 * callers set the default first.  json-c makes a double of any number with a
 * fraction or an exponent; such a number is read from its text, as jsonb
 * would read it (see read_number_text).
 */
static bool
read_integer(const JsonScope *scope, JsonField field, bool required, int64_t *out)
{
	json_object *value;
	bool		present;
	int64_t		number = 0;
	JsonNumber	reading = NUMBER_INTEGER;
	char		buf[48];

	if (!lookup(scope, field, required, &present, &value))
		return false;
	if (!present)
		return true;
	if (json_object_is_type(value, json_type_int))
	{
		number = json_object_get_int64(value);
		if ((number == INT64_MAX && json_object_get_uint64(value) > (uint64_t) INT64_MAX) ||
			(number == INT64_MIN && negative_saturated(scope->decode)))
			reading = NUMBER_OUT_OF_RANGE;
	}
	else if (json_object_is_type(value, json_type_double))
	{
		size_t		length;
		const char *text = json_object_to_json_string_length(value, JSON_C_TO_STRING_PLAIN,
															 &length);

		if (text != NULL)
			reading = read_number_text(text, length, &number);
		else
			reading = NUMBER_NOT_INTEGER;
	}
	else
		reading = NUMBER_NOT_INTEGER;

	if (reading != NUMBER_INTEGER)
	{
		const char *path = field_path(scope, field, buf, sizeof(buf));

		return json_error(scope->decode->err, AXS_DECODE_INVALID_EVENT, path,
						  reading == NUMBER_NOT_INTEGER ?
						  "field \"%s\" must be an integer" :
						  "field \"%s\" is out of range for a 64-bit integer", path);
	}
	*out = number;
	return true;
}

/*
 * Read a currency code field into dest (AXS_CURRENCY_CODE_MAX + 1 bytes).
 * Only codes that cannot be held in dest are rejected here; the character
 * rules are left to axs_event_validate.
 */
static bool
read_code(const JsonScope *scope, JsonField field, char *dest)
{
	json_object *value;
	bool		present;
	const char *code;
	size_t		length;
	char		buf[48];

	if (!lookup(scope, field, true, &present, &value))
		return false;
	if (!json_object_is_type(value, json_type_string))
	{
		const char *path = field_path(scope, field, buf, sizeof(buf));

		return json_error(scope->decode->err, AXS_DECODE_INVALID_EVENT, path,
						  "field \"%s\" must be a string", path);
	}
	code = json_object_get_string(value);
	length = (size_t) json_object_get_string_len(value);
	if (length > AXS_CURRENCY_CODE_MAX || strlen(code) != length)
	{
		const char *path = field_path(scope, field, buf, sizeof(buf));

		return json_error(scope->decode->err, AXS_DECODE_INVALID_EVENT, path,
						  "field \"%s\" must be a currency code of 1 to %d characters from A-Z a-z 0-9 _ . -",
						  path, AXS_CURRENCY_CODE_MAX);
	}
	memcpy(dest, code, length + 1);
	return true;
}

static bool
read_kind(const JsonScope *scope, AxsEventKind *kind)
{
	json_object *value;
	bool		present;
	const char *name;

	if (!lookup(scope, FIELD_KIND, true, &present, &value))
		return false;
	if (!json_object_is_type(value, json_type_string))
		return json_error(scope->decode->err, AXS_DECODE_INVALID_EVENT, "kind",
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
	return json_error(scope->decode->err, AXS_DECODE_INVALID_EVENT, "kind",
					  "field \"kind\" must be one of deposit, withdraw, freeze, unfreeze, transfer, trade, legs");
}

static bool
read_amount_event(const JsonScope *scope, AxsAmountEvent *event)
{
	return read_integer(scope, FIELD_ACCOUNT, true, &event->account) &&
		read_code(scope, FIELD_CURRENCY, event->currency) &&
		read_integer(scope, FIELD_AMOUNT, true, &event->amount);
}

static bool
read_transfer(const JsonScope *scope, AxsTransferEvent *event)
{
	return read_integer(scope, FIELD_FROM, true, &event->from_account) &&
		read_integer(scope, FIELD_TO, true, &event->to_account) &&
		read_code(scope, FIELD_CURRENCY, event->currency) &&
		read_integer(scope, FIELD_AMOUNT, true, &event->amount);
}

static bool
read_trade(const JsonScope *scope, AxsTradeEvent *event)
{
	event->buyer_fee = 0;
	event->seller_fee = 0;
	event->fee_account = 0;
	if (!read_integer(scope, FIELD_BUYER, true, &event->buyer) ||
		!read_integer(scope, FIELD_SELLER, true, &event->seller) ||
		!read_code(scope, FIELD_BASE, event->base) ||
		!read_code(scope, FIELD_QUOTE, event->quote) ||
		!read_integer(scope, FIELD_BASE_AMOUNT, true, &event->base_amount) ||
		!read_integer(scope, FIELD_QUOTE_AMOUNT, true, &event->quote_amount) ||
		!read_integer(scope, FIELD_BUYER_FEE, false, &event->buyer_fee) ||
		!read_integer(scope, FIELD_SELLER_FEE, false, &event->seller_fee))
		return false;

	/*
	 * fee_account 0 means "none" in AxsTradeEvent, so an explicit 0 must be
	 * rejected here, where it can still be told apart from an absent key.
	 * JSON null (a NULL object in json-c) counts as absent.
	 */
	if ((scope->present & FIELD_BIT(FIELD_FEE_ACCOUNT)) == 0 ||
		scope->values[FIELD_FEE_ACCOUNT] == NULL)
		return true;
	if (!read_integer(scope, FIELD_FEE_ACCOUNT, true, &event->fee_account))
		return false;
	if (event->fee_account <= 0)
		return json_error(scope->decode->err, AXS_DECODE_INVALID_EVENT, "fee_account",
						  "field \"fee_account\" must be a positive integer");
	return true;
}

static bool
read_legs(const JsonScope *scope, AxsLegsEvent *event)
{
	json_object *array;
	bool		present;
	size_t		count;

	if (!lookup(scope, FIELD_LEGS, true, &present, &array))
		return false;
	if (!json_object_is_type(array, json_type_array))
		return json_error(scope->decode->err, AXS_DECODE_INVALID_EVENT, "legs",
						  "field \"legs\" must be an array");
	count = json_object_array_length(array);
	if (count > AXS_MAX_RAW_LEGS)
		return json_error(scope->decode->err, AXS_DECODE_INVALID_EVENT, "legs",
						  "field \"legs\" must hold 1 to %d legs", AXS_MAX_RAW_LEGS);
	event->count = (int) count;

	for (int i = 0; i < event->count; i++)
	{
		JsonScope	leg_scope;
		json_object *leg_object = json_object_array_get_idx(array, (size_t) i);
		AxsRawLeg  *leg = &event->legs[i];

		if (!json_object_is_type(leg_object, json_type_object))
		{
			char		field[48];

			snprintf(field, sizeof(field), "legs[%d]", i);
			return json_error(scope->decode->err, AXS_DECODE_INVALID_EVENT, field,
							  "field \"%s\" must be an object", field);
		}
		open_scope(&leg_scope, leg_object, i, scope->decode);
		leg->available = 0;
		leg->frozen = 0;
		if (!check_keys(&leg_scope, LEG_FIELDS) ||
			!read_integer(&leg_scope, FIELD_ACCOUNT, true, &leg->account) ||
			!read_code(&leg_scope, FIELD_CURRENCY, leg->currency) ||
			!read_integer(&leg_scope, FIELD_AVAILABLE, false, &leg->available) ||
			!read_integer(&leg_scope, FIELD_FROZEN, false, &leg->frozen))
			return false;
	}
	return true;
}

/* Read the fields of a parsed JSON object into out. */
static bool
read_event(const JsonScope *scope, AxsEvent *out)
{
	uint32_t	kind_fields;

	if (!read_kind(scope, &out->kind))
		return false;
	switch (out->kind)
	{
		case AXS_KIND_TRANSFER:
			kind_fields = TRANSFER_FIELDS;
			break;
		case AXS_KIND_TRADE:
			kind_fields = TRADE_FIELDS;
			break;
		case AXS_KIND_LEGS:
			kind_fields = LEGS_EVENT_FIELDS;
			break;
		default:
			kind_fields = AMOUNT_EVENT_FIELDS;
			break;
	}
	if (!check_keys(scope, COMMON_FIELDS | kind_fields) ||
		!read_integer(scope, FIELD_ID, true, &out->id))
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

/*
 * One tokener per thread, reused for every decode: creating one costs an
 * allocation of its stack and buffer each time.  It is left reset after each
 * use, so it holds no parsed objects between calls; the key's destructor
 * frees it when its thread exits.  Its buffer grows to the longest token
 * parsed, so text longer than TOKENER_REUSE_MAX_TEXT gets a tokener of its
 * own, freed at once, and the kept buffer stays small.
 */
#define TOKENER_REUSE_MAX_TEXT 65536

static __thread json_tokener *thread_tokener;
static pthread_key_t tokener_key;
static pthread_once_t tokener_key_once = PTHREAD_ONCE_INIT;
static bool tokener_key_created;

static void
free_thread_tokener(void *tokener)
{
	json_tokener_free(tokener);
	thread_tokener = NULL;
}

static void
create_tokener_key(void)
{
	tokener_key_created = pthread_key_create(&tokener_key, free_thread_tokener) == 0;
}

/* This thread's tokener, or NULL when out of memory. */
static json_tokener *
get_thread_tokener(void)
{
	if (thread_tokener != NULL)
		return thread_tokener;
	thread_tokener = json_tokener_new_ex(EVENT_MAX_DEPTH);
	if (thread_tokener == NULL)
		return NULL;
	json_tokener_set_flags(thread_tokener, JSON_TOKENER_STRICT);
	pthread_once(&tokener_key_once, create_tokener_key);
	if (tokener_key_created)
		pthread_setspecific(tokener_key, thread_tokener);
	return thread_tokener;
}

bool
axs_event_from_json_reference(const char *text, size_t len, AxsEvent *out,
							  AxsDecodeError *err)
{
	json_tokener *tokener;
	json_object *root;
	enum json_tokener_error parse_error;
	size_t		parse_end;
	size_t		nul_escape_at;
	bool		ok;

	memset(out, 0, sizeof(*out));
	err->status = AXS_DECODE_OK;
	err->field[0] = '\0';
	err->message[0] = '\0';
	if (len > INT32_MAX)
		return json_error(err, AXS_DECODE_INVALID_JSON, "", "event text is too long");

	if (len <= TOKENER_REUSE_MAX_TEXT)
		tokener = get_thread_tokener();
	else
	{
		tokener = json_tokener_new_ex(EVENT_MAX_DEPTH);
		if (tokener != NULL)
			json_tokener_set_flags(tokener, JSON_TOKENER_STRICT);
	}
	if (tokener == NULL)
		return json_error(err, AXS_DECODE_INVALID_JSON, "", "out of memory for the JSON parser");
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
	/* drop the tokener's own references: root is ours alone now */
	if (tokener == thread_tokener)
		json_tokener_reset(tokener);
	else
		json_tokener_free(tokener);

	/*
	 * The first fault in reading order decides, as in PostgreSQL's own JSON
	 * parser: a \u0000 json-c has read past, then the depth at which it
	 * stopped, then any other syntax error.  Depth and \u0000 make an
	 * invalid event, not invalid JSON, since jsonb reads such text (or
	 * refuses it for its own reason) before axs.apply sees it.
	 */
	nul_escape_at = find_nul_escape(text, len);
	if (nul_escape_at < parse_end)
	{
		json_error(err, AXS_DECODE_INVALID_EVENT, "",
				   "event holds \\u0000 (a NUL character), which no key or value may hold");
		json_object_put(root);
		return false;
	}
	if (parse_error != json_tokener_success)
	{
		if (parse_error == json_tokener_error_depth)
			json_error(err, AXS_DECODE_INVALID_EVENT, "",
					   "event nests deeper than %d levels", EVENT_MAX_DEPTH);
		else
			json_error(err, AXS_DECODE_INVALID_JSON, "", "invalid JSON: %s",
					   json_tokener_error_desc(parse_error));
		json_object_put(root);
		return false;
	}

	while (parse_end < len && json_whitespace(text[parse_end]))
		parse_end++;
	if (parse_end < len)
		ok = json_error(err, AXS_DECODE_INVALID_JSON, "", "invalid JSON: unexpected text after the value");
	else if (!json_object_is_type(root, json_type_object))
		ok = json_error(err, AXS_DECODE_INVALID_EVENT, "", "event must be a JSON object");
	else
	{
		JsonDecode	decode = {text, len, -1, err};
		JsonScope	scope;

		open_scope(&scope, root, -1, &decode);
		ok = read_event(&scope, out) && axs_event_validate(out, err);
	}
	json_object_put(root);
	return ok;
}
