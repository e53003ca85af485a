/*
 * batch.h
 *		The batch being built: Kafka messages decoded with the shared event
 *		decoder, valid events encoded as binary COPY data for axs.inbox (with
 *		their topic's id, partition and offset) and
 *		invalid messages as the rows of an idempotent INSERT into
 *		axs.dead_letters, plus the per-partition offset range the batch
 *		covers (kept in the partition table).
 *
 * No I/O: pg_sink writes a sealed batch, feeder decides when to flush.
 */
#ifndef AXS_FEEDER_BATCH_H
#define AXS_FEEDER_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "copy_binary.h"
#include "partition_table.h"

/*
 * Columns the feeder COPYs into: the event, and the Kafka message it came
 * from (the topic's id in the ledger, partition, offset).
 */
#define BATCH_INBOX_COPY \
	"COPY axs.inbox (event_id, payload, queued_at, source_topic, source_partition," \
	" source_offset) FROM STDIN (FORMAT binary)"

/*
 * Dead letters are inserted, not COPYed: a message consumed again after a
 * rewind of the stored offsets already has its row (primary key topic,
 * partition, offset), and must neither fail the batch nor become a second
 * dead letter.  The statement is BATCH_DEAD_LETTER_INSERT, the batch's
 * dead_letter_values, BATCH_DEAD_LETTER_CONFLICT.
 */
#define BATCH_DEAD_LETTER_INSERT \
	"INSERT INTO axs.dead_letters (topic, partition, \"offset\", raw, reason) VALUES "
#define BATCH_DEAD_LETTER_CONFLICT " ON CONFLICT DO NOTHING"

/*
 * Inbox rows are written as COPYs of at most BATCH_INBOX_ROWS_PER_COPY
 * rows; pg_sink sends a batch of more than BATCH_INBOX_ROWS_ONE_COPY rows
 * as one COPY all the same.  PostgreSQL 15's COPY into a partitioned table
 * makes a slot per buffered row, up to 1,000 and reused after that, each
 * remembered by the resource owner in a hash whose identical entries it
 * probes one by one: its cost grows with the square of a COPY's rows up to
 * 1,000.  Server CPU a row: one COPY of 900 rows 4.6 to 4.8 µs, three of
 * 300 rows 3.5 to 3.6, four of 225 rows 3.0 to 3.5; one COPY of 5,000 rows
 * 2.5 to 3.2 µs, twenty of 250 rows 3.5 (bench/e2e/README.md).
 */
#define BATCH_INBOX_ROWS_PER_COPY 256
#define BATCH_INBOX_ROWS_ONE_COPY 2048

/*
 * One partition's part of a sealed batch: the compare-and-set the writer
 * runs (expected_next -> next_offset).  Copied out of the partition table
 * when the batch is handed to the writer, so the writer never reads the
 * table the poll thread keeps changing.
 */
typedef struct BatchRange
{
	char	   *topic;
	int32_t		partition;
	bool		has_expected;	/* false: no offset stored yet (NULL expected) */
	int64_t		expected_next;	/* valid when has_expected */
	int64_t		next_offset;	/* last offset in the batch + 1 */
} BatchRange;

typedef struct Batch
{
	CopyBuffer	inbox_rows;		/* COPY data for axs.inbox, one COPY after another */
	int			inbox_row_count;
	size_t	   *inbox_copy_ends;	/* where each complete COPY ends in inbox_rows */
	int			inbox_copy_count;
	int			inbox_copy_capacity;
	CopyBuffer	dead_letter_values; /* "(...),(...)": SQL text, no NUL */
	int			dead_letter_count;
	int			message_count;	/* inbox rows + dead letters */
	int64_t		first_message_ms;	/* monotonic time of the first message */
	bool		sealed;			/* trailers written, no more messages */
	BatchRange *ranges;			/* set by batch_take_ranges */
	int			range_count;
	int			range_capacity;
	uint64_t	session;		/* PostgreSQL session whose locks cover it */
} Batch;

/* What became of one message. */
typedef enum BatchOutcome
{
	BATCH_EVENT,				/* a valid event, queued for the inbox */
	BATCH_DEAD_LETTER,			/* invalid, queued for axs.dead_letters */
	BATCH_SKIPPED				/* offset already in the batch or in PG */
} BatchOutcome;

extern void batch_init(Batch *batch);
extern void batch_free(Batch *batch);

/* Empty the batch, keeping its memory for the next one. */
extern void batch_reset(Batch *batch);

/*
 * Add the message at offset of an owned partition (whose source_topic_id
 * is set).  value may be NULL (a message without a value).  queued_at_unix_ms is the Kafka CreateTime, or
 * the current time when the message has none.  now_ms is monotonic time.
 */
extern BatchOutcome batch_add_message(Batch *batch, OwnedPartition *owned,
									  int64_t offset, const void *value,
									  size_t length, int64_t queued_at_unix_ms,
									  int64_t now_ms);

/* Bytes of COPY data buffered. */
extern size_t batch_bytes(const Batch *batch);

/*
 * Write the COPY trailers; the batch is then ready to send (idempotent).
 * Its inbox COPYs are then inbox_rows up to inbox_copy_ends[0], from there
 * up to inbox_copy_ends[1], and so on.
 */
extern void batch_seal(Batch *batch);

/*
 * Record, for every partition of table with in_batch set, the range this
 * batch advances (from the partition's expected stored offset to its last
 * offset + 1).  Call before partition_table_batch_committed.
 */
extern void batch_take_ranges(Batch *batch, const PartitionTable *table);

#endif							/* AXS_FEEDER_BATCH_H */
