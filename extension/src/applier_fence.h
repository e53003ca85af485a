/*
 * applier_fence.h
 *		The applier fence: the session advisory lock that makes one applier
 *		per database the only one that acts, and the epoch in
 *		axs.applier_state that every batch's commit is checked against.
 */
#ifndef AXS_APPLIER_FENCE_H
#define AXS_APPLIER_FENCE_H

/* GUC axs.applier_fence_timeout_ms */
extern int	axs_applier_fence_timeout_ms;

/*
 * Try to take the fence.  On success bump the epoch, publish this process
 * as the fence holder, set *epoch and *watermark and return true.
 */
extern bool axs_fence_take(int64 *epoch, int64 *watermark);

/* Give the fence up: this process is a standby again. */
extern void axs_fence_release(void);

/* Whether this process holds the fence lock. */
extern bool axs_fence_held(void);

/* Whether axs.applier_state still carries this epoch (a transaction of its own). */
extern bool axs_fence_epoch_current(int64 epoch);

/*
 * A standby that found the fence taken: report, then end, a session that
 * holds it without being an applier.
 */
extern void axs_fence_watch_intruder(void);

#endif							/* AXS_APPLIER_FENCE_H */
