/*
 * workload.c
 *		Exchange workload generator (see workload.h).
 *
 * Kafka keeps messages in order only within a partition, and the feeder
 * applies partitions in whatever order they arrive.  A real exchange feed is
 * designed for that: the matching engine sequences each market, so an
 * order's freeze, its trades and its unfreeze are keyed by the market and
 * stay in order; a trade rejected insufficient_frozen because its own
 * order's freeze had not arrived would be a settlement failure, not
 * something a feed shows.  Wallet events (deposits, withdrawals, transfers)
 * are keyed by the account.
 *
 * So the generator models every balance per stream (a market, or the
 * account's wallet): a debit is generated only against what earlier events
 * of its own stream credited.  The ledger's balance is the sum over the
 * streams, each of which never goes negative in its own order, so in any
 * interleaving of the streams every debit finds its funds: an order's
 * funding deposit is made in the order's market, a withdrawal or a transfer
 * spends only wallet deposits, and what a transfer credits to its receiver
 * (in the sender's stream) is never relied on.  The only rejections are the
 * overdrafts, which withdraw more than the account was ever credited plus a
 * margin no credit that overtakes them can cover.
 *
 * Keyed by account instead (WORKLOAD_KEY_ACCOUNT), the same events lose that
 * guarantee: a trade keyed by its buyer can overtake the seller's freeze.
 */
#include "workload.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

/* Pending messages one step may produce: two deposits, two freezes, a trade, two unfreezes. */
#define PENDING_CAPACITY 16

/* Recent valid messages a duplicate is picked from. */
#define RECENT_CAPACITY 256

/* Zipf exponent of account popularity: a few hot accounts, a long tail. */
#define ACCOUNT_SKEW 0.99

/*
 * An overdraft withdraws this much more than the account was ever credited:
 * credits generated after it but applied before it (in another partition)
 * would have to add up to it, millions of events of one account.
 */
#define OVERDRAFT_MARGIN INT64_C(1000000000000)

/* The stream of wallet events; stream m (1..currencies-1) is market m/quote. */
#define STREAM_WALLET 0

static const char *const currency_names[] = {
	"USDT", "BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "DOT", "LTC", "TRX",
	"AVAX", "LINK", "ATOM", "XLM", "NEAR", "APT"
};
#define NAMED_CURRENCIES ((int) (sizeof(currency_names) / sizeof(currency_names[0])))

typedef struct Balance
{
	int64_t		available;
	int64_t		frozen;
} Balance;

typedef struct PendingEvent
{
	AxsEvent	event;
	int			stream;			/* STREAM_WALLET or a market */
	bool		overdraft;
} PendingEvent;

/* Orders 55%, deposits 15%, withdrawals 12%, transfers 12%, overdrafts 6%. */
const WorkloadMix workload_exchange_mix = {
	.order_below = 0.55,
	.deposit_below = 0.70,
	.withdraw_below = 0.82,
	.transfer_below = 0.94,
	.trade_fees = true
};

struct Workload
{
	WorkloadConfig config;
	WorkloadMix mix;
	uint64_t	random_state;
	int64_t		next_id;
	char		(*currency_codes)[AXS_CURRENCY_CODE_MAX + 1];
	Balance    *streams;		/* per account STREAM_SLOTS, account 1 first */
	int64_t    *credited;		/* accounts x currencies: all credits ever */
	double	   *account_cdf;	/* Zipf CDF over trader ranks */
	int64_t    *cdf_guide;		/* [j]: first rank whose CDF reaches j/trader_count */
	int64_t		trader_count;
	PendingEvent pending[PENDING_CAPACITY];
	int			pending_head;
	int			pending_count;
	WorkloadMessage recent[RECENT_CAPACITY];
	int			recent_count;
	int			recent_next;
};

