/*
 * pg_sink.c
 *		PostgreSQL side of axs-feeder (see pg_sink.h).
 *
 * The compare-and-set in axs.feeder_advance is what makes a batch exactly
 * once: it commits only if every partition's stored offset is still the one
 * this feeder last wrote (or read).  The advisory locks are a second fence,
 * mostly useful to see in pg_locks which session feeds which partition.
 *
 * By default a batch commits with synchronous_commit off: its COMMIT does
 * not wait for the WAL flush.  That loses nothing.  The batch's rows and
 * its offsets are one transaction, so a crash that loses the commit loses
 * both, and the feeder, which re-reads the stored offsets after every
 * failure, consumes those messages again from Kafka.  A crash keeps a
 * prefix of the WAL, so whatever survives of the batches, the applier's
 * batches and axs.submit's appends stays consistent, and the applier's
 * commits (synchronous unless the server is set otherwise) come later in
 * the WAL than every batch they applied: flushing one flushes those.  Kafka's
 * own committed offsets and the feeder's write counters may run ahead after
 * such a crash; they only serve monitoring.
 */
#include "pg_sink.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

/* Largest piece handed to PQputCopyData, so libpq's buffer stays small. */
#define COPY_CHUNK_BYTES (256 * 1024)

/* Longest single wait on the socket, so that a stop request is seen. */
#define POLL_SLICE_MS 100

/* Know of a topic (not resolved yet); returns its entry.  Topics are few. */
static PgSinkTopic *
pg_sink_add_topic(PgSink *sink, const char *name)
{
	PgSinkTopic *topics = realloc(sink->topics, sizeof(PgSinkTopic) * (size_t) (sink->topic_count + 1));
	char	   *name_copy = strdup(name);

	if (topics == NULL || name_copy == NULL)
	{
		fprintf(stderr, "axs-feeder: out of memory for the topic ids\n");
		abort();
	}
	sink->topics = topics;
	topics[sink->topic_count].name = name_copy;
	topics[sink->topic_count].id = 0;
	topics[sink->topic_count].resolved = false;
	return &topics[sink->topic_count++];
}

void
pg_sink_init(PgSink *sink, const char *conninfo, bool synchronous_commit,
			 char *const *topics, int topic_count, volatile sig_atomic_t *running)
{
	memset(sink, 0, sizeof(*sink));
	sink->conninfo = strdup(conninfo);
	sink->synchronous_commit = synchronous_commit;
	sink->running = running;
	for (int i = 0; i < topic_count; i++)
		if (topics[i][0] != '^')
			pg_sink_add_topic(sink, topics[i]);
}

uint64_t
pg_sink_session(const PgSink *sink)
{
	return __atomic_load_n(&sink->session, __ATOMIC_ACQUIRE);
}

void
pg_sink_close(PgSink *sink)
{
	if (sink->connection != NULL)
		PQfinish(sink->connection);
	sink->connection = NULL;
	free(sink->conninfo);
	sink->conninfo = NULL;
	for (int i = 0; i < sink->topic_count; i++)
		free(sink->topics[i].name);
	free(sink->topics);
	sink->topics = NULL;
	sink->topic_count = 0;
}

void
pg_sink_disconnect(PgSink *sink)
{
	if (sink->connection != NULL)
		PQfinish(sink->connection);
	sink->connection = NULL;
}

/* Milliseconds since a stop was first asked; -1 while running. */
static int64_t
pg_sink_stopping_for_ms(PgSink *sink)
{
	int64_t		now = clock_monotonic_ms();

	if (*sink->running)
	{
		sink->stop_seen_ms = 0;
		return -1;
	}
	if (sink->stop_seen_ms == 0)
		sink->stop_seen_ms = now;
	return now - sink->stop_seen_ms;
}

/* Wait up to POLL_SLICE_MS for the socket; true when it is ready. */
static bool
pg_sink_poll_socket(PGconn *connection, bool for_reading)
{
	struct pollfd socket_poll;

	socket_poll.fd = PQsocket(connection);
	socket_poll.events = for_reading ? POLLIN : POLLOUT;
	socket_poll.revents = 0;
	if (socket_poll.fd < 0)
		return true;			/* let libpq report the broken connection */
	return poll(&socket_poll, 1, POLL_SLICE_MS) > 0;
}

