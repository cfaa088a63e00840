#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Gantry contributors
# Apache License 2.0 (see the repository's LICENSE)

from __future__ import annotations

DOCUMENTATION = r'''
module: gantry_config_sync
short_description: Push a spec's config and secrets to the running service
description:
  - The configuration-sync operation. Keeps the image (and version label) of the
    release the cluster runs and applies the spec's config and secrets to it, rolling
    the pods when a ConfigMap or Secret changed (C(gantry config sync)).
  - Runs C(gantry diff --image CURRENT) first. When nothing would change the sync is not
    run (it would record an identical revision) and the task is C(ok); otherwise it is
    run and the task is C(changed).
  - Check mode runs only the diff. Diff mode returns the config and secret changes
    per object (Secret values shown only as C((hidden))).
version_added: 0.1.0
author: Gantry contributors
extends_documentation_fragment:
  - gantry.gantry.gantry
  - gantry.gantry.gantry.timeout
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
'''

EXAMPLES = r'''
- name: Sync user-service's configuration
  gantry.gantry.gantry_config_sync:
    spec: deploy/user-service/gantry.yaml
    env:
      USER_SERVICE_DATABASE_URL: "{{ vault_user_service_database_url }}"
'''

RETURN = r'''
gantry:
  description: What C(gantry -o json config sync) printed (ok, revision, status, message, rollout, timings).
  returned: when the sync ran
  type: dict
gantry_diff:
  description: What C(gantry -o json diff --image CURRENT) printed.
  returned: always
  type: dict
revision:
  description: The revision the sync recorded.
  returned: when the sync ran
  type: int
image:
  description: The image of the running release, which the sync keeps.
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gantry.gantry.plugins.module_utils.gantry import (
    EXIT_DEPLOY_FAILED, Gantry, GantryError, ansible_diff, common_argument_spec, current,
    lock_timeout_argument_spec)


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(lock_timeout_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    g = Gantry(module)
    result = dict(changed=False)
    try:
        running = current(g.history())
        if not running:
            module.fail_json(msg='the service of %s has no deployed release to sync '
                                 '(deploy it first)' % p['spec'], rc=2)
        result['image'] = running.get('image')
        changed, plan = g.plan(image=running.get('image'), version=running.get('version'))
        result.update(changed=changed, gantry_diff=plan)
        if module._diff:
            result['diff'] = ansible_diff(plan)
        if not changed:
            module.exit_json(msg='no changes: the running service has this configuration',
                             **result)
        if module.check_mode:
            module.exit_json(msg='%d objects would change' % plan.get('changed', 0), **result)
        args = g.with_spec('config', 'sync')
        args += g.rollout_flags(p)
        _, data, _ = g.run(args)
        result.update(gantry=data, revision=data.get('revision'), cmd=g.base + args,
                      msg='configuration synced as revision %s: %s'
                          % (data.get('revision'), data.get('message')))
    except GantryError as e:
        module.fail_json(msg=e.msg, **dict(result, changed=e.result['rc'] == EXIT_DEPLOY_FAILED,
                                           **e.result))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
