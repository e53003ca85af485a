/*
 * writeback.c
 *		Start the kernel's writeback of the blocks a relation has grown by.
 *
 * PostgreSQL 15 extends a relation by writing zeroed pages into the kernel's
 * page cache; the real contents follow at eviction or at the next
 * checkpoint.  Under a steady load the tables the applier writes grow fast,
 * the kernel writes such pages back in bursts, and every commit's WAL flush
 * queues behind a burst on the disk.  As PostgreSQL's *_flush_after
 * settings do for the buffers it writes, the applier hands each relation's
 * new blocks to writeback (smgrwriteback: sync_file_range) once they add up
 * to WRITEBACK_MIN_BLOCKS, so the same I/O goes out in small pieces.
 *
 * It owns one mark per relation: the blocks already handed over, in the
 * relation's current file.  Nothing waits for it and durability must not
 * depend on it: WAL and checkpoints still decide that.  Not for the inbox
 * segments, which are emptied before the kernel would write their pages
 * back.  See docs/design/applier.md and docs/design/inbox.md.
 */
#include "postgres.h"

#include "storage/bufmgr.h"
#include "storage/smgr.h"
#include "utils/hsearch.h"
#include "utils/rel.h"

#include "writeback.h"

typedef struct GrowthMark
{
	Oid			relid;			/* hash key */
	Oid			relfilenode;	/* the file the count below refers to */
	BlockNumber handed_over;	/* blocks [0, handed_over) need no writeback */
} GrowthMark;

/* Hand blocks over in pieces of at least 256 kB (backend_flush_after's default). */
#define WRITEBACK_MIN_BLOCKS 32

static HTAB *growth_marks = NULL;

void
axs_writeback_growth(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	BlockNumber blocks = RelationGetNumberOfBlocks(rel);
	GrowthMark *mark;
	bool		found;

	if (growth_marks == NULL)
	{
		HASHCTL		control;

		control.keysize = sizeof(Oid);
		control.entrysize = sizeof(GrowthMark);
		growth_marks = hash_create("axs relation growth marks", 16, &control,
								   HASH_ELEM | HASH_BLOBS);
	}
	mark = hash_search(growth_marks, &relid, HASH_ENTER, &found);
	if (!found)
	{
		/* first sight: what the file held before is not this process's burst */
		mark->relfilenode = rel->rd_node.relNode;
		mark->handed_over = blocks;
		return;
	}
	if (mark->relfilenode != rel->rd_node.relNode)
	{
		/* a new file (TRUNCATE, VACUUM FULL), grown from its first block */
		mark->relfilenode = rel->rd_node.relNode;
		mark->handed_over = 0;
	}
	if (blocks < mark->handed_over)
		mark->handed_over = blocks;	/* truncated in place (VACUUM) */
	if (blocks - mark->handed_over >= WRITEBACK_MIN_BLOCKS)
	{
		smgrwriteback(RelationGetSmgr(rel), MAIN_FORKNUM, mark->handed_over,
					  blocks - mark->handed_over);
		mark->handed_over = blocks;
	}
}
