/*
 * writer.c
 *		The writer thread and its bounded queue (see writer.h).
 *
 * One mutex guards the queue, the finished list and the failure flag; the
 * writer waits on work_ready, the poll thread on progress.  A batch belongs
 * to the poll thread until writer_submit and again after
 * writer_take_finished; in between only the writer touches it.
 */
#include "writer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

/* Finished batches not yet taken back: at most the whole pool. */
#define WRITER_FINISHED_MAX 8

typedef struct FinishedBatch
{
	Batch	   *batch;
	WriterOutcome outcome;
	PgError		error;			/* valid for WRITER_FAILED and WRITER_FENCED */
} FinishedBatch;

struct Writer
{
	PgSink	   *sink;
	pthread_t	thread;
	pthread_mutex_t mutex;
	pthread_cond_t work_ready;	/* a batch was queued, or stop asked */
	pthread_cond_t progress;	/* a batch finished */
	Batch	   *queue[WRITER_QUEUE_LENGTH];
	int			queue_head;
	int			queue_count;	/* pending, the one being written included */
	FinishedBatch finished[WRITER_FINISHED_MAX];
	int			finished_count;
	bool		failed;
	bool		stopping;
};

/*
 * Write one batch in its own transaction; runs without the mutex.  On
 * failure *error says why.
 */
static WriterOutcome
writer_write(Writer *writer, Batch *batch, PgError *error)
{
	bool		new_session;
	PgSinkStatus status;

	/* A new session lacks the locks; pg_sink_write_batch refuses it. */
	if (!pg_sink_ensure_connected(writer->sink, &new_session))
	{
		*error = writer->sink->last_error;
		return WRITER_FAILED;
	}
	status = pg_sink_write_batch(writer->sink, batch);
	if (status != PG_SINK_OK)
	{
		*error = writer->sink->last_error;
		return status == PG_SINK_FENCED ? WRITER_FENCED : WRITER_FAILED;
	}
	metrics_count_batch((uint64_t) batch->inbox_row_count,
						(uint64_t) writer->sink->dead_letters_inserted,
						(double) (clock_monotonic_ms() - batch->first_message_ms) / 1000.0);
	return WRITER_WRITTEN;
}

static void *
writer_main(void *argument)
{
	Writer	   *writer = argument;

	pthread_mutex_lock(&writer->mutex);
	for (;;)
	{
		Batch	   *batch;
		bool		discard;
		WriterOutcome outcome;
		PgError		error;

		while (writer->queue_count == 0 && !writer->stopping)
			pthread_cond_wait(&writer->work_ready, &writer->mutex);
		if (writer->queue_count == 0)
			break;
		batch = writer->queue[writer->queue_head];
		discard = writer->failed;
		pthread_mutex_unlock(&writer->mutex);

		memset(&error, 0, sizeof(error));
		outcome = discard ? WRITER_DISCARDED : writer_write(writer, batch, &error);

		pthread_mutex_lock(&writer->mutex);
		writer->queue_head = (writer->queue_head + 1) % WRITER_QUEUE_LENGTH;
		writer->queue_count--;
		if (writer->finished_count == WRITER_FINISHED_MAX)
		{
			fprintf(stderr, "axs-feeder: writer: too many finished batches\n");
			abort();
		}
		writer->finished[writer->finished_count].batch = batch;
		writer->finished[writer->finished_count].outcome = outcome;
		writer->finished[writer->finished_count].error = error;
		writer->finished_count++;
		if (outcome != WRITER_WRITTEN)
			writer->failed = true;
		pthread_cond_broadcast(&writer->progress);
	}
	pthread_mutex_unlock(&writer->mutex);
	return NULL;
}

Writer *
writer_start(PgSink *sink)
{
	Writer	   *writer = calloc(1, sizeof(Writer));
	int			error;

	if (writer == NULL)
	{
		log_message("cannot start the writer: out of memory");
		return NULL;
	}
	writer->sink = sink;
	pthread_mutex_init(&writer->mutex, NULL);
	pthread_cond_init(&writer->work_ready, NULL);
	pthread_cond_init(&writer->progress, NULL);
	error = pthread_create(&writer->thread, NULL, writer_main, writer);
	if (error != 0)
	{
		log_message("cannot start the writer thread: %s", strerror(error));
		pthread_cond_destroy(&writer->progress);
		pthread_cond_destroy(&writer->work_ready);
		pthread_mutex_destroy(&writer->mutex);
		free(writer);
		return NULL;
	}
	return writer;
}

void
writer_stop(Writer *writer)
{
	pthread_mutex_lock(&writer->mutex);
	writer->stopping = true;
	pthread_cond_signal(&writer->work_ready);
	pthread_mutex_unlock(&writer->mutex);
	pthread_join(writer->thread, NULL);
	pthread_cond_destroy(&writer->progress);
	pthread_cond_destroy(&writer->work_ready);
	pthread_mutex_destroy(&writer->mutex);
	free(writer);
}

void
writer_submit(Writer *writer, Batch *batch)
{
	pthread_mutex_lock(&writer->mutex);
	while (writer->queue_count == WRITER_QUEUE_LENGTH)
		pthread_cond_wait(&writer->progress, &writer->mutex);
	writer->queue[(writer->queue_head + writer->queue_count) % WRITER_QUEUE_LENGTH] = batch;
	writer->queue_count++;
	pthread_cond_signal(&writer->work_ready);
	pthread_mutex_unlock(&writer->mutex);
}

Batch *
writer_take_finished(Writer *writer, WriterOutcome *outcome, PgError *error)
{
	Batch	   *batch = NULL;

	pthread_mutex_lock(&writer->mutex);
	if (writer->finished_count > 0)
	{
		batch = writer->finished[0].batch;
		*outcome = writer->finished[0].outcome;
		if (error != NULL)
			*error = writer->finished[0].error;
		writer->finished_count--;
		memmove(&writer->finished[0], &writer->finished[1],
				sizeof(FinishedBatch) * (size_t) writer->finished_count);
	}
	pthread_mutex_unlock(&writer->mutex);
	return batch;
}

void
writer_wait_idle(Writer *writer)
{
	pthread_mutex_lock(&writer->mutex);
	while (writer->queue_count > 0)
		pthread_cond_wait(&writer->progress, &writer->mutex);
	pthread_mutex_unlock(&writer->mutex);
}

bool
writer_idle(Writer *writer)
{
	bool		idle;

	pthread_mutex_lock(&writer->mutex);
	idle = writer->queue_count == 0;
	pthread_mutex_unlock(&writer->mutex);
	return idle;
}

bool
writer_failed(Writer *writer)
{
	bool		failed;

	pthread_mutex_lock(&writer->mutex);
	failed = writer->failed;
	pthread_mutex_unlock(&writer->mutex);
	return failed;
}

void
writer_clear_failure(Writer *writer)
{
	pthread_mutex_lock(&writer->mutex);
	writer->failed = false;
	pthread_mutex_unlock(&writer->mutex);
}
