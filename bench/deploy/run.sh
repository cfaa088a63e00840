#!/usr/bin/env bash
# Deploy benchmark: one service, the same objects, a change that rolls pods, N alternating
# runs of each contender on the local cluster:
#   gantry   gantry deploy
#   kubectl  kubectl apply -f (gantry render output) && kubectl rollout status
#   helm     helm upgrade --install --wait (chart written by gantry chart), when Helm is built
#   limit    server-side apply through the API, then a watch until the rollout is complete
#            (by kubectl's rule: the floor every tool that waits for the rollout pays)
# Each contender starts once the previous one's rollout is complete and its old pods are gone,
# after a random pause of up to 1 s (see run.ts: the kubelet's 1 s relist).
# Prints the median wall time of each, the ratios, and gantry's distance from the limit; then
# where the time goes: each contender's wall time split at the moments a Deployment watch
# sees the new spec land and the rollout complete, gantry's own stages, and what the limit's
# rollout is made of (pods created, running, Ready).
#
#   bash bench/deploy/run.sh            # BENCH_RUNS=10 by default (20 rounds: ~8 min)
#   BENCH_CONTENDERS=gantry,gantry-ref,kubectl,limit \
#   BENCH_GANTRY_REF=/path/to/other/checkout/packages/gantry/bin/gantry.js \
#     bash bench/deploy/run.sh          # before/after: another gantry build as a contender
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$ROOT/bench/prepare.sh"
if [[ -x hack/tools/build-helm.sh ]]; then
  HELM=$(bash hack/tools/build-helm.sh 2>/dev/null | tail -1) || HELM=
  export HELM
fi
exec node --import tsx bench/deploy/run.ts
