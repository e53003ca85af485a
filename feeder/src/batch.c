/*
 * batch.c
 *		Building a batch from Kafka messages (see batch.h).
 *
 * A message is judged by axs_event_from_json, the same decoder the
 * extension uses, so a message is either an inbox row the applier can
 * decode or a dead letter with the decoder's reason; nothing is dropped.
 *
 * Dead letters are rare, so they are written as SQL literals rather than
 * COPY data, which lets the INSERT skip the ones already stored.  The
 * literals do not depend on the session's settings: text as E'' strings,
 * bytea as hex in an E'' string.
 */
#include "batch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

/* BATCH_INBOX_COPY's columns */
#define INBOX_FIELD_COUNT 6
#define EMPTY_MESSAGE_REASON "empty message"

void
batch_init(Batch *batch)
{
	memset(batch, 0, sizeof(*batch));
	copy_buffer_init(&batch->inbox_rows);
	copy_buffer_init(&batch->dead_letter_values);
}

/* Forget the ranges, keeping the array for the next batch. */
static void
batch_clear_ranges(Batch *batch)
{
	int			i;

	for (i = 0; i < batch->range_count; i++)
		free(batch->ranges[i].topic);
	batch->range_count = 0;
}

void
batch_free(Batch *batch)
{
	free(batch->inbox_copy_ends);
	copy_buffer_free(&batch->inbox_rows);
	copy_buffer_free(&batch->dead_letter_values);
	batch_clear_ranges(batch);
	free(batch->ranges);
	batch_init(batch);
}

void
batch_reset(Batch *batch)
{
	copy_buffer_reset(&batch->inbox_rows);
	copy_buffer_reset(&batch->dead_letter_values);
	batch->inbox_row_count = 0;
	batch->inbox_copy_count = 0;
	batch->dead_letter_count = 0;
	batch->message_count = 0;
	batch->first_message_ms = 0;
	batch->sealed = false;
	batch->session = 0;
	batch_clear_ranges(batch);
}

/*
 * The reason goes into a text column, so it must be valid in any server
 * encoding even when the decoder quotes bytes of the message: keep
 * printable ASCII only.
 */
static size_t
sanitize_reason(const char *reason, char *out, size_t out_size)
{
	size_t		length = 0;

	for (; reason[length] != '\0' && length + 1 < out_size; length++)
	{
		unsigned char c = (unsigned char) reason[length];

		out[length] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
	}
	out[length] = '\0';
	return length;
}

static void
append_text(CopyBuffer *text, const char *piece)
{
	copy_buffer_append(text, piece, strlen(piece));
}

/* bytes as an E'' string literal: valid whatever standard_conforming_strings says. */
static void
append_string_literal(CopyBuffer *text, const char *bytes, size_t length)
{
	size_t		i;

	append_text(text, "E'");
	for (i = 0; i < length; i++)
	{
		if (bytes[i] == '\\' || bytes[i] == '\'')
			copy_buffer_append(text, &bytes[i], 1);
		copy_buffer_append(text, &bytes[i], 1);
	}
	append_text(text, "'");
}

/* bytes as a bytea literal in hex, E'\\x...'::bytea. */
static void
append_bytea_literal(CopyBuffer *text, const uint8_t *bytes, size_t length)
{
	static const char hex[] = "0123456789abcdef";
	size_t		i;

	append_text(text, "E'\\\\x");
	for (i = 0; i < length; i++)
	{
		char		pair[2] = {hex[bytes[i] >> 4], hex[bytes[i] & 0x0f]};

		copy_buffer_append(text, pair, 2);
	}
	append_text(text, "'::bytea");
}

/* One row of the dead letters' VALUES list. */
static void
add_dead_letter(Batch *batch, const OwnedPartition *owned, int64_t offset,
				const void *value, size_t length, const char *reason)
{
	CopyBuffer *values = &batch->dead_letter_values;
	char		clean_reason[256];
	char		numbers[48];
	size_t		reason_length;

	reason_length = sanitize_reason(reason, clean_reason, sizeof(clean_reason));
	append_text(values, batch->dead_letter_count > 0 ? ",(" : "(");
	append_string_literal(values, owned->topic, strlen(owned->topic));
	snprintf(numbers, sizeof(numbers), ",%d,%" PRId64 ",", owned->partition, offset);
	append_text(values, numbers);
	if (value == NULL)
		append_text(values, "NULL");
	else
		append_bytea_literal(values, value, length);
	append_text(values, ",");
	append_string_literal(values, clean_reason, reason_length);
	append_text(values, ")");
	batch->dead_letter_count++;
}

/*
 * An array of the batch grown to twice its capacity (16 to start with);
 * running out of memory ends the process, as for the COPY buffers.
 */
