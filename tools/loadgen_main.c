/*
 * loadgen_main.c
 *		axs-loadgen: produce the exchange workload (workload.c) into a Kafka
 *		topic, or write it as JSON lines, at a given rate, with a progress
 *		line every second and a summary at the end, which counts the
 *		rejections the workload intends (overdrafts).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "log.h"
#include "pacer.h"
#include "workload.h"

/* Messages between two looks at the clock (--rate), and between two polls. */
#define PACING_GROUP 16
#define POLL_GROUP 256

static const char usage_text[] =
"axs-loadgen: produce a realistic exchange workload of axs events.\n"
"\n"
"Usage: axs-loadgen --brokers B --topic T [options]\n"
"       axs-loadgen --output FILE [options]\n"
"\n"
"  --brokers LIST     Kafka bootstrap servers\n"
"  --topic NAME       topic to produce to\n"
"  --events N         messages to produce (default 100000)\n"
"  --rate EPS         messages per second, 0 = as fast as possible (default 0);\n"
"                     after a stall it makes up at most 100 ms of its schedule\n"
"  --accounts N       accounts 1..N; 1 receives fees (default 100000)\n"
"  --currencies N     USDT (quote), BTC, ETH, SOL, XRP, ... (default 5)\n"
"  --malformed PCT    share of malformed messages (default 0)\n"
"  --duplicates PCT   share of re-sent duplicates, same id same content (default 0)\n"
"  --seed S           random seed (default 1)\n"
"  --first-id ID      first event id; ids increase from here (default 1)\n"
"  --key KEYING       market or account: how messages are keyed (default market)\n"
"  --intended FILE    write the ids of the intended rejections, one a line\n"
"  --output FILE      write JSON lines to FILE ('-' = stdout) instead of producing\n"
"  -X key=value       librdkafka producer property (repeatable)\n"
"  --help\n"
"\n"
"Orders freeze, then trade or unfreeze; some withdrawals overdraw on purpose:\n"
"the ledger rejects them, and they are the only rejections intended.\n"
"\n"
"--key market (as a matching engine publishes): an order's funding deposit,\n"
"freezes, trade and unfreezes are keyed by its market (BTC-USDT), so they stay\n"
"in order in one partition; deposits, withdrawals and transfers by the account.\n"
"In any order of the partitions, only the overdrafts are rejected.\n"
"--key account: every event by its account (a trade by its buyer).  The same\n"
"events, but a trade can overtake the seller's freeze in another partition and\n"
"be rejected insufficient_frozen: ordering artefacts, not intended rejections.\n";

static volatile sig_atomic_t running = 1;

static void
handle_stop_signal(int signal_number)
{
	(void) signal_number;
	running = 0;
}

typedef struct LoadgenCounts
{
	uint64_t	produced;
	uint64_t	malformed;
	uint64_t	duplicates;
	uint64_t	overdrafts;
	uint64_t	delivery_failures;
} LoadgenCounts;

static void
delivery_report(rd_kafka_t *producer, const rd_kafka_message_t *message, void *opaque)
{
	LoadgenCounts *counts = opaque;

	(void) producer;
	if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		if (counts->delivery_failures++ < 10)
			log_message("delivery failed: %s", rd_kafka_err2str(message->err));
	}
}

static bool
parse_int64(const char *text, int64_t minimum, int64_t *out)
{
	char	   *end;
	long long	value;

	errno = 0;
	value = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < minimum)
		return false;
	*out = value;
	return true;
}

static bool
parse_percent(const char *text, double *out)
{
	char	   *end;
	double		value;

	errno = 0;
	value = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || value < 0.0 || value > 100.0)
		return false;
	*out = value;
	return true;
}

