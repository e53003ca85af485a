/*
 * publisher.c
 *		The outcome publisher's thread and main loop (see publisher.h).
 *
 * Exactly once, across a kill -9, PostgreSQL restarts and two feeders with
 * the same --outcomes-topic:
 * - The fence: only the session holding axs.outcome_publisher_try_lock
 *   publishes.  The lock is tried every PUBLISHER_LOCK_RETRY_MS, never
 *   waited for; when the session breaks the lock is gone, and the
 *   publisher drops its producer and takes the lock again before it
 *   publishes anything.
 * - After taking the lock: PUBLISHER_TAKEOVER_GRACE_MS for a previous
 *   holder's last batch to land, a new producer whose init_transactions
 *   fences an older one with the same transactional.id (on Kafka), then
 *   recovery:
 *   the seq of the last message of every partition of the outcome topic.
 *   Reading the ledger resumes after the smallest of them, and a row whose
 *   partition already holds its seq (or a later one) is skipped: every
 *   partition receives its messages in seq order, so this never writes a
 *   message twice, even on librdkafka's mock cluster, which shows the
 *   messages of aborted transactions.  An aborted transaction is followed
 *   by a recovery too.
 * - A batch of decided events is one Kafka transaction; after its commit
 *   the cursor moves to its last seq and the progress is reported to the
 *   ledger (axs.outcomes_published, for the lag metric only).
 * - A PostgreSQL error releases the lock (the session is dropped) and the
 *   publisher starts over with the retry policy's backoff; a permanent
 *   error that keeps failing stops the feeder (FEEDER_EXIT_PERMANENT), as
 *   a topic that holds a message without a seq does
 *   (FEEDER_EXIT_OUTCOME_TOPIC).  A fatal producer error releases the lock
 *   too.
 * - A stop request ends the loop between batches; a transaction under way
 *   is committed or aborted first.
 */
#include "publisher.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "feeder.h"
#include "log.h"
#include "metrics.h"
#include "outcome_ledger.h"
#include "outcome_producer.h"
#include "outcome_recovery.h"
#include "outcome_route.h"
#include "pg_sink.h"
#include "retry.h"

struct Publisher
{
	const FeederOptions *options;
	const char *topic;			/* options->outcomes_topic */
	volatile sig_atomic_t *running;
	pthread_t	thread;
	int			finished;		/* atomic: the thread has ended */
	int			exit_status;	/* FEEDER_EXIT_OK while it may go on */
	PgSink		sink;			/* its own session: the lock lives there */
	bool		lock_held;
	OutcomeProducer producer;
	OutcomeRoute route;			/* the partitions as recovery found them */
	int64_t		cursor;			/* every seq up to it is in the outcome topic */
	OutcomeBatch batch;
	int32_t    *row_partitions; /* per batch row: its partition, -1 if skipped */
	int			row_partitions_capacity;
	RetryPolicy retry;
};

static bool
publisher_may_go_on(const Publisher *publisher)
{
	return *publisher->running && publisher->exit_status == FEEDER_EXIT_OK;
}

/* Stop the publisher, and with it the feeder, with exit_status. */
static void
publisher_give_up(Publisher *publisher, int exit_status)
{
	publisher->exit_status = exit_status;
	*publisher->running = 0;
}

/* Drop the producer and the session, and with the session the lock. */
static void
publisher_release(Publisher *publisher)
{
	outcome_producer_destroy(&publisher->producer);
	outcome_batch_clear(&publisher->batch);
	pg_sink_disconnect(&publisher->sink);
	if (publisher->lock_held)
		log_message("outcome topic %s: publisher lock released", publisher->topic);
	publisher->lock_held = false;
	metrics_set_outcome_publisher_active(false);
}

/*
 * After a failed PostgreSQL call (the report is in the sink's last_error):
 * log it with what comes next, release the lock, and back off (the thread
 * has nothing else to do meanwhile), or give up once a permanent error
 * has failed max_batch_retries + 1 times in a row.
 */
