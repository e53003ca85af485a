/*
 * generate_events.c
 *		Deterministic exchange-like workload for the applier benchmark.
 *
 * Writes the same events twice: as JSON lines (the form axs.apply and
 * axs.submit_many take) and as tab-separated typed columns (the form the
 * client-side AXS baseline COPYs into its temporary table).  It owns the
 * event mix only; it must not know how any method applies the events.
 *
 * Mix: orders (buyer freezes quote, seller freezes base, then a full trade,
 * a partial trade plus unfreezes of the rest, or a cancel that unfreezes
 * both), deposits, withdrawals, about 1% overdrafting withdrawals the ledger
 * must reject and about 1% duplicates (an earlier event re-sent with the same
 * id and content).  Accounts are Zipf-skewed, so a few are hot; an account is
 * funded by a deposit just before it first needs a currency.
 *
 * Usage: generate_events EVENTS ACCOUNTS SEED JSON_FILE TSV_FILE
 * Prints the counts per kind on stderr.
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Currency ids follow the order bench/applier/run.sh registers them in. */
#define CURRENCY_COUNT 5
#define QUOTE_CURRENCY 4		/* USDT */
static const char *const currency_codes[CURRENCY_COUNT] = {"BTC", "ETH", "SOL", "XRP", "USDT"};

/* Event kinds, numbered as in core/event.h. */
#define KIND_DEPOSIT 1
#define KIND_WITHDRAW 2
#define KIND_FREEZE 3
#define KIND_UNFREEZE 4
#define KIND_TRADE 6

#define ACCOUNT_SKEW 0.99		/* Zipf exponent: a few hot accounts, a long tail */
#define RECENT_CAPACITY 1024	/* events a duplicate is picked from */
#define DUPLICATE_SHARE 0.01
#define OVERDRAFT_STEP_SHARE 0.025	/* of user actions: about 1% of events */

typedef struct Event
{
	int64_t		id;
	int			kind;
	int64_t		account;		/* the buyer of a trade */
	int64_t		counterparty;	/* the seller of a trade, else 0 */
	int			currency;		/* the base of a trade */
	int			quote;			/* the quote of a trade, else -1 */
	int64_t		amount;			/* the base amount of a trade */
	int64_t		quote_amount;	/* of a trade, else 0 */
} Event;

typedef struct Balance
{
	int64_t		available;
	int64_t		frozen;
} Balance;

static uint64_t random_state;
static double *account_cdf;
static int64_t account_count;
static Balance *balances;
static FILE *json_file;
static FILE *tsv_file;
static int64_t events_wanted;
static int64_t events_written;
static int64_t next_id = 1;
static Event recent[RECENT_CAPACITY];
static int	recent_count;
static int64_t kind_counts[8];
static int64_t overdrafts;
static int64_t duplicates;

