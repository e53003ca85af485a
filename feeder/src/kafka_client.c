/*
 * kafka_client.c
 *		Configuration and metadata shared by the feeder's Kafka clients
 *		(see kafka_client.h).
 */
#include "kafka_client.h"

#include <string.h>

#include "log.h"

bool
kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
	char		error[512];

	if (rd_kafka_conf_set(conf, key, value, error, sizeof(error)) != RD_KAFKA_CONF_OK)
	{
		log_message("Kafka property %s=%s: %s", key, value, error);
		return false;
	}
	return true;
}

static bool
is_fixed_property(const char *key, const KafkaProperty *fixed, size_t fixed_count)
{
	for (size_t i = 0; i < fixed_count; i++)
		if (strcmp(fixed[i].key, key) == 0)
			return true;
	return false;
}

/* librdkafka's own log lines, forwarded to ours. */
static void
kafka_log(const rd_kafka_t *handle, int level, const char *facility, const char *text)
{
	(void) handle;
	(void) level;
	log_message("kafka %s: %s", facility, text);
}

rd_kafka_conf_t *
kafka_conf_new(const FeederOptions *options, const KafkaProperty *defaults,
			   size_t default_count, const KafkaProperty *fixed, size_t fixed_count)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	size_t		i;
	int			p;

	for (i = 0; i < default_count; i++)
		if (!kafka_conf_set(conf, defaults[i].key, defaults[i].value))
			goto fail;
	for (p = 0; p < options->kafka_property_count; p++)
	{
		const KafkaProperty *property = &options->kafka_properties[p];

		if (is_fixed_property(property->key, fixed, fixed_count))
		{
			log_message("-X %s cannot be changed: axs-feeder relies on it", property->key);
			goto fail;
		}
		if (!kafka_conf_set(conf, property->key, property->value))
			goto fail;
	}
	for (i = 0; i < fixed_count; i++)
		if (!kafka_conf_set(conf, fixed[i].key, fixed[i].value))
			goto fail;
	if (!kafka_conf_set(conf, "bootstrap.servers", options->brokers))
		goto fail;
	rd_kafka_conf_set_log_cb(conf, kafka_log);
	return conf;

fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

rd_kafka_t *
kafka_reader_new(rd_kafka_conf_t *conf, const char *group, const char *what)
{
	rd_kafka_t *reader;
	char		message[512];

	if (conf == NULL)
		return NULL;
	if (!kafka_conf_set(conf, "group.id", group))
	{
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	reader = rd_kafka_new(RD_KAFKA_CONSUMER, conf, message, sizeof(message));
	if (reader == NULL)
	{
		log_message("cannot create %s: %s", what, message);
		rd_kafka_conf_destroy(conf);
	}
	return reader;
}

bool
kafka_partition_count(rd_kafka_t *handle, const char *topic, int timeout_ms, int32_t *count)
{
	rd_kafka_topic_t *topic_handle = rd_kafka_topic_new(handle, topic, NULL);
	const struct rd_kafka_metadata *metadata = NULL;
	rd_kafka_resp_err_t error;
	bool		ok = false;

	if (topic_handle == NULL)
	{
		log_message("topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
		return false;
	}
	error = rd_kafka_metadata(handle, 0, topic_handle, &metadata, timeout_ms);
	if (error != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_message("cannot read the partitions of %s: %s", topic, rd_kafka_err2str(error));
	else if (metadata->topic_cnt != 1 || metadata->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
			 metadata->topics[0].partition_cnt <= 0)
		log_message("cannot read the partitions of %s: %s", topic,
					rd_kafka_err2str(metadata->topic_cnt == 1 &&
									 metadata->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR ?
									 metadata->topics[0].err :
									 RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
	else
	{
		*count = metadata->topics[0].partition_cnt;
		ok = true;
	}
	if (metadata != NULL)
		rd_kafka_metadata_destroy(metadata);
	rd_kafka_topic_destroy(topic_handle);
	return ok;
}
