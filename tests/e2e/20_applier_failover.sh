#!/usr/bin/env bash
#
# 20_applier_failover.sh
#	Two appliers in one database: the preloaded one holds the fence, a
#	second one started with axs.start_applier() waits as a standby.  While a
#	stream of 200k events (with re-sent and reused ids) is being submitted,
#	the active applier is terminated (pg_terminate_backend): the standby must
#	take the fence within two seconds; later the new active applier is killed
#	with SIGKILL: the postmaster restarts every backend and the preloaded
#	applier must come back and resume.  In the end every submitted id is
#	decided exactly once, axs.verify() is empty, and balances and outcomes
#	equal those of a reference database that drained the same stream
#	without any failure.
#
# It owns the cluster .scratch/e2e_applier_failover and nothing else.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=$TOP/.scratch/e2e_applier_failover
EVENTS=${AXS_E2E_FAILOVER_EVENTS:-200000}
CHUNK=2000
CHUNKS=$(((EVENTS + CHUNK - 1) / CHUNK))
FENCE_LOCK="locktype = 'advisory' AND classid = 6387827 AND objid = 1 AND objsubid = 2 AND granted"
WAIT_FOR_INTERVAL=0.05
# shellcheck source=tests/e2e/lib_ledger.sh
. "$TOP/tests/e2e/lib_ledger.sh"

now_ms() { date +%s%3N; }

export AXS_PG_CONF="axs.applier_batch_size = 5000"
ledger_start_cluster "$DIR/submitted"

# The deterministic workload, installed in both databases.
ledger_install_workload

wait_for 10 "SELECT pid IS NOT NULL AND fence_held FROM axs.applier_status" ||
	die "the preloaded applier did not take the fence within 10 s"
first_pid=$(q -c 'SELECT pid FROM axs.applier_status')
# Every check below finds the fence through FENCE_LOCK (objsubid 2 is how
# PostgreSQL marks a two-key advisory lock): it must match the holder's lock.
check "FENCE_LOCK finds exactly one lock in pg_locks, held by the preloaded applier ($first_pid)" \
	"$(q -c "SELECT CASE WHEN count(*) = 1 AND min(pid) = $first_pid THEN 'ok'
	                ELSE format('%s locks, holders %s', count(*), string_agg(pid::text, ',')) END
	           FROM pg_locks WHERE $FENCE_LOCK")"
second_pid=$(q -c 'SELECT axs.start_applier()')
echo "# preloaded applier pid $first_pid holds the fence; started a second applier, pid $second_pid"
wait_for 5 "SELECT standbys >= 1 FROM axs.applier_status" ||
	check "the second applier waits as a standby" "$(q -c 'SELECT * FROM axs.applier_status')"
check "the second applier waits: standbys >= 1, the fence still with $first_pid, one fence lock in pg_locks" "$(q -c "
	SELECT CASE WHEN s.standbys >= 1 AND s.pid = $first_pid AND l.holders = ARRAY[$first_pid]
				 AND EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $second_pid)
				THEN 'ok' ELSE format('standbys %s, status pid %s, lock holders %s', s.standbys, s.pid, l.holders) END
	  FROM axs.applier_status AS s,
		   (SELECT array_agg(pid) AS holders FROM pg_locks WHERE $FENCE_LOCK) AS l")"
epoch_start=$(q -c 'SELECT epoch FROM axs.applier_state')

# The stream: CHUNKS calls of axs.submit_many, in order, each retried until
# it succeeds (a crash restart drops the connection; a chunk that committed
# but looked failed is sent again, which only adds re-sent ids).
submit_stream()
{
	local chunk first end position attempt
	for ((chunk = 0; chunk < CHUNKS; chunk++)); do
		first=$((chunk * CHUNK + 1))
		end=$((first + CHUNK - 1))
		[ "$end" -gt "$EVENTS" ] && end=$EVENTS
		for ((attempt = 1; ; attempt++)); do
			if position=$(ledger_submit_events "$first" "$end" 2>/dev/null); then
				break
			fi
			[ "$attempt" -ge 600 ] && { echo "submitter: chunk $chunk failed 600 times" >&2; exit 1; }
			echo "retry $chunk" >>"$DIR/submitted"
			sleep 0.1
		done
		echo "chunk $chunk $position" >>"$DIR/submitted"
		sleep 0.05
	done
}
chunks_done()
{
	local done
	done=$(grep -c '^chunk' "$DIR/submitted" 2>/dev/null) || true
	echo "${done:-0}"
}

