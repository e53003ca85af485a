/*
 * event_json_writer.c
 *		The canonical JSON form of an event (axs_event_to_json): fixed key
 *		order, optional trade fields always written, no whitespace.
 *
 * Written without printf, since axs-loadgen writes every message it
 * produces here.  It writes only; reading JSON is the decoders'
 * (event_json_reference.c, event_json_fast.c).  Pure C: it must not include
 * PostgreSQL headers.
 */
#include "decimal.h"
#include "event.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/*
 * The buffer being written: once a write does not fit, overflowed stays set
 * and the result is discarded.
 */
typedef struct JsonWriter
{
	char	   *buf;
	size_t		cap;
	size_t		length;
	bool		overflowed;
} JsonWriter;

/* Append length bytes; the buffer keeps room for the final NUL. */
static void
append_bytes(JsonWriter *writer, const char *bytes, size_t length)
{
	if (writer->overflowed || length >= writer->cap - writer->length)
	{
		writer->overflowed = true;
		return;
	}
	memcpy(writer->buf + writer->length, bytes, length);
	writer->length += length;
	writer->buf[writer->length] = '\0';
}

#define append_literal(writer, literal) append_bytes((writer), (literal), sizeof(literal) - 1)

static void
append_int64(JsonWriter *writer, int64_t value)
{
	char		decimal[DECIMAL_INT64_BYTES];

	append_bytes(writer, decimal, decimal_int64(value, decimal));
}

/*
 * "key":value and "key":"code".  Currency codes are written as they are: a
 * valid code needs no escaping, and only valid events are written.
 */
static void
append_field(JsonWriter *writer, const char *key, int64_t value)
{
	append_literal(writer, ",\"");
	append_bytes(writer, key, strlen(key));
	append_literal(writer, "\":");
	append_int64(writer, value);
}

static void
append_code(JsonWriter *writer, const char *key, const char *code)
{
	const char *nul = memchr(code, '\0', AXS_CURRENCY_CODE_MAX);

	append_literal(writer, ",\"");
	append_bytes(writer, key, strlen(key));
	append_literal(writer, "\":\"");
	append_bytes(writer, code, nul != NULL ? (size_t) (nul - code) : AXS_CURRENCY_CODE_MAX);
	append_literal(writer, "\"");
}

size_t
axs_event_to_json(const AxsEvent *event, char *buf, size_t cap)
{
	JsonWriter	writer = {buf, cap, 0, cap == 0};
	const char *kind_name = axs_event_kind_name(event->kind);

	if (kind_name == NULL)
		return 0;
	append_literal(&writer, "{\"id\":");
	append_int64(&writer, event->id);
	append_literal(&writer, ",\"kind\":\"");
	append_bytes(&writer, kind_name, strlen(kind_name));
	append_literal(&writer, "\"");
	switch (event->kind)
	{
		case AXS_KIND_DEPOSIT:
		case AXS_KIND_WITHDRAW:
		case AXS_KIND_FREEZE:
		case AXS_KIND_UNFREEZE:
			append_field(&writer, "account", event->u.amount.account);
			append_code(&writer, "currency", event->u.amount.currency);
			append_field(&writer, "amount", event->u.amount.amount);
			break;
		case AXS_KIND_TRANSFER:
			append_field(&writer, "from", event->u.transfer.from_account);
			append_field(&writer, "to", event->u.transfer.to_account);
			append_code(&writer, "currency", event->u.transfer.currency);
			append_field(&writer, "amount", event->u.transfer.amount);
			break;
		case AXS_KIND_TRADE:
			append_field(&writer, "buyer", event->u.trade.buyer);
			append_field(&writer, "seller", event->u.trade.seller);
			append_code(&writer, "base", event->u.trade.base);
			append_code(&writer, "quote", event->u.trade.quote);
			append_field(&writer, "base_amount", event->u.trade.base_amount);
			append_field(&writer, "quote_amount", event->u.trade.quote_amount);
			append_field(&writer, "buyer_fee", event->u.trade.buyer_fee);
			append_field(&writer, "seller_fee", event->u.trade.seller_fee);
			if (event->u.trade.fee_account != 0)
				append_field(&writer, "fee_account", event->u.trade.fee_account);
			break;
		case AXS_KIND_LEGS:
			if (event->u.legs.count < 0 || event->u.legs.count > AXS_MAX_RAW_LEGS)
				return 0;
			append_literal(&writer, ",\"legs\":[");
			for (int i = 0; i < event->u.legs.count; i++)
			{
				const AxsRawLeg *leg = &event->u.legs.legs[i];

				if (i > 0)
					append_literal(&writer, ",");
				append_literal(&writer, "{\"account\":");
				append_int64(&writer, leg->account);
				append_code(&writer, "currency", leg->currency);
				append_field(&writer, "available", leg->available);
				append_field(&writer, "frozen", leg->frozen);
				append_literal(&writer, "}");
			}
			append_literal(&writer, "]");
			break;
	}
	append_literal(&writer, "}");
	return writer.overflowed ? 0 : writer.length;
}
