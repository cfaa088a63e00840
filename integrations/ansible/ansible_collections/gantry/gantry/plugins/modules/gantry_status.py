#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Gantry contributors
# Apache License 2.0 (see the repository's LICENSE)

from __future__ import annotations

DOCUMENTATION = r'''
module: gantry_status
short_description: The running revision, the Deployment's health and the history of a service
description:
  - Runs C(gantry status) and C(gantry history). Read-only, never C(changed), and the
    same in check mode.
  - An unhealthy service does not fail the task (C(gantry status) exits 4 for it); test
    RV(healthy), for example with C(failed_when).
version_added: 0.1.0
author: Gantry contributors
extends_documentation_fragment:
  - gantry.gantry.gantry
options:
  history:
    description: Also return the recorded revisions and releases (C(gantry history)).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
'''

EXAMPLES = r'''
- name: What runs
  gantry.gantry.gantry_status:
    spec: deploy/user-service/gantry.yaml
  register: user_service

- name: Stop when it is not healthy
  ansible.builtin.assert:
    that: user_service.healthy
'''

RETURN = r'''
gantry:
  description: What C(gantry -o json status) printed (service, namespace, revision, image, latest, deployment, healthy).
  returned: always
  type: dict
revision:
  description: The running revision (null when none is deployed).
  returned: always
  type: int
image:
  description: The running revision's image.
  returned: always
  type: str
healthy:
  description: Whether the Deployment's rollout is done and every replica ready.
  returned: always
  type: bool
history:
  description: What C(gantry -o json history) printed (revisions and releases, newest first).
  returned: when O(history=true)
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gantry.gantry.plugins.module_utils.gantry import (
    EXIT_DEPLOY_FAILED, Gantry, GantryError, common_argument_spec)


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(history=dict(type='bool', default=True))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    g = Gantry(module)
    try:
        # Exit 4 with the status printed: the service is not healthy, which is information.
        rc, data, err = g.run(g.with_spec('status'), ok=(0, EXIT_DEPLOY_FAILED))
        if data is None:
            module.fail_json(msg='gantry status printed no JSON: %s' % err.strip(), rc=rc)
        result = dict(changed=False, gantry=data, revision=data.get('revision'),
                      image=data.get('image'), healthy=bool(data.get('healthy')))
        if module.params['history']:
            result['history'] = g.history()
    except GantryError as e:
        module.fail_json(msg=e.msg, changed=False, **e.result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
