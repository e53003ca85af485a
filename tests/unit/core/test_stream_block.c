/*
 * test_stream_block.c
 *		Tests of the outcome stream block codec: round trip of random and
 *		extreme entries, the exact byte layout, the longest entry, packing a
 *		long array into blocks of several capacities, the size of a typical
 *		applier batch, and the refusal of truncated, recounted, overlong,
 *		out-of-range and randomly mutated blocks.
 *
 * The malformed-block tests copy each block into a heap buffer of exactly
 * its length, so running under valgrind or AddressSanitizer catches any
 * read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stream_block.h"
#include "test_support.h"

/* Room for any block's entries. */
#define OUT_CAPACITY AXS_STREAM_BLOCK_MAX_ENTRIES

/* Fail unless every field of two entries is equal. */
static void
assert_entry_equal(const AxsStreamEntry *found, const AxsStreamEntry *expected)
{
	if (found->id != expected->id || found->history_unit != expected->history_unit ||
		found->decided_at != expected->decided_at || found->queued_at != expected->queued_at ||
		found->source_offset != expected->source_offset ||
		found->ordinal != expected->ordinal || found->source_topic != expected->source_topic ||
		found->source_partition != expected->source_partition ||
		found->reason != expected->reason || found->kind != expected->kind)
		fail_msg("entry differs: found id %lld unit %lld decided %lld queued %lld offset %lld "
				 "ordinal %d topic %d partition %d reason %d kind %d; expected id %lld unit %lld "
				 "decided %lld queued %lld offset %lld ordinal %d topic %d partition %d "
				 "reason %d kind %d",
				 (long long) found->id, (long long) found->history_unit,
				 (long long) found->decided_at, (long long) found->queued_at,
				 (long long) found->source_offset, found->ordinal, found->source_topic,
				 found->source_partition, found->reason, found->kind,
				 (long long) expected->id, (long long) expected->history_unit,
				 (long long) expected->decided_at, (long long) expected->queued_at,
				 (long long) expected->source_offset, expected->ordinal,
				 expected->source_topic, expected->source_partition, expected->reason,
				 expected->kind);
}

/*
 * Pack all of entries into one block of at most capacity bytes, check that
 * it reads back, counts, and reads as malformed into one entry less room.
 * Returns its length.
 */
static size_t
assert_round_trip(const AxsStreamEntry *entries, size_t count, uint8_t *block, size_t capacity)
{
	static AxsStreamEntry out[OUT_CAPACITY];
	size_t		packed = 12345;
	size_t		length;
	size_t		counted = 12345;
	size_t		decoded = 12345;

	length = axs_stream_block_pack(entries, count, block, capacity, &packed);
	assert_int_equal(packed, count);
	assert_true(length >= 1 + 1 + AXS_STREAM_ENTRY_MIN_BYTES * count);
	assert_true(length <= capacity && length <= AXS_STREAM_BLOCK_MAX);
	assert_true(axs_stream_block_count(block, length, &counted));
	assert_int_equal(counted, count);
	assert_true(axs_stream_block_read(block, length, out, OUT_CAPACITY, &decoded));
	assert_int_equal(decoded, count);
	for (size_t i = 0; i < count; i++)
		assert_entry_equal(&out[i], &entries[i]);
	assert_false(axs_stream_block_read(block, length, out, count - 1, &decoded));
	assert_int_equal(decoded, 0);
	return length;
}

/* a + b modulo 2^64: the tests build without -fwrapv */
static int64_t
plus(int64_t a, int64_t b)
{
	return (int64_t) ((uint64_t) a + (uint64_t) b);
}

/* A value of one of many sizes and signs, now and then an extreme. */
static int64_t
random_int64(TestRandom *random)
{
	static const int64_t extremes[] = {0, 1, -1, INT64_MIN, INT64_MAX, INT64_MIN + 1,
	INT64_MAX - 1, INT32_MIN, INT32_MAX};

	switch (test_random_below(random, 4))
	{
		case 0:
			return extremes[test_random_below(random, sizeof(extremes) / sizeof(extremes[0]))];
		case 1:
			return (int64_t) test_random_below(random, 1000) - 500;
		case 2:
			return (int64_t) (test_random_next(random) >> test_random_below(random, 64));
		default:
			return (int64_t) test_random_next(random);
	}
}

