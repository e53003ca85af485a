/*
 * feeder.c
 *		axs-feeder runtime (see feeder.h).
 *
 * Invariants:
 * - A partition's stored offset (axs.feeder_offsets) advances only in the
 *   transaction that writes the messages below it.
 * - The feeder consumes a partition only from its stored offset: at
 *   assignment, and again after any batch that could not be committed
 *   (fenced, connection lost, SQL error), the batch is dropped and every
 *   owned partition is re-read from PostgreSQL and sought there.
 * - Batches are written by the writer thread (writer.c), strictly in the
 *   order they were filled, while this thread polls and decodes the next
 *   one.  Each batch carries the compare-and-set ranges of its partitions,
 *   expected offsets chained from the batch before it.  At most
 *   WRITER_QUEUE_LENGTH batches are pending plus the one being filled, so
 *   memory stays bounded by the batch limits and librdkafka's prefetch.
 * - A failed batch makes the writer discard every batch behind it; this
 *   thread then waits until the writer is idle, drops the batch being
 *   filled and resynchronises from PostgreSQL.  This thread uses the
 *   PostgreSQL session itself (offsets, locks) only while the writer is
 *   idle.
 * - Every failure is logged with PostgreSQL's report and what comes next,
 *   as the retry policy (retry.h) decides from its class: the fence
 *   resynchronises at once, other errors after a capped exponential
 *   backoff, and an error retrying cannot fix stops the feeder
 *   (FEEDER_EXIT_PERMANENT) once it has failed max_batch_retries + 1 times
 *   in a row.
 * - No wait outlasts a stop request by more than a few seconds: sleeps are
 *   sliced, polls are short, and pg_sink gives up connecting or cancels a
 *   statement when asked to stop.
 * - While idle, the stored offsets are compared with the expected ones
 *   every OFFSETS_CHECK_INTERVAL_MS, so that a rewind (axs.feeder_rewind)
 *   is replayed without waiting for a new message to hit the fence.
 */
#include "feeder.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "batch.h"
#include "clock.h"
#include "consumer.h"
#include "log.h"
#include "metrics.h"
#include "partition_table.h"
#include "pg_sink.h"
#include "retry.h"
#include "writer.h"

/* A batch is flushed early when its COPY data reaches this size. */
#define FEEDER_BATCH_MAX_BYTES (64 * 1024 * 1024)

#define PROGRESS_INTERVAL_MS 5000
#define LAG_INTERVAL_MS 1000
#define OFFSETS_CHECK_INTERVAL_MS 5000

/* Messages taken from librdkafka per call. */
#define FEEDER_POLL_MESSAGES 1024

/* The batch being filled plus the ones the writer may hold. */
#define FEEDER_BATCH_POOL (WRITER_QUEUE_LENGTH + 1)

typedef struct Feeder
{
	const FeederOptions *options;
	volatile sig_atomic_t *running;
	rd_kafka_t *consumer;
	PgSink		sink;
	Writer	   *writer;
	Batch		pool[FEEDER_BATCH_POOL];
	Batch	   *free_batches[FEEDER_BATCH_POOL];
	int			free_count;
	Batch	   *batch;			/* being filled */
	PartitionTable owned;
	uint64_t	locks_session;	/* session the owned lock_held flags refer to */
	bool		resync_needed;	/* owned partitions must be re-read and sought */
	int			exit_status;	/* FEEDER_EXIT_OK while it may go on */
	RetryPolicy retry;
	int64_t		retry_at_ms;	/* no resync before this monotonic time */
} Feeder;

/* false once the feeder must stop: a stop request or a fatal error. */
static bool
feeder_may_go_on(const Feeder *feeder)
{
	return *feeder->running && feeder->exit_status == FEEDER_EXIT_OK;
}

/*
 * After a failed operation: ask the retry policy, log PostgreSQL's report
 * with what comes next, and set when to try again (retry_at_ms) or the
 * exit status.  what says what failed; again what is retried.  Returns the
 * decision.
 */
