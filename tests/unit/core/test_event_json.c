/*
 * test_event_json.c
 *		Tests of the JSON form of events: parsing every kind, every
 *		validation error with the field it names (from both decoders),
 *		integer range, numbers read as jsonb reads them, \u0000, nesting
 *		depth, the canonical writer and the round trip.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "test_support.h"

static void
test_parse_amount_kinds(void **state)
{
	static const struct
	{
		const char *kind_name;
		AxsEventKind kind;
	}			kinds[] = {
		{"deposit", AXS_KIND_DEPOSIT},
		{"withdraw", AXS_KIND_WITHDRAW},
		{"freeze", AXS_KIND_FREEZE},
		{"unfreeze", AXS_KIND_UNFREEZE},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
	{
		char		json[200];
		AxsEvent	event;

		snprintf(json, sizeof(json),
				 "{\"id\":1,\"kind\":\"%s\",\"account\":42,\"currency\":\"USDT\",\"amount\":1000}",
				 kinds[i].kind_name);
		event = test_parse_event(json);
		assert_int_equal(event.id, 1);
		assert_int_equal(event.kind, kinds[i].kind);
		assert_int_equal(event.u.amount.account, 42);
		assert_string_equal(event.u.amount.currency, "USDT");
		assert_int_equal(event.u.amount.amount, 1000);
		assert_string_equal(axs_event_kind_name(kinds[i].kind), kinds[i].kind_name);
	}
	assert_null(axs_event_kind_name((AxsEventKind) 99));
}

static void
test_parse_transfer(void **state)
{
	AxsEvent	event = test_parse_event(
										 "{\"id\":5,\"kind\":\"transfer\",\"from\":42,\"to\":43,\"currency\":\"USDT\",\"amount\":5}");

	(void) state;
	assert_int_equal(event.kind, AXS_KIND_TRANSFER);
	assert_int_equal(event.u.transfer.from_account, 42);
	assert_int_equal(event.u.transfer.to_account, 43);
	assert_string_equal(event.u.transfer.currency, "USDT");
	assert_int_equal(event.u.transfer.amount, 5);
}

static void
test_parse_trade(void **state)
{
	AxsEvent	event = test_parse_event(
										 "{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\","
										 "\"base_amount\":2,\"quote_amount\":60000,\"buyer_fee\":0,\"seller_fee\":30,\"fee_account\":1}");

	(void) state;
	assert_int_equal(event.kind, AXS_KIND_TRADE);
	assert_int_equal(event.u.trade.buyer, 42);
	assert_int_equal(event.u.trade.seller, 43);
	assert_string_equal(event.u.trade.base, "BTC");
	assert_string_equal(event.u.trade.quote, "USDT");
	assert_int_equal(event.u.trade.base_amount, 2);
	assert_int_equal(event.u.trade.quote_amount, 60000);
	assert_int_equal(event.u.trade.buyer_fee, 0);
	assert_int_equal(event.u.trade.seller_fee, 30);
	assert_int_equal(event.u.trade.fee_account, 1);

	/* optional fields absent, or fee_account null: defaults */
	event = test_parse_event("{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\","
							 "\"quote\":\"USDT\",\"base_amount\":2,\"quote_amount\":60000}");
	assert_int_equal(event.u.trade.buyer_fee, 0);
	assert_int_equal(event.u.trade.seller_fee, 0);
	assert_int_equal(event.u.trade.fee_account, 0);
	event = test_parse_event("{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\","
							 "\"quote\":\"USDT\",\"base_amount\":2,\"quote_amount\":60000,\"fee_account\":null}");
	assert_int_equal(event.u.trade.fee_account, 0);
}

static void
test_parse_legs(void **state)
{
	AxsEvent	event = test_parse_event(
										 "{\"id\":7,\"kind\":\"legs\",\"legs\":["
										 "{\"account\":42,\"currency\":\"USDT\",\"available\":-5,\"frozen\":5},"
										 "{\"account\":43,\"currency\":\"BTC\",\"available\":3},"
										 "{\"account\":44,\"currency\":\"BTC\",\"frozen\":-3}]}");

	(void) state;
	assert_int_equal(event.kind, AXS_KIND_LEGS);
	assert_int_equal(event.u.legs.count, 3);
	assert_int_equal(event.u.legs.legs[0].account, 42);
	assert_string_equal(event.u.legs.legs[0].currency, "USDT");
	assert_int_equal(event.u.legs.legs[0].available, -5);
	assert_int_equal(event.u.legs.legs[0].frozen, 5);
	assert_int_equal(event.u.legs.legs[1].available, 3);
	assert_int_equal(event.u.legs.legs[1].frozen, 0);
	assert_int_equal(event.u.legs.legs[2].available, 0);
	assert_int_equal(event.u.legs.legs[2].frozen, -3);
}

static void
test_whitespace_and_unterminated_input(void **state)
{
	const char *padded = " \n\t{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"BTC\",\"amount\":1}\r\n ";
	const char *with_garbage_after = "{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"BTC\",\"amount\":1}XYZ";
	static const char with_nul_inside[] = "{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"BTC\",\"amount\":1}\0XYZ";
	AxsEvent	event;
	AxsDecodeError err;

	(void) state;
	assert_true(axs_event_from_json(padded, strlen(padded), &event, &err));
	assert_int_equal(err.status, AXS_DECODE_OK);

	/* len stops before the garbage: the text need not be NUL terminated */
	assert_true(axs_event_from_json(with_garbage_after, strlen(with_garbage_after) - 3, &event, &err));
	assert_false(axs_event_from_json(with_garbage_after, strlen(with_garbage_after), &event, &err));
	assert_int_equal(err.status, AXS_DECODE_INVALID_JSON);

	/* json-c stops at a NUL byte; what follows it must still be refused */
	assert_false(axs_event_from_json(with_nul_inside, sizeof(with_nul_inside) - 1, &event, &err));
	assert_int_equal(err.status, AXS_DECODE_INVALID_JSON);
	assert_false(axs_event_from_json(with_nul_inside, sizeof(with_nul_inside) - 4, &event, &err));
	assert_int_equal(err.status, AXS_DECODE_INVALID_JSON);
	assert_true(axs_event_from_json(with_nul_inside, sizeof(with_nul_inside) - 5, &event, &err));
}

