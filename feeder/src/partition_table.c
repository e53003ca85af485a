/*
 * partition_table.c
 *		Owned partitions and their offsets (see partition_table.h).
 *
 * A feeder owns at most a few hundred partitions, so a linear array is both
 * the simplest and the fastest structure.
 */
#include "partition_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
partition_table_init(PartitionTable *table)
{
	table->entries = NULL;
	table->count = 0;
	table->capacity = 0;
}

void
partition_table_free(PartitionTable *table)
{
	int			i;

	for (i = 0; i < table->count; i++)
		free(table->entries[i].topic);
	free(table->entries);
	partition_table_init(table);
}

OwnedPartition *
partition_table_find(PartitionTable *table, const char *topic, int32_t partition)
{
	int			i;

	for (i = 0; i < table->count; i++)
	{
		OwnedPartition *owned = &table->entries[i];

		if (owned->partition == partition && strcmp(owned->topic, topic) == 0)
			return owned;
	}
	return NULL;
}

OwnedPartition *
partition_table_add(PartitionTable *table, const char *topic, int32_t partition)
{
	OwnedPartition *owned = partition_table_find(table, topic, partition);

	if (owned != NULL)
		return owned;
	if (table->count == table->capacity)
	{
		int			capacity = table->capacity ? table->capacity * 2 : 16;
		OwnedPartition *entries = realloc(table->entries,
										  sizeof(OwnedPartition) * (size_t) capacity);

		if (entries == NULL)
		{
			fprintf(stderr, "axs-feeder: out of memory in the partition table\n");
			abort();
		}
		table->entries = entries;
		table->capacity = capacity;
	}
	owned = &table->entries[table->count++];
	memset(owned, 0, sizeof(*owned));
	owned->topic = strdup(topic);
	owned->partition = partition;
	owned->high_watermark = -1;
	return owned;
}

void
partition_table_remove(PartitionTable *table, const char *topic, int32_t partition)
{
	OwnedPartition *owned = partition_table_find(table, topic, partition);

	if (owned == NULL)
		return;
	free(owned->topic);
	*owned = table->entries[--table->count];
}

void
partition_set_stored(OwnedPartition *owned, bool has_stored, int64_t next_offset)
{
	owned->has_stored_offset = has_stored;
	owned->stored_next_offset = has_stored ? next_offset : 0;
	owned->accept_from_offset = has_stored ? next_offset : 0;
	owned->committed_next_offset = owned->stored_next_offset;
	owned->in_batch = false;
}

void
partition_table_written(PartitionTable *table, const char *topic, int32_t partition,
						int64_t next_offset)
{
	OwnedPartition *owned = partition_table_find(table, topic, partition);

	if (owned != NULL && next_offset > owned->committed_next_offset)
		owned->committed_next_offset = next_offset;
}

void
partition_table_batch_committed(PartitionTable *table)
{
	int			i;

	for (i = 0; i < table->count; i++)
	{
		OwnedPartition *owned = &table->entries[i];

		if (!owned->in_batch)
			continue;
		owned->has_stored_offset = true;
		owned->stored_next_offset = owned->batch_last_offset + 1;
		owned->in_batch = false;
	}
}

void
partition_table_batch_dropped(PartitionTable *table)
{
	int			i;

	for (i = 0; i < table->count; i++)
	{
		OwnedPartition *owned = &table->entries[i];

		owned->accept_from_offset = owned->has_stored_offset ?
			owned->stored_next_offset : 0;
		owned->in_batch = false;
	}
}
