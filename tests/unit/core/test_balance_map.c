/*
 * test_balance_map.c
 *		Tests of AxsBalanceMap: insert and find, growth past many entries,
 *		iteration, clear, sizing from expected_entries, and the allocator
 *		hooks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ledger.h"
#include "test_support.h"

/* An allocator that counts what it hands out and takes back. */
typedef struct CountingAllocator
{
	int			allocations;
	int			releases;
} CountingAllocator;

static void *
counting_allocate(void *context, size_t size)
{
	CountingAllocator *counter = context;
	void	   *pointer = calloc(1, size);

	assert_non_null(pointer);
	counter->allocations++;
	return pointer;
}

static void
counting_release(void *context, void *pointer)
{
	CountingAllocator *counter = context;

	counter->releases++;
	free(pointer);
}

static void
test_get_inserts_zero_balance(void **state)
{
	AxsBalanceMap *map = axs_balance_map_create(&axs_default_allocator, 0);
	AxsBalance *entry;

	(void) state;
	assert_int_equal(axs_balance_map_count(map), 0);
	assert_null(axs_balance_map_find(map, 1, 1));

	entry = axs_balance_map_get(map, 1, 1);
	assert_non_null(entry);
	assert_int_equal(entry->account, 1);
	assert_int_equal(entry->currency, 1);
	assert_int_equal(entry->available, 0);
	assert_int_equal(entry->frozen, 0);
	assert_false(entry->existed);
	assert_false(entry->changed);
	entry->available = 77;

	assert_ptr_equal(axs_balance_map_get(map, 1, 1), entry);
	assert_ptr_equal(axs_balance_map_find(map, 1, 1), entry);
	assert_int_equal(axs_balance_map_find(map, 1, 1)->available, 77);
	assert_int_equal(axs_balance_map_count(map), 1);

	/* keys that differ in one part only are distinct */
	assert_null(axs_balance_map_find(map, 1, 2));
	assert_null(axs_balance_map_find(map, 2, 1));
	axs_balance_map_get(map, 1, 2);
	axs_balance_map_get(map, 2, 1);
	axs_balance_map_get(map, INT64_MAX, INT32_MAX);
	axs_balance_map_get(map, INT64_MIN, INT32_MIN);
	axs_balance_map_get(map, 0, 0);
	assert_int_equal(axs_balance_map_count(map), 6);
	assert_int_equal(axs_balance_map_find(map, INT64_MAX, INT32_MAX)->account, INT64_MAX);
	assert_int_equal(axs_balance_map_find(map, INT64_MIN, INT32_MIN)->currency, INT32_MIN);
	assert_int_equal(axs_balance_map_find(map, 1, 1)->available, 77);
	axs_balance_map_destroy(map);
}

/* Key i of the growth test: accounts and currencies in a dense grid. */
static int64_t
grid_account(int i)
{
	return 1 + i / 8;
}

static int32_t
grid_currency(int i)
{
	return i % 8;
}

static void
test_growth_keeps_entries(void **state)
{
	const int	entries = 200000;
	AxsBalanceMap *map = axs_balance_map_create(&axs_default_allocator, 1);

	(void) state;
	for (int i = 0; i < entries; i++)
	{
		AxsBalance *entry = axs_balance_map_get(map, grid_account(i), grid_currency(i));

		entry->available = i;
		entry->frozen = -i;
		entry->existed = (i % 3) == 0;
	}
	assert_int_equal(axs_balance_map_count(map), entries);
	for (int i = 0; i < entries; i++)
	{
		AxsBalance *entry = axs_balance_map_find(map, grid_account(i), grid_currency(i));

		assert_non_null(entry);
		assert_int_equal(entry->available, i);
		assert_int_equal(entry->frozen, -i);
		assert_int_equal(entry->existed, (i % 3) == 0);
	}
	assert_null(axs_balance_map_find(map, grid_account(entries) + 1, 0));
	axs_balance_map_destroy(map);
}

