#!/usr/bin/env bash
# Installs the Debian packages Gantry's tests, benchmarks and local cluster use.
# Idempotent and quiet when everything is present.
set -euo pipefail
want=(postgresql containerd runc containernetworking-plugins prometheus
  prometheus-alertmanager docker-registry iptables conntrack socat openssl curl iproute2 wrk
  apache2-utils bc mtail
  zsh fish # shell completion tests drive the real shells
  stress-ng fio ipset dnsmasq util-linux) # chaos helper image: copied from the host with their libraries
want+=(chromium) # gantry console's tests: playwright-core drives Debian's Chromium
want+=(python3-venv) # the Ansible integration test installs ansible-core into a venv
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "Debian packages present"
  exit 0
fi
[[ $(id -u) == 0 ]] || { echo "deps.sh: need root to install: ${missing[*]}" >&2; exit 1; }
echo "installing Debian packages: ${missing[*]}"
# Package scripts would start system-wide daemons; Gantry runs its own.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
