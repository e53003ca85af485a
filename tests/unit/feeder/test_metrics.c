/*
 * test_metrics.c
 *		cmocka tests of the outcome latency summary's quantiles: NaN before
 *		the first latency, the upper bound of the 0.1 ms bucket holding the
 *		rank (never above the largest latency seen), negative latencies
 *		counted as 0, and latencies above 10 s answered by the largest.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "metrics.h"

static void
assert_seconds(double actual, double expected)
{
	if (fabs(actual - expected) > 1e-9)
		fail_msg("%.7f s, expected %.7f s", actual, expected);
}

static void
test_outcome_latency_quantiles(void **state)
{
	(void) state;
	assert_true(isnan(metrics_outcome_latency_quantile(0.5)));

	/* one latency: every quantile is it, not its bucket's bound */
	metrics_observe_outcome_latency(1234);
	assert_seconds(metrics_outcome_latency_quantile(0.5), 0.001234);
	assert_seconds(metrics_outcome_latency_quantile(0.999), 0.001234);

	/* a clock ahead of ours: 0, in the first bucket */
	metrics_observe_outcome_latency(-5);
	assert_seconds(metrics_outcome_latency_quantile(0.5), 0.0001);
	assert_seconds(metrics_outcome_latency_quantile(1.0), 0.001234);

	/* 998 of 50 ms: 1000 in all */
	for (int i = 0; i < 998; i++)
		metrics_observe_outcome_latency(50000);
	assert_seconds(metrics_outcome_latency_quantile(0.001), 0.0001);
	assert_seconds(metrics_outcome_latency_quantile(0.002), 0.0013);
	assert_seconds(metrics_outcome_latency_quantile(0.5), 0.05);
	assert_seconds(metrics_outcome_latency_quantile(0.99), 0.05);

	/* past the last bucket: the largest latency answers */
	metrics_observe_outcome_latency(20000000);
	assert_seconds(metrics_outcome_latency_quantile(0.999), 0.0501);
	assert_seconds(metrics_outcome_latency_quantile(1.0), 20.0);

	/* 2,000 spread over 0.1 ms buckets: the quantiles walk them */
	for (int i = 0; i < 2000; i++)
		metrics_observe_outcome_latency(60000 + i * 100 + 50);
	/* 3,001 in all; rank 1,501 is the 501st of the spread, 110.05 ms */
	assert_seconds(metrics_outcome_latency_quantile(0.5), 0.1101);
	/* rank 2,971: the 1,971st of the spread, 257.05 ms */
	assert_seconds(metrics_outcome_latency_quantile(0.99), 0.2571);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outcome_latency_quantiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
