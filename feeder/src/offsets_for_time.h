/*
 * offsets_for_time.h
 *		axs-feeder --offsets-for-time: for every partition of the given
 *		topics, ask Kafka for the first offset whose message timestamp is at
 *		or after a time (rd_kafka_offsets_for_times), and print the
 *		axs.feeder_rewind calls that replay from there as a SQL script on
 *		stdout; progress and errors go to stderr.
 *
 * Reads nothing from PostgreSQL and writes nothing anywhere: the operator
 * reviews the script and runs it, so the feeder never guesses a replay.
 */
#ifndef AXS_FEEDER_OFFSETS_FOR_TIME_H
#define AXS_FEEDER_OFFSETS_FOR_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"

/* Run the mode; returns the exit status (FEEDER_EXIT_OK or FEEDER_EXIT_FATAL). */
extern int	offsets_for_time_run(const FeederOptions *options);

/*
 * The lines printed for one partition: offset is Kafka's answer (-1: no
 * message at or after the time), end_offset the partition's high
 * watermark, time_text the time as printed.
 */
extern void offsets_for_time_format(char *out, size_t out_size, const char *topic,
									int32_t partition, int64_t offset, int64_t end_offset,
									const char *time_text);

/* unix_ms as 2024-05-01T12:00:00.000Z. */
extern void offsets_for_time_format_time(char *out, size_t out_size, int64_t unix_ms);

#endif							/* AXS_FEEDER_OFFSETS_FOR_TIME_H */
