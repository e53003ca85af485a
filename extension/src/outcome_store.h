/*
 * outcome_store.h
 *		axs.outcome_blocks: the applier's outcomes by id, in blocks (the
 *		AxsOutcome type and the block format are in outcome_block.h).
 */
#ifndef AXS_OUTCOME_STORE_H
#define AXS_OUTCOME_STORE_H

#include "outcome_block.h"

/* Append count outcomes, sorted by id, as blocks (direct heap and index calls). */
extern void axs_outcomes_append(int count, const AxsOutcome *outcomes);

/* Look one id up; false if no block holds it.  latest: with the latest snapshot. */
extern bool axs_outcomes_find(int64 id, bool latest, bytea **payload, int16 *reason_code);

/*
 * Look up count sorted ids at once; found() gets the index in ids of each
 * id a block holds, with its outcome.  Needs SPI.
 */
extern void axs_outcomes_find_many(const int64 *ids, int count, bool latest,
								   void (*found) (void *context, int index,
												  const AxsOutcome *outcome),
								   void *context);

#endif							/* AXS_OUTCOME_STORE_H */