static RetryDecision
feeder_failed(Feeder *feeder, const PgError *error, const char *what, const char *again)
{
	int64_t		delay_ms;
	RetryDecision decision = retry_after_failure(&feeder->retry, error->error_class, &delay_ms);
	char		report[1200];

	pg_error_format(error, report, sizeof(report));
	switch (decision)
	{
		case RETRY_NOW:
			log_message("%s: %s; fenced: re-reading the stored offsets at once and consuming "
						"from there (a rebalance, another feeder or axs.feeder_rewind moved them)",
						what, report);
			break;
		case RETRY_AFTER_DELAY:
			if (error->error_class == PG_ERROR_PERMANENT)
				log_message("%s: %s; permanent error, failure %d of %d before stopping: "
							"%s in %" PRId64 " ms", what, report,
							feeder->retry.permanent_failures, feeder->retry.max_retries + 1,
							again, delay_ms);
			else
				log_message("%s: %s; %s error: %s in %" PRId64 " ms", what, report,
							pg_error_class_name(error->error_class), again, delay_ms);
			break;
		case RETRY_GIVE_UP:
			log_message("FATAL: %s: %s; permanent error, failure %d of %d: stopping with exit "
						"status %d; fix the cause and start the feeder again: it resumes from "
						"the offsets stored in PostgreSQL", what, report,
						feeder->retry.permanent_failures, feeder->retry.max_retries + 1,
						FEEDER_EXIT_PERMANENT);
			feeder->exit_status = FEEDER_EXIT_PERMANENT;
			break;
	}
	feeder->retry_at_ms = clock_monotonic_ms() + delay_ms;
	return decision;
}

/* Wait until retry_at_ms; false if the feeder must stop first. */
static bool
feeder_wait_for_retry(Feeder *feeder)
{
	int64_t		remaining = feeder->retry_at_ms - clock_monotonic_ms();

	if (remaining > 0)
		clock_sleep_while_running(remaining, feeder->running);
	return feeder_may_go_on(feeder);
}

/*
 * Connect if needed; a new session has none of the advisory locks, so
 * forget them.  Only while the writer is idle.  A failure is in the sink's
 * last_error.
 */
static bool
feeder_connect(Feeder *feeder)
{
	bool		new_session;
	int			i;

	if (!pg_sink_ensure_connected(&feeder->sink, &new_session))
		return false;
	/* The writer may have opened a session too. */
	if (new_session || feeder->locks_session != pg_sink_session(&feeder->sink))
		for (i = 0; i < feeder->owned.count; i++)
			feeder->owned.entries[i].lock_held = false;
	feeder->locks_session = pg_sink_session(&feeder->sink);
	return true;
}

/*
 * Read the topic's id and the stored offset, and take the advisory lock,
 * of every owned partition named in the list (all owned partitions when
 * list is NULL).  Retries as the retry policy says; false if the feeder
 * must stop first.
 */
static bool
feeder_load_offsets(Feeder *feeder, const rd_kafka_topic_partition_list_t *list)
{
	while (feeder_wait_for_retry(feeder))
	{
		PgError		error;
		const char *what = NULL;
		int			i;

		if (!feeder_connect(feeder))
			what = "connecting to PostgreSQL";
		for (i = 0; what == NULL && i < feeder->owned.count; i++)
		{
			OwnedPartition *owned = &feeder->owned.entries[i];

			if (list != NULL &&
				rd_kafka_topic_partition_list_find(list, owned->topic,
												   owned->partition) == NULL)
				continue;
			if (pg_sink_source_topic(&feeder->sink, owned->topic,
									 &owned->source_topic_id) != PG_SINK_OK)
				what = "resolving the topic's id";
			else if (pg_sink_read_offset(&feeder->sink, owned) != PG_SINK_OK)
				what = "reading the stored offsets";
			else if (pg_sink_lock_partition(&feeder->sink, owned) != PG_SINK_OK)
				what = "taking a partition's advisory lock";
			else if (!owned->lock_held)
			{
				/* Wait for an older feeder's session to let go of the lock. */
				pg_error_set(&feeder->sink.last_error, NULL,
							 "held by another session (an older feeder?)", NULL);
				what = "taking a partition's advisory lock";
			}
		}
		if (what == NULL)
			return true;
		error = feeder->sink.last_error;
		feeder_failed(feeder, &error, what, "trying again");
	}
	return false;
}

/* Forget the batch being filled; owned partitions are accepted again from PG's offsets. */
static void
feeder_drop_batch(Feeder *feeder)
{
	if (feeder->batch->message_count > 0)
		log_message("dropping a batch of %d messages; it will be consumed again "
					"from the offsets stored in PostgreSQL",
					feeder->batch->message_count);
	batch_reset(feeder->batch);
	partition_table_batch_dropped(&feeder->owned);
	feeder->resync_needed = true;
}

/*
 * Take back the batches the writer finished: a committed one is committed
 * to Kafka too (for lag tools) and counts for the lag metric; a failed one
 * was logged by the writer.  Their memory goes back to the pool.
 */
