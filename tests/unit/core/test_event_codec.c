/*
 * test_event_codec.c
 *		Tests of the binary payload: exact layout, round trip of every kind,
 *		rejection of truncated, trailing and malformed payloads, and
 *		canonical form (equal content exactly when equal bytes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "test_support.h"

static const char *const examples[] = {
	"{\"id\":1,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":1000}",
	"{\"id\":2,\"kind\":\"withdraw\",\"account\":42,\"currency\":\"USDT\",\"amount\":10}",
	"{\"id\":3,\"kind\":\"freeze\",\"account\":42,\"currency\":\"BTC\",\"amount\":7}",
	"{\"id\":4,\"kind\":\"unfreeze\",\"account\":42,\"currency\":\"BTC\",\"amount\":7}",
	"{\"id\":5,\"kind\":\"transfer\",\"from\":42,\"to\":43,\"currency\":\"USDT\",\"amount\":5}",
	"{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\",\"base_amount\":2,"
	"\"quote_amount\":60000,\"buyer_fee\":1,\"seller_fee\":30,\"fee_account\":1}",
	"{\"id\":8,\"kind\":\"trade\",\"buyer\":42,\"seller\":44,\"base\":\"BTC\",\"quote\":\"USDT\",\"base_amount\":2,"
	"\"quote_amount\":60000}",
	"{\"id\":7,\"kind\":\"legs\",\"legs\":[{\"account\":42,\"currency\":\"USDT\",\"available\":-5,\"frozen\":5},"
	"{\"account\":43,\"currency\":\"BTC\",\"available\":-9223372036854775808,\"frozen\":9223372036854775807},"
	"{\"account\":44,\"currency\":\"BTC\",\"frozen\":1}]}",
};

#define EXAMPLE_COUNT (sizeof(examples) / sizeof(examples[0]))

static void
test_deposit_layout(void **state)
{
	static const uint8_t expected[] = {
		1, AXS_KIND_DEPOSIT,
		0, 0, 0, 0, 0, 0, 0, 42,
		4, 'U', 'S', 'D', 'T',
		0, 0, 0, 0, 0, 0, 0x03, 0xe8,
	};
	AxsEvent	event = test_parse_event(examples[0]);
	uint8_t		buf[AXS_PAYLOAD_MAX];
	size_t		length = axs_event_encode(&event, buf, sizeof(buf));

	(void) state;
	assert_int_equal(length, sizeof(expected));
	assert_memory_equal(buf, expected, sizeof(expected));
}

static void
test_legs_layout(void **state)
{
	static const uint8_t expected[] = {
		1, AXS_KIND_LEGS, 2,
		0, 0, 0, 0, 0, 0, 0, 1, 3, 'B', 'T', 'C',
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 2, 3, 'B', 'T', 'C',
		0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1,
	};
	AxsEvent	event = test_parse_event("{\"id\":7,\"kind\":\"legs\",\"legs\":[{\"account\":1,\"currency\":\"BTC\",\"available\":-2},"
										 "{\"account\":2,\"currency\":\"BTC\",\"available\":1,\"frozen\":1}]}");
	uint8_t		buf[AXS_PAYLOAD_MAX];
	size_t		length = axs_event_encode(&event, buf, sizeof(buf));

	(void) state;
	assert_int_equal(length, sizeof(expected));
	assert_memory_equal(buf, expected, sizeof(expected));
}

static void
test_round_trip_every_kind(void **state)
{
	(void) state;
	for (size_t i = 0; i < EXAMPLE_COUNT; i++)
	{
		AxsEvent	event = test_parse_event(examples[i]);
		AxsEvent	decoded;
		AxsDecodeError err;
		uint8_t		buf[AXS_PAYLOAD_MAX];
		size_t		length = axs_event_encode(&event, buf, sizeof(buf));

		assert_true(length > 0);
		if (!axs_event_decode(event.id, buf, length, &decoded, &err))
			fail_msg("example %zu does not decode: %s", i, err.message);
		assert_int_equal(err.status, AXS_DECODE_OK);
		assert_true(test_events_equal(&event, &decoded));

		/* the id is not part of the payload */
		assert_true(axs_event_decode(99, buf, length, &decoded, &err));
		assert_int_equal(decoded.id, 99);

		/* every buffer too small is refused */
		for (size_t cap = 0; cap < length; cap++)
			assert_int_equal(axs_event_encode(&event, buf, cap), 0);
	}
}

static void
test_truncated_and_trailing_rejected(void **state)
{
	(void) state;
	for (size_t i = 0; i < EXAMPLE_COUNT; i++)
	{
		AxsEvent	event = test_parse_event(examples[i]);
		AxsEvent	decoded;
		AxsDecodeError err;
		uint8_t		buf[AXS_PAYLOAD_MAX];
		size_t		length = axs_event_encode(&event, buf, sizeof(buf) - 1);

		for (size_t prefix = 0; prefix < length; prefix++)
		{
			if (axs_event_decode(1, buf, prefix, &decoded, &err))
				fail_msg("example %zu: a %zu byte prefix of %zu decoded", i, prefix, length);
			assert_int_equal(err.status, AXS_DECODE_INVALID_EVENT);
		}
		buf[length] = 0;
		assert_false(axs_event_decode(1, buf, length + 1, &decoded, &err));
		assert_int_equal(err.status, AXS_DECODE_INVALID_EVENT);
		assert_string_equal(err.message, "payload has 1 trailing bytes");
	}
}

