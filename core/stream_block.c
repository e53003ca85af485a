/*
 * stream_block.c
 *		Packing and reading blocks of the outcome stream (see stream_block.h
 *		for the layout).
 *
 * An entry is handled as its ten fields in block order, each widened to an
 * int64, so that packing and reading step through one array the same way
 * and the field order is written down once (entry_fields).
 *
 * Reads never trust the bytes: every varint is checked against the end of
 * the block and every value against the range of its field, so a damaged
 * block reads as malformed, never as a wild pointer or a truncated value.
 */
#include "stream_block.h"

#include <string.h>

#include "varint.h"

/* The fields in block order. */
typedef enum StreamField
{
	FIELD_ID,
	FIELD_HISTORY_UNIT,
	FIELD_DECIDED_AT,
	FIELD_QUEUED_AT,
	FIELD_SOURCE_OFFSET,
	FIELD_ORDINAL,
	FIELD_SOURCE_TOPIC,
	FIELD_SOURCE_PARTITION,
	FIELD_REASON,
	FIELD_KIND,
	FIELD_COUNT
} StreamField;

/* Longest zigzag of the difference of two int32 values, and of two uint8. */
#define INT32_DIFFERENCE_MAX_BYTES 5
#define UINT8_DIFFERENCE_MAX_BYTES 2

_Static_assert(AXS_STREAM_ENTRY_MIN_BYTES == FIELD_COUNT, "an entry is at least a byte a field");
_Static_assert(AXS_STREAM_ENTRY_MAX_BYTES ==
			   5 * VARINT_MAX_BYTES + 3 * INT32_DIFFERENCE_MAX_BYTES + 2 * UINT8_DIFFERENCE_MAX_BYTES,
			   "the longest entry is the longest difference of every field");
_Static_assert(AXS_STREAM_BLOCK_MAX_ENTRIES < (1 << 14),
			   "a block's entry count is a varint of at most 2 bytes");

/* An entry's fields, in block order. */
static void
entry_fields(const AxsStreamEntry *entry, int64_t *fields)
{
	fields[FIELD_ID] = entry->id;
	fields[FIELD_HISTORY_UNIT] = entry->history_unit;
	fields[FIELD_DECIDED_AT] = entry->decided_at;
	fields[FIELD_QUEUED_AT] = entry->queued_at;
	fields[FIELD_SOURCE_OFFSET] = entry->source_offset;
	fields[FIELD_ORDINAL] = entry->ordinal;
	fields[FIELD_SOURCE_TOPIC] = entry->source_topic;
	fields[FIELD_SOURCE_PARTITION] = entry->source_partition;
	fields[FIELD_REASON] = entry->reason;
	fields[FIELD_KIND] = entry->kind;
}

static bool
fits_int32(int64_t value)
{
	return value >= INT32_MIN && value <= INT32_MAX;
}

static bool
fits_uint8(int64_t value)
{
	return value >= 0 && value <= UINT8_MAX;
}

/* The entry of fields read from a block; false if one does not fit its field. */
static bool
entry_from_fields(const int64_t *fields, AxsStreamEntry *entry)
{
	if (!fits_int32(fields[FIELD_ORDINAL]) || !fits_int32(fields[FIELD_SOURCE_TOPIC]) ||
		!fits_int32(fields[FIELD_SOURCE_PARTITION]) ||
		!fits_uint8(fields[FIELD_REASON]) || !fits_uint8(fields[FIELD_KIND]))
		return false;
	memset(entry, 0, sizeof(*entry));
	entry->id = fields[FIELD_ID];
	entry->history_unit = fields[FIELD_HISTORY_UNIT];
	entry->decided_at = fields[FIELD_DECIDED_AT];
	entry->queued_at = fields[FIELD_QUEUED_AT];
	entry->source_offset = fields[FIELD_SOURCE_OFFSET];
	entry->ordinal = (int32_t) fields[FIELD_ORDINAL];
	entry->source_topic = (int32_t) fields[FIELD_SOURCE_TOPIC];
	entry->source_partition = (int32_t) fields[FIELD_SOURCE_PARTITION];
	entry->reason = (uint8_t) fields[FIELD_REASON];
	entry->kind = (uint8_t) fields[FIELD_KIND];
	return true;
}

