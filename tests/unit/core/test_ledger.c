/*
 * test_ledger.c
 *		Tests of the balance rules: expansion of every kind into legs, every
 *		rejection reason and its precedence, all-or-nothing application,
 *		events that touch one balance more than once, credit lines and
 *		suspended accounts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "history_block.h"
#include "ledger.h"
#include "test_support.h"

/* A map with a fixture per test. */
static int
create_map(void **state)
{
	*state = axs_balance_map_create(&axs_default_allocator, 16);
	return 0;
}

static int
destroy_map(void **state)
{
	axs_balance_map_destroy(*state);
	return 0;
}

static void
set_balance(AxsBalanceMap *map, int64_t account, int32_t currency, int64_t available, int64_t frozen)
{
	AxsBalance *entry = axs_balance_map_get(map, account, currency);

	entry->available = available;
	entry->frozen = frozen;
	entry->existed = true;
}

static void
assert_balance(AxsBalanceMap *map, int64_t account, int32_t currency,
			   int64_t available, int64_t frozen)
{
	AxsBalance *entry = axs_balance_map_find(map, account, currency);

	if (entry == NULL)
		fail_msg("no balance for account %lld currency %d", (long long) account, currency);
	if (entry->available != available || entry->frozen != frozen)
		fail_msg("account %lld currency %d: expected available %lld frozen %lld, got %lld %lld",
				 (long long) account, currency, (long long) available, (long long) frozen,
				 (long long) entry->available, (long long) entry->frozen);
}

/*
 * Parse, expand and apply one JSON event the way the applier does, putting
 * every touched key in the map first.
 */
static AxsReason
apply_json(AxsBalanceMap *map, const char *json)
{
	AxsEvent	event = test_parse_event(json);
	AxsLeg		legs[AXS_MAX_LEGS];
	int			nlegs;
	AxsReason	reason = axs_event_expand(&event, test_resolve_currency, NULL, legs, &nlegs);

	if (reason != AXS_REASON_NONE)
		return reason;
	for (int i = 0; i < nlegs; i++)
		axs_balance_map_get(map, legs[i].account, legs[i].currency);
	return axs_ledger_apply(map, legs, nlegs);
}

static void
test_reason_names(void **state)
{
	(void) state;
	assert_null(axs_reason_name(AXS_REASON_NONE));
	assert_string_equal(axs_reason_name(AXS_REASON_INSUFFICIENT_AVAILABLE), "insufficient_available");
	assert_string_equal(axs_reason_name(AXS_REASON_INSUFFICIENT_FROZEN), "insufficient_frozen");
	assert_string_equal(axs_reason_name(AXS_REASON_UNKNOWN_CURRENCY), "unknown_currency");
	assert_string_equal(axs_reason_name(AXS_REASON_OVERFLOW), "overflow");
	assert_string_equal(axs_reason_name(AXS_REASON_ID_REUSED), "id_reused");
	assert_string_equal(axs_reason_name(AXS_REASON_INVALID_PAYLOAD), "invalid_payload");
	assert_string_equal(axs_reason_name(AXS_REASON_ACCOUNT_SUSPENDED), "account_suspended");
}

static void
expect_legs(const char *json, const AxsLeg *expected, int expected_count)
{
	AxsEvent	event = test_parse_event(json);
	AxsLeg		legs[AXS_MAX_LEGS];
	int			nlegs = -1;

	assert_int_equal(axs_event_expand(&event, test_resolve_currency, NULL, legs, &nlegs), AXS_REASON_NONE);
	assert_int_equal(nlegs, expected_count);
	for (int i = 0; i < nlegs; i++)
	{
		if (legs[i].account != expected[i].account || legs[i].currency != expected[i].currency ||
			legs[i].available != expected[i].available || legs[i].frozen != expected[i].frozen)
			fail_msg("%s: leg %d is (%lld, %d, %lld, %lld), expected (%lld, %d, %lld, %lld)", json, i,
					 (long long) legs[i].account, legs[i].currency,
					 (long long) legs[i].available, (long long) legs[i].frozen,
					 (long long) expected[i].account, expected[i].currency,
					 (long long) expected[i].available, (long long) expected[i].frozen);
	}
}

