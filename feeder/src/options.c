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
#include <time.h>

static const char usage_text[] =
"axs-feeder " FEEDER_VERSION ": copy Kafka events into the axs inbox and publish the\n"
"ledger's decided events to Kafka, exactly once.\n"
"\n"
"Usage: axs-feeder --brokers HOST:PORT[,..] --topic NAME[,NAME..] --group ID --db CONNINFO\n"
"                  [--outcomes-topic NAME [--outcomes-batch N]]\n"
"                  [--batch-rows N] [--batch-ms MS] [--metrics-port PORT]\n"
"                  [--synchronous-commit on|off] [--max-batch-retries N] [-X key=value]...\n"
"       axs-feeder --brokers HOST:PORT[,..] --outcomes-topic NAME --db CONNINFO\n"
"                  [--outcomes-batch N] [--metrics-port PORT] [-X key=value]...\n"
"       axs-feeder --offsets-for-time TIME --brokers HOST:PORT[,..] --topic NAME[,NAME..]\n"
"                  [-X key=value]...\n"
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
"  --max-batch-retries N\n"
"                       retries of an error that retrying cannot fix (permission,\n"
"                       constraint, missing table, ...) before stopping with exit\n"
"                       status 3 (default 5)                 (env AXS_MAX_BATCH_RETRIES)\n"
"  --outcomes-topic NAME\n"
"                       publish every event the ledger decides to topic NAME,\n"
"                       exactly once (its own thread, PostgreSQL session and\n"
"                       transactional producer); without --topic, only publish\n"
"                                                            (env AXS_OUTCOMES_TOPIC)\n"
"  --outcomes-batch N   most events per outcome transaction (default 20000)\n"
"                                                            (env AXS_OUTCOMES_BATCH)\n"
"  --offsets-for-time TIME\n"
"                       print, for every partition of the topics, the first offset\n"
"                       at or after TIME (ms since the epoch, or\n"
"                       2024-05-01T12:00:00Z with a time zone) and the\n"
"                       axs.feeder_rewind call that replays from there; then exit\n"
"  -X key=value         any librdkafka property (repeatable), for every Kafka client;\n"
"                       fixed: enable.auto.commit, enable.auto.offset.store and\n"
"                       auto.offset.reset; with --outcomes-topic also acks,\n"
"                       enable.idempotence, isolation.level, enable.partition.eof\n"
"                       (transactional.id defaults to axs-outcomes-NAME)\n"
"  --help, --version\n"
"\n"
"Each batch is one PostgreSQL transaction: COPY into axs.inbox, invalid\n"
"messages into axs.dead_letters, offsets advanced in axs.feeder_offsets.\n"
"Exit status: 0 stopped by SIGTERM/SIGINT, 1 fatal error, 2 bad usage,\n"
"3 permanent PostgreSQL error, 4 a stored offset no longer in Kafka,\n"
"5 the outcome topic holds what the publisher cannot resume from.\n";

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
		if (name[strspn(name, " \t")] == '\0')
			continue;
		options->topics[options->topic_count++] = strdup(name);
	}
	free(copy);
	if (options->topic_count == 0)
		return options_fail(error, error_size, "topic must name at least one topic");
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
	{
		if (value[strspn(value, ", \t")] == '\0')
			return options_fail(error, error_size, "brokers must name at least one HOST:PORT");
		replace_string(&options->brokers, value);
	}
	else if (strcmp(name, "topic") == 0)
		return set_topics(options, value, error, error_size);
	else if (strcmp(name, "group") == 0)
	{
		if (value[strspn(value, " \t")] == '\0')
			return options_fail(error, error_size, "group must not be empty");
		replace_string(&options->group, value);
	}
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
	else if (strcmp(name, "max-batch-retries") == 0)
	{
		if (!parse_int(value, 0, 1000000, &options->max_batch_retries))
			return options_fail(error, error_size,
								"max-batch-retries must be an integer from 0 to 1000000, got \"%s\"",
								value);
	}
	else if (strcmp(name, "outcomes-topic") == 0)
	{
		if (value[strspn(value, " \t")] == '\0')
			return options_fail(error, error_size, "outcomes-topic must not be empty");
		replace_string(&options->outcomes_topic, value);
	}
	else if (strcmp(name, "outcomes-batch") == 0)
	{
		if (!parse_int(value, 1, 1000000, &options->outcomes_batch))
			return options_fail(error, error_size,
								"outcomes-batch must be an integer from 1 to 1000000, got \"%s\"",
								value);
	}
	else if (strcmp(name, "offsets-for-time") == 0)
	{
		if (!options_parse_time(value, &options->offsets_for_time_ms))
			return options_fail(error, error_size,
								"offsets-for-time must be milliseconds since the epoch or "
								"YYYY-MM-DDTHH:MM[:SS[.fff]] with a time zone (Z, +HH:MM), got \"%s\"",
								value);
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
	{"AXS_MAX_BATCH_RETRIES", "max-batch-retries"},
	{"AXS_OUTCOMES_TOPIC", "outcomes-topic"},
	{"AXS_OUTCOMES_BATCH", "outcomes-batch"},
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
	{"max-batch-retries", required_argument, NULL, 0},
	{"offsets-for-time", required_argument, NULL, 0},
	{"outcomes-topic", required_argument, NULL, 0},
	{"outcomes-batch", required_argument, NULL, 0},
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
	options->max_batch_retries = FEEDER_DEFAULT_MAX_BATCH_RETRIES;
	options->offsets_for_time_ms = -1;
	options->outcomes_batch = FEEDER_DEFAULT_OUTCOMES_BATCH;

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
	if (options->offsets_for_time_ms >= 0)
	{
		if (options->topic_count == 0)
			return options_fail(error, error_size, "--topic (or AXS_TOPIC) is required");
		return OPTIONS_OFFSETS_FOR_TIME;
	}
	if (options->topic_count == 0 && options->outcomes_topic == NULL)
		return options_fail(error, error_size, "--topic (or AXS_TOPIC), --outcomes-topic "
							"(or AXS_OUTCOMES_TOPIC), or both, are required");
	/* a feeder that only publishes joins no group */
	if (options->topic_count > 0 && options->group == NULL)
		return options_fail(error, error_size, "--group (or AXS_GROUP) is required");
	if (options->conninfo == NULL)
		return options_fail(error, error_size, "--db (or AXS_DB) is required");
	return OPTIONS_RUN;
}

