/*
 * outcome_frames.c
 *		Reads axs.outcome_frames_after's frames (see outcome_frames.h).
 */
#include "outcome_frames.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "copy_binary.h"
#include "decimal.h"

static uint64_t
big_endian(const unsigned char *bytes, int size)
{
	uint64_t	value = 0;

	for (int i = 0; i < size; i++)
		value = (value << 8) | bytes[i];
	return value;
}

/* Make room for one more row. */
static void
grow_rows(OutcomeRow **rows, int *capacity, int needed)
{
	OutcomeRow *grown;
	int			wanted;

	if (needed <= *capacity)
		return;
	wanted = *capacity < 1024 ? 1024 : *capacity * 2;
	grown = realloc(*rows, sizeof(OutcomeRow) * (size_t) wanted);
	if (grown == NULL)
	{
		fprintf(stderr, "axs-feeder: out of memory for %d outcomes\n", wanted);
		abort();
	}
	*rows = grown;
	*capacity = wanted;
}

bool
outcome_frames_read(const char *data, size_t length, OutcomeRow **rows, int *capacity,
					int *count, char *error, size_t error_size)
{
	const unsigned char *bytes = (const unsigned char *) data;
	size_t		at = 0;

	while (at < length)
	{
		OutcomeRow *row;
		size_t		topic_length;
		size_t		message_length;
		int			flags;

		if (length - at < OUTCOME_FRAME_HEADER_BYTES)
		{
			snprintf(error, error_size, "a frame is cut short at byte %zu: %zu bytes left, "
					 "a header has %d", at, length - at, OUTCOME_FRAME_HEADER_BYTES);
			return false;
		}
		message_length = (size_t) big_endian(bytes + at + OUTCOME_FRAME_MESSAGE_LENGTH, 4);
		flags = (int) big_endian(bytes + at + OUTCOME_FRAME_FLAGS, 2);
		topic_length = (size_t) big_endian(bytes + at + OUTCOME_FRAME_TOPIC_LENGTH, 2);
		if (length - at - OUTCOME_FRAME_HEADER_BYTES < topic_length + message_length)
		{
			snprintf(error, error_size, "the frame at byte %zu names %zu bytes of topic and "
					 "message, %zu are left", at, topic_length + message_length,
					 length - at - OUTCOME_FRAME_HEADER_BYTES);
			return false;
		}
		grow_rows(rows, capacity, *count + 1);
		row = &(*rows)[*count];
		row->seq = (int64_t) big_endian(bytes + at + OUTCOME_FRAME_SEQ, 8);
		row->id_length = decimal_int64((int64_t) big_endian(bytes + at + OUTCOME_FRAME_ID, 8), row->id);
		row->has_queued_at = (flags & OUTCOME_FRAME_HAS_QUEUED_AT) != 0;
		row->queued_at_us = row->has_queued_at ?
			(int64_t) big_endian(bytes + at + OUTCOME_FRAME_QUEUED_AT, 8) + COPY_POSTGRES_EPOCH_OFFSET_USEC : 0;
		row->has_source = (flags & OUTCOME_FRAME_HAS_SOURCE) != 0;
		row->source_topic = NULL;
		row->source_topic_length = 0;
		row->source_partition = -1;
		row->source_partition_text_length = 0;
		row->source_offset_text_length = 0;
		if (row->has_source)
		{
			row->source_topic = data + at + OUTCOME_FRAME_HEADER_BYTES;
			row->source_topic_length = topic_length;
			row->source_partition = (int32_t) (uint32_t) big_endian(bytes + at + OUTCOME_FRAME_SOURCE_PARTITION, 4);
			row->source_partition_text_length = decimal_int64(row->source_partition,
															 row->source_partition_text);
			row->source_offset_text_length =
				decimal_int64((int64_t) big_endian(bytes + at + OUTCOME_FRAME_SOURCE_OFFSET, 8), row->source_offset_text);
		}
		row->message = data + at + OUTCOME_FRAME_HEADER_BYTES + topic_length;
		row->message_length = message_length;
		at += OUTCOME_FRAME_HEADER_BYTES + topic_length + message_length;
		(*count)++;
	}
	return true;
}
