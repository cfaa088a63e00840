#!/usr/bin/env bash
# Canary benchmark: good and bad releases of user-service under a steady loopback load
# through the local gateway, each judged live by gantry's sequential judge; the same
# Prometheus data replayed through a Flagger-style fixed-threshold judge (60 s interval,
# 1 m window). Prints time-to-abort, blast radius and false aborts for both.
#
#   bash bench/canary/run.sh                 # 20 good + 20 bad releases (about 30 minutes)
#   BENCH_GOOD=4 BENCH_BAD=4 bash bench/canary/run.sh   # a quick look
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$ROOT/bench/prepare.sh"
exec node --import tsx bench/canary/run.ts
