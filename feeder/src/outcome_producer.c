/*
 * outcome_producer.c
 *		The outcome publisher's transactional producer (see
 *		outcome_producer.h).
 *
 * librdkafka sorts a transactional error three ways: fatal (the producer
 * is unusable: fenced by a newer one with the same transactional.id, or
 * worse), abortable (the transaction must be aborted, the producer stays
 * usable), retriable (call again; a timeout is one).  Anything else is a
 * state the publisher did not expect, so it starts over as for a fatal
 * one.  Timed calls wait in slices, so that a stop request is seen.
 */
#include "outcome_producer.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "kafka_client.h"
#include "log.h"

/* One wait of a timed call: a stop request is seen this often. */
#define CALL_SLICE_MS 1000

/* How long a timed call goes on after a stop request. */
#define STOP_GRACE_MS 5000

#define PARTITION_COUNT_TIMEOUT_MS 10000

/* The headers naming an event's Kafka source (README, "The outcome stream"). */
#define HEADER_SOURCE_TOPIC "axs-source-topic"
#define HEADER_SOURCE_PARTITION "axs-source-partition"
#define HEADER_SOURCE_OFFSET "axs-source-offset"

/* Properties exactly-once depends on: -X may not change them. */
static const KafkaProperty fixed_properties[] = {
	/* each message written once, in order per partition, to every in-sync replica */
	{"enable.idempotence", "true"},
	{"acks", "all"},
};

typedef rd_kafka_error_t *(*TimedCall) (rd_kafka_t *handle, int timeout_ms);

bool
outcome_producer_create(OutcomeProducer *producer, const FeederOptions *options,
						volatile sig_atomic_t *running)
{
	char		transactional_id[512];
	KafkaProperty defaults[5] = {
		{"client.id", "axs-feeder"},
		{"transactional.id", transactional_id},
		/*
		 * JSON outcomes shrink about four times: fewer bytes to copy and
		 * send for the producer and the brokers, for less CPU than that
		 * saves (-X compression.codec=none to change it)
		 */
		{"compression.codec", "lz4"},
		/*
		 * A transaction's share of a busy partition in one request.
		 * librdkafka sends one partition a ProduceRequest, at most five
		 * in flight, and its broker thread polls without waiting while a
		 * partition holds messages it may not send yet: with its 1 MB
		 * batches a busy partition's ~1.4 MB share of a 20,000-event
		 * transaction took two requests, and that thread spent a third of
		 * a core polling (docs/design/feeder.md).  2 MB of JSON
		 * outcomes is under 0.5 MB after lz4, under Kafka's default 1 MB
		 * max.message.bytes; without compression, set both back to
		 * 1000000 or raise the topic's max.message.bytes.
		 */
		{"batch.size", OUTCOME_PRODUCER_BATCH_BYTES},
		{"message.max.bytes", OUTCOME_PRODUCER_BATCH_BYTES},
	};
	rd_kafka_conf_t *conf;
	char		message[512];

	memset(producer, 0, sizeof(*producer));
	producer->running = running;
	snprintf(transactional_id, sizeof(transactional_id), "axs-outcomes-%s",
			 options->outcomes_topic);
	conf = kafka_conf_new(options, defaults, sizeof(defaults) / sizeof(defaults[0]),
						  fixed_properties, sizeof(fixed_properties) / sizeof(fixed_properties[0]));
	if (conf == NULL)
		return false;
	producer->handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, message, sizeof(message));
	if (producer->handle == NULL)
	{
		log_message("cannot create the outcome producer: %s", message);
		rd_kafka_conf_destroy(conf);
		return false;
	}
	producer->topic = rd_kafka_topic_new(producer->handle, options->outcomes_topic, NULL);
	if (producer->topic == NULL)
	{
		log_message("outcome topic %s: %s", options->outcomes_topic,
					rd_kafka_err2str(rd_kafka_last_error()));
		outcome_producer_destroy(producer);
		return false;
	}
	return true;
}

