/*
 * event_json_fast.c
 *		The fast JSON scanner, and axs_event_from_json, which tries it first
 *		and falls back on the reference decoder (event_json_reference.c).
 *
 * json-c builds a heap object per value and a hash table per object.  This
 * scanner reads the common shape of an event in one pass without
 * allocating: an object of known, distinct keys in any order, JSON
 * whitespace anywhere between tokens, strings without escapes (printable
 * ASCII), non-negative integers without fraction or exponent that fit in
 * int64, kinds other than legs.  On anything else (a legs event, an escape,
 * a negative number, a fraction or an exponent, null, a nested value, an
 * unknown, duplicate or missing key, malformed text) it declines and the
 * reference decoder judges the text, so every error message, and the
 * meaning of every valid text, stays the reference decoder's; the unit test
 * test_event_json_fast.c checks the two against each other on mutated
 * texts.  Pure C: it must not include PostgreSQL headers.
 */
#include "event.h"

#include <stdint.h>
#include <string.h>

#include "event_json_fields.h"

typedef struct FastScanner
{
	const char *at;
	const char *end;
} FastScanner;

/* The fields whose JSON value is a string; every other one is an integer. */
#define FAST_STRING_FIELDS \
	(FIELD_BIT(FIELD_KIND) | FIELD_BIT(FIELD_CURRENCY) | FIELD_BIT(FIELD_BASE) | \
	 FIELD_BIT(FIELD_QUOTE))

/* A scanned value: a string's bytes, or an integer. */
typedef struct FastValue
{
	const char *string;			/* NULL for an integer */
	size_t		length;
	int64_t		integer;
} FastValue;

static void
fast_skip_whitespace(FastScanner *scanner)
{
	while (scanner->at < scanner->end && json_whitespace(*scanner->at))
		scanner->at++;
}

static bool
fast_expect(FastScanner *scanner, char c)
{
	fast_skip_whitespace(scanner);
	if (scanner->at >= scanner->end || *scanner->at != c)
		return false;
	scanner->at++;
	return true;
}

/* A string of printable ASCII without escapes; the scanner is past its quote. */
static bool
fast_string(FastScanner *scanner, FastValue *value)
{
	const char *start = scanner->at;

	while (scanner->at < scanner->end)
	{
		unsigned char c = (unsigned char) *scanner->at;

		if (c == '"')
		{
			value->string = start;
			value->length = (size_t) (scanner->at - start);
			scanner->at++;
			return true;
		}
		if (c == '\\' || c < 0x20 || c >= 0x7f)
			return false;
		scanner->at++;
	}
	return false;
}

/*
 * A non-negative integer that fits in int64.  A leading zero ("01"), a
 * fraction or an exponent leaves a digit, '.', 'e' or 'E' next, which the
 * caller's check for ',' or '}' declines.
 */
static bool
fast_integer(FastScanner *scanner, FastValue *value)
{
	uint64_t	number = 0;
	const char *start = scanner->at;

	if (scanner->at < scanner->end && *scanner->at == '0')
		scanner->at++;
	else
	{
		while (scanner->at < scanner->end && *scanner->at >= '0' && *scanner->at <= '9')
		{
			unsigned	digit = (unsigned) (*scanner->at - '0');

			if (number > ((uint64_t) INT64_MAX - digit) / 10)
				return false;
			number = number * 10 + digit;
			scanner->at++;
		}
	}
	value->string = NULL;
	value->integer = (int64_t) number;
	return scanner->at > start;
}

/* Copy a scanned currency code into dest, if it fits (see read_code). */
static bool
fast_code(const FastValue *value, char *dest)
{
	if (value->length > AXS_CURRENCY_CODE_MAX)
		return false;
	memcpy(dest, value->string, value->length);
	dest[value->length] = '\0';
	return true;
}

static bool
fast_kind(const FastValue *value, AxsEventKind *kind)
{
	for (int candidate = AXS_KIND_DEPOSIT; candidate < AXS_KIND_LEGS; candidate++)
	{
		const char *name = axs_event_kind_name((AxsEventKind) candidate);

		if (strlen(name) == value->length && memcmp(name, value->string, value->length) == 0)
		{
			*kind = (AxsEventKind) candidate;
			return true;
		}
	}
	return false;
}

