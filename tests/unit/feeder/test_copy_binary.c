/*
 * test_copy_binary.c
 *		cmocka tests of the binary COPY encoder: fixed golden bytes (always
 *		run) and a byte-for-byte comparison with what PostgreSQL itself
 *		writes for COPY ... TO STDOUT (FORMAT binary) (run when PGHOST or
 *		PGPORT is set, skipped otherwise).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "copy_binary.h"

/* 2024-01-02 03:04:05.678901 UTC in microseconds since 2000-01-01. */
#define SAMPLE_TIMESTAMP INT64_C(757479845678901)

static void
print_hex_diff(const uint8_t *expected, size_t expected_length,
			   const uint8_t *actual, size_t actual_length)
{
	size_t		i;
	size_t		longest = expected_length > actual_length ? expected_length : actual_length;

	fprintf(stderr, "offset expected actual\n");
	for (i = 0; i < longest; i++)
	{
		int			e = i < expected_length ? expected[i] : -1;
		int			a = i < actual_length ? actual[i] : -1;

		fprintf(stderr, "%6zu %8d %6d%s\n", i, e, a, e != a ? "   <--" : "");
	}
}

static void
assert_bytes_equal(const uint8_t *expected, size_t expected_length,
				   const uint8_t *actual, size_t actual_length)
{
	if (expected_length != actual_length ||
		memcmp(expected, actual, expected_length) != 0)
	{
		print_hex_diff(expected, expected_length, actual, actual_length);
		fail_msg("COPY bytes differ");
	}
}

/* One tuple of every field kind the feeder writes. */
static void
encode_sample(CopyBuffer *buffer)
{
	static const uint8_t payload[] = {0x01, 0x02};

	copy_binary_put_header(buffer);
	copy_binary_put_tuple_begin(buffer, 6);
	copy_binary_put_int64(buffer, 42);
	copy_binary_put_bytes(buffer, payload, sizeof(payload));
	copy_binary_put_timestamptz(buffer, SAMPLE_TIMESTAMP);
	copy_binary_put_null(buffer);
	copy_binary_put_int32(buffer, -7);
	copy_binary_put_bytes(buffer, "ev", 2);
	copy_binary_put_trailer(buffer);
}

static void
test_golden_bytes(void **state)
{
	static const uint8_t expected[] = {
		'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0x00,
		0, 0, 0, 0,				/* flags */
		0, 0, 0, 0,				/* header extension */
		0, 6,					/* field count */
		0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 42,
		0, 0, 0, 2, 0x01, 0x02,
		0, 0, 0, 8, 0x00, 0x02, 0xb0, 0xec, 0x85, 0x20, 0x4f, 0x35,
		0xff, 0xff, 0xff, 0xff, /* NULL */
		0, 0, 0, 4, 0xff, 0xff, 0xff, 0xf9,
		0, 0, 0, 2, 'e', 'v',
		0xff, 0xff				/* trailer */
	};
	CopyBuffer	buffer;

	(void) state;
	copy_buffer_init(&buffer);
	encode_sample(&buffer);
	assert_bytes_equal(expected, sizeof(expected), buffer.data, buffer.length);
	copy_buffer_free(&buffer);
}

static void
test_timestamp_conversion(void **state)
{
	(void) state;
	assert_int_equal(copy_binary_timestamptz_from_unix_ms(INT64_C(946684800000)), 0);
	assert_int_equal(copy_binary_timestamptz_from_unix_ms(INT64_C(1704164645678)),
					 INT64_C(757479845678000));
	assert_int_equal(copy_binary_timestamptz_from_unix_ms(0),
					 -COPY_POSTGRES_EPOCH_OFFSET_USEC);
}

static void
test_buffer_growth(void **state)
{
	CopyBuffer	buffer;
	int			i;

	(void) state;
	copy_buffer_init(&buffer);
	copy_binary_put_header(&buffer);
	for (i = 0; i < 100000; i++)
	{
		copy_binary_put_tuple_begin(&buffer, 1);
		copy_binary_put_int64(&buffer, i);
	}
	copy_binary_put_trailer(&buffer);
	assert_int_equal(buffer.length, 19 + 100000 * (2 + 4 + 8) + 2);
	/* last tuple's value is 99999 */
	assert_int_equal(buffer.data[buffer.length - 3], 99999 & 0xff);
	copy_buffer_reset(&buffer);
	assert_int_equal(buffer.length, 0);
	copy_buffer_free(&buffer);
}

static void
test_matches_postgresql(void **state)
{
	static const char query[] =
		"COPY (SELECT 42::int8, '\\x0102'::bytea,"
		" '2024-01-02 03:04:05.678901+00'::timestamptz, NULL::bytea,"
		" (-7)::int4, 'ev'::text) TO STDOUT (FORMAT binary)";
	CopyBuffer	ours;
	uint8_t    *theirs_data;
	size_t		theirs_length;
	PGconn	   *connection;
	PGresult   *result;
	char	   *chunk;
	int			length;

	(void) state;
	if (getenv("PGHOST") == NULL && getenv("PGPORT") == NULL)
	{
		fprintf(stderr, "skipping the PostgreSQL comparison: set PGHOST/PGPORT "
				"(and PGUSER) to run it against a live server\n");
		skip();
	}
	connection = PQconnectdb("dbname=postgres");
	if (PQstatus(connection) != CONNECTION_OK)
		fail_msg("cannot connect: %s", PQerrorMessage(connection));
	result = PQexec(connection, query);
	assert_int_equal(PQresultStatus(result), PGRES_COPY_OUT);
	PQclear(result);

	theirs_data = NULL;
	theirs_length = 0;
	while ((length = PQgetCopyData(connection, &chunk, 0)) > 0)
	{
		theirs_data = realloc(theirs_data, theirs_length + (size_t) length);
		assert_non_null(theirs_data);
		memcpy(theirs_data + theirs_length, chunk, (size_t) length);
		theirs_length += (size_t) length;
		PQfreemem(chunk);
	}
	assert_int_equal(length, -1);
	result = PQgetResult(connection);
	assert_int_equal(PQresultStatus(result), PGRES_COMMAND_OK);
	PQclear(result);
	PQfinish(connection);

	copy_buffer_init(&ours);
	encode_sample(&ours);
	assert_bytes_equal(theirs_data, theirs_length, ours.data, ours.length);
	copy_buffer_free(&ours);
	free(theirs_data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_bytes),
		cmocka_unit_test(test_timestamp_conversion),
		cmocka_unit_test(test_buffer_growth),
		cmocka_unit_test(test_matches_postgresql),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
