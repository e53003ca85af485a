/*
 * pg_util.h
 *		Small PostgreSQL helpers every other module of the extension may use:
 *		catalog lookups, kept SPI plans and one-value queries, SQL arrays,
 *		memory, and the transaction of one unit of a background worker's work.
 *
 * A leaf: it calls no other module of the extension, and holds no state
 * and no policy of its own.
 */
#ifndef AXS_PG_UTIL_H
#define AXS_PG_UTIL_H

#include "executor/spi.h"
#include "utils/palloc.h"
#include "utils/relcache.h"

#include "ledger.h"

/*
 * Advisory lock keys.  The applier fence is pg_advisory_lock(6387827, 1),
 * a key any role can take: the applier ends a session that holds it without
 * being an applier (applier_guard.c).  The inbox append lock must be one
 * that no role can take: pg_advisory_lock() and its siblings build tags with
 * field4 1 (one bigint key) or 2 (two int4 keys), so a tag with field4 3 is
 * reachable from C only.  pg_locks shows it as an advisory lock with
 * classid 6387827, objid 2, objsubid 3.
 */
#define AXS_LOCK_NAMESPACE 0x617873 /* 'axs' */
#define AXS_LOCK_APPLIER_FENCE 1
#define AXS_LOCK_INBOX_APPEND 2
#define AXS_LOCK_SQL_UNREACHABLE 3

/* The OID of table axs.<name>; ERROR if the extension is gone. */
extern Oid	axs_table_oid(const char *name);

/* Prepare and keep a plan for the life of the backend (caller is connected to SPI). */
extern SPIPlanPtr axs_prepare_kept(const char *query, int nargs, Oid *argtypes);

/* Run one statement with no arguments: the int8 of row 1, column 1, or default_value. */
extern int64 axs_query_int64(const char *query, int64 default_value);

/* A one-dimensional SQL array of count values of element_type (no NULLs). */
extern Datum axs_build_array(Datum *values, int count, Oid element_type);

/* An int8[] of count values. */
extern Datum axs_int64_array(const int64 *values, int count);

/* An AxsAllocator (ledger core) that allocates in the given memory context. */
extern AxsAllocator axs_memory_context_allocator(MemoryContext context);

/* A private copy of rel's tuple descriptor, for virtual slots (not pinned). */
extern TupleDesc axs_unpinned_descriptor(Relation rel);

/*
 * One unit of a background worker's work in its own transaction, connected
 * to SPI, with a snapshot and the activity shown in pg_stat_activity.
 */
extern void axs_begin_work(const char *activity);
extern void axs_end_work(void);

/*
 * Settings of every axs worker's session: names resolve in pg_catalog only,
 * and no lock wait is longer than block_timeout_ms (at least a second).
 */
extern void axs_worker_session_settings(int block_timeout_ms);

#endif							/* AXS_PG_UTIL_H */
