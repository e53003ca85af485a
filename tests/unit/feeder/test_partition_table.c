/*
 * test_partition_table.c
 *		cmocka tests of owned-partition bookkeeping: add, find, remove, and
 *		how a committed or dropped batch moves the stored and accepted
 *		offsets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "partition_table.h"

static void
test_add_find_remove(void **state)
{
	PartitionTable table;
	int			i;

	(void) state;
	partition_table_init(&table);
	for (i = 0; i < 40; i++)
		partition_table_add(&table, i % 2 ? "a" : "b", i);
	assert_int_equal(table.count, 40);
	assert_ptr_equal(partition_table_add(&table, "a", 1), partition_table_find(&table, "a", 1));
	assert_int_equal(table.count, 40);
	assert_null(partition_table_find(&table, "b", 1));
	partition_table_remove(&table, "a", 1);
	partition_table_remove(&table, "a", 1);
	assert_int_equal(table.count, 39);
	assert_null(partition_table_find(&table, "a", 1));
	assert_non_null(partition_table_find(&table, "b", 38));
	partition_table_free(&table);
}

static void
test_commit_and_drop(void **state)
{
	PartitionTable table;
	OwnedPartition *fresh;
	OwnedPartition *stored;

	(void) state;
	partition_table_init(&table);
	fresh = partition_table_add(&table, "t", 0);
	partition_set_stored(fresh, false, 0);
	stored = partition_table_add(&table, "t", 1);
	partition_set_stored(stored, true, 50);
	fresh = partition_table_find(&table, "t", 0);

	fresh->in_batch = true;
	fresh->batch_last_offset = 9;
	fresh->accept_from_offset = 10;
	partition_table_batch_committed(&table);
	assert_true(fresh->has_stored_offset);
	assert_int_equal(fresh->stored_next_offset, 10);
	assert_int_equal(stored->stored_next_offset, 50);

	stored->in_batch = true;
	stored->batch_last_offset = 70;
	stored->accept_from_offset = 71;
	partition_table_batch_dropped(&table);
	assert_false(stored->in_batch);
	assert_int_equal(stored->stored_next_offset, 50);
	assert_int_equal(stored->accept_from_offset, 50);
	assert_int_equal(fresh->accept_from_offset, 10);
	partition_table_free(&table);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_find_remove),
		cmocka_unit_test(test_commit_and_drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
