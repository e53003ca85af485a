/*
 * test_outcome_block.c
 *		Tests of the outcome block codec: round trip and lookup, negative and
 *		extreme ids, filling blocks to capacity and continuing from where a
 *		block stopped, the exact little-endian layout, and safe reading of
 *		truncated, damaged and randomly mutated blocks.
 *
 * The malformed-block tests copy each block into a heap buffer of exactly
 * its length, so running under valgrind catches any read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "outcome_block.h"
#include "test_support.h"

/* Bytes of the count, of one entry, and of one data header (see the .h). */
#define COUNT_BYTES 2
#define ENTRY_BYTES 10
#define DATA_HEADER_BYTES 4

/* Fail unless a found outcome's payload lies within block[0..length). */
static void
assert_payload_inside(const uint8_t *block, size_t length, const AxsOutcome *outcome)
{
	assert_true(outcome->payload >= block);
	assert_true((size_t) (outcome->payload - block) <= length);
	assert_true(outcome->payload_length <= length - (size_t) (outcome->payload - block));
}

/* Fail unless id is in the block with the outcome's reason and payload. */
static void
assert_found(const uint8_t *block, size_t length, const AxsOutcome *expected)
{
	AxsOutcome	found;

	memset(&found, 0, sizeof(found));
	if (!axs_outcome_block_find(block, length, expected->id, &found))
		fail_msg("id %lld not found", (long long) expected->id);
	assert_int_equal(found.id, expected->id);
	assert_int_equal(found.reason, expected->reason);
	assert_int_equal(found.payload_length, expected->payload_length);
	assert_payload_inside(block, length, &found);
	if (expected->payload_length > 0)
		assert_memory_equal(found.payload, expected->payload, expected->payload_length);
}

static void
assert_absent(const uint8_t *block, size_t length, int64_t id)
{
	AxsOutcome	found;

	if (axs_outcome_block_find(block, length, id, &found))
		fail_msg("id %lld found, expected absent", (long long) id);
}

static void
test_round_trip(void **state)
{
	static const uint8_t one[] = {0x42};
	static const uint8_t five[] = {1, 2, 3, 4, 5};
	static const uint8_t text[] = "insufficient available balance";
	const AxsOutcome outcomes[] = {
		{.id = 10, .reason = 0, .payload_length = 0, .payload = NULL},
		{.id = 11, .reason = 1, .payload_length = sizeof(one), .payload = one},
		{.id = 20, .reason = -1, .payload_length = sizeof(five), .payload = five},
		{.id = 21, .reason = INT16_MAX, .payload_length = 0, .payload = five},
		{.id = 35, .reason = INT16_MIN, .payload_length = sizeof(text) - 1, .payload = text},
	};
	const size_t count = sizeof(outcomes) / sizeof(outcomes[0]);
	uint8_t		block[AXS_OUTCOME_BLOCK_MAX];
	size_t		length = 12345;
	size_t		expected_length = COUNT_BYTES;
	int64_t		first = 0;
	int64_t		last = 0;

	(void) state;
	for (size_t i = 0; i < count; i++)
		expected_length += ENTRY_BYTES + DATA_HEADER_BYTES + outcomes[i].payload_length;
	assert_int_equal(axs_outcome_block_encode(outcomes, count, block, sizeof(block), &length), count);
	assert_int_equal(length, expected_length);
	assert_int_equal(axs_outcome_block_count(block, length), count);

	for (size_t i = 0; i < count; i++)
		assert_found(block, length, &outcomes[i]);

	/* below the first, between entries, above the last */
	assert_absent(block, length, 9);
	assert_absent(block, length, INT64_MIN);
	assert_absent(block, length, 12);
	assert_absent(block, length, 19);
	assert_absent(block, length, 22);
	assert_absent(block, length, 34);
	assert_absent(block, length, 36);
	assert_absent(block, length, INT64_MAX);

	assert_true(axs_outcome_block_bounds(block, length, &first, &last));
	assert_int_equal(first, 10);
	assert_int_equal(last, 35);

	/* a single outcome is its own first and last */
	assert_int_equal(axs_outcome_block_encode(&outcomes[2], 1, block, sizeof(block), &length), 1);
	assert_int_equal(axs_outcome_block_count(block, length), 1);
	assert_true(axs_outcome_block_bounds(block, length, &first, &last));
	assert_int_equal(first, 20);
	assert_int_equal(last, 20);
	assert_found(block, length, &outcomes[2]);
	assert_absent(block, length, 10);
	assert_absent(block, length, 21);

	/* nothing to encode: nothing written */
	length = 12345;
	assert_int_equal(axs_outcome_block_encode(outcomes, 0, block, sizeof(block), &length), 0);
	assert_int_equal(length, 0);
}

