// gantry diff on the real local cluster: creates, field changes, prunes, other field
// managers' fields left alone, Secret values never shown, exit codes 0 and 7.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, kubectl, run } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { clusterSuite } from '../../../../hack/cluster/test/suite.js';
import { runGantry } from '../gantry-cli.js';
import type { CliResult } from '../gantry-cli.js';
import type { DiffResult } from '../../src/release/diff.js';

let env: ClusterEnv;
let work: string;
let image: string;
const suite = clusterSuite('gantry-diff', {
  echoTags: ['1', '2'],
  setup: (s) => void ({ env, work, image } = s),
});
const { skip, ns } = suite;
const TOKEN = 'diff-secret-value-1';

function gantry(args: string[], token = TOKEN): CliResult {
  return runGantry(args, { ...env, ECHO_TOKEN: token }, 120_000);
}

function writeSpec(fields: { tag?: string; greeting?: string; config?: boolean }): string {
  const file = join(work, 'gantry.yaml');
  writeFileSync(
    file,
    `apiVersion: gantry.dev/v1alpha1
name: echo
namespace: ${ns}
image: ${fields.tag ? `${image.split('@')[0]}:${fields.tag}` : image}
replicas: 1
${fields.config === false ? '' : `config: { GREETING: ${fields.greeting ?? 'hello'} }\n`}secrets: { TOKEN: { fromEnv: ECHO_TOKEN } }
probes:
  readiness: { path: /healthz, periodSeconds: 1 }
terminationGracePeriodSeconds: 5
`,
  );
  return file;
}

const json = (r: CliResult) => JSON.parse(r.stdout) as DiffResult;
const byObject = (d: DiffResult, kind: string) => d.objects.find((o) => o.kind === kind);

test('diff of a service not deployed yet: every object is created (exit 7)', { skip }, () => {
  const file = writeSpec({});
  const text = gantry(['diff', '-f', file]);
  assert.equal(text.status, 7, text.stderr);
  assert.match(text.stdout, /^\+ Deployment gantry-diff-\S+\/echo: create$/m);
  assert.match(text.stdout, /^\+ Secret \S+: create\n {4}\+ data\.TOKEN: \(hidden\)$/m);
  assert.ok(!text.stdout.includes(TOKEN) && !text.stderr.includes(TOKEN), 'secret value shown');
  // Nothing was created by the diff.
  const ns404 = run('kubectl', ['get', 'namespace', ns], env);
  assert.notEqual(ns404.status, 0, 'diff created the namespace');
});

test(
  'after a deploy: no changes (exit 0); then image, config and secret changes field by field',
  { skip, timeout: 180_000 },
  async () => {
    const file = writeSpec({});
    const d = gantry(['deploy', '-f', file, '--timeout', '90s']);
    assert.equal(d.status, 0, d.stdout + d.stderr);
    const same = gantry(['diff', '-f', file]);
    assert.equal(same.status, 0, same.stdout + same.stderr);
    assert.match(same.stdout, /^no changes: all \d+ objects are as deploy would leave them$/m);

    // A field another manager owns is not something deploy would change.
    kubectl(env, ['-n', ns, 'annotate', 'deployment', 'echo', 'team.example/owner=payments']);
    assert.equal(gantry(['diff', '-f', file]).status, 0);
    // Nor is a restart's annotation: restart replaces the pods and deploy stays a no-op.
    const podsOf = () =>
      kubectl(env, ['-n', ns, 'get', 'pods', '-o', 'jsonpath={.items[*].metadata.uid}'])
        .split(' ')
        .filter((uid) => uid !== '');
    const before = podsOf();
    const restarted = gantry(['restart', '-f', file, '--timeout', '60s']);
    assert.equal(restarted.status, 0, restarted.stdout + restarted.stderr);
    // The rollout is complete; an old pod may still be terminating for a moment.
    await eventually('the old pods gone', 30_000, () =>
      podsOf().some((uid) => before.includes(uid)) ? undefined : true,
    );
    assert.ok(podsOf().length > 0);
    assert.equal(gantry(['diff', '-f', file]).status, 0);

    writeSpec({ tag: '2', greeting: 'bye' });
    const changed = gantry(['-o', 'json', 'diff', '-f', file], 'diff-secret-value-2');
    assert.equal(changed.status, 7, changed.stderr);
    assert.ok(!changed.stdout.includes('diff-secret-value'), 'secret value shown');
    const r = json(changed);
    const dep = byObject(r, 'Deployment');
    assert.equal(dep?.action, 'update');
    const img = dep?.changes.find((c) => c.path === 'spec.template.spec.containers[echo].image');
    assert.ok(img, JSON.stringify(dep?.changes));
    assert.equal(img.before, image);
    assert.match(String(img.after), /echo:2$/);
    const cm = byObject(r, 'ConfigMap');
    assert.deepEqual(
      cm?.changes.find((c) => c.path === 'data.GREETING'),
      { path: 'data.GREETING', before: 'hello', after: 'bye' },
    );
    assert.deepEqual(byObject(r, 'Secret')?.changes, [
      { path: 'data.TOKEN', before: '(hidden)', after: '(hidden)' },
    ]);
    assert.equal(byObject(r, 'Service')?.action, 'unchanged');
    // The live objects are as they were.
    const live = JSON.parse(
      kubectl(env, ['-n', ns, 'get', 'deployment', 'echo', '-o', 'json']),
    ) as {
      spec: { template: { spec: { containers: { image: string }[] } } };
    };
    assert.equal(live.spec.template.spec.containers[0]!.image, image);
  },
);

test(
  'an object the running release has and the new spec lacks is listed as deleted',
  { skip },
  () => {
    const file = writeSpec({ config: false });
    const r = gantry(['diff', '-f', file]);
    assert.equal(r.status, 7, r.stderr);
    assert.match(r.stdout, /^- ConfigMap \S+: delete$/m);
  },
);

test('an invalid spec is refused with exit 3 before the cluster is asked', { skip }, () => {
  const file = join(work, 'bad.yaml');
  writeFileSync(
    file,
    `apiVersion: gantry.dev/v1alpha1\nname: echo\nnamespace: ${ns}\nimage: x\nreplicas: many\n`,
  );
  const r = gantry(['diff', '-f', file]);
  assert.equal(r.status, 3, r.stdout + r.stderr);
  assert.match(r.stderr, /bad\.yaml:5:\d+: replicas/);
});
