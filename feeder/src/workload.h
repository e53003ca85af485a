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
#ifndef AXS_FEEDER_WORKLOAD_H
#define AXS_FEEDER_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WORKLOAD_MESSAGE_MAX 1024

/* The account fees are paid to; traders are accounts 2..accounts. */
#define WORKLOAD_FEE_ACCOUNT 1

typedef struct WorkloadConfig
{
	int64_t		accounts;		/* at least 3 */
	int			currencies;		/* 2 or more; the first is the quote (USDT) */
	double		malformed_percent;
	double		duplicate_percent;
	uint64_t	seed;
	int64_t		first_id;
} WorkloadConfig;

typedef enum WorkloadMessageKind
{
	WORKLOAD_VALID,				/* a new, well-formed event */
	WORKLOAD_OVERDRAFT,			/* well-formed, but withdraws more than available */
	WORKLOAD_DUPLICATE,			/* an earlier message re-sent unchanged */
	WORKLOAD_MALFORMED			/* not a valid event */
} WorkloadMessageKind;

typedef struct WorkloadMessage
{
	WorkloadMessageKind kind;
	int64_t		key;			/* account whose order this message keeps */
	size_t		length;
	char		text[WORKLOAD_MESSAGE_MAX];
} WorkloadMessage;

typedef struct Workload Workload;

/* NULL with a message in error if the configuration is unusable. */
extern Workload *workload_new(const WorkloadConfig *config, char *error,
							  size_t error_size);
extern void workload_free(Workload *workload);

extern void workload_next(Workload *workload, WorkloadMessage *message);

/* The last id used so far (first_id - 1 if none). */
extern int64_t workload_last_id(const Workload *workload);

#endif							/* AXS_FEEDER_WORKLOAD_H */
