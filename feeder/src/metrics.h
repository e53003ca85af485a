/*
 * metrics.h
 *		axs-feeder counters, batch latency histogram and per-partition
 *		consumer lag, and the outcome publisher's counters, state and
 *		latency summary; served in the Prometheus text format over HTTP
 *		(libmicrohttpd, its own thread) and the consumer's summarised in a
 *		progress line.
 *
 * Counters are updated by the poll, writer and publisher threads and read
 * by the HTTP thread with atomic operations; the lag table is guarded by a
 * mutex.
 */
#ifndef AXS_FEEDER_METRICS_H
#define AXS_FEEDER_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "partition_table.h"
#include "pg_error.h"

extern void metrics_count_consumed(uint64_t messages);
extern void metrics_count_batch(uint64_t events, uint64_t dead_letters,
								double latency_seconds);
extern void metrics_count_db_reconnect(void);

/* A batch that was not committed (not counting those discarded behind it). */
extern void metrics_count_batch_failure(PgErrorClass error_class);

/* Replace the published lag with that of the owned partitions. */
extern void metrics_publish_lag(const PartitionTable *table);

/* A committed outcome transaction of messages messages. */
extern void metrics_count_outcome_transaction(uint64_t messages);

/* An outcome transaction aborted. */
extern void metrics_count_outcome_abort(void);

/* The seq of the last decided event the outcome topic holds. */
extern void metrics_set_outcome_seq(int64_t seq);

/* Whether this process holds the outcome topic's publisher lock. */
extern void metrics_set_outcome_publisher_active(bool active);

/*
 * One committed outcome message: microseconds from its event's queued_at
 * to the return of the commit.  Counted in 0.1 ms buckets up to 10 s (and
 * one above), for the whole life of the process.
 */
extern void metrics_observe_outcome_latency(int64_t latency_us);

/*
 * The quantile (0 < quantile <= 1) of the outcome latencies observed, in
 * seconds: the upper bound of the 0.1 ms bucket holding it, or the
 * largest latency seen if that is smaller; NaN before the first.
 */
extern double metrics_outcome_latency_quantile(double quantile);

/* Start the HTTP endpoint on port; false (and a log line) on failure. */
extern bool metrics_start(int port);
extern void metrics_stop(void);

/* Log the one-line progress summary (rates since the previous call). */
extern void metrics_log_progress(void);

#endif							/* AXS_FEEDER_METRICS_H */
