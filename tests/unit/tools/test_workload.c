/*
 * test_workload.c
 *		cmocka tests of the load generator's workload: every valid message
 *		decodes, malformed ones do not, duplicates repeat an earlier message
 *		byte for byte, ids increase, and a seed reproduces the stream;
 *		keying: by market, an order's funding deposit, freezes, trade and
 *		unfreezes share its market's key, and the ledger core, fed the keys'
 *		streams in a random interleaving, rejects exactly the overdrafts
 *		(the intended rejections); by account, the same events are
 *		rejected insufficient_frozen in such an interleaving; a mix
 *		without transfers or fees makes none.
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
#include "ledger.h"
#include "workload.h"

#define SAMPLE 20000

static void
test_messages_decode_as_labelled(void **state)
{
	WorkloadConfig config = {
		.accounts = 1000, .currencies = 5, .malformed_percent = 5,
		.duplicate_percent = 5, .seed = 7, .first_id = 100
	};
	char		error[128];
	Workload   *workload = workload_new(&config, error, sizeof(error));
	int64_t		last_new_id = 99;
	int			counts[4] = {0, 0, 0, 0};
	int			i;

	(void) state;
	assert_non_null(workload);
	for (i = 0; i < SAMPLE; i++)
	{
		WorkloadMessage message;
		AxsEvent	event;
		AxsDecodeError decode_error;
		bool		valid;

		workload_next(workload, &message);
		counts[message.kind]++;
		valid = axs_event_from_json(message.text, message.length, &event, &decode_error);
		if (message.kind == WORKLOAD_MALFORMED)
		{
			assert_false(valid);
			continue;
		}
		if (!valid)
			fail_msg("%s: %s", message.text, decode_error.message);
		if (message.kind == WORKLOAD_DUPLICATE)
			assert_true(event.id <= last_new_id);
		else
		{
			assert_true(event.id > last_new_id);
			last_new_id = event.id;
		}
		assert_true(message.key_length > 0 && message.key_length < WORKLOAD_KEY_MAX);
		assert_int_equal(message.id, event.id);
	}
	assert_true(counts[WORKLOAD_MALFORMED] > SAMPLE * 3 / 100);
	assert_true(counts[WORKLOAD_DUPLICATE] > SAMPLE * 3 / 100);
	assert_true(counts[WORKLOAD_OVERDRAFT] > 0);
	assert_true(workload_last_id(workload) >= last_new_id);
	workload_free(workload);
}

static void
test_seed_reproduces(void **state)
{
	WorkloadConfig config = {
		.accounts = 100, .currencies = 3, .malformed_percent = 1,
		.duplicate_percent = 1, .seed = 42, .first_id = 1
	};
	char		error[128];
	Workload   *first = workload_new(&config, error, sizeof(error));
	Workload   *second = workload_new(&config, error, sizeof(error));
	int			i;

	(void) state;
	for (i = 0; i < 1000; i++)
	{
		WorkloadMessage a;
		WorkloadMessage b;

		workload_next(first, &a);
		workload_next(second, &b);
		assert_int_equal(a.length, b.length);
		assert_memory_equal(a.text, b.text, a.length);
	}
	workload_free(first);
	workload_free(second);
}

/* Bounds that do not rise: a deposit bound below the order bound. */
static const WorkloadMix falling_mix = {
	.order_below = 0.5, .deposit_below = 0.4, .withdraw_below = 0.8,
	.transfer_below = 0.9, .trade_fees = true
};

static void
test_rejects_bad_config(void **state)
{
	WorkloadConfig config = {.accounts = 2, .currencies = 5, .seed = 1, .first_id = 1};
	char		error[128];

	(void) state;
	assert_null(workload_new(&config, error, sizeof(error)));
	config.accounts = 10;
	config.currencies = 1;
	assert_null(workload_new(&config, error, sizeof(error)));
	config.currencies = 5;
	config.mix = &falling_mix;
	assert_null(workload_new(&config, error, sizeof(error)));
}

/* The next message of a workload that makes only valid ones, decoded. */
static AxsEvent
next_valid_event(Workload *workload)
{
	WorkloadMessage message;
	AxsEvent	event;
	AxsDecodeError decode_error;

	workload_next(workload, &message);
	if (!axs_event_from_json(message.text, message.length, &event, &decode_error))
		fail_msg("%.*s: %s", (int) message.length, message.text, decode_error.message);
	return event;
}

