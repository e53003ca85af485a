/*
 * pacer.h
 *		axs-loadgen's rate limiter: message i is due i/rate seconds after
 *		the start, and a producer that fell behind (starved of CPU, or
 *		blocked on a full queue) catches up at most PACER_MAX_BEHIND_US of
 *		its schedule at full speed; the rest of a stall is not made up.
 *		Catching up a whole stall at once is a burst at whatever speed the
 *		machine allows, which a broker with little retention (the embedded
 *		one holds ~5 MiB a partition) may not keep until it is read.
 *
 * Pure: the caller passes the clock and sleeps.
 */
#ifndef AXS_TOOLS_PACER_H
#define AXS_TOOLS_PACER_H

#include <stdint.h>

/* The most of its schedule a late producer makes up at full speed. */
#define PACER_MAX_BEHIND_US 100000

typedef struct Pacer
{
	int64_t		rate;			/* messages a second; 0: no limit */
	int64_t		start_us;		/* when message first_index was due */
	int64_t		first_index;
} Pacer;

extern void pacer_start(Pacer *pacer, int64_t rate, int64_t now_us);

/*
 * Microseconds to wait before sending message index (0: send it now).
 * Indexes count up from 0, one call per message or per group of them.
 */
extern int64_t pacer_wait_us(Pacer *pacer, int64_t index, int64_t now_us);

#endif							/* AXS_TOOLS_PACER_H */