echo "# submitting $EVENTS events in $CHUNKS chunks of $CHUNK"
stream_start=$SECONDS
submit_stream &
submitter_pid=$!

# 1. pg_terminate_backend of the active applier, a quarter into the stream
deadline=$((SECONDS + 60))
until [ "$(chunks_done)" -ge $((CHUNKS / 4)) ]; do
	[ "$SECONDS" -lt "$deadline" ] || die "the submitter made no progress: $(tail -n 3 "$DIR/submitted" 2>/dev/null)"
	sleep 0.05
done
wait_for 10 "SELECT watermark > 0 FROM axs.applier_state" || die "nothing applied 10 s into the stream"
active=$(q -c 'SELECT pid FROM axs.applier_status')
epoch_before=$(q -c 'SELECT epoch FROM axs.applier_state')
echo "# chunk $(chunks_done)/$CHUNKS: pg_terminate_backend($active), the active applier (epoch $epoch_before)"
t0=$(now_ms)
q -c "SELECT pg_terminate_backend($active)" >/dev/null
wait_for 10 "SELECT count(*) = 1 AND min(pid) <> $active AND min(pid) = (SELECT pid FROM axs.applier_status)
			   FROM pg_locks WHERE $FENCE_LOCK" || die "no other applier took the fence within 10 s"
takeover_ms=$(($(now_ms) - t0))
new_active=$(q -c 'SELECT pid FROM axs.applier_status')
epoch_after=$(q -c 'SELECT epoch FROM axs.applier_state')
echo "# pid $new_active holds the fence after $takeover_ms ms (epoch $epoch_after)"
check "the standby ($second_pid) took over within 2 s (took $takeover_ms ms)" \
	"$( [ "$new_active" = "$second_pid" ] && [ "$takeover_ms" -le 2000 ] && echo ok || echo "new holder $new_active after $takeover_ms ms")"
check "the epoch grew ($epoch_before -> $epoch_after)" "$( [ "$epoch_after" -gt "$epoch_before" ] && echo ok || echo no)"
check "the server log says [$new_active] took the fence (epoch $epoch_after)" \
	"$(grep -q "\[$new_active\] .*axs applier took the fence (epoch $epoch_after)" "$DIR/log/postgres.log" && echo ok || grep 'fence' "$DIR/log/postgres.log")"
wait_for 10 "SELECT standbys >= 1 FROM axs.applier_status" ||
	check "the terminated preloaded applier came back as a standby" "$(q -c 'SELECT * FROM axs.applier_status')"
check "exactly one process holds the fence lock" "$(q -c "SELECT CASE WHEN count(*) = 1 THEN 'ok' ELSE string_agg(pid::text, ',') END FROM pg_locks WHERE $FENCE_LOCK")"

# 2. SIGKILL of the active applier, past the middle of the stream
deadline=$((SECONDS + 60))
until [ "$(chunks_done)" -ge $((CHUNKS * 3 / 5)) ]; do
	[ "$SECONDS" -lt "$deadline" ] || die "the submitter made no progress: $(tail -n 3 "$DIR/submitted" 2>/dev/null)"
	sleep 0.05
done
killed=$(q -c 'SELECT pid FROM axs.applier_status')
epoch_before=$(q -c 'SELECT epoch FROM axs.applier_state')
crash_line=$(wc -l <"$DIR/log/postgres.log")
echo "# chunk $(chunks_done)/$CHUNKS: kill -9 $killed, the active applier (epoch $epoch_before)"
t0=$(now_ms)
kill -9 "$killed"
wait_for 60 "SELECT count(*) = 1 AND min(pid) <> $killed AND min(pid) = (SELECT pid FROM axs.applier_status)
			   FROM pg_locks WHERE $FENCE_LOCK" || die "no applier holds the fence 60 s after kill -9"
