/*
 * test_options.c
 *		cmocka tests of axs-feeder option parsing: flags, AXS_* environment
 *		variables, precedence (flags win), -X properties and errors.
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_environment_and_precedence),
		cmocka_unit_test(test_errors_and_help),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