typedef struct ErrorCase
{
	const char *json;
	AxsDecodeStatus status;
	const char *field;
	const char *message;
} ErrorCase;

#define DEPOSIT_TAIL "\"account\":42,\"currency\":\"USDT\",\"amount\":1000}"
#define TRADE_HEAD "{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\","
#define LEGS_HEAD "{\"id\":7,\"kind\":\"legs\",\"legs\":["
#define BALANCED_PAIR "{\"account\":1,\"currency\":\"USDT\",\"available\":-5},{\"account\":2,\"currency\":\"USDT\",\"available\":5}"
#define DEPOSIT_AMOUNT(amount) "{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"USDT\",\"amount\":" amount "}"
#define NUL_MESSAGE "event holds \\u0000 (a NUL character), which no key or value may hold"
#define CODE_MESSAGE(field) "field \"" field "\" must be a currency code of 1 to 16 characters from A-Z a-z 0-9 _ . -"

static const ErrorCase error_cases[] = {
	/* not JSON */
	{"", AXS_DECODE_INVALID_JSON, "", NULL},
	{"   ", AXS_DECODE_INVALID_JSON, "", NULL},
	{"{", AXS_DECODE_INVALID_JSON, "", NULL},
	{"{\"id\":1,}", AXS_DECODE_INVALID_JSON, "", NULL},
	{"{\"id\":1} {}", AXS_DECODE_INVALID_JSON, "", NULL},
	{"{\"id\":1} x", AXS_DECODE_INVALID_JSON, "", NULL},
	{"nonsense", AXS_DECODE_INVALID_JSON, "", NULL},
	/* JSON, but not an object */
	{"[]", AXS_DECODE_INVALID_EVENT, "", "event must be a JSON object"},
	{"42", AXS_DECODE_INVALID_EVENT, "", "event must be a JSON object"},
	{"\"deposit\"", AXS_DECODE_INVALID_EVENT, "", "event must be a JSON object"},
	{"null", AXS_DECODE_INVALID_EVENT, "", "event must be a JSON object"},
	/* kind comes first */
	{"{}", AXS_DECODE_INVALID_EVENT, "kind", "missing field \"kind\""},
	{"{\"id\":1,\"foo\":2}", AXS_DECODE_INVALID_EVENT, "kind", "missing field \"kind\""},
	{"{\"id\":1,\"kind\":7," DEPOSIT_TAIL, AXS_DECODE_INVALID_EVENT, "kind", "field \"kind\" must be a string"},
	{"{\"id\":1,\"kind\":\"steal\"," DEPOSIT_TAIL, AXS_DECODE_INVALID_EVENT, "kind",
	"field \"kind\" must be one of deposit, withdraw, freeze, unfreeze, transfer, trade, legs"},
	/* unexpected fields, judged against the kind */
	{"{\"id\":1,\"kind\":\"deposit\",\"foo\":1," DEPOSIT_TAIL, AXS_DECODE_INVALID_EVENT, "foo", "unexpected field \"foo\""},
	{"{\"id\":1,\"kind\":\"deposit\",\"to\":1," DEPOSIT_TAIL, AXS_DECODE_INVALID_EVENT, "to", "unexpected field \"to\""},
	/* the first unexpected key in the object's order is named */
	{"{\"id\":1,\"kind\":\"deposit\",\"foo\":1,\"to\":1," DEPOSIT_TAIL, AXS_DECODE_INVALID_EVENT, "foo", "unexpected field \"foo\""},
	{"{\"id\":1,\"kind\":\"deposit\",\"to\":1,\"foo\":1," DEPOSIT_TAIL, AXS_DECODE_INVALID_EVENT, "to", "unexpected field \"to\""},
	{"{\"id\":1,\"kind\":\"deposit\",\"legs\":[],\"Amount\":1," DEPOSIT_TAIL, AXS_DECODE_INVALID_EVENT, "legs", "unexpected field \"legs\""},
	{"{\"id\":1,\"kind\":\"trade\",\"ids\":1}", AXS_DECODE_INVALID_EVENT, "ids", "unexpected field \"ids\""},
	{"{\"id\":5,\"kind\":\"transfer\",\"account\":42,\"from\":42,\"to\":43,\"currency\":\"USDT\",\"amount\":5}",
	AXS_DECODE_INVALID_EVENT, "account", "unexpected field \"account\""},
	{LEGS_HEAD BALANCED_PAIR "],\"amount\":1}", AXS_DECODE_INVALID_EVENT, "amount", "unexpected field \"amount\""},
	{LEGS_HEAD "{\"account\":1,\"currency\":\"USDT\",\"available\":-5,\"amount\":1},{\"account\":2,\"currency\":\"USDT\",\"available\":5}]}",
	AXS_DECODE_INVALID_EVENT, "legs[0].amount", "unexpected field \"legs[0].amount\""},
	/* id */
	{"{\"kind\":\"deposit\"," DEPOSIT_TAIL, AXS_DECODE_INVALID_EVENT, "id", "missing field \"id\""},
	{"{\"id\":0,\"kind\":\"deposit\"," DEPOSIT_TAIL, AXS_DECODE_INVALID_EVENT, "id", "field \"id\" must be a positive integer"},
	{"{\"id\":-3,\"kind\":\"deposit\"," DEPOSIT_TAIL, AXS_DECODE_INVALID_EVENT, "id", "field \"id\" must be a positive integer"},
	{"{\"id\":\"1\",\"kind\":\"deposit\"," DEPOSIT_TAIL, AXS_DECODE_INVALID_EVENT, "id", "field \"id\" must be an integer"},
	/* amount kinds */
	{"{\"id\":1,\"kind\":\"deposit\",\"currency\":\"USDT\",\"amount\":1}", AXS_DECODE_INVALID_EVENT, "account", "missing field \"account\""},
	{"{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"amount\":1}", AXS_DECODE_INVALID_EVENT, "currency", "missing field \"currency\""},
	{"{\"id\":1,\"kind\":\"withdraw\",\"account\":1,\"currency\":\"USDT\"}", AXS_DECODE_INVALID_EVENT, "amount", "missing field \"amount\""},
	{"{\"id\":1,\"kind\":\"freeze\",\"account\":0,\"currency\":\"USDT\",\"amount\":1}", AXS_DECODE_INVALID_EVENT, "account",
	"field \"account\" must be a positive integer"},
	{"{\"id\":1,\"kind\":\"unfreeze\",\"account\":1,\"currency\":\"USDT\",\"amount\":0}", AXS_DECODE_INVALID_EVENT, "amount",
	"field \"amount\" must be a positive integer"},
	{"{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"USDT\",\"amount\":-1}", AXS_DECODE_INVALID_EVENT, "amount",
	"field \"amount\" must be a positive integer"},
	{"{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"USDT\",\"amount\":1.0}", AXS_DECODE_INVALID_EVENT, "amount",
	"field \"amount\" must be an integer"},
	{"{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"USDT\",\"amount\":\"1\"}", AXS_DECODE_INVALID_EVENT, "amount",
	"field \"amount\" must be an integer"},
	{"{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"USDT\",\"amount\":true}", AXS_DECODE_INVALID_EVENT, "amount",
	"field \"amount\" must be an integer"},
	{"{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"USDT\",\"amount\":null}", AXS_DECODE_INVALID_EVENT, "amount",
	"field \"amount\" must be an integer"},
	{"{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"USDT\",\"amount\":9223372036854775808}", AXS_DECODE_INVALID_EVENT,
	"amount", "field \"amount\" is out of range for a 64-bit integer"},
	{"{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"USDT\",\"amount\":99999999999999999999999}", AXS_DECODE_INVALID_EVENT,
	"amount", "field \"amount\" is out of range for a 64-bit integer"},
	{"{\"id\":1,\"kind\":\"deposit\",\"account\":[1],\"currency\":\"USDT\",\"amount\":1}", AXS_DECODE_INVALID_EVENT,
	"account", "field \"account\" must be an integer"},
	{"{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":5,\"amount\":1}", AXS_DECODE_INVALID_EVENT,
	"currency", "field \"currency\" must be a string"},
	{"{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"\",\"amount\":1}", AXS_DECODE_INVALID_EVENT,
	"currency", "field \"currency\" must be a currency code of 1 to 16 characters from A-Z a-z 0-9 _ . -"},
	{"{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"US DT\",\"amount\":1}", AXS_DECODE_INVALID_EVENT,
	"currency", "field \"currency\" must be a currency code of 1 to 16 characters from A-Z a-z 0-9 _ . -"},
	{"{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"ABCDEFGHIJKLMNOPQ\",\"amount\":1}", AXS_DECODE_INVALID_EVENT,
	"currency", "field \"currency\" must be a currency code of 1 to 16 characters from A-Z a-z 0-9 _ . -"},
	/* numbers as jsonb's numeric reads them: an integer keeps no fractional digit */
	{DEPOSIT_AMOUNT("1.5"), AXS_DECODE_INVALID_EVENT, "amount", "field \"amount\" must be an integer"},
	{DEPOSIT_AMOUNT("100.0"), AXS_DECODE_INVALID_EVENT, "amount", "field \"amount\" must be an integer"},
	{DEPOSIT_AMOUNT("1e-1"), AXS_DECODE_INVALID_EVENT, "amount", "field \"amount\" must be an integer"},
	{DEPOSIT_AMOUNT("1.50e1"), AXS_DECODE_INVALID_EVENT, "amount", "field \"amount\" must be an integer"},
	{DEPOSIT_AMOUNT("100e-2"), AXS_DECODE_INVALID_EVENT, "amount", "field \"amount\" must be an integer"},
	{DEPOSIT_AMOUNT("1.2345e3"), AXS_DECODE_INVALID_EVENT, "amount", "field \"amount\" must be an integer"},
	{DEPOSIT_AMOUNT("0e-5"), AXS_DECODE_INVALID_EVENT, "amount", "field \"amount\" must be an integer"},
	{DEPOSIT_AMOUNT("1e19"), AXS_DECODE_INVALID_EVENT, "amount", "field \"amount\" is out of range for a 64-bit integer"},
	{DEPOSIT_AMOUNT("9.223372036854775808e18"), AXS_DECODE_INVALID_EVENT, "amount",
	"field \"amount\" is out of range for a 64-bit integer"},
	{DEPOSIT_AMOUNT("1.5e30"), AXS_DECODE_INVALID_EVENT, "amount", "field \"amount\" is out of range for a 64-bit integer"},
	{DEPOSIT_AMOUNT("1e1000"), AXS_DECODE_INVALID_EVENT, "amount", "field \"amount\" is out of range for a 64-bit integer"},
	{DEPOSIT_AMOUNT("0e5"), AXS_DECODE_INVALID_EVENT, "amount", "field \"amount\" must be a positive integer"},
	{DEPOSIT_AMOUNT("-1e2"), AXS_DECODE_INVALID_EVENT, "amount", "field \"amount\" must be a positive integer"},
	{"{\"id\":1e-1,\"kind\":\"deposit\"," DEPOSIT_TAIL, AXS_DECODE_INVALID_EVENT, "id", "field \"id\" must be an integer"},
	/* \u0000 anywhere: json-c would end the key or value there */
	{"{\"id\":1,\"kind\":\"deposit\\u0000junk\"," DEPOSIT_TAIL, AXS_DECODE_INVALID_EVENT, "", NUL_MESSAGE},
	{"{\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5,\"id\\u0000x\":832}", AXS_DECODE_INVALID_EVENT, "",
	NUL_MESSAGE},
	{"{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"US\\u0000DT\",\"amount\":1}", AXS_DECODE_INVALID_EVENT,
	"", NUL_MESSAGE},
	{"{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"USDT\\u0000\",\"amount\":1}", AXS_DECODE_INVALID_EVENT,
	"", NUL_MESSAGE},
	{LEGS_HEAD BALANCED_PAIR ",{\"account\":3,\"currency\":\"USDT\",\"frozen\\u0000\":1}]}", AXS_DECODE_INVALID_EVENT, "",
	NUL_MESSAGE},
	/* the \u0000 is read before the text ends too early */
	{"{\"id\":1,\"kind\":\"deposit\\u0000", AXS_DECODE_INVALID_EVENT, "", NUL_MESSAGE},
	/* an escaped backslash, then "u0000": no NUL */
	{"{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"US\\\\u0000DT\",\"amount\":1}", AXS_DECODE_INVALID_EVENT,
	"currency", CODE_MESSAGE("currency")},
	/* the escape outside a string is no JSON */
	{"{\"id\":1,\\u0000:1}", AXS_DECODE_INVALID_JSON, "", NULL},
	/* transfer */
	{"{\"id\":5,\"kind\":\"transfer\",\"to\":43,\"currency\":\"USDT\",\"amount\":5}", AXS_DECODE_INVALID_EVENT, "from", "missing field \"from\""},
	{"{\"id\":5,\"kind\":\"transfer\",\"from\":42,\"currency\":\"USDT\",\"amount\":5}", AXS_DECODE_INVALID_EVENT, "to", "missing field \"to\""},
	{"{\"id\":5,\"kind\":\"transfer\",\"from\":-1,\"to\":43,\"currency\":\"USDT\",\"amount\":5}", AXS_DECODE_INVALID_EVENT, "from",
	"field \"from\" must be a positive integer"},
	{"{\"id\":5,\"kind\":\"transfer\",\"from\":42,\"to\":0,\"currency\":\"USDT\",\"amount\":5}", AXS_DECODE_INVALID_EVENT, "to",
	"field \"to\" must be a positive integer"},
	{"{\"id\":5,\"kind\":\"transfer\",\"from\":42,\"to\":42,\"currency\":\"USDT\",\"amount\":5}", AXS_DECODE_INVALID_EVENT, "to",
	"field \"to\" must differ from field \"from\""},
	/* a trade with oneself, like a transfer to oneself */
	{"{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":42,\"base\":\"BTC\",\"quote\":\"USDT\",\"base_amount\":2,\"quote_amount\":6}",
	AXS_DECODE_INVALID_EVENT, "seller", "field \"seller\" must differ from field \"buyer\""},
	{"{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":42,\"base\":\"BTC\",\"quote\":\"USDT\",\"base_amount\":2,\"quote_amount\":6,"
		"\"buyer_fee\":1,\"seller_fee\":1,\"fee_account\":42}",
	AXS_DECODE_INVALID_EVENT, "seller", "field \"seller\" must differ from field \"buyer\""},
	/* trade */
	{TRADE_HEAD "\"quote_amount\":60000}", AXS_DECODE_INVALID_EVENT, "base_amount", "missing field \"base_amount\""},
	{TRADE_HEAD "\"base_amount\":2}", AXS_DECODE_INVALID_EVENT, "quote_amount", "missing field \"quote_amount\""},
	{"{\"id\":6,\"kind\":\"trade\",\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\",\"base_amount\":2,\"quote_amount\":6}",
	AXS_DECODE_INVALID_EVENT, "buyer", "missing field \"buyer\""},
	{"{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"base\":\"BTC\",\"quote\":\"USDT\",\"base_amount\":2,\"quote_amount\":6}",
	AXS_DECODE_INVALID_EVENT, "seller", "missing field \"seller\""},
	{"{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"quote\":\"USDT\",\"base_amount\":2,\"quote_amount\":6}",
	AXS_DECODE_INVALID_EVENT, "base", "missing field \"base\""},
	{"{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"base_amount\":2,\"quote_amount\":6}",
	AXS_DECODE_INVALID_EVENT, "quote", "missing field \"quote\""},
	{"{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"BTC\",\"base_amount\":2,\"quote_amount\":6}",
	AXS_DECODE_INVALID_EVENT, "quote", "field \"quote\" must differ from field \"base\""},
	{"{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"B!\",\"quote\":\"USDT\",\"base_amount\":2,\"quote_amount\":6}",
	AXS_DECODE_INVALID_EVENT, "base", "field \"base\" must be a currency code of 1 to 16 characters from A-Z a-z 0-9 _ . -"},
	{"{\"id\":6,\"kind\":\"trade\",\"buyer\":0,\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\",\"base_amount\":2,\"quote_amount\":6}",
	AXS_DECODE_INVALID_EVENT, "buyer", "field \"buyer\" must be a positive integer"},
	{"{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":-43,\"base\":\"BTC\",\"quote\":\"USDT\",\"base_amount\":2,\"quote_amount\":6}",
	AXS_DECODE_INVALID_EVENT, "seller", "field \"seller\" must be a positive integer"},
	{TRADE_HEAD "\"base_amount\":0,\"quote_amount\":6}", AXS_DECODE_INVALID_EVENT, "base_amount",
	"field \"base_amount\" must be a positive integer"},
	{TRADE_HEAD "\"base_amount\":2,\"quote_amount\":-6}", AXS_DECODE_INVALID_EVENT, "quote_amount",
	"field \"quote_amount\" must be a positive integer"},
	{TRADE_HEAD "\"base_amount\":2,\"quote_amount\":6,\"buyer_fee\":-1,\"fee_account\":1}", AXS_DECODE_INVALID_EVENT, "buyer_fee",
	"field \"buyer_fee\" must be a non-negative integer"},
	{TRADE_HEAD "\"base_amount\":2,\"quote_amount\":6,\"seller_fee\":-1,\"fee_account\":1}", AXS_DECODE_INVALID_EVENT, "seller_fee",
	"field \"seller_fee\" must be a non-negative integer"},
	{TRADE_HEAD "\"base_amount\":2,\"quote_amount\":6,\"buyer_fee\":3,\"fee_account\":1}", AXS_DECODE_INVALID_EVENT, "buyer_fee",
	"field \"buyer_fee\" must not exceed field \"base_amount\""},
	{TRADE_HEAD "\"base_amount\":2,\"quote_amount\":6,\"seller_fee\":7,\"fee_account\":1}", AXS_DECODE_INVALID_EVENT, "seller_fee",
	"field \"seller_fee\" must not exceed field \"quote_amount\""},
	{TRADE_HEAD "\"base_amount\":2,\"quote_amount\":6,\"buyer_fee\":\"1\",\"fee_account\":1}", AXS_DECODE_INVALID_EVENT, "buyer_fee",
	"field \"buyer_fee\" must be an integer"},
	{TRADE_HEAD "\"base_amount\":2,\"quote_amount\":6,\"seller_fee\":1}", AXS_DECODE_INVALID_EVENT, "fee_account",
	"missing field \"fee_account\", required when a fee is non-zero"},
	{TRADE_HEAD "\"base_amount\":2,\"quote_amount\":6,\"buyer_fee\":1,\"fee_account\":null}", AXS_DECODE_INVALID_EVENT, "fee_account",
	"missing field \"fee_account\", required when a fee is non-zero"},
	{TRADE_HEAD "\"base_amount\":2,\"quote_amount\":6,\"fee_account\":0}", AXS_DECODE_INVALID_EVENT, "fee_account",
	"field \"fee_account\" must be a positive integer"},
	{TRADE_HEAD "\"base_amount\":2,\"quote_amount\":6,\"fee_account\":-2}", AXS_DECODE_INVALID_EVENT, "fee_account",
	"field \"fee_account\" must be a positive integer"},
	{TRADE_HEAD "\"base_amount\":2,\"quote_amount\":6,\"fee_account\":\"1\"}", AXS_DECODE_INVALID_EVENT, "fee_account",
	"field \"fee_account\" must be an integer"},
	/* legs */
	{"{\"id\":7,\"kind\":\"legs\"}", AXS_DECODE_INVALID_EVENT, "legs", "missing field \"legs\""},
	{"{\"id\":7,\"kind\":\"legs\",\"legs\":{}}", AXS_DECODE_INVALID_EVENT, "legs", "field \"legs\" must be an array"},
	{LEGS_HEAD "]}", AXS_DECODE_INVALID_EVENT, "legs", "field \"legs\" must hold 1 to 16 legs"},
	{LEGS_HEAD BALANCED_PAIR "," BALANCED_PAIR "," BALANCED_PAIR "," BALANCED_PAIR ","
		BALANCED_PAIR "," BALANCED_PAIR "," BALANCED_PAIR "," BALANCED_PAIR ","
		"{\"account\":1,\"currency\":\"USDT\"}]}",
	AXS_DECODE_INVALID_EVENT, "legs", "field \"legs\" must hold 1 to 16 legs"},
	{LEGS_HEAD BALANCED_PAIR ",7]}", AXS_DECODE_INVALID_EVENT, "legs[2]", "field \"legs[2]\" must be an object"},
	{LEGS_HEAD BALANCED_PAIR ",{\"currency\":\"USDT\"}]}", AXS_DECODE_INVALID_EVENT, "legs[2].account", "missing field \"legs[2].account\""},
	{LEGS_HEAD BALANCED_PAIR ",{\"account\":3}]}", AXS_DECODE_INVALID_EVENT, "legs[2].currency", "missing field \"legs[2].currency\""},
	{LEGS_HEAD BALANCED_PAIR ",{\"account\":0,\"currency\":\"USDT\"}]}", AXS_DECODE_INVALID_EVENT, "legs[2].account",
	"field \"legs[2].account\" must be a positive integer"},
	{LEGS_HEAD BALANCED_PAIR ",{\"account\":3,\"currency\":\"US/DT\"}]}", AXS_DECODE_INVALID_EVENT, "legs[2].currency",
	"field \"legs[2].currency\" must be a currency code of 1 to 16 characters from A-Z a-z 0-9 _ . -"},
	{LEGS_HEAD BALANCED_PAIR ",{\"account\":3,\"currency\":\"USDT\",\"frozen\":1.5}]}", AXS_DECODE_INVALID_EVENT, "legs[2].frozen",
	"field \"legs[2].frozen\" must be an integer"},
	{LEGS_HEAD BALANCED_PAIR ",{\"account\":3,\"currency\":\"USDT\",\"available\":-9223372036854775809}]}", AXS_DECODE_INVALID_EVENT,
	"legs[2].available", "field \"legs[2].available\" is out of range for a 64-bit integer"},
	{LEGS_HEAD BALANCED_PAIR ",{\"account\":3,\"currency\":\"USDT\",\"available\":-99999999999999999999999}]}", AXS_DECODE_INVALID_EVENT,
	"legs[2].available", "field \"legs[2].available\" is out of range for a 64-bit integer"},
	{LEGS_HEAD BALANCED_PAIR ",{\"account\":3,\"currency\":\"USDT\",\"available\":-9.223372036854775809e18}]}", AXS_DECODE_INVALID_EVENT,
	"legs[2].available", "field \"legs[2].available\" is out of range for a 64-bit integer"},
	/* an exponent's minus sign is no integer's: INT64_MIN stays in range */
	{LEGS_HEAD "{\"account\":3,\"currency\":\"USDT\",\"available\":-9223372036854775808,\"frozen\":1e-99999999999999999999}]}",
	AXS_DECODE_INVALID_EVENT, "legs[0].frozen", "field \"legs[0].frozen\" must be an integer"},
	{LEGS_HEAD BALANCED_PAIR ",{\"account\":3,\"currency\":\"BTC\",\"available\":2,\"frozen\":3}]}", AXS_DECODE_INVALID_EVENT,
	"legs", "legs must sum to zero per currency (BTC is off by 5)"},
	{LEGS_HEAD "{\"account\":1,\"currency\":\"USDT\",\"available\":9223372036854775807,\"frozen\":9223372036854775807},"
		"{\"account\":2,\"currency\":\"USDT\",\"available\":9223372036854775807}]}", AXS_DECODE_INVALID_EVENT,
	"legs", "legs must sum to zero per currency (USDT is off by 27670116110564327421)"},
};