/* The connect_timeout the conninfo asks for, in milliseconds, or the default. */
static int64_t
pg_sink_connect_timeout_ms(PGconn *connection)
{
	PQconninfoOption *options = PQconninfo(connection);
	int64_t		timeout_s = PG_SINK_DEFAULT_CONNECT_TIMEOUT_S;

	for (PQconninfoOption *option = options; option != NULL && option->keyword != NULL; option++)
		if (strcmp(option->keyword, "connect_timeout") == 0 && option->val != NULL &&
			atoi(option->val) > 0)
			timeout_s = atoi(option->val) < 2 ? 2 : atoi(option->val);
	PQconninfoFree(options);
	return timeout_s * 1000;
}

/*
 * Open a connection with libpq's asynchronous calls, so that neither a
 * server that does not answer nor a stop request can hold the caller:
 * gives up after connect_timeout (PG_SINK_DEFAULT_CONNECT_TIMEOUT_S when
 * the conninfo has none) or PG_SINK_STOP_GRACE_MS after a stop request.
 * Errors are made verbose while connecting, so that the server's SQLSTATE
 * (28P01, 3D000, 57P03, ...) reaches last_error.
 */
static PGconn *
pg_sink_connect(PgSink *sink)
{
	const char *keywords[] = {"dbname", "fallback_application_name", NULL};
	const char *values[] = {sink->conninfo, "axs-feeder", NULL};
	PGconn	   *connection = PQconnectStartParams(keywords, values, 1);
	PostgresPollingStatusType polling = PGRES_POLLING_WRITING;
	int64_t		deadline_ms;

	if (connection == NULL)
	{
		pg_error_set(&sink->last_error, NULL, "out of memory starting a connection", NULL);
		return NULL;
	}
	PQsetErrorVerbosity(connection, PQERRORS_VERBOSE);
	deadline_ms = clock_monotonic_ms() + pg_sink_connect_timeout_ms(connection);
	while (PQstatus(connection) != CONNECTION_BAD &&
		   polling != PGRES_POLLING_OK && polling != PGRES_POLLING_FAILED)
	{
		int64_t		stopping_for;

		if (pg_sink_poll_socket(connection, polling == PGRES_POLLING_READING))
		{
			polling = PQconnectPoll(connection);
			continue;
		}
		stopping_for = pg_sink_stopping_for_ms(sink);
		if (stopping_for >= PG_SINK_STOP_GRACE_MS)
		{
			pg_error_set(&sink->last_error, NULL,
						 "stopping: gave up connecting to PostgreSQL", NULL);
			PQfinish(connection);
			return NULL;
		}
		if (clock_monotonic_ms() >= deadline_ms)
		{
			pg_error_set(&sink->last_error, NULL,
						 "connecting to PostgreSQL timed out (connect_timeout)", NULL);
			PQfinish(connection);
			return NULL;
		}
	}
	if (PQstatus(connection) != CONNECTION_OK)
	{
		pg_error_set_from_connection(&sink->last_error, PQerrorMessage(connection));
		PQfinish(connection);
		return NULL;
	}
	PQsetErrorVerbosity(connection, PQERRORS_DEFAULT);
	return connection;
}

static bool pg_sink_resolve_topics(PgSink *sink);

bool
pg_sink_ensure_connected(PgSink *sink, bool *new_session)
{
	*new_session = false;
	if (sink->connection != NULL && PQstatus(sink->connection) == CONNECTION_OK)
		return true;
	pg_sink_disconnect(sink);

	sink->connection = pg_sink_connect(sink);
	if (sink->connection == NULL)
		return false;
	if (!pg_sink_resolve_topics(sink))
	{
		/* the next call starts a session afresh */
		pg_sink_disconnect(sink);
		return false;
	}
	if (sink->connected_before)
		metrics_count_db_reconnect();
	sink->connected_before = true;
	__atomic_add_fetch(&sink->session, 1, __ATOMIC_RELEASE);
	*new_session = true;
	return true;
}

/*
 * Wait until the next result can be read without blocking.  After a stop
 * request the statement gets PG_SINK_STOP_GRACE_MS to finish, is then
 * cancelled, and if the server answers the cancel neither within as long
 * again, the wait gives up (false; the caller drops the connection).
 */
