/*
 * copy_binary.h
 *		Encoder of PostgreSQL's binary COPY format (FORMAT binary): the file
 *		header, tuples of int4, int8, bytea/text and timestamptz fields, NULLs
 *		and the trailer, into a growable byte buffer.
 *
 * Knows nothing about libpq, Kafka or axs tables: callers choose the columns.
 */
#ifndef AXS_FEEDER_COPY_BINARY_H
#define AXS_FEEDER_COPY_BINARY_H

#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer holding COPY data. */
typedef struct CopyBuffer
{
	uint8_t    *data;
	size_t		length;
	size_t		capacity;
} CopyBuffer;

/* Microseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch). */
#define COPY_POSTGRES_EPOCH_OFFSET_USEC INT64_C(946684800000000)

extern void copy_buffer_init(CopyBuffer *buffer);
extern void copy_buffer_reset(CopyBuffer *buffer);
extern void copy_buffer_free(CopyBuffer *buffer);

/* Raw bytes, without a length word (for a buffer that holds other text). */
extern void copy_buffer_append(CopyBuffer *buffer, const void *bytes, size_t length);

/* Signature, flags 0 and an empty header extension: COPY_BINARY_HEADER_BYTES. */
#define COPY_BINARY_HEADER_BYTES 19
extern void copy_binary_put_header(CopyBuffer *buffer);

/* Start a tuple of field_count fields. */
extern void copy_binary_put_tuple_begin(CopyBuffer *buffer, int16_t field_count);

extern void copy_binary_put_int32(CopyBuffer *buffer, int32_t value);
extern void copy_binary_put_int64(CopyBuffer *buffer, int64_t value);

/* A bytea, or a text field whose bytes are valid in the server encoding. */
extern void copy_binary_put_bytes(CopyBuffer *buffer, const void *bytes,
								  size_t length);
extern void copy_binary_put_null(CopyBuffer *buffer);

/* A timestamptz given in microseconds since 2000-01-01 00:00 UTC. */
extern void copy_binary_put_timestamptz(CopyBuffer *buffer,
										int64_t postgres_usec);

/* The int16 -1 end-of-data marker: COPY_BINARY_TRAILER_BYTES. */
#define COPY_BINARY_TRAILER_BYTES 2
extern void copy_binary_put_trailer(CopyBuffer *buffer);

/* Unix time in milliseconds to PostgreSQL timestamptz microseconds. */
extern int64_t copy_binary_timestamptz_from_unix_ms(int64_t unix_ms);

#endif							/* AXS_FEEDER_COPY_BINARY_H */
