/*
 * decimal.h
 *		An int64 written in decimal, without printf: the JSON writer's
 *		numbers and the outcome publisher's keys and headers.
 */
#ifndef AXS_DECIMAL_H
#define AXS_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

/* Longest decimal int64 ("-9223372036854775808") and its NUL. */
#define DECIMAL_INT64_BYTES 21

/* value in decimal into out (DECIMAL_INT64_BYTES), NUL-terminated; returns its length. */
static inline size_t
decimal_int64(int64_t value, char *out)
{
	char		digits[20];
	char	   *start = digits + sizeof(digits);
	uint64_t	magnitude = value < 0 ? 0 - (uint64_t) value : (uint64_t) value;
	size_t		length = 0;

	do
	{
		*--start = (char) ('0' + magnitude % 10);
		magnitude /= 10;
	} while (magnitude != 0);
	if (value < 0)
		out[length++] = '-';
	while (start < digits + sizeof(digits))
		out[length++] = *start++;
	out[length] = '\0';
	return length;
}

#endif							/* AXS_DECIMAL_H */