static void
test_expand_every_kind(void **state)
{
	const AxsLeg deposit[] = {{42, TEST_USDT, 1000, 0}};
	const AxsLeg withdraw[] = {{42, TEST_USDT, -1000, 0}};
	const AxsLeg freeze[] = {{42, TEST_USDT, -1000, 1000}};
	const AxsLeg unfreeze[] = {{42, TEST_USDT, 1000, -1000}};
	const AxsLeg transfer[] = {{42, TEST_USDT, -5, 0}, {43, TEST_USDT, 5, 0}};
	const AxsLeg trade[] = {
		{42, TEST_USDT, 0, -60000}, {42, TEST_BTC, 2, 0},
		{43, TEST_BTC, 0, -2}, {43, TEST_USDT, 59970, 0},
		{1, TEST_USDT, 30, 0},
	};
	const AxsLeg trade_both_fees[] = {
		{42, TEST_USDT, 0, -60000}, {42, TEST_BTC, 1, 0},
		{43, TEST_BTC, 0, -2}, {43, TEST_USDT, 59970, 0},
		{1, TEST_BTC, 1, 0}, {1, TEST_USDT, 30, 0},
	};
	const AxsLeg trade_no_fees[] = {
		{42, TEST_USDT, 0, -60000}, {42, TEST_BTC, 2, 0},
		{43, TEST_BTC, 0, -2}, {43, TEST_USDT, 60000, 0},
	};
	const AxsLeg legs[] = {{42, TEST_USDT, -5, 5}, {43, TEST_ETH, 3, 0}, {44, TEST_ETH, 0, -3}};

	(void) state;
	expect_legs("{\"id\":1,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":1000}", deposit, 1);
	expect_legs("{\"id\":1,\"kind\":\"withdraw\",\"account\":42,\"currency\":\"USDT\",\"amount\":1000}", withdraw, 1);
	expect_legs("{\"id\":1,\"kind\":\"freeze\",\"account\":42,\"currency\":\"USDT\",\"amount\":1000}", freeze, 1);
	expect_legs("{\"id\":1,\"kind\":\"unfreeze\",\"account\":42,\"currency\":\"USDT\",\"amount\":1000}", unfreeze, 1);
	expect_legs("{\"id\":5,\"kind\":\"transfer\",\"from\":42,\"to\":43,\"currency\":\"USDT\",\"amount\":5}", transfer, 2);
	expect_legs("{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\",\"base_amount\":2,"
				"\"quote_amount\":60000,\"buyer_fee\":0,\"seller_fee\":30,\"fee_account\":1}", trade, 5);
	expect_legs("{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\",\"base_amount\":2,"
				"\"quote_amount\":60000,\"buyer_fee\":1,\"seller_fee\":30,\"fee_account\":1}", trade_both_fees, 6);
	expect_legs("{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\",\"base_amount\":2,"
				"\"quote_amount\":60000,\"fee_account\":1}", trade_no_fees, 4);
	expect_legs("{\"id\":7,\"kind\":\"legs\",\"legs\":[{\"account\":42,\"currency\":\"USDT\",\"available\":-5,\"frozen\":5},"
				"{\"account\":43,\"currency\":\"ETH\",\"available\":3},{\"account\":44,\"currency\":\"ETH\",\"frozen\":-3}]}", legs, 3);
}

static void
test_expand_unknown_currency(void **state)
{
	static const char *const events[] = {
		"{\"id\":1,\"kind\":\"deposit\",\"account\":42,\"currency\":\"DOGE\",\"amount\":1}",
		"{\"id\":5,\"kind\":\"transfer\",\"from\":42,\"to\":43,\"currency\":\"DOGE\",\"amount\":5}",
		"{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"DOGE\",\"quote\":\"USDT\",\"base_amount\":2,\"quote_amount\":6}",
		"{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"DOGE\",\"base_amount\":2,\"quote_amount\":6}",
		"{\"id\":7,\"kind\":\"legs\",\"legs\":[{\"account\":1,\"currency\":\"BTC\",\"available\":1},"
		"{\"account\":2,\"currency\":\"BTC\",\"available\":-1},{\"account\":3,\"currency\":\"DOGE\"}]}",
	};

	(void) state;
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
	{
		AxsEvent	event = test_parse_event(events[i]);
		AxsLeg		legs[AXS_MAX_LEGS];
		int			nlegs;

		assert_int_equal(axs_event_expand(&event, test_resolve_currency, NULL, legs, &nlegs),
						 AXS_REASON_UNKNOWN_CURRENCY);
	}
}

