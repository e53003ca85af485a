/*
 * test_history_block.c
 *		Tests of the history block codec: round trip and lookup, the exact
 *		byte layout, keys with one entry and keys running across blocks,
 *		extreme values, every kind and ordinals up to INT32_MAX, the
 *		encoder's refusals, packing a unit, safe reading of truncated,
 *		damaged and randomly mutated blocks, and a model test that packs
 *		hundreds of units and walks every key's chain backward.
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

#include "history_block.h"
#include "test_support.h"

/* Room for any block's entries. */
#define OUT_CAPACITY AXS_HISTORY_BLOCK_MAX_ENTRIES

/* Fail unless every field of two entries is equal. */
static void
assert_entry_equal(const AxsHistoryEntry *found, const AxsHistoryEntry *expected)
{
	if (found->account != expected->account || found->currency != expected->currency ||
		found->seqno != expected->seqno || found->event_id != expected->event_id ||
		found->kind != expected->kind || found->ordinal != expected->ordinal ||
		found->available_delta != expected->available_delta ||
		found->frozen_delta != expected->frozen_delta ||
		found->available != expected->available || found->frozen != expected->frozen ||
		found->previous_block != expected->previous_block)
		fail_msg("entry differs: found (%lld, %d) #%lld event %lld kind %d ordinal %d "
				 "delta %lld/%lld balance %lld/%lld previous %lld; expected (%lld, %d) #%lld "
				 "event %lld kind %d ordinal %d delta %lld/%lld balance %lld/%lld previous %lld",
				 (long long) found->account, found->currency, (long long) found->seqno,
				 (long long) found->event_id, found->kind, found->ordinal,
				 (long long) found->available_delta,
				 (long long) found->frozen_delta, (long long) found->available,
				 (long long) found->frozen, (long long) found->previous_block,
				 (long long) expected->account, expected->currency, (long long) expected->seqno,
				 (long long) expected->event_id, expected->kind, expected->ordinal,
				 (long long) expected->available_delta,
				 (long long) expected->frozen_delta, (long long) expected->available,
				 (long long) expected->frozen, (long long) expected->previous_block);
}

/*
 * Append to entries a key's chain: count entries from seqno first_seqno,
 * the balance before being (available, frozen), event ids from event_id
 * stepping by event_step, deltas cycling through the given ones; kinds
 * from the event ids, ordinals rising from one the key picks by steps of 1
 * to 151 (tags of one to three bytes).
 */
static size_t
append_chain(AxsHistoryEntry *entries, size_t at, int64_t account, int32_t currency,
			 int64_t first_seqno, int64_t previous_block, int64_t available, int64_t frozen,
			 int64_t event_id, int64_t event_step, size_t count)
{
	static const int64_t available_deltas[] = {100, -30, 0, 5000000000LL, -7, 1};
	static const int64_t frozen_deltas[] = {0, 30, 0, -20, 0, 3};
	int32_t		ordinal = (int32_t) (((uint64_t) account * 31 + (uint32_t) currency) % 20000);

	for (size_t i = 0; i < count; i++)
	{
		AxsHistoryEntry *entry = &entries[at + i];

		memset(entry, 0, sizeof(*entry));
		entry->account = account;
		entry->currency = currency;
		entry->seqno = first_seqno + (int64_t) i;
		entry->event_id = event_id + event_step * (int64_t) i;
		entry->kind = (uint8_t) (1 + (uint64_t) entry->event_id % 7);
		entry->ordinal = ordinal;
		ordinal += 1 + 50 * (int32_t) (i % 4);
		entry->available_delta = available_deltas[i % 6];
		entry->frozen_delta = frozen_deltas[i % 6];
		available += entry->available_delta;
		frozen += entry->frozen_delta;
		entry->available = available;
		entry->frozen = frozen;
		entry->previous_block = i == 0 ? previous_block : 0;
	}
	return at + count;
}

/* The entries a decoder reports for entries[0..count) encoded at locator. */
static void
expected_after_encoding(AxsHistoryEntry *entries, size_t count, int64_t locator)
{
	for (size_t i = 1; i < count; i++)
		if (entries[i].account == entries[i - 1].account &&
			entries[i].currency == entries[i - 1].currency)
			entries[i].previous_block = locator;
}

/* Encode all of entries in one block and check decode, find and bounds. */
static size_t
assert_round_trip(AxsHistoryEntry *entries, size_t count, int64_t locator,
				  uint8_t *block, size_t capacity)
{
	static AxsHistoryEntry out[OUT_CAPACITY];
	size_t		length = 12345;
	size_t		decoded = 0;
	AxsHistoryKey first;
	AxsHistoryKey last;

	assert_int_equal(axs_history_block_encode(entries, count, locator, block, capacity, &length),
					 count);
	assert_true(length > 0 && length <= capacity);
	expected_after_encoding(entries, count, locator);
	assert_int_equal(axs_history_block_count(block, length), count);
	assert_true(axs_history_block_decode(block, length, locator, out, OUT_CAPACITY, &decoded));
	assert_int_equal(decoded, count);
	for (size_t i = 0; i < count; i++)
		assert_entry_equal(&out[i], &entries[i]);

	/* each key's run, found in place */
	for (size_t start = 0; start < count;)
	{
		size_t		end = start + 1;
		size_t		found = 0;

		while (end < count && entries[end].account == entries[start].account &&
			   entries[end].currency == entries[start].currency)
			end++;
		assert_true(axs_history_block_find(block, length, locator, entries[start].account,
										   entries[start].currency, out, OUT_CAPACITY, &found));
		assert_int_equal(found, end - start);
		for (size_t i = 0; i < found; i++)
			assert_entry_equal(&out[i], &entries[start + i]);
		start = end;
	}

	assert_true(axs_history_block_bounds(block, length, &first, &last));
	assert_int_equal(first.account, entries[0].account);
	assert_int_equal(first.currency, entries[0].currency);
	assert_int_equal(last.account, entries[count - 1].account);
	assert_int_equal(last.currency, entries[count - 1].currency);
	return length;
}

/* Fail unless the block reads well and does not hold the key. */
static void
assert_absent(const uint8_t *block, size_t length, int64_t locator,
			  int64_t account, int32_t currency)
{
	AxsHistoryEntry out[4];
	size_t		found = 99;

	if (!axs_history_block_find(block, length, locator, account, currency, out, 4, &found))
		fail_msg("block malformed looking for (%lld, %d)", (long long) account, currency);
	if (found != 0)
		fail_msg("(%lld, %d) found, expected absent", (long long) account, currency);
}

static void
test_round_trip(void **state)
{
	AxsHistoryEntry entries[64];
	uint8_t		block[AXS_HISTORY_BLOCK_MAX];
	size_t		count = 0;
	size_t		length;

	(void) state;
	count = append_chain(entries, count, 10, 1, 1, 0, 0, 0, 1000, 3, 5);
	count = append_chain(entries, count, 10, 2, 7, 4, 500, 20, 1001, 1, 1);
	count = append_chain(entries, count, 11, 1, 3, 6, -250, 0, 990, 5, 12);
	count = append_chain(entries, count, 40, 1, 1, 0, 0, 0, 1002, 1, 1);
	count = append_chain(entries, count, 1000000, 3, 100000, 2, 7, 7, 1500, -1, 4);
	length = assert_round_trip(entries, count, 9, block, sizeof(block));

	/* below the first, between keys, same account other currency, above the last */
	assert_absent(block, length, 9, 9, 1);
	assert_absent(block, length, 9, 10, 0);
	assert_absent(block, length, 9, 10, 3);
	assert_absent(block, length, 9, 11, 2);
	assert_absent(block, length, 9, 12, 1);
	assert_absent(block, length, 9, 40, 2);
	assert_absent(block, length, 9, 999999, 3);
	assert_absent(block, length, 9, 1000000, 2);
	assert_absent(block, length, 9, 1000000, 4);
	assert_absent(block, length, 9, INT64_MIN, INT32_MIN);
	assert_absent(block, length, 9, INT64_MAX, INT32_MAX);

	/* one entry alone */
	count = append_chain(entries, 0, 5, 1, 1, 0, 0, 0, 77, 1, 1);
	assert_round_trip(entries, count, 1, block, sizeof(block));
	count = append_chain(entries, 0, 5, 1, 2, 1, 10, 0, 77, 1, 1);
	assert_round_trip(entries, count, 2, block, sizeof(block));

	/* nothing to encode: nothing written */
	length = 12345;
	assert_int_equal(axs_history_block_encode(entries, 0, 1, block, sizeof(block), &length), 0);
	assert_int_equal(length, 0);
}

static void
test_exact_layout(void **state)
{
	static const uint8_t expected[] = {
		0x01,					/* version */
		0x03,					/* three entries */
		0x02,					/* two runs: no checkpoint */
		0x06,					/* directory of six bytes */
		0xC8, 0x01,				/* base event id 100 */
		0x0A, 0x01, 0x0C,		/* account 5, currency 1, twelve bytes of data */
		0x02, 0x02, 0x08,		/* account 5 + 2, currency 2, eight bytes */
		0x03,					/* seqno 3 */
		0x04,					/* previous block 10 - 2 */
		0x28, 0x00,				/* balance 20 / 0 after the first entry */
		0xA6, 0x01,				/* (event 100, the base) ordinal 20, kind 6 */
		0x0E, 0x00,				/* deltas 7 / 0 */
		0x04, 0x15, 0x03, 0x04,	/* event 100 + 2, ordinal 20 + 2, kind 5, deltas
								 * -2 / 2 */
		0x01,					/* seqno 1: no previous block */
		0x0A, 0x00,				/* balance 5 / 0 */
		0x02, 0xA9, 0x01,		/* event 100 + 1, ordinal 21, kind 1 */
		0x0A, 0x00,				/* deltas 5 / 0 */
	};
	AxsHistoryEntry entries[] = {
		{.account = 5, .currency = 1, .seqno = 3, .event_id = 100, .kind = 6, .ordinal = 20,
		.available_delta = 7, .frozen_delta = 0, .available = 20, .frozen = 0,
		.previous_block = 8},
		{.account = 5, .currency = 1, .seqno = 4, .event_id = 102, .kind = 5, .ordinal = 22,
		.available_delta = -2, .frozen_delta = 2, .available = 18, .frozen = 2,
		.previous_block = 0},
		{.account = 7, .currency = 2, .seqno = 1, .event_id = 101, .kind = 1, .ordinal = 21,
		.available_delta = 5, .frozen_delta = 0, .available = 5, .frozen = 0,
		.previous_block = 0},
	};
	uint8_t		block[64];
	size_t		length = 0;
	AxsHistoryEntry out[3];
	size_t		count;

	(void) state;
	memset(block, 0xEE, sizeof(block));
	assert_int_equal(axs_history_block_encode(entries, 3, 10, block, sizeof(block), &length), 3);
	assert_int_equal(length, sizeof(expected));
	assert_memory_equal(block, expected, sizeof(expected));
	for (size_t i = length; i < sizeof(block); i++)
		assert_int_equal(block[i], 0xEE);

	/* the decoder reads hand-written bytes the same way */
	entries[1].previous_block = 10;
	assert_true(axs_history_block_decode(expected, sizeof(expected), 10, out, 3, &count));
	assert_int_equal(count, 3);
	for (size_t i = 0; i < 3; i++)
		assert_entry_equal(&out[i], &entries[i]);

	/* the previous block is relative to the locator the reader passes */
	assert_true(axs_history_block_find(expected, sizeof(expected), 1000, 5, 1, out, 3, &count));
	assert_int_equal(count, 2);
	assert_int_equal(out[0].previous_block, 998);
	assert_int_equal(out[1].previous_block, 1000);

	/* an output too small for the block, or for the key's entries */
	assert_false(axs_history_block_decode(expected, sizeof(expected), 10, out, 2, &count));
	assert_false(axs_history_block_find(expected, sizeof(expected), 10, 5, 1, out, 1, &count));
	assert_true(axs_history_block_find(expected, sizeof(expected), 10, 7, 2, out, 1, &count));
	assert_int_equal(count, 1);
}