/*
 * The reference decoder must give the same error, and the fast one either
 * decline the text or give the same error too.
 */
static void
check_both_decoders(const char *json, size_t length, const AxsDecodeError *expected)
{
	AxsEvent	event;
	AxsDecodeError err;
	AxsFastDecode fast;

	if (axs_event_from_json_reference(json, length, &event, &err) ||
		err.status != expected->status || strcmp(err.field, expected->field) != 0 ||
		strcmp(err.message, expected->message) != 0)
		fail_msg("reference decoder on %.*s: status %d field \"%s\" message \"%s\"",
				 (int) length, json, err.status, err.field, err.message);
	fast = axs_event_from_json_fast(json, length, &event, &err);
	if (fast == AXS_FAST_VALID ||
		(fast == AXS_FAST_INVALID &&
		 (err.status != expected->status || strcmp(err.field, expected->field) != 0 ||
		  strcmp(err.message, expected->message) != 0)))
		fail_msg("fast decoder on %.*s: decision %d message \"%s\"",
				 (int) length, json, (int) fast, err.message);
}

static void
test_error_cases(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++)
	{
		const ErrorCase *expected = &error_cases[i];
		AxsEvent	event;
		AxsDecodeError err;
		bool		ok = axs_event_from_json(expected->json, strlen(expected->json), &event, &err);

		if (ok || err.status != expected->status || strcmp(err.field, expected->field) != 0 ||
			(expected->message != NULL && strcmp(err.message, expected->message) != 0))
			fail_msg("case %zu: %s\n  expected: status %d field \"%s\" message \"%s\"\n  got: ok %d status %d field \"%s\" message \"%s\"",
					 i, expected->json, expected->status, expected->field,
					 expected->message ? expected->message : "(any)",
					 ok, err.status, err.field, err.message);
		/* the message must name the field it blames */
		if (expected->field[0] != '\0')
		{
			char		quoted[64];

			snprintf(quoted, sizeof(quoted), "\"%s\"", expected->field);
			if (strstr(err.message, quoted) == NULL && strncmp(err.message, "legs must", 9) != 0)
				fail_msg("case %zu: message \"%s\" does not name %s", i, err.message, quoted);
		}
		/* lower case start, no final period */
		assert_true(err.message[0] != '\0');
		assert_false(err.message[0] >= 'A' && err.message[0] <= 'Z');
		assert_true(err.message[strlen(err.message) - 1] != '.');
		check_both_decoders(expected->json, strlen(expected->json), &err);
	}
}

