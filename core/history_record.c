/*
 * history_record.c
 *		The history entries of an applied event, from the ledger core's
 *		changes (see history_block.h): the bridge between applying an event
 *		(ledger.c) and packing a unit's entries into blocks (history_block.c).
 *
 * Pure C: no PostgreSQL headers.
 */
#include "history_block.h"

int
axs_history_record(int64_t event_id, uint8_t kind, int32_t ordinal,
				   const AxsAppliedChange *changes, int nchanges, AxsHistoryEntry *history)
{
	int			count = 0;

	for (int i = 0; i < nchanges; i++)
	{
		AxsBalance *balance = changes[i].balance;
		AxsHistoryEntry *entry;

		if (changes[i].available_delta == 0 && changes[i].frozen_delta == 0)
			continue;
		entry = &history[count++];
		entry->account = balance->account;
		entry->currency = balance->currency;
		entry->seqno = ++balance->history_seqno;
		entry->event_id = event_id;
		entry->kind = kind;
		entry->ordinal = ordinal;
		entry->available_delta = changes[i].available_delta;
		entry->frozen_delta = changes[i].frozen_delta;
		entry->available = balance->available;
		entry->frozen = balance->frozen;
		entry->previous_block = balance->history_block;
	}
	return count;
}
