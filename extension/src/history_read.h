/*
 * history_read.h
 *		Reading per-account history: a key's chain of entries walked back
 *		from its head or from a mark, and the seeks built on it (by
 *		position, by time, by event).  Callers are connected to SPI.
 */
#ifndef AXS_HISTORY_READ_H
#define AXS_HISTORY_READ_H

#include "datatype/timestamp.h"

#include "history_block.h"

/* An entry and what its block row says of it. */
typedef struct AxsHistoryRow
{
	AxsHistoryEntry entry;
	TimestampTz decided_at;
	int64		unit;			/* orders decision units */
} AxsHistoryRow;

/* A key, and where its latest entry is (seqno 0: no history). */
typedef struct AxsHistoryKeyHead
{
	int64		account;
	int32		currency;
	int64		seqno;
	int64		block;
} AxsHistoryKeyHead;

typedef struct AxsHistoryReader AxsHistoryReader;

/* Open axs.history_blocks for reading with the active snapshot. */
extern AxsHistoryReader *axs_history_reader_open(void);
extern void axs_history_reader_close(AxsHistoryReader *reader);

/* The key's head, from axs.balances (seqno 0 if it has none). */
extern AxsHistoryKeyHead axs_history_head(int64 account, int32 currency);

/*
 * Up to max_rows entries of the key from seqno from on, oldest first, into
 * rows (room for max_rows); returns how many.
 */
extern int	axs_history_collect(AxsHistoryReader *reader, const AxsHistoryKeyHead *head,
								int64 from, int max_rows, AxsHistoryRow *rows);

/*
 * The seqno of the key's first entry decided at or after at (after at if
 * strict), head->seqno + 1 if none; *before gets the entry before it, if
 * any (*has_before).
 */
extern int64 axs_history_seek_time(AxsHistoryReader *reader, const AxsHistoryKeyHead *head,
								   TimestampTz at, bool strict,
								   AxsHistoryRow *before, bool *has_before);

/*
 * The key's entry of event_id, which was decided at decided_at; false if
 * the event did not change the key.
 */
extern bool axs_history_find_event(AxsHistoryReader *reader, const AxsHistoryKeyHead *head,
								   TimestampTz decided_at, int64 event_id, AxsHistoryRow *row);

/* Visit every entry of the key, newest first, until visit returns false. */
typedef bool (*AxsHistoryVisit) (void *context, const AxsHistoryRow *row);
extern void axs_history_walk_back(AxsHistoryReader *reader, const AxsHistoryKeyHead *head,
								  int64 seqno, int64 block,
								  AxsHistoryVisit visit, void *context);

/* Raise the error for a block that does not decode. */
extern void axs_history_report_damage(int64 block) pg_attribute_noreturn();

#endif							/* AXS_HISTORY_READ_H */
