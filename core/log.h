/*
 * log.h
 *		One-line, timestamped diagnostics on stderr for the axs client
 *		programs (axs-feeder, axs-broker, axs-loadgen).  stdout is left to
 *		program output (axs-broker prints its address there, axs-loadgen may
 *		write events there).
 *
 * A client-program utility: it lives in the core library because every
 * client program links that library already, as PostgreSQL's src/common
 * holds its client programs' logging beside the code it shares with the
 * server.  The extension reports through ereport and never calls it, so the
 * linker takes none of it into axs.so.
 */
#ifndef AXS_LOG_H
#define AXS_LOG_H

/* Name printed after the timestamp, e.g. "axs-feeder". */
extern void log_set_program(const char *program);

extern void log_message(const char *format,...) __attribute__((format(printf, 1, 2)));

#endif							/* AXS_LOG_H */
