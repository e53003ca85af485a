/*
 * clock.h
 *		Time helpers shared by the feeder and the load generator: monotonic
 *		milliseconds for deadlines and rates, wall-clock milliseconds for
 *		timestamps, and an interruptible sleep.
 */
#ifndef AXS_FEEDER_CLOCK_H
#define AXS_FEEDER_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: only differences are meaningful. */
extern int64_t clock_monotonic_ms(void);

/* Microseconds of CLOCK_MONOTONIC. */
extern int64_t clock_monotonic_us(void);

/* Milliseconds since the Unix epoch. */
extern int64_t clock_wall_ms(void);

/* Sleep; returns early (EINTR) when a signal arrives. */
extern void clock_sleep_ms(int64_t milliseconds);

#endif							/* AXS_FEEDER_CLOCK_H */
