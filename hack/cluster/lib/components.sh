# Start, configure and health-check each component. Sourced by `cluster`.
# shellcheck shell=bash

ensure_packages() {
  local need=() p
  local -A pkg_of=(
    [containerd]=containerd [runc]=runc [/usr/lib/cni/bridge]=containernetworking-plugins
    [prometheus]=prometheus [prometheus-alertmanager]=prometheus-alertmanager
    [docker-registry]=docker-registry [iptables]=iptables [conntrack]=conntrack [openssl]=openssl
    [curl]=curl [ip]=iproute2 [socat]=socat [mtail]=mtail
  )
  for p in "${!pkg_of[@]}"; do
    if [[ $p == /* ]]; then [[ -e $p ]] || need+=("${pkg_of[$p]}"); else command -v "$p" >/dev/null || need+=("${pkg_of[$p]}"); fi
  done
  if ((${#need[@]})); then
    info "installing Debian packages: ${need[*]}"
    # Debian's postinst scripts would start system-wide daemons; we run our own.
    [[ -e /usr/sbin/policy-rc.d ]] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d; }
    if [[ ! -f /var/lib/apt/periodic/gantry-updated ]]; then
      apt-get update -qq >/dev/null && mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/gantry-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
      die "apt-get install ${need[*]} failed"
  else
    info "Debian packages present"
  fi
}

# ---- host networking ---------------------------------------------------------
# `ip ... | grep -q` is not a safe test under pipefail: grep exits at the first match, ip
# may still be writing (it flushes per line) and dies of SIGPIPE, and the pipeline fails
# although the address is there. has() reads the whole output first.
has() { grep -qe "$1" <<<"$2"; }

setup_host_network() {
  has " $NODE_IP/32" "$(ip addr show dev lo)" || ip addr add "$NODE_IP/32" dev lo
  sysctl -qw net.ipv4.ip_forward=1
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || warn "bridge netfilter unavailable"
  # The pod bridge exists before any pod (the CNI bridge plugin adopts it), so
  # routes can point at it from the start.
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  has " ${NODE_POD_CIDR%.*}.1/" "$(ip addr show dev "$BRIDGE")" || ip addr add "${NODE_POD_CIDR%.*}.1/${NODE_POD_CIDR#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # Cluster addresses must never leave the machine. Service IPs route to the
  # bridge (kube-proxy DNATs them to pod IPs on the way out; a blackhole route
  # would fail connect() before the DNAT); the rest of the pod range is dropped.
  has "dev $BRIDGE" "$(ip route show "$SERVICE_CIDR")" || ip route replace "$SERVICE_CIDR" dev "$BRIDGE"
  has "^blackhole $POD_CIDR" "$(ip route show type blackhole)" || ip route add blackhole "$POD_CIDR" metric 4000
  # Pods may talk to each other, to Services and to this host, but nothing
  # they send is forwarded out of the machine.
  iptables -N GANTRY-FENCE 2>/dev/null || true
  iptables -F GANTRY-FENCE
  iptables -A GANTRY-FENCE -i "$BRIDGE" -o "$BRIDGE" -j RETURN
  iptables -A GANTRY-FENCE -i "$BRIDGE" -j DROP
  iptables -C FORWARD -j GANTRY-FENCE 2>/dev/null || iptables -I FORWARD 1 -j GANTRY-FENCE
}

teardown_host_network() {
  iptables -D FORWARD -j GANTRY-FENCE 2>/dev/null || true
  iptables -F GANTRY-FENCE 2>/dev/null || true
  iptables -X GANTRY-FENCE 2>/dev/null || true
  ip route del "$SERVICE_CIDR" 2>/dev/null || true
  ip route del blackhole "$POD_CIDR" metric 4000 2>/dev/null || true
  ip link del "$BRIDGE" 2>/dev/null || true
  ip addr del "$NODE_IP/32" dev lo 2>/dev/null || true
}

# ---- etcd --------------------------------------------------------------------
start_etcd() {
  mkdir -p "$STATE/etcd"
  chmod 700 "$STATE/etcd"
  start_daemon etcd "$BIN/etcd" --name gantry --data-dir "$STATE/etcd" \
    --listen-client-urls "$ETCD_CLIENT" --advertise-client-urls "$ETCD_CLIENT" \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster gantry=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
    --quota-backend-bytes 4294967296 --snapshot-count 10000
  wait_for "etcd health" 60 http_ok "http://127.0.0.1:2381/health"
}

# ---- registry ----------------------------------------------------------------
start_registry() {
  mkdir -p "$STATE/registry/data"
  write_if_changed "$STATE/registry/config.yml" <<CFG
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: $STATE/registry/data }
  delete: { enabled: true }
http:
  addr: $REGISTRY
  headers: { X-Content-Type-Options: [nosniff] }
CFG
  start_daemon registry docker-registry serve "$STATE/registry/config.yml"
  wait_for "registry on $REGISTRY" 30 http_ok "http://$REGISTRY/v2/"
}

# ---- containerd ----------------------------------------------------------------
start_containerd() {
  mkdir -p "$STATE/containerd/certs.d/$REGISTRY" "$STATE/cni/net.d" "$STATE/cni/ipam" "$RUNDIR/containerd"
  # containerd takes one plugin directory: Debian's plugins and ours, side by side.
  mkdir -p "$STATE/cni/bin"
  local plugin
  for plugin in /usr/lib/cni/*; do ln -sfn "$plugin" "$STATE/cni/bin/${plugin##*/}"; done
  ln -sfn "$BIN/gantry-neigh" "$STATE/cni/bin/gantry-neigh"
  local before
  before=$(cat "$STATE/containerd/config.toml" 2>/dev/null || true)
  write_if_changed "$STATE/containerd/certs.d/$REGISTRY/hosts.toml" <<CFG
server = "http://$REGISTRY"
[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve", "push"]
CFG
  write_if_changed "$STATE/containerd/config.toml" <<CFG
version = 2
root = "$STATE/containerd/root"
state = "$RUNDIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$RUNDIR/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Some sandboxes (this machine's among them) refuse to lower oom_score_adj;
  # never ask for less than containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$STATE/cni/bin"
    conf_dir = "$STATE/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$STATE/containerd/certs.d"
CFG
  # A running containerd reads its configuration only at start; it is restarted
  # when that changed (its containers keep running under their shims). The CNI
  # list below is reread on every change, so it is written after the restart.
  if [[ $before != "$(cat "$STATE/containerd/config.toml")" ]] && daemon_alive containerd; then
    info "containerd configuration changed: restarting containerd"
    stop_daemon containerd
    rm -f "$CONTAINERD_SOCK"
  fi
  write_if_changed "$STATE/cni/net.d/10-gantry.conflist" <<CFG
{
  "cniVersion": "1.0.0",
  "name": "gantry",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$NODE_POD_CIDR" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "$STATE/cni/ipam"
      }
    },
    { "type": "gantry-neigh", "bridge": "$BRIDGE" },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
CFG
  start_daemon containerd containerd --config "$STATE/containerd/config.toml"
  wait_for "containerd socket" 30 test -S "$CONTAINERD_SOCK"
}

# ---- control plane -------------------------------------------------------------
start_apiserver() {
  start_daemon kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers="$ETCD_CLIENT" \
    --bind-address=0.0.0.0 --secure-port="$APISERVER_PORT" --advertise-address="$NODE_IP" \
    --service-cluster-ip-range="$SERVICE_CIDR" --service-node-port-range=30000-32767 \
    --client-ca-file="$PKI/ca.crt" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$PKI/ca.crt" \
    --kubelet-preferred-address-types=InternalIP \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true --profiling=false --event-ttl=1h \
    --endpoint-reconciler-type=lease
  wait_for "kube-apiserver /readyz" 120 kubectl get --raw /readyz
}

start_controller_manager() {
  local kc=$STATE/controller-manager.kubeconfig
  start_daemon kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig="$kc" --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
    --bind-address=127.0.0.1 --leader-elect=false \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
    --use-service-account-credentials=true --service-cluster-ip-range="$SERVICE_CIDR" \
    --controllers='*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller' \
    --profiling=false
  wait_for "kube-controller-manager /healthz" 60 curl -ksf https://127.0.0.1:10257/healthz
}

start_scheduler() {
  local kc=$STATE/scheduler.kubeconfig
  start_daemon kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig="$kc" --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
    --bind-address=127.0.0.1 --leader-elect=false --profiling=false
  wait_for "kube-scheduler /healthz" 60 curl -ksf https://127.0.0.1:10259/healthz
}

# ---- node ----------------------------------------------------------------------
start_kubelet() {
  mkdir -p "$STATE/kubelet/root"
  # Pods get no upstream resolver: nothing in the cluster resolves names outside it. Pods
  # with dnsPolicy ClusterFirst (the default) get the cluster DNS instead (clusterDNS,
  # CoreDNS: lib/dns.sh); this file is what dnsPolicy Default and host-network pods get.
  echo "nameserver 127.0.0.1" | write_if_changed "$STATE/kubelet/resolv.conf"
  local before
  before=$(cat "$STATE/kubelet/config.yaml" 2>/dev/null || true)
  write_if_changed "$STATE/kubelet/config.yaml" <<CFG
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $PKI/ca.crt }
authorization: { mode: Webhook }
address: $NODE_IP
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
resolvConf: $STATE/kubelet/resolv.conf
clusterDomain: $CLUSTER_DOMAIN
clusterDNS: ["$CLUSTER_DNS_IP"]
serializeImagePulls: false
maxPods: 250
podPidsLimit: 4096
imageGCHighThresholdPercent: 95
imageGCLowThresholdPercent: 90
evictionHard:
  memory.available: 200Mi
  nodefs.available: 2%
  imagefs.available: 2%
  nodefs.inodesFree: 2%
nodeStatusReportFrequency: 1m
# Every image in the node's status (default: the 50 largest), so small ones such as the pause
# image, which gantry chaos pod-failure runs, stay listed on a node that has run many builds.
nodeStatusMaxImages: -1
syncFrequency: 30s
shutdownGracePeriod: 0s
CFG
  # The kubelet reads its configuration file only at start; restarted when it changed (the
  # pods keep running; pods created later get the new settings).
  if [[ $before != "$(cat "$STATE/kubelet/config.yaml")" ]] && daemon_alive kubelet; then
    info "kubelet configuration changed: restarting the kubelet"
    stop_daemon kubelet
  fi
  start_daemon kubelet "$BIN/kubelet" --config="$STATE/kubelet/config.yaml" \
    --kubeconfig="$STATE/kubelet.kubeconfig" --root-dir="$STATE/kubelet/root" \
    --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" \
    --pod-infra-container-image="$PAUSE_IMAGE" \
    --containerd="$CONTAINERD_SOCK"
  # --containerd: where the kubelet's cAdvisor asks containerd which pod and container a
  # cgroup belongs to; without it /metrics/cadvisor has pod-level series only.
  wait_for "kubelet /healthz" 90 curl -sf http://127.0.0.1:10248/healthz
}

