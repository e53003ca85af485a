/*
 * retry.h
 *		axs-feeder's retry policy: after a failed PostgreSQL operation (a
 *		batch, reading the stored offsets, taking a partition lock,
 *		connecting), decide from the error's class what comes next: re-read
 *		the stored offsets at once (the fence), back off and try again
 *		(capped exponential backoff), or give up (a permanent error failed
 *		max_retries + 1 times in a row).
 *
 * Pure bookkeeping: it neither sleeps nor logs; the feeder does both.
 */
#ifndef AXS_FEEDER_RETRY_H
#define AXS_FEEDER_RETRY_H

#include <stdint.h>

#include "pg_error.h"

#define RETRY_FIRST_DELAY_MS 100
#define RETRY_MAX_DELAY_MS 5000

typedef enum RetryDecision
{
	RETRY_NOW,					/* fenced: re-read the stored offsets at once */
	RETRY_AFTER_DELAY,			/* wait delay_ms, then try again */
	RETRY_GIVE_UP				/* a permanent error did not go away: stop */
} RetryDecision;

typedef struct RetryPolicy
{
	int			max_retries;	/* permanent failures tolerated before giving up */
	int			permanent_failures; /* in a row, since the last success */
	int			fenced_in_a_row;
	int64_t		delay_ms;		/* the next backoff */
} RetryPolicy;

extern void retry_init(RetryPolicy *policy, int max_retries);

/*
 * Record a failure of the given class.  *delay_ms is set to how long to
 * wait before trying again (0 for RETRY_NOW and RETRY_GIVE_UP).  A fence
 * is expected during a rebalance or after an operator rewound the stored
 * offsets: the first in a row retries at once, later ones in a row back
 * off; fences never count towards giving up.
 */
extern RetryDecision retry_after_failure(RetryPolicy *policy, PgErrorClass error_class,
										 int64_t *delay_ms);

/* A batch committed: start counting afresh. */
extern void retry_after_success(RetryPolicy *policy);

#endif							/* AXS_FEEDER_RETRY_H */