/*
 * Bytes of an entry of these fields after one of previous.  The int32 and
 * uint8 fields widened to int64 differ without wrapping, so one rule serves
 * every field.
 */
static size_t
entry_size(const int64_t *previous, const int64_t *fields)
{
	size_t		size = 0;

	for (int field = 0; field < FIELD_COUNT; field++)
		size += zigzag_size(wrapping_difference(fields[field], previous[field]));
	return size;
}

/* Write an entry of these fields after one of previous; returns the byte after it. */
static uint8_t *
put_entry(uint8_t *out, const int64_t *previous, const int64_t *fields)
{
	for (int field = 0; field < FIELD_COUNT; field++)
		out = put_zigzag(out, wrapping_difference(fields[field], previous[field]));
	return out;
}

/* Bytes of the header of a block of count entries. */
static size_t
header_size(size_t count)
{
	return 1 + varint_size(count);
}

size_t
axs_stream_block_pack(const AxsStreamEntry *entries, size_t count,
					  uint8_t *out, size_t capacity, size_t *packed)
{
	int64_t		previous[FIELD_COUNT] = {0};
	int64_t		fields[FIELD_COUNT];
	size_t		fitting = 0;
	size_t		entries_length = 0;
	uint8_t    *position;

	*packed = 0;
	if (capacity > AXS_STREAM_BLOCK_MAX)
		capacity = AXS_STREAM_BLOCK_MAX;

	/* Sizes first: the count, written before the entries, says how many fit. */
	while (fitting < count)
	{
		size_t		size;

		entry_fields(&entries[fitting], fields);
		size = entry_size(previous, fields);
		if (header_size(fitting + 1) + entries_length + size > capacity)
			break;
		entries_length += size;
		memcpy(previous, fields, sizeof(fields));
		fitting++;
	}
	if (fitting == 0)
		return 0;

	out[0] = AXS_STREAM_BLOCK_VERSION;
	position = put_varint(out + 1, fitting);
	memset(previous, 0, sizeof(previous));
	for (size_t i = 0; i < fitting; i++)
	{
		entry_fields(&entries[i], fields);
		position = put_entry(position, previous, fields);
		memcpy(previous, fields, sizeof(fields));
	}
	*packed = fitting;
	return (size_t) (position - out);
}

/*
 * Read the header: the entry count, and where the entries start.  False if
 * it is malformed, the block is too long, or the bytes after the header
 * could not hold that many entries.
 */
static bool
read_header(const uint8_t *block, size_t length, size_t *count, const uint8_t **entries)
{
	const uint8_t *end = block + length;
	const uint8_t *position;
	uint64_t	announced;

	if (length < 1 || length > AXS_STREAM_BLOCK_MAX || block[0] != AXS_STREAM_BLOCK_VERSION)
		return false;
	position = block + 1;
	if (!read_varint(&position, end, &announced) || announced == 0 ||
		announced > (uint64_t) (end - position) / AXS_STREAM_ENTRY_MIN_BYTES)
		return false;
	*count = (size_t) announced;
	*entries = position;
	return true;
}

bool
axs_stream_block_count(const uint8_t *block, size_t length, size_t *count)
{
	const uint8_t *entries;

	*count = 0;
	return read_header(block, length, count, &entries);
}

bool
axs_stream_block_read(const uint8_t *block, size_t length,
					  AxsStreamEntry *out, size_t capacity, size_t *count)
{
	const uint8_t *end = block + length;
	const uint8_t *position;
	size_t		announced;
	int64_t		previous[FIELD_COUNT] = {0};

	*count = 0;
	if (!read_header(block, length, &announced, &position) || announced > capacity)
		return false;
	for (size_t i = 0; i < announced; i++)
	{
		for (int field = 0; field < FIELD_COUNT; field++)
		{
			int64_t		difference;

			if (!read_zigzag(&position, end, &difference))
				return false;
			previous[field] = wrapping_sum(previous[field], difference);
		}
		if (!entry_from_fields(previous, &out[i]))
			return false;
	}
	if (position != end)
		return false;
	*count = announced;
	return true;
}
