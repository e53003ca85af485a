/*
 * publisher.h
 *		The outcome publisher (--outcomes-topic): a thread of its own, with
 *		its own PostgreSQL session and its own transactional producer, that
 *		publishes every event the ledger decides to the outcome topic,
 *		exactly once, while it holds the topic's publisher lock.  Its main
 *		loop: take the lock (the fence), start a producer, read the outcome
 *		topic back (recovery), then publish batches of decided events, one
 *		Kafka transaction each.
 *
 * Shares nothing with the consumer path but the options, the stop flag and
 * the metrics: neither waits for the other.  Routing and the skip rule are
 * outcome_route's, the SQL outcome_ledger's, the Kafka calls
 * outcome_producer's and outcome_recovery's.
 */
#ifndef AXS_FEEDER_PUBLISHER_H
#define AXS_FEEDER_PUBLISHER_H

#include <signal.h>
#include <stdbool.h>

#include "options.h"

/* How often a publisher waiting for the lock tries it again. */
#define PUBLISHER_LOCK_RETRY_MS 200

/*
 * How long a publisher that took the lock waits before its producer's
 * init_transactions: a previous holder whose session just ended may still
 * be producing its last batch.  A Kafka broker fences that producer at
 * init_transactions; librdkafka's mock cluster does not.
 */
#define PUBLISHER_TAKEOVER_GRACE_MS 1000

/* How long axs.outcome_frames_after waits for the first decided event. */
#define PUBLISHER_WAIT_MS 100

typedef struct Publisher Publisher;

/*
 * Check the Kafka configuration and start the thread; NULL (logged) if
 * either fails.  The publisher runs until *running becomes 0; after a
 * fatal error it sets *running to 0 itself, so that the whole feeder
 * stops.
 */
extern Publisher *publisher_start(const FeederOptions *options, volatile sig_atomic_t *running);

/* true once the thread has ended (stopped, or a fatal error). */
extern bool publisher_finished(Publisher *publisher);

/*
 * Wait for the thread to end (call once *running is 0) and free it.
 * Returns its exit status, one of FEEDER_EXIT_* (feeder.h).
 */
extern int	publisher_stop(Publisher *publisher);

#endif							/* AXS_FEEDER_PUBLISHER_H */
