/*
 * pg_error.h
 *		What a failed PostgreSQL operation means to axs-feeder: the error as
 *		PostgreSQL reported it (SQLSTATE, primary message, detail) and its
 *		class, which decides what the feeder does next: the partition fence
 *		(40001 from axs.feeder_advance: re-read the stored offsets), a
 *		transient error (retry with backoff) or a permanent one (retrying
 *		cannot fix it: stop after a bounded number of tries).
 *
 * Pure: no libpq calls.  pg_sink fills a PgError from a result or from a
 * failed connection; the feeder decides.
 */
#ifndef AXS_FEEDER_PG_ERROR_H
#define AXS_FEEDER_PG_ERROR_H

#include <stdbool.h>
#include <stddef.h>

typedef enum PgErrorClass
{
	PG_ERROR_FENCED,			/* 40001: another offset is stored now */
	PG_ERROR_TRANSIENT,			/* retrying can succeed */
	PG_ERROR_PERMANENT			/* retrying cannot fix it */
} PgErrorClass;

typedef struct PgError
{
	PgErrorClass error_class;
	char		sqlstate[6];	/* "" when PostgreSQL sent none (libpq's own) */
	char		message[512];	/* primary message, one line */
	char		detail[512];	/* "" if none */
} PgError;

/*
 * The class of a SQLSTATE; NULL or "" (the connection broke, the server
 * could not be reached, libpq failed by itself) is transient.
 */
extern PgErrorClass pg_error_classify(const char *sqlstate);

/* "fenced", "transient" or "permanent". */
extern const char *pg_error_class_name(PgErrorClass error_class);

/*
 * Fill error from the parts of an error report (any may be NULL), with
 * trailing newlines removed, and classify it.
 */
extern void pg_error_set(PgError *error, const char *sqlstate, const char *message,
						 const char *detail);

/*
 * Fill error from libpq's message for a failed connection, made with
 * PQERRORS_VERBOSE so that a report from the server carries its SQLSTATE
 * ("...: FATAL:  28P01: password authentication failed ...").  The
 * SQLSTATE, when present, is taken from there; LOCATION lines are left out.
 */
extern void pg_error_set_from_connection(PgError *error, const char *libpq_message);

/* "SQLSTATE 42501: message (DETAIL: detail)" or just the message. */
extern void pg_error_format(const PgError *error, char *out, size_t out_size);

#endif							/* AXS_FEEDER_PG_ERROR_H */
