/*
 * consumer.c
 *		Kafka consumer setup and partition control (see consumer.h).
 */
#include "consumer.h"

#include <string.h>

#include "kafka_client.h"
#include "log.h"

/* Properties exactly-once depends on: -X may not change them. */
static const KafkaProperty fixed_properties[] = {
	/* PostgreSQL stores the offsets; Kafka's are for lag tooling only. */
	{"enable.auto.commit", "false"},
	{"enable.auto.offset.store", "false"},
	/* A stored offset Kafka no longer has is an error, never a skip. */
	{"auto.offset.reset", "error"},
};

/* Defaults -X may override. */
static const KafkaProperty default_properties[] = {
	{"client.id", "axs-feeder"},
	/* Bound prefetched memory: the batch is the buffer that matters. */
	{"queued.max.messages.kbytes", "16384"},
	{"fetch.max.bytes", "16777216"},
};

rd_kafka_conf_t *
consumer_conf_new(const FeederOptions *options)
{
	return kafka_conf_new(options, default_properties,
						  sizeof(default_properties) / sizeof(default_properties[0]),
						  fixed_properties, sizeof(fixed_properties) / sizeof(fixed_properties[0]));
}

rd_kafka_t *
consumer_create(const FeederOptions *options, ConsumerRebalanceCallback rebalance,
				void *opaque)
{
	rd_kafka_conf_t *conf = consumer_conf_new(options);
	rd_kafka_topic_partition_list_t *topics;
	rd_kafka_resp_err_t error;
	rd_kafka_t *consumer;
	char		message[512];
	int			p;

	if (conf == NULL)
		return NULL;
	if (!kafka_conf_set(conf, "group.id", options->group))
	{
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_rebalance_cb(conf, rebalance);
	rd_kafka_conf_set_opaque(conf, opaque);

	consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, message, sizeof(message));
	if (consumer == NULL)
	{
		log_message("cannot create the Kafka consumer: %s", message);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	/* conf is owned by the consumer now */
	rd_kafka_poll_set_consumer(consumer);

	topics = rd_kafka_topic_partition_list_new(options->topic_count);
	for (p = 0; p < options->topic_count; p++)
		rd_kafka_topic_partition_list_add(topics, options->topics[p], RD_KAFKA_PARTITION_UA);
	error = rd_kafka_subscribe(consumer, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (error != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		log_message("cannot subscribe: %s", rd_kafka_err2str(error));
		rd_kafka_destroy(consumer);
		return NULL;
	}
	return consumer;
}

bool
consumer_is_cooperative(rd_kafka_t *consumer)
{
	const char *protocol = rd_kafka_rebalance_protocol(consumer);

	return protocol != NULL && strcmp(protocol, "COOPERATIVE") == 0;
}

void
consumer_set_start_offsets(rd_kafka_topic_partition_list_t *partitions,
						   PartitionTable *table)
{
	int			i;

	for (i = 0; i < partitions->cnt; i++)
	{
		rd_kafka_topic_partition_t *partition = &partitions->elems[i];
		OwnedPartition *owned = partition_table_find(table, partition->topic,
													 partition->partition);

		partition->offset = (owned != NULL && owned->has_stored_offset) ?
			owned->stored_next_offset : RD_KAFKA_OFFSET_BEGINNING;
	}
}

void
consumer_assign(rd_kafka_t *consumer, rd_kafka_topic_partition_list_t *partitions)
{
	if (consumer_is_cooperative(consumer))
	{
		rd_kafka_error_t *error = rd_kafka_incremental_assign(consumer, partitions);

		if (error != NULL)
		{
			log_message("incremental assign failed: %s", rd_kafka_error_string(error));
			rd_kafka_error_destroy(error);
		}
	}
	else
	{
		rd_kafka_resp_err_t error = rd_kafka_assign(consumer, partitions);

		if (error != RD_KAFKA_RESP_ERR_NO_ERROR)
			log_message("assign failed: %s", rd_kafka_err2str(error));
	}
}

void
consumer_unassign(rd_kafka_t *consumer, rd_kafka_topic_partition_list_t *partitions)
{
	if (consumer_is_cooperative(consumer))
	{
		rd_kafka_error_t *error = rd_kafka_incremental_unassign(consumer, partitions);

		if (error != NULL)
		{
			log_message("incremental unassign failed: %s", rd_kafka_error_string(error));
			rd_kafka_error_destroy(error);
		}
	}
	else
	{
		rd_kafka_resp_err_t error = rd_kafka_assign(consumer, NULL);

		if (error != RD_KAFKA_RESP_ERR_NO_ERROR)
			log_message("unassign failed: %s", rd_kafka_err2str(error));
	}
}

bool
consumer_seek_to_stored(rd_kafka_t *consumer, PartitionTable *table)
{
	rd_kafka_topic_partition_list_t *partitions;
	rd_kafka_error_t *error;
	bool		ok = true;
	int			i;

	if (table->count == 0)
		return true;
	partitions = rd_kafka_topic_partition_list_new(table->count);
	for (i = 0; i < table->count; i++)
		rd_kafka_topic_partition_list_add(partitions, table->entries[i].topic,
										  table->entries[i].partition);
	consumer_set_start_offsets(partitions, table);
	error = rd_kafka_seek_partitions(consumer, partitions, 10000);
	if (error != NULL)
	{
		log_message("seek failed: %s", rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
		ok = false;
	}
	for (i = 0; ok && i < partitions->cnt; i++)
		if (partitions->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			log_message("seek of %s[%d] failed: %s", partitions->elems[i].topic,
						partitions->elems[i].partition,
						rd_kafka_err2str(partitions->elems[i].err));
			ok = false;
		}
	rd_kafka_topic_partition_list_destroy(partitions);
	return ok;
}

void
consumer_commit_batch(rd_kafka_t *consumer, const Batch *batch)
{
	rd_kafka_topic_partition_list_t *offsets;
	int			i;

	if (batch->range_count == 0)
		return;
	offsets = rd_kafka_topic_partition_list_new(batch->range_count);
	for (i = 0; i < batch->range_count; i++)
		rd_kafka_topic_partition_list_add(offsets, batch->ranges[i].topic,
										  batch->ranges[i].partition)->offset =
			batch->ranges[i].next_offset;
	/* Best effort: PostgreSQL, not Kafka, holds the offsets that count. */
	rd_kafka_commit(consumer, offsets, 1);
	rd_kafka_topic_partition_list_destroy(offsets);
}

void
consumer_refresh_watermarks(rd_kafka_t *consumer, PartitionTable *table)
{
	int			i;

	for (i = 0; i < table->count; i++)
	{
		OwnedPartition *owned = &table->entries[i];
		int64_t		low;
		int64_t		high;

		if (rd_kafka_get_watermark_offsets(consumer, owned->topic, owned->partition,
										   &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
			high >= 0)
			owned->high_watermark = high;
	}
}