/* Read exactly count decimal digits at *text; false if fewer. */
static bool
read_digits(const char **text, int count, int *value)
{
	*value = 0;
	for (int i = 0; i < count; i++)
	{
		char		c = (*text)[i];

		if (c < '0' || c > '9')
			return false;
		*value = *value * 10 + (c - '0');
	}
	*text += count;
	return true;
}

/* Read a time zone (Z, +HH, +HHMM, +HH:MM) ending the text; seconds east of UTC. */
static bool
read_time_zone(const char *text, int *seconds_east)
{
	int			sign;
	int			hours;
	int			minutes = 0;

	if ((text[0] == 'Z' || text[0] == 'z') && text[1] == '\0')
	{
		*seconds_east = 0;
		return true;
	}
	if (text[0] != '+' && text[0] != '-')
		return false;
	sign = text[0] == '-' ? -1 : 1;
	text++;
	if (!read_digits(&text, 2, &hours) || hours > 23)
		return false;
	if (*text == ':')
		text++;
	if (*text != '\0' && (!read_digits(&text, 2, &minutes) || minutes > 59))
		return false;
	if (*text != '\0')
		return false;
	*seconds_east = sign * (hours * 3600 + minutes * 60);
	return true;
}

bool
options_parse_time(const char *text, int64_t *unix_ms)
{
	struct tm	fields;
	struct tm	check;
	int			year;
	int			month;
	int			day;
	int			hour;
	int			minute;
	int			second = 0;
	int			millisecond = 0;
	int			seconds_east;
	time_t		seconds;

	if (text[0] != '\0' && text[strspn(text, "0123456789")] == '\0')
	{
		char	   *end;

		errno = 0;
		*unix_ms = strtoll(text, &end, 10);
		return errno == 0;
	}
	if (!read_digits(&text, 4, &year) || *text++ != '-' ||
		!read_digits(&text, 2, &month) || *text++ != '-' ||
		!read_digits(&text, 2, &day))
		return false;
	if (*text != 'T' && *text != 't' && *text != ' ')
		return false;
	text++;
	if (!read_digits(&text, 2, &hour) || *text++ != ':' || !read_digits(&text, 2, &minute))
		return false;
	if (*text == ':')
	{
		text++;
		if (!read_digits(&text, 2, &second))
			return false;
		if (*text == '.' && text[1] >= '0' && text[1] <= '9')
		{
			int			scale = 100;

			for (text++; *text >= '0' && *text <= '9'; text++, scale /= 10)
				millisecond += (*text - '0') * scale;
		}
	}
	if (!read_time_zone(text, &seconds_east) || year < 1970 || month < 1 || month > 12 ||
		day < 1 || hour > 23 || minute > 59 || second > 59)
		return false;

	memset(&fields, 0, sizeof(fields));
	fields.tm_year = year - 1900;
	fields.tm_mon = month - 1;
	fields.tm_mday = day;
	fields.tm_hour = hour;
	fields.tm_min = minute;
	fields.tm_sec = second;
	seconds = timegm(&fields);
	/* timegm moves February 30 to March 2: refuse such dates */
	if (gmtime_r(&seconds, &check) == NULL || check.tm_mday != day || check.tm_mon != month - 1)
		return false;
	seconds -= seconds_east;
	if (seconds < 0)
		return false;
	*unix_ms = (int64_t) seconds * 1000 + millisecond;
	return true;
}

void
options_free(FeederOptions *options)
{
	int			i;

	free(options->brokers);
	free(options->group);
	free(options->conninfo);
	free(options->outcomes_topic);
	for (i = 0; i < options->topic_count; i++)
		free(options->topics[i]);
	for (i = 0; i < options->kafka_property_count; i++)
	{
		free(options->kafka_properties[i].key);
		free(options->kafka_properties[i].value);
	}
	memset(options, 0, sizeof(*options));
}
