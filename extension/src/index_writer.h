/*
 * index_writer.h
 *		Index entries for rows the applier writes with heap calls: every
 *		index of the table, maintained as the executor would (expressions,
 *		partial-index predicates, uniqueness), so that an index a DBA adds
 *		stays correct.
 */
#ifndef AXS_INDEX_WRITER_H
#define AXS_INDEX_WRITER_H

#include "executor/tuptable.h"
#include "utils/relcache.h"

typedef struct AxsIndexWriter AxsIndexWriter;

/*
 * Open every index of heap but skip_index (InvalidOid: none), for one
 * batch.  skip_index is an index the caller knows covers none of its rows.
 */
extern AxsIndexWriter *axs_index_writer_open(Relation heap, Oid skip_index);

/* Add the entries of the heap row in slot, stored at slot->tts_tid. */
extern void axs_index_writer_insert(AxsIndexWriter *writer, TupleTableSlot *slot);

/* Hand the indexes' growth to the kernel's writeback and close them. */
extern void axs_index_writer_close(AxsIndexWriter *writer);

#endif							/* AXS_INDEX_WRITER_H */