start_kube_proxy() {
  mkdir -p "$STATE/kube-proxy"
  write_if_changed "$STATE/kube-proxy/config.yaml" <<CFG
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clientConnection:
  kubeconfig: $STATE/kube-proxy.kubeconfig
nodePortAddresses: ["$NODE_IP/32", "127.0.0.0/8"]
conntrack:
  maxPerCore: 0
  min: 0
iptables:
  syncPeriod: 30s
  minSyncPeriod: 0s
CFG
  start_daemon kube-proxy "$BIN/kube-proxy" --config="$STATE/kube-proxy/config.yaml"
  wait_for "kube-proxy /healthz" 60 curl -sf http://127.0.0.1:10256/healthz
}

wait_node_ready() {
  wait_for "node $NODE_NAME to register" 90 kubectl get node "$NODE_NAME"
  kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=120s >/dev/null ||
    die "node $NODE_NAME did not become Ready; see $LOGS/kubelet.log"
}

# ---- monitoring ------------------------------------------------------------------
start_monitoring() {
  kubectl apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: gantry:prometheus }
rules:
  - apiGroups: [""]
    resources: [pods, services, endpoints, nodes]
    verbs: [get, list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [get, list, watch]
  # The kubelet's cAdvisor endpoint (container CPU and memory, for gantry's alert rules).
  - apiGroups: [""]
    resources: [nodes/metrics]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: gantry:prometheus }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gantry:prometheus }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: "gantry:prometheus" }]
