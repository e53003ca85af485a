/*
 * test_ledger_model.c
 *		Randomized test of the whole ledger core against a straightforward
 *		model: 200k random events (valid and invalid) over a few accounts and
 *		currencies, with credit lines set and lowered and accounts suspended
 *		and resumed along the way, with a fixed seed.
 *
 * The model works from the event semantics directly, in 128-bit arithmetic,
 * and shares no code with the core: its own validity rules, its own balance
 * effects per kind, its own checks.  After every event the core and the
 * model must agree on the decision and on every balance, and no frozen
 * balance may be negative.  Each event also makes the JSON and binary round
 * trips.  The credit lines and suspensions are the loader's input to the
 * core (the map entries' credit and suspended), set from the model's.
 * Every applied event's history entries (history_record.c), with the
 * event's kind and its place in its unit (counted by the core's side as it
 * goes, by the model from the event's number), are packed in units of
 * UNIT_EVENTS events into blocks (history_block.c), as the applier does
 * with a batch; at the end every balance's history, walked back from its
 * latest block, must be the model's list of its changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "history_block.h"
#include "ledger.h"
#include "test_support.h"

#define EVENT_COUNT 200000
#define ACCOUNT_COUNT 5			/* valid accounts are 1..ACCOUNT_COUNT */
#define CURRENCY_COUNT 3		/* registered ids are 1..CURRENCY_COUNT */

/* The outcome the model predicts: a reason, or invalid before the ledger. */
#define OUTCOME_INVALID (-1)

/* Codes the generator draws from: registered, unknown, and malformed. */
static const char *const currency_pool[] = {"USDT", "BTC", "ETH", "DOGE", "B@D", ""};
#define CURRENCY_POOL_SIZE 6

typedef struct Model
{
	__int128	available[ACCOUNT_COUNT + 1][CURRENCY_COUNT + 1];
	__int128	frozen[ACCOUNT_COUNT + 1][CURRENCY_COUNT + 1];
	int64_t		credit[ACCOUNT_COUNT + 1][CURRENCY_COUNT + 1];
	bool		suspended[ACCOUNT_COUNT + 1];
} Model;

/* Every this many events, a credit line or a suspension changes. */
#define RULE_CHANGE_EVERY 100

/* The history's decision unit, as an applier batch. */
#define UNIT_EVENTS 1000

/* One change in a balance's history, as the model sees it. */
typedef struct ModelChange
{
	int64_t		event_id;
	AxsEventKind kind;
	int32_t		ordinal;		/* the event's place in its unit */
	int64_t		available_delta;
	int64_t		frozen_delta;
	int64_t		available;
	int64_t		frozen;
} ModelChange;

typedef struct ModelHistory
{
	ModelChange *changes;
	size_t		count;
	size_t		capacity;
} ModelHistory;

static ModelHistory model_history[ACCOUNT_COUNT + 1][CURRENCY_COUNT + 1];

/* The core's side: the unit being recorded and the blocks packed so far. */
typedef struct HistoryStore
{
	AxsHistoryEntry *unit;
	size_t		unit_count;
	size_t		unit_events;	/* the unit's events so far, applied or not */
	uint8_t   **blocks;			/* by locator - 1 */
	size_t	   *lengths;
	size_t		block_count;
	size_t		block_capacity;
} HistoryStore;

/* Effect of one event on the model, before the checks. */
typedef struct ModelDelta
{
	__int128	available[ACCOUNT_COUNT + 1][CURRENCY_COUNT + 1];
	__int128	frozen[ACCOUNT_COUNT + 1][CURRENCY_COUNT + 1];
	bool		touched[ACCOUNT_COUNT + 1][CURRENCY_COUNT + 1];
} ModelDelta;

/* Generator */

static int64_t
random_account(TestRandom *random)
{
	uint64_t	pick = test_random_below(random, 100);

	if (pick == 0)
		return 0;
	if (pick == 1)
		return -1;
	return 1 + (int64_t) test_random_below(random, ACCOUNT_COUNT);
}

static const char *
random_code(TestRandom *random)
{
	uint64_t	pick = test_random_below(random, 100);

	if (pick < 2)
		return currency_pool[3 + test_random_below(random, 3)];
	return currency_pool[test_random_below(random, CURRENCY_COUNT)];
}

