/*
 * workload.h
 *		The exchange workload axs-loadgen produces: account funding,
 *		orders (freeze, then trade or unfreeze), withdrawals, transfers,
 *		overdrafts the ledger must reject, re-sent duplicates and malformed
 *		messages, over Zipf-skewed accounts.
 *
 * Generates message texts and keys only; producing them is the caller's.
 * Deterministic for a given configuration and seed.
 */
#ifndef AXS_WORKLOAD_H
#define AXS_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WORKLOAD_MESSAGE_MAX 1024

/* A key is a market ("BTC-USDT": two currency codes) or an account number. */
#define WORKLOAD_KEY_MAX 40

/* The account fees are paid to; traders are accounts 2..accounts. */
#define WORKLOAD_FEE_ACCOUNT 1

/*
 * How messages are keyed, so which of them Kafka keeps in order.
 *
 * WORKLOAD_KEY_MARKET, as a matching engine publishes: an order's funding
 * deposit, freeze, trades and unfreeze carry its market ("BTC-USDT"), so
 * they stay in order in one partition; wallet events (deposits, withdrawals,
 * transfers) carry the account.  Applied in any interleaving of the keys
 * that keeps each key's order, the only rejections are the overdrafts.
 *
 * WORKLOAD_KEY_ACCOUNT keys every event by its account (a trade by its
 * buyer).  The events are the same, but a trade can overtake the seller's
 * freeze, and an order can be decided before the credit that funds it: the
 * ledger then rejects events the workload meant to be valid.
 */
typedef enum WorkloadKeying
{
	WORKLOAD_KEY_MARKET = 0,
	WORKLOAD_KEY_ACCOUNT
} WorkloadKeying;

/*
 * Which user action a step is: a uniform draw in [0, 1) makes an order below
 * order_below, else a deposit below deposit_below, a withdrawal below
 * withdraw_below, a transfer below transfer_below, and an overdraft above.
 * With trade_fees, a trade charges fees to WORKLOAD_FEE_ACCOUNT.
 */
typedef struct WorkloadMix
{
	double		order_below;
	double		deposit_below;
	double		withdraw_below;
	double		transfer_below;
	bool		trade_fees;
} WorkloadMix;

/* axs-loadgen's mix, which a configuration without a mix gets. */
extern const WorkloadMix workload_exchange_mix;

typedef struct WorkloadConfig
{
	int64_t		accounts;		/* at least 3 */
	int			currencies;		/* 2 or more; the first is the quote (USDT) */
	double		malformed_percent;
	double		duplicate_percent;
	uint64_t	seed;
	int64_t		first_id;
	WorkloadKeying keying;
	const WorkloadMix *mix;		/* NULL: workload_exchange_mix */
} WorkloadConfig;

typedef enum WorkloadMessageKind
{
	WORKLOAD_VALID,				/* a new, well-formed event */
	WORKLOAD_OVERDRAFT,			/* well-formed, but withdraws more than was ever
								 * credited: the only rejection intended */
	WORKLOAD_DUPLICATE,			/* an earlier message re-sent unchanged */
	WORKLOAD_MALFORMED			/* not a valid event */
} WorkloadMessageKind;

typedef struct WorkloadMessage
{
	WorkloadMessageKind kind;
	int64_t		id;				/* the event id (a malformed message: 0 or its id) */
	char		key[WORKLOAD_KEY_MAX];	/* not terminated: key_length bytes */
	size_t		key_length;
	size_t		length;
	char		text[WORKLOAD_MESSAGE_MAX];
} WorkloadMessage;

typedef struct Workload Workload;

/* NULL with a message in error if the configuration is unusable. */
extern Workload *workload_new(const WorkloadConfig *config, char *error,
							  size_t error_size);
extern void workload_free(Workload *workload);

extern void workload_next(Workload *workload, WorkloadMessage *message);

/* "market" or "account"; false if text names no keying. */
extern bool workload_keying_parse(const char *text, WorkloadKeying *keying);
extern const char *workload_keying_name(WorkloadKeying keying);

/* The last id used so far (first_id - 1 if none). */
extern int64_t workload_last_id(const Workload *workload);

#endif							/* AXS_WORKLOAD_H */
