/*
 * ledger.c
 *		The balance rules: expanding an event into legs, the balance map, and
 *		applying legs to balances all or none.
 *
 * This is the only place that decides whether an event may change balances.
 * axs_ledger_apply runs once per event in the applier's batch loop, so it
 * works on small fixed arrays and never allocates.  Pure C:
 * it must not include PostgreSQL headers.
 */
#include "ledger.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
axs_reason_name(AxsReason reason)
{
	switch (reason)
	{
		case AXS_REASON_NONE:
			return NULL;
		case AXS_REASON_INSUFFICIENT_AVAILABLE:
			return "insufficient_available";
		case AXS_REASON_INSUFFICIENT_FROZEN:
			return "insufficient_frozen";
		case AXS_REASON_UNKNOWN_CURRENCY:
			return "unknown_currency";
		case AXS_REASON_OVERFLOW:
			return "overflow";
		case AXS_REASON_ID_REUSED:
			return "id_reused";
		case AXS_REASON_INVALID_PAYLOAD:
			return "invalid_payload";
		case AXS_REASON_ACCOUNT_SUSPENDED:
			return "account_suspended";
	}
	return NULL;
}

static void
add_leg(AxsLeg *legs, int *nlegs, int64_t account, int32_t currency,
		int64_t available, int64_t frozen)
{
	AxsLeg	   *leg = &legs[(*nlegs)++];

	leg->account = account;
	leg->currency = currency;
	leg->available = available;
	leg->frozen = frozen;
}

/*
 * Amounts are validated positive and fees within their amounts, so no
 * negation or subtraction below can overflow.
 */
AxsReason
axs_event_expand(const AxsEvent *event, AxsCurrencyResolver resolve,
				 void *context, AxsLeg *legs, int *nlegs)
{
	*nlegs = 0;
	switch (event->kind)
	{
		case AXS_KIND_DEPOSIT:
		case AXS_KIND_WITHDRAW:
		case AXS_KIND_FREEZE:
		case AXS_KIND_UNFREEZE:
			{
				const AxsAmountEvent *amount_event = &event->u.amount;
				int32_t		currency = resolve(context, amount_event->currency);
				int64_t		amount = amount_event->amount;

				if (currency < 0)
					return AXS_REASON_UNKNOWN_CURRENCY;
				if (event->kind == AXS_KIND_DEPOSIT)
					add_leg(legs, nlegs, amount_event->account, currency, amount, 0);
				else if (event->kind == AXS_KIND_WITHDRAW)
					add_leg(legs, nlegs, amount_event->account, currency, -amount, 0);
				else if (event->kind == AXS_KIND_FREEZE)
					add_leg(legs, nlegs, amount_event->account, currency, -amount, amount);
				else
					add_leg(legs, nlegs, amount_event->account, currency, amount, -amount);
				break;
			}
		case AXS_KIND_TRANSFER:
			{
				const AxsTransferEvent *transfer = &event->u.transfer;
				int32_t		currency = resolve(context, transfer->currency);

				if (currency < 0)
					return AXS_REASON_UNKNOWN_CURRENCY;
				add_leg(legs, nlegs, transfer->from_account, currency, -transfer->amount, 0);
				add_leg(legs, nlegs, transfer->to_account, currency, transfer->amount, 0);
				break;
			}
		case AXS_KIND_TRADE:
			{
				const AxsTradeEvent *trade = &event->u.trade;
				int32_t		base = resolve(context, trade->base);
				int32_t		quote = resolve(context, trade->quote);

				if (base < 0 || quote < 0)
					return AXS_REASON_UNKNOWN_CURRENCY;
				add_leg(legs, nlegs, trade->buyer, quote, 0, -trade->quote_amount);
				add_leg(legs, nlegs, trade->buyer, base, trade->base_amount - trade->buyer_fee, 0);
				add_leg(legs, nlegs, trade->seller, base, 0, -trade->base_amount);
				add_leg(legs, nlegs, trade->seller, quote, trade->quote_amount - trade->seller_fee, 0);
				if (trade->buyer_fee != 0)
					add_leg(legs, nlegs, trade->fee_account, base, trade->buyer_fee, 0);
				if (trade->seller_fee != 0)
					add_leg(legs, nlegs, trade->fee_account, quote, trade->seller_fee, 0);
				break;
			}
		case AXS_KIND_LEGS:
			{
				int32_t		currencies[AXS_MAX_RAW_LEGS];

				/* resolve all codes first, so an unknown one leaves no legs */
				for (int i = 0; i < event->u.legs.count; i++)
				{
					currencies[i] = resolve(context, event->u.legs.legs[i].currency);
					if (currencies[i] < 0)
						return AXS_REASON_UNKNOWN_CURRENCY;
				}
				for (int i = 0; i < event->u.legs.count; i++)
				{
					const AxsRawLeg *raw = &event->u.legs.legs[i];

					add_leg(legs, nlegs, raw->account, currencies[i], raw->available, raw->frozen);
				}
				break;
			}
	}
	return AXS_REASON_NONE;
}