static void
test_extreme_values(void **state)
{
	AxsHistoryEntry entries[32];
	uint8_t		block[AXS_HISTORY_BLOCK_MAX];
	size_t		count = 0;
	AxsHistoryEntry *e;

	(void) state;

	/* the lowest key, a run whose deltas swing across the whole int64 range */
	e = &entries[count++];
	*e = (AxsHistoryEntry) {
		.account = INT64_MIN, .currency = INT32_MIN, .seqno = 1, .event_id = INT64_MAX,
		.available_delta = -1, .frozen_delta = 0, .available = -1, .frozen = 0,
	};
	e = &entries[count++];
	*e = (AxsHistoryEntry) {
		.account = INT64_MIN, .currency = INT32_MIN, .seqno = 2, .event_id = INT64_MIN,
		.available_delta = INT64_MAX, .frozen_delta = INT64_MAX,
		.available = INT64_MAX - 1, .frozen = INT64_MAX,
	};
	e = &entries[count++];
	*e = (AxsHistoryEntry) {
		.account = INT64_MIN, .currency = INT32_MIN, .seqno = 3, .event_id = 0,
		.available_delta = -INT64_MAX, .frozen_delta = INT64_MIN + 1,
		.available = -1, .frozen = 0,
	};
	e = &entries[count++];
	*e = (AxsHistoryEntry) {
		.account = INT64_MIN, .currency = INT32_MIN, .seqno = 4, .event_id = INT64_MAX,
		.available_delta = INT64_MIN + 1, .frozen_delta = INT64_MIN,
		.available = INT64_MIN, .frozen = INT64_MIN,
	};
	/* negative balances (a credit line), a negative currency */
	e = &entries[count++];
	*e = (AxsHistoryEntry) {
		.account = -5, .currency = -1, .seqno = 9, .event_id = -3,
		.available_delta = -1000000000000LL, .frozen_delta = 0,
		.available = -999999999000LL, .frozen = 0, .previous_block = INT64_MAX,
	};
	e = &entries[count++];
	*e = (AxsHistoryEntry) {
		.account = -5, .currency = 0, .seqno = 2, .event_id = -4,
		.available_delta = 0, .frozen_delta = 0, .available = 0, .frozen = 0,
		.previous_block = 1,
	};
	/* a run ending at the largest seqno */
	e = &entries[count++];
	*e = (AxsHistoryEntry) {
		.account = 0, .currency = 1, .seqno = INT64_MAX - 1, .event_id = 5,
		.available_delta = INT64_MIN, .frozen_delta = 0, .available = INT64_MIN, .frozen = 0,
		.previous_block = 7,
	};
	e = &entries[count++];
	*e = (AxsHistoryEntry) {
		.account = 0, .currency = 1, .seqno = INT64_MAX, .event_id = 4,
		.available_delta = INT64_MAX, .frozen_delta = 1, .available = -1, .frozen = 1,
	};
	/* neighbouring keys at the top of the range */
	e = &entries[count++];
	*e = (AxsHistoryEntry) {
		.account = INT64_MAX, .currency = INT32_MIN, .seqno = 1, .event_id = INT64_MIN,
		.available_delta = INT64_MAX, .frozen_delta = INT64_MIN,
		.available = INT64_MAX, .frozen = INT64_MIN,
	};
	e = &entries[count++];
	*e = (AxsHistoryEntry) {
		.account = INT64_MAX, .currency = INT32_MAX, .seqno = INT64_MAX,
		.event_id = INT64_MAX, .available_delta = 1, .frozen_delta = -1,
		.available = INT64_MIN + 1, .frozen = INT64_MAX - 1, .previous_block = 2,
	};

	/*
	 * Every kind; ordinals at both ends, the largest first step (INT32_MAX
	 * at a run's start) and the largest later one (0 to INT32_MAX).
	 */
	{
		static const int32_t ordinals[] = {
			0, 1, INT32_MAX - 1, INT32_MAX, INT32_MAX, 0, 0, INT32_MAX, 12345, 12346,
		};

		assert_int_equal(count, sizeof(ordinals) / sizeof(ordinals[0]));
		for (size_t i = 0; i < count; i++)
		{
			entries[i].kind = (uint8_t) (1 + i % 7);
			entries[i].ordinal = ordinals[i];
		}
	}

	/* locators at both ends: previous blocks far above and below */
	assert_round_trip(entries, count, 2000, block, sizeof(block));
	assert_round_trip(entries, count, 3, block, sizeof(block));
	entries[4].previous_block = 1;
	entries[5].previous_block = INT64_MAX - 1;
	entries[9].previous_block = INT64_MAX;
	assert_round_trip(entries, count, INT64_MAX - 2, block, sizeof(block));
	entries[9].previous_block = 1;
	assert_round_trip(entries, count, INT64_MAX, block, sizeof(block));
}

/* Encode, expecting a refusal that writes nothing. */
static void
assert_refused(const AxsHistoryEntry *entries, size_t count, int64_t locator, size_t capacity)
{
	uint8_t		block[AXS_HISTORY_BLOCK_MAX];
	size_t		length = 12345;

	memset(block, 0xEE, sizeof(block));
	if (axs_history_block_encode(entries, count, locator, block, capacity, &length) != 0)
		fail_msg("encoded, expected a refusal");
	assert_int_equal(length, 0);
	for (size_t i = 0; i < sizeof(block); i++)
		assert_int_equal(block[i], 0xEE);
}

/* For packs that must fail before asking for a locator. */
static int64_t
refusing_next_locator(void *context)
{
	(void) context;
	fail_msg("a locator was asked for");
	return 0;
}

/* For packs that must fail before emitting any block. */
static void
refusing_emit(void *context, int64_t locator, const uint8_t *block, size_t length)
{
	(void) context;
	(void) locator;
	(void) block;
	(void) length;
	fail_msg("a block was emitted");
}

/* Both the encoder and pack refuse entries[0..count). */
static void
assert_both_refuse(const AxsHistoryEntry *entries, size_t count)
{
	AxsHistoryEntry copy[16];
	AxsHistoryHead heads[16];
	size_t		head_count = 99;

	assert_true(count <= 16);
	assert_refused(entries, count, 50, AXS_HISTORY_BLOCK_MAX);
	memcpy(copy, entries, count * sizeof(*entries));
	assert_false(axs_history_pack(copy, count, refusing_next_locator, refusing_emit, NULL,
								  heads, 16, &head_count));
	assert_int_equal(head_count, 0);
}

/*
 * The refusal tests' sample: two keys of three and two entries (seqnos 4
 * to 6 after block 30, then 1 and 2), which encode at locator 50.
 */
static size_t
refusal_sample(AxsHistoryEntry *valid)
{
	uint8_t		block[AXS_HISTORY_BLOCK_MAX];
	size_t		length;
	size_t		count = append_chain(valid, 0, 1, 1, 4, 30, 100, 0, 500, 1, 3);

	count = append_chain(valid, count, 2, 1, 1, 0, 0, 0, 400, 1, 2);
	assert_int_equal(count, 5);
	assert_int_equal(axs_history_block_encode(valid, count, 50, block, sizeof(block), &length), 5);
	return count;
}

/*
 * Both the encoder and pack refuse the sample (valid, count) once statement
 * has changed a copy of it, bad: for the entries, not the room.
 */
#define REFUSE(statement) \
	do { \
		memcpy(bad, valid, sizeof(valid)); \
		statement; \
		assert_both_refuse(bad, count); \
	} while (0)

