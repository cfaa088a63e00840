#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Gantry contributors
# Apache License 2.0 (see the repository's LICENSE)

from __future__ import annotations

DOCUMENTATION = r'''
module: gantry_rollback
short_description: Return a service to an earlier revision (one-click rollback)
description:
  - Runs C(gantry rollback REVISION), which re-applies a recorded revision as a new
    revision and waits for the rollout.
  - The target is O(revision), or without it the revision before the one that runs
    (as C(gantry rollback) chooses it, the newest superseded revision older than it).
  - The task is C(changed) only when the target differs from what runs (a revision
    other than the running one, with another spec, image, version label or secret values, from
    C(gantry history -o json)). A target equal to the running release is not re-applied.
  - Without O(revision) every run goes one revision further back, like the CLI; give
    O(revision) for a run that is idempotent.
  - Check mode reads the history only. Diff mode shows the running and the target
    revision (image, version, spec digest, secret names).
version_added: 0.1.0
author: Gantry contributors
extends_documentation_fragment:
  - gantry.gantry.gantry
  - gantry.gantry.gantry.timeout
options:
  revision:
    description: The revision to return to (C(gantry history) lists them).
    type: int
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
'''

EXAMPLES = r'''
- name: One-click rollback of user-service to the previous release
  gantry.gantry.gantry_rollback:
    spec: deploy/user-service/gantry.yaml

- name: Back to revision 12, idempotently
  gantry.gantry.gantry_rollback:
    spec: deploy/user-service/gantry.yaml
    revision: 12
'''

RETURN = r'''
gantry:
  description: What C(gantry -o json rollback) printed (ok, revision, status, message, rollout).
  returned: when the rollback ran
  type: dict
target:
  description: The revision returned to, as C(gantry history -o json) records it.
  returned: always
  type: dict
previous:
  description: The revision that ran before, as C(gantry history -o json) records it.
  returned: when a revision was deployed
  type: dict
revision:
  description: The new revision the rollback recorded (a copy of the target).
  returned: when the rollback ran
  type: int
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gantry.gantry.plugins.module_utils.gantry import (
    EXIT_DEPLOY_FAILED, Gantry, GantryError, common_argument_spec, current,
    lock_timeout_argument_spec, revision_view, same_release)


def choose_target(revisions, running, revision):
    if revision is not None:
        return next((r for r in revisions if r.get('revision') == revision), None)
    return next((r for r in revisions if r.get('status') == 'superseded'
                 and (running is None or r.get('revision') < running.get('revision'))), None)


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(lock_timeout_argument_spec())
    argument_spec.update(revision=dict(type='int'))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    g = Gantry(module)
    result = dict(changed=False)
    try:
        revisions = g.history().get('revisions', [])
        running = current(dict(revisions=revisions))
        target = choose_target(revisions, running, p['revision'])
        if target is None:
            module.fail_json(
                rc=2,
                msg=('no revision %s of the service of %s' % (p['revision'], p['spec'])
                     if p['revision'] is not None
                     else 'the service of %s has no earlier good revision' % p['spec']))
        result['target'] = target
        if running:
            result['previous'] = running
        same = running is not None and (
            running.get('revision') == target.get('revision') or same_release(running, target))
        result['changed'] = not same
        if module._diff:
            result['diff'] = dict(before_header='running revision',
                                  after_header='revision %s' % target.get('revision'),
                                  before=revision_view(running),
                                  after=revision_view(running) if same else revision_view(target))
        if same:
            module.exit_json(msg='revision %s runs already%s' % (
                running.get('revision'),
                '' if running.get('revision') == target.get('revision')
                else ' (the same release as revision %s)' % target.get('revision')), **result)
        if module.check_mode:
            module.exit_json(msg='would return to revision %s' % target.get('revision'), **result)
        args = g.with_spec('rollback', str(target['revision']))
        args += g.rollout_flags(p)
        _, data, _ = g.run(args)
        result.update(gantry=data, revision=data.get('revision'), cmd=g.base + args,
                      msg='returned to revision %s as revision %s: %s' % (
                          target['revision'], data.get('revision'), data.get('message')))
    except GantryError as e:
        module.fail_json(msg=e.msg, **dict(result, changed=e.result['rc'] == EXIT_DEPLOY_FAILED,
                                           **e.result))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
