/*
 * outcome_recovery.c
 *		Reading the last seq of every outcome partition back (see
 *		outcome_recovery.h).
 *
 * A partition receives its messages in seq order (the producer is
 * idempotent), so its last message says what it holds.  On a Kafka with
 * transactions the last offsets may be commit markers or aborted messages,
 * which a read_committed consumer never sees: a window that yields no
 * message is doubled until it starts at the partition's first offset.
 * librdkafka's mock cluster writes no markers and shows aborted messages
 * too; the publisher never writes a message twice, so what it shows was
 * published all the same.
 */
#include "outcome_recovery.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "kafka_client.h"
#include "log.h"

#define QUERY_TIMEOUT_MS 10000

/* One round of reading back may take this long. */
#define ROUND_TIMEOUT_MS 30000

/* How a partition's read-back goes. */
typedef struct PartitionReadBack
{
	int64_t		low;			/* first offset Kafka still has */
	int64_t		high;			/* end offset when recovery started */
	int64_t		window;			/* offsets read back this round */
	int64_t		start;			/* first offset read this round */
	bool		reading;		/* assigned, end not reached yet */
	bool		resolved;		/* its last seq is known, or known to be none */
	bool		emptied;		/* nothing readable left, but it had messages */
	rd_kafka_message_t *last;	/* the last message read this round */
} PartitionReadBack;

/* Properties the read-back relies on: -X may not change them. */
static const KafkaProperty fixed_properties[] = {
	{"isolation.level", "read_committed"},
	{"enable.partition.eof", "true"},
	{"enable.auto.commit", "false"},
	{"enable.auto.offset.store", "false"},
	{"auto.offset.reset", "error"},
};

static const KafkaProperty default_properties[] = {
	{"client.id", "axs-feeder"},
};

static rd_kafka_t *
reader_create(const FeederOptions *options)
{
	return kafka_reader_new(kafka_conf_new(options, default_properties,
										   sizeof(default_properties) / sizeof(default_properties[0]),
										   fixed_properties,
										   sizeof(fixed_properties) / sizeof(fixed_properties[0])),
							"axs-feeder-outcome-recovery", "the outcome recovery reader");
}

bool
outcome_recovery_check_options(const FeederOptions *options)
{
	rd_kafka_t *reader = reader_create(options);

	if (reader == NULL)
		return false;
	rd_kafka_destroy(reader);
	return true;
}

/* A partition whose read-back ends this round. */
static void
read_back_finished(PartitionReadBack *part, int *pending)
{
	if (part->reading)
	{
		part->reading = false;
		(*pending)--;
	}
}

/*
 * Read every unresolved partition from its window's start to its end (the
 * end-of-partition event, or its end offset), keeping its last message.
 */
static OutcomeRecoveryStatus
read_round(rd_kafka_t *reader, const char *topic, PartitionReadBack *parts, int32_t count,
		   volatile sig_atomic_t *running)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(count);
	OutcomeRecoveryStatus status = OUTCOME_RECOVERY_OK;
	rd_kafka_resp_err_t error;
	int64_t		deadline_ms;
	int			pending = 0;

	for (int32_t p = 0; p < count; p++)
		if (!parts[p].resolved)
		{
			parts[p].start = outcome_route_window_start(parts[p].low, parts[p].high,
														parts[p].window);
			parts[p].reading = true;
			rd_kafka_topic_partition_list_add(list, topic, p)->offset = parts[p].start;
			pending++;
		}
	error = rd_kafka_assign(reader, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (error != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		log_message("outcome recovery: cannot read %s back: %s", topic, rd_kafka_err2str(error));
		return OUTCOME_RECOVERY_RETRY;
	}
	deadline_ms = clock_monotonic_ms() + ROUND_TIMEOUT_MS;
	while (pending > 0 && status == OUTCOME_RECOVERY_OK)
	{
		rd_kafka_message_t *message = rd_kafka_consumer_poll(reader, 100);
		PartitionReadBack *part = NULL;

		if (!*running)
			status = OUTCOME_RECOVERY_STOPPED;
		else if (clock_monotonic_ms() >= deadline_ms)
		{
			log_message("outcome recovery: %d partition(s) of %s not read back within %d ms",
						pending, topic, ROUND_TIMEOUT_MS);
			status = OUTCOME_RECOVERY_RETRY;
		}
		if (message == NULL)
			continue;
		if (message->partition >= 0 && message->partition < count &&
			parts[message->partition].reading)
			part = &parts[message->partition];
		if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
		{
			if (part != NULL)
				read_back_finished(part, &pending);
		}
		else if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			log_message("outcome recovery: %s", rd_kafka_message_errstr(message));
			if (message->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
				message->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE)
				status = OUTCOME_RECOVERY_RETRY;	/* retention moved: read again */
		}
		else if (part != NULL && message->offset >= part->start && message->offset < part->high)
		{
			if (part->last != NULL)
				rd_kafka_message_destroy(part->last);
			part->last = message;
			message = NULL;
			if (part->last->offset >= part->high - 1)
				read_back_finished(part, &pending);
		}
		if (message != NULL)
			rd_kafka_message_destroy(message);
	}
	rd_kafka_assign(reader, NULL);
	return status;
}