YAML
  mkdir -p "$STATE/prometheus/data" "$STATE/prometheus/rules" "$STATE/alertmanager/data"
  write_if_changed "$STATE/prometheus/prometheus.yml" <<CFG
global:
  scrape_interval: 5s
  evaluation_interval: 5s
alerting:
  alertmanagers:
    - static_configs: [{ targets: ["$ALERTMANAGER_ADDR"] }]
rule_files: ["$STATE/prometheus/rules/*.yml"]
scrape_configs:
  - job_name: prometheus
    static_configs: [{ targets: ["$PROMETHEUS_ADDR"] }]
  # Container CPU and memory from the kubelet's cAdvisor, with the namespace, pod and
  # container labels gantry's alert rules select on; only the series those rules read.
  - job_name: kubelet-cadvisor
    scheme: https
    metrics_path: /metrics/cadvisor
    tls_config:
      ca_file: $PKI/ca.crt
      cert_file: $PKI/prometheus.crt
      key_file: $PKI/prometheus.key
    static_configs: [{ targets: ["$NODE_IP:10250"] }]
    metric_relabel_configs:
      - source_labels: [__name__]
        action: keep
        regex: container_cpu_usage_seconds_total|container_memory_working_set_bytes
  # CoreDNS, the cluster DNS (lib/dns.sh): queries, responses by rcode, cache hits.
  - job_name: coredns
    static_configs: [{ targets: ["$COREDNS_METRICS_ADDR"] }]
  # Traefik, the Gateway API implementation (lib/gateway.sh): per-route traffic.
  - job_name: traefik
    static_configs: [{ targets: ["127.0.0.1:9000"] }]
  # The log agent (start_log_agent): log lines of every container by namespace, pod,
  # container and level, labelled as the pods' own series are.
  - job_name: log-agent
    static_configs: [{ targets: ["$LOG_AGENT_ADDR"] }]
  # Every pod that asks to be scraped with the usual annotations:
  #   prometheus.io/scrape: "true", prometheus.io/port, prometheus.io/path
  # Pods every 2 s: gantry's canary judge reads these, so a fresher sample is a faster verdict.
  - job_name: kubernetes-pods
    scrape_interval: 2s
    kubernetes_sd_configs:
      - role: pod
        kubeconfig_file: $STATE/prometheus.kubeconfig
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
        action: keep
        regex: "true"
      - source_labels: [__meta_kubernetes_pod_phase]
        action: drop
        regex: (Succeeded|Failed|Pending)
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
        action: replace
        target_label: __metrics_path__
        regex: (.+)
      - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
        action: replace
        regex: ([^:]+)(?::\d+)?;(\d+)
        replacement: \$1:\$2
        target_label: __address__
      - action: labelmap
        regex: __meta_kubernetes_pod_label_(.+)
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
CFG
  # Alertmanager reads alertmanager.yml. `gantry alerts apply` composes that file from the
  # base below (alertmanager.base.yml) and its per-service fragments (gantry.d/*.yml, each
  # a route subtree matched on namespace and service, its receivers and inhibit rules), so
  # the base is written here and alertmanager.yml only while no service has a fragment:
  # cluster up never drops a service's routing. With fragments, a changed base takes
  # effect at the next `gantry alerts apply` of any service.
  write_if_changed "$STATE/alertmanager/alertmanager.base.yml" <<CFG
