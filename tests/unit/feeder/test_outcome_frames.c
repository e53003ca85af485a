/*
 * test_outcome_frames.c
 *		cmocka tests of reading axs.outcome_frames_after's frames: every
 *		field of a frame from Kafka and of a synchronous one, extreme
 *		values, rows appended after those already read and grown past the
 *		first allocation, empty input; and every cut or overlong frame
 *		refused whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "copy_binary.h"
#include "outcome_frames.h"

/* Frames being built, as the extension writes them (big-endian). */
typedef struct Frames
{
	char		bytes[1 << 20];
	size_t		length;
} Frames;

static void
put(Frames *frames, uint64_t value, int size)
{
	for (int i = size - 1; i >= 0; i--)
		frames->bytes[frames->length + (size_t) (size - 1 - i)] = (char) ((value >> (8 * i)) & 0xff);
	frames->length += (size_t) size;
}

static void
add_frame(Frames *frames, int64_t seq, int64_t id, int64_t queued_at, const char *topic,
		  int32_t partition, int64_t offset, const char *message)
{
	size_t		topic_length = topic != NULL ? strlen(topic) : 0;
	int			flags = (topic != NULL ? OUTCOME_FRAME_HAS_SOURCE : 0) |
		(queued_at != 0 ? OUTCOME_FRAME_HAS_QUEUED_AT : 0);

	put(frames, (uint64_t) seq, 8);
	put(frames, (uint64_t) id, 8);
	put(frames, (uint64_t) queued_at, 8);
	put(frames, (uint64_t) offset, 8);
	put(frames, (uint32_t) partition, 4);
	put(frames, strlen(message), 4);
	put(frames, (uint16_t) flags, 2);
	put(frames, topic_length, 2);
	memcpy(frames->bytes + frames->length, topic, topic_length);
	frames->length += topic_length;
	memcpy(frames->bytes + frames->length, message, strlen(message));
	frames->length += strlen(message);
}

static void
assert_text(const char *text, size_t length, const char *expected)
{
	assert_non_null(text);
	assert_int_equal(length, strlen(expected));
	assert_memory_equal(text, expected, length);
}

/* What reads have read so far. */
typedef struct Read
{
	OutcomeRow *rows;
	int			capacity;
	int			count;
	char		error[200];
} Read;

/* Read the frames into read, after the rows it holds. */
static bool
read_frames(Read *read, const Frames *frames)
{
	return outcome_frames_read(frames->bytes, frames->length, &read->rows, &read->capacity,
							   &read->count, read->error, sizeof(read->error));
}

static void
test_reads_every_field(void **state)
{
	static Frames frames;
	Read		read = {0};
	OutcomeRow *rows;

	(void) state;
	frames.length = 0;
	add_frame(&frames, 41, 1234567, 123456789, "axs.events", 7, 987654321, "{\"id\":1234567}");
	add_frame(&frames, 42, 9, 0, NULL, 0, 0, "{\"id\":9}");
	assert_true(read_frames(&read, &frames));
	assert_int_equal(read.count, 2);
	rows = read.rows;

	assert_int_equal(rows[0].seq, 41);
	assert_text(rows[0].id, rows[0].id_length, "1234567");
	assert_true(rows[0].has_queued_at);
	assert_int_equal(rows[0].queued_at_us, 123456789 + COPY_POSTGRES_EPOCH_OFFSET_USEC);
	assert_true(rows[0].has_source);
	assert_int_equal(rows[0].source_partition, 7);
	assert_text(rows[0].source_topic, rows[0].source_topic_length, "axs.events");
	assert_text(rows[0].source_partition_text, rows[0].source_partition_text_length, "7");
	assert_text(rows[0].source_offset_text, rows[0].source_offset_text_length, "987654321");
	assert_text(rows[0].message, rows[0].message_length, "{\"id\":1234567}");

	/* a synchronous decision: no source, no queued_at */
	assert_int_equal(rows[1].seq, 42);
	assert_text(rows[1].id, rows[1].id_length, "9");
	assert_false(rows[1].has_queued_at);
	assert_false(rows[1].has_source);
	assert_null(rows[1].source_topic);
	assert_text(rows[1].message, rows[1].message_length, "{\"id\":9}");
	free(rows);
}

static void
test_extreme_values(void **state)
{
	static Frames frames;
	Read		read = {0};
	OutcomeRow *rows;

	(void) state;
	frames.length = 0;
	add_frame(&frames, INT64_MAX, INT64_MAX, -1, "t", INT32_MAX, INT64_MAX, "x");
	add_frame(&frames, 1, INT64_MIN, INT64_MIN + COPY_POSTGRES_EPOCH_OFFSET_USEC, "t", 0, 0, "");
	assert_true(read_frames(&read, &frames));
	assert_int_equal(read.count, 2);
	rows = read.rows;
	assert_int_equal(rows[0].seq, INT64_MAX);
	assert_text(rows[0].id, rows[0].id_length, "9223372036854775807");
	assert_int_equal(rows[0].queued_at_us, -1 + COPY_POSTGRES_EPOCH_OFFSET_USEC);
	assert_int_equal(rows[0].source_partition, INT32_MAX);
	assert_text(rows[0].source_partition_text, rows[0].source_partition_text_length, "2147483647");
	assert_text(rows[0].source_offset_text, rows[0].source_offset_text_length,
				"9223372036854775807");
	assert_text(rows[1].id, rows[1].id_length, "-9223372036854775808");
	assert_int_equal(rows[1].queued_at_us, INT64_MIN + 2 * COPY_POSTGRES_EPOCH_OFFSET_USEC);
	assert_int_equal(rows[1].message_length, 0);
	free(rows);
}