static void
feeder_collect(Feeder *feeder)
{
	WriterOutcome outcome;
	PgError		error;
	Batch	   *batch;
	bool		committed = false;

	while ((batch = writer_take_finished(feeder->writer, &outcome, &error)) != NULL)
	{
		int			i;

		if (outcome == WRITER_WRITTEN)
		{
			consumer_commit_batch(feeder->consumer, batch);
			for (i = 0; i < batch->range_count; i++)
				partition_table_written(&feeder->owned, batch->ranges[i].topic,
										batch->ranges[i].partition,
										batch->ranges[i].next_offset);
			retry_after_success(&feeder->retry);
			committed = true;
		}
		else if (outcome == WRITER_DISCARDED)
			log_message("dropping a batch of %d messages queued behind a failed one; "
						"it will be consumed again from the offsets stored in PostgreSQL",
						batch->message_count);
		else
		{
			char		what[256];

			snprintf(what, sizeof(what), "batch of %d messages (%s[%d] from offset %" PRId64
					 "%s) not committed", batch->message_count,
					 batch->range_count > 0 ? batch->ranges[0].topic : "?",
					 batch->range_count > 0 ? batch->ranges[0].partition : -1,
					 batch->range_count > 0 && batch->ranges[0].has_expected ?
					 batch->ranges[0].expected_next : 0,
					 batch->range_count > 1 ? ", and more partitions" : "");
			metrics_count_batch_failure(error.error_class);
			feeder_failed(feeder, &error, what,
						  "consuming it again from the offsets stored in PostgreSQL");
		}
		batch_reset(batch);
		feeder->free_batches[feeder->free_count++] = batch;
	}
	if (committed)
	{
		consumer_refresh_watermarks(feeder->consumer, &feeder->owned);
		metrics_publish_lag(&feeder->owned);
	}
}

/*
 * Wait until the writer has finished every pending batch and take them
 * back.  If one failed, drop the batch being filled too and schedule a
 * resync.  Afterwards the writer is idle and this thread may use the
 * session.
 */
static void
feeder_quiesce(Feeder *feeder)
{
	writer_wait_idle(feeder->writer);
	feeder_collect(feeder);
	if (writer_failed(feeder->writer))
	{
		feeder_drop_batch(feeder);
		writer_clear_failure(feeder->writer);
	}
}

/*
 * Hand the batch being filled to the writer (blocking while the writer's
 * queue is full) and start a new one.  After a failure nothing more is
 * handed over: the batch is dropped and a resync scheduled.
 */
static void
feeder_flush(Feeder *feeder)
{
	Batch	   *batch = feeder->batch;
	int			i;

	if (batch->message_count == 0)
		return;
	if (writer_failed(feeder->writer))
	{
		feeder_quiesce(feeder);
		return;
	}
	/* Locks are taken at assignment and resync; never write without them. */
	for (i = 0; i < feeder->owned.count; i++)
		if (feeder->owned.entries[i].in_batch && !feeder->owned.entries[i].lock_held)
		{
			log_message("advisory lock of %s[%d] not held; resynchronising",
						feeder->owned.entries[i].topic, feeder->owned.entries[i].partition);
			feeder_quiesce(feeder);
			feeder_drop_batch(feeder);
			return;
		}

	batch_seal(batch);
	batch_take_ranges(batch, &feeder->owned);
	batch->session = feeder->locks_session;
	partition_table_batch_committed(&feeder->owned);
	writer_submit(feeder->writer, batch);

	/* Pool: filling + pending <= 1 + WRITER_QUEUE_LENGTH, so one is free or finished. */
	feeder_collect(feeder);
	if (feeder->free_count == 0)
	{
		writer_wait_idle(feeder->writer);
		feeder_collect(feeder);
	}
	feeder->batch = feeder->free_batches[--feeder->free_count];
}

/*
 * Re-read every owned partition's stored offset and seek there, once the
 * retry policy's delay has passed.  Retries while the feeder may go on.
 */
