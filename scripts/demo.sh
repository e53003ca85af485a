#!/usr/bin/env bash
#
# demo.sh
#	Show axs at work: start the scratch cluster .scratch/demo (axs
#	preloaded), create the database axs_demo and run the scripted session
#	scripts/demo.sql against it, then stop the cluster.  The session lives in
#	demo.sql; this script only provides the cluster and the database.

set -euo pipefail

usage()
{
	cat <<'USAGE'
Usage: scripts/demo.sh [--keep]

Runs the axs demo (usually through "make demo", which builds and installs
the extension first): starts the scratch cluster .scratch/demo with axs
preloaded, (re)creates the database axs_demo, runs scripts/demo.sql there
(deposits, an order freeze, a trade with fees, an unfreeze, a rejected
overdraft, axs.verify()) and stops the cluster.  Exits non-zero if any
outcome differs from the expected one.

  --keep   leave the cluster running afterwards; reach it with
           scripts/cluster.sh psql .scratch/demo -d axs_demo
           and stop it with scripts/cluster.sh stop .scratch/demo
USAGE
}

keep=0
case "${1:-}" in
	-h|--help) usage; exit 0 ;;
	--keep) keep=1 ;;
	"") ;;
	*) usage >&2; exit 2 ;;
esac

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
DIR=$TOP/.scratch/demo
PSQL=(/usr/lib/postgresql/15/bin/psql -X -v ON_ERROR_STOP=1)

stop_cluster()
{
	if [ "$keep" = 0 ]; then
		"$TOP/scripts/cluster.sh" stop "$DIR" || true
	fi
}
trap stop_cluster EXIT

"$TOP/scripts/cluster.sh" start "$DIR" >/dev/null
# shellcheck disable=SC1091
. "$DIR/env"

"${PSQL[@]}" -q -d postgres -c 'SET client_min_messages = warning' -c 'DROP DATABASE IF EXISTS axs_demo' -c 'CREATE DATABASE axs_demo'
if ! "${PSQL[@]}" -d axs_demo -f "$TOP/scripts/demo.sql"; then
	echo "demo: FAILED (server log: $DIR/log/postgres.log)" >&2
	exit 1
fi
if [ "$keep" = 1 ]; then
	echo "demo: cluster left running; scripts/cluster.sh psql .scratch/demo -d axs_demo"
fi
