# lib_check.sh
#	The smallest shared helpers of the e2e scripts: a quiet psql and a
#	check that prints "ok - ..." or "FAIL - ..." and counts failures in
#	$failures.  Sourced by lib_ledger.sh and lib_feeder.sh; runs nothing.

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
