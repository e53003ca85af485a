/*
 * test_support.h
 *		Helpers shared by the unit tests: event comparison, a fixed currency
 *		registry, exact-size and randomly damaged copies of blocks, and a
 *		deterministic random number generator.
 *
 * Test-only code; nothing here is linked into the extension.
 */
#ifndef AXS_TEST_SUPPORT_H
#define AXS_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

/* Currency ids of the test registry; any other code is unknown. */
#define TEST_USDT 1
#define TEST_BTC 2
#define TEST_ETH 3

/* true if a and b have the same id, kind and content (padding ignored) */
extern bool test_events_equal(const AxsEvent *a, const AxsEvent *b);

/* AxsCurrencyResolver for the test registry: USDT, BTC, ETH */
extern int32_t test_resolve_currency(void *context, const char *code);

/* Parse a NUL-terminated JSON event, failing the test with err if invalid. */
extern AxsEvent test_parse_event(const char *json);

/*
 * A copy of bytes[0..length) in a heap buffer of exactly that size, so that
 * valgrind or AddressSanitizer catches a read past its end; free() it.
 */
extern uint8_t *test_exact_copy(const uint8_t *bytes, size_t length);

/* xorshift64* generator: the same seed gives the same sequence everywhere */
typedef struct TestRandom
{
	uint64_t	state;
} TestRandom;

extern uint64_t test_random_next(TestRandom *random);

/* uniform in [0, bound) for bound > 0 */
extern uint64_t test_random_below(TestRandom *random, uint64_t bound);

/*
 * A randomly damaged test_exact_copy of bytes[0..length): one time in four
 * cut to a shorter length, then one to four bits flipped.  Sets
 * *damaged_length; free() it.
 */
extern uint8_t *test_damaged_copy(TestRandom *random, const uint8_t *bytes, size_t length,
								  size_t *damaged_length);

#endif							/* AXS_TEST_SUPPORT_H */
