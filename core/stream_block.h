/*
 * stream_block.h
 *		Blocks of the outcome stream: the ledger's decided events in decision
 *		order, a few kilobytes of small entries to a block, each entry
 *		stored as its differences from the entry before it.
 *
 * The ledger gives every decided event a decision sequence number (seq),
 * consecutive integers.  The applier packs the entries of consecutive seqs
 * into blocks and writes each as a row of axs.outcome_stream, which holds
 * the block's first_seq and last_seq; axs.outcomes_after reads the rows
 * after a seq and decodes their blocks.  So a block stores no seq, only
 * how many entries it holds: entry i of a block is seq first_seq + i.
 *
 * This module owns the encoding and its checks; it stores nothing and
 * allocates nothing.  It checks only that each value fits its field, not
 * what the value means (a kind of 0 or a negative ordinal round-trips).
 *
 * Encoding (varint: unsigned LEB128, 7 bits a byte, shortest form only;
 * zigzag: a signed value as a varint, 0 -1 1 -2 2 ... -> 0 1 2 3 4 ...;
 * no alignment and no byte order, so a dump restores on any machine):
 *
 *	 header		version u8 (1)
 *				entry_count varint (> 0)
 *	 entries	entry_count entries, back to back, in seq order; each is ten
 *				zigzags, one per field in this order:
 *				  id, history_unit, decided_at, queued_at, source_offset,
 *				  ordinal, source_topic, source_partition, reason, kind
 *				each the field's value minus the same field of the entry
 *				before (of an all-zero entry for the block's first entry)
 *
 * Differences of the int64 fields are taken modulo 2^64, so every value is
 * representable; those of the int32 and uint8 fields are exact (at most 5
 * and 2 bytes).  A block is malformed if it is longer than
 * AXS_STREAM_BLOCK_MAX, its version is not 1, its entry_count is 0 or more
 * than the bytes after the header hold at a byte a field, a varint is cut
 * off, longer than 64 bits or not in its shortest form, a field's value
 * (the entry before's plus the stored difference) does not fit the field
 * (an int32 or a uint8 out of range), or the bytes end before entry_count
 * entries or go on after them.  So every well-formed block is the one
 * axs_stream_block_pack makes of its entries.
 *
 * Pure C: no PostgreSQL headers, unit-tested with cmocka.
 */
#ifndef AXS_STREAM_BLOCK_H
#define AXS_STREAM_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest encoded block: a block row must fit in one 8 kB heap page. */
#define AXS_STREAM_BLOCK_MAX 7800

/* The layout described above. */
#define AXS_STREAM_BLOCK_VERSION 1

/* Fewest bytes of an entry: one a field. */
#define AXS_STREAM_ENTRY_MIN_BYTES 10

/*
 * Most bytes of an entry: 10 for each of the five int64 fields, 5 for each
 * of the three int32 fields, 2 for each of the two uint8 fields.
 */
#define AXS_STREAM_ENTRY_MAX_BYTES 69

/* Most entries a block holds: an output of this many fits any block. */
#define AXS_STREAM_BLOCK_MAX_ENTRIES (AXS_STREAM_BLOCK_MAX / AXS_STREAM_ENTRY_MIN_BYTES)

/* Most bytes of a header: the version and a count of at most 2 bytes. */
#define AXS_STREAM_HEADER_MAX_BYTES 3

/* A capacity that always holds a block of one entry. */
#define AXS_STREAM_BLOCK_MIN_CAPACITY (AXS_STREAM_HEADER_MAX_BYTES + AXS_STREAM_ENTRY_MAX_BYTES)

/*
 * One decided event, as the outcome stream tells it.  The 8-byte fields
 * first: 56 bytes an entry.
 */
typedef struct AxsStreamEntry
{
	int64_t		id;				/* the event's id */
	int64_t		history_unit;	/* locator of the first history block of the
								 * decision unit holding the event's history
								 * entries; 0: none */
	int64_t		decided_at;		/* microseconds since 2000-01-01 UTC
								 * (PostgreSQL's TimestampTz) */
	int64_t		queued_at;		/* the same unit; 0: not queued (a synchronous
								 * call) */
	int64_t		source_offset;	/* the Kafka offset; meaningful only when
								 * source_topic is not 0 */
	int32_t		ordinal;		/* the event's place in its decision unit, as
								 * in its history entries */
	int32_t		source_topic;	/* id of the Kafka topic it came from; 0: not
								 * from Kafka */
	int32_t		source_partition;
	uint8_t		reason;			/* AxsReason (ledger.h): 0 applied, else why it
								 * was rejected */
	uint8_t		kind;			/* AxsEventKind (event.h) */
} AxsStreamEntry;

/*
 * Pack the leading entries of entries[0..count) that fit in capacity bytes
 * into out as one block; a capacity above AXS_STREAM_BLOCK_MAX counts as
 * AXS_STREAM_BLOCK_MAX.  Returns the bytes written and sets *packed to how
 * many entries they hold.  Any entries are accepted, in any order.
 *
 * Packs at least one entry when count > 0 and capacity is at least
 * AXS_STREAM_BLOCK_MIN_CAPACITY; returns 0, writing nothing, with *packed
 * 0, when count is 0 or the first entry does not fit.  The caller packs
 * the rest from entries + *packed into the next block.
 */
extern size_t axs_stream_block_pack(const AxsStreamEntry *entries, size_t count,
									uint8_t *out, size_t capacity, size_t *packed);

/*
 * Set *count to the entries the block's header announces.  False, with
 * *count 0, if the header is malformed or announces more entries than the
 * bytes after it could hold; the entries themselves are not read.
 */
extern bool axs_stream_block_count(const uint8_t *block, size_t length, size_t *count);

/*
 * Decode the block into out[0..capacity), in seq order, and set *count to
 * its entries.  False, with *count 0, if the block is malformed or holds
 * more than capacity entries; out may then be partly written.  Reads
 * nothing outside block[0..length).
 */
extern bool axs_stream_block_read(const uint8_t *block, size_t length,
								  AxsStreamEntry *out, size_t capacity, size_t *count);

#endif							/* AXS_STREAM_BLOCK_H */
