/*
 * offsets_for_time.c
 *		axs-feeder --offsets-for-time (see offsets_for_time.h).
 *
 * Kafka answers a time with the earliest offset whose timestamp is at or
 * after it, or -1 when no message is that recent; the latter needs no
 * replay.  A broker that cannot look offsets up by time answers -1 too
 * (librdkafka's mock cluster, hence axs-broker, always does): so a -1 is
 * believed only after the partition's last message was read and found
 * older than the time.  Every Kafka call has a timeout, so the mode always
 * ends.
 */
#include "offsets_for_time.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "consumer.h"
#include "feeder.h"
#include "kafka_client.h"
#include "log.h"

#define KAFKA_TIMEOUT_MS 10000

void
offsets_for_time_format_time(char *out, size_t out_size, int64_t unix_ms)
{
	time_t		seconds = (time_t) (unix_ms / 1000);
	struct tm	utc;
	char		stamp[32];

	gmtime_r(&seconds, &utc);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
	snprintf(out, out_size, "%s.%03dZ", stamp, (int) (unix_ms % 1000));
}

/* topic as a SQL string literal (Kafka names hold no quote; doubled anyway) */
static void
quote_topic(char *out, size_t out_size, const char *topic)
{
	size_t		used = 0;

	for (; *topic != '\0' && used + 3 < out_size; topic++)
	{
		if (*topic == '\'')
			out[used++] = '\'';
		out[used++] = *topic;
	}
	out[used] = '\0';
}

void
offsets_for_time_format(char *out, size_t out_size, const char *topic, int32_t partition,
						int64_t offset, int64_t end_offset, const char *time_text)
{
	char		quoted[512];

	quote_topic(quoted, sizeof(quoted), topic);
	if (offset >= 0)
		snprintf(out, out_size,
				 "-- %s[%d]: offset %" PRId64 " is the first at or after %s (end offset %" PRId64 ")\n"
				 "SELECT * FROM axs.feeder_rewind('%s', %d, %" PRId64 ");\n",
				 topic, partition, offset, time_text, end_offset, quoted, partition, offset);
	else
		snprintf(out, out_size,
				 "-- %s[%d]: no message at or after %s (end offset %" PRId64 "): nothing to replay\n",
				 topic, partition, time_text, end_offset);
}

/* Add every partition of topic to list, with offset = the time; false on error. */
static bool
add_partitions(rd_kafka_t *handle, const char *topic, int64_t unix_ms,
			   rd_kafka_topic_partition_list_t *list)
{
	int32_t		count;

	if (!kafka_partition_count(handle, topic, KAFKA_TIMEOUT_MS, &count))
		return false;
	for (int32_t partition = 0; partition < count; partition++)
		rd_kafka_topic_partition_list_add(list, topic, partition)->offset = unix_ms;
	return true;
}

/*
 * For the partitions Kafka found no offset for (offset -1) that hold
 * messages, read the last message; false (and a log line) if one is at or
 * after the time, i.e. the broker did not look the time up.
 */
static bool
check_no_recent_message(rd_kafka_t *handle, const rd_kafka_topic_partition_list_t *list,
						const int64_t *high_watermarks, int64_t unix_ms, const char *time_text)
{
	rd_kafka_topic_partition_list_t *last = rd_kafka_topic_partition_list_new(list->cnt);
	rd_kafka_resp_err_t error;
	int64_t		deadline_ms;
	int			remaining = 0;
	bool		ok = true;

	for (int i = 0; i < list->cnt; i++)
		if (list->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[i].offset < 0 &&
			high_watermarks[i] > 0)
		{
			rd_kafka_topic_partition_list_add(last, list->elems[i].topic,
											  list->elems[i].partition)->offset =
				high_watermarks[i] - 1;
			remaining++;
		}
	if (remaining == 0)
	{
		rd_kafka_topic_partition_list_destroy(last);
		return true;
	}
	error = rd_kafka_assign(handle, last);
	if (error != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		log_message("cannot read the last messages: %s", rd_kafka_err2str(error));
		rd_kafka_topic_partition_list_destroy(last);
		return false;
	}
	deadline_ms = clock_monotonic_ms() + KAFKA_TIMEOUT_MS;
	while (ok && remaining > 0 && clock_monotonic_ms() < deadline_ms)
	{
		rd_kafka_message_t *message = rd_kafka_consumer_poll(handle, 100);
		rd_kafka_topic_partition_t *wanted;
		int64_t		timestamp;

		if (message == NULL)
			continue;
		wanted = message->err == RD_KAFKA_RESP_ERR_NO_ERROR ?
			rd_kafka_topic_partition_list_find(last, rd_kafka_topic_name(message->rkt),
											   message->partition) : NULL;
		if (wanted != NULL && wanted->offset == message->offset)
		{
			timestamp = rd_kafka_message_timestamp(message, NULL);
			if (timestamp >= unix_ms)
			{
				log_message("%s[%d]: Kafka found no message at or after %s, but its last "
							"message (offset %" PRId64 ") has the timestamp %" PRId64 " ms: this "
							"broker does not look offsets up by time (librdkafka's mock "
							"cluster, axs-broker, does not); find the offset otherwise",
							wanted->topic, wanted->partition, time_text, message->offset,
							timestamp);
				ok = false;
			}
			wanted->offset = -1;	/* seen */
			remaining--;
		}
		rd_kafka_message_destroy(message);
	}
	if (ok && remaining > 0)
	{
		log_message("cannot read the last message of %d partition(s) within %d ms",
					remaining, KAFKA_TIMEOUT_MS);
		ok = false;
	}
	rd_kafka_assign(handle, NULL);
	rd_kafka_topic_partition_list_destroy(last);
	return ok;
}

