/*
 * outcome_frame.h
 *		The layout of axs.outcome_frames_after's frames, one per decided
 *		event: the extension writes them (extension/src/outcome_stream_api.c),
 *		the feeder's publisher reads them (feeder/src/outcome_frames.c).
 *
 * A frame is a fixed header, its numbers big-endian, then the source
 * topic's name (OUTCOME_FRAME_TOPIC_LENGTH bytes, none without a source),
 * then the message (OUTCOME_FRAME_MESSAGE_LENGTH bytes).  A bytea returned
 * by the function holds whole frames one after the other.
 */
#ifndef AXS_OUTCOME_FRAME_H
#define AXS_OUTCOME_FRAME_H

/* Where each header field starts, and its size in bytes. */
#define OUTCOME_FRAME_SEQ 0				/* int64: the decision sequence number */
#define OUTCOME_FRAME_ID 8				/* int64: the event id */
#define OUTCOME_FRAME_QUEUED_AT 16		/* int64: microseconds since 2000-01-01 */
#define OUTCOME_FRAME_SOURCE_OFFSET 24	/* int64 */
#define OUTCOME_FRAME_SOURCE_PARTITION 32	/* int32 */
#define OUTCOME_FRAME_MESSAGE_LENGTH 36 /* int32 */
#define OUTCOME_FRAME_FLAGS 40			/* int16: OUTCOME_FRAME_HAS_* */
#define OUTCOME_FRAME_TOPIC_LENGTH 42	/* int16 */
#define OUTCOME_FRAME_HEADER_BYTES 44

/* Flags: which of the header's optional fields are set. */
#define OUTCOME_FRAME_HAS_SOURCE 1		/* source topic, partition and offset */
#define OUTCOME_FRAME_HAS_QUEUED_AT 2

#endif							/* AXS_OUTCOME_FRAME_H */
