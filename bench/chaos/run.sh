#!/usr/bin/env bash
# Chaos benchmark (issue 15): for each fault family — pod (pod-kill, pod-failure), network
# (packet-loss, network-partition, bandwidth), http (error, delay, abort through the
# proxy), dns (dns-error), stress (cpu-hog, memory-hog), process (container-pause,
# process-stop), k8s (service-down, node-cordon, node-taint NoSchedule) — BENCH_RUNS runs
# (default 10, the family's faults in turn) of: the fault injected through Gantry's own
# path (inject(): undo record, helper or watchdog pod, agent), the time to the first
# affected observation (a request through the gateway 127.0.0.1:8000 every 25 ms, or a
# poll of the container's cgroup, the pod's qdiscs or the Node), then revert() and the
# time to the first clean observation and the target's state identical to before. Each
# part from its own timestamps (helper pod created and running by a watch, the agent's
# log lines, the record's state, inject() returning). The floor of each case is the same
# kind of change made by hand (kubectl delete pod, one iptables rule or qdisc through
# nsenter, stress-ng placed in the cgroups, the freezer, one patch): BENCH_FLOOR_RUNS per
# case (default 3). And the command as a user runs it: `gantry chaos http-error -f
# gantry.yaml --status 503 --duration 3s`, from the CLI's spawn to the first affected
# request (BENCH_CLI_RUNS, default 3, after an untimed one). Targets: median in effect
# <= 2 s, reverted <= 1 s. GANTRY_CHAOS_STANDBY=1 measures with standby helpers (a helper
# already running on the node takes the fault).
#
# Runs as root on the cluster's node (like the chaos tests: nsenter, cgroups). Traffic is
# loopback only (the gateway; the pod's own address is never dialled). Short, bounded
# faults; the node is cordoned/tainted NoSchedule for about a second per k8s run.
# On exit (also Ctrl-C), everything is ended and checked: no undo record or helper pod
# of a bench-chaos experiment, the node without the bench's cordon or taint.
#
#   sudo bash bench/chaos/run.sh                               # 7 families x 10 runs (~8 min)
#   BENCH_RUNS=3 BENCH_FLOOR_RUNS=1 bash bench/chaos/run.sh    # a quick look
#   BENCH_FAMILIES=http,dns bash bench/chaos/run.sh            # some families only
#   BENCH_JSON=/tmp/chaos.json ...                             # every run's figures as JSON
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
[[ $(id -u) == 0 ]] || { echo "bench/chaos: run as root on the cluster's node" >&2; exit 1; }
# What bench/prepare.sh does, except that a cluster already up is left as it is.
[[ -d node_modules ]] || npm ci --no-audit --no-fund
npm run build --silent
hack/cluster/cluster status >/dev/null 2>&1 || hack/cluster/cluster up >/dev/null
eval "$(hack/cluster/cluster env)"
export GANTRY_HOST_CGROUP=/sys/fs/cgroup
# Whatever happens to the driver (even SIGKILL), nothing of the bench is left behind.
trap 'node --import tsx bench/chaos/run.ts cleanup || echo "bench/chaos: cleanup found leftovers" >&2' EXIT
node --import tsx bench/chaos/run.ts
