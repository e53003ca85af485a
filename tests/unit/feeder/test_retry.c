/*
 * test_retry.c
 *		cmocka tests of the feeder's retry policy: capped exponential
 *		backoff, giving up after max_retries + 1 permanent failures in a row,
 *		fences retried at once and never counted, success resetting it all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "retry.h"

static void
test_transient_backoff_is_capped_and_never_gives_up(void **state)
{
	static const int64_t expected[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000};
	RetryPolicy policy;
	int64_t		delay_ms;

	(void) state;
	retry_init(&policy, 0);
	for (int i = 0; i < 8; i++)
	{
		assert_int_equal(retry_after_failure(&policy, PG_ERROR_TRANSIENT, &delay_ms),
						 RETRY_AFTER_DELAY);
		assert_int_equal(delay_ms, expected[i]);
	}
	for (int i = 0; i < 1000; i++)
		assert_int_equal(retry_after_failure(&policy, PG_ERROR_TRANSIENT, &delay_ms),
						 RETRY_AFTER_DELAY);
	assert_int_equal(policy.permanent_failures, 0);
}

static void
test_permanent_gives_up_after_max_retries(void **state)
{
	RetryPolicy policy;
	int64_t		delay_ms;

	(void) state;
	retry_init(&policy, 2);
	assert_int_equal(retry_after_failure(&policy, PG_ERROR_PERMANENT, &delay_ms), RETRY_AFTER_DELAY);
	assert_int_equal(delay_ms, 100);
	/* transient failures and fences in between neither count nor reset */
	assert_int_equal(retry_after_failure(&policy, PG_ERROR_TRANSIENT, &delay_ms), RETRY_AFTER_DELAY);
	assert_int_equal(retry_after_failure(&policy, PG_ERROR_FENCED, &delay_ms), RETRY_NOW);
	assert_int_equal(retry_after_failure(&policy, PG_ERROR_PERMANENT, &delay_ms), RETRY_AFTER_DELAY);
	assert_int_equal(policy.permanent_failures, 2);
	assert_int_equal(retry_after_failure(&policy, PG_ERROR_PERMANENT, &delay_ms), RETRY_GIVE_UP);
	assert_int_equal(delay_ms, 0);

	/* a committed batch starts afresh */
	retry_init(&policy, 1);
	assert_int_equal(retry_after_failure(&policy, PG_ERROR_PERMANENT, &delay_ms), RETRY_AFTER_DELAY);
	retry_after_success(&policy);
	assert_int_equal(retry_after_failure(&policy, PG_ERROR_PERMANENT, &delay_ms), RETRY_AFTER_DELAY);
	assert_int_equal(delay_ms, 100);
	assert_int_equal(retry_after_failure(&policy, PG_ERROR_PERMANENT, &delay_ms), RETRY_GIVE_UP);

	/* max_retries 0: the first permanent failure stops */
	retry_init(&policy, 0);
	assert_int_equal(retry_after_failure(&policy, PG_ERROR_PERMANENT, &delay_ms), RETRY_GIVE_UP);
}

static void
test_fences(void **state)
{
	RetryPolicy policy;
	int64_t		delay_ms;

	(void) state;
	retry_init(&policy, 0);
	assert_int_equal(retry_after_failure(&policy, PG_ERROR_FENCED, &delay_ms), RETRY_NOW);
	assert_int_equal(delay_ms, 0);
	/* fenced again without a commit in between: something keeps moving them */
	assert_int_equal(retry_after_failure(&policy, PG_ERROR_FENCED, &delay_ms), RETRY_AFTER_DELAY);
	assert_int_equal(delay_ms, 100);
	assert_int_equal(retry_after_failure(&policy, PG_ERROR_FENCED, &delay_ms), RETRY_AFTER_DELAY);
	assert_int_equal(delay_ms, 200);
	retry_after_success(&policy);
	assert_int_equal(retry_after_failure(&policy, PG_ERROR_FENCED, &delay_ms), RETRY_NOW);
	assert_int_equal(policy.permanent_failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transient_backoff_is_capped_and_never_gives_up),
		cmocka_unit_test(test_permanent_gives_up_after_max_retries),
		cmocka_unit_test(test_fences),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
