#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Gantry contributors
# Apache License 2.0 (see the repository's LICENSE)

from __future__ import annotations

DOCUMENTATION = r'''
module: gantry_restart
short_description: Restart every pod of a service with a rolling update
description:
  - Runs C(gantry restart), which rolls every pod of the service's Deployment and waits
    for the rollout. A restart is an action, so the task is always C(changed).
  - In check mode nothing is run and the task reports C(changed) (a restart would
    happen).
version_added: 0.1.0
author: Gantry contributors
extends_documentation_fragment:
  - gantry.gantry.gantry
  - gantry.gantry.gantry.timeout
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
'''

EXAMPLES = r'''
- name: Restart user-service
  gantry.gantry.gantry_restart:
    spec: deploy/user-service/gantry.yaml
    timeout: 3m
'''

RETURN = r'''
gantry:
  description: What C(gantry -o json restart) printed (ok, elapsedMs, message).
  returned: when the restart ran
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gantry.gantry.plugins.module_utils.gantry import (
    Gantry, GantryError, common_argument_spec, lock_timeout_argument_spec)


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(lock_timeout_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    g = Gantry(module)
    args = g.with_spec('restart')
    args += g.rollout_flags(module.params)
    if module.check_mode:
        module.exit_json(changed=True, msg='would restart every pod')
    try:
        _, data, _ = g.run(args)
    except GantryError as e:
        # A failed restart has already replaced pods (or tried to).
        module.fail_json(msg=e.msg, **dict(e.result, changed=e.result['rc'] == 4))
    module.exit_json(changed=True, gantry=data, cmd=g.base + args,
                     msg='restarted: %s' % (data or {}).get('message'))


if __name__ == '__main__':
    main()
