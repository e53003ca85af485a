#!/usr/bin/env bash
#
# 23_inbox_janitor.sh
#	The inbox janitor's choice of segments.  Events are queued one segment
#	after another (setval on axs.inbox_position_seq); each time the applier's
#	watermark enters a new segment, the janitor truncates the one it left,
#	in place.  A segment that another session holds locked at that moment
#	is tried again for 5 s (a query that read it has ended by then: emptied);
#	one still locked after that is left as it is, and the janitor does not
#	look at it again when the watermark enters the next segments, only at
#	the segments it left since; every 8th segment it sweeps all of them, and
#	the locked one is emptied then.  An emptied segment's relfrozenxid moves on, as after a TRUNCATE.
#	A segment with an index besides its BRIN one (an operator's
#	index on axs.inbox) gets a TRUNCATE, a new file, instead: an emptied
#	heap under a btree would leave it pointing at lost blocks.  Checked
#	from the segments' files (pg_stat_file: a lock on a segment would make
#	the janitor pass it over) and the server log.
#
# It owns the cluster .scratch/e2e_inbox_janitor and nothing else.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=$TOP/.scratch/e2e_inbox_janitor
SEGMENT=262144					# positions per segment (install script)
# shellcheck source=tests/e2e/lib_ledger.sh
. "$TOP/tests/e2e/lib_ledger.sh"

ledger_start_cluster
q >/dev/null <<SQL
CREATE EXTENSION axs;
SELECT axs.create_currency('USDT', 6);
SQL
wait_for 10 "SELECT pid IS NOT NULL AND fence_held FROM axs.applier_status" ||
	die "the preloaded applier did not take the fence within 10 s"

# segment_bytes N: the size of segment N's file
segment_bytes() { q -c "SELECT (pg_stat_file(pg_relation_filepath('axs.inbox_$1'))).size"; }

# queue_in_segment N ID: queue a deposit of 1 at the start of segment N and
# wait until it is applied
queue_in_segment()
{
	local position
	position=$(q -c "SELECT setval('axs.inbox_position_seq', $1 * $SEGMENT) IS NULL" \
		-c "SELECT axs.submit(jsonb_build_object('id', $2, 'kind', 'deposit', 'account', 1,
		                                         'currency', 'USDT', 'amount', 1))" | tail -n 1)
	[ "$((position / SEGMENT))" = "$1" ] || die "event $2 got position $position, not one in segment $1"
	[ "$(q -c "SELECT axs.wait($position, 10000)")" = t ] || die "event $2 was not applied within 10 s"
}

# emptied N: wait (5 s at most) until segment N's file is empty
emptied()
{
	wait_for 5 "SELECT (pg_stat_file(pg_relation_filepath('axs.inbox_$1'))).size = 0"
}

echo "# segments 1 and 2 get rows; entering 3 empties 2, entering 2 empties 1"
segment_1_frozenxid=$(q -c "SELECT relfrozenxid FROM pg_class WHERE oid = 'axs.inbox_1'::regclass")
queue_in_segment 1 1
queue_in_segment 2 2
check "entering segment 2 empties segment 1" "$(emptied 1 && echo ok || echo "$(segment_bytes 1) bytes left")"
check "segment 1's relfrozenxid moved on, as a TRUNCATE's would (no anti-wraparound VACUUM needed)" \
	"$(q -c "SELECT CASE WHEN age(relfrozenxid) < age('$segment_1_frozenxid'::xid) AND relpages = 0
	                THEN 'ok' ELSE 'relfrozenxid ' || relfrozenxid || ', relpages ' || relpages END
	           FROM pg_class WHERE oid = 'axs.inbox_1'::regclass")"

# The locking session: a psql reading its commands from a named pipe, so
# that it holds its lock until the script writes COMMIT, however long the
# steps in between take.
lock_segment()
{
	rm -f "$DIR/locker.fifo"
	mkfifo "$DIR/locker.fifo"
	psql -X -q -At -v ON_ERROR_STOP=1 <"$DIR/locker.fifo" >"$DIR/locker.out" 2>&1 &
	locker=$!
	exec 7>"$DIR/locker.fifo"	# closed at exit: psql then ends, rolling back
	echo "BEGIN; LOCK TABLE axs.inbox_$1 IN ACCESS SHARE MODE;" >&7
	wait_for 10 "SELECT count(*) = 1 FROM pg_locks WHERE relation = 'axs.inbox_$1'::regclass AND granted
	              AND pid <> pg_backend_pid()" || die "the locking session did not get its lock: $(cat "$DIR/locker.out")"
}

