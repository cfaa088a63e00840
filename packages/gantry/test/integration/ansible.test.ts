// The gantry.gantry Ansible collection (integrations/ansible) run by the real
// ansible-playbook (ansible-core from PyPI, installed by integrations/ansible/hack/install.sh
// into a cache venv) against the local cluster, on user-service in its own namespace:
// deploy and its idempotence, check mode that changes nothing, diff mode, and the seed's
// playbooks (config sync, one-click rollback, restart) reporting `changed` truthfully,
// with no secret value in any output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubectl, run } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { clusterSuite } from '../../../../hack/cluster/test/suite.js';
import { gantryBin, runGantry } from '../gantry-cli.js';

const ansibleDir = fileURLToPath(new URL('../../../../integrations/ansible', import.meta.url));
// Secret values the spec reads from the environment: none may appear in any output.
const TOKENS = ['ansible-secret-value-1', 'ansible-secret-value-2'];
/** The secret: a SQLite file in the pod's /tmp whose name is the token. */
const databaseUrl = (token: string) => `sqlite:/tmp/${token}.db`;
const serviceDir = fileURLToPath(new URL('../../../../services/user-service', import.meta.url));
let env: ClusterEnv;
let work: string;
let image: string;
let venvBin: string;
let spec: string;
let step = 0;
/** Everything ansible-playbook printed and every result it wrote, for the secret check. */
const outputs: string[] = [];
const suite = clusterSuite('gantry-ansible', {
  setupTimeoutMs: 600_000,
  setup: (s) => {
    ({ env, work, image } = s);
    mkdirSync(join(work, 'ansible-home'));
    spec = join(work, 'gantry.yaml');
    // ansible-core into its cache venv (once per machine; a minute the first time).
    const install = run('bash', [join(ansibleDir, 'hack', 'install.sh')], env);
    assert.equal(install.status, 0, `install.sh failed:\n${install.stderr}`);
    venvBin = install.stdout.trim().split('\n').pop()!;
    // user-service built by gantry from services/user-service (the layers are cached).
    image = `${env.GANTRY_REGISTRY}/gantry-it/ansible-users`;
    writeSpec('info');
    const built = runGantry(['build', '-f', spec, '-o', 'json'], env, 600_000);
    assert.equal(built.status, 0, built.stderr);
    image = `${image}@${(JSON.parse(built.stdout) as { digest: string }).digest}`;
    writeSpec('info');
  },
});
const { skip, ns } = suite;

/** What a gantry.gantry module returned (the registered result). */
interface ModuleResult {
  changed: boolean;
  failed?: boolean;
  msg: string;
  rc?: number;
  revision?: number | null;
  healthy?: boolean;
  diff?: { before_header?: string; after_header?: string; before: unknown; after: unknown }[];
  gantry?: Record<string, unknown> | null;
  gantry_diff?: { changed: number; objects: { object: string; action: string }[] };
  target?: { revision: number };
  history?: { revisions: { revision: number; status: string }[] };
}

interface Play {
  status: number | null;
  stdout: string;
  result: Record<string, ModuleResult>;
}

function writeSpec(logLevel: string): void {
  writeFileSync(
    spec,
    `apiVersion: gantry.dev/v1alpha1
name: user-service
namespace: ${ns}
image: ${image}
build: { kind: node, context: ${serviceDir} }
replicas: 1
ports: [{ name: http, containerPort: 8080, servicePort: 80 }]
env: { CONFIG_DIR: /etc/app/config, SECRETS_DIR: /etc/app/secrets, SHUTDOWN_DRAIN_DELAY_MS: '0' }
config: { LOG_LEVEL: ${logLevel} }
secrets: { DATABASE_URL: { fromEnv: USERS_DATABASE_URL } }
resources: { requests: { cpu: 20m, memory: 64Mi }, limits: { memory: 256Mi } }
probes:
  readiness: { path: /readyz, periodSeconds: 1 }
terminationGracePeriodSeconds: 5
`,
  );
}

/**
 * Runs a playbook with `-v` (so every result is printed too) and reads the results it
 * registered from `result_file`. `token` names the SQLite file in DATABASE_URL (the secret).
 */
function playbook(
  file: string,
  opts: { vars?: Record<string, unknown>; flags?: string[]; token?: string } = {},
): Play {
  const resultFile = join(work, `result-${++step}.json`);
  const vars = { spec, gantry_bin: gantryBin, result_file: resultFile, ...opts.vars };
  const r = spawnSync(
    join(venvBin, 'ansible-playbook'),
    ['-v', '-e', JSON.stringify(vars), ...(opts.flags ?? []), file],
    {
      encoding: 'utf8',
      cwd: work,
      timeout: 180_000,
      env: {
        ...process.env,
        ...env,
        PATH: `${venvBin}:${env.PATH}`,
        // The collection's own ansible.cfg: collections path and the localhost inventory.
        ANSIBLE_CONFIG: join(ansibleDir, 'ansible.cfg'),
        ANSIBLE_HOME: join(work, 'ansible-home'),
        ANSIBLE_LOCAL_TEMP: join(work, 'ansible-tmp'),
        ANSIBLE_REMOTE_TEMP: join(work, 'ansible-tmp'),
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_DEPRECATION_WARNINGS: '0',
        USERS_DATABASE_URL: databaseUrl(opts.token ?? TOKENS[0]!),
      },
    },
  );
  const stdout = `${r.stdout}\n${r.stderr}`;
  outputs.push(stdout);
  let result: Record<string, ModuleResult> = {};
  try {
    const text = readFileSync(resultFile, 'utf8');
    outputs.push(text);
    result = JSON.parse(text) as Record<string, ModuleResult>;
  } catch {
    // A play that failed before its last task wrote nothing; the status tells.
  }
  return { status: r.status, stdout, result };
}