static bool
pg_sink_wait_for_result(PgSink *sink)
{
	PGconn	   *connection = sink->connection;
	bool		cancel_sent = false;

	while (PQisBusy(connection))
	{
		int64_t		stopping_for;

		if (pg_sink_poll_socket(connection, true))
		{
			if (!PQconsumeInput(connection))
				return true;	/* PQgetResult reports the broken connection */
			continue;
		}
		stopping_for = pg_sink_stopping_for_ms(sink);
		if (!cancel_sent && stopping_for >= PG_SINK_STOP_GRACE_MS)
		{
			PGcancel   *cancel = PQgetCancel(connection);
			char		error[256] = "";

			log_message("stopping: the statement still runs after %d ms; cancelling it "
						"(what it did not commit is consumed again at the next start)",
						PG_SINK_STOP_GRACE_MS);
			if (cancel == NULL || !PQcancel(cancel, error, sizeof(error)))
				log_message("cancel request failed: %s", error);
			if (cancel != NULL)
				PQfreeCancel(cancel);
			cancel_sent = true;
		}
		else if (stopping_for >= 2 * PG_SINK_STOP_GRACE_MS)
			return false;
	}
	return true;
}

/*
 * Send a query with text parameters and wait for its result as
 * pg_sink_wait_for_result does, in text (result_format 0) or binary (1);
 * NULL when the query could not be sent, or when the wait gave up (the
 * connection is then dropped).  Every result after the first is discarded.
 */
static PGresult *
pg_sink_exec_format(PgSink *sink, const char *sql, int parameter_count,
					const char *const *parameters, int result_format)
{
	PGresult   *first = NULL;
	PGresult   *result;

	if (!PQsendQueryParams(sink->connection, sql, parameter_count, NULL, parameters,
						   NULL, NULL, result_format))
		return NULL;
	while (pg_sink_wait_for_result(sink))
	{
		result = PQgetResult(sink->connection);
		if (result == NULL)
			return first;
		if (first == NULL)
			first = result;
		else
			PQclear(result);
	}
	PQclear(first);
	pg_sink_disconnect(sink);
	return NULL;
}

static PGresult *
pg_sink_exec(PgSink *sink, const char *sql, int parameter_count, const char *const *parameters)
{
	return pg_sink_exec_format(sink, sql, parameter_count, parameters, 0);
}

/*
 * Record why an operation failed (result NULL: libpq's own message) in
 * last_error, and leave no transaction open: a broken connection is
 * dropped, an open transaction rolled back.  The caller logs.
 */
static PgSinkStatus
pg_sink_failure(PgSink *sink, PGresult *result, const char *operation)
{
	char		message[512];

	if (result != NULL && PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) != NULL)
	{
		snprintf(message, sizeof(message), "%s: %s", operation,
				 PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY));
		pg_error_set(&sink->last_error, PQresultErrorField(result, PG_DIAG_SQLSTATE),
					 message, PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL));
	}
	else
	{
		const char *libpq_message = sink->connection ? PQerrorMessage(sink->connection) : "";

		snprintf(message, sizeof(message), "%s: %s", operation,
				 libpq_message[0] ? libpq_message : "connection lost");
		pg_error_set(&sink->last_error, NULL, message, NULL);
	}
	if (result != NULL)
		PQclear(result);

	if (sink->connection == NULL)
		return PG_SINK_FAILED;
	if (PQstatus(sink->connection) != CONNECTION_OK)
		pg_sink_disconnect(sink);
	else if (PQtransactionStatus(sink->connection) != PQTRANS_IDLE)
	{
		PGresult   *rollback = pg_sink_exec(sink, "ROLLBACK", 0, NULL);

		if (PQresultStatus(rollback) != PGRES_COMMAND_OK)
			pg_sink_disconnect(sink);
		PQclear(rollback);
	}
	return sink->last_error.error_class == PG_ERROR_FENCED ? PG_SINK_FENCED : PG_SINK_FAILED;
}

PgSinkStatus
pg_sink_query(PgSink *sink, const char *sql, int parameter_count,
			  const char *const *parameters, ExecStatusType expected, const char *what,
			  PGresult **result)
{
	return pg_sink_query_format(sink, sql, parameter_count, parameters, 0, expected, what, result);
}

