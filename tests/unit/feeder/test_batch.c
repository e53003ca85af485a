/*
 * test_batch.c
 *		cmocka tests of batch building: valid events become inbox rows with
 *		the encoder's payload and their topic's id, partition and offset,
 *		invalid and empty messages become dead letters with the decoder's
 *		reason, written as SQL literals that survive any byte (quotes,
 *		backslashes, NUL), offsets already taken are skipped, the
 *		partition's batch range follows the messages, and the inbox rows are
 *		cut into complete COPYs of BATCH_INBOX_ROWS_PER_COPY rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "batch.h"
#include "copy_binary.h"
#include "event.h"

static const char deposit[] =
"{\"id\":1,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":1000}";

/* Find needle in the COPY data; true if present. */
static bool
contains(const CopyBuffer *buffer, const void *needle, size_t length)
{
	size_t		i;

	for (i = 0; i + length <= buffer->length; i++)
		if (memcmp(buffer->data + i, needle, length) == 0)
			return true;
	return false;
}

static void
test_valid_event_becomes_inbox_row(void **state)
{
	PartitionTable table;
	OwnedPartition *owned;
	Batch		batch;
	AxsEvent	event;
	AxsDecodeError error;
	uint8_t		payload[AXS_PAYLOAD_MAX];
	size_t		payload_length;

	(void) state;
	partition_table_init(&table);
	owned = partition_table_add(&table, "ev", 3);
	owned->source_topic_id = 7;
	partition_set_stored(owned, true, 10);
	batch_init(&batch);

	assert_int_equal(batch_add_message(&batch, owned, 10, deposit, strlen(deposit),
									   1704164645678, 5),
					 BATCH_EVENT);
	assert_int_equal(batch.inbox_row_count, 1);
	assert_int_equal(batch.dead_letter_count, 0);
	assert_int_equal(batch.first_message_ms, 5);
	assert_true(owned->in_batch);
	assert_int_equal(owned->batch_last_offset, 10);
	assert_int_equal(owned->accept_from_offset, 11);

	/* The row carries exactly the shared encoder's payload. */
	assert_true(axs_event_from_json(deposit, strlen(deposit), &event, &error));
	payload_length = axs_event_encode(&event, payload, sizeof(payload));
	assert_true(payload_length > 0);
	assert_true(contains(&batch.inbox_rows, payload, payload_length));

	batch_seal(&batch);
	batch_seal(&batch);
	/* header 19 + tuple (2 + 12 + 4 + payload + 12 + 8 + 8 + 12) + trailer 2 */
	assert_int_equal(batch.inbox_rows.length,
					 19 + 2 + 12 + 4 + payload_length + 12 + 8 + 8 + 12 + 2);
	assert_int_equal(batch.inbox_copy_count, 1);
	assert_int_equal(batch.inbox_copy_ends[0], batch.inbox_rows.length);
	/* the tuple's six fields, then the trailer */
	assert_memory_equal(batch.inbox_rows.data + 19, ((const uint8_t[]) {0, 6}), 2);
	assert_memory_equal(batch.inbox_rows.data + 19 + 2,
						((const uint8_t[]) {0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1}), 12);
	assert_memory_equal(batch.inbox_rows.data + 19 + 2 + 12 + 4 + payload_length,
						((const uint8_t[]) {
		0, 0, 0, 8, 0x00, 0x02, 0xb0, 0xec, 0x85, 0x20, 0x4b, 0xb0,	/* queued_at */
		0, 0, 0, 4, 0, 0, 0, 7,	/* source_topic */
		0, 0, 0, 4, 0, 0, 0, 3,	/* source_partition */
		0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 10,	/* source_offset */
		0xff, 0xff}), 12 + 8 + 8 + 12 + 2);
	assert_non_null(strstr(BATCH_INBOX_COPY, "(event_id, payload, queued_at, source_topic, "
						   "source_partition, source_offset)"));

	batch_free(&batch);
	partition_table_free(&table);
}

static void
test_invalid_messages_become_dead_letters(void **state)
{
	static const char bad_type[] =
		"{\"id\":2,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":\"5\"}";
	PartitionTable table;
	OwnedPartition *owned;
	Batch		batch;

	(void) state;
	partition_table_init(&table);
	owned = partition_table_add(&table, "ev", 0);
	partition_set_stored(owned, false, 0);
	batch_init(&batch);

	assert_int_equal(batch_add_message(&batch, owned, 0, "not json", 8, 0, 1),
					 BATCH_DEAD_LETTER);
	assert_int_equal(batch_add_message(&batch, owned, 1, bad_type, strlen(bad_type), 0, 2),
					 BATCH_DEAD_LETTER);
	assert_int_equal(batch_add_message(&batch, owned, 2, NULL, 0, 0, 3),
					 BATCH_DEAD_LETTER);
	assert_int_equal(batch.dead_letter_count, 3);
	assert_int_equal(batch.inbox_row_count, 0);
	assert_int_equal(batch.message_count, 3);
	assert_true(contains(&batch.dead_letter_values, "empty message", 13));
	assert_true(contains(&batch.dead_letter_values, "amount", 6));
	/* "not json" in hex */
	assert_true(contains(&batch.dead_letter_values, "6e6f74206a736f6e", 16));
	assert_int_equal(owned->batch_last_offset, 2);

	batch_reset(&batch);
	assert_int_equal(batch.message_count, 0);
	assert_int_equal(batch_bytes(&batch), 0);
	batch_free(&batch);
	partition_table_free(&table);
}

