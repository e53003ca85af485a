/*
 * outcome_ledger.c
 *		The outcome publisher's PostgreSQL calls (see outcome_ledger.h).
 *
 * axs.outcome_frames_after's rows come in binary: the frames as the
 * server packed them, no escaping to undo.
 */
#include "outcome_ledger.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUTCOME_FRAMES_SQL "SELECT frames FROM axs.outcome_frames_after($1, $2, $3) AS frames"

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
	char		error[200];
	bool		readable = true;

	outcome_batch_clear(batch);
	snprintf(after_text, sizeof(after_text), "%" PRId64, after_seq);
	snprintf(max_text, sizeof(max_text), "%d", max_rows);
	snprintf(wait_text, sizeof(wait_text), "%d", wait_ms);
	status = pg_sink_query_format(sink, OUTCOME_FRAMES_SQL, 3, params, 1, PGRES_TUPLES_OK,
								  "axs.outcome_frames_after", &result);
	if (status != PG_SINK_OK)
		return status;
	for (int r = 0; r < PQntuples(result) && readable; r++)
		readable = outcome_frames_read(PQgetvalue(result, r, 0), (size_t) PQgetlength(result, r, 0),
									   &batch->rows, &batch->capacity, &batch->count,
									   error, sizeof(error));
	if (readable)
	{
		batch->result = result;
		return PG_SINK_OK;
	}
	/* a feeder and an extension that disagree on the frames: nothing to retry */
	batch->count = 0;
	pg_error_set(&sink->last_error, "XX001",
				 "axs.outcome_frames_after returned frames the publisher cannot read", error);
	PQclear(result);
	return PG_SINK_FAILED;
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
