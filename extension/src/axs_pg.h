/*
 * axs_pg.h
 *		Declarations shared by the PostgreSQL-side modules of axs (GUCs,
 *		currency cache, balance and event-log storage, applier).
 *
 * Only for files that include postgres.h; the pure ledger core uses
 * event.h and ledger.h alone.
 */
#ifndef AXS_PG_H
#define AXS_PG_H

#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "utils/palloc.h"
#include "utils/relcache.h"

#include "event.h"
#include "pg_util.h"
#include "ledger.h"

/* GUCs (axs.c) */
extern char *axs_database;
extern int	axs_applier_batch_size;
extern int	axs_applier_max_delay_ms;
extern bool axs_applier_enabled;

/* currency_cache.c: code -> registered id, -1 if unknown */
extern int32 axs_currency_resolve(void *context, const char *code);

/* event_store.c: balances and the event log, through SPI */
extern void axs_store_lock_balances(AxsBalanceMap *map);
extern void axs_store_write_balances(AxsBalanceMap *map);
extern void axs_store_exclude_applier(void);
extern bool axs_store_find_event(int64 id, bool latest, bytea **payload, int16 *reason_code);
extern bool axs_store_record_event(int64 id, const uint8 *payload, size_t payload_length,
								   AxsReason reason);
extern void axs_report_decode_error(const AxsDecodeError *error);
extern bytea *axs_encode_event_bytea(const AxsEvent *event);

/*
 * batch_store.c: the applier's direct heap and index access.  A balance of
 * the batch: its key (copied, so sorting touches no entry), its entry in the
 * batch's map and its remembered location (stable until the next load).
 */
typedef struct AxsBatchBalance
{
	int64		account;
	int32		currency;
	AxsBalance *entry;
	AxsBalance *hint;
} AxsBatchBalance;

extern AxsBatchBalance *axs_batch_load_balances(AxsBalanceMap *map, size_t *count);
extern void axs_batch_write_balances(AxsBatchBalance *balances, size_t count);
extern void axs_batch_record_outcomes(int count, const int64 *ids, bytea *const *payloads,
									  const int16 *reasons, const int64 *positions,
									  const TimestampTz *queued_at, TimestampTz recorded_at);

/*
 * writeback.c: hand the blocks rel has grown by since the last call to the
 * kernel's writeback, so that they do not reach the disk in one burst
 */
extern void axs_writeback_growth(Relation rel);

/*
 * outcome_store.c: axs.outcome_blocks, the applier's outcomes by id.  The
 * AxsOutcome type is in outcome_block.h; found() gets the index in ids.
 */
struct AxsOutcome;
extern void axs_outcomes_append(int count, const struct AxsOutcome *outcomes);
extern bool axs_outcomes_find(int64 id, bool latest, bytea **payload, int16 *reason_code);
extern void axs_outcomes_find_many(const int64 *ids, int count, bool latest,
								   void (*found) (void *context, int index,
												  const struct AxsOutcome *outcome),
								   void *context);

/*
 * inbox.c: the inbox's segments (LIST partitions on (position >> 18) & 63,
 * each with a BRIN index on position, see the install script).
 * axs_inbox_read reads up to limit rows after the watermark, in position
 * order, into at most 2 parts (SPI tuple tables, valid until SPI_finish),
 * summarizing the segments' complete block ranges first; whole_inbox_plan
 * reads the parent table
 * ("position > $1 ORDER BY position LIMIT $2") when the next two segments
 * are empty.
 */
#define AXS_INBOX_SEGMENT_BITS 18
#define AXS_INBOX_SEGMENTS 64

typedef struct AxsInboxRows
{
	SPITupleTable *rows;
	uint64		count;
} AxsInboxRows;

static inline int
axs_inbox_segment(int64 position)
{
	return (int) ((position >> AXS_INBOX_SEGMENT_BITS) & (AXS_INBOX_SEGMENTS - 1));
}

extern int	axs_inbox_read(int64 watermark, int limit, SPIPlanPtr whole_inbox_plan, AxsInboxRows *parts);
extern void axs_inbox_truncate_applied(int64 watermark, int64 previous_watermark);
extern int64 axs_inbox_positions_issued(void);
extern bool axs_inbox_start_janitor(int64 watermark, int64 previous_watermark);

/* applier.c */
extern void axs_applier_register_static(void);
extern Size axs_applier_shmem_size(void);
extern void axs_applier_shmem_attach(void);
extern void axs_applier_shmem_startup(void);
extern void axs_applier_wake_at_commit(void);

#endif							/* AXS_PG_H */
