/*
 * test_support.c
 *		Helpers shared by the unit tests; see test_support.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"

static bool
raw_legs_equal(const AxsRawLeg *a, const AxsRawLeg *b)
{
	return a->account == b->account && strcmp(a->currency, b->currency) == 0 &&
		a->available == b->available && a->frozen == b->frozen;
}

bool
test_events_equal(const AxsEvent *a, const AxsEvent *b)
{
	if (a->id != b->id || a->kind != b->kind)
		return false;
	switch (a->kind)
	{
		case AXS_KIND_DEPOSIT:
		case AXS_KIND_WITHDRAW:
		case AXS_KIND_FREEZE:
		case AXS_KIND_UNFREEZE:
			return a->u.amount.account == b->u.amount.account &&
				strcmp(a->u.amount.currency, b->u.amount.currency) == 0 &&
				a->u.amount.amount == b->u.amount.amount;
		case AXS_KIND_TRANSFER:
			return a->u.transfer.from_account == b->u.transfer.from_account &&
				a->u.transfer.to_account == b->u.transfer.to_account &&
				strcmp(a->u.transfer.currency, b->u.transfer.currency) == 0 &&
				a->u.transfer.amount == b->u.transfer.amount;
		case AXS_KIND_TRADE:
			return a->u.trade.buyer == b->u.trade.buyer &&
				a->u.trade.seller == b->u.trade.seller &&
				strcmp(a->u.trade.base, b->u.trade.base) == 0 &&
				strcmp(a->u.trade.quote, b->u.trade.quote) == 0 &&
				a->u.trade.base_amount == b->u.trade.base_amount &&
				a->u.trade.quote_amount == b->u.trade.quote_amount &&
				a->u.trade.buyer_fee == b->u.trade.buyer_fee &&
				a->u.trade.seller_fee == b->u.trade.seller_fee &&
				a->u.trade.fee_account == b->u.trade.fee_account;
		case AXS_KIND_LEGS:
			if (a->u.legs.count != b->u.legs.count)
				return false;
			for (int i = 0; i < a->u.legs.count; i++)
			{
				if (!raw_legs_equal(&a->u.legs.legs[i], &b->u.legs.legs[i]))
					return false;
			}
			return true;
	}
	return false;
}

int32_t
test_resolve_currency(void *context, const char *code)
{
	(void) context;
	if (strcmp(code, "USDT") == 0)
		return TEST_USDT;
	if (strcmp(code, "BTC") == 0)
		return TEST_BTC;
	if (strcmp(code, "ETH") == 0)
		return TEST_ETH;
	return -1;
}

AxsEvent
test_parse_event(const char *json)
{
	AxsEvent	event;
	AxsDecodeError err;

	if (!axs_event_from_json(json, strlen(json), &event, &err))
		fail_msg("cannot parse %s: %s (field \"%s\")", json, err.message, err.field);
	return event;
}

uint8_t *
test_exact_copy(const uint8_t *bytes, size_t length)
{
	uint8_t    *copy = malloc(length > 0 ? length : 1);

	assert_non_null(copy);
	memcpy(copy, bytes, length);
	return copy;
}

uint64_t
test_random_next(TestRandom *random)
{
	uint64_t	x = random->state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	random->state = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}

uint64_t
test_random_below(TestRandom *random, uint64_t bound)
{
	return test_random_next(random) % bound;
}

uint8_t *
test_damaged_copy(TestRandom *random, const uint8_t *bytes, size_t length,
				  size_t *damaged_length)
{
	int			flips = 1 + (int) test_random_below(random, 4);
	uint8_t    *copy;

	if (test_random_below(random, 4) == 0)
		length -= test_random_below(random, length);
	copy = test_exact_copy(bytes, length);
	for (int f = 0; f < flips && length > 0; f++)
		copy[test_random_below(random, length)] ^= (uint8_t) (1u << test_random_below(random, 8));
	*damaged_length = length;
	return copy;
}