/* Mostly small, sometimes huge, rarely not positive. */
static int64_t
random_amount(TestRandom *random)
{
	uint64_t	pick = test_random_below(random, 100);

	if (pick < 2)
		return -(int64_t) test_random_below(random, 3);
	if (pick < 6)
		return INT64_MAX - (int64_t) test_random_below(random, 1000);
	if (pick < 10)
		return INT64_MAX / 2 - (int64_t) test_random_below(random, 1000);
	return 1 + (int64_t) test_random_below(random, 1000);
}

static int64_t
random_delta(TestRandom *random)
{
	uint64_t	pick = test_random_below(random, 100);

	if (pick < 3)
		return INT64_MAX - (int64_t) test_random_below(random, 10);
	if (pick < 6)
		return INT64_MIN + (int64_t) test_random_below(random, 10);
	if (pick < 20)
		return 0;
	return (int64_t) test_random_below(random, 401) - 200;
}

static void
random_code_into(TestRandom *random, char *dest)
{
	strcpy(dest, random_code(random));
}

static void
random_legs(TestRandom *random, AxsLegsEvent *event)
{
	int			count = 1 + (int) test_random_below(random, 6);

	if (test_random_below(random, 50) == 0)
		count = test_random_below(random, 2) == 0 ? 0 : 1 + (int) test_random_below(random, AXS_MAX_RAW_LEGS);
	event->count = count;
	for (int i = 0; i < count; i++)
	{
		AxsRawLeg  *leg = &event->legs[i];

		leg->account = random_account(random);
		random_code_into(random, leg->currency);
		leg->available = random_delta(random);
		leg->frozen = random_delta(random);
	}

	/* balance it on the last leg of each currency, most of the time */
	if (test_random_below(random, 10) == 0)
		return;
	for (int last = count - 1; last >= 0; last--)
	{
		__int128	others = 0;
		__int128	needed;
		bool		later_same = false;

		for (int i = last + 1; i < count; i++)
			later_same |= strcmp(event->legs[i].currency, event->legs[last].currency) == 0;
		if (later_same)
			continue;
		for (int i = 0; i < last; i++)
		{
			if (strcmp(event->legs[i].currency, event->legs[last].currency) == 0)
				others += (__int128) event->legs[i].available + event->legs[i].frozen;
		}
		needed = -others - event->legs[last].frozen;
		if (needed >= INT64_MIN && needed <= INT64_MAX)
			event->legs[last].available = (int64_t) needed;
	}
}

static void
random_event(TestRandom *random, int64_t id, AxsEvent *event)
{
	uint64_t	pick = test_random_below(random, 100);

	memset(event, 0, sizeof(*event));
	event->id = test_random_below(random, 200) == 0 ? 0 : id;
	if (pick < 24)
		event->kind = AXS_KIND_DEPOSIT;
	else if (pick < 36)
		event->kind = AXS_KIND_WITHDRAW;
	else if (pick < 50)
		event->kind = AXS_KIND_FREEZE;
	else if (pick < 62)
		event->kind = AXS_KIND_UNFREEZE;
	else if (pick < 74)
		event->kind = AXS_KIND_TRANSFER;
	else if (pick < 90)
		event->kind = AXS_KIND_TRADE;
	else
		event->kind = AXS_KIND_LEGS;

	switch (event->kind)
	{
		case AXS_KIND_DEPOSIT:
		case AXS_KIND_WITHDRAW:
		case AXS_KIND_FREEZE:
		case AXS_KIND_UNFREEZE:
			event->u.amount.account = random_account(random);
			random_code_into(random, event->u.amount.currency);
			event->u.amount.amount = random_amount(random);
			break;
		case AXS_KIND_TRANSFER:
			event->u.transfer.from_account = random_account(random);
			event->u.transfer.to_account = random_account(random);
			random_code_into(random, event->u.transfer.currency);
			event->u.transfer.amount = random_amount(random);
			break;
		case AXS_KIND_TRADE:
			{
				AxsTradeEvent *trade = &event->u.trade;
				uint64_t	fee_pick = test_random_below(random, 10);

				trade->buyer = random_account(random);
				trade->seller = random_account(random);
				random_code_into(random, trade->base);
				random_code_into(random, trade->quote);
				trade->base_amount = random_amount(random);
				trade->quote_amount = random_amount(random);
				if (fee_pick < 4)
				{
					trade->buyer_fee = (int64_t) test_random_below(random, 5);
					trade->seller_fee = (int64_t) test_random_below(random, 5);
				}
				else if (fee_pick == 4)
				{
					trade->buyer_fee = trade->base_amount + (int64_t) test_random_below(random, 2);
					trade->seller_fee = -(int64_t) test_random_below(random, 2);
				}
				trade->fee_account = test_random_below(random, 8) == 0 ? 0 : random_account(random);
				break;
			}
		case AXS_KIND_LEGS:
			random_legs(random, &event->u.legs);
			break;
	}
}

