/*
 * bench_history_block.c
 *		Microbenchmark of the history block codec (core/history_block.c) on
 *		units shaped like the applier's: how long sorting and packing a unit
 *		takes per entry, how many bytes an entry and an event cost, how many
 *		blocks a unit fills, how long finding one key's entries in one block
 *		takes, and how long walking a key's last 1,000 entries back through
 *		its chain takes, with every block in memory.
 *
 * Not a test: `make -C bench history-block` builds and runs it; neither
 * `make test` nor `make bench` does.
 *
 *   bench/core/bench_history_block [units [events_per_unit]]   default 12 100000
 *
 * The workload: 100,000 accounts picked with a Zipf(0.99) skew, 5
 * currencies (the quote currency in every trade, the others by a Zipf
 * skew).  Half the events are trades (buyer and seller, base and quote: 4
 * entries, fewer when buyer and seller are one account), half change one
 * account's balance in one currency (deposits, withdrawals, freezes,
 * unfreezes): about 2.5 entries per event.  Each entry carries its event's
 * kind and its ordinal, the event's index in the unit.  Amounts are
 * log-uniform from 10^4 to 10^10 minor units.  So that seqnos, balances and
 * previous blocks have the sizes of a ledger that has been running, every
 * key starts as if 1,000 units of the same workload had come before (its
 * seqno, a balance of its size, and a head block as far back as its
 * frequency puts it).
 *
 * Times are thread CPU time, each figure the best of ROUNDS rounds (for
 * sorting and packing, summed over the units), so that a busy machine
 * disturbs them as little as possible.  Finds in random blocks read blocks
 * that are mostly not in the CPU's caches, as a block read from PostgreSQL's
 * buffers would be; walks are timed both with the caches emptied first
 * (cold) and with the blocks in them from the round before (warm).
 */
#define _POSIX_C_SOURCE 200809L

#include <malloc.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history_block.h"
#include "ledger.h"

#define ACCOUNTS 100000
#define CURRENCIES 5
#define QUOTE_CURRENCY 5
#define KEYS (ACCOUNTS * CURRENCIES)
#define ZIPF_EXPONENT 0.99
#define UNITS_BEFORE 1000		/* the history each key starts with */
#define ROUNDS 5
#define FIND_PROBES 200000
#define WALK_ENTRIES 1000

typedef struct KeyState
{
	double		per_unit;		/* expected entries in a unit */
	int64_t		seqno;
	int64_t		available;
	int64_t		frozen;
	int64_t		head;
} KeyState;

typedef struct Block
{
	uint8_t    *bytes;
	size_t		length;
} Block;

/* Blocks by locator: locators are consecutive from first_locator. */
typedef struct Store
{
	Block	   *blocks;
	size_t		count;
	size_t		capacity;
	uint8_t    *arena;			/* the blocks' bytes, back to back */
	size_t		arena_size;
	int64_t		first_locator;
	size_t		bytes;
} Store;

