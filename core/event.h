/*
 * event.h
 *		The axs event: its in-memory form, its validation rules, its JSON
 *		form (the Kafka message value and the argument of axs.apply) and its
 *		compact binary form (the inbox and event log payload).
 *
 * Pure C: no PostgreSQL headers.  Shared by the extension (SQL functions and
 * the applier) and by axs-feeder, so that an event is judged the same way
 * wherever it enters the system.
 */
#ifndef AXS_EVENT_H
#define AXS_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A currency code: 1 to 16 characters from A-Z a-z 0-9 '_' '.' '-'. */
#define AXS_CURRENCY_CODE_MAX 16

/* Most raw legs one "legs" event may carry. */
#define AXS_MAX_RAW_LEGS 16

/* Largest binary payload axs_event_encode can produce. */
#define AXS_PAYLOAD_MAX 1024

typedef enum AxsEventKind
{
	AXS_KIND_DEPOSIT = 1,
	AXS_KIND_WITHDRAW = 2,
	AXS_KIND_FREEZE = 3,
	AXS_KIND_UNFREEZE = 4,
	AXS_KIND_TRANSFER = 5,
	AXS_KIND_TRADE = 6,
	AXS_KIND_LEGS = 7
} AxsEventKind;

/* deposit, withdraw, freeze, unfreeze */
typedef struct AxsAmountEvent
{
	int64_t		account;
	char		currency[AXS_CURRENCY_CODE_MAX + 1];
	int64_t		amount;
} AxsAmountEvent;

typedef struct AxsTransferEvent
{
	int64_t		from_account;
	int64_t		to_account;
	char		currency[AXS_CURRENCY_CODE_MAX + 1];
	int64_t		amount;
} AxsTransferEvent;

typedef struct AxsTradeEvent
{
	int64_t		buyer;
	int64_t		seller;
	char		base[AXS_CURRENCY_CODE_MAX + 1];
	char		quote[AXS_CURRENCY_CODE_MAX + 1];
	int64_t		base_amount;
	int64_t		quote_amount;
	int64_t		buyer_fee;		/* in base, 0 when absent */
	int64_t		seller_fee;		/* in quote, 0 when absent */
	int64_t		fee_account;	/* 0 when absent */
} AxsTradeEvent;

typedef struct AxsRawLeg
{
	int64_t		account;
	char		currency[AXS_CURRENCY_CODE_MAX + 1];
	int64_t		available;		/* delta */
	int64_t		frozen;			/* delta */
} AxsRawLeg;

typedef struct AxsLegsEvent
{
	int			count;
	AxsRawLeg	legs[AXS_MAX_RAW_LEGS];
} AxsLegsEvent;

typedef struct AxsEvent
{
	int64_t		id;				/* idempotency key, > 0 */
	AxsEventKind kind;
	union
	{
		AxsAmountEvent amount;	/* deposit, withdraw, freeze, unfreeze */
		AxsTransferEvent transfer;
		AxsTradeEvent trade;
		AxsLegsEvent legs;
	}			u;
} AxsEvent;

/* Why an event could not be decoded. */
typedef enum AxsDecodeStatus
{
	AXS_DECODE_OK = 0,
	AXS_DECODE_INVALID_JSON,	/* not JSON at all: SQLSTATE 22P02 */
	AXS_DECODE_INVALID_EVENT	/* JSON, but not a valid event: SQLSTATE 22023 */
} AxsDecodeStatus;

typedef struct AxsDecodeError
{
	AxsDecodeStatus status;
	char		field[48];		/* offending field, e.g. "amount" or "legs[2].currency"; "" if none */
	char		message[200];	/* lower case, no final period, names the field */
} AxsDecodeError;

/* "deposit", ... ; NULL for an unknown kind */
extern const char *axs_event_kind_name(AxsEventKind kind);

/* true if code is a well-formed currency code (not whether it is registered) */
extern bool axs_currency_code_valid(const char *code);

/*
 * Check every rule that does not need balances or the currency registry:
 * id > 0, accounts > 0, amounts > 0, fees >= 0 and not above their amounts,
 * fee_account present when a fee is non-zero, transfer between two different
 * accounts, trade between two different accounts and two different
 * currencies, 1..AXS_MAX_RAW_LEGS legs summing to zero per currency.
 * Returns false and fills err on failure.
 */
extern bool axs_event_validate(const AxsEvent *event, AxsDecodeError *err);

/*
 * Parse one JSON event (text of len bytes, not necessarily NUL terminated)
 * and validate it.  Unknown fields, missing required fields, and fields of
 * the wrong JSON type are errors.  An integer field takes a JSON number that
 * keeps no fractional digit once its exponent is applied (1e2 and 1.5e1, not
 * 1.0 or 1e-1), as jsonb's numeric reads it, and that fits in a signed 64-bit
 * integer.  The escape \u0000 anywhere, or a value nested deeper than 32
 * levels, makes the text an invalid event.
 */
extern bool axs_event_from_json(const char *text, size_t len, AxsEvent *out,
								AxsDecodeError *err);

/*
 * The two decoders behind axs_event_from_json, exposed for the unit test that
 * checks them against each other.  The fast one reads the common shape of an
 * event without allocating and declines anything else (see event_json_fast.c);
 * the reference one parses with json-c and decides every text.  When the
 * fast one does not decline, its result equals the reference one's.
 */
typedef enum AxsFastDecode
{
	AXS_FAST_DECLINED = 0,		/* out and err untouched or meaningless */
	AXS_FAST_VALID,				/* as axs_event_from_json returning true */
	AXS_FAST_INVALID			/* as it returning false, err filled */
} AxsFastDecode;

extern AxsFastDecode axs_event_from_json_fast(const char *text, size_t len,
											  AxsEvent *out, AxsDecodeError *err);
extern bool axs_event_from_json_reference(const char *text, size_t len, AxsEvent *out,
										  AxsDecodeError *err);

/*
 * Write the canonical JSON form of an event (fixed key order, optional trade
 * fields always written) into buf.  Returns the length written, excluding the
 * terminating NUL, or 0 if cap is too small.
 */
extern size_t axs_event_to_json(const AxsEvent *event, char *buf, size_t cap);

/*
 * Binary payload: everything but the id, in a canonical form, so that two
 * events have equal content exactly when their payloads are byte-equal.
 * Layout (all integers big-endian):
 *   uint8 format version (1), uint8 kind, then per kind:
 *   amount kinds: int64 account, code currency, int64 amount
 *   transfer:     int64 from, int64 to, code currency, int64 amount
 *   trade:        int64 buyer, int64 seller, code base, code quote,
 *                 int64 base_amount, int64 quote_amount, int64 buyer_fee,
 *                 int64 seller_fee, int64 fee_account (0 = none)
 *   legs:         uint8 count, then count x (int64 account, code currency,
 *                 int64 available, int64 frozen)
 *   where code = uint8 length followed by that many bytes.
 * Returns the number of bytes written, or 0 if cap is too small.
 */
extern size_t axs_event_encode(const AxsEvent *event, uint8_t *buf, size_t cap);

/*
 * Decode a payload written by axs_event_encode and validate the result.
 * id is stored into out->id.  Returns false (err filled, status
 * AXS_DECODE_INVALID_EVENT) on truncated, trailing or invalid data.
 */
extern bool axs_event_decode(int64_t id, const uint8_t *buf, size_t len,
							 AxsEvent *out, AxsDecodeError *err);

#endif							/* AXS_EVENT_H */