static void
test_integer_limits(void **state)
{
	AxsEvent	event;

	(void) state;
	event = test_parse_event("{\"id\":9223372036854775807,\"kind\":\"deposit\",\"account\":9223372036854775807,"
							 "\"currency\":\"A\",\"amount\":9223372036854775807}");
	assert_true(event.id == INT64_MAX);
	assert_true(event.u.amount.account == INT64_MAX);
	assert_true(event.u.amount.amount == INT64_MAX);

	event = test_parse_event(LEGS_HEAD "{\"account\":1,\"currency\":\"USDT\",\"available\":-9223372036854775808},"
							 "{\"account\":2,\"currency\":\"USDT\",\"available\":9223372036854775807},"
							 "{\"account\":3,\"currency\":\"USDT\",\"frozen\":1}]}");
	assert_true(event.u.legs.legs[0].available == INT64_MIN);
	assert_true(event.u.legs.legs[1].available == INT64_MAX);

	/* currency codes: every allowed character, and the longest length */
	event = test_parse_event("{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"aZ09_.-xxxxxxxxx\",\"amount\":1}");
	assert_string_equal(event.u.amount.currency, "aZ09_.-xxxxxxxxx");
	assert_true(axs_currency_code_valid("A"));
	assert_false(axs_currency_code_valid(""));
	assert_false(axs_currency_code_valid("ABCDEFGHIJKLMNOPQ"));
	assert_false(axs_currency_code_valid("A B"));
	assert_false(axs_currency_code_valid("\xc3\xa9"));
}

