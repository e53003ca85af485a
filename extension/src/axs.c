/*
 * axs.c
 *		Module entry point: configuration parameters (GUCs) and registration
 *		of the applier background worker when loaded at server start.
 *
 * Everything else lives in its own module: the ledger core (ledger.c,
 * event.c, event_json.c), the SQL API (sql_api.c), balance and event-log
 * storage (event_store.c, batch_store.c, outcome_store.c), the inbox
 * (inbox.c) and the applier (applier.c).
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "axs_pg.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

char	   *axs_database = NULL;
int			axs_applier_batch_size = 100000;
int			axs_applier_max_delay_ms = 100;
bool		axs_applier_enabled = true;

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

	MarkGUCPrefixReserved("axs");

	if (process_shared_preload_libraries_in_progress)
		axs_applier_register_static();
}

Oid
axs_table_oid(const char *name)
{
	Oid			namespace = get_namespace_oid("axs", false);
	Oid			relid = get_relname_relid(name, namespace);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table axs.%s does not exist", name),
				 errhint("Reinstall the axs extension.")));
	return relid;
}
