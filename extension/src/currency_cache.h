/*
 * currency_cache.h
 *		Backend-local cache of currency codes and their registered ids.
 */
#ifndef AXS_CURRENCY_CACHE_H
#define AXS_CURRENCY_CACHE_H

/* AxsCurrencyResolver for the ledger core: code -> registered id, -1 if unknown.  Needs SPI. */
extern int32 axs_currency_resolve(void *context, const char *code);

#endif							/* AXS_CURRENCY_CACHE_H */
