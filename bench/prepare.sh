# Sourced by every bench/*/run.sh: from the repository root, install npm packages if
# missing, build (tsc and the CLI bundle), bring the local cluster up and export its
# environment (KUBECONFIG, GANTRY_REGISTRY, ...).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -d node_modules ]] || npm ci --no-audit --no-fund
npm run build --silent
hack/cluster/cluster up >/dev/null
eval "$(hack/cluster/cluster env)"
