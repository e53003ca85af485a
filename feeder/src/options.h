/*
 * options.h
 *		axs-feeder settings: command-line flags, AXS_* environment variables
 *		(flags win) and librdkafka properties given with -X key=value.
 *
 * Only parses and checks values; does not act on them.
 */
#ifndef AXS_FEEDER_OPTIONS_H
#define AXS_FEEDER_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FEEDER_VERSION "0.1.0"

#define FEEDER_DEFAULT_BATCH_ROWS 10000
#define FEEDER_DEFAULT_BATCH_MS 50
#define FEEDER_DEFAULT_MAX_BATCH_RETRIES 5
#define FEEDER_DEFAULT_OUTCOMES_BATCH 20000

/* Most topics one feeder may subscribe to. */
#define FEEDER_MAX_TOPICS 64

/* Most -X properties. */
#define FEEDER_MAX_KAFKA_PROPERTIES 64

typedef struct KafkaProperty
{
	char	   *key;
	char	   *value;
} KafkaProperty;

typedef struct FeederOptions
{
	char	   *brokers;
	char	   *topics[FEEDER_MAX_TOPICS];
	int			topic_count;
	char	   *group;
	char	   *conninfo;
	int			batch_rows;
	int			batch_ms;
	int			metrics_port;	/* 0: no metrics endpoint */
	bool		synchronous_commit; /* batches wait for their WAL flush */
	int			max_batch_retries;	/* permanent errors retried before stopping */
	int64_t		offsets_for_time_ms;	/* --offsets-for-time, ms since the epoch */
	char	   *outcomes_topic; /* NULL: decided events are not published */
	int			outcomes_batch; /* most events per outcome transaction */
	KafkaProperty kafka_properties[FEEDER_MAX_KAFKA_PROPERTIES];
	int			kafka_property_count;
} FeederOptions;

typedef enum OptionsResult
{
	OPTIONS_RUN,				/* options complete, start feeding, publishing or both */
	OPTIONS_OFFSETS_FOR_TIME,	/* --offsets-for-time: print offsets, exit */
	OPTIONS_HELP,				/* --help given */
	OPTIONS_VERSION,			/* --version given */
	OPTIONS_ERROR				/* message in the error buffer */
} OptionsResult;

/*
 * Fill options from argv and the environment (getenv).  On OPTIONS_ERROR a
 * one-line message is left in error.
 */
extern OptionsResult options_parse(int argc, char **argv, FeederOptions *options,
								   char *error, size_t error_size);

extern void options_free(FeederOptions *options);

/*
 * Parse a time for --offsets-for-time: milliseconds since the Unix epoch,
 * or YYYY-MM-DD[T| ]HH:MM[:SS[.fff]] followed by a time zone (Z, +HH,
 * +HHMM or +HH:MM; never guessed).  false if it is neither.
 */
extern bool options_parse_time(const char *text, int64_t *unix_ms);

/* The --help text. */
extern const char *options_usage(void);

#endif							/* AXS_FEEDER_OPTIONS_H */