static void
test_negative_and_extreme_ids(void **state)
{
	static const uint8_t payload[] = {7, 8, 9};
	const int64_t ids[] = {INT64_MIN + 1, -1000000000000LL, -1, 0, 1, INT64_MAX};
	const size_t count = sizeof(ids) / sizeof(ids[0]);
	AxsOutcome	outcomes[sizeof(ids) / sizeof(ids[0])];
	uint8_t		block[AXS_OUTCOME_BLOCK_MAX];
	size_t		length;
	int64_t		first = 0;
	int64_t		last = 0;

	(void) state;
	for (size_t i = 0; i < count; i++)
	{
		outcomes[i].id = ids[i];
		outcomes[i].reason = (int16_t) ((int) i * 3 - 5);
		outcomes[i].payload_length = (uint16_t) (i % sizeof(payload));
		outcomes[i].payload = payload;
	}
	assert_int_equal(axs_outcome_block_encode(outcomes, count, block, sizeof(block), &length), count);
	assert_int_equal(axs_outcome_block_count(block, length), count);
	for (size_t i = 0; i < count; i++)
		assert_found(block, length, &outcomes[i]);

	/* signed order: negative ids sort below 0, not above INT64_MAX */
	assert_true(axs_outcome_block_bounds(block, length, &first, &last));
	assert_int_equal(first, INT64_MIN + 1);
	assert_int_equal(last, INT64_MAX);

	assert_absent(block, length, INT64_MIN);
	assert_absent(block, length, INT64_MIN + 2);
	assert_absent(block, length, -2);
	assert_absent(block, length, 2);
	assert_absent(block, length, INT64_MAX - 1);

	/* the same ids, one per block, each alone */
	for (size_t i = 0; i < count; i++)
	{
		assert_int_equal(axs_outcome_block_encode(&outcomes[i], 1, block, sizeof(block), &length), 1);
		assert_found(block, length, &outcomes[i]);
		assert_true(axs_outcome_block_bounds(block, length, &first, &last));
		assert_int_equal(first, ids[i]);
		assert_int_equal(last, ids[i]);
		for (size_t j = 0; j < count; j++)
			if (j != i)
				assert_absent(block, length, ids[j]);
	}
}

#define MANY_OUTCOMES 1000
#define LARGE_PAYLOAD 200

