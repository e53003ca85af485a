/*
 * account_rules.c
 *		Backend-local caches of the credit lines (axs.credit_lines) and the
 *		suspended accounts (axs.account_states), and the loader's step that
 *		puts them on the balances the ledger core decides with: every
 *		balance's credit and its account's suspension.  The rules themselves
 *		(what a credit line allows, what a suspension blocks) are the core's
 *		(ledger.c), the same for the applier and the synchronous API.
 *
 * The caches follow the tables as currency_cache.c follows axs.currencies:
 * a statement trigger on each queues a relcache invalidation of the table,
 * and both caches are dropped when it is processed, which happens when a
 * caller locks axs.balances after the change committed.  Both tables are
 * small (a row per account with a credit line or a status change), so a
 * cache is the whole table, loaded at its first use.  With neither a
 * credit line nor a suspended account, no balance is touched.
 *
 * It never writes the tables (the SQL functions do: set_credit_limit,
 * suspend_account, resume_account).
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#include "account_rules.h"
#include "pg_util.h"

typedef struct CreditKey
{
	int64		account;
	int32		currency;
} CreditKey;

typedef struct CreditEntry
{
	CreditKey	key;
	int64		credit;
} CreditEntry;

static HTAB *credit_lines = NULL;		/* CreditEntry by (account, currency) */
static HTAB *suspended_accounts = NULL; /* int64 account */
static bool rules_loaded = false;
static Oid	credit_lines_relid = InvalidOid;
static Oid	account_states_relid = InvalidOid;
static bool invalidation_callback_registered = false;

static void
rules_forget(void)
{
	if (credit_lines != NULL)
		hash_destroy(credit_lines);
	if (suspended_accounts != NULL)
		hash_destroy(suspended_accounts);
	credit_lines = NULL;
	suspended_accounts = NULL;
	rules_loaded = false;
}

/* Relcache invalidation of either table (or of everything): forget both. */
static void
rules_invalidate(Datum argument, Oid relid)
{
	if (rules_loaded &&
		(relid == InvalidOid || relid == credit_lines_relid || relid == account_states_relid))
		rules_forget();
}

static HTAB *
rules_hash(const char *name, Size keysize, Size entrysize, long rows)
{
	HASHCTL		ctl;

	ctl.keysize = keysize;
	ctl.entrysize = entrysize;
	ctl.hcxt = TopMemoryContext;
	return hash_create(name, Max(rows, 16), &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * Run a query of the rules with a snapshot of its own (read_only false), not
 * the caller's: the applier's batch took its snapshot before it waited for
 * axs.balances, and a change committed meanwhile must be seen.  ERROR if it
 * fails.
 */
static void
rules_query(const char *query)
{
	int			ret = SPI_execute(query, false, 0);

	if (ret != SPI_OK_SELECT)
		elog(ERROR, "\"%s\" failed: %s", query, SPI_result_code_string(ret));
}

static void
rules_load(void)
{
	bool		isnull;

	if (!invalidation_callback_registered)
	{
		CacheRegisterRelcacheCallback(rules_invalidate, (Datum) 0);
		invalidation_callback_registered = true;
	}
	credit_lines_relid = axs_table_oid("credit_lines");
	account_states_relid = axs_table_oid("account_states");

	rules_query("SELECT account, currency, credit FROM axs.credit_lines "
				"WHERE credit OPERATOR(pg_catalog.<>) 0");
	credit_lines = rules_hash("axs credit lines", sizeof(CreditKey), sizeof(CreditEntry),
							  (long) SPI_processed);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	columns = SPI_tuptable->tupdesc;
		CreditKey	key;
		CreditEntry *entry;

		memset(&key, 0, sizeof(key));
		key.account = DatumGetInt64(SPI_getbinval(row, columns, 1, &isnull));
		key.currency = DatumGetInt32(SPI_getbinval(row, columns, 2, &isnull));
		entry = hash_search(credit_lines, &key, HASH_ENTER, NULL);
		entry->credit = DatumGetInt64(SPI_getbinval(row, columns, 3, &isnull));
	}

	rules_query("SELECT account FROM axs.account_states WHERE status OPERATOR(pg_catalog.=) 'suspended'");
	suspended_accounts = rules_hash("axs suspended accounts", sizeof(int64), sizeof(int64),
									(long) SPI_processed);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		int64		account = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
														  1, &isnull));

		(void) hash_search(suspended_accounts, &account, HASH_ENTER, NULL);
	}
	rules_loaded = true;
}

void
axs_account_rules_apply_to(AxsBalanceMap *map)
{
	bool		any_credit;
	bool		any_suspended;
	size_t		cursor = 0;
	AxsBalance *balance;

	/* a change committed since this backend last looked: drop the caches now */
	AcceptInvalidationMessages();
	if (!rules_loaded)
		rules_load();
	any_credit = hash_get_num_entries(credit_lines) > 0;
	any_suspended = hash_get_num_entries(suspended_accounts) > 0;
	if (!any_credit && !any_suspended)
		return;					/* the map's entries start with neither */
	while ((balance = axs_balance_map_next(map, &cursor)) != NULL)
	{
		balance->credit = 0;
		balance->suspended = false;
		if (any_credit)
		{
			CreditKey	key;
			CreditEntry *entry;

			memset(&key, 0, sizeof(key));
			key.account = balance->account;
			key.currency = balance->currency;
			entry = hash_search(credit_lines, &key, HASH_FIND, NULL);
			if (entry != NULL)
				balance->credit = entry->credit;
		}
		if (any_suspended)
			balance->suspended = hash_search(suspended_accounts, &balance->account, HASH_FIND, NULL) != NULL;
	}
}
