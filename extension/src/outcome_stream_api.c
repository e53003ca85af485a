/*
 * outcome_stream_api.c
 *		axs.outcomes_after: the decided events after a decision sequence
 *		number, each with the message the outcome topic carries; and
 *		axs.outcome_frames_after, the same events packed into a few bytea
 *		values for the outcome publisher (axs-feeder).
 *
 * Reads the stream blocks (axs.outcome_stream) after the given seq and,
 * for each applied event, its entries in the history blocks of its
 * decision unit: the balances right after it.  An applier batch's unit is
 * decoded once and kept for the next call, which usually continues in it
 * (axs-feeder's publisher reads the stream front to back).  The tables are
 * read through SPI with the caller's rights; every query takes a new
 * snapshot, so a call that waits sees the batches committed meanwhile.
 *
 * The frames spare the publisher a row per event (a tuplestore row, seven
 * send functions and a DataRow message on the server, parsing that row in
 * libpq): a row is a bytea of FRAMES_ROW_BYTES or a little more, each
 * event one frame in it (core/outcome_frame.h).
 */
#include "postgres.h"

#include <malloc.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "applier_status.h"
#include "event.h"
#include "history_block.h"
#include "outcome_frame.h"
#include "pg_util.h"
#include "stream_block.h"

#define OUTCOMES_MAX_ROWS 100000
#define OUTCOMES_MAX_WAIT_MS 60000
/* Stream blocks fetched per query. */
#define BLOCKS_PER_QUERY 16

/* A bytea of frames is returned once it holds this many bytes. */
#define FRAMES_ROW_BYTES (256 * 1024)

/*
 * The decoded history of one decision unit: its entries in block order
 * (by account, currency), and an index by ordinal: the entries of ordinal o
 * are entries[order[first[o]]] .. entries[order[first[o + 1] - 1]].  The
 * arrays are kept, and only grown, from one unit to the next.
 */
typedef struct UnitHistory
{
	int64		unit;			/* 0: none kept */
	AxsHistoryEntry *entries;
	size_t		count;
	size_t		capacity;
	uint32	   *order;
	size_t		order_capacity;
	uint32	   *first;			/* max_ordinal + 2 of them */
	size_t		first_capacity;
	int32		max_ordinal;
} UnitHistory;

static UnitHistory kept_unit;

/*
 * A session that reads the stream (a publisher) calls this in a loop, each
 * call filling a tuplestore of a few megabytes that is freed at its end.
 * Keep freed memory in the process, as the applier does (applier.c), so
 * that the next call reuses those pages instead of faulting in fresh
 * zeroed ones: page faults were a third of such a session's time.
 */
#define READER_MMAP_THRESHOLD (32 * 1024 * 1024)
#define READER_TRIM_THRESHOLD (256 * 1024 * 1024)
static bool reader_memory_kept = false;

/*
 * Names by id, kept by the backend: as they are, as JSON strings (quoted,
 * escaped) and as text datums (made when first asked for).  They follow
 * their table as currency_cache.c's codes do: its statement trigger
 * (axs.cache_invalidate) queues a relcache invalidation, which drops them
 * (names_invalidate); and an id they do not hold makes them read again.
 */
typedef struct NameTable
{
	const char *query;			/* (integer id, text name) of every row */
	const char *relname;		/* the table, in schema axs */
	Oid			relid;
	MemoryContext context;		/* holds the arrays and the names; NULL: not read */
	char	  **names;
	char	  **quoted;
	Datum	   *texts;
	int			count;			/* ids 1 .. count - 1 */
} NameTable;

static NameTable currency_names = {.query = "SELECT id, code FROM axs.currencies", .relname = "currencies"};
static NameTable topic_names = {.query = "SELECT id, topic FROM axs.source_topics", .relname = "source_topics"};
static bool names_callback_registered = false;

typedef struct OutcomeCall
{
	ReturnSetInfo *rsinfo;		/* axs.outcomes_after: its rows go there */
	StringInfo	frames;			/* axs.outcome_frames_after: the frames of its next row */
	StringInfoData message;		/* a row's message */
	int			rows;
	TimestampTz rendered_at;	/* the decided_at last rendered, and its JSON */
	char		rendered_at_json[40];
} OutcomeCall;

static SPIPlanPtr blocks_plan = NULL;
static SPIPlanPtr history_plan = NULL;