static void
test_iteration_visits_each_entry_once(void **state)
{
	const int	entries = 5000;
	AxsBalanceMap *map = axs_balance_map_create(&axs_default_allocator, 10);
	char	   *seen = calloc(entries, 1);
	size_t		cursor = 0;
	AxsBalance *entry;
	int			visited = 0;

	(void) state;
	for (int i = 0; i < entries; i++)
		axs_balance_map_get(map, grid_account(i), grid_currency(i))->available = i;
	while ((entry = axs_balance_map_next(map, &cursor)) != NULL)
	{
		assert_true(entry->available >= 0 && entry->available < entries);
		assert_int_equal(seen[entry->available], 0);
		assert_int_equal(entry->account, grid_account((int) entry->available));
		assert_int_equal(entry->currency, grid_currency((int) entry->available));
		seen[entry->available] = 1;
		visited++;
	}
	assert_int_equal(visited, entries);
	/* the end stays the end */
	assert_null(axs_balance_map_next(map, &cursor));
	free(seen);
	axs_balance_map_destroy(map);
}

static void
test_clear(void **state)
{
	AxsBalanceMap *map = axs_balance_map_create(&axs_default_allocator, 4);
	size_t		cursor = 0;

	(void) state;
	for (int i = 0; i < 100; i++)
		axs_balance_map_get(map, i + 1, 1)->available = 5;
	axs_balance_map_clear(map);
	assert_int_equal(axs_balance_map_count(map), 0);
	assert_null(axs_balance_map_find(map, 1, 1));
	assert_null(axs_balance_map_next(map, &cursor));

	/* usable again, and re-inserted keys start from zero */
	assert_int_equal(axs_balance_map_get(map, 1, 1)->available, 0);
	assert_int_equal(axs_balance_map_count(map), 1);
	axs_balance_map_destroy(map);
	axs_balance_map_destroy(NULL);
}

static void
test_allocator_hooks_and_sizing(void **state)
{
	CountingAllocator counter = {0, 0};
	AxsAllocator allocator = {counting_allocate, counting_release, &counter};
	AxsBalanceMap *map = axs_balance_map_create(&allocator, 1000);
	int			after_create = counter.allocations;

	(void) state;
	assert_true(after_create > 0);

	/* expected_entries is honoured: no growth up to it */
	for (int i = 0; i < 1000; i++)
		axs_balance_map_get(map, i + 1, 3);
	assert_int_equal(counter.allocations, after_create);

	/* and past it the map grows, through the same allocator */
	for (int i = 1000; i < 5000; i++)
		axs_balance_map_get(map, i + 1, 3);
	assert_true(counter.allocations > after_create);
	assert_int_equal(axs_balance_map_count(map), 5000);

	axs_balance_map_destroy(map);
	assert_int_equal(counter.allocations, counter.releases);
}

/* After reserve(n), n inserts move no entry: earlier pointers stay valid. */
static void
test_reserve_keeps_pointers_stable(void **state)
{
	CountingAllocator counter = {0, 0};
	AxsAllocator allocator = {counting_allocate, counting_release, &counter};
	AxsBalanceMap *map = axs_balance_map_create(&allocator, 0);
	AxsBalance *first;
	int			allocations;

	(void) state;
	first = axs_balance_map_get(map, 1, 1);
	first->available = 42;
	axs_balance_map_reserve(map, 10000);
	allocations = counter.allocations;
	first = axs_balance_map_get(map, 1, 1);
	for (int i = 2; i <= 10001; i++)
		axs_balance_map_get(map, i, 1);
	assert_int_equal(counter.allocations, allocations);
	assert_ptr_equal(axs_balance_map_find(map, 1, 1), first);
	assert_int_equal(first->available, 42);

	/* reserving what already fits changes nothing */
	axs_balance_map_reserve(map, 0);
	assert_int_equal(counter.allocations, allocations);
	axs_balance_map_destroy(map);
}

/*
 * Growth happens at about 70% load: a map sized for n entries takes n but
 * grows soon after, so the table is neither too full nor too sparse.
 */