/*
 * axs.apply reads a number after jsonb has stored it as numeric and printed
 * it back: 1e2 as 100, 1.5e1 as 15, 1.0e1 as 10.  The JSON text itself must
 * read the same, on every path, and make the same event as the plain
 * integer (so the same id with either spelling is the same event).
 */
static void
test_numbers_read_as_jsonb_reads_them(void **state)
{
	static const struct
	{
		const char *written;
		const char *plain;
	}			integers[] = {
		{"1e2", "100"}, {"1E2", "100"}, {"1.5e1", "15"}, {"12E+1", "120"},
		{"1.0e1", "10"}, {"12.340e3", "12340"}, {"0.5e1", "5"}, {"1e-0", "1"},
		{"1E+00", "1"}, {"5e0", "5"}, {"0.0000000000000000000000000000001e38", "10000000"},
		{"9.223372036854775807e18", "9223372036854775807"},
		{"9223372036854775807e0", "9223372036854775807"},
		{"922337203685477580.7e1", "9223372036854775807"},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(integers) / sizeof(integers[0]); i++)
	{
		char		written[200];
		char		plain[200];
		AxsEvent	expected;
		AxsEvent	event;
		AxsDecodeError err;

		snprintf(written, sizeof(written), DEPOSIT_AMOUNT("%s"), integers[i].written);
		snprintf(plain, sizeof(plain), DEPOSIT_AMOUNT("%s"), integers[i].plain);
		expected = test_parse_event(plain);
		if (!axs_event_from_json(written, strlen(written), &event, &err))
			fail_msg("%s: %s", written, err.message);
		assert_true(test_events_equal(&event, &expected));
		assert_true(axs_event_from_json_reference(written, strlen(written), &event, &err));
		assert_true(test_events_equal(&event, &expected));
		/* the fast path leaves such numbers to the reference decoder */
		assert_int_equal(axs_event_from_json_fast(written, strlen(written), &event, &err),
						 AXS_FAST_DECLINED);
	}

	/* the id, and negative deltas down to INT64_MIN */
	assert_int_equal(test_parse_event("{\"id\":7e0,\"kind\":\"deposit\"," DEPOSIT_TAIL).id, 7);
	{
		AxsEvent	event = test_parse_event(LEGS_HEAD
											 "{\"account\":1,\"currency\":\"USDT\",\"available\":-9.223372036854775808e18},"
											 "{\"account\":2,\"currency\":\"USDT\",\"available\":9.223372036854775807e18,\"frozen\":-1e2},"
											 "{\"account\":3,\"currency\":\"USDT\",\"frozen\":1.01e2}]}");

		assert_true(event.u.legs.legs[0].available == INT64_MIN);
		assert_true(event.u.legs.legs[1].available == INT64_MAX);
		assert_int_equal(event.u.legs.legs[1].frozen, -100);
		assert_int_equal(event.u.legs.legs[2].frozen, 101);
	}
}

