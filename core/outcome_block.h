/*
 * outcome_block.h
 *		A block of decided events: up to a few kilobytes of (id, reason,
 *		payload) entries sorted by id, binary-searchable in place.
 *
 * The applier records each batch's outcomes in axs.event_log (one row per
 * event, for queries and audit) and, for idempotency, in axs.outcome_blocks:
 * one row per block of the batch's ids.  A block row costs one index entry
 * instead of one per event.
 *
 * Encoding (all integers little-endian, so a dump restores on any machine):
 *	 count		u16
 *	 entries	count x { id i64, data_offset u16 }, sorted by id, ids unique
 *	 data		per entry at data_offset: { reason i16, length u16, payload }
 *
 * Pure C: no PostgreSQL headers, unit-tested with cmocka.
 */
#ifndef AXS_OUTCOME_BLOCK_H
#define AXS_OUTCOME_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest encoded block: a block row must fit in one 8 kB heap page. */
#define AXS_OUTCOME_BLOCK_MAX 7800

/* One decided event; payload points into the caller's memory or the block. */
typedef struct AxsOutcome
{
	int64_t		id;
	int16_t		reason;
	uint16_t	payload_length;
	const uint8_t *payload;
} AxsOutcome;

/*
 * Encode outcomes[0..count) (sorted by id, ids unique) into out, as many as
 * fit in capacity (at most AXS_OUTCOME_BLOCK_MAX).  Returns how many were
 * encoded (0 only if count is 0 or capacity is too small for one) and sets
 * *length to the bytes written.
 */
extern size_t axs_outcome_block_encode(const AxsOutcome *outcomes, size_t count,
									   uint8_t *out, size_t capacity, size_t *length);

/* Entries in a block; 0 if the block is malformed. */
extern size_t axs_outcome_block_count(const uint8_t *block, size_t length);

/*
 * Look id up in a block.  Returns true and fills *outcome (payload pointing
 * into block) if present; false if absent or the block is malformed.
 */
extern bool axs_outcome_block_find(const uint8_t *block, size_t length, int64_t id,
								   AxsOutcome *outcome);

/* Smallest and largest id of a non-empty, well-formed block. */
extern bool axs_outcome_block_bounds(const uint8_t *block, size_t length,
									 int64_t *first, int64_t *last);

#endif							/* AXS_OUTCOME_BLOCK_H */