static void
publisher_failed(Publisher *publisher, const char *what)
{
	PgError		error = publisher->sink.last_error;
	char		report[1200];
	int64_t		delay_ms;

	pg_error_format(&error, report, sizeof(report));
	if (retry_after_failure(&publisher->retry, error.error_class, &delay_ms) == RETRY_GIVE_UP)
	{
		log_message("FATAL: outcome publisher: %s: %s; permanent error, failure %d of %d: "
					"stopping with exit status %d", what, report,
					publisher->retry.permanent_failures, publisher->retry.max_retries + 1,
					FEEDER_EXIT_PERMANENT);
		publisher_give_up(publisher, FEEDER_EXIT_PERMANENT);
		return;
	}
	log_message("outcome publisher: %s: %s; %s error: taking the publisher lock again in "
				"%" PRId64 " ms", what, report, pg_error_class_name(error.error_class), delay_ms);
	publisher_release(publisher);
	clock_sleep_while_running(delay_ms, publisher->running);
}

/*
 * After a Kafka failure (logged where it happened): back off before the
 * next attempt, with the lock (recovery, or an aborted transaction) or
 * without it (a producer that had to go).
 */
static void
publisher_back_off(Publisher *publisher)
{
	int64_t		delay_ms;

	retry_after_failure(&publisher->retry, PG_ERROR_TRANSIENT, &delay_ms);
	clock_sleep_while_running(delay_ms, publisher->running);
}

/*
 * Connect if needed and try the lock until this session holds it; false
 * if the publisher must stop first.
 */
static bool
publisher_take_lock(Publisher *publisher)
{
	bool		waiting = false;

	while (publisher_may_go_on(publisher))
	{
		bool		new_session;
		bool		held;

		if (!pg_sink_ensure_connected(&publisher->sink, &new_session))
		{
			publisher_failed(publisher, "connecting to PostgreSQL");
			continue;
		}
		if (outcome_ledger_try_lock(&publisher->sink, publisher->topic, &held) != PG_SINK_OK)
		{
			publisher_failed(publisher, "trying the publisher lock");
			continue;
		}
		if (held && outcome_ledger_prepare_session(&publisher->sink) != PG_SINK_OK)
		{
			publisher_failed(publisher, "setting up the publisher's session");
			continue;
		}
		if (held)
		{
			publisher->lock_held = true;
			metrics_set_outcome_publisher_active(true);
			log_message("outcome topic %s: publisher lock taken%s", publisher->topic,
						waiting ? ", taking over from the publisher that held it" : "");
			return true;
		}
		if (!waiting)
			log_message("outcome topic %s: another publisher holds the lock; waiting for it "
						"(trying every %d ms)", publisher->topic, PUBLISHER_LOCK_RETRY_MS);
		waiting = true;
		clock_sleep_while_running(PUBLISHER_LOCK_RETRY_MS, publisher->running);
	}
	return false;
}

/* The last seq of every partition, as one log line. */
static void
publisher_log_recovered(const Publisher *publisher)
{
	char		seqs[1500];
	size_t		used = 0;

	seqs[0] = '\0';
	for (int32_t p = 0; p < publisher->route.partition_count && used < sizeof(seqs) - 32; p++)
		used += (size_t) snprintf(seqs + used, sizeof(seqs) - used, "%s%d: %" PRId64,
								  p > 0 ? ", " : "", p, publisher->route.last_seq[p]);
	if (used >= sizeof(seqs) - 32)
		snprintf(seqs + used, sizeof(seqs) - used, ", ...");
	log_message("outcome topic %s: recovered the last seq of each of its %d partitions (%s); "
				"publishing from seq %" PRId64, publisher->topic,
				publisher->route.partition_count, seqs, publisher->cursor + 1);
}

/* Read the outcome topic back and set the cursor there. */
static OutcomeRecoveryStatus
publisher_recover(Publisher *publisher)
{
	int32_t		partition_count;
	OutcomeRecoveryStatus status;

	if (!outcome_producer_partition_count(&publisher->producer, &partition_count))
		return OUTCOME_RECOVERY_RETRY;
	outcome_route_free(&publisher->route);
	outcome_route_init(&publisher->route, partition_count);
	status = outcome_recovery_run(publisher->options, &publisher->route, publisher->running);
	if (status == OUTCOME_RECOVERY_OK)
	{
		publisher->cursor = outcome_route_resume_after(&publisher->route);
		metrics_set_outcome_seq(publisher->cursor);
		publisher_log_recovered(publisher);
	}
	return status;
}

/*
 * Abort the transaction under way after status (ABORT or STOPPED); FATAL
 * if the abort failed.
 */