/*
 * After a round: a partition with a last message is resolved by its seq; one
 * without, read from its first offset, holds no message; otherwise its window
 * doubles.  REFUSED (logged) for a last message without a valid seq.
 */
static OutcomeRecoveryStatus
settle_round(const char *topic, PartitionReadBack *parts, int32_t count, OutcomeRoute *route)
{
	for (int32_t p = 0; p < count; p++)
	{
		PartitionReadBack *part = &parts[p];
		char		reason[160];

		if (part->resolved)
			continue;
		if (part->last != NULL)
		{
			if (!outcome_route_parse_seq(part->last->payload, part->last->len,
										 &route->last_seq[p], reason, sizeof(reason)))
			{
				log_message("FATAL: outcome topic %s[%d]: its last message (offset %" PRId64
							") carries no valid seq: %s; refusing to guess where publishing "
							"resumes: the outcome topic must hold the publisher's messages only",
							topic, p, part->last->offset, reason);
				return OUTCOME_RECOVERY_REFUSED;
			}
			part->resolved = true;
		}
		else if (part->start > part->low)
			part->window *= 2;
		else
		{
			/* nothing committed from the first offset Kafka has on */
			route->last_seq[p] = 0;
			part->emptied = part->low > 0;
			part->resolved = true;
		}
	}
	return OUTCOME_RECOVERY_OK;
}

/*
 * Partitions whose messages were all deleted hold none after the largest
 * seq read in another; REFUSED (logged) if no partition had one to read.
 */
static OutcomeRecoveryStatus
settle_emptied(const char *topic, const PartitionReadBack *parts, int32_t count,
			   OutcomeRoute *route)
{
	int64_t		largest = 0;
	bool		any_read = false;

	for (int32_t p = 0; p < count; p++)
		if (parts[p].last != NULL)
		{
			any_read = true;
			if (route->last_seq[p] > largest)
				largest = route->last_seq[p];
		}
	for (int32_t p = 0; p < count; p++)
	{
		if (!parts[p].emptied)
			continue;
		if (!any_read)
		{
			log_message("FATAL: outcome topic %s: no partition has a message left to read, but "
						"%s[%d] had messages up to offset %" PRId64 " (deleted by retention?); "
						"refusing to guess where publishing resumes", topic, topic, p,
						parts[p].high);
			return OUTCOME_RECOVERY_REFUSED;
		}
		log_message("outcome topic %s[%d]: its messages up to offset %" PRId64 " are gone "
					"(retention?): it holds none after seq %" PRId64 ", the largest of the "
					"other partitions", topic, p, parts[p].high, largest);
		route->last_seq[p] = largest;
	}
	return OUTCOME_RECOVERY_OK;
}

OutcomeRecoveryStatus
outcome_recovery_run(const FeederOptions *options, OutcomeRoute *route,
					 volatile sig_atomic_t *running)
{
	const char *topic = options->outcomes_topic;
	int32_t		count = route->partition_count;
	PartitionReadBack *parts = calloc((size_t) count, sizeof(PartitionReadBack));
	OutcomeRecoveryStatus status = OUTCOME_RECOVERY_OK;
	rd_kafka_t *reader;
	bool		unresolved = true;

	if (parts == NULL)
	{
		fprintf(stderr, "axs-feeder: out of memory for the outcome recovery\n");
		abort();
	}
	reader = reader_create(options);
	if (reader == NULL)
	{
		free(parts);
		return OUTCOME_RECOVERY_RETRY;
	}
	for (int32_t p = 0; p < count && status == OUTCOME_RECOVERY_OK; p++)
	{
		rd_kafka_resp_err_t error =
			rd_kafka_query_watermark_offsets(reader, topic, p, &parts[p].low, &parts[p].high,
											 QUERY_TIMEOUT_MS);

		parts[p].window = OUTCOME_ROUTE_FIRST_WINDOW;
		route->last_seq[p] = 0;
		if (error != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			log_message("outcome recovery: the offsets of %s[%d]: %s", topic, p,
						rd_kafka_err2str(error));
			status = OUTCOME_RECOVERY_RETRY;
		}
		else if (parts[p].high <= parts[p].low)
		{
			/* nothing to read: never written to, or everything deleted */
			parts[p].resolved = true;
			parts[p].emptied = parts[p].high > 0;
		}
	}
	while (status == OUTCOME_RECOVERY_OK && unresolved)
	{
		status = read_round(reader, topic, parts, count, running);
		if (status == OUTCOME_RECOVERY_OK)
			status = settle_round(topic, parts, count, route);
		unresolved = false;
		for (int32_t p = 0; p < count; p++)
			unresolved |= !parts[p].resolved;
	}
	if (status == OUTCOME_RECOVERY_OK)
		status = settle_emptied(topic, parts, count, route);
	for (int32_t p = 0; p < count; p++)
		if (parts[p].last != NULL)
			rd_kafka_message_destroy(parts[p].last);
	free(parts);
	rd_kafka_destroy(reader);
	return status;
}
