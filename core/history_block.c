/*
 * history_block.c
 *		Encoding and checking blocks of per-account history (see
 *		history_block.h for the layout), and packing a unit's entries into
 *		blocks; reading them is history_block_read.c, sorting a unit
 *		history_sort.c.
 *
 * Reads never trust the bytes: every varint and length is checked against
 * the end of the block (or of the run being read), and every value derived
 * from stored differences is checked for overflow, so a damaged block reads
 * as malformed, never as a wild pointer.  The encoder applies the same
 * rules to its input as the decoder to its bytes: whatever decodes encodes
 * again to the same bytes, and entries that do not chain are refused rather
 * than stored.
 */
#include "history_block_internal.h"

#include <string.h>

/* Encoding */

/* Bytes of the directory item's key; previous is the entry before, if any. */
static inline size_t
directory_key_size(const AxsHistoryEntry *entry, const AxsHistoryEntry *previous, size_t run)
{
	size_t		account_size;

	if (account_whole(run))
		account_size = zigzag_size(entry->account);
	else
		account_size = varint_size((uint64_t) entry->account - (uint64_t) previous->account);
	return account_size + varint_size((uint32_t) entry->currency);
}

/* Bytes of a run's data before its first entry. */
static inline size_t
run_header_size(const AxsHistoryEntry *entry, int64_t locator)
{
	size_t		size = varint_size((uint64_t) entry->seqno) +
		zigzag_size(entry->available) + zigzag_size(entry->frozen);

	if (entry->seqno > 1)
		size += zigzag_size(wrapping_difference(locator, entry->previous_block));
	return size;
}

/*
 * Bytes of one entry; its event_id is stored as a difference from
 * since_event_id, its ordinal as a step from since_ordinal (see entry_tag).
 */
static inline size_t
entry_size(const AxsHistoryEntry *entry, int64_t since_event_id, int32_t since_ordinal)
{
	return zigzag_size(wrapping_difference(entry->event_id, since_event_id)) +
		varint_size(entry_tag(entry, since_ordinal)) +
		zigzag_size(entry->available_delta) + zigzag_size(entry->frozen_delta);
}

/* Write one entry but its event_id: the tag and the deltas. */
static inline uint8_t *
put_entry_after_event_id(uint8_t *out, const AxsHistoryEntry *entry, int32_t since_ordinal)
{
	out = put_varint(out, entry_tag(entry, since_ordinal));
	out = put_zigzag(out, entry->available_delta);
	return put_zigzag(out, entry->frozen_delta);
}

/* Write one entry as entry_size counts it. */
static inline uint8_t *
put_entry(uint8_t *out, const AxsHistoryEntry *entry, int64_t since_event_id,
		  int32_t since_ordinal)
{
	out = put_zigzag(out, wrapping_difference(entry->event_id, since_event_id));
	return put_entry_after_event_id(out, entry, since_ordinal);
}

/*
 * Write entries[0..count), already checked, as one block of run_count runs:
 * header, checkpoints, then a directory item and the data of each run.
 */
static size_t
write_block(const AxsHistoryEntry *entries, size_t count, size_t run_count, int64_t locator,
			size_t directory_length, uint8_t *out)
{
	int64_t		base_event_id = entries[0].event_id;
	uint8_t    *checkpoints;
	uint8_t    *directory_start;
	uint8_t    *directory;
	uint8_t    *data_start;
	uint8_t    *data;
	size_t		start = 0;

	*out = AXS_HISTORY_BLOCK_VERSION;
	checkpoints = put_varint(out + 1, count);
	checkpoints = put_varint(checkpoints, run_count);
	checkpoints = put_varint(checkpoints, directory_length);
	checkpoints = put_zigzag(checkpoints, base_event_id);
	directory_start = directory = checkpoints + CHECKPOINT_SIZE * checkpoint_count(run_count);
	data_start = data = directory + directory_length;

	for (size_t run = 0; start < count; run++)
	{
		const AxsHistoryEntry *first = &entries[start];
		uint8_t    *run_data = data;
		size_t		end = start + 1;

		if (run > 0 && account_whole(run))
		{
			put_u16(checkpoints, (size_t) (directory - directory_start));
			put_u16(checkpoints + 2, (size_t) (data - data_start));
			checkpoints += CHECKPOINT_SIZE;
		}

		data = put_varint(data, (uint64_t) first->seqno);
		if (first->seqno > 1)
			data = put_zigzag(data, wrapping_difference(locator, first->previous_block));
		data = put_zigzag(data, first->available);
		data = put_zigzag(data, first->frozen);
		if (start == 0)
			data = put_entry_after_event_id(data, first, 0);
		else
			data = put_entry(data, first, base_event_id, 0);
		while (end < count && same_key(&entries[end], first))
		{
			data = put_entry(data, &entries[end], entries[end - 1].event_id,
							 entries[end - 1].ordinal);
			end++;
		}

		if (account_whole(run))
			directory = put_zigzag(directory, first->account);
		else
			directory = put_varint(directory,
								   (uint64_t) first->account - (uint64_t) entries[start - 1].account);
		directory = put_varint(directory, (uint32_t) first->currency);
		directory = put_varint(directory, (uint64_t) (data - run_data));
		start = end;
	}
	return (size_t) (data - out);
}

