#!/usr/bin/env bash
#
# test.sh
#	Run every axs test suite in order, report PASS/FAIL/SKIP per suite and
#	end with the line "N passed, M failed, K skipped".  Exits non-zero if
#	any suite failed, and also if any was skipped, unless
#	AXS_TEST_ALLOW_SKIP=1 outside CI.
#
# Suites: unit/core, unit/feeder and unit/tools (cmocka, tests/unit/), regress
# (pg_regress through PGXS installcheck), pgtap (pg_prove), then each
# tests/e2e/*.sh.  A suite whose files do not exist is skipped and counted
# as such; an e2e script that is not executable fails.  It expects the
# extension to be built and installed already ("make test" does both).
# It owns the scratch cluster .scratch/regress and always stops it; e2e
# scripts own their clusters (contract in tests/README.md).

set -uo pipefail

usage()
{
	cat <<'EOF'
Usage: scripts/test.sh [SUITE...]

Runs the axs test suites in order and prints PASS, FAIL or SKIP for each,
then a last line "N passed, M failed, K skipped".  Exit status 1 if any
suite failed or was skipped (a skipped suite is a test that did not run).
Usually run through "make test", which builds and installs first.

Suites (default: all, in this order):
  unit      make -C tests/unit test-core, test-feeder, test-tools (suites
            unit/core, unit/feeder, unit/tools)
  regress   pg_regress via "make -C extension installcheck" on the scratch
            cluster .scratch/regress (axs preloaded)
  pgtap     pg_prove tests/pgtap/*.sql in database axs_tap on the same cluster
  e2e       every tests/e2e/*.sh but lib*.sh, in name order, each with TOP
            set; one that is not executable fails

Environment:
  AXS_E2E_TIMEOUT       seconds one e2e script may run (default 600)
  AXS_TEST_ALLOW_SKIP   1: a skipped suite does not fail the run (ignored
                        when CI=true: in CI every suite must run)
EOF
}

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PG_BIN=/usr/lib/postgresql/15/bin
PG_CONFIG=${PG_CONFIG:-$PG_BIN/pg_config}
REGRESS_DIR=$TOP/.scratch/regress
E2E_TIMEOUT=${AXS_E2E_TIMEOUT:-600}
export PATH="$PG_BIN:$PATH"

# Every cluster we talk to is a scratch cluster described by its env file;
# settings inherited from the caller's shell would point elsewhere.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGDATA PGSERVICE PGOPTIONS PGPASSWORD

SKIPPED=77
passed=0
failed=0
skipped=0
summary=()
regress_cluster_started=0

# One test run at a time per tree: runs share .scratch/regress.  The lock
# is released when this shell exits (fd 8 is closed for every child).
take_test_lock()
{
	local lock=$TOP/.scratch/test.lock holder
	mkdir -p "$TOP/.scratch"
	exec 8>>"$lock"
	if ! flock -n 8; then
		holder=$(cat "$lock" 2>/dev/null)
		echo "test.sh: another test run holds $lock (${holder:-unknown}); waiting for it" >&2
		flock 8
	fi
	echo "pid $$ since $(date '+%F %T')" >"$lock"
}

cleanup()
{
	if [ "$regress_cluster_started" = 1 ]; then
		"$TOP/scripts/cluster.sh" stop "$REGRESS_DIR" || true
		regress_cluster_started=0
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_suite NAME COMMAND...: run COMMAND in a subshell, record its outcome.
run_suite()
{
	local name=$1 rc start
	shift
	echo
	echo "=== $name"
	start=$SECONDS
	# 8>&-: nothing a suite starts may keep holding the test lock.
	(cd "$TOP" && "$@") 8>&-
	rc=$?
	if [ "$rc" -eq "$SKIPPED" ]; then
		echo "--- $name: SKIP"
		summary+=("SKIP  $name")
		skipped=$((skipped + 1))
	elif [ "$rc" -eq 0 ]; then
		echo "--- $name: PASS ($((SECONDS - start)) s)"
		summary+=("PASS  $name ($((SECONDS - start)) s)")
		passed=$((passed + 1))
	else
		echo "--- $name: FAIL (exit $rc, $((SECONDS - start)) s)"
		summary+=("FAIL  $name ($((SECONDS - start)) s)")
		failed=$((failed + 1))
	fi
}

# Ends the suite (each runs in a subshell) as skipped.
skip()
{
	echo "SKIP: not present ($*)"
	exit "$SKIPPED"
}

# suite_unit GROUP: the unit tests of GROUP (core, feeder, tools).
suite_unit()
{
	[ -f tests/unit/Makefile ] || skip "tests/unit/Makefile"
	compgen -G "tests/unit/$1/test_*.c" >/dev/null || skip "tests/unit/$1/test_*.c"
	make -C tests/unit "test-$1"
}

# An e2e script without the execute bit: a failure, not a silent gap.
suite_not_executable()
{
	echo "$1 is not executable: chmod +x it (tests/README.md, contract for an e2e script)"
	return 1
}

# Start the shared cluster of regress and pgtap once, from fresh data.
start_regress_cluster()
{
	[ "$regress_cluster_started" = 1 ] && return 0
	"$TOP/scripts/cluster.sh" stop "$REGRESS_DIR" >/dev/null 2>&1 || true
	rm -rf "$REGRESS_DIR/data"
	# Mark it started first: a half-started cluster must be stopped too.
	regress_cluster_started=1
	if ! "$TOP/scripts/cluster.sh" start "$REGRESS_DIR" >/dev/null 8>&-; then
		regress_cluster_started=2	# failed; do not try again
		return 1
	fi
}

regress_cluster_up()
{
	if [ "$regress_cluster_started" != 1 ]; then
		echo "the scratch cluster $REGRESS_DIR is not running (see above)"
		return 1
	fi
	# shellcheck disable=SC1091
	. "$REGRESS_DIR/env"
}

server_log_tail()
{
	echo "--- last lines of $REGRESS_DIR/log/postgres.log"
	tail -n 40 "$REGRESS_DIR/log/postgres.log" 2>/dev/null || true
}

suite_regress()
{
	local diffs
	compgen -G "sql/*.sql" >/dev/null || skip "sql/*.sql"
	[ -f extension/Makefile ] || skip "extension/Makefile"
	regress_cluster_up || return 1
	rm -f extension/regression.diffs extension/regression.out regression.diffs regression.out
	if make -C extension PG_CONFIG="$PG_CONFIG" installcheck; then
		return 0
	fi
	for diffs in extension/regression.diffs regression.diffs; do
		if [ -f "$diffs" ]; then
			echo "--- $diffs"
			cat "$diffs"
		fi
	done
	server_log_tail
	return 1
}

suite_pgtap()
{
	local psql=(psql -X -q -v ON_ERROR_STOP=1)
	compgen -G "tests/pgtap/*.sql" >/dev/null || skip "tests/pgtap/*.sql"
	regress_cluster_up || return 1
	"${psql[@]}" -d postgres -c 'DROP DATABASE IF EXISTS axs_tap' -c 'CREATE DATABASE axs_tap' || return 1
	"${psql[@]}" -d axs_tap -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION axs' || return 1
	if pg_prove -d axs_tap tests/pgtap/*.sql; then
		return 0
	fi
	server_log_tail
	return 1
}

# Running clusters under .scratch that cluster.sh started with
# AXS_CLUSTER_OWNER=$1, one directory per line.
clusters_owned_by()
{
	local owner=$1 pidfile dir
	for pidfile in "$TOP"/.scratch/*/data/postmaster.pid "$TOP"/.scratch/*/*/data/postmaster.pid; do
		[ -f "$pidfile" ] || continue
		dir=$(dirname "$(dirname "$pidfile")")
		[ "$(cat "$dir/owner" 2>/dev/null)" = "$owner" ] || continue
		if "$TOP/scripts/cluster.sh" status "$dir" >/dev/null 2>&1; then
			echo "$dir"
		fi
	done
}