static void
test_deposit_withdraw_freeze_unfreeze(void **state)
{
	AxsBalanceMap *map = *state;

	assert_int_equal(apply_json(map, "{\"id\":1,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":1000}"),
					 AXS_REASON_NONE);
	assert_balance(map, 42, TEST_USDT, 1000, 0);
	assert_int_equal(apply_json(map, "{\"id\":2,\"kind\":\"freeze\",\"account\":42,\"currency\":\"USDT\",\"amount\":400}"),
					 AXS_REASON_NONE);
	assert_balance(map, 42, TEST_USDT, 600, 400);
	assert_int_equal(apply_json(map, "{\"id\":3,\"kind\":\"unfreeze\",\"account\":42,\"currency\":\"USDT\",\"amount\":100}"),
					 AXS_REASON_NONE);
	assert_balance(map, 42, TEST_USDT, 700, 300);
	assert_int_equal(apply_json(map, "{\"id\":4,\"kind\":\"withdraw\",\"account\":42,\"currency\":\"USDT\",\"amount\":700}"),
					 AXS_REASON_NONE);
	assert_balance(map, 42, TEST_USDT, 0, 300);
	assert_true(axs_balance_map_find(map, 42, TEST_USDT)->changed);
}

static void
test_insufficient_balances(void **state)
{
	AxsBalanceMap *map = *state;

	set_balance(map, 42, TEST_USDT, 100, 50);
	assert_int_equal(apply_json(map, "{\"id\":1,\"kind\":\"withdraw\",\"account\":42,\"currency\":\"USDT\",\"amount\":101}"),
					 AXS_REASON_INSUFFICIENT_AVAILABLE);
	assert_int_equal(apply_json(map, "{\"id\":2,\"kind\":\"freeze\",\"account\":42,\"currency\":\"USDT\",\"amount\":101}"),
					 AXS_REASON_INSUFFICIENT_AVAILABLE);
	assert_int_equal(apply_json(map, "{\"id\":3,\"kind\":\"unfreeze\",\"account\":42,\"currency\":\"USDT\",\"amount\":51}"),
					 AXS_REASON_INSUFFICIENT_FROZEN);
	assert_int_equal(apply_json(map, "{\"id\":4,\"kind\":\"transfer\",\"from\":42,\"to\":43,\"currency\":\"USDT\",\"amount\":101}"),
					 AXS_REASON_INSUFFICIENT_AVAILABLE);
	assert_balance(map, 42, TEST_USDT, 100, 50);
	assert_false(axs_balance_map_find(map, 42, TEST_USDT)->changed);

	/* exactly the balance is fine */
	assert_int_equal(apply_json(map, "{\"id\":5,\"kind\":\"transfer\",\"from\":42,\"to\":43,\"currency\":\"USDT\",\"amount\":100}"),
					 AXS_REASON_NONE);
	assert_balance(map, 42, TEST_USDT, 0, 50);
	assert_balance(map, 43, TEST_USDT, 100, 0);
}

static void
test_trade(void **state)
{
	AxsBalanceMap *map = *state;

	set_balance(map, 42, TEST_USDT, 0, 60000);
	set_balance(map, 43, TEST_BTC, 1, 2);
	assert_int_equal(apply_json(map, "{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\","
								"\"base_amount\":2,\"quote_amount\":60000,\"buyer_fee\":0,\"seller_fee\":30,\"fee_account\":1}"),
					 AXS_REASON_NONE);
	assert_balance(map, 42, TEST_USDT, 0, 0);
	assert_balance(map, 42, TEST_BTC, 2, 0);
	assert_balance(map, 43, TEST_BTC, 1, 0);
	assert_balance(map, 43, TEST_USDT, 59970, 0);
	assert_balance(map, 1, TEST_USDT, 30, 0);
	/* a zero fee leg is omitted, so the fee account's BTC is never touched */
	assert_null(axs_balance_map_find(map, 1, TEST_BTC));

	/* the seller's frozen base is gone now */
	assert_int_equal(apply_json(map, "{\"id\":7,\"kind\":\"trade\",\"buyer\":43,\"seller\":42,\"base\":\"USDT\",\"quote\":\"BTC\","
								"\"base_amount\":1,\"quote_amount\":1}"),
					 AXS_REASON_INSUFFICIENT_FROZEN);
}

static void
test_unknown_currency_changes_nothing(void **state)
{
	AxsBalanceMap *map = *state;

	assert_int_equal(apply_json(map, "{\"id\":1,\"kind\":\"deposit\",\"account\":42,\"currency\":\"DOGE\",\"amount\":1}"),
					 AXS_REASON_UNKNOWN_CURRENCY);
	assert_int_equal(axs_balance_map_count(map), 0);
}