static int
compare_partitions(const void *a, const void *b)
{
	const rd_kafka_topic_partition_t *left = a;
	const rd_kafka_topic_partition_t *right = b;
	int			by_topic = strcmp(left->topic, right->topic);

	if (by_topic != 0)
		return by_topic;
	return (left->partition > right->partition) - (left->partition < right->partition);
}

int
offsets_for_time_run(const FeederOptions *options)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_resp_err_t error;
	rd_kafka_t *handle;
	char		time_text[40];
	int64_t    *high_watermarks = NULL;
	int			exit_status = FEEDER_EXIT_OK;

	handle = kafka_reader_new(consumer_conf_new(options), "axs-feeder-offsets-for-time",
							  "the Kafka client");
	if (handle == NULL)
		return FEEDER_EXIT_FATAL;
	offsets_for_time_format_time(time_text, sizeof(time_text), options->offsets_for_time_ms);

	list = rd_kafka_topic_partition_list_new(16);
	for (int t = 0; t < options->topic_count; t++)
		if (!add_partitions(handle, options->topics[t], options->offsets_for_time_ms, list))
			exit_status = FEEDER_EXIT_FATAL;
	if (exit_status == FEEDER_EXIT_OK)
	{
		qsort(list->elems, (size_t) list->cnt, sizeof(list->elems[0]), compare_partitions);
		error = rd_kafka_offsets_for_times(handle, list, KAFKA_TIMEOUT_MS);
		if (error != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			log_message("Kafka could not look the time up: %s", rd_kafka_err2str(error));
			exit_status = FEEDER_EXIT_FATAL;
		}
	}
	if (exit_status == FEEDER_EXIT_OK)
	{
		high_watermarks = calloc((size_t) list->cnt + 1, sizeof(int64_t));
		for (int i = 0; high_watermarks != NULL && i < list->cnt; i++)
		{
			rd_kafka_topic_partition_t *partition = &list->elems[i];
			int64_t		low;

			error = partition->err;
			if (error == RD_KAFKA_RESP_ERR_NO_ERROR)
				error = rd_kafka_query_watermark_offsets(handle, partition->topic,
														 partition->partition, &low,
														 &high_watermarks[i], KAFKA_TIMEOUT_MS);
			if (error != RD_KAFKA_RESP_ERR_NO_ERROR)
			{
				log_message("%s[%d]: %s", partition->topic, partition->partition,
							rd_kafka_err2str(error));
				exit_status = FEEDER_EXIT_FATAL;
			}
		}
		if (high_watermarks == NULL ||
			(exit_status == FEEDER_EXIT_OK &&
			 !check_no_recent_message(handle, list, high_watermarks,
									  options->offsets_for_time_ms, time_text)))
			exit_status = FEEDER_EXIT_FATAL;
	}
	if (exit_status == FEEDER_EXIT_OK)
	{
		printf("-- The first offset at or after %s in each partition, from Kafka at %s.\n"
			   "-- axs.feeder_rewind moves a stored offset in either direction: where\n"
			   "-- axs.feeder_offsets holds a smaller offset, running the call would skip messages.\n",
			   time_text, options->brokers);
		for (int i = 0; i < list->cnt; i++)
		{
			char		lines[1024];

			offsets_for_time_format(lines, sizeof(lines), list->elems[i].topic,
									list->elems[i].partition, list->elems[i].offset,
									high_watermarks[i], time_text);
			fputs(lines, stdout);
		}
		fflush(stdout);
	}
	free(high_watermarks);
	rd_kafka_topic_partition_list_destroy(list);
	rd_kafka_destroy(handle);
	return exit_status;
}