/* The model */

static bool
model_code_valid(const char *code)
{
	size_t		length = strlen(code);

	if (length < 1 || length > 16)
		return false;
	for (size_t i = 0; i < length; i++)
	{
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-", code[i]) == NULL)
			return false;
	}
	return true;
}

static bool
model_event_valid(const AxsEvent *event)
{
	if (event->id <= 0)
		return false;
	switch (event->kind)
	{
		case AXS_KIND_DEPOSIT:
		case AXS_KIND_WITHDRAW:
		case AXS_KIND_FREEZE:
		case AXS_KIND_UNFREEZE:
			return event->u.amount.account > 0 && model_code_valid(event->u.amount.currency) &&
				event->u.amount.amount > 0;
		case AXS_KIND_TRANSFER:
			return event->u.transfer.from_account > 0 && event->u.transfer.to_account > 0 &&
				event->u.transfer.from_account != event->u.transfer.to_account &&
				model_code_valid(event->u.transfer.currency) && event->u.transfer.amount > 0;
		case AXS_KIND_TRADE:
			{
				const AxsTradeEvent *trade = &event->u.trade;

				return trade->buyer > 0 && trade->seller > 0 && trade->buyer != trade->seller &&
					model_code_valid(trade->base) && model_code_valid(trade->quote) &&
					strcmp(trade->base, trade->quote) != 0 &&
					trade->base_amount > 0 && trade->quote_amount > 0 &&
					trade->buyer_fee >= 0 && trade->buyer_fee <= trade->base_amount &&
					trade->seller_fee >= 0 && trade->seller_fee <= trade->quote_amount &&
					trade->fee_account >= 0 &&
					(trade->fee_account > 0 || (trade->buyer_fee == 0 && trade->seller_fee == 0));
			}
		case AXS_KIND_LEGS:
			{
				const AxsLegsEvent *legs = &event->u.legs;

				if (legs->count < 1 || legs->count > 16)
					return false;
				for (int i = 0; i < legs->count; i++)
				{
					__int128	sum = 0;

					if (legs->legs[i].account <= 0 || !model_code_valid(legs->legs[i].currency))
						return false;
					for (int j = 0; j < legs->count; j++)
					{
						if (strcmp(legs->legs[j].currency, legs->legs[i].currency) == 0)
							sum += (__int128) legs->legs[j].available + legs->legs[j].frozen;
					}
					if (sum != 0)
						return false;
				}
				return true;
			}
	}
	return false;
}

/* The registered id of a code, or 0 if unknown. */
static int
model_currency(const char *code)
{
	for (int id = 1; id <= CURRENCY_COUNT; id++)
	{
		if (strcmp(code, currency_pool[id - 1]) == 0)
			return id;
	}
	return 0;
}

static void
model_touch(ModelDelta *delta, int64_t account, int currency, __int128 available, __int128 frozen)
{
	delta->available[account][currency] += available;
	delta->frozen[account][currency] += frozen;
	delta->touched[account][currency] = true;
}

/*
 * Fill delta with the effect of a valid event; returns false if a currency
 * is unknown.
 */
