/*
 * metrics.c
 *		Feeder metrics and their Prometheus endpoint (see metrics.h).
 */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "clock.h"
#include "log.h"

/* Upper bounds (seconds) of the batch latency histogram buckets. */
static const double latency_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0
};
#define LATENCY_BUCKETS (sizeof(latency_bounds) / sizeof(latency_bounds[0]))

/*
 * The outcome latency summary: 0.1 ms buckets up to 10 s, and one for
 * everything above, so that its quantiles are exact to 0.1 ms.
 */
#define OUTCOME_LATENCY_BUCKET_US 100
#define OUTCOME_LATENCY_BUCKETS 100000
static const double outcome_quantiles[] = {0.5, 0.99, 0.999};

typedef struct PartitionLag
{
	char		topic[256];
	int32_t		partition;
	int64_t		lag;			/* -1: unknown */
} PartitionLag;

static uint64_t messages_consumed;
static uint64_t events_written;
static uint64_t dead_letters_written;
static uint64_t batches_written;
static uint64_t db_reconnects;
static uint64_t batch_failures[PG_ERROR_PERMANENT + 1];	/* by PgErrorClass */
static uint64_t latency_bucket_counts[LATENCY_BUCKETS];
static uint64_t latency_sum_usec;

static uint64_t outcomes_published;
static uint64_t outcome_transactions;
static uint64_t outcome_aborts;
static int64_t outcome_seq;
static int	outcome_publisher_active;
static uint64_t outcome_latency_counts[OUTCOME_LATENCY_BUCKETS + 1];
static uint64_t outcome_latency_sum_usec;
static uint64_t outcome_latency_count;
static int64_t outcome_latency_max_usec;

static pthread_mutex_t lag_mutex = PTHREAD_MUTEX_INITIALIZER;
static PartitionLag *lag_entries;
static int	lag_count;

static struct MHD_Daemon *metrics_daemon;

/* Progress-line state, used by the feeder thread only. */
static int64_t progress_last_ms;
static uint64_t progress_last_written;

