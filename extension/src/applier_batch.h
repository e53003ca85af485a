/*
 * applier_batch.h
 *		One applier batch, in one transaction of its own.
 */
#ifndef AXS_APPLIER_BATCH_H
#define AXS_APPLIER_BATCH_H

#include "utils/palloc.h"

/* GUC axs.applier_batch_size */
extern int	axs_applier_batch_size;

/*
 * Apply the next batch after *watermark under this epoch of the fence.
 * Returns the number of inbox rows consumed (0 when the inbox is drained);
 * *watermark moves on commit.  Allocates in batch_context and resets it.
 * Raises an error, the transaction left to the caller to abort, when the
 * fence was lost or the epoch superseded.
 */
extern int	axs_batch_apply(int64 epoch, int64 *watermark, MemoryContext batch_context);

#endif							/* AXS_APPLIER_BATCH_H */
