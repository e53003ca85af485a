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

/*
 * Run until *running becomes 0 (SIGTERM/SIGINT) or a fatal error.  Returns
 * the process exit status.
 */
extern int	feeder_run(const FeederOptions *options, volatile sig_atomic_t *running);

#endif							/* AXS_FEEDER_FEEDER_H */