static void *
default_allocate(void *context, size_t size)
{
	void	   *pointer = calloc(1, size);

	(void) context;
	if (pointer == NULL)
	{
		fprintf(stderr, "axs: out of memory allocating %zu bytes\n", size);
		abort();
	}
	return pointer;
}

static void
default_release(void *context, void *pointer)
{
	(void) context;
	free(pointer);
}

const AxsAllocator axs_default_allocator = {default_allocate, default_release, NULL};

/*
 * The map keeps one control byte per slot beside the slot array: 0 for an
 * empty slot, else 0x80 | the top 7 bits of the key's hash, so a probe can
 * skip most non-matching slots without touching the entries.  Entries are
 * never removed one by one, so linear probing needs no tombstones.
 */
#define SLOT_EMPTY 0
#define MIN_CAPACITY 16

struct AxsBalanceMap
{
	AxsAllocator allocator;
	uint8_t    *control;
	AxsBalance *slots;
	size_t		capacity;		/* a power of two */
	size_t		count;
	size_t		grow_threshold; /* about 70% of capacity */
};

/* Mix (account, currency) so that nearby keys spread over the whole table. */
static uint64_t
balance_key_hash(int64_t account, int32_t currency)
{
	uint64_t	hash = (uint64_t) account * UINT64_C(0x9E3779B97F4A7C15);

	hash ^= (uint64_t) (uint32_t) currency * UINT64_C(0xC2B2AE3D27D4EB4F);
	/* murmur3 finalizer */
	hash ^= hash >> 33;
	hash *= UINT64_C(0xFF51AFD7ED558CCD);
	hash ^= hash >> 33;
	hash *= UINT64_C(0xC4CEB9FE1A85EC53);
	hash ^= hash >> 33;
	return hash;
}

static uint8_t
control_tag(uint64_t hash)
{
	return (uint8_t) (0x80 | (hash >> 57));
}

static size_t
threshold_for(size_t capacity)
{
	return capacity * 7 / 10;
}

static void
allocate_slots(AxsBalanceMap *map, size_t capacity)
{
	map->capacity = capacity;
	map->grow_threshold = threshold_for(capacity);
	map->control = map->allocator.allocate(map->allocator.context, capacity);
	map->slots = map->allocator.allocate(map->allocator.context, capacity * sizeof(AxsBalance));
}

AxsBalanceMap *
axs_balance_map_create(const AxsAllocator *allocator, size_t expected_entries)
{
	AxsBalanceMap *map = allocator->allocate(allocator->context, sizeof(AxsBalanceMap));
	size_t		capacity = MIN_CAPACITY;

	map->allocator = *allocator;
	while (threshold_for(capacity) < expected_entries && capacity < SIZE_MAX / 4 / sizeof(AxsBalance))
		capacity *= 2;
	allocate_slots(map, capacity);
	map->count = 0;
	return map;
}

void
axs_balance_map_destroy(AxsBalanceMap *map)
{
	if (map == NULL)
		return;
	map->allocator.release(map->allocator.context, map->control);
	map->allocator.release(map->allocator.context, map->slots);
	map->allocator.release(map->allocator.context, map);
}

