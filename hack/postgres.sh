#!/usr/bin/env bash
# Gantry's private PostgreSQL servers: two separate instances (own data directory, port and
# settings), so that neither command ever restarts or reconfigures the other's.
#
#   hack/postgres.sh start [test|main]   # start (idempotent); prints the DATABASE_URL
#   hack/postgres.sh url   [test|main]   # print the DATABASE_URL
#   hack/postgres.sh stop  [test|main]   # stop it
#
#   test (default)  for `npm test` and benchmarks: 127.0.0.1:55432 only, fast and unsafe
#                   (fsync=off, synchronous_commit=off, full_page_writes=off: a crash may
#                   lose or corrupt its data, which tests recreate anyway).
#                   Data: $GANTRY_STATE/postgres. Port: GANTRY_PG_PORT.
#   main            for what `npm run up` ships (user-service's data): durable (fsync,
#                   synchronous commit and full-page writes on), on 127.0.0.1:55433 plus
#                   GANTRY_PG_LISTEN (e.g. the local cluster's node address 10.201.0.1, so
#                   pods can reach it); clients from the cluster's pod range 10.244.0.0/16
#                   log in with a password. Data: $GANTRY_STATE/postgres-main.
#                   Port: GANTRY_PG_MAIN_PORT.
#
# `start` never stops a running server to drop a listen address: the main instance is
# restarted only when GANTRY_PG_LISTEN adds an address it does not listen on yet (and then
# keeps the ones it had); the test instance is never restarted.
#
# GANTRY_PG_DB names the database (created if missing); default "gantry".
# Uses Debian's postgresql binaries. Nothing here touches the system's own cluster on 5432.
set -euo pipefail

GANTRY_STATE=${GANTRY_STATE:-/var/lib/gantry}
CMD=${1:-}
INSTANCE=${2:-test}
case $INSTANCE in
  test)
    BASE=$GANTRY_STATE/postgres
    PGPORT=${GANTRY_PG_PORT:-55432}
    SETTINGS=(-c fsync=off -c synchronous_commit=off -c full_page_writes=off)
    if [[ -n ${GANTRY_PG_LISTEN:-} ]]; then
      echo "postgres.sh: the test instance listens on 127.0.0.1 only; GANTRY_PG_LISTEN is for 'main'" >&2
      exit 2
    fi
    ;;
  main)
    BASE=$GANTRY_STATE/postgres-main
    PGPORT=${GANTRY_PG_MAIN_PORT:-55433}
    SETTINGS=(-c fsync=on -c synchronous_commit=on -c full_page_writes=on)
    ;;
  *)
    echo "postgres.sh: unknown instance '$INSTANCE' (test or main)" >&2
    exit 2
    ;;
esac
DATA=$BASE/data
RUN=$BASE/run
DB=${GANTRY_PG_DB:-gantry}
URL="postgres://gantry:gantry@127.0.0.1:${PGPORT}/${DB}"

