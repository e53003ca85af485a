/*
 * consumer.h
 *		axs-feeder's Kafka consumer: configuration (defaults, -X properties,
 *		the settings exactly-once depends on), subscription, assigning
 *		partitions at the offsets PostgreSQL stores, seeking, and committing
 *		offsets back to Kafka for lag tooling.
 *
 * Does not decide offsets: the feeder reads them from PostgreSQL.
 */
#ifndef AXS_FEEDER_CONSUMER_H
#define AXS_FEEDER_CONSUMER_H

#include <stdbool.h>

#include <librdkafka/rdkafka.h>

#include "batch.h"
#include "options.h"
#include "partition_table.h"

typedef void (*ConsumerRebalanceCallback) (rd_kafka_t *consumer,
										   rd_kafka_resp_err_t reason,
										   rd_kafka_topic_partition_list_t *partitions,
										   void *opaque);

/*
 * A configuration with the defaults, the -X properties, the fixed
 * properties and the brokers, without a group (for a handle that only
 * asks Kafka questions).  NULL after logging the reason.
 */
extern rd_kafka_conf_t *consumer_conf_new(const FeederOptions *options);

/*
 * Create the consumer and subscribe to the topics.  Returns NULL after
 * logging the reason.
 */
extern rd_kafka_t *consumer_create(const FeederOptions *options,
								   ConsumerRebalanceCallback rebalance,
								   void *opaque);

/* true when the group uses the cooperative (incremental) protocol. */
extern bool consumer_is_cooperative(rd_kafka_t *consumer);

/*
 * Set each partition's offset in the list to its stored offset in table
 * (RD_KAFKA_OFFSET_BEGINNING when none is stored).
 */
extern void consumer_set_start_offsets(rd_kafka_topic_partition_list_t *partitions,
									   PartitionTable *table);

/* Start (assign) or stop (revoke) consuming partitions. */
extern void consumer_assign(rd_kafka_t *consumer,
							rd_kafka_topic_partition_list_t *partitions);
extern void consumer_unassign(rd_kafka_t *consumer,
							  rd_kafka_topic_partition_list_t *partitions);

/* Seek every owned partition to its stored offset; false on failure. */
extern bool consumer_seek_to_stored(rd_kafka_t *consumer, PartitionTable *table);

/*
 * After a PostgreSQL commit: commit the batch's ranges to Kafka too
 * (asynchronously), so that lag tools see progress.
 */
extern void consumer_commit_batch(rd_kafka_t *consumer, const Batch *batch);

/* Refresh each owned partition's cached high watermark. */
extern void consumer_refresh_watermarks(rd_kafka_t *consumer, PartitionTable *table);

#endif							/* AXS_FEEDER_CONSUMER_H */