void
axs_balance_map_clear(AxsBalanceMap *map)
{
	memset(map->control, SLOT_EMPTY, map->capacity);
	map->count = 0;
}

int
axs_balance_pointer_compare(const void *a, const void *b)
{
	const AxsBalance *left = *(AxsBalance *const *) a;
	const AxsBalance *right = *(AxsBalance *const *) b;

	if (left->account != right->account)
		return left->account < right->account ? -1 : 1;
	if (left->currency != right->currency)
		return left->currency < right->currency ? -1 : 1;
	return 0;
}

size_t
axs_balance_map_count(const AxsBalanceMap *map)
{
	return map->count;
}

/*
 * The slot holding the key, or the empty slot where it would go.  The table
 * always has an empty slot, since it grows before it is full.
 */
static size_t
probe(const AxsBalanceMap *map, int64_t account, int32_t currency, uint64_t hash)
{
	size_t		mask = map->capacity - 1;
	size_t		index = (size_t) hash & mask;
	uint8_t		tag = control_tag(hash);

	for (;;)
	{
		uint8_t		control = map->control[index];

		if (control == SLOT_EMPTY)
			return index;
		if (control == tag &&
			map->slots[index].account == account &&
			map->slots[index].currency == currency)
			return index;
		index = (index + 1) & mask;
	}
}

static void
grow(AxsBalanceMap *map)
{
	uint8_t    *old_control = map->control;
	AxsBalance *old_slots = map->slots;
	size_t		old_capacity = map->capacity;

	allocate_slots(map, old_capacity * 2);
	for (size_t i = 0; i < old_capacity; i++)
	{
		const AxsBalance *entry = &old_slots[i];
		uint64_t	hash;
		size_t		index;

		if (old_control[i] == SLOT_EMPTY)
			continue;
		hash = balance_key_hash(entry->account, entry->currency);
		index = probe(map, entry->account, entry->currency, hash);
		map->control[index] = control_tag(hash);
		map->slots[index] = *entry;
	}
	map->allocator.release(map->allocator.context, old_control);
	map->allocator.release(map->allocator.context, old_slots);
}

AxsBalance *
axs_balance_map_find(AxsBalanceMap *map, int64_t account, int32_t currency)
{
	size_t		index = probe(map, account, currency, balance_key_hash(account, currency));

	return map->control[index] == SLOT_EMPTY ? NULL : &map->slots[index];
}

AxsBalance *
axs_balance_map_get(AxsBalanceMap *map, int64_t account, int32_t currency)
{
	uint64_t	hash = balance_key_hash(account, currency);
	size_t		index = probe(map, account, currency, hash);
	AxsBalance *entry;

	if (map->control[index] != SLOT_EMPTY)
		return &map->slots[index];
	if (map->count + 1 > map->grow_threshold)
	{
		grow(map);
		index = probe(map, account, currency, hash);
	}
	map->control[index] = control_tag(hash);
	map->count++;
	entry = &map->slots[index];
	memset(entry, 0, sizeof(*entry));
	entry->account = account;
	entry->currency = currency;
	return entry;
}

void
axs_balance_map_reserve(AxsBalanceMap *map, size_t additional)
{
	while (map->count + additional > map->grow_threshold)
		grow(map);
}

AxsBalance *
axs_balance_map_next(AxsBalanceMap *map, size_t *cursor)
{
	while (*cursor < map->capacity)
	{
		size_t		index = (*cursor)++;

		if (map->control[index] != SLOT_EMPTY)
			return &map->slots[index];
	}
	return NULL;
}

/* The combined effect of an event's legs on one balance. */
typedef struct BalanceChange
{
	int64_t		account;
	int32_t		currency;
	__int128	available;		/* sum of deltas, then the new value */
	__int128	frozen;
	int64_t		available_delta;	/* the net change, once known to fit */
	int64_t		frozen_delta;
	AxsBalance *entry;			/* NULL if the key is missing from the map */
} BalanceChange;

static bool
fits_int64(__int128 value)
{
	return value >= INT64_MIN && value <= INT64_MAX;
}

