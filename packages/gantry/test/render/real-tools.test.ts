// Rendered YAML as the real tools read it: kubectl decodes `gantry render`
// output (and `helm template` output of `gantry chart`) into exactly the
// objects Gantry meant, for a spec full of strings YAML 1.1 readers take for
// booleans, nulls, numbers and timestamps (test/render/adversarial.ts); Helm
// lints the chart strictly and renders the same objects as `gantry render`,
// pod template and config hash included.
//
// kubectl is the local cluster's (hack/cluster/cluster env: its bin directory;
// GANTRY_TEST_KUBECTL overrides), used offline (`kubectl label --local`, which
// decodes each object as `kubectl apply` does, into the typed object for
// built-in kinds); the cluster need not be running. Helm is built by
// hack/tools/build-helm.sh. Without kubectl the kubectl checks are skipped
// (they fail in CI).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { prometheusRuleObject, renderAlertRules, rulesYaml } from '../../src/monitor/index.js';
import { renderChart, writeChart } from '../../src/render/chart.js';
import { redactSecrets, renderService } from '../../src/render/index.js';
import type { KubeObject, RenderOptions } from '../../src/render/index.js';
import { parseSpec, resolveSecretValues } from '../../src/spec/index.js';
import type { ServiceSpec } from '../../src/spec/index.js';
import { runGantry } from '../gantry-cli.js';
import { ADVERSARIAL_SPEC, adversarialSpec } from './adversarial.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));

function findKubectl(): string | undefined {
  if (process.env.GANTRY_TEST_KUBECTL) return process.env.GANTRY_TEST_KUBECTL;
  const env = spawnSync(join(repo, 'hack/cluster/cluster'), ['env'], { encoding: 'utf8' });
  const dir = /^export PATH=([^:\n]+):/m.exec(env.stdout ?? '')?.[1];
  const bin = dir && join(dir, 'kubectl');
  return bin && existsSync(bin) ? bin : undefined;
}

const kubectlBin = findKubectl();
const noKubectl = kubectlBin
  ? false
  : "the local cluster's kubectl is not built (hack/cluster/cluster up)";
if (noKubectl && process.env.CI === 'true') throw new Error(noKubectl);

let helm = '';
let work = '';
/** The adversarial spec, written where `gantry render -f` reads it, and its secret values. */
let specFile = '';
const secretEnv = { SECRET_ON: 'no', SECRET_1E3: '1_000' };