static bool
model_effect(const AxsEvent *event, ModelDelta *delta)
{
	memset(delta, 0, sizeof(*delta));
	switch (event->kind)
	{
		case AXS_KIND_DEPOSIT:
		case AXS_KIND_WITHDRAW:
		case AXS_KIND_FREEZE:
		case AXS_KIND_UNFREEZE:
			{
				int			currency = model_currency(event->u.amount.currency);
				__int128	amount = event->u.amount.amount;
				int64_t		account = event->u.amount.account;

				if (currency == 0)
					return false;
				if (event->kind == AXS_KIND_DEPOSIT)
					model_touch(delta, account, currency, amount, 0);
				else if (event->kind == AXS_KIND_WITHDRAW)
					model_touch(delta, account, currency, -amount, 0);
				else if (event->kind == AXS_KIND_FREEZE)
					model_touch(delta, account, currency, -amount, amount);
				else
					model_touch(delta, account, currency, amount, -amount);
				return true;
			}
		case AXS_KIND_TRANSFER:
			{
				int			currency = model_currency(event->u.transfer.currency);

				if (currency == 0)
					return false;
				model_touch(delta, event->u.transfer.from_account, currency, -(__int128) event->u.transfer.amount, 0);
				model_touch(delta, event->u.transfer.to_account, currency, event->u.transfer.amount, 0);
				return true;
			}
		case AXS_KIND_TRADE:
			{
				const AxsTradeEvent *trade = &event->u.trade;
				int			base = model_currency(trade->base);
				int			quote = model_currency(trade->quote);

				if (base == 0 || quote == 0)
					return false;
				model_touch(delta, trade->buyer, quote, 0, -(__int128) trade->quote_amount);
				model_touch(delta, trade->buyer, base, (__int128) trade->base_amount - trade->buyer_fee, 0);
				model_touch(delta, trade->seller, base, 0, -(__int128) trade->base_amount);
				model_touch(delta, trade->seller, quote, (__int128) trade->quote_amount - trade->seller_fee, 0);
				if (trade->buyer_fee != 0)
					model_touch(delta, trade->fee_account, base, trade->buyer_fee, 0);
				if (trade->seller_fee != 0)
					model_touch(delta, trade->fee_account, quote, trade->seller_fee, 0);
				return true;
			}
		case AXS_KIND_LEGS:
			for (int i = 0; i < event->u.legs.count; i++)
			{
				if (model_currency(event->u.legs.legs[i].currency) == 0)
					return false;
			}
			for (int i = 0; i < event->u.legs.count; i++)
			{
				const AxsRawLeg *leg = &event->u.legs.legs[i];

				model_touch(delta, leg->account, model_currency(leg->currency), leg->available, leg->frozen);
			}
			return true;
	}
	return false;
}

/*
 * Predict the outcome of a valid event and, if it applies, apply it.
 * number counts the run's events from 1 and a unit is UNIT_EVENTS of them,
 * so the event's ordinal is (number - 1) % UNIT_EVENTS.
 */
static int
model_apply(Model *model, const ModelDelta *delta, const AxsEvent *event, int64_t number)
{
	bool		overflow = false;
	bool		suspended_debit = false;
	bool		available_short = false;
	bool		frozen_negative = false;

	for (int account = 1; account <= ACCOUNT_COUNT; account++)
	{
		for (int currency = 1; currency <= CURRENCY_COUNT; currency++)
		{
			__int128	available_delta = delta->available[account][currency];
			__int128	frozen_delta = delta->frozen[account][currency];
			__int128	available = model->available[account][currency] + available_delta;
			__int128	frozen = model->frozen[account][currency] + frozen_delta;

			if (!delta->touched[account][currency])
				continue;
			overflow |= available > INT64_MAX || available < INT64_MIN ||
				frozen > INT64_MAX || frozen < INT64_MIN;
			overflow |= available_delta > INT64_MAX || available_delta < INT64_MIN ||
				frozen_delta > INT64_MAX || frozen_delta < INT64_MIN;
			suspended_debit |= model->suspended[account] && available_delta + frozen_delta < 0;
			available_short |= available_delta < 0 && available < -(__int128) model->credit[account][currency];
			frozen_negative |= frozen < 0;
		}
	}
	if (overflow)
		return AXS_REASON_OVERFLOW;
	if (suspended_debit)
		return AXS_REASON_ACCOUNT_SUSPENDED;
	if (available_short)
		return AXS_REASON_INSUFFICIENT_AVAILABLE;
	if (frozen_negative)
		return AXS_REASON_INSUFFICIENT_FROZEN;
	for (int account = 1; account <= ACCOUNT_COUNT; account++)
	{
		for (int currency = 1; currency <= CURRENCY_COUNT; currency++)
		{
			model->available[account][currency] += delta->available[account][currency];
			model->frozen[account][currency] += delta->frozen[account][currency];
			if (delta->available[account][currency] != 0 || delta->frozen[account][currency] != 0)
			{
				ModelHistory *history = &model_history[account][currency];
				ModelChange *change;

				if (history->count == history->capacity)
				{
					history->capacity = history->capacity * 2 + 64;
					history->changes = realloc(history->changes, history->capacity * sizeof(ModelChange));
					assert_non_null(history->changes);
				}
				change = &history->changes[history->count++];
				change->event_id = event->id;
				change->kind = event->kind;
				change->ordinal = (int32_t) ((number - 1) % UNIT_EVENTS);
				change->available_delta = (int64_t) delta->available[account][currency];
				change->frozen_delta = (int64_t) delta->frozen[account][currency];
				change->available = (int64_t) model->available[account][currency];
				change->frozen = (int64_t) model->frozen[account][currency];
			}
		}
	}
	return AXS_REASON_NONE;
}

