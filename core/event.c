/*
 * event.c
 *		Event kinds, currency codes, the validation rules every event must
 *		pass, and the compact binary payload (inbox and event log).
 *
 * This file owns the rules that need neither balances nor the currency
 * registry; balance rules live in ledger.c and the JSON form in
 * event_json_*.c.  Pure C: it must not include PostgreSQL headers.
 */
#include "event.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Version byte that starts every binary payload. */
#define PAYLOAD_FORMAT_VERSION 1

static bool event_error(AxsDecodeError *err, const char *field, const char *format,...)
			__attribute__((format(printf, 3, 4)));

static bool event_error(AxsDecodeError *err, const char *field, const char *format,...)
			__attribute__((format(printf, 3, 4)));

/* Fill err (status AXS_DECODE_INVALID_EVENT) and return false. */
static bool
event_error(AxsDecodeError *err, const char *field, const char *format,...)
{
	va_list		args;

	err->status = AXS_DECODE_INVALID_EVENT;
	snprintf(err->field, sizeof(err->field), "%s", field);
	va_start(args, format);
	vsnprintf(err->message, sizeof(err->message), format, args);
	va_end(args);
	return false;
}

static void
clear_error(AxsDecodeError *err)
{
	err->status = AXS_DECODE_OK;
	err->field[0] = '\0';
	err->message[0] = '\0';
}

const char *
axs_event_kind_name(AxsEventKind kind)
{
	switch (kind)
	{
		case AXS_KIND_DEPOSIT:
			return "deposit";
		case AXS_KIND_WITHDRAW:
			return "withdraw";
		case AXS_KIND_FREEZE:
			return "freeze";
		case AXS_KIND_UNFREEZE:
			return "unfreeze";
		case AXS_KIND_TRANSFER:
			return "transfer";
		case AXS_KIND_TRADE:
			return "trade";
		case AXS_KIND_LEGS:
			return "legs";
	}
	return NULL;
}

