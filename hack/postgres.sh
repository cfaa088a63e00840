#!/usr/bin/env bash
# A private PostgreSQL server for tests and benchmarks, on loopback only.
#
#   hack/postgres.sh start   # start (idempotent); prints the DATABASE_URL
#   hack/postgres.sh url     # print the DATABASE_URL
#   hack/postgres.sh stop    # stop it
#
# Uses Debian's postgresql binaries; data lives under $GANTRY_STATE/postgres.
# Nothing here touches the system's own cluster on 5432.
#
# GANTRY_PG_LISTEN adds listen addresses beside 127.0.0.1 (e.g. the local
# cluster's node IP 10.201.0.1, so pods can reach the database); clients from
# the cluster's pod range 10.244.0.0/16 may then log in with a password.
set -euo pipefail

GANTRY_STATE=${GANTRY_STATE:-/var/lib/gantry}
PGPORT=${GANTRY_PG_PORT:-55432}
DATA=$GANTRY_STATE/postgres/data
RUN=$GANTRY_STATE/postgres/run
# GANTRY_PG_DB names the database (created if missing); default "gantry".
DB=${GANTRY_PG_DB:-gantry}
URL="postgres://gantry:gantry@127.0.0.1:${PGPORT}/${DB}"

pgbin() {
  local v
  v=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
  [[ -n $v ]] || { echo "postgres.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
  echo "/usr/lib/postgresql/$v/bin"
}

as_pg() { runuser -u postgres -- "$@"; }

start() {
  local bin
  bin=$(pgbin)
  mkdir -p "$DATA" "$RUN"
  chown -R postgres:postgres "$GANTRY_STATE/postgres"
  if [[ ! -f $DATA/PG_VERSION ]]; then
    echo "postgres: initialising $DATA" >&2
    as_pg "$bin/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  fi
  local listen="127.0.0.1${GANTRY_PG_LISTEN:+,$GANTRY_PG_LISTEN}"
  grep -q "10.244.0.0/16" "$DATA/pg_hba.conf" ||
    echo "host all all 10.244.0.0/16 scram-sha-256" >>"$DATA/pg_hba.conf"
  if as_pg "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1 &&
    [[ $(cat "$RUN/listen" 2>/dev/null) != "$listen" ]]; then
    echo "postgres: restarting to listen on $listen" >&2
    as_pg "$bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
  fi
  if ! as_pg "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    echo "postgres: starting on $listen port $PGPORT" >&2
    as_pg "$bin/pg_ctl" -D "$DATA" -l "$GANTRY_STATE/postgres/server.log" -w -t 60 \
      -o "-c listen_addresses=$listen -p $PGPORT -k $RUN -c max_connections=200 -c fsync=off -c synchronous_commit=off" start >/dev/null
    echo "$listen" >"$RUN/listen"
  fi
  as_pg psql -h "$RUN" -p "$PGPORT" -U postgres -qtAc "SELECT 1 FROM pg_roles WHERE rolname='gantry'" | grep -q 1 ||
    as_pg psql -h "$RUN" -p "$PGPORT" -U postgres -qc "CREATE ROLE gantry LOGIN SUPERUSER PASSWORD 'gantry'"
  [[ $DB =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "postgres.sh: bad database name $DB" >&2; exit 2; }
  as_pg psql -h "$RUN" -p "$PGPORT" -U postgres -qtAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1 ||
    as_pg psql -h "$RUN" -p "$PGPORT" -U postgres -qc "CREATE DATABASE $DB OWNER gantry"
  echo "$URL"
}

stop() {
  local bin
  bin=$(pgbin)
  if [[ -f $DATA/PG_VERSION ]]; then
    as_pg "$bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  *) echo "usage: hack/postgres.sh start|stop|url" >&2; exit 2 ;;
esac
