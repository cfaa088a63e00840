#!/usr/bin/env bash
# Installs ansible-core (pinned, from PyPI) into a Python virtual environment under a
# cache directory, once, and prints the environment's bin directory. Idempotent: a
# second run with the same pin only prints the path. Used by the Ansible integration
# test (packages/gantry/test/integration/ansible.test.ts) and by people trying the
# collection by hand:
#
#   PATH="$(bash integrations/ansible/hack/install.sh):$PATH" ansible-playbook ...
#
# Environment:
#   GANTRY_ANSIBLE_VENV   where the venv lives (default /var/cache/gantry/ansible-venv,
#                         or ~/.cache/gantry/ansible-venv when /var/cache is not writable)
#   PYTHON                the interpreter to build it with (default python3; 3.11+)
set -euo pipefail

ANSIBLE_CORE_VERSION=2.19.14 # the newest line that still runs on Python 3.11
python=${PYTHON:-python3}

if [[ -n ${GANTRY_ANSIBLE_VENV:-} ]]; then
  venv=$GANTRY_ANSIBLE_VENV
elif mkdir -p /var/cache/gantry 2>/dev/null && [[ -w /var/cache/gantry ]]; then
  venv=/var/cache/gantry/ansible-venv
else
  venv=${XDG_CACHE_HOME:-$HOME/.cache}/gantry/ansible-venv
fi
stamp=$venv/.gantry-installed
want="ansible-core==$ANSIBLE_CORE_VERSION $($python -c 'import sys; print(sys.version.split()[0])')"

if [[ -f $stamp && $(cat "$stamp") == "$want" && -x $venv/bin/ansible-playbook ]]; then
  echo "$venv/bin"
  exit 0
fi

mkdir -p "$(dirname "$venv")"
# One installer at a time (parallel test files, or a person and a test).
exec 9>"$venv.lock"
flock 9
if [[ -f $stamp && $(cat "$stamp") == "$want" && -x $venv/bin/ansible-playbook ]]; then
  echo "$venv/bin"
  exit 0
fi

echo "installing ansible-core $ANSIBLE_CORE_VERSION into $venv" >&2
rm -rf "$venv"
if ! "$python" -m venv "$venv" >&2; then
  # Debian's own python3 keeps venv (ensurepip) in a separate package.
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    rm -rf "$venv"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >&2
    "$python" -m venv "$venv" >&2
  else
    echo "install.sh: '$python -m venv' failed (on Debian: apt-get install python3-venv)" >&2
    exit 1
  fi
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
  "ansible-core==$ANSIBLE_CORE_VERSION" >&2
"$venv/bin/ansible-playbook" --version >/dev/null
echo "$want" >"$stamp"
echo "$venv/bin"
