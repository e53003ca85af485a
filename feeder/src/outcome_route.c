/*
 * outcome_route.c
 *		The outcome publisher's routing and skip rule (see outcome_route.h).
 *
 * Routing must be deterministic: recovery finds what a partition holds by
 * reading its last message, and the skip rule asks the same partition
 * again for the same row.  So the partitioner is called here, explicitly,
 * rather than chosen by the producer's configuration.
 */
#include "outcome_route.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>
#include <librdkafka/rdkafka.h>

void
outcome_route_init(OutcomeRoute *route, int32_t partition_count)
{
	route->partition_count = partition_count;
	route->last_seq = calloc((size_t) partition_count, sizeof(int64_t));
	if (route->last_seq == NULL)
	{
		fprintf(stderr, "axs-feeder: out of memory for the outcome partitions\n");
		abort();
	}
}

void
outcome_route_free(OutcomeRoute *route)
{
	free(route->last_seq);
	route->last_seq = NULL;
	route->partition_count = 0;
}

int32_t
outcome_route_partition(int32_t partition_count, bool has_source, int32_t source_partition,
						const char *key, size_t key_length)
{
	if (has_source && source_partition >= 0 && source_partition < partition_count)
		return source_partition;
	/* librdkafka's murmur2 reads neither the topic nor the opaques */
	return rd_kafka_msg_partitioner_murmur2(NULL, key, key_length, partition_count, NULL, NULL);
}

bool
outcome_route_must_produce(const OutcomeRoute *route, int32_t partition, int64_t seq)
{
	return seq > route->last_seq[partition];
}

void
outcome_route_published(OutcomeRoute *route, int32_t partition, int64_t seq)
{
	if (seq > route->last_seq[partition])
		route->last_seq[partition] = seq;
}

int64_t
outcome_route_resume_after(const OutcomeRoute *route)
{
	int64_t		smallest = route->last_seq[0];

	for (int32_t p = 1; p < route->partition_count; p++)
		if (route->last_seq[p] < smallest)
			smallest = route->last_seq[p];
	return smallest;
}

/* true when the length bytes at text are all JSON white space. */
static bool
only_white_space(const char *text, size_t length)
{
	for (size_t i = 0; i < length; i++)
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
			return false;
	return true;
}

bool
outcome_route_parse_seq(const void *value, size_t length, int64_t *seq,
						char *error, size_t error_size)
{
	json_tokener *tokener = json_tokener_new();
	json_object *document;
	json_object *member;
	bool		ok = false;

	if (tokener == NULL)
	{
		fprintf(stderr, "axs-feeder: out of memory parsing a message\n");
		abort();
	}
	document = value == NULL || length > INT32_MAX ? NULL :
		json_tokener_parse_ex(tokener, value, (int) length);
	if (document == NULL || json_tokener_get_error(tokener) != json_tokener_success ||
		!only_white_space((const char *) value + json_tokener_get_parse_end(tokener),
						  length - json_tokener_get_parse_end(tokener)))
		snprintf(error, error_size, "the value is not one JSON document");
	else if (!json_object_is_type(document, json_type_object))
		snprintf(error, error_size, "the value is not a JSON object");
	else if (!json_object_object_get_ex(document, "seq", &member))
		snprintf(error, error_size, "the value has no \"seq\"");
	else if (!json_object_is_type(member, json_type_int))
		snprintf(error, error_size, "\"seq\" is not an integer");
	else
	{
		errno = 0;
		*seq = json_object_get_int64(member);
		if (*seq < 1 || *seq == INT64_MAX || errno != 0)
			snprintf(error, error_size, "\"seq\" is not an integer from 1 to %" PRId64,
					 INT64_MAX - 1);
		else
			ok = true;
	}
	json_object_put(document);
	json_tokener_free(tokener);
	return ok;
}

int64_t
outcome_route_window_start(int64_t low, int64_t high, int64_t window)
{
	return high - window > low ? high - window : low;
}