PgSinkStatus
pg_sink_query_format(PgSink *sink, const char *sql, int parameter_count,
					 const char *const *parameters, int result_format, ExecStatusType expected,
					 const char *what, PGresult **result)
{
	*result = pg_sink_exec_format(sink, sql, parameter_count, parameters, result_format);
	if (PQresultStatus(*result) != expected)
	{
		PgSinkStatus status = pg_sink_failure(sink, *result, what);

		*result = NULL;
		return status;
	}
	return PG_SINK_OK;
}

/* Ask the ledger for a topic's id (registering the topic on first use). */
static PgSinkStatus
pg_sink_query_source_topic(PgSink *sink, PgSinkTopic *topic)
{
	const char *params[1] = {topic->name};
	PGresult   *result;

	if (pg_sink_query(sink, "SELECT axs.source_topic($1)", 1, params, PGRES_TUPLES_OK,
					  "resolving a topic's id (axs.source_topic)", &result) != PG_SINK_OK)
		return PG_SINK_FAILED;
	if (PQntuples(result) != 1 || PQgetisnull(result, 0, 0))
	{
		PQclear(result);
		pg_error_set(&sink->last_error, "22004", "axs.source_topic returned no id", NULL);
		return PG_SINK_FAILED;
	}
	topic->id = (int32_t) strtol(PQgetvalue(result, 0, 0), NULL, 10);
	topic->resolved = true;
	PQclear(result);
	return PG_SINK_OK;
}

/* A new session: forget every id and resolve each known topic again. */
static bool
pg_sink_resolve_topics(PgSink *sink)
{
	for (int i = 0; i < sink->topic_count; i++)
		sink->topics[i].resolved = false;
	for (int i = 0; i < sink->topic_count; i++)
		if (pg_sink_query_source_topic(sink, &sink->topics[i]) != PG_SINK_OK)
			return false;
	return true;
}

PgSinkStatus
pg_sink_source_topic(PgSink *sink, const char *name, int32_t *id)
{
	PgSinkTopic *topic = NULL;

	for (int i = 0; topic == NULL && i < sink->topic_count; i++)
		if (strcmp(sink->topics[i].name, name) == 0)
			topic = &sink->topics[i];
	if (topic == NULL)
		topic = pg_sink_add_topic(sink, name);
	if (!topic->resolved && pg_sink_query_source_topic(sink, topic) != PG_SINK_OK)
		return PG_SINK_FAILED;
	*id = topic->id;
	return PG_SINK_OK;
}

PgSinkStatus
pg_sink_fetch_offset(PgSink *sink, const char *topic, int32_t partition,
					 bool *has_stored, int64_t *next_offset)
{
	char		partition_text[16];
	const char *params[2];
	PGresult   *result;

	snprintf(partition_text, sizeof(partition_text), "%d", partition);
	params[0] = topic;
	params[1] = partition_text;
	result = pg_sink_exec(sink, "SELECT next_offset FROM axs.feeder_offsets"
						  " WHERE topic = $1 AND partition = $2", 2, params);
	if (PQresultStatus(result) != PGRES_TUPLES_OK)
		return pg_sink_failure(sink, result, "reading axs.feeder_offsets");
	*has_stored = PQntuples(result) > 0;
	*next_offset = *has_stored ? strtoll(PQgetvalue(result, 0, 0), NULL, 10) : 0;
	PQclear(result);
	return PG_SINK_OK;
}

PgSinkStatus
pg_sink_read_offset(PgSink *sink, OwnedPartition *owned)
{
	bool		has_stored;
	int64_t		next_offset;
	PgSinkStatus status = pg_sink_fetch_offset(sink, owned->topic, owned->partition,
											   &has_stored, &next_offset);

	if (status == PG_SINK_OK)
		partition_set_stored(owned, has_stored, next_offset);
	return status;
}

/* The two int4 advisory lock keys of a partition; stable across releases. */
static void
pg_sink_lock_keys(const char *topic, int32_t partition, int32_t *key1, int32_t *key2)
{
	static const char prefix[] = "axs-feeder:";
	uint32_t	hash = 2166136261u; /* 32-bit FNV-1a */
	const char *c;

	for (c = prefix; *c != '\0'; c++)
		hash = (hash ^ (uint8_t) *c) * 16777619u;
	for (c = topic; *c != '\0'; c++)
		hash = (hash ^ (uint8_t) *c) * 16777619u;
	*key1 = (int32_t) hash;
	*key2 = partition;
}

