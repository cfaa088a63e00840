#!/usr/bin/env bash
# Canary judges on a grid of SIMULATED releases: gantry's sequential judge and a
# Flagger-style fixed-threshold judge, on the project's seeded synthetic traffic model
# (packages/gantry/test/analysis/sim.ts), not on real Prometheus data; no cluster needed.
# The real-cluster benchmark is bench/canary/run.sh.
#
#   bash bench/canary/grid.sh                 # 100 bad releases per cell, 100 good (about 25 s of CPU)
#   BENCH_N=20 BENCH_GOOD=20 bash bench/canary/grid.sh   # a quick look
#   BENCH_JUDGE_EVERY=1 bash bench/canary/grid.sh      # judge every second (default: analysis.interval)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[[ -d node_modules ]] || npm ci --no-audit --no-fund
exec node --import tsx bench/canary/grid.ts
