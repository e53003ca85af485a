/*
 * test_options.c
 *		cmocka tests of axs-feeder option parsing: flags, AXS_* environment
 *		variables, precedence (flags win), -X properties and errors; empty
 *		brokers, topics and groups refused at once; --max-batch-retries;
 *		--offsets-for-time and the times it accepts; --outcomes-topic alone
 *		(no --topic nor --group) or with them, and --outcomes-batch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"

static void
clear_environment(void)
{
	unsetenv("AXS_BROKERS");
	unsetenv("AXS_TOPIC");
	unsetenv("AXS_GROUP");
	unsetenv("AXS_DB");
	unsetenv("AXS_BATCH_ROWS");
	unsetenv("AXS_BATCH_MS");
	unsetenv("AXS_METRICS_PORT");
	unsetenv("AXS_SYNCHRONOUS_COMMIT");
	unsetenv("AXS_MAX_BATCH_RETRIES");
	unsetenv("AXS_OUTCOMES_TOPIC");
	unsetenv("AXS_OUTCOMES_BATCH");
}

static OptionsResult
parse(FeederOptions *options, char *error, int argc, char **argv)
{
	return options_parse(argc, argv, options, error, 256);
}

static void
test_flags(void **state)
{
	char	   *argv[] = {"axs-feeder", "--brokers", "h:1,h:2", "--topic", "a,b",
		"--group", "g", "--db", "dbname=x", "--batch-rows", "5", "--batch-ms", "7",
	"--metrics-port", "9100", "-X", "session.timeout.ms=6000", "-X", "a=b=c",
	"--synchronous-commit", "on", NULL};
	FeederOptions options;
	char		error[256];

	(void) state;
	clear_environment();
	assert_int_equal(parse(&options, error, 21, argv), OPTIONS_RUN);
	assert_string_equal(options.brokers, "h:1,h:2");
	assert_int_equal(options.topic_count, 2);
	assert_string_equal(options.topics[1], "b");
	assert_string_equal(options.group, "g");
	assert_string_equal(options.conninfo, "dbname=x");
	assert_int_equal(options.batch_rows, 5);
	assert_int_equal(options.batch_ms, 7);
	assert_int_equal(options.metrics_port, 9100);
	assert_true(options.synchronous_commit);
	assert_int_equal(options.kafka_property_count, 2);
	assert_string_equal(options.kafka_properties[0].key, "session.timeout.ms");
	assert_string_equal(options.kafka_properties[1].value, "b=c");
	options_free(&options);
}

static void
test_environment_and_precedence(void **state)
{
	char	   *argv[] = {"axs-feeder", "--group", "from-flag", NULL};
	FeederOptions options;
	char		error[256];

	(void) state;
	clear_environment();
	setenv("AXS_BROKERS", "env:9092", 1);
	setenv("AXS_TOPIC", "events", 1);
	setenv("AXS_GROUP", "from-env", 1);
	setenv("AXS_DB", "dbname=env", 1);
	setenv("AXS_BATCH_ROWS", "123", 1);
	assert_int_equal(parse(&options, error, 3, argv), OPTIONS_RUN);
	assert_string_equal(options.brokers, "env:9092");
	assert_string_equal(options.group, "from-flag");
	assert_int_equal(options.batch_rows, 123);
	assert_int_equal(options.batch_ms, FEEDER_DEFAULT_BATCH_MS);
	assert_int_equal(options.metrics_port, 0);
	assert_false(options.synchronous_commit);
	options_free(&options);

	setenv("AXS_SYNCHRONOUS_COMMIT", "on", 1);
	assert_int_equal(parse(&options, error, 3, argv), OPTIONS_RUN);
	assert_true(options.synchronous_commit);
	options_free(&options);
	setenv("AXS_SYNCHRONOUS_COMMIT", "yes", 1);
	assert_int_equal(parse(&options, error, 3, argv), OPTIONS_ERROR);
	assert_non_null(strstr(error, "synchronous-commit must be on or off"));
	options_free(&options);
	unsetenv("AXS_SYNCHRONOUS_COMMIT");

	setenv("AXS_BATCH_MS", "soon", 1);
	assert_int_equal(parse(&options, error, 3, argv), OPTIONS_ERROR);
	assert_non_null(strstr(error, "AXS_BATCH_MS"));
	options_free(&options);
	clear_environment();
}

static void
test_errors_and_help(void **state)
{
	char	   *missing[] = {"axs-feeder", "--brokers", "b", NULL};
	char	   *unknown[] = {"axs-feeder", "--bogus", NULL};
	char	   *bad_property[] = {"axs-feeder", "-X", "novalue", NULL};
	char	   *help[] = {"axs-feeder", "--help", NULL};
	char	   *version[] = {"axs-feeder", "--version", NULL};
	FeederOptions options;
	char		error[256];

	(void) state;
	clear_environment();
	assert_int_equal(parse(&options, error, 3, missing), OPTIONS_ERROR);
	assert_non_null(strstr(error, "--topic"));
	options_free(&options);
	assert_int_equal(parse(&options, error, 2, unknown), OPTIONS_ERROR);
	options_free(&options);
	assert_int_equal(parse(&options, error, 3, bad_property), OPTIONS_ERROR);
	options_free(&options);
	assert_int_equal(parse(&options, error, 2, help), OPTIONS_HELP);
	options_free(&options);
	assert_int_equal(parse(&options, error, 2, version), OPTIONS_VERSION);
	options_free(&options);
	assert_non_null(strstr(options_usage(), "AXS_METRICS_PORT"));
}

/* Parse argv (NULL-terminated); the result, with the error kept in error. */
static OptionsResult
parse_list(char **argv, char *error)
{
	FeederOptions options;
	OptionsResult result;
	int			argc = 0;

	while (argv[argc] != NULL)
		argc++;
	result = parse(&options, error, argc, argv);
	options_free(&options);
	return result;
}