/* A 2-leg event whose second leg fails leaves the first balance unchanged. */
static void
test_all_or_nothing(void **state)
{
	AxsBalanceMap *map = *state;

	set_balance(map, 1, TEST_USDT, 10, 0);
	set_balance(map, 2, TEST_USDT, 3, 0);
	assert_int_equal(apply_json(map, "{\"id\":7,\"kind\":\"legs\",\"legs\":[{\"account\":1,\"currency\":\"USDT\",\"available\":5},"
								"{\"account\":2,\"currency\":\"USDT\",\"available\":-5}]}"),
					 AXS_REASON_INSUFFICIENT_AVAILABLE);
	assert_balance(map, 1, TEST_USDT, 10, 0);
	assert_balance(map, 2, TEST_USDT, 3, 0);
	assert_false(axs_balance_map_find(map, 1, TEST_USDT)->changed);
	assert_false(axs_balance_map_find(map, 2, TEST_USDT)->changed);

	set_balance(map, 3, TEST_USDT, INT64_MAX - 1, 0);
	assert_int_equal(apply_json(map, "{\"id\":8,\"kind\":\"legs\",\"legs\":[{\"account\":2,\"currency\":\"USDT\",\"available\":-2},"
								"{\"account\":3,\"currency\":\"USDT\",\"available\":2}]}"),
					 AXS_REASON_OVERFLOW);
	assert_balance(map, 2, TEST_USDT, 3, 0);
	assert_balance(map, 3, TEST_USDT, INT64_MAX - 1, 0);
	assert_false(axs_balance_map_find(map, 2, TEST_USDT)->changed);
}

/* Only the balances an event touches are marked changed. */
static void
test_changed_flags(void **state)
{
	AxsBalanceMap *map = *state;

	set_balance(map, 1, TEST_USDT, 10, 0);
	set_balance(map, 2, TEST_USDT, 10, 0);
	assert_int_equal(apply_json(map, "{\"id\":1,\"kind\":\"freeze\",\"account\":1,\"currency\":\"USDT\",\"amount\":1}"),
					 AXS_REASON_NONE);
	assert_true(axs_balance_map_find(map, 1, TEST_USDT)->changed);
	assert_false(axs_balance_map_find(map, 2, TEST_USDT)->changed);
	assert_true(axs_balance_map_find(map, 1, TEST_USDT)->existed);
}

static void
test_buyer_is_fee_account(void **state)
{
	AxsBalanceMap *map = *state;

	set_balance(map, 42, TEST_USDT, 0, 100);
	set_balance(map, 43, TEST_BTC, 0, 10);
	assert_int_equal(apply_json(map, "{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\","
								"\"base_amount\":10,\"quote_amount\":100,\"buyer_fee\":10,\"seller_fee\":5,\"fee_account\":42}"),
					 AXS_REASON_NONE);
	/* buyer receives 10 - 10 BTC plus the 10 BTC fee, and the 5 USDT fee */
	assert_balance(map, 42, TEST_BTC, 10, 0);
	assert_balance(map, 42, TEST_USDT, 5, 0);
	assert_balance(map, 43, TEST_BTC, 0, 0);
	assert_balance(map, 43, TEST_USDT, 95, 0);
}

/* Repeated keys are summed before the checks: passing through is allowed. */
static void
test_repeated_keys_summed(void **state)
{
	AxsBalanceMap *map = *state;
	const AxsLeg legs[] = {
		{1, TEST_BTC, -5, 0},
		{1, TEST_BTC, 5, 0},
		{1, TEST_BTC, INT64_MAX, 0},
		{1, TEST_BTC, -INT64_MAX, 0},
	};

	axs_balance_map_get(map, 1, TEST_BTC);
	assert_int_equal(axs_ledger_apply(map, legs, 4), AXS_REASON_NONE);
	assert_balance(map, 1, TEST_BTC, 0, 0);
	assert_true(axs_balance_map_find(map, 1, TEST_BTC)->changed);
}

