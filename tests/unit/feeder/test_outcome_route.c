/*
 * test_outcome_route.c
 *		cmocka tests of the outcome publisher's routing and skip rule: the
 *		source partition when the outcome topic has it, else murmur2 of the
 *		key (Kafka's Java client's partitions, the same at every call);
 *		"seq" read from a message value, and every value without a valid
 *		seq refused; the per-partition skip rule and where reading resumes;
 *		the recovery window; and a crash model: whatever prefix of its
 *		messages each partition kept, recovering and publishing again puts
 *		every seq in the topic exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "outcome_route.h"

/* The partition Kafka's Java client picks for a murmur2 hash. */
static int32_t
java_partition(uint32_t murmur2, int32_t partition_count)
{
	return (int32_t) ((murmur2 & 0x7fffffff) % (uint32_t) partition_count);
}

static int32_t
route_key(int32_t partition_count, bool has_source, int32_t source_partition, const char *key)
{
	return outcome_route_partition(partition_count, has_source, source_partition, key, strlen(key));
}

static void
test_source_partition_when_the_topic_has_it(void **state)
{
	(void) state;
	for (int32_t p = 0; p < 8; p++)
		assert_int_equal(route_key(8, true, p, "1234"), p);
	assert_int_equal(route_key(1, true, 0, "1234"), 0);
}

