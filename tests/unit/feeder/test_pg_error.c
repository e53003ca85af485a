/*
 * test_pg_error.c
 *		cmocka tests of the feeder's error classification: which SQLSTATEs
 *		are the fence, transient or permanent, and how a failed connection's
 *		verbose libpq message yields its SQLSTATE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pg_error.h"

static void
test_classes(void **state)
{
	static const char *const transient[] = {
		"08006", "08001", "40P01", "53300", "53100", "55P03", "57P01", "57P02",
		"57P03", "57014", "58030", "25006", "72000", "", NULL
	};
	static const char *const permanent[] = {
		"23505", "23502", "42501", "42P01", "42883", "22P02", "22023", "28P01",
		"28000", "2BP01", "3D000", "3F000", "0A000", "54000", "P0001", "XX000",
		"XX001", "57P04", "25P02", NULL
	};

	(void) state;
	assert_int_equal(pg_error_classify("40001"), PG_ERROR_FENCED);
	assert_int_equal(pg_error_classify(NULL), PG_ERROR_TRANSIENT);
	for (int i = 0; transient[i] != NULL; i++)
		if (pg_error_classify(transient[i]) != PG_ERROR_TRANSIENT)
			fail_msg("%s should be transient", transient[i]);
	for (int i = 0; permanent[i] != NULL; i++)
		if (pg_error_classify(permanent[i]) != PG_ERROR_PERMANENT)
			fail_msg("%s should be permanent", permanent[i]);
	assert_string_equal(pg_error_class_name(PG_ERROR_FENCED), "fenced");
	assert_string_equal(pg_error_class_name(PG_ERROR_PERMANENT), "permanent");
}

static void
test_set_and_format(void **state)
{
	PgError		error;
	char		text[1200];

	(void) state;
	pg_error_set(&error, "23505", "writing the batch: duplicate key value violates unique "
				 "constraint \"dead_letters_pkey\"\n",
				 "Key (topic, partition, \"offset\")=(t, 0, 3) already exists.");
	assert_int_equal(error.error_class, PG_ERROR_PERMANENT);
	pg_error_format(&error, text, sizeof(text));
	assert_string_equal(text, "SQLSTATE 23505: writing the batch: duplicate key value violates "
						"unique constraint \"dead_letters_pkey\" (DETAIL: Key (topic, partition, "
						"\"offset\")=(t, 0, 3) already exists.)");

	pg_error_set(&error, NULL, "server closed the connection unexpectedly\n\tThis probably "
				 "means the server terminated abnormally\n", NULL);
	assert_int_equal(error.error_class, PG_ERROR_TRANSIENT);
	pg_error_format(&error, text, sizeof(text));
	assert_string_equal(text, "server closed the connection unexpectedly  This probably means "
						"the server terminated abnormally");

	pg_error_set(&error, NULL, NULL, NULL);
	assert_string_equal(error.message, "unknown error");
}

static void
test_connection_messages(void **state)
{
	PgError		error;

	(void) state;
	pg_error_set_from_connection(&error,
								 "connection to server on socket \"/tmp/.s.PGSQL.5432\" failed: "
								 "FATAL:  28000: role \"nobody\" does not exist\n"
								 "LOCATION:  InitializeSessionUserId, miscinit.c:694\n");
	assert_string_equal(error.sqlstate, "28000");
	assert_int_equal(error.error_class, PG_ERROR_PERMANENT);
	assert_null(strstr(error.message, "LOCATION"));
	assert_non_null(strstr(error.message, "role \"nobody\" does not exist"));

	/* a translated severity still carries the code */
	pg_error_set_from_connection(&error, "connection to server at \"db\" (10.0.0.1), port 5432 "
								 "failed: SCHWERWIEGEND:  57P03: das Datenbanksystem startet\n");
	assert_string_equal(error.sqlstate, "57P03");
	assert_int_equal(error.error_class, PG_ERROR_TRANSIENT);

	/* the first of several hosts refused, the second answered */
	pg_error_set_from_connection(&error,
								 "connection to server at \"a\" (10.0.0.1), port 5432 failed: "
								 "Connection refused\n\tIs the server running on that host?\n"
								 "connection to server at \"b\" (10.0.0.2), port 5432 failed: "
								 "FATAL:  3D000: database \"nope\" does not exist\n");
	assert_string_equal(error.sqlstate, "3D000");
	assert_int_equal(error.error_class, PG_ERROR_PERMANENT);
	assert_non_null(strstr(error.message, "Connection refused; "));

	/* no server reached: no SQLSTATE, transient; a colon in a path is no code */
	pg_error_set_from_connection(&error, "connection to server on socket \"/run/pg:  X/"
								 ".s.PGSQL.5432\" failed: No such file or directory\n");
	assert_string_equal(error.sqlstate, "");
	assert_int_equal(error.error_class, PG_ERROR_TRANSIENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_set_and_format),
		cmocka_unit_test(test_connection_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