static void
test_empty_brokers_topic_group_refused(void **state)
{
	char	   *empty_brokers[] = {"axs-feeder", "--brokers", "", "--topic", "t", "--group", "g",
	"--db", "x=y", NULL};
	char	   *blank_brokers[] = {"axs-feeder", "--brokers", " , ", "--topic", "t", "--group", "g",
	"--db", "x=y", NULL};
	char	   *empty_topic[] = {"axs-feeder", "--brokers", "b:1", "--topic", "", "--group", "g",
	"--db", "x=y", NULL};
	char	   *commas_topic[] = {"axs-feeder", "--brokers", "b:1", "--topic", ", ,", "--group", "g",
	"--db", "x=y", NULL};
	char	   *empty_group[] = {"axs-feeder", "--brokers", "b:1", "--topic", "t", "--group", "",
	"--db", "x=y", NULL};
	char	   *blank_group[] = {"axs-feeder", "--brokers", "b:1", "--topic", "t", "--group", "  ",
	"--db", "x=y", NULL};
	char	   *no_flags[] = {"axs-feeder", "--db", "x=y", NULL};
	char	   *topics_with_gap[] = {"axs-feeder", "--brokers", "b:1", "--topic", "a,,b", "--group", "g",
	"--db", "", NULL};
	FeederOptions options;
	char		error[256];

	(void) state;
	clear_environment();
	assert_int_equal(parse_list(empty_brokers, error), OPTIONS_ERROR);
	assert_non_null(strstr(error, "brokers must name at least one HOST:PORT"));
	assert_int_equal(parse_list(blank_brokers, error), OPTIONS_ERROR);
	assert_non_null(strstr(error, "brokers"));
	assert_int_equal(parse_list(empty_topic, error), OPTIONS_ERROR);
	assert_non_null(strstr(error, "topic must name at least one topic"));
	assert_int_equal(parse_list(commas_topic, error), OPTIONS_ERROR);
	assert_int_equal(parse_list(empty_group, error), OPTIONS_ERROR);
	assert_non_null(strstr(error, "group must not be empty"));
	assert_int_equal(parse_list(blank_group, error), OPTIONS_ERROR);

	/* the same through the environment: an empty variable is unset, a blank one refused */
	setenv("AXS_BROKERS", "", 1);
	setenv("AXS_TOPIC", "t", 1);
	setenv("AXS_GROUP", "g", 1);
	assert_int_equal(parse_list(no_flags, error), OPTIONS_ERROR);
	assert_non_null(strstr(error, "--brokers (or AXS_BROKERS) is required"));
	setenv("AXS_BROKERS", " ", 1);
	assert_int_equal(parse_list(no_flags, error), OPTIONS_ERROR);
	assert_non_null(strstr(error, "(from AXS_BROKERS)"));
	setenv("AXS_BROKERS", "b:1", 1);
	setenv("AXS_TOPIC", ",", 1);
	assert_int_equal(parse_list(no_flags, error), OPTIONS_ERROR);
	assert_non_null(strstr(error, "(from AXS_TOPIC)"));
	setenv("AXS_TOPIC", "t", 1);
	setenv("AXS_GROUP", "", 1);
	assert_int_equal(parse_list(no_flags, error), OPTIONS_ERROR);
	assert_non_null(strstr(error, "--group (or AXS_GROUP) is required"));
	setenv("AXS_GROUP", "\t", 1);
	assert_int_equal(parse_list(no_flags, error), OPTIONS_ERROR);
	assert_non_null(strstr(error, "(from AXS_GROUP)"));
	setenv("AXS_GROUP", "g", 1);
	assert_int_equal(parse_list(no_flags, error), OPTIONS_RUN);
	clear_environment();

	/* empty entries of a list are skipped; an empty --db means libpq's defaults */
	assert_int_equal(parse(&options, error, 9, topics_with_gap), OPTIONS_RUN);
	assert_int_equal(options.topic_count, 2);
	assert_string_equal(options.topics[1], "b");
	assert_string_equal(options.conninfo, "");
	options_free(&options);
}