/* An event with "memo" holding arrays arrays deep around a 1. */
static void
nested_memo(int arrays, char *buf, size_t size)
{
	size_t		length = (size_t) snprintf(buf, size, "{\"id\":1,\"kind\":\"deposit\",\"memo\":");

	assert_true(length + 2 * (size_t) arrays + sizeof(DEPOSIT_TAIL) + 2 < size);
	for (int i = 0; i < arrays; i++)
		buf[length++] = '[';
	buf[length++] = '1';
	for (int i = 0; i < arrays; i++)
		buf[length++] = ']';
	snprintf(buf + length, size - length, "," DEPOSIT_TAIL);
}

/*
 * A value may sit at most 32 levels deep (the event object is level 1), on
 * every path: jsonb reads deeper text, so deeper is an invalid event (22023
 * from axs.apply, a dead letter from Kafka), not invalid JSON.
 */
static void
test_nesting_depth(void **state)
{
	char		text[512];
	AxsEvent	event;
	AxsDecodeError err;
	AxsDecodeError depth_error = {AXS_DECODE_INVALID_EVENT, "", "event nests deeper than 32 levels"};

	(void) state;
	/* memo at level 2, 30 arrays: the 1 at level 32, judged as any other key */
	nested_memo(30, text, sizeof(text));
	assert_false(axs_event_from_json(text, strlen(text), &event, &err));
	assert_int_equal(err.status, AXS_DECODE_INVALID_EVENT);
	assert_string_equal(err.message, "unexpected field \"memo\"");

	/* 31 arrays: the 1 at level 33 */
	nested_memo(31, text, sizeof(text));
	assert_false(axs_event_from_json(text, strlen(text), &event, &err));
	assert_int_equal(err.status, AXS_DECODE_INVALID_EVENT);
	assert_string_equal(err.field, "");
	assert_string_equal(err.message, depth_error.message);
	check_both_decoders(text, strlen(text), &depth_error);

	/* text too long for the reused tokener gets a tokener of the same depth */
	{
		size_t		padding = 100000;
		size_t		length = strlen(text);
		char	   *padded = malloc(padding + length);

		assert_non_null(padded);
		memset(padded, ' ', padding);
		memcpy(padded + padding, text, length);
		check_both_decoders(padded, padding + length, &depth_error);
		free(padded);
	}

	/* the depth is found before malformed text further on */
	memset(text, '[', 40);
	text[40] = 'x';
	check_both_decoders(text, 41, &depth_error);
	assert_false(axs_event_from_json(text, 41, &event, &err));
	assert_string_equal(err.message, depth_error.message);
}

