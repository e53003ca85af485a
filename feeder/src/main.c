/*
 * main.c
 *		axs-feeder entry point: options, signal handling, the metrics
 *		endpoint, and the lifecycle of the consumer path (--topic) and the
 *		outcome publisher (--outcomes-topic), either or both (or the
 *		--offsets-for-time lookup, which needs none of them).
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "clock.h"
#include "feeder.h"
#include "log.h"
#include "metrics.h"
#include "offsets_for_time.h"
#include "options.h"
#include "publisher.h"

static volatile sig_atomic_t running = 1;

static void
handle_stop_signal(int signal_number)
{
	(void) signal_number;
	running = 0;
}

static void
install_signal_handlers(void)
{
	struct sigaction action;

	memset(&action, 0, sizeof(action));
	action.sa_handler = handle_stop_signal;
	sigemptyset(&action.sa_mask);
	/* No SA_RESTART: a backoff sleep must end when a stop is asked. */
	sigaction(SIGINT, &action, NULL);
	sigaction(SIGTERM, &action, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * Every batch allocates and frees the same memory again: librdkafka's
 * produce and fetch buffers, per-message headers (allocated by the
 * publisher's thread, freed by a librdkafka thread), libpq's results.  By
 * default glibc hands the freed memory back to the kernel (buffers from
 * 128 KiB up are mmap'd, heap tops over 128 KiB trimmed), so the next
 * batch faults every page in again: that was half of the outcome
 * producer's CPU.  Keep it instead; the peak stays what a batch needs.
 */
#define KEEP_FREED_BYTES (256 * 1024 * 1024)
#define MMAP_FROM_BYTES (32 * 1024 * 1024)

static void
keep_freed_memory(void)
{
	mallopt(M_MMAP_THRESHOLD, MMAP_FROM_BYTES);
	mallopt(M_TRIM_THRESHOLD, KEEP_FREED_BYTES);
}

/* A connection string libpq cannot parse is bad usage, not an outage. */
static bool
conninfo_is_valid(const char *conninfo)
{
	char	   *conninfo_error = NULL;
	PQconninfoOption *conninfo_options = PQconninfoParse(conninfo, &conninfo_error);

	if (conninfo_options == NULL)
	{
		log_message("--db: %s", conninfo_error ? conninfo_error : "out of memory");
		PQfreemem(conninfo_error);
		return false;
	}
	PQconninfoFree(conninfo_options);
	return true;
}

/*
 * Run the consumer path, the publisher, or both, until a stop request or
 * a fatal error of either; the first failure's exit status.
 */
static int
run(const FeederOptions *options)
{
	Publisher  *publisher = NULL;
	int			exit_status = FEEDER_EXIT_OK;
	int			publisher_status;

	if (options->outcomes_topic != NULL)
	{
		publisher = publisher_start(options, &running);
		if (publisher == NULL)
			return FEEDER_EXIT_FATAL;
	}
	if (options->topic_count > 0)
		exit_status = feeder_run(options, &running);
	else
		while (running && !publisher_finished(publisher))
			clock_sleep_while_running(100, &running);
	/* either path's end ends the other */
	running = 0;
	if (publisher == NULL)
		return exit_status;
	publisher_status = publisher_stop(publisher);
	return exit_status != FEEDER_EXIT_OK ? exit_status : publisher_status;
}

int
main(int argc, char **argv)
{
	FeederOptions options;
	char		error[512];
	int			exit_status;

	log_set_program("axs-feeder");
	switch (options_parse(argc, argv, &options, error, sizeof(error)))
	{
		case OPTIONS_HELP:
			fputs(options_usage(), stdout);
			options_free(&options);
			return 0;
		case OPTIONS_VERSION:
			printf("axs-feeder %s\n", FEEDER_VERSION);
			options_free(&options);
			return 0;
		case OPTIONS_ERROR:
			fprintf(stderr, "axs-feeder: %s\nTry \"axs-feeder --help\".\n", error);
			options_free(&options);
			return FEEDER_EXIT_USAGE;
		case OPTIONS_OFFSETS_FOR_TIME:
			exit_status = offsets_for_time_run(&options);
			options_free(&options);
			return exit_status;
		case OPTIONS_RUN:
			break;
	}

	if (!conninfo_is_valid(options.conninfo))
	{
		options_free(&options);
		return FEEDER_EXIT_USAGE;
	}
	install_signal_handlers();
	keep_freed_memory();
	if (options.metrics_port > 0 && !metrics_start(options.metrics_port))
	{
		options_free(&options);
		return FEEDER_EXIT_FATAL;
	}
	exit_status = run(&options);
	metrics_stop();
	options_free(&options);
	return exit_status;
}