static void
test_capacity(void **state)
{
	static uint8_t payloads[MANY_OUTCOMES][LARGE_PAYLOAD];
	static AxsOutcome outcomes[MANY_OUTCOMES];
	static int	covered[MANY_OUTCOMES];
	static uint8_t block[2 * AXS_OUTCOME_BLOCK_MAX];
	const size_t entry_bytes = ENTRY_BYTES + DATA_HEADER_BYTES + LARGE_PAYLOAD;
	const size_t per_block = (AXS_OUTCOME_BLOCK_MAX - COUNT_BYTES) / entry_bytes;
	size_t		start = 0;
	size_t		blocks = 0;
	size_t		length;
	size_t		encoded;

	(void) state;
	memset(covered, 0, sizeof(covered));
	for (size_t i = 0; i < MANY_OUTCOMES; i++)
	{
		for (size_t b = 0; b < LARGE_PAYLOAD; b++)
			payloads[i][b] = (uint8_t) (i * 31 + b);
		outcomes[i].id = (int64_t) i * 2 - 700;
		outcomes[i].reason = (int16_t) (i % 5);
		outcomes[i].payload_length = LARGE_PAYLOAD;
		outcomes[i].payload = payloads[i];
	}

	/* the buffer is twice the maximum: the capacity is clamped */
	encoded = axs_outcome_block_encode(outcomes, MANY_OUTCOMES, block, sizeof(block), &length);
	assert_true(encoded < MANY_OUTCOMES);
	assert_int_equal(encoded, per_block);
	assert_true(length <= AXS_OUTCOME_BLOCK_MAX);
	assert_int_equal(length, COUNT_BYTES + per_block * entry_bytes);

	/* continue from where each block stopped until every outcome is in one */
	while (start < MANY_OUTCOMES)
	{
		int64_t		first;
		int64_t		last;

		length = 0;
		encoded = axs_outcome_block_encode(outcomes + start, MANY_OUTCOMES - start,
										   block, sizeof(block), &length);
		assert_true(encoded > 0);
		assert_true(encoded <= MANY_OUTCOMES - start);
		assert_true(length <= AXS_OUTCOME_BLOCK_MAX);
		assert_int_equal(axs_outcome_block_count(block, length), encoded);
		for (size_t i = start; i < start + encoded; i++)
		{
			assert_found(block, length, &outcomes[i]);
			covered[i]++;
		}
		/* the neighbours are in other blocks */
		if (start > 0)
			assert_absent(block, length, outcomes[start - 1].id);
		if (start + encoded < MANY_OUTCOMES)
			assert_absent(block, length, outcomes[start + encoded].id);
		assert_true(axs_outcome_block_bounds(block, length, &first, &last));
		assert_int_equal(first, outcomes[start].id);
		assert_int_equal(last, outcomes[start + encoded - 1].id);
		start += encoded;
		blocks++;
	}
	assert_int_equal(start, MANY_OUTCOMES);
	assert_int_equal(blocks, (MANY_OUTCOMES + per_block - 1) / per_block);
	for (size_t i = 0; i < MANY_OUTCOMES; i++)
		assert_int_equal(covered[i], 1);

	/* a capacity of exactly one entry holds one; one byte less holds none */
	assert_int_equal(axs_outcome_block_encode(outcomes, MANY_OUTCOMES, block,
											  COUNT_BYTES + entry_bytes, &length), 1);
	assert_int_equal(length, COUNT_BYTES + entry_bytes);
	assert_found(block, length, &outcomes[0]);
	length = 12345;
	assert_int_equal(axs_outcome_block_encode(outcomes, MANY_OUTCOMES, block,
											  COUNT_BYTES + entry_bytes - 1, &length), 0);
	assert_int_equal(length, 0);
	for (size_t capacity = 0; capacity < COUNT_BYTES + ENTRY_BYTES + DATA_HEADER_BYTES; capacity++)
	{
		length = 12345;
		assert_int_equal(axs_outcome_block_encode(outcomes, MANY_OUTCOMES, block, capacity, &length), 0);
		assert_int_equal(length, 0);
	}
}

static void
test_exact_little_endian_layout(void **state)
{
	static const uint8_t payload[] = {0xAA, 0xBB};
	static const uint8_t expected[] = {
		0x01, 0x00,				/* count 1 */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,	/* id */
		0x0C, 0x00,				/* data_offset 12 */
		0x03, 0x00,				/* reason 3 */
		0x02, 0x00,				/* payload length 2 */
		0xAA, 0xBB,				/* payload */
	};
	const AxsOutcome outcome = {
		.id = INT64_C(0x0102030405060708), .reason = 3, .payload_length = 2, .payload = payload,
	};
	const AxsOutcome negative = {.id = -2, .reason = -2, .payload_length = 0, .payload = NULL};
	static const uint8_t expected_negative[] = {
		0x01, 0x00,
		0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
		0x0C, 0x00,
		0xFE, 0xFF,
		0x00, 0x00,
	};
	uint8_t		block[64];
	size_t		length = 0;

	(void) state;
	memset(block, 0xEE, sizeof(block));
	assert_int_equal(axs_outcome_block_encode(&outcome, 1, block, sizeof(block), &length), 1);
	assert_int_equal(length, 18);
	assert_memory_equal(block, expected, sizeof(expected));
	/* nothing written past the length */
	for (size_t i = length; i < sizeof(block); i++)
		assert_int_equal(block[i], 0xEE);

	/* the decoder reads hand-written bytes the same way */
	assert_found(expected, sizeof(expected), &outcome);

	/* negative id and reason in two's complement */
	assert_int_equal(axs_outcome_block_encode(&negative, 1, block, sizeof(block), &length), 1);
	assert_int_equal(length, sizeof(expected_negative));
	assert_memory_equal(block, expected_negative, sizeof(expected_negative));
	assert_found(expected_negative, sizeof(expected_negative), &negative);
}