/* An example of each kind, in canonical form. */
static const char *const canonical_examples[] = {
	"{\"id\":1,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":1000}",
	"{\"id\":2,\"kind\":\"withdraw\",\"account\":42,\"currency\":\"USDT\",\"amount\":10}",
	"{\"id\":3,\"kind\":\"freeze\",\"account\":42,\"currency\":\"BTC\",\"amount\":7}",
	"{\"id\":4,\"kind\":\"unfreeze\",\"account\":42,\"currency\":\"BTC\",\"amount\":7}",
	"{\"id\":5,\"kind\":\"transfer\",\"from\":42,\"to\":43,\"currency\":\"USDT\",\"amount\":5}",
	"{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\",\"base_amount\":2,"
	"\"quote_amount\":60000,\"buyer_fee\":0,\"seller_fee\":30,\"fee_account\":1}",
	"{\"id\":8,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\",\"base_amount\":2,"
	"\"quote_amount\":60000,\"buyer_fee\":0,\"seller_fee\":0}",
	"{\"id\":7,\"kind\":\"legs\",\"legs\":[{\"account\":42,\"currency\":\"USDT\",\"available\":-5,\"frozen\":5},"
	"{\"account\":43,\"currency\":\"BTC\",\"available\":9223372036854775807,\"frozen\":-9223372036854775807},"
	"{\"account\":44,\"currency\":\"BTC\",\"available\":0,\"frozen\":0}]}",
};

