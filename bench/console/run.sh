#!/usr/bin/env bash
# Console benchmark: the fleet page of `gantry console` with N Gantry services
# (BENCH_SERVICES, default 500) on kwok's simulated nodes, in Debian's Chromium.
#   - time to the first complete fleet page (every row with its revision, 1/1 ready and the
#     healthy badge), cold (the URL opened the moment the console prints it) and warm (a new
#     tab against a synced console), against the floor: a bare LIST of the same five
#     collections plus an empty page in Chromium
#   - the console server's RSS (/proc/PID/status), against a Node process holding the lists
#   - Kubernetes API, Prometheus and Alertmanager requests per minute with 1 tab and with
#     BENCH_TABS tabs (default 5) open for BENCH_MINUTES each (default 5), counted one by one
#     at loopback proxies between the console and those servers
# The services are deployed by Gantry's own deploy() into BENCH_NAMESPACES namespaces
# (default 5, labelled gantry.dev/bench=console), their pods placed on kwok nodes
# (`cluster kwok up`, only when fewer fake nodes run than BENCH_KWOK_NODES, default N/50).
# All of it is deleted at the end, on Ctrl-C and on failure (namespaces, then kwok put back
# as it was); leftovers of an interrupted run at the start.
#
#   bash bench/console/run.sh                       # 500 services, 2 x 5 min (~17 min)
#   BENCH_MINUTES=1 bash bench/console/run.sh       # a quicker look (~6 min)
#   BENCH_SERVICES=20 BENCH_MINUTES=0.5 BENCH_PAGE_RUNS=2 bash bench/console/run.sh  # smoke
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$ROOT/bench/prepare.sh"
exec node --import tsx bench/console/run.ts
