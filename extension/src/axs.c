/*
 * axs.c
 *		Module entry point (_PG_init): the configuration parameters (GUCs),
 *		the shared-memory hooks, the log hook, and the registration of the
 *		applier background worker when loaded at server start.
 *
 * It wires the modules in and does nothing else: each GUC's variable lives
 * in the module that uses it, and every behaviour in a module of its own;
 * docs/design/extension-modules.md lists them and the order in which they
 * depend on each other.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "applier.h"
#include "applier_batch.h"
#include "applier_fence.h"
#include "applier_guard.h"
#include "applier_status.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static shmem_request_hook_type previous_shmem_request_hook = NULL;
static shmem_startup_hook_type previous_shmem_startup_hook = NULL;

/* Reserve the shared memory of the applier's status and guard. */
static void
axs_shmem_request(void)
{
	if (previous_shmem_request_hook)
		previous_shmem_request_hook();
	RequestAddinShmemSpace(axs_applier_shmem_size() + axs_guard_shmem_size());
}

/* Create it in the postmaster, so that every backend finds it attached. */
static void
axs_shmem_startup(void)
{
	if (previous_shmem_startup_hook)
		previous_shmem_startup_hook();
	axs_applier_shmem_startup();
	axs_guard_shmem_startup();
}

/* Define the GUCs and, at server start, register the applier. */
void
_PG_init(void)
{
	DefineCustomStringVariable("axs.database",
							   "Database in which the axs applier runs.",
							   "The extension must be created in this database; the preloaded applier reads it when it starts.",
							   &axs_database,
							   "postgres",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("axs.applier_batch_size",
							"Most inbox events the applier applies in one transaction.",
							NULL,
							&axs_applier_batch_size,
							100000, 1, 1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("axs.applier_max_delay_ms",
							"Longest time the applier sleeps before looking at the inbox again.",
							"The applier is also woken at once when a transaction that queued events commits.",
							&axs_applier_max_delay_ms,
							100, 1, 60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("axs.applier_enabled",
							 "Whether the applier applies queued events.",
							 "When off, a running applier releases its fence and idles.",
							 &axs_applier_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("axs.applier_fence_timeout_ms",
							"How long a session that is not an applier may hold the applier fence.",
							"A standby applier reports such a session at once and terminates it after this time.",
							&axs_applier_fence_timeout_ms,
							5000, 100, 3600000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("axs.applier_block_timeout_ms",
							"How long a session may keep an applier batch from taking its lock on axs.balances.",
							"Past this time the applier cancels the session's statement, or terminates the session if it is idle in a transaction.",
							&axs_applier_block_timeout_ms,
							5000, 100, 3600000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("axs");

	axs_guard_install_log_hook();
	if (process_shared_preload_libraries_in_progress)
	{
		previous_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = axs_shmem_request;
		previous_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = axs_shmem_startup;
		axs_applier_register_static();
	}
}