static void
prepare_plans(void)
{
	Oid			blocks_types[2] = {INT8OID, INT4OID};
	Oid			history_types[2] = {INT8OID, INT4OID};

	if (history_plan != NULL)
		return;
	blocks_plan = axs_prepare_kept(
								   "SELECT s.first_seq, s.last_seq, s.entries FROM axs.outcome_stream AS s "
								   "WHERE s.last_seq OPERATOR(pg_catalog.>) $1 "
								   "ORDER BY s.last_seq USING OPERATOR(pg_catalog.<) LIMIT $2",
								   2, blocks_types);
	history_plan = axs_prepare_kept(
									"SELECT h.block, h.unit, h.entries FROM axs.history_blocks AS h "
									"WHERE h.block OPERATOR(pg_catalog.>=) $1 "
									"ORDER BY h.block USING OPERATOR(pg_catalog.<) LIMIT $2",
									2, history_types);
}

static void
stream_damaged(const char *what, int64 seq)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("the outcome stream is damaged at seq %lld: %s", (long long) seq, what),
			 errhint("Restore axs.outcome_stream and axs.history_blocks from a backup; they must never be written by hand.")));
}

static void
forget_names(NameTable *table)
{
	if (table->context != NULL)
		MemoryContextDelete(table->context);
	table->context = NULL;
	table->names = NULL;
	table->quoted = NULL;
	table->texts = NULL;
	table->count = 0;
}

/* Relcache invalidation of a names table (or of everything): forget its names. */
static void
names_invalidate(Datum argument, Oid relid)
{
	if (relid == InvalidOid || relid == currency_names.relid)
		forget_names(&currency_names);
	if (relid == InvalidOid || relid == topic_names.relid)
		forget_names(&topic_names);
}

/* Read the table's names again. */
static void
load_names(NameTable *table)
{
	Oid			relid = axs_table_oid(table->relname);
	MemoryContext context;
	char	  **names;
	char	  **quoted;
	int			count = 1;
	int			ret;

	if (!names_callback_registered)
	{
		CacheRegisterRelcacheCallback(names_invalidate, (Datum) 0);
		names_callback_registered = true;
	}
	ret = SPI_execute(table->query, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading names failed: %s", SPI_result_code_string(ret));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int32		id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));

		count = Max(count, id + 1);
	}
	/* built apart, and put in place only once complete */
	context = AllocSetContextCreate(TopMemoryContext, "axs outcome stream names", ALLOCSET_SMALL_SIZES);
	names = MemoryContextAllocZero(context, sizeof(char *) * count);
	quoted = MemoryContextAllocZero(context, sizeof(char *) * count);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int32		id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
		char	   *name = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2);

		if (id > 0)
		{
			MemoryContext caller = MemoryContextSwitchTo(context);
			StringInfoData json;

			names[id] = pstrdup(name);
			initStringInfo(&json);
			escape_json(&json, name);
			quoted[id] = json.data;
			MemoryContextSwitchTo(caller);
		}
	}
	SPI_freetuptable(SPI_tuptable);
	forget_names(table);
	table->relid = relid;
	table->context = context;
	table->names = names;
	table->quoted = quoted;
	table->texts = MemoryContextAllocZero(context, sizeof(Datum) * count);
	table->count = count;
}

/* Make sure id is in the table (reading it again once if not); else the stream is damaged. */
static void
require_name(NameTable *table, int32 id, const char *what, int64 seq)
{
	if (table->context == NULL || id <= 0 || id >= table->count || table->names[id] == NULL)
	{
		load_names(table);
		if (id <= 0 || id >= table->count || table->names[id] == NULL)
			stream_damaged(what, seq);
	}
}

static const char *
currency_json(int32 currency, int64 seq)
{
	require_name(&currency_names, currency, "an unknown currency", seq);
	return currency_names.quoted[currency];
}

static const char *
source_topic_name(int32 topic, int64 seq)
{
	require_name(&topic_names, topic, "an unknown source topic", seq);
	return topic_names.names[topic];
}

static Datum
source_topic_text(int32 topic, int64 seq)
{
	source_topic_name(topic, seq);
	if (topic_names.texts[topic] == (Datum) 0)
	{
		MemoryContext caller = MemoryContextSwitchTo(topic_names.context);

		topic_names.texts[topic] = CStringGetTextDatum(topic_names.names[topic]);
		MemoryContextSwitchTo(caller);
	}
	return topic_names.texts[topic];
}

