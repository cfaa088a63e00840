# Cluster DNS for the local cluster: CoreDNS on the host. Sourced by `cluster`.
#
# CoreDNS (hack/cluster/coredns: the upstream module with only the plugins used here) runs
# as the daemon "coredns", listening on $NODE_IP:53 (udp and tcp) and nowhere else. Pods
# reach it as the conventional Service kube-system/kube-dns, ClusterIP $CLUSTER_DNS_IP:
# the Service has no selector, and the EndpointSlice kube-dns-host points at $NODE_IP:53,
# so kube-proxy (iptables mode) DNATs a pod's query to the host. The kubelet writes
# `nameserver $CLUSTER_DNS_IP` and the cluster.local search path into every pod with
# dnsPolicy ClusterFirst (clusterDNS in start_kubelet's configuration).
#
# It answers cluster.local (Services, headless Services' endpoints, pods as
# A-B-C-D.NAMESPACE.pod, "pods insecure") and the reverse zones of the Service and pod
# ranges, from the API server, with its own client certificate (CN=gantry:coredns,
# ClusterRole gantry:coredns: list/watch Services, EndpointSlices and Namespaces) through
# $STATE/coredns.kubeconfig. Every other name is REFUSED at once: like the rest of the
# cluster, DNS does not reach out of the machine (the pods could not connect to what an
# upstream resolver named anyway). GANTRY_CLUSTER_DNS_UPSTREAM=/etc/resolv.conf (or a list
# of addresses) at `cluster up` forwards other names there instead.
#
#   127.0.0.1:8053/health   liveness (health plugin)
#   127.0.0.1:8181/ready    200 once the Kubernetes caches are synced (ready plugin)
#   127.0.0.1:9153/metrics  coredns_* series, scraped by the cluster's Prometheus (job coredns)
# shellcheck shell=bash

COREDNS_HEALTH_ADDR=127.0.0.1:8053
COREDNS_READY_ADDR=127.0.0.1:8181
COREDNS_METRICS_ADDR=127.0.0.1:9153

# ---- build ---------------------------------------------------------------------
# build_coredns: ensure the binary for hack/cluster/coredns exists in the cache (keyed by
# the pinned version and the wrapper module's files), then link it into $BIN.
build_coredns() {
  local dir=$CLUSTER_DIR/coredns version key out
  # "require MODULE VERSION" or, inside a require block, "MODULE VERSION".
  version=$(awk '$1 == "require" { $0 = substr($0, 9) } $1 == "github.com/coredns/coredns" { print $2; exit }' "$dir/go.mod")
  [[ $version == "$COREDNS_VERSION" ]] ||
    die "hack/cluster/coredns/go.mod requires CoreDNS $version, versions.env pins $COREDNS_VERSION: run (cd hack/cluster/coredns && go get github.com/coredns/coredns@$COREDNS_VERSION && go mod tidy)"
  key=$(cd "$dir" && cat go.mod go.sum main.go | sha256sum | cut -c1-12)
  out=$GANTRY_CACHE/coredns/$version-$key
  if [[ -x $out/coredns ]]; then
    info "cached: $out/coredns"
  else
    command -v go >/dev/null || die "go is required to build CoreDNS (it is not installed)"
    info "building CoreDNS $version (kubernetes, forward, cache and the server plugins; about 2 minutes cold)"
    local start=$SECONDS
    mkdir -p "$out.tmp"
    (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp/coredns" .) ||
      die "CoreDNS build failed"
    rm -rf "$out" && mv "$out.tmp" "$out"
    info "built in $((SECONDS - start))s: $out/coredns ($(du -sh "$out/coredns" | cut -f1))"
  fi
  mkdir -p "$BIN"
  ln -sfn "$out/coredns" "$BIN/coredns"
}

# ---- run -----------------------------------------------------------------------
_dns_objects() {
  kubectl apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: "gantry:coredns" }
rules:
  - apiGroups: [""]
    resources: [services, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: "gantry:coredns" }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "gantry:coredns" }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: "gantry:coredns" }]
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: { k8s-app: kube-dns, kubernetes.io/name: CoreDNS }
spec:
  clusterIP: $CLUSTER_DNS_IP
  ports:
    - { name: dns, port: 53, protocol: UDP, targetPort: 53 }
    - { name: dns-tcp, port: 53, protocol: TCP, targetPort: 53 }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-host
  namespace: kube-system
  labels:
    kubernetes.io/service-name: kube-dns
    endpointslice.kubernetes.io/managed-by: gantry.dev-hack-cluster