static void
feeder_resync(Feeder *feeder)
{
	/* What is queued assumes the old offsets: let it finish or be discarded. */
	feeder_quiesce(feeder);
	if (feeder->batch->message_count > 0)
		feeder_drop_batch(feeder);
	while (feeder_load_offsets(feeder, NULL))
	{
		PgError		error;
		int			i;

		if (consumer_seek_to_stored(feeder->consumer, &feeder->owned))
		{
			for (i = 0; i < feeder->owned.count; i++)
			{
				OwnedPartition *owned = &feeder->owned.entries[i];

				if (owned->has_stored_offset)
					log_message("%s[%d]: resuming at offset %" PRId64,
								owned->topic, owned->partition, owned->stored_next_offset);
				else
					log_message("%s[%d]: resuming at the beginning (no stored offset)",
								owned->topic, owned->partition);
			}
			feeder->resync_needed = false;
			return;
		}
		pg_error_set(&error, NULL, "the Kafka seek failed (logged above)", NULL);
		feeder_failed(feeder, &error, "seeking to the stored offsets", "trying again");
	}
}

/*
 * While nothing is being written (no batch pending or being filled, a
 * session open): compare every owned partition's stored offset with the
 * one the next batch expects, and resynchronise if another one is stored
 * (an operator's axs.feeder_rewind, most likely).  Never waits for the
 * writer nor connects: a busy or disconnected feeder finds out at its next
 * batch.
 */
static void
feeder_check_stored_offsets(Feeder *feeder)
{
	int			i;

	if (feeder->owned.count == 0 || feeder->batch->message_count > 0 ||
		!writer_idle(feeder->writer))
		return;
	feeder_quiesce(feeder);
	if (feeder->resync_needed || feeder->sink.connection == NULL ||
		PQstatus(feeder->sink.connection) != CONNECTION_OK)
		return;
	for (i = 0; i < feeder->owned.count; i++)
	{
		OwnedPartition *owned = &feeder->owned.entries[i];
		bool		has_stored;
		int64_t		next_offset;

		if (pg_sink_fetch_offset(&feeder->sink, owned->topic, owned->partition,
								 &has_stored, &next_offset) != PG_SINK_OK)
			return;				/* the next batch or check finds out */
		if (has_stored != owned->has_stored_offset ||
			(has_stored && next_offset != owned->stored_next_offset))
		{
			log_message("%s[%d]: the stored offset is now %s%" PRId64 ", this feeder expected "
						"%" PRId64 " (moved by axs.feeder_rewind?); re-reading the stored "
						"offsets and consuming from there", owned->topic, owned->partition,
						has_stored ? "" : "none, not ", next_offset,
						owned->has_stored_offset ? owned->stored_next_offset : 0);
			feeder->resync_needed = true;
			return;
		}
	}
}

static void
feeder_take_partitions(Feeder *feeder, rd_kafka_topic_partition_list_t *partitions)
{
	int			i;

	/* The session is used below: the writer must be idle. */
	feeder_quiesce(feeder);
	for (i = 0; i < partitions->cnt; i++)
		partition_table_add(&feeder->owned, partitions->elems[i].topic,
							partitions->elems[i].partition);
	if (!feeder_load_offsets(feeder, partitions))
	{
		/* Stopping: consume nothing we could not place. */
		for (i = 0; i < partitions->cnt; i++)
			partition_table_remove(&feeder->owned, partitions->elems[i].topic,
								   partitions->elems[i].partition);
		return;
	}
	consumer_set_start_offsets(partitions, &feeder->owned);
	for (i = 0; i < partitions->cnt; i++)
	{
		if (partitions->elems[i].offset >= 0)
			log_message("assigned %s[%d] at stored offset %" PRId64,
						partitions->elems[i].topic, partitions->elems[i].partition,
						partitions->elems[i].offset);
		else
			log_message("assigned %s[%d] from the beginning (no stored offset)",
						partitions->elems[i].topic, partitions->elems[i].partition);
	}
	consumer_assign(feeder->consumer, partitions);
}

static void
feeder_give_up_partitions(Feeder *feeder, rd_kafka_topic_partition_list_t *partitions)
{
	int			i;

	/*
	 * What was consumed from these partitions is written before they go:
	 * hand over the batch being filled and wait for every pending batch.
	 */
	feeder_flush(feeder);
	feeder_quiesce(feeder);
	for (i = 0; i < partitions->cnt; i++)
	{
		OwnedPartition *owned = partition_table_find(&feeder->owned,
													 partitions->elems[i].topic,
													 partitions->elems[i].partition);

		if (owned == NULL)
			continue;
		log_message("revoked %s[%d]", owned->topic, owned->partition);
		pg_sink_unlock_partition(&feeder->sink, owned);
		partition_table_remove(&feeder->owned, partitions->elems[i].topic,
							   partitions->elems[i].partition);
	}
	consumer_unassign(feeder->consumer, partitions);
}

