/*
 * varint.h
 *		The integer encoding the core's block formats share (history_block,
 *		stream_block): varints (unsigned LEB128, 7 bits a byte, shortest
 *		form only), zigzag (a signed value as a varint, 0 -1 1 -2 2 ... ->
 *		0 1 2 3 4 ...) and int64 differences taken modulo 2^64.  Internal to
 *		the core.
 *
 * Readers take the end of what they may read and never step past it, so
 * a damaged block reads as malformed, never as a wild pointer.
 */
#ifndef AXS_VARINT_H
#define AXS_VARINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest varint of a 64-bit value. */
#define VARINT_MAX_BYTES 10

/* A signed value as an unsigned one: 0 -1 1 -2 2 ... -> 0 1 2 3 4 ... */
static inline uint64_t
zigzag(int64_t value)
{
	return ((uint64_t) value << 1) ^ (0 - ((uint64_t) value >> 63));
}

/* The signed value of a zigzag-encoded one. */
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

/* a + b modulo 2^64: undoes wrapping_difference */
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

/* Write the varint of value at out; returns the byte after it. */
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

/* Write the zigzag varint of value at out; returns the byte after it. */
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

#endif							/* AXS_VARINT_H */