static void
test_max_batch_retries(void **state)
{
	char	   *base[] = {"axs-feeder", "--brokers", "b:1", "--topic", "t", "--group", "g",
	"--db", "x=y", NULL};
	char	   *flag[] = {"axs-feeder", "--brokers", "b:1", "--topic", "t", "--group", "g",
	"--db", "x=y", "--max-batch-retries", "0", NULL};
	char	   *bad[] = {"axs-feeder", "--brokers", "b:1", "--topic", "t", "--group", "g",
	"--db", "x=y", "--max-batch-retries", "-1", NULL};
	FeederOptions options;
	char		error[256];

	(void) state;
	clear_environment();
	assert_int_equal(parse(&options, error, 9, base), OPTIONS_RUN);
	assert_int_equal(options.max_batch_retries, FEEDER_DEFAULT_MAX_BATCH_RETRIES);
	options_free(&options);
	setenv("AXS_MAX_BATCH_RETRIES", "7", 1);
	assert_int_equal(parse(&options, error, 9, base), OPTIONS_RUN);
	assert_int_equal(options.max_batch_retries, 7);
	options_free(&options);
	assert_int_equal(parse(&options, error, 11, flag), OPTIONS_RUN);
	assert_int_equal(options.max_batch_retries, 0);
	options_free(&options);
	assert_int_equal(parse_list(bad, error), OPTIONS_ERROR);
	assert_non_null(strstr(error, "max-batch-retries must be an integer from 0"));
	clear_environment();
}

static void
test_offsets_for_time(void **state)
{
	char	   *mode[] = {"axs-feeder", "--offsets-for-time", "2024-05-01T12:00:00Z",
	"--brokers", "b:1", "--topic", "t", NULL};
	char	   *no_brokers[] = {"axs-feeder", "--offsets-for-time", "0", "--topic", "t", NULL};
	char	   *no_zone[] = {"axs-feeder", "--offsets-for-time", "2024-05-01 12:00:00",
	"--brokers", "b:1", "--topic", "t", NULL};
	FeederOptions options;
	char		error[256];

	(void) state;
	clear_environment();
	/* no --group nor --db needed */
	assert_int_equal(parse(&options, error, 7, mode), OPTIONS_OFFSETS_FOR_TIME);
	assert_int_equal(options.offsets_for_time_ms, INT64_C(1714564800000));
	options_free(&options);
	assert_int_equal(parse_list(no_brokers, error), OPTIONS_ERROR);
	assert_non_null(strstr(error, "--brokers"));
	assert_int_equal(parse_list(no_zone, error), OPTIONS_ERROR);
	assert_non_null(strstr(error, "with a time zone"));
}

