/*
 * inbox_reader.h
 *		The applier's read of the next queued rows after its watermark.
 */
#ifndef AXS_INBOX_READER_H
#define AXS_INBOX_READER_H

#include "executor/spi.h"

/* Rows of one read, in position order (SPI tuple tables, valid until SPI_finish). */
typedef struct AxsInboxRows
{
	SPITupleTable *rows;
	uint64		count;
} AxsInboxRows;

/*
 * Read up to limit rows after the watermark, in position order, into at
 * most 2 parts; returns the number of parts.  whole_inbox_plan reads the
 * parent table ("position > $1 ORDER BY position LIMIT $2"), used only when
 * the next two segments are empty.  Columns: position, event_id, payload,
 * queued_at, source_topic, source_partition, source_offset.
 */
extern int	axs_inbox_read(int64 watermark, int limit, SPIPlanPtr whole_inbox_plan,
						   AxsInboxRows *parts);

#endif							/* AXS_INBOX_READER_H */
