/*
 * history_store.h
 *		Writing per-account history (axs.history_blocks, axs.history_marks)
 *		for a decision unit: an applier batch or one synchronous call.
 */
#ifndef AXS_HISTORY_STORE_H
#define AXS_HISTORY_STORE_H

#include "datatype/timestamp.h"

#include "history_block.h"

/* The history entries of one decision unit, in the order they were made. */
typedef struct AxsHistoryUnit
{
	AxsHistoryEntry *entries;
	size_t		count;
	size_t		capacity;
} AxsHistoryUnit;

/*
 * Start a unit with room for about expected entries, in memory the process
 * keeps for its next unit (one unit at a time per process).
 */
extern void axs_history_unit_init(AxsHistoryUnit *unit, size_t expected);

/*
 * Record the entries of an applied event (kind, its place in the unit) from
 * the changes axs_ledger_apply_changes reported.
 */
extern void axs_history_unit_add(AxsHistoryUnit *unit, int64 event_id, AxsEventKind kind,
								 int32 ordinal, const AxsAppliedChange *changes, int nchanges);

/*
 * Store the unit's entries as blocks decided at decided_at, and set each
 * touched balance's history_block in map to its new head.  Call before the
 * balances are written back, in the transaction that writes them.  The
 * first block gets first_locator if it is not 0 (a value the caller took
 * from axs.history_block_seq), the others the sequence's next values.
 * Returns the unit's first locator (its id: axs.history_blocks.unit), 0 if
 * the unit has no entries.
 */
extern int64 axs_history_store(AxsHistoryUnit *unit, AxsBalanceMap *map, TimestampTz decided_at,
							   int64 first_locator);

#endif							/* AXS_HISTORY_STORE_H */
