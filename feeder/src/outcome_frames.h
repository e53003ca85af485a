/*
 * outcome_frames.h
 *		The decided events as axs.outcome_frames_after packs them for the
 *		outcome publisher: one frame per event (its layout in
 *		core/outcome_frame.h), read into rows that point into the frames,
 *		with the key and the source headers' texts.
 *
 * Pure: no I/O.  Every length is checked against the bytes there are, so
 * frames that do not parse are refused whole, never read past.
 */
#ifndef AXS_FEEDER_OUTCOME_FRAMES_H
#define AXS_FEEDER_OUTCOME_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decimal.h"
#include "outcome_frame.h"

/*
 * One decided event.  The texts are the row's own (the array of rows may
 * move as it grows); source_topic and message point into the frames.
 */
typedef struct OutcomeRow
{
	int64_t		seq;			/* the ledger's decision sequence number */
	char		id[DECIMAL_INT64_BYTES];	/* the event id in decimal: the message key */
	size_t		id_length;
	bool		has_source;		/* it came from Kafka: the source fields are set */
	const char *source_topic;	/* not NUL-terminated */
	size_t		source_topic_length;
	int32_t		source_partition;
	char		source_partition_text[DECIMAL_INT64_BYTES];	/* decimal */
	size_t		source_partition_text_length;
	char		source_offset_text[DECIMAL_INT64_BYTES];	/* decimal */
	size_t		source_offset_text_length;
	bool		has_queued_at;	/* false for a synchronous call */
	int64_t		queued_at_us;	/* microseconds since the Unix epoch */
	const char *message;		/* the complete JSON message value */
	size_t		message_length;
} OutcomeRow;

/*
 * Read the frames of data[0 .. length) into *rows after the *count there
 * are, growing *rows (realloc) and *capacity as needed, and *count with
 * them.  False, with a reason in error, when a frame is cut short or
 * names more bytes than there are.
 */
extern bool outcome_frames_read(const char *data, size_t length, OutcomeRow **rows,
								int *capacity, int *count, char *error, size_t error_size);

#endif							/* AXS_FEEDER_OUTCOME_FRAMES_H */
