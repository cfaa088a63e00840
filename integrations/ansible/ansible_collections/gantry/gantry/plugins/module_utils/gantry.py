# -*- coding: utf-8 -*-
# Copyright: Gantry contributors
# Apache License 2.0 (see the repository's LICENSE)
"""Running the gantry CLI from the gantry.gantry modules.

Every module builds a Gantry from its AnsibleModule: the CLI is found from the
gantry_bin option or PATH, runs with -o json (plus --kubeconfig/--context), and its
JSON output becomes the module's result. Non-zero exit codes other than those a call
expects fail the task with Gantry's own message and exit code.
"""

from __future__ import annotations

import json
import os

# gantry --help, "Exit codes".
EXIT_CODES = {
    0: 'success',
    1: 'unexpected failure',
    2: 'bad usage',
    3: 'invalid input (spec, secret source or flag value); nothing was changed',
    4: 'deploy or rollout failed (the service was returned to its last good release)',
    5: 'locked: another gantry is working on this service',
    6: 'the cluster refused the request or could not be reached',
    7: 'gantry diff: the deploy would change something',
}
EXIT_CHANGES = 7
EXIT_DEPLOY_FAILED = 4
# How gantry diff shows a Secret value.
HIDDEN = '(hidden)'


def common_argument_spec():
    """Options every gantry.gantry module takes."""
    return dict(
        spec=dict(type='path', required=True, aliases=['file']),
        gantry_bin=dict(type='str'),
        kubeconfig=dict(type='path'),
        context=dict(type='str'),
        env=dict(type='dict', default={}, no_log=True),
    )


def lock_timeout_argument_spec():
    """Options of the commands that roll pods and take the service's lock."""
    return dict(
        timeout=dict(type='str'),
        lock_wait=dict(type='str'),
    )


class GantryError(Exception):
    def __init__(self, msg, **result):
        super().__init__(msg)
        self.msg = msg
        self.result = result


class Gantry:
    def __init__(self, module):
        self.module = module
        p = module.params
        self.spec = p['spec']
        self.env = {str(k): str(v) for k, v in (p.get('env') or {}).items()}
        self.env.setdefault('NO_COLOR', '1')
        self.base = self._command(p.get('gantry_bin')) + ['-o', 'json']
        if p.get('kubeconfig'):
            self.base += ['--kubeconfig', p['kubeconfig']]
        if p.get('context'):
            self.base += ['--context', p['context']]
        if not os.path.isfile(self.spec):
            module.fail_json(rc=3, msg='spec %s is not a file (one gantry.yaml per task)'
                             % self.spec if os.path.exists(self.spec)
                             else 'spec file %s does not exist' % self.spec)

    def _command(self, gantry_bin):
        if not gantry_bin:
            return [self.module.get_bin_path('gantry', required=True)]
        if os.sep not in gantry_bin:
            return [self.module.get_bin_path(gantry_bin, required=True)]
        path = os.path.abspath(os.path.expanduser(gantry_bin))
        if not os.path.exists(path):
            self.module.fail_json(msg='gantry_bin %s does not exist' % path)
        if path.endswith('.js') and not os.access(path, os.X_OK):
            return [self.module.get_bin_path('node', required=True), path]
        return [path]

    def run(self, args, ok=(0,)):
        """Runs `gantry -o json ARGS`; returns (rc, parsed stdout or None, stderr).

        An exit code outside `ok` raises GantryError with Gantry's message."""
        argv = self.base + list(args)
        rc, out, err = self.module.run_command(argv, environ_update=self.env)
        data = None
        if out.strip():
            try:
                data = json.loads(out)
            except ValueError:
                data = None
        if rc not in ok:
            raise GantryError(
                failure_message(args, rc, data, err),
                rc=rc,
                exit_code=EXIT_CODES.get(rc, 'exit %d' % rc),
                cmd=argv,
                gantry=data,
                stderr=err,
                stdout='' if data is not None else out,
            )
        return rc, data, err

    def with_spec(self, *args):
        return list(args) + ['-f', self.spec]

    @staticmethod
    def rollout_flags(params):
        """--timeout and --wait (the lock) from the options of the same names."""
        flags = []
        if params.get('timeout'):
            flags.append('--timeout=%s' % params['timeout'])
        if params.get('lock_wait'):
            flags.append('--wait=%s' % params['lock_wait'])
        return flags

    def plan(self, image=None, version=None):
        """`gantry diff`: (changed, the diff's JSON)."""
        args = self.with_spec('diff')
        if image:
            args += ['--image', image]
        if version:
            args += ['--version-label', version]
        rc, data, _ = self.run(args, ok=(0, EXIT_CHANGES))
        return rc == EXIT_CHANGES, data

    def history(self):
        _, data, _ = self.run(self.with_spec('history'))
        return data or {'revisions': [], 'releases': []}


