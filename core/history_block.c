/*
 * history_block.c
 *		Encoding, checking and lookup of blocks of per-account history (see
 *		history_block.h for the layout), and packing a unit's entries into
 *		blocks.
 *
 * Reads never trust the bytes: every varint and length is checked against
 * the end of the block (or of the run being read), and every value derived
 * from stored differences is checked for overflow, so a damaged block reads
 * as malformed, never as a wild pointer.  The encoder applies the same
 * rules to its input as the decoder to its bytes: whatever decodes encodes
 * again to the same bytes, and entries that do not chain are refused rather
 * than stored.
 */
#include "history_block.h"

#include <string.h>

/* Longest varint of a 64-bit value. */
#define VARINT_MAX_BYTES 10

/* Sorting: runs this short are left to insertion sort. */
#define INSERTION_SORT_MAX 16

/* Sorting: fewer entries than this are sorted in place. */
#define RADIX_SORT_MIN 256

/* A checkpoint every this many runs; each is two u16 offsets. */
#define CHECKPOINT_RUNS 16
#define CHECKPOINT_SIZE 4


/* Varints and zigzag */

static inline uint64_t
zigzag(int64_t value)
{
	return ((uint64_t) value << 1) ^ (0 - ((uint64_t) value >> 63));
}

static inline int64_t
unzigzag(uint64_t value)
{
	return (int64_t) ((value >> 1) ^ (0 - (value & 1)));
}

/* a - b modulo 2^64, so that any two int64 values have a difference */
static inline int64_t
wrapping_difference(int64_t a, int64_t b)
{
	return (int64_t) ((uint64_t) a - (uint64_t) b);
}

static inline int64_t
wrapping_sum(int64_t a, int64_t b)
{
	return (int64_t) ((uint64_t) a + (uint64_t) b);
}

/* Bytes of the varint of value. */
static inline size_t
varint_size(uint64_t value)
{
	return (size_t) (64 - __builtin_clzll(value | 1) + 6) / 7;
}

/* Bytes of the zigzag varint of value. */
static inline size_t
zigzag_size(int64_t value)
{
	return varint_size(zigzag(value));
}

static inline uint8_t *
put_varint(uint8_t *out, uint64_t value)
{
	while (value >= 0x80)
	{
		*out++ = (uint8_t) (value | 0x80);
		value >>= 7;
	}
	*out++ = (uint8_t) value;
	return out;
}

static inline uint8_t *
put_zigzag(uint8_t *out, int64_t value)
{
	return put_varint(out, zigzag(value));
}

/*
 * Read a varint from *position, which must end before end.  False if it is
 * cut off, longer than 64 bits or not in its shortest form.
 */
static inline bool
read_varint(const uint8_t **position, const uint8_t *end, uint64_t *value)
{
	const uint8_t *in = *position;
	uint64_t	result = 0;

	if (in < end && *in < 0x80)
	{
		*value = *in;
		*position = in + 1;
		return true;
	}
	for (int shift = 0; shift < 7 * VARINT_MAX_BYTES && in < end; shift += 7)
	{
		uint8_t		byte = *in++;

		if (shift == 63 && byte > 1)
			return false;
		result |= (uint64_t) (byte & 0x7F) << shift;
		if (byte < 0x80)
		{
			if (byte == 0)
				return false;	/* a longer form of a shorter varint */
			*value = result;
			*position = in;
			return true;
		}
	}
	return false;
}

/* Read a zigzag varint, as read_varint. */
static inline bool
read_zigzag(const uint8_t **position, const uint8_t *end, int64_t *value)
{
	uint64_t	raw;

	if (!read_varint(position, end, &raw))
		return false;
	*value = unzigzag(raw);
	return true;
}


/* The rules entries follow, shared by the encoder and pack */

/* Whether two entries are of one (account, currency). */
static inline bool
same_key(const AxsHistoryEntry *a, const AxsHistoryEntry *b)
{
	return a->account == b->account && a->currency == b->currency;
}

