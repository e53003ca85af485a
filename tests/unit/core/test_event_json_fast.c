/*
 * test_event_json_fast.c
 *		The allocation-free JSON fast path against the json-c reference
 *		decoder: canonical events of every non-legs kind (as written, and with
 *		keys shuffled and whitespace between tokens), hand-written edge texts,
 *		and a differential fuzz over mutated texts.
 *
 * Whenever axs_event_from_json_fast does not decline, its verdict must be the
 * reference's: validity, the whole event when valid, status, field and
 * message when invalid.  axs_event_from_json must agree with the reference on
 * every text.  Test-only: it reaches the decoders through event.h alone and
 * must not depend on how the fast path is written.
 *
 * The fuzz is deterministic; AXS_TEST_FUZZ_CASES sets its case count (for a
 * shorter run under valgrind, say).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "test_support.h"

/* Room for any seed text and whatever the mutations make of it. */
#define TEXT_CAP 4096

/* Random events per canonical test. */
#define CANONICAL_EVENT_COUNT 20000

/* Mutated cases per fuzz run, unless AXS_TEST_FUZZ_CASES says otherwise. */
#define DEFAULT_FUZZ_CASES 250000

/* Divergences printed in full before the test fails. */
#define DIVERGENCES_SHOWN 10

/* Byte every output struct is filled with before a decoder writes it. */
#define GARBAGE_BYTE 0xa5

/* Most key-value pairs of a non-legs event (a trade with every field). */
#define MAX_PAIRS 11

/* Most top-level members the pair mutations handle. */
#define MAX_SEGMENTS 64

typedef struct Text
{
	size_t		length;
	char		bytes[TEXT_CAP];
} Text;

/* Bytes that may hold NUL, written as a string literal. */
typedef struct Bytes
{
	const char *bytes;
	size_t		length;
} Bytes;

#define BYTES(literal) {(literal), sizeof(literal) - 1}

#define LENGTH_OF(array) (sizeof(array) / sizeof((array)[0]))

/* How the cases of one test were decided. */
typedef struct Tally
{
	uint64_t	cases;
	uint64_t	fast_valid;
	uint64_t	fast_invalid;
	uint64_t	fast_declined;
	uint64_t	reference_valid;
	uint64_t	divergences;
} Tally;

/* One decoder's verdict on a text. */
typedef struct Outcome
{
	bool		valid;
	AxsEvent	event;
	AxsDecodeError err;
} Outcome;

/* One member of an event object: the key and the value's JSON text. */
typedef struct Pair
{
	const char *key;
	char		value[AXS_CURRENCY_CODE_MAX + 24];
} Pair;

/* The top-level members of the first object in a text, as byte ranges. */
typedef struct Segments
{
	int			count;
	size_t		start[MAX_SEGMENTS];
	size_t		end[MAX_SEGMENTS];
} Segments;

