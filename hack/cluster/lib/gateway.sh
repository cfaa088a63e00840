# Gateway API for the local cluster: the standard-channel CRDs and Traefik v3 as
# their implementation. Sourced by `cluster`.
#
# Traefik runs on the host, outside the cluster, as the daemon "traefik":
#   127.0.0.1:8000  entrypoint "web": the Gateway's HTTP listener (port 8000)
#   127.0.0.1:9000  entrypoint "traefik": /ping, the API (/api/...) and /metrics
# It watches GatewayClasses, Gateways, HTTPRoutes, Services and EndpointSlices
# with its own client certificate (CN=gantry:traefik, ClusterRole
# gantry:traefik) through $STATE/traefik.kubeconfig, which it reads from the
# KUBECONFIG environment variable (its out-of-cluster client mode), and proxies
# straight to pod IPs, which the host can reach.
#
# The cluster has one GatewayClass, "traefik", and one Gateway, gantry-system/gantry,
# with an HTTP listener on port 8000 that accepts routes from every namespace:
#
#   apiVersion: gateway.networking.k8s.io/v1
#   kind: HTTPRoute
#   spec:
#     parentRefs: [{ name: gantry, namespace: gantry-system }]
#     hostnames: [app.example.test]
#     rules: [{ backendRefs: [{ name: app, port: 80 }] }]
#
#   curl -H 'Host: app.example.test' "$GANTRY_GATEWAY_URL/"
# shellcheck shell=bash

GATEWAY_NAMESPACE=gantry-system
GATEWAY_NAME=gantry
GATEWAY_CLASS=traefik
TRAEFIK_WEB_ADDR=127.0.0.1:8000
TRAEFIK_ADMIN_ADDR=127.0.0.1:9000

# ---- build ---------------------------------------------------------------------
TRAEFIK_MODULE=github.com/traefik/traefik/v3
TRAEFIK_OUT=$GANTRY_CACHE/traefik/$TRAEFIK_VERSION

# _go_mod_dir MODULE@VERSION: download a module through the Go module proxy and
# print its (read-only) directory in the module cache.
_go_mod_dir() {
  local json dir
  json=$(cd / && GOFLAGS=-mod=mod go mod download -json "$1") || die "go mod download $1 failed"
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json")
  [[ -d $dir ]] || die "no module directory for $1"
  echo "$dir"
}

# build_traefik: ensure $TRAEFIK_OUT/traefik exists, then link it into $BIN.
# Traefik's go.mod has replace directives, so `go install module@version` is
# refused; we build from a writable copy of the module instead.
build_traefik() {
  if [[ -x $TRAEFIK_OUT/traefik ]]; then
    info "cached: $TRAEFIK_OUT/traefik"
  else
    command -v go >/dev/null || die "go is required to build Traefik (it is not installed)"
    local start=$SECONDS src=$TRAEFIK_OUT/src log=$TRAEFIK_OUT/build.log dir
    mkdir -p "$TRAEFIK_OUT"
    info "fetching $TRAEFIK_MODULE@$TRAEFIK_VERSION from the Go module proxy"
    dir=$(_go_mod_dir "$TRAEFIK_MODULE@$TRAEFIK_VERSION")
    rm -rf "$src"
    cp -r "$dir" "$src"
    chmod -R u+w "$src"
    # The dashboard's assets are built with yarn upstream; the module only has
    # a placeholder directory. We do not serve the dashboard.
    [[ -d $src/webui/static ]] || { mkdir -p "$src/webui/static" && echo '<!doctype html>' >"$src/webui/static/index.html"; }
    info "building Traefik $TRAEFIK_VERSION (cold: 10-20 minutes on 2 cores; log $log)"
    (
      cd "$src"
      CGO_ENABLED=0 go build -v -trimpath \
        -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION -X github.com/traefik/traefik/v3/pkg/version.BuildDate=1970-01-01T00:00:00Z" \
        -o "$TRAEFIK_OUT/traefik.tmp" ./cmd/traefik 2>&1 |
        awk '{ n++; if (n % 250 == 0) { printf "     ... %d packages (%s)\n", n, $0 > "/dev/stderr" } print > "'"$log"'" }'
      exit "${PIPESTATUS[0]}"
    ) || { tail -30 "$log" >&2; die "Traefik build failed; full log: $log"; }
    mv "$TRAEFIK_OUT/traefik.tmp" "$TRAEFIK_OUT/traefik"
    rm -rf "$src"
    info "built in $((SECONDS - start))s: $TRAEFIK_OUT/traefik"
  fi
  mkdir -p "$BIN"
  ln -sfn "$TRAEFIK_OUT/traefik" "$BIN/traefik"
}