/* (account, currency) order, signed. */
static inline bool
key_less(int64_t account_a, int32_t currency_a, int64_t account_b, int32_t currency_b)
{
	return account_a < account_b || (account_a == account_b && currency_a < currency_b);
}

/* (account, currency, seqno) order, signed. */
static inline bool
entry_less(const AxsHistoryEntry *a, const AxsHistoryEntry *b)
{
	if (a->account != b->account)
		return a->account < b->account;
	if (a->currency != b->currency)
		return a->currency < b->currency;
	return a->seqno < b->seqno;
}

/*
 * The first entry of a key in a block: a positive seqno, a previous block
 * exactly when there is a previous entry, and a balance before the event
 * that an int64 holds.
 */
static bool
run_start_valid(const AxsHistoryEntry *entry)
{
	int64_t		before;

	if (entry->seqno < 1 || entry->previous_block < 0)
		return false;
	if ((entry->seqno == 1) != (entry->previous_block == 0))
		return false;
	return !__builtin_sub_overflow(entry->available, entry->available_delta, &before) &&
		!__builtin_sub_overflow(entry->frozen, entry->frozen_delta, &before);
}

/* entry is the key's next after previous: next seqno, balances chained. */
static bool
entry_continues(const AxsHistoryEntry *previous, const AxsHistoryEntry *entry)
{
	int64_t		sum;

	if (previous->seqno == INT64_MAX || entry->seqno != previous->seqno + 1)
		return false;
	if (__builtin_add_overflow(previous->available, entry->available_delta, &sum) ||
		sum != entry->available)
		return false;
	if (__builtin_add_overflow(previous->frozen, entry->frozen_delta, &sum) ||
		sum != entry->frozen)
		return false;
	return true;
}


/* Sorting */

/* Exchange two entries. */
static inline void
swap_entries(AxsHistoryEntry *a, AxsHistoryEntry *b)
{
	AxsHistoryEntry swap = *a;

	*a = *b;
	*b = swap;
}

/* Sort a few entries. */
static void
insertion_sort(AxsHistoryEntry *entries, size_t count)
{
	for (size_t i = 1; i < count; i++)
	{
		AxsHistoryEntry moving = entries[i];
		size_t		j = i;

		while (j > 0 && entry_less(&moving, &entries[j - 1]))
		{
			entries[j] = entries[j - 1];
			j--;
		}
		entries[j] = moving;
	}
}

/* Restore the max-heap property below root. */
static void
sift_down(AxsHistoryEntry *entries, size_t root, size_t count)
{
	for (;;)
	{
		size_t		child = 2 * root + 1;

		if (child >= count)
			return;
		if (child + 1 < count && entry_less(&entries[child], &entries[child + 1]))
			child++;
		if (!entry_less(&entries[root], &entries[child]))
			return;
		swap_entries(&entries[root], &entries[child]);
		root = child;
	}
}

/* Sort in place in O(n log n) whatever the input. */
static void
heap_sort(AxsHistoryEntry *entries, size_t count)
{
	for (size_t i = count / 2; i > 0; i--)
		sift_down(entries, i - 1, count);
	for (size_t end = count - 1; end > 0; end--)
	{
		swap_entries(&entries[0], &entries[end]);
		sift_down(entries, 0, end);
	}
}