/* Grow a kept array (TopMemoryContext) to hold at least needed elements. */
static void *
grow_kept(void *array, size_t *capacity, size_t needed, size_t element_size)
{
	if (needed <= *capacity)
		return array;
	*capacity = Max(needed, *capacity * 2);
	if (array == NULL)
		return MemoryContextAllocHuge(TopMemoryContext, element_size * *capacity);
	return repalloc_huge(array, element_size * *capacity);
}

/* Index the kept entries by ordinal (a counting sort: stable, so key order stays). */
static void
index_by_ordinal(int64 seq)
{
	UnitHistory *u = &kept_unit;
	size_t		nfirst;

	u->max_ordinal = 0;
	for (size_t i = 0; i < u->count; i++)
	{
		if (u->entries[i].ordinal < 0)
			stream_damaged("a history entry of its unit has a negative ordinal", seq);
		u->max_ordinal = Max(u->max_ordinal, u->entries[i].ordinal);
	}
	nfirst = (size_t) u->max_ordinal + 2;
	u->first = grow_kept(u->first, &u->first_capacity, nfirst, sizeof(uint32));
	u->order = grow_kept(u->order, &u->order_capacity, u->count, sizeof(uint32));
	memset(u->first, 0, sizeof(uint32) * nfirst);
	for (size_t i = 0; i < u->count; i++)
		u->first[u->entries[i].ordinal + 1]++;
	for (size_t o = 1; o < nfirst; o++)
		u->first[o] += u->first[o - 1];
	/* place each entry at its ordinal's next free slot, using first[o] as the cursor */
	for (size_t i = 0; i < u->count; i++)
		u->order[u->first[u->entries[i].ordinal]++] = (uint32) i;
	/* the cursors ended at the next ordinal's start: shift back */
	for (size_t o = nfirst - 1; o > 0; o--)
		u->first[o] = u->first[o - 1];
	u->first[0] = 0;
}

/* Decode the history blocks of the unit whose first block is unit, and keep them. */
static void
load_unit(int64 unit, int64 seq)
{
	int64		next_block = unit;
	bool		done = false;

	kept_unit.unit = 0;
	kept_unit.count = 0;
	while (!done)
	{
		Datum		arguments[2] = {Int64GetDatum(next_block), Int32GetDatum(BLOCKS_PER_QUERY)};
		int			ret = SPI_execute_plan(history_plan, arguments, NULL, false, 0);
		uint64		found;

		if (ret != SPI_OK_SELECT)
			elog(ERROR, "reading history blocks failed: %s", SPI_result_code_string(ret));
		found = SPI_processed;
		if (found < BLOCKS_PER_QUERY)
			done = true;
		for (uint64 r = 0; r < found; r++)
		{
			HeapTuple	row = SPI_tuptable->vals[r];
			bool		isnull;
			int64		block = DatumGetInt64(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull));
			int64		block_unit = DatumGetInt64(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull));
			bytea	   *entries;
			size_t		decoded;

			if (block_unit != unit)
			{
				done = true;
				break;
			}
			entries = DatumGetByteaPP(SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull));
			kept_unit.entries = grow_kept(kept_unit.entries, &kept_unit.capacity,
										  kept_unit.count + AXS_HISTORY_BLOCK_MAX_ENTRIES,
										  sizeof(AxsHistoryEntry));
			if (!axs_history_block_decode((const uint8 *) VARDATA_ANY(entries), VARSIZE_ANY_EXHDR(entries),
										  block, &kept_unit.entries[kept_unit.count],
										  kept_unit.capacity - kept_unit.count, &decoded))
				stream_damaged("a history block of its unit does not decode", seq);
			kept_unit.count += decoded;
			next_block = block + 1;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	if (kept_unit.count == 0 || kept_unit.count > PG_UINT32_MAX)
		stream_damaged("its history unit has no blocks", seq);
	index_by_ordinal(seq);
	kept_unit.unit = unit;
}

/* Append an int64 in decimal. */
static inline void
append_int64(StringInfo out, int64 value)
{
	char		digits[MAXINT8LEN + 1];
	int			length = pg_lltoa(value, digits);

	appendBinaryStringInfo(out, digits, length);
}

