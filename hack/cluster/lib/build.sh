# Builds the Kubernetes multi-call binary and the pause program, cached by
# version and by the content of the wrapper module. Sourced by `cluster`.
# shellcheck shell=bash

# The cache key covers the pinned version and the wrapper module's sources,
# so editing main.go or go.mod rebuilds, and nothing else does.
kube_build_key() {
  (cd "$CLUSTER_DIR/kube" && cat go.mod go.sum main.go pause/main.go | sha256sum | cut -c1-12)
}

kube_ldflags() {
  local v=$KUBE_VERSION minor
  minor=$(echo "$v" | cut -d. -f2)
  local flags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$flags"
}

# build_kube: ensure $KUBE_BIN_DIR/kube and pause exist, then link $BIN.
build_kube() {
  local key out
  key=$(kube_build_key)
  out=$KUBE_BIN_DIR/$key
  if [[ -x $out/kube && -x $out/pause ]]; then
    info "cached: $out ($(du -sh "$out/kube" | cut -f1))"
  else
    command -v go >/dev/null || die "go is required to build Kubernetes (it is not installed)"
    mkdir -p "$out.tmp"
    info "building Kubernetes $KUBE_VERSION (cold build: about 10 minutes on 2 cores; later builds reuse the Go cache)"
    local start=$SECONDS log=$out.tmp/build.log
    (
      cd "$CLUSTER_DIR/kube"
      go build -v -ldflags "$(kube_ldflags)" -o "$out.tmp/kube" . 2>&1 |
        awk '{ n++; if (n % 200 == 0) { printf "     ... %d packages compiled (%s)\n", n, $0 > "/dev/stderr" } print > "'"$log"'" }'
      exit "${PIPESTATUS[0]}"
    ) || { tail -30 "$log" >&2; die "Kubernetes build failed; full log: $log"; }
    (cd "$CLUSTER_DIR/kube" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp/pause" ./pause) ||
      die "pause build failed"
    rm -rf "$out" && mv "$out.tmp" "$out"
    info "built in $((SECONDS - start))s: $out"
  fi
  mkdir -p "$BIN"
  local c
  for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
    ln -sfn "$out/kube" "$BIN/$c"
  done
  ln -sfn "$out/pause" "$BIN/pause"
}

# Prometheus from the Go module proxy: Debian's build leaves out Kubernetes
# service discovery, which the cluster needs to find pods to scrape. Only the
# kubernetes, file and http discovery plugins are compiled in (build tags).
build_prometheus() {
  local version out
  version=$(awk '/github.com\/prometheus\/prometheus v/ {print $2; exit}' "$CLUSTER_DIR/prometheus/go.mod")
  out=$GANTRY_CACHE/prometheus/$version
  if [[ -x $out/prometheus ]]; then
    info "cached: $out/prometheus"
  else
    info "building Prometheus $version with Kubernetes discovery (about 5 minutes cold)"
    local start=$SECONDS
    mkdir -p "$out.tmp"
    (cd "$CLUSTER_DIR/prometheus" && go build -tags remove_all_sd,enable_kubernetes_sd \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=${version#v}" \
      -o "$out.tmp/prometheus" github.com/prometheus/prometheus/cmd/prometheus) ||
      die "Prometheus build failed"
    rm -rf "$out" && mv "$out.tmp" "$out"
    info "built in $((SECONDS - start))s"
  fi
  mkdir -p "$BIN"
  ln -sfn "$out/prometheus" "$BIN/prometheus"
}

# etcd 3.6 from the Go module proxy (see etcd/main.go for why not Debian's 3.4).
build_etcd() {
  local version key out
  # `require go.etcd.io/etcd/server/v3 vX.Y.Z` (or the same inside a require block).
  version=$(awk '{for (i = 1; i < NF; i++) if ($i == "go.etcd.io/etcd/server/v3") {print $(i + 1); exit}}' \
    "$CLUSTER_DIR/etcd/go.mod")
  [[ $version == v* ]] || die "etcd: no go.etcd.io/etcd/server/v3 version in $CLUSTER_DIR/etcd/go.mod"
  # The version names the build; the sources beside it (main.go, go.sum) are in the key too.
  key=$(cd "$CLUSTER_DIR/etcd" && cat go.mod go.sum main.go | sha256sum | cut -c1-12)
  out=$GANTRY_CACHE/etcd/$version-$key
  if [[ -x $out/etcd ]]; then
    info "cached: $out/etcd"
  else
    info "building etcd $version (about 3 minutes cold)"
    local start=$SECONDS
    mkdir -p "$out.tmp"
    (cd "$CLUSTER_DIR/etcd" && go build -ldflags "-s -w" -o "$out.tmp/etcd" .) || die "etcd build failed"
    rm -rf "$out" && mv "$out.tmp" "$out"
    info "built in $((SECONDS - start))s"
  fi
  mkdir -p "$BIN"
  ln -sfn "$out/etcd" "$BIN/etcd"
}

# The chained CNI plugin that keeps the host's neighbour table right when a pod
# address is reused (see cni/main.go); standard library only, a few seconds cold.
build_cni_plugin() {
  local key out
  key=$(cd "$CLUSTER_DIR/cni" && cat go.mod main.go | sha256sum | cut -c1-12)
  out=$GANTRY_CACHE/cni/$key
  if [[ -x $out/gantry-neigh ]]; then
    info "cached: $out/gantry-neigh"
  else
    mkdir -p "$out.tmp"
    (cd "$CLUSTER_DIR/cni" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp/gantry-neigh" .) ||
      die "gantry-neigh (CNI plugin) build failed"
    rm -rf "$out" && mv "$out.tmp" "$out"
    info "built $out/gantry-neigh"
  fi
  mkdir -p "$BIN"
  ln -sfn "$out/gantry-neigh" "$BIN/gantry-neigh"
}
