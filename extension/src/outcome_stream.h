/*
 * outcome_stream.h
 *		Writing the outcome stream (axs.outcome_stream): the applier gives
 *		every decided event its decision sequence number and packs the
 *		entries into stream blocks, in the transaction of its batch.
 */
#ifndef AXS_OUTCOME_STREAM_H
#define AXS_OUTCOME_STREAM_H

#include "stream_block.h"

/* The entries one applier transaction adds to the stream. */
typedef struct AxsStreamUnit
{
	AxsStreamEntry *entries;
	size_t		count;
	size_t		capacity;
	int64		decided_seq;	/* the last seq given before this unit */
	int64		sync_sequenced; /* the largest sync_order numbered so far */
} AxsStreamUnit;

/*
 * Start a unit with room for about expected entries: read where the
 * numbering stands (axs.applier_state, or the last stream block when that
 * is further on, as in a restored database).  Call with axs.balances locked
 * EXCLUSIVE, connected to SPI.
 */
extern void axs_stream_begin(AxsStreamUnit *unit, size_t expected);

/*
 * Add the synchronous decisions committed since the last numbered one, in
 * sync_order, at most limit of them.  Returns false if more are left.
 */
extern bool axs_stream_add_sync_decisions(AxsStreamUnit *unit, int limit);

/* A new entry at the end of the unit, zeroed, for the caller to fill. */
extern AxsStreamEntry *axs_stream_add(AxsStreamUnit *unit);

/* Pack the unit's entries into blocks and insert them. */
extern void axs_stream_write(AxsStreamUnit *unit);

/* The last seq given once the unit is written. */
static inline int64
axs_stream_last_seq(const AxsStreamUnit *unit)
{
	return unit->decided_seq + (int64) unit->count;
}

/*
 * Whether a synchronous decision waits for its number (no lock taken; the
 * applier checks this when its inbox is empty).
 */
extern bool axs_stream_sync_pending(void);

#endif							/* AXS_OUTCOME_STREAM_H */
