#!/usr/bin/env bash
# The README's main-job command (`npm run up`): ship the reference user-service like the
# seed (3 replicas, ConfigMap and Secret, rolling update 2/1) and print where to reach it.
#
#   Without KUBECONFIG: brings up the local cluster (hack/cluster), starts the private
#   durable PostgreSQL instance "main" (127.0.0.1:55433 and the node address, where pods
#   reach it; `npm test` has its own instance and never touches this one), and ships
#   with `gantry up` the alert relay (deploy/alert-relay: gantry-system, node port 30093,
#   where the host's Alertmanager sends relay-bound alerts), then user-service, whose
#   alerts then have somewhere to go, then the seed's Go service (deploy/hello-go).
#   With KUBECONFIG set: ships to that cluster. Set USER_SERVICE_DATABASE_URL to its
#   database (default: an in-memory SQLite per pod, fine for a look around) and make sure
#   the cluster can pull from the registry in deploy/user-service/gantry.yaml.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== dependencies"
bash hack/deps.sh
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
echo "== build"
npm run build --silent

specs=()
if [[ -z ${KUBECONFIG:-} ]]; then
  specs+=(-f deploy/alert-relay/gantry.yaml)
  echo "== local cluster"
  hack/cluster/cluster up
  eval "$(hack/cluster/cluster env)"
  node_ip=$GANTRY_NODE_IP
  echo "== PostgreSQL for user-service (reachable from pods at $node_ip)"
  url=$(GANTRY_PG_LISTEN=$node_ip GANTRY_PG_DB=user_service bash hack/postgres.sh start main)
  export USER_SERVICE_DATABASE_URL=${USER_SERVICE_DATABASE_URL:-${url/127.0.0.1/$node_ip}}
else
  export USER_SERVICE_DATABASE_URL=${USER_SERVICE_DATABASE_URL:-sqlite::memory:}
fi

echo "== gantry up"
exec node packages/gantry/bin/gantry.js up "${specs[@]}" -f deploy/user-service/gantry.yaml \
  -f deploy/hello-go/gantry.yaml "$@"
