/*
 * feeder.h
 *		The axs-feeder runtime: the poll loop that fills batches, the flush
 *		that writes them, the rebalance handling that keeps ownership in
 *		PostgreSQL, and the recovery after a fenced or failed batch.
 */
#ifndef AXS_FEEDER_FEEDER_H
#define AXS_FEEDER_FEEDER_H

#include <signal.h>

#include "options.h"

/* Exit statuses of axs-feeder (documented in feeder/README.md). */
#define FEEDER_EXIT_OK 0			/* stopped by SIGTERM/SIGINT */
#define FEEDER_EXIT_FATAL 1			/* any other fatal error (Kafka setup, metrics port, ...) */
#define FEEDER_EXIT_USAGE 2			/* bad flags, environment or connection string */
#define FEEDER_EXIT_PERMANENT 3		/* a PostgreSQL error retrying cannot fix */
#define FEEDER_EXIT_OFFSET_LOST 4	/* a stored offset is no longer in Kafka */
#define FEEDER_EXIT_OUTCOME_TOPIC 5 /* the outcome topic holds what publishing
									 * cannot resume from */

/*
 * Consume options->topics into the inbox until *running becomes 0
 * (SIGTERM/SIGINT, or the outcome publisher's fatal error) or a fatal
 * error.  options->conninfo has been checked.  Returns the process exit
 * status, one of FEEDER_EXIT_*.
 */
extern int	feeder_run(const FeederOptions *options, volatile sig_atomic_t *running);

#endif							/* AXS_FEEDER_FEEDER_H */
