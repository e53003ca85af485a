/*
 * log.h
 *		One-line, timestamped diagnostics on stderr for the axs programs.
 *		stdout is left to program output (axs-broker prints its address
 *		there, axs-loadgen may write events there).
 */
#ifndef AXS_FEEDER_LOG_H
#define AXS_FEEDER_LOG_H

/* Name printed after the timestamp, e.g. "axs-feeder". */
extern void log_set_program(const char *program);

extern void log_message(const char *format,...) __attribute__((format(printf, 1, 2)));

#endif							/* AXS_FEEDER_LOG_H */