recovery_ms=$(($(now_ms) - t0))
after_crash=$(q -c 'SELECT pid FROM axs.applier_status')
epoch_after=$(q -c 'SELECT epoch FROM axs.applier_state')
echo "# pid $after_crash holds the fence $recovery_ms ms after the kill (epoch $epoch_after)"
# The log since the kill, read once: "tail | grep -q" under pipefail fails
# when grep stops early and tail gets SIGPIPE.
log_since_crash=$(tail -n +"$crash_line" "$DIR/log/postgres.log")
check "the postmaster restarted all backends after the SIGKILL" \
	"$(grep -q "terminated by signal 9: Killed" <<<"$log_since_crash" &&
	   grep -q "all server processes terminated; reinitializing" <<<"$log_since_crash" && echo ok ||
	   head -n 20 <<<"$log_since_crash")"
check "an applier came back and took the fence (epoch $epoch_before -> $epoch_after)" \
	"$( [ "$epoch_after" -gt "$epoch_before" ] &&
		grep -q "\[$after_crash\] .*axs applier took the fence (epoch $epoch_after)" <<<"$log_since_crash" && echo ok ||
		grep fence <<<"$log_since_crash")"

wait "$submitter_pid" || die "the submitter failed: $(tail -n 5 "$DIR/submitted")"
submitter_pid=
last=$(awk '$1 == "chunk" { p = $3 } END { print p }' "$DIR/submitted")
echo "# stream submitted in $((SECONDS - stream_start)) s ($(grep -c '^retry' "$DIR/submitted" || true) retried calls), last position $last"
start=$SECONDS
ledger_wait_drained "$last" 120 "the inbox was not drained"
echo "# drained $((SECONDS - start)) s after the stream ended"
q -c "SELECT '# applier: ' || format('pid %s, epoch %s, watermark %s, batches %s, applied %s, rejected %s, duplicate %s', pid, epoch, watermark, batches, events_applied, events_rejected, events_duplicate) FROM axs.applier_status"

echo "# reference: the same stream, submitted once, drained by an applier in database ref"
start=$SECONDS
for ((first = 1; first <= EVENTS; first += 20000)); do
	end=$((first + 19999))
	[ "$end" -gt "$EVENTS" ] && end=$EVENTS
	ref_last=$(ledger_submit_events "$first" "$end" -d ref)
done
ledger_drain_ref "$ref_last"
echo "# reference done in $((SECONDS - start)) s"

ledger_check_no_pending

ledger_check_event_log_ids "; re-sent ones once"

check "axs.id_conflicts holds exactly the reused ids (each at least once)" "$(out=$(q <<SQL
WITH reused AS (SELECT n - 3 AS id FROM generate_series(1, $EVENTS) AS n WHERE n % 5000 = 7)
(SELECT 'missing ' || id FROM reused EXCEPT SELECT 'missing ' || id FROM axs.id_conflicts)
UNION ALL
(SELECT 'unexpected ' || id FROM axs.id_conflicts EXCEPT SELECT 'unexpected ' || id FROM reused)
LIMIT 20
SQL
); [ -z "$out" ] && echo ok || echo "$out")"

ledger_check_verify

ledger_check_same_as_ref

# Retried chunks queue some events twice, so id_conflicts may hold a reused
# id more than once: the model checks outcomes and balances, not those counts.
echo "# the reference model: the $EVENTS events as JSON, decided again in the queue order of the failovers"
q -c "SELECT event FROM e2e_events(1, $EVENTS) ORDER BY n" >"$DIR/events.json"
model_check "the reference model (ledger_model.py, README's rules) agrees on every outcome and balance" \
	--events "$DIR/events.json"

check "exactly one process holds the fence lock at the end" "$(q -c "SELECT CASE WHEN count(*) = 1 THEN 'ok' ELSE coalesce(string_agg(pid::text, ','), 'none') END FROM pg_locks WHERE $FENCE_LOCK")"

ledger_finish
