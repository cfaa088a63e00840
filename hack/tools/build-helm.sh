#!/usr/bin/env bash
# hack/tools/build-helm.sh: build Helm v3 from the Go module proxy (through the
# wrapper module hack/tools/helm, which pins the version with a `tool`
# directive) and cache it under $GANTRY_CACHE/helm/<version>/helm.
#
# Idempotent: a cached binary is reused. Progress goes to stderr; the only line
# on stdout is the path of the binary, so callers can do
#   HELM=$(hack/tools/build-helm.sh)
# Concurrent runs wait for each other (flock) instead of building twice.
#
# Environment: GANTRY_CACHE (default /var/cache/gantry).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MOD=$HERE/helm
CACHE=${GANTRY_CACHE:-/var/cache/gantry}

info() { printf '  build-helm: %s\n' "$*" >&2; }
die() {
  printf 'build-helm: error: %s\n' "$*" >&2
  exit 1
}

version=$(awk '$1 == "helm.sh/helm/v3" {print $2; exit}' "$MOD/go.mod")
[[ -n $version ]] || die "no helm.sh/helm/v3 requirement in $MOD/go.mod"
# The Kubernetes minor Helm's lint and template assume by default (Capabilities):
# the client-go it was built with, as Helm's own Makefile does.
k8s=$(awk '$1 == "k8s.io/client-go" {print $2; exit}' "$MOD/go.mod")
k8s_minor=$(echo "${k8s#v0.}" | cut -d. -f1)

out=$CACHE/helm/$version
bin=$out/helm

if [[ ! -x $bin ]]; then
  mkdir -p "$CACHE/helm"
  exec 9>"$CACHE/helm/.lock"
  flock 9
fi
if [[ -x $bin ]]; then
  info "cached: $bin"
else
  command -v go >/dev/null || die "go is required to build Helm (it is not installed)"
  info "building Helm $version from the Go module proxy (cold build: a few minutes on 2 cores)"
  start=$SECONDS
  rm -rf "$out.tmp"
  mkdir -p "$out.tmp"
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$version"
  ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
  done
  log=$out.tmp/build.log
  (
    cd "$MOD"
    CGO_ENABLED=0 go build -v -trimpath -ldflags "$ldflags" -o "$out.tmp/helm" helm.sh/helm/v3/cmd/helm 2>&1 |
      awk '{ n++; if (n % 100 == 0) { printf "  build-helm:   ... %d packages compiled (%s)\n", n, $0 > "/dev/stderr" } print > "'"$log"'" }'
    exit "${PIPESTATUS[0]}"
  ) || {
    tail -30 "$log" >&2
    die "Helm build failed; full log: $log"
  }
  "$out.tmp/helm" version --short >/dev/null || die "the built helm does not run"
  rm -rf "$out" && mv "$out.tmp" "$out"
  info "built Helm $version in $((SECONDS - start))s: $bin"
fi
echo "$bin"