# ---- run -----------------------------------------------------------------------
# Standard-channel CRDs, straight from the module's config/crd/standard.
install_gateway_api_crds() {
  local dir
  dir=$(_go_mod_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")
  kubectl apply --server-side --force-conflicts --field-manager=gantry-cluster \
    -f "$dir/config/crd/standard/" >/dev/null || die "applying Gateway API $GATEWAY_API_VERSION CRDs failed"
  kubectl wait --for=condition=Established --timeout=60s \
    crd/gatewayclasses.gateway.networking.k8s.io crd/gateways.gateway.networking.k8s.io \
    crd/httproutes.gateway.networking.k8s.io crd/referencegrants.gateway.networking.k8s.io >/dev/null ||
    die "Gateway API CRDs not established"
  info "Gateway API $GATEWAY_API_VERSION standard CRDs applied"
}

# What Traefik's kubernetesGateway provider reads and writes (its documented
# RBAC, minus pods/get, which only feeds OpenTelemetry attributes).
_traefik_rbac() {
  kubectl apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: "gantry:traefik" }
rules:
  - apiGroups: [""]
    resources: [namespaces]
    verbs: [list, watch]
  - apiGroups: [""]
    resources: [services, secrets, configmaps]
    verbs: [get, list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
  - apiGroups: [gateway.networking.k8s.io]
    resources: [gatewayclasses, gateways, httproutes, grpcroutes, tcproutes, tlsroutes, referencegrants, backendtlspolicies]
    verbs: [get, list, watch]
  - apiGroups: [gateway.networking.k8s.io]
    resources:
      - gatewayclasses/status
      - gateways/status
      - httproutes/status
      - grpcroutes/status
      - tcproutes/status
      - tlsroutes/status
      - referencegrants/status
      - backendtlspolicies/status
    verbs: [update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: "gantry:traefik" }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "gantry:traefik" }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: "gantry:traefik" }]
YAML
}

_traefik_config() {
  write_if_changed "$STATE/traefik/traefik.yml" <<CFG
global:
  checkNewVersion: false
  sendAnonymousUsage: false
log:
  level: INFO
  noColor: true
# Short grace periods, so that stopping Traefik does not wait on idle keep-alive connections.
entryPoints:
  web:
    address: "$TRAEFIK_WEB_ADDR"
    transport:
      lifeCycle: { requestAcceptGraceTimeout: 0s, graceTimeOut: 2s }
  traefik:
    address: "$TRAEFIK_ADMIN_ADDR"
    transport:
      lifeCycle: { requestAcceptGraceTimeout: 0s, graceTimeOut: 2s }
ping:
  entryPoint: traefik
api:
  insecure: true
  dashboard: false
metrics:
  prometheus:
    entryPoint: traefik
    addRoutersLabels: true
    addServicesLabels: true
providers:
  kubernetesGateway:
    statusAddress:
      ip: "${TRAEFIK_WEB_ADDR%:*}"
CFG
}

_gateway_objects() {
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata: { name: $GATEWAY_NAMESPACE }
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: $GATEWAY_CLASS }
spec:
  controllerName: traefik.io/gateway-controller
  description: Traefik $TRAEFIK_VERSION on the host (hack/cluster)
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: $GATEWAY_NAME, namespace: $GATEWAY_NAMESPACE }
spec:
  gatewayClassName: $GATEWAY_CLASS
  listeners:
    # Traefik binds a listener to the entrypoint with the same port.
    - name: web
      protocol: HTTP
      port: ${TRAEFIK_WEB_ADDR##*:}
      allowedRoutes:
        namespaces: { from: All }
YAML
}

gateway_programmed() {
  [[ $(kubectl -n "$GATEWAY_NAMESPACE" get gateway "$GATEWAY_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Programmed")].status}' 2>/dev/null) == True ]]
}

# start_gateway: CRDs, Traefik's identity and configuration, the daemon, and
# the GatewayClass and Gateway; returns once the Gateway is Programmed.
start_gateway() {
  build_traefik
  install_gateway_api_crds
  _cert traefik "/CN=gantry:traefik"
  _kubeconfig traefik traefik
  _traefik_rbac
  _traefik_config
  # Without KUBERNETES_SERVICE_HOST and with KUBECONFIG set, Traefik's
  # Kubernetes providers use that kubeconfig (client certificate included).
  start_daemon traefik env -u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT \
    KUBECONFIG="$STATE/traefik.kubeconfig" "$BIN/traefik" --configFile="$STATE/traefik/traefik.yml"
  wait_for "traefik /ping" 60 http_ok "http://$TRAEFIK_ADMIN_ADDR/ping"
  _gateway_objects
  wait_for "Gateway $GATEWAY_NAMESPACE/$GATEWAY_NAME to be Programmed (see $LOGS/traefik.log)" 90 gateway_programmed
  info "Gateway $GATEWAY_NAMESPACE/$GATEWAY_NAME programmed: http://$TRAEFIK_WEB_ADDR"
}

stop_gateway() { stop_daemon traefik; }

# gateway_status: lines for `cluster status` (uses its _check).
gateway_status() {
  local ok=0
  http_ok "http://$TRAEFIK_ADMIN_ADDR/ping" && ok=1
  _check traefik $ok
  ok=0
  [[ -f $KUBECONFIG_PATH ]] && gateway_programmed && ok=1
  _check "gateway $GATEWAY_NAME" $ok
}

gateway_env() {
  cat <<ENV
export GANTRY_GATEWAY_URL=http://$TRAEFIK_WEB_ADDR
export GANTRY_GATEWAY=$GATEWAY_NAMESPACE/$GATEWAY_NAME
export GANTRY_GATEWAY_CLASS=$GATEWAY_CLASS
export TRAEFIK_API_URL=http://$TRAEFIK_ADMIN_ADDR
ENV
}
