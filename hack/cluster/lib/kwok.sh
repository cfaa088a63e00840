# Simulated nodes for the local cluster, with kwok (sigs.k8s.io/kwok, the
# controller from cmd/kwok, built from the Go module proxy). Sourced by `cluster`.
#
#   hack/cluster/cluster kwok up [N]   start kwok (daemon "kwok") and converge on exactly
#                                      N fake nodes kwok-node-0 .. kwok-node-<N-1> (default 10)
#   hack/cluster/cluster kwok status   kwok health and the number of fake nodes Ready
#   hack/cluster/cluster kwok down     delete the fake nodes (and the pods bound to them),
#                                      then stop kwok
#
# kwok runs on the host against the same kube-apiserver with its own client
# certificate (CN=gantry:kwok, ClusterRole gantry:kwok, $STATE/kwok.kubeconfig).
# It manages only nodes labelled type=kwok: it keeps them Ready (node status and
# leases) and moves the pods bound to them through kwok's "fast" stages (taken
# from the module's kustomize/stage directory): Running and Ready at once,
# Succeeded when they are Jobs' pods, gone at once when deleted. Nothing runs:
# there is no container, and the pod IPs come from 10.244.128.0/17, which the
# host drops (no route but the pod-CIDR blackhole). The real node is untouched.
#
# Every fake node carries the label type=kwok and the taint
# kwok.x-k8s.io/node=fake:NoSchedule, so nothing lands there by accident. To put
# pods on fake nodes, select them and tolerate the taint:
#
#   spec:
#     nodeSelector: { type: kwok }
#     tolerations: [{ key: kwok.x-k8s.io/node, operator: Equal, value: fake, effect: NoSchedule }]
#
# kwok's health and metrics: http://127.0.0.1:10247/healthz and /metrics.
# shellcheck shell=bash

KWOK_MODULE=sigs.k8s.io/kwok
KWOK_OUT=$GANTRY_CACHE/kwok/$KWOK_VERSION
KWOK_ADDR=127.0.0.1:10247
KWOK_POD_CIDR=10.244.128.0/17
KWOK_NODE_LABEL=type=kwok
KWOK_DEFAULT_NODES=10

# build_kwok: ensure $KWOK_OUT/kwok exists, then link it into $BIN. The module
# has no replace directives, so `go install module/cmd/kwok@version` does it.
build_kwok() {
  if [[ -x $KWOK_OUT/kwok ]]; then
    info "cached: $KWOK_OUT/kwok"
  else
    command -v go >/dev/null || die "go is required to build kwok (it is not installed)"
    local start=$SECONDS log=$KWOK_OUT.tmp/build.log
    rm -rf "$KWOK_OUT.tmp"
    mkdir -p "$KWOK_OUT.tmp"
    info "building kwok $KWOK_VERSION (cold: about 5 minutes on 2 cores; log $log)"
    (
      cd /
      GOBIN=$KWOK_OUT.tmp CGO_ENABLED=0 go install -v -trimpath \
        -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBE_VERSION#v}" \
        "$KWOK_MODULE/cmd/kwok@$KWOK_VERSION" 2>&1 |
        awk '{ n++; if (n % 200 == 0) { printf "     ... %d packages (%s)\n", n, $0 > "/dev/stderr" } print > "'"$log"'" }'
      exit "${PIPESTATUS[0]}"
    ) || { tail -30 "$log" >&2; die "kwok build failed; full log: $log"; }
    rm -rf "$KWOK_OUT" && mv "$KWOK_OUT.tmp" "$KWOK_OUT"
    info "built in $((SECONDS - start))s: $KWOK_OUT/kwok"
  fi
  mkdir -p "$BIN"
  ln -sfn "$KWOK_OUT/kwok" "$BIN/kwok"
}

# kwok's RBAC (its kustomize/rbac role, without its own CRDs, which we do not enable).
_kwok_rbac() {
  kubectl apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: "gantry:kwok" }
rules:
  - apiGroups: [""]
    resources: [events]
    verbs: [create, patch, update]
  - apiGroups: [""]
    resources: [nodes]
    verbs: [get, list, watch]
  - apiGroups: [""]
    resources: [nodes/status, pods/status]
    verbs: [patch, update]
  - apiGroups: [""]
    resources: [pods]
    verbs: [get, list, watch, patch, update, delete]
  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    verbs: [create, get, list, watch, patch, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: "gantry:kwok" }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "gantry:kwok" }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: "gantry:kwok" }]
YAML
}