static OutcomeProducerStatus
publisher_abort(Publisher *publisher, OutcomeProducerStatus status)
{
	OutcomeProducerStatus aborted = outcome_producer_abort(&publisher->producer);

	metrics_count_outcome_abort();
	if (aborted != OUTCOME_PRODUCER_OK)
		return aborted == OUTCOME_PRODUCER_STOPPED ? OUTCOME_PRODUCER_STOPPED :
			OUTCOME_PRODUCER_FATAL;
	return status;
}

/*
 * Route every row of the batch: row_partitions[r] is its partition, or -1
 * when that partition holds it already.  Returns how many to produce.
 */
static int
publisher_route_batch(Publisher *publisher)
{
	const OutcomeBatch *batch = &publisher->batch;
	int64_t		expected = publisher->cursor + 1;
	int64_t		gap_after = -1;
	int			gaps = 0;
	int			produce = 0;

	if (batch->count > publisher->row_partitions_capacity)
	{
		int32_t    *grown = realloc(publisher->row_partitions, sizeof(int32_t) * (size_t) batch->count);

		if (grown == NULL)
		{
			fprintf(stderr, "axs-feeder: out of memory routing %d outcomes\n", batch->count);
			abort();
		}
		publisher->row_partitions = grown;
		publisher->row_partitions_capacity = batch->count;
	}
	for (int r = 0; r < batch->count; r++)
	{
		const OutcomeRow *row = &batch->rows[r];
		int32_t		partition = outcome_route_partition(publisher->route.partition_count,
														row->has_source,
														row->source_partition,
														row->id, row->id_length);

		if (row->seq != expected && gaps++ == 0)
			gap_after = expected - 1;
		expected = row->seq + 1;
		publisher->row_partitions[r] = outcome_route_must_produce(&publisher->route, partition,
																  row->seq) ? partition : -1;
		produce += publisher->row_partitions[r] >= 0;
	}
	if (gaps > 0)
		log_message("outcome publisher: axs.outcome_frames_after returned %d seq(s) out of sequence, "
					"the first after seq %" PRId64 ": the ledger's decision sequence has gaps",
					gaps, gap_after);
	return produce;
}

/*
 * Publish the batch read last as one transaction (none if every row is
 * in the topic already), then move the cursor past it.
 */
static OutcomeProducerStatus
publisher_publish_batch(Publisher *publisher)
{
	const OutcomeBatch *batch = &publisher->batch;
	int			produce = publisher_route_batch(publisher);
	OutcomeProducerStatus status = OUTCOME_PRODUCER_OK;
	int64_t		committed_us;

	if (produce > 0)
	{
		status = outcome_producer_begin(&publisher->producer);
		if (status != OUTCOME_PRODUCER_OK)
			return status == OUTCOME_PRODUCER_ABORT ? publisher_abort(publisher, status) : status;
		for (int r = 0; r < batch->count && status == OUTCOME_PRODUCER_OK; r++)
			if (publisher->row_partitions[r] >= 0)
				status = outcome_producer_send(&publisher->producer,
											   publisher->row_partitions[r], &batch->rows[r]);
		if (status == OUTCOME_PRODUCER_OK)
			status = outcome_producer_commit(&publisher->producer);
		if (status == OUTCOME_PRODUCER_ABORT || status == OUTCOME_PRODUCER_STOPPED)
			return publisher_abort(publisher, status);
		if (status != OUTCOME_PRODUCER_OK)
			return status;
		committed_us = clock_wall_us();
		for (int r = 0; r < batch->count; r++)
		{
			const OutcomeRow *row = &batch->rows[r];

			if (publisher->row_partitions[r] < 0)
				continue;
			outcome_route_published(&publisher->route, publisher->row_partitions[r], row->seq);
			if (row->has_queued_at)
				metrics_observe_outcome_latency(committed_us - row->queued_at_us);
		}
		metrics_count_outcome_transaction((uint64_t) produce);
	}
	publisher->cursor = batch->rows[batch->count - 1].seq;
	metrics_set_outcome_seq(publisher->cursor);
	return OUTCOME_PRODUCER_OK;
}

/*
 * Publish while this session holds the lock: a producer, recovery, then
 * batch after batch.  Returns when the lock may be lost (a PostgreSQL
 * error), the producer is unusable, or the publisher must stop; the caller
 * releases what is left.
 */
