/*
 * retry.c
 *		The feeder's retry policy (see retry.h).
 */
#include "retry.h"

void
retry_init(RetryPolicy *policy, int max_retries)
{
	policy->max_retries = max_retries;
	retry_after_success(policy);
}

void
retry_after_success(RetryPolicy *policy)
{
	policy->permanent_failures = 0;
	policy->fenced_in_a_row = 0;
	policy->delay_ms = RETRY_FIRST_DELAY_MS;
}

/* The current backoff, doubled for next time up to the cap. */
static int64_t
retry_next_delay(RetryPolicy *policy)
{
	int64_t		delay_ms = policy->delay_ms;

	policy->delay_ms *= 2;
	if (policy->delay_ms > RETRY_MAX_DELAY_MS)
		policy->delay_ms = RETRY_MAX_DELAY_MS;
	return delay_ms;
}

RetryDecision
retry_after_failure(RetryPolicy *policy, PgErrorClass error_class, int64_t *delay_ms)
{
	*delay_ms = 0;
	switch (error_class)
	{
		case PG_ERROR_FENCED:
			if (policy->fenced_in_a_row++ == 0)
				return RETRY_NOW;
			break;
		case PG_ERROR_TRANSIENT:
			policy->fenced_in_a_row = 0;
			break;
		case PG_ERROR_PERMANENT:
			policy->fenced_in_a_row = 0;
			if (++policy->permanent_failures > policy->max_retries)
				return RETRY_GIVE_UP;
			break;
	}
	*delay_ms = retry_next_delay(policy);
	return RETRY_AFTER_DELAY;
}
