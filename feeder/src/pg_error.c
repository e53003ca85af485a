/*
 * pg_error.c
 *		Classification of PostgreSQL errors for axs-feeder (see pg_error.h).
 *
 * Transient: what a restart, a failover, an administrator or contention
 * causes and what goes away by itself: connection exceptions (08), the
 * transaction rollback class (40, 40001 being the fence), insufficient
 * resources (53), object in use or locked (55), operator intervention (57,
 * shutdowns, cancels, "cannot connect now"), system errors (58), a
 * read-only transaction (25006, a standby reached during a failover), and
 * no SQLSTATE at all.  Everything else is permanent: integrity (23), syntax,
 * privileges and missing objects (42), data (22), authorization (28, 2B),
 * missing database or schema (3D, 3F), a dropped database (57P04),
 * internal errors (XX), ...: a batch that failed with one of these fails
 * again the same way.
 */
#include "pg_error.h"

#include <stdio.h>
#include <string.h>

#define SQLSTATE_LENGTH 5

static const char *const transient_classes[] = {"08", "40", "53", "55", "57", "58"};
static const char *const transient_codes[] = {"25006", "72000"};
static const char *const permanent_codes[] = {"57P04"};

static bool
sqlstate_in(const char *sqlstate, const char *const *list, size_t count, size_t length)
{
	size_t		i;

	for (i = 0; i < count; i++)
		if (strncmp(sqlstate, list[i], length) == 0)
			return true;
	return false;
}

PgErrorClass
pg_error_classify(const char *sqlstate)
{
	if (sqlstate == NULL || sqlstate[0] == '\0')
		return PG_ERROR_TRANSIENT;
	if (strcmp(sqlstate, "40001") == 0)
		return PG_ERROR_FENCED;
	if (sqlstate_in(sqlstate, permanent_codes,
					sizeof(permanent_codes) / sizeof(permanent_codes[0]), SQLSTATE_LENGTH))
		return PG_ERROR_PERMANENT;
	if (sqlstate_in(sqlstate, transient_codes,
					sizeof(transient_codes) / sizeof(transient_codes[0]), SQLSTATE_LENGTH) ||
		sqlstate_in(sqlstate, transient_classes,
					sizeof(transient_classes) / sizeof(transient_classes[0]), 2))
		return PG_ERROR_TRANSIENT;
	return PG_ERROR_PERMANENT;
}

const char *
pg_error_class_name(PgErrorClass error_class)
{
	switch (error_class)
	{
		case PG_ERROR_FENCED:
			return "fenced";
		case PG_ERROR_TRANSIENT:
			return "transient";
		case PG_ERROR_PERMANENT:
			return "permanent";
	}
	return "?";
}

/* Copy text into out, newlines and tabs made spaces, trailing ones dropped. */
static void
copy_one_line(char *out, size_t out_size, const char *text, size_t length)
{
	size_t		used = 0;
	size_t		i;

	for (i = 0; i < length && used + 1 < out_size; i++)
		out[used++] = (text[i] == '\n' || text[i] == '\t') ? ' ' : text[i];
	while (used > 0 && out[used - 1] == ' ')
		used--;
	out[used] = '\0';
}

void
pg_error_set(PgError *error, const char *sqlstate, const char *message, const char *detail)
{
	snprintf(error->sqlstate, sizeof(error->sqlstate), "%s", sqlstate ? sqlstate : "");
	copy_one_line(error->message, sizeof(error->message), message ? message : "",
				  message ? strlen(message) : 0);
	if (error->message[0] == '\0')
		snprintf(error->message, sizeof(error->message), "unknown error");
	copy_one_line(error->detail, sizeof(error->detail), detail ? detail : "",
				  detail ? strlen(detail) : 0);
	error->error_class = pg_error_classify(error->sqlstate);
}

static bool
is_sqlstate_character(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

/*
 * Find "<severity>:  <SQLSTATE>: " in a verbose report (the SQLSTATE is
 * five characters); the severity word may be translated, the two spaces
 * and the code are not.
 */
static const char *
find_sqlstate(const char *text)
{
	const char *p;

	for (p = strstr(text, ":  "); p != NULL; p = strstr(p + 1, ":  "))
	{
		const char *code = p + 3;
		int			i;

		for (i = 0; i < SQLSTATE_LENGTH && is_sqlstate_character(code[i]); i++)
			;
		if (i == SQLSTATE_LENGTH && code[SQLSTATE_LENGTH] == ':')
			return code;
	}
	return NULL;
}

void
pg_error_set_from_connection(PgError *error, const char *libpq_message)
{
	char		kept[1024];
	size_t		used = 0;
	const char *line = libpq_message ? libpq_message : "";
	const char *code = find_sqlstate(line);
	char		sqlstate[SQLSTATE_LENGTH + 1] = "";

	if (code != NULL)
		memcpy(sqlstate, code, SQLSTATE_LENGTH);
	/* every line but LOCATION's, joined */
	while (*line != '\0')
	{
		const char *end = strchr(line, '\n');
		size_t		line_length = end ? (size_t) (end - line) : strlen(line);
		size_t		room = sizeof(kept) - 1 - used;

		if (line_length > 0 && strncmp(line, "LOCATION:", 9) != 0 && room > 2)
		{
			if (used > 0)
			{
				kept[used++] = ';';
				kept[used++] = ' ';
				room -= 2;
			}
			memcpy(kept + used, line, line_length < room ? line_length : room);
			used += line_length < room ? line_length : room;
		}
		line += line_length;
		if (*line == '\n')
			line++;
	}
	kept[used] = '\0';
	pg_error_set(error, sqlstate, kept, NULL);
}

void
pg_error_format(const PgError *error, char *out, size_t out_size)
{
	if (error->sqlstate[0] != '\0')
		snprintf(out, out_size, "SQLSTATE %s: %s%s%s%s", error->sqlstate, error->message,
				 error->detail[0] ? " (DETAIL: " : "", error->detail,
				 error->detail[0] ? ")" : "");
	else
		snprintf(out, out_size, "%s%s%s%s", error->message,
				 error->detail[0] ? " (DETAIL: " : "", error->detail,
				 error->detail[0] ? ")" : "");
}
