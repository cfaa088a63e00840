#!/usr/bin/env bash
# Service benchmark: user-service GET /api/users/:id on SQLite and on PostgreSQL, against the
# seed's Go hello service (GET /) as the one-core baseline.
#
#   bash bench/service/run.sh
#
# What it does, per target: start the server pinned to one core (taskset), seed users, run wrk
# pinned to the other core for a warmup and then a measured run (peak rps, p50, p99), then, for
# user-service, a fixed-rate run at half its own peak (p99 there). Prints a table and whether
# the targets are met: user-service rps >= 0.5 x hello-go rps, p99 <= 10 ms at half peak.
#
# Choices: user-service runs as in production (LOG_LEVEL=info, one JSON access line per request,
# written to a log file the way a container runtime collects stdout; metrics and request ids on).
# hello-go runs with GOMAXPROCS=1. The PostgreSQL server (hack/postgres.sh) is pinned to the
# load-generator core during the run, so the service core is the service's alone; its affinity
# is restored afterwards. Loopback only; every run is bounded in time.
#
# Environment (defaults): BENCH_WARMUP_S=10 BENCH_DURATION_S=15 BENCH_FIXED_S=15
#   BENCH_CONNECTIONS=32 BENCH_USERS=1000 BENCH_SERVER_CPU=0 BENCH_LOAD_CPU=1 BENCH_PG_CPU=1
#   (BENCH_PG_CPU= leaves PostgreSQL unpinned) BENCH_TARGETS="sqlite postgres hello-go"
#   BENCH_OUT=<file> also copies the JSON lines results there.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/service
WARMUP=${BENCH_WARMUP_S:-10}
DURATION=${BENCH_DURATION_S:-15}
FIXED=${BENCH_FIXED_S:-15}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
USERS=${BENCH_USERS:-1000}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
PG_CPU=${BENCH_PG_CPU-1}
TARGETS=${BENCH_TARGETS:-sqlite postgres hello-go}
PORT=${BENCH_PORT:-18480}

WORK=$(mktemp -d /tmp/gantry-bench.XXXXXX)
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
SERVER_PID=
PG_SCHEMA=
PG_BASE_URL=
PG_PIDS=
HALF_RATES=()

log() { printf '[bench] %s\n' "$*" >&2; }

stop_server() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}

cleanup() {
  stop_server
  if [[ -n $PG_PIDS ]]; then
    for p in $PG_PIDS $(pgrep -P "${PG_PIDS%% *}" 2>/dev/null || true); do
      taskset -a -p -c "0-$(($(nproc) - 1))" "$p" >/dev/null 2>&1 || true
    done
  fi
  if [[ -n $PG_SCHEMA ]]; then
    psql -q "$PG_BASE_URL" -c "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1; }

# --- tools -----------------------------------------------------------------------------------
if ! need wrk; then
  log "installing wrk"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
need taskset || { log "taskset (util-linux) is required"; exit 1; }
need go || { log "go is required to build hello-go"; exit 1; }
if (($(nproc) < 2)); then log "needs at least 2 cores (server and load generator apart)"; exit 1; fi

# --- build -----------------------------------------------------------------------------------
log "building user-service (npm run build) and hello-go (go build)"
(cd "$ROOT" && npm run build -w services/user-service >/dev/null)
(cd "$ROOT/services/hello-go" && go build -o "$WORK/hello-go" .)

# --- helpers ---------------------------------------------------------------------------------
wait_http() { # url
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  log "server did not become ready at $1"
  return 1
}

to_ms() { # wrk latency like 1.23ms / 456.00us / 1.02s → milliseconds
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else { printf "nan" } }'
}

cpu_ticks() { # pid → utime+stime of the whole process, in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat"
}