static int32_t
random_int32(TestRandom *random)
{
	static const int32_t extremes[] = {0, 1, -1, INT32_MIN, INT32_MAX};

	if (test_random_below(random, 4) == 0)
		return extremes[test_random_below(random, sizeof(extremes) / sizeof(extremes[0]))];
	return (int32_t) (uint32_t) (test_random_next(random) >> test_random_below(random, 64));
}

static void
random_entry(TestRandom *random, AxsStreamEntry *entry)
{
	memset(entry, 0, sizeof(*entry));
	entry->id = random_int64(random);
	entry->history_unit = random_int64(random);
	entry->decided_at = random_int64(random);
	entry->queued_at = random_int64(random);
	entry->source_offset = random_int64(random);
	entry->ordinal = random_int32(random);
	entry->source_topic = random_int32(random);
	entry->source_partition = random_int32(random);
	entry->reason = (uint8_t) test_random_next(random);
	entry->kind = (uint8_t) test_random_next(random);
}

/* Entries of any values round-trip: random ones, in blocks of 1 to 100. */
static void
test_round_trip_random(void **state)
{
	TestRandom	random = {UINT64_C(0x57ea4b10c0dec0de)};
	static AxsStreamEntry entries[100];
	static uint8_t block[AXS_STREAM_BLOCK_MAX];

	(void) state;
	for (int round = 0; round < 2000; round++)
	{
		size_t		count = 1 + (size_t) test_random_below(&random, 100);

		for (size_t i = 0; i < count; i++)
			random_entry(&random, &entries[i]);
		/* 100 entries of the longest kind still fit one block */
		assert_round_trip(entries, count, block, sizeof(block));
	}
}

/* The extremes of every field, alone and next to each other. */
static void
test_extreme_values(void **state)
{
	static const AxsStreamEntry entries[] = {
		{0},
		{.id = INT64_MIN, .history_unit = INT64_MIN, .decided_at = INT64_MIN,
			.queued_at = INT64_MIN, .source_offset = INT64_MIN, .ordinal = INT32_MIN,
		.source_topic = INT32_MIN, .source_partition = INT32_MIN, .reason = 0, .kind = 0},
		{.id = INT64_MAX, .history_unit = INT64_MAX, .decided_at = INT64_MAX,
			.queued_at = INT64_MAX, .source_offset = INT64_MAX, .ordinal = INT32_MAX,
		.source_topic = INT32_MAX, .source_partition = INT32_MAX, .reason = UINT8_MAX,
		.kind = UINT8_MAX},
		{.id = INT64_MIN, .history_unit = 0, .decided_at = -1, .queued_at = INT64_MAX,
			.source_offset = INT64_MIN, .ordinal = 0, .source_topic = INT32_MIN,
		.source_partition = INT32_MAX, .reason = UINT8_MAX, .kind = 0},
		/* before 2000-01-01 and a synchronous call */
		{.id = 1, .history_unit = 7, .decided_at = -946684800000000LL, .queued_at = 0,
		.source_offset = 0, .ordinal = 0, .reason = 3, .kind = 5},
		{.id = INT64_MAX, .history_unit = -1, .decided_at = INT64_MIN, .queued_at = -1,
			.source_offset = INT64_MAX, .ordinal = -1, .source_topic = 1,
		.source_partition = -1, .reason = 1, .kind = 7},
		{0},
	};
	const size_t count = sizeof(entries) / sizeof(entries[0]);
	uint8_t		block[AXS_STREAM_BLOCK_MAX];

	(void) state;
	assert_round_trip(entries, count, block, sizeof(block));
	/* each alone, and each pair in both orders */
	for (size_t i = 0; i < count; i++)
	{
		assert_round_trip(&entries[i], 1, block, sizeof(block));
		for (size_t j = 0; j < count; j++)
		{
			AxsStreamEntry pair[2] = {entries[i], entries[j]};

			assert_round_trip(pair, 2, block, sizeof(block));
		}
	}
	/* an all-zero entry is a byte a field */
	assert_int_equal(assert_round_trip(&entries[0], 1, block, sizeof(block)),
					 2 + AXS_STREAM_ENTRY_MIN_BYTES);
}

/*
 * The longest entry is AXS_STREAM_ENTRY_MAX_BYTES, whether first or after
 * another, and a capacity of AXS_STREAM_BLOCK_MIN_CAPACITY holds it.
 */