static void
test_outcomes_topic(void **state)
{
	char	   *alone[] = {"axs-feeder", "--brokers", "b:1", "--outcomes-topic", "axs.outcomes",
	"--db", "x=y", NULL};
	char	   *both[] = {"axs-feeder", "--brokers", "b:1", "--topic", "t", "--group", "g",
	"--db", "x=y", "--outcomes-topic", "out", "--outcomes-batch", "500", NULL};
	char	   *no_group[] = {"axs-feeder", "--brokers", "b:1", "--topic", "t",
	"--outcomes-topic", "out", "--db", "x=y", NULL};
	char	   *no_db[] = {"axs-feeder", "--brokers", "b:1", "--outcomes-topic", "out", NULL};
	char	   *neither[] = {"axs-feeder", "--brokers", "b:1", "--db", "x=y", NULL};
	char	   *blank[] = {"axs-feeder", "--brokers", "b:1", "--outcomes-topic", " ", "--db", "x=y", NULL};
	char	   *bad_batch[] = {"axs-feeder", "--brokers", "b:1", "--outcomes-topic", "out",
	"--db", "x=y", "--outcomes-batch", "0", NULL};
	/* --offsets-for-time looks at the consumed topics only */
	char	   *replay[] = {"axs-feeder", "--offsets-for-time", "0", "--brokers", "b:1",
	"--outcomes-topic", "out", NULL};
	char	   *no_flags[] = {"axs-feeder", NULL};
	const struct
	{
		char	  **argv;
		const char *error;
	}			refused[] = {
		{no_group, "--group (or AXS_GROUP) is required"},
		{no_db, "--db (or AXS_DB) is required"},
		{neither, "--topic (or AXS_TOPIC), --outcomes-topic (or AXS_OUTCOMES_TOPIC)"},
		{blank, "outcomes-topic must not be empty"},
		{bad_batch, "outcomes-batch must be an integer from 1"},
		{replay, "--topic (or AXS_TOPIC) is required"},
	};
	FeederOptions options;
	char		error[256];

	(void) state;
	clear_environment();
	/* only publishing: no --topic, no --group */
	assert_int_equal(parse(&options, error, 7, alone), OPTIONS_RUN);
	assert_string_equal(options.outcomes_topic, "axs.outcomes");
	assert_int_equal(options.topic_count, 0);
	assert_null(options.group);
	assert_int_equal(options.outcomes_batch, FEEDER_DEFAULT_OUTCOMES_BATCH);
	options_free(&options);

	assert_int_equal(parse(&options, error, 13, both), OPTIONS_RUN);
	assert_string_equal(options.outcomes_topic, "out");
	assert_int_equal(options.topic_count, 1);
	assert_int_equal(options.outcomes_batch, 500);
	options_free(&options);

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
	{
		assert_int_equal(parse_list(refused[i].argv, error), OPTIONS_ERROR);
		if (strstr(error, refused[i].error) == NULL)
			fail_msg("\"%s\" does not say \"%s\"", error, refused[i].error);
	}

	/* the environment alone, and a flag winning over it */
	setenv("AXS_BROKERS", "b:1", 1);
	setenv("AXS_DB", "x=y", 1);
	setenv("AXS_OUTCOMES_TOPIC", "from-env", 1);
	setenv("AXS_OUTCOMES_BATCH", "64", 1);
	assert_int_equal(parse(&options, error, 1, no_flags), OPTIONS_RUN);
	assert_string_equal(options.outcomes_topic, "from-env");
	assert_int_equal(options.outcomes_batch, 64);
	options_free(&options);
	assert_int_equal(parse(&options, error, 7, alone), OPTIONS_RUN);
	assert_string_equal(options.outcomes_topic, "axs.outcomes");
	options_free(&options);
	setenv("AXS_OUTCOMES_TOPIC", "", 1);
	assert_int_equal(parse_list(no_flags, error), OPTIONS_ERROR);
	setenv("AXS_OUTCOMES_TOPIC", "\t", 1);
	assert_int_equal(parse_list(no_flags, error), OPTIONS_ERROR);
	assert_non_null(strstr(error, "(from AXS_OUTCOMES_TOPIC)"));
	clear_environment();
	assert_non_null(strstr(options_usage(), "AXS_OUTCOMES_TOPIC"));
}

static void
test_times(void **state)
{
	static const struct
	{
		const char *text;
		int64_t		unix_ms;
	}			good[] = {
		{"0", 0},
		{"1714564800123", INT64_C(1714564800123)},
		{"2024-05-01T12:00:00Z", INT64_C(1714564800000)},
		{"2024-05-01t12:00z", INT64_C(1714564800000)},
		{"2024-05-01 12:00:00.5Z", INT64_C(1714564800500)},
		{"2024-05-01T12:00:00.123456Z", INT64_C(1714564800123)},
		{"2024-05-01 14:00:00+02", INT64_C(1714564800000)},
		{"2024-05-01T14:30:00+0230", INT64_C(1714564800000)},
		{"2024-05-01T07:00:00-05:00", INT64_C(1714564800000)},
		{"2024-02-29T00:00:00Z", INT64_C(1709164800000)},
	};
	static const char *const bad[] = {
		"", "yesterday", "-5", "2024-05-01", "2024-05-01T12:00:00", "2024-05-01T12:00:00 Z",
		"2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2024-05-01T24:00:00Z",
		"2024-05-01T12:60:00Z", "2024-05-01T12:00:00+1", "2024-05-01T12:00:00+02:00x",
		"1969-12-31T23:59:59Z", "1970-01-01T00:30:00+01:00", "99999999999999999999",
	};
	int64_t		unix_ms;

	(void) state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
	{
		if (!options_parse_time(good[i].text, &unix_ms))
			fail_msg("\"%s\" refused", good[i].text);
		if (unix_ms != good[i].unix_ms)
			fail_msg("\"%s\": %lld, expected %lld", good[i].text, (long long) unix_ms,
					 (long long) good[i].unix_ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (options_parse_time(bad[i], &unix_ms))
			fail_msg("\"%s\" accepted", bad[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_environment_and_precedence),
		cmocka_unit_test(test_errors_and_help),
		cmocka_unit_test(test_empty_brokers_topic_group_refused),
		cmocka_unit_test(test_max_batch_retries),
		cmocka_unit_test(test_offsets_for_time),
		cmocka_unit_test(test_outcomes_topic),
		cmocka_unit_test(test_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
