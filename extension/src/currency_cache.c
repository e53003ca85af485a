/*
 * currency_cache.c
 *		Backend-local cache mapping currency codes to registered ids.
 *
 * Codes are looked up in axs.currencies on first use and cached.  The cache
 * follows the table the way PostgreSQL's own caches follow the catalogs: a
 * statement trigger on axs.currencies (axs_cache_invalidate, pg_util.c)
 * queues a relcache invalidation of the table, and this module drops the whole cache when that invalidation is
 * processed: in this backend at the next command, and again when the
 * (sub)transaction that changed the table rolls back or is prepared; in
 * every other backend once the change commits.  Unknown codes are not
 * cached, so a currency registered later is found.
 *
 * The lookup runs with schema-qualified names and pg_catalog's operator
 * whatever the caller's search_path, so no caller can make it cache a wrong
 * id.  Callers must be connected to SPI.  It never writes axs.currencies.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#include "currency_cache.h"
#include "event.h"
#include "pg_util.h"

typedef struct CurrencyEntry
{
	char		code[AXS_CURRENCY_CODE_MAX + 1];	/* hash key */
	int32		id;
} CurrencyEntry;

static HTAB *currency_cache = NULL;
static Oid	currencies_relid = InvalidOid;
static SPIPlanPtr currency_lookup_plan = NULL;
static bool invalidation_callback_registered = false;

/* Relcache invalidation of axs.currencies (or of everything): forget every id. */
static void
currency_cache_invalidate(Datum argument, Oid relid)
{
	if (currency_cache != NULL && (relid == InvalidOid || relid == currencies_relid))
	{
		hash_destroy(currency_cache);
		currency_cache = NULL;
	}
}

static void
currency_cache_create(void)
{
	HASHCTL		ctl;

	ctl.keysize = AXS_CURRENCY_CODE_MAX + 1;
	ctl.entrysize = sizeof(CurrencyEntry);
	ctl.hcxt = TopMemoryContext;
	if (!invalidation_callback_registered)
	{
		CacheRegisterRelcacheCallback(currency_cache_invalidate, (Datum) 0);
		invalidation_callback_registered = true;
	}
	currencies_relid = axs_table_oid("currencies");
	currency_cache = hash_create("axs currency cache", 64, &ctl,
								 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/* Look the code up in axs.currencies; -1 if not registered. */
static int32
currency_lookup(const char *code)
{
	Datum		argument = CStringGetTextDatum(code);
	bool		isnull;
	Datum		id;
	int			ret;

	if (currency_lookup_plan == NULL)
	{
		Oid			argtype = TEXTOID;

		currency_lookup_plan = axs_prepare_kept("SELECT id FROM axs.currencies WHERE code OPERATOR(pg_catalog.=) $1",
												1, &argtype);
	}
	ret = SPI_execute_plan(currency_lookup_plan, &argument, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "currency lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return -1;
	id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return DatumGetInt32(id);
}

/* AxsCurrencyResolver for the ledger core. */
int32
axs_currency_resolve(void *context, const char *code)
{
	CurrencyEntry *entry;
	bool		found;
	int32		id;

	if (currency_cache == NULL)
		currency_cache_create();
	entry = hash_search(currency_cache, code, HASH_FIND, NULL);
	if (entry != NULL)
		return entry->id;
	id = currency_lookup(code);
	if (id < 0)
		return -1;
	entry = hash_search(currency_cache, code, HASH_ENTER, &found);
	entry->id = id;
	return id;
}