static void
expect_decode_error(const uint8_t *payload, size_t length, const char *field, const char *message)
{
	AxsEvent	decoded;
	AxsDecodeError err;

	if (axs_event_decode(1, payload, length, &decoded, &err))
		fail_msg("payload decoded, expected: %s", message);
	assert_int_equal(err.status, AXS_DECODE_INVALID_EVENT);
	assert_string_equal(err.field, field);
	assert_string_equal(err.message, message);
}

/* Write an amount-kind payload by hand, with any code bytes. */
static size_t
amount_payload(uint8_t *buf, uint8_t version, uint8_t kind, const char *code,
			   size_t code_length, int64_t amount)
{
	size_t		length = 0;

	buf[length++] = version;
	buf[length++] = kind;
	for (int shift = 56; shift >= 0; shift -= 8)
		buf[length++] = (uint8_t) (UINT64_C(42) >> shift);
	buf[length++] = (uint8_t) code_length;
	memcpy(buf + length, code, code_length);
	length += code_length;
	for (int shift = 56; shift >= 0; shift -= 8)
		buf[length++] = (uint8_t) ((uint64_t) amount >> shift);
	return length;
}

static void
test_malformed_payloads(void **state)
{
	static const uint8_t kind_0[] = {1, 0};
	static const uint8_t zero_legs[] = {1, 7, 0};
	static const uint8_t seventeen_legs[] = {1, 7, 17};
	static const uint8_t unbalanced_leg[] = {1, 7, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'A',
	0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
	static const char *const code_message =
		"payload holds a currency code that is empty, longer than 16 bytes or holds a NUL byte";
	uint8_t		buf[64];
	size_t		length;

	(void) state;
	length = amount_payload(buf, 1, AXS_KIND_DEPOSIT, "USDT", 4, 5);
	assert_int_equal(length, 23);
	assert_true(axs_event_decode(1, buf, length, &(AxsEvent) {0}, &(AxsDecodeError) {0}));

	length = amount_payload(buf, 2, AXS_KIND_DEPOSIT, "USDT", 4, 5);
	expect_decode_error(buf, length, "", "payload format version 2 is not supported");
	length = amount_payload(buf, 1, 9, "USDT", 4, 5);
	expect_decode_error(buf, length, "kind", "payload kind 9 is unknown");
	expect_decode_error(kind_0, sizeof(kind_0), "kind", "payload kind 0 is unknown");
	length = amount_payload(buf, 1, AXS_KIND_DEPOSIT, "", 0, 5);
	expect_decode_error(buf, length, "", code_message);
	length = amount_payload(buf, 1, AXS_KIND_DEPOSIT, "US\0T", 4, 5);
	expect_decode_error(buf, length, "", code_message);
	length = amount_payload(buf, 1, AXS_KIND_DEPOSIT, "ABCDEFGHIJKLMNOPQ", 17, 5);
	expect_decode_error(buf, length, "", code_message);
	length = amount_payload(buf, 1, AXS_KIND_WITHDRAW, "US$T", 4, 5);
	expect_decode_error(buf, length, "currency",
						"field \"currency\" must be a currency code of 1 to 16 characters from A-Z a-z 0-9 _ . -");
	length = amount_payload(buf, 1, AXS_KIND_FREEZE, "USDT", 4, 0);
	expect_decode_error(buf, length, "amount", "field \"amount\" must be a positive integer");
	expect_decode_error(zero_legs, sizeof(zero_legs), "legs", "field \"legs\" must hold 1 to 16 legs");
	expect_decode_error(seventeen_legs, sizeof(seventeen_legs), "legs", "field \"legs\" must hold 1 to 16 legs");
	expect_decode_error(unbalanced_leg, sizeof(unbalanced_leg), "legs", "legs must sum to zero per currency (A is off by 1)");
	expect_decode_error(NULL, 0, "", "payload is truncated");

	/* the payload decoder applies every validation rule, a trade with oneself's too */
	{
		AxsEvent	self_trade = test_parse_event(examples[6]);
		uint8_t		payload[AXS_PAYLOAD_MAX];

		self_trade.u.trade.seller = self_trade.u.trade.buyer;
		length = axs_event_encode(&self_trade, payload, sizeof(payload));
		assert_true(length > 0);
		expect_decode_error(payload, length, "seller", "field \"seller\" must differ from field \"buyer\"");
	}
}

/* Encode into a fresh buffer; returns the length. */
static size_t
encode(const AxsEvent *event, uint8_t *buf)
{
	size_t		length = axs_event_encode(event, buf, AXS_PAYLOAD_MAX);

	assert_true(length > 0);
	return length;
}

static void
test_equal_content_equal_bytes(void **state)
{
	(void) state;
	for (size_t i = 0; i < EXAMPLE_COUNT; i++)
	{
		AxsEvent	event = test_parse_event(examples[i]);
		AxsEvent	copy;
		uint8_t		original[AXS_PAYLOAD_MAX];
		uint8_t		other[AXS_PAYLOAD_MAX];
		size_t		length = encode(&event, original);

		/* same content, different id and garbage in the unused bytes */
		memset(&copy, 0xA5, sizeof(copy));
		copy.id = event.id + 1000;
		copy.kind = event.kind;
		switch (event.kind)
		{
			case AXS_KIND_DEPOSIT:
			case AXS_KIND_WITHDRAW:
			case AXS_KIND_FREEZE:
			case AXS_KIND_UNFREEZE:
				copy.u.amount.account = event.u.amount.account;
				copy.u.amount.amount = event.u.amount.amount;
				strcpy(copy.u.amount.currency, event.u.amount.currency);
				break;
			case AXS_KIND_TRANSFER:
				copy.u.transfer.from_account = event.u.transfer.from_account;
				copy.u.transfer.to_account = event.u.transfer.to_account;
				copy.u.transfer.amount = event.u.transfer.amount;
				strcpy(copy.u.transfer.currency, event.u.transfer.currency);
				break;
			case AXS_KIND_TRADE:
				copy.u.trade = event.u.trade;
				memset(copy.u.trade.base + strlen(event.u.trade.base) + 1, 'Z',
					   AXS_CURRENCY_CODE_MAX - strlen(event.u.trade.base));
				break;
			case AXS_KIND_LEGS:
				copy.u.legs.count = event.u.legs.count;
				for (int leg = 0; leg < event.u.legs.count; leg++)
				{
					copy.u.legs.legs[leg].account = event.u.legs.legs[leg].account;
					copy.u.legs.legs[leg].available = event.u.legs.legs[leg].available;
					copy.u.legs.legs[leg].frozen = event.u.legs.legs[leg].frozen;
					strcpy(copy.u.legs.legs[leg].currency, event.u.legs.legs[leg].currency);
				}
				break;
		}
		assert_int_equal(encode(&copy, other), length);
		assert_memory_equal(original, other, length);

		/* any change of content changes the bytes */
		copy = event;
		switch (event.kind)
		{
			case AXS_KIND_DEPOSIT:
			case AXS_KIND_WITHDRAW:
			case AXS_KIND_FREEZE:
			case AXS_KIND_UNFREEZE:
				copy.kind = event.kind == AXS_KIND_DEPOSIT ? AXS_KIND_WITHDRAW : AXS_KIND_DEPOSIT;
				break;
			case AXS_KIND_TRANSFER:
				copy.u.transfer.amount++;
				break;
			case AXS_KIND_TRADE:
				copy.u.trade.fee_account = event.u.trade.fee_account == 0 ? 9 : 0;
				break;
			case AXS_KIND_LEGS:
				copy.u.legs.legs[0].currency[0] = 'X';
				break;
		}
		assert_memory_not_equal(original, other, encode(&copy, other));
	}
}

/*
 * Mutate valid payloads at random: whatever decodes must re-encode to the
 * very same bytes, so no two payloads stand for one event.
 */
static void
test_random_mutations_are_canonical(void **state)
{
	TestRandom	random = {UINT64_C(0x1234567887654321)};
	int			decoded_count = 0;

	(void) state;
	for (int round = 0; round < 200000; round++)
	{
		AxsEvent	event = test_parse_event(examples[test_random_below(&random, EXAMPLE_COUNT)]);
		AxsEvent	decoded;
		AxsDecodeError err;
		uint8_t		payload[AXS_PAYLOAD_MAX];
		uint8_t		again[AXS_PAYLOAD_MAX];
		size_t		length = encode(&event, payload);
		int			flips = 1 + (int) test_random_below(&random, 3);

		for (int flip = 0; flip < flips; flip++)
			payload[test_random_below(&random, length)] ^= (uint8_t) (1u << test_random_below(&random, 8));
		if (test_random_below(&random, 8) == 0)
			length -= test_random_below(&random, length);
		if (!axs_event_decode(5, payload, length, &decoded, &err))
		{
			assert_int_equal(err.status, AXS_DECODE_INVALID_EVENT);
			assert_true(err.message[0] != '\0');
			continue;
		}
		decoded_count++;
		assert_int_equal(axs_event_encode(&decoded, again, sizeof(again)), length);
		assert_memory_equal(payload, again, length);
	}
	/* the mutations must also hit valid payloads, or the test proves little */
	assert_true(decoded_count > 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deposit_layout),
		cmocka_unit_test(test_legs_layout),
		cmocka_unit_test(test_round_trip_every_kind),
		cmocka_unit_test(test_truncated_and_trailing_rejected),
		cmocka_unit_test(test_malformed_payloads),
		cmocka_unit_test(test_equal_content_equal_bytes),
		cmocka_unit_test(test_random_mutations_are_canonical),
	};

	return cmocka_run_group_tests_name("event_codec", tests, NULL, NULL);
}
