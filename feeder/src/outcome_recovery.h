/*
 * outcome_recovery.h
 *		The outcome publisher's recovery: the seq of the last committed
 *		message in every partition of the outcome topic, read back by a
 *		read_committed consumer of its own (assigned partitions, never a
 *		group member) from a window at the end of each partition, doubled
 *		until it holds a message.
 *
 * Reads Kafka only; the publisher resumes from what it finds with
 * outcome_route's skip rule.
 */
#ifndef AXS_FEEDER_OUTCOME_RECOVERY_H
#define AXS_FEEDER_OUTCOME_RECOVERY_H

#include <signal.h>
#include <stdbool.h>

#include "options.h"
#include "outcome_route.h"

typedef enum OutcomeRecoveryStatus
{
	OUTCOME_RECOVERY_OK,
	OUTCOME_RECOVERY_RETRY,		/* Kafka did not answer (logged): try again later */
	OUTCOME_RECOVERY_REFUSED,	/* the topic holds what publishing cannot resume
								 * from (logged): stop */
	OUTCOME_RECOVERY_STOPPED	/* a stop was asked first */
} OutcomeRecoveryStatus;

/* Whether the recovery reader's configuration is accepted (logged if not). */
extern bool outcome_recovery_check_options(const FeederOptions *options);

/*
 * Set route->last_seq of each of route->partition_count partitions of
 * options->outcomes_topic:
 *   - the seq of the last message a read_committed consumer reads there;
 *   - 0 for a partition that holds no committed message from offset 0 on
 *     (never written to, or only aborted transactions);
 *   - for a partition whose committed messages were all deleted (retention
 *     moved its start past them), the largest seq found in the others: on
 *     a broker with transactions every seq up to that one was committed,
 *     in order, so the partition holds none of the later ones.
 * REFUSED when a partition's last message carries no valid "seq", or when
 * no partition has a message left to read but some had messages.
 */
extern OutcomeRecoveryStatus outcome_recovery_run(const FeederOptions *options,
												  OutcomeRoute *route,
												  volatile sig_atomic_t *running);

#endif							/* AXS_FEEDER_OUTCOME_RECOVERY_H */