# One e2e script: TOP set, no arguments, cwd TOP, stdin closed, time-limited.
suite_e2e_script()
{
	local script=$1 owner dir rc pid
	# Marks the clusters this script starts: other people may be running
	# clusters in the same tree, and those are none of our business.
	owner="scripts/test.sh $$ $(basename "$script") $(date +%s%N)"
	# timeout runs the script in a process group of its own and on expiry
	# signals that whole group.  That group does not get our own SIGINT or
	# SIGTERM, so pass them to timeout, which forwards them to the group,
	# then wait while the script's EXIT trap stops its clusters.
	TOP=$TOP AXS_CLUSTER_OWNER=$owner timeout --kill-after=10 "$E2E_TIMEOUT" "$script" </dev/null &
	pid=$!
	trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit 143' TERM INT
	wait "$pid"
	rc=$?
	trap - TERM INT
	[ "$rc" -eq 124 ] && echo "timed out after $E2E_TIMEOUT s"
	# An e2e script must stop its clusters; stop any it left behind.
	for dir in $(clusters_owned_by "$owner"); do
		echo "$(basename "$script") left a cluster running in $dir: stopping it"
		"$TOP/scripts/cluster.sh" stop "$dir" || true
		[ "$rc" -eq 0 ] && rc=1
	done
	# Never let an e2e exit status be mistaken for a skip.
	[ "$rc" -eq "$SKIPPED" ] && rc=1
	return "$rc"
}

suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
	suites=(unit regress pgtap e2e)
fi
for suite in "${suites[@]}"; do
	case "$suite" in
		-h|--help) usage; exit 0 ;;
		unit|regress|pgtap|e2e) ;;
		*) echo "test.sh: unknown suite: $suite" >&2; usage >&2; exit 2 ;;
	esac
done

take_test_lock

for suite in "${suites[@]}"; do
	case "$suite" in
		unit)
			for group in core feeder tools; do
				run_suite "unit/$group" suite_unit "$group"
			done
			;;
		regress|pgtap)
			if { [ "$suite" = regress ] && compgen -G "$TOP/sql/*.sql" >/dev/null; } ||
				{ [ "$suite" = pgtap ] && compgen -G "$TOP/tests/pgtap/*.sql" >/dev/null; }; then
				start_regress_cluster
			fi
			run_suite "$suite" "suite_$suite"
			;;
		e2e)
			found=0
			for script in "$TOP"/tests/e2e/*.sh; do
				[ -f "$script" ] || continue
				# lib*.sh are helpers the scripts source, not tests.
				case "$(basename "$script")" in lib*) continue ;; esac
				found=1
				if [ ! -x "$script" ]; then
					run_suite "e2e/$(basename "$script")" suite_not_executable "tests/e2e/$(basename "$script")"
					continue
				fi
				run_suite "e2e/$(basename "$script")" suite_e2e_script "$script"
			done
			if [ "$found" = 0 ]; then
				run_suite e2e skip "tests/e2e/*.sh"
			fi
			;;
	esac
done

cleanup

echo
echo "=== summary"
printf '%s\n' "${summary[@]}"
status=0
[ "$failed" -eq 0 ] || status=1
# A skipped suite is a test that did not run: it fails the run, unless the
# caller allows it outside CI (CI=true, as CI sets it, always fails).
if [ "$skipped" -gt 0 ]; then
	if [ "${CI:-}" = true ]; then
		echo "test.sh: $skipped suite(s) skipped; CI=true: every suite must run"
		status=1
	elif [ "${AXS_TEST_ALLOW_SKIP:-0}" = 1 ]; then
		echo "test.sh: $skipped suite(s) skipped (allowed by AXS_TEST_ALLOW_SKIP=1)"
	else
		echo "test.sh: $skipped suite(s) skipped; set AXS_TEST_ALLOW_SKIP=1 to allow that outside CI"
		status=1
	fi
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
