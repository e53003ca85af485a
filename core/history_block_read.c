/*
 * history_block_read.c
 *		Reading blocks of per-account history (see history_block.h for the
 *		layout): counting, decoding, finding one key's entries, bounds.
 *
 * Reads never trust the bytes: every varint and length is checked against
 * the end of the block (or of the run being read), and every value derived
 * from stored differences is checked for overflow, so a damaged block reads
 * as malformed, never as a wild pointer.
 */
#include "history_block_internal.h"

#include <string.h>

/* Reading */

/* A position in a block's directory and data. */
typedef struct BlockReader
{
	const uint8_t *checkpoints;
	size_t		checkpoint_count;
	const uint8_t *directory_start;
	const uint8_t *directory;	/* the next directory item */
	const uint8_t *directory_end;
	const uint8_t *data_start;
	const uint8_t *data;		/* the next run's data */
	const uint8_t *end;			/* the block's end */
	size_t		entry_count;
	size_t		run_count;
	int64_t		base_event_id;
	size_t		run;			/* the next run's number */
	bool		started;		/* a run has been read since the last seek */
	int64_t		account;		/* the key and data of the run last read */
	int32_t		currency;
	const uint8_t *run_data;
	const uint8_t *run_end;
} BlockReader;

/* Read the header; false if it is malformed. */
static bool
reader_open(BlockReader *reader, const uint8_t *block, size_t length)
{
	const uint8_t *position;
	const uint8_t *end = block + length;
	uint64_t	entry_count;
	uint64_t	run_count;
	uint64_t	directory_length;
	size_t		checkpoints_length;

	if (length < 1 || block[0] != AXS_HISTORY_BLOCK_VERSION)
		return false;
	position = block + 1;
	if (!read_varint(&position, end, &entry_count) ||
		entry_count == 0 || entry_count > AXS_HISTORY_BLOCK_MAX_ENTRIES ||
		!read_varint(&position, end, &run_count) ||
		run_count == 0 || run_count > entry_count ||
		!read_varint(&position, end, &directory_length) ||
		!read_zigzag(&position, end, &reader->base_event_id))
		return false;
	checkpoints_length = CHECKPOINT_SIZE * checkpoint_count((size_t) run_count);
	if (checkpoints_length > (size_t) (end - position) ||
		directory_length == 0 || directory_length > (size_t) (end - position) - checkpoints_length)
		return false;
	reader->checkpoints = position;
	reader->checkpoint_count = checkpoint_count((size_t) run_count);
	reader->directory_start = reader->directory = position + checkpoints_length;
	reader->directory_end = reader->directory + directory_length;
	reader->data_start = reader->data = reader->directory_end;
	reader->end = end;
	reader->entry_count = (size_t) entry_count;
	reader->run_count = (size_t) run_count;
	reader->run = 0;
	reader->started = false;
	return true;
}

/*
 * Where checkpoint number checkpoint (0: the first run) puts the reader in
 * the directory and the data; false if its offsets are out of the block.
 */
static bool
checkpoint_position(const BlockReader *reader, size_t checkpoint,
					const uint8_t **directory, const uint8_t **data)
{
	size_t		directory_offset = 0;
	size_t		data_offset = 0;

	if (checkpoint > reader->checkpoint_count)
		return false;
	if (checkpoint > 0)
	{
		const uint8_t *offsets = reader->checkpoints + CHECKPOINT_SIZE * (checkpoint - 1);

		directory_offset = get_u16(offsets);
		data_offset = get_u16(offsets + 2);
		if (directory_offset >= (size_t) (reader->directory_end - reader->directory_start) ||
			data_offset >= (size_t) (reader->end - reader->data_start))
			return false;
	}
	*directory = reader->directory_start + directory_offset;
	*data = reader->data_start + data_offset;
	return true;
}

/* Move to a checkpoint, where the directory item holds a whole account. */
static bool
reader_seek(BlockReader *reader, size_t checkpoint)
{
	if (!checkpoint_position(reader, checkpoint, &reader->directory, &reader->data))
		return false;
	reader->run = CHECKPOINT_RUNS * checkpoint;
	reader->started = false;
	return true;
}

/*
 * Step to the next run: 1 if there is one (its key and data bounds in the
 * reader), 0 at the end of the directory, -1 if the item is malformed or
 * out of order.
 */