static void
test_longest_entry(void **state)
{
	/*
	 * Every int64 difference of 10 bytes (INT64_MIN from 0), every int32
	 * one of 5, every uint8 one of 2: from all-zero, and from the first.
	 */
	static const AxsStreamEntry longest_first = {
		.id = INT64_MIN, .history_unit = INT64_MIN, .decided_at = INT64_MIN,
		.queued_at = INT64_MIN, .source_offset = INT64_MIN, .ordinal = INT32_MIN,
		.source_topic = INT32_MIN, .source_partition = INT32_MIN, .reason = UINT8_MAX,
		.kind = UINT8_MAX,
	};
	static const AxsStreamEntry pair[] = {
		{.ordinal = INT32_MAX, .source_topic = INT32_MAX, .source_partition = INT32_MAX,
		.reason = UINT8_MAX, .kind = UINT8_MAX},
		{.id = INT64_MIN, .history_unit = INT64_MIN, .decided_at = INT64_MIN,
			.queued_at = INT64_MIN, .source_offset = INT64_MIN, .ordinal = INT32_MIN,
		.source_topic = INT32_MIN, .source_partition = INT32_MIN, .reason = 0, .kind = 0},
	};
	uint8_t		block[AXS_STREAM_BLOCK_MAX];
	size_t		first;
	size_t		packed;

	(void) state;
	assert_int_equal(assert_round_trip(&longest_first, 1, block, sizeof(block)),
					 2 + AXS_STREAM_ENTRY_MAX_BYTES);
	first = assert_round_trip(pair, 1, block, sizeof(block));
	assert_int_equal(assert_round_trip(pair, 2, block, sizeof(block)) - first,
					 AXS_STREAM_ENTRY_MAX_BYTES);

	/* the least capacity promised holds it; a block's exact length too, a byte less not */
	assert_round_trip(&longest_first, 1, block, AXS_STREAM_BLOCK_MIN_CAPACITY);
	assert_int_equal(axs_stream_block_pack(&longest_first, 1, block,
										   2 + AXS_STREAM_ENTRY_MAX_BYTES, &packed),
					 2 + AXS_STREAM_ENTRY_MAX_BYTES);
	assert_int_equal(packed, 1);
	assert_int_equal(axs_stream_block_pack(&longest_first, 1, block,
										   1 + AXS_STREAM_ENTRY_MAX_BYTES, &packed), 0);
	assert_int_equal(packed, 0);
}

static void
test_exact_layout(void **state)
{
	static const AxsStreamEntry entries[] = {
		{.id = 5, .decided_at = -1, .source_topic = 1, .source_partition = 2,
		.reason = 3, .kind = 4},
		{.id = 4, .history_unit = 200, .decided_at = -1, .ordinal = 1, .source_topic = 1,
		.source_partition = 2, .reason = 0, .kind = 4},
	};
	static const uint8_t expected[] = {
		0x01,					/* version */
		0x02,					/* 2 entries */
		/* id 5, unit 0, decided -1, queued 0, offset 0, ordinal 0, topic 1, ... */
		0x0A, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x04, 0x06, 0x08,
		/* id -1, unit +200 (zigzag 400), ordinal +1, reason -3, the rest 0 */
		0x01, 0x90, 0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x05, 0x00,
	};
	AxsStreamEntry out[2];
	uint8_t		block[64];
	size_t		packed = 0;
	size_t		count = 0;

	(void) state;
	memset(block, 0xEE, sizeof(block));
	assert_int_equal(axs_stream_block_pack(entries, 2, block, sizeof(block), &packed),
					 sizeof(expected));
	assert_int_equal(packed, 2);
	assert_memory_equal(block, expected, sizeof(expected));
	/* nothing written past the length */
	for (size_t i = sizeof(expected); i < sizeof(block); i++)
		assert_int_equal(block[i], 0xEE);

	/* the reader reads hand-written bytes the same way */
	assert_true(axs_stream_block_read(expected, sizeof(expected), out, 2, &count));
	assert_int_equal(count, 2);
	assert_entry_equal(&out[0], &entries[0]);
	assert_entry_equal(&out[1], &entries[1]);
}

#define MANY_ENTRIES 20000

/*
 * A long array packs into blocks, each within its capacity, that read back
 * to every entry in order; each block starts afresh against an all-zero
 * entry.
 */