/* A mix without transfers or fees, as the applier benchmark draws. */
static void
test_mix_without_transfers_or_fees(void **state)
{
	static const WorkloadMix mix = {
		.order_below = 0.60, .deposit_below = 0.78, .withdraw_below = 0.975,
		.transfer_below = 0.975, .trade_fees = false
	};
	WorkloadConfig config = {
		.accounts = 1000, .currencies = 5, .duplicate_percent = 1, .seed = 3,
		.first_id = 1, .mix = &mix
	};
	char		error[128];
	Workload   *workload;
	int			trades = 0;

	(void) state;
	workload = workload_new(&config, error, sizeof(error));
	assert_non_null(workload);
	for (int i = 0; i < SAMPLE; i++)
	{
		AxsEvent	event = next_valid_event(workload);

		assert_int_not_equal(event.kind, AXS_KIND_TRANSFER);
		if (event.kind == AXS_KIND_TRADE)
		{
			trades++;
			assert_int_equal(event.u.trade.buyer_fee, 0);
			assert_int_equal(event.u.trade.seller_fee, 0);
			assert_int_equal(event.u.trade.fee_account, 0);
		}
	}
	assert_true(trades > 0);
	workload_free(workload);
}

/* Messages of one generated stream, with their keys as strings. */
typedef struct KeyedMessage
{
	int			sequence;
	char		key[WORKLOAD_KEY_MAX + 1];
	WorkloadMessage message;
} KeyedMessage;

static KeyedMessage *
generate(WorkloadKeying keying, int count)
{
	WorkloadConfig config = {
		.accounts = 500, .currencies = 5, .seed = 19, .first_id = 1, .keying = keying
	};
	char		error[128];
	Workload   *workload = workload_new(&config, error, sizeof(error));
	KeyedMessage *messages = calloc((size_t) count, sizeof(KeyedMessage));

	assert_non_null(workload);
	assert_non_null(messages);
	for (int i = 0; i < count; i++)
	{
		workload_next(workload, &messages[i].message);
		messages[i].sequence = i;
		memcpy(messages[i].key, messages[i].message.key, messages[i].message.key_length);
		messages[i].key[messages[i].message.key_length] = '\0';
	}
	workload_free(workload);
	return messages;
}

static AxsEvent
decode(const WorkloadMessage *message)
{
	AxsEvent	event;
	AxsDecodeError decode_error;

	if (!axs_event_from_json(message->text, message->length, &event, &decode_error))
		fail_msg("%s: %s", message->text, decode_error.message);
	return event;
}

static void
test_keying_names(void **state)
{
	WorkloadKeying keying = WORKLOAD_KEY_ACCOUNT;

	(void) state;
	assert_true(workload_keying_parse("market", &keying));
	assert_int_equal(keying, WORKLOAD_KEY_MARKET);
	assert_true(workload_keying_parse("account", &keying));
	assert_int_equal(keying, WORKLOAD_KEY_ACCOUNT);
	assert_false(workload_keying_parse("buyer", &keying));
	assert_string_equal(workload_keying_name(WORKLOAD_KEY_MARKET), "market");
	assert_string_equal(workload_keying_name(WORKLOAD_KEY_ACCOUNT), "account");
}

/* The keying changes the keys, never the events. */
static void
test_keying_keeps_events(void **state)
{
	KeyedMessage *market = generate(WORKLOAD_KEY_MARKET, SAMPLE);
	KeyedMessage *account = generate(WORKLOAD_KEY_ACCOUNT, SAMPLE);
	int			keys_differ = 0;

	(void) state;
	for (int i = 0; i < SAMPLE; i++)
	{
		assert_int_equal(market[i].message.length, account[i].message.length);
		assert_memory_equal(market[i].message.text, account[i].message.text,
							market[i].message.length);
		assert_int_equal(market[i].message.kind, account[i].message.kind);
		keys_differ += strcmp(market[i].key, account[i].key) != 0;
	}
	assert_true(keys_differ > SAMPLE / 2);
	free(market);
	free(account);
}