addressType: IPv4
endpoints:
  - addresses: ["$NODE_IP"]
    conditions: { ready: true }
    nodeName: $NODE_NAME
ports:
  - { name: dns, port: 53, protocol: UDP }
  - { name: dns-tcp, port: 53, protocol: TCP }
YAML
}

# The reverse zone of a /16 or /8 range (the cluster's are /16s): 10.96.0.0/16 -> 96.10.in-addr.arpa.
_reverse_zone() {
  local net=${1%/*} bits=${1#*/} a b c
  IFS=. read -r a b c _ <<<"$net"
  case $bits in
    8) echo "$a.in-addr.arpa" ;;
    16) echo "$b.$a.in-addr.arpa" ;;
    24) echo "$c.$b.$a.in-addr.arpa" ;;
    *) die "cannot make a reverse zone of $1 (only /8, /16 and /24)" ;;
  esac
}

_corefile() {
  local rev_svc rev_pod
  rev_svc=$(_reverse_zone "$SERVICE_CIDR")
  rev_pod=$(_reverse_zone "$POD_CIDR")
  cat <<CFG
# Written by hack/cluster/lib/dns.sh (start_dns). cluster up restarts CoreDNS when it
# changes; CoreDNS also rereads it within 5-10 s of a hand edit (reload).
$CLUSTER_DOMAIN:53 $rev_svc:53 $rev_pod:53 {
    bind $NODE_IP
    errors
    log . {
        class error
    }
    health $COREDNS_HEALTH_ADDR
    ready $COREDNS_READY_ADDR
    prometheus $COREDNS_METRICS_ADDR
    kubernetes $CLUSTER_DOMAIN $rev_svc $rev_pod {
        kubeconfig $STATE/coredns.kubeconfig
        pods insecure
        ttl 5
    }
    cache 30
    loadbalance
    reload 5s
}
CFG
  if [[ -n ${GANTRY_CLUSTER_DNS_UPSTREAM:-} ]]; then
    cat <<CFG
.:53 {
    bind $NODE_IP
    errors
    prometheus $COREDNS_METRICS_ADDR
    cache 30
    loop
    forward . $GANTRY_CLUSTER_DNS_UPSTREAM
}
CFG
  fi
}

dns_ready() { http_ok "http://$COREDNS_READY_ADDR/ready"; }

# start_dns: identity, Service and EndpointSlice, Corefile and the daemon; returns once
# CoreDNS reports its Kubernetes caches synced.
start_dns() {
  build_coredns
  _cert coredns "/CN=gantry:coredns"
  _kubeconfig coredns coredns
  _dns_objects
  mkdir -p "$STATE/coredns"
  local before
  before=$(cat "$STATE/coredns/Corefile" 2>/dev/null || true)
  _corefile | write_if_changed "$STATE/coredns/Corefile"
  # The reload plugin would pick a change up within 5-10 s; a restart makes it take effect
  # before `cluster up` returns.
  if [[ $before != "$(cat "$STATE/coredns/Corefile")" ]] && daemon_alive coredns; then
    info "Corefile changed: restarting CoreDNS"
    stop_dns
  fi
  start_daemon coredns "$BIN/coredns" -conf "$STATE/coredns/Corefile"
  wait_for "CoreDNS ready on $COREDNS_READY_ADDR (see $LOGS/coredns.log)" 60 dns_ready
  if [[ -n ${GANTRY_CLUSTER_DNS_UPSTREAM:-} ]]; then
    info "CoreDNS on $NODE_IP:53 (Service kube-system/kube-dns $CLUSTER_DNS_IP): $CLUSTER_DOMAIN, other names forwarded to $GANTRY_CLUSTER_DNS_UPSTREAM"
  else
    info "CoreDNS on $NODE_IP:53 (Service kube-system/kube-dns $CLUSTER_DNS_IP): $CLUSTER_DOMAIN only, other names REFUSED"
  fi
}

stop_dns() { stop_daemon coredns; }

# dns_status: lines for `cluster status` (uses its _check).
dns_status() {
  local ok=0
  daemon_alive coredns && dns_ready && ok=1
  _check "dns (coredns)" $ok
}