/* Read the fields of a scanned event into out (zeroed by the caller). */
static bool
fast_read_fields(const FastValue *values, uint32_t present, AxsEvent *out)
{
	uint32_t	required;
	uint32_t	allowed;

	switch (out->kind)
	{
		case AXS_KIND_TRANSFER:
			required = allowed = TRANSFER_FIELDS;
			break;
		case AXS_KIND_TRADE:
			allowed = TRADE_FIELDS;
			required = TRADE_FIELDS & ~(FIELD_BIT(FIELD_BUYER_FEE) | FIELD_BIT(FIELD_SELLER_FEE) |
										FIELD_BIT(FIELD_FEE_ACCOUNT));
			break;
		default:
			required = allowed = AMOUNT_EVENT_FIELDS;
			break;
	}
	required |= COMMON_FIELDS;
	allowed |= COMMON_FIELDS;
	if ((present & ~allowed) != 0 || (present & required) != required)
		return false;

	out->id = values[FIELD_ID].integer;
	switch (out->kind)
	{
		case AXS_KIND_TRANSFER:
			out->u.transfer.from_account = values[FIELD_FROM].integer;
			out->u.transfer.to_account = values[FIELD_TO].integer;
			out->u.transfer.amount = values[FIELD_AMOUNT].integer;
			return fast_code(&values[FIELD_CURRENCY], out->u.transfer.currency);
		case AXS_KIND_TRADE:
			out->u.trade.buyer = values[FIELD_BUYER].integer;
			out->u.trade.seller = values[FIELD_SELLER].integer;
			out->u.trade.base_amount = values[FIELD_BASE_AMOUNT].integer;
			out->u.trade.quote_amount = values[FIELD_QUOTE_AMOUNT].integer;
			if (present & FIELD_BIT(FIELD_BUYER_FEE))
				out->u.trade.buyer_fee = values[FIELD_BUYER_FEE].integer;
			if (present & FIELD_BIT(FIELD_SELLER_FEE))
				out->u.trade.seller_fee = values[FIELD_SELLER_FEE].integer;
			if (present & FIELD_BIT(FIELD_FEE_ACCOUNT))
			{
				/* an explicit 0 is an error the reference decoder words */
				out->u.trade.fee_account = values[FIELD_FEE_ACCOUNT].integer;
				if (out->u.trade.fee_account == 0)
					return false;
			}
			return fast_code(&values[FIELD_BASE], out->u.trade.base) &&
				fast_code(&values[FIELD_QUOTE], out->u.trade.quote);
		default:
			out->u.amount.account = values[FIELD_ACCOUNT].integer;
			out->u.amount.amount = values[FIELD_AMOUNT].integer;
			return fast_code(&values[FIELD_CURRENCY], out->u.amount.currency);
	}
}

AxsFastDecode
axs_event_from_json_fast(const char *text, size_t len, AxsEvent *out,
						 AxsDecodeError *err)
{
	FastScanner scanner = {text, text + len};
	FastValue	values[FIELD_COUNT];
	uint32_t	present = 0;

	if (!fast_expect(&scanner, '{'))
		return AXS_FAST_DECLINED;
	do
	{
		FastValue	key;
		JsonField	field;

		if (!fast_expect(&scanner, '"') || !fast_string(&scanner, &key))
			return AXS_FAST_DECLINED;
		field = json_classify_key(key.string, key.length);
		if (field == FIELD_UNKNOWN || field == FIELD_LEGS ||
			(present & FIELD_BIT(field)) != 0 || !fast_expect(&scanner, ':'))
			return AXS_FAST_DECLINED;
		present |= FIELD_BIT(field);
		/* each field's JSON type is known: a value of another declines */
		if ((FAST_STRING_FIELDS & FIELD_BIT(field)) != 0)
		{
			if (!fast_expect(&scanner, '"') || !fast_string(&scanner, &values[field]))
				return AXS_FAST_DECLINED;
		}
		else
		{
			fast_skip_whitespace(&scanner);
			if (!fast_integer(&scanner, &values[field]))
				return AXS_FAST_DECLINED;
		}
		fast_skip_whitespace(&scanner);
		if (scanner.at >= scanner.end)
			return AXS_FAST_DECLINED;
	} while (*scanner.at++ == ',');
	if (scanner.at[-1] != '}')
		return AXS_FAST_DECLINED;
	fast_skip_whitespace(&scanner);
	if (scanner.at != scanner.end || (present & FIELD_BIT(FIELD_KIND)) == 0)
		return AXS_FAST_DECLINED;

	memset(out, 0, sizeof(*out));
	if (!fast_kind(&values[FIELD_KIND], &out->kind) ||
		!fast_read_fields(values, present, out))
		return AXS_FAST_DECLINED;
	err->status = AXS_DECODE_OK;
	err->field[0] = '\0';
	err->message[0] = '\0';
	return axs_event_validate(out, err) ? AXS_FAST_VALID : AXS_FAST_INVALID;
}

/* The fast scanner first; the reference decoder for whatever it declines. */
bool
axs_event_from_json(const char *text, size_t len, AxsEvent *out,
					AxsDecodeError *err)
{
	switch (axs_event_from_json_fast(text, len, out, err))
	{
		case AXS_FAST_VALID:
			return true;
		case AXS_FAST_INVALID:
			return false;
		case AXS_FAST_DECLINED:
			break;
	}
	return axs_event_from_json_reference(text, len, out, err);
}