/** A playbook of one gantry.gantry module task, its result registered as "task". */
function moduleTask(module: string, args: Record<string, unknown>): string {
  const file = join(work, `${module}-${step + 1}.yml`);
  writeFileSync(
    file,
    `- hosts: localhost
  gather_facts: false
  tasks:
    - gantry.gantry.${module}:
        spec: '{{ spec }}'
        gantry_bin: '{{ gantry_bin }}'
${Object.entries(args)
  .map(([k, v]) => `        ${k}: ${JSON.stringify(v)}`)
  .join('\n')}
      register: task
      ignore_errors: true
    - ansible.builtin.copy:
        content: '{{ {"task": task} | to_nice_json }}'
        dest: '{{ result_file }}'
      check_mode: false
      diff: false
`,
  );
  return file;
}

const example = (name: string) => join(ansibleDir, 'playbooks', name);

function liveLogLevel(): string {
  return kubectl(env, [
    '-n',
    ns,
    'get',
    'configmap',
    'user-service-config',
    '-o',
    'jsonpath={.data.LOG_LEVEL}',
  ]);
}

function revisions(): number {
  return kubectl(env, [
    '-n',
    ns,
    'get',
    'secrets',
    '-l',
    'gantry.dev/release-of=user-service',
    '-o',
    'name',
  ])
    .split('\n')
    .filter(Boolean).length;
}

/** Names of the Running pods not being deleted. */
function runningPods(): string[] {
  const pods = JSON.parse(kubectl(env, ['-n', ns, 'get', 'pods', '-o', 'json'])) as {
    items: { metadata: { name: string; deletionTimestamp?: string }; status: { phase: string } }[];
  };
  return pods.items
    .filter((p) => !p.metadata.deletionTimestamp && p.status.phase === 'Running')
    .map((p) => p.metadata.name)
    .sort();
}

test(
  'gantry_deploy: changed on the first run, ok on the second',
  { skip, timeout: 240_000 },
  () => {
    const first = playbook(
      moduleTask('gantry_deploy', { env: { USERS_DATABASE_URL: databaseUrl(TOKENS[0]!) } }),
    );
    assert.equal(first.status, 0, first.stdout);
    const t = first.result.task!;
    assert.equal(t.changed, true, t.msg);
    assert.equal(t.revision, 1);
    assert.equal(t.gantry?.ok, true);
    assert.equal(
      t.gantry_diff?.objects.find((o) => o.object.startsWith('Deployment'))?.action,
      'create',
    );
    assert.match(first.stdout, /changed: \[localhost\]/);
    assert.equal(liveLogLevel(), 'info');

    const again = playbook(
      moduleTask('gantry_deploy', { env: { USERS_DATABASE_URL: databaseUrl(TOKENS[0]!) } }),
    );
    assert.equal(again.status, 0, again.stdout);
    assert.equal(again.result.task!.changed, false, again.result.task!.msg);
    assert.equal(again.result.task!.gantry_diff?.changed, 0);
    assert.equal(again.result.task!.gantry, undefined, 'deploy ran although nothing changed');
    assert.equal(revisions(), 1);
  },
);

test('check mode with diff: a config change is reported, nothing is changed', { skip }, () => {
  writeSpec('warn');
  const r = playbook(
    moduleTask('gantry_deploy', { env: { USERS_DATABASE_URL: databaseUrl(TOKENS[1]!) } }),
    {
      flags: ['--check', '--diff'],
    },
  );
  assert.equal(r.status, 0, r.stdout);
  const t = r.result.task!;
  assert.equal(t.changed, true, t.msg);
  const cm = t.diff?.find((d) => d.before_header === `ConfigMap ${ns}/user-service-config (live)`);
  assert.deepEqual([cm?.before, cm?.after], ['data.LOG_LEVEL: info\n', 'data.LOG_LEVEL: warn\n']);
  const secret = t.diff?.find(
    (d) => d.before_header === `Secret ${ns}/user-service-secrets (live)`,
  );
  assert.deepEqual(secret?.after, 'data.DATABASE_URL: (hidden, changed)\n');
  // The default callback printed the diff.
  assert.match(r.stdout, /^-data\.LOG_LEVEL: info$/m);
  assert.match(r.stdout, /^\+data\.LOG_LEVEL: warn$/m);
  assert.equal(liveLogLevel(), 'info');
  assert.equal(revisions(), 1);
});

