# -*- coding: utf-8 -*-
# Copyright: Gantry contributors
# Apache License 2.0 (see the repository's LICENSE)
"""Options every gantry.gantry module shares."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r'''
options:
  spec:
    description:
      - The service's C(gantry.yaml) (C(gantry -f)). Its name and namespace say which
        service; deploy and config sync also read its config and secret sources.
    type: path
    required: true
    aliases: [file]
  gantry_bin:
    description:
      - The gantry CLI to run, a path or a command name looked up in C(PATH).
      - A C(.js) file that is not executable is run with C(node).
      - Default is C(gantry) from C(PATH).
    type: str
  kubeconfig:
    description:
      - Kubeconfig file (C(gantry --kubeconfig)). Default is C($KUBECONFIG), then
        C(~/.kube/config), as the CLI decides.
    type: path
  context:
    description: Kubeconfig context to use (C(gantry --context)).
    type: str
  env:
    description:
      - Environment variables for the gantry process, for example the variables the
        spec's C(secrets) name with C(fromEnv).
      - Never logged (C(no_log)); values that appear in Gantry's output are masked.
      - The task's own C(environment) keyword works as well.
    type: dict
    default: {}
notes:
  - Runs on the host that reaches the cluster (usually C(localhost) with
    C(ansible_connection=local)); needs the gantry CLI and Node.js there.
  - Python 3 standard library only.
'''

    TIMEOUT = r'''
options:
  timeout:
    description: How long the rollout may take, a Gantry duration such as C(90s) or C(5m) (C(--timeout)).
    type: str
  lock_wait:
    description:
      - When another gantry holds the service's lock, wait up to this long for it
        (C(--wait DURATION)) instead of failing with exit code 5.
    type: str
'''