static const char code_characters[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-";

/* Printable ASCII that a currency code may not hold and JSON need not escape. */
static const char bad_code_characters[] = " !#$%&'()*+,/:;<=>?@[]^`{|}~";

static const char whitespace_characters[] = " \t\r\n";

/* Bytes the byte mutations draw from, NUL and two high bytes included. */
static const char mutation_bytes[] =
"{}[]\",:0123456789-.eE \t\n\r\\abcdefghijklmnopqrstuvwxyz\0\x80\xff";

#define MUTATION_BYTE_COUNT (sizeof(mutation_bytes) - 1)

/*
 * Values that sit at an edge of what either decoder accepts; the fuzz puts
 * them in place of a member's value, and the edge pool into every template.
 */
static const Bytes edge_values[] = {
	BYTES("0"), BYTES("1"), BYTES("01"), BYTES("00"), BYTES("1.5"),
	BYTES("1.0"), BYTES("1e3"), BYTES("1E3"), BYTES("1e+3"), BYTES("-0"),
	BYTES("-1"), BYTES("-01"), BYTES("+1"), BYTES(".5"), BYTES("5."),
	BYTES("0x10"), BYTES("9223372036854775807"), BYTES("9223372036854775806"),
	BYTES("9223372036854775808"), BYTES("9223372036854775810"),
	BYTES("18446744073709551615"), BYTES("18446744073709551616"),
	BYTES("99999999999999999999"), BYTES("-9223372036854775808"),
	BYTES("-9223372036854775809"), BYTES("-99999999999999999999"),
	BYTES("null"), BYTES("true"), BYTES("false"), BYTES("NaN"),
	BYTES("Infinity"), BYTES("-"), BYTES(""), BYTES(" 5 "), BYTES("\t\r\n5"),
	BYTES("\f5"), BYTES("\"5\""), BYTES("\"USDT\""), BYTES("\"US\\u0044T\""),
	BYTES("\"\\u0000\""), BYTES("\"US\\\"DT\""), BYTES("\"U\\/S\""),
	BYTES("\"\\ud800\""), BYTES("\"\""), BYTES("\"USDT!\""),
	BYTES("\"ABCDEFGHIJKLMNOP\""), BYTES("\"ABCDEFGHIJKLMNOPQ\""),
	BYTES("\"US\0DT\""), BYTES("\"US\x80T\""), BYTES("\"US\xc3\xa9\""),
	BYTES("\"US\tT\""), BYTES("\"US\x7fT\""), BYTES("\"USDT"),
	BYTES("\"deposit\""), BYTES("\"trade\""), BYTES("\"legs\""),
	BYTES("\"Deposit\""), BYTES("\"deposit \""), BYTES("[]"), BYTES("[1]"),
	BYTES("[[[[1]]]]"), BYTES("{}"), BYTES("{\"a\":1}"), BYTES("5,"),
	BYTES("5 6"),
	/* numbers as jsonb's numeric reads them: integers only without a fractional digit */
	BYTES("1e2"), BYTES("1.5e1"), BYTES("12E+1"), BYTES("1.0e1"), BYTES("0.5e1"),
	BYTES("100e-2"), BYTES("1.50e1"), BYTES("100.0"), BYTES("1e-1"), BYTES("0e5"),
	BYTES("0e-5"), BYTES("-1e2"), BYTES("1e19"), BYTES("1e1000"), BYTES("5.e1"),
	BYTES("9.223372036854775807e18"), BYTES("9.223372036854775808e18"),
	BYTES("-9.223372036854775808e18"), BYTES("-9.223372036854775809e18"),
	BYTES("1e-99999999999999999999"),
	/* \u0000, and an escaped backslash before "u0000" */
	BYTES("\"deposit\\u0000junk\""), BYTES("\"US\\u0000\""), BYTES("\"US\\\\u0000\""),
	/* a value at level 33 (31 arrays below the member's level 2), and at 32 */
	BYTES("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),
	BYTES("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),
};

/* Events with one value left open ("%s"), for every edge value. */
static const char *const value_templates[] = {
	"{\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":%s}",
	"{\"id\":%s,\"kind\":\"withdraw\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}",
	"{\"id\":7,\"kind\":\"freeze\",\"account\":42,\"currency\":%s,\"amount\":5}",
	"{\"id\":7,\"kind\":%s,\"account\":42,\"currency\":\"USDT\",\"amount\":5}",
	"{\"id\":7,\"kind\":\"transfer\",\"from\":%s,\"to\":43,\"currency\":\"USDT\",\"amount\":5}",
	"{\"id\":7,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\","
	"\"base_amount\":2,\"quote_amount\":60000,\"buyer_fee\":0,\"seller_fee\":30,\"fee_account\":%s}",
	"{\"id\":7,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":%s,"
	"\"base_amount\":2,\"quote_amount\":60000,\"buyer_fee\":%s}",
	"{\"id\":7,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\","
	"\"base_amount\":2,\"quote_amount\":60000,\"seller_fee\":%s,\"fee_account\":1}",
};

#define DEPOSIT_WITH_AMOUNT(amount) \
	"{\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":" amount "}"
#define DEPOSIT_WITH_CURRENCY(currency) \
	"{\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":" currency ",\"amount\":5}"
#define DEPOSIT_THEN(tail) DEPOSIT_WITH_AMOUNT("5") tail
#define TRADE_WITH(tail) \
	"{\"id\":7,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\"," \
	"\"base_amount\":2,\"quote_amount\":60000" tail "}"

/* Whole texts: malformed JSON, shapes the fast path declines, and a few it takes. */
static const Bytes edge_texts[] = {
	BYTES(""), BYTES(" "), BYTES("{"), BYTES("}"), BYTES("{}"), BYTES("{ }"),
	BYTES("[]"), BYTES("null"), BYTES("1"), BYTES("\"x\""), BYTES("{,}"),
	BYTES("{\"id\"}"), BYTES("{\"id\":}"), BYTES("{\"id\" 1}"), BYTES("{'id':1}"),
	BYTES("[[[[[[[[[[]]]]]]]]]]"),
	BYTES("{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"),
	BYTES(DEPOSIT_WITH_AMOUNT("5")),
	BYTES(" \t\r\n{ \"id\" :\t7 ,\r\"kind\"\n: \"deposit\" , \"account\":42,\"currency\" : \"USDT\",\"amount\":5 } \n"),
	BYTES("{\"id\":7,\f\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES("{\"id\":7,\v\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES("{\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5,}"),
	BYTES("{\"id\":7,,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES("{\"id\":7 \"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES("{\"id\":7 8,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES(DEPOSIT_THEN(" x")), BYTES(DEPOSIT_THEN(DEPOSIT_WITH_AMOUNT("6"))),
	BYTES(DEPOSIT_THEN(",")), BYTES(DEPOSIT_THEN("}")), BYTES(DEPOSIT_THEN("]")),
	BYTES(DEPOSIT_THEN(" \t\r\n")), BYTES(DEPOSIT_THEN("\0")), BYTES(DEPOSIT_THEN("\0 ")),
	BYTES(DEPOSIT_THEN("\f")), BYTES("\xef\xbb\xbf" DEPOSIT_WITH_AMOUNT("5")),
	BYTES("/**/" DEPOSIT_WITH_AMOUNT("5")),
	BYTES("{\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5,\"amount\":6}"),
	BYTES("{\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5,\"amount\":0}"),
	BYTES("{\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":0,\"amount\":5}"),
	BYTES("{\"id\":7,\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES("{\"kind\":\"legs\",\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES("{\"kind\":\"deposit\",\"id\":7,\"kind\":\"legs\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES("{\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"currency\":\"BTC\",\"amount\":5}"),
	BYTES("{\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\"}"),
	BYTES("{\"id\":7,\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES("{\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES("{\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5,\"extra\":1}"),
	BYTES("{\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5,\"from\":1}"),
	BYTES("{\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5,\"legs\":[]}"),
	BYTES("{\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5,\"ID\":1}"),
	BYTES("{\"id\":7,\"kind\":\"transfer\",\"from\":1,\"to\":2,\"account\":3,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES("{\"id\":7,\"kind\":\"transfer\",\"from\":1,\"to\":1,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES("{\"id\":7,\"kind\":\"transfer\",\"from\":1,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES("{\"\\u0069d\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES("{\"id\":7,\"kind\":\"dep\\u006fsit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES("{\"id\0\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES("{\"id\":7\0,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES("{\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"US\0DT\",\"amount\":5}"),
	BYTES("{\"\xc3\xa9\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
	BYTES("{\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"\xff\",\"amount\":5}"),
	BYTES("{\"id\":7,\"kind\":\"legs\",\"legs\":[{\"account\":1,\"currency\":\"USDT\",\"available\":5},"
		  "{\"account\":2,\"currency\":\"USDT\",\"available\":-5}]}"),
	BYTES("{\"id\":7,\"kind\":\"legs\",\"legs\":[]}"),
	BYTES("{\"id\":7,\"kind\":\"legs\"}"),
	BYTES("{\"id\":7,\"kind\":\"legs\",\"legs\":[{\"account\":1,\"currency\":\"USDT\",\"frozen\":-9223372036854775809}]}"),
	BYTES(TRADE_WITH(",\"buyer_fee\":0,\"seller_fee\":30,\"fee_account\":1")),
	BYTES(TRADE_WITH(",\"buyer_fee\":0,\"seller_fee\":30,\"fee_account\":0")),
	BYTES(TRADE_WITH(",\"buyer_fee\":0,\"seller_fee\":0,\"fee_account\":0")),
	BYTES(TRADE_WITH(",\"fee_account\":0")),
	BYTES(TRADE_WITH(",\"fee_account\":null")),
	BYTES(TRADE_WITH(",\"seller_fee\":30,\"fee_account\":null")),
	BYTES(TRADE_WITH(",\"fee_account\":-1")),
	BYTES(TRADE_WITH(",\"seller_fee\":30")),
	BYTES(TRADE_WITH(",\"buyer_fee\":3,\"fee_account\":1")),
	BYTES(TRADE_WITH(",\"buyer_fee\":2,\"fee_account\":1")),
	BYTES(TRADE_WITH(",\"buyer_fee\":null")),
	BYTES(TRADE_WITH(",\"buyer_fee\":-1,\"fee_account\":1")),
	BYTES(TRADE_WITH("")),
	BYTES("{\"id\":7,\"kind\":\"trade\",\"buyer\":42,\"seller\":42,\"base\":\"BTC\",\"quote\":\"BTC\","
		  "\"base_amount\":0,\"quote_amount\":0}"),
	BYTES("{\"id\":7,\"kind\":\"trade\",\"buyer\":42,\"seller\":42,\"base\":\"BTC\",\"quote\":\"USDT\","
		  "\"base_amount\":2,\"quote_amount\":60000}"),
	/* \u0000 in a key, where json-c would read "id" */
	BYTES("{\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5,\"id\\u0000x\":832}"),
	BYTES("{\"id\":7,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5,\"id\\u0000x\":832}"),
	BYTES("{\"id\":7,\"kind\":\"legs\",\"legs\":[{\"account\":1,\"currency\":\"USDT\",\"available\":5,\"frozen\\u0000\":1},"
		  "{\"account\":2,\"currency\":\"USDT\",\"available\":-5}]}"),
	BYTES("{\"id\":7,\"kind\":\"deposit\\u0000"),
	/* nesting: depth is found before the rest of the text is read */
	BYTES("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[x"),
	BYTES("[\"\\u0000\",[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["),
	BYTES("{\"id\":7,\"kind\":\"legs\",\"legs\":[{\"account\":1,\"currency\":\"USDT\",\"available\":-1e2},"
		  "{\"account\":2,\"currency\":\"USDT\",\"available\":1.00e2}]}"),
};

/* Texts the fast path must decide (the contract), with the verdict it must reach. */
static const struct
{
	Bytes		text;
	AxsFastDecode decision;
}			must_decide[] = {
	{BYTES(DEPOSIT_WITH_AMOUNT("9223372036854775807")), AXS_FAST_VALID},
	{BYTES(DEPOSIT_WITH_AMOUNT("1")), AXS_FAST_VALID},
	{BYTES(DEPOSIT_WITH_AMOUNT("0")), AXS_FAST_INVALID},
	{BYTES(DEPOSIT_WITH_CURRENCY("\"USDT!\"")), AXS_FAST_INVALID},
	{BYTES(DEPOSIT_WITH_CURRENCY("\"\"")), AXS_FAST_INVALID},
	{BYTES(DEPOSIT_WITH_CURRENCY("\"ABCDEFGHIJKLMNOP\"")), AXS_FAST_VALID},
	{BYTES(" \t\r\n{ \"amount\" :\t5 ,\r\"kind\"\n: \"deposit\" , \"currency\":\"USDT\",\"account\":42,\"id\" : 7 } \n"),
	AXS_FAST_VALID},
	{BYTES(TRADE_WITH(",\"buyer_fee\":0,\"seller_fee\":30,\"fee_account\":1")), AXS_FAST_VALID},
	{BYTES(TRADE_WITH("")), AXS_FAST_VALID},
	{BYTES(TRADE_WITH(",\"seller_fee\":30")), AXS_FAST_INVALID},
	{BYTES(TRADE_WITH(",\"buyer_fee\":3,\"fee_account\":1")), AXS_FAST_INVALID},
	{BYTES("{\"id\":7,\"kind\":\"transfer\",\"from\":1,\"to\":1,\"currency\":\"USDT\",\"amount\":5}"),
	AXS_FAST_INVALID},
	{BYTES("{\"id\":7,\"kind\":\"trade\",\"buyer\":42,\"seller\":42,\"base\":\"BTC\",\"quote\":\"USDT\","
		   "\"base_amount\":2,\"quote_amount\":60000}"), AXS_FAST_INVALID},
};

static int64_t
random_positive(TestRandom *random)
{
	switch (test_random_below(random, 6))
	{
		case 0:
			return 1;
		case 1:
			return INT64_MAX;
		case 2:
			return 1 + (int64_t) test_random_below(random, 1000);
		case 3:
			return INT64_MAX - (int64_t) test_random_below(random, 1000);
		default:
			{
				/* every digit count: 64 random bits shifted right 1 to 63 places */
				unsigned	shift = 1 + (unsigned) test_random_below(random, 63);
				int64_t		value = (int64_t) (test_random_next(random) >> shift);

				return value > 0 ? value : 1;
			}
	}
}

/* Uniform in [0, limit], limit >= 0. */
static int64_t
random_up_to(TestRandom *random, int64_t limit)
{
	if (limit == INT64_MAX)
		return (int64_t) (test_random_next(random) >> 1);
	return (int64_t) test_random_below(random, (uint64_t) limit + 1);
}

static void
random_code(TestRandom *random, char *dest)
{
	size_t		length = 1 + (size_t) test_random_below(random, AXS_CURRENCY_CODE_MAX);

	for (size_t i = 0; i < length; i++)
		dest[i] = code_characters[test_random_below(random, sizeof(code_characters) - 1)];
	dest[length] = '\0';
}

/* Make a valid code invalid: empty, or one character JSON need not escape but a code may not hold. */
static void
spoil_code(TestRandom *random, char *code)
{
	if (test_random_below(random, 4) == 0)
		code[0] = '\0';
	else
		code[test_random_below(random, strlen(code))] =
			bad_code_characters[test_random_below(random, sizeof(bad_code_characters) - 1)];
}

/* A fee above amount; shrinks amount first when it is INT64_MAX. */
static void
exceed(TestRandom *random, int64_t *fee, int64_t *amount)
{
	if (*amount == INT64_MAX)
		*amount = random_positive(random) - 1;
	if (*amount < 1)
		*amount = 1;
	*fee = *amount + 1;
}

/* Break one validation rule of a random non-legs event. */
static void
break_one_rule(TestRandom *random, AxsEvent *event)
{
	uint64_t	choice = test_random_below(random, 5);

	if (choice == 0)
	{
		event->id = 0;
		return;
	}
	switch (event->kind)
	{
		case AXS_KIND_TRANSFER:
			if (choice == 1)
				event->u.transfer.to_account = event->u.transfer.from_account;
			else if (choice == 2)
				spoil_code(random, event->u.transfer.currency);
			else if (choice == 3)
				event->u.transfer.amount = 0;
			else
				event->u.transfer.from_account = 0;
			break;
		case AXS_KIND_TRADE:
			switch (test_random_below(random, 10))
			{
				case 0:
					event->u.trade.seller = event->u.trade.buyer;
					break;
				case 1:
					strcpy(event->u.trade.quote, event->u.trade.base);
					break;
				case 2:
					spoil_code(random, event->u.trade.base);
					break;
				case 3:
					spoil_code(random, event->u.trade.quote);
					break;
				case 4:
					exceed(random, &event->u.trade.buyer_fee, &event->u.trade.base_amount);
					break;
				case 5:
					exceed(random, &event->u.trade.seller_fee, &event->u.trade.quote_amount);
					break;
				case 6:
					/* a fee without a fee account */
					event->u.trade.seller_fee = 1;
					event->u.trade.fee_account = 0;
					break;
				case 7:
					event->u.trade.base_amount = 0;
					break;
				case 8:
					event->u.trade.quote_amount = 0;
					break;
				default:
					event->u.trade.buyer = 0;
					break;
			}
			break;
		default:
			if (choice == 1)
				event->u.amount.account = 0;
			else if (choice == 2)
				spoil_code(random, event->u.amount.currency);
			else
				event->u.amount.amount = 0;
			break;
	}
}

/* A random event of a non-legs kind; about one in five breaks a rule. */
static void
random_event(TestRandom *random, AxsEvent *event)
{
	memset(event, 0, sizeof(*event));
	event->id = random_positive(random);
	event->kind = (AxsEventKind) (AXS_KIND_DEPOSIT + test_random_below(random, 6));
	switch (event->kind)
	{
		case AXS_KIND_TRANSFER:
			event->u.transfer.from_account = random_positive(random);
			do
				event->u.transfer.to_account = random_positive(random);
			while (event->u.transfer.to_account == event->u.transfer.from_account);
			random_code(random, event->u.transfer.currency);
			event->u.transfer.amount = random_positive(random);
			break;
		case AXS_KIND_TRADE:
			{
				AxsTradeEvent *trade = &event->u.trade;

				trade->buyer = random_positive(random);
				do
					trade->seller = random_positive(random);
				while (trade->seller == trade->buyer);
				random_code(random, trade->base);
				do
					random_code(random, trade->quote);
				while (strcmp(trade->quote, trade->base) == 0);
				trade->base_amount = random_positive(random);
				trade->quote_amount = random_positive(random);
				switch (test_random_below(random, 4))
				{
					case 0:
						/* no fees, no fee account */
						break;
					case 1:
						/* a fee account but no fees */
						trade->fee_account = random_positive(random);
						break;
					case 2:
						/* fees up to their whole amounts */
						trade->buyer_fee = trade->base_amount;
						trade->seller_fee = test_random_below(random, 2) ? trade->quote_amount : 0;
						trade->fee_account = random_positive(random);
						break;
					default:
						trade->buyer_fee = random_up_to(random, trade->base_amount);
						trade->seller_fee = random_up_to(random, trade->quote_amount);
						trade->fee_account = random_positive(random);
						break;
				}
				break;
			}
		default:
			event->u.amount.account = random_positive(random);
			random_code(random, event->u.amount.currency);
			event->u.amount.amount = random_positive(random);
			break;
	}
	if (test_random_below(random, 5) == 0)
		break_one_rule(random, event);
}

/* A random legs event; half of them sum to zero per currency. */
static void
random_legs_event(TestRandom *random, AxsEvent *event)
{
	AxsLegsEvent *legs = &event->u.legs;
	bool		balanced = test_random_below(random, 2) == 0;

	memset(event, 0, sizeof(*event));
	event->id = random_positive(random);
	event->kind = AXS_KIND_LEGS;
	legs->count = (int) test_random_below(random, 5);
	for (int i = 0; i < legs->count; i++)
	{
		AxsRawLeg  *leg = &legs->legs[i];

		leg->account = random_positive(random);
		if (balanced && i % 2 == 1)
		{
			strcpy(leg->currency, legs->legs[i - 1].currency);
			leg->available = -legs->legs[i - 1].available;
			leg->frozen = -legs->legs[i - 1].frozen;
			continue;
		}
		random_code(random, leg->currency);
		leg->available = (int64_t) test_random_below(random, 2001) - 1000;
		leg->frozen = (int64_t) test_random_below(random, 2001) - 1000;
	}
}

static void
add_integer(Pair *pairs, int *count, const char *key, int64_t value)
{
	pairs[*count].key = key;
	snprintf(pairs[*count].value, sizeof(pairs[*count].value), "%lld", (long long) value);
	(*count)++;
}

static void
add_string(Pair *pairs, int *count, const char *key, const char *value)
{
	pairs[*count].key = key;
	snprintf(pairs[*count].value, sizeof(pairs[*count].value), "\"%s\"", value);
	(*count)++;
}

/*
 * The members of a non-legs event in canonical order.  A zero fee is written
 * unless omit_zero_fees; a fee account only when non-zero, as
 * axs_event_to_json does.
 */
static int
event_pairs(const AxsEvent *event, bool omit_zero_fees, Pair *pairs)
{
	int			count = 0;

	add_integer(pairs, &count, "id", event->id);
	add_string(pairs, &count, "kind", axs_event_kind_name(event->kind));
	switch (event->kind)
	{
		case AXS_KIND_TRANSFER:
			add_integer(pairs, &count, "from", event->u.transfer.from_account);
			add_integer(pairs, &count, "to", event->u.transfer.to_account);
			add_string(pairs, &count, "currency", event->u.transfer.currency);
			add_integer(pairs, &count, "amount", event->u.transfer.amount);
			break;
		case AXS_KIND_TRADE:
			add_integer(pairs, &count, "buyer", event->u.trade.buyer);
			add_integer(pairs, &count, "seller", event->u.trade.seller);
			add_string(pairs, &count, "base", event->u.trade.base);
			add_string(pairs, &count, "quote", event->u.trade.quote);
			add_integer(pairs, &count, "base_amount", event->u.trade.base_amount);
			add_integer(pairs, &count, "quote_amount", event->u.trade.quote_amount);
			if (!omit_zero_fees || event->u.trade.buyer_fee != 0)
				add_integer(pairs, &count, "buyer_fee", event->u.trade.buyer_fee);
			if (!omit_zero_fees || event->u.trade.seller_fee != 0)
				add_integer(pairs, &count, "seller_fee", event->u.trade.seller_fee);
			if (event->u.trade.fee_account != 0)
				add_integer(pairs, &count, "fee_account", event->u.trade.fee_account);
			break;
		default:
			add_integer(pairs, &count, "account", event->u.amount.account);
			add_string(pairs, &count, "currency", event->u.amount.currency);
			add_integer(pairs, &count, "amount", event->u.amount.amount);
			break;
	}
	return count;
}

static void
append(Text *text, const char *bytes, size_t count)
{
	assert_true(text->length + count <= TEXT_CAP);
	memcpy(text->bytes + text->length, bytes, count);
	text->length += count;
}

static void
append_string(Text *text, const char *string)
{
	append(text, string, strlen(string));
}

/* With random set, half the time 1 to 3 JSON whitespace characters. */
static void
maybe_whitespace(TestRandom *random, Text *text)
{
	int			count;

	if (random == NULL || test_random_below(random, 2) == 0)
		return;
	count = 1 + (int) test_random_below(random, 3);
	for (int i = 0; i < count; i++)
		append(text, &whitespace_characters[test_random_below(random, 4)], 1);
}

/*
 * Write an object of the pairs; with random set, in a random order and with
 * random whitespace between every two tokens and around the object.
 */
static void
write_pairs(TestRandom *random, const Pair *pairs, int count, Text *text)
{
	int			order[MAX_PAIRS];

	for (int i = 0; i < count; i++)
		order[i] = i;
	for (int i = count - 1; random != NULL && i > 0; i--)
	{
		int			j = (int) test_random_below(random, (uint64_t) i + 1);
		int			swap = order[i];

		order[i] = order[j];
		order[j] = swap;
	}
	text->length = 0;
	maybe_whitespace(random, text);
	append_string(text, "{");
	for (int i = 0; i < count; i++)
	{
		const Pair *pair = &pairs[order[i]];

		if (i > 0)
		{
			maybe_whitespace(random, text);
			append_string(text, ",");
		}
		maybe_whitespace(random, text);
		append_string(text, "\"");
		append_string(text, pair->key);
		append_string(text, "\"");
		maybe_whitespace(random, text);
		append_string(text, ":");
		maybe_whitespace(random, text);
		append_string(text, pair->value);
	}
	maybe_whitespace(random, text);
	append_string(text, "}");
	maybe_whitespace(random, text);
}

static void
write_canonical(const AxsEvent *event, Text *text)
{
	text->length = axs_event_to_json(event, text->bytes, sizeof(text->bytes));
	assert_true(text->length > 0);
}

/* The event with keys shuffled, whitespace between tokens, zero fees maybe left out. */
static void
write_shuffled(TestRandom *random, const AxsEvent *event, Text *text)
{
	Pair		pairs[MAX_PAIRS];
	int			count = event_pairs(event, test_random_below(random, 2) == 0, pairs);

	write_pairs(random, pairs, count, text);
}

/* The text as a C string literal body, for failure messages. */
static const char *
escaped(const char *bytes, size_t length)
{
	static char buf[4 * TEXT_CAP + 1];
	size_t		at = 0;

	for (size_t i = 0; i < length && i < TEXT_CAP; i++)
	{
		unsigned char c = (unsigned char) bytes[i];

		if (c == '"' || c == '\\')
			at += (size_t) snprintf(buf + at, sizeof(buf) - at, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			buf[at++] = (char) c;
		else
			at += (size_t) snprintf(buf + at, sizeof(buf) - at, "\\x%02x", c);
	}
	buf[at] = '\0';
	return buf;
}

static void
print_outcome(const char *decoder, const Outcome *outcome)
{
	char		json[TEXT_CAP];

	if (!outcome->valid)
	{
		print_error("  %s: invalid, status %d, field \"%.*s\", message \"%.*s\"\n",
					decoder, (int) outcome->err.status,
					(int) sizeof(outcome->err.field), outcome->err.field,
					(int) sizeof(outcome->err.message), outcome->err.message);
		return;
	}
	if (axs_event_to_json(&outcome->event, json, sizeof(json)) == 0)
		snprintf(json, sizeof(json), "(kind %d, not writable)", (int) outcome->event.kind);
	print_error("  %s: valid, %s\n", decoder, json);
}

static void
report_divergence(const char *text, size_t length, const char *decoder,
				  const Outcome *outcome, const Outcome *reference, Tally *tally)
{
	tally->divergences++;
	if (tally->divergences > DIVERGENCES_SHOWN)
		return;
	print_error("divergence on \"%s\" (%zu bytes)\n", escaped(text, length), length);
	print_outcome(decoder, outcome);
	print_outcome("reference", reference);
	if (outcome->valid && reference->valid &&
		memcmp(&outcome->event, &reference->event, sizeof(AxsEvent)) != 0)
		print_error("  (the events differ in their bytes)\n");
}

/* Equal, and NUL terminated within size bytes in both. */
static bool
error_text_equal(const char *a, const char *b, size_t size)
{
	return memchr(a, '\0', size) != NULL && memchr(b, '\0', size) != NULL &&
		strcmp(a, b) == 0;
}

static bool
outcomes_equal(const Outcome *a, const Outcome *b)
{
	if (a->valid != b->valid || a->err.status != b->err.status)
		return false;
	if (a->valid)
		return test_events_equal(&a->event, &b->event) &&
			memcmp(&a->event, &b->event, sizeof(AxsEvent)) == 0;
	return error_text_equal(a->err.field, b->err.field, sizeof(a->err.field)) &&
		error_text_equal(a->err.message, b->err.message, sizeof(a->err.message));
}

/*
 * Decode text with the fast path, the reference and axs_event_from_json, each
 * into output filled with the same garbage, and tally any divergence.  The
 * decoders read a private copy of exactly length bytes, so valgrind sees a
 * read past the end.  Returns the fast path's decision; the reference's
 * verdict goes to *reference_out when that is not NULL.
 */
static AxsFastDecode
check_text(const char *text, size_t length, Tally *tally, Outcome *reference_out)
{
	char	   *copy = malloc(length > 0 ? length : 1);
	Outcome		fast;
	Outcome		reference;
	Outcome		combined;
	AxsFastDecode decision;

	assert_non_null(copy);
	if (length > 0)
		memcpy(copy, text, length);
	memset(&fast, GARBAGE_BYTE, sizeof(fast));
	memset(&reference, GARBAGE_BYTE, sizeof(reference));
	memset(&combined, GARBAGE_BYTE, sizeof(combined));

	decision = axs_event_from_json_fast(copy, length, &fast.event, &fast.err);
	reference.valid = axs_event_from_json_reference(copy, length, &reference.event, &reference.err);
	combined.valid = axs_event_from_json(copy, length, &combined.event, &combined.err);
	free(copy);

	tally->cases++;
	if (reference.valid)
		tally->reference_valid++;
	switch (decision)
	{
		case AXS_FAST_VALID:
			tally->fast_valid++;
			break;
		case AXS_FAST_INVALID:
			tally->fast_invalid++;
			break;
		case AXS_FAST_DECLINED:
			tally->fast_declined++;
			break;
		default:
			fail_msg("fast path returned %d on \"%s\"", (int) decision, escaped(text, length));
	}
	if (decision != AXS_FAST_DECLINED)
	{
		fast.valid = decision == AXS_FAST_VALID;
		if (!outcomes_equal(&fast, &reference))
			report_divergence(text, length, "fast", &fast, &reference, tally);
	}
	if (!outcomes_equal(&combined, &reference))
		report_divergence(text, length, "axs_event_from_json", &combined, &reference, tally);
	if (reference_out != NULL)
		*reference_out = reference;
	return decision;
}

static void
print_tally(const char *test, const Tally *tally)
{
	printf("%s: %llu cases, fast path decided %llu (%llu valid, %llu invalid), "
		   "declined %llu; reference valid %llu\n",
		   test, (unsigned long long) tally->cases,
		   (unsigned long long) (tally->fast_valid + tally->fast_invalid),
		   (unsigned long long) tally->fast_valid, (unsigned long long) tally->fast_invalid,
		   (unsigned long long) tally->fast_declined,
		   (unsigned long long) tally->reference_valid);
}

/*
 * A generated event's text must be decided by the fast path, the same way
 * as by the reference, and the reference must read back the event (or the
 * error axs_event_validate finds in it).
 */
static void
check_generated(const AxsEvent *event, const Text *text, Tally *tally)
{
	AxsDecodeError expected_err;
	bool		expected_valid = axs_event_validate(event, &expected_err);
	Outcome		reference;
	AxsFastDecode decision = check_text(text->bytes, text->length, tally, &reference);

	if (decision == AXS_FAST_DECLINED)
		fail_msg("fast path declined \"%s\"", escaped(text->bytes, text->length));
	if (reference.valid != expected_valid ||
		(expected_valid && !test_events_equal(&reference.event, event)) ||
		(!expected_valid && strcmp(reference.err.message, expected_err.message) != 0))
		fail_msg("reference read \"%s\" as %s \"%s\"", escaped(text->bytes, text->length),
				 reference.valid ? "valid" : "invalid", reference.err.message);
}

static void
test_canonical_events_decided(void **state)
{
	TestRandom	random = {UINT64_C(0x243f6a8885a308d3)};
	Tally		tally = {0};

	(void) state;
	for (int i = 0; i < CANONICAL_EVENT_COUNT; i++)
	{
		AxsEvent	event;
		Text		text;
		Text		written;
		Pair		pairs[MAX_PAIRS];

		random_event(&random, &event);
		write_canonical(&event, &text);

		/* the pair writer the other tests use writes the same text */
		write_pairs(NULL, pairs, event_pairs(&event, false, pairs), &written);
		assert_int_equal(written.length, text.length);
		assert_memory_equal(written.bytes, text.bytes, text.length);

		check_generated(&event, &text, &tally);
	}
	print_tally("canonical", &tally);
	assert_int_equal(tally.divergences, 0);
	assert_int_equal(tally.fast_declined, 0);
	assert_true(tally.fast_valid > CANONICAL_EVENT_COUNT / 2);
	assert_true(tally.fast_invalid > CANONICAL_EVENT_COUNT / 10);
}

static void
test_shuffled_spaced_events_decided(void **state)
{
	TestRandom	random = {UINT64_C(0x13198a2e03707344)};
	Tally		tally = {0};

	(void) state;
	for (int i = 0; i < CANONICAL_EVENT_COUNT; i++)
	{
		AxsEvent	event;
		Text		text;

		random_event(&random, &event);
		write_shuffled(&random, &event, &text);
		check_generated(&event, &text, &tally);
	}
	print_tally("shuffled and spaced", &tally);
	assert_int_equal(tally.divergences, 0);
	assert_int_equal(tally.fast_declined, 0);
	assert_true(tally.fast_valid > CANONICAL_EVENT_COUNT / 2);
	assert_true(tally.fast_invalid > CANONICAL_EVENT_COUNT / 10);
}

/* Append template with its first "%s" (if any) replaced by value. */
static void
fill_template(const char *template, const Bytes *value, Text *text)
{
	const char *hole = strstr(template, "%s");

	text->length = 0;
	if (hole == NULL)
	{
		append_string(text, template);
		return;
	}
	append(text, template, (size_t) (hole - template));
	append(text, value->bytes, value->length);
	append_string(text, hole + 2);
}

/* Texts whose every prefix (truncation) is an edge. */
static const char *const prefixed_texts[] = {
	TRADE_WITH(",\"buyer_fee\":0,\"seller_fee\":30,\"fee_account\":1"),
	" {\t\"id\" : 7 ,\n\"kind\":\"deposit\",\r\"account\":42 , \"currency\":\"USDT\",\"amount\":5 }\n",
};

/* How many texts build_edge_pool makes. */
static size_t
edge_pool_size(void)
{
	size_t		size = LENGTH_OF(edge_texts) + LENGTH_OF(value_templates) * LENGTH_OF(edge_values);

	for (size_t p = 0; p < LENGTH_OF(prefixed_texts); p++)
		size += strlen(prefixed_texts[p]) + 1;
	return size;
}

/*
 * Every hand-written edge: whole texts, each template with each edge value,
 * and every prefix of a full trade and of a spaced deposit.  Returns the
 * count; pool must hold edge_pool_size() texts.
 */
static size_t
build_edge_pool(Text *pool)
{
	size_t		count = 0;

	for (size_t i = 0; i < LENGTH_OF(edge_texts); i++)
	{
		pool[count].length = 0;
		append(&pool[count++], edge_texts[i].bytes, edge_texts[i].length);
	}
	for (size_t t = 0; t < LENGTH_OF(value_templates); t++)
		for (size_t v = 0; v < LENGTH_OF(edge_values); v++)
			fill_template(value_templates[t], &edge_values[v], &pool[count++]);
	for (size_t p = 0; p < LENGTH_OF(prefixed_texts); p++)
	{
		size_t		full = strlen(prefixed_texts[p]);

		for (size_t length = 0; length <= full; length++)
		{
			pool[count].length = 0;
			append(&pool[count++], prefixed_texts[p], length);
		}
	}
	assert_int_equal(count, edge_pool_size());
	return count;
}

static void
test_edge_texts_agree(void **state)
{
	Text	   *pool = calloc(edge_pool_size(), sizeof(Text));
	size_t		pool_count;
	Tally		tally = {0};

	(void) state;
	assert_non_null(pool);
	pool_count = build_edge_pool(pool);
	for (size_t i = 0; i < pool_count; i++)
		check_text(pool[i].bytes, pool[i].length, &tally, NULL);
	for (size_t i = 0; i < LENGTH_OF(must_decide); i++)
	{
		AxsFastDecode decision = check_text(must_decide[i].text.bytes,
											must_decide[i].text.length, &tally, NULL);

		if (decision != must_decide[i].decision)
			fail_msg("fast path gave %d, not %d, on \"%s\"", (int) decision,
					 (int) must_decide[i].decision,
					 escaped(must_decide[i].text.bytes, must_decide[i].text.length));
	}
	free(pool);
	print_tally("edge texts", &tally);
	assert_int_equal(tally.divergences, 0);
}

/* Replace remove bytes at at with count bytes; false if the result would not fit. */
static bool
splice(Text *text, size_t at, size_t remove, const char *bytes, size_t count)
{
	if (text->length - remove + count > TEXT_CAP)
		return false;
	memmove(text->bytes + at + count, text->bytes + at + remove, text->length - at - remove);
	memcpy(text->bytes + at, bytes, count);
	text->length = text->length - remove + count;
	return true;
}

/*
 * Split the members of the first object in text at its top-level commas,
 * skipping strings and nested arrays and objects; an unclosed object runs to
 * the end of the text.
 */
static bool
find_segments(const Text *text, Segments *segments)
{
	const char *open = memchr(text->bytes, '{', text->length);
	size_t		at;
	int			depth = 0;
	bool		in_string = false;

	if (open == NULL)
		return false;
	at = (size_t) (open - text->bytes) + 1;
	segments->count = 0;
	segments->start[0] = at;
	for (; at < text->length; at++)
	{
		char		c = text->bytes[at];

		if (in_string)
		{
			if (c == '\\')
				at++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"')
			in_string = true;
		else if (c == '[' || c == '{')
			depth++;
		else if ((c == ']' || c == '}') && depth > 0)
			depth--;
		else if (c == '}')
			break;
		else if (c == ',' && depth == 0)
		{
			if (segments->count + 1 >= MAX_SEGMENTS)
				return false;
			segments->end[segments->count++] = at;
			segments->start[segments->count] = at + 1;
		}
	}
	segments->end[segments->count++] = at < text->length ? at : text->length;
	return true;
}

static void
duplicate_member(TestRandom *random, Text *text)
{
	Segments	segments;
	char		member[TEXT_CAP + 1];
	size_t		length;
	int			i;

	if (!find_segments(text, &segments))
		return;
	i = (int) test_random_below(random, (uint64_t) segments.count);
	length = segments.end[i] - segments.start[i];
	member[0] = ',';
	memcpy(member + 1, text->bytes + segments.start[i], length);
	splice(text, segments.end[i], 0, member, length + 1);
}

static void
swap_members(TestRandom *random, Text *text)
{
	Segments	segments;
	Text		swapped;
	int			i;
	int			j;

	if (!find_segments(text, &segments) || segments.count < 2)
		return;
	i = (int) test_random_below(random, (uint64_t) segments.count - 1);
	j = i + 1 + (int) test_random_below(random, (uint64_t) (segments.count - i - 1));
	swapped.length = 0;
	append(&swapped, text->bytes, segments.start[i]);
	append(&swapped, text->bytes + segments.start[j], segments.end[j] - segments.start[j]);
	append(&swapped, text->bytes + segments.end[i], segments.start[j] - segments.end[i]);
	append(&swapped, text->bytes + segments.start[i], segments.end[i] - segments.start[i]);
	append(&swapped, text->bytes + segments.end[j], text->length - segments.end[j]);
	memcpy(text->bytes, swapped.bytes, swapped.length);
	text->length = swapped.length;
}

/* Put an edge value in place of what follows a random ':' up to the next ',' or '}'. */
static void
replace_value(TestRandom *random, Text *text)
{
	size_t		colons[MAX_SEGMENTS];
	int			count = 0;
	size_t		start;
	size_t		end;
	const Bytes *value = &edge_values[test_random_below(random, LENGTH_OF(edge_values))];

	for (size_t at = 0; at < text->length && count < MAX_SEGMENTS; at++)
		if (text->bytes[at] == ':')
			colons[count++] = at;
	if (count == 0)
		return;
	start = colons[test_random_below(random, (uint64_t) count)] + 1;
	for (end = start; end < text->length; end++)
		if (text->bytes[end] == ',' || text->bytes[end] == '}')
			break;
	splice(text, start, end - start, value->bytes, value->length);
}

/* Change one digit to another, which often keeps the text decidable. */
static void
replace_digit(TestRandom *random, Text *text)
{
	size_t		digits = 0;
	size_t		pick;

	for (size_t at = 0; at < text->length; at++)
		if (text->bytes[at] >= '0' && text->bytes[at] <= '9')
			digits++;
	if (digits == 0)
		return;
	pick = (size_t) test_random_below(random, digits);
	for (size_t at = 0; at < text->length; at++)
	{
		if (text->bytes[at] < '0' || text->bytes[at] > '9')
			continue;
		if (pick-- == 0)
		{
			text->bytes[at] = (char) ('0' + test_random_below(random, 10));
			return;
		}
	}
}

static void
mutate(TestRandom *random, Text *text)
{
	char		byte = mutation_bytes[test_random_below(random, MUTATION_BYTE_COUNT)];

	switch (test_random_below(random, 11))
	{
		case 0:
		case 1:
			if (text->length > 0)
				text->bytes[test_random_below(random, text->length)] = byte;
			break;
		case 2:
		case 3:
			splice(text, (size_t) test_random_below(random, text->length + 1), 0, &byte, 1);
			break;
		case 4:
			if (text->length > 0)
				splice(text, (size_t) test_random_below(random, text->length), 1, "", 0);
			break;
		case 5:
			text->length = (size_t) test_random_below(random, text->length + 1);
			break;
		case 6:
			duplicate_member(random, text);
			break;
		case 7:
			swap_members(random, text);
			break;
		case 8:
			replace_value(random, text);
			break;
		case 9:
			replace_digit(random, text);
			break;
		default:
			splice(text, (size_t) test_random_below(random, text->length + 1), 0,
				   &whitespace_characters[test_random_below(random, 4)], 1);
			break;
	}
}

static uint64_t
fuzz_case_count(void)
{
	const char *setting = getenv("AXS_TEST_FUZZ_CASES");

	if (setting == NULL || *setting == '\0')
		return DEFAULT_FUZZ_CASES;
	return strtoull(setting, NULL, 10);
}

/* A seed for one fuzz case: a generated event (any kind) or a pool edge. */
static void
choose_seed(TestRandom *random, const Text *pool, size_t pool_count, Text *text)
{
	uint64_t	roll = test_random_below(random, 100);
	AxsEvent	event;

	if (roll < 30)
	{
		random_event(random, &event);
		write_canonical(&event, text);
	}
	else if (roll < 55)
	{
		random_event(random, &event);
		write_shuffled(random, &event, text);
	}
	else if (roll < 65)
	{
		random_legs_event(random, &event);
		write_canonical(&event, text);
	}
	else
	{
		const Text *edge = &pool[test_random_below(random, pool_count)];

		text->length = edge->length;
		memcpy(text->bytes, edge->bytes, edge->length);
	}
}

static void
test_mutated_texts_agree(void **state)
{
	TestRandom	random = {UINT64_C(0xa4093822299f31d0)};
	uint64_t	cases = fuzz_case_count();
	Text	   *pool = calloc(edge_pool_size(), sizeof(Text));
	size_t		pool_count;
	Text		text;
	Tally		tally = {0};
	uint64_t	decided;

	(void) state;
	assert_non_null(pool);
	pool_count = build_edge_pool(pool);
	for (uint64_t i = 0; i < cases; i++)
	{
		int			mutations = (int) test_random_below(&random, 4);

		choose_seed(&random, pool, pool_count, &text);
		for (int m = 0; m < mutations; m++)
			mutate(&random, &text);
		check_text(text.bytes, text.length, &tally, NULL);
	}
	free(pool);
	print_tally("mutated", &tally);
	assert_int_equal(tally.divergences, 0);

	/* a fast path that declined everything would pass the checks above */
	decided = tally.fast_valid + tally.fast_invalid;
	assert_true(decided * 10 > tally.cases);
	assert_true(tally.fast_valid * 50 > tally.cases);
	assert_true(tally.fast_invalid * 50 > tally.cases);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_events_decided),
		cmocka_unit_test(test_shuffled_spaced_events_decided),
		cmocka_unit_test(test_edge_texts_agree),
		cmocka_unit_test(test_mutated_texts_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
