/*
 * outcome_store.h
 *		axs.outcome_blocks: the applier's outcomes by id, in blocks (the
 *		AxsOutcome type and the block format are in outcome_block.h).
 */
#ifndef AXS_OUTCOME_STORE_H
#define AXS_OUTCOME_STORE_H

#include "datatype/timestamp.h"

#include "outcome_block.h"

/*
 * Append count outcomes, sorted by id, decided at decided_at, as blocks
 * (direct heap and index calls).
 */
extern void axs_outcomes_append(int count, const AxsOutcome *outcomes, TimestampTz decided_at);

/*
 * Look one id up; false if no block holds it.  latest: with the latest
 * snapshot.  decided_at (if not NULL) gets when its batch was decided.
 */
extern bool axs_outcomes_find(int64 id, bool latest, bytea **payload, int16 *reason_code,
							  TimestampTz *decided_at);

/*
 * Look up count sorted ids at once; found() gets the index in ids of each
 * id a block holds, with its outcome.  Needs SPI.
 */
extern void axs_outcomes_find_many(const int64 *ids, int count, bool latest,
								   void (*found) (void *context, int index,
												  const AxsOutcome *outcome),
								   void *context);

#endif							/* AXS_OUTCOME_STORE_H */
