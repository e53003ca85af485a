/*
 * test_workload.c
 *		cmocka tests of the load generator's workload: every valid message
 *		decodes, malformed ones do not, duplicates repeat an earlier message
 *		byte for byte, ids increase, and a seed reproduces the stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
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
		assert_true(message.key >= 1 && message.key <= config.accounts);
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
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_messages_decode_as_labelled),
		cmocka_unit_test(test_seed_reproduces),
		cmocka_unit_test(test_rejects_bad_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