static uint64_t
counter_read(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

static void
counter_add(uint64_t *counter, uint64_t amount)
{
	__atomic_fetch_add(counter, amount, __ATOMIC_RELAXED);
}

void
metrics_count_consumed(uint64_t messages)
{
	counter_add(&messages_consumed, messages);
}

void
metrics_count_batch(uint64_t events, uint64_t dead_letters, double latency_seconds)
{
	size_t		i;

	counter_add(&events_written, events);
	counter_add(&dead_letters_written, dead_letters);
	counter_add(&batches_written, 1);
	counter_add(&latency_sum_usec, (uint64_t) (latency_seconds * 1e6));
	/* Buckets are stored non-cumulative; the exposition sums them. */
	for (i = 0; i < LATENCY_BUCKETS; i++)
		if (latency_seconds <= latency_bounds[i])
			break;
	if (i < LATENCY_BUCKETS)
		counter_add(&latency_bucket_counts[i], 1);
}

void
metrics_count_db_reconnect(void)
{
	counter_add(&db_reconnects, 1);
}

void
metrics_count_batch_failure(PgErrorClass error_class)
{
	counter_add(&batch_failures[error_class], 1);
}

void
metrics_count_outcome_transaction(uint64_t messages)
{
	counter_add(&outcomes_published, messages);
	counter_add(&outcome_transactions, 1);
}

void
metrics_count_outcome_abort(void)
{
	counter_add(&outcome_aborts, 1);
}

void
metrics_set_outcome_seq(int64_t seq)
{
	__atomic_store_n(&outcome_seq, seq, __ATOMIC_RELAXED);
}

void
metrics_set_outcome_publisher_active(bool active)
{
	__atomic_store_n(&outcome_publisher_active, active ? 1 : 0, __ATOMIC_RELAXED);
}

void
metrics_observe_outcome_latency(int64_t latency_us)
{
	int64_t		bucket;
	int64_t		largest = __atomic_load_n(&outcome_latency_max_usec, __ATOMIC_RELAXED);

	if (latency_us < 0)
		latency_us = 0;			/* a producer's clock ahead of ours */
	bucket = latency_us / OUTCOME_LATENCY_BUCKET_US;
	if (bucket > OUTCOME_LATENCY_BUCKETS)
		bucket = OUTCOME_LATENCY_BUCKETS;
	counter_add(&outcome_latency_counts[bucket], 1);
	counter_add(&outcome_latency_sum_usec, (uint64_t) latency_us);
	counter_add(&outcome_latency_count, 1);
	while (latency_us > largest &&
		   !__atomic_compare_exchange_n(&outcome_latency_max_usec, &largest, latency_us, true,
										__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

double
metrics_outcome_latency_quantile(double quantile)
{
	uint64_t	total = 0;
	uint64_t	rank;
	uint64_t	cumulative = 0;
	double		largest = (double) __atomic_load_n(&outcome_latency_max_usec, __ATOMIC_RELAXED) / 1e6;
	int			bucket;

	for (bucket = 0; bucket <= OUTCOME_LATENCY_BUCKETS; bucket++)
		total += counter_read(&outcome_latency_counts[bucket]);
	if (total == 0)
		return NAN;
	/* the smallest rank r with r >= quantile * total, at least 1 */
	rank = (uint64_t) (quantile * (double) total);
	if ((double) rank < quantile * (double) total || rank < 1)
		rank++;
	for (bucket = 0; bucket < OUTCOME_LATENCY_BUCKETS; bucket++)
	{
		cumulative += counter_read(&outcome_latency_counts[bucket]);
		if (cumulative >= rank)
		{
			double		upper = (double) ((bucket + 1) * OUTCOME_LATENCY_BUCKET_US) / 1e6;

			return upper < largest ? upper : largest;
		}
	}
	return largest;
}

/* Failed batches of every class. */
static uint64_t
batch_failures_total(void)
{
	return counter_read(&batch_failures[PG_ERROR_FENCED]) +
		counter_read(&batch_failures[PG_ERROR_TRANSIENT]) +
		counter_read(&batch_failures[PG_ERROR_PERMANENT]);
}

void
metrics_publish_lag(const PartitionTable *table)
{
	PartitionLag *entries = NULL;
	int			i;

	if (table->count > 0)
	{
		entries = calloc((size_t) table->count, sizeof(PartitionLag));
		if (entries == NULL)
			return;				/* keep the previous figures */
	}
	for (i = 0; i < table->count; i++)
	{
		const OwnedPartition *owned = &table->entries[i];
		int64_t		written = owned->committed_next_offset;

		snprintf(entries[i].topic, sizeof(entries[i].topic), "%s", owned->topic);
		entries[i].partition = owned->partition;
		entries[i].lag = owned->high_watermark < 0 ? -1 :
			(owned->high_watermark > written ? owned->high_watermark - written : 0);
	}
	pthread_mutex_lock(&lag_mutex);
	free(lag_entries);
	lag_entries = entries;
	lag_count = table->count;
	pthread_mutex_unlock(&lag_mutex);
}

/* Sum of the known lags; -1 if none is known. */
static int64_t
total_lag(void)
{
	int64_t		total = -1;
	int			i;

	pthread_mutex_lock(&lag_mutex);
	for (i = 0; i < lag_count; i++)
		if (lag_entries[i].lag >= 0)
			total = (total < 0 ? 0 : total) + lag_entries[i].lag;
	pthread_mutex_unlock(&lag_mutex);
	return total;
}

/* Append formatted text to a growing string; returns false on overflow. */
static bool
append(char **text, size_t *length, size_t *capacity, const char *format,...)
	__attribute__((format(printf, 4, 5)));

static bool
append(char **text, size_t *length, size_t *capacity, const char *format,...)
{
	for (;;)
	{
		va_list		args;
		int			written;

		va_start(args, format);
		written = vsnprintf(*text + *length, *capacity - *length, format, args);
		va_end(args);
		if (written < 0)
			return false;
		if ((size_t) written < *capacity - *length)
		{
			*length += (size_t) written;
			return true;
		}
		else
		{
			char	   *grown = realloc(*text, *capacity * 2 + (size_t) written);

			if (grown == NULL)
				return false;
			*text = grown;
			*capacity = *capacity * 2 + (size_t) written;
		}
	}
}

/* The outcome publisher's part of the exposition; false on out of memory. */
static bool
metrics_render_outcomes(char **text, size_t *length, size_t *capacity)
{
	bool		ok;

	ok = append(text, length, capacity,
				"# HELP axs_feeder_outcomes_published_total Outcome messages committed to Kafka.\n"
				"# TYPE axs_feeder_outcomes_published_total counter\n"
				"axs_feeder_outcomes_published_total %" PRIu64 "\n"
				"# HELP axs_feeder_outcomes_transactions_total Outcome transactions committed.\n"
				"# TYPE axs_feeder_outcomes_transactions_total counter\n"
				"axs_feeder_outcomes_transactions_total %" PRIu64 "\n"
				"# HELP axs_feeder_outcomes_aborted_total Outcome transactions aborted.\n"
				"# TYPE axs_feeder_outcomes_aborted_total counter\n"
				"axs_feeder_outcomes_aborted_total %" PRIu64 "\n"
				"# HELP axs_feeder_outcomes_seq Seq of the last decided event this publisher knows the outcome topic holds.\n"
				"# TYPE axs_feeder_outcomes_seq gauge\n"
				"axs_feeder_outcomes_seq %" PRId64 "\n"
				"# HELP axs_feeder_outcomes_publisher_active 1 while this process holds the outcome topic's publisher lock.\n"
				"# TYPE axs_feeder_outcomes_publisher_active gauge\n"
				"axs_feeder_outcomes_publisher_active %d\n"
				"# HELP axs_feeder_outcome_latency_seconds Time from an event's queued_at to the commit of its outcome message.\n"
				"# TYPE axs_feeder_outcome_latency_seconds summary\n",
				counter_read(&outcomes_published), counter_read(&outcome_transactions),
				counter_read(&outcome_aborts),
				__atomic_load_n(&outcome_seq, __ATOMIC_RELAXED),
				__atomic_load_n(&outcome_publisher_active, __ATOMIC_RELAXED));
	for (size_t q = 0; ok && q < sizeof(outcome_quantiles) / sizeof(outcome_quantiles[0]); q++)
	{
		double		value = metrics_outcome_latency_quantile(outcome_quantiles[q]);

		ok = isnan(value) ?
			append(text, length, capacity,
				   "axs_feeder_outcome_latency_seconds{quantile=\"%g\"} NaN\n",
				   outcome_quantiles[q]) :
			append(text, length, capacity,
				   "axs_feeder_outcome_latency_seconds{quantile=\"%g\"} %.6f\n",
				   outcome_quantiles[q], value);
	}
	return ok && append(text, length, capacity,
						"axs_feeder_outcome_latency_seconds_sum %.6f\n"
						"axs_feeder_outcome_latency_seconds_count %" PRIu64 "\n",
						(double) counter_read(&outcome_latency_sum_usec) / 1e6,
						counter_read(&outcome_latency_count));
}

/* The Prometheus text exposition; NULL on out of memory. */
static char *
metrics_render(size_t *length_out)
{
	size_t		capacity = 4096;
	size_t		length = 0;
	char	   *text = malloc(capacity);
	uint64_t	cumulative = 0;
	bool		ok;
	size_t		i;
	int			p;

	if (text == NULL)
		return NULL;
	text[0] = '\0';
	ok = append(&text, &length, &capacity,
				"# HELP axs_feeder_messages_consumed_total Kafka messages received.\n"
				"# TYPE axs_feeder_messages_consumed_total counter\n"
				"axs_feeder_messages_consumed_total %" PRIu64 "\n"
				"# HELP axs_feeder_events_written_total Events committed into axs.inbox.\n"
				"# TYPE axs_feeder_events_written_total counter\n"
				"axs_feeder_events_written_total %" PRIu64 "\n"
				"# HELP axs_feeder_dead_letters_total Messages committed into axs.dead_letters.\n"
				"# TYPE axs_feeder_dead_letters_total counter\n"
				"axs_feeder_dead_letters_total %" PRIu64 "\n"
				"# HELP axs_feeder_batches_total Batches committed.\n"
				"# TYPE axs_feeder_batches_total counter\n"
				"axs_feeder_batches_total %" PRIu64 "\n"
				"# HELP axs_feeder_db_reconnects_total PostgreSQL reconnections.\n"
				"# TYPE axs_feeder_db_reconnects_total counter\n"
				"axs_feeder_db_reconnects_total %" PRIu64 "\n"
				"# HELP axs_feeder_batch_failures_total Batches not committed, by error class.\n"
				"# TYPE axs_feeder_batch_failures_total counter\n"
				"axs_feeder_batch_failures_total{class=\"fenced\"} %" PRIu64 "\n"
				"axs_feeder_batch_failures_total{class=\"transient\"} %" PRIu64 "\n"
				"axs_feeder_batch_failures_total{class=\"permanent\"} %" PRIu64 "\n"
				"# HELP axs_feeder_batch_latency_seconds Time from a batch's first message to its commit.\n"
				"# TYPE axs_feeder_batch_latency_seconds histogram\n",
				counter_read(&messages_consumed), counter_read(&events_written),
				counter_read(&dead_letters_written), counter_read(&batches_written),
				counter_read(&db_reconnects), counter_read(&batch_failures[PG_ERROR_FENCED]),
				counter_read(&batch_failures[PG_ERROR_TRANSIENT]),
				counter_read(&batch_failures[PG_ERROR_PERMANENT]));
	for (i = 0; ok && i < LATENCY_BUCKETS; i++)
	{
		cumulative += counter_read(&latency_bucket_counts[i]);
		ok = append(&text, &length, &capacity,
					"axs_feeder_batch_latency_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
					latency_bounds[i], cumulative);
	}
	ok = ok && append(&text, &length, &capacity,
					  "axs_feeder_batch_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
					  "axs_feeder_batch_latency_seconds_sum %.6f\n"
					  "axs_feeder_batch_latency_seconds_count %" PRIu64 "\n"
					  "# HELP axs_feeder_consumer_lag Messages in Kafka not yet committed to PostgreSQL.\n"
					  "# TYPE axs_feeder_consumer_lag gauge\n",
					  counter_read(&batches_written),
					  (double) counter_read(&latency_sum_usec) / 1e6,
					  counter_read(&batches_written));
	pthread_mutex_lock(&lag_mutex);
	for (p = 0; ok && p < lag_count; p++)
		if (lag_entries[p].lag >= 0)
			ok = append(&text, &length, &capacity,
						"axs_feeder_consumer_lag{topic=\"%s\",partition=\"%d\"} %" PRId64 "\n",
						lag_entries[p].topic, lag_entries[p].partition,
						lag_entries[p].lag);
	pthread_mutex_unlock(&lag_mutex);
	ok = ok && metrics_render_outcomes(&text, &length, &capacity);
	if (!ok)
	{
		free(text);
		return NULL;
	}
	*length_out = length;
	return text;
}

static enum MHD_Result
metrics_handle_request(void *closure, struct MHD_Connection *connection,
					   const char *url, const char *method, const char *version,
					   const char *upload_data, size_t *upload_data_size,
					   void **request_state)
{
	struct MHD_Response *response;
	enum MHD_Result result;
	unsigned int status = MHD_HTTP_OK;
	char	   *body;
	size_t		length = 0;

	(void) closure;
	(void) version;
	(void) upload_data;
	(void) upload_data_size;
	(void) request_state;

	if (strcmp(method, "GET") != 0)
	{
		response = MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
		result = MHD_queue_response(connection, MHD_HTTP_METHOD_NOT_ALLOWED, response);
		MHD_destroy_response(response);
		return result;
	}
	if (strcmp(url, "/metrics") != 0 && strcmp(url, "/") != 0)
	{
		static const char not_found[] = "see /metrics\n";

		response = MHD_create_response_from_buffer(sizeof(not_found) - 1,
												   (void *) not_found,
												   MHD_RESPMEM_PERSISTENT);
		result = MHD_queue_response(connection, MHD_HTTP_NOT_FOUND, response);
		MHD_destroy_response(response);
		return result;
	}
	body = metrics_render(&length);
	if (body == NULL)
		return MHD_NO;
	response = MHD_create_response_from_buffer(length, body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(response, "Content-Type",
							"text/plain; version=0.0.4; charset=utf-8");
	result = MHD_queue_response(connection, status, response);
	MHD_destroy_response(response);
	return result;
}

bool
metrics_start(int port)
{
	metrics_daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
									  (uint16_t) port, NULL, NULL,
									  metrics_handle_request, NULL,
									  MHD_OPTION_END);
	if (metrics_daemon == NULL)
	{
		log_message("cannot serve metrics on port %d", port);
		return false;
	}
	log_message("metrics on http://0.0.0.0:%d/metrics", port);
	return true;
}

void
metrics_stop(void)
{
	if (metrics_daemon != NULL)
		MHD_stop_daemon(metrics_daemon);
	metrics_daemon = NULL;
	pthread_mutex_lock(&lag_mutex);
	free(lag_entries);
	lag_entries = NULL;
	lag_count = 0;
	pthread_mutex_unlock(&lag_mutex);
}

void
metrics_log_progress(void)
{
	int64_t		now = clock_monotonic_ms();
	uint64_t	written = counter_read(&events_written) + counter_read(&dead_letters_written);
	double		rate = 0.0;
	int64_t		lag = total_lag();
	char		lag_text[32];

	if (progress_last_ms != 0 && now > progress_last_ms)
		rate = (double) (written - progress_last_written) * 1000.0 /
			(double) (now - progress_last_ms);
	progress_last_ms = now;
	progress_last_written = written;
	if (lag < 0)
		snprintf(lag_text, sizeof(lag_text), "unknown");
	else
		snprintf(lag_text, sizeof(lag_text), "%" PRId64, lag);
	log_message("consumed %" PRIu64 ", written %" PRIu64 ", dead letters %" PRIu64
				", batches %" PRIu64 ", failed batches %" PRIu64 ", %.0f msg/s, lag %s",
				counter_read(&messages_consumed), counter_read(&events_written),
				counter_read(&dead_letters_written), counter_read(&batches_written),
				batch_failures_total(), rate, lag_text);
}