void
outcome_producer_destroy(OutcomeProducer *producer)
{
	if (producer->topic != NULL)
		rd_kafka_topic_destroy(producer->topic);
	if (producer->handle != NULL)
	{
		/* what was not delivered belongs to a transaction that will not commit */
		rd_kafka_purge(producer->handle, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_destroy(producer->handle);
	}
	producer->topic = NULL;
	producer->handle = NULL;
}

/* What next after a failed call that is not to be retried; logs it. */
static OutcomeProducerStatus
outcome_producer_failed(const char *what, const char *error_text, bool fatal, bool requires_abort)
{
	if (!fatal && requires_abort)
	{
		log_message("outcome producer: %s: %s; aborting the transaction and reading the "
					"outcome topic back", what, error_text);
		return OUTCOME_PRODUCER_ABORT;
	}
	log_message("outcome producer: %s: %s; %s: releasing the publisher lock, then a new "
				"producer and recovery", what, error_text,
				fatal ? "fatal (fenced by a newer producer?)" : "unexpected state");
	return OUTCOME_PRODUCER_FATAL;
}

/*
 * Run a timed transactional call in slices, again while it fails with a
 * retriable error, for up to budget_ms (-1: as long as the feeder runs)
 * and at most STOP_GRACE_MS after a stop request.  Running out of time is
 * out_of_time.
 */
static OutcomeProducerStatus
outcome_producer_call(OutcomeProducer *producer, TimedCall call, const char *what,
					  int64_t budget_ms, OutcomeProducerStatus out_of_time)
{
	int64_t		started_ms = clock_monotonic_ms();
	int64_t		stop_seen_ms = 0;
	char		last_error[512] = "";

	for (;;)
	{
		rd_kafka_error_t *error = call(producer->handle, CALL_SLICE_MS);
		int64_t		now_ms = clock_monotonic_ms();
		OutcomeProducerStatus status;

		if (error == NULL)
			return OUTCOME_PRODUCER_OK;
		if (rd_kafka_error_is_fatal(error) || rd_kafka_error_txn_requires_abort(error) ||
			!rd_kafka_error_is_retriable(error))
		{
			status = outcome_producer_failed(what, rd_kafka_error_string(error),
											 rd_kafka_error_is_fatal(error),
											 rd_kafka_error_txn_requires_abort(error));
			rd_kafka_error_destroy(error);
			return status;
		}
		/* retriable: a timeout, or the coordinator not ready yet */
		if (rd_kafka_error_code(error) != RD_KAFKA_RESP_ERR__TIMED_OUT &&
			strcmp(last_error, rd_kafka_error_string(error)) != 0)
		{
			snprintf(last_error, sizeof(last_error), "%s", rd_kafka_error_string(error));
			log_message("outcome producer: %s: %s; trying again", what, last_error);
		}
		rd_kafka_error_destroy(error);
		if (!*producer->running && stop_seen_ms == 0)
			stop_seen_ms = now_ms;
		if (stop_seen_ms != 0 && now_ms - stop_seen_ms >= STOP_GRACE_MS)
			return out_of_time == OUTCOME_PRODUCER_ABORT ? out_of_time : OUTCOME_PRODUCER_STOPPED;
		if (budget_ms >= 0 && now_ms - started_ms >= budget_ms)
		{
			log_message("outcome producer: %s: no answer within %" PRId64 " ms", what, budget_ms);
			return out_of_time;
		}
	}
}

OutcomeProducerStatus
outcome_producer_init(OutcomeProducer *producer)
{
	return outcome_producer_call(producer, rd_kafka_init_transactions, "init_transactions",
								 -1, OUTCOME_PRODUCER_FATAL);
}

bool
outcome_producer_partition_count(OutcomeProducer *producer, int32_t *count)
{
	return kafka_partition_count(producer->handle, rd_kafka_topic_name(producer->topic),
								 PARTITION_COUNT_TIMEOUT_MS, count);
}

void
outcome_producer_poll(OutcomeProducer *producer)
{
	rd_kafka_poll(producer->handle, 0);
}

OutcomeProducerStatus
outcome_producer_begin(OutcomeProducer *producer)
{
	rd_kafka_error_t *error = rd_kafka_begin_transaction(producer->handle);
	OutcomeProducerStatus status;

	if (error == NULL)
		return OUTCOME_PRODUCER_OK;
	status = outcome_producer_failed("begin_transaction", rd_kafka_error_string(error),
									 rd_kafka_error_is_fatal(error),
									 rd_kafka_error_txn_requires_abort(error));
	rd_kafka_error_destroy(error);
	return status;
}

/* The headers naming the event's Kafka source; NULL when it has none. */
static rd_kafka_headers_t *
source_headers(const OutcomeRow *row)
{
	rd_kafka_headers_t *headers;

	if (!row->has_source)
		return NULL;
	headers = rd_kafka_headers_new(3);
	rd_kafka_header_add(headers, HEADER_SOURCE_TOPIC, sizeof(HEADER_SOURCE_TOPIC) - 1,
						row->source_topic, (ssize_t) row->source_topic_length);
	rd_kafka_header_add(headers, HEADER_SOURCE_PARTITION, sizeof(HEADER_SOURCE_PARTITION) - 1,
						row->source_partition_text, (ssize_t) row->source_partition_text_length);
	rd_kafka_header_add(headers, HEADER_SOURCE_OFFSET, sizeof(HEADER_SOURCE_OFFSET) - 1,
						row->source_offset_text, (ssize_t) row->source_offset_text_length);
	return headers;
}

OutcomeProducerStatus
outcome_producer_send(OutcomeProducer *producer, int32_t partition, const OutcomeRow *row)
{
	rd_kafka_headers_t *headers = source_headers(row);
	rd_kafka_resp_err_t error;
	char		what[64];

	/*
	 * librdkafka owns the headers once the message is queued, not before,
	 * and copies the key.  The value is not copied: it lives in the
	 * batch's PGresult, which the publisher keeps until the transaction is
	 * committed or aborted or the producer destroyed (publisher.c), by
	 * when librdkafka is done with every message.
	 */
	for (;;)
	{
		error = rd_kafka_producev(producer->handle,
								  RD_KAFKA_V_RKT(producer->topic),
								  RD_KAFKA_V_PARTITION(partition),
								  RD_KAFKA_V_MSGFLAGS(0),
								  RD_KAFKA_V_KEY(row->id, row->id_length),
								  RD_KAFKA_V_VALUE((void *) row->message, row->message_length),
								  RD_KAFKA_V_HEADERS(headers),
								  RD_KAFKA_V_END);
		if (error == RD_KAFKA_RESP_ERR_NO_ERROR)
			return OUTCOME_PRODUCER_OK; /* the headers are the message's now */
		if (error != RD_KAFKA_RESP_ERR__QUEUE_FULL || !*producer->running)
			break;
		/* room comes as the brokers acknowledge: wait for that, not a fixed time */
		rd_kafka_flush(producer->handle, 100);
	}
	if (headers != NULL)
		rd_kafka_headers_destroy(headers);
	if (error == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		return OUTCOME_PRODUCER_STOPPED;
	snprintf(what, sizeof(what), "producing seq %" PRId64, row->seq);
	return outcome_producer_failed(what, rd_kafka_err2str(error),
								   error == RD_KAFKA_RESP_ERR__FATAL, true);
}

OutcomeProducerStatus
outcome_producer_commit(OutcomeProducer *producer)
{
	return outcome_producer_call(producer, rd_kafka_commit_transaction, "commit_transaction",
								 OUTCOME_PRODUCER_TIMEOUT_MS, OUTCOME_PRODUCER_ABORT);
}

OutcomeProducerStatus
outcome_producer_abort(OutcomeProducer *producer)
{
	OutcomeProducerStatus status;

	status = outcome_producer_call(producer, rd_kafka_abort_transaction, "abort_transaction",
								   OUTCOME_PRODUCER_TIMEOUT_MS, OUTCOME_PRODUCER_FATAL);
	/* an abort that itself needs an abort cannot be: start over */
	return status == OUTCOME_PRODUCER_ABORT ? OUTCOME_PRODUCER_FATAL : status;
}
