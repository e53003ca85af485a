/*
 * outcome_ledger.c
 *		The outcome publisher's PostgreSQL calls (see outcome_ledger.h).
 *
 * axs.outcomes_after's rows come in binary: no output function runs per
 * value on the server (int8out, timestamptz_out), and queued_at arrives as
 * PostgreSQL's microseconds since 2000-01-01, whatever the DateStyle.
 */
#include "outcome_ledger.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Columns of OUTCOMES_AFTER_SQL. */
enum
{
	COLUMN_SEQ,
	COLUMN_ID,
	COLUMN_SOURCE_TOPIC,
	COLUMN_SOURCE_PARTITION,
	COLUMN_SOURCE_OFFSET,
	COLUMN_QUEUED_AT,
	COLUMN_MESSAGE
};

#define OUTCOMES_AFTER_SQL \
	"SELECT seq, id, source_topic, source_partition, source_offset, queued_at, message" \
	" FROM axs.outcomes_after($1, $2, $3)"

/* Microseconds from the Unix epoch to PostgreSQL's (2000-01-01). */
#define POSTGRES_EPOCH_UNIX_US INT64_C(946684800000000)

/* A binary int8 / int4 column (network byte order). */
static int64_t
binary_int64(const PGresult *result, int row, int column)
{
	const unsigned char *bytes = (const unsigned char *) PQgetvalue(result, row, column);
	uint64_t	value = 0;

	for (int i = 0; i < 8; i++)
		value = (value << 8) | bytes[i];
	return (int64_t) value;
}

static int32_t
binary_int32(const PGresult *result, int row, int column)
{
	const unsigned char *bytes = (const unsigned char *) PQgetvalue(result, row, column);

	return (int32_t) (((uint32_t) bytes[0] << 24) | ((uint32_t) bytes[1] << 16) |
					  ((uint32_t) bytes[2] << 8) | (uint32_t) bytes[3]);
}

/* value in decimal into buffer (at least 21 bytes); returns its length. */
static size_t
format_int64(int64_t value, char *buffer)
{
	char		digits[21];
	size_t		n = 0;
	uint64_t	magnitude = value < 0 ? 0 - (uint64_t) value : (uint64_t) value;
	size_t		length = 0;

	do
	{
		digits[n++] = (char) ('0' + magnitude % 10);
		magnitude /= 10;
	} while (magnitude != 0);
	if (value < 0)
		buffer[length++] = '-';
	while (n > 0)
		buffer[length++] = digits[--n];
	buffer[length] = '\0';
	return length;
}

void
outcome_batch_init(OutcomeBatch *batch)
{
	memset(batch, 0, sizeof(*batch));
}

void
outcome_batch_clear(OutcomeBatch *batch)
{
	PQclear(batch->result);
	batch->result = NULL;
	batch->count = 0;
}

void
outcome_batch_free(OutcomeBatch *batch)
{
	outcome_batch_clear(batch);
	free(batch->rows);
	outcome_batch_init(batch);
}

PgSinkStatus
outcome_ledger_try_lock(PgSink *sink, const char *topic, bool *held)
{
	const char *params[1] = {topic};
	PGresult   *result;
	PgSinkStatus status;

	status = pg_sink_query(sink, "SELECT axs.outcome_publisher_try_lock($1)", 1, params,
						   PGRES_TUPLES_OK, "axs.outcome_publisher_try_lock", &result);
	if (status != PG_SINK_OK)
		return status;
	*held = PQntuples(result) == 1 && strcmp(PQgetvalue(result, 0, 0), "t") == 0;
	PQclear(result);
	return PG_SINK_OK;
}

/* The text of a column, or NULL when it is NULL. */
static const char *
column_text(const PGresult *result, int row, int column)
{
	return PQgetisnull(result, row, column) ? NULL : PQgetvalue(result, row, column);
}

