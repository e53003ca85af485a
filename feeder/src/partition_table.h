/*
 * partition_table.h
 *		The Kafka partitions this feeder owns right now, and for each one
 *		what PostgreSQL has stored (the expected next offset of the
 *		compare-and-set, the topic's id), whether its advisory lock is held,
 *		and the next offset the current batch accepts.
 *
 * Pure bookkeeping: no Kafka or libpq calls.
 */
#ifndef AXS_FEEDER_PARTITION_TABLE_H
#define AXS_FEEDER_PARTITION_TABLE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct OwnedPartition
{
	char	   *topic;
	int32_t		partition;
	int32_t		source_topic_id;	/* the topic's id in the ledger
									 * (axs.source_topic), read with the
									 * stored offset */
	bool		has_stored_offset;	/* false: no row in axs.feeder_offsets */
	int64_t		stored_next_offset; /* valid when has_stored_offset: what the
									 * next batch expects (batches handed to
									 * the writer included) */
	int64_t		committed_next_offset;	/* known committed in PostgreSQL (lag) */
	int64_t		accept_from_offset; /* first offset not yet in the batch or PG */
	bool		lock_held;		/* session advisory lock taken */
	bool		in_batch;		/* the current batch holds its messages */
	int64_t		batch_last_offset;	/* valid when in_batch */
	int64_t		high_watermark; /* last seen, -1 if unknown */
} OwnedPartition;

typedef struct PartitionTable
{
	OwnedPartition *entries;
	int			count;
	int			capacity;
} PartitionTable;

extern void partition_table_init(PartitionTable *table);
extern void partition_table_free(PartitionTable *table);

/* Find an owned partition; NULL if not owned. */
extern OwnedPartition *partition_table_find(PartitionTable *table,
											const char *topic, int32_t partition);

/*
 * Own a partition (or return it if already owned), with no stored offset,
 * no lock and nothing in the batch.
 */
extern OwnedPartition *partition_table_add(PartitionTable *table,
										   const char *topic, int32_t partition);

/* Stop owning a partition; no-op if not owned. */
extern void partition_table_remove(PartitionTable *table,
								   const char *topic, int32_t partition);

/* Record what PostgreSQL stores for a partition and restart accepting there. */
extern void partition_set_stored(OwnedPartition *owned, bool has_stored,
								 int64_t next_offset);

/*
 * The batch was handed to the writer: what it writes is what the next batch
 * expects as the stored offset.  Clears in_batch.
 */
extern void partition_table_batch_committed(PartitionTable *table);

/* A batch committed up to next_offset in a partition (no-op if not owned). */
extern void partition_table_written(PartitionTable *table, const char *topic,
									int32_t partition, int64_t next_offset);

/* The batch was dropped: accept again from the stored offsets. */
extern void partition_table_batch_dropped(PartitionTable *table);

#endif							/* AXS_FEEDER_PARTITION_TABLE_H */