static void
test_pack_splits(void **state)
{
	TestRandom	random = {UINT64_C(0x5b11751b10c5a11e)};
	static AxsStreamEntry entries[MANY_ENTRIES];
	static AxsStreamEntry out[OUT_CAPACITY];
	static uint8_t block[2 * AXS_STREAM_BLOCK_MAX];
	const size_t capacities[] = {
		AXS_STREAM_BLOCK_MIN_CAPACITY, 100, 500, 4096, AXS_STREAM_BLOCK_MAX,
		2 * AXS_STREAM_BLOCK_MAX,	/* counts as AXS_STREAM_BLOCK_MAX */
	};
	size_t		packed = 12345;

	(void) state;
	for (size_t i = 0; i < MANY_ENTRIES; i++)
	{
		/* mostly a batch's small steps, now and then anything */
		if (i > 0 && test_random_below(&random, 10) != 0)
		{
			entries[i] = entries[i - 1];
			entries[i].id = plus(entries[i].id, 1 + (int64_t) test_random_below(&random, 3));
			entries[i].queued_at = plus(entries[i].queued_at,
										(int64_t) test_random_below(&random, 2000) - 1000);
			entries[i].source_offset = plus(entries[i].source_offset,
											(int64_t) test_random_below(&random, 100));
			entries[i].ordinal = (int32_t) ((uint32_t) entries[i].ordinal + 1);
			entries[i].source_partition = (int32_t) test_random_below(&random, 32);
			entries[i].reason = (uint8_t) test_random_below(&random, 8);
		}
		else
			random_entry(&random, &entries[i]);
	}

	for (size_t c = 0; c < sizeof(capacities) / sizeof(capacities[0]); c++)
	{
		size_t		capacity = capacities[c];
		size_t		limit = capacity < AXS_STREAM_BLOCK_MAX ? capacity : AXS_STREAM_BLOCK_MAX;
		size_t		start = 0;
		size_t		blocks = 0;

		while (start < MANY_ENTRIES)
		{
			size_t		length;
			size_t		count = 0;

			length = axs_stream_block_pack(entries + start, MANY_ENTRIES - start,
										   block, capacity, &packed);
			assert_true(packed > 0);
			assert_true(packed <= MANY_ENTRIES - start);
			assert_true(length > 0 && length <= limit);
			/* the next entry did not fit: a block is cut only when full */
			if (start + packed < MANY_ENTRIES)
				assert_true(length + AXS_STREAM_ENTRY_MAX_BYTES + 1 > limit);
			assert_true(axs_stream_block_read(block, length, out, OUT_CAPACITY, &count));
			assert_int_equal(count, packed);
			for (size_t i = 0; i < count; i++)
				assert_entry_equal(&out[i], &entries[start + i]);
			start += packed;
			blocks++;
		}
		assert_int_equal(start, MANY_ENTRIES);
		assert_true(blocks >= MANY_ENTRIES / ((limit - 2) / AXS_STREAM_ENTRY_MIN_BYTES));
	}

	/* nothing to pack, or no room for the first entry: nothing written */
	memset(block, 0xEE, sizeof(block));
	assert_int_equal(axs_stream_block_pack(entries, 0, block, sizeof(block), &packed), 0);
	assert_int_equal(packed, 0);
	for (size_t capacity = 0; capacity < 2 + AXS_STREAM_ENTRY_MIN_BYTES; capacity++)
	{
		packed = 12345;
		assert_int_equal(axs_stream_block_pack(entries, MANY_ENTRIES, block, capacity, &packed), 0);
		assert_int_equal(packed, 0);
	}
	for (size_t i = 0; i < sizeof(block); i++)
		assert_int_equal(block[i], 0xEE);

	/* a capacity of exactly one entry's block holds it; a byte less, none */
	{
		size_t		one = axs_stream_block_pack(entries, 1, block, sizeof(block), &packed);

		assert_int_equal(axs_stream_block_pack(entries, MANY_ENTRIES, block, one, &packed), one);
		assert_int_equal(packed, 1);
		assert_int_equal(axs_stream_block_pack(entries, MANY_ENTRIES, block, one - 1, &packed), 0);
		assert_int_equal(packed, 0);
	}
}

#define BATCH_ENTRIES 1000
#define BATCH_PARTITIONS 32

/*
 * The most bytes an entry of the batch below may take on average.  Each
 * field's difference is one byte but the queue time's (2) and the offset's
 * from another partition's (4), and each rejection's history_unit of 0
 * costs two 4-byte differences: about 14 in all, so a byte more on any
 * field fails.
 */
