#!/usr/bin/env bash
#
# install-deps.sh
#	Install the Debian 12 packages axs needs to build, test and demo, and
#	nothing else.  Idempotent: when every package is present it only checks
#	(no root needed, no network); otherwise it runs apt-get update once and
#	installs just the missing ones, printing their names.
#
# It must not start or configure PostgreSQL for use: every axs cluster is a
# scratch cluster made by scripts/cluster.sh.  Debian's postgresql-15 package
# creates and starts a "main" cluster on port 5432; we stop it so nothing
# relies on it by accident.

set -euo pipefail

usage()
{
	cat <<'EOF'
Usage: scripts/install-deps.sh [--check]

Installs whatever is missing of the Debian packages axs needs:
  build-essential pkg-config postgresql-15 postgresql-server-dev-15
  postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl (pg_prove)
  librdkafka-dev libcmocka-dev libpq-dev libjson-c-dev libmicrohttpd-dev
  kcat procps iproute2 python3 (the e2e drills' reference model)
  prometheus-postgres-exporter curl (the ledger's metrics: demo and e2e)

Runs apt-get (as root, non-interactive, "apt-get update" only when something
is missing) and prints what it installs.  Afterwards stops Debian's own
"main" PostgreSQL cluster if it is running: axs never uses it.

  --check   only report missing packages; exit 1 if any are missing
EOF
}

packages=(
	build-essential
	pkg-config
	postgresql-15
	postgresql-server-dev-15
	postgresql-15-pgtap
	libtap-parser-sourcehandler-pgtap-perl
	librdkafka-dev
	libcmocka-dev
	libpq-dev
	libjson-c-dev
	libmicrohttpd-dev
	kcat
	procps
	iproute2
	python3
	prometheus-postgres-exporter
	curl
)

check_only=0
case "${1:-}" in
	-h|--help) usage; exit 0 ;;
	--check) check_only=1 ;;
	"") ;;
	*) usage >&2; exit 2 ;;
esac

missing=()
for package in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
	if [ "$status" != "installed" ]; then
		missing+=("$package")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi

if [ "$check_only" -eq 1 ]; then
	echo "install-deps: missing: ${missing[*]}" >&2
	exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}" >&2
	echo "install-deps: run this script as root to install them" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# Quiet, but keep errors visible: on failure show apt's full output.
apt_log=$(mktemp)
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$apt_log" 2>&1; then
	cat "$apt_log" >&2
	rm -f "$apt_log"
	echo "install-deps: apt-get install failed" >&2
	exit 1
fi
rm -f "$apt_log"

# Debian's auto-created cluster: leave it stopped, we never use it.
if command -v pg_ctlcluster >/dev/null 2>&1; then
	pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
fi

echo "install-deps: done"