static void
test_load_factor(void **state)
{
	CountingAllocator counter = {0, 0};
	AxsAllocator allocator = {counting_allocate, counting_release, &counter};
	AxsBalanceMap *map = axs_balance_map_create(&allocator, 0);
	int			inserted = 0;
	int			allocations = counter.allocations;

	(void) state;
	/* find the point of each growth; the first table has 16 slots */
	for (size_t capacity = 16; capacity <= 65536; capacity *= 2)
	{
		while (counter.allocations == allocations)
		{
			axs_balance_map_get(map, ++inserted, 1);
		}
		allocations = counter.allocations;
		/* it grew when inserting entry number `inserted` */
		assert_true(inserted - 1 >= (int) (capacity * 65 / 100));
		assert_true(inserted - 1 <= (int) (capacity * 75 / 100));
	}
	axs_balance_map_destroy(map);
}

/*
 * Key patterns a ledger really sees (sequential accounts, one currency;
 * strided accounts; one account, many currencies; accounts differing only in
 * high bits) must spread over the table.  A weak hash turns linear probing
 * quadratic: 100k inserts then take seconds instead of milliseconds, so a
 * generous CPU time bound catches it without being flaky.
 */
static void
test_keys_spread_well(void **state)
{
	const int	entries = 100000;
	clock_t		started = clock();
	double		seconds;

	(void) state;
	for (int pattern = 0; pattern < 4; pattern++)
	{
		AxsBalanceMap *map = axs_balance_map_create(&axs_default_allocator, 0);

		for (int i = 0; i < entries; i++)
		{
			int64_t		account = pattern == 0 ? i + 1 :
				pattern == 1 ? (int64_t) (i + 1) * 1024 :
				pattern == 2 ? 7 : (int64_t) (i + 1) << 32;
			int32_t		currency = pattern == 2 ? i : 1;

			axs_balance_map_get(map, account, currency)->available = i;
			assert_int_equal(axs_balance_map_find(map, account, currency)->available, i);
		}
		assert_int_equal(axs_balance_map_count(map), entries);
		axs_balance_map_destroy(map);
	}
	seconds = (double) (clock() - started) / CLOCKS_PER_SEC;
	if (seconds > 2.0)
		fail_msg("400k inserts and finds took %.2f s of CPU: keys collide", seconds);
}

/* Pointers to entries sort by account, then currency. */
static void
test_pointer_compare_orders_keys(void **state)
{
	AxsBalanceMap *map = axs_balance_map_create(&axs_default_allocator, 8);
	AxsBalance *entries[4];

	(void) state;
	entries[0] = axs_balance_map_get(map, 7, 2);
	entries[1] = axs_balance_map_get(map, 3, 9);
	entries[2] = axs_balance_map_get(map, 7, 1);
	entries[3] = axs_balance_map_get(map, 3, 1);
	qsort(entries, 4, sizeof(AxsBalance *), axs_balance_pointer_compare);
	assert_int_equal(entries[0]->account, 3);
	assert_int_equal(entries[0]->currency, 1);
	assert_int_equal(entries[1]->account, 3);
	assert_int_equal(entries[1]->currency, 9);
	assert_int_equal(entries[2]->account, 7);
	assert_int_equal(entries[2]->currency, 1);
	assert_int_equal(entries[3]->account, 7);
	assert_int_equal(entries[3]->currency, 2);
	assert_int_equal(axs_balance_pointer_compare(&entries[0], &entries[0]), 0);
	axs_balance_map_destroy(map);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_inserts_zero_balance),
		cmocka_unit_test(test_growth_keeps_entries),
		cmocka_unit_test(test_iteration_visits_each_entry_once),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_allocator_hooks_and_sizing),
		cmocka_unit_test(test_reserve_keeps_pointers_stable),
		cmocka_unit_test(test_load_factor),
		cmocka_unit_test(test_keys_spread_well),
		cmocka_unit_test(test_pointer_compare_orders_keys),
	};

	return cmocka_run_group_tests_name("balance_map", tests, NULL, NULL);
}
