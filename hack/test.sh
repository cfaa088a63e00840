#!/usr/bin/env bash
# The README's test command (`npm test`): installs what the tests need, then runs
# every check and test. Steps:
#   1. Debian packages and npm dependencies
#   2. build (tsc -b, then the CLI bundle), lint (eslint, prettier, gofmt, go vet), typecheck the tests
#   3. start the private test PostgreSQL instance and the local Kubernetes cluster
#   4. Go tests, then every TypeScript test file in one `node --test` run
#      (its summary is the last thing printed)
#
# Environment:
#   GANTRY_SKIP_CLUSTER=1   do not start the cluster (cluster tests then skip,
#                           or fail when CI=true)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
export GANTRY_REPO=$ROOT

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

section "dependencies"
bash hack/deps.sh
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
else
  echo "node_modules up to date"
fi

section "build"
npm run build --silent

section "lint and format"
npx eslint .
npx prettier --check .
for mod in services/hello-go hack/cluster/kube hack/cluster/etcd hack/cluster/cni hack/cluster/coredns hack/cluster/test/fixtures/echo; do
  [[ -f $mod/go.mod ]] || continue
  unformatted=$(gofmt -l "$mod")
  [[ -z $unformatted ]] || { echo "gofmt: unformatted files: $unformatted" >&2; exit 1; }
done
(cd services/hello-go && go vet ./...)
(cd hack/cluster/test/fixtures/echo && go vet ./...)
(cd hack/cluster/cni && go vet ./...)
for cfg in packages/*/test/tsconfig.json services/*/test/tsconfig.json hack/*/test/tsconfig.json bench/*/tsconfig.json packages/*/scripts/tsconfig.json; do
  [[ -f $cfg ]] && npx tsc -p "$cfg"
done

section "services the tests need"
# The test instance (127.0.0.1:55432, fsync off); what `npm run up` ships uses the separate
# "main" instance, which this never restarts or reconfigures.
TEST_DATABASE_URL=$(GANTRY_PG_LISTEN='' bash hack/postgres.sh start test)
export TEST_DATABASE_URL
if [[ ${GANTRY_SKIP_CLUSTER:-0} != 1 ]]; then
  hack/cluster/cluster up
  eval "$(hack/cluster/cluster env)"
fi

section "Go tests"
(cd services/hello-go && go test -count=1 ./...)

section "TypeScript tests"
mapfile -t files < <(find packages services hack -name '*.test.ts' -not -path '*/node_modules/*' | sort)
exec node --import tsx --test --test-reporter=spec "${files[@]}"
