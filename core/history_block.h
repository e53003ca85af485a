/*
 * history_block.h
 *		Blocks of per-account history: for each (account, currency) an event
 *		changed, one entry with the event's net change and the balance right
 *		after it, packed a few kilobytes to a block and searchable by key in
 *		place.
 *
 * A decision unit (an applier batch, or one synchronous call) sorts its
 * entries by (account, currency, seqno) and packs them into blocks, each
 * given a locator (a positive int64) by the caller.  A key's entries are
 * consecutive within a unit and may run on into the unit's next block.
 * Every entry names the block that holds the same key's previous entry
 * (previous_block, 0 for the key's first entry), so a reader walks a key's
 * history backward from the block holding its latest entry.
 *
 * This module owns the encoding, the lookup and the checks that entries
 * chain; it stores nothing, and only the sort borrows memory (from the
 * caller's allocator).  The caller assigns locators, stores blocks and
 * remembers each key's head (the locator of the block holding its latest
 * entry).
 *
 * Encoding (varint: unsigned LEB128, 7 bits a byte, shortest form only;
 * zigzag: a signed value as a varint, 0 -1 1 -2 2 ... -> 0 1 2 3 4 ...;
 * so a dump restores on any machine):
 *
 *	 header		version u8 (1)
 *				entry_count varint (> 0)
 *				run_count varint (keys in the block, 1 to entry_count)
 *				directory_length varint (bytes of the directory)
 *				base_event_id zigzag (the block's first entry's event_id)
 *	 checkpoints	one for each of runs 16, 32, 48, ...: where its
 *				directory item and its data start, as two u16 offsets from
 *				the start of the directory and of the data
 *	 directory	one item a key run, sorted by (account, currency), keys unique:
 *				  account	runs 0, 16, 32, ...: zigzag; the others:
 *							varint, the increase over the previous run's
 *				  currency	varint of the currency as uint32
 *				  length	varint, bytes of the run's data (> 0)
 *	 data		the runs' data, in directory order, back to back:
 *				  seqno		varint, the run's first seqno (>= 1)
 *				  previous	zigzag of (locator - previous_block), only if
 *							seqno > 1
 *				  available, frozen   zigzag, the balance after the first entry
 *				  entries	per entry: event_id (zigzag; a run's first
 *							entry's difference from base_event_id, absent
 *							in the block's first entry; a later entry's
 *							from the entry before it), tag (varint of
 *							(step << 3) | kind, step being a run's first
 *							entry's ordinal, a later entry's increase over
 *							the entry before it, >= 1), available_delta and
 *							frozen_delta (zigzag)
 *
 * The entries of a run have consecutive seqnos and increasing ordinals (an
 * event makes at most one entry a key); an entry after the first has
 * previous_block = the block's own locator and the balance of the entry
 * before it plus its deltas.  Differences are taken modulo 2^64, so every
 * int64 value is representable; derived values that would overflow (an
 * ordinal past INT32_MAX too) make a block malformed, as does a kind of 0.
 * A lookup binary-searches the checkpoints, then steps through at most 16
 * directory items, over the runs of other keys without decoding their
 * entries.
 *
 * Pure C: no PostgreSQL headers, unit-tested with cmocka.
 */
#ifndef AXS_HISTORY_BLOCK_H
#define AXS_HISTORY_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"				/* AxsAllocator */

/* Largest encoded block: a block row must fit in one 8 kB heap page. */
#define AXS_HISTORY_BLOCK_MAX 7800

/* Most entries a block holds: an output of this many fits any block. */
#define AXS_HISTORY_BLOCK_MAX_ENTRIES 2600

/* The layout described above. */
#define AXS_HISTORY_BLOCK_VERSION 1

/*
 * One event's net change to one (account, currency), and the balance after.
 * The event's own fields (event_id, kind, ordinal) are together, kind and
 * ordinal sharing eight bytes: 80 bytes an entry.
 */
typedef struct AxsHistoryEntry
{
	int64_t		account;
	int32_t		currency;
	int64_t		seqno;			/* the key's entry number: 1, 2, 3, ... */
	int64_t		event_id;
	uint8_t		kind;			/* the event's kind (AxsEventKind in event.h:
								 * 1..7) */
	int32_t		ordinal;		/* the event's place in its decision unit: 0,
								 * 1, 2, ... in the order the unit applied its
								 * events */
	int64_t		available_delta;
	int64_t		frozen_delta;
	int64_t		available;		/* balance right after the event */
	int64_t		frozen;
	int64_t		previous_block; /* locator of the block holding seqno - 1; 0
								 * when seqno is 1 */
} AxsHistoryEntry;

/* A key: one account's balance in one currency. */
typedef struct AxsHistoryKey
{
	int64_t		account;
	int32_t		currency;
} AxsHistoryKey;