#define BATCH_MAX_BYTES_PER_ENTRY 14.5

/*
 * One applier batch from Kafka: ids rising by 1 to 3, one history unit and
 * decision time, queued a few milliseconds before, messages of 32
 * partitions interleaved, each partition's offsets rising, one event in 50
 * rejected (no history).
 */
static void
test_typical_batch_size(void **state)
{
	TestRandom	random = {UINT64_C(0x0ba7c4ba7c4ba7c4)};
	static AxsStreamEntry entries[BATCH_ENTRIES];
	static uint8_t block[AXS_STREAM_BLOCK_MAX];
	int64_t		offsets[BATCH_PARTITIONS];
	const int64_t decided_at = INT64_C(827000000000000);	/* March 2026 */
	int64_t		id = INT64_C(1700000000000);
	size_t		start = 0;
	size_t		total = 0;
	size_t		blocks = 0;
	double		average;

	(void) state;
	for (int p = 0; p < BATCH_PARTITIONS; p++)
		offsets[p] = 40000000 + (int64_t) test_random_below(&random, 20000000);
	for (size_t i = 0; i < BATCH_ENTRIES; i++)
	{
		AxsStreamEntry *entry = &entries[i];
		int32_t		partition = (int32_t) test_random_below(&random, BATCH_PARTITIONS);
		bool		rejected = test_random_below(&random, 50) == 0;

		memset(entry, 0, sizeof(*entry));
		id += 1 + (int64_t) test_random_below(&random, 3);
		entry->id = id;
		entry->history_unit = rejected ? 0 : INT64_C(31000000);
		entry->decided_at = decided_at;
		entry->queued_at = decided_at - 2000 - (int64_t) test_random_below(&random, 3000);
		entry->source_offset = offsets[partition]++;
		entry->ordinal = (int32_t) i;
		entry->source_topic = 3;
		entry->source_partition = partition;
		entry->reason = rejected ? 1 : 0;
		entry->kind = (uint8_t) (1 + test_random_below(&random, 7));
	}

	while (start < BATCH_ENTRIES)
	{
		size_t		packed;
		size_t		length = axs_stream_block_pack(entries + start, BATCH_ENTRIES - start,
												   block, sizeof(block), &packed);

		assert_true(packed > 0);
		assert_round_trip(entries + start, packed, block, sizeof(block));
		total += length;
		start += packed;
		blocks++;
	}
	average = (double) total / BATCH_ENTRIES;
	print_message("typical batch: %zu entries in %zu blocks, %zu bytes, %.2f bytes an entry\n",
				  (size_t) BATCH_ENTRIES, blocks, total, average);
	if (average > BATCH_MAX_BYTES_PER_ENTRY)
		fail_msg("%.2f bytes an entry, more than %.1f", average, BATCH_MAX_BYTES_PER_ENTRY);
}

/* A valid block of a few entries of every size, for the damage tests. */
static size_t
sample_block(uint8_t *block, AxsStreamEntry *entries, size_t *count)
{
	TestRandom	random = {UINT64_C(0xda3a6ed0b10c0001)};
	size_t		packed;
	size_t		length;

	*count = 40;
	for (size_t i = 0; i < *count; i++)
		random_entry(&random, &entries[i]);
	length = axs_stream_block_pack(entries, *count, block, AXS_STREAM_BLOCK_MAX, &packed);
	assert_int_equal(packed, *count);
	return length;
}

/* What a damaged block's header is expected to be. */
typedef enum HeaderExpected
{
	HEADER_MALFORMED,
	HEADER_WELL_FORMED,
	HEADER_EITHER
} HeaderExpected;

/*
 * Fail unless the block reads as malformed, and its header reads as
 * expected.
 */
static void
assert_rejected(const uint8_t *bytes, size_t length, HeaderExpected header)
{
	static AxsStreamEntry out[OUT_CAPACITY];
	uint8_t    *block = test_exact_copy(bytes, length);
	size_t		count = 12345;
	bool		counted = axs_stream_block_count(block, length, &count);

	if (header != HEADER_EITHER)
		assert_int_equal(counted, header == HEADER_WELL_FORMED);
	if (!counted)
		assert_int_equal(count, 0);
	count = 12345;
	assert_false(axs_stream_block_read(block, length, out, OUT_CAPACITY, &count));
	assert_int_equal(count, 0);
	free(block);
}