static void
test_overflow(void **state)
{
	AxsBalanceMap *map = *state;
	AxsLeg		legs[3];

	set_balance(map, 1, TEST_BTC, INT64_MAX, 0);
	assert_int_equal(apply_json(map, "{\"id\":1,\"kind\":\"deposit\",\"account\":1,\"currency\":\"BTC\",\"amount\":1}"),
					 AXS_REASON_OVERFLOW);
	assert_balance(map, 1, TEST_BTC, INT64_MAX, 0);

	set_balance(map, 2, TEST_BTC, 0, INT64_MAX);
	set_balance(map, 2, TEST_USDT, 5, 0);
	/* frozen overflows while available goes negative: overflow wins */
	assert_int_equal(apply_json(map, "{\"id\":2,\"kind\":\"freeze\",\"account\":2,\"currency\":\"BTC\",\"amount\":1}"),
					 AXS_REASON_OVERFLOW);

	/* overflow wins over insufficient available, which wins over frozen */
	legs[0] = (AxsLeg) {1, TEST_BTC, 1, 0};
	legs[1] = (AxsLeg) {2, TEST_USDT, -6, 0};
	legs[2] = (AxsLeg) {2, TEST_BTC, 0, -INT64_MAX - 1};
	assert_int_equal(axs_ledger_apply(map, legs, 3), AXS_REASON_OVERFLOW);
	assert_int_equal(axs_ledger_apply(map, legs + 1, 2), AXS_REASON_INSUFFICIENT_AVAILABLE);
	legs[2] = (AxsLeg) {2, TEST_USDT, 0, -1};
	assert_int_equal(axs_ledger_apply(map, legs + 2, 1), AXS_REASON_INSUFFICIENT_FROZEN);

	/* two legs that each fit but overflow together */
	legs[0] = (AxsLeg) {3, TEST_ETH, INT64_MAX, 0};
	legs[1] = (AxsLeg) {3, TEST_ETH, 1, 0};
	axs_balance_map_get(map, 3, TEST_ETH);
	assert_int_equal(axs_ledger_apply(map, legs, 2), AXS_REASON_OVERFLOW);
	/* negative overflow of a delta sum is an overflow too */
	legs[0] = (AxsLeg) {3, TEST_ETH, INT64_MIN, 0};
	legs[1] = (AxsLeg) {3, TEST_ETH, -1, 0};
	assert_int_equal(axs_ledger_apply(map, legs, 2), AXS_REASON_OVERFLOW);

	assert_balance(map, 1, TEST_BTC, INT64_MAX, 0);
	assert_balance(map, 2, TEST_BTC, 0, INT64_MAX);
	assert_balance(map, 2, TEST_USDT, 5, 0);
	assert_balance(map, 3, TEST_ETH, 0, 0);
}

/* A key missing from the map is added only when the event applies. */
static void
test_missing_key(void **state)
{
	AxsBalanceMap *map = *state;
	const AxsLeg withdraw = {9, TEST_BTC, -1, 0};
	const AxsLeg deposit = {9, TEST_BTC, 1, 0};

	assert_int_equal(axs_ledger_apply(map, &withdraw, 1), AXS_REASON_INSUFFICIENT_AVAILABLE);
	assert_null(axs_balance_map_find(map, 9, TEST_BTC));
	assert_int_equal(axs_ledger_apply(map, &deposit, 1), AXS_REASON_NONE);
	assert_balance(map, 9, TEST_BTC, 1, 0);
	assert_false(axs_balance_map_find(map, 9, TEST_BTC)->existed);
	assert_true(axs_balance_map_find(map, 9, TEST_BTC)->changed);

	/* many missing keys at once, so that the inserts grow the table */
	for (int round = 0; round < 20; round++)
	{
		AxsLeg		legs[AXS_MAX_LEGS];

		for (int i = 0; i < AXS_MAX_LEGS; i++)
			legs[i] = (AxsLeg) {1000 + round * AXS_MAX_LEGS + i, TEST_USDT, 7, 1};
		assert_int_equal(axs_ledger_apply(map, legs, AXS_MAX_LEGS), AXS_REASON_NONE);
		for (int i = 0; i < AXS_MAX_LEGS; i++)
			assert_balance(map, legs[i].account, TEST_USDT, 7, 1);
	}
	assert_int_equal(axs_balance_map_count(map), 1 + 20 * AXS_MAX_LEGS);
}

static void
test_empty_event(void **state)
{
	AxsBalanceMap *map = *state;

	assert_int_equal(axs_ledger_apply(map, NULL, 0), AXS_REASON_NONE);
	assert_int_equal(axs_balance_map_count(map), 0);
}

