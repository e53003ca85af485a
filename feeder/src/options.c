/*
 * options.c
 *		Parsing of axs-feeder settings (see options.h).
 *
 * Precedence: built-in defaults, then AXS_* environment variables, then
 * command-line flags.  Values are checked here so that the rest of the
 * program can trust them.
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
"axs-feeder " FEEDER_VERSION ": copy Kafka events into the axs inbox, exactly once.\n"
"\n"
"Usage: axs-feeder --brokers HOST:PORT[,..] --topic NAME[,NAME..] --group ID --db CONNINFO\n"
"                  [--batch-rows N] [--batch-ms MS] [--metrics-port PORT]\n"
"                  [--synchronous-commit on|off] [-X key=value]...\n"
"\n"
"  --brokers LIST       Kafka bootstrap servers              (env AXS_BROKERS)\n"
"  --topic LIST         topics to consume, comma separated   (env AXS_TOPIC)\n"
"  --group ID           Kafka consumer group                 (env AXS_GROUP)\n"
"  --db CONNINFO        libpq connection string              (env AXS_DB)\n"
"  --batch-rows N       flush after N messages (default 10000) (env AXS_BATCH_ROWS)\n"
"  --batch-ms MS        flush MS after the first buffered message (default 50)\n"
"                                                            (env AXS_BATCH_MS)\n"
"  --metrics-port PORT  serve Prometheus metrics on PORT     (env AXS_METRICS_PORT)\n"
"  --synchronous-commit on|off\n"
"                       wait for each batch's WAL flush (default off: the\n"
"                       applier's commit flushes it; see README)\n"
"                                                            (env AXS_SYNCHRONOUS_COMMIT)\n"
"  -X key=value         any librdkafka property (repeatable); enable.auto.commit,\n"
"                       enable.auto.offset.store and auto.offset.reset are fixed\n"
"  --help, --version\n"
"\n"
"Each batch is one PostgreSQL transaction: COPY into axs.inbox, invalid\n"
"messages into axs.dead_letters, offsets advanced in axs.feeder_offsets.\n";

const char *
options_usage(void)
{
	return usage_text;
}

static OptionsResult
options_fail(char *error, size_t error_size, const char *format,...)
{
	va_list		args;

	va_start(args, format);
	vsnprintf(error, error_size, format, args);
	va_end(args);
	return OPTIONS_ERROR;
}

/* Parse a decimal int in [minimum, maximum]; false if not one. */
static bool
parse_int(const char *text, int minimum, int maximum, int *out)
{
	char	   *end;
	long		value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < minimum || value > maximum)
		return false;
	*out = (int) value;
	return true;
}

static void
replace_string(char **slot, const char *value)
{
	free(*slot);
	*slot = strdup(value);
}

/* Split a comma-separated topic list into options->topics. */
static OptionsResult
set_topics(FeederOptions *options, const char *list, char *error, size_t error_size)
{
	char	   *copy = strdup(list);
	char	   *saveptr = NULL;
	char	   *name;
	int			i;

	for (i = 0; i < options->topic_count; i++)
		free(options->topics[i]);
	options->topic_count = 0;

	for (name = strtok_r(copy, ",", &saveptr); name != NULL;
		 name = strtok_r(NULL, ",", &saveptr))
	{
		if (options->topic_count == FEEDER_MAX_TOPICS)
		{
			free(copy);
			return options_fail(error, error_size, "more than %d topics", FEEDER_MAX_TOPICS);
		}
		options->topics[options->topic_count++] = strdup(name);
	}
	free(copy);
	if (options->topic_count == 0)
		return options_fail(error, error_size, "empty topic list");
	return OPTIONS_RUN;
}

static OptionsResult
add_kafka_property(FeederOptions *options, const char *assignment,
				   char *error, size_t error_size)
{
	const char *equals = strchr(assignment, '=');
	KafkaProperty *property;

	if (equals == NULL || equals == assignment)
		return options_fail(error, error_size, "-X expects key=value, got \"%s\"", assignment);
	if (options->kafka_property_count == FEEDER_MAX_KAFKA_PROPERTIES)
		return options_fail(error, error_size, "more than %d -X properties",
							FEEDER_MAX_KAFKA_PROPERTIES);
	property = &options->kafka_properties[options->kafka_property_count++];
	property->key = strndup(assignment, (size_t) (equals - assignment));
	property->value = strdup(equals + 1);
	return OPTIONS_RUN;
}