static void
test_encoder_refusals(void **state)
{
	AxsHistoryEntry valid[8];
	AxsHistoryEntry bad[8];
	size_t		count;
	size_t		length;
	uint8_t		block[AXS_HISTORY_BLOCK_MAX];
	size_t		minimum;

	(void) state;
	count = refusal_sample(valid);

	REFUSE(bad[1].seqno = 6);	/* a gap in the seqnos */
	REFUSE(bad[1].seqno = 4);	/* a repeated seqno */
	REFUSE(bad[1].available += 1);	/* balance not previous + delta */
	REFUSE(bad[2].frozen_delta += 1);
	REFUSE(bad[0].seqno = 1);	/* seqno 1 with a previous block */
	REFUSE(bad[3].previous_block = 9);
	REFUSE(bad[0].previous_block = 0);	/* seqno > 1 without one */
	REFUSE(bad[0].previous_block = -30);
	REFUSE(bad[0].seqno = 0; bad[1].seqno = 1; bad[2].seqno = 2);
	REFUSE(bad[0].seqno = -1; bad[1].seqno = 0; bad[2].seqno = 1);
	/* the balance before the first entry would not be an int64 */
	REFUSE(bad[3].available = INT64_MIN; bad[3].available_delta = 1);
	REFUSE(bad[3].frozen = INT64_MAX; bad[3].frozen_delta = -1);
	/* a chained balance overflowing */
	REFUSE(bad[0].available = INT64_MAX; bad[0].available_delta = 0;
		   bad[1].available_delta = 1; bad[1].available = INT64_MIN);
	REFUSE(bad[0].frozen = INT64_MIN; bad[0].frozen_delta = 0;
		   bad[1].frozen_delta = -1; bad[1].frozen = INT64_MAX);
	/* a seqno past INT64_MAX */
	REFUSE(bad[0].seqno = INT64_MAX; bad[1].seqno = INT64_MIN; bad[2].seqno = INT64_MIN + 1);

	/* keys out of order */
	REFUSE(bad[3] = valid[0]; bad[4] = valid[1]; bad[0] = valid[2]; bad[1] = valid[3];
		   bad[2] = valid[4]);
	REFUSE(bad[3].account = 1; bad[3].currency = 0);
	/* a key's entries split by another key */
	REFUSE(bad[1] = valid[3]; bad[3] = valid[1]);

	/* the previous block may not be the block itself, nor the locator <= 0 */
	assert_refused(valid, count, 30, AXS_HISTORY_BLOCK_MAX);
	assert_refused(valid, count, 0, AXS_HISTORY_BLOCK_MAX);
	assert_refused(valid, count, -50, AXS_HISTORY_BLOCK_MAX);

	/* room for one entry: one; a byte less: none */
	minimum = 0;
	for (size_t capacity = 0; capacity < 64; capacity++)
	{
		length = 12345;
		if (axs_history_block_encode(valid, count, 50, block, capacity, &length) > 0)
		{
			minimum = capacity;
			break;
		}
		assert_int_equal(length, 0);
	}
	assert_true(minimum > 0);
	assert_int_equal(axs_history_block_encode(valid, count, 50, block, minimum, &length), 1);
	assert_int_equal(length, minimum);

	/*
	 * The entry just past the room is checked against the last encoded:
	 * a block never ends where a later call could not see the break.
	 */
	memcpy(bad, valid, sizeof(valid));
	bad[1].seqno = 9;
	length = 12345;
	assert_int_equal(axs_history_block_encode(bad, count, 50, block, minimum, &length), 0);
	assert_int_equal(length, 0);
	memcpy(bad, valid, sizeof(valid));
	bad[1].ordinal = bad[0].ordinal;
	assert_int_equal(axs_history_block_encode(bad, count, 50, block, minimum, &length), 0);
	memcpy(bad, valid, sizeof(valid));
	bad[1].kind = 0;
	assert_int_equal(axs_history_block_encode(bad, count, 50, block, minimum, &length), 0);
	/* but not the one after it, which the next call checks */
	memcpy(bad, valid, sizeof(valid));
	bad[2].seqno = 9;
	assert_int_equal(axs_history_block_encode(bad, count, 50, block, minimum, &length), 1);
	bad[2].seqno = valid[2].seqno;
	bad[2].ordinal = bad[1].ordinal;
	assert_int_equal(axs_history_block_encode(bad, count, 50, block, minimum, &length), 1);
}

/* Kinds out of 1..7, ordinals negative or not increasing within a key. */
static void
test_tag_refusals(void **state)
{
	AxsHistoryEntry valid[8];
	AxsHistoryEntry bad[8];
	size_t		count;

	(void) state;
	count = refusal_sample(valid);

	/* no kind, or one past the tag's three bits, at a run's start or later */
	REFUSE(bad[0].kind = 0);
	REFUSE(bad[3].kind = 8);
	REFUSE(bad[1].kind = 0);
	REFUSE(bad[4].kind = 8);
	REFUSE(bad[2].kind = 255);
	/* a key's ordinals not increasing: equal, decreasing */
	REFUSE(bad[1].ordinal = bad[0].ordinal);
	REFUSE(bad[4].ordinal = 0; bad[3].ordinal = 0);
	REFUSE(bad[2].ordinal = bad[1].ordinal - 1);
	REFUSE(bad[1].ordinal = bad[0].ordinal - 1; bad[2].ordinal = bad[0].ordinal + 1);
	/* a negative ordinal, at a run's start or later */
	REFUSE(bad[0].ordinal = -1);
	REFUSE(bad[3].ordinal = INT32_MIN);
	REFUSE(bad[0].ordinal = INT32_MIN; bad[1].ordinal = -5; bad[2].ordinal = -4);
}

#undef REFUSE

/* Blocks kept in memory by locator, as the model test and pack tests keep them. */
typedef struct StoredBlock
{
	int64_t		locator;
	uint8_t    *bytes;
	size_t		length;
} StoredBlock;

typedef struct BlockStore
{
	StoredBlock *blocks;		/* in locator order */
	size_t		count;
	size_t		capacity;
	int64_t		next_locator;
	TestRandom *random;			/* if set, locators skip ahead at random */
} BlockStore;

/* The next locator: one more, or a few more when random is set. */
static int64_t
store_next_locator(void *context)
{
	BlockStore *store = context;

	store->next_locator += 1 + (store->random != NULL ?
								(int64_t) test_random_below(store->random, 3) : 0);
	return store->next_locator;
}

/* Keep a copy of a block, at the locator store_next_locator gave. */
static void
store_emit(void *context, int64_t locator, const uint8_t *block, size_t length)
{
	BlockStore *store = context;

	assert_int_equal(locator, store->next_locator);
	assert_true(length > 0 && length <= AXS_HISTORY_BLOCK_MAX);
	if (store->count == store->capacity)
	{
		store->capacity = store->capacity == 0 ? 256 : 2 * store->capacity;
		store->blocks = realloc(store->blocks, store->capacity * sizeof(StoredBlock));
		assert_non_null(store->blocks);
	}
	store->blocks[store->count].locator = locator;
	store->blocks[store->count].bytes = test_exact_copy(block, length);
	store->blocks[store->count].length = length;
	store->count++;
}

/* The stored block with this locator; fails the test if there is none. */
static const StoredBlock *
store_get(const BlockStore *store, int64_t locator)
{
	size_t		low = 0;
	size_t		high = store->count;

	while (low < high)
	{
		size_t		middle = low + (high - low) / 2;

		if (store->blocks[middle].locator < locator)
			low = middle + 1;
		else if (store->blocks[middle].locator > locator)
			high = middle;
		else
			return &store->blocks[middle];
	}
	fail_msg("no block %lld", (long long) locator);
	return NULL;
}

/* Free every stored block. */
static void
store_free(BlockStore *store)
{
	for (size_t i = 0; i < store->count; i++)
		free(store->blocks[i].bytes);
	free(store->blocks);
	memset(store, 0, sizeof(*store));
}

/*
 * Walk a key's chain backward from head, checking each block's entries
 * (seqnos ending where the newer block began, previous_block of later
 * entries the block itself) against expected[seqno - 1]; returns the blocks
 * visited.
 */
static size_t
assert_chain(const BlockStore *store, int64_t account, int32_t currency, int64_t head,
			 const AxsHistoryEntry *expected, int64_t last_seqno)
{
	static AxsHistoryEntry out[OUT_CAPACITY];
	int64_t		locator = head;
	int64_t		top = last_seqno;
	size_t		visited = 0;

	while (top > 0)
	{
		const StoredBlock *block;
		size_t		found = 0;

		if (locator <= 0 || visited > store->count)
			fail_msg("(%lld, %d): chain broken at seqno %lld", (long long) account, currency,
					 (long long) top);
		block = store_get(store, locator);
		assert_true(axs_history_block_find(block->bytes, block->length, locator, account, currency,
										   out, OUT_CAPACITY, &found));
		if (found == 0)
			fail_msg("(%lld, %d): block %lld does not hold seqno %lld", (long long) account,
					 currency, (long long) locator, (long long) top);
		assert_int_equal(out[found - 1].seqno, top);
		for (size_t i = 0; i < found; i++)
		{
			AxsHistoryEntry want = expected[out[i].seqno - 1];

			assert_true(out[i].seqno >= 1);
			want.previous_block = i == 0 ? out[0].previous_block : locator;
			assert_entry_equal(&out[i], &want);
		}
		top = out[0].seqno - 1;
		locator = out[0].previous_block;
		visited++;
	}
	assert_int_equal(locator, 0);
	return visited;
}

/* Fail unless a head is this key's, with this seqno and locator. */
static void
assert_head(const AxsHistoryHead *head, int64_t account, int32_t currency, int64_t seqno,
			int64_t locator)
{
	if (head->account != account || head->currency != currency || head->seqno != seqno ||
		head->locator != locator)
		fail_msg("head (%lld, %d) #%lld in %lld; expected (%lld, %d) #%lld in %lld",
				 (long long) head->account, head->currency, (long long) head->seqno,
				 (long long) head->locator, (long long) account, currency, (long long) seqno,
				 (long long) locator);
}

/*
 * Every kind, and ordinals whose tags take one to five bytes, up to
 * INT32_MAX: in one block, a few bytes a block (where a run's first entry
 * in each block stores its ordinal whole), and through sort and pack.
 */
static void
test_kinds_and_ordinals(void **state)
{
	static const int32_t ordinals[] = {0, 15, 16, 32, 2047, 2048, 300000, INT32_MAX - 1, INT32_MAX};
	AxsHistoryEntry original[16];
	AxsHistoryEntry entries[16];
	AxsHistoryEntry out[16];
	AxsHistoryHead heads[4];
	uint8_t		block[AXS_HISTORY_BLOCK_MAX];
	BlockStore	store = {0};
	size_t		count;
	size_t		decoded;
	size_t		head_count;
	size_t		blocks = 0;

	(void) state;
	count = append_chain(original, 0, 8, 1, 1, 0, 0, 0, 100, 1, 9);
	for (size_t i = 0; i < count; i++)
	{
		original[i].kind = (uint8_t) (7 - i % 7);
		original[i].ordinal = ordinals[i];
	}
	/* a key alone at INT32_MAX; a key of two, a step of INT32_MAX apart */
	count = append_chain(original, count, 9, 1, 4, 2, 0, 0, 50, 1, 1);
	original[count - 1].ordinal = INT32_MAX;
	count = append_chain(original, count, 9, 2, 1, 0, 0, 0, 60, 1, 2);
	original[count - 2].ordinal = 0;
	original[count - 1].ordinal = INT32_MAX;

	memcpy(entries, original, sizeof(original));
	assert_round_trip(entries, count, 5, block, sizeof(block));

	/* blocks of a few entries each */
	memcpy(entries, original, sizeof(original));
	for (size_t start = 0; start < count; blocks++)
	{
		int64_t		locator = 100 + (int64_t) blocks;
		size_t		length;
		size_t		encoded = axs_history_block_encode(entries + start, count - start, locator,
													   block, 32, &length);
		size_t		end = start + encoded;

		assert_true(encoded > 0);
		expected_after_encoding(entries + start, encoded, locator);
		assert_true(axs_history_block_decode(block, length, locator, out, 16, &decoded));
		assert_int_equal(decoded, encoded);
		for (size_t i = 0; i < decoded; i++)
			assert_entry_equal(&out[i], &entries[start + i]);
		if (end < count && entries[end].account == entries[end - 1].account &&
			entries[end].currency == entries[end - 1].currency)
			entries[end].previous_block = locator;
		start = end;
	}
	assert_true(blocks >= 4);

	/* backward, then sorted and packed */
	for (size_t i = 0; i < count; i++)
		entries[i] = original[count - 1 - i];
	axs_history_sort(entries, count, NULL);
	store.next_locator = 20;
	assert_true(axs_history_pack(entries, count, store_next_locator, store_emit, &store,
								 heads, 4, &head_count));
	assert_int_equal(store.count, 1);
	assert_true(axs_history_block_decode(store.blocks[0].bytes, store.blocks[0].length, 21,
										 out, 16, &decoded));
	assert_int_equal(decoded, count);
	memcpy(entries, original, sizeof(original));
	expected_after_encoding(entries, count, 21);
	for (size_t i = 0; i < count; i++)
		assert_entry_equal(&out[i], &entries[i]);
	store_free(&store);
}