/* The loader's part: a key's credit line and its account's suspension. */
static void
set_rules(AxsBalanceMap *map, int64_t account, int32_t currency, int64_t credit, bool suspended)
{
	AxsBalance *entry = axs_balance_map_get(map, account, currency);

	entry->credit = credit;
	entry->suspended = suspended;
}

static void
test_credit_line(void **state)
{
	AxsBalanceMap *map = *state;

	set_balance(map, 42, TEST_USDT, 100, 0);
	set_rules(map, 42, TEST_USDT, 50, false);
	/* down to -credit and not one past it */
	assert_int_equal(apply_json(map, "{\"id\":1,\"kind\":\"withdraw\",\"account\":42,\"currency\":\"USDT\",\"amount\":151}"),
					 AXS_REASON_INSUFFICIENT_AVAILABLE);
	assert_balance(map, 42, TEST_USDT, 100, 0);
	assert_int_equal(apply_json(map, "{\"id\":2,\"kind\":\"withdraw\",\"account\":42,\"currency\":\"USDT\",\"amount\":130}"),
					 AXS_REASON_NONE);
	assert_balance(map, 42, TEST_USDT, -30, 0);
	/* borrowed funds can back an order */
	assert_int_equal(apply_json(map, "{\"id\":3,\"kind\":\"freeze\",\"account\":42,\"currency\":\"USDT\",\"amount\":20}"),
					 AXS_REASON_NONE);
	assert_balance(map, 42, TEST_USDT, -50, 20);
	/* frozen funds keep their own rule */
	assert_int_equal(apply_json(map, "{\"id\":4,\"kind\":\"unfreeze\",\"account\":42,\"currency\":\"USDT\",\"amount\":21}"),
					 AXS_REASON_INSUFFICIENT_FROZEN);
	/* the line is per currency: BTC has none */
	set_balance(map, 42, TEST_BTC, 5, 0);
	assert_int_equal(apply_json(map, "{\"id\":5,\"kind\":\"withdraw\",\"account\":42,\"currency\":\"BTC\",\"amount\":6}"),
					 AXS_REASON_INSUFFICIENT_AVAILABLE);
}