/* A credit line set, raised or lowered (possibly below its use), or an account suspended or resumed. */
static void
change_rules(TestRandom *random, Model *model)
{
	int			account = 1 + (int) test_random_below(random, ACCOUNT_COUNT);
	uint64_t	pick = test_random_below(random, 8);

	/* resumed three times as often as suspended: an account is suspended a quarter of the time */
	if (pick == 0)
		model->suspended[account] = true;
	else if (pick <= 3)
		model->suspended[account] = false;
	else
	{
		static const int64_t credits[] = {0, 0, 10, 1000, 1000000, INT64_MAX};
		int			currency = 1 + (int) test_random_below(random, CURRENCY_COUNT);

		model->credit[account][currency] = credits[test_random_below(random, 6)];
	}
}

/*
 * The core, driven the way the applier drives it; the loader's part from
 * the model's rules.  ordinal is the event's place in the unit.
 */
static int
core_apply(AxsBalanceMap *map, const Model *model, const AxsEvent *event, int32_t ordinal,
		   HistoryStore *store)
{
	AxsDecodeError err;
	AxsLeg		legs[AXS_MAX_LEGS];
	AxsAppliedChange changes[AXS_MAX_LEGS];
	int			nlegs;
	int			nchanges;
	AxsReason	reason;
	size_t		cursor = 0;
	AxsBalance *entry;

	while ((entry = axs_balance_map_next(map, &cursor)) != NULL)
		entry->changed = false;
	if (!axs_event_validate(event, &err))
	{
		assert_int_equal(err.status, AXS_DECODE_INVALID_EVENT);
		assert_true(err.message[0] != '\0');
		return OUTCOME_INVALID;
	}
	reason = axs_event_expand(event, test_resolve_currency, NULL, legs, &nlegs);
	if (reason != AXS_REASON_NONE)
		return reason;
	assert_true(nlegs >= 1 && nlegs <= AXS_MAX_LEGS);
	for (int i = 0; i < nlegs; i++)
	{
		AxsBalance *entry = axs_balance_map_get(map, legs[i].account, legs[i].currency);

		entry->credit = model->credit[legs[i].account][legs[i].currency];
		entry->suspended = model->suspended[legs[i].account];
	}
	reason = axs_ledger_apply_changes(map, legs, nlegs, changes, &nchanges);
	if (reason == AXS_REASON_NONE)
		store->unit_count += axs_history_record(event->id, (uint8_t) event->kind, ordinal,
												changes, nchanges, &store->unit[store->unit_count]);
	return reason;
}

static int64_t
next_locator(void *context)
{
	HistoryStore *store = context;

	return (int64_t) store->block_count + 1;
}

static void
keep_block(void *context, int64_t locator, const uint8_t *block, size_t length)
{
	HistoryStore *store = context;

	assert_int_equal(locator, (int64_t) store->block_count + 1);
	if (store->block_count == store->block_capacity)
	{
		store->block_capacity = store->block_capacity * 2 + 64;
		store->blocks = realloc(store->blocks, store->block_capacity * sizeof(uint8_t *));
		store->lengths = realloc(store->lengths, store->block_capacity * sizeof(size_t));
		assert_non_null(store->blocks);
		assert_non_null(store->lengths);
	}
	store->blocks[store->block_count] = malloc(length);
	assert_non_null(store->blocks[store->block_count]);
	memcpy(store->blocks[store->block_count], block, length);
	store->lengths[store->block_count++] = length;
}

/* End a unit as the applier ends a batch: sort, pack, and move each balance's head. */
static void
pack_unit(AxsBalanceMap *map, HistoryStore *store)
{
	AxsHistoryHead *heads = malloc(sizeof(AxsHistoryHead) * (store->unit_count + 1));
	size_t		head_count;

	assert_non_null(heads);
	axs_history_sort(store->unit, store->unit_count, &axs_default_allocator);
	assert_true(axs_history_pack(store->unit, store->unit_count, next_locator, keep_block, store,
								 heads, store->unit_count + 1, &head_count));
	for (size_t i = 0; i < head_count; i++)
	{
		AxsBalance *balance = axs_balance_map_find(map, heads[i].account, heads[i].currency);

		assert_non_null(balance);
		assert_int_equal(balance->history_seqno, heads[i].seqno);
		balance->history_block = heads[i].locator;
	}
	store->unit_count = 0;
	store->unit_events = 0;
	free(heads);
}

