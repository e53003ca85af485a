#!/usr/bin/env bash
#
# cluster.sh
#	Create, start, stop and reach scratch PostgreSQL 15 clusters for tests,
#	the demo and benchmarks.  One cluster per directory; several can run at
#	once, each on its own free TCP port and its own unix socket directory.
#
# It owns the layout of a cluster directory and the DIR/env file that
# clients source.  It must never touch Debian's own clusters
# (/var/lib/postgresql) or any process it did not start through DIR.
#
# PostgreSQL refuses to run as root, so every server-side command runs as
# the postgres OS user through runuser; clients connect as PGUSER=postgres.

set -euo pipefail

PG_BIN=${AXS_PG_BIN:-/usr/lib/postgresql/15/bin}
FIRST_PORT=${AXS_PG_FIRST_PORT:-55432}
LAST_PORT=$((FIRST_PORT + 500))
PORT_LOCK=${TMPDIR:-/tmp}/axs-cluster-port.lock

usage()
{
	cat <<'EOF'
Usage: scripts/cluster.sh COMMAND DIR [ARGS...]

Scratch PostgreSQL 15 clusters, run as the postgres OS user.

Commands:
  start DIR            create the cluster in DIR if needed, then start it;
                       prints the TCP port on stdout
  stop DIR             stop with "pg_ctl stop -m fast" (waits); falls back to
                       signalling the PID in DIR/data/postmaster.pid
  stop-immediate DIR   same with -m immediate (a crash, for recovery tests)
  restart DIR          stop (fast), then start again with the same settings
                       and, if still free, the same port
  status DIR           print "running PORT" or "stopped"; exit 1 if stopped
  psql DIR [ARGS...]   run psql against the cluster (database postgres
                       unless ARGS choose another)

Layout of DIR:
  DIR/data                  data directory (owned by postgres)
  DIR/.s.PGSQL.<port>       unix socket (DIR is the socket directory)
  DIR/log/postgres.log      server log
  DIR/env                   shell lines to source:
                              export PGHOST=DIR PGPORT=<port> PGUSER=postgres
                              export PGDATABASE=postgres
  DIR/data/axs-cluster.conf settings below, included from postgresql.conf

Settings: listen_addresses='127.0.0.1', unix_socket_directories=DIR, a free
port from 55432 upwards, shared_preload_libraries='axs', axs.database =
'postgres', fsync and synchronous_commit on, max_connections=100,
max_prepared_transactions=8,
shared_buffers=512MB, wal_level=replica, max_wal_size=4GB,
logging_collector=off, then the lines of $AXS_PG_CONF.

Environment:
  AXS_PG_CONF         extra postgresql.conf lines (newline separated), applied
                      by "start" (kept by "restart")
  AXS_NO_PRELOAD=1    do not preload the axs library
  AXS_PG_PORT         use this port instead of picking a free one
  AXS_PG_FIRST_PORT   first port to try (default 55432)
  AXS_CLUSTER_OWNER   recorded in DIR/owner at start (scripts/test.sh uses it
                      to find clusters an e2e script forgot to stop)

Example:
  port=$(scripts/cluster.sh start .scratch/mytest)
  . .scratch/mytest/env && psql -c 'select 1'
  scripts/cluster.sh stop .scratch/mytest
EOF
}

die()
{
	echo "cluster.sh: $*" >&2
	exit 1
}

note()
{
	echo "cluster.sh: $*" >&2
}

as_postgres()
{
	# cd first: postgres may not be allowed into the caller's directory.
	(cd "$DIR" && runuser -u postgres -- "$@")
}

# The postmaster PID if the cluster in $DATA is running, else nothing.
running_pid()
{
	local pid
	[ -f "$DATA/postmaster.pid" ] || return 1
	pid=$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null || true)
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	# A recycled PID belongs to another program; a postmaster's cwd is DATA.
	[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$DATA" ] || return 1
	echo "$pid"
}

running_port()
{
	sed -n 4p "$DATA/postmaster.pid" 2>/dev/null
}

# postgres needs search (x) permission on every directory above DIR.
make_reachable()
{
	local dir
	dir=$(dirname "$DIR")
	while [ "$dir" != "/" ]; do
		if ! runuser -u postgres -- test -x "$dir"; then
			note "chmod o+x $dir (so the postgres user can reach $DIR)"
			chmod o+x "$dir"
		fi
		dir=$(dirname "$dir")
	done
}

