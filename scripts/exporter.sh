#!/usr/bin/env bash
#
# exporter.sh
#	prometheus-postgres-exporter (the Debian package) for a scratch cluster
#	of scripts/cluster.sh, with the ledger's queries
#	(monitoring/axs-queries.yaml): the demo and the e2e tests start it
#	beside their cluster and stop it by PID.
#
# It owns DIR/exporter/ (its pid, port and log) and the login role
# axs_exporter (a member of axs_reader and pg_monitor, no password: the
# scratch cluster trusts its unix socket), which it creates once the axs
# extension exists in database postgres.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
EXPORTER=${AXS_EXPORTER_BIN:-/usr/bin/prometheus-postgres-exporter}

usage()
{
	cat <<'USAGE'
Usage: scripts/exporter.sh start|stop|url DIR

  start DIR   create role axs_exporter in the cluster of DIR (running, with
              the axs extension in database postgres), start the exporter on
              a free 127.0.0.1 port, wait until it serves /metrics, and print
              its URL (http://127.0.0.1:PORT/metrics)
  stop DIR    stop the exporter started for DIR (by its PID)
  url DIR     print the URL of the running exporter
USAGE
}

free_port()
{
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start()
{
	local dir=$1 port url
	# shellcheck disable=SC1091
	. "$dir/env"
	psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null <<'SQL'
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'axs_exporter') THEN
		CREATE ROLE axs_exporter LOGIN IN ROLE axs_reader, pg_monitor;
	END IF;
END
$$;
SQL
	stop "$dir"
	mkdir -p "$dir/exporter"
	port=$(free_port)
	DATA_SOURCE_NAME="host=$PGHOST port=$PGPORT user=axs_exporter dbname=postgres sslmode=disable" \
		"$EXPORTER" --web.listen-address="127.0.0.1:$port" \
		--extend.query-path="$TOP/monitoring/axs-queries.yaml" --log.level=warn \
		>"$dir/exporter/log" 2>&1 &
	echo $! >"$dir/exporter/pid"
	echo "$port" >"$dir/exporter/port"
	url="http://127.0.0.1:$port/metrics"
	for _ in $(seq 100); do
		if curl -sf "$url" | grep -q '^axs_applier_epoch'; then
			echo "$url"
			return 0
		fi
		kill -0 "$(cat "$dir/exporter/pid")" 2>/dev/null || break
		sleep 0.1
	done
	echo "exporter.sh: the exporter did not serve axs metrics at $url; its log:" >&2
	cat "$dir/exporter/log" >&2
	stop "$dir"
	return 1
}

stop()
{
	local dir=$1 pid
	[ -f "$dir/exporter/pid" ] || return 0
	pid=$(cat "$dir/exporter/pid")
	if kill "$pid" 2>/dev/null; then
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$dir/exporter/pid"
}

[ $# -eq 2 ] || { usage >&2; exit 2; }
case $1 in
	start) start "$2" ;;
	stop) stop "$2" ;;
	url) echo "http://127.0.0.1:$(cat "$2/exporter/port")/metrics" ;;
	*) usage >&2; exit 2 ;;
esac
