# Shared settings and helpers for hack/cluster. Sourced, not executed.
# shellcheck shell=bash

CLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../versions.env
source "$CLUSTER_DIR/versions.env"

# Build outputs reused across runs, CI and later sessions (keyed by version).
GANTRY_CACHE=${GANTRY_CACHE:-/var/cache/gantry}
# Everything a running cluster owns; `cluster down` removes it.
STATE=${GANTRY_CLUSTER_STATE:-/var/lib/gantry/cluster}
RUNDIR=${GANTRY_CLUSTER_RUN:-/run/gantry}

PKI=$STATE/pki
LOGS=$STATE/logs
PIDS=$STATE/pids
BIN=$STATE/bin
KUBECONFIG_PATH=$STATE/admin.kubeconfig

NODE_NAME=gantry-node
# The node's address: a /32 on the loopback device, so the cluster never
# depends on (or sends to) the machine's real network.
NODE_IP=${GANTRY_NODE_IP:-10.201.0.1}
POD_CIDR=10.244.0.0/16
NODE_POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SVC_IP=10.96.0.1
# The Service kube-system/kube-dns (CoreDNS, lib/dns.sh): the kubelet's clusterDNS.
CLUSTER_DNS_IP=10.96.0.10
CLUSTER_DOMAIN=cluster.local
BRIDGE=gantry-br0

APISERVER_PORT=6443
ETCD_CLIENT=http://127.0.0.1:2379
REGISTRY=127.0.0.1:5000
PROMETHEUS_ADDR=127.0.0.1:9090
ALERTMANAGER_ADDR=127.0.0.1:9093
LOG_AGENT_ADDR=127.0.0.1:3903
CONTAINERD_SOCK=$RUNDIR/containerd/containerd.sock
PAUSE_IMAGE=$REGISTRY/gantry/pause:$PAUSE_TAG
NODE_BASE_IMAGE=$REGISTRY/gantry/node-base:$(node --version 2>/dev/null | tr -d v || echo unknown)

KUBE_BIN_DIR=$GANTRY_CACHE/kube/$KUBE_VERSION

# ---- output -----------------------------------------------------------------
_step_no=0
step() {
  _step_no=$((_step_no + 1))
  printf '\033[1m[%2d] %s\033[0m\n' "$_step_no" "$*" >&2
}
info() { printf '     %s\n' "$*" >&2; }
warn() { printf '\033[33mwarning:\033[0m %s\n' "$*" >&2; }
die() {
  printf '\033[31merror:\033[0m %s\n' "$*" >&2
  exit 1
}

# ---- processes --------------------------------------------------------------
# start_daemon NAME CMD... : start CMD detached, log to $LOGS/NAME.log, pid in $PIDS/NAME.pid.
# Idempotent: a live process recorded under NAME is left alone when it runs exactly CMD,
# and restarted when its command line differs (a flag added since it was started).
start_daemon() {
  local name=$1 pid
  shift
  mkdir -p "$LOGS" "$PIDS"
  if pid=$(daemon_pid "$name"); then
    if [[ $(tr '\0' '\n' <"/proc/$pid/cmdline") == "$(_exec_argv "$@")" ]]; then
      info "$name already running (pid $pid)"
      return 0
    fi
    info "$name runs with other arguments than these: restarting it"
    stop_daemon "$name"
  fi
  # 9>&-: the daemon must not inherit the lock of `cluster up` (lock_cluster in cluster).
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 9>&- &
  pid=$!
  # The start time disambiguates a recycled pid from our process.
  echo "$pid $(_start_time "$pid")" >"$PIDS/$name.pid"
  info "$name started (pid $pid, log $LOGS/$name.log)"
}

# _exec_argv CMD...: the command line CMD's process ends up with, one word per line:
# `env [-u NAME]... [NAME=VALUE]... PROG ARGS` execs PROG ARGS.
_exec_argv() {
  if [[ $1 == env ]]; then
    shift
    while (($#)); do
      case $1 in
        -u) shift 2 ;;
        *=*) shift ;;
        *) break ;;
      esac
    done
  fi
  printf '%s\n' "$@"
}

_start_time() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# daemon_pid NAME: the recorded pid when that very process is still alive.
daemon_pid() {
  local f=$PIDS/$1.pid pid started
  [[ -f $f ]] || return 1
  read -r pid started <"$f"
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ -z $started || $(_start_time "$pid") == "$started" ]] || return 1
  echo "$pid"
}

daemon_alive() { daemon_pid "$1" >/dev/null; }

# write_if_changed FILE: stdin to FILE, untouched when the content is the same
# (kube-proxy and others exit or reload when their config file changes).
write_if_changed() {
  local file=$1 tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if [[ -f $file ]] && cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
  else
    mkdir -p "$(dirname "$file")"
    mv "$tmp" "$file"
    chmod 644 "$file"
  fi
}

# stop_daemon NAME [TIMEOUT]: SIGTERM, wait, then SIGKILL.
stop_daemon() {
  local name=$1 timeout=${2:-15} pid i
  local f=$PIDS/$name.pid
  [[ -f $f ]] || return 0
  if pid=$(daemon_pid "$name"); then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      warn "$name (pid $pid) ignored SIGTERM; killing"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    info "stopped $name"
  fi
  rm -f "$f"
}

# wait_for DESCRIPTION TIMEOUT_SECONDS CMD...: run CMD until it succeeds.
wait_for() {
  local what=$1 timeout=$2 i
  shift 2
  for ((i = 0; i < timeout * 5; i++)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  die "timed out after ${timeout}s waiting for $what"
}

kubectl() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

http_ok() { curl -fsS --max-time 2 -o /dev/null "$@"; }