/* Run pg_try_advisory_lock or pg_advisory_unlock on a partition's keys. */
static PGresult *
pg_sink_advisory(PgSink *sink, const OwnedPartition *owned, const char *function)
{
	char		sql[96];
	char		key1_text[16];
	char		key2_text[16];
	const char *params[2];
	int32_t		key1;
	int32_t		key2;

	pg_sink_lock_keys(owned->topic, owned->partition, &key1, &key2);
	snprintf(key1_text, sizeof(key1_text), "%d", key1);
	snprintf(key2_text, sizeof(key2_text), "%d", key2);
	snprintf(sql, sizeof(sql), "SELECT %s($1::int4, $2::int4)", function);
	params[0] = key1_text;
	params[1] = key2_text;
	return pg_sink_exec(sink, sql, 2, params);
}

PgSinkStatus
pg_sink_lock_partition(PgSink *sink, OwnedPartition *owned)
{
	PGresult   *result;

	if (owned->lock_held)
		return PG_SINK_OK;
	result = pg_sink_advisory(sink, owned, "pg_try_advisory_lock");
	if (PQresultStatus(result) != PGRES_TUPLES_OK)
		return pg_sink_failure(sink, result, "pg_try_advisory_lock");
	owned->lock_held = strcmp(PQgetvalue(result, 0, 0), "t") == 0;
	PQclear(result);
	if (!owned->lock_held)
		log_message("advisory lock of %s[%d] is held by another session (an older feeder?)",
					owned->topic, owned->partition);
	return PG_SINK_OK;
}

void
pg_sink_unlock_partition(PgSink *sink, OwnedPartition *owned)
{
	PGresult   *result;

	if (!owned->lock_held)
		return;
	owned->lock_held = false;
	if (sink->connection == NULL)
		return;					/* the session and its locks are gone */
	result = pg_sink_advisory(sink, owned, "pg_advisory_unlock");
	if (PQresultStatus(result) != PGRES_TUPLES_OK)
	{
		char		text[1024];

		pg_sink_failure(sink, result, "pg_advisory_unlock");
		pg_error_format(&sink->last_error, text, sizeof(text));
		log_message("%s", text);
	}
	else
		PQclear(result);
}

/* A piece of a batch's COPY data: part of one of its CopyBuffers. */
typedef struct CopySlice
{
	const uint8_t *data;
	size_t		length;
} CopySlice;

/*
 * Send one COPY's data, slice_count slices in turn, and end it.  slices is
 * NULL when the server asks for more COPYs than the batch holds (it
 * cannot): the COPY is failed then.
 */
static bool
pg_sink_send_copy(PGconn *connection, const CopySlice *slices, int slice_count)
{
	if (slices == NULL)
	{
		PQputCopyEnd(connection, "axs-feeder: no data for this COPY");
		return false;
	}
	for (int i = 0; i < slice_count; i++)
	{
		for (size_t sent = 0; sent < slices[i].length;)
		{
			size_t		chunk = slices[i].length - sent;

			if (chunk > COPY_CHUNK_BYTES)
				chunk = COPY_CHUNK_BYTES;
			if (PQputCopyData(connection, (const char *) slices[i].data + sent, (int) chunk) != 1)
			{
				PQputCopyEnd(connection, "axs-feeder: sending COPY data failed");
				return false;
			}
			sent += chunk;
		}
	}
	if (PQputCopyEnd(connection, NULL) != 1)
	{
		log_message("ending COPY failed: %s", PQerrorMessage(connection));
		return false;
	}
	return true;
}

/* Append length bytes to a growing NUL-terminated text; aborts on out of memory. */
static void
text_append_bytes(char **text, size_t *length, size_t *capacity, const char *piece,
				  size_t piece_length)
{
	if (*length + piece_length + 1 > *capacity)
	{
		size_t		capacity_new = (*capacity ? *capacity * 2 : 1024) + piece_length;
		char	   *grown = realloc(*text, capacity_new);

		if (grown == NULL)
		{
			fprintf(stderr, "axs-feeder: out of memory\n");
			abort();
		}
		*text = grown;
		*capacity = capacity_new;
	}
	memcpy(*text + *length, piece, piece_length);
	*length += piece_length;
	(*text)[*length] = '\0';
}