/* Where a key's latest entry went: what the caller remembers per key. */
typedef struct AxsHistoryHead
{
	int64_t		account;
	int32_t		currency;
	int64_t		seqno;
	int64_t		locator;
} AxsHistoryHead;

/*
 * Sort by (account, currency, seqno).  With an allocator, a large array is
 * radix-sorted, borrowing 112 bytes an entry for the call (two blocks,
 * released before it returns); with none (NULL), or under 256 entries, it
 * is sorted in place, two to three times slower.  Input already in order
 * costs one pass.
 */
extern void axs_history_sort(AxsHistoryEntry *entries, size_t count,
							 const AxsAllocator *allocator);

/*
 * Encode the leading entries of entries[0..count) that fit in capacity
 * (at most AXS_HISTORY_BLOCK_MAX) as the block with this locator (> 0).
 * Returns how many were encoded and sets *length to the bytes written.
 *
 * The entries must be sorted by (account, currency, seqno), every kind in
 * 1..7 and every ordinal >= 0, and the entries of one key must chain:
 * consecutive seqnos, strictly increasing ordinals (an event makes at most
 * one entry a key), each balance the one before plus the deltas, no
 * overflow.  The first entry of each key in the array carries its
 * previous_block (0 if and only if seqno is 1; never this locator); a later
 * entry's is ignored, as it is this block.  So when a key's entries run on
 * past the returned count, the caller sets the first leftover entry's
 * previous_block to this locator before the next call (axs_history_pack
 * does all of this).
 *
 * Returns 0, writing nothing, if the entries it reads do not follow these
 * rules (including the entry just after the last one encoded, checked
 * against it), if count is 0 or the locator is not positive, or if capacity
 * is too small for one entry (AXS_HISTORY_BLOCK_MAX always holds one).
 */
extern size_t axs_history_block_encode(const AxsHistoryEntry *entries, size_t count,
									   int64_t locator, uint8_t *out, size_t capacity,
									   size_t *length);

/* Entries the block's header announces; 0 if the header is malformed. */
extern size_t axs_history_block_count(const uint8_t *block, size_t length);

/*
 * Decode the block with this locator into out, in block order.  False if
 * the block is malformed or capacity is less than its entry count.
 */
extern bool axs_history_block_decode(const uint8_t *block, size_t length, int64_t locator,
									 AxsHistoryEntry *out, size_t capacity, size_t *count);

/*
 * The key's entries in the block with this locator, oldest first.  True
 * with *count 0 if the key is absent; false if what the lookup read is
 * malformed or the key has more than capacity entries here.
 */
extern bool axs_history_block_find(const uint8_t *block, size_t length, int64_t locator,
								   int64_t account, int32_t currency,
								   AxsHistoryEntry *out, size_t capacity, size_t *count);

/* The first and last key of a block; false if its directory is malformed. */
extern bool axs_history_block_bounds(const uint8_t *block, size_t length,
									 AxsHistoryKey *first, AxsHistoryKey *last);

/* The caller's side of axs_history_pack. */
typedef int64_t (*AxsHistoryNextLocator) (void *context);
typedef void (*AxsHistoryEmit) (void *context, int64_t locator,
								const uint8_t *block, size_t length);

/*
 * Pack a whole unit, sorted by axs_history_sort: check every entry, then
 * encode them into as few blocks as fit, taking each block's locator from
 * next_locator (positive, never one already used for a block these entries
 * name) and handing each block to emit, in order.
 *
 * The caller fills every field but previous_block, which it sets only on
 * each key's first entry of the unit (the key's head before the unit, 0 if
 * seqno is 1).  On return every previous_block is what a decoder reports,
 * and heads[0..*head_count) holds, per key in key order, its last seqno
 * and the locator of the block holding it.
 *
 * Returns false, before emitting anything, if the entries are not sorted
 * or do not chain (see axs_history_block_encode) or there are more keys
 * than heads_capacity; false midway only if next_locator breaks its
 * contract.
 */
extern bool axs_history_pack(AxsHistoryEntry *entries, size_t count,
							 AxsHistoryNextLocator next_locator, AxsHistoryEmit emit,
							 void *context, AxsHistoryHead *heads, size_t heads_capacity,
							 size_t *head_count);

/*
 * The entries of one applied event (history_record.c): one per balance it
 * changed (a net change of zero is no change and gets none), appended to
 * history, which has room for AXS_MAX_LEGS more.  Each entry takes the
 * event's id, kind and ordinal (its place in the unit), the balance after
 * the event and the balance's next seqno, which it advances; its
 * previous_block is the balance's history_block, the head before this unit
 * (axs_history_pack fills in the unit's own).  Returns how many were
 * appended.
 */
extern int	axs_history_record(int64_t event_id, uint8_t kind, int32_t ordinal,
							   const AxsAppliedChange *changes, int nchanges,
							   AxsHistoryEntry *history);

#endif							/* AXS_HISTORY_BLOCK_H */
