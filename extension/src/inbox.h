/*
 * inbox.h
 *		axs.inbox as every module sees it: its segments (LIST partitions on
 *		(position >> AXS_INBOX_SEGMENT_BITS) & (AXS_INBOX_SEGMENTS - 1), each
 *		with a BRIN index on position, see the install script), the positions
 *		the sequence has handed out, and the append lock.
 */
#ifndef AXS_INBOX_H
#define AXS_INBOX_H

#define AXS_INBOX_SEGMENT_BITS 18
#define AXS_INBOX_SEGMENTS 64

/* pages_per_range of a segment's BRIN index, as the install script creates them */
#define AXS_INBOX_PAGES_PER_RANGE 32

/* The segment a position goes into. */
static inline int
axs_inbox_segment(int64 position)
{
	return (int) ((position >> AXS_INBOX_SEGMENT_BITS) & (AXS_INBOX_SEGMENTS - 1));
}

/* The OID of axs.inbox_<segment><suffix>: the segment ("") or its index ("_position"). */
extern Oid	axs_inbox_segment_oid(int segment, const char *suffix);

/*
 * The last position the inbox sequence has handed out (0 if none yet).
 * Needs SPI and the right to read the sequence.
 */
extern int64 axs_inbox_positions_issued(void);

/* Take the inbox append lock for the rest of the transaction: no append is in flight. */
extern void axs_inbox_lock_appends(void);

/* Whether position can have been queued by the current, uncommitted transaction. */
extern bool axs_inbox_queued_by_this_transaction(int64 position);

#endif							/* AXS_INBOX_H */
