/*
 * metrics.h
 *		axs-feeder counters, batch latency histogram and per-partition
 *		consumer lag; served in the Prometheus text format over HTTP
 *		(libmicrohttpd, its own thread) and summarised in a progress line.
 *
 * Counters are updated by the poll and writer threads and read by the HTTP thread
 * with atomic operations; the lag table is guarded by a mutex.
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

/* Start the HTTP endpoint on port; false (and a log line) on failure. */
extern bool metrics_start(int port);
extern void metrics_stop(void);

/* Log the one-line progress summary (rates since the previous call). */
extern void metrics_log_progress(void);

#endif							/* AXS_FEEDER_METRICS_H */
