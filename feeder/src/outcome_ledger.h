/*
 * outcome_ledger.h
 *		The outcome publisher's calls to the ledger, on its own PostgreSQL
 *		session (a PgSink of its own): the publisher lock of an outcome
 *		topic (axs.outcome_publisher_try_lock, a session advisory lock
 *		taken without waiting), the decided events after a seq
 *		(axs.outcome_frames_after) read into rows, and the progress report
 *		(axs.outcomes_published, for monitoring only).
 *
 * Never retries and never decides: failures are in the sink's last_error.
 */
#ifndef AXS_FEEDER_OUTCOME_LEDGER_H
#define AXS_FEEDER_OUTCOME_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "outcome_frames.h"
#include "pg_sink.h"

/* The rows of one axs.outcome_frames_after call, in seq order. */
typedef struct OutcomeBatch
{
	PGresult   *result;			/* the frames the rows point into */
	OutcomeRow *rows;
	int			count;
	int			capacity;
} OutcomeBatch;

extern void outcome_batch_init(OutcomeBatch *batch);

/* Forget the rows (clearing the result), keeping the array. */
extern void outcome_batch_clear(OutcomeBatch *batch);
extern void outcome_batch_free(OutcomeBatch *batch);

/* axs.outcome_publisher_try_lock(topic): *held is true when this session holds it now. */
extern PgSinkStatus outcome_ledger_try_lock(PgSink *sink, const char *topic, bool *held);

/*
 * axs.outcome_frames_after(after_seq, max_rows, wait_ms) into batch (cleared
 * first): at most max_rows decided events with seq > after_seq, waiting up
 * to wait_ms for the first.
 */
extern PgSinkStatus outcome_ledger_read(PgSink *sink, int64_t after_seq, int max_rows,
										int wait_ms, OutcomeBatch *batch);

/*
 * Once the lock is held: the session's only write is the progress of
 * outcome_ledger_published, for monitoring, so its commits need not wait
 * for the WAL flush (a crash may lose the last value; the next commit
 * writes a newer one).
 */
extern PgSinkStatus outcome_ledger_prepare_session(PgSink *sink);

/* axs.outcomes_published(topic, seq): the publisher's progress, for the lag metric. */
extern PgSinkStatus outcome_ledger_published(PgSink *sink, const char *topic, int64_t seq);

#endif							/* AXS_FEEDER_OUTCOME_LEDGER_H */