/* Append a NUL-terminated piece to a growing text. */
static void
text_append(char **text, size_t *length, size_t *capacity, const char *piece)
{
	text_append_bytes(text, length, capacity, piece, strlen(piece));
}

/*
 * Append the statement that advances every range of the batch (one
 * statement however many partitions): axs.feeder_advance per row of four
 * arrays, written as quoted literals.  false if quoting failed.
 */
static bool
append_advance(PGconn *connection, const Batch *batch, char **sql, size_t *sql_length,
			   size_t *sql_capacity)
{
	char	   *arrays[4] = {NULL, NULL, NULL, NULL};
	size_t		lengths[4] = {0, 0, 0, 0};
	size_t		capacities[4] = {0, 0, 0, 0};
	static const char *const casts[4] = {"::text[]", "::int4[]", "::int8[]", "::int8[]"};
	bool		quoted = true;
	int			i;
	int			a;

	for (a = 0; a < 4; a++)
		text_append(&arrays[a], &lengths[a], &capacities[a], "{");
	for (i = 0; i < batch->range_count; i++)
	{
		const BatchRange *range = &batch->ranges[i];
		char		number[32];
		const char *separator = i > 0 ? "," : "";

		text_append(&arrays[0], &lengths[0], &capacities[0], separator);
		text_append(&arrays[0], &lengths[0], &capacities[0], "\"");
		text_append(&arrays[0], &lengths[0], &capacities[0], range->topic);
		text_append(&arrays[0], &lengths[0], &capacities[0], "\"");
		snprintf(number, sizeof(number), "%s%d", separator, range->partition);
		text_append(&arrays[1], &lengths[1], &capacities[1], number);
		if (range->has_expected)
			snprintf(number, sizeof(number), "%s%" PRId64, separator, range->expected_next);
		else
			snprintf(number, sizeof(number), "%sNULL", separator);
		text_append(&arrays[2], &lengths[2], &capacities[2], number);
		snprintf(number, sizeof(number), "%s%" PRId64, separator, range->next_offset);
		text_append(&arrays[3], &lengths[3], &capacities[3], number);
	}
	text_append(sql, sql_length, sql_capacity, "SELECT axs.feeder_advance(t, p, e, n) FROM unnest(");
	for (a = 0; a < 4; a++)
	{
		char	   *literal;

		text_append(&arrays[a], &lengths[a], &capacities[a], "}");
		/* Kafka topic names hold only [a-zA-Z0-9._-]; quote anyway */
		literal = PQescapeLiteral(connection, arrays[a], lengths[a]);
		if (literal == NULL)
			quoted = false;
		else
		{
			text_append(sql, sql_length, sql_capacity, a > 0 ? ", " : "");
			text_append(sql, sql_length, sql_capacity, literal);
			text_append(sql, sql_length, sql_capacity, casts[a]);
			PQfreemem(literal);
		}
		free(arrays[a]);
	}
	text_append(sql, sql_length, sql_capacity, ") AS r(t, p, e, n);");
	return quoted;
}

/*
 * One batch is one query string, "BEGIN; COPY ...; [INSERT INTO
 * axs.dead_letters ... ON CONFLICT DO NOTHING;] SELECT
 * axs.feeder_advance(...); COMMIT", with a COPY into the inbox per
 * BATCH_INBOX_ROWS_PER_COPY rows, or one for more than
 * BATCH_INBOX_ROWS_ONE_COPY rows (batch.h): the server runs its statements in turn and asks for each COPY's data as
 * it reaches it, so a batch costs two round trips instead of one per
 * statement.  A statement that fails makes
 * the server skip the rest, and the transaction is rolled back.
 */
