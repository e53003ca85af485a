/*
 * writer.h
 *		axs-feeder's writer thread: it owns the PostgreSQL session while it
 *		writes, and commits sealed batches strictly in the order they were
 *		handed over, from a queue of at most WRITER_QUEUE_LENGTH batches, so
 *		the poll thread decodes the next batch while the previous one is
 *		written.
 *
 * It never retries and never decides what to consume: after a failed batch
 * it discards every batch queued behind it (their expected offsets assume
 * the failed one committed) and reports the failure until the poll thread,
 * once the queue is empty, clears it and resynchronises.
 */
#ifndef AXS_FEEDER_WRITER_H
#define AXS_FEEDER_WRITER_H

#include <stdbool.h>

#include "batch.h"
#include "pg_sink.h"

/* Batches handed over and not yet written (the one being written included). */
#define WRITER_QUEUE_LENGTH 2

typedef enum WriterOutcome
{
	WRITER_WRITTEN,				/* committed */
	WRITER_FAILED,				/* rolled back or unknown; see its PgError */
	WRITER_FENCED,				/* another feeder owns a partition (40001) */
	WRITER_DISCARDED			/* queued behind a failure, never sent */
} WriterOutcome;

typedef struct Writer Writer;

/* Start the thread; NULL (and a log line) on failure. */
extern Writer *writer_start(PgSink *sink);

/* Stop after the queued batches, join and free.  Batches are not freed. */
extern void writer_stop(Writer *writer);

/*
 * Hand over a sealed batch with its ranges and session set.  Blocks while
 * WRITER_QUEUE_LENGTH batches are pending (back-pressure on the poll loop).
 */
extern void writer_submit(Writer *writer, Batch *batch);

/*
 * Take back a finished batch, oldest first, with its outcome and, for
 * WRITER_FAILED and WRITER_FENCED, why (error, if not NULL); NULL when none
 * is finished.  Never blocks.
 */
extern Batch *writer_take_finished(Writer *writer, WriterOutcome *outcome, PgError *error);

/*
 * Wait until no batch is pending.  The writer then does not touch the
 * session until the next writer_submit, so the caller may use it.
 */
extern void writer_wait_idle(Writer *writer);

/* true when no batch is pending (never blocks). */
extern bool writer_idle(Writer *writer);

/* true after a batch failed, until writer_clear_failure. */
extern bool writer_failed(Writer *writer);

/* Accept batches again (call when idle, after resynchronising). */
extern void writer_clear_failure(Writer *writer);

#endif							/* AXS_FEEDER_WRITER_H */