static bool
currency_character_valid(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

bool
axs_currency_code_valid(const char *code)
{
	size_t		length = 0;

	while (length <= AXS_CURRENCY_CODE_MAX && code[length] != '\0')
	{
		if (!currency_character_valid(code[length]))
			return false;
		length++;
	}
	return length >= 1 && length <= AXS_CURRENCY_CODE_MAX;
}

/* Validation helpers: each checks one rule and names the field it blames. */

static bool
check_positive(int64_t value, const char *field, AxsDecodeError *err)
{
	if (value <= 0)
		return event_error(err, field, "field \"%s\" must be a positive integer", field);
	return true;
}

static bool
check_currency(const char *code, const char *field, AxsDecodeError *err)
{
	if (!axs_currency_code_valid(code))
		return event_error(err, field,
						   "field \"%s\" must be a currency code of 1 to %d characters from A-Z a-z 0-9 _ . -",
						   field, AXS_CURRENCY_CODE_MAX);
	return true;
}

static bool
check_fee(int64_t fee, const char *fee_field, int64_t amount,
		  const char *amount_field, AxsDecodeError *err)
{
	if (fee < 0)
		return event_error(err, fee_field, "field \"%s\" must be a non-negative integer", fee_field);
	if (fee > amount)
		return event_error(err, fee_field, "field \"%s\" must not exceed field \"%s\"",
						   fee_field, amount_field);
	return true;
}

/* Decimal text of a 128-bit integer; buf must hold at least 41 bytes. */
static const char *
int128_text(__int128 value, char *buf, size_t cap)
{
	unsigned __int128 magnitude = value < 0 ? -(unsigned __int128) value : (unsigned __int128) value;
	size_t		position = cap - 1;

	buf[position] = '\0';
	do
	{
		buf[--position] = (char) ('0' + (int) (magnitude % 10));
		magnitude /= 10;
	} while (magnitude != 0);
	if (value < 0)
		buf[--position] = '-';
	return buf + position;
}

static bool
validate_amount_event(const AxsAmountEvent *event, AxsDecodeError *err)
{
	return check_positive(event->account, "account", err) &&
		check_currency(event->currency, "currency", err) &&
		check_positive(event->amount, "amount", err);
}

static bool
validate_transfer(const AxsTransferEvent *event, AxsDecodeError *err)
{
	if (!check_positive(event->from_account, "from", err) ||
		!check_positive(event->to_account, "to", err) ||
		!check_currency(event->currency, "currency", err) ||
		!check_positive(event->amount, "amount", err))
		return false;
	if (event->from_account == event->to_account)
		return event_error(err, "to", "field \"to\" must differ from field \"from\"");
	return true;
}

static bool
validate_trade(const AxsTradeEvent *event, AxsDecodeError *err)
{
	if (!check_positive(event->buyer, "buyer", err) ||
		!check_positive(event->seller, "seller", err) ||
		!check_currency(event->base, "base", err) ||
		!check_currency(event->quote, "quote", err))
		return false;
	/* refused like a transfer to oneself: a trade is between two accounts */
	if (event->seller == event->buyer)
		return event_error(err, "seller", "field \"seller\" must differ from field \"buyer\"");
	if (strcmp(event->base, event->quote) == 0)
		return event_error(err, "quote", "field \"quote\" must differ from field \"base\"");
	if (!check_positive(event->base_amount, "base_amount", err) ||
		!check_positive(event->quote_amount, "quote_amount", err) ||
		!check_fee(event->buyer_fee, "buyer_fee", event->base_amount, "base_amount", err) ||
		!check_fee(event->seller_fee, "seller_fee", event->quote_amount, "quote_amount", err))
		return false;
	if (event->fee_account < 0)
		return event_error(err, "fee_account", "field \"fee_account\" must be a positive integer");
	if (event->fee_account == 0 && (event->buyer_fee != 0 || event->seller_fee != 0))
		return event_error(err, "fee_account",
						   "missing field \"fee_account\", required when a fee is non-zero");
	return true;
}

static bool
validate_legs(const AxsLegsEvent *event, AxsDecodeError *err)
{
	char		field[48];

	if (event->count < 1 || event->count > AXS_MAX_RAW_LEGS)
		return event_error(err, "legs", "field \"legs\" must hold 1 to %d legs", AXS_MAX_RAW_LEGS);

	/* a leg's field names are built only for the error that needs them */
	for (int i = 0; i < event->count; i++)
	{
		if (event->legs[i].account <= 0)
		{
			snprintf(field, sizeof(field), "legs[%d].account", i);
			return check_positive(event->legs[i].account, field, err);
		}
		if (!axs_currency_code_valid(event->legs[i].currency))
		{
			snprintf(field, sizeof(field), "legs[%d].currency", i);
			return check_currency(event->legs[i].currency, field, err);
		}
	}

	/*
	 * Sum each currency once, at its first leg; 128 bits hold the sum of
	 * 2 * AXS_MAX_RAW_LEGS 64-bit deltas without overflow.
	 */
	for (int first = 0; first < event->count; first++)
	{
		const char *currency = event->legs[first].currency;
		__int128	sum = 0;
		bool		seen_before = false;
		char		sum_text[48];

		for (int i = 0; i < first && !seen_before; i++)
			seen_before = strcmp(event->legs[i].currency, currency) == 0;
		if (seen_before)
			continue;
		for (int i = first; i < event->count; i++)
		{
			if (strcmp(event->legs[i].currency, currency) == 0)
				sum += (__int128) event->legs[i].available + event->legs[i].frozen;
		}
		if (sum != 0)
			return event_error(err, "legs", "legs must sum to zero per currency (%s is off by %s)",
							   currency, int128_text(sum, sum_text, sizeof(sum_text)));
	}
	return true;
}

bool
axs_event_validate(const AxsEvent *event, AxsDecodeError *err)
{
	bool		valid;

	clear_error(err);
	if (event->id <= 0)
		return event_error(err, "id", "field \"id\" must be a positive integer");

	switch (event->kind)
	{
		case AXS_KIND_DEPOSIT:
		case AXS_KIND_WITHDRAW:
		case AXS_KIND_FREEZE:
		case AXS_KIND_UNFREEZE:
			valid = validate_amount_event(&event->u.amount, err);
			break;
		case AXS_KIND_TRANSFER:
			valid = validate_transfer(&event->u.transfer, err);
			break;
		case AXS_KIND_TRADE:
			valid = validate_trade(&event->u.trade, err);
			break;
		case AXS_KIND_LEGS:
			valid = validate_legs(&event->u.legs, err);
			break;
		default:
			return event_error(err, "kind", "field \"kind\" has unknown value %d", (int) event->kind);
	}
	return valid;
}

/*
 * Binary payload writer.  Once a write does not fit, overflowed stays set and
 * nothing more is written.
 */
typedef struct PayloadWriter
{
	uint8_t    *buf;
	size_t		cap;
	size_t		length;
	bool		overflowed;
} PayloadWriter;

static void
write_bytes(PayloadWriter *writer, const void *bytes, size_t count)
{
	if (writer->overflowed || writer->cap - writer->length < count)
	{
		writer->overflowed = true;
		return;
	}
	memcpy(writer->buf + writer->length, bytes, count);
	writer->length += count;
}

static void
write_uint8(PayloadWriter *writer, uint8_t value)
{
	write_bytes(writer, &value, 1);
}

static void
write_int64(PayloadWriter *writer, int64_t value)
{
	uint64_t	bits = (uint64_t) value;
	uint8_t		bytes[8];

	for (int i = 7; i >= 0; i--)
	{
		bytes[i] = (uint8_t) (bits & 0xff);
		bits >>= 8;
	}
	write_bytes(writer, bytes, sizeof(bytes));
}

static void
write_code(PayloadWriter *writer, const char *code)
{
	const char *end = memchr(code, '\0', AXS_CURRENCY_CODE_MAX);
	size_t		length = end == NULL ? AXS_CURRENCY_CODE_MAX : (size_t) (end - code);

	write_uint8(writer, (uint8_t) length);
	write_bytes(writer, code, length);
}

size_t
axs_event_encode(const AxsEvent *event, uint8_t *buf, size_t cap)
{
	PayloadWriter writer = {buf, cap, 0, false};

	write_uint8(&writer, PAYLOAD_FORMAT_VERSION);
	write_uint8(&writer, (uint8_t) event->kind);
	switch (event->kind)
	{
		case AXS_KIND_DEPOSIT:
		case AXS_KIND_WITHDRAW:
		case AXS_KIND_FREEZE:
		case AXS_KIND_UNFREEZE:
			write_int64(&writer, event->u.amount.account);
			write_code(&writer, event->u.amount.currency);
			write_int64(&writer, event->u.amount.amount);
			break;
		case AXS_KIND_TRANSFER:
			write_int64(&writer, event->u.transfer.from_account);
			write_int64(&writer, event->u.transfer.to_account);
			write_code(&writer, event->u.transfer.currency);
			write_int64(&writer, event->u.transfer.amount);
			break;
		case AXS_KIND_TRADE:
			write_int64(&writer, event->u.trade.buyer);
			write_int64(&writer, event->u.trade.seller);
			write_code(&writer, event->u.trade.base);
			write_code(&writer, event->u.trade.quote);
			write_int64(&writer, event->u.trade.base_amount);
			write_int64(&writer, event->u.trade.quote_amount);
			write_int64(&writer, event->u.trade.buyer_fee);
			write_int64(&writer, event->u.trade.seller_fee);
			write_int64(&writer, event->u.trade.fee_account);
			break;
		case AXS_KIND_LEGS:
			if (event->u.legs.count < 0 || event->u.legs.count > AXS_MAX_RAW_LEGS)
				return 0;
			write_uint8(&writer, (uint8_t) event->u.legs.count);
			for (int i = 0; i < event->u.legs.count; i++)
			{
				write_int64(&writer, event->u.legs.legs[i].account);
				write_code(&writer, event->u.legs.legs[i].currency);
				write_int64(&writer, event->u.legs.legs[i].available);
				write_int64(&writer, event->u.legs.legs[i].frozen);
			}
			break;
		default:
			return 0;
	}
	return writer.overflowed ? 0 : writer.length;
}

/*
 * Binary payload reader.  A read past the end sets truncated and yields
 * zeros, so a decoder can read a whole layout and check once.
 */
typedef struct PayloadReader
{
	const uint8_t *buf;
	size_t		length;
	size_t		position;
	bool		truncated;
	bool		malformed_code;
} PayloadReader;

static const uint8_t *
read_bytes(PayloadReader *reader, size_t count)
{
	const uint8_t *bytes;

	if (reader->truncated || reader->length - reader->position < count)
	{
		reader->truncated = true;
		return NULL;
	}
	bytes = reader->buf + reader->position;
	reader->position += count;
	return bytes;
}

static uint8_t
read_uint8(PayloadReader *reader)
{
	const uint8_t *bytes = read_bytes(reader, 1);

	return bytes == NULL ? 0 : bytes[0];
}

static int64_t
read_int64(PayloadReader *reader)
{
	const uint8_t *bytes = read_bytes(reader, 8);
	uint64_t	bits = 0;

	if (bytes == NULL)
		return 0;
	for (int i = 0; i < 8; i++)
		bits = (bits << 8) | bytes[i];
	return (int64_t) bits;
}

/*
 * Read a code into dest (AXS_CURRENCY_CODE_MAX + 1 bytes).  A code that is
 * empty, too long or holds a NUL byte would not survive a round trip through
 * a C string, so it marks the payload malformed.
 */
static void
read_code(PayloadReader *reader, char *dest)
{
	uint8_t		length = read_uint8(reader);
	const uint8_t *bytes = read_bytes(reader, length);

	dest[0] = '\0';
	if (bytes == NULL)
		return;
	if (length == 0 || length > AXS_CURRENCY_CODE_MAX || memchr(bytes, '\0', length) != NULL)
	{
		reader->malformed_code = true;
		return;
	}
	memcpy(dest, bytes, length);
	dest[length] = '\0';
}

bool
axs_event_decode(int64_t id, const uint8_t *buf, size_t len,
				 AxsEvent *out, AxsDecodeError *err)
{
	PayloadReader reader = {buf, len, 0, false, false};
	uint8_t		version;
	uint8_t		kind;

	clear_error(err);
	memset(out, 0, sizeof(*out));
	out->id = id;

	version = read_uint8(&reader);
	kind = read_uint8(&reader);
	if (reader.truncated)
		return event_error(err, "", "payload is truncated");
	if (version != PAYLOAD_FORMAT_VERSION)
		return event_error(err, "", "payload format version %d is not supported", version);
	out->kind = (AxsEventKind) kind;

	switch (out->kind)
	{
		case AXS_KIND_DEPOSIT:
		case AXS_KIND_WITHDRAW:
		case AXS_KIND_FREEZE:
		case AXS_KIND_UNFREEZE:
			out->u.amount.account = read_int64(&reader);
			read_code(&reader, out->u.amount.currency);
			out->u.amount.amount = read_int64(&reader);
			break;
		case AXS_KIND_TRANSFER:
			out->u.transfer.from_account = read_int64(&reader);
			out->u.transfer.to_account = read_int64(&reader);
			read_code(&reader, out->u.transfer.currency);
			out->u.transfer.amount = read_int64(&reader);
			break;
		case AXS_KIND_TRADE:
			out->u.trade.buyer = read_int64(&reader);
			out->u.trade.seller = read_int64(&reader);
			read_code(&reader, out->u.trade.base);
			read_code(&reader, out->u.trade.quote);
			out->u.trade.base_amount = read_int64(&reader);
			out->u.trade.quote_amount = read_int64(&reader);
			out->u.trade.buyer_fee = read_int64(&reader);
			out->u.trade.seller_fee = read_int64(&reader);
			out->u.trade.fee_account = read_int64(&reader);
			break;
		case AXS_KIND_LEGS:
			out->u.legs.count = read_uint8(&reader);
			if (out->u.legs.count > AXS_MAX_RAW_LEGS)
				return event_error(err, "legs", "field \"legs\" must hold 1 to %d legs",
								   AXS_MAX_RAW_LEGS);
			for (int i = 0; i < out->u.legs.count; i++)
			{
				out->u.legs.legs[i].account = read_int64(&reader);
				read_code(&reader, out->u.legs.legs[i].currency);
				out->u.legs.legs[i].available = read_int64(&reader);
				out->u.legs.legs[i].frozen = read_int64(&reader);
			}
			break;
		default:
			return event_error(err, "kind", "payload kind %d is unknown", kind);
	}

	if (reader.truncated)
		return event_error(err, "", "payload is truncated");
	if (reader.position != len)
		return event_error(err, "", "payload has %zu trailing bytes", len - reader.position);
	if (reader.malformed_code)
		return event_error(err, "", "payload holds a currency code that is empty, longer than %d bytes or holds a NUL byte",
						   AXS_CURRENCY_CODE_MAX);
	return axs_event_validate(out, err);
}