static void
test_canonical_writer(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(canonical_examples) / sizeof(canonical_examples[0]); i++)
	{
		const char *json = canonical_examples[i];
		AxsEvent	event = test_parse_event(json);
		AxsEvent	reparsed;
		char		buf[2048];
		size_t		length = axs_event_to_json(&event, buf, sizeof(buf));

		assert_int_equal(length, strlen(json));
		assert_string_equal(buf, json);
		reparsed = test_parse_event(buf);
		assert_true(test_events_equal(&event, &reparsed));

		/* every buffer too small is refused, the exact size accepted */
		for (size_t cap = 0; cap <= length; cap++)
			assert_int_equal(axs_event_to_json(&event, buf, cap), 0);
		assert_int_equal(axs_event_to_json(&event, buf, length + 1), length);
	}
}

static void
test_writer_fills_defaults(void **state)
{
	AxsEvent	event = test_parse_event(
										 "{\"fee_account\":null,\"quote_amount\":6,\"base_amount\":2,\"quote\":\"USDT\",\"base\":\"BTC\","
										 "\"seller\":43,\"buyer\":42,\"kind\":\"trade\",\"id\":6}");
	char		buf[512];

	(void) state;
	assert_true(axs_event_to_json(&event, buf, sizeof(buf)) > 0);
	assert_string_equal(buf,
						"{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\","
						"\"base_amount\":2,\"quote_amount\":6,\"buyer_fee\":0,\"seller_fee\":0}");

	event = test_parse_event(LEGS_HEAD "{\"currency\":\"USDT\",\"account\":1},{\"frozen\":-1,\"account\":2,\"currency\":\"BTC\",\"available\":1}]}");
	assert_true(axs_event_to_json(&event, buf, sizeof(buf)) > 0);
	assert_string_equal(buf,
						"{\"id\":7,\"kind\":\"legs\",\"legs\":[{\"account\":1,\"currency\":\"USDT\",\"available\":0,\"frozen\":0},"
						"{\"account\":2,\"currency\":\"BTC\",\"available\":1,\"frozen\":-1}]}");
}

/*
 * The decoder keeps one json-c tokener per thread: a failed parse must leave
 * nothing behind for the next one, however it failed.
 */
static void
test_decode_after_failures(void **state)
{
	static const char *const failures[] = {
		"{\"id\":1,", "{\"id\":[1,{\"a\":", "\"unterminated", "[[[[[[", "{\"id\":1} x", "-",
		"{\"id\":1,\"kind\":\"deposit\",\"foo\":1," DEPOSIT_TAIL,
	};
	const char *valid = "{\"id\":1,\"kind\":\"deposit\"," DEPOSIT_TAIL;

	(void) state;
	for (size_t i = 0; i < sizeof(failures) / sizeof(failures[0]); i++)
	{
		AxsEvent	event;
		AxsDecodeError err;

		assert_false(axs_event_from_json(failures[i], strlen(failures[i]), &event, &err));
		event = test_parse_event(valid);
		assert_int_equal(event.u.amount.amount, 1000);
	}
}

/* Text too long for the reused tokener is decoded the same way. */
static void
test_long_text(void **state)
{
	const char *event_text = "{\"id\":1,\"kind\":\"deposit\"," DEPOSIT_TAIL;
	size_t		padding = 100000;
	size_t		length = strlen(event_text) + padding;
	char	   *text = malloc(length + 1);
	AxsEvent	event;
	AxsDecodeError err;

	(void) state;
	assert_non_null(text);
	memset(text, ' ', padding);
	memcpy(text + padding, event_text, strlen(event_text) + 1);
	assert_true(axs_event_from_json(text, length, &event, &err));
	assert_int_equal(event.u.amount.amount, 1000);
	text[length - 1] = ',';
	assert_false(axs_event_from_json(text, length, &event, &err));
	assert_int_equal(err.status, AXS_DECODE_INVALID_JSON);
	event = test_parse_event(event_text);
	assert_int_equal(event.id, 1);
	free(text);
}

#define THREAD_DECODES 2000

/* Decode canonical_examples in turn; returns NULL when all came out right. */
static void *
decode_in_thread(void *argument)
{
	size_t		offset = *(const size_t *) argument;
	size_t		example_count = sizeof(canonical_examples) / sizeof(canonical_examples[0]);

	for (int n = 0; n < THREAD_DECODES; n++)
	{
		const char *json = canonical_examples[(offset + (size_t) n) % example_count];
		AxsEvent	event;
		AxsDecodeError err;
		char		buf[2048];

		if (!axs_event_from_json(json, strlen(json), &event, &err) ||
			axs_event_to_json(&event, buf, sizeof(buf)) != strlen(json) ||
			strcmp(buf, json) != 0)
			return (void *) json;
	}
	return NULL;
}

static void
test_threads_decode_at_once(void **state)
{
	pthread_t	threads[4];
	size_t		offsets[4];

	(void) state;
	for (size_t i = 0; i < 4; i++)
	{
		offsets[i] = i;
		assert_int_equal(pthread_create(&threads[i], NULL, decode_in_thread, &offsets[i]), 0);
	}
	for (size_t i = 0; i < 4; i++)
	{
		void	   *failed_json;

		assert_int_equal(pthread_join(threads[i], &failed_json), 0);
		if (failed_json != NULL)
			fail_msg("thread %zu decoded %s wrongly", i, (const char *) failed_json);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_amount_kinds),
		cmocka_unit_test(test_parse_transfer),
		cmocka_unit_test(test_parse_trade),
		cmocka_unit_test(test_parse_legs),
		cmocka_unit_test(test_whitespace_and_unterminated_input),
		cmocka_unit_test(test_error_cases),
		cmocka_unit_test(test_integer_limits),
		cmocka_unit_test(test_numbers_read_as_jsonb_reads_them),
		cmocka_unit_test(test_nesting_depth),
		cmocka_unit_test(test_canonical_writer),
		cmocka_unit_test(test_writer_fills_defaults),
		cmocka_unit_test(test_decode_after_failures),
		cmocka_unit_test(test_long_text),
		cmocka_unit_test(test_threads_decode_at_once),
	};

	return cmocka_run_group_tests_name("event_json", tests, NULL, NULL);
}