static void
test_runs_across_blocks(void **state)
{
	static AxsHistoryEntry entries[6000];
	static AxsHistoryEntry chain[6000];
	static AxsHistoryEntry original[6000];
	static AxsHistoryEntry out[OUT_CAPACITY];
	AxsHistoryHead heads[8];
	BlockStore	store = {0};
	size_t		count = 0;
	size_t		head_count = 0;
	size_t		start = 0;
	size_t		walked = 0;
	uint8_t		block[AXS_HISTORY_BLOCK_MAX];

	(void) state;

	/* small blocks, encoded by hand: the caller links each to the one before */
	count = append_chain(entries, 0, 3, 1, 1, 0, 0, 0, 10, 2, 40);
	count = append_chain(entries, count, 3, 2, 1, 0, 0, 0, 11, 2, 1);
	count = append_chain(entries, count, 4, 1, 1, 0, 0, 0, 12, 2, 30);
	memcpy(original, entries, count * sizeof(*entries));
	store.next_locator = 100;
	while (start < count)
	{
		int64_t		locator = store_next_locator(&store);
		size_t		length;
		size_t		encoded = axs_history_block_encode(entries + start, count - start, locator,
													   block, 64, &length);

		assert_true(encoded > 0);
		assert_true(length <= 64);
		store_emit(&store, locator, block, length);
		if (start + encoded < count &&
			entries[start + encoded].account == entries[start + encoded - 1].account &&
			entries[start + encoded].currency == entries[start + encoded - 1].currency)
			entries[start + encoded].previous_block = locator;
		start += encoded;
	}
	assert_true(store.count >= 5);

	/* walk each key back from the block holding its last entry */
	for (size_t i = 0; i < store.count; i++)
	{
		size_t		found;

		assert_true(axs_history_block_find(store.blocks[i].bytes, store.blocks[i].length,
										   store.blocks[i].locator, 3, 1, out, OUT_CAPACITY, &found));
		if (found > 0 && out[found - 1].seqno == 40)
		{
			assert_true(assert_chain(&store, 3, 1, store.blocks[i].locator, original, 40) > 2);
			walked++;
		}
		assert_true(axs_history_block_find(store.blocks[i].bytes, store.blocks[i].length,
										   store.blocks[i].locator, 4, 1, out, OUT_CAPACITY, &found));
		if (found > 0 && out[found - 1].seqno == 30)
		{
			assert_true(assert_chain(&store, 4, 1, store.blocks[i].locator, &original[41], 30) > 1);
			walked++;
		}
	}
	assert_int_equal(walked, 2);
	store_free(&store);

	/* pack: one key of 5,000 entries between two small ones, in full blocks */
	count = append_chain(entries, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1);
	count = append_chain(entries, count, 2, 1, 11, 7, 3, 4, 2, 1, 5000);
	count = append_chain(entries, count, 2, 2, 1, 0, 0, 0, 10000, 1, 3);
	memcpy(chain, &entries[1], 5000 * sizeof(*entries));
	for (size_t i = 0; i < 5000; i++)
		chain[i].seqno -= 10;	/* so that chain[seqno - 1] is the entry */
	store.next_locator = 7;
	assert_true(axs_history_pack(entries, count, store_next_locator, store_emit, &store,
								 heads, 8, &head_count));
	assert_true(store.count >= 3);
	assert_int_equal(head_count, 3);
	assert_head(&heads[0], 1, 1, 1, 8);
	assert_head(&heads[1], 2, 1, 5010, heads[1].locator);
	assert_head(&heads[2], 2, 2, 3, 7 + (int64_t) store.count);
	assert_true(heads[1].locator >= 7 + (int64_t) store.count - 1);
	for (size_t i = 0; i < store.count; i++)
		assert_true(store.blocks[i].length > AXS_HISTORY_BLOCK_MAX - 40 || i + 1 == store.count);

	/* pack filled previous_block as a reader sees it */
	for (size_t i = 0, at = 0; i < store.count; i++)
	{
		size_t		decoded;

		assert_true(axs_history_block_decode(store.blocks[i].bytes, store.blocks[i].length,
											 store.blocks[i].locator, out, OUT_CAPACITY, &decoded));
		for (size_t k = 0; k < decoded; k++)
			assert_entry_equal(&out[k], &entries[at + k]);
		at += decoded;
		if (i + 1 == store.count)
			assert_int_equal(at, count);
	}

	/* a buffer larger than a block still gets one block's worth, the first */
	{
		static uint8_t large[2 * AXS_HISTORY_BLOCK_MAX];
		size_t		length;

		assert_true(axs_history_block_encode(entries, count, store.blocks[0].locator, large,
											 sizeof(large), &length) > 0);
		assert_int_equal(length, store.blocks[0].length);
		assert_memory_equal(large, store.blocks[0].bytes, length);
	}

	/* the long chain ends at the key's head before the unit */
	{
		int64_t		locator = heads[1].locator;
		int64_t		top = 5010;

		while (top > 10)
		{
			const StoredBlock *stored = store_get(&store, locator);
			size_t		found;

			assert_true(axs_history_block_find(stored->bytes, stored->length, locator, 2, 1,
											   out, OUT_CAPACITY, &found));
			assert_true(found > 0);
			assert_int_equal(out[found - 1].seqno, top);
			for (size_t k = 0; k < found; k++)
			{
				AxsHistoryEntry want = chain[out[k].seqno - 11];

				want.seqno += 10;
				want.previous_block = k == 0 ? out[0].previous_block : locator;
				assert_entry_equal(&out[k], &want);
			}
			top = out[0].seqno - 1;
			locator = out[0].previous_block;
		}
		assert_int_equal(top, 10);
		assert_int_equal(locator, 7);
	}
	store_free(&store);
}

static void
test_pack(void **state)
{
	AxsHistoryEntry entries[16];
	AxsHistoryEntry sorted[16];
	AxsHistoryHead heads[16];
	BlockStore	store = {0};
	size_t		count;
	size_t		head_count;
	TestRandom	random = {UINT64_C(0x5eed0f0a11ce1234)};

	(void) state;
	count = append_chain(sorted, 0, -9, 2, 1, 0, 0, 0, 3, 1, 2);
	count = append_chain(sorted, count, 9, 1, 5, 2, -10, 0, 2, 1, 3);
	count = append_chain(sorted, count, 9, 3, 1, 0, 0, 0, 1, 1, 4);
	count = append_chain(sorted, count, 100, 1, 1, 0, 0, 0, 4, 1, 1);

	for (int round = 0; round < 50; round++)
	{
		memcpy(entries, sorted, count * sizeof(*entries));
		for (size_t i = count - 1; i > 0; i--)
		{
			size_t		j = test_random_below(&random, i + 1);
			AxsHistoryEntry swap = entries[i];

			entries[i] = entries[j];
			entries[j] = swap;
		}
		/* out of order: refused before any block */
		assert_false(axs_history_pack(entries, count, refusing_next_locator, refusing_emit, NULL,
									  heads, 16, &head_count));

		axs_history_sort(entries, count, round % 2 == 0 ? NULL : &axs_default_allocator);
		store.next_locator = 2;
		assert_true(axs_history_pack(entries, count, store_next_locator, store_emit, &store,
									 heads, 4, &head_count));
		assert_int_equal(store.count, 1);
		assert_int_equal(head_count, 4);
		expected_after_encoding(sorted, count, 3);
		for (size_t i = 0; i < count; i++)
			assert_entry_equal(&entries[i], &sorted[i]);
		assert_head(&heads[0], -9, 2, 2, 3);
		assert_head(&heads[1], 9, 1, 7, 3);
		assert_head(&heads[2], 9, 3, 4, 3);
		assert_head(&heads[3], 100, 1, 1, 3);
		store_free(&store);

		/* too few heads: refused before any block */
		assert_false(axs_history_pack(entries, count, refusing_next_locator, refusing_emit, NULL,
									  heads, 3, &head_count));
	}

	/* a locator that is not positive, or one an entry names, stops pack */
	memcpy(entries, sorted, count * sizeof(*entries));
	store.next_locator = -1;
	assert_false(axs_history_pack(entries, count, store_next_locator, store_emit, &store,
								  heads, 4, &head_count));
	assert_int_equal(store.count, 0);
	memcpy(entries, sorted, count * sizeof(*entries));
	store.next_locator = 1;
	assert_false(axs_history_pack(entries, count, store_next_locator, store_emit, &store,
								  heads, 4, &head_count));
	assert_int_equal(store.count, 0);

	/* an empty unit packs into nothing */
	assert_true(axs_history_pack(entries, 0, refusing_next_locator, refusing_emit, NULL,
								 heads, 0, &head_count));
	assert_int_equal(head_count, 0);
}

/* Fail unless entries[0..n) are in order and hold event ids 0..n-1 once each. */
static void
assert_sorted_permutation(const AxsHistoryEntry *entries, size_t n, bool *seen)
{
	memset(seen, 0, n * sizeof(bool));
	for (size_t i = 0; i < n; i++)
	{
		const AxsHistoryEntry *b = &entries[i];

		assert_true(b->event_id >= 0 && (size_t) b->event_id < n && !seen[b->event_id]);
		seen[b->event_id] = true;
		if (i > 0)
		{
			const AxsHistoryEntry *a = &entries[i - 1];

			assert_true(a->account < b->account ||
						(a->account == b->account &&
						 (a->currency < b->currency ||
						  (a->currency == b->currency && a->seqno <= b->seqno))));
		}
	}
}