unlock_segment()
{
	local status=0
	echo "COMMIT;" >&7
	exec 7>&-
	wait "$locker" || status=$?
	[ "$status" = 0 ] || die "the locking session failed (exit status $status): $(cat "$DIR/locker.out")"
}

# Each janitor is a worker of its own, started after the batch that entered
# a new segment.  The one started on entering segment 3 looks only at
# segment 2, tries it again for 5 s, and gives up; the lock is held until
# that janitor is certainly done: the one started after it (entering
# segment 4) has emptied segment 3, and no janitor is running any more.
echo "# segment 2 is locked by another session while the watermark enters segments 3 and 4"
q -c "SELECT relfilenode FROM pg_class WHERE oid = 'axs.inbox_2'::regclass" >"$DIR/segment_2_file"
lock_segment 2
queue_in_segment 3 3
queue_in_segment 4 4
check "entering segment 4 empties segment 3 (while segment 2 is locked)" \
	"$(emptied 3 && echo ok || echo "$(segment_bytes 3) bytes left")"
wait_for 10 "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'axs inbox janitor'" ||
	die "a janitor is still running 10 s after segment 3 was emptied"
unlock_segment
check "the locked segment 2 was left as it was" \
	"$([ "$(segment_bytes 2)" -gt 0 ] && echo ok || echo "segment 2 is empty")"

echo "# the watermark enters segments 5 to 7: each time only the segment just left is emptied"
for segment in 5 6 7; do
	queue_in_segment "$segment" "$segment"
	check "entering segment $segment empties segment $((segment - 1))" \
		"$(emptied $((segment - 1)) && echo ok || echo "$(segment_bytes $((segment - 1))) bytes left")"
done
check "segment 2 is not looked at again before the sweep" \
	"$([ "$(segment_bytes 2)" -gt 0 ] && echo ok || echo "segment 2 is empty")"

echo "# entering segment 8: the janitor sweeps all segments"
queue_in_segment 8 8
check "the sweep empties segment 2" "$(emptied 2 && echo ok || echo "$(segment_bytes 2) bytes left")"
check "segment 7 is emptied too" "$(emptied 7 && echo ok || echo "$(segment_bytes 7) bytes left")"
check "segment 2 kept its file" \
	"$([ "$(q -c "SELECT relfilenode FROM pg_class WHERE oid = 'axs.inbox_2'::regclass")" = "$(cat "$DIR/segment_2_file")" ] &&
		echo ok || echo "segment 2 has a new file")"

echo "# an operator adds an index on axs.inbox: the janitor TRUNCATEs the segments instead"
q -c "CREATE INDEX inbox_event_id ON axs.inbox (event_id)"
q -c "SELECT relfilenode FROM pg_class WHERE oid = 'axs.inbox_9'::regclass" >"$DIR/segment_9_file"
queue_in_segment 9 9
queue_in_segment 10 10
check "entering segment 10 empties segment 9" "$(emptied 9 && echo ok || echo "$(segment_bytes 9) bytes left")"
check "segment 9 got a new file (a TRUNCATE)" \
	"$([ "$(q -c "SELECT relfilenode FROM pg_class WHERE oid = 'axs.inbox_9'::regclass")" != "$(cat "$DIR/segment_9_file")" ] &&
		echo ok || echo "segment 9 kept its file: the extra index may point past its end")"
check "an index scan of segment 9 finds nothing and reads no lost block" \
	"$(q -c "SET enable_seqscan = off" -c "SET enable_bitmapscan = off" \
		-c "SELECT CASE WHEN count(*) = 0 THEN 'ok' ELSE count(*) || ' rows' END FROM axs.inbox_9 WHERE event_id = 9" 2>&1)"
check "the server log says segment 9 was truncated, not in place" \
	"$(grep -q "truncated inbox segment 9, all applied" "$DIR/log/postgres.log" && echo ok || echo "no such line")"
echo "# a query holds segment 11 for a second while the watermark enters segment 12"
queue_in_segment 11 11
lock_segment 11
queue_in_segment 12 12
sleep 1
check_eq "segment 11 is not emptied while the query holds it" 1 "$([ "$(segment_bytes 11)" -gt 0 ] && echo 1 || echo 0)"
unlock_segment
check "the janitor tried again and emptied segment 11 once the query ended" \
	"$(emptied 11 && echo ok || echo "$(segment_bytes 11) bytes left")"

check "all 12 deposits applied" "$(q -c "SELECT CASE WHEN available = 12 THEN 'ok' ELSE available::text END
                                         FROM axs.balance(1, 'USDT')")"
ledger_check_verify
ledger_check_server_log "no error or warning in the server log" "ERROR|WARNING|PANIC" "^$"

ledger_finish