# The configuration file: options plus the Stage objects, copied from the module.
_kwok_config() {
  local dir stages=$1 f
  dir=$(cd / && GOFLAGS=-mod=mod go mod download -json "$KWOK_MODULE@$KWOK_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  for f in $stages; do
    [[ -f $dir/kustomize/stage/$f ]] || die "kwok $KWOK_VERSION module has no kustomize/stage/$f"
  done
  {
    cat <<CFG
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  manageAllNodes: false
  manageNodesWithLabelSelector: $KWOK_NODE_LABEL
  cidr: $KWOK_POD_CIDR
  nodeIP: $NODE_IP
  serverAddress: $KWOK_ADDR
  nodeLeaseDurationSeconds: 40
  enableProfilingHandler: false
CFG
    for f in $stages; do
      echo "---"
      cat "$dir/kustomize/stage/$f"
    done
  } | write_if_changed "$STATE/kwok/kwok.yaml"
}

kwok_node_names() {
  kubectl get nodes -l "$KWOK_NODE_LABEL" -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' 2>/dev/null
}

_kwok_nodes_yaml() {
  local n=$1 i
  for ((i = 0; i < n; i++)); do
    cat <<YAML
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node-role.kubernetes.io/agent: ""
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
spec:
  taints:
    - { key: kwok.x-k8s.io/node, value: fake, effect: NoSchedule }
YAML
  done
}

kwok_ready_count() {
  kubectl get nodes -l "$KWOK_NODE_LABEL" \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null |
    grep -c '^True$' || true
}

# kwok_up [N]
kwok_up() {
  local n=${1:-$KWOK_DEFAULT_NODES}
  if [[ ! $n =~ ^[0-9]+$ ]] || ((n > 1000)); then
    die "kwok up: N must be a number from 0 to 1000 (got '$n')"
  fi
  [[ -f $KUBECONFIG_PATH && -f $PKI/ca.key ]] || die "the cluster is not up (run: cluster up)"
  kubectl get --raw /readyz >/dev/null 2>&1 || die "kube-apiserver is not ready (cluster status)"
  step "kwok $KWOK_VERSION"
  build_kwok
  _cert kwok "/CN=gantry:kwok"
  _kubeconfig kwok kwok
  _kwok_rbac
  _kwok_config "node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml"
  start_daemon kwok "$BIN/kwok" --kubeconfig="$STATE/kwok.kubeconfig" --config="$STATE/kwok/kwok.yaml"
  wait_for "kwok /healthz (see $LOGS/kwok.log)" 60 http_ok "http://$KWOK_ADDR/healthz"
  step "$n fake nodes ($KWOK_NODE_LABEL, taint kwok.x-k8s.io/node=fake:NoSchedule)"
  local extra
  extra=$(kwok_node_names | awk -F- -v n="$n" '$1 == "kwok" && $2 == "node" && $3 >= n')
  if [[ -n $extra ]]; then
    _kwok_delete_nodes "$extra"
  fi
  if ((n > 0)); then
    _kwok_nodes_yaml "$n" | kubectl apply -f - >/dev/null || die "creating fake nodes failed"
  fi
  local i
  for ((i = 0; i < 60; i++)); do
    (($(kwok_ready_count) >= n)) && break
    sleep 1
  done
  (($(kwok_ready_count) >= n)) || die "fake nodes not Ready after 60s; see $LOGS/kwok.log"
  info "$n fake nodes Ready"
}

# _kwok_delete_nodes NAMES: delete the nodes and force-delete the pods bound to
# them (no kubelet will ever confirm those pods' deaths).
_kwok_delete_nodes() {
  local names=$1 name
  # shellcheck disable=SC2086
  kubectl delete node $names --wait=true --timeout=60s >/dev/null 2>&1 || true
  kubectl get pods -A -o jsonpath='{range .items[*]}{.spec.nodeName}{" "}{.metadata.namespace}{" "}{.metadata.name}{"\n"}{end}' 2>/dev/null |
    awk 'NR == FNR { gone[$1] = 1; next } ($1 in gone) { print $2, $3 }' <(tr ' ' '\n' <<<"$names") - |
    while read -r ns name; do
      kubectl -n "$ns" delete pod "$name" --grace-period=0 --force >/dev/null 2>&1 || true
    done
}

kwok_down() {
  step "fake nodes and kwok"
  if [[ -f $KUBECONFIG_PATH ]] && kubectl get --raw /readyz >/dev/null 2>&1; then
    local names
    names=$(kwok_node_names)
    if [[ -n $names ]]; then
      _kwok_delete_nodes "$names"
      info "deleted $(wc -w <<<"$names") fake nodes"
    fi
  fi
  stop_daemon kwok
}

# kwok_status: lines for `cluster status` and `cluster kwok status` (uses the
# cluster script's _check, which sets _bad when kwok is down).
kwok_status() {
  local ok=0
  http_ok "http://$KWOK_ADDR/healthz" && ok=1
  _check kwok $ok
  printf '  %-24s %s\n' "fake nodes Ready" "$(kwok_ready_count)/$(kwok_node_names | wc -l)"
}

# cmd_kwok up [N] | down | status
cmd_kwok() {
  case ${1:-} in
    up) need_root kwok && kwok_up "${2:-}" ;;
    down) need_root kwok && kwok_down ;;
    status)
      _bad=0
      kwok_status
      return "$_bad"
      ;;
    *) die "usage: cluster kwok up [N] | down | status" ;;
  esac
}
