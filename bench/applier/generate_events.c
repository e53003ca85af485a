/*
 * generate_events.c
 *		Deterministic exchange-like workload for the applier benchmark.
 *
 * The events come from axs-loadgen's workload (tools/workload.c), so the
 * benchmark and the load generator make events one way; this program owns
 * only the benchmark's mix and writes each event twice: as JSON lines (the
 * form axs.apply and axs.submit_many take) and as tab-separated typed
 * columns (the form the client-side AXS baseline COPYs into its temporary
 * table).  It must not know how any method applies the events.
 *
 * Mix: orders (buyer freezes quote, seller freezes base, then a full trade,
 * a partial trade plus unfreezes of the rest, or a cancel that unfreezes
 * both), deposits, withdrawals, overdrafting withdrawals the ledger must
 * reject (2.5% of the user actions) and 1% duplicates (an earlier event
 * re-sent with the same id and content).  Accounts are Zipf-skewed, so a few
 * are hot; an account is funded by a deposit just before it needs a
 * currency.  No transfers and no trade fees: the AXS baseline's columns have
 * no place for them.
 *
 * Usage: generate_events EVENTS ACCOUNTS SEED JSON_FILE TSV_FILE
 * Prints the counts per kind on stderr.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "workload.h"

/*
 * Currency ids of the TSV: the order bench/applier/run.sh registers the
 * currencies in, from 1.  They are the workload's 5 currencies.
 */
#define CURRENCY_COUNT 5
static const char *const currency_codes[CURRENCY_COUNT] = {"BTC", "ETH", "SOL", "XRP", "USDT"};

static const WorkloadMix applier_bench_mix = {
	.order_below = 0.60,
	.deposit_below = 0.78,
	.withdraw_below = 0.975,
	.transfer_below = 0.975,	/* no transfers */
	.trade_fees = false
};

#define DUPLICATE_PERCENT 1.0

/* The TSV's id of a currency code; 0 if it has none. */
static int
currency_id(const char *code)
{
	for (int i = 0; i < CURRENCY_COUNT; i++)
	{
		if (strcmp(code, currency_codes[i]) == 0)
			return i + 1;
	}
	return 0;
}

/*
 * The TSV line of an event: id, kind, account (the buyer of a trade),
 * counterparty (the seller, else 0), currency (the base of a trade), quote
 * (else 0), amount (the base amount of a trade), quote amount (else 0).
 * false for an event those columns cannot hold.
 */
static bool
write_tsv(FILE *file, const AxsEvent *event)
{
	int64_t		account;
	int64_t		counterparty = 0;
	int			currency;
	int			quote = 0;
	int64_t		amount;
	int64_t		quote_amount = 0;

	switch (event->kind)
	{
		case AXS_KIND_DEPOSIT:
		case AXS_KIND_WITHDRAW:
		case AXS_KIND_FREEZE:
		case AXS_KIND_UNFREEZE:
			account = event->u.amount.account;
			currency = currency_id(event->u.amount.currency);
			amount = event->u.amount.amount;
			break;
		case AXS_KIND_TRADE:
			if (event->u.trade.buyer_fee != 0 || event->u.trade.seller_fee != 0 ||
				event->u.trade.fee_account != 0)
				return false;
			account = event->u.trade.buyer;
			counterparty = event->u.trade.seller;
			currency = currency_id(event->u.trade.base);
			quote = currency_id(event->u.trade.quote);
			amount = event->u.trade.base_amount;
			quote_amount = event->u.trade.quote_amount;
			if (quote == 0)
				return false;
			break;
		default:
			return false;
	}
	if (currency == 0)
		return false;
	fprintf(file, "%" PRId64 "\t%d\t%" PRId64 "\t%" PRId64 "\t%d\t%d\t%" PRId64 "\t%" PRId64 "\n",
			event->id, (int) event->kind, account, counterparty, currency, quote, amount,
			quote_amount);
	return true;
}

int
main(int argc, char **argv)
{
	WorkloadConfig config = {
		.currencies = CURRENCY_COUNT,
		.malformed_percent = 0,
		.duplicate_percent = DUPLICATE_PERCENT,
		.first_id = 1,
		.keying = WORKLOAD_KEY_MARKET,
		.mix = &applier_bench_mix
	};
	Workload   *workload;
	FILE	   *json_file;
	FILE	   *tsv_file;
	int64_t		events_wanted;
	int64_t		kind_counts[AXS_KIND_LEGS + 1] = {0};
	int64_t		overdrafts = 0;
	int64_t		duplicates = 0;
	char		error[256];

	if (argc != 6)
	{
		fprintf(stderr, "usage: %s EVENTS ACCOUNTS SEED JSON_FILE TSV_FILE\n", argv[0]);
		return 2;
	}
	events_wanted = strtoll(argv[1], NULL, 10);
	config.accounts = strtoll(argv[2], NULL, 10);
	config.seed = strtoull(argv[3], NULL, 10);
	if (events_wanted < 1)
	{
		fprintf(stderr, "%s: need at least 1 event\n", argv[0]);
		return 2;
	}
	workload = workload_new(&config, error, sizeof(error));
	if (workload == NULL)
	{
		fprintf(stderr, "%s: %s\n", argv[0], error);
		return 2;
	}
	json_file = fopen(argv[4], "w");
	tsv_file = fopen(argv[5], "w");
	if (json_file == NULL || tsv_file == NULL)
	{
		perror(argv[0]);
		return 1;
	}

	for (int64_t written = 0; written < events_wanted; written++)
	{
		WorkloadMessage message;
		AxsEvent	event;
		AxsDecodeError decode_error;

		workload_next(workload, &message);
		if (message.kind == WORKLOAD_MALFORMED ||
			!axs_event_from_json(message.text, message.length, &event, &decode_error))
		{
			fprintf(stderr, "%s: the workload made an invalid event: %.*s\n", argv[0],
					(int) message.length, message.text);
			return 1;
		}
		fprintf(json_file, "%.*s\n", (int) message.length, message.text);
		if (!write_tsv(tsv_file, &event))
		{
			fprintf(stderr, "%s: the AXS baseline's columns cannot hold %.*s\n", argv[0],
					(int) message.length, message.text);
			return 1;
		}
		if (message.kind == WORKLOAD_DUPLICATE)
			duplicates++;
		else
		{
			kind_counts[event.kind]++;
			if (message.kind == WORKLOAD_OVERDRAFT)
				overdrafts++;
		}
	}
	if (fclose(json_file) != 0 || fclose(tsv_file) != 0)
	{
		perror(argv[0]);
		return 1;
	}
	fprintf(stderr,
			"generated %" PRId64 " events: %" PRId64 " deposits, %" PRId64 " withdrawals "
			"(%" PRId64 " overdrafts), %" PRId64 " freezes, %" PRId64 " unfreezes, %" PRId64
			" trades, %" PRId64 " duplicates; last id %" PRId64 "\n",
			events_wanted, kind_counts[AXS_KIND_DEPOSIT], kind_counts[AXS_KIND_WITHDRAW],
			overdrafts, kind_counts[AXS_KIND_FREEZE], kind_counts[AXS_KIND_UNFREEZE],
			kind_counts[AXS_KIND_TRADE], duplicates, workload_last_id(workload));
	workload_free(workload);
	return 0;
}