/* Walk a balance's history back from its latest block; compare with the model's. */
static void
compare_history(AxsBalanceMap *map, const HistoryStore *store, int account, int currency)
{
	const ModelHistory *expected = &model_history[account][currency];
	AxsBalance *balance = axs_balance_map_find(map, account, currency);
	int64_t		locator = balance != NULL ? balance->history_block : 0;
	size_t		remaining = expected->count;
	static AxsHistoryEntry found[AXS_HISTORY_BLOCK_MAX_ENTRIES];

	while (locator != 0)
	{
		size_t		count;

		assert_true(locator >= 1 && (size_t) locator <= store->block_count);
		assert_true(axs_history_block_find(store->blocks[locator - 1], store->lengths[locator - 1], locator,
										   account, currency, found, AXS_HISTORY_BLOCK_MAX_ENTRIES, &count));
		assert_true(count >= 1 && count <= remaining);
		for (size_t i = count; i-- > 0;)
		{
			const ModelChange *change = &expected->changes[--remaining];

			if (found[i].event_id != change->event_id || found[i].seqno != (int64_t) remaining + 1 ||
				found[i].kind != change->kind || found[i].ordinal != change->ordinal ||
				found[i].available_delta != change->available_delta || found[i].frozen_delta != change->frozen_delta ||
				found[i].available != change->available || found[i].frozen != change->frozen)
				fail_msg("balance %d/%d, change %zu: history has event %lld kind %d ordinal %d (%lld/%lld -> %lld/%lld), "
						 "the model event %lld kind %d ordinal %d",
						 account, currency, remaining + 1, (long long) found[i].event_id,
						 found[i].kind, found[i].ordinal,
						 (long long) found[i].available_delta, (long long) found[i].frozen_delta,
						 (long long) found[i].available, (long long) found[i].frozen, (long long) change->event_id,
						 (int) change->kind, change->ordinal);
		}
		locator = found[0].previous_block;
	}
	if (remaining != 0)
		fail_msg("balance %d/%d: the chain ends with %zu of the model's %zu changes unseen",
				 account, currency, remaining, expected->count);
}

/* Both external forms must carry a valid event unchanged and refuse an invalid one. */
static void
check_round_trips(const AxsEvent *event, bool valid)
{
	char		json[4096];
	uint8_t		payload[AXS_PAYLOAD_MAX];
	size_t		json_length = axs_event_to_json(event, json, sizeof(json));
	size_t		payload_length = axs_event_encode(event, payload, sizeof(payload));
	AxsEvent	decoded;
	AxsDecodeError err;

	assert_true(json_length > 0);
	if (axs_event_from_json(json, json_length, &decoded, &err) != valid)
		fail_msg("%s: JSON decoding says %s (%s)", json, valid ? "invalid" : "valid", err.message);
	if (valid)
		assert_true(test_events_equal(event, &decoded));
	else
		assert_int_equal(err.status, AXS_DECODE_INVALID_EVENT);

	assert_true(payload_length > 0);
	assert_int_equal(axs_event_decode(event->id, payload, payload_length, &decoded, &err), valid);
	if (valid)
		assert_true(test_events_equal(event, &decoded));
}

