#!/usr/bin/env bash
# Canary benchmark on REAL releases: a grid of cells (first-step weight × total req/s ×
# fault) of user-service behind the local gateway under a steady loopback load, each
# release judged live by gantry with the spec a user writes (no `analysis:` block), the
# same Prometheus data replayed through a Flagger-style fixed-threshold judge (60 s
# interval, 1 m window) with its own progression. Prints per cell time-to-abort, blast
# radius, bad releases promoted, false aborts, and the ratios to the Flagger-style judge.
#
#   bash bench/canary/run.sh                                   # the default cells, 5 runs each
#   BENCH_CELLS=1:50:err2,1:200:err2,5:50:err5,1:50:good BENCH_RUNS=3 bash bench/canary/run.sh
#   BENCH_CELLS=1:50:good@a,1:50:err2@b,1:200:err5 BENCH_UNTIL=00:55 bash bench/canary/run.sh
#   BENCH_SUMMARY=/tmp/bench-canary-XXXX/trials.jsonl bash bench/canary/run.sh   # the table again
#
# Cells: FIRST:RPS:FAULT[@LANE], FIRST 1 (default steps 1, 5, 25, 50) or 5 (steps 5, 25, 50),
# FAULT err2|err5|err20 (FAULT_ERROR_RATE on the canary), lat (+200 ms on GET /api/users/:id,
# 30 % of the load) or good. Each lane (default: one per req/s) is a namespace with its own
# load, running its cells round-robin; lanes run concurrently. BENCH_UNTIL (HH:MM UTC):
# no release starts in its last 3 minutes, and one still running at it is aborted, not counted.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [[ -n "${BENCH_SUMMARY:-}" ]]; then
  cd "$ROOT"
  exec node --import tsx bench/canary/run.ts
fi
source "$ROOT/bench/prepare.sh"
exec node --import tsx bench/canary/run.ts