static uint64_t random_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t
random_next(void)
{
	uint64_t	x = random_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	random_state = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* uniform in [0, 1) */
static double
random_unit(void)
{
	return (double) (random_next() >> 11) / 9007199254740992.0;
}

/* The thread's CPU time. */
static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Cumulative Zipf weights of ranks 0..n-1, normalized to end at 1. */
static double *
zipf_table(size_t n, double exponent)
{
	double	   *cumulative = malloc(n * sizeof(double));
	double		sum = 0;

	for (size_t i = 0; i < n; i++)
	{
		sum += 1.0 / pow((double) (i + 1), exponent);
		cumulative[i] = sum;
	}
	for (size_t i = 0; i < n; i++)
		cumulative[i] /= sum;
	return cumulative;
}

/* A rank drawn from a table of zipf_table. */
static size_t
zipf_pick(const double *cumulative, size_t n)
{
	double		u = random_unit();
	size_t		low = 0;
	size_t		high = n - 1;

	while (low < high)
	{
		size_t		middle = (low + high) / 2;

		if (cumulative[middle] < u)
			low = middle + 1;
		else
			high = middle;
	}
	return low;
}

/* The probability of one rank in a table of zipf_table. */
static double
zipf_probability(const double *cumulative, size_t rank)
{
	return rank == 0 ? cumulative[0] : cumulative[rank] - cumulative[rank - 1];
}

/* Account ids are a permutation of 1..ACCOUNTS: rank is not id order. */
static int64_t
account_of_rank(size_t rank)
{
	return 1 + (int64_t) ((rank * 48271) % ACCOUNTS);
}

static size_t *rank_of_account;	/* [account - 1] */

static int64_t
random_amount(void)
{
	return (int64_t) pow(10.0, 4.0 + 6.0 * random_unit());
}

static double *account_table;
static double *currency_table;
static KeyState *keys;
static int64_t next_event_id = INT64_C(5000000000);

/* A key's index in keys[]. */
static size_t
key_index(size_t account_rank, int32_t currency)
{
	return account_rank * CURRENCIES + (size_t) (currency - 1);
}

/* Each key as if UNITS_BEFORE units had come before, ending at locator. */
static void
start_keys(double entries_per_unit, double blocks_per_unit, int64_t locator)
{
	for (size_t rank = 0; rank < ACCOUNTS; rank++)
	{
		for (int32_t currency = 1; currency <= CURRENCIES; currency++)
		{
			KeyState   *key = &keys[key_index(rank, currency)];
			double		share = zipf_probability(account_table, rank) *
				(currency == QUOTE_CURRENCY ? 0.5 :
				 0.5 * zipf_probability(currency_table, (size_t) currency - 1));
			double		per_unit = share * entries_per_unit;
			double		units_apart = per_unit >= 1 ? 1 : 1 / per_unit;

			key->per_unit = per_unit;
			key->seqno = (int64_t) (per_unit * UNITS_BEFORE);
			if (key->seqno == 0)
				continue;
			key->available = random_amount() * (int64_t) (1 + sqrt((double) key->seqno));
			key->frozen = random_next() % 3 == 0 ? random_amount() : 0;
			key->head = locator - 1 - (int64_t) (random_unit() * units_apart * blocks_per_unit);
			if (key->head < 1)
				key->head = 1;
		}
	}
}

/* One event's net change to a key; same-key legs are summed. */
typedef struct Leg
{
	size_t		key;
	int64_t		account;
	int32_t		currency;
	int64_t		available;
	int64_t		frozen;
} Leg;

/* Add one leg to an event's legs, summed with an earlier one on the same key. */
static void
add_leg(Leg *legs, size_t *count, size_t rank, int32_t currency, int64_t available, int64_t frozen)
{
	size_t		key = key_index(rank, currency);

	for (size_t i = 0; i < *count; i++)
		if (legs[i].key == key)
		{
			legs[i].available += available;
			legs[i].frozen += frozen;
			return;
		}
	legs[*count].key = key;
	legs[*count].account = account_of_rank(rank);
	legs[*count].currency = currency;
	legs[*count].available = available;
	legs[*count].frozen = frozen;
	(*count)++;
}

/* A unit's entries in event order, each key's first carrying its head. */
static size_t
generate_unit(AxsHistoryEntry *entries, size_t events, int64_t *unit_keys_seen, int64_t unit)
{
	size_t		count = 0;

	for (size_t e = 0; e < events; e++)
	{
		Leg			legs[4];
		size_t		leg_count = 0;
		int64_t		event_id = next_event_id++;
		AxsEventKind kind;

		if (random_next() % 2 == 0)
		{
			size_t		buyer = zipf_pick(account_table, ACCOUNTS);
			size_t		seller = zipf_pick(account_table, ACCOUNTS);
			int32_t		base = 1 + (int32_t) zipf_pick(currency_table, CURRENCIES - 1);
			int64_t		base_amount = random_amount();
			int64_t		quote_amount = random_amount();

			add_leg(legs, &leg_count, buyer, QUOTE_CURRENCY, 0, -quote_amount);
			add_leg(legs, &leg_count, buyer, base, base_amount, 0);
			add_leg(legs, &leg_count, seller, base, 0, -base_amount);
			add_leg(legs, &leg_count, seller, QUOTE_CURRENCY, quote_amount, 0);
			kind = AXS_KIND_TRADE;
		}
		else
		{
			size_t		rank = zipf_pick(account_table, ACCOUNTS);
			int32_t		currency = random_next() % 2 == 0 ? QUOTE_CURRENCY :
				1 + (int32_t) zipf_pick(currency_table, CURRENCIES - 1);
			int64_t		amount = random_amount();

			switch (random_next() % 4)
			{
				case 0:
					add_leg(legs, &leg_count, rank, currency, amount, 0);
					kind = AXS_KIND_DEPOSIT;
					break;
				case 1:
					add_leg(legs, &leg_count, rank, currency, -amount, 0);
					kind = AXS_KIND_WITHDRAW;
					break;
				case 2:
					add_leg(legs, &leg_count, rank, currency, -amount, amount);
					kind = AXS_KIND_FREEZE;
					break;
				default:
					add_leg(legs, &leg_count, rank, currency, amount, -amount);
					kind = AXS_KIND_UNFREEZE;
					break;
			}
		}
		for (size_t l = 0; l < leg_count; l++)
		{
			KeyState   *key = &keys[legs[l].key];
			AxsHistoryEntry *entry = &entries[count++];

			key->seqno++;
			key->available += legs[l].available;
			key->frozen += legs[l].frozen;
			entry->account = legs[l].account;
			entry->currency = legs[l].currency;
			entry->seqno = key->seqno;
			entry->event_id = event_id;
			entry->kind = (uint8_t) kind;
			entry->ordinal = (int32_t) e;
			entry->available_delta = legs[l].available;
			entry->frozen_delta = legs[l].frozen;
			entry->available = key->available;
			entry->frozen = key->frozen;
			entry->previous_block = 0;
			if (unit_keys_seen[legs[l].key] != unit)
			{
				unit_keys_seen[legs[l].key] = unit;
				entry->previous_block = key->seqno == 1 ? 0 : key->head;
			}
		}
	}
	return count;
}

/* The store's next locator: they are consecutive. */
static int64_t
store_next_locator(void *context)
{
	Store	   *store = context;

	return store->first_locator + (int64_t) store->count;
}

/* Keep a block in the store, at the next locator. */
static void
store_emit(void *context, int64_t locator, const uint8_t *block, size_t length)
{
	Store	   *store = context;

	if (locator != store->first_locator + (int64_t) store->count)
		abort();
	if (store->count == store->capacity)
	{
		store->capacity = store->capacity == 0 ? 1024 : 2 * store->capacity;
		store->blocks = realloc(store->blocks, store->capacity * sizeof(Block));
	}
	if (store->bytes + length > store->arena_size)
	{
		fprintf(stderr, "the blocks outgrew their arena\n");
		exit(1);
	}
	store->blocks[store->count].bytes = store->arena + store->bytes;
	memcpy(store->blocks[store->count].bytes, block, length);
	store->blocks[store->count].length = length;
	store->bytes += length;
	store->count++;
}

/* Counts the blocks, keeps none: what packing costs without storing. */
static void
sink_emit(void *context, int64_t locator, const uint8_t *block, size_t length)
{
	Store	   *sink = context;

	if (locator != sink->first_locator + (int64_t) sink->count || block[0] == 0)
		abort();
	sink->bytes += length;
	sink->count++;
}

/* The block with this locator. */
static const Block *
store_get(const Store *store, int64_t locator)
{
	return &store->blocks[locator - store->first_locator];
}

/*
 * Walk a key's chain from head until want entries are collected; returns
 * the blocks visited.
 */
static size_t
walk(const Store *store, int64_t head, int64_t account, int32_t currency, size_t want,
	 AxsHistoryEntry *out)
{
	static AxsHistoryEntry found[AXS_HISTORY_BLOCK_MAX_ENTRIES];
	int64_t		locator = head;
	size_t		collected = 0;
	size_t		visited = 0;

	while (collected < want && locator >= store->first_locator)
	{
		const Block *block = store_get(store, locator);
		size_t		count;

		if (!axs_history_block_find(block->bytes, block->length, locator, account, currency,
									found, AXS_HISTORY_BLOCK_MAX_ENTRIES, &count) || count == 0)
			abort();
		/* newest first into out, as a page of history reads backward */
		for (size_t i = count; i > 0 && collected < want; i--)
			out[collected++] = found[i - 1];
		locator = found[0].previous_block;
		visited++;
	}
	return visited;
}

typedef struct Probe
{
	const Block *block;
	int64_t		locator;
	int64_t		account;
	int32_t		currency;
} Probe;

/* Bytes read by evict_caches, so that the compiler keeps the reads. */
static uint64_t evicted_sum;

/* Read a buffer larger than the caches, so that the blocks are not in them. */
static void
evict_caches(void)
{
	static uint8_t *buffer;
	const size_t size = 256 * 1024 * 1024;

	if (buffer == NULL)
	{
		buffer = malloc(size);
		memset(buffer, 1, size);
	}
	for (size_t i = 0; i < size; i += 64)
		evicted_sum += ((volatile uint8_t *) buffer)[i];
}

/*
 * ns per find of probes[0..count), best of ROUNDS; with cold, the caches
 * are emptied before each round.
 */
static double
time_finds(const Probe *probes, size_t count, bool cold, size_t *found_total)
{
	static AxsHistoryEntry out[AXS_HISTORY_BLOCK_MAX_ENTRIES];
	double		best = 0;

	for (int round = 0; round < ROUNDS; round++)
	{
		double		start;
		double		ns;

		if (cold)
			evict_caches();
		start = now_seconds();
		*found_total = 0;
		for (size_t p = 0; p < count; p++)
		{
			size_t		found;

			if (!axs_history_block_find(probes[p].block->bytes, probes[p].block->length,
										probes[p].locator, probes[p].account, probes[p].currency,
										out, AXS_HISTORY_BLOCK_MAX_ENTRIES, &found))
				abort();
			*found_total += found;
		}
		ns = (now_seconds() - start) * 1e9 / (double) count;
		if (round == 0 || ns < best)
			best = ns;
	}
	return best;
}

/* us per walk of WALK_ENTRIES entries, best of ROUNDS, as time_finds. */
static double
time_walk(const Store *store, int64_t head, int64_t account, int32_t currency, bool cold,
		  size_t *visited)
{
	static AxsHistoryEntry out[WALK_ENTRIES];
	double		best = 0;

	for (int round = 0; round < ROUNDS; round++)
	{
		double		start;
		double		us;

		if (cold)
			evict_caches();
		start = now_seconds();
		*visited = walk(store, head, account, currency, WALK_ENTRIES, out);
		us = (now_seconds() - start) * 1e6;
		if (round == 0 || us < best)
			best = us;
	}
	return best;
}

int
main(int argc, char **argv)
{
	size_t		units = argc > 1 ? (size_t) atol(argv[1]) : 12;
	size_t		events = argc > 2 ? (size_t) atol(argv[2]) : 100000;
	AxsHistoryEntry *entries = malloc(events * 4 * sizeof(AxsHistoryEntry));
	AxsHistoryEntry *sorted = malloc(events * 4 * sizeof(AxsHistoryEntry));
	AxsHistoryHead *heads = malloc(events * 4 * sizeof(AxsHistoryHead));
	int64_t    *unit_keys_seen = calloc(KEYS, sizeof(int64_t));
	Probe	   *probes = malloc(FIND_PROBES * sizeof(Probe));
	Probe	   *walk_probes = malloc(WALK_ENTRIES * sizeof(Probe));
	static AxsHistoryEntry decoded[AXS_HISTORY_BLOCK_MAX_ENTRIES];
	Store		store = {0};
	Store		sink = {0};
	double		sort_seconds = 0;
	double		pack_seconds = 0;
	double		best_in_place = 0;
	double		cold_seconds = 0;	/* each unit's first round */
	size_t		total_entries = 0;
	size_t		total_events = 0;
	size_t		last_unit_first_block = 0;
	size_t		found_total;
	size_t		visited;
	size_t		hot_key = 0;
	size_t		warm_key = 0;

	/* an ordinal, the event's index in its unit, is an int32 */
	if (units < 1 || events < 1 || events > INT32_MAX)
	{
		fprintf(stderr, "usage: %s [units [events_per_unit]]\n", argv[0]);
		return 2;
	}
	/*
	 * Freed memory stays in the process, as the extension keeps it
	 * (mallopt in its _PG_init): the sort's scratch then costs no page
	 * faults after the first unit.
	 */
	mallopt(M_MMAP_THRESHOLD, 512 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
	keys = calloc(KEYS, sizeof(KeyState));
	rank_of_account = malloc(ACCOUNTS * sizeof(size_t));
	for (size_t rank = 0; rank < ACCOUNTS; rank++)
		rank_of_account[account_of_rank(rank) - 1] = rank;
	account_table = zipf_table(ACCOUNTS, ZIPF_EXPONENT);
	currency_table = zipf_table(CURRENCIES - 1, ZIPF_EXPONENT);
	/* one allocation for every block, apart from the sort's scratch */
	store.arena_size = units * events * 4 * 20;
	store.arena = malloc(store.arena_size);
	store.first_locator = 1000000;
	/* about 2.5 entries an event and 14.5 bytes an entry, as measured below */
	start_keys(2.5 * (double) events, 2.5 * (double) events * 14.5 / AXS_HISTORY_BLOCK_MAX,
			   store.first_locator);

	for (size_t u = 0; u < units; u++)
	{
		size_t		count = generate_unit(entries, events, unit_keys_seen, (int64_t) u + 1);
		size_t		head_count;
		size_t		blocks_before = store.count;

		double		best_sort = 0;
		double		best_pack = 0;

		for (int round = 0; round < ROUNDS; round++)
		{
			double		start;
			double		seconds;

			memcpy(sorted, entries, count * sizeof(AxsHistoryEntry));
			start = now_seconds();
			axs_history_sort(sorted, count, &axs_default_allocator);
			seconds = now_seconds() - start;
			best_sort = round == 0 || seconds < best_sort ? seconds : best_sort;
			cold_seconds += round == 0 ? seconds : 0;
			if (u + 1 == units)
			{
				memcpy(sorted, entries, count * sizeof(AxsHistoryEntry));
				start = now_seconds();
				axs_history_sort(sorted, count, NULL);
				seconds = now_seconds() - start;
				best_in_place = round == 0 || seconds < best_in_place ? seconds : best_in_place;
			}

			/* into a sink that keeps nothing: the codec's cost alone */
			sink.first_locator = store.first_locator + (int64_t) store.count;
			sink.count = 0;
			start = now_seconds();
			if (!axs_history_pack(sorted, count, store_next_locator, sink_emit, &sink,
								  heads, events * 4, &head_count))
			{
				fprintf(stderr, "unit %zu refused\n", u);
				return 1;
			}
			seconds = now_seconds() - start;
			best_pack = round == 0 || seconds < best_pack ? seconds : best_pack;
			cold_seconds += round == 0 ? seconds : 0;
		}
		sort_seconds += best_sort;
		pack_seconds += best_pack;
		if (!axs_history_pack(sorted, count, store_next_locator, store_emit, &store,
							  heads, events * 4, &head_count))
			abort();
		for (size_t h = 0; h < head_count; h++)
			keys[key_index(rank_of_account[heads[h].account - 1], heads[h].currency)].head =
				heads[h].locator;
		total_entries += count;
		total_events += events;
		last_unit_first_block = blocks_before;
	}

	printf("history blocks: %zu units of %zu events (%zu entries, %.2f per event)\n",
		   units, events, total_entries, (double) total_entries / (double) total_events);
	printf("sort (radix):          %6.1f ns/entry (in place, no allocator: %.1f)\n",
		   sort_seconds * 1e9 / (double) total_entries,
		   best_in_place * 1e9 * (double) units / (double) total_entries);
	printf("pack (check + encode): %6.1f ns/entry\n", pack_seconds * 1e9 / (double) total_entries);
	printf("sort + pack:           %6.1f ns/entry, %.1f ns/event, %.1f ms/unit\n",
		   (sort_seconds + pack_seconds) * 1e9 / (double) total_entries,
		   (sort_seconds + pack_seconds) * 1e9 / (double) total_events,
		   (sort_seconds + pack_seconds) * 1e3 / (double) units);
	printf("  first rounds only:   %6.1f ns/entry, %.1f ns/event (caches cold from making the unit)\n",
		   cold_seconds * 1e9 / (double) total_entries, cold_seconds * 1e9 / (double) total_events);
	printf("size:                  %6.2f bytes/entry, %.2f bytes/event\n",
		   (double) store.bytes / (double) total_entries,
		   (double) store.bytes / (double) total_events);
	printf("blocks:                %6.1f per unit, %.0f bytes each on average\n",
		   (double) store.count / (double) units, (double) store.bytes / (double) store.count);

	/* decoding a whole block */
	{
		double		best = 0;
		size_t		decoded_entries = 0;

		for (int round = 0; round < ROUNDS; round++)
		{
			double		start = now_seconds();
			double		ns;

			decoded_entries = 0;
			for (size_t b = last_unit_first_block; b < store.count; b++)
			{
				size_t		count;

				if (!axs_history_block_decode(store.blocks[b].bytes, store.blocks[b].length,
											  store.first_locator + (int64_t) b, decoded,
											  AXS_HISTORY_BLOCK_MAX_ENTRIES, &count))
					abort();
				decoded_entries += count;
			}
			ns = (now_seconds() - start) * 1e9 / (double) decoded_entries;
			if (round == 0 || ns < best)
				best = ns;
		}
		printf("decode a whole block:  %6.1f ns/entry (%.0f entries a block)\n",
			   best, (double) decoded_entries / (double) (store.count - last_unit_first_block));
	}

	/*
	 * Finding a key in a random block: one of the block's keys, each as
	 * likely; one of its keys that has a single entry there; a key between
	 * its first and last that it does not hold (currency 0 is never used).
	 */
	for (int kind = 0; kind < 3; kind++)
	{
		static const char *const kinds[] = {"any key", "a key with one entry", "an absent key"};
		double		ns;
		size_t		total_runs = 0;

		for (size_t p = 0; p < FIND_PROBES; p++)
		{
			size_t		b = random_next() % store.count;
			size_t		count;
			size_t		runs = 0;
			size_t		singles = 0;
			const AxsHistoryEntry *run;

			if (!axs_history_block_decode(store.blocks[b].bytes, store.blocks[b].length,
										  store.first_locator + (int64_t) b, decoded,
										  AXS_HISTORY_BLOCK_MAX_ENTRIES, &count))
				abort();
			/* each run's first entry, moved to the front; single entries first of all */
			for (size_t i = 0; i < count; i++)
			{
				bool		first = i == 0 || decoded[i].account != decoded[i - 1].account ||
					decoded[i].currency != decoded[i - 1].currency;
				bool		last = i + 1 == count || decoded[i].account != decoded[i + 1].account ||
					decoded[i].currency != decoded[i + 1].currency;

				if (first)
					decoded[runs++] = decoded[i];
				if (first && last)
				{
					AxsHistoryEntry swap = decoded[singles];

					decoded[singles++] = decoded[runs - 1];
					decoded[runs - 1] = swap;
				}
			}
			if (kind == 1 && singles == 0)
			{
				p--;
				continue;
			}
			total_runs += runs;
			run = &decoded[random_next() % (kind == 1 ? singles : runs)];
			probes[p].block = &store.blocks[b];
			probes[p].locator = store.first_locator + (int64_t) b;
			probes[p].account = run->account;
			probes[p].currency = kind == 2 ? 0 : run->currency;
		}
		ns = time_finds(probes, FIND_PROBES, false, &found_total);
		printf("find in one block, %-20s %5.0f ns (%.2f entries found on average; %.0f keys a block)\n",
			   kinds[kind], ns, (double) found_total / FIND_PROBES,
			   (double) total_runs / FIND_PROBES);
		if (kind == 1)
			memcpy(walk_probes, probes, WALK_ENTRIES * sizeof(Probe));
	}

	/* walks of 1,000 entries: the hottest key, and a key with ~100 a unit */
	for (size_t k = 0; k < KEYS; k++)
	{
		if (keys[k].per_unit > keys[hot_key].per_unit)
			hot_key = k;
		if (fabs(keys[k].per_unit - 100) < fabs(keys[warm_key].per_unit - 100))
			warm_key = k;
	}
	{
		size_t		keys_to_walk[2] = {hot_key, warm_key};
		const char *names[2] = {"the hottest key:", "a key with ~100 entries a unit:"};

		for (int w = 0; w < 2; w++)
		{
			size_t		k = keys_to_walk[w];
			int64_t		account = account_of_rank(k / CURRENCIES);
			int32_t		currency = (int32_t) (k % CURRENCIES) + 1;
			double		cold = time_walk(&store, keys[k].head, account, currency, true, &visited);
			double		warm = time_walk(&store, keys[k].head, account, currency, false, &visited);

			printf("walk 1,000 entries, %-31s %7.1f us cold, %7.1f us warm (%zu blocks)\n",
				   names[w], cold, warm, visited);
		}
	}

	/* a key with one entry a block: 1,000 finds of such keys in random blocks */
	printf("walk 1,000 entries, %-31s %7.1f us cold, %7.1f us warm (1000 blocks)\n",
		   "one a block:",
		   time_finds(walk_probes, WALK_ENTRIES, true, &found_total) * WALK_ENTRIES / 1000.0,
		   time_finds(walk_probes, WALK_ENTRIES, false, &found_total) * WALK_ENTRIES / 1000.0);

	free(store.arena);
	free(store.blocks);
	free(entries);
	free(sorted);
	free(heads);
	free(unit_keys_seen);
	free(probes);
	free(walk_probes);
	if (evicted_sum == 0)
		return 1;
	free(keys);
	free(rank_of_account);
	free(account_table);
	free(currency_table);
	return 0;
}