/* librdkafka's rebalance callback, run inside rd_kafka_consumer_poll. */
static void
feeder_rebalance(rd_kafka_t *consumer, rd_kafka_resp_err_t reason,
				 rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
	Feeder	   *feeder = opaque;

	(void) consumer;
	switch (reason)
	{
		case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
			feeder_take_partitions(feeder, partitions);
			break;
		case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
			feeder_give_up_partitions(feeder, partitions);
			break;
		default:
			log_message("rebalance error: %s", rd_kafka_err2str(reason));
			feeder_give_up_partitions(feeder, partitions);
			break;
	}
}

static void
feeder_handle_message(Feeder *feeder, rd_kafka_message_t *message)
{
	const char *topic = rd_kafka_topic_name(message->rkt);
	OwnedPartition *owned;
	rd_kafka_timestamp_type_t timestamp_type;
	int64_t		timestamp;

	if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		if (message->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
			message->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE)
		{
			log_message("FATAL: %s[%d]: the offset to resume from is no longer in Kafka "
						"(retention passed it?): %s; refusing to skip messages; stopping "
						"with exit status %d; move the stored offset deliberately "
						"(axs.feeder_rewind) to continue",
						message->rkt ? topic : "?", message->partition,
						rd_kafka_message_errstr(message), FEEDER_EXIT_OFFSET_LOST);
			feeder->exit_status = FEEDER_EXIT_OFFSET_LOST;
		}
		else if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			log_message("kafka: %s", rd_kafka_message_errstr(message));
		return;
	}

	metrics_count_consumed(1);
	owned = partition_table_find(&feeder->owned, topic, message->partition);
	if (owned == NULL)
		return;					/* fetched before a revoke */

	timestamp = rd_kafka_message_timestamp(message, &timestamp_type);
	if (timestamp_type != RD_KAFKA_TIMESTAMP_CREATE_TIME || timestamp < 0)
		timestamp = clock_wall_ms();
	batch_add_message(feeder->batch, owned, message->offset, message->payload,
					  message->len, timestamp, clock_monotonic_ms());
}

/* true when the batch must be written now. */
static bool
feeder_batch_due(const Feeder *feeder, int64_t now_ms)
{
	const Batch *batch = feeder->batch;

	if (batch->message_count == 0)
		return false;
	return batch->message_count >= feeder->options->batch_rows ||
		batch_bytes(batch) >= FEEDER_BATCH_MAX_BYTES ||
		now_ms - batch->first_message_ms >= feeder->options->batch_ms;
}

/* How long the next poll may wait. */
static int
feeder_poll_timeout(const Feeder *feeder, int64_t now_ms)
{
	int64_t		remaining;

	if (feeder->batch->message_count == 0)
		return 100;
	remaining = feeder->batch->first_message_ms + feeder->options->batch_ms - now_ms;
	return remaining < 0 ? 0 : (int) remaining;
}

/*
 * Take up to wanted messages.  rd_kafka_consume_batch_queue waits until it
 * has all wanted messages or the timeout passes, so for an empty batch it
 * would hold the first message until a whole poll's worth had arrived (~17
 * ms at 58,000/s), before --batch-ms even starts: take what is queued, and
 * if nothing is, wait for one message only.  The batch's clock then starts
 * at its first message.
 */
static ssize_t
feeder_poll(Feeder *feeder, rd_kafka_queue_t *queue, rd_kafka_message_t **messages, int wanted)
{
	ssize_t		received;

	if (feeder->batch->message_count > 0)
		return rd_kafka_consume_batch_queue(queue, feeder_poll_timeout(feeder, clock_monotonic_ms()),
											messages, (size_t) wanted);
	received = rd_kafka_consume_batch_queue(queue, 0, messages, (size_t) wanted);
	if (received != 0)
		return received;
	return rd_kafka_consume_batch_queue(queue, feeder_poll_timeout(feeder, clock_monotonic_ms()),
										messages, 1);
}

