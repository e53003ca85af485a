/*
 * index_writer.c
 *		Index entries for the rows the applier inserts or updates with heap
 *		calls (batch_store.c, outcome_store.c).
 *
 * The applier bypasses the executor for speed, so it must do the
 * executor's index work itself: for every index of the table, evaluate the
 * partial-index predicate and the index expressions on the new row, and
 * insert the entry, checking uniqueness where the index is unique.  A HOT
 * update needs no entry at all: heap_update makes an update HOT only when
 * no indexed column of any index changed, so the caller skips those.
 * Exclusion constraints are refused with an error that names the index.
 *
 * It decides nothing about the rows.
 */
#include "postgres.h"

#include "access/genam.h"
#include "catalog/index.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "utils/rel.h"

#include "index_writer.h"
#include "writeback.h"

struct AxsIndexWriter
{
	Relation	heap;
	int			count;
	Relation   *indexes;
	IndexInfo **infos;
	ExprState **predicates;		/* NULL where the index has no predicate */
	EState	   *estate;
};

AxsIndexWriter *
axs_index_writer_open(Relation heap, Oid skip_index)
{
	List	   *index_oids = RelationGetIndexList(heap);
	AxsIndexWriter *writer = palloc0(sizeof(AxsIndexWriter));
	ListCell   *cell;

	writer->heap = heap;
	writer->indexes = palloc(sizeof(Relation) * Max(list_length(index_oids), 1));
	writer->infos = palloc(sizeof(IndexInfo *) * Max(list_length(index_oids), 1));
	writer->predicates = palloc0(sizeof(ExprState *) * Max(list_length(index_oids), 1));
	writer->estate = CreateExecutorState();
	foreach(cell, index_oids)
	{
		Oid			index_oid = lfirst_oid(cell);
		Relation	index;
		IndexInfo  *info;

		if (index_oid == skip_index)
			continue;
		index = index_open(index_oid, RowExclusiveLock);
		info = BuildIndexInfo(index);
		if (info->ii_ExclusionOps != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("axs applier cannot maintain exclusion constraint index \"%s\" on %s",
							RelationGetRelationName(index), RelationGetRelationName(heap)),
					 errhint("Drop the constraint: the ledger's own checks decide what may be written.")));
		if (!info->ii_ReadyForInserts)
		{
			index_close(index, RowExclusiveLock);
			continue;
		}
		if (info->ii_Predicate != NIL)
			writer->predicates[writer->count] = ExecPrepareQual(info->ii_Predicate, writer->estate);
		writer->indexes[writer->count] = index;
		writer->infos[writer->count] = info;
		writer->count++;
	}
	list_free(index_oids);
	return writer;
}

void
axs_index_writer_insert(AxsIndexWriter *writer, TupleTableSlot *slot)
{
	ExprContext *econtext;

	if (writer->count == 0)
		return;
	econtext = GetPerTupleExprContext(writer->estate);
	econtext->ecxt_scantuple = slot;
	for (int i = 0; i < writer->count; i++)
	{
		IndexInfo  *info = writer->infos[i];
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];

		if (writer->predicates[i] != NULL && !ExecQual(writer->predicates[i], econtext))
			continue;
		FormIndexDatum(info, slot, writer->estate, values, isnull);
		(void) index_insert(writer->indexes[i], values, isnull, &slot->tts_tid, writer->heap,
							info->ii_Unique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO, false, info);
	}
	ResetPerTupleExprContext(writer->estate);
}

void
axs_index_writer_close(AxsIndexWriter *writer)
{
	for (int i = 0; i < writer->count; i++)
	{
		axs_writeback_growth(writer->indexes[i]);
		index_close(writer->indexes[i], NoLock);
	}
	FreeExecutorState(writer->estate);
	pfree(writer->indexes);
	pfree(writer->infos);
	pfree(writer->predicates);
	pfree(writer);
}