/* The event json holds, which must be valid. */
static AxsEvent
event_of(const char *json)
{
	AxsEvent	event;
	AxsDecodeError error;

	if (!axs_event_from_json(json, strlen(json), &event, &error))
		fail_msg("%s: %s", json, error.message);
	return event;
}

/*
 * The decoder's rules on the Kafka path: \u0000 anywhere, a value nested
 * deeper than 32 levels and a trade with oneself are dead letters; 1e2 is
 * the integer 100, as jsonb reads it for axs.apply, so it becomes the same
 * inbox payload as 100.
 */
static void
test_decoder_rules_on_the_kafka_path(void **state)
{
	static const char *const dead[] = {
		"{\"id\":3,\"kind\":\"deposit\\u0000junk\",\"account\":42,\"currency\":\"USDT\",\"amount\":5}",
		"{\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5,\"id\\u0000x\":832}",
		"{\"id\":3,\"kind\":\"deposit\",\"account\":42,\"currency\":\"US\\u0000DT\",\"amount\":5}",
		"{\"id\":3,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":1.50e1}",
		"{\"id\":3,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":5,"
		"\"memo\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
		"{\"id\":3,\"kind\":\"trade\",\"buyer\":42,\"seller\":42,\"base\":\"BTC\",\"quote\":\"USDT\","
		"\"base_amount\":2,\"quote_amount\":60000}",
	};
	static const char exponent[] =
		"{\"id\":1,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":1e3}";
	PartitionTable table;
	OwnedPartition *owned;
	Batch		batch;
	AxsEvent	plain_event;
	uint8_t		plain_payload[AXS_PAYLOAD_MAX];
	size_t		plain_length;
	int64_t		offset = 0;

	(void) state;
	partition_table_init(&table);
	owned = partition_table_add(&table, "ev", 0);
	partition_set_stored(owned, false, 0);
	batch_init(&batch);

	for (size_t i = 0; i < sizeof(dead) / sizeof(dead[0]); i++)
		assert_int_equal(batch_add_message(&batch, owned, offset++, dead[i], strlen(dead[i]), 0, 1),
						 BATCH_DEAD_LETTER);
	assert_int_equal(batch.dead_letter_count, (int) (sizeof(dead) / sizeof(dead[0])));
	assert_int_equal(batch.inbox_row_count, 0);

	assert_int_equal(batch_add_message(&batch, owned, offset++, exponent, strlen(exponent), 0, 1),
					 BATCH_EVENT);
	assert_int_equal(batch.inbox_row_count, 1);
	/* the row is deposit's: the same event, amount 1000 */
	plain_event = event_of(deposit);
	plain_length = axs_event_encode(&plain_event, plain_payload, sizeof(plain_payload));
	assert_true(plain_length > 0 && contains(&batch.inbox_rows, plain_payload, plain_length));

	batch_free(&batch);
	partition_table_free(&table);
}

static void
test_offsets_already_taken_are_skipped(void **state)
{
	PartitionTable table;
	OwnedPartition *owned;
	Batch		batch;

	(void) state;
	partition_table_init(&table);
	owned = partition_table_add(&table, "ev", 1);
	partition_set_stored(owned, true, 100);
	batch_init(&batch);

	assert_int_equal(batch_add_message(&batch, owned, 99, deposit, strlen(deposit), 0, 1),
					 BATCH_SKIPPED);
	assert_int_equal(batch_add_message(&batch, owned, 100, deposit, strlen(deposit), 0, 1),
					 BATCH_EVENT);
	assert_int_equal(batch_add_message(&batch, owned, 100, deposit, strlen(deposit), 0, 1),
					 BATCH_SKIPPED);
	/* A gap (compaction, transaction markers) is accepted. */
	assert_int_equal(batch_add_message(&batch, owned, 105, deposit, strlen(deposit), 0, 1),
					 BATCH_EVENT);
	assert_int_equal(batch.message_count, 2);

	partition_table_batch_committed(&table);
	assert_true(owned->has_stored_offset);
	assert_int_equal(owned->stored_next_offset, 106);
	assert_false(owned->in_batch);

	batch_free(&batch);
	partition_table_free(&table);
}

