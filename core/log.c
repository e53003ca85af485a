/*
 * log.c
 *		Timestamped stderr lines (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static const char *log_program = "axs";

void
log_set_program(const char *program)
{
	log_program = program;
}

void
log_message(const char *format,...)
{
	char		line[2048];
	char		stamp[32];
	struct timespec now;
	struct tm	utc;
	va_list		args;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &utc);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);

	va_start(args, format);
	vsnprintf(line, sizeof(line), format, args);
	va_end(args);

	/* One fprintf per line so that lines from several threads do not mix. */
	fprintf(stderr, "%s.%03ldZ %s: %s\n", stamp, now.tv_nsec / 1000000,
			log_program, line);
}
