/*
 * batch_store.h
 *		The applier's direct heap and index access to axs.balances and
 *		axs.event_log.
 */
#ifndef AXS_BATCH_STORE_H
#define AXS_BATCH_STORE_H

#include "datatype/timestamp.h"

#include "ledger.h"

/*
 * A balance of the batch: its key (copied, so sorting touches no entry), its
 * entry in the batch's map and its remembered location (stable until the
 * next load).
 */
typedef struct AxsBatchBalance
{
	int64		account;
	int32		currency;
	AxsBalance *entry;
	AxsBalance *hint;
} AxsBatchBalance;

/*
 * Take axs.balances in EXCLUSIVE mode for the rest of the transaction and
 * load the balance of every key in map.  Returns the balances in key order
 * (*count of them), for axs_batch_write_balances.
 */
extern AxsBatchBalance *axs_batch_load_balances(AxsBalanceMap *map, size_t *count);

/* Write every changed balance: update the rows that exist, insert the new ones. */
extern void axs_batch_write_balances(AxsBatchBalance *balances, size_t count);

/* Insert count decided events, sorted by id, into axs.event_log and axs.outcome_blocks. */
extern void axs_batch_record_outcomes(int count, const int64 *ids, bytea *const *payloads,
									  const int16 *reasons, const int64 *positions,
									  const TimestampTz *queued_at, TimestampTz recorded_at);

#endif							/* AXS_BATCH_STORE_H */
