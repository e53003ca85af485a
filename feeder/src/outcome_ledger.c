/*
 * outcome_ledger.c
 *		The outcome publisher's PostgreSQL calls (see outcome_ledger.h).
 *
 * queued_at is asked for as microseconds since the Unix epoch, so that the
 * latency of an outcome needs no parsing of the session's DateStyle.
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
	COLUMN_QUEUED_AT_US,
	COLUMN_MESSAGE
};

#define OUTCOMES_AFTER_SQL \
	"SELECT seq, id, source_topic, source_partition, source_offset," \
	" (extract(epoch FROM queued_at) * 1000000)::int8, message" \
	" FROM axs.outcomes_after($1, $2, $3)"

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
	status = pg_sink_query(sink, OUTCOMES_AFTER_SQL, 3, params, PGRES_TUPLES_OK,
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
		const char *queued_at = column_text(result, r, COLUMN_QUEUED_AT_US);

		row->seq = strtoll(PQgetvalue(result, r, COLUMN_SEQ), NULL, 10);
		row->id = PQgetvalue(result, r, COLUMN_ID);
		row->id_length = (size_t) PQgetlength(result, r, COLUMN_ID);
		row->source_topic = column_text(result, r, COLUMN_SOURCE_TOPIC);
		row->source_partition_text = column_text(result, r, COLUMN_SOURCE_PARTITION);
		row->has_source_partition = row->source_partition_text != NULL;
		row->source_partition = row->has_source_partition ?
			(int32_t) strtol(row->source_partition_text, NULL, 10) : -1;
		row->source_offset_text = column_text(result, r, COLUMN_SOURCE_OFFSET);
		row->has_queued_at = queued_at != NULL;
		row->queued_at_us = queued_at != NULL ? strtoll(queued_at, NULL, 10) : 0;
		row->message = PQgetvalue(result, r, COLUMN_MESSAGE);
		row->message_length = (size_t) PQgetlength(result, r, COLUMN_MESSAGE);
	}
	batch->count = rows;
	return PG_SINK_OK;
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
