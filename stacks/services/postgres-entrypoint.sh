#!/bin/bash
# Entry point of the PostgreSQL service image (uid 1000, data on the /data volume). The first start
# makes the cluster: superuser "postgres" reachable only over the Unix socket inside the container
# (trust: only `docker exec` gets there), database "app" owned by the NOLOGIN role "app_owner",
# and two login roles app_a / app_b that act as app_owner (so either owns what the other made).
# One of them holds the password from SLIPWAY_PG_PASSWORD; credential rotation switches between
# them so the old password keeps working until the apps run with the new one. Later starts only
# start the server: the password lives in the cluster, never again in the environment.
set -euo pipefail
export PGDATA=/data/pgdata
bin=/usr/lib/postgresql/15/bin
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${SLIPWAY_PG_PASSWORD:?the first start needs SLIPWAY_PG_PASSWORD}"
  rm -rf "$PGDATA.init"
  "$bin/initdb" -D "$PGDATA.init" -U postgres --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >/tmp/initdb.log
  cat >"$PGDATA.init/pg_hba.conf" <<'HBA'
local all all trust
host all postgres all reject
host all all all scram-sha-256
HBA
  "$bin/postgres" --single -D "$PGDATA.init" postgres >/tmp/init-sql.log <<SQL
CREATE ROLE app_owner NOLOGIN
CREATE ROLE app_a LOGIN PASSWORD '${SLIPWAY_PG_PASSWORD}' IN ROLE app_owner
CREATE ROLE app_b NOLOGIN IN ROLE app_owner
ALTER ROLE app_a SET role = 'app_owner'
ALTER ROLE app_b SET role = 'app_owner'
CREATE DATABASE app OWNER app_owner
SQL
  mv "$PGDATA.init" "$PGDATA"
fi
rm -f "$PGDATA/postmaster.pid"
exec "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp \
  -c shared_buffers="${SLIPWAY_PG_SHARED_BUFFERS:-64MB}" -c max_connections="${SLIPWAY_PG_MAX_CONNECTIONS:-50}" \
  -c password_encryption=scram-sha-256 -c log_line_prefix='%m [%p] %q%u@%d ' -c logging_collector=off
