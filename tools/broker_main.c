/*
 * broker_main.c
 *		axs-broker: a development Kafka broker built on librdkafka's mock
 *		cluster.  Creates the requested topics, prints its bootstrap address
 *		on stdout (and optionally into a file), and serves until SIGTERM or
 *		SIGINT.
 *
 * Not for production: everything is in memory and lost on exit, and
 * librdkafka keeps only about 5 MiB per partition.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "log.h"

#define BROKER_MAX_TOPICS 64

static const char usage_text[] =
"axs-broker: DEVELOPMENT Kafka broker on librdkafka's mock cluster.\n"
"NOT FOR PRODUCTION: all data lives in memory and is LOST ON EXIT;\n"
"retention is about 5 MiB (or 100,000 message sets) per partition, so a\n"
"consumer that falls further behind gets \"offset out of range\".\n"
"\n"
"Usage: axs-broker [--topic NAME[:PARTITIONS]]... [--partitions N] [--brokers N]\n"
"                  [--address-file FILE]\n"
"\n"
"  --topic NAME[:P]     create topic NAME with P partitions (repeatable)\n"
"  --partitions N       default partition count (default 4; unknown topics\n"
"                       are auto-created with 4)\n"
"  --brokers N          number of mock brokers (default 1)\n"
"  --address-file FILE  also write the bootstrap address into FILE\n"
"  --help\n"
"\n"
"Prints only the bootstrap address (host:port[,..]) on stdout; logs go to\n"
"stderr.  Runs until SIGTERM or SIGINT.\n";

typedef struct TopicRequest
{
	char	   *name;
	int			partitions;		/* 0: the default */
} TopicRequest;

static bool
parse_count(const char *text, int *out)
{
	char	   *end;
	long		value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < 1 || value > 10000)
		return false;
	*out = (int) value;
	return true;
}

/* Write the address into path through a temporary file, so readers never see half. */
static bool
write_address_file(const char *path, const char *address)
{
	char		temporary[4096];
	FILE	   *file;

	snprintf(temporary, sizeof(temporary), "%s.tmp", path);
	file = fopen(temporary, "w");
	if (file == NULL || fprintf(file, "%s\n", address) < 0 || fclose(file) != 0)
	{
		log_message("cannot write %s: %s", temporary, strerror(errno));
		return false;
	}
	if (rename(temporary, path) != 0)
	{
		log_message("cannot rename %s to %s: %s", temporary, path, strerror(errno));
		return false;
	}
	return true;
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"topic", required_argument, NULL, 't'},
		{"partitions", required_argument, NULL, 'p'},
		{"brokers", required_argument, NULL, 'b'},
		{"address-file", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	TopicRequest topics[BROKER_MAX_TOPICS];
	int			topic_count = 0;
	int			default_partitions = 4;
	int			broker_count = 1;
	const char *address_file = NULL;
	rd_kafka_conf_t *conf;
	rd_kafka_t *handle;
	rd_kafka_mock_cluster_t *cluster;
	sigset_t	stop_signals;
	int			received;
	char		error[512];
	const char *address;
	int			option;
	int			exit_status = 0;
	int			i;

	log_set_program("axs-broker");
	while ((option = getopt_long(argc, argv, "h", long_options, NULL)) != -1)
	{
		switch (option)
		{
			case 't':
				{
					char	   *colon = strrchr(optarg, ':');
					TopicRequest *topic;

					if (topic_count == BROKER_MAX_TOPICS)
					{
						fprintf(stderr, "axs-broker: more than %d topics\n", BROKER_MAX_TOPICS);
						return 2;
					}
					topic = &topics[topic_count++];
					topic->partitions = 0;
					if (colon != NULL)
					{
						if (!parse_count(colon + 1, &topic->partitions))
						{
							fprintf(stderr, "axs-broker: bad partition count in \"%s\"\n", optarg);
							return 2;
						}
						topic->name = strndup(optarg, (size_t) (colon - optarg));
					}
					else
						topic->name = strdup(optarg);
					if (topic->name[0] == '\0')
					{
						fprintf(stderr, "axs-broker: empty topic name\n");
						return 2;
					}
					break;
				}
			case 'p':
				if (!parse_count(optarg, &default_partitions))
				{
					fprintf(stderr, "axs-broker: --partitions must be 1 to 10000\n");
					return 2;
				}
				break;
			case 'b':
				if (!parse_count(optarg, &broker_count) || broker_count > 32)
				{
					fprintf(stderr, "axs-broker: --brokers must be 1 to 32\n");
					return 2;
				}
				break;
			case 'a':
				address_file = optarg;
				break;
			case 'h':
				fputs(usage_text, stdout);
				return 0;
			default:
				fprintf(stderr, "Try \"axs-broker --help\".\n");
				return 2;
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "axs-broker: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}

	/*
	 * Block the stop signals before librdkafka starts its threads (they
	 * inherit the mask), so that sigwait below is the only receiver.
	 */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

	/*
	 * The mock cluster lives inside a client handle; a producer without
	 * bootstrap servers serves (its CONFWARN goes to stderr).
	 */
	conf = rd_kafka_conf_new();
	/*
	 * The mock brokers' sockets take this handle's settings: without
	 * TCP_NODELAY a small response waits behind the client's delayed
	 * acknowledgement of the one before (about 40 ms on Linux), which every
	 * producer flush and transaction commit then waits for.
	 */
	if (rd_kafka_conf_set(conf, "socket.nagle.disable", "true", error, sizeof(error)) != RD_KAFKA_CONF_OK)
	{
		log_message("cannot disable Nagle's algorithm: %s", error);
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
	if (handle == NULL)
	{
		log_message("cannot create the client handle: %s", error);
		return 1;
	}
	cluster = rd_kafka_mock_cluster_new(handle, broker_count);
	if (cluster == NULL)
	{
		log_message("cannot create the mock cluster");
		rd_kafka_destroy(handle);
		return 1;
	}
	for (i = 0; i < topic_count; i++)
	{
		int			partitions = topics[i].partitions ? topics[i].partitions : default_partitions;
		rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster, topics[i].name,
															 partitions, 1);

		if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			log_message("cannot create topic %s: %s", topics[i].name, rd_kafka_err2str(err));
			exit_status = 1;
			goto done;
		}
		log_message("topic %s with %d partitions", topics[i].name, partitions);
	}

	address = rd_kafka_mock_cluster_bootstraps(cluster);
	if (address_file != NULL && !write_address_file(address_file, address))
	{
		exit_status = 1;
		goto done;
	}
	printf("%s\n", address);
	fflush(stdout);
	log_message("development broker at %s (%d broker%s); data is lost on exit",
				address, broker_count, broker_count == 1 ? "" : "s");

	sigwait(&stop_signals, &received);
	log_message("stopping on %s", received == SIGINT ? "SIGINT" : "SIGTERM");

done:
	rd_kafka_mock_cluster_destroy(cluster);
	rd_kafka_destroy(handle);
	for (i = 0; i < topic_count; i++)
		free(topics[i].name);
	if (address_file != NULL && exit_status == 0)
		unlink(address_file);
	return exit_status;
}
