// gantry chart: the exported Helm chart renders, through a real Helm (built
// from the Go module proxy by hack/tools/build-helm.sh, cached), exactly the
// objects renderService renders.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { renderChart, splitImageRef, writeChart } from '../../src/render/chart.js';
import { renderService } from '../../src/render/index.js';
import type { KubeObject, RenderOptions } from '../../src/render/index.js';
import { loadSpecFile, parseSpec } from '../../src/spec/index.js';
import type { ServiceSpec } from '../../src/spec/index.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const seedFile = join(repo, 'deploy/user-service/gantry.yaml');
const bin = join(repo, 'packages/gantry/bin/gantry.js');

// Every optional feature: HPA, PDB, NetworkPolicy, two routes, two ports (one
// on a fixed node port), mounts of a Secret and a ConfigMap made elsewhere,
// startup probe on a port number, labels, and literal "{{" in args (which the
// templates must escape).
const everything = `apiVersion: gantry.dev/v1alpha1
name: shop-api
namespace: shop
labels: { team: payments, tier: "1" }
image: reg.local/shop/api:1.2.3-rc.1+build.7
command: [/bin/api]
args: ['--greeting={{ not a template }}']
ports:
  - { name: http, containerPort: 8080, servicePort: 80, nodePort: 30080 }
  - { name: admin, containerPort: 9000 }
env: { A: b, NUM: '42' }
mounts:
  - { secret: shared-tls, path: /etc/tls, optional: true }
  - { configMap: feature-flags, path: /etc/flags }
config: { feature.flag: 'true', LOG_LEVEL: debug }
secrets: { API_KEY: { fromEnv: KEY }, db-password: { fromFile: /dev/null } }
resources: { requests: { cpu: 0.5, memory: 64Mi }, limits: { cpu: 1, memory: 128Mi } }
probes:
  liveness: { path: /healthz }
  readiness: { path: /readyz, port: http }
  startup: { path: /started, port: 9000, failureThreshold: 30 }
rollingUpdate: { maxSurge: 25%, maxUnavailable: 0 }
autoscaling: { minReplicas: 2, maxReplicas: 7, targetCPUUtilizationPercentage: 60 }
disruptionBudget: { minAvailable: 50% }
service: { type: NodePort }
routes:
  - { hostnames: [api.shop.test], gateway: edge }
  - hostnames: [admin.shop.test]
    gateway: gw/internal
    port: admin
    matches: [{ path: /admin, pathType: Exact }]
metrics: { port: admin, path: /m }
networkPolicy: { allowFrom: [{ namespace: gw }, { podLabels: { app: prober } }] }
`;

let helm = '';
let work = '';

