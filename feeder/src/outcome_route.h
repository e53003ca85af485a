/*
 * outcome_route.h
 *		Where the outcome publisher sends a decided event, and whether it
 *		sends it at all: the partition of the outcome topic (the event's
 *		source partition when the topic has it, else murmur2 of the key, as
 *		Kafka's Java client computes it), the "seq" a published message
 *		carries, the seq of the last message each partition holds, the skip
 *		rule built on them, and the window recovery reads back.
 *
 * Pure: no Kafka or PostgreSQL I/O (librdkafka's murmur2 partitioner is a
 * pure function of the key and the partition count).
 */
#ifndef AXS_FEEDER_OUTCOME_ROUTE_H
#define AXS_FEEDER_OUTCOME_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Recovery first reads back this many offsets of a partition. */
#define OUTCOME_ROUTE_FIRST_WINDOW 64

/*
 * The outcome topic as the publisher knows it: its partition count, and
 * for every partition the seq of its last message (0: none).  Every
 * partition receives its messages in seq order, so a row whose partition
 * already holds its seq or a later one was published.
 */
typedef struct OutcomeRoute
{
	int32_t		partition_count;
	int64_t    *last_seq;		/* partition_count entries */
} OutcomeRoute;

/* partition_count (> 0) partitions, all with last seq 0. */
extern void outcome_route_init(OutcomeRoute *route, int32_t partition_count);
extern void outcome_route_free(OutcomeRoute *route);

/*
 * The partition of the outcome topic for an event: its source partition
 * when it has one (has_source) that the topic has, else murmur2 of key
 * (key_length bytes), the same for every call.
 */
extern int32_t outcome_route_partition(int32_t partition_count, bool has_source,
									   int32_t source_partition, const char *key,
									   size_t key_length);

/* true unless partition already holds seq or a later one. */
extern bool outcome_route_must_produce(const OutcomeRoute *route, int32_t partition, int64_t seq);

/* A committed message of seq in partition. */
extern void outcome_route_published(OutcomeRoute *route, int32_t partition, int64_t seq);

/* Where reading the ledger resumes: the smallest last seq of any partition. */
extern int64_t outcome_route_resume_after(const OutcomeRoute *route);

/*
 * The "seq" of a published message's JSON value: a top-level integer
 * member from 1 up.  false, with why in error, for anything else (not
 * JSON, not an object, no seq, not a positive integer).
 */
extern bool outcome_route_parse_seq(const void *value, size_t length, int64_t *seq,
									char *error, size_t error_size);

/* The first offset recovery reads: high - window, but not below low. */
extern int64_t outcome_route_window_start(int64_t low, int64_t high, int64_t window);

#endif							/* AXS_FEEDER_OUTCOME_ROUTE_H */
