/*
 * applier_guard.h
 *		What the applier does about sessions that stand in its way: a
 *		session that holds the fence without being an applier, and a
 *		session whose lock on axs.balances keeps a batch from starting.
 */
#ifndef AXS_APPLIER_GUARD_H
#define AXS_APPLIER_GUARD_H

#include "datatype/timestamp.h"

/* GUC axs.applier_block_timeout_ms */
extern int	axs_applier_block_timeout_ms;

/* Told, while the applier waits, which session blocks it (0: none any more). */
typedef void (*AxsBlockerReport) (int pid, TimestampTz since);

/* Shared memory for the notes sessions ended by the applier read at exit. */
extern Size axs_guard_shmem_size(void);
extern void axs_guard_shmem_attach(void);
extern void axs_guard_shmem_startup(void);

/* In every backend: add the applier's reason to the error it ended a session with. */
extern void axs_guard_install_log_hook(void);

/*
 * Take axs.balances in EXCLUSIVE mode for the batch, in short timed tries
 * so that no session queues behind the applier for long; sessions that
 * block it for longer than axs.applier_block_timeout_ms are cancelled, or
 * terminated when idle in a transaction.  Needs a transaction and SPI.
 */
extern void axs_guard_lock_balances(Oid balances, AxsBlockerReport report);

/*
 * The pid of a session that holds the applier fence (the advisory lock on
 * tag) without being an axs applier, 0 if none.  Needs a transaction and
 * SPI.
 */
extern int	axs_guard_fence_intruder(int64 lock_namespace, int64 lock_key, char **role);

/* End session pid (terminate, else cancel its statement), with reason for it and the log. */
extern void axs_guard_end_session(int pid, bool terminate, const char *reason);

#endif							/* AXS_APPLIER_GUARD_H */
