/*
 * outcome_block.c
 *		Encoding and lookup of blocks of decided events (see outcome_block.h).
 *
 * Reads never trust the bytes: every offset and length is checked against
 * the block's size, so a damaged block reads as "not found", never as a
 * wild pointer.
 */
#include "outcome_block.h"

#include <string.h>

#define COUNT_SIZE 2
#define ENTRY_SIZE 10			/* id i64 + data_offset u16 */
#define DATA_HEADER_SIZE 4		/* reason i16 + length u16 */

static void
put_u16(uint8_t *out, uint16_t value)
{
	out[0] = (uint8_t) value;
	out[1] = (uint8_t) (value >> 8);
}

static uint16_t
get_u16(const uint8_t *in)
{
	return (uint16_t) (in[0] | (in[1] << 8));
}

static void
put_i64(uint8_t *out, int64_t value)
{
	uint64_t	bits = (uint64_t) value;

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t) (bits >> (8 * i));
}

static int64_t
get_i64(const uint8_t *in)
{
	uint64_t	bits = 0;

	for (int i = 0; i < 8; i++)
		bits |= (uint64_t) in[i] << (8 * i);
	return (int64_t) bits;
}

size_t
axs_outcome_block_encode(const AxsOutcome *outcomes, size_t count,
						 uint8_t *out, size_t capacity, size_t *length)
{
	size_t		fitting = 0;
	size_t		used = COUNT_SIZE;
	size_t		data;

	if (capacity > AXS_OUTCOME_BLOCK_MAX)
		capacity = AXS_OUTCOME_BLOCK_MAX;
	*length = 0;
	if (count > UINT16_MAX)
		count = UINT16_MAX;
	while (fitting < count &&
		   used + ENTRY_SIZE + DATA_HEADER_SIZE + outcomes[fitting].payload_length <= capacity)
	{
		used += ENTRY_SIZE + DATA_HEADER_SIZE + outcomes[fitting].payload_length;
		fitting++;
	}
	if (fitting == 0)
		return 0;

	put_u16(out, (uint16_t) fitting);
	data = COUNT_SIZE + ENTRY_SIZE * fitting;
	for (size_t i = 0; i < fitting; i++)
	{
		uint8_t    *entry = out + COUNT_SIZE + ENTRY_SIZE * i;

		put_i64(entry, outcomes[i].id);
		put_u16(entry + 8, (uint16_t) data);
		put_u16(out + data, (uint16_t) outcomes[i].reason);
		put_u16(out + data + 2, outcomes[i].payload_length);
		if (outcomes[i].payload_length > 0)
			memcpy(out + data + DATA_HEADER_SIZE, outcomes[i].payload, outcomes[i].payload_length);
		data += DATA_HEADER_SIZE + outcomes[i].payload_length;
	}
	*length = data;
	return fitting;
}

size_t
axs_outcome_block_count(const uint8_t *block, size_t length)
{
	size_t		count;

	if (length < COUNT_SIZE)
		return 0;
	count = get_u16(block);
	if (COUNT_SIZE + ENTRY_SIZE * count > length)
		return 0;
	return count;
}

bool
axs_outcome_block_find(const uint8_t *block, size_t length, int64_t id,
					   AxsOutcome *outcome)
{
	size_t		low = 0;
	size_t		high = axs_outcome_block_count(block, length);

	while (low < high)
	{
		size_t		middle = low + (high - low) / 2;
		const uint8_t *entry = block + COUNT_SIZE + ENTRY_SIZE * middle;
		int64_t		entry_id = get_i64(entry);

		if (entry_id < id)
			low = middle + 1;
		else if (entry_id > id)
			high = middle;
		else
		{
			size_t		data = get_u16(entry + 8);
			uint16_t	payload_length;

			if (data + DATA_HEADER_SIZE > length)
				return false;
			payload_length = get_u16(block + data + 2);
			if (data + DATA_HEADER_SIZE + payload_length > length)
				return false;
			outcome->id = id;
			outcome->reason = (int16_t) get_u16(block + data);
			outcome->payload_length = payload_length;
			outcome->payload = block + data + DATA_HEADER_SIZE;
			return true;
		}
	}
	return false;
}

bool
axs_outcome_block_bounds(const uint8_t *block, size_t length, int64_t *first, int64_t *last)
{
	size_t		count = axs_outcome_block_count(block, length);

	if (count == 0)
		return false;
	*first = get_i64(block + COUNT_SIZE);
	*last = get_i64(block + COUNT_SIZE + ENTRY_SIZE * (count - 1));
	return true;
}
