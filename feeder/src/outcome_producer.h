/*
 * outcome_producer.h
 *		The outcome publisher's transactional Kafka producer: its
 *		configuration (transactional.id "axs-outcomes-" + the topic unless
 *		-X sets one, acks=all, idempotence, lz4, 2 MB batches), the
 *		transaction calls with librdkafka's errors sorted into what the
 *		publisher does next, and producing one outcome message to an
 *		explicit partition (key = the event id, value = the message,
 *		headers = its Kafka source), waiting for room while librdkafka's
 *		queue is full.
 *
 * Decides neither routing nor what to publish: the publisher does, with
 * outcome_route.  A call that waits for Kafka ends within a few seconds of
 * a stop request.
 */
#ifndef AXS_FEEDER_OUTCOME_PRODUCER_H
#define AXS_FEEDER_OUTCOME_PRODUCER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "options.h"
#include "outcome_ledger.h"

/*
 * The most bytes of outcomes (before compression) in one request for one
 * partition: the producer's default batch.size and message.max.bytes.
 */
#define OUTCOME_PRODUCER_BATCH_BYTES "2000000"

/* How long a commit or an abort may take before it counts as failed. */
#define OUTCOME_PRODUCER_TIMEOUT_MS 30000

/* What the publisher does after a call. */
typedef enum OutcomeProducerStatus
{
	OUTCOME_PRODUCER_OK,
	OUTCOME_PRODUCER_ABORT,		/* abort the transaction, recover, go on */
	OUTCOME_PRODUCER_FATAL,		/* unusable (fenced, fatal error): destroy it, start over */
	OUTCOME_PRODUCER_STOPPED	/* a stop was asked before the call finished */
} OutcomeProducerStatus;

typedef struct OutcomeProducer
{
	rd_kafka_t *handle;			/* NULL: none */
	rd_kafka_topic_t *topic;
	volatile sig_atomic_t *running;
} OutcomeProducer;

/*
 * Create the producer for options->outcomes_topic.  false (logged) when
 * the configuration is refused: retrying cannot help.
 */
extern bool outcome_producer_create(OutcomeProducer *producer, const FeederOptions *options,
									volatile sig_atomic_t *running);

/* Destroy the producer, dropping what it did not deliver (no-op if none). */
extern void outcome_producer_destroy(OutcomeProducer *producer);

/*
 * init_transactions: fences an older producer of the same transactional.id
 * on a Kafka that fences (librdkafka's mock cluster does not) and aborts
 * its open transaction.  Tried again while it times out.
 */
extern OutcomeProducerStatus outcome_producer_init(OutcomeProducer *producer);

/* The outcome topic's partition count; false (logged) if Kafka did not say. */
extern bool outcome_producer_partition_count(OutcomeProducer *producer, int32_t *count);

/* Serve librdkafka's queued events (its error reports go to the log). */
extern void outcome_producer_poll(OutcomeProducer *producer);

extern OutcomeProducerStatus outcome_producer_begin(OutcomeProducer *producer);

/* Produce row into partition of the open transaction. */
extern OutcomeProducerStatus outcome_producer_send(OutcomeProducer *producer, int32_t partition,
												   const OutcomeRow *row);

/*
 * Commit the open transaction, waiting for every message's delivery; tried
 * again while it times out, up to OUTCOME_PRODUCER_TIMEOUT_MS (a few
 * seconds once a stop is asked).  ABORT: the transaction must be aborted.
 */
extern OutcomeProducerStatus outcome_producer_commit(OutcomeProducer *producer);

/* Abort the open transaction: OK or FATAL. */
extern OutcomeProducerStatus outcome_producer_abort(OutcomeProducer *producer);

#endif							/* AXS_FEEDER_OUTCOME_PRODUCER_H */