/* decided_at as RFC 3339 in UTC; a batch's events share one, rendered once. */
static void
append_timestamp(OutcomeCall *call, StringInfo out, TimestampTz at)
{
	if (at != call->rendered_at || call->rendered_at_json[0] == '\0')
	{
		struct pg_tm tm;
		fsec_t		fsec;

		if (timestamp2tm(at, NULL, &tm, &fsec, NULL, NULL) != 0)
			elog(ERROR, "timestamp out of range");
		snprintf(call->rendered_at_json, sizeof(call->rendered_at_json),
				 "\"%04d-%02d-%02dT%02d:%02d:%02d.%06dZ\"",
				 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
		call->rendered_at = at;
	}
	appendStringInfoString(out, call->rendered_at_json);
}

/* The balances after an applied event, from its unit's history. */
static void
append_balances(OutcomeCall *call, StringInfo out, const AxsStreamEntry *entry, int64 seq)
{
	bool		first = true;

	if (entry->history_unit == 0)
	{
		appendStringInfoString(out, "[]");
		return;
	}
	if (kept_unit.unit != entry->history_unit)
		load_unit(entry->history_unit, seq);
	if (entry->ordinal < 0 || entry->ordinal > kept_unit.max_ordinal)
		stream_damaged("its history unit has no entries for it", seq);
	appendStringInfoChar(out, '[');
	for (uint32 i = kept_unit.first[entry->ordinal]; i < kept_unit.first[entry->ordinal + 1]; i++)
	{
		const AxsHistoryEntry *change = &kept_unit.entries[kept_unit.order[i]];

		if (change->event_id != entry->id)
			stream_damaged("its history entries belong to another event", seq);
		appendStringInfoString(out, first ? "{\"account\":" : ",{\"account\":");
		append_int64(out, change->account);
		appendStringInfoString(out, ",\"currency\":");
		appendStringInfoString(out, currency_json(change->currency, seq));
		appendStringInfoString(out, ",\"available\":");
		append_int64(out, change->available);
		appendStringInfoString(out, ",\"frozen\":");
		append_int64(out, change->frozen);
		appendStringInfoChar(out, '}');
		first = false;
	}
	appendStringInfoChar(out, ']');
}

/* Append the outcome message of the event at seq to out. */
static void
render_message(OutcomeCall *call, StringInfo out, const AxsStreamEntry *entry, int64 seq)
{
	const char *kind = axs_event_kind_name((AxsEventKind) entry->kind);
	const char *reason = axs_reason_name((AxsReason) entry->reason);

	if (kind == NULL || (entry->reason != AXS_REASON_NONE && reason == NULL))
		stream_damaged("an unknown kind or reason", seq);
	appendStringInfoString(out, "{\"id\":");
	append_int64(out, entry->id);
	appendStringInfoString(out, ",\"seq\":");
	append_int64(out, seq);
	if (entry->reason == AXS_REASON_NONE)
		appendStringInfoString(out, ",\"status\":\"applied\",\"reason\":null");
	else
	{
		appendStringInfoString(out, ",\"status\":\"rejected\",\"reason\":");
		escape_json(out, reason);
	}
	appendStringInfoString(out, ",\"kind\":");
	escape_json(out, kind);
	appendStringInfoString(out, ",\"decided_at\":");
	append_timestamp(call, out, entry->decided_at);
	appendStringInfoString(out, ",\"balances\":");
	append_balances(call, out, entry, seq);
	appendStringInfoChar(out, '}');
}

/* An axs.outcomes_after row. */
static void
emit_row(OutcomeCall *call, const AxsStreamEntry *entry, int64 seq)
{
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};

	resetStringInfo(&call->message);
	render_message(call, &call->message, entry, seq);
	values[0] = Int64GetDatum(seq);
	values[1] = Int64GetDatum(entry->id);
	if (entry->source_topic != 0)
	{
		values[2] = source_topic_text(entry->source_topic, seq);
		values[3] = Int32GetDatum(entry->source_partition);
		values[4] = Int64GetDatum(entry->source_offset);
	}
	else
		nulls[2] = nulls[3] = nulls[4] = true;
	values[5] = TimestampTzGetDatum(entry->queued_at);
	nulls[5] = entry->queued_at == 0;
	values[6] = PointerGetDatum(cstring_to_text_with_len(call->message.data, call->message.len));
	tuplestore_putvalues(call->rsinfo->setResult, call->rsinfo->setDesc, values, nulls);
}

