# shellcheck shell=bash
# lib_check.sh
#	The smallest shared helpers of the e2e scripts: a quiet psql, a check
#	that prints "ok - ..." or "FAIL - ..." and counts failures in
#	$failures, polling for a state, and a session held open until released.
#	Sourced by lib_ledger.sh and lib_feeder.sh; runs nothing.

failures=0

# q ARGS...: psql, quiet, unaligned, stops on the first error.
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# check DESCRIPTION RESULT: RESULT "ok" passes, anything else fails and is shown.
check()
{
	local description=$1 result=$2
	if [ "$result" = ok ]; then
		echo "ok   - $description"
	else
		echo "FAIL - $description"
		printf '%s\n' "$result" | sed 's/^/       /'
		failures=$((failures + 1))
	fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq()
{
	if [ "$2" = "$3" ]; then check "$1" ok; else check "$1" "expected $2, got $3"; fi
}

# wait_for SECONDS SQL: poll (every WAIT_FOR_INTERVAL s, default 0.1) until
# SQL returns t; false if it never does within SECONDS.
wait_for()
{
	local limit=$1 sql=$2 deadline
	deadline=$((SECONDS + limit))
	while [ "$SECONDS" -lt "$deadline" ]; do
		[ "$(psql -X -At -c "$sql" 2>/dev/null || true)" = t ] && return 0
		sleep "${WAIT_FOR_INTERVAL:-0.1}"
	done
	return 1
}

# hold_session RELEASE LOG [PSQL_ARG...] -- SQL...: a psql session in the
# background (HELD_PID) that runs the SQL lines, then stays open, idle,
# until the file RELEASE exists; then it sends one more statement, so that
# LOG (psql's output) shows how the session ended.
hold_session()
{
	local release=$1 log=$2 args=()
	shift 2
	while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	shift
	rm -f "$release"
	{
		printf '%s\n' "$@"
		while [ ! -e "$release" ]; do sleep 0.1; done
		echo 'SELECT 1 AS still_connected;'
	} | psql -X "${args[@]}" >"$log" 2>&1 &
	HELD_PID=$!
}