static void
publisher_hold_lock(Publisher *publisher)
{
	bool		recovered = false;
	OutcomeProducerStatus status;

	if (!clock_sleep_while_running(PUBLISHER_TAKEOVER_GRACE_MS, publisher->running))
		return;
	if (!outcome_producer_create(&publisher->producer, publisher->options, publisher->running))
	{
		publisher_give_up(publisher, FEEDER_EXIT_FATAL);
		return;
	}
	status = outcome_producer_init(&publisher->producer);
	if (status != OUTCOME_PRODUCER_OK)
	{
		publisher_release(publisher);
		publisher_back_off(publisher);
		return;
	}
	while (publisher_may_go_on(publisher))
	{
		outcome_producer_poll(&publisher->producer);
		if (!recovered)
		{
			OutcomeRecoveryStatus recovery = publisher_recover(publisher);

			if (recovery == OUTCOME_RECOVERY_REFUSED)
			{
				log_message("FATAL: outcome publisher: stopping with exit status %d",
							FEEDER_EXIT_OUTCOME_TOPIC);
				publisher_give_up(publisher, FEEDER_EXIT_OUTCOME_TOPIC);
				return;
			}
			if (recovery != OUTCOME_RECOVERY_OK)
			{
				publisher_back_off(publisher);
				continue;
			}
			recovered = true;
		}
		if (outcome_ledger_read(&publisher->sink, publisher->cursor,
								publisher->options->outcomes_batch, PUBLISHER_WAIT_MS,
								&publisher->batch) != PG_SINK_OK)
		{
			publisher_failed(publisher, "reading the decided events (axs.outcome_frames_after)");
			return;
		}
		retry_after_success(&publisher->retry);
		if (publisher->batch.count == 0)
			continue;
		status = publisher_publish_batch(publisher);
		if (status == OUTCOME_PRODUCER_ABORT)
		{
			recovered = false;
			publisher_back_off(publisher);
			continue;
		}
		if (status != OUTCOME_PRODUCER_OK)
		{
			publisher_release(publisher);
			if (status == OUTCOME_PRODUCER_FATAL)
				publisher_back_off(publisher);
			return;
		}
		if (outcome_ledger_published(&publisher->sink, publisher->topic,
									 publisher->cursor) != PG_SINK_OK)
		{
			publisher_failed(publisher, "recording the progress (axs.outcomes_published)");
			return;
		}
	}
}

static void *
publisher_main(void *argument)
{
	Publisher  *publisher = argument;

	log_message("publishing decided events to %s from %s", publisher->topic,
				publisher->options->brokers);
	while (publisher_take_lock(publisher))
	{
		publisher_hold_lock(publisher);
		publisher_release(publisher);
	}
	publisher_release(publisher);
	log_message("outcome publisher stopped");
	__atomic_store_n(&publisher->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

Publisher *
publisher_start(const FeederOptions *options, volatile sig_atomic_t *running)
{
	Publisher  *publisher;
	OutcomeProducer check;
	int			error;

	/* A configuration Kafka refuses is bad usage: say so now, not at takeover. */
	if (!outcome_producer_create(&check, options, running))
		return NULL;
	outcome_producer_destroy(&check);
	if (!outcome_recovery_check_options(options))
		return NULL;

	publisher = calloc(1, sizeof(Publisher));
	if (publisher == NULL)
	{
		log_message("cannot start the outcome publisher: out of memory");
		return NULL;
	}
	publisher->options = options;
	publisher->topic = options->outcomes_topic;
	publisher->running = running;
	publisher->exit_status = FEEDER_EXIT_OK;
	pg_sink_init(&publisher->sink, options->conninfo, false, NULL, 0, running);
	outcome_batch_init(&publisher->batch);
	retry_init(&publisher->retry, options->max_batch_retries);
	error = pthread_create(&publisher->thread, NULL, publisher_main, publisher);
	if (error != 0)
	{
		log_message("cannot start the outcome publisher thread: %s", strerror(error));
		pg_sink_close(&publisher->sink);
		free(publisher);
		return NULL;
	}
	return publisher;
}

bool
publisher_finished(Publisher *publisher)
{
	return __atomic_load_n(&publisher->finished, __ATOMIC_ACQUIRE) != 0;
}

int
publisher_stop(Publisher *publisher)
{
	int			exit_status;

	pthread_join(publisher->thread, NULL);
	exit_status = publisher->exit_status;
	pg_sink_close(&publisher->sink);
	outcome_batch_free(&publisher->batch);
	outcome_route_free(&publisher->route);
	free(publisher->row_partitions);
	free(publisher);
	return exit_status;
}