run_wrk() { # pid url [lua] → prints "rps p50ms p99ms cpu_us_per_request"
  local pid=$1 url=$2 lua=${3:-} out t0 t1
  local args=(-t1 -c"$CONNECTIONS" --latency)
  [[ -n $lua ]] && args+=(-s "$lua")
  log "  warmup ${WARMUP}s"
  BENCH_USERS=$USERS taskset -c "$LOAD_CPU" wrk "${args[@]}" -d"${WARMUP}s" "$url" >/dev/null
  log "  measure ${DURATION}s"
  t0=$(cpu_ticks "$pid")
  out=$(BENCH_USERS=$USERS taskset -c "$LOAD_CPU" wrk "${args[@]}" -d"${DURATION}s" "$url")
  t1=$(cpu_ticks "$pid")
  printf '%s\n' "$out" >>"$WORK/wrk.txt"
  if grep -q 'Non-2xx' <<<"$out"; then log "  WARNING: non-2xx responses: $(grep 'Non-2xx' <<<"$out")"; fi
  local rps p50 p99 n cpu
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  # Server CPU per request: capacity on a dedicated core, independent of the load generator.
  cpu=$(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
  echo "$rps $p50 $p99 $cpu"
}

fixed_rate() { # base path rate → JSON
  taskset -c "$LOAD_CPU" node --import tsx "$HERE/fixed-rate.ts" --url "$1" --path "$2" \
    --ids "$USERS" --rate "$3" --duration "$FIXED" --warmup 2
}

bench_user_service() { # backend database_url
  local backend=$1 dburl=$2 port=$((PORT++)) base
  base=http://127.0.0.1:$port
  log "user-service on $backend: starting on core $SERVER_CPU"
  mkdir -p "$WORK/empty"
  taskset -c "$SERVER_CPU" env PORT="$port" HOST=127.0.0.1 LOG_LEVEL=info \
    DATABASE_URL="$dburl" CONFIG_DIR="$WORK/empty" SECRETS_DIR="$WORK/empty" \
    SHUTDOWN_DRAIN_DELAY_MS=0 NODE_ENV=production \
    node "$ROOT/services/user-service/dist/main.js" >"$WORK/user-service-$backend.log" 2>&1 &
  SERVER_PID=$!
  wait_http "$base/readyz"
  log "  seeding $USERS users"
  taskset -c "$LOAD_CPU" node --import tsx "$HERE/seed.ts" "$base" "$USERS" >/dev/null
  local rps p50 p99 cpu
  read -r rps p50 p99 cpu < <(run_wrk "$SERVER_PID" "$base" "$HERE/get-user.lua")
  local half fixed
  half=$(awk -v r="$rps" 'BEGIN { printf "%d", r / 2 }')
  HALF_RATES+=("$half")
  log "  fixed rate ${half} rps for ${FIXED}s (half of peak ${rps})"
  fixed=$(fixed_rate "$base" '/api/users/{id}' "$half")
  printf '{"target":"user-service","backend":"%s","peakRps":%s,"p50Ms":%s,"p99Ms":%s,"cpuUsPerRequest":%s,"fixed":%s}\n' \
    "$backend" "$rps" "$p50" "$p99" "$cpu" "$fixed" >>"$RESULTS"
  stop_server
}

bench_hello_go() {
  local port=$((PORT++)) base
  base=http://127.0.0.1:$port
  log "hello-go: starting on core $SERVER_CPU (GOMAXPROCS=1)"
  taskset -c "$SERVER_CPU" env GOMAXPROCS=1 PORT="$port" HOST=127.0.0.1 \
    "$WORK/hello-go" >"$WORK/hello-go.log" 2>&1 &
  SERVER_PID=$!
  wait_http "$base/healthz"
  local rps p50 p99 cpu
  read -r rps p50 p99 cpu < <(run_wrk "$SERVER_PID" "$base/")
  # Control: hello-go at the rates user-service was held to. If it misses p99 <= 10 ms too,
  # the machine (not the service) is what stalls.
  local rate fixed controls=""
  for rate in "${HALF_RATES[@]}"; do
    log "  control: fixed rate ${rate} rps for ${FIXED}s"
    fixed=$(fixed_rate "$base" / "$rate")
    controls+="${controls:+,}$fixed"
  done
  printf '{"target":"hello-go","backend":"none","peakRps":%s,"p50Ms":%s,"p99Ms":%s,"cpuUsPerRequest":%s,"controls":[%s]}\n' \
    "$rps" "$p50" "$p99" "$cpu" "$controls" >>"$RESULTS"
  stop_server
}

# --- machine ---------------------------------------------------------------------------------
echo "date:      $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine:   $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "load avg:  $(cut -d' ' -f1-3 /proc/loadavg) (background load skews results)"
echo "software:  node $(node --version), $(go version | awk '{print $3}'), $(wrk --version 2>&1 | head -1 | awk '{print $1, $2}')"
echo "setup:     server on core $SERVER_CPU, load generator on core $LOAD_CPU, wrk -t1 -c$CONNECTIONS," \
  "warmup ${WARMUP}s, measure ${DURATION}s, fixed-rate ${FIXED}s, $USERS users"

# --- targets ---------------------------------------------------------------------------------
for t in $TARGETS; do
  case $t in
    sqlite) bench_user_service sqlite "sqlite:$WORK/bench.db" ;;
    postgres)
      PG_BASE_URL=$(GANTRY_PG_LISTEN='' bash "$ROOT/hack/postgres.sh" start test)
      PG_SCHEMA=bench_$$
      psql -q "$PG_BASE_URL" -c "CREATE SCHEMA $PG_SCHEMA" >/dev/null
      if [[ -n $PG_CPU ]]; then
        pgdata=${GANTRY_STATE:-/var/lib/gantry}/postgres/data
        PG_PIDS=$(head -1 "$pgdata/postmaster.pid")
        for p in $PG_PIDS $(pgrep -P "$PG_PIDS" || true); do taskset -a -p -c "$PG_CPU" "$p" >/dev/null; done
        log "PostgreSQL pinned to core $PG_CPU for the run"
      fi
      bench_user_service postgres "$PG_BASE_URL?options=-c%20search_path%3D$PG_SCHEMA"
      ;;
    hello-go) bench_hello_go ;;
    *) log "unknown target $t"; exit 2 ;;
  esac
done

node --import tsx "$HERE/report.ts" "$RESULTS"
if [[ -n ${BENCH_OUT:-} ]]; then cp "$RESULTS" "$BENCH_OUT"; fi