pgbin() {
  local v
  v=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
  [[ -n $v ]] || { echo "postgres.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
  echo "/usr/lib/postgresql/$v/bin"
}

as_pg() { runuser -u postgres -- "$@"; }
sql() { as_pg psql -h "$RUN" -p "$PGPORT" -U postgres -qtAc "$1"; }
running() { as_pg "$1/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

# The union of two comma-separated address lists, in order, without duplicates.
union() {
  local -a all out=()
  local a IFS=,
  read -ra all <<<"$1,$2"
  for a in "${all[@]}"; do
    a=${a// /}
    [[ -z $a || ",${out[*]}," == *",$a,"* ]] || out+=("$a")
  done
  echo "${out[*]}"
}

# Before the split, `npm run up` kept its database in what is now the test instance (and
# made that listen on the node address). A new main instance takes that database over once,
# so the shipped service keeps its data.
adopt_old_database() {
  local old_run=$GANTRY_STATE/postgres/run old_port=${GANTRY_PG_PORT:-55432}
  [[ -S $old_run/.s.PGSQL.$old_port ]] || return 0
  [[ $(as_pg psql -h "$old_run" -p "$old_port" -U postgres -qtAc "SHOW listen_addresses" 2>/dev/null) != 127.0.0.1 ]] ||
    return 0
  as_pg psql -h "$old_run" -p "$old_port" -U postgres -qtAc \
    "SELECT 1 FROM pg_database WHERE datname='$DB'" 2>/dev/null | grep -q 1 || return 0
  echo "postgres (main): copying database $DB from the test instance (where npm run up kept it before)" >&2
  sql "CREATE DATABASE $DB OWNER gantry" >/dev/null
  as_pg "$bin/pg_dump" -h "$old_run" -p "$old_port" -U postgres --no-owner "$DB" |
    as_pg psql -h "$RUN" -p "$PGPORT" -U gantry -d "$DB" -q -v ON_ERROR_STOP=1 >/dev/null
}

start() {
  local bin listen current fresh=0
  bin=$(pgbin)
  mkdir -p "$DATA" "$RUN"
  chown -R postgres:postgres "$BASE"
  if [[ ! -f $DATA/PG_VERSION ]]; then
    echo "postgres ($INSTANCE): initialising $DATA" >&2
    as_pg "$bin/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    fresh=1
  fi
  listen=127.0.0.1
  if [[ $INSTANCE == main ]]; then
    grep -q "10.244.0.0/16" "$DATA/pg_hba.conf" ||
      echo "host all all 10.244.0.0/16 scram-sha-256" >>"$DATA/pg_hba.conf"
    listen=$(union 127.0.0.1 "${GANTRY_PG_LISTEN:-}")
    if running "$bin"; then
      current=$(sql "SHOW listen_addresses")
      if [[ $(union "$current" "$listen") != "$current" ]]; then
        listen=$(union "$current" "$listen")
        echo "postgres (main): restarting to listen on $listen (was $current)" >&2
        as_pg "$bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
      fi
    fi
  elif running "$bin"; then
    current=$(sql "SHOW listen_addresses")
    [[ $current == 127.0.0.1 ]] ||
      echo "postgres (test): left running as it is, listening on $current" >&2
  fi
  if ! running "$bin"; then
    echo "postgres ($INSTANCE): starting on $listen port $PGPORT" >&2
    as_pg "$bin/pg_ctl" -D "$DATA" -l "$BASE/server.log" -w -t 60 \
      -o "-c listen_addresses=$listen -p $PGPORT -k $RUN -c max_connections=200 ${SETTINGS[*]}" \
      start >/dev/null 9>&- # the server must not hold the lock below
  fi
  sql "SELECT 1 FROM pg_roles WHERE rolname='gantry'" | grep -q 1 ||
    sql "CREATE ROLE gantry LOGIN SUPERUSER PASSWORD 'gantry'" >/dev/null
  [[ $DB =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "postgres.sh: bad database name $DB" >&2; exit 2; }
  if [[ $INSTANCE == main && $fresh == 1 ]]; then adopt_old_database; fi
  sql "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1 ||
    sql "CREATE DATABASE $DB OWNER gantry" >/dev/null
  echo "$URL"
}

stop() {
  local bin
  bin=$(pgbin)
  if [[ -f $DATA/PG_VERSION ]]; then
    as_pg "$bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

# One `start` or `stop` of an instance at a time (npm test and npm run up may overlap).
locked() {
  mkdir -p "$GANTRY_STATE"
  exec 9>"$GANTRY_STATE/postgres-$INSTANCE.lock"
  flock 9
  "$@"
}

case $CMD in
  start) locked start ;;
  stop) locked stop ;;
  url) echo "$URL" ;;
  *) echo "usage: hack/postgres.sh start|stop|url [test|main]" >&2; exit 2 ;;
esac