/* splitmix64: small, fast, good enough for a workload. */
static uint64_t
random_next(Workload *workload)
{
	uint64_t	z = (workload->random_state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Uniform in [0, bound). */
static int64_t
random_below(Workload *workload, int64_t bound)
{
	return bound <= 1 ? 0 : (int64_t) (random_next(workload) % (uint64_t) bound);
}

/* Uniform in [0, 1). */
static double
random_unit(Workload *workload)
{
	return (double) (random_next(workload) >> 11) / 9007199254740992.0;
}

/*
 * A trader account (2..accounts), hot ones far more often: the first rank
 * whose CDF reaches u.  The guide table starts the walk at most one bucket of
 * probability below it (Chen and Asau's indexed search), instead of a binary
 * search over the whole CDF per event.
 */
static int64_t
random_trader(Workload *workload)
{
	double		u = random_unit(workload);
	int64_t		bucket = (int64_t) (u * (double) workload->trader_count);
	int64_t		rank = workload->cdf_guide[bucket < workload->trader_count ? bucket : workload->trader_count - 1];

	while (rank < workload->trader_count - 1 && workload->account_cdf[rank] < u)
		rank++;
	return rank + 2;
}

/* Codes are held in arrays of the same size as an event's code fields. */
static void
copy_code(char *dest, const char *code)
{
	memcpy(dest, code, AXS_CURRENCY_CODE_MAX + 1);
}

/*
 * Balances an account holds per stream: the quote currency in its wallet
 * and in every market, each base currency in its wallet and its own market.
 */
#define STREAM_SLOTS(currencies) (3 * (currencies) - 2)

/* The part of account's balance in currency that stream's events hold. */
static Balance *
stream_balance(Workload *workload, int64_t account, int currency, int stream)
{
	int			currencies = workload->config.currencies;
	int64_t		slot;

	if (currency == 0)
		slot = stream;
	else
		slot = currencies + 2 * (currency - 1) + (stream == STREAM_WALLET ? 0 : 1);
	return &workload->streams[(account - 1) * STREAM_SLOTS(currencies) + slot];
}

/* Note a credit of the ledger balance (whatever its stream). */
static void
note_credit(Workload *workload, int64_t account, int currency, int64_t amount)
{
	workload->credited[(account - 1) * workload->config.currencies + currency] += amount;
}

Workload *
workload_new(const WorkloadConfig *config, char *error, size_t error_size)
{
	Workload   *workload;
	double		total = 0.0;
	int64_t		rank;
	int			i;

	if (config->accounts < 3)
	{
		snprintf(error, error_size, "need at least 3 accounts");
		return NULL;
	}
	if (config->currencies < 2 || config->currencies > 1000)
	{
		snprintf(error, error_size, "currencies must be from 2 to 1000");
		return NULL;
	}
	if (config->first_id < 1)
	{
		snprintf(error, error_size, "first id must be positive");
		return NULL;
	}
	if (config->mix != NULL &&
		!(0.0 <= config->mix->order_below &&
		  config->mix->order_below <= config->mix->deposit_below &&
		  config->mix->deposit_below <= config->mix->withdraw_below &&
		  config->mix->withdraw_below <= config->mix->transfer_below &&
		  config->mix->transfer_below <= 1.0))
	{
		snprintf(error, error_size, "the mix's bounds must rise from 0 to 1");
		return NULL;
	}
	workload = calloc(1, sizeof(Workload));
	if (workload == NULL)
		goto out_of_memory;
	workload->config = *config;
	/* the mix is copied: the caller's may not outlive the workload */
	workload->config.mix = NULL;
	workload->mix = config->mix != NULL ? *config->mix : workload_exchange_mix;
	workload->random_state = config->seed;
	workload->next_id = config->first_id;
	workload->trader_count = config->accounts - 1;
	workload->currency_codes = calloc((size_t) config->currencies,
									  sizeof(*workload->currency_codes));
	workload->streams = calloc((size_t) (config->accounts * STREAM_SLOTS(config->currencies)),
							   sizeof(Balance));
	workload->credited = calloc((size_t) (config->accounts * config->currencies),
								sizeof(int64_t));
	workload->account_cdf = calloc((size_t) workload->trader_count, sizeof(double));
	workload->cdf_guide = calloc((size_t) workload->trader_count, sizeof(int64_t));
	if (workload->currency_codes == NULL || workload->streams == NULL ||
		workload->credited == NULL ||
		workload->account_cdf == NULL || workload->cdf_guide == NULL)
		goto out_of_memory;

	for (i = 0; i < config->currencies; i++)
	{
		if (i < NAMED_CURRENCIES)
			snprintf(workload->currency_codes[i], AXS_CURRENCY_CODE_MAX + 1, "%s",
					 currency_names[i]);
		else
			snprintf(workload->currency_codes[i], AXS_CURRENCY_CODE_MAX + 1, "CUR%d", i);
	}
	for (rank = 0; rank < workload->trader_count; rank++)
	{
		total += 1.0 / pow((double) (rank + 1), ACCOUNT_SKEW);
		workload->account_cdf[rank] = total;
	}
	for (rank = 0; rank < workload->trader_count; rank++)
		workload->account_cdf[rank] /= total;
	rank = 0;
	for (int64_t bucket = 0; bucket < workload->trader_count; bucket++)
	{
		double		start = (double) bucket / (double) workload->trader_count;

		while (rank < workload->trader_count - 1 && workload->account_cdf[rank] < start)
			rank++;
		workload->cdf_guide[bucket] = rank;
	}
	return workload;

out_of_memory:
	workload_free(workload);
	snprintf(error, error_size, "out of memory for %lld accounts",
			 (long long) config->accounts);
	return NULL;
}

void
workload_free(Workload *workload)
{
	if (workload == NULL)
		return;
	free(workload->currency_codes);
	free(workload->streams);
	free(workload->credited);
	free(workload->account_cdf);
	free(workload->cdf_guide);
	free(workload);
}

bool
workload_keying_parse(const char *text, WorkloadKeying *keying)
{
	if (strcmp(text, "market") == 0)
		*keying = WORKLOAD_KEY_MARKET;
	else if (strcmp(text, "account") == 0)
		*keying = WORKLOAD_KEY_ACCOUNT;
	else
		return false;
	return true;
}

const char *
workload_keying_name(WorkloadKeying keying)
{
	return keying == WORKLOAD_KEY_ACCOUNT ? "account" : "market";
}

int64_t
workload_last_id(const Workload *workload)
{
	return workload->next_id - 1;
}

static PendingEvent *
push_event(Workload *workload, AxsEventKind kind, int stream)
{
	PendingEvent *pending = &workload->pending[(workload->pending_head + workload->pending_count)
											   % PENDING_CAPACITY];

	workload->pending_count++;
	memset(pending, 0, sizeof(*pending));
	pending->event.kind = kind;
	pending->stream = stream;
	return pending;
}

/*
 * Queue a deposit, withdraw, freeze or unfreeze in stream and apply it to
 * that stream's part of the balance.
 */
static void
push_amount(Workload *workload, AxsEventKind kind, int64_t account, int currency,
			int stream, int64_t amount)
{
	PendingEvent *pending = push_event(workload, kind, stream);
	Balance    *balance = stream_balance(workload, account, currency, stream);

	pending->event.u.amount.account = account;
	copy_code(pending->event.u.amount.currency, workload->currency_codes[currency]);
	pending->event.u.amount.amount = amount;
	switch (kind)
	{
		case AXS_KIND_DEPOSIT:
			balance->available += amount;
			note_credit(workload, account, currency, amount);
			break;
		case AXS_KIND_WITHDRAW:
			balance->available -= amount;
			break;
		case AXS_KIND_FREEZE:
			balance->available -= amount;
			balance->frozen += amount;
			break;
		case AXS_KIND_UNFREEZE:
			balance->available += amount;
			balance->frozen -= amount;
			break;
		default:
			break;
	}
}

/*
 * Deposit, in stream, enough for account to have at least needed available
 * there: the funding travels with what spends it.
 */
static void
ensure_available(Workload *workload, int64_t account, int currency, int stream,
				 int64_t needed)
{
	Balance    *balance = stream_balance(workload, account, currency, stream);

	if (balance->available < needed)
		push_amount(workload, AXS_KIND_DEPOSIT, account, currency, stream,
					needed - balance->available + 1000 + random_below(workload, 100000));
}

/*
 * An order in market base/quote: both sides freeze, then it fills fully,
 * partly or not at all.  Every event of it is in the market's stream.
 */
static void
step_order(Workload *workload)
{
	int64_t		buyer = random_trader(workload);
	int64_t		seller = random_trader(workload);
	int			base = 1 + (int) random_below(workload, workload->config.currencies - 1);
	int64_t		base_amount = 1 + random_below(workload, 100);
	int64_t		price = 1 + random_below(workload, 500);
	int64_t		quote_amount = base_amount * price;
	double		outcome = random_unit(workload);
	int64_t		filled_base;
	int			market = base;	/* market m trades currency m against the quote */

	while (seller == buyer)
		seller = 2 + random_below(workload, workload->trader_count);
	ensure_available(workload, buyer, 0, market, quote_amount);
	ensure_available(workload, seller, base, market, base_amount);
	push_amount(workload, AXS_KIND_FREEZE, buyer, 0, market, quote_amount);
	push_amount(workload, AXS_KIND_FREEZE, seller, base, market, base_amount);

	if (outcome < 0.70)
		filled_base = base_amount;
	else if (outcome < 0.85)
		filled_base = 1 + random_below(workload, base_amount);
	else
		filled_base = 0;

	if (filled_base > 0)
	{
		PendingEvent *pending = push_event(workload, AXS_KIND_TRADE, market);
		AxsTradeEvent *trade = &pending->event.u.trade;
		int64_t		filled_quote = filled_base * price;

		trade->buyer = buyer;
		trade->seller = seller;
		copy_code(trade->base, workload->currency_codes[base]);
		copy_code(trade->quote, workload->currency_codes[0]);
		trade->base_amount = filled_base;
		trade->quote_amount = filled_quote;
		if (workload->mix.trade_fees)
		{
			trade->buyer_fee = filled_base / 100;
			trade->seller_fee = filled_quote / 1000;
			trade->fee_account = WORKLOAD_FEE_ACCOUNT;
		}

		stream_balance(workload, buyer, 0, market)->frozen -= filled_quote;
		stream_balance(workload, buyer, base, market)->available += filled_base - trade->buyer_fee;
		stream_balance(workload, seller, base, market)->frozen -= filled_base;
		stream_balance(workload, seller, 0, market)->available += filled_quote - trade->seller_fee;
		stream_balance(workload, WORKLOAD_FEE_ACCOUNT, base, market)->available += trade->buyer_fee;
		stream_balance(workload, WORKLOAD_FEE_ACCOUNT, 0, market)->available += trade->seller_fee;
		note_credit(workload, buyer, base, filled_base - trade->buyer_fee);
		note_credit(workload, seller, 0, filled_quote - trade->seller_fee);
		note_credit(workload, WORKLOAD_FEE_ACCOUNT, base, trade->buyer_fee);
		note_credit(workload, WORKLOAD_FEE_ACCOUNT, 0, trade->seller_fee);
	}
	if (filled_base < base_amount)
	{
		push_amount(workload, AXS_KIND_UNFREEZE, buyer, 0, market,
					(base_amount - filled_base) * price);
		push_amount(workload, AXS_KIND_UNFREEZE, seller, base, market,
					base_amount - filled_base);
	}
}

/*
 * A withdrawal from the wallet: of wallet deposits only, or, as an
 * overdraft, of more than the account was ever credited in any stream.
 */
static void
step_withdraw(Workload *workload, bool overdraft)
{
	int64_t		account = random_trader(workload);
	int			currency = (int) random_below(workload, workload->config.currencies);
	Balance    *balance = stream_balance(workload, account, currency, STREAM_WALLET);

	if (overdraft)
	{
		PendingEvent *pending = push_event(workload, AXS_KIND_WITHDRAW, STREAM_WALLET);

		/* Not applied to the model: the ledger rejects it. */
		pending->overdraft = true;
		pending->event.u.amount.account = account;
		copy_code(pending->event.u.amount.currency, workload->currency_codes[currency]);
		pending->event.u.amount.amount =
			workload->credited[(account - 1) * workload->config.currencies + currency] +
			OVERDRAFT_MARGIN + 1 + random_below(workload, 1000);
	}
	else if (balance->available > 0)
		push_amount(workload, AXS_KIND_WITHDRAW, account, currency, STREAM_WALLET,
					1 + random_below(workload, balance->available / 2 + 1));
	else
		push_amount(workload, AXS_KIND_DEPOSIT, account, currency, STREAM_WALLET,
					1000 + random_below(workload, 100000));
}

static void
step_transfer(Workload *workload)
{
	int64_t		from = random_trader(workload);
	int64_t		to = random_trader(workload);
	int			currency = (int) random_below(workload, workload->config.currencies);
	Balance    *balance = stream_balance(workload, from, currency, STREAM_WALLET);
	PendingEvent *pending;
	int64_t		amount;

	while (to == from)
		to = 2 + random_below(workload, workload->trader_count);
	ensure_available(workload, from, currency, STREAM_WALLET, 1);
	amount = 1 + random_below(workload, balance->available / 4 + 1);
	if (amount > balance->available)
		amount = balance->available;
	pending = push_event(workload, AXS_KIND_TRANSFER, STREAM_WALLET);
	pending->event.u.transfer.from_account = from;
	pending->event.u.transfer.to_account = to;
	copy_code(pending->event.u.transfer.currency, workload->currency_codes[currency]);
	pending->event.u.transfer.amount = amount;
	balance->available -= amount;
	/* Credited in the sender's stream, which the receiver never spends from. */
	note_credit(workload, to, currency, amount);
}

/* Queue the events of one user action. */
static void
workload_step(Workload *workload)
{
	const WorkloadMix *mix = &workload->mix;
	double		choice = random_unit(workload);

	if (choice < mix->order_below)
		step_order(workload);
	else if (choice < mix->deposit_below)
	{
		int64_t		account = random_trader(workload);
		int			currency = (int) random_below(workload, workload->config.currencies);

		push_amount(workload, AXS_KIND_DEPOSIT, account, currency, STREAM_WALLET,
					1000 + random_below(workload, 100000));
	}
	else if (choice < mix->withdraw_below)
		step_withdraw(workload, false);
	else if (choice < mix->transfer_below)
		step_transfer(workload);
	else
		step_withdraw(workload, true);
}

/* The account an event is keyed by when keying by account. */
static int64_t
event_account(const AxsEvent *event)
{
	switch (event->kind)
	{
		case AXS_KIND_TRANSFER:
			return event->u.transfer.from_account;
		case AXS_KIND_TRADE:
			return event->u.trade.buyer;
		case AXS_KIND_LEGS:
			return event->u.legs.legs[0].account;
		default:
			return event->u.amount.account;
	}
}

static void
format_account_key(WorkloadMessage *message, int64_t account)
{
	message->key_length = (size_t) snprintf(message->key, sizeof(message->key),
											"%lld", (long long) account);
}

/* The key: the market of a market stream's event, else the account. */
static void
format_key(const Workload *workload, const PendingEvent *pending,
		   WorkloadMessage *message)
{
	if (workload->config.keying == WORKLOAD_KEY_MARKET && pending->stream != STREAM_WALLET)
		message->key_length = (size_t) snprintf(message->key, sizeof(message->key), "%s-%s",
												workload->currency_codes[pending->stream],
												workload->currency_codes[0]);
	else
		format_account_key(message, event_account(&pending->event));
}

static void
emit_malformed(Workload *workload, WorkloadMessage *message)
{
	int64_t		account = random_trader(workload);
	int			length;

	message->kind = WORKLOAD_MALFORMED;
	message->id = 0;
	format_account_key(message, account);
	switch (random_below(workload, 5))
	{
		case 0:					/* truncated JSON */
			length = snprintf(message->text, sizeof(message->text),
							  "{\"id\":%lld,\"kind\":\"deposit\",\"account\":%lld,\"curr",
							  (long long) workload->next_id++, (long long) account);
			break;
		case 1:					/* wrong field type */
			length = snprintf(message->text, sizeof(message->text),
							  "{\"id\":%lld,\"kind\":\"deposit\",\"account\":%lld,"
							  "\"currency\":\"USDT\",\"amount\":\"100\"}",
							  (long long) workload->next_id++, (long long) account);
			break;
		case 2:					/* non-positive amount */
			length = snprintf(message->text, sizeof(message->text),
							  "{\"id\":%lld,\"kind\":\"withdraw\",\"account\":%lld,"
							  "\"currency\":\"BTC\",\"amount\":%lld}",
							  (long long) workload->next_id++, (long long) account,
							  (long long) -random_below(workload, 100));
			break;
		case 3:					/* unknown kind */
			length = snprintf(message->text, sizeof(message->text),
							  "{\"id\":%lld,\"kind\":\"teleport\",\"account\":%lld,"
							  "\"currency\":\"ETH\",\"amount\":5}",
							  (long long) workload->next_id++, (long long) account);
			break;
		default:				/* not JSON at all */
			length = snprintf(message->text, sizeof(message->text),
							  "deposit %lld USDT 100", (long long) account);
			break;
	}
	message->length = (size_t) length;
}

void
workload_next(Workload *workload, WorkloadMessage *message)
{
	double		choice = random_unit(workload) * 100.0;
	PendingEvent *pending;

	if (choice < workload->config.malformed_percent)
	{
		emit_malformed(workload, message);
		return;
	}
	if (choice < workload->config.malformed_percent + workload->config.duplicate_percent &&
		workload->recent_count > 0)
	{
		*message = workload->recent[random_below(workload, workload->recent_count)];
		message->kind = WORKLOAD_DUPLICATE;
		return;
	}

	if (workload->pending_count == 0)
		workload_step(workload);
	pending = &workload->pending[workload->pending_head];
	workload->pending_head = (workload->pending_head + 1) % PENDING_CAPACITY;
	workload->pending_count--;

	pending->event.id = workload->next_id++;
	message->kind = pending->overdraft ? WORKLOAD_OVERDRAFT : WORKLOAD_VALID;
	message->id = pending->event.id;
	format_key(workload, pending, message);
	message->length = axs_event_to_json(&pending->event, message->text,
										sizeof(message->text));

	workload->recent[workload->recent_next] = *message;
	workload->recent_next = (workload->recent_next + 1) % RECENT_CAPACITY;
	if (workload->recent_count < RECENT_CAPACITY)
		workload->recent_count++;
}
