/*
 * clock.h
 *		Time helpers shared by the feeder and the load generator: monotonic
 *		milliseconds for deadlines and rates, wall-clock milliseconds for
 *		timestamps, and sleeps that end early when a stop is asked.
 *
 * A client-program utility, in the core library for the reason log.h
 * gives: every client program links it, and the extension, which waits on
 * its latch and never calls these, takes none of it into axs.so.
 */
#ifndef AXS_CLOCK_H
#define AXS_CLOCK_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: only differences are meaningful. */
extern int64_t clock_monotonic_ms(void);

/* Microseconds of CLOCK_MONOTONIC. */
extern int64_t clock_monotonic_us(void);

/* Milliseconds since the Unix epoch. */
extern int64_t clock_wall_ms(void);

/* Microseconds since the Unix epoch. */
extern int64_t clock_wall_us(void);

/* Sleep; returns early (EINTR) when a signal arrives. */
extern void clock_sleep_ms(int64_t milliseconds);

/*
 * Sleep in slices of at most 100 ms until milliseconds have passed or
 * *running is 0 (a signal may be delivered to another thread, so EINTR
 * alone cannot be relied on).  false if stopped first.
 */
extern bool clock_sleep_while_running(int64_t milliseconds, volatile sig_atomic_t *running);

#endif							/* AXS_CLOCK_H */
