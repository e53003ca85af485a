/*
 * event_json_fields.h
 *		The keys of an event's JSON form, shared by the reference decoder
 *		(event_json_reference.c) and the fast scanner (event_json_fast.c):
 *		every key an event or a leg may hold, the keys each kind allows, and
 *		the classification of a key's text.
 *
 * Internal to the core's JSON decoders: callers use event.h.  Pure C: it
 * must not include PostgreSQL headers.
 */
#ifndef AXS_EVENT_JSON_FIELDS_H
#define AXS_EVENT_JSON_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Every key an event or a leg may hold.  Keys are classified once, in one
 * pass over the parsed object, so reading a field is an array access rather
 * than a hash lookup, and the unexpected-key check is a mask test.
 */
typedef enum JsonField
{
	FIELD_ID,
	FIELD_KIND,
	FIELD_ACCOUNT,
	FIELD_CURRENCY,
	FIELD_AMOUNT,
	FIELD_FROM,
	FIELD_TO,
	FIELD_BUYER,
	FIELD_SELLER,
	FIELD_BASE,
	FIELD_QUOTE,
	FIELD_BASE_AMOUNT,
	FIELD_QUOTE_AMOUNT,
	FIELD_BUYER_FEE,
	FIELD_SELLER_FEE,
	FIELD_FEE_ACCOUNT,
	FIELD_LEGS,
	FIELD_AVAILABLE,
	FIELD_FROZEN,
	FIELD_COUNT,
	FIELD_UNKNOWN = FIELD_COUNT
} JsonField;

#define FIELD_BIT(field) ((uint32_t) 1 << (field))

/* Keys an event object may hold; id and kind are allowed for every kind. */
#define COMMON_FIELDS (FIELD_BIT(FIELD_ID) | FIELD_BIT(FIELD_KIND))
#define AMOUNT_EVENT_FIELDS \
	(FIELD_BIT(FIELD_ACCOUNT) | FIELD_BIT(FIELD_CURRENCY) | FIELD_BIT(FIELD_AMOUNT))
#define TRANSFER_FIELDS \
	(FIELD_BIT(FIELD_FROM) | FIELD_BIT(FIELD_TO) | FIELD_BIT(FIELD_CURRENCY) | \
	 FIELD_BIT(FIELD_AMOUNT))
#define TRADE_FIELDS \
	(FIELD_BIT(FIELD_BUYER) | FIELD_BIT(FIELD_SELLER) | FIELD_BIT(FIELD_BASE) | \
	 FIELD_BIT(FIELD_QUOTE) | FIELD_BIT(FIELD_BASE_AMOUNT) | \
	 FIELD_BIT(FIELD_QUOTE_AMOUNT) | FIELD_BIT(FIELD_BUYER_FEE) | \
	 FIELD_BIT(FIELD_SELLER_FEE) | FIELD_BIT(FIELD_FEE_ACCOUNT))
#define LEGS_EVENT_FIELDS FIELD_BIT(FIELD_LEGS)
#define LEG_FIELDS \
	(FIELD_BIT(FIELD_ACCOUNT) | FIELD_BIT(FIELD_CURRENCY) | \
	 FIELD_BIT(FIELD_AVAILABLE) | FIELD_BIT(FIELD_FROZEN))

/* JSON whitespace: space, tab, line feed, carriage return. */
static inline bool
json_whitespace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

#define KEY_IS(key, length, literal) \
	((length) == sizeof(literal) - 1 && memcmp((key), (literal), sizeof(literal) - 1) == 0)

/* The JsonField a key of length bytes names, or FIELD_UNKNOWN. */
static inline JsonField
json_classify_key(const char *key, size_t length)
{
	switch (length)
	{
		case 2:
			return KEY_IS(key, length, "id") ? FIELD_ID :
				KEY_IS(key, length, "to") ? FIELD_TO : FIELD_UNKNOWN;
		case 4:
			return KEY_IS(key, length, "kind") ? FIELD_KIND :
				KEY_IS(key, length, "from") ? FIELD_FROM :
				KEY_IS(key, length, "base") ? FIELD_BASE :
				KEY_IS(key, length, "legs") ? FIELD_LEGS : FIELD_UNKNOWN;
		case 5:
			return KEY_IS(key, length, "buyer") ? FIELD_BUYER :
				KEY_IS(key, length, "quote") ? FIELD_QUOTE : FIELD_UNKNOWN;
		case 6:
			return KEY_IS(key, length, "amount") ? FIELD_AMOUNT :
				KEY_IS(key, length, "seller") ? FIELD_SELLER :
				KEY_IS(key, length, "frozen") ? FIELD_FROZEN : FIELD_UNKNOWN;
		case 7:
			return KEY_IS(key, length, "account") ? FIELD_ACCOUNT : FIELD_UNKNOWN;
		case 8:
			return KEY_IS(key, length, "currency") ? FIELD_CURRENCY : FIELD_UNKNOWN;
		case 9:
			return KEY_IS(key, length, "buyer_fee") ? FIELD_BUYER_FEE :
				KEY_IS(key, length, "available") ? FIELD_AVAILABLE : FIELD_UNKNOWN;
		case 10:
			return KEY_IS(key, length, "seller_fee") ? FIELD_SELLER_FEE : FIELD_UNKNOWN;
		case 11:
			return KEY_IS(key, length, "base_amount") ? FIELD_BASE_AMOUNT :
				KEY_IS(key, length, "fee_account") ? FIELD_FEE_ACCOUNT : FIELD_UNKNOWN;
		case 12:
			return KEY_IS(key, length, "quote_amount") ? FIELD_QUOTE_AMOUNT : FIELD_UNKNOWN;
		default:
			return FIELD_UNKNOWN;
	}
}

#endif							/* AXS_EVENT_JSON_FIELDS_H */
