/*
 * applier_dedupe.h
 *		Which events of an applier batch repeat an id: within the batch, or
 *		among the events already decided.
 */
#ifndef AXS_APPLIER_DEDUPE_H
#define AXS_APPLIER_DEDUPE_H

#include "utils/palloc.h"

#include "applier_queued.h"

/* The first event of the batch with each id. */
typedef struct batch_ids_hash AxsFirstById;

/* Prepare the lookups' plans (once per process; the caller is connected to SPI). */
extern void axs_dedupe_prepare_plans(void);

/*
 * Within the batch: mark each event with the id of an earlier one a
 * duplicate or a reuse of the id.  Dead letters use up no id.  Returns the
 * first event by id, allocated in context.
 */
extern AxsFirstById *axs_dedupe_within_batch(QueuedEvent *events, int count, MemoryContext context);

/*
 * Against the decided events: mark each pending event whose id is already
 * decided a duplicate or a reuse of the id.  The caller holds the lock that
 * keeps the synchronous API out.
 */
extern void axs_dedupe_against_decided(QueuedEvent *events, int count, AxsFirstById *first_by_id);

#endif							/* AXS_APPLIER_DEDUPE_H */