/* A small valid block of four outcomes used by the malformed-input tests. */
static size_t
sample_block(uint8_t *block, size_t capacity, const AxsOutcome **outcomes_out, size_t *count_out)
{
	static const uint8_t payload_a[] = {1, 2, 3};
	static const uint8_t payload_c[] = {9, 9, 9, 9, 9, 9, 9};
	static const AxsOutcome outcomes[] = {
		{.id = -5, .reason = 1, .payload_length = sizeof(payload_a), .payload = payload_a},
		{.id = 3, .reason = 2, .payload_length = 0, .payload = NULL},
		{.id = 4, .reason = 3, .payload_length = sizeof(payload_c), .payload = payload_c},
		{.id = 100, .reason = 4, .payload_length = 1, .payload = payload_a},
	};
	size_t		length = 0;

	*outcomes_out = outcomes;
	*count_out = sizeof(outcomes) / sizeof(outcomes[0]);
	assert_int_equal(axs_outcome_block_encode(outcomes, *count_out, block, capacity, &length), *count_out);
	return length;
}

/* data_offset of entry i, read from the encoded bytes */
static size_t
entry_data_offset(const uint8_t *block, size_t i)
{
	const uint8_t *entry = block + COUNT_BYTES + ENTRY_BYTES * i;

	return (size_t) entry[8] | ((size_t) entry[9] << 8);
}

static void
set_entry_data_offset(uint8_t *block, size_t i, uint16_t offset)
{
	uint8_t    *entry = block + COUNT_BYTES + ENTRY_BYTES * i;

	entry[8] = (uint8_t) offset;
	entry[9] = (uint8_t) (offset >> 8);
}

static void
test_truncated_blocks_are_safe(void **state)
{
	const AxsOutcome *outcomes;
	size_t		count;
	uint8_t		valid[AXS_OUTCOME_BLOCK_MAX];
	size_t		length = sample_block(valid, sizeof(valid), &outcomes, &count);

	(void) state;
	for (size_t prefix = 0; prefix < length; prefix++)
	{
		uint8_t    *block = test_exact_copy(valid, prefix);
		bool		entries_fit = prefix >= COUNT_BYTES + ENTRY_BYTES * count;
		int64_t		first = 0;
		int64_t		last = 0;

		assert_int_equal(axs_outcome_block_count(block, prefix), entries_fit ? count : 0);
		assert_int_equal(axs_outcome_block_bounds(block, prefix, &first, &last), entries_fit);
		if (entries_fit)
		{
			assert_int_equal(first, outcomes[0].id);
			assert_int_equal(last, outcomes[count - 1].id);
		}
		for (size_t i = 0; i < count; i++)
		{
			AxsOutcome	found;
			bool		data_fits = entries_fit &&
				entry_data_offset(valid, i) + DATA_HEADER_BYTES + outcomes[i].payload_length <= prefix;

			memset(&found, 0, sizeof(found));
			if (axs_outcome_block_find(block, prefix, outcomes[i].id, &found))
			{
				if (!data_fits)
					fail_msg("prefix %zu of %zu: id %lld found though its data is cut off",
							 prefix, length, (long long) outcomes[i].id);
				assert_payload_inside(block, prefix, &found);
				assert_found(block, prefix, &outcomes[i]);
			}
			else if (data_fits)
				fail_msg("prefix %zu of %zu: id %lld not found though whole",
						 prefix, length, (long long) outcomes[i].id);
		}
		assert_absent(block, prefix, 0);
		free(block);
	}
}

