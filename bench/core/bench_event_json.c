/*
 * bench_event_json.c
 *		Microbenchmark of axs_event_from_json: decodes a mix of typical
 *		events (deposit, withdraw, freeze, unfreeze, transfer, trade, legs)
 *		and prints the cost per event.  Also times, on the same mix, the
 *		reference decoder alone (json-c for every text) and json-c's own
 *		parse, the floor of any decoder built on json-c: the fast path
 *		(core/event_json_fast.c) is measured against both.
 *
 * Not a test: `make -C bench event-json` builds and runs it; neither
 * `make test` nor `make bench` does.
 *
 *   bench/core/bench_event_json [events]     default 1000000
 *
 * Times are thread CPU time, and each figure is the best of ROUNDS rounds of
 * events / ROUNDS decodes, so that a busy machine (descheduling, other
 * processes' cache traffic) disturbs the figures as little as possible.
 */
#define _POSIX_C_SOURCE 200809L

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"

/* Roughly the mix the feeder sees: mostly trades, then deposits and freezes. */
static const char *const sample_events[] = {
	"{\"id\":6,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\","
	"\"base_amount\":2,\"quote_amount\":60000,\"buyer_fee\":0,\"seller_fee\":30,\"fee_account\":1}",
	"{\"id\":1,\"kind\":\"deposit\",\"account\":42,\"currency\":\"USDT\",\"amount\":1000}",
	"{\"id\":3,\"kind\":\"freeze\",\"account\":42,\"currency\":\"BTC\",\"amount\":7}",
	"{\"id\":16,\"kind\":\"trade\",\"buyer\":1042,\"seller\":2043,\"base\":\"ETH\",\"quote\":\"USDT\","
	"\"base_amount\":150000000,\"quote_amount\":450000000000,\"buyer_fee\":150000,\"seller_fee\":450000000,\"fee_account\":1}",
	"{\"id\":4,\"kind\":\"unfreeze\",\"account\":42,\"currency\":\"BTC\",\"amount\":7}",
	"{\"id\":2,\"kind\":\"withdraw\",\"account\":42,\"currency\":\"USDT\",\"amount\":10}",
	"{\"id\":5,\"kind\":\"transfer\",\"from\":42,\"to\":43,\"currency\":\"USDT\",\"amount\":5}",
	"{\"id\":8,\"kind\":\"trade\",\"buyer\":42,\"seller\":43,\"base\":\"BTC\",\"quote\":\"USDT\","
	"\"base_amount\":2,\"quote_amount\":60000}",
	"{\"id\":7,\"kind\":\"legs\",\"legs\":[{\"account\":42,\"currency\":\"USDT\",\"available\":-5,\"frozen\":5},"
	"{\"account\":43,\"currency\":\"BTC\",\"available\":3},{\"account\":44,\"currency\":\"BTC\",\"frozen\":-3}]}",
	"{\"id\":11,\"kind\":\"deposit\",\"account\":77,\"currency\":\"ETH\",\"amount\":123456789}",
};

#define SAMPLE_COUNT (sizeof(sample_events) / sizeof(sample_events[0]))
#define ROUNDS 5

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

typedef bool (*Decoder) (const char *text, size_t len, AxsEvent *out, AxsDecodeError *err);

/* Decode every sample count times in rotation; returns ns per event. */
static double
time_decoder(Decoder decode, long count, size_t only_sample, long *checksum)
{
	size_t		lengths[SAMPLE_COUNT];
	double		start;
	double		elapsed;

	for (size_t i = 0; i < SAMPLE_COUNT; i++)
		lengths[i] = strlen(sample_events[i]);
	start = now_seconds();
	for (long n = 0; n < count; n++)
	{
		size_t		i = only_sample < SAMPLE_COUNT ? only_sample : (size_t) n % SAMPLE_COUNT;
		AxsEvent	event;
		AxsDecodeError err;

		if (!decode(sample_events[i], lengths[i], &event, &err))
		{
			fprintf(stderr, "sample %zu did not decode: %s\n", i, err.message);
			exit(1);
		}
		*checksum += event.id;
	}
	elapsed = now_seconds() - start;
	return elapsed * 1e9 / (double) count;
}

/* json-c alone (one reused tokener, strict), for the same mix. */
static double
time_json_c_floor(long count)
{
	json_tokener *tokener = json_tokener_new();
	size_t		lengths[SAMPLE_COUNT];
	double		start;
	double		elapsed;

	json_tokener_set_flags(tokener, JSON_TOKENER_STRICT);
	for (size_t i = 0; i < SAMPLE_COUNT; i++)
		lengths[i] = strlen(sample_events[i]);
	start = now_seconds();
	for (long n = 0; n < count; n++)
	{
		size_t		i = (size_t) n % SAMPLE_COUNT;
		json_object *root;

		json_tokener_reset(tokener);
		root = json_tokener_parse_ex(tokener, sample_events[i], (int) lengths[i]);
		if (root == NULL)
		{
			fprintf(stderr, "json-c could not parse sample %zu\n", i);
			exit(1);
		}
		json_object_put(root);
	}
	elapsed = now_seconds() - start;
	json_tokener_free(tokener);
	return elapsed * 1e9 / (double) count;
}

/* Best of ROUNDS rounds of count / ROUNDS decodes, in ns per event. */
static double
best_decoder_round(Decoder decode, long count, size_t only_sample, long *checksum)
{
	double		best = 0;

	for (int round = 0; round < ROUNDS; round++)
	{
		double		ns = time_decoder(decode, count / ROUNDS, only_sample, checksum);

		if (round == 0 || ns < best)
			best = ns;
	}
	return best;
}

static double
best_json_c_round(long count)
{
	double		best = 0;

	for (int round = 0; round < ROUNDS; round++)
	{
		double		ns = time_json_c_floor(count / ROUNDS);

		if (round == 0 || ns < best)
			best = ns;
	}
	return best;
}

int
main(int argc, char **argv)
{
	long		count = argc > 1 ? atol(argv[1]) : 1000000;
	long		checksum = 0;

	if (count < ROUNDS)
	{
		fprintf(stderr, "usage: %s [events]\n", argv[0]);
		return 2;
	}
	/* warm up caches and the allocator */
	time_decoder(axs_event_from_json, count / 10 + 1, SAMPLE_COUNT, &checksum);

	printf("axs_event_from_json, %ld mixed events: %.0f ns/event\n",
		   count, best_decoder_round(axs_event_from_json, count, SAMPLE_COUNT, &checksum));
	printf("axs_event_from_json, trade only:         %.0f ns/event\n",
		   best_decoder_round(axs_event_from_json, count, 0, &checksum));
	printf("axs_event_from_json, deposit only:       %.0f ns/event\n",
		   best_decoder_round(axs_event_from_json, count, 1, &checksum));
	printf("reference decoder (json-c), mixed:       %.0f ns/event\n",
		   best_decoder_round(axs_event_from_json_reference, count, SAMPLE_COUNT, &checksum));
	printf("json-c parse alone, mixed:               %.0f ns/event\n",
		   best_json_c_round(count));
	return checksum == 0;
}
