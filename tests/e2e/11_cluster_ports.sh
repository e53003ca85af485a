#!/usr/bin/env bash
#
# 11_cluster_ports.sh
#	scripts/cluster.sh picks a port PostgreSQL can bind.  The kernel hands
#	out outgoing connections' local ports from a range (32768-60999 here)
#	that overlaps the clusters' ports (55432 upwards): a port with no
#	listener can still be the local port of an established connection
#	(a feeder's or a test's client), and then PostgreSQL's bind fails
#	("Address already in use").  Here a connection is held open from the
#	first port of the range; the cluster must start, on another port.
#
# It owns the cluster .scratch/e2e_cluster_ports.

set -euo pipefail

TOP=${TOP:?set TOP to the repository root}
DIR=$TOP/.scratch/e2e_cluster_ports
# shellcheck source=tests/e2e/lib_check.sh
. "$TOP/tests/e2e/lib_check.sh"

holder_pid=
cleanup()
{
	[ -z "$holder_pid" ] || kill "$holder_pid" 2>/dev/null || true
	"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# a port no socket uses, in the clusters' range but past the usual ones
port=56200
while [ -n "$(ss -tanH "sport = :$port")" ]; do port=$((port + 1)); done

"$TOP/scripts/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR"
mkdir -p "$DIR"
echo "# a client connection held open from 127.0.0.1:$port (no listener on it)"
python3 -c '
import socket, sys, time
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
client = socket.socket()
client.bind(("127.0.0.1", int(sys.argv[1])))
client.connect(server.getsockname())
accepted, _ = server.accept()
open(sys.argv[2], "w").write("ready\n")
time.sleep(600)
' "$port" "$DIR/holder.ready" &
holder_pid=$!
for _ in $(seq 50); do [ -s "$DIR/holder.ready" ] && break; sleep 0.1; done
[ -s "$DIR/holder.ready" ] || { echo "FAIL - the connection holder did not start"; exit 1; }
check "port $port has an established connection and no listener" \
	"$([ -n "$(ss -tanH "sport = :$port")" ] && [ -z "$(ss -ltnH "sport = :$port")" ] && echo ok ||
		ss -tanH "sport = :$port")"

started_port=$(AXS_PG_FIRST_PORT=$port "$TOP/scripts/cluster.sh" start "$DIR" 2>"$DIR/start.log" || true)
check "the cluster starts although the first port of its range is a client's" \
	"$([ -n "$started_port" ] && echo ok || tail -n 5 "$DIR/start.log")"
check "on another port" "$([ -n "$started_port" ] && [ "$started_port" != "$port" ] && echo ok ||
	echo "port '$started_port'")"

if [ "$failures" -ne 0 ]; then
	echo "# $failures check(s) failed"
	exit 1
fi
echo "# all checks passed"