PgSinkStatus
pg_sink_write_batch(PgSink *sink, const Batch *batch)
{
	PGconn	   *connection = sink->connection;
	bool		one_inbox_copy = batch->inbox_row_count > BATCH_INBOX_ROWS_ONE_COPY;
	CopySlice  *slices;
	int			slice_count = 0;
	int		   *copy_first;		/* COPY k sends slices [copy_first[k], copy_first[k + 1]) */
	int			copy_count = 0;
	int			copies_sent = 0;
	bool		data_sent = true;
	char	   *sql = NULL;
	size_t		sql_length = 0;
	size_t		sql_capacity = 0;
	PGresult   *result;
	PGresult   *failed = NULL;

	if (pg_sink_session(sink) != batch->session)
	{
		pg_error_set(&sink->last_error, NULL,
					 "the PostgreSQL session changed since the partition locks were taken; "
					 "the batch was not sent", NULL);
		return PG_SINK_FAILED;
	}
	slices = malloc(sizeof(CopySlice) * (size_t) (batch->inbox_copy_count + 1));
	copy_first = malloc(sizeof(int) * (size_t) (batch->inbox_copy_count + 2));
	if (slices == NULL || copy_first == NULL)
	{
		fprintf(stderr, "axs-feeder: out of memory\n");
		abort();
	}
	sink->dead_letters_inserted = 0;
	text_append(&sql, &sql_length, &sql_capacity,
				sink->synchronous_commit ? "BEGIN;" : "BEGIN;SET LOCAL synchronous_commit = off;");
	for (int i = 0; i < batch->inbox_copy_count; i++)
	{
		size_t		start = i > 0 ? batch->inbox_copy_ends[i - 1] : 0;
		size_t		end = batch->inbox_copy_ends[i];

		if (one_inbox_copy)
		{
			/* one stream: the first COPY's header, every row, the last trailer */
			if (i > 0)
				start += COPY_BINARY_HEADER_BYTES;
			if (i < batch->inbox_copy_count - 1)
				end -= COPY_BINARY_TRAILER_BYTES;
		}
		if (!one_inbox_copy || i == 0)
		{
			text_append(&sql, &sql_length, &sql_capacity, BATCH_INBOX_COPY ";");
			copy_first[copy_count++] = slice_count;
		}
		slices[slice_count].data = batch->inbox_rows.data + start;
		slices[slice_count].length = end - start;
		slice_count++;
	}
	copy_first[copy_count] = slice_count;
	if (batch->dead_letter_count > 0)
	{
		text_append(&sql, &sql_length, &sql_capacity, BATCH_DEAD_LETTER_INSERT);
		text_append_bytes(&sql, &sql_length, &sql_capacity,
						  (const char *) batch->dead_letter_values.data,
						  batch->dead_letter_values.length);
		text_append(&sql, &sql_length, &sql_capacity, BATCH_DEAD_LETTER_CONFLICT ";");
	}
	if (batch->range_count > 0 && !append_advance(connection, batch, &sql, &sql_length, &sql_capacity))
	{
		free(sql);
		free(slices);
		free(copy_first);
		return pg_sink_failure(sink, NULL, "quoting the offsets");
	}
	text_append(&sql, &sql_length, &sql_capacity, "COMMIT");
	if (!PQsendQuery(connection, sql))
	{
		free(sql);
		free(slices);
		free(copy_first);
		return pg_sink_failure(sink, NULL, "sending the batch");
	}
	free(sql);

	/* Read every result until NULL; the first failure decides. */
	while (pg_sink_wait_for_result(sink) && (result = PQgetResult(connection)) != NULL)
	{
		ExecStatusType status = PQresultStatus(result);

		if (status == PGRES_COPY_IN)
		{
			PQclear(result);
			if (copies_sent < copy_count)
				data_sent &= pg_sink_send_copy(connection, &slices[copy_first[copies_sent]],
											   copy_first[copies_sent + 1] - copy_first[copies_sent]);
			else
				data_sent &= pg_sink_send_copy(connection, NULL, 0);
			copies_sent++;
		}
		else if (failed == NULL && status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
			failed = result;
		else
		{
			if (status == PGRES_COMMAND_OK && strncmp(PQcmdStatus(result), "INSERT ", 7) == 0)
				sink->dead_letters_inserted = atoi(PQcmdTuples(result));
			PQclear(result);
		}
	}
	free(slices);
	free(copy_first);
	if (PQisBusy(connection))
	{
		/* stopping, and the server answered neither the batch nor the cancel */
		pg_sink_disconnect(sink);
		PQclear(failed);
		pg_error_set(&sink->last_error, NULL,
					 "stopping: PostgreSQL did not answer the batch nor its cancel; "
					 "connection closed", NULL);
		return PG_SINK_FAILED;
	}
	if (failed != NULL)
		return pg_sink_failure(sink, failed, "writing the batch");
	if (!data_sent || copies_sent != copy_count)
		return pg_sink_failure(sink, NULL, "writing the batch");
	return PG_SINK_OK;
}
