/*
 * event_store.h
 *		Balances and the event log through SPI, for the synchronous SQL API.
 *		All callers must be connected to SPI.
 */
#ifndef AXS_EVENT_STORE_H
#define AXS_EVENT_STORE_H

#include "datatype/timestamp.h"

#include "ledger.h"

/*
 * Lock the balance rows of every key in map, in key order, inserting the
 * missing ones as zero rows first; load their values into the map and set
 * existed for rows that were there before this call.
 */
extern void axs_store_lock_balances(AxsBalanceMap *map);

/*
 * Write every changed balance of map with one UPDATE, and remove rows that
 * axs_store_lock_balances created but no applied event touched.
 */
extern void axs_store_write_balances(AxsBalanceMap *map);

/* Keep the applier out until this transaction ends. */
extern void axs_store_exclude_applier(void);

/*
 * Look an event id up among the decided events; false if unknown, else
 * *payload (palloc'd), *reason_code and, if decided_at is not NULL, when it
 * was decided.  latest: with the latest snapshot.
 */
extern bool axs_store_find_event(int64 id, bool latest, bytea **payload, int16 *reason_code,
								 TimestampTz *decided_at);

/*
 * The order of a synchronous decision among the others (event_log.sync_order):
 * the next value of axs.history_block_seq, taken after the balances' row
 * locks; also the locator of the call's history block.
 */
extern int64 axs_store_next_sync_order(void);

/*
 * Record a synchronously decided event with its sync_order.  Returns false,
 * recording nothing, if the id is already in the log (possibly just
 * committed by a concurrent transaction, whose commit this waits for).
 */
extern bool axs_store_record_event(int64 id, const uint8 *payload, size_t payload_length,
								   AxsReason reason, TimestampTz decided_at, int64 sync_order);

#endif							/* AXS_EVENT_STORE_H */
