# Minimal daemonless OCI image push for the cluster's own images (pause, the
# Node.js base image, smoke-test images): one reproducible layer from a
# directory, pushed with the OCI distribution API over plain http to the local
# registry. Gantry's own image builder (packages/gantry/src/image) is the
# general tool; this exists so the cluster can come up before Gantry is built.
# shellcheck shell=bash

# _reproducible_tar DIR: a tar stream with sorted entries, fixed mtimes and owners.
_reproducible_tar() {
  tar --sort=name --mtime='@0' --owner=0 --group=0 --numeric-owner --format=posix \
    --pax-option='exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime' -C "$1" -cf - .
}

_sha() { sha256sum "$1" | cut -d' ' -f1; }

# _push_blob REPO FILE DIGEST: upload unless the registry already has it.
_push_blob() {
  local repo=$1 file=$2 digest=$3 location sep
  if curl -fs -o /dev/null -I "http://$REGISTRY/v2/$repo/blobs/$digest"; then
    return 0
  fi
  location=$(curl -fsS -X POST -D - -o /dev/null "http://$REGISTRY/v2/$repo/blobs/uploads/" |
    tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
  [[ -n $location ]] || die "registry $REGISTRY refused to start an upload for $repo"
  [[ $location == http* ]] || location="http://$REGISTRY$location"
  sep='?'
  [[ $location == *\?* ]] && sep='&'
  curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$file" \
    -o /dev/null "$location${sep}digest=$digest" || die "upload of $digest to $REGISTRY/$repo failed"
}

# oci_push_dir REPO TAG ROOTFS_DIR CONFIG_JSON
#   CONFIG_JSON: the image's "config" object, e.g. {"Entrypoint":["/pause"],"User":"65535"}
# Prints the manifest digest.
oci_push_dir() {
  local repo=$1 tag=$2 rootfs=$3 config=$4 work
  work=$(mktemp -d)
  _reproducible_tar "$rootfs" >"$work/layer.tar"
  gzip -n -6 <"$work/layer.tar" >"$work/layer.tar.gz"
  local diff_id layer_digest layer_size
  diff_id=sha256:$(_sha "$work/layer.tar")
  layer_digest=sha256:$(_sha "$work/layer.tar.gz")
  layer_size=$(stat -c %s "$work/layer.tar.gz")
  printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"gantry hack/cluster"}]}' \
    "$config" "$diff_id" >"$work/config.json"
  local config_digest config_size
  config_digest=sha256:$(_sha "$work/config.json")
  config_size=$(stat -c %s "$work/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
    "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
  _push_blob "$repo" "$work/layer.tar.gz" "$layer_digest"
  _push_blob "$repo" "$work/config.json" "$config_digest"
  curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "@$work/manifest.json" -o /dev/null "http://$REGISTRY/v2/$repo/manifests/$tag" ||
    die "pushing manifest $REGISTRY/$repo:$tag failed"
  echo "sha256:$(_sha "$work/manifest.json")"
  rm -rf "$work"
}

# image_exists REPO TAG
image_exists() {
  curl -fs -o /dev/null -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REGISTRY/v2/$1/manifests/$2"
}

push_pause_image() {
  image_exists gantry/pause "$PAUSE_TAG" && { info "pause image present"; return 0; }
  local root
  root=$(mktemp -d)
  install -m 0755 "$BIN/pause" "$root/pause"
  info "pushed $PAUSE_IMAGE@$(oci_push_dir gantry/pause "$PAUSE_TAG" "$root" '{"Entrypoint":["/pause"],"User":"65535:65535"}')"
  rm -rf "$root"
}

# The Node.js base image: the machine's node binary and the shared libraries
# it links, CA certificates, and a non-root user (65532, "nonroot").
push_node_base_image() {
  local tag=${NODE_BASE_IMAGE##*:}
  image_exists gantry/node-base "$tag" && { info "node base image present"; return 0; }
  local node_bin root lib
  node_bin=$(readlink -f "$(command -v node)")
  root=$(mktemp -d)
  mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/app" "$root/home/nonroot"
  chmod 1777 "$root/tmp"
  cp "$node_bin" "$root/usr/local/bin/node"
  # Each library ldd names, copied at the path the loader asks for (following symlinks).
  for lib in $(ldd "$node_bin" | awk '/=>/ {print $3} /^\t\// {print $1}'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
  local v
  v=$(node --version | tr -d v)
  local config
  config=$(printf '{"Entrypoint":["/usr/local/bin/node"],"User":"65532:65532","WorkingDir":"/app","Env":["PATH=/usr/local/bin:/usr/bin:/bin","NODE_ENV=production","SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt","HOME=/home/nonroot"],"Labels":{"org.opencontainers.image.title":"gantry node-base","org.opencontainers.image.version":"%s","org.opencontainers.image.description":"Node.js runtime built from the host node binary and its shared libraries"}}' "$v")
  info "pushed $NODE_BASE_IMAGE@$(oci_push_dir gantry/node-base "$tag" "$root" "$config")"
  rm -rf "$root"
}
