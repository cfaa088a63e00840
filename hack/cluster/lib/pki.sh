# Local PKI for the cluster: one CA, serving and client certificates, and the
# service-account key pair. Sourced by `cluster`.
# shellcheck shell=bash

# _cert NAME SUBJECT [SAN] [EKU]: a key and a CA-signed certificate, valid one year.
_cert() {
  local name=$1 subj=$2 san=${3:-} eku=${4:-clientAuth}
  [[ -f $PKI/$name.crt ]] && return 0
  local ext=$PKI/$name.ext
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -n $san ]] && echo "subjectAltName=$san"
  } >"$ext"
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 365 -sha256 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
  chmod 600 "$PKI/$name.key"
}

# _kubeconfig NAME USER_CERT_NAME: a kubeconfig that authenticates with a client certificate.
_kubeconfig() {
  local file=$STATE/$1.kubeconfig cert=$2
  [[ -f $file ]] && return 0
  cat >"$file" <<KC
apiVersion: v1
kind: Config
clusters:
  - name: gantry-local
    cluster:
      server: https://127.0.0.1:$APISERVER_PORT
      certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
  - name: $1
    user:
      client-certificate-data: $(base64 -w0 "$PKI/$cert.crt")
      client-key-data: $(base64 -w0 "$PKI/$cert.key")
contexts:
  - name: gantry-local
    context: { cluster: gantry-local, user: $1 }
current-context: gantry-local
KC
  chmod 600 "$file"
}

make_pki() {
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  if [[ ! -f $PKI/ca.crt ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 -subj "/CN=gantry-local-ca" \
      -keyout "$PKI/ca.key" -out "$PKI/ca.crt" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    chmod 600 "$PKI/ca.key"
  fi
  local apiserver_san="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  apiserver_san+=",DNS:kubernetes.default.svc.cluster.local,DNS:localhost"
  apiserver_san+=",IP:127.0.0.1,IP:$NODE_IP,IP:$KUBERNETES_SVC_IP"
  _cert apiserver "/CN=kube-apiserver" "$apiserver_san" serverAuth
  _cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  _cert admin "/O=system:masters/CN=gantry-admin"
  _cert controller-manager "/CN=system:kube-controller-manager"
  _cert scheduler "/CN=system:kube-scheduler"
  _cert kube-proxy "/CN=system:kube-proxy"
  _cert kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME"
  _cert kubelet-serving "/CN=$NODE_NAME" "DNS:$NODE_NAME,DNS:localhost,IP:$NODE_IP,IP:127.0.0.1" serverAuth
  _cert prometheus "/CN=gantry:prometheus"
  if [[ ! -f $PKI/sa.key ]]; then
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
    chmod 600 "$PKI/sa.key"
  fi
  _kubeconfig admin admin
  _kubeconfig controller-manager controller-manager
  _kubeconfig scheduler scheduler
  _kubeconfig kube-proxy kube-proxy
  _kubeconfig kubelet kubelet-client
  _kubeconfig prometheus prometheus
}