static void *
grow_batch_array(void *items, int *capacity, size_t item_size, const char *what)
{
	int			grown_capacity = *capacity ? *capacity * 2 : 16;
	void	   *grown = realloc(items, item_size * (size_t) grown_capacity);

	if (grown == NULL)
	{
		fprintf(stderr, "axs-feeder: out of memory for batch %s\n", what);
		abort();
	}
	*capacity = grown_capacity;
	return grown;
}

/* End the inbox COPY being written: its trailer, and where it ends. */
static void
end_inbox_copy(Batch *batch)
{
	if (batch->inbox_copy_count == batch->inbox_copy_capacity)
		batch->inbox_copy_ends = grow_batch_array(batch->inbox_copy_ends, &batch->inbox_copy_capacity,
												  sizeof(size_t), "COPYs");
	copy_binary_put_trailer(&batch->inbox_rows);
	batch->inbox_copy_ends[batch->inbox_copy_count++] = batch->inbox_rows.length;
}

static void
add_inbox_row(Batch *batch, const OwnedPartition *owned, int64_t offset,
			  const AxsEvent *event, const uint8_t *payload, size_t payload_length,
			  int64_t queued_at_unix_ms)
{
	CopyBuffer *rows = &batch->inbox_rows;

	if (batch->inbox_row_count % BATCH_INBOX_ROWS_PER_COPY == 0)
	{
		if (batch->inbox_row_count > 0)
			end_inbox_copy(batch);
		copy_binary_put_header(rows);
	}
	copy_binary_put_tuple_begin(rows, INBOX_FIELD_COUNT);
	copy_binary_put_int64(rows, event->id);
	copy_binary_put_bytes(rows, payload, payload_length);
	copy_binary_put_timestamptz(rows,
								copy_binary_timestamptz_from_unix_ms(queued_at_unix_ms));
	copy_binary_put_int32(rows, owned->source_topic_id);
	copy_binary_put_int32(rows, owned->partition);
	copy_binary_put_int64(rows, offset);
	batch->inbox_row_count++;
}

BatchOutcome
batch_add_message(Batch *batch, OwnedPartition *owned, int64_t offset,
				  const void *value, size_t length, int64_t queued_at_unix_ms,
				  int64_t now_ms)
{
	BatchOutcome outcome;
	AxsEvent	event;
	AxsDecodeError error;

	/*
	 * After a seek librdkafka may still hand over a message fetched before
	 * it; anything below the accepted position is already in this batch or
	 * in PostgreSQL.
	 */
	if (offset < owned->accept_from_offset)
		return BATCH_SKIPPED;

	if (value == NULL || length == 0)
	{
		add_dead_letter(batch, owned, offset, value, length, EMPTY_MESSAGE_REASON);
		outcome = BATCH_DEAD_LETTER;
	}
	else if (!axs_event_from_json(value, length, &event, &error))
	{
		add_dead_letter(batch, owned, offset, value, length, error.message);
		outcome = BATCH_DEAD_LETTER;
	}
	else
	{
		uint8_t		payload[AXS_PAYLOAD_MAX];
		size_t		payload_length = axs_event_encode(&event, payload, sizeof(payload));

		if (payload_length == 0)
		{
			add_dead_letter(batch, owned, offset, value, length,
							"event too large to encode");
			outcome = BATCH_DEAD_LETTER;
		}
		else
		{
			add_inbox_row(batch, owned, offset, &event, payload, payload_length,
						  queued_at_unix_ms);
			outcome = BATCH_EVENT;
		}
	}

	if (batch->message_count == 0)
		batch->first_message_ms = now_ms;
	batch->message_count++;
	owned->in_batch = true;
	owned->batch_last_offset = offset;
	owned->accept_from_offset = offset + 1;
	return outcome;
}

size_t
batch_bytes(const Batch *batch)
{
	return batch->inbox_rows.length + batch->dead_letter_values.length;
}

void
batch_seal(Batch *batch)
{
	if (batch->sealed)
		return;
	if (batch->inbox_row_count > 0)
		end_inbox_copy(batch);
	batch->sealed = true;
}

void
batch_take_ranges(Batch *batch, const PartitionTable *table)
{
	int			i;

	batch_clear_ranges(batch);
	for (i = 0; i < table->count; i++)
	{
		const OwnedPartition *owned = &table->entries[i];
		BatchRange *range;

		if (!owned->in_batch)
			continue;
		if (batch->range_count == batch->range_capacity)
			batch->ranges = grow_batch_array(batch->ranges, &batch->range_capacity,
											 sizeof(BatchRange), "ranges");
		range = &batch->ranges[batch->range_count++];
		range->topic = strdup(owned->topic);
		if (range->topic == NULL)
		{
			fprintf(stderr, "axs-feeder: out of memory for batch ranges\n");
			abort();
		}
		range->partition = owned->partition;
		range->has_expected = owned->has_stored_offset;
		range->expected_next = owned->stored_next_offset;
		range->next_offset = owned->batch_last_offset + 1;
	}
}