/* Apply one setting, named by its long option, from a flag or the environment. */
static OptionsResult
apply_setting(FeederOptions *options, const char *name, const char *value,
			  char *error, size_t error_size)
{
	if (strcmp(name, "brokers") == 0)
		replace_string(&options->brokers, value);
	else if (strcmp(name, "topic") == 0)
		return set_topics(options, value, error, error_size);
	else if (strcmp(name, "group") == 0)
		replace_string(&options->group, value);
	else if (strcmp(name, "db") == 0)
		replace_string(&options->conninfo, value);
	else if (strcmp(name, "batch-rows") == 0)
	{
		if (!parse_int(value, 1, 10000000, &options->batch_rows))
			return options_fail(error, error_size,
								"batch-rows must be an integer from 1 to 10000000, got \"%s\"", value);
	}
	else if (strcmp(name, "batch-ms") == 0)
	{
		if (!parse_int(value, 1, 600000, &options->batch_ms))
			return options_fail(error, error_size,
								"batch-ms must be an integer from 1 to 600000, got \"%s\"", value);
	}
	else if (strcmp(name, "metrics-port") == 0)
	{
		if (!parse_int(value, 1, 65535, &options->metrics_port))
			return options_fail(error, error_size,
								"metrics-port must be an integer from 1 to 65535, got \"%s\"", value);
	}
	else if (strcmp(name, "synchronous-commit") == 0)
	{
		if (strcmp(value, "on") == 0)
			options->synchronous_commit = true;
		else if (strcmp(value, "off") == 0)
			options->synchronous_commit = false;
		else
			return options_fail(error, error_size,
								"synchronous-commit must be on or off, got \"%s\"", value);
	}
	return OPTIONS_RUN;
}

static const struct
{
	const char *variable;
	const char *setting;
}			environment_settings[] =
{
	{"AXS_BROKERS", "brokers"},
	{"AXS_TOPIC", "topic"},
	{"AXS_GROUP", "group"},
	{"AXS_DB", "db"},
	{"AXS_BATCH_ROWS", "batch-rows"},
	{"AXS_BATCH_MS", "batch-ms"},
	{"AXS_METRICS_PORT", "metrics-port"},
	{"AXS_SYNCHRONOUS_COMMIT", "synchronous-commit"},
};

static const struct option long_options[] = {
	{"brokers", required_argument, NULL, 0},
	{"topic", required_argument, NULL, 0},
	{"group", required_argument, NULL, 0},
	{"db", required_argument, NULL, 0},
	{"batch-rows", required_argument, NULL, 0},
	{"batch-ms", required_argument, NULL, 0},
	{"metrics-port", required_argument, NULL, 0},
	{"synchronous-commit", required_argument, NULL, 0},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0}
};

OptionsResult
options_parse(int argc, char **argv, FeederOptions *options,
			  char *error, size_t error_size)
{
	size_t		i;
	int			option;
	int			index;
	OptionsResult result;

	memset(options, 0, sizeof(*options));
	options->batch_rows = FEEDER_DEFAULT_BATCH_ROWS;
	options->batch_ms = FEEDER_DEFAULT_BATCH_MS;

	for (i = 0; i < sizeof(environment_settings) / sizeof(environment_settings[0]); i++)
	{
		const char *value = getenv(environment_settings[i].variable);

		if (value == NULL || value[0] == '\0')
			continue;
		result = apply_setting(options, environment_settings[i].setting, value,
							   error, error_size);
		if (result != OPTIONS_RUN)
		{
			size_t		used = strlen(error);

			snprintf(error + used, error_size - used, " (from %s)",
					 environment_settings[i].variable);
			return result;
		}
	}

	optind = 0;					/* glibc: full re-initialisation, for tests */
	opterr = 0;
	while ((option = getopt_long(argc, argv, "X:hV", long_options, &index)) != -1)
	{
		switch (option)
		{
			case 0:
				result = apply_setting(options, long_options[index].name, optarg,
									   error, error_size);
				if (result != OPTIONS_RUN)
					return result;
				break;
			case 'X':
				result = add_kafka_property(options, optarg, error, error_size);
				if (result != OPTIONS_RUN)
					return result;
				break;
			case 'h':
				return OPTIONS_HELP;
			case 'V':
				return OPTIONS_VERSION;
			default:
				if (optopt != 0 && optopt != '?')
					return options_fail(error, error_size, "option -%c needs a value", optopt);
				return options_fail(error, error_size, "unknown option \"%s\"",
									argv[optind - 1]);
		}
	}
	if (optind < argc)
		return options_fail(error, error_size, "unexpected argument \"%s\"", argv[optind]);

	if (options->brokers == NULL)
		return options_fail(error, error_size, "--brokers (or AXS_BROKERS) is required");
	if (options->topic_count == 0)
		return options_fail(error, error_size, "--topic (or AXS_TOPIC) is required");
	if (options->group == NULL)
		return options_fail(error, error_size, "--group (or AXS_GROUP) is required");
	if (options->conninfo == NULL)
		return options_fail(error, error_size, "--db (or AXS_DB) is required");
	return OPTIONS_RUN;
}

void
options_free(FeederOptions *options)
{
	int			i;

	free(options->brokers);
	free(options->group);
	free(options->conninfo);
	for (i = 0; i < options->topic_count; i++)
		free(options->topics[i]);
	for (i = 0; i < options->kafka_property_count; i++)
	{
		free(options->kafka_properties[i].key);
		free(options->kafka_properties[i].value);
	}
	memset(options, 0, sizeof(*options));
}