/* Write value as size big-endian bytes at out->data + at. */
static void
put_big_endian(StringInfo out, int at, uint64 value, int size)
{
	for (int i = size - 1; i >= 0; i--)
	{
		out->data[at + i] = (char) (value & 0xff);
		value >>= 8;
	}
}

/* An axs.outcome_frames_after frame; the message is rendered in place. */
static void
emit_frame(OutcomeCall *call, const AxsStreamEntry *entry, int64 seq)
{
	StringInfo	out = call->frames;
	int			header = out->len;
	int			message;
	int			flags = 0;
	size_t		topic_length = 0;

	enlargeStringInfo(out, OUTCOME_FRAME_HEADER_BYTES);
	out->len += OUTCOME_FRAME_HEADER_BYTES;
	if (entry->source_topic != 0)
	{
		const char *topic = source_topic_name(entry->source_topic, seq);

		topic_length = strlen(topic);
		if (topic_length > PG_UINT16_MAX)
			stream_damaged("its source topic's name is too long", seq);
		appendBinaryStringInfo(out, topic, (int) topic_length);
		flags |= OUTCOME_FRAME_HAS_SOURCE;
	}
	if (entry->queued_at != 0)
		flags |= OUTCOME_FRAME_HAS_QUEUED_AT;
	message = out->len;
	render_message(call, out, entry, seq);
	put_big_endian(out, header + OUTCOME_FRAME_SEQ, (uint64) seq, 8);
	put_big_endian(out, header + OUTCOME_FRAME_ID, (uint64) entry->id, 8);
	put_big_endian(out, header + OUTCOME_FRAME_QUEUED_AT, (uint64) entry->queued_at, 8);
	put_big_endian(out, header + OUTCOME_FRAME_SOURCE_OFFSET, (uint64) entry->source_offset, 8);
	put_big_endian(out, header + OUTCOME_FRAME_SOURCE_PARTITION, (uint32) entry->source_partition, 4);
	put_big_endian(out, header + OUTCOME_FRAME_MESSAGE_LENGTH, (uint32) (out->len - message), 4);
	put_big_endian(out, header + OUTCOME_FRAME_FLAGS, (uint16) flags, 2);
	put_big_endian(out, header + OUTCOME_FRAME_TOPIC_LENGTH, (uint16) topic_length, 2);
}

/* Return the frames gathered so far as a row, if there are any. */
static void
flush_frames(OutcomeCall *call)
{
	Datum		value;
	bool		isnull = false;

	if (call->frames->len == VARHDRSZ)
		return;
	SET_VARSIZE(call->frames->data, call->frames->len);
	value = PointerGetDatum(call->frames->data);
	tuplestore_putvalues(call->rsinfo->setResult, call->rsinfo->setDesc, &value, &isnull);
	call->frames->len = VARHDRSZ;
}

static void
emit_outcome(OutcomeCall *call, const AxsStreamEntry *entry, int64 seq)
{
	if (call->frames != NULL)
	{
		emit_frame(call, entry, seq);
		if (call->frames->len >= FRAMES_ROW_BYTES)
			flush_frames(call);
	}
	else
		emit_row(call, entry, seq);
	call->rows++;
}

/* Emit the decided events after after_seq, at most max_rows; returns how many. */
static int
read_outcomes(OutcomeCall *call, int64 after_seq, int max_rows)
{
	int64		next_seq = after_seq + 1;
	AxsStreamEntry *entries = palloc(sizeof(AxsStreamEntry) * AXS_STREAM_BLOCK_MAX_ENTRIES);

	call->rows = 0;
	while (call->rows < max_rows)
	{
		Datum		arguments[2] = {Int64GetDatum(next_seq - 1), Int32GetDatum(BLOCKS_PER_QUERY)};
		SPITupleTable *blocks;
		uint64		found;
		int			ret = SPI_execute_plan(blocks_plan, arguments, NULL, false, 0);

		if (ret != SPI_OK_SELECT)
			elog(ERROR, "reading the outcome stream failed: %s", SPI_result_code_string(ret));
		blocks = SPI_tuptable;
		found = SPI_processed;
		for (uint64 r = 0; r < found && call->rows < max_rows; r++)
		{
			bool		isnull;
			int64		first_seq = DatumGetInt64(SPI_getbinval(blocks->vals[r], blocks->tupdesc, 1, &isnull));
			int64		last_seq = DatumGetInt64(SPI_getbinval(blocks->vals[r], blocks->tupdesc, 2, &isnull));
			bytea	   *block = DatumGetByteaPP(SPI_getbinval(blocks->vals[r], blocks->tupdesc, 3, &isnull));
			size_t		count;

			if (first_seq > next_seq)
				stream_damaged("a block is missing before it", next_seq);
			if (!axs_stream_block_read((const uint8 *) VARDATA_ANY(block), VARSIZE_ANY_EXHDR(block),
									   entries, AXS_STREAM_BLOCK_MAX_ENTRIES, &count) ||
				(int64) count != last_seq - first_seq + 1)
				stream_damaged("a block does not decode", first_seq);
			for (int64 seq = next_seq; seq <= last_seq && call->rows < max_rows; seq++)
			{
				emit_outcome(call, &entries[seq - first_seq], seq);
				next_seq = seq + 1;
			}
		}
		SPI_freetuptable(blocks);
		if (found < BLOCKS_PER_QUERY)
			break;
	}
	pfree(entries);
	return call->rows;
}