def current(history):
    """The revision the cluster runs: the newest "deployed" one (as gantry's own)."""
    for r in history.get('revisions', []):
        if r.get('status') == 'deployed':
            return r
    return None


def failure_message(args, rc, data, err):
    """"gantry COMMAND failed with exit N (meaning): Gantry's own message"."""
    words = []
    for a in args:
        if a.startswith('-'):
            break
        words.append(a)
    lines = err.rstrip().splitlines()
    # Progress lines come first; Gantry's error starts at its last "gantry: " line.
    starts = [i for i, line in enumerate(lines) if line.startswith('gantry: ')]
    if starts:
        detail = '\n'.join(lines[starts[-1]:])[len('gantry: '):]
    elif isinstance(data, dict) and data.get('message'):
        detail = data['message']
        if data.get('rolledBackTo') is not None:
            detail += '; the service is back on revision %s' % data['rolledBackTo']
    elif isinstance(data, dict) and data.get('problems'):
        detail = '; '.join(p.get('message', '') for p in data['problems'][:5])
    else:
        detail = lines[-1] if lines else '(no message)'
    return 'gantry %s failed with exit %d (%s): %s' % (
        ' '.join(words), rc, EXIT_CODES.get(rc, 'unknown exit code'), detail)


def _show(v):
    if isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True)


def ansible_diff(plan):
    """Ansible's diff (a list of before/after texts, one per object that would change)
    from `gantry diff -o json`. Secret values are already hidden by Gantry."""
    out = []
    for o in (plan or {}).get('objects', []):
        action = o.get('action')
        if action == 'unchanged':
            continue
        before, after = [], []
        for c in o.get('changes', []):
            hidden = c.get('before') == HIDDEN and c.get('after') == HIDDEN
            if 'before' in c:
                before.append('%s: %s\n' % (c['path'], _show(c['before'])))
            if 'after' in c:
                # A changed secret value: both sides are "(hidden)"; say it changed.
                after.append('%s: %s\n' % (c['path'], '(hidden, changed)' if hidden
                                             else _show(c['after'])))
        if action == 'create':
            before = []
            after.insert(0, '(created)\n')
        elif action == 'delete':
            before.insert(0, '(exists)\n')
            after = ['(deleted)\n']
        out.append(dict(
            before_header='%s (live)' % o.get('object'),
            after_header='%s (%s)' % (o.get('object'), action),
            before=''.join(before),
            after=''.join(after),
        ))
    return out


def revision_view(r):
    """The fields of a revision a person compares (for diff mode)."""
    if not r:
        return {}
    keys = ('revision', 'image', 'version', 'specDigest', 'rollbackOf')
    view = {k: r[k] for k in keys if r.get(k) is not None}
    if r.get('secretHashes'):
        view['secrets'] = sorted(r['secretHashes'])
    return view


def same_release(a, b):
    """Two revisions that apply the same objects: same spec, image, version and secrets."""
    if not a or not b:
        return False
    keys = ('specDigest', 'image', 'version', 'secretHashes')
    return all(a.get(k) == b.get(k) for k in keys)