port_is_free()
{
	local port=$1
	# Busy: a listener on the port, on any address, or a connection whose
	# local port it is and which PostgreSQL's bind would collide with (a
	# client's: outgoing connections take their local ports from
	# 32768-60999, which overlaps our range).  Not busy: the closing
	# connections a stopped or crashed postmaster leaves on its port
	# (FIN-WAIT, CLOSING, LAST-ACK, TIME-WAIT), which its successor's
	# SO_REUSEADDR binds over, so that a restarted cluster keeps its port.
	! ss -tanH state listening state established state syn-sent state syn-recv state close-wait \
		"sport = :$port" | grep -q .
}

pick_port()
{
	local port previous=""
	if [ -n "${AXS_PG_PORT:-}" ]; then
		echo "$AXS_PG_PORT"
		return
	fi
	# Prefer the port this cluster had before, so sourced env files stay valid.
	if [ -f "$DIR/env" ]; then
		previous=$(sed -n 's/^export PGPORT=\([0-9]*\)$/\1/p' "$DIR/env")
	fi
	if [ -n "$previous" ] && port_is_free "$previous"; then
		echo "$previous"
		return
	fi
	for ((port = FIRST_PORT; port <= LAST_PORT; port++)); do
		if port_is_free "$port"; then
			echo "$port"
			return
		fi
	done
	die "no free TCP port in $FIRST_PORT..$LAST_PORT"
}

write_settings()
{
	local port=$1 preload="shared_preload_libraries = 'axs'"
	[ "${AXS_NO_PRELOAD:-0}" = "1" ] && preload="# shared_preload_libraries: AXS_NO_PRELOAD=1"
	{
		echo "# Written by scripts/cluster.sh at every start; edit AXS_PG_CONF instead."
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$DIR'"
		echo "port = $port"
		echo "$preload"
		echo "axs.database = 'postgres'"
		echo "fsync = on"
		echo "synchronous_commit = on"
		echo "max_connections = 100"
		echo "max_prepared_transactions = 8"
		echo "shared_buffers = 512MB"
		echo "wal_level = replica"
		echo "max_wal_size = 4GB"
		echo "logging_collector = off"
		echo "log_min_messages = warning	# LOG lines (worker messages) still appear"
		echo "log_line_prefix = '%m [%p] %q%a '"
		if [ -n "${AXS_PG_CONF:-}" ]; then
			echo "# AXS_PG_CONF"
			printf '%s\n' "$AXS_PG_CONF"
		fi
	} >"$DATA/axs-cluster.conf.new"
	chown postgres:postgres "$DATA/axs-cluster.conf.new"
	chmod 600 "$DATA/axs-cluster.conf.new"
	mv "$DATA/axs-cluster.conf.new" "$DATA/axs-cluster.conf"
}

# Only the port line changes on restart; every other setting is kept.
set_port()
{
	local port=$1
	sed -i "s/^port = .*/port = $port/" "$DATA/axs-cluster.conf"
}

write_env()
{
	local port=$1
	{
		echo "# Written by scripts/cluster.sh; source it to reach this cluster."
		echo "export PGHOST=$(printf '%q' "$DIR")"
		echo "export PGPORT=$port"
		echo "export PGUSER=postgres"
		echo "export PGDATABASE=postgres"
	} >"$DIR/env.new"
	chmod 644 "$DIR/env.new"
	mv "$DIR/env.new" "$DIR/env"
}

init_cluster()
{
	install -d -o postgres -g postgres -m 700 "$DATA"
	note "initdb $DATA"
	if ! as_postgres "$PG_BIN/initdb" -D "$DATA" --auth=trust -E UTF8 \
		--locale=C.UTF-8 -U postgres --no-sync >"$DIR/log/initdb.log" 2>&1; then
		cat "$DIR/log/initdb.log" >&2
		die "initdb failed"
	fi
	echo "include = 'axs-cluster.conf'" >>"$DATA/postgresql.conf"
}

