/*
 * pg_sink.h
 *		axs-feeder's PostgreSQL session: connecting, the ids of the Kafka
 *		topics (axs.source_topic, resolved at every new session), reading
 *		stored Kafka offsets, the per-partition advisory locks, and writing
 *		one batch as one transaction (COPY into axs.inbox, INSERT into
 *		axs.dead_letters skipping those already stored, axs.feeder_advance
 *		per partition, COMMIT), sent as one query string.
 *
 * Never retries by itself and never decides what to consume: it reports
 * what happened (last_error: PostgreSQL's SQLSTATE, message and detail,
 * classified) and the feeder chooses.  Nothing it does outlives a stop
 * request by more than a few seconds: connecting is asynchronous and gives
 * up when asked to stop, and a statement still running PG_SINK_STOP_GRACE_MS
 * after a stop request is cancelled (its batch is then left for the next
 * run).  Not thread-safe: one thread at a time (the writer while it writes
 * a batch, the poll thread while the writer is idle).
 */
#ifndef AXS_FEEDER_PG_SINK_H
#define AXS_FEEDER_PG_SINK_H

#include <signal.h>
#include <stdbool.h>

#include <libpq-fe.h>

#include "batch.h"
#include "partition_table.h"
#include "pg_error.h"

/* How long a statement may still run after a stop request before it is cancelled. */
#define PG_SINK_STOP_GRACE_MS 2000

/* Connection timeout when the conninfo sets no connect_timeout. */
#define PG_SINK_DEFAULT_CONNECT_TIMEOUT_S 10

typedef enum PgSinkStatus
{
	PG_SINK_OK,
	PG_SINK_FENCED,				/* another feeder owns a partition (40001) */
	PG_SINK_FAILED				/* connection or other error, in last_error */
} PgSinkStatus;

/* A Kafka topic and its id in the ledger (axs.source_topic). */
typedef struct PgSinkTopic
{
	char	   *name;
	int32_t		id;				/* valid when resolved */
	bool		resolved;		/* id read in the current session */
} PgSinkTopic;

typedef struct PgSink
{
	char	   *conninfo;
	bool		synchronous_commit; /* a batch's COMMIT waits for its flush */
	PGconn	   *connection;		/* NULL while disconnected */
	bool		connected_before;	/* later connections count as reconnects */
	uint64_t	session;		/* increments at every new session (atomic) */
	PgError		last_error;		/* why the last call failed */
	volatile sig_atomic_t *running; /* 0 once a stop is asked */
	int64_t		stop_seen_ms;	/* monotonic time the stop was first seen, or 0 */
	int			dead_letters_inserted;	/* by the last batch written; the others
										 * were stored already (a replay) */
	PgSinkTopic *topics;		/* the topics whose ids this session knows */
	int			topic_count;
} PgSink;

/*
 * topics (topic_count names, may be 0) are resolved to their ids at every
 * new session; a regular expression subscription (a name starting with
 * '^') is not a topic and is left out: the topics it matches are resolved
 * when first asked for.
 */
extern void pg_sink_init(PgSink *sink, const char *conninfo, bool synchronous_commit,
						 char *const *topics, int topic_count,
						 volatile sig_atomic_t *running);
extern void pg_sink_close(PgSink *sink);

/*
 * Make sure a healthy session exists, connecting once if needed; a new
 * session resolves the id of every known topic (SELECT
 * axs.source_topic($1)) before it is used.  Sets *new_session when a new
 * session was opened (advisory locks of the old one are gone).  Returns
 * false (reason in last_error) if PostgreSQL cannot be reached, refuses
 * the connection, a topic's id cannot be resolved, or a stop was asked
 * while connecting.
 */
extern bool pg_sink_ensure_connected(PgSink *sink, bool *new_session);

/* Drop the session, and its advisory locks with it; the next ensure_connected opens a new one. */
extern void pg_sink_disconnect(PgSink *sink);

/*
 * The current session number (any thread).  Advisory locks belong to one
 * session: a batch is written only in the session its locks were taken in.
 */
extern uint64_t pg_sink_session(const PgSink *sink);

/*
 * The id of a Kafka topic in the ledger (axs.source_topic), from what this
 * session resolved, or asked for now if it did not.
 */
extern PgSinkStatus pg_sink_source_topic(PgSink *sink, const char *topic, int32_t *id);

/*
 * Run one statement with text parameters on the session and wait for it as
 * every statement of the sink does (a stop request cancels it after
 * PG_SINK_STOP_GRACE_MS).  On success *result holds its result, of status
 * expected; the caller clears it.  A failure is in last_error (what names
 * the operation) and leaves no transaction open.
 */
extern PgSinkStatus pg_sink_query(PgSink *sink, const char *sql, int parameter_count,
								  const char *const *parameters, ExecStatusType expected,
								  const char *what, PGresult **result);

/* pg_sink_query with its result in text (result_format 0) or binary (1). */
extern PgSinkStatus pg_sink_query_format(PgSink *sink, const char *sql, int parameter_count,
										 const char *const *parameters, int result_format,
										 ExecStatusType expected, const char *what,
										 PGresult **result);

/* Read axs.feeder_offsets for one partition into owned. */
extern PgSinkStatus pg_sink_read_offset(PgSink *sink, OwnedPartition *owned);

/* pg_try_advisory_lock for owned (sets owned->lock_held on success). */
extern PgSinkStatus pg_sink_lock_partition(PgSink *sink, OwnedPartition *owned);

/* Read the stored offset of one partition without changing any bookkeeping. */
extern PgSinkStatus pg_sink_fetch_offset(PgSink *sink, const char *topic, int32_t partition,
										 bool *has_stored, int64_t *next_offset);

/* Release the advisory lock of owned if held. */
extern void pg_sink_unlock_partition(PgSink *sink, OwnedPartition *owned);

/*
 * Write a sealed batch and advance the offsets of its ranges, in one
 * transaction.  Fails without writing if the session is not batch->session
 * (the partitions' advisory locks were taken in that one).
 */
extern PgSinkStatus pg_sink_write_batch(PgSink *sink, const Batch *batch);

#endif							/* AXS_FEEDER_PG_SINK_H */