static rd_kafka_t *
create_producer(const char *brokers, char **properties, int property_count,
				LoadgenCounts *counts)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *producer;
	char		error[512];
	int			i;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, error, sizeof(error)) != RD_KAFKA_CONF_OK ||
		rd_kafka_conf_set(conf, "linger.ms", "5", error, sizeof(error)) != RD_KAFKA_CONF_OK ||
		rd_kafka_conf_set(conf, "client.id", "axs-loadgen", error, sizeof(error)) != RD_KAFKA_CONF_OK)
	{
		log_message("producer configuration: %s", error);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	for (i = 0; i < property_count; i++)
	{
		char	   *equals = strchr(properties[i], '=');

		if (equals == NULL)
		{
			log_message("-X expects key=value, got \"%s\"", properties[i]);
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
		*equals = '\0';
		if (rd_kafka_conf_set(conf, properties[i], equals + 1, error, sizeof(error)) != RD_KAFKA_CONF_OK)
		{
			log_message("-X %s: %s", properties[i], error);
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	}
	rd_kafka_conf_set_dr_msg_cb(conf, delivery_report);
	rd_kafka_conf_set_opaque(conf, counts);
	producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
	if (producer == NULL)
		log_message("cannot create the producer: %s", error);
	return producer;
}

/* Produce one message, waiting while librdkafka's queue is full. */
static bool
produce_message(rd_kafka_t *producer, rd_kafka_topic_t *topic,
				const WorkloadMessage *message)
{
	while (rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
							(void *) message->text, message->length,
							message->key, message->key_length, NULL) != 0)
	{
		rd_kafka_resp_err_t error = rd_kafka_last_error();

		if (error != RD_KAFKA_RESP_ERR__QUEUE_FULL)
		{
			log_message("produce failed: %s", rd_kafka_err2str(error));
			return false;
		}
		rd_kafka_poll(producer, 100);
	}
	return true;
}

static void
log_progress(const LoadgenCounts *counts, int64_t started_ms, int64_t target)
{
	double		seconds = (double) (clock_monotonic_ms() - started_ms) / 1000.0;

	log_message("produced %" PRIu64 "/%" PRId64 " (%.0f msg/s), malformed %" PRIu64
				", duplicates %" PRIu64 ", overdrafts %" PRIu64,
				counts->produced, target,
				seconds > 0 ? (double) counts->produced / seconds : 0.0,
				counts->malformed, counts->duplicates, counts->overdrafts);
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"events", required_argument, NULL, 'n'},
		{"rate", required_argument, NULL, 'r'},
		{"accounts", required_argument, NULL, 'a'},
		{"currencies", required_argument, NULL, 'c'},
		{"malformed", required_argument, NULL, 'm'},
		{"duplicates", required_argument, NULL, 'd'},
		{"seed", required_argument, NULL, 's'},
		{"first-id", required_argument, NULL, 'i'},
		{"key", required_argument, NULL, 'k'},
		{"intended", required_argument, NULL, 'I'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	WorkloadConfig config = {
		.accounts = 100000, .currencies = 5, .malformed_percent = 0.0,
		.duplicate_percent = 0.0, .seed = 1, .first_id = 1
	};
	const char *brokers = NULL;
	const char *topic_name = NULL;
	const char *output_path = NULL;
	const char *intended_path = NULL;
	FILE	   *intended = NULL;
	char	   *properties[64];
	int			property_count = 0;
	int64_t		events = 100000;
	int64_t		rate = 0;
	int64_t		number;
	LoadgenCounts counts;
	Workload   *workload;
	rd_kafka_t *producer = NULL;
	rd_kafka_topic_t *topic = NULL;
	FILE	   *output = NULL;
	struct sigaction action;
	char		error[256];
	int64_t		started_ms;
	Pacer		pacer;
	int64_t		next_progress_ms;
	int64_t		i;
	int			option;
	int			exit_status = 0;

	log_set_program("axs-loadgen");
	memset(&counts, 0, sizeof(counts));
	while ((option = getopt_long(argc, argv, "X:h", long_options, NULL)) != -1)
	{
		bool		ok = true;

		switch (option)
		{
			case 'b':
				brokers = optarg;
				break;
			case 't':
				topic_name = optarg;
				break;
			case 'n':
				ok = parse_int64(optarg, 0, &events);
				break;
			case 'r':
				ok = parse_int64(optarg, 0, &rate);
				break;
			case 'a':
				ok = parse_int64(optarg, 3, &config.accounts);
				break;
			case 'c':
				ok = parse_int64(optarg, 2, &number) && number <= 1000;
				config.currencies = (int) number;
				break;
			case 'm':
				ok = parse_percent(optarg, &config.malformed_percent);
				break;
			case 'd':
				ok = parse_percent(optarg, &config.duplicate_percent);
				break;
			case 's':
				ok = parse_int64(optarg, 0, &number);
				config.seed = (uint64_t) number;
				break;
			case 'i':
				ok = parse_int64(optarg, 1, &config.first_id);
				break;
			case 'k':
				ok = workload_keying_parse(optarg, &config.keying);
				break;
			case 'I':
				intended_path = optarg;
				break;
			case 'o':
				output_path = optarg;
				break;
			case 'X':
				if (property_count == 64)
				{
					fprintf(stderr, "axs-loadgen: more than 64 -X properties\n");
					return 2;
				}
				properties[property_count++] = optarg;
				break;
			case 'h':
				fputs(usage_text, stdout);
				return 0;
			default:
				fprintf(stderr, "Try \"axs-loadgen --help\".\n");
				return 2;
		}
		if (!ok)
		{
			const struct option *named = long_options;

			while (named->name != NULL && named->val != option)
				named++;
			fprintf(stderr, "axs-loadgen: bad value \"%s\" for --%s\n", optarg,
					named->name ? named->name : "?");
			return 2;
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "axs-loadgen: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	if (output_path == NULL && (brokers == NULL || topic_name == NULL))
	{
		fprintf(stderr, "axs-loadgen: --brokers and --topic are required unless --output is given\n");
		return 2;
	}
	if (config.malformed_percent + config.duplicate_percent > 100.0)
	{
		fprintf(stderr, "axs-loadgen: --malformed plus --duplicates exceed 100%%\n");
		return 2;
	}

	workload = workload_new(&config, error, sizeof(error));
	if (workload == NULL)
	{
		fprintf(stderr, "axs-loadgen: %s\n", error);
		return 2;
	}
	if (intended_path != NULL)
	{
		intended = fopen(intended_path, "w");
		if (intended == NULL)
		{
			fprintf(stderr, "axs-loadgen: cannot open %s: %s\n", intended_path, strerror(errno));
			workload_free(workload);
			return 1;
		}
	}
	if (output_path != NULL)
	{
		output = strcmp(output_path, "-") == 0 ? stdout : fopen(output_path, "w");
		if (output == NULL)
		{
			fprintf(stderr, "axs-loadgen: cannot open %s: %s\n", output_path, strerror(errno));
			workload_free(workload);
			return 1;
		}
	}
	else
	{
		producer = create_producer(brokers, properties, property_count, &counts);
		if (producer == NULL)
		{
			workload_free(workload);
			return 1;
		}
		topic = rd_kafka_topic_new(producer, topic_name, NULL);
	}

	memset(&action, 0, sizeof(action));
	action.sa_handler = handle_stop_signal;
	sigemptyset(&action.sa_mask);
	sigaction(SIGINT, &action, NULL);
	sigaction(SIGTERM, &action, NULL);

	started_ms = clock_monotonic_ms();
	pacer_start(&pacer, rate, started_ms * 1000);
	next_progress_ms = started_ms + 1000;
	for (i = 0; i < events && running; i++)
	{
		WorkloadMessage message;

		/*
		 * Pacing and serving delivery reports are per group of messages:
		 * per message they were a tenth of this loop's CPU.
		 */
		if (rate > 0 && (i & (PACING_GROUP - 1)) == 0)
		{
			int64_t		wait_us = pacer_wait_us(&pacer, i, clock_monotonic_us());

			if (wait_us > 1000)
				clock_sleep_ms(wait_us / 1000);
		}

		workload_next(workload, &message);
		if (output != NULL)
		{
			fwrite(message.text, 1, message.length, output);
			fputc('\n', output);
		}
		else
		{
			if (!produce_message(producer, topic, &message))
			{
				exit_status = 1;
				break;
			}
			if ((i & (POLL_GROUP - 1)) == 0)
				rd_kafka_poll(producer, 0);
		}
		counts.produced++;
		if (message.kind == WORKLOAD_MALFORMED)
			counts.malformed++;
		else if (message.kind == WORKLOAD_DUPLICATE)
			counts.duplicates++;
		else if (message.kind == WORKLOAD_OVERDRAFT)
		{
			counts.overdrafts++;
			if (intended != NULL)
				fprintf(intended, "%" PRId64 "\n", message.id);
		}

		if ((i & 1023) == 0 && clock_monotonic_ms() >= next_progress_ms)
		{
			log_progress(&counts, started_ms, events);
			next_progress_ms += 1000;
		}
	}

	if (producer != NULL)
	{
		rd_kafka_resp_err_t flush_error;

		log_message("flushing");
		flush_error = rd_kafka_flush(producer, 60000);
		if (flush_error != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			log_message("flush failed: %s (%d messages not delivered)",
						rd_kafka_err2str(flush_error), rd_kafka_outq_len(producer));
			exit_status = 1;
		}
		rd_kafka_topic_destroy(topic);
		rd_kafka_destroy(producer);
	}
	if (intended != NULL && (ferror(intended) || fclose(intended) != 0))
	{
		log_message("cannot write %s", intended_path);
		exit_status = 1;
	}
	if (output != NULL && output != stdout)
		fclose(output);
	else if (output == stdout)
		fflush(stdout);

	log_progress(&counts, started_ms, events);
	log_message("summary: produced %" PRIu64 ", malformed %" PRIu64 ", duplicates %" PRIu64
				", overdrafts %" PRIu64 " (the rejections intended), delivery failures %" PRIu64
				", ids %" PRId64 "..%" PRId64 ", keyed by %s",
				counts.produced, counts.malformed, counts.duplicates, counts.overdrafts,
				counts.delivery_failures, config.first_id, workload_last_id(workload),
				workload_keying_name(config.keying));
	if (counts.delivery_failures > 0)
		exit_status = 1;
	workload_free(workload);
	return exit_status;
}