route:
  receiver: default
  group_wait: 5s
  group_interval: 30s
  repeat_interval: 4h
receivers:
  - name: default
CFG
  if compgen -G "$STATE/alertmanager/gantry.d/*.yml" >/dev/null; then
    if [[ ! -f $STATE/alertmanager/alertmanager.yml ]]; then
      cp "$STATE/alertmanager/alertmanager.base.yml" "$STATE/alertmanager/alertmanager.yml"
      warn "alertmanager.yml was missing: wrote the base; gantry alerts apply puts the services' routing back"
    elif ! grep -q '^# Composed by gantry' "$STATE/alertmanager/alertmanager.yml"; then
      warn "alertmanager.yml was not composed by gantry; gantry alerts apply recomposes it from alertmanager.base.yml"
    fi
  else
    write_if_changed "$STATE/alertmanager/alertmanager.yml" <"$STATE/alertmanager/alertmanager.base.yml"
  fi
  start_daemon alertmanager prometheus-alertmanager --config.file="$STATE/alertmanager/alertmanager.yml" \
    --storage.path="$STATE/alertmanager/data" --web.listen-address="$ALERTMANAGER_ADDR" \
    --cluster.listen-address=
  # Also on the node address: what pods reach (gantry's in-cluster release driver queries it
  # there, GANTRY_DRIVER_PROMETHEUS_URL in `cluster env`). 127.0.0.1 stays the host's address.
  start_daemon prometheus "$BIN/prometheus" --config.file="$STATE/prometheus/prometheus.yml" \
    --storage.tsdb.path="$STATE/prometheus/data" --storage.tsdb.retention.time=2d \
    --web.listen-address="$PROMETHEUS_ADDR" --web.listen-address="$NODE_IP:${PROMETHEUS_ADDR##*:}" \
    --web.enable-lifecycle
  wait_for "alertmanager" 60 http_ok "http://$ALERTMANAGER_ADDR/-/ready"
  wait_for "prometheus" 60 http_ok "http://$PROMETHEUS_ADDR/-/ready"
  # A running Prometheus or Alertmanager keeps its old configuration until told to reload.
  curl -fs -X POST -o /dev/null "http://$ALERTMANAGER_ADDR/-/reload" || warn "alertmanager did not reload its configuration"
  curl -fs -X POST -o /dev/null "http://$PROMETHEUS_ADDR/-/reload" || warn "prometheus did not reload its configuration"
}