/*
 * Sort sizes and orders that reach insertion sort, quicksort, heap sort
 * and the radix sort, with and without an allocator.
 */
static void
test_sort(void **state)
{
	static AxsHistoryEntry entries[20000];
	static bool seen[20000];
	TestRandom	random = {UINT64_C(0x0123456789abcdef)};
	const size_t sizes[] = {0, 1, 2, 3, 16, 17, 100, 255, 256, 1000, 20000};

	(void) state;
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
	{
		for (int order = 0; order < 8; order++)
		{
			size_t		n = sizes[s];

			for (size_t i = 0; i < n; i++)
			{
				memset(&entries[i], 0, sizeof(entries[i]));
				switch (order)
				{
					case 0:		/* random keys, many repeated */
						entries[i].account = (int64_t) test_random_below(&random, 50) - 25;
						entries[i].currency = (int32_t) test_random_below(&random, 3);
						entries[i].seqno = (int64_t) test_random_below(&random, 1000);
						break;
					case 1:		/* ascending */
						entries[i].account = (int64_t) i;
						break;
					case 2:		/* descending */
						entries[i].account = -(int64_t) i;
						break;
					case 3:		/* all one key, seqnos descending */
						entries[i].account = 7;
						entries[i].seqno = (int64_t) (n - i);
						break;
					case 4:		/* organ pipe */
						entries[i].account = (int64_t) (i < n / 2 ? i : n - i);
						break;
					case 5:		/* random keys, each key's seqnos in order */
						entries[i].account = (int64_t) test_random_below(&random, 300) * 1000003;
						entries[i].currency = (int32_t) test_random_below(&random, 5) - 2;
						entries[i].seqno = (int64_t) i;
						break;
					case 6:		/* in key order, seqnos descending in some keys */
						entries[i].account = (int64_t) (i / 40);
						entries[i].seqno = (int64_t) (i / 40 % 3 == 0 ? n - i : i);
						break;
					default:	/* full-range values */
						entries[i].account = (int64_t) test_random_next(&random);
						entries[i].currency = (int32_t) test_random_next(&random);
						entries[i].seqno = (int64_t) test_random_next(&random);
						break;
				}
				entries[i].event_id = (int64_t) i;
			}
			axs_history_sort(entries, n, (order + (int) s) % 2 == 0 ? &axs_default_allocator : NULL);
			assert_sorted_permutation(entries, n, seen);
			/* sorting sorted entries leaves them */
			axs_history_sort(entries, n, &axs_default_allocator);
			assert_sorted_permutation(entries, n, seen);
		}
	}
}

/* A unit of random chains, sorted, for the malformed-input tests. */
static size_t
sample_entries(TestRandom *random, AxsHistoryEntry *entries, size_t keys)
{
	size_t		count = 0;
	int64_t		account = (int64_t) test_random_below(random, 1000) - 500;

	for (size_t k = 0; k < keys; k++)
	{
		int64_t		seqno = 1 + (int64_t) test_random_below(random, 3) * (int64_t) test_random_below(random, 100000);
		size_t		length = 1 + test_random_below(random, 4);

		account += (int64_t) test_random_below(random, 3) == 0 ? 0 : 1 + (int64_t) test_random_below(random, 5000);
		count = append_chain(entries, count, account, (int32_t) k + 1, seqno,
							 seqno == 1 ? 0 : 1000 + (int64_t) test_random_below(random, 40),
							 (int64_t) test_random_below(random, 1000000) - 100000, 0,
							 (int64_t) (5000 + test_random_below(random, 3000)),
							 1 + (int64_t) test_random_below(random, 4), length);
	}
	axs_history_sort(entries, count, NULL);
	return count;
}

/* Every decoded entry keeps the rules; find agrees with the full decode. */
static void
assert_self_consistent(const uint8_t *block, size_t length, int64_t locator,
					   const AxsHistoryKey *probes, size_t probe_count)
{
	static AxsHistoryEntry decoded[OUT_CAPACITY];
	static AxsHistoryEntry found[OUT_CAPACITY];
	static uint8_t again[AXS_HISTORY_BLOCK_MAX];
	size_t		count = 0;
	bool		whole = axs_history_block_decode(block, length, locator, decoded, OUT_CAPACITY, &count);
	AxsHistoryKey first;
	AxsHistoryKey last;

	if (whole)
	{
		size_t		again_length;

		assert_true(count > 0 && count <= OUT_CAPACITY);
		assert_int_equal(axs_history_block_count(block, length), count);
		for (size_t i = 0; i < count; i++)
		{
			const AxsHistoryEntry *e = &decoded[i];

			assert_true(e->kind >= 1 && e->kind <= 7);
			if (i > 0 && e->account == e[-1].account && e->currency == e[-1].currency)
			{
				assert_true(e->ordinal > e[-1].ordinal);
				assert_int_equal(e->seqno, e[-1].seqno + 1);
				assert_int_equal(e->available, e[-1].available + e->available_delta);
				assert_int_equal(e->frozen, e[-1].frozen + e->frozen_delta);
				assert_int_equal(e->previous_block, locator);
			}
			else
			{
				assert_true(i == 0 || e[-1].account < e->account ||
							(e[-1].account == e->account && e[-1].currency < e->currency));
				assert_true(e->seqno >= 1 && e->ordinal >= 0);
				assert_true(e->seqno == 1 ? e->previous_block == 0 :
							e->previous_block > 0 && e->previous_block != locator);
			}
		}
		/* what decodes encodes to the same bytes */
		assert_int_equal(axs_history_block_encode(decoded, count, locator, again, sizeof(again),
												  &again_length), count);
		assert_int_equal(again_length, length);
		assert_memory_equal(again, block, length);

		assert_true(axs_history_block_bounds(block, length, &first, &last));
		assert_int_equal(first.account, decoded[0].account);
		assert_int_equal(first.currency, decoded[0].currency);
		assert_int_equal(last.account, decoded[count - 1].account);
		assert_int_equal(last.currency, decoded[count - 1].currency);
	}
	else
		assert_int_equal(count, 0);

	for (size_t p = 0; p < probe_count; p++)
	{
		size_t		found_count = 99;

		if (!axs_history_block_find(block, length, locator, probes[p].account, probes[p].currency,
									found, OUT_CAPACITY, &found_count))
		{
			if (whole)
				fail_msg("find failed where the whole block decodes");
			continue;
		}
		if (whole)
		{
			size_t		matching = 0;

			for (size_t i = 0; i < count; i++)
				if (decoded[i].account == probes[p].account &&
					decoded[i].currency == probes[p].currency)
					assert_entry_equal(&found[matching++], &decoded[i]);
			assert_int_equal(found_count, matching);
		}
		for (size_t i = 0; i < found_count; i++)
		{
			assert_int_equal(found[i].account, probes[p].account);
			assert_int_equal(found[i].currency, probes[p].currency);
			assert_true(found[i].kind >= 1 && found[i].kind <= 7 && found[i].ordinal >= 0);
			if (i > 0)
			{
				assert_true(found[i].ordinal > found[i - 1].ordinal);
				assert_int_equal(found[i].seqno, found[i - 1].seqno + 1);
				assert_int_equal(found[i].available, found[i - 1].available + found[i].available_delta);
				assert_int_equal(found[i].frozen, found[i - 1].frozen + found[i].frozen_delta);
				assert_int_equal(found[i].previous_block, locator);
			}
		}
	}
}

/* The keys of entries, and one absent key, as probes. */
static size_t
probes_of(const AxsHistoryEntry *entries, size_t count, AxsHistoryKey *probes)
{
	size_t		n = 0;

	for (size_t i = 0; i < count; i++)
		if (i == 0 || entries[i].account != entries[i - 1].account ||
			entries[i].currency != entries[i - 1].currency)
		{
			probes[n].account = entries[i].account;
			probes[n].currency = entries[i].currency;
			n++;
		}
	probes[n].account = INT64_MAX;
	probes[n].currency = 0;
	return n + 1;
}

/* A varint read back by the test, for finding fields in encoded blocks. */
static size_t
get_test_varint(const uint8_t *in, uint64_t *value)
{
	size_t		n = 0;

	*value = 0;
	do
		*value |= (uint64_t) (in[n] & 0x7F) << (7 * n);
	while (in[n++] & 0x80);
	return n;
}

/*
 * Blocks of up to 300 keys, so of up to 18 checkpoints: every key found
 * through them, every gap between keys absent; then damaged checkpoints
 * make the block malformed and lookups safe.
 */
static void
assert_many_keys(size_t keys)
{
	static AxsHistoryEntry entries[1000];
	static AxsHistoryEntry decoded[OUT_CAPACITY];
	static AxsHistoryKey probes[1000];
	uint8_t		block[AXS_HISTORY_BLOCK_MAX];
	size_t		count = 0;
	size_t		length;
	size_t		probe_count = 0;
	size_t		checkpoints;
	uint64_t	value;

	for (size_t k = 0; k < keys; k++)
		count = append_chain(entries, count, 10 * (int64_t) (k / 3) - 500, (int32_t) (k % 3) * 2,
							 k % 2 == 0 ? 1 : 100, k % 2 == 0 ? 0 : 3, 1000, 0,
							 7000 + (int64_t) k, 1, 1 + k % 3);
	length = assert_round_trip(entries, count, 9, block, sizeof(block));
	for (size_t i = 0; i < count; i++)
	{
		assert_absent(block, length, 9, entries[i].account, entries[i].currency + 1);
		assert_absent(block, length, 9, entries[i].account + 5, entries[i].currency);
		assert_absent(block, length, 9, entries[i].account - 5, entries[i].currency);
		if (i == 0 || entries[i].account != entries[i - 1].account ||
			entries[i].currency != entries[i - 1].currency)
		{
			probes[probe_count].account = entries[i].account;
			probes[probe_count].currency = entries[i].currency;
			probe_count++;
		}
	}
	assert_int_equal(probe_count, keys);
	assert_absent(block, length, 9, -1000, 0);
	assert_absent(block, length, 9, 1000, 0);

	/* the header's length, then each checkpoint's offsets changed */
	{
		size_t		header = 1;

		header += get_test_varint(block + header, &value);
		assert_int_equal(value, count);
		header += get_test_varint(block + header, &value);
		assert_int_equal(value, keys);
		header += get_test_varint(block + header, &value);
		header += get_test_varint(block + header, &value);
		checkpoints = (keys - 1) / 16;
		for (size_t c = 0; c < checkpoints; c++)
		{
			for (int damage = 0; damage < (checkpoints > 1 ? 5 : 4); damage++)
			{
				uint8_t    *copy = test_exact_copy(block, length);
				uint8_t    *offsets = copy + header + 4 * c;
				AxsHistoryEntry out[4];
				size_t		found;

				switch (damage)
				{
					case 0:		/* the directory offset one byte on */
						offsets[0]++;
						break;
					case 1:		/* the data offset one byte back */
						offsets[2]--;
						break;
					case 2:		/* past the end */
						offsets[0] = offsets[1] = 0xFF;
						break;
					case 3:
						offsets[2] = offsets[3] = 0xFF;
						break;
					default:	/* the next checkpoint's offsets */
						memcpy(offsets, block + header + 4 * ((c + 1) % checkpoints), 4);
						break;
				}
				assert_false(axs_history_block_decode(copy, length, 9, decoded, OUT_CAPACITY, &found));
				assert_self_consistent(copy, length, 9, probes, probe_count);
				(void) axs_history_block_find(copy, length, 9, 0, 0, out, 4, &found);
				free(copy);
			}
		}
	}
}