before(() => {
  helm = execFileSync('bash', [join(repo, 'hack/tools/build-helm.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 20 * 60_000,
  }).trim();
  assert.ok(existsSync(helm), `build-helm.sh printed ${helm}`);
  work = mkdtempSync(join(tmpdir(), 'gantry-real-yaml-'));
  specFile = join(work, 'gantry.yaml');
  writeFileSync(specFile, ADVERSARIAL_SPEC);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const json = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const key = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** Objects by kind/namespace/name. */
function keyed(objects: readonly KubeObject[]): Map<string, KubeObject> {
  const out = new Map<string, KubeObject>();
  for (const o of objects) {
    assert.ok(!out.has(key(o)), `duplicate ${key(o)}`);
    out.set(key(o), json(o));
  }
  return out;
}

function assertSameObjects(actual: readonly KubeObject[], expected: readonly KubeObject[]): void {
  const a = keyed(actual);
  const e = keyed(expected);
  assert.deepEqual([...a.keys()].sort(), [...e.keys()].sort());
  for (const [k, o] of e) assert.deepEqual(a.get(k), o, k);
}

/** A YAML stream as YAML 1.1 and YAML 1.2 (core) readers read it; both must agree. */
function parseStream(text: string): KubeObject[] {
  const read = (opts: { version: '1.1' } | { schema: 'core' }) =>
    parseAllDocuments(text, opts).flatMap((d) => {
      assert.deepEqual(d.errors, []);
      const o = d.toJS() as KubeObject | null;
      return o === null ? [] : [json(o)];
    });
  const v11 = read({ version: '1.1' });
  assert.deepEqual(read({ schema: 'core' }), v11, 'YAML 1.1 and 1.2 read the same');
  return v11;
}

/** What kubectl decodes a YAML stream into: one object per document. */
function kubectlDecode(text: string): KubeObject[] {
  const mark = 'gantry-test/decoded';
  const r = spawnSync(kubectlBin!, ['label', '--local', '-f', '-', '-o', 'json', `${mark}=yes`], {
    input: text,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `kubectl could not decode:\n${r.stderr}`);
  // kubectl prints one pretty-printed object after another.
  const objects = JSON.parse(`[${r.stdout.replace(/^}\n\{/gm, '},\n{')}]`) as KubeObject[];
  for (const o of objects) {
    const labels = o.metadata.labels!;
    assert.equal(labels[mark], 'yes');
    delete labels[mark];
    if (Object.keys(labels).length === 0) delete o.metadata.labels;
  }
  return objects;
}

/** What `gantry render` prints for the spec file, read as kubectl and YAML readers read it. */
function gantryRender(file: string, env: Record<string, string>, args: string[] = []): string {
  const r = runGantry(['render', '-f', file, ...args], env, 60_000);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** What deploy applies: the spec's secret sources read as deploy reads them, then renderService. */
function deployObjects(
  spec: ServiceSpec,
  baseDir: string,
  env: Record<string, string>,
  opts: RenderOptions = {},
): KubeObject[] {
  return renderService(spec, { ...opts, secretValues: resolveSecretValues(spec, baseDir, env) });
}

function runHelm(args: string[]): string {
  const r = spawnSync(helm, args, { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `helm ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

test(
  'kubectl decodes gantry render output into the objects gantry meant',
  { skip: noKubectl },
  () => {
    const spec = adversarialSpec();
    const text = gantryRender(specFile, secretEnv);
    const meant = redactSecrets(deployObjects(spec, work, secretEnv));
    assertSameObjects(parseStream(text), meant);
    assertSameObjects(kubectlDecode(text), meant);
  },
);

test('kubectl decodes gantry alerts render --format operator output', { skip: noKubectl }, () => {
  const spec = parseSpec(`apiVersion: gantry.dev/v1alpha1
name: "on"
namespace: "no"
image: registry.local/users
metrics: { path: /metrics }
monitoring:
  labels: { team: "no", tier: "1_000", page: "y", since: "2001-12-14", owner: "~" }
`);
  const object = prometheusRuleObject(spec, renderAlertRules(spec)) as KubeObject;
  const text = rulesYaml(object);
  assertSameObjects(parseStream(text), [object]);
  assertSameObjects(kubectlDecode(text), [object]);
});

test('the chart of adversarial values lints strictly and renders what gantry render renders', () => {
  const spec = adversarialSpec();
  const chart = renderChart(spec);
  const dir = join(work, 'chart');
  writeChart(chart, dir);
  const sets = ['--set-string', `secrets.on=${secretEnv.SECRET_ON}`];
  sets.push('--set-string', `secrets.1e3=${secretEnv.SECRET_1E3}`);
  const lint = runHelm(['lint', '--strict', dir, '--namespace', spec.namespace, ...sets]);
  assert.match(lint, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  const text = runHelm(['template', spec.name, dir, '--namespace', spec.namespace, ...sets]);
  const fromHelm = parseStream(text);

  // The objects deploy would apply with these secret values (the chart's default image
  // and version label are the spec's, as chart.renderOptions says).
  const deployed = deployObjects(spec, work, secretEnv, chart.renderOptions);
  assertSameObjects(fromHelm, deployed);
  if (!noKubectl) assertSameObjects(kubectlDecode(text), deployed);

  // And `gantry render` prints the same, but for the Secret's values.
  assert.equal(chart.renderOptions.version, '1_000'); // the image tag
  const rendered = parseStream(gantryRender(specFile, secretEnv, ['--version-label', '1_000']));
  assertSameObjects(redactSecrets(fromHelm), rendered);
});

test('a secret set from a file renders the pod template gantry render and deploy give', () => {
  const specText = `apiVersion: gantry.dev/v1alpha1
name: filed
namespace: shop
image: reg.local/filed:1.0.0
ports: [{ name: http, containerPort: 8080 }]
config: { LOG_LEVEL: "off" }
secrets: { password: { fromFile: password.txt }, token: { fromEnv: FILED_TOKEN } }
`;
  const spec = parseSpec(specText);
  const dir = join(work, 'filed');
  const chart = renderChart(spec);
  writeChart(chart, join(dir, 'chart'));
  // A file with a trailing newline: deploy drops it, and so must the chart under --set-file.
  writeFileSync(join(dir, 'password.txt'), 'hunter2\n');
  writeFileSync(join(dir, 'gantry.yaml'), specText);
  const env = { FILED_TOKEN: 'yes' };
  const fromHelm = parseStream(
    runHelm([
      'template',
      spec.name,
      join(dir, 'chart'),
      '--namespace',
      spec.namespace,
      '--set-file',
      `secrets.password=${join(dir, 'password.txt')}`,
      '--set-string',
      'secrets.token=yes',
    ]),
  );
  const deployed = deployObjects(spec, dir, env, chart.renderOptions);
  assertSameObjects(fromHelm, deployed);
  const secret = fromHelm.find((o) => o.kind === 'Secret')!;
  assert.equal(
    Buffer.from((secret.data as Record<string, string>).password!, 'base64').toString(),
    'hunter2',
  );
  const rendered = parseStream(
    gantryRender(join(dir, 'gantry.yaml'), env, ['--version-label', '1.0.0']),
  );
  assertSameObjects(rendered, redactSecrets(deployed));
});