/* The VALUES rows of the dead letters, byte for byte. */
static void
test_dead_letter_literals(void **state)
{
	static const char first[] = "(E'it''s\\\\ev',7,41,E'\\\\x27005c'::bytea,E'";
	static const char second[] = ",(E'it''s\\\\ev',7,42,NULL,E'empty message')";
	static const char quote_nul_backslash[] = {'\'', '\0', '\\'};
	PartitionTable table;
	OwnedPartition *owned;
	Batch		batch;
	const char *values;
	size_t		length;

	(void) state;
	partition_table_init(&table);
	owned = partition_table_add(&table, "it's\\ev", 7);
	partition_set_stored(owned, true, 41);
	batch_init(&batch);

	assert_int_equal(batch_add_message(&batch, owned, 41, quote_nul_backslash,
									   sizeof(quote_nul_backslash), 0, 1),
					 BATCH_DEAD_LETTER);
	assert_int_equal(batch_add_message(&batch, owned, 42, NULL, 0, 0, 2),
					 BATCH_DEAD_LETTER);
	values = (const char *) batch.dead_letter_values.data;
	length = batch.dead_letter_values.length;
	assert_int_equal(batch_bytes(&batch), length);
	assert_true(length > strlen(first) + strlen(second));
	assert_memory_equal(values, first, strlen(first));
	assert_memory_equal(values + length - strlen(second), second, strlen(second));
	/* the decoder's reason between them: printable, no lone quote or backslash */
	for (size_t i = strlen(first); i < length - strlen(second) - 2; i++)
	{
		assert_true(values[i] >= 0x20 && values[i] < 0x7f);
		if (values[i] == '\'' || values[i] == '\\')
		{
			assert_int_equal(values[i + 1], values[i]);
			i++;
		}
	}
	assert_memory_equal(values + length - strlen(second) - 2, "')", 2);

	batch_free(&batch);
	partition_table_free(&table);
}

/* Every COPY of the inbox rows: a header, its rows, the trailer. */
static void
test_inbox_rows_cut_into_copies(void **state)
{
	static const uint8_t signature[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
	const int	rows = 2 * BATCH_INBOX_ROWS_PER_COPY + 10;
	PartitionTable table;
	OwnedPartition *owned;
	Batch		batch;
	size_t		start = 0;
	size_t		row_length;

	(void) state;
	partition_table_init(&table);
	owned = partition_table_add(&table, "ev", 0);
	partition_set_stored(owned, true, 0);
	batch_init(&batch);
	for (int i = 0; i < rows; i++)
		assert_int_equal(batch_add_message(&batch, owned, i, deposit, strlen(deposit), 1704164645678, 5),
						 BATCH_EVENT);
	/* a bad message between them goes to the dead letters' own COPY */
	assert_int_equal(batch_add_message(&batch, owned, rows, "{", 1, 1704164645678, 5),
					 BATCH_DEAD_LETTER);
	batch_seal(&batch);
	batch_seal(&batch);

	assert_int_equal(batch.inbox_row_count, rows);
	assert_int_equal(batch.inbox_copy_count, 3);
	row_length = (batch.inbox_rows.length - 3 * (COPY_BINARY_HEADER_BYTES + COPY_BINARY_TRAILER_BYTES)) /
		(size_t) rows;
	for (int c = 0; c < batch.inbox_copy_count; c++)
	{
		size_t		end = batch.inbox_copy_ends[c];
		int			copy_rows = c < 2 ? BATCH_INBOX_ROWS_PER_COPY : 10;

		assert_memory_equal(batch.inbox_rows.data + start, signature, sizeof(signature));
		assert_int_equal(batch.inbox_rows.data[end - 2], 0xff);
		assert_int_equal(batch.inbox_rows.data[end - 1], 0xff);
		assert_int_equal(end - start, COPY_BINARY_HEADER_BYTES + (size_t) copy_rows * row_length +
						 COPY_BINARY_TRAILER_BYTES);
		start = end;
	}
	assert_int_equal(start, batch.inbox_rows.length);

	/* reset: the next batch starts its first COPY afresh */
	batch_reset(&batch);
	assert_int_equal(batch.inbox_copy_count, 0);
	assert_int_equal(batch_add_message(&batch, owned, rows + 1, deposit, strlen(deposit), 1704164645678, 5),
					 BATCH_EVENT);
	batch_seal(&batch);
	assert_int_equal(batch.inbox_copy_count, 1);
	assert_memory_equal(batch.inbox_rows.data, signature, sizeof(signature));
	assert_int_equal(batch.inbox_copy_ends[0], COPY_BINARY_HEADER_BYTES + row_length + COPY_BINARY_TRAILER_BYTES);

	batch_free(&batch);
	partition_table_free(&table);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_event_becomes_inbox_row),
		cmocka_unit_test(test_invalid_messages_become_dead_letters),
		cmocka_unit_test(test_decoder_rules_on_the_kafka_path),
		cmocka_unit_test(test_dead_letter_literals),
		cmocka_unit_test(test_offsets_already_taken_are_skipped),
		cmocka_unit_test(test_inbox_rows_cut_into_copies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