static void
test_many_keys(void **state)
{
	const size_t key_counts[] = {15, 16, 17, 32, 33, 48, 300};

	(void) state;
	for (size_t n = 0; n < sizeof(key_counts) / sizeof(key_counts[0]); n++)
		assert_many_keys(key_counts[n]);
}

static void
test_truncated_blocks_are_safe(void **state)
{
	static AxsHistoryEntry entries[200];
	static AxsHistoryKey probes[201];
	static AxsHistoryEntry found[OUT_CAPACITY];
	TestRandom	random = {UINT64_C(0x7e57ab1e00c0ffee)};
	uint8_t		valid[AXS_HISTORY_BLOCK_MAX];
	size_t		count = sample_entries(&random, entries, 40);
	size_t		probe_count = probes_of(entries, count, probes);
	size_t		length;

	(void) state;
	assert_int_equal(axs_history_block_encode(entries, count, 77, valid, sizeof(valid), &length), count);
	expected_after_encoding(entries, count, 77);
	for (size_t prefix = 0; prefix < length; prefix++)
	{
		uint8_t    *block = test_exact_copy(valid, prefix);
		AxsHistoryKey first;
		AxsHistoryKey last;
		size_t		decoded;

		assert_false(axs_history_block_decode(block, prefix, 77, found, OUT_CAPACITY, &decoded));
		assert_false(axs_history_block_bounds(block, prefix, &first, &last));
		/* a key whose run is whole before the cut is still found, and right */
		for (size_t p = 0, at = 0; p + 1 < probe_count; p++)
		{
			size_t		found_count;

			if (axs_history_block_find(block, prefix, 77, probes[p].account, probes[p].currency,
									   found, OUT_CAPACITY, &found_count))
			{
				assert_true(found_count > 0);
				for (size_t i = 0; i < found_count; i++)
					assert_entry_equal(&found[i], &entries[at + i]);
			}
			while (at < count && entries[at].account == probes[p].account &&
				   entries[at].currency == probes[p].currency)
				at++;
		}
		assert_self_consistent(block, prefix, 77, probes, probe_count);
		free(block);
	}
}

/* A varint written independently of the codec. */
static size_t
put_test_varint(uint8_t *out, uint64_t value)
{
	size_t		n = 0;

	while (value >= 0x80)
	{
		out[n++] = (uint8_t) (value | 0x80);
		value >>= 7;
	}
	out[n++] = (uint8_t) value;
	return n;
}

/*
 * A block of one run, key (1, 1), base event id 0, whose data is the given
 * varints: seqno, [previous], available, frozen, the tag and the deltas,
 * then event difference, tag and deltas per later entry.
 */
static size_t
single_run_block(uint8_t *out, uint64_t entry_count, const uint64_t *data, size_t data_count)
{
	uint8_t		run[256];
	uint8_t		scratch[16];
	size_t		run_length = 0;
	size_t		length = 0;

	for (size_t i = 0; i < data_count; i++)
		run_length += put_test_varint(run + run_length, data[i]);
	out[length++] = AXS_HISTORY_BLOCK_VERSION;
	length += put_test_varint(out + length, entry_count);
	out[length++] = 0x01;		/* one run */
	length += put_test_varint(out + length, 2 + put_test_varint(scratch, run_length));
	out[length++] = 0x00;		/* base event id 0 */
	out[length++] = 0x02;		/* account 1 */
	out[length++] = 0x01;		/* currency 1 */
	length += put_test_varint(out + length, run_length);
	memcpy(out + length, run, run_length);
	return length + run_length;
}

/* Derived values out of range make a block malformed. */
static void
test_derived_overflow_is_malformed(void **state)
{
	const uint64_t max_zigzag = UINT64_MAX - 1;	/* INT64_MAX */
	const uint64_t min_zigzag = UINT64_MAX;	/* INT64_MIN */
	const uint64_t first = 1;	/* ordinal 0, kind 1 */
	const uint64_t next = 9;	/* a step of 1, kind 1 */
	const uint64_t top = (uint64_t) INT32_MAX << 3;	/* a step of INT32_MAX, no kind */
	static const struct
	{
		uint64_t	entry_count;
		uint64_t	data[12];
		size_t		data_count;
		bool		decodes;
	}			cases[] = {
		/* seqno INT64_MAX alone, with a previous block 10 - 1 */
		{1, {INT64_MAX, 2, 0, 0, first, 0, 0}, 7, true},
		/* seqno 2^63 */
		{1, {UINT64_C(1) << 63, 2, 0, 0, first, 0, 0}, 7, false},
		/* a second entry after seqno INT64_MAX */
		{2, {INT64_MAX, 2, 0, 0, first, 0, 0, 0, next, 0, 0}, 11, false},
		{2, {INT64_MAX - 1, 2, 0, 0, first, 0, 0, 0, next, 0, 0}, 11, true},
		/* the balance before the first entry */
		{1, {1, min_zigzag, 0, first, 0, 0}, 6, true},
		{1, {1, min_zigzag, 0, first, 2, 0}, 6, false},
		{1, {1, 0, max_zigzag, first, 0, 1}, 6, false},
		{1, {1, 0, max_zigzag, first, 0, 2}, 6, true},
		/* a later entry's balance */
		{2, {1, max_zigzag, 0, first, 0, 0, 0, next, 1, 0}, 10, true},
		{2, {1, max_zigzag, 0, first, 0, 0, 0, next, 2, 0}, 10, false},
		{2, {1, 0, min_zigzag, first, 0, 0, 0, next, 0, 1}, 10, false},
		{2, {1, 0, min_zigzag, first, 0, 0, 0, next, 0, 2}, 10, true},
		/* the first entry's ordinal: INT32_MAX, then one more */
		{1, {1, 0, 0, top | 7, 0, 0}, 6, true},
		{1, {1, 0, 0, (top + 8) | 7, 0, 0}, 6, false},
		/* a later ordinal reaching INT32_MAX, then passing it */
		{2, {1, 0, 0, top - 8 + 2, 0, 0, 0, next, 0, 0}, 10, true},
		{2, {1, 0, 0, top - 8 + 2, 0, 0, 0, 16 | 1, 0, 0}, 10, false},
		{2, {1, 0, 0, top | 3, 0, 0, 0, next, 0, 0}, 10, false},
		{2, {1, 0, 0, first, 0, 0, 0, top | 4, 0, 0}, 10, true},
		{2, {1, 0, 0, next, 0, 0, 0, top | 4, 0, 0}, 10, false},
		/* steps that 32 bits would wrap to 0 and 1, and the largest tags */
		{1, {1, 0, 0, UINT64_C(1) << 35 | 1, 0, 0}, 6, false},
		{2, {1, 0, 0, first, 0, 0, 0, (UINT64_C(1) << 35) + next, 0, 0}, 10, false},
		{1, {1, 0, 0, UINT64_MAX, 0, 0}, 6, false},
		{2, {1, 0, 0, first, 0, 0, 0, UINT64_MAX, 0, 0}, 10, false},
		/* kind 0, at the start and later */
		{1, {1, 0, 0, 0, 0, 0}, 6, false},
		{1, {1, 0, 0, 8, 0, 0}, 6, false},
		{2, {1, 0, 0, first, 0, 0, 0, 8, 0, 0}, 10, false},
		/* a later step of 0: one ordinal twice */
		{2, {1, 0, 0, first, 0, 0, 0, 1, 0, 0}, 10, false},
		{2, {1, 0, 0, 40 | 5, 0, 0, 0, 6, 0, 0}, 10, false},
	};
	AxsHistoryKey probes[] = {{1, 1}};
	AxsHistoryEntry out[4];
	uint8_t		bytes[300];

	(void) state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		size_t		length = single_run_block(bytes, cases[c].entry_count, cases[c].data,
											  cases[c].data_count);
		uint8_t    *block = test_exact_copy(bytes, length);
		size_t		count;

		if (axs_history_block_decode(block, length, 10, out, 4, &count) != cases[c].decodes)
			fail_msg("case %zu %s", c, cases[c].decodes ? "did not decode" : "decoded");
		assert_int_equal(axs_history_block_find(block, length, 10, 1, 1, out, 4, &count),
						 cases[c].decodes);
		assert_self_consistent(block, length, 10, probes, 1);
		free(block);
	}
}

