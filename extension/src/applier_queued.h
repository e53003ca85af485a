/*
 * applier_queued.h
 *		A queued event within an applier batch, and what became of it: the
 *		types the batch pipeline (applier_batch.c) and its sorting out of
 *		duplicates (applier_dedupe.c) share.  Types only.
 */
#ifndef AXS_APPLIER_QUEUED_H
#define AXS_APPLIER_QUEUED_H

#include "ledger.h"

/* Outcome of one queued event within a batch. */
typedef enum QueuedOutcome
{
	QUEUED_PENDING,
	QUEUED_DECIDED,				/* reason says applied or rejected */
	QUEUED_DUPLICATE,			/* same id, same content as a recorded event */
	QUEUED_ID_REUSED,			/* same id, other content: recorded in id_conflicts */
	QUEUED_DEAD_LETTER			/* no valid event: kept in dead_letters, its id stays free */
} QueuedOutcome;

typedef struct QueuedEvent
{
	int64		position;
	int64		id;
	Datum		queued_at;
	bytea	   *payload;
	int32		source_topic;	/* the Kafka message it came from; 0: none */
	int32		source_partition;
	int64		source_offset;
	QueuedOutcome outcome;
	AxsReason	reason;			/* while pending: what expanding it found */
	int			first_leg;
	int			nlegs;
	AxsEventKind kind;
	char	   *invalid;		/* dead letter: why */
} QueuedEvent;

#endif							/* AXS_APPLIER_QUEUED_H */
