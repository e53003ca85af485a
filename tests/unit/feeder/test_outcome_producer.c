/*
 * test_outcome_producer.c
 *		cmocka tests of the outcome producer's configuration: the defaults
 *		(transactional.id from the topic, lz4, 2 MB of outcomes a partition
 *		and request), -X overriding a default, and -X refused for what
 *		exactly-once relies on.  No broker is needed: librdkafka connects
 *		in the background, and the handle is destroyed before it matters.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"
#include "outcome_producer.h"

static volatile sig_atomic_t running = 1;

/* Parse a publisher-only command line with these extra arguments. */
static void
parse_publisher(FeederOptions *options, int extra_count, char **extra)
{
	/* log_level 0: no log lines for the connections refused at port 9 */
	char	   *argv[16] = {"axs-feeder", "--brokers", "127.0.0.1:9", "--outcomes-topic",
		"ledger.outcomes", "--db", "dbname=x", "-X", "log_level=0"};
	int			argc = 9;
	char		error[256];
	int			i;

	unsetenv("AXS_TOPIC");
	unsetenv("AXS_GROUP");
	for (i = 0; i < extra_count; i++)
		argv[argc++] = extra[i];
	argv[argc] = NULL;
	assert_int_equal(options_parse(argc, argv, options, error, sizeof(error)), OPTIONS_RUN);
}

/* The value of a property of the producer's handle. */
static void
assert_property(const OutcomeProducer *producer, const char *key, const char *expected)
{
	char		value[256];
	size_t		size = sizeof(value);

	assert_int_equal(rd_kafka_conf_get(rd_kafka_conf(producer->handle), key, value, &size),
					 RD_KAFKA_CONF_OK);
	assert_string_equal(value, expected);
}

static void
test_defaults(void **state)
{
	FeederOptions options;
	OutcomeProducer producer;

	(void) state;
	parse_publisher(&options, 0, NULL);
	assert_true(outcome_producer_create(&producer, &options, &running));
	assert_property(&producer, "transactional.id", "axs-outcomes-ledger.outcomes");
	assert_property(&producer, "enable.idempotence", "true");
	assert_property(&producer, "compression.codec", "lz4");
	assert_property(&producer, "batch.size", OUTCOME_PRODUCER_BATCH_BYTES);
	assert_property(&producer, "message.max.bytes", OUTCOME_PRODUCER_BATCH_BYTES);
	outcome_producer_destroy(&producer);
	assert_null(producer.handle);
	options_free(&options);
}

static void
test_properties_override_the_defaults(void **state)
{
	char	   *extra[] = {"-X", "batch.size=1000000", "-X", "message.max.bytes=1000000",
		"-X", "compression.codec=none", "-X", "transactional.id=publisher-a"};
	FeederOptions options;
	OutcomeProducer producer;

	(void) state;
	parse_publisher(&options, 8, extra);
	assert_true(outcome_producer_create(&producer, &options, &running));
	assert_property(&producer, "batch.size", "1000000");
	assert_property(&producer, "message.max.bytes", "1000000");
	assert_property(&producer, "compression.codec", "none");
	assert_property(&producer, "transactional.id", "publisher-a");
	outcome_producer_destroy(&producer);
	options_free(&options);
}

static void
test_exactly_once_properties_are_fixed(void **state)
{
	char	   *idempotence[] = {"-X", "enable.idempotence=false"};
	char	   *acks[] = {"-X", "acks=1"};
	FeederOptions options;
	OutcomeProducer producer;

	(void) state;
	parse_publisher(&options, 2, idempotence);
	assert_false(outcome_producer_create(&producer, &options, &running));
	assert_null(producer.handle);
	options_free(&options);
	parse_publisher(&options, 2, acks);
	assert_false(outcome_producer_create(&producer, &options, &running));
	options_free(&options);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_properties_override_the_defaults),
		cmocka_unit_test(test_exactly_once_properties_are_fixed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