/* librdkafka's own murmur2 test vectors, which are Kafka's Java client's. */
static void
test_murmur2_otherwise(void **state)
{
	static const struct
	{
		const char *key;
		uint32_t	murmur2;
	}			vectors[] = {
		{"1234", 0x9fc97b14},
		{"234", 0xe7c009ca},
		{"34", 0x873930da},
		{"4", 0x5a4b5ca1},
		{"kafka", 0xd067cf64},
		{"giberish123456789", 0x8f552b0c},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
		for (int32_t count = 1; count <= 12; count++)
		{
			int32_t		expected = java_partition(vectors[i].murmur2, count);

			/* no source, or one the outcome topic does not have */
			assert_int_equal(route_key(count, false, 0, vectors[i].key), expected);
			assert_int_equal(route_key(count, false, 3, vectors[i].key), expected);
			assert_int_equal(route_key(count, true, count, vectors[i].key), expected);
			assert_int_equal(route_key(count, true, count + 5, vectors[i].key), expected);
			assert_int_equal(route_key(count, true, -1, vectors[i].key), expected);
		}
}

static void
test_murmur2_is_deterministic(void **state)
{
	char		key[32];

	(void) state;
	for (int64_t id = 1; id <= 10000; id++)
	{
		int32_t		first;

		snprintf(key, sizeof(key), "%lld", (long long) id);
		first = route_key(6, false, 0, key);
		assert_true(first >= 0 && first < 6);
		assert_int_equal(route_key(6, false, 0, key), first);
		assert_int_equal(route_key(6, true, 9, key), first);
	}
}

static int64_t
parse(const char *value, char *error)
{
	int64_t		seq = -1;

	if (!outcome_route_parse_seq(value, value == NULL ? 0 : strlen(value), &seq, error, 128))
		return -1;
	return seq;
}

static void
test_parse_seq(void **state)
{
	static const char *const refused[] = {
		"", "not json", "[1,2]", "7", "\"seq\"", "{\"id\":1}", "{\"seq\":\"5\"}",
		"{\"seq\":1.5}", "{\"seq\":1e3}", "{\"seq\":0}", "{\"seq\":-4}", "{\"seq\":null}",
		"{\"seq\":true}", "{\"seq\":{\"n\":1}}", "{\"seq\":99999999999999999999}",
		"{\"seq\":9223372036854775807}", "{\"seq\":1}x", "{\"seq\":1}{\"seq\":2}",
		"{\"seq\":1", "{\"outcome\":{\"seq\":3}}",
	};
	char		error[128];

	(void) state;
	assert_int_equal(parse("{\"seq\":1}", error), 1);
	assert_int_equal(parse("{\"id\":42,\"seq\":17,\"status\":\"applied\",\"message\":{\"seq\":2}}",
						   error), 17);
	assert_int_equal(parse(" {\"seq\" : 9223372036854775806}\n", error), INT64_C(9223372036854775806));
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
	{
		error[0] = '\0';
		if (parse(refused[i], error) != -1)
			fail_msg("accepted %s", refused[i]);
		assert_true(strlen(error) > 0);
	}
	assert_int_equal(parse(NULL, error), -1);
	assert_non_null(strstr(error, "JSON"));
	parse("{\"id\":1}", error);
	assert_string_equal(error, "the value has no \"seq\"");
}

static void
test_skip_rule_per_partition(void **state)
{
	OutcomeRoute route;

	(void) state;
	outcome_route_init(&route, 4);
	assert_int_equal(outcome_route_resume_after(&route), 0);
	route.last_seq[0] = 10;
	route.last_seq[1] = 0;
	route.last_seq[2] = 7;
	route.last_seq[3] = 3;
	assert_int_equal(outcome_route_resume_after(&route), 0);

	assert_false(outcome_route_must_produce(&route, 0, 9));
	assert_false(outcome_route_must_produce(&route, 0, 10));
	assert_true(outcome_route_must_produce(&route, 0, 11));
	assert_true(outcome_route_must_produce(&route, 1, 1));
	assert_false(outcome_route_must_produce(&route, 2, 7));
	assert_true(outcome_route_must_produce(&route, 3, 4));

	outcome_route_published(&route, 1, 5);
	assert_int_equal(route.last_seq[1], 5);
	assert_int_equal(outcome_route_resume_after(&route), 3);
	outcome_route_published(&route, 1, 4);	/* never goes back */
	assert_int_equal(route.last_seq[1], 5);
	assert_false(outcome_route_must_produce(&route, 1, 5));
	outcome_route_published(&route, 3, 12);
	assert_int_equal(outcome_route_resume_after(&route), 5);
	outcome_route_free(&route);
}

static void
test_window_start(void **state)
{
	(void) state;
	assert_int_equal(outcome_route_window_start(0, 100, 64), 36);
	assert_int_equal(outcome_route_window_start(50, 100, 64), 50);
	assert_int_equal(outcome_route_window_start(0, 10, 64), 0);
	assert_int_equal(outcome_route_window_start(36, 100, 64), 36);
	assert_int_equal(outcome_route_window_start(0, 1000, 128), 872);
}

/* A partition of the modelled outcome topic: the seqs it holds, in order. */
typedef struct ModelPartition
{
	int64_t    *seqs;
	int			count;
} ModelPartition;

#define MODEL_ROWS 2000
#define MODEL_PARTITIONS 5

/* The row of seq: its key and source partition (-1: none), from a fixed pattern. */
static int32_t
model_route(int64_t seq)
{
	char		key[32];
	int32_t		source = (int32_t) ((seq * 7919) % 9) - 1;	/* -1 to 7: none, had, had not */

	snprintf(key, sizeof(key), "%lld", (long long) (seq * 31 + 5));
	return outcome_route_partition(MODEL_PARTITIONS, source >= 0, source, key, strlen(key));
}

/*
 * Publish from the ledger's resume point with the skip rule, as the
 * publisher does after recovery, but keep only the first keep[p] messages
 * produced to each partition (the rest lost by a crash or an abort on a
 * broker that shows aborted messages); keep[p] < 0 keeps all.
 */
static void
model_publish(ModelPartition *partitions, const int *keep)
{
	OutcomeRoute route;
	int			produced[MODEL_PARTITIONS] = {0};

	outcome_route_init(&route, MODEL_PARTITIONS);
	for (int p = 0; p < MODEL_PARTITIONS; p++)
		if (partitions[p].count > 0)
			route.last_seq[p] = partitions[p].seqs[partitions[p].count - 1];
	for (int64_t seq = outcome_route_resume_after(&route) + 1; seq <= MODEL_ROWS; seq++)
	{
		int32_t		p = model_route(seq);

		if (!outcome_route_must_produce(&route, p, seq))
			continue;
		if (keep[p] >= 0 && produced[p]++ >= keep[p])
			continue;
		partitions[p].seqs[partitions[p].count++] = seq;
	}
	outcome_route_free(&route);
}

static void
test_crash_model_exactly_once(void **state)
{
	ModelPartition partitions[MODEL_PARTITIONS];
	int			keep[MODEL_PARTITIONS];
	int			seen[MODEL_ROWS + 1];

	(void) state;
	srand(12345);
	for (int round = 0; round < 200; round++)
	{
		for (int p = 0; p < MODEL_PARTITIONS; p++)
		{
			partitions[p].seqs = calloc(MODEL_ROWS, sizeof(int64_t));
			partitions[p].count = 0;
		}
		/* up to three crashes, each keeping a random prefix of what each partition got */
		for (int crash = 0; crash < 3; crash++)
		{
			for (int p = 0; p < MODEL_PARTITIONS; p++)
				keep[p] = rand() % (MODEL_ROWS / MODEL_PARTITIONS);
			model_publish(partitions, keep);
		}
		for (int p = 0; p < MODEL_PARTITIONS; p++)
			keep[p] = -1;
		model_publish(partitions, keep);

		memset(seen, 0, sizeof(seen));
		for (int p = 0; p < MODEL_PARTITIONS; p++)
		{
			for (int i = 0; i < partitions[p].count; i++)
			{
				int64_t		seq = partitions[p].seqs[i];

				assert_int_equal(model_route(seq), p);
				if (i > 0)
					assert_true(seq > partitions[p].seqs[i - 1]);
				seen[seq]++;
			}
			free(partitions[p].seqs);
		}
		for (int seq = 1; seq <= MODEL_ROWS; seq++)
			if (seen[seq] != 1)
				fail_msg("round %d: seq %d published %d times", round, seq, seen[seq]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_source_partition_when_the_topic_has_it),
		cmocka_unit_test(test_murmur2_otherwise),
		cmocka_unit_test(test_murmur2_is_deterministic),
		cmocka_unit_test(test_parse_seq),
		cmocka_unit_test(test_skip_rule_per_partition),
		cmocka_unit_test(test_window_start),
		cmocka_unit_test(test_crash_model_exactly_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