/* Quicksort on a median of three, heap sort past depth_left levels. */
static void
introsort(AxsHistoryEntry *entries, size_t count, int depth_left)
{
	while (count > INSERTION_SORT_MAX)
	{
		size_t		middle = count / 2;
		size_t		i = 0;
		size_t		j = count - 1;
		AxsHistoryEntry pivot;

		if (depth_left-- == 0)
		{
			heap_sort(entries, count);
			return;
		}
		/* entries[0] <= pivot <= entries[count - 1]: the scans stop */
		if (entry_less(&entries[middle], &entries[0]))
			swap_entries(&entries[middle], &entries[0]);
		if (entry_less(&entries[count - 1], &entries[middle]))
		{
			swap_entries(&entries[count - 1], &entries[middle]);
			if (entry_less(&entries[middle], &entries[0]))
				swap_entries(&entries[middle], &entries[0]);
		}
		pivot = entries[middle];
		for (;;)
		{
			do
				i++;
			while (entry_less(&entries[i], &pivot));
			do
				j--;
			while (entry_less(&pivot, &entries[j]));
			if (i >= j)
				break;
			swap_entries(&entries[i], &entries[j]);
		}
		/* [0, i) <= pivot <= [i, count); recurse into the smaller side */
		if (i < count - i)
		{
			introsort(entries, i, depth_left);
			entries += i;
			count -= i;
		}
		else
		{
			introsort(entries + i, count - i, depth_left);
			count = i;
		}
	}
	insertion_sort(entries, count);
}

/* Sort with no memory but the stack. */
static void
sort_in_place(AxsHistoryEntry *entries, size_t count)
{
	int			depth = 0;

	for (size_t n = count; n > 1; n >>= 1)
		depth += 2;
	introsort(entries, count, depth);
}

/* An entry's key as unsigned numbers in the same order, and where it is. */
typedef struct SortKey
{
	uint64_t	account;
	uint32_t	currency;
	uint32_t	index;
} SortKey;

/* Bytes of the radix sort's key: currency then account, least significant first. */
#define SORT_DIGITS 12

/* Byte digit of a sort key, 0 the least significant. */
static inline unsigned
sort_digit(const SortKey *key, int digit)
{
	if (digit < 4)
		return (key->currency >> (8 * digit)) & 0xFF;
	return (unsigned) (key->account >> (8 * (digit - 4))) & 0xFF;
}

/*
 * Sort by key with a least-significant-digit radix sort of (key, index)
 * pairs, skipping the bytes every key shares, then gather the entries in
 * that order into moved and copy them back (a gather's reads do not wait
 * on each other, as moving entries along the permutation's cycles would).
 * The radix sort is stable, so a key's entries keep their order; in the
 * usual case (entries made in the order they were applied) that is
 * already seqno order, and a key whose entries are not is sorted on its
 * own.
 */
static void
sort_by_radix(AxsHistoryEntry *entries, size_t count, SortKey *keys, SortKey *spare,
			  AxsHistoryEntry *moved)
{
	size_t		histogram[SORT_DIGITS][256];
	SortKey    *from = keys;
	SortKey    *to = spare;

	memset(histogram, 0, sizeof(histogram));
	for (size_t i = 0; i < count; i++)
	{
		keys[i].account = (uint64_t) entries[i].account ^ (UINT64_C(1) << 63);
		keys[i].currency = (uint32_t) entries[i].currency ^ (UINT32_C(1) << 31);
		keys[i].index = (uint32_t) i;
		for (int digit = 0; digit < SORT_DIGITS; digit++)
			histogram[digit][sort_digit(&keys[i], digit)]++;
	}
	for (int digit = 0; digit < SORT_DIGITS; digit++)
	{
		size_t	   *offsets = histogram[digit];
		size_t		sum = 0;
		SortKey    *swap;

		if (offsets[sort_digit(&keys[0], digit)] == count)
			continue;			/* every key has this byte */
		for (int value = 0; value < 256; value++)
		{
			size_t		bucket = offsets[value];

			offsets[value] = sum;
			sum += bucket;
		}
		for (size_t i = 0; i < count; i++)
			to[offsets[sort_digit(&from[i], digit)]++] = from[i];
		swap = from;
		from = to;
		to = swap;
	}

	for (size_t i = 0; i < count; i++)
		moved[i] = entries[from[i].index];
	memcpy(entries, moved, count * sizeof(AxsHistoryEntry));

	for (size_t start = 0; start < count;)
	{
		size_t		end = start + 1;
		bool		in_order = true;

		while (end < count && same_key(&entries[end], &entries[start]))
		{
			in_order = in_order && entries[end - 1].seqno <= entries[end].seqno;
			end++;
		}
		if (!in_order)
			sort_in_place(entries + start, end - start);
		start = end;
	}
}

