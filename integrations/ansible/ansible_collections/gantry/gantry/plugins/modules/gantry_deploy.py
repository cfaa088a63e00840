#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Gantry contributors
# Apache License 2.0 (see the repository's LICENSE)

from __future__ import annotations

DOCUMENTATION = r'''
module: gantry_deploy
short_description: Deploy a service with Gantry, only when something would change
description:
  - Runs C(gantry diff) first. When nothing would change (exit 0) nothing is run and
    the task is C(ok); when something would (exit 7) it runs C(gantry deploy) and the
    task is C(changed).
  - C(gantry deploy) applies the spec's objects, waits for the rollout and, when the
    rollout fails, returns the service to its last good release (the task fails with
    exit code 4).
  - Check mode runs only C(gantry diff). Diff mode returns what would change, object by
    object and field by field (Secret values shown only as C((hidden))).
version_added: 0.1.0
author: Gantry contributors
extends_documentation_fragment:
  - gantry.gantry.gantry
  - gantry.gantry.gantry.timeout
options:
  state:
    description: C(deployed) is the only state.
    type: str
    choices: [deployed]
    default: deployed
  image:
    description: Image to run instead of the spec's (C(--image)), by tag or digest.
    type: str
  version_label:
    description: Value of the C(app.kubernetes.io/version) label (C(--version-label)).
    type: str
  rollback:
    description:
      - Return to the last good release when the rollout fails. C(false) passes
        C(--no-rollback) and leaves the failed release in place.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
'''

EXAMPLES = r'''
- name: Ship user-service 1.2.0
  gantry.gantry.gantry_deploy:
    spec: deploy/user-service/gantry.yaml
    image: 127.0.0.1:5000/gantry/user-service:1.2.0
    timeout: 3m
    env:
      USER_SERVICE_DATABASE_URL: "{{ vault_user_service_database_url }}"
'''

RETURN = r'''
gantry:
  description: What C(gantry -o json deploy) printed (ok, revision, status, message, rollout, timings). Absent when nothing was run.
  returned: when the deploy ran
  type: dict
gantry_diff:
  description: What C(gantry -o json diff) printed (objects with action and changes, and the count that would change).
  returned: always
  type: dict
revision:
  description: The revision the deploy recorded.
  returned: when the deploy ran
  type: int
cmd:
  description: The gantry command that changed the service.
  returned: when the deploy ran
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gantry.gantry.plugins.module_utils.gantry import (
    EXIT_DEPLOY_FAILED, Gantry, GantryError, ansible_diff, common_argument_spec,
    lock_timeout_argument_spec)


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(lock_timeout_argument_spec())
    argument_spec.update(
        state=dict(type='str', choices=['deployed'], default='deployed'),
        image=dict(type='str'),
        version_label=dict(type='str'),
        rollback=dict(type='bool', default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    g = Gantry(module)
    result = dict(changed=False)
    try:
        changed, plan = g.plan(image=p['image'], version=p['version_label'])
        result.update(changed=changed, gantry_diff=plan)
        if module._diff:
            result['diff'] = ansible_diff(plan)
        if not changed:
            module.exit_json(msg='no changes: the service is as the deploy would leave it', **result)
        if module.check_mode:
            module.exit_json(msg='%d objects would change' % plan.get('changed', 0), **result)
        args = g.with_spec('deploy')
        for flag, key in (('--image', 'image'), ('--version-label', 'version_label')):
            if p[key]:
                args += [flag, p[key]]
        args += g.rollout_flags(p)
        if not p['rollback']:
            args.append('--no-rollback')
        _, data, _ = g.run(args)
        result.update(gantry=data, revision=data.get('revision'), cmd=g.base + args,
                      msg='revision %s deployed: %s' % (data.get('revision'), data.get('message')))
    except GantryError as e:
        # Exit 4: the release was applied and the service returned to its last good one.
        module.fail_json(msg=e.msg, **dict(result, changed=e.result['rc'] == EXIT_DEPLOY_FAILED,
                                           **e.result))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