static void
test_damaged_blocks_are_safe(void **state)
{
	static const uint8_t good[] = {
		0x01, 0x03, 0x02, 0x06, 0xC8, 0x01,
		0x0A, 0x01, 0x0C, 0x02, 0x02, 0x08,
		0x03, 0x04, 0x28, 0x00, 0xA6, 0x01, 0x0E, 0x00, 0x04, 0x15, 0x03, 0x04,
		0x01, 0x0A, 0x00, 0x02, 0xA9, 0x01, 0x0A, 0x00,
	};
	/* one or two bytes changed: where, to what, and whether it still decodes */
	static const struct
	{
		size_t		at;
		uint8_t		value;
		size_t		second_at;	/* 0: none */
		uint8_t		second_value;
		bool		decodes;
	}			damage[] = {
		{0, 0x02, 0, 0, false},	/* an unknown version */
		{0, 0x00, 0, 0, false},
		{1, 0x00, 0, 0, false},	/* no entries */
		{1, 0x02, 0, 0, false},	/* fewer entries than the runs hold */
		{1, 0x04, 0, 0, false},	/* more */
		{1, 0xFF, 0, 0, false},	/* a varint running into the next field */
		{2, 0x00, 0, 0, false},	/* no runs */
		{2, 0x01, 0, 0, false},	/* fewer runs than the directory holds */
		{2, 0x03, 0, 0, false},	/* more */
		{2, 0x04, 0, 0, false},	/* more runs than entries */
		{3, 0x00, 0, 0, false},	/* an empty directory */
		{3, 0x05, 0, 0, false},	/* a directory cutting an item */
		{3, 0x07, 0, 0, false},
		{3, 0x7F, 0, 0, false},	/* past the block's end */
		{4, 0xCA, 0, 0, true},	/* another base event id: other ids */
		{8, 0x00, 0, 0, false},	/* a run of no bytes */
		{8, 0x0B, 0, 0, false},	/* runs not covering the data */
		{8, 0x0D, 0, 0, false},
		{8, 0x7F, 0, 0, false},	/* a run past the block's end */
		{9, 0x00, 10, 0x01, false},	/* the same key twice */
		{9, 0x00, 10, 0x00, false},	/* keys out of order */
		{9, 0x00, 0, 0, true},	/* (5, 2) after (5, 1) */
		{10, 0x00, 0, 0, true},	/* (7, 0) */
		{11, 0x05, 0, 0, false},
		{11, 0x00, 0, 0, false},
		{12, 0x00, 0, 0, false},	/* seqno 0 */
		{12, 0x01, 0, 0, false},	/* seqno 1 with a previous block */
		{13, 0x00, 0, 0, false},	/* previous block 10 - 0: the block itself */
		{13, 0x14, 0, 0, false},	/* previous block 10 - 10: none */
		{13, 0x16, 0, 0, false},	/* previous block 10 - 11: negative */
		{13, 0x15, 0, 0, true},	/* previous block 10 + 11 */
		{13, 0x80, 0, 0, false},	/* a varint running on */
		{15, 0x80, 0, 0, false},
		{14, 0xFF, 15, 0xFF, false},	/* the last run's data runs short */
		{16, 0xA0, 0, 0, false},	/* a tag of kind 0 */
		{16, 0xA7, 0, 0, true},	/* kind 7 */
		{17, 0x00, 0, 0, false},	/* a tag not in its shortest form */
		{21, 0x05, 0, 0, false},	/* a later step of 0: an ordinal repeated */
		{21, 0x10, 0, 0, false},	/* kind 0 */
		{21, 0x0D, 0, 0, true},	/* a step of 1 */
		{28, 0xA8, 0, 0, false},	/* kind 0 in the second run */
		{29, 0x80, 0, 0, false},	/* a tag running on */
		{31, 0x80, 0, 0, false},	/* cut off at the block's end */
	};
	AxsHistoryKey probes[] = {{5, 1}, {7, 2}, {6, 0}, {5, 2}, {7, 0}, {INT64_MAX, 0}};
	AxsHistoryEntry out[OUT_CAPACITY];
	size_t		count;
	uint8_t    *block;

	(void) state;
	block = test_exact_copy(good, sizeof(good));
	assert_true(axs_history_block_decode(block, sizeof(good), 10, out, OUT_CAPACITY, &count));
	free(block);
	for (size_t d = 0; d < sizeof(damage) / sizeof(damage[0]); d++)
	{
		block = test_exact_copy(good, sizeof(good));
		block[damage[d].at] = damage[d].value;
		if (damage[d].second_at > 0)
			block[damage[d].second_at] = damage[d].second_value;
		assert_self_consistent(block, sizeof(good), 10, probes, 6);
		if (axs_history_block_decode(block, sizeof(good), 10, out, OUT_CAPACITY, &count) !=
			damage[d].decodes)
			fail_msg("damage %zu %s", d, damage[d].decodes ? "did not decode" : "decoded");
		free(block);
	}

	/* a trailing byte, a longer form of a varint, an empty block */
	{
		uint8_t		longer[sizeof(good) + 1];
		static const uint8_t overlong[] = {
			0x01, 0x83, 0x00, 0x02, 0x06, 0xC8, 0x01,
			0x0A, 0x01, 0x0C, 0x02, 0x02, 0x08,
			0x03, 0x04, 0x28, 0x00, 0xA6, 0x01, 0x0E, 0x00, 0x04, 0x15, 0x03, 0x04,
			0x01, 0x0A, 0x00, 0x02, 0xA9, 0x01, 0x0A, 0x00,
		};
		uint8_t		widest[] = {
			0x01, 0x01, 0x01, 0x0C, 0x00,
			0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,	/* INT64_MIN */
			0x01, 0x06,
			0x01, 0x00, 0x00, 0x01, 0x00, 0x00,
		};

		memcpy(longer, good, sizeof(good));
		longer[sizeof(good)] = 0;
		block = test_exact_copy(longer, sizeof(longer));
		assert_false(axs_history_block_decode(block, sizeof(longer), 10, out, OUT_CAPACITY, &count));
		assert_self_consistent(block, sizeof(longer), 10, probes, 6);
		free(block);

		block = test_exact_copy(overlong, sizeof(overlong));
		assert_false(axs_history_block_decode(block, sizeof(overlong), 10, out, OUT_CAPACITY, &count));
		assert_int_equal(axs_history_block_count(block, sizeof(overlong)), 0);
		assert_self_consistent(block, sizeof(overlong), 10, probes, 6);
		free(block);

		/* a currency beyond 32 bits; the widest one is -1 */
		uint8_t		currency[] = {
			0x01, 0x01, 0x01, 0x07, 0x00,
			0x02, 0x80, 0x80, 0x80, 0x80, 0x10, 0x06,	/* account 1, currency 2^32 */
			0x01, 0x00, 0x00, 0x01, 0x00, 0x00,
		};

		block = test_exact_copy(currency, sizeof(currency));
		assert_false(axs_history_block_decode(block, sizeof(currency), 10, out, OUT_CAPACITY, &count));
		assert_self_consistent(block, sizeof(currency), 10, probes, 6);
		free(block);
		currency[6] = currency[7] = currency[8] = currency[9] = 0xFF;
		currency[10] = 0x0F;
		block = test_exact_copy(currency, sizeof(currency));
		assert_true(axs_history_block_decode(block, sizeof(currency), 10, out, OUT_CAPACITY, &count));
		assert_int_equal(out[0].account, 1);
		assert_int_equal(out[0].currency, -1);
		free(block);

		/* the widest varint decodes; one more bit, or one more byte, does not */
		block = test_exact_copy(widest, sizeof(widest));
		assert_true(axs_history_block_decode(block, sizeof(widest), 10, out, OUT_CAPACITY, &count));
		assert_int_equal(count, 1);
		assert_int_equal(out[0].account, INT64_MIN);
		free(block);
		widest[14] = 0x02;
		block = test_exact_copy(widest, sizeof(widest));
		assert_false(axs_history_block_decode(block, sizeof(widest), 10, out, OUT_CAPACITY, &count));
		assert_self_consistent(block, sizeof(widest), 10, probes, 6);
		free(block);
		widest[14] = 0x81;
		block = test_exact_copy(widest, sizeof(widest));
		assert_false(axs_history_block_decode(block, sizeof(widest), 10, out, OUT_CAPACITY, &count));
		assert_self_consistent(block, sizeof(widest), 10, probes, 6);
		free(block);

		/* an account increase past INT64_MAX */
		{
			AxsHistoryEntry top[2] = {
				{.account = INT64_MAX - 1, .currency = 1, .seqno = 1, .kind = 1},
				{.account = INT64_MAX, .currency = 1, .seqno = 1, .kind = 1},
			};
			uint8_t		bytes[64];
			size_t		length;
			const size_t second_account = 5 + 10 + 1 + 1;	/* header, first item */

			assert_int_equal(axs_history_block_encode(top, 2, 10, bytes, sizeof(bytes), &length), 2);
			assert_int_equal(bytes[second_account], 1);
			bytes[second_account] = 2;
			block = test_exact_copy(bytes, length);
			assert_false(axs_history_block_decode(block, length, 10, out, OUT_CAPACITY, &count));
			assert_false(axs_history_block_find(block, length, 10, INT64_MAX, 1, out,
												OUT_CAPACITY, &count));
			assert_self_consistent(block, length, 10, probes, 6);
			free(block);
		}

		block = test_exact_copy(good, 1);
		assert_int_equal(axs_history_block_count(block, 0), 0);
		assert_false(axs_history_block_decode(block, 0, 10, out, OUT_CAPACITY, &count));
		assert_false(axs_history_block_find(block, 0, 10, 5, 1, out, OUT_CAPACITY, &count));
		free(block);
	}
}

static void
test_random_mutations_are_safe(void **state)
{
	static AxsHistoryEntry entries[2000];
	static AxsHistoryKey probes[2001];
	TestRandom	random = {UINT64_C(0x0dd5eed0b10c4a12)};
	uint8_t		valid[AXS_HISTORY_BLOCK_MAX];

	(void) state;
	for (int sample = 0; sample < 8; sample++)
	{
		size_t		count = sample_entries(&random, entries, sample == 0 ? 1 : 10 * (size_t) sample);
		size_t		probe_count = probes_of(entries, count, probes);
		int64_t		locator = 1 + (int64_t) test_random_below(&random, 100);
		size_t		valid_length;

		assert_int_equal(axs_history_block_encode(entries, count, locator, valid, sizeof(valid),
												  &valid_length), count);
		assert_self_consistent(valid, valid_length, locator, probes, probe_count);
		for (int round = 0; round < 4000; round++)
		{
			size_t		length = valid_length;
			uint8_t    *block;
			int			flips = 1 + (int) test_random_below(&random, 3);

			if (test_random_below(&random, 4) == 0)
				length -= test_random_below(&random, length);
			block = test_exact_copy(valid, length);
			for (int f = 0; f < flips && length > 0; f++)
			{
				size_t		at = test_random_below(&random, length);

				if (test_random_below(&random, 2) == 0)
					block[at] ^= (uint8_t) (1u << test_random_below(&random, 8));
				else
					block[at] = (uint8_t) test_random_next(&random);
			}
			assert_self_consistent(block, length, locator, probes, probe_count);
			free(block);
		}
	}
}

/*
 * The model test: units of random events over 2,000 accounts and 3
 * currencies (Zipf-like skew), each packed into blocks kept in memory; the
 * model keeps every key's history and head, and at the end every key's
 * chain is walked backward from its head and compared with it.
 */
