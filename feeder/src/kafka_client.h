/*
 * kafka_client.h
 *		What every Kafka client of axs-feeder shares (the consumer, the
 *		--offsets-for-time reader, the outcome publisher's producer and its
 *		recovery reader): a configuration built as client defaults, then the
 *		-X properties, then the properties the client relies on (which -X may
 *		not change), the brokers, and librdkafka's log lines forwarded to
 *		ours; a consumer that reads the partitions it assigns itself; and
 *		the partition count of a topic.
 *
 * Knows no client's purpose: each passes its own defaults and fixed
 * properties.
 */
#ifndef AXS_FEEDER_KAFKA_CLIENT_H
#define AXS_FEEDER_KAFKA_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "options.h"

/*
 * A configuration: defaults (default_count of them), the -X properties of
 * options, the fixed properties (fixed_count), bootstrap.servers, and the
 * log callback.  An -X property naming a fixed one is refused.  NULL after
 * logging the reason.
 */
extern rd_kafka_conf_t *kafka_conf_new(const FeederOptions *options,
									   const KafkaProperty *defaults, size_t default_count,
									   const KafkaProperty *fixed, size_t fixed_count);

/* rd_kafka_conf_set, logging a failure; false if it failed. */
extern bool kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value);

/*
 * A consumer that reads partitions it assigns itself, from conf (owned
 * from here on; NULL: none was made): assign() wants a group.id, and this
 * one is never joined nor committed to.  NULL after logging why (what
 * names the client).
 */
extern rd_kafka_t *kafka_reader_new(rd_kafka_conf_t *conf, const char *group, const char *what);

/*
 * The number of partitions of topic, from the cluster's metadata within
 * timeout_ms; false after logging why not (unknown topic, no broker, ...).
 */
extern bool kafka_partition_count(rd_kafka_t *handle, const char *topic, int timeout_ms,
								  int32_t *count);

#endif							/* AXS_FEEDER_KAFKA_CLIENT_H */
