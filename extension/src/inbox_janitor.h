/*
 * inbox_janitor.h
 *		Emptying the inbox segments whose rows are all applied.
 */
#ifndef AXS_INBOX_JANITOR_H
#define AXS_INBOX_JANITOR_H

/*
 * Truncate the segments that hold no row after watermark, each in a
 * transaction of its own; previous_watermark < 0 looks at every segment,
 * otherwise only those the move from previous_watermark can have emptied.
 * A segment another session is using is tried again up to retries times,
 * 100 ms apart (0 for the applier itself, which must not wait).
 */
extern void axs_inbox_truncate_applied(int64 watermark, int64 previous_watermark, int retries);

/* Start an "axs inbox janitor" worker for axs_inbox_truncate_applied; false if none could be. */
extern bool axs_inbox_start_janitor(int64 watermark, int64 previous_watermark);

#endif							/* AXS_INBOX_JANITOR_H */
