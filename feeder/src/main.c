/*
 * main.c
 *		axs-feeder entry point: options, signal handling, the metrics
 *		endpoint, and the feeder's lifecycle (or the --offsets-for-time
 *		lookup, which needs none of them).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "feeder.h"
#include "log.h"
#include "metrics.h"
#include "offsets_for_time.h"
#include "options.h"

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

	install_signal_handlers();
	if (options.metrics_port > 0 && !metrics_start(options.metrics_port))
	{
		options_free(&options);
		return FEEDER_EXIT_FATAL;
	}
	exit_status = feeder_run(&options, &running);
	metrics_stop();
	options_free(&options);
	return exit_status;
}