# ---- log agent -------------------------------------------------------------------
# mtail (Debian) reads the kubelet's pod logs, /var/log/pods/<namespace>_<pod>_<uid>/<container>/
# <n>.log (the kubelet's default --pod-logs-dir, which start_kubelet keeps), and exports
# gantry_log_lines_total{namespace,pod,container,level} on $LOG_AGENT_ADDR for Prometheus
# (the log-agent job) and gantry's GantryErrorLogsHigh rule. The program is
# hack/cluster/mtail/pod-logs.mtail; deploy/log-agent has the same for any cluster.
start_log_agent() {
  local progs=$STATE/mtail/progs before
  mkdir -p "$progs"
  before=$(cat "$progs/pod-logs.mtail" 2>/dev/null || true)
  write_if_changed "$progs/pod-logs.mtail" <"$CLUSTER_DIR/mtail/pod-logs.mtail"
  # mtail reads its programs at start only: a changed program means a restart (its counters
  # start again from 0, which Prometheus' rate() takes as a counter reset).
  if [[ $before != "$(cat "$progs/pod-logs.mtail")" ]] && daemon_alive mtail; then
    info "mtail program changed: restarting mtail"
    stop_daemon mtail
  fi
  # --port 0: a compile-only run still opens a listener, and the agent may hold 3903.
  "$(command -v mtail)" --compile_only --progs "$progs" --address 127.0.0.1 --port 0 >/dev/null 2>&1 ||
    die "hack/cluster/mtail/pod-logs.mtail does not compile: mtail --compile_only --progs $progs"
  start_daemon mtail "$(command -v mtail)" --progs "$progs" --logs '/var/log/pods/*/*/*.log' \
    --address "${LOG_AGENT_ADDR%:*}" --port "${LOG_AGENT_ADDR##*:}" --emit_prog_label=false \
    --logtostderr
  wait_for "mtail on $LOG_AGENT_ADDR" 30 http_ok "http://$LOG_AGENT_ADDR/metrics"
}
