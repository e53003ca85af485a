/*
 * ledger.h
 *		The ledger core: the single place where balance rules live.
 *
 * An event is expanded into legs (signed deltas of available and frozen for
 * one account and currency), and the legs are applied to balances all or
 * none.  The checks run on each balance's net change over all legs of the
 * event: unknown_currency, then overflow (a balance or its net change
 * beyond int64), then account_suspended (the
 * event lowers the total, available + frozen, of a suspended account in a
 * currency), then insufficient_available (it lowers available and leaves
 * it below -credit, the balance's credit line, 0 by default), then
 * insufficient_frozen (it leaves frozen below 0).
 *
 * Pure C: no PostgreSQL headers.  The caller loads balances into an
 * AxsBalanceMap (from SQL rows, or from nothing in tests), applies events,
 * and writes the changed entries back.
 */
#ifndef AXS_LEDGER_H
#define AXS_LEDGER_H

#include "event.h"

/* Most legs one event expands to (a trade gives at most 6). */
#define AXS_MAX_LEGS AXS_MAX_RAW_LEGS

typedef enum AxsReason
{
	AXS_REASON_NONE = 0,		/* applied */
	AXS_REASON_INSUFFICIENT_AVAILABLE = 1,
	AXS_REASON_INSUFFICIENT_FROZEN = 2,
	AXS_REASON_UNKNOWN_CURRENCY = 3,
	AXS_REASON_OVERFLOW = 4,
	AXS_REASON_ID_REUSED = 5,
	AXS_REASON_INVALID_PAYLOAD = 6,	/* applier only: an inbox payload that does not decode */
	AXS_REASON_ACCOUNT_SUSPENDED = 7
} AxsReason;

/* "insufficient_available", ...; NULL for AXS_REASON_NONE */
extern const char *axs_reason_name(AxsReason reason);

/* One signed change to one balance. */
typedef struct AxsLeg
{
	int64_t		account;
	int32_t		currency;		/* registered currency id */
	int64_t		available;		/* delta */
	int64_t		frozen;			/* delta */
} AxsLeg;

/*
 * Maps a currency code to its registered id; returns a negative number for
 * an unknown code.
 */
typedef int32_t (*AxsCurrencyResolver) (void *context, const char *code);

/*
 * Expand a valid event into legs (at most AXS_MAX_LEGS).  Legs may touch the
 * same balance more than once (for example a trade whose buyer is also the
 * fee account).  Returns AXS_REASON_UNKNOWN_CURRENCY if a code does not
 * resolve, else AXS_REASON_NONE with *nlegs set.
 */
extern AxsReason axs_event_expand(const AxsEvent *event,
								  AxsCurrencyResolver resolve, void *context,
								  AxsLeg *legs, int *nlegs);

/* Allocation hooks, so the core can live in a PostgreSQL memory context. */
typedef struct AxsAllocator
{
	void	   *(*allocate) (void *context, size_t size);	/* zeroed memory, never NULL */
	void		(*release) (void *context, void *pointer);
	void	   *context;
} AxsAllocator;

/* malloc/calloc/free based allocator for programs and tests */
extern const AxsAllocator axs_default_allocator;

typedef struct AxsBalance
{
	int64_t		account;
	int32_t		currency;
	int64_t		available;
	int64_t		frozen;
	int64_t		credit;			/* credit line: available may go down to -credit (set by the loader) */
	bool		suspended;		/* the account is suspended (set by the loader) */
	int64_t		history_seqno;	/* entries of this balance's history so far (set by the loader) */
	int64_t		history_block;	/* locator of the history block with its latest entry, 0 if none */
	bool		existed;		/* row exists in storage (set by the loader) */
	bool		changed;		/* modified by an applied event */
	uint64_t	location;		/* where the loader found the row; opaque to the core */
} AxsBalance;

/* Open-addressing hash map of balances keyed by (account, currency). */
typedef struct AxsBalanceMap AxsBalanceMap;

extern AxsBalanceMap *axs_balance_map_create(const AxsAllocator *allocator,
											 size_t expected_entries);
extern void axs_balance_map_destroy(AxsBalanceMap *map);
extern void axs_balance_map_clear(AxsBalanceMap *map);
extern size_t axs_balance_map_count(const AxsBalanceMap *map);

/* The entry for a key, or NULL */
extern AxsBalance *axs_balance_map_find(AxsBalanceMap *map, int64_t account,
										int32_t currency);

/*
 * The entry for a key, inserted as a zero balance (existed = false,
 * changed = false) if absent.  Pointers stay valid until the next insert.
 */
extern AxsBalance *axs_balance_map_get(AxsBalanceMap *map, int64_t account,
									   int32_t currency);

/*
 * Make room for additional more keys: until then, inserts move no entry, so
 * pointers returned by axs_balance_map_get stay valid.
 */
extern void axs_balance_map_reserve(AxsBalanceMap *map, size_t additional);

/* qsort comparator for an array of AxsBalance pointers: (account, currency) order */
extern int	axs_balance_pointer_compare(const void *a, const void *b);

/* Iterate: *cursor starts at 0; returns NULL at the end. */
extern AxsBalance *axs_balance_map_next(AxsBalanceMap *map, size_t *cursor);

/*
 * Apply legs to the balances in map, all or none.  Every touched key must be
 * present in the map (use axs_balance_map_get, which also creates missing
 * ones as zero), with its credit and suspended set by the caller.  Returns
 * AXS_REASON_NONE and marks touched entries changed, or a rejection reason
 * and changes nothing.
 */
extern AxsReason axs_ledger_apply(AxsBalanceMap *map, const AxsLeg *legs,
								  int nlegs);

/* One balance an applied event changed, and its net change (the balance holds the value after). */
typedef struct AxsAppliedChange
{
	AxsBalance *balance;
	int64_t		available_delta;
	int64_t		frozen_delta;
} AxsAppliedChange;

/*
 * axs_ledger_apply, and when the event applies, every balance it touched in
 * changes[0..*nchanges) (room for AXS_MAX_LEGS), in the order of their
 * first legs.  The pointers are valid until the next insert into map.
 */
extern AxsReason axs_ledger_apply_changes(AxsBalanceMap *map, const AxsLeg *legs, int nlegs,
										  AxsAppliedChange *changes, int *nchanges);

#endif							/* AXS_LEDGER_H */
