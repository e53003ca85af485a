/*
 * clock.c
 *		Time helpers (see clock.h).
 */
#include "clock.h"

#include <time.h>

int64_t
clock_monotonic_ms(void)
{
	return clock_monotonic_us() / 1000;
}

int64_t
clock_monotonic_us(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

int64_t
clock_wall_ms(void)
{
	return clock_wall_us() / 1000;
}

int64_t
clock_wall_us(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

void
clock_sleep_ms(int64_t milliseconds)
{
	struct timespec delay;

	if (milliseconds <= 0)
		return;
	delay.tv_sec = milliseconds / 1000;
	delay.tv_nsec = (milliseconds % 1000) * 1000000;
	/* A signal interrupts the sleep so that shutdown is prompt. */
	nanosleep(&delay, NULL);
}

bool
clock_sleep_while_running(int64_t milliseconds, volatile sig_atomic_t *running)
{
	int64_t		deadline = clock_monotonic_ms() + milliseconds;

	while (*running)
	{
		int64_t		remaining = deadline - clock_monotonic_ms();

		if (remaining <= 0)
			return true;
		clock_sleep_ms(remaining < 100 ? remaining : 100);
	}
	return false;
}