/*
 * The checks run on the balances after all legs, so an event may pass
 * through a balance (a trade whose buyer is also its fee account) as long as
 * every final balance is in range and within its rules.
 */
AxsReason
axs_ledger_apply(AxsBalanceMap *map, const AxsLeg *legs, int nlegs)
{
	AxsAppliedChange changes[AXS_MAX_LEGS];
	int			nchanges;

	return axs_ledger_apply_changes(map, legs, nlegs, changes, &nchanges);
}

AxsReason
axs_ledger_apply_changes(AxsBalanceMap *map, const AxsLeg *legs, int nlegs,
						 AxsAppliedChange *applied, int *napplied)
{
	BalanceChange changes[AXS_MAX_LEGS];
	int			nchanges = 0;
	bool		overflow = false;
	bool		suspended_debit = false;
	bool		available_short = false;
	bool		frozen_negative = false;
	bool		missing_entries = false;

	assert(nlegs >= 0 && nlegs <= AXS_MAX_LEGS);
	*napplied = 0;

	/* 128-bit sums of at most AXS_MAX_LEGS 64-bit deltas cannot overflow */
	for (int i = 0; i < nlegs; i++)
	{
		BalanceChange *change = NULL;

		for (int j = 0; j < nchanges && change == NULL; j++)
		{
			if (changes[j].account == legs[i].account && changes[j].currency == legs[i].currency)
				change = &changes[j];
		}
		if (change == NULL)
		{
			change = &changes[nchanges++];
			change->account = legs[i].account;
			change->currency = legs[i].currency;
			change->available = 0;
			change->frozen = 0;
		}
		change->available += legs[i].available;
		change->frozen += legs[i].frozen;
	}

	for (int i = 0; i < nchanges; i++)
	{
		BalanceChange *change = &changes[i];
		bool		lowers_available = change->available < 0;
		bool		lowers_total = change->available + change->frozen < 0;
		int64_t		credit = 0;

		/* the history records each net change as an int64 */
		overflow |= !fits_int64(change->available) || !fits_int64(change->frozen);
		change->available_delta = (int64_t) change->available;
		change->frozen_delta = (int64_t) change->frozen;
		change->entry = axs_balance_map_find(map, change->account, change->currency);
		if (change->entry != NULL)
		{
			change->available += change->entry->available;
			change->frozen += change->entry->frozen;
			credit = change->entry->credit;
			suspended_debit |= lowers_total && change->entry->suspended;
		}
		else
			missing_entries = true;
		overflow |= !fits_int64(change->available) || !fits_int64(change->frozen);
		/* a limit lowered below its use blocks debits only, never credits */
		available_short |= lowers_available && change->available < -(__int128) credit;
		frozen_negative |= change->frozen < 0;
	}

	if (overflow)
		return AXS_REASON_OVERFLOW;
	if (suspended_debit)
		return AXS_REASON_ACCOUNT_SUSPENDED;
	if (available_short)
		return AXS_REASON_INSUFFICIENT_AVAILABLE;
	if (frozen_negative)
		return AXS_REASON_INSUFFICIENT_FROZEN;

	/*
	 * Callers should have put every key in the map.  If one is missing, add
	 * it now that the event is known to apply; an insert may move entries,
	 * so look every key up again afterwards.
	 */
	if (missing_entries)
	{
		for (int i = 0; i < nchanges; i++)
		{
			if (changes[i].entry == NULL)
				axs_balance_map_get(map, changes[i].account, changes[i].currency);
		}
		for (int i = 0; i < nchanges; i++)
			changes[i].entry = axs_balance_map_find(map, changes[i].account, changes[i].currency);
	}

	for (int i = 0; i < nchanges; i++)
	{
		changes[i].entry->available = (int64_t) changes[i].available;
		changes[i].entry->frozen = (int64_t) changes[i].frozen;
		changes[i].entry->changed = true;
		applied[i].balance = changes[i].entry;
		applied[i].available_delta = changes[i].available_delta;
		applied[i].frozen_delta = changes[i].frozen_delta;
	}
	*napplied = nchanges;
	return AXS_REASON_NONE;
}