/*
 * By market: a trade is keyed BASE-USDT; a freeze or unfreeze by a market
 * of its currency; a deposit keyed by a market funds the next freeze of that
 * account and currency, in the same market; withdrawals and transfers by
 * the account.
 */
static void
test_market_keys(void **state)
{
	KeyedMessage *messages = generate(WORKLOAD_KEY_MARKET, SAMPLE);
	/* per account (< 500) and currency (< 5): key of an unspent funding deposit */
	static char funding[500][5][WORKLOAD_KEY_MAX + 1];
	static const char *const codes[] = {"USDT", "BTC", "ETH", "SOL", "XRP"};
	int			trades = 0;
	int			funded_freezes = 0;

	(void) state;
	memset(funding, 0, sizeof(funding));
	for (int i = 0; i < SAMPLE; i++)
	{
		AxsEvent	event = decode(&messages[i].message);
		const char *key = messages[i].key;
		char		expected[WORKLOAD_KEY_MAX + 1];
		int			currency = 0;

		if (event.kind == AXS_KIND_TRADE)
		{
			snprintf(expected, sizeof(expected), "%s-USDT", event.u.trade.base);
			assert_string_equal(key, expected);
			assert_string_equal(event.u.trade.quote, "USDT");
			trades++;
			continue;
		}
		if (event.kind == AXS_KIND_TRANSFER)
		{
			snprintf(expected, sizeof(expected), "%lld", (long long) event.u.transfer.from_account);
			assert_string_equal(key, expected);
			continue;
		}
		while (strcmp(codes[currency], event.u.amount.currency) != 0)
			currency++;
		if (event.kind == AXS_KIND_FREEZE || event.kind == AXS_KIND_UNFREEZE ||
			(event.kind == AXS_KIND_DEPOSIT && strchr(key, '-') != NULL))
		{
			/* a market of this currency: BASE-USDT, with this currency on one side */
			assert_non_null(strstr(key, "-USDT"));
			if (currency != 0)
			{
				snprintf(expected, sizeof(expected), "%s-USDT", event.u.amount.currency);
				assert_string_equal(key, expected);
			}
		}
		else
		{
			snprintf(expected, sizeof(expected), "%lld", (long long) event.u.amount.account);
			assert_string_equal(key, expected);
		}
		if (event.kind == AXS_KIND_DEPOSIT && strchr(key, '-') != NULL)
			strcpy(funding[event.u.amount.account][currency], key);
		else if (event.kind == AXS_KIND_FREEZE && funding[event.u.amount.account][currency][0] != '\0')
		{
			assert_string_equal(key, funding[event.u.amount.account][currency]);
			funding[event.u.amount.account][currency][0] = '\0';
			funded_freezes++;
		}
	}
	assert_true(trades > SAMPLE / 10);
	assert_true(funded_freezes > 100);
	free(messages);
}

static int
compare_key_then_sequence(const void *a, const void *b)
{
	const KeyedMessage *left = a;
	const KeyedMessage *right = b;
	int			order = strcmp(left->key, right->key);

	return order != 0 ? order : (left->sequence > right->sequence) - (left->sequence < right->sequence);
}

static int32_t
resolve_currency(void *context, const char *code)
{
	static const char *const codes[] = {"USDT", "BTC", "ETH", "SOL", "XRP"};

	(void) context;
	for (int32_t i = 0; i < 5; i++)
		if (strcmp(codes[i], code) == 0)
			return i + 1;
	return -1;
}

typedef struct Outcomes
{
	int			applied;
	int			overdrafts;
	int			overdrafts_rejected;
	int			unintended_available;	/* insufficient_available, not an overdraft */
	int			unintended_frozen;	/* insufficient_frozen */
	int			other;
} Outcomes;

/*
 * Apply the messages with the ledger core in a random interleaving of their
 * keys' streams, as partitions arrive at the feeder: each key's messages in
 * their order, runs of 1 to 300 messages of a key at a time.
 */