before(() => {
  // Builds Helm on first use (a few minutes cold); later runs print the cached path.
  helm = execFileSync('bash', [join(repo, 'hack/tools/build-helm.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 20 * 60_000,
  }).trim();
  assert.ok(existsSync(helm), `build-helm.sh printed ${helm}`);
  work = mkdtempSync(join(tmpdir(), 'gantry-chart-'));
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function runHelm(args: string[]): string {
  const r = spawnSync(helm, args, { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `helm ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Objects keyed by kind/name, from `helm template` output (comments and empty documents dropped). */
function parseManifests(text: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const doc of parseAllDocuments(text)) {
    assert.deepEqual(doc.errors, []);
    const o = doc.toJS() as KubeObject | null;
    if (o === null) continue;
    const key = `${o.kind}/${o.metadata.name}`;
    assert.ok(!out.has(key), `duplicate ${key}`);
    out.set(key, o);
  }
  return out;
}

function keyed(objects: KubeObject[]): Map<string, unknown> {
  return new Map(objects.map((o) => [`${o.kind}/${o.metadata.name}`, o]));
}

function assertSameObjects(actual: Map<string, unknown>, expected: Map<string, unknown>): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  for (const [key, o] of expected) assert.deepEqual(actual.get(key), o, key);
}

interface Case {
  spec: ServiceSpec;
  dir: string;
  secrets: Record<string, string>;
  opts: RenderOptions;
}

function exportChart(name: string, spec: ServiceSpec): Case {
  const chart = renderChart(spec);
  const dir = join(work, name);
  writeChart(chart, dir);
  const secrets = Object.fromEntries(Object.keys(spec.secrets).map((k) => [k, `${k}-value`]));
  return { spec, dir, secrets, opts: { ...chart.renderOptions, secretValues: secrets } };
}

function template(c: Case, extra: string[] = []): Map<string, unknown> {
  const sets = Object.entries(c.secrets).flatMap(([k, v]) => ['--set', `secrets.${k}=${v}`]);
  return parseManifests(
    runHelm(['template', c.spec.name, c.dir, '--namespace', c.spec.namespace, ...sets, ...extra]),
  );
}

test('helm lint passes on the user-service chart and the full-featured chart', () => {
  for (const [name, spec] of [
    ['lint-seed', loadSpecFile(seedFile)],
    ['lint-all', parseSpec(everything)],
  ] as const) {
    const c = exportChart(name, spec);
    const sets = Object.entries(c.secrets).flatMap(([k, v]) => ['--set', `secrets.${k}=${v}`]);
    const out = runHelm(['lint', '--strict', c.dir, ...sets]);
    assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  }
});

test('the user-service chart renders exactly what renderService renders', () => {
  const c = exportChart('seed', loadSpecFile(seedFile));
  assertSameObjects(template(c), keyed(renderService(c.spec, c.opts)));
});

test('the full-featured chart renders exactly what renderService renders', () => {
  const c = exportChart('all', parseSpec(everything));
  const objects = renderService(c.spec, c.opts);
  assert.deepEqual(
    [...new Set(objects.map((o) => o.kind))],
    [
      'ServiceAccount',
      'ConfigMap',
      'Secret',
      'Deployment',
      'Service',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'NetworkPolicy',
      'HTTPRoute',
    ],
  );
  // The image tag is the appVersion, and the version label follows it.
  assert.equal(c.opts.version, '1.2.3-rc.1+build.7');
  assertSameObjects(template(c), keyed(objects));
});

test('--set replicas and image.tag take effect', () => {
  const c = exportChart('overrides', loadSpecFile(seedFile));
  const got = template(c, ['--set', 'replicas=5', '--set', 'image.tag=2.0.0']);
  const want = renderService(
    { ...c.spec, replicas: 5 },
    { ...c.opts, image: '127.0.0.1:5000/gantry/user-service:2.0.0' },
  );
  assertSameObjects(got, keyed(want));
  const d = got.get('Deployment/user-service') as {
    spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
  };
  assert.equal(d.spec.replicas, 5);
  assert.equal(
    d.spec.template.spec.containers[0]!.image,
    '127.0.0.1:5000/gantry/user-service:2.0.0',
  );
});

test('--set service.nodePorts takes effect; mounts are in the pod template', () => {
  const c = exportChart('nodeports', parseSpec(everything));
  assert.deepEqual((c.spec.ports[0] as { nodePort?: number }).nodePort, 30080);
  const got = template(c, ['--set', 'service.nodePorts.http=31080']);
  const svc = got.get('Service/shop-api') as {
    spec: { ports: { name: string; nodePort?: number }[] };
  };
  assert.deepEqual(
    svc.spec.ports.map((p) => [p.name, p.nodePort]),
    [
      ['http', 31080],
      ['admin', undefined],
    ],
  );
  const d = got.get('Deployment/shop-api') as {
    spec: { template: { spec: { volumes: unknown[]; containers: { volumeMounts: unknown[] }[] } } };
  };
  const pod = d.spec.template.spec;
  assert.deepEqual(pod.volumes.slice(-2), [
    { name: 'mount-0', secret: { secretName: 'shared-tls', defaultMode: 0o440, optional: true } },
    { name: 'mount-1', configMap: { name: 'feature-flags' } },
  ]);
  assert.deepEqual(pod.containers[0]!.volumeMounts.slice(-2), [
    { name: 'mount-0', mountPath: '/etc/tls', readOnly: true },
    { name: 'mount-1', mountPath: '/etc/flags', readOnly: true },
  ]);
});

test('config and secret values set at install roll the pods as gantry does', () => {
  const c = exportChart('config', loadSpecFile(seedFile));
  const got = template(c, [
    '--set',
    'config.LOG_LEVEL=debug',
    '--set',
    'env.EXTRA=yes',
    '--set',
    'secrets.DATABASE_URL=postgres://other',
  ]);
  const spec = {
    ...c.spec,
    config: { ...c.spec.config, LOG_LEVEL: 'debug' },
    env: { ...c.spec.env, EXTRA: 'yes' },
  };
  const want = renderService(spec, {
    ...c.opts,
    secretValues: { DATABASE_URL: 'postgres://other' },
  });
  assertSameObjects(got, keyed(want));
});

test('autoscaling can be switched either way at install', () => {
  const all = exportChart('hpa-off', parseSpec(everything));
  assertSameObjects(
    template(all, ['--set', 'autoscaling.enabled=false', '--set', 'replicas=4']),
    keyed(renderService({ ...all.spec, autoscaling: undefined, replicas: 4 }, all.opts)),
  );
  const seed = exportChart('hpa-on', loadSpecFile(seedFile));
  assertSameObjects(
    template(seed, ['--set', 'autoscaling.enabled=true', '--set', 'autoscaling.maxReplicas=9']),
    keyed(
      renderService(
        {
          ...seed.spec,
          autoscaling: { minReplicas: 3, maxReplicas: 9, targetCPUUtilizationPercentage: 80 },
        },
        seed.opts,
      ),
    ),
  );
});

test('a missing secret value fails the install with a message naming the key', () => {
  const c = exportChart('nosecret', loadSpecFile(seedFile));
  const r = spawnSync(helm, ['template', 'x', c.dir], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /secrets\.DATABASE_URL is required/);
});

test('values.yaml holds no secret values, only an empty map and how to set them', () => {
  const chart = renderChart(loadSpecFile(seedFile));
  const values = chart.files.find((f) => f.path === 'values.yaml')!.content;
  assert.match(values, /^secrets: \{\}$/m);
  assert.match(values, /--set secrets\.DATABASE_URL=VALUE/);
  assert.deepEqual(chart.values.secrets, {});
  const chartYaml = chart.files.find((f) => f.path === 'Chart.yaml')!.content;
  assert.match(chartYaml, /^apiVersion: v2$/m);
  assert.match(chartYaml, /^name: user-service$/m);
  assert.match(chartYaml, /^version: "0\.1\.0"$/m);
  assert.doesNotMatch(chartYaml, /appVersion/); // the seed's image has no tag
});

test('image references split without normalisation', () => {
  assert.deepEqual(splitImageRef('127.0.0.1:5000/gantry/user-service'), {
    repository: '127.0.0.1:5000/gantry/user-service',
    tag: '',
    digest: '',
  });
  assert.deepEqual(splitImageRef('nginx:1.27@sha256:abc'), {
    repository: 'nginx',
    tag: '1.27',
    digest: 'sha256:abc',
  });
});

test('gantry chart writes the chart, refuses a foreign directory, and checks --chart-version', () => {
  const out = join(work, 'cli');
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [bin, 'chart', '-f', seedFile, ...args], { encoding: 'utf8' });
  let r = run('--out', out, '--chart-version', '1.0.0', '--app-version', '3.1.4');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wrote chart user-service 1\.0\.0 \(appVersion 3\.1\.4\)/);
  const chartYaml = readFileSync(join(out, 'Chart.yaml'), 'utf8');
  assert.match(chartYaml, /^appVersion: "3\.1\.4"$/m);
  // An earlier export is replaced; a directory that is not a chart is refused.
  r = run('--out', out);
  assert.equal(r.status, 0, r.stderr);
  const foreign = join(work, 'foreign');
  writeFileSync(join(work, 'placeholder'), '');
  r = run('--out', work);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /not empty and holds no chart/);
  r = run('--out', foreign, '--chart-version', 'v1');
  assert.equal(r.status, 3);
  assert.match(r.stderr, /not SemVer 2/);
});