size_t
axs_history_block_encode(const AxsHistoryEntry *entries, size_t count, int64_t locator,
						 uint8_t *out, size_t capacity, size_t *length)
{
	size_t		fitting = 0;
	size_t		run_count = 0;
	size_t		directory_length = 0;
	size_t		data_length = 0;
	size_t		run_length = 0;
	int64_t		base_event_id;

	*length = 0;
	if (count == 0 || locator <= 0)
		return 0;
	if (capacity > AXS_HISTORY_BLOCK_MAX)
		capacity = AXS_HISTORY_BLOCK_MAX;
	base_event_id = entries[0].event_id;

	/*
	 * Check each entry against the one before and add up the sizes until
	 * the next entry would not fit; that entry too is checked, so that a
	 * caller encoding block after block has every pair checked.
	 */
	for (size_t i = 0; i < count; i++)
	{
		const AxsHistoryEntry *entry = &entries[i];
		const AxsHistoryEntry *previous = i > 0 ? &entries[i - 1] : NULL;
		size_t		next_runs = run_count;
		size_t		next_directory;
		size_t		next_data;
		size_t		next_run;

		if (previous != NULL && same_key(entry, previous))
		{
			if (!entry_continues(previous, entry))
				return 0;
			next_run = run_length + entry_size(entry, previous->event_id, previous->ordinal);
			next_directory = directory_length - varint_size(run_length) + varint_size(next_run);
			next_data = data_length + (next_run - run_length);
		}
		else
		{
			if (previous != NULL &&
				!key_less(previous->account, previous->currency, entry->account, entry->currency))
				return 0;
			if (!run_start_valid(entry) || entry->previous_block == locator)
				return 0;
			next_run = run_header_size(entry, locator) + entry_size(entry, base_event_id, 0);
			if (i == 0)
				next_run -= zigzag_size(0);	/* the header's base_event_id */
			next_directory = directory_length + directory_key_size(entry, previous, run_count) +
				varint_size(next_run);
			next_data = data_length + next_run;
			next_runs++;
		}
		if (i + 1 > AXS_HISTORY_BLOCK_MAX_ENTRIES ||
			header_size(i + 1, next_runs, next_directory, base_event_id) +
			next_directory + next_data > capacity)
			break;
		fitting = i + 1;
		run_count = next_runs;
		directory_length = next_directory;
		data_length = next_data;
		run_length = next_run;
	}
	if (fitting == 0)
		return 0;
	*length = write_block(entries, fitting, run_count, locator, directory_length, out);
	return fitting;
}


/* Packing a unit */

bool
axs_history_pack(AxsHistoryEntry *entries, size_t count,
				 AxsHistoryNextLocator next_locator, AxsHistoryEmit emit,
				 void *context, AxsHistoryHead *heads, size_t heads_capacity,
				 size_t *head_count)
{
	uint8_t		block[AXS_HISTORY_BLOCK_MAX];
	size_t		keys = 0;
	size_t		start = 0;

	*head_count = 0;

	/* every entry, before any block leaves */
	for (size_t i = 0; i < count; i++)
	{
		const AxsHistoryEntry *previous = i > 0 ? &entries[i - 1] : NULL;

		if (previous != NULL && same_key(&entries[i], previous))
		{
			if (!entry_continues(previous, &entries[i]))
				return false;
		}
		else
		{
			if (previous != NULL &&
				!key_less(previous->account, previous->currency,
						  entries[i].account, entries[i].currency))
				return false;
			if (!run_start_valid(&entries[i]))
				return false;
			keys++;
		}
	}
	if (keys > heads_capacity)
		return false;

	while (start < count)
	{
		int64_t		locator = next_locator(context);
		size_t		length;
		size_t		encoded = axs_history_block_encode(entries + start, count - start,
													   locator, block, sizeof(block), &length);
		size_t		end = start + encoded;

		if (encoded == 0)
			return false;
		emit(context, locator, block, length);
		for (size_t i = start; i < end; i++)
		{
			if (i > start && same_key(&entries[i], &entries[i - 1]))
				entries[i].previous_block = locator;
			if (i + 1 == count || !same_key(&entries[i], &entries[i + 1]))
			{
				AxsHistoryHead *head = &heads[(*head_count)++];

				head->account = entries[i].account;
				head->currency = entries[i].currency;
				head->seqno = entries[i].seqno;
				head->locator = locator;
			}
		}
		/* a key running on into the next block starts there from this one */
		if (end < count && same_key(&entries[end], &entries[end - 1]))
			entries[end].previous_block = locator;
		start = end;
	}
	return true;
}