static void
compare_balances(AxsBalanceMap *map, const Model *model, const ModelDelta *delta,
				 bool applied, int64_t event_number)
{
	size_t		cursor = 0;
	AxsBalance *entry;

	for (int account = 1; account <= ACCOUNT_COUNT; account++)
	{
		for (int currency = 1; currency <= CURRENCY_COUNT; currency++)
		{
			__int128	available = model->available[account][currency];
			__int128	frozen = model->frozen[account][currency];
			bool		touched = applied && delta->touched[account][currency];

			entry = axs_balance_map_find(map, account, currency);
			if (entry == NULL)
			{
				if (available != 0 || frozen != 0 || touched)
					fail_msg("event %lld: balance %d/%d missing", (long long) event_number, account, currency);
				continue;
			}
			if (entry->available != available || entry->frozen != frozen)
				fail_msg("event %lld: balance %d/%d is %lld/%lld, model says %lld/%lld",
						 (long long) event_number, account, currency,
						 (long long) entry->available, (long long) entry->frozen,
						 (long long) available, (long long) frozen);
			if (entry->changed != touched)
				fail_msg("event %lld: balance %d/%d changed flag is %d, expected %d",
						 (long long) event_number, account, currency, entry->changed, touched);
		}
	}
	while ((entry = axs_balance_map_next(map, &cursor)) != NULL)
	{
		assert_true(entry->frozen >= 0);
		assert_true(entry->account >= 1 && entry->account <= ACCOUNT_COUNT);
		assert_true(entry->currency >= 1 && entry->currency <= CURRENCY_COUNT);
	}
}

static void
test_random_events_match_model(void **state)
{
	TestRandom	random = {UINT64_C(0x9E3779B97F4A7C15)};
	AxsBalanceMap *map = axs_balance_map_create(&axs_default_allocator, 16);
	static Model model;
	int			outcome_counts[AXS_REASON_ACCOUNT_SUSPENDED + 2] = {0};
	HistoryStore store;
	size_t		history_entries = 0;

	(void) state;
	memset(&model, 0, sizeof(model));
	memset(&store, 0, sizeof(store));
	store.unit = malloc(sizeof(AxsHistoryEntry) * UNIT_EVENTS * AXS_MAX_LEGS);
	assert_non_null(store.unit);
	for (int64_t number = 1; number <= EVENT_COUNT; number++)
	{
		AxsEvent	event;
		ModelDelta	delta;
		bool		valid;
		int			expected;
		int			actual;

		if (number % RULE_CHANGE_EVERY == 0)
			change_rules(&random, &model);
		random_event(&random, number, &event);
		valid = model_event_valid(&event);
		memset(&delta, 0, sizeof(delta));
		if (!valid)
			expected = OUTCOME_INVALID;
		else if (!model_effect(&event, &delta))
			expected = AXS_REASON_UNKNOWN_CURRENCY;
		else
			expected = model_apply(&model, &delta, &event, number);

		actual = core_apply(map, &model, &event, (int32_t) store.unit_events++, &store);
		if (actual != expected)
		{
			char		json[4096];

			axs_event_to_json(&event, json, sizeof(json));
			fail_msg("event %lld %s: core says %d, model says %d", (long long) number, json, actual, expected);
		}
		check_round_trips(&event, valid);
		compare_balances(map, &model, &delta, expected == AXS_REASON_NONE, number);
		outcome_counts[expected + 1]++;
		if (number % UNIT_EVENTS == 0 || number == EVENT_COUNT)
			pack_unit(map, &store);
	}
	for (int account = 1; account <= ACCOUNT_COUNT; account++)
	{
		for (int currency = 1; currency <= CURRENCY_COUNT; currency++)
		{
			compare_history(map, &store, account, currency);
			history_entries += model_history[account][currency].count;
			free(model_history[account][currency].changes);
		}
	}
	print_message("history: %zu entries in %zu blocks, every balance's chain equal to the model's\n",
				  history_entries, store.block_count);
	for (size_t i = 0; i < store.block_count; i++)
		free(store.blocks[i]);
	free(store.blocks);
	free(store.lengths);
	free(store.unit);

	/* every outcome must have been reached often, or the test proves little */
	for (int outcome = OUTCOME_INVALID; outcome <= AXS_REASON_ACCOUNT_SUSPENDED; outcome++)
	{
		/* the applier's and the queue's own reasons do not come from the core */
		if (outcome == AXS_REASON_ID_REUSED || outcome == AXS_REASON_INVALID_PAYLOAD)
			continue;
		if (outcome_counts[outcome + 1] < 500)
			fail_msg("outcome %d happened only %d times", outcome, outcome_counts[outcome + 1]);
	}
	print_message("outcomes: invalid %d, applied %d, insufficient_available %d, "
				  "insufficient_frozen %d, unknown_currency %d, overflow %d, account_suspended %d\n",
				  outcome_counts[0], outcome_counts[1], outcome_counts[2],
				  outcome_counts[3], outcome_counts[4], outcome_counts[5], outcome_counts[8]);
	axs_balance_map_destroy(map);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_events_match_model),
	};

	return cmocka_run_group_tests_name("ledger_model", tests, NULL, NULL);
}