static int
reader_next_run(BlockReader *reader)
{
	uint64_t	account_part;
	uint64_t	currency;
	uint64_t	run_length;
	int64_t		account;

	if (reader->directory == reader->directory_end)
		return 0;
	if (!read_varint(&reader->directory, reader->directory_end, &account_part) ||
		!read_varint(&reader->directory, reader->directory_end, &currency) ||
		!read_varint(&reader->directory, reader->directory_end, &run_length))
		return -1;
	if (currency > UINT32_MAX || reader->run >= reader->run_count)
		return -1;
	if (account_whole(reader->run))
		account = unzigzag(account_part);
	else
	{
		/* an increase: it may not pass INT64_MAX */
		if (!reader->started ||
			account_part > (uint64_t) INT64_MAX - (uint64_t) reader->account)
			return -1;
		account = wrapping_sum(reader->account, (int64_t) account_part);
	}
	if (reader->started &&
		!key_less(reader->account, reader->currency, account, (int32_t) (uint32_t) currency))
		return -1;
	if (run_length == 0 || run_length > (uint64_t) (reader->end - reader->data))
		return -1;
	reader->run++;
	reader->started = true;
	reader->account = account;
	reader->currency = (int32_t) (uint32_t) currency;
	reader->run_data = reader->data;
	reader->run_end = reader->data + run_length;
	reader->data = reader->run_end;
	return 1;
}

/*
 * The key of the directory item at a checkpoint, read in place; false if
 * it is malformed.
 */
static bool
reader_checkpoint_key(const BlockReader *reader, size_t checkpoint,
					  int64_t *account, int32_t *currency)
{
	const uint8_t *directory;
	const uint8_t *data;
	uint64_t	account_part;
	uint64_t	currency_part;

	if (!checkpoint_position(reader, checkpoint, &directory, &data) ||
		!read_varint(&directory, reader->directory_end, &account_part) ||
		!read_varint(&directory, reader->directory_end, &currency_part) ||
		currency_part > UINT32_MAX)
		return false;
	*account = unzigzag(account_part);
	*currency = (int32_t) (uint32_t) currency_part;
	return true;
}

/* Read one entry but its event_id: the tag and deltas; before as in read_tag. */
static inline bool
read_entry_after_event_id(const uint8_t **position, const uint8_t *end,
						  const AxsHistoryEntry *before, AxsHistoryEntry *entry)
{
	return read_tag(position, end, before, entry) &&
		read_zigzag(position, end, &entry->available_delta) &&
		read_zigzag(position, end, &entry->frozen_delta);
}

/*
 * Read one entry's event_id, tag and deltas into entry; its event_id is
 * stored as a difference from since, its ordinal as in read_tag.
 */
static inline bool
read_entry(const uint8_t **position, const uint8_t *end, int64_t since,
		   const AxsHistoryEntry *before, AxsHistoryEntry *entry)
{
	int64_t		event_difference;

	if (!read_zigzag(position, end, &event_difference) ||
		!read_entry_after_event_id(position, end, before, entry))
		return false;
	entry->event_id = wrapping_sum(since, event_difference);
	return true;
}

/*
 * Decode the reader's current run into out[0..capacity); false if it is
 * malformed, does not fill its data exactly, or has more entries.
 */
static bool
reader_decode_run(const BlockReader *reader, int64_t locator,
				  AxsHistoryEntry *out, size_t capacity, size_t *count)
{
	const uint8_t *position = reader->run_data;
	const uint8_t *end = reader->run_end;
	AxsHistoryEntry entry;
	uint64_t	seqno;
	size_t		decoded = 0;

	memset(&entry, 0, sizeof(entry));
	entry.account = reader->account;
	entry.currency = reader->currency;
	if (!read_varint(&position, end, &seqno) || seqno == 0 || seqno > (uint64_t) INT64_MAX)
		return false;
	entry.seqno = (int64_t) seqno;
	if (entry.seqno > 1)
	{
		int64_t		distance;

		if (!read_zigzag(&position, end, &distance))
			return false;
		entry.previous_block = wrapping_difference(locator, distance);
		if (entry.previous_block <= 0 || entry.previous_block == locator)
			return false;
	}
	if (!read_zigzag(&position, end, &entry.available) ||
		!read_zigzag(&position, end, &entry.frozen))
		return false;
	if (reader->run_data == reader->data_start)
	{
		/* the block's first entry: its event_id is the header's */
		entry.event_id = reader->base_event_id;
		if (!read_entry_after_event_id(&position, end, NULL, &entry))
			return false;
	}
	else if (!read_entry(&position, end, reader->base_event_id, NULL, &entry))
		return false;
	if (!run_start_valid(&entry) || capacity == 0)
		return false;
	out[decoded++] = entry;

	while (position < end)
	{
		AxsHistoryEntry next = entry;

		if (entry.seqno == INT64_MAX || decoded == capacity)
			return false;
		next.seqno = entry.seqno + 1;
		next.previous_block = locator;
		if (!read_entry(&position, end, entry.event_id, &entry, &next) ||
			__builtin_add_overflow(entry.available, next.available_delta, &next.available) ||
			__builtin_add_overflow(entry.frozen, next.frozen_delta, &next.frozen))
			return false;
		out[decoded++] = next;
		entry = next;
	}
	*count = decoded;
	return true;
}

