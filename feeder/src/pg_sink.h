/*
 * pg_sink.h
 *		axs-feeder's PostgreSQL session: connecting, reading stored Kafka
 *		offsets, the per-partition advisory locks, and writing one batch as
 *		one transaction (COPY into axs.inbox, INSERT into axs.dead_letters
 *		skipping those already stored, axs.feeder_advance per partition,
 *		COMMIT), sent as one query string.
 *
 * Never retries by itself and never decides what to consume: it reports
 * what happened and the feeder chooses.  Not thread-safe: one thread at a
 * time (the writer while it writes a batch, the poll thread while the
 * writer is idle).
 */
#ifndef AXS_FEEDER_PG_SINK_H
#define AXS_FEEDER_PG_SINK_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "batch.h"
#include "partition_table.h"

typedef enum PgSinkStatus
{
	PG_SINK_OK,
	PG_SINK_FENCED,				/* another feeder owns a partition (40001) */
	PG_SINK_FAILED				/* connection or other error; already logged */
} PgSinkStatus;

typedef struct PgSink
{
	char	   *conninfo;
	bool		synchronous_commit; /* a batch's COMMIT waits for its flush */
	PGconn	   *connection;		/* NULL while disconnected */
	bool		connected_before;	/* later connections count as reconnects */
	uint64_t	session;		/* increments at every new session (atomic) */
} PgSink;

extern void pg_sink_init(PgSink *sink, const char *conninfo, bool synchronous_commit);
extern void pg_sink_close(PgSink *sink);

/*
 * Make sure a healthy session exists, connecting once if needed.  Sets
 * *new_session when a new session was opened (advisory locks of the old
 * one are gone).  Returns false if PostgreSQL cannot be reached.
 */
extern bool pg_sink_ensure_connected(PgSink *sink, bool *new_session);

/*
 * The current session number (any thread).  Advisory locks belong to one
 * session: a batch is written only in the session its locks were taken in.
 */
extern uint64_t pg_sink_session(const PgSink *sink);

/* Read axs.feeder_offsets for one partition into owned. */
extern PgSinkStatus pg_sink_read_offset(PgSink *sink, OwnedPartition *owned);

/* pg_try_advisory_lock for owned (sets owned->lock_held on success). */
extern PgSinkStatus pg_sink_lock_partition(PgSink *sink, OwnedPartition *owned);

/* Release the advisory lock of owned if held. */
extern void pg_sink_unlock_partition(PgSink *sink, OwnedPartition *owned);

/*
 * Write a sealed batch and advance the offsets of its ranges, in one
 * transaction.  Fails without writing if the session is not batch->session
 * (the partitions' advisory locks were taken in that one).
 */
extern PgSinkStatus pg_sink_write_batch(PgSink *sink, const Batch *batch);

#endif							/* AXS_FEEDER_PG_SINK_H */