/* Several result rows append to one array, grown past its first size. */
static void
test_appends_and_grows(void **state)
{
	static Frames first;
	static Frames second;
	OutcomeRow *rows = NULL;
	int			capacity = 0;
	int			count = 0;
	char		error[200];
	char		message[32];

	(void) state;
	first.length = second.length = 0;
	for (int seq = 1; seq <= 3000; seq++)
	{
		snprintf(message, sizeof(message), "{\"seq\":%d}", seq);
		add_frame(seq <= 1500 ? &first : &second, seq, 100 + seq, seq, "a", seq % 4, seq, message);
	}
	assert_true(outcome_frames_read(first.bytes, first.length, &rows, &capacity, &count,
									error, sizeof(error)));
	assert_int_equal(count, 1500);
	assert_true(outcome_frames_read(second.bytes, second.length, &rows, &capacity, &count,
									error, sizeof(error)));
	assert_int_equal(count, 3000);
	assert_true(capacity >= 3000);
	/* the texts of rows read before the array moved are still theirs */
	for (int r = 0; r < count; r++)
	{
		char		id[24];
		char		partition[12];
		char		offset[24];

		snprintf(message, sizeof(message), "{\"seq\":%d}", r + 1);
		snprintf(id, sizeof(id), "%d", 101 + r);
		snprintf(partition, sizeof(partition), "%d", (r + 1) % 4);
		snprintf(offset, sizeof(offset), "%d", r + 1);
		assert_int_equal(rows[r].seq, r + 1);
		assert_text(rows[r].id, rows[r].id_length, id);
		assert_int_equal(rows[r].source_partition, (r + 1) % 4);
		assert_text(rows[r].source_partition_text, rows[r].source_partition_text_length, partition);
		assert_text(rows[r].source_offset_text, rows[r].source_offset_text_length, offset);
		assert_text(rows[r].source_topic, rows[r].source_topic_length, "a");
		assert_text(rows[r].message, rows[r].message_length, message);
	}
	free(rows);
}

static void
test_empty_input(void **state)
{
	OutcomeRow *rows = NULL;
	int			capacity = 0;
	int			count = 0;
	char		error[200];

	(void) state;
	assert_true(outcome_frames_read("", 0, &rows, &capacity, &count, error, sizeof(error)));
	assert_int_equal(count, 0);
	free(rows);
}

/* Every cut of valid frames but at a frame's end, and overlong lengths, are refused. */
static void
test_refuses_cut_and_overlong_frames(void **state)
{
	static Frames frames;
	size_t		ends[2];
	OutcomeRow *rows = NULL;
	int			capacity = 0;
	int			count;
	char		error[200];

	(void) state;
	frames.length = 0;
	add_frame(&frames, 1, 1, 1, "topic", 1, 1, "{\"a\":1}");
	ends[0] = frames.length;
	add_frame(&frames, 2, 2, 0, NULL, 0, 0, "{\"b\":2}");
	ends[1] = frames.length;
	for (size_t cut = 1; cut < frames.length; cut++)
	{
		bool		whole = cut == ends[0];

		count = 0;
		error[0] = '\0';
		assert_int_equal(outcome_frames_read(frames.bytes, cut, &rows, &capacity, &count,
											 error, sizeof(error)), whole);
		if (!whole)
			assert_true(strstr(error, "cut short") != NULL || strstr(error, "are left") != NULL);
	}

	/* a message length past the end */
	frames.bytes[ends[0] + 36] = 0x7f;
	count = 0;
	assert_false(outcome_frames_read(frames.bytes, ends[1], &rows, &capacity, &count,
									 error, sizeof(error)));
	assert_non_null(strstr(error, "are left"));
	/* a topic length past the end */
	frames.length = 0;
	add_frame(&frames, 1, 1, 1, "topic", 1, 1, "{}");
	frames.bytes[42] = (char) 0xff;
	count = 0;
	assert_false(outcome_frames_read(frames.bytes, frames.length, &rows, &capacity, &count,
									 error, sizeof(error)));
	free(rows);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_every_field),
		cmocka_unit_test(test_extreme_values),
		cmocka_unit_test(test_appends_and_grows),
		cmocka_unit_test(test_empty_input),
		cmocka_unit_test(test_refuses_cut_and_overlong_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
