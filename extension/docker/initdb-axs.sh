#!/bin/bash
# initdb-axs.sh: first-start setup of the axs extension in the official
# postgres image (run once from /docker-entrypoint-initdb.d, only when the
# data directory is empty).
#
# It creates the extension in $POSTGRES_DB, registers the currencies listed
# in AXS_CURRENCIES, creates the feeder's login role and points the applier
# at $POSTGRES_DB.  It must not run again on an initialised cluster (the
# entrypoint guarantees that) and it never prints passwords.
#
# Environment:
#   AXS_CURRENCIES       CODE:SCALE list, e.g. "BTC:8,ETH:18,USDT:6" (may be empty)
#   AXS_FEEDER_USER      login role for axs-feeder (default "feeder")
#   AXS_FEEDER_PASSWORD  its password; without one no login role is created
#   AXS_EXPORTER_USER    login role for prometheus-postgres-exporter (default
#                        "exporter"), a member of axs_reader and pg_monitor
#   AXS_EXPORTER_PASSWORD  its password; without one no login role is created
set -Eeuo pipefail

feeder_user="${AXS_FEEDER_USER:-feeder}"
exporter_user="${AXS_EXPORTER_USER:-exporter}"

# Values reach SQL only as psql variables (:'name' quotes them), so a
# password or a currency list cannot break out of its literal.
psql_axs=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB")

# Extension and currencies in one transaction: a bad currency list leaves
# nothing half done and makes the container fail loudly.
"${psql_axs[@]}" --single-transaction \
	-v currencies="${AXS_CURRENCIES:-}" <<'EOSQL'
CREATE EXTENSION IF NOT EXISTS axs;

SELECT axs.create_currency(btrim(split_part(item, ':', 1)),
						   btrim(split_part(item, ':', 2))::integer) AS currency_id,
	   btrim(split_part(item, ':', 1)) AS code
FROM unnest(string_to_array(:'currencies', ',')) AS item
WHERE btrim(item) <> '';
EOSQL

if [ -n "${AXS_FEEDER_PASSWORD:-}" ]; then
	"${psql_axs[@]}" -v feeder_user="$feeder_user" -v feeder_password="$AXS_FEEDER_PASSWORD" <<'EOSQL'
CREATE ROLE :"feeder_user" LOGIN PASSWORD :'feeder_password' IN ROLE axs_feeder;
EOSQL
	echo "initdb-axs: login role \"$feeder_user\" created in role axs_feeder"
else
	echo "initdb-axs: AXS_FEEDER_PASSWORD is empty, no feeder login role created" >&2
fi

if [ -n "${AXS_EXPORTER_PASSWORD:-}" ]; then
	"${psql_axs[@]}" -v exporter_user="$exporter_user" -v exporter_password="$AXS_EXPORTER_PASSWORD" <<'EOSQL'
CREATE ROLE :"exporter_user" LOGIN PASSWORD :'exporter_password' IN ROLE axs_reader, pg_monitor;
EOSQL
	echo "initdb-axs: login role \"$exporter_user\" created in roles axs_reader and pg_monitor"
else
	echo "initdb-axs: AXS_EXPORTER_PASSWORD is empty, no exporter login role created" >&2
fi

# The applier runs in the database named by axs.database (default
# "postgres").  Record $POSTGRES_DB in postgresql.auto.conf so the image
# works without extra flags; a -c axs.database=... on the command line still
# wins.  ALTER SYSTEM cannot run inside a transaction block, hence its own call.
"${psql_axs[@]}" -v database="$POSTGRES_DB" <<'EOSQL'
ALTER SYSTEM SET axs.database = :'database';
EOSQL
