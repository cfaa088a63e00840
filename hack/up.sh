#!/usr/bin/env bash
# The README's main-job command (`npm run up`).
#
# Today it installs what is needed, builds the workspace and runs the reference
# user-service on its embedded SQLite database, in the foreground, printing its
# URLs. When `gantry up` lands (issue: build, ship and up) this becomes: bring
# up the local cluster (or use $KUBECONFIG) and ship user-service to it.
#
# Environment: PORT (default 8080), DATABASE_URL (default: SQLite file under
# ./.cache/user-service.db).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== dependencies"
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
echo "== build"
npx tsc -b

mkdir -p .cache
export PORT=${PORT:-8080}
export HOST=${HOST:-127.0.0.1}
export DATABASE_URL=${DATABASE_URL:-sqlite:$PWD/.cache/user-service.db}
export CONFIG_DIR=${CONFIG_DIR:-$PWD/services/user-service/config/local}
export SHUTDOWN_DRAIN_DELAY_MS=${SHUTDOWN_DRAIN_DELAY_MS:-0}
base="http://$HOST:$PORT"
cat <<MSG
== user-service on $base (Ctrl-C stops it gracefully)
   API         $base/api/users
   Swagger UI  $base/docs
   OpenAPI     $base/openapi.json
   metrics     $base/metrics
   health      $base/healthz  $base/readyz
   version     $base/version
MSG
exec node services/user-service/dist/main.js
