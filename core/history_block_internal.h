/*
 * history_block_internal.h
 *		What the history block files share (history_block.c, the encoder and
 *		pack; history_block_read.c, the reader; history_sort.c): entry
 *		tags, key order and the layout's small sizes.  The varints are
 *		varint.h's.  Internal to the core.
 */
#ifndef AXS_HISTORY_BLOCK_INTERNAL_H
#define AXS_HISTORY_BLOCK_INTERNAL_H

#include "history_block.h"
#include "varint.h"

/* A checkpoint every this many runs; each is two u16 offsets. */
#define CHECKPOINT_RUNS 16
#define CHECKPOINT_SIZE 4

/* Tags: an entry's kind in the low bits, the step of its ordinal above */

#define KIND_BITS 3
#define KIND_MASK ((1u << KIND_BITS) - 1)

_Static_assert(AXS_KIND_LEGS <= KIND_MASK, "every event kind fits a tag's kind bits");

/* Kind 0 is no kind: a tag of it is malformed. */
static inline bool
kind_valid(uint8_t kind)
{
	return kind >= 1 && kind <= KIND_MASK;
}

/*
 * The tag of entry, whose ordinal steps up from since: 0 for a run's first
 * entry in a block, else the ordinal of the entry before (the rules below
 * make the step positive).
 */
static inline uint64_t
entry_tag(const AxsHistoryEntry *entry, int32_t since)
{
	return ((uint64_t) ((int64_t) entry->ordinal - since) << KIND_BITS) | entry->kind;
}

/*
 * Read a tag into entry's kind and ordinal; before is the run's entry
 * before it, NULL for a run's first entry in a block.  False if it is cut
 * off, of kind 0, of a step of 0 after another entry, or of an ordinal past
 * INT32_MAX.
 */
static inline bool
read_tag(const uint8_t **position, const uint8_t *end, const AxsHistoryEntry *before,
		 AxsHistoryEntry *entry)
{
	int32_t		since = before != NULL ? before->ordinal : 0;
	uint64_t	tag;
	uint64_t	step;

	if (!read_varint(position, end, &tag) || !kind_valid((uint8_t) (tag & KIND_MASK)))
		return false;
	step = tag >> KIND_BITS;
	if ((before != NULL && step == 0) || step > (uint64_t) (INT32_MAX - since))
		return false;
	entry->kind = (uint8_t) (tag & KIND_MASK);
	entry->ordinal = since + (int32_t) step;
	return true;
}


/* The rules entries follow, shared by the encoder and pack */

/* Whether two entries are of one (account, currency). */
static inline bool
same_key(const AxsHistoryEntry *a, const AxsHistoryEntry *b)
{
	return a->account == b->account && a->currency == b->currency;
}

/* (account, currency) order, signed. */
static inline bool
key_less(int64_t account_a, int32_t currency_a, int64_t account_b, int32_t currency_b)
{
	return account_a < account_b || (account_a == account_b && currency_a < currency_b);
}

/* (account, currency, seqno) order, signed. */
static inline bool
entry_less(const AxsHistoryEntry *a, const AxsHistoryEntry *b)
{
	if (a->account != b->account)
		return a->account < b->account;
	if (a->currency != b->currency)
		return a->currency < b->currency;
	return a->seqno < b->seqno;
}

/*
 * The first entry of a key in a block: a kind, an ordinal >= 0, a positive
 * seqno, a previous block exactly when there is a previous entry, and a
 * balance before the event that an int64 holds.
 */
static inline bool
run_start_valid(const AxsHistoryEntry *entry)
{
	int64_t		before;

	if (!kind_valid(entry->kind) || entry->ordinal < 0)
		return false;
	if (entry->seqno < 1 || entry->previous_block < 0)
		return false;
	if ((entry->seqno == 1) != (entry->previous_block == 0))
		return false;
	return !__builtin_sub_overflow(entry->available, entry->available_delta, &before) &&
		!__builtin_sub_overflow(entry->frozen, entry->frozen_delta, &before);
}

/*
 * entry is the key's next after previous: a kind, a later event of the
 * unit (a greater ordinal), the next seqno, balances chained.
 */
static inline bool
entry_continues(const AxsHistoryEntry *previous, const AxsHistoryEntry *entry)
{
	int64_t		sum;

	if (!kind_valid(entry->kind) || entry->ordinal <= previous->ordinal)
		return false;
	if (previous->seqno == INT64_MAX || entry->seqno != previous->seqno + 1)
		return false;
	if (__builtin_add_overflow(previous->available, entry->available_delta, &sum) ||
		sum != entry->available)
		return false;
	if (__builtin_add_overflow(previous->frozen, entry->frozen_delta, &sum) ||
		sum != entry->frozen)
		return false;
	return true;
}

/* Layout sizes */

/* A u16, little-endian. */
static inline void
put_u16(uint8_t *out, size_t value)
{
	out[0] = (uint8_t) value;
	out[1] = (uint8_t) (value >> 8);
}

/* A u16, little-endian. */
static inline size_t
get_u16(const uint8_t *in)
{
	return (size_t) in[0] | ((size_t) in[1] << 8);
}

/* Checkpoints of a block of run_count runs: one for each CHECKPOINT_RUNS but the first. */
static inline size_t
checkpoint_count(size_t run_count)
{
	return (run_count - 1) / CHECKPOINT_RUNS;
}

/* Bytes of the header and the checkpoints. */
static inline size_t
header_size(size_t entry_count, size_t run_count, size_t directory_length,
			int64_t base_event_id)
{
	return 1 + varint_size(entry_count) + varint_size(run_count) +
		varint_size(directory_length) + zigzag_size(base_event_id) +
		CHECKPOINT_SIZE * checkpoint_count(run_count);
}

/* Whether run number run stores its account whole rather than as an increase. */
static inline bool
account_whole(size_t run)
{
	return run % CHECKPOINT_RUNS == 0;
}

#endif							/* AXS_HISTORY_BLOCK_INTERNAL_H */
