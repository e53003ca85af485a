/*
 * test_pacer.c
 *		cmocka tests of axs-loadgen's rate limiter: messages on schedule,
 *		no waiting without a rate, and a stall made up for at most
 *		PACER_MAX_BEHIND_US at full speed, then the rate again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pacer.h"

#define START_US 5000000

static void
test_on_schedule(void **state)
{
	Pacer		pacer;

	(void) state;
	pacer_start(&pacer, 100000, START_US);	/* one message every 10 us */
	assert_int_equal(pacer_wait_us(&pacer, 0, START_US), 0);
	assert_int_equal(pacer_wait_us(&pacer, 1000, START_US), 10000);
	assert_int_equal(pacer_wait_us(&pacer, 1000, START_US + 4000), 6000);
	assert_int_equal(pacer_wait_us(&pacer, 1000, START_US + 10000), 0);
	assert_int_equal(pacer_wait_us(&pacer, 1000, START_US + 50000), 0);	/* late, within the bound */
	assert_int_equal(pacer_wait_us(&pacer, 2000, START_US + 50000), 0);
	assert_int_equal(pacer_wait_us(&pacer, 6000, START_US + 50000), 10000);
}

static void
test_no_rate_never_waits(void **state)
{
	Pacer		pacer;

	(void) state;
	pacer_start(&pacer, 0, START_US);
	assert_int_equal(pacer_wait_us(&pacer, 1000000, START_US), 0);
}

static void
test_a_stall_is_made_up_for_at_most_the_bound(void **state)
{
	Pacer		pacer;
	int64_t		stalled_until = START_US + 1000000;	/* 1 s without sending */
	int64_t		index = 100;	/* due at 1 ms */
	int64_t		burst = PACER_MAX_BEHIND_US / 10;	/* what the bound holds at 10 us a message */

	(void) state;
	pacer_start(&pacer, 100000, START_US);
	/* due 999 ms ago: sent now, and the schedule restarts 100 ms back */
	assert_int_equal(pacer_wait_us(&pacer, index, stalled_until), 0);
	/* the next 100 ms worth go at once, on the restarted schedule */
	assert_int_equal(pacer_wait_us(&pacer, index + burst - 1, stalled_until), 0);
	assert_int_equal(pacer_wait_us(&pacer, index + burst, stalled_until), 0);
	/* and the rest at the rate, not the other 899 ms of the stall at once */
	assert_int_equal(pacer_wait_us(&pacer, index + burst + 100, stalled_until), 1000);
	assert_int_equal(pacer_wait_us(&pacer, index + 90000, stalled_until), 900000 - PACER_MAX_BEHIND_US);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_on_schedule),
		cmocka_unit_test(test_no_rate_never_waits),
		cmocka_unit_test(test_a_stall_is_made_up_for_at_most_the_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
