#!/usr/bin/env bash
# Alert latency benchmark: from the moment a fault starts (the echo fixture answering every
# 5th request with a 500, switched on at run time under a steady loopback load through the
# gateway) to the first DingTalk message at a stand-in, through the real chain: Prometheus
# scrapes and evaluates gantry's GantryErrorRateHigh rule, Alertmanager routes it by the
# service's subtree, the alert relay (shipped from deploy/alert-relay/gantry.yaml into the
# bench's namespace) signs and posts the robot message. Each run is split by the parts' own
# timestamps into scrape, rule evaluation, for, send, grouping (group_wait) and delivery, and
# compared with the floor the configured intervals impose.
#
#   bash bench/alerts/run.sh                          # 10 runs of the bench's spec (for 5s,
#                                                     # window 20s, group_wait 1s) + 1 run of
#                                                     # the default path: about 12 minutes
#   BENCH_RUNS=3 BENCH_DEFAULT_RUNS=0 bash bench/alerts/run.sh   # a quick look (~2 min)
#   BENCH_RPS=50 ...                                  # load per service (default 20)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$ROOT/bench/prepare.sh"
exec node --import tsx bench/alerts/run.ts
