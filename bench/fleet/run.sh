#!/usr/bin/env bash
# Fleet deploy benchmark: N services of the echo fixture (BENCH_SERVICES, default 50; 1
# replica, CPU request 1m) deployed once (not timed), then every one of them with a new
# env value, so every Deployment rolls, in BENCH_RUNS runs (default 3) of each contender:
#   gantry    gantry deploy -f DIR --concurrency C (BENCH_CONCURRENCY, default 10)
#   helm-seq  helm upgrade --install --wait of each service's chart (gantry chart), one after
#             another: the plain Helm loop
#   helm-par  the same helm commands, C at a time (what helmfile --concurrency C does)
#   single    one service alone: server-side apply from the bench, then a watch until its
#             rollout is complete
# Each contender has its own namespace, labelled gantry.dev/bench=fleet; all are deleted at
# the end, and leftovers of an earlier run at the start. Prints the median wall times, the
# floor (the slowest single rollout in gantry's run, from its apply landing to ready: a
# Deployment watch in the bench) and the ratios gantry/floor and gantry/helm-seq.
#
#   bash bench/fleet/run.sh                          # 50 services, 3 runs (~35 min loaded)
#   BENCH_SERVICES=20 BENCH_RUNS=1 bash bench/fleet/run.sh
#   BENCH_CONTENDERS=gantry,single bash bench/fleet/run.sh   # without Helm
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$ROOT/bench/prepare.sh"
if [[ -x hack/tools/build-helm.sh ]]; then
  HELM=$(bash hack/tools/build-helm.sh 2>/dev/null | tail -1) || HELM=
  export HELM
fi
exec node --import tsx bench/fleet/run.ts
