/*
 * test_offsets_for_time.c
 *		cmocka tests of what axs-feeder --offsets-for-time prints for a
 *		partition: the offset Kafka found and the axs.feeder_rewind call, or
 *		that nothing needs replaying; and the time it prints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "offsets_for_time.h"

static void
test_lines(void **state)
{
	char		out[1024];

	(void) state;
	offsets_for_time_format(out, sizeof(out), "axs.events", 3, 1234, 5000,
							"2024-05-01T12:00:00.000Z");
	assert_string_equal(out,
						"-- axs.events[3]: offset 1234 is the first at or after "
						"2024-05-01T12:00:00.000Z (end offset 5000)\n"
						"SELECT * FROM axs.feeder_rewind('axs.events', 3, 1234);\n");
	offsets_for_time_format(out, sizeof(out), "it's", 0, -1, 77, "T");
	assert_string_equal(out, "-- it's[0]: no message at or after T (end offset 77): "
						"nothing to replay\n");
	offsets_for_time_format(out, sizeof(out), "it's", 1, 0, 77, "T");
	assert_string_equal(out, "-- it's[1]: offset 0 is the first at or after T (end offset 77)\n"
						"SELECT * FROM axs.feeder_rewind('it''s', 1, 0);\n");
}

static void
test_time(void **state)
{
	char		out[64];

	(void) state;
	offsets_for_time_format_time(out, sizeof(out), INT64_C(1714564800123));
	assert_string_equal(out, "2024-05-01T12:00:00.123Z");
	offsets_for_time_format_time(out, sizeof(out), 0);
	assert_string_equal(out, "1970-01-01T00:00:00.000Z");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
