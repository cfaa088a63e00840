#!/usr/bin/env bash
# Deploy benchmark: one service, the same objects, a change that rolls pods, N alternating
# runs of each contender on the local cluster:
#   gantry   gantry deploy
#   kubectl  kubectl apply -f (gantry render output) && kubectl rollout status
#   helm     helm upgrade --install --wait (chart written by gantry chart), when Helm is built
#   limit    server-side apply through the API, then a watch until the last new pod is Ready
#            (the physical limit every tool pays)
# Prints the median wall time of each, the ratios, and gantry's distance from the limit.
#
#   bash bench/deploy/run.sh            # BENCH_RUNS=10 by default
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
[[ -d node_modules ]] || npm ci --no-audit --no-fund
npx tsc -b
hack/cluster/cluster up >/dev/null
eval "$(hack/cluster/cluster env)"
if [[ -x hack/tools/build-helm.sh ]]; then
  HELM=$(bash hack/tools/build-helm.sh 2>/dev/null | tail -1) || HELM=
  export HELM
fi
exec node --import tsx bench/deploy/run.ts