int
feeder_run(const FeederOptions *options, volatile sig_atomic_t *running)
{
	Feeder		feeder;
	int64_t		next_progress_ms;
	int64_t		next_lag_ms;
	int			exit_status;
	int			b;
	int64_t		next_offsets_check_ms;
	rd_kafka_queue_t *queue;
	rd_kafka_message_t *messages[FEEDER_POLL_MESSAGES];

	memset(&feeder, 0, sizeof(feeder));
	feeder.options = options;
	feeder.running = running;
	feeder.exit_status = FEEDER_EXIT_OK;
	retry_init(&feeder.retry, options->max_batch_retries);
	pg_sink_init(&feeder.sink, options->conninfo, options->synchronous_commit,
				 options->topics, options->topic_count, running);
	for (b = 0; b < FEEDER_BATCH_POOL; b++)
	{
		batch_init(&feeder.pool[b]);
		feeder.free_batches[feeder.free_count++] = &feeder.pool[b];
	}
	feeder.batch = feeder.free_batches[--feeder.free_count];
	partition_table_init(&feeder.owned);

	/* Report a wrong role, password or database before the first assignment. */
	if (!feeder_connect(&feeder))
	{
		PgError		error = feeder.sink.last_error;

		feeder_failed(&feeder, &error, "connecting to PostgreSQL", "trying again at assignment");
	}

	feeder.writer = writer_start(&feeder.sink);
	if (feeder.writer != NULL)
		feeder.consumer = consumer_create(options, feeder_rebalance, &feeder);
	if (feeder.consumer == NULL)
	{
		if (feeder.writer != NULL)
			writer_stop(feeder.writer);
		pg_sink_close(&feeder.sink);
		for (b = 0; b < FEEDER_BATCH_POOL; b++)
			batch_free(&feeder.pool[b]);
		partition_table_free(&feeder.owned);
		return FEEDER_EXIT_FATAL;
	}
	log_message("consuming %s%s as group %s from %s", options->topics[0],
				options->topic_count > 1 ? " and more" : "", options->group,
				options->brokers);

	/* The consumer queue also delivers rebalance callbacks. */
	queue = rd_kafka_queue_get_consumer(feeder.consumer);
	next_progress_ms = clock_monotonic_ms() + PROGRESS_INTERVAL_MS;
	next_lag_ms = clock_monotonic_ms() + LAG_INTERVAL_MS;
	next_offsets_check_ms = clock_monotonic_ms() + OFFSETS_CHECK_INTERVAL_MS;
	while (feeder_may_go_on(&feeder))
	{
		int64_t		now_ms;
		ssize_t		received;
		ssize_t		i;
		int			wanted;

		if (writer_failed(feeder.writer))
			feeder_quiesce(&feeder);
		if (feeder.resync_needed)
			feeder_resync(&feeder);
		feeder_collect(&feeder);
		if (!feeder_may_go_on(&feeder))
			break;

		/* Never fetch beyond the batch limit: the batch bounds memory. */
		wanted = feeder.options->batch_rows - feeder.batch->message_count;
		if (wanted > FEEDER_POLL_MESSAGES)
			wanted = FEEDER_POLL_MESSAGES;
		received = feeder_poll(&feeder, queue, messages, wanted);
		for (i = 0; i < received; i++)
		{
			feeder_handle_message(&feeder, messages[i]);
			rd_kafka_message_destroy(messages[i]);
		}

		now_ms = clock_monotonic_ms();
		if (feeder_batch_due(&feeder, now_ms))
			feeder_flush(&feeder);
		if (now_ms >= next_lag_ms)
		{
			consumer_refresh_watermarks(feeder.consumer, &feeder.owned);
			metrics_publish_lag(&feeder.owned);
			next_lag_ms = now_ms + LAG_INTERVAL_MS;
		}
		if (now_ms >= next_progress_ms)
		{
			metrics_log_progress();
			next_progress_ms = now_ms + PROGRESS_INTERVAL_MS;
		}
		if (now_ms >= next_offsets_check_ms)
		{
			feeder_check_stored_offsets(&feeder);
			next_offsets_check_ms = now_ms + OFFSETS_CHECK_INTERVAL_MS;
		}
	}

	/* Write what was consumed, then leave the group (revoke flushes too). */
	rd_kafka_queue_destroy(queue);
	if (feeder.exit_status == FEEDER_EXIT_OK)
		log_message("stopping: writing the last batch");
	feeder_flush(&feeder);
	feeder_quiesce(&feeder);
	rd_kafka_consumer_close(feeder.consumer);
	rd_kafka_destroy(feeder.consumer);
	writer_stop(feeder.writer);
	metrics_log_progress();

	exit_status = feeder.exit_status;
	pg_sink_close(&feeder.sink);
	for (b = 0; b < FEEDER_BATCH_POOL; b++)
		batch_free(&feeder.pool[b]);
	partition_table_free(&feeder.owned);
	return exit_status;
}