size_t
axs_history_block_count(const uint8_t *block, size_t length)
{
	BlockReader reader;

	if (!reader_open(&reader, block, length))
		return 0;
	return reader.entry_count;
}

bool
axs_history_block_decode(const uint8_t *block, size_t length, int64_t locator,
						 AxsHistoryEntry *out, size_t capacity, size_t *count)
{
	BlockReader reader;
	size_t		decoded = 0;
	int			step;

	*count = 0;
	if (!reader_open(&reader, block, length) || reader.entry_count > capacity)
		return false;
	for (;;)
	{
		size_t		run_count;

		/* each checkpoint says where its run is */
		if (reader.run > 0 && reader.run < reader.run_count && account_whole(reader.run))
		{
			const uint8_t *directory;
			const uint8_t *data;

			if (!checkpoint_position(&reader, reader.run / CHECKPOINT_RUNS, &directory, &data) ||
				directory != reader.directory || data != reader.data)
				return false;
		}
		if ((step = reader_next_run(&reader)) != 1)
			break;
		if (!reader_decode_run(&reader, locator, out + decoded,
							   reader.entry_count - decoded, &run_count))
			return false;
		decoded += run_count;
	}
	/* the runs cover the data exactly and hold the entries announced */
	if (step < 0 || reader.run != reader.run_count || reader.data != reader.end ||
		decoded != reader.entry_count)
		return false;
	*count = decoded;
	return true;
}

bool
axs_history_block_find(const uint8_t *block, size_t length, int64_t locator,
					   int64_t account, int32_t currency,
					   AxsHistoryEntry *out, size_t capacity, size_t *count)
{
	BlockReader reader;
	size_t		low = 0;
	size_t		high;
	int			step;

	*count = 0;
	if (!reader_open(&reader, block, length))
		return false;

	/* the last checkpoint whose key is not above the one sought, or the first */
	high = reader.checkpoint_count;
	while (low < high)
	{
		size_t		middle = high - (high - low) / 2;
		int64_t		middle_account;
		int32_t		middle_currency;

		if (!reader_checkpoint_key(&reader, middle, &middle_account, &middle_currency))
			return false;
		if (key_less(account, currency, middle_account, middle_currency))
			high = middle - 1;
		else
			low = middle;
	}

	/* then the runs from there, in key order */
	if (!reader_seek(&reader, low))
		return false;
	while ((step = reader_next_run(&reader)) == 1)
	{
		if (reader.account == account && reader.currency == currency)
			return reader_decode_run(&reader, locator, out, capacity, count);
		if (key_less(account, currency, reader.account, reader.currency))
			return true;		/* it would be here */
	}
	return step == 0;
}

bool
axs_history_block_bounds(const uint8_t *block, size_t length,
						 AxsHistoryKey *first, AxsHistoryKey *last)
{
	BlockReader reader;
	int			step;

	if (!reader_open(&reader, block, length) || reader_next_run(&reader) != 1)
		return false;
	first->account = reader.account;
	first->currency = reader.currency;
	if (!reader_seek(&reader, reader.checkpoint_count))
		return false;
	while ((step = reader_next_run(&reader)) == 1)
	{
		last->account = reader.account;
		last->currency = reader.currency;
	}
	/* run_count is past the last checkpoint: a run was read after it */
	return step == 0 && reader.run == reader.run_count && reader.data == reader.end;
}