# start [keep]: with "keep", reuse the settings file from the last start.
cmd_start()
{
	local mode=${1:-} pid port

	[ -x "$PG_BIN/pg_ctl" ] || die "$PG_BIN/pg_ctl not found (run scripts/install-deps.sh)"
	if pid=$(running_pid); then
		port=$(running_port)
		note "already running (pid $pid, port $port)"
		write_env "$port"
		echo "$port"
		return
	fi

	# The socket path must fit in sockaddr_un (107 bytes).
	[ $((${#DIR} + 18)) -le 107 ] || die "path too long for a unix socket: $DIR"

	install -d -m 755 "$DIR"
	chown postgres:postgres "$DIR"
	chmod 755 "$DIR"
	make_reachable
	install -d -o postgres -g postgres -m 755 "$DIR/log"

	[ -f "$DATA/PG_VERSION" ] || init_cluster

	# Picking a port and binding it must not interleave with another start.
	exec 9>>"$PORT_LOCK"
	flock 9
	port=$(pick_port)
	if [ "$mode" = keep ] && [ -f "$DATA/axs-cluster.conf" ]; then
		set_port "$port"
	else
		write_settings "$port"
	fi
	# 9>&-: the postmaster must not inherit the lock.
	if ! as_postgres "$PG_BIN/pg_ctl" -D "$DATA" -l "$DIR/log/postgres.log" \
		-w -t 120 start >/dev/null 9>&-; then
		flock -u 9
		tail -n 30 "$DIR/log/postgres.log" >&2 || true
		die "could not start the cluster in $DIR (log: $DIR/log/postgres.log)"
	fi
	flock -u 9
	exec 9>&-
	write_env "$port"
	# Who started it (set by scripts/test.sh for e2e scripts), so that the
	# test runner stops only the clusters its own scripts left running.
	if [ -n "${AXS_CLUSTER_OWNER:-}" ]; then
		echo "$AXS_CLUSTER_OWNER" >"$DIR/owner"
	else
		rm -f "$DIR/owner"
	fi
	note "started $DIR on port $port"
	echo "$port"
}

# stop MODE: pg_ctl first; if that fails, signal the postmaster PID.
cmd_stop()
{
	local mode=$1 pid signal i
	if ! pid=$(running_pid); then
		note "not running: $DIR"
		return 0
	fi
	if as_postgres "$PG_BIN/pg_ctl" -D "$DATA" -m "$mode" -w -t 60 stop >/dev/null 2>&1; then
		note "stopped $DIR ($mode)"
		return 0
	fi
	# Fall back to the PID: SIGINT is a fast shutdown, SIGQUIT immediate.
	signal=INT
	[ "$mode" = immediate ] && signal=QUIT
	note "pg_ctl stop failed; sending SIG$signal to postmaster $pid"
	kill "-$signal" "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || { note "stopped $DIR (pid $pid)"; return 0; }
		sleep 0.1
	done
	note "postmaster $pid still alive; sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	sleep 0.5
	kill -0 "$pid" 2>/dev/null && die "could not stop postmaster $pid"
	return 0
}

cmd_status()
{
	local pid
	if pid=$(running_pid); then
		echo "running $(running_port)"
	else
		echo "stopped"
		return 1
	fi
}

cmd_psql()
{
	running_pid >/dev/null || die "not running: $DIR (scripts/cluster.sh start $DIR)"
	# shellcheck disable=SC1091
	. "$DIR/env"
	exec "$PG_BIN/psql" -X "$@"
}

case "${1:-}" in
	-h|--help|help) usage; exit 0 ;;
	start|stop|stop-immediate|restart|status|psql) ;;
	"") usage >&2; exit 2 ;;
	*) echo "cluster.sh: unknown command: $1" >&2; usage >&2; exit 2 ;;
esac
command=$1
[ $# -ge 2 ] || { usage >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || [ "$command" = psql ] || [ "$command" = status ] ||
	die "run as root (server commands use runuser -u postgres)"
if [ "$command" = start ]; then
	mkdir -p "$2"
elif [ ! -d "$2" ]; then
	die "no such cluster directory: $2"
fi
DIR=$(cd "$2" && pwd -P)
DATA=$DIR/data
shift 2

case "$command" in
	start) cmd_start ;;
	stop) cmd_stop fast ;;
	stop-immediate) cmd_stop immediate ;;
	restart) cmd_stop fast; cmd_start keep ;;
	status) cmd_status ;;
	psql) cmd_psql "$@" ;;
esac