test(
  'config-sync.yml: changed, the new config is live; a second run is ok',
  { skip, timeout: 240_000 },
  () => {
    const r = playbook(example('config-sync.yml'), { token: TOKENS[1] });
    assert.equal(r.status, 0, r.stdout);
    assert.equal(r.result.sync!.changed, true, r.result.sync!.msg);
    assert.equal(r.result.sync!.revision, 2);
    assert.equal(liveLogLevel(), 'warn');

    const again = playbook(example('config-sync.yml'), { token: TOKENS[1] });
    assert.equal(again.status, 0, again.stdout);
    assert.equal(again.result.sync!.changed, false, again.result.sync!.msg);
    assert.equal(revisions(), 2);
  },
);

test(
  'rollback.yml: back to the previous revision (changed), then to it by number (ok)',
  { skip, timeout: 240_000 },
  () => {
    const check = playbook(example('rollback.yml'), { flags: ['--check'], token: TOKENS[1] });
    assert.equal(check.status, 0, check.stdout);
    assert.equal(check.result.rollback!.changed, true);
    assert.equal(check.result.rollback!.target?.revision, 1);
    assert.equal(revisions(), 2, 'check mode rolled back');

    const r = playbook(example('rollback.yml'), { token: TOKENS[1] });
    assert.equal(r.status, 0, r.stdout);
    assert.equal(r.result.rollback!.changed, true, r.result.rollback!.msg);
    assert.equal(r.result.rollback!.target?.revision, 1);
    assert.equal(r.result.rollback!.revision, 3);
    assert.equal(r.result.status!.revision, 3);
    assert.equal(r.result.status!.healthy, true);
    assert.equal(liveLogLevel(), 'info');

    const again = playbook(example('rollback.yml'), { vars: { revision: 1 }, token: TOKENS[1] });
    assert.equal(again.status, 0, again.stdout);
    assert.equal(again.result.rollback!.changed, false, again.result.rollback!.msg);
    assert.equal(revisions(), 3);
  },
);

test('restart.yml: changed, every pod replaced', { skip, timeout: 240_000 }, () => {
  const old = runningPods();
  assert.equal(old.length, 1, old.join(' '));
  const check = playbook(example('restart.yml'), { flags: ['--check'] });
  assert.equal(check.status, 0, check.stdout);
  assert.equal(check.result.restart!.changed, true);
  assert.deepEqual(runningPods(), old, 'check mode restarted pods');

  const r = playbook(example('restart.yml'));
  assert.equal(r.status, 0, r.stdout);
  assert.equal(r.result.restart!.changed, true, r.result.restart!.msg);
  assert.equal(r.result.restart!.gantry?.ok, true);
  assert.equal(r.result.status!.healthy, true);
  const now = runningPods();
  assert.equal(
    now.filter((p) => old.includes(p)).length,
    0,
    `old pods ${old.join(' ')}; now ${now.join(' ')}`,
  );
});

test('gantry_status: the running revision, never changed', { skip }, () => {
  const r = playbook(moduleTask('gantry_status', {}), { flags: ['--check'] });
  assert.equal(r.status, 0, r.stdout);
  const t = r.result.task!;
  assert.equal(t.changed, false);
  assert.equal(t.revision, 3);
  assert.equal(t.healthy, true);
  assert.deepEqual(
    t.history?.revisions.map((x) => [x.revision, x.status]),
    [
      [3, 'deployed'],
      [2, 'superseded'],
      [1, 'superseded'],
    ],
  );
});

test("Gantry's errors fail the task with its message and exit code", { skip }, () => {
  // Another gantry (on another machine) holds the service's lock: exit 5, after lock_wait.
  const now = new Date().toISOString().replace(/\.\d+Z$/, '.000000Z');
  kubectl(
    env,
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'gantry-lock-user-service', namespace: ns },
      spec: {
        holderIdentity: 'ops@elsewhere pid 4242',
        leaseDurationSeconds: 300,
        acquireTime: now,
        renewTime: now,
      },
    }),
  );
  const locked = playbook(moduleTask('gantry_restart', { lock_wait: '1s' }));
  kubectl(env, ['-n', ns, 'delete', 'lease', 'gantry-lock-user-service']);
  const l = locked.result.task!;
  assert.equal(l.failed, true, locked.stdout);
  assert.equal(l.rc, 5);
  assert.match(l.msg, /^gantry restart failed with exit 5 \(locked.*\): locked by ops@elsewhere/);

  writeFileSync(spec, readFileSync(spec, 'utf8').replace('replicas: 1', 'replicas: many'));
  const r = playbook(moduleTask('gantry_deploy', {}));
  assert.equal(r.status, 0, r.stdout); // ignore_errors: the result is still written
  const t = r.result.task!;
  assert.equal(t.failed, true);
  assert.equal(t.rc, 3);
  assert.match(t.msg, /^gantry diff failed with exit 3 \(invalid input.*\): .*replicas/s);
});

test('no secret value in any output', { skip }, () => {
  assert.ok(outputs.length > 10, `only ${outputs.length} outputs`);
  for (const out of outputs) {
    for (const token of TOKENS) assert.ok(!out.includes(token), `secret value shown:\n${out}`);
  }
});