#define MODEL_ACCOUNTS 2000
#define MODEL_CURRENCIES 3
#define MODEL_KEYS (MODEL_ACCOUNTS * MODEL_CURRENCIES)
#define MODEL_UNITS 500
#define MODEL_UNIT_MAX_EVENTS 1500
#define MODEL_LEGS_MAX 4

typedef struct ModelKey
{
	AxsHistoryEntry *history;	/* history[seqno - 1] */
	size_t		count;
	size_t		capacity;
	int64_t		available;
	int64_t		frozen;
	int64_t		head;
} ModelKey;

static int64_t
model_account(size_t index)
{
	/* ids spread out, a few negative and a few near the top */
	if (index % 500 == 7)
		return -(int64_t) index * 1000003;
	if (index % 700 == 3)
		return INT64_MAX - (int64_t) index;
	return (int64_t) index * 37 + 1000;
}

/* The model's index of a key: model_account backward. */
static size_t
model_key_index(int64_t account, int32_t currency)
{
	size_t		index;

	if (account < 0)
		index = (size_t) (-account / 1000003);
	else if (account > INT64_MAX - MODEL_ACCOUNTS)
		index = (size_t) (INT64_MAX - account);
	else
		index = (size_t) ((account - 1000) / 37);
	if (index >= MODEL_ACCOUNTS || model_account(index) != account ||
		currency < 1 || currency > MODEL_CURRENCIES)
		fail_msg("no key (%lld, %d) in the model", (long long) account, currency);
	return index * MODEL_CURRENCIES + (size_t) (currency - 1);
}

/*
 * A rank in [0, n), skewed like Zipf's law: a power of two picked
 * uniformly, then a rank uniformly among the ranks of that many bits, so
 * rank 0 is as likely as all of 512..1023 together.
 */
static size_t
skewed_pick(TestRandom *random, size_t n)
{
	size_t		levels = 0;
	size_t		level;
	size_t		low;
	size_t		width;

	while (((size_t) 1 << levels) <= n)
		levels++;
	level = test_random_below(random, levels);
	low = ((size_t) 1 << level) - 1;
	width = (size_t) 1 << level;
	if (low + width > n)
		width = n - low;
	return low + test_random_below(random, width);
}

static int64_t
model_amount(TestRandom *random)
{
	int			bits = (int) test_random_below(random, 40);

	return (int64_t) test_random_below(random, UINT64_C(1) << bits) + 1;
}

static void
test_model(void **state)
{
	static ModelKey keys[MODEL_KEYS];
	static AxsHistoryEntry unit[MODEL_UNIT_MAX_EVENTS * MODEL_LEGS_MAX];
	static AxsHistoryHead heads[MODEL_UNIT_MAX_EVENTS * MODEL_LEGS_MAX];
	TestRandom	random = {UINT64_C(0x4d0de1c0ffee5eed)};
	TestRandom	locator_random = {UINT64_C(0x10ca7012)};
	BlockStore	store = {0};
	int64_t		event_id = 1000000;
	size_t		total_entries = 0;
	size_t		longest_chain_blocks = 0;
	size_t		keys_spanning_blocks_in_a_unit = 0;

	(void) state;
	memset(keys, 0, sizeof(keys));
	store.next_locator = 1000;
	store.random = &locator_random;

	for (int u = 0; u < MODEL_UNITS; u++)
	{
		/* a fifth are synchronous calls of one event */
		size_t		events = test_random_below(&random, 5) == 0 ? 1 :
			1 + test_random_below(&random, MODEL_UNIT_MAX_EVENTS);
		size_t		count = 0;
		size_t		head_count = 0;
		size_t		blocks_before = store.count;
		int64_t		unit_base = event_id;

		for (size_t e = 0; e < events; e++)
		{
			size_t		legs = test_random_below(&random, 2) == 0 ? 1 :
				2 + test_random_below(&random, MODEL_LEGS_MAX - 1);
			size_t		leg_keys[MODEL_LEGS_MAX];
			int64_t		leg_available[MODEL_LEGS_MAX];
			int64_t		leg_frozen[MODEL_LEGS_MAX];
			size_t		distinct = 0;
			/* event ids mostly ascending, sometimes out of order */
			int64_t		id = test_random_below(&random, 10) == 0 ?
				unit_base + (int64_t) test_random_below(&random, events) : event_id + 1;
			uint8_t		kind = (uint8_t) (1 + test_random_below(&random, 7));

			event_id = id > event_id ? id : event_id + 1;
			for (size_t l = 0; l < legs; l++)
			{
				size_t		key = skewed_pick(&random, MODEL_ACCOUNTS) * MODEL_CURRENCIES +
					test_random_below(&random, MODEL_CURRENCIES);
				int64_t		amount = model_amount(&random);
				int64_t		available = 0;
				int64_t		frozen = 0;
				size_t		d;

				switch (test_random_below(&random, 5))
				{
					case 0:
						available = amount;
						break;
					case 1:
						available = -amount;	/* may go negative: a credit line */
						break;
					case 2:
						available = -amount;
						frozen = amount;
						break;
					case 3:
						available = amount;
						frozen = -amount;
						break;
					default:
						frozen = test_random_below(&random, 3) == 0 ? 0 : -amount;
						break;
				}
				/* two legs on one key make one entry with their sum */
				for (d = 0; d < distinct && leg_keys[d] != key; d++)
					;
				if (d == distinct)
				{
					leg_keys[distinct] = key;
					leg_available[distinct] = 0;
					leg_frozen[distinct] = 0;
					distinct++;
				}
				leg_available[d] += available;
				leg_frozen[d] += frozen;
			}
			for (size_t d = 0; d < distinct; d++)
			{
				ModelKey   *model = &keys[leg_keys[d]];
				AxsHistoryEntry *entry = &unit[count++];

				if (model->count == model->capacity)
				{
					model->capacity = model->capacity == 0 ? 8 : 2 * model->capacity;
					model->history = realloc(model->history, model->capacity * sizeof(AxsHistoryEntry));
					assert_non_null(model->history);
				}
				model->available += leg_available[d];
				model->frozen += leg_frozen[d];
				memset(entry, 0, sizeof(*entry));
				entry->account = model_account(leg_keys[d] / MODEL_CURRENCIES);
				entry->currency = (int32_t) (leg_keys[d] % MODEL_CURRENCIES) + 1;
				entry->seqno = (int64_t) model->count + 1;
				entry->event_id = id;
				entry->kind = kind;
				entry->ordinal = (int32_t) e;	/* the event's place in the unit */
				entry->available_delta = leg_available[d];
				entry->frozen_delta = leg_frozen[d];
				entry->available = model->available;
				entry->frozen = model->frozen;
				/* the head before the unit on each key's first entry of it */
				entry->previous_block = model->head;
				model->history[model->count++] = *entry;
			}
		}

		/* a key's later entries in the unit: their previous_block is pack's to set */
		for (size_t i = 0; i < count; i++)
			for (size_t j = 0; j < i; j++)
				if (unit[j].account == unit[i].account && unit[j].currency == unit[i].currency)
				{
					unit[i].previous_block = (int64_t) test_random_next(&random);
					break;
				}

		/* in no particular order, then sorted */
		for (size_t i = count; i > 1; i--)
		{
			size_t		j = test_random_below(&random, i);
			AxsHistoryEntry swap = unit[i - 1];

			unit[i - 1] = unit[j];
			unit[j] = swap;
		}
		axs_history_sort(unit, count, u % 2 == 0 ? &axs_default_allocator : NULL);
		assert_true(axs_history_pack(unit, count, store_next_locator, store_emit, &store,
									 heads, sizeof(heads) / sizeof(heads[0]), &head_count));
		assert_true(store.count > blocks_before);
		total_entries += count;

		for (size_t h = 0; h < head_count; h++)
		{
			ModelKey   *model = &keys[model_key_index(heads[h].account, heads[h].currency)];

			assert_int_equal(heads[h].seqno, model->count);
			assert_true(heads[h].locator >= store.blocks[blocks_before].locator);
			assert_true(heads[h].locator <= store.blocks[store.count - 1].locator);
			model->head = heads[h].locator;
		}

		/* a key's run crossed into another block where two links differ */
		for (size_t i = 2; i < count; i++)
			if (unit[i].account == unit[i - 2].account && unit[i].currency == unit[i - 2].currency &&
				unit[i].seqno == unit[i - 2].seqno + 2 &&
				unit[i].previous_block != unit[i - 1].previous_block &&
				unit[i - 1].previous_block >= store.blocks[blocks_before].locator)
			{
				keys_spanning_blocks_in_a_unit++;
				break;
			}
	}

	/* every block decodes, and the blocks hold every entry once */
	{
		size_t		stored = 0;

		for (size_t i = 0; i < store.count; i++)
		{
			static AxsHistoryEntry out[OUT_CAPACITY];
			size_t		decoded;

			assert_true(axs_history_block_decode(store.blocks[i].bytes, store.blocks[i].length,
												 store.blocks[i].locator, out, OUT_CAPACITY, &decoded));
			stored += decoded;
		}
		assert_int_equal(stored, total_entries);
	}

	/* every key's whole history, walked backward from its head */
	for (size_t k = 0; k < MODEL_KEYS; k++)
	{
		size_t		visited;

		if (keys[k].count == 0)
		{
			assert_int_equal(keys[k].head, 0);
			continue;
		}
		visited = assert_chain(&store, model_account(k / MODEL_CURRENCIES),
							   (int32_t) (k % MODEL_CURRENCIES) + 1, keys[k].head,
							   keys[k].history, (int64_t) keys[k].count);
		if (visited > longest_chain_blocks)
			longest_chain_blocks = visited;
		free(keys[k].history);
	}
	/* the workload reached the cases it is meant to */
	assert_true(keys[0].count > 5000);
	assert_true(longest_chain_blocks > MODEL_UNITS / 2);
	assert_true(keys_spanning_blocks_in_a_unit > 0);
	store_free(&store);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_exact_layout),
		cmocka_unit_test(test_extreme_values),
		cmocka_unit_test(test_encoder_refusals),
		cmocka_unit_test(test_tag_refusals),
		cmocka_unit_test(test_kinds_and_ordinals),
		cmocka_unit_test(test_runs_across_blocks),
		cmocka_unit_test(test_pack),
		cmocka_unit_test(test_sort),
		cmocka_unit_test(test_truncated_blocks_are_safe),
		cmocka_unit_test(test_damaged_blocks_are_safe),
		cmocka_unit_test(test_derived_overflow_is_malformed),
		cmocka_unit_test(test_random_mutations_are_safe),
		cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests_name("history_block", tests, NULL, NULL);
}