PgSinkStatus
outcome_ledger_read(PgSink *sink, int64_t after_seq, int max_rows, int wait_ms,
					OutcomeBatch *batch)
{
	char		after_text[24];
	char		max_text[16];
	char		wait_text[16];
	const char *params[3] = {after_text, max_text, wait_text};
	PGresult   *result;
	PgSinkStatus status;
	int			rows;

	outcome_batch_clear(batch);
	snprintf(after_text, sizeof(after_text), "%" PRId64, after_seq);
	snprintf(max_text, sizeof(max_text), "%d", max_rows);
	snprintf(wait_text, sizeof(wait_text), "%d", wait_ms);
	status = pg_sink_query_format(sink, OUTCOMES_AFTER_SQL, 3, params, 1, PGRES_TUPLES_OK,
								  "axs.outcomes_after", &result);
	if (status != PG_SINK_OK)
		return status;
	rows = PQntuples(result);
	if (rows > batch->capacity)
	{
		OutcomeRow *grown = realloc(batch->rows, sizeof(OutcomeRow) * (size_t) rows);

		if (grown == NULL)
		{
			fprintf(stderr, "axs-feeder: out of memory for %d outcomes\n", rows);
			abort();
		}
		batch->rows = grown;
		batch->capacity = rows;
	}
	batch->result = result;
	for (int r = 0; r < rows; r++)
	{
		OutcomeRow *row = &batch->rows[r];

		row->seq = binary_int64(result, r, COLUMN_SEQ);
		row->id_length = format_int64(binary_int64(result, r, COLUMN_ID), row->id_buffer);
		row->id = row->id_buffer;
		/* text in binary is its bytes; libpq ends every value with a NUL */
		row->source_topic = column_text(result, r, COLUMN_SOURCE_TOPIC);
		row->has_source_partition = !PQgetisnull(result, r, COLUMN_SOURCE_PARTITION);
		row->source_partition = -1;
		row->source_partition_text = NULL;
		if (row->has_source_partition)
		{
			row->source_partition = binary_int32(result, r, COLUMN_SOURCE_PARTITION);
			format_int64(row->source_partition, row->partition_buffer);
			row->source_partition_text = row->partition_buffer;
		}
		row->source_offset_text = NULL;
		if (!PQgetisnull(result, r, COLUMN_SOURCE_OFFSET))
		{
			format_int64(binary_int64(result, r, COLUMN_SOURCE_OFFSET), row->offset_buffer);
			row->source_offset_text = row->offset_buffer;
		}
		row->has_queued_at = !PQgetisnull(result, r, COLUMN_QUEUED_AT);
		row->queued_at_us = row->has_queued_at ?
			binary_int64(result, r, COLUMN_QUEUED_AT) + POSTGRES_EPOCH_UNIX_US : 0;
		row->message = PQgetvalue(result, r, COLUMN_MESSAGE);
		row->message_length = (size_t) PQgetlength(result, r, COLUMN_MESSAGE);
	}
	batch->count = rows;
	return PG_SINK_OK;
}

PgSinkStatus
outcome_ledger_prepare_session(PgSink *sink)
{
	PGresult   *result;
	PgSinkStatus status;

	status = pg_sink_query(sink, "SET synchronous_commit = off", 0, NULL, PGRES_COMMAND_OK,
						   "setting up the publisher's session", &result);
	if (status == PG_SINK_OK)
		PQclear(result);
	return status;
}

PgSinkStatus
outcome_ledger_published(PgSink *sink, const char *topic, int64_t seq)
{
	char		seq_text[24];
	const char *params[2] = {topic, seq_text};
	PGresult   *result;
	PgSinkStatus status;

	snprintf(seq_text, sizeof(seq_text), "%" PRId64, seq);
	status = pg_sink_query(sink, "SELECT axs.outcomes_published($1, $2)", 2, params,
						   PGRES_TUPLES_OK, "axs.outcomes_published", &result);
	if (status == PG_SINK_OK)
		PQclear(result);
	return status;
}