/* HEADER_WELL_FORMED if condition holds, else HEADER_MALFORMED. */
static HeaderExpected
header_if(bool condition)
{
	return condition ? HEADER_WELL_FORMED : HEADER_MALFORMED;
}

/* Every proper prefix of a valid block is malformed. */
static void
test_truncations_rejected(void **state)
{
	static AxsStreamEntry entries[40];
	static uint8_t valid[AXS_STREAM_BLOCK_MAX];
	size_t		count;
	size_t		length = sample_block(valid, entries, &count);

	(void) state;
	for (size_t prefix = 0; prefix < length; prefix++)
	{
		/* the header stands while its count can still fit the rest */
		bool		header_valid = prefix >= 2 &&
			count <= (prefix - 2) / AXS_STREAM_ENTRY_MIN_BYTES;

		assert_rejected(valid, prefix, header_if(header_valid));
	}
}

/* Every other count is malformed: too few entries leave trailing bytes. */
static void
test_recounted_rejected(void **state)
{
	static AxsStreamEntry entries[40];
	static uint8_t valid[AXS_STREAM_BLOCK_MAX];
	static uint8_t block[AXS_STREAM_BLOCK_MAX];
	size_t		count;
	size_t		length = sample_block(valid, entries, &count);

	(void) state;
	assert_true(count < 128);	/* a one-byte count, rewritten in place */
	for (size_t other = 0; other < 128; other++)
	{
		if (other == count)
			continue;
		memcpy(block, valid, length);
		block[1] = (uint8_t) other;
		assert_rejected(block, length,
						header_if(other > 0 && other <= (length - 2) / AXS_STREAM_ENTRY_MIN_BYTES));
	}
	/* each bit of the count flipped (the top one joins the next byte to it) */
	for (int bit = 0; bit < 8; bit++)
	{
		memcpy(block, valid, length);
		block[1] ^= (uint8_t) (1u << bit);
		assert_rejected(block, length, bit < 7 ?
						header_if(block[1] <= (length - 2) / AXS_STREAM_ENTRY_MIN_BYTES) :
						HEADER_EITHER);
	}
	/* a count of 0, or in a longer form than it needs */
	assert_rejected((const uint8_t[]) {1, 0}, 2, HEADER_MALFORMED);
	assert_rejected((const uint8_t[]) {1, 0x81, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 13,
					HEADER_MALFORMED);
}

/* Bytes after the last entry are malformed, whatever they are. */
static void
test_trailing_bytes_rejected(void **state)
{
	static AxsStreamEntry entries[40];
	static uint8_t valid[AXS_STREAM_BLOCK_MAX + 16];
	size_t		count;
	size_t		length = sample_block(valid, entries, &count);
	const uint8_t garbage[] = {0x00, 0x01, 0x7F, 0x80, 0xFF};

	(void) state;
	for (size_t g = 0; g < sizeof(garbage); g++)
		for (size_t extra = 1; extra <= 12; extra++)
		{
			memset(valid + length, garbage[g], extra);
			assert_rejected(valid, length + extra, HEADER_WELL_FORMED);
		}
}

/* A block of more entries than the output holds is refused, not cut. */
static void
test_output_capacity_too_small(void **state)
{
	static AxsStreamEntry entries[40];
	static AxsStreamEntry out[40];
	static uint8_t block[AXS_STREAM_BLOCK_MAX];
	size_t		count;
	size_t		length = sample_block(block, entries, &count);
	size_t		decoded;

	(void) state;
	for (size_t capacity = 0; capacity < count; capacity++)
	{
		decoded = 12345;
		assert_false(axs_stream_block_read(block, length, out, capacity, &decoded));
		assert_int_equal(decoded, 0);
	}
	assert_true(axs_stream_block_read(block, length, out, count, &decoded));
	assert_int_equal(decoded, count);
	for (size_t i = 0; i < count; i++)
		assert_entry_equal(&out[i], &entries[i]);
}

/*
 * Values that do not fit their field, varints too long or not in shortest
 * form, another version, an empty or overlong block: all malformed.
 */
static void
test_malformed_values_rejected(void **state)
{
	/* an all-zero entry, and the byte of each field in it */
	static const uint8_t zero[] = {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	const size_t field_at = 2;
	uint8_t		block[AXS_STREAM_BLOCK_MAX + 1];
	AxsStreamEntry out[2];
	size_t		count;

	(void) state;
	assert_true(axs_stream_block_read(zero, sizeof(zero), out, 1, &count));
	assert_int_equal(count, 1);

	/* ordinal, topic, partition (fields 5 to 7): INT32_MAX + 1 and INT32_MIN - 1 */
	for (size_t field = 5; field <= 7; field++)
	{
		/* zigzag 2^32 = 2 * (INT32_MAX + 1), zigzag 2^32 + 1 = -(INT32_MAX + 1) - 1 */
		static const uint8_t too_large[] = {0x80, 0x80, 0x80, 0x80, 0x10};
		static const uint8_t too_small[] = {0x81, 0x80, 0x80, 0x80, 0x10};
		static const uint8_t largest[] = {0xFE, 0xFF, 0xFF, 0xFF, 0x0F};
		static const uint8_t smallest[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x0F};
		const uint8_t *values[] = {too_large, too_small, largest, smallest};

		for (size_t v = 0; v < 4; v++)
		{
			size_t		length = 0;

			memcpy(block, zero, field_at + field);
			length = field_at + field;
			memcpy(block + length, values[v], 5);
			length += 5;
			memcpy(block + length, zero + field_at + field + 1, sizeof(zero) - field_at - field - 1);
			length += sizeof(zero) - field_at - field - 1;
			if (v < 2)
				assert_rejected(block, length, HEADER_WELL_FORMED);
			else
			{
				assert_true(axs_stream_block_read(block, length, out, 1, &count));
				assert_int_equal(field == 5 ? out[0].ordinal :
								 field == 6 ? out[0].source_topic : out[0].source_partition,
								 v == 2 ? INT32_MAX : INT32_MIN);
			}
		}
	}

	/* reason, kind (fields 8, 9): 256 and -1 */
	for (size_t field = 8; field <= 9; field++)
	{
		memcpy(block, zero, sizeof(zero));
		block[field_at + field] = 1;	/* -1 */
		assert_rejected(block, sizeof(zero), HEADER_WELL_FORMED);
		/* 256: zigzag 512 = 0x80 0x04, and 255: zigzag 510 = 0xFE 0x03 */
		memcpy(block, zero, field_at + field);
		memcpy(block + field_at + field, (const uint8_t[]) {0x80, 0x04}, 2);
		memcpy(block + field_at + field + 2, zero + field_at + field + 1, 9 - field);
		assert_rejected(block, sizeof(zero) + 1, HEADER_WELL_FORMED);
		block[field_at + field] = 0xFE;
		block[field_at + field + 1] = 0x03;
		assert_true(axs_stream_block_read(block, sizeof(zero) + 1, out, 1, &count));
		assert_int_equal(field == 8 ? out[0].reason : out[0].kind, UINT8_MAX);
	}

	/* a field's value out of range only after the second entry's difference */
	{
		const AxsStreamEntry high = {.reason = 200, .kind = 7, .ordinal = INT32_MAX};
		size_t		packed;
		size_t		length = axs_stream_block_pack(&high, 1, block, sizeof(block), &packed);

		block[1] = 2;
		/* the second entry: +1 to ordinal (zigzag 2), the rest 0 */
		memset(block + length, 0, AXS_STREAM_ENTRY_MIN_BYTES);
		block[length + 5] = 2;
		assert_rejected(block, length + AXS_STREAM_ENTRY_MIN_BYTES, HEADER_WELL_FORMED);
		/* -1 instead is INT32_MAX - 1 */
		block[length + 5] = 1;
		assert_true(axs_stream_block_read(block, length + AXS_STREAM_ENTRY_MIN_BYTES, out, 2, &count));
		assert_int_equal(out[1].ordinal, INT32_MAX - 1);
		/* +56 to the reason is 256 */
		block[length + 5] = 0;
		block[length + 8] = 112;
		assert_rejected(block, length + AXS_STREAM_ENTRY_MIN_BYTES, HEADER_WELL_FORMED);
	}

	/* an int64 difference longer than 64 bits, or in a longer form */
	{
		static const uint8_t eleven[] = {1, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
		0x80, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0};
		static const uint8_t overflow[] = {1, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
		0xFF, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0};
		static const uint8_t longer_form[] = {1, 1, 0x80, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0};

		assert_rejected(eleven, sizeof(eleven), HEADER_WELL_FORMED);
		assert_rejected(overflow, sizeof(overflow), HEADER_WELL_FORMED);
		assert_rejected(longer_form, sizeof(longer_form), HEADER_WELL_FORMED);
	}

	/* another version, nothing at all, a header alone */
	memcpy(block, zero, sizeof(zero));
	for (int version = 0; version < 256; version++)
	{
		if (version == AXS_STREAM_BLOCK_VERSION)
			continue;
		block[0] = (uint8_t) version;
		assert_rejected(block, sizeof(zero), HEADER_MALFORMED);
	}
	assert_rejected(zero, 0, HEADER_MALFORMED);
	assert_rejected(zero, 1, HEADER_MALFORMED);
	assert_rejected(zero, 2, HEADER_MALFORMED);

	/*
	 * Well formed but one byte longer than AXS_STREAM_BLOCK_MAX: 779
	 * all-zero entries but for the first's id, a difference of 9 bytes
	 * (2^56 as a varint, 2^55 as a zigzag).
	 */
	{
		static AxsStreamEntry many[OUT_CAPACITY];
		size_t		entries = 779;
		size_t		length = 3 + (AXS_STREAM_ENTRY_MIN_BYTES + 8) +
			AXS_STREAM_ENTRY_MIN_BYTES * (entries - 1);

		assert_int_equal(length, AXS_STREAM_BLOCK_MAX + 1);
		memset(block, 0, length);
		block[0] = AXS_STREAM_BLOCK_VERSION;
		block[1] = (uint8_t) (0x80 | (entries & 0x7F));
		block[2] = (uint8_t) (entries >> 7);
		memset(block + 3, 0x80, 8);
		block[11] = 0x01;
		assert_rejected(block, length, HEADER_MALFORMED);

		/* one entry fewer is within the limit, and reads */
		entries--;
		block[1] = (uint8_t) (0x80 | (entries & 0x7F));
		block[2] = (uint8_t) (entries >> 7);
		assert_true(axs_stream_block_read(block, length - AXS_STREAM_ENTRY_MIN_BYTES,
										  many, OUT_CAPACITY, &count));
		assert_int_equal(count, entries);
		assert_int_equal(many[0].id, INT64_C(1) << 55);
		assert_int_equal(many[entries - 1].id, INT64_C(1) << 55);
	}
}

/*
 * Random damage never reads outside the block, and whatever still reads
 * as well formed is exactly the block its entries pack into.
 */
static void
test_random_mutations(void **state)
{
	TestRandom	random = {UINT64_C(0x3a7a7e5b10c4f00d)};
	static AxsStreamEntry entries[40];
	static AxsStreamEntry out[OUT_CAPACITY];
	static uint8_t valid[AXS_STREAM_BLOCK_MAX];
	static uint8_t repacked[AXS_STREAM_BLOCK_MAX];
	size_t		count;
	size_t		valid_length = sample_block(valid, entries, &count);
	int			accepted = 0;

	(void) state;
	for (int round = 0; round < 50000; round++)
	{
		size_t		length;
		uint8_t    *block = test_damaged_copy(&random, valid, valid_length, &length);
		size_t		decoded;
		size_t		announced;

		if (axs_stream_block_read(block, length, out, OUT_CAPACITY, &decoded))
		{
			size_t		packed;

			assert_true(axs_stream_block_count(block, length, &announced));
			assert_int_equal(announced, decoded);
			assert_int_equal(axs_stream_block_pack(out, decoded, repacked, sizeof(repacked), &packed),
							 length);
			assert_int_equal(packed, decoded);
			assert_memory_equal(repacked, block, length);
			accepted++;
		}
		else
			assert_int_equal(decoded, 0);
		free(block);
	}
	/* some flips land on values that stay in range */
	assert_true(accepted > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_random),
		cmocka_unit_test(test_extreme_values),
		cmocka_unit_test(test_longest_entry),
		cmocka_unit_test(test_exact_layout),
		cmocka_unit_test(test_pack_splits),
		cmocka_unit_test(test_typical_batch_size),
		cmocka_unit_test(test_truncations_rejected),
		cmocka_unit_test(test_recounted_rejected),
		cmocka_unit_test(test_trailing_bytes_rejected),
		cmocka_unit_test(test_output_capacity_too_small),
		cmocka_unit_test(test_malformed_values_rejected),
		cmocka_unit_test(test_random_mutations),
	};

	return cmocka_run_group_tests_name("stream_block", tests, NULL, NULL);
}
