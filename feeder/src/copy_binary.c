/*
 * copy_binary.c
 *		PostgreSQL binary COPY encoder (see copy_binary.h).
 *
 * All integers are written big-endian with explicit byte shifts, never with
 * host byte-order conversions, so the output is the same on every host.
 * Running out of memory ends the process: a half-written buffer must never
 * be sent.
 */
#include "copy_binary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t copy_signature[11] = {
	'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0377, '\r', '\n', '\0'
};

void
copy_buffer_init(CopyBuffer *buffer)
{
	buffer->data = NULL;
	buffer->length = 0;
	buffer->capacity = 0;
}

void
copy_buffer_reset(CopyBuffer *buffer)
{
	buffer->length = 0;
}

void
copy_buffer_free(CopyBuffer *buffer)
{
	free(buffer->data);
	copy_buffer_init(buffer);
}

/* Make room for extra more bytes, doubling the capacity as needed. */
static uint8_t *
copy_buffer_reserve(CopyBuffer *buffer, size_t extra)
{
	if (buffer->length + extra > buffer->capacity)
	{
		size_t		capacity = buffer->capacity ? buffer->capacity : 4096;
		uint8_t    *data;

		while (capacity < buffer->length + extra)
			capacity *= 2;
		data = realloc(buffer->data, capacity);
		if (data == NULL)
		{
			fprintf(stderr, "axs: out of memory growing a COPY buffer to %zu bytes\n",
					capacity);
			abort();
		}
		buffer->data = data;
		buffer->capacity = capacity;
	}
	return buffer->data + buffer->length;
}

void
copy_buffer_append(CopyBuffer *buffer, const void *bytes, size_t length)
{
	if (length == 0)
		return;
	memcpy(copy_buffer_reserve(buffer, length), bytes, length);
	buffer->length += length;
}

static void
put_be16(CopyBuffer *buffer, uint16_t value)
{
	uint8_t    *out = copy_buffer_reserve(buffer, 2);

	out[0] = (uint8_t) (value >> 8);
	out[1] = (uint8_t) value;
	buffer->length += 2;
}

static void
put_be32(CopyBuffer *buffer, uint32_t value)
{
	uint8_t    *out = copy_buffer_reserve(buffer, 4);

	out[0] = (uint8_t) (value >> 24);
	out[1] = (uint8_t) (value >> 16);
	out[2] = (uint8_t) (value >> 8);
	out[3] = (uint8_t) value;
	buffer->length += 4;
}

static void
put_be64(CopyBuffer *buffer, uint64_t value)
{
	put_be32(buffer, (uint32_t) (value >> 32));
	put_be32(buffer, (uint32_t) value);
}

void
copy_binary_put_header(CopyBuffer *buffer)
{
	memcpy(copy_buffer_reserve(buffer, sizeof(copy_signature)),
		   copy_signature, sizeof(copy_signature));
	buffer->length += sizeof(copy_signature);
	put_be32(buffer, 0);		/* flags: no OIDs */
	put_be32(buffer, 0);		/* header extension length */
}

void
copy_binary_put_tuple_begin(CopyBuffer *buffer, int16_t field_count)
{
	put_be16(buffer, (uint16_t) field_count);
}

void
copy_binary_put_int32(CopyBuffer *buffer, int32_t value)
{
	put_be32(buffer, 4);
	put_be32(buffer, (uint32_t) value);
}

void
copy_binary_put_int64(CopyBuffer *buffer, int64_t value)
{
	put_be32(buffer, 8);
	put_be64(buffer, (uint64_t) value);
}

void
copy_binary_put_bytes(CopyBuffer *buffer, const void *bytes, size_t length)
{
	put_be32(buffer, (uint32_t) length);
	copy_buffer_append(buffer, bytes, length);
}

void
copy_binary_put_null(CopyBuffer *buffer)
{
	put_be32(buffer, (uint32_t) -1);
}

void
copy_binary_put_timestamptz(CopyBuffer *buffer, int64_t postgres_usec)
{
	copy_binary_put_int64(buffer, postgres_usec);
}

void
copy_binary_put_trailer(CopyBuffer *buffer)
{
	put_be16(buffer, (uint16_t) -1);
}

int64_t
copy_binary_timestamptz_from_unix_ms(int64_t unix_ms)
{
	return unix_ms * 1000 - COPY_POSTGRES_EPOCH_OFFSET_USEC;
}
