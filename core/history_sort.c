/*
 * history_sort.c
 *		Sorting a unit's history entries by (account, currency, seqno)
 *		before they are packed (see history_block.h): a radix sort on the
 *		caller's allocator, or in place without memory.
 */
#include "history_block_internal.h"

#include <string.h>

/* Sorting: runs this short are left to insertion sort. */
#define INSERTION_SORT_MAX 16

/* Sorting: fewer entries than this are sorted in place. */
#define RADIX_SORT_MIN 256


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