static Outcomes
apply_interleaved(KeyedMessage *messages, int count, unsigned seed)
{
	typedef struct Stream
	{
		int			next;
		int			end;
	} Stream;
	Stream	   *streams = calloc((size_t) count, sizeof(Stream));
	int			stream_count = 0;
	AxsBalanceMap *balances = axs_balance_map_create(&axs_default_allocator, 4096);
	Outcomes	outcomes;

	memset(&outcomes, 0, sizeof(outcomes));
	qsort(messages, (size_t) count, sizeof(KeyedMessage), compare_key_then_sequence);
	for (int i = 0; i < count; i++)
	{
		if (i == 0 || strcmp(messages[i].key, messages[i - 1].key) != 0)
			streams[stream_count++].next = i;
		streams[stream_count - 1].end = i + 1;
	}
	srand(seed);
	while (stream_count > 0)
	{
		int			chosen = rand() % stream_count;
		Stream	   *stream = &streams[chosen];
		int			run = 1 + rand() % 300;

		while (run-- > 0 && stream->next < stream->end)
		{
			const WorkloadMessage *message = &messages[stream->next++].message;
			AxsEvent	event = decode(message);
			AxsLeg		legs[AXS_MAX_LEGS];
			int			leg_count;
			AxsReason	reason;

			assert_int_equal(axs_event_expand(&event, resolve_currency, NULL, legs, &leg_count),
							 AXS_REASON_NONE);
			for (int l = 0; l < leg_count; l++)
				axs_balance_map_get(balances, legs[l].account, legs[l].currency);
			reason = axs_ledger_apply(balances, legs, leg_count);
			if (message->kind == WORKLOAD_OVERDRAFT)
				outcomes.overdrafts++;
			if (reason == AXS_REASON_NONE)
				outcomes.applied++;
			else if (message->kind == WORKLOAD_OVERDRAFT && reason == AXS_REASON_INSUFFICIENT_AVAILABLE)
				outcomes.overdrafts_rejected++;
			else if (reason == AXS_REASON_INSUFFICIENT_AVAILABLE)
				outcomes.unintended_available++;
			else if (reason == AXS_REASON_INSUFFICIENT_FROZEN)
				outcomes.unintended_frozen++;
			else
				outcomes.other++;
		}
		if (stream->next == stream->end)
			streams[chosen] = streams[--stream_count];
	}
	axs_balance_map_destroy(balances);
	free(streams);
	return outcomes;
}

/* By market, in any interleaving: the overdrafts are rejected, nothing else. */
static void
test_market_keying_rejects_only_overdrafts(void **state)
{
	(void) state;
	for (unsigned seed = 1; seed <= 3; seed++)
	{
		KeyedMessage *messages = generate(WORKLOAD_KEY_MARKET, SAMPLE);
		Outcomes	outcomes = apply_interleaved(messages, SAMPLE, seed);

		assert_true(outcomes.overdrafts > 100);
		assert_int_equal(outcomes.overdrafts_rejected, outcomes.overdrafts);
		assert_int_equal(outcomes.unintended_available, 0);
		assert_int_equal(outcomes.unintended_frozen, 0);
		assert_int_equal(outcomes.other, 0);
		assert_int_equal(outcomes.applied + outcomes.overdrafts, SAMPLE);
		free(messages);
	}
}

/* By account, the same events in such an interleaving meet ordering artefacts. */
static void
test_account_keying_shows_artefacts(void **state)
{
	KeyedMessage *messages = generate(WORKLOAD_KEY_ACCOUNT, SAMPLE);
	Outcomes	outcomes = apply_interleaved(messages, SAMPLE, 1);

	(void) state;
	assert_int_equal(outcomes.overdrafts_rejected, outcomes.overdrafts);
	assert_true(outcomes.unintended_frozen > 0);
	print_message("keyed by account: %d insufficient_frozen, %d unintended insufficient_available, "
				  "%d overdrafts\n", outcomes.unintended_frozen, outcomes.unintended_available,
				  outcomes.overdrafts);
	free(messages);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keying_names),
		cmocka_unit_test(test_keying_keeps_events),
		cmocka_unit_test(test_market_keys),
		cmocka_unit_test(test_market_keying_rejects_only_overdrafts),
		cmocka_unit_test(test_account_keying_shows_artefacts),
		cmocka_unit_test(test_messages_decode_as_labelled),
		cmocka_unit_test(test_seed_reproduces),
		cmocka_unit_test(test_rejects_bad_config),
		cmocka_unit_test(test_mix_without_transfers_or_fees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
