/*
 * pacer.c
 *		axs-loadgen's rate limiter (see pacer.h).
 */
#include "pacer.h"

void
pacer_start(Pacer *pacer, int64_t rate, int64_t now_us)
{
	pacer->rate = rate;
	pacer->start_us = now_us;
	pacer->first_index = 0;
}

int64_t
pacer_wait_us(Pacer *pacer, int64_t index, int64_t now_us)
{
	int64_t		due_us;

	if (pacer->rate <= 0)
		return 0;
	due_us = pacer->start_us + (index - pacer->first_index) * 1000000 / pacer->rate;
	if (now_us - due_us > PACER_MAX_BEHIND_US)
	{
		/* too late: this message was due PACER_MAX_BEHIND_US ago, no earlier */
		pacer->start_us = now_us - PACER_MAX_BEHIND_US;
		pacer->first_index = index;
		return 0;
	}
	return due_us > now_us ? due_us - now_us : 0;
}
