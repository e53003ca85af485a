/*
 * currency_cache.c
 *		Backend-local cache mapping currency codes to registered ids.
 *
 * Codes are looked up in axs.currencies on first use and cached for the life
 * of the backend.  Currencies are never removed, so a cached id stays right;
 * the cache is dropped when a transaction aborts, because it may hold a
 * currency created by that transaction.  Unknown codes are not cached, so a
 * currency registered later is found.  Callers must be connected to SPI.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "axs_pg.h"

typedef struct CurrencyEntry
{
	char		code[AXS_CURRENCY_CODE_MAX + 1];	/* hash key */
	int32		id;
} CurrencyEntry;

static HTAB *currency_cache = NULL;
static SPIPlanPtr currency_lookup_plan = NULL;
static bool abort_callback_registered = false;

/* Forget cached ids when a transaction aborts. */
static void
currency_cache_on_xact(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT && currency_cache != NULL)
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
	currency_cache = hash_create("axs currency cache", 64, &ctl,
								 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	if (!abort_callback_registered)
	{
		RegisterXactCallback(currency_cache_on_xact, NULL);
		abort_callback_registered = true;
	}
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

		currency_lookup_plan = axs_prepare_kept("SELECT id FROM axs.currencies WHERE code = $1",
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