static void
test_credit_line_lowered_below_use(void **state)
{
	AxsBalanceMap *map = *state;

	/* -80 used, the line lowered to 10: debits stop, credits and unfreezes go on */
	set_balance(map, 42, TEST_USDT, -80, 30);
	set_rules(map, 42, TEST_USDT, 10, false);
	assert_int_equal(apply_json(map, "{\"id\":1,\"kind\":\"withdraw\",\"account\":42,\"currency\":\"USDT\",\"amount\":1}"),
					 AXS_REASON_INSUFFICIENT_AVAILABLE);
	assert_int_equal(apply_json(map, "{\"id\":2,\"kind\":\"freeze\",\"account\":42,\"currency\":\"USDT\",\"amount\":1}"),
					 AXS_REASON_INSUFFICIENT_AVAILABLE);
	assert_int_equal(apply_json(map, "{\"id\":3,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
					 AXS_REASON_NONE);
	assert_int_equal(apply_json(map, "{\"id\":4,\"kind\":\"unfreeze\",\"account\":42,\"currency\":\"USDT\",\"amount\":30}"),
					 AXS_REASON_NONE);
	assert_balance(map, 42, TEST_USDT, -45, 0);
	/* an event that leaves available unchanged applies: a zero-sum legs event */
	assert_int_equal(apply_json(map, "{\"id\":5,\"kind\":\"legs\",\"legs\":["
								"{\"account\":42,\"currency\":\"USDT\",\"available\":-3,\"frozen\":0},"
								"{\"account\":42,\"currency\":\"USDT\",\"available\":3,\"frozen\":0}]}"),
					 AXS_REASON_NONE);
	assert_balance(map, 42, TEST_USDT, -45, 0);
}

static void
test_suspended_account(void **state)
{
	AxsBalanceMap *map = *state;

	set_balance(map, 42, TEST_USDT, 1000, 0);
	set_balance(map, 42, TEST_BTC, 10, 5);
	set_balance(map, 43, TEST_USDT, 1000, 500);
	set_balance(map, 43, TEST_BTC, 10, 0);
	set_rules(map, 42, TEST_USDT, 0, true);
	set_rules(map, 42, TEST_BTC, 0, true);
	/* credits, freezes and unfreezes apply */
	assert_int_equal(apply_json(map, "{\"id\":1,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
					 AXS_REASON_NONE);
	assert_int_equal(apply_json(map, "{\"id\":2,\"kind\":\"freeze\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
					 AXS_REASON_NONE);
	assert_int_equal(apply_json(map, "{\"id\":3,\"kind\":\"unfreeze\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}"),
					 AXS_REASON_NONE);
	assert_int_equal(apply_json(map, "{\"id\":4,\"kind\":\"transfer\",\"from\":43,\"to\":42,\"currency\":\"USDT\",\"amount\":7}"),
					 AXS_REASON_NONE);
	/* whatever lowers its total is rejected, before the sufficiency checks */
	assert_int_equal(apply_json(map, "{\"id\":5,\"kind\":\"withdraw\",\"account\":42,\"currency\":\"USDT\",\"amount\":1}"),
					 AXS_REASON_ACCOUNT_SUSPENDED);
	assert_int_equal(apply_json(map, "{\"id\":6,\"kind\":\"withdraw\",\"account\":42,\"currency\":\"USDT\",\"amount\":999999}"),
					 AXS_REASON_ACCOUNT_SUSPENDED);
	assert_int_equal(apply_json(map, "{\"id\":7,\"kind\":\"transfer\",\"from\":42,\"to\":43,\"currency\":\"USDT\",\"amount\":1}"),
					 AXS_REASON_ACCOUNT_SUSPENDED);
	/* a trade where it sells its frozen BTC: its USDT rises, its BTC total falls */
	assert_int_equal(apply_json(map, "{\"id\":8,\"kind\":\"trade\",\"buyer\":43,\"seller\":42,\"base\":\"BTC\",\"quote\":\"USDT\","
								"\"base_amount\":2,\"quote_amount\":200}"),
					 AXS_REASON_ACCOUNT_SUSPENDED);
	assert_balance(map, 42, TEST_USDT, 1012, 0);
	assert_balance(map, 42, TEST_BTC, 10, 5);
	assert_balance(map, 43, TEST_USDT, 993, 500);
	/* resumed: the same trade settles */
	set_rules(map, 42, TEST_USDT, 0, false);
	set_rules(map, 42, TEST_BTC, 0, false);
	assert_int_equal(apply_json(map, "{\"id\":9,\"kind\":\"trade\",\"buyer\":43,\"seller\":42,\"base\":\"BTC\",\"quote\":\"USDT\","
								"\"base_amount\":2,\"quote_amount\":200}"),
					 AXS_REASON_NONE);
	assert_balance(map, 42, TEST_BTC, 10, 3);
}

/* The history entries of applied events: net per balance, none for a zero change, seqnos counted per balance, the event's kind and ordinal in each. */
static void
test_history_record(void **state)
{
	AxsBalanceMap *map = *state;
	AxsEvent	event = test_parse_event("{\"id\":7,\"kind\":\"legs\",\"legs\":["
										 "{\"account\":42,\"currency\":\"USDT\",\"available\":-3,\"frozen\":0},"
										 "{\"account\":43,\"currency\":\"USDT\",\"available\":3,\"frozen\":0},"
										 "{\"account\":42,\"currency\":\"USDT\",\"available\":-1,\"frozen\":1},"
										 "{\"account\":44,\"currency\":\"USDT\",\"available\":1,\"frozen\":0},"
										 "{\"account\":44,\"currency\":\"USDT\",\"available\":-1,\"frozen\":0}]}");
	AxsLeg		legs[AXS_MAX_LEGS];
	AxsAppliedChange changes[AXS_MAX_LEGS];
	AxsHistoryEntry history[AXS_MAX_LEGS];
	int			nlegs;
	int			nchanges;
	AxsBalance *balance;

	set_balance(map, 42, TEST_USDT, 10, 0);
	balance = axs_balance_map_get(map, 42, TEST_USDT);
	balance->history_seqno = 4;
	balance->history_block = 77;
	assert_int_equal(axs_event_expand(&event, test_resolve_currency, NULL, legs, &nlegs), AXS_REASON_NONE);
	for (int i = 0; i < nlegs; i++)
		axs_balance_map_get(map, legs[i].account, legs[i].currency);
	assert_int_equal(axs_ledger_apply_changes(map, legs, nlegs, changes, &nchanges), AXS_REASON_NONE);
	assert_int_equal(nchanges, 3);
	/* account 44's legs cancel out: no entry */
	assert_int_equal(axs_history_record(7, AXS_KIND_LEGS, 12, changes, nchanges, history), 2);
	assert_int_equal(history[0].account, 42);
	assert_int_equal(history[0].seqno, 5);
	assert_int_equal(history[0].previous_block, 77);
	assert_int_equal(history[0].available_delta, -4);
	assert_int_equal(history[0].frozen_delta, 1);
	assert_int_equal(history[0].available, 6);
	assert_int_equal(history[0].frozen, 1);
	assert_int_equal(history[0].event_id, 7);
	assert_int_equal(history[0].kind, AXS_KIND_LEGS);
	assert_int_equal(history[0].ordinal, 12);
	assert_int_equal(history[1].account, 43);
	assert_int_equal(history[1].kind, AXS_KIND_LEGS);
	assert_int_equal(history[1].ordinal, 12);
	assert_int_equal(history[1].seqno, 1);
	assert_int_equal(history[1].previous_block, 0);
	assert_int_equal(history[1].available, 3);
	assert_int_equal(axs_balance_map_find(map, 42, TEST_USDT)->history_seqno, 5);
	/* a rejected event reports no change */
	event = test_parse_event("{\"id\":8,\"kind\":\"withdraw\",\"account\":43,\"currency\":\"USDT\",\"amount\":4}");
	assert_int_equal(axs_event_expand(&event, test_resolve_currency, NULL, legs, &nlegs), AXS_REASON_NONE);
	assert_int_equal(axs_ledger_apply_changes(map, legs, nlegs, changes, &nchanges), AXS_REASON_INSUFFICIENT_AVAILABLE);
	assert_int_equal(nchanges, 0);
}

/* A net change beyond int64 is an overflow, even when the balance after it fits. */
static void
test_net_change_overflow(void **state)
{
	AxsBalanceMap *map = *state;

	set_balance(map, 42, TEST_USDT, -INT64_MAX, 0);
	set_rules(map, 42, TEST_USDT, INT64_MAX, false);
	set_balance(map, 43, TEST_USDT, INT64_MAX, 0);
	assert_int_equal(apply_json(map, "{\"id\":1,\"kind\":\"legs\",\"legs\":["
								"{\"account\":42,\"currency\":\"USDT\",\"available\":9223372036854775807,\"frozen\":0},"
								"{\"account\":42,\"currency\":\"USDT\",\"available\":9223372036854775807,\"frozen\":0},"
								"{\"account\":43,\"currency\":\"USDT\",\"available\":-9223372036854775807,\"frozen\":0},"
								"{\"account\":43,\"currency\":\"USDT\",\"available\":-9223372036854775807,\"frozen\":0}]}"),
					 AXS_REASON_OVERFLOW);
	assert_balance(map, 42, TEST_USDT, -INT64_MAX, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_expand_every_kind),
		cmocka_unit_test(test_expand_unknown_currency),
		cmocka_unit_test_setup_teardown(test_deposit_withdraw_freeze_unfreeze, create_map, destroy_map),
		cmocka_unit_test_setup_teardown(test_insufficient_balances, create_map, destroy_map),
		cmocka_unit_test_setup_teardown(test_trade, create_map, destroy_map),
		cmocka_unit_test_setup_teardown(test_unknown_currency_changes_nothing, create_map, destroy_map),
		cmocka_unit_test_setup_teardown(test_all_or_nothing, create_map, destroy_map),
		cmocka_unit_test_setup_teardown(test_changed_flags, create_map, destroy_map),
		cmocka_unit_test_setup_teardown(test_buyer_is_fee_account, create_map, destroy_map),
		cmocka_unit_test_setup_teardown(test_repeated_keys_summed, create_map, destroy_map),
		cmocka_unit_test_setup_teardown(test_overflow, create_map, destroy_map),
		cmocka_unit_test_setup_teardown(test_missing_key, create_map, destroy_map),
		cmocka_unit_test_setup_teardown(test_empty_event, create_map, destroy_map),
		cmocka_unit_test_setup_teardown(test_credit_line, create_map, destroy_map),
		cmocka_unit_test_setup_teardown(test_credit_line_lowered_below_use, create_map, destroy_map),
		cmocka_unit_test_setup_teardown(test_suspended_account, create_map, destroy_map),
		cmocka_unit_test_setup_teardown(test_history_record, create_map, destroy_map),
		cmocka_unit_test_setup_teardown(test_net_change_overflow, create_map, destroy_map),
	};

	return cmocka_run_group_tests_name("ledger", tests, NULL, NULL);
}
