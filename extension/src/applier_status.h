/*
 * applier_status.h
 *		What the appliers publish in shared memory, one slot per database:
 *		who holds the fence, the watermark, the counters of axs.applier_stats,
 *		who blocks the next batch; the applier's latch, to wake it, and a
 *		condition variable broadcast after every batch, to wait for it.
 */
#ifndef AXS_APPLIER_STATUS_H
#define AXS_APPLIER_STATUS_H

#include "datatype/timestamp.h"

/* What a batch decided, for the published counters. */
typedef struct AxsBatchCounts
{
	int			applied;
	int			rejected;
	int			duplicates;
	int			settlements_short_frozen;
} AxsBatchCounts;

/* The shared memory itself (axs.c's hooks; any backend attaches on first use). */
extern Size axs_applier_shmem_size(void);
extern void axs_applier_shmem_startup(void);
extern void axs_applier_shmem_attach(void);

/*
 * An applier process: take this database's slot as a standby (ERROR if
 * every slot is taken by other databases) and clear what it published
 * when it exits.
 */
extern void axs_status_join(void);

/* An applier process: publish what the fence and the batches did. */
extern void axs_status_took_fence(int64 epoch, int64 watermark);
extern void axs_status_released_fence(void);
extern bool axs_status_has_holder(void);
extern void axs_status_publish_intruder(int pid, TimestampTz since);
extern void axs_status_publish_blocker(int pid, TimestampTz since);
extern void axs_status_publish_batch(int64 watermark, int size, const AxsBatchCounts *counts,
									 TimestampTz started);

/* Any backend: wake the applier of this database when the current transaction commits. */
extern void axs_applier_wake_at_commit(void);

/* Any backend (attached): the watermark the fence holder published, -1 if none. */
extern int64 axs_status_published_watermark(void);

/* Any backend (attached): sleep until a batch commits, at most timeout_ms. */
extern void axs_status_sleep_for_progress(long timeout_ms);

/*
 * Any backend (attached): get ready to sleep for progress before checking
 * for it (so that a batch committing in between is not missed), and stop
 * waiting afterwards.
 */
extern void axs_status_prepare_for_progress(void);
extern void axs_status_end_progress_wait(void);

/* Applier: wake the sessions waiting for progress (a commit that was no batch). */
extern void axs_status_publish_progress(void);

#endif							/* AXS_APPLIER_STATUS_H */