/* splitmix64 */
static uint64_t
random_next(void)
{
	uint64_t	z = (random_state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static int64_t
random_below(int64_t bound)
{
	return bound <= 1 ? 0 : (int64_t) (random_next() % (uint64_t) bound);
}

static double
random_unit(void)
{
	return (double) (random_next() >> 11) / 9007199254740992.0;
}

/* An account 1..account_count, low numbers far more often. */
static int64_t
random_account(void)
{
	double		u = random_unit();
	int64_t		low = 0;
	int64_t		high = account_count - 1;

	while (low < high)
	{
		int64_t		middle = low + (high - low) / 2;

		if (account_cdf[middle] < u)
			low = middle + 1;
		else
			high = middle;
	}
	return low + 1;
}

static Balance *
balance_of(int64_t account, int currency)
{
	return &balances[(account - 1) * CURRENCY_COUNT + currency];
}

static bool
done(void)
{
	return events_written >= events_wanted;
}

static void
write_event(const Event *event)
{
	if (done())
		return;
	if (event->kind == KIND_TRADE)
		fprintf(json_file,
				"{\"id\": %" PRId64 ", \"kind\": \"trade\", \"buyer\": %" PRId64
				", \"seller\": %" PRId64 ", \"base\": \"%s\", \"quote\": \"%s\""
				", \"base_amount\": %" PRId64 ", \"quote_amount\": %" PRId64 "}\n",
				event->id, event->account, event->counterparty,
				currency_codes[event->currency], currency_codes[event->quote],
				event->amount, event->quote_amount);
	else
		fprintf(json_file,
				"{\"id\": %" PRId64 ", \"kind\": \"%s\", \"account\": %" PRId64
				", \"currency\": \"%s\", \"amount\": %" PRId64 "}\n",
				event->id,
				event->kind == KIND_DEPOSIT ? "deposit" :
				event->kind == KIND_WITHDRAW ? "withdraw" :
				event->kind == KIND_FREEZE ? "freeze" : "unfreeze",
				event->account, currency_codes[event->currency], event->amount);
	/* Currency ids in the TSV are 1-based, as axs.currencies assigns them. */
	fprintf(tsv_file, "%" PRId64 "\t%d\t%" PRId64 "\t%" PRId64 "\t%d\t%d\t%" PRId64 "\t%" PRId64 "\n",
			event->id, event->kind, event->account, event->counterparty,
			event->currency + 1, event->quote + 1, event->amount, event->quote_amount);
	events_written++;
}

/* Emit a new event (taking the next id), maybe followed by a re-sent duplicate. */
static void
emit(Event *event)
{
	if (done())
		return;
	event->id = next_id++;
	write_event(event);
	kind_counts[event->kind]++;
	recent[recent_count % RECENT_CAPACITY] = *event;
	recent_count++;
	if (random_unit() < DUPLICATE_SHARE && !done())
	{
		int			span = recent_count < RECENT_CAPACITY ? recent_count : RECENT_CAPACITY;

		write_event(&recent[random_below(span)]);
		duplicates++;
	}
}

/* A deposit, withdraw, freeze or unfreeze, applied to the model. */
static void
emit_amount(int kind, int64_t account, int currency, int64_t amount)
{
	Event		event = {0, kind, account, 0, currency, -1, amount, 0};
	Balance    *balance = balance_of(account, currency);

	switch (kind)
	{
		case KIND_DEPOSIT:
			balance->available += amount;
			break;
		case KIND_WITHDRAW:
			balance->available -= amount;
			break;
		case KIND_FREEZE:
			balance->available -= amount;
			balance->frozen += amount;
			break;
		case KIND_UNFREEZE:
			balance->available += amount;
			balance->frozen -= amount;
			break;
	}
	emit(&event);
}

static void
ensure_available(int64_t account, int currency, int64_t needed)
{
	Balance    *balance = balance_of(account, currency);

	if (balance->available < needed)
		emit_amount(KIND_DEPOSIT, account, currency,
					needed - balance->available + 1000 + random_below(100000));
}

static void
step_order(void)
{
	int64_t		buyer = random_account();
	int64_t		seller = random_account();
	int			base = (int) random_below(CURRENCY_COUNT - 1);
	int64_t		base_amount = 1 + random_below(100);
	int64_t		price = 1 + random_below(500);
	double		outcome = random_unit();
	int64_t		filled = 0;

	while (seller == buyer)
		seller = 1 + random_below(account_count);
	ensure_available(buyer, QUOTE_CURRENCY, base_amount * price);
	ensure_available(seller, base, base_amount);
	emit_amount(KIND_FREEZE, buyer, QUOTE_CURRENCY, base_amount * price);
	emit_amount(KIND_FREEZE, seller, base, base_amount);
	if (outcome < 0.70)
		filled = base_amount;
	else if (outcome < 0.85)
		filled = 1 + random_below(base_amount);
	if (filled > 0)
	{
		Event		trade = {0, KIND_TRADE, buyer, seller, base, QUOTE_CURRENCY,
		filled, filled * price};

		balance_of(buyer, QUOTE_CURRENCY)->frozen -= filled * price;
		balance_of(buyer, base)->available += filled;
		balance_of(seller, base)->frozen -= filled;
		balance_of(seller, QUOTE_CURRENCY)->available += filled * price;
		emit(&trade);
	}
	if (filled < base_amount)
	{
		emit_amount(KIND_UNFREEZE, buyer, QUOTE_CURRENCY, (base_amount - filled) * price);
		emit_amount(KIND_UNFREEZE, seller, base, base_amount - filled);
	}
}

static void
step_withdraw(bool overdraft)
{
	int64_t		account = random_account();
	int			currency = (int) random_below(CURRENCY_COUNT);
	Balance    *balance = balance_of(account, currency);

	if (overdraft)
	{
		/* Not applied to the model: every method must reject it. */
		Event		event = {0, KIND_WITHDRAW, account, 0, currency, -1,
		balance->available + 1 + random_below(1000), 0};

		if (!done())
			overdrafts++;
		emit(&event);
	}
	else if (balance->available > 0)
		emit_amount(KIND_WITHDRAW, account, currency, 1 + random_below(balance->available / 2 + 1));
	else
		emit_amount(KIND_DEPOSIT, account, currency, 1000 + random_below(100000));
}

int
main(int argc, char **argv)
{
	double		total = 0.0;

	if (argc != 6)
	{
		fprintf(stderr, "usage: %s EVENTS ACCOUNTS SEED JSON_FILE TSV_FILE\n", argv[0]);
		return 2;
	}
	events_wanted = strtoll(argv[1], NULL, 10);
	account_count = strtoll(argv[2], NULL, 10);
	random_state = strtoull(argv[3], NULL, 10);
	if (events_wanted < 1 || account_count < 2)
	{
		fprintf(stderr, "%s: need at least 1 event and 2 accounts\n", argv[0]);
		return 2;
	}
	json_file = fopen(argv[4], "w");
	tsv_file = fopen(argv[5], "w");
	account_cdf = calloc((size_t) account_count, sizeof(double));
	balances = calloc((size_t) account_count * CURRENCY_COUNT, sizeof(Balance));
	if (json_file == NULL || tsv_file == NULL || account_cdf == NULL || balances == NULL)
	{
		perror(argv[0]);
		return 1;
	}
	for (int64_t rank = 0; rank < account_count; rank++)
	{
		total += 1.0 / pow((double) (rank + 1), ACCOUNT_SKEW);
		account_cdf[rank] = total;
	}
	for (int64_t rank = 0; rank < account_count; rank++)
		account_cdf[rank] /= total;

	while (!done())
	{
		double		choice = random_unit();

		if (choice < 0.60)
			step_order();
		else if (choice < 0.78)
			emit_amount(KIND_DEPOSIT, random_account(), (int) random_below(CURRENCY_COUNT),
						1000 + random_below(100000));
		else if (choice < 1.0 - OVERDRAFT_STEP_SHARE)
			step_withdraw(false);
		else
			step_withdraw(true);
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
			events_written, kind_counts[KIND_DEPOSIT], kind_counts[KIND_WITHDRAW], overdrafts,
			kind_counts[KIND_FREEZE], kind_counts[KIND_UNFREEZE], kind_counts[KIND_TRADE],
			duplicates, next_id - 1);
	return 0;
}