void
axs_history_sort(AxsHistoryEntry *entries, size_t count, const AxsAllocator *allocator)
{
	size_t		i = 1;
	SortKey    *keys;
	AxsHistoryEntry *moved;

	while (i < count && !entry_less(&entries[i], &entries[i - 1]))
		i++;
	if (i >= count)
		return;					/* already sorted */
	if (allocator == NULL || count < RADIX_SORT_MIN || count > UINT32_MAX)
	{
		sort_in_place(entries, count);
		return;
	}
	keys = allocator->allocate(allocator->context, 2 * count * sizeof(SortKey));
	moved = allocator->allocate(allocator->context, count * sizeof(AxsHistoryEntry));
	sort_by_radix(entries, count, keys, keys + count, moved);
	allocator->release(allocator->context, moved);
	allocator->release(allocator->context, keys);
}


/* Encoding */

/* A u16, little-endian. */
static inline void
put_u16(uint8_t *out, size_t value)
{
	out[0] = (uint8_t) value;
	out[1] = (uint8_t) (value >> 8);
}

/* A u16, little-endian. */
static inline size_t
get_u16(const uint8_t *in)
{
	return (size_t) in[0] | ((size_t) in[1] << 8);
}

/* Checkpoints of a block of run_count runs: one for each CHECKPOINT_RUNS but the first. */
static inline size_t
checkpoint_count(size_t run_count)
{
	return (run_count - 1) / CHECKPOINT_RUNS;
}

/* Bytes of the header and the checkpoints. */
static inline size_t
header_size(size_t entry_count, size_t run_count, size_t directory_length,
			int64_t base_event_id)
{
	return 1 + varint_size(entry_count) + varint_size(run_count) +
		varint_size(directory_length) + zigzag_size(base_event_id) +
		CHECKPOINT_SIZE * checkpoint_count(run_count);
}

/* Whether run number run stores its account whole rather than as an increase. */
static inline bool
account_whole(size_t run)
{
	return run % CHECKPOINT_RUNS == 0;
}

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

/* Bytes of one entry; its event_id is stored as a difference from since. */
static inline size_t
entry_size(const AxsHistoryEntry *entry, int64_t since)
{
	return zigzag_size(wrapping_difference(entry->event_id, since)) +
		zigzag_size(entry->available_delta) + zigzag_size(entry->frozen_delta);
}

/* Write one entry as entry_size counts it. */
static inline uint8_t *
put_entry(uint8_t *out, const AxsHistoryEntry *entry, int64_t since)
{
	out = put_zigzag(out, wrapping_difference(entry->event_id, since));
	out = put_zigzag(out, entry->available_delta);
	return put_zigzag(out, entry->frozen_delta);
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
		{
			data = put_zigzag(data, first->available_delta);
			data = put_zigzag(data, first->frozen_delta);
		}
		else
			data = put_entry(data, first, base_event_id);
		while (end < count && same_key(&entries[end], first))
		{
			data = put_entry(data, &entries[end], entries[end - 1].event_id);
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
			next_run = run_length + entry_size(entry, previous->event_id);
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
			next_run = run_header_size(entry, locator) + entry_size(entry, base_event_id);
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

/* Read one entry's event_id and deltas into entry; since as in entry_size. */
static inline bool
read_entry(const uint8_t **position, const uint8_t *end, int64_t since, AxsHistoryEntry *entry)
{
	int64_t		event_difference;

	if (!read_zigzag(position, end, &event_difference) ||
		!read_zigzag(position, end, &entry->available_delta) ||
		!read_zigzag(position, end, &entry->frozen_delta))
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
		if (!read_zigzag(&position, end, &entry.available_delta) ||
			!read_zigzag(&position, end, &entry.frozen_delta))
			return false;
	}
	else if (!read_entry(&position, end, reader->base_event_id, &entry))
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
		if (!read_entry(&position, end, entry.event_id, &next) ||
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