/*
 * Validate the arguments, then read into call the decided events after
 * after_seq (at most max_rows), waiting up to wait_ms for the first.
 */
static void
collect_outcomes(OutcomeCall *call, int64 after_seq, int32 max_rows, int32 wait_ms)
{
	TimestampTz deadline;
	bool		waiting = false;

	if (after_seq < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("after_seq must be 0 or more, not %lld", (long long) after_seq)));
	if (max_rows < 1 || max_rows > OUTCOMES_MAX_ROWS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_rows must be between 1 and %d, not %d", OUTCOMES_MAX_ROWS, max_rows)));
	if (wait_ms < 0 || wait_ms > OUTCOMES_MAX_WAIT_MS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wait_ms must be between 0 and %d, not %d", OUTCOMES_MAX_WAIT_MS, wait_ms)));

	if (!reader_memory_kept)
	{
		mallopt(M_MMAP_THRESHOLD, READER_MMAP_THRESHOLD);
		mallopt(M_TRIM_THRESHOLD, READER_TRIM_THRESHOLD);
		reader_memory_kept = true;
	}
	/* in the caller's context: what SPI allocates is gone at SPI_finish */
	initStringInfo(&call->message);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);

	SPI_connect();
	prepare_plans();
	for (;;)
	{
		long		remaining;

		if (wait_ms > 0 && !waiting)
		{
			/* before looking: a batch committing in between wakes the sleep below */
			axs_status_prepare_for_progress();
			waiting = true;
		}
		if (read_outcomes(call, after_seq, max_rows) > 0)
			break;
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (remaining <= 0)
			break;
		axs_status_sleep_for_progress(remaining);
		CHECK_FOR_INTERRUPTS();
	}
	if (waiting)
		axs_status_end_progress_wait();
	SPI_finish();
}

PG_FUNCTION_INFO_V1(axs_outcomes_after);
/*
 * axs.outcomes_after(after_seq, max_rows, wait_ms): see the install script.
 */
Datum
axs_outcomes_after(PG_FUNCTION_ARGS)
{
	OutcomeCall call;

	memset(&call, 0, sizeof(call));
	InitMaterializedSRF(fcinfo, 0);
	call.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	collect_outcomes(&call, PG_GETARG_INT64(0), PG_GETARG_INT32(1), PG_GETARG_INT32(2));
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(axs_outcome_frames_after);
/*
 * axs.outcome_frames_after(after_seq, max_rows, wait_ms): see the install
 * script; the frames are described at the top of this file.
 */
Datum
axs_outcome_frames_after(PG_FUNCTION_ARGS)
{
	OutcomeCall call;
	StringInfoData frames;

	memset(&call, 0, sizeof(call));
	/* a set of bytea: the caller's one-column descriptor */
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	call.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	initStringInfo(&frames);
	enlargeStringInfo(&frames, FRAMES_ROW_BYTES + 4096);
	/* each bytea's header goes first, its length set when it is returned */
	appendStringInfoSpaces(&frames, VARHDRSZ);
	call.frames = &frames;
	collect_outcomes(&call, PG_GETARG_INT64(0), PG_GETARG_INT32(1), PG_GETARG_INT32(2));
	flush_frames(&call);
	return (Datum) 0;
}