static void
test_damaged_blocks_are_safe(void **state)
{
	const AxsOutcome *outcomes;
	size_t		count;
	uint8_t		valid[AXS_OUTCOME_BLOCK_MAX];
	size_t		length = sample_block(valid, sizeof(valid), &outcomes, &count);
	uint8_t    *block;
	int64_t		first;
	int64_t		last;
	size_t		too_many;
	const uint16_t bad_offsets[] = {
		(uint16_t) length,		/* just past the end */
		(uint16_t) (length - DATA_HEADER_BYTES + 1),	/* header straddles the end */
		(uint16_t) (length - 1),
		UINT16_MAX,
	};

	(void) state;

	/* an empty block has no bounds and holds nothing */
	block = test_exact_copy((const uint8_t[]) {0, 0}, 2);
	assert_int_equal(axs_outcome_block_count(block, 2), 0);
	assert_false(axs_outcome_block_bounds(block, 2, &first, &last));
	assert_absent(block, 2, 0);
	free(block);

	/* a count that claims more entries than the bytes hold */
	block = test_exact_copy(valid, length);
	too_many = (length - COUNT_BYTES) / ENTRY_BYTES + 1;
	block[0] = (uint8_t) too_many;
	block[1] = (uint8_t) (too_many >> 8);
	assert_int_equal(axs_outcome_block_count(block, length), 0);
	assert_false(axs_outcome_block_bounds(block, length, &first, &last));
	for (size_t i = 0; i < count; i++)
		assert_absent(block, length, outcomes[i].id);
	/* one entry fewer fits: the data bytes are then read as entries, in bounds */
	block[0] = (uint8_t) (too_many - 1);
	block[1] = (uint8_t) ((too_many - 1) >> 8);
	assert_int_equal(axs_outcome_block_count(block, length), too_many - 1);
	for (size_t i = 0; i < count; i++)
	{
		AxsOutcome	found;

		if (axs_outcome_block_find(block, length, outcomes[i].id, &found))
			assert_payload_inside(block, length, &found);
	}
	block[0] = 0xFF;
	block[1] = 0xFF;
	assert_int_equal(axs_outcome_block_count(block, length), 0);
	assert_false(axs_outcome_block_bounds(block, length, &first, &last));
	assert_absent(block, length, outcomes[0].id);
	free(block);

	/* an entry's data_offset pointing past the end: that entry is not found */
	for (size_t b = 0; b < sizeof(bad_offsets) / sizeof(bad_offsets[0]); b++)
	{
		for (size_t i = 0; i < count; i++)
		{
			block = test_exact_copy(valid, length);
			set_entry_data_offset(block, i, bad_offsets[b]);
			assert_int_equal(axs_outcome_block_count(block, length), count);
			assert_absent(block, length, outcomes[i].id);
			for (size_t j = 0; j < count; j++)
				if (j != i)
					assert_found(block, length, &outcomes[j]);
			free(block);
		}
	}

	/* a payload length running past the end: not found */
	for (size_t i = 0; i < count; i++)
	{
		size_t		data = entry_data_offset(valid, i);
		uint16_t	too_long = (uint16_t) (length - data - DATA_HEADER_BYTES + 1);
		uint16_t	lengths[] = {too_long, UINT16_MAX};

		for (size_t k = 0; k < 2; k++)
		{
			block = test_exact_copy(valid, length);
			block[data + 2] = (uint8_t) lengths[k];
			block[data + 3] = (uint8_t) (lengths[k] >> 8);
			assert_absent(block, length, outcomes[i].id);
			free(block);
		}
	}
}

static void
test_random_mutations_are_safe(void **state)
{
	TestRandom	random = {UINT64_C(0x0dd5eed0b10c4a11)};
	const AxsOutcome *outcomes;
	size_t		count;
	uint8_t		valid[AXS_OUTCOME_BLOCK_MAX];
	size_t		valid_length = sample_block(valid, sizeof(valid), &outcomes, &count);

	(void) state;
	for (int round = 0; round < 20000; round++)
	{
		size_t		length = valid_length;
		uint8_t    *block;
		int			flips = 1 + (int) test_random_below(&random, 4);
		int64_t		first;
		int64_t		last;

		if (test_random_below(&random, 4) == 0)
			length -= test_random_below(&random, length);
		block = test_exact_copy(valid, length);
		for (int f = 0; f < flips && length > 0; f++)
			block[test_random_below(&random, length)] ^= (uint8_t) (1u << test_random_below(&random, 8));

		(void) axs_outcome_block_bounds(block, length, &first, &last);
		assert_true(COUNT_BYTES + ENTRY_BYTES * axs_outcome_block_count(block, length) <= length ||
					axs_outcome_block_count(block, length) == 0);
		for (size_t i = 0; i < count; i++)
		{
			AxsOutcome	found;

			if (axs_outcome_block_find(block, length, outcomes[i].id, &found))
				assert_payload_inside(block, length, &found);
		}
		free(block);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_negative_and_extreme_ids),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_exact_little_endian_layout),
		cmocka_unit_test(test_truncated_blocks_are_safe),
		cmocka_unit_test(test_damaged_blocks_are_safe),
		cmocka_unit_test(test_random_mutations_are_safe),
	};

	return cmocka_run_group_tests_name("outcome_block", tests, NULL, NULL);
}
