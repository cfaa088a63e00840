// The step plan and the canary's objects: pure functions of the spec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec } from '../../src/spec/index.js';
import type { ServiceSpec } from '../../src/spec/index.js';
import { planSteps, trafficFor } from '../../src/progressive/plan.js';
import { canaryRefs, renderCanary } from '../../src/progressive/canary.js';
import { renderService } from '../../src/render/index.js';

function spec(release: string, extra = ''): ServiceSpec {
  return parseSpec(`apiVersion: gantry.dev/v1alpha1
name: shop
namespace: web
image: registry.local/shop:1
replicas: 3
config: { MODE: fast }
secrets: { TOKEN: { fromEnv: TOKEN } }
metrics: { path: /metrics }
routes: [{ hostnames: [shop.local], gateway: gw }]
${extra}
release:
${release
  .trim()
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
`);
}

test('canary: default steps, pauses from minStepDuration, weighted traffic', () => {
  const s = spec('strategy: canary\nanalysis: { minStepDuration: 12s }');
  const steps = planSteps(s.release);
  assert.deepEqual(
    steps.map((x) => [x.weight, x.pauseSeconds, x.gate, x.analyze]),
    [
      [1, 12, 'auto', true],
      [5, 12, 'auto', true],
      [25, 12, 'auto', true],
      [50, 12, 'auto', true],
    ],
  );
  assert.deepEqual(trafficFor(s.release, steps[2]!), { kind: 'weighted', canaryPercent: 25 });
});

test('canary: explicit steps keep their pause and manual gate', () => {
  const s = spec(
    'strategy: canary\nsteps: [{ weight: 10, pause: 1m }, { weight: 60, gate: manual }]',
  );
  const steps = planSteps(s.release);
  assert.deepEqual(
    steps.map((x) => [x.weight, x.pauseSeconds, x.gate]),
    [
      [10, 60, 'auto'],
      [60, 15, 'manual'],
    ],
  );
});

test('gray: user percentages with header, cookie and user hash; without a user header one manual step', () => {
  const s = spec(
    'strategy: gray\ngray: { header: { name: x-beta, value: "1" }, cookie: { name: beta, value: yes }, userHeader: x-user }',
  );
  const steps = planSteps(s.release);
  assert.deepEqual(
    steps.map((x) => x.weight),
    [5, 25, 50],
  );
  assert.deepEqual(trafficFor(s.release, steps[0]!), {
    kind: 'gray',
    userPercent: 5,
    header: { name: 'x-beta', value: '1' },
    cookie: { name: 'beta', value: 'yes' },
    userHeader: 'x-user',
  });
  const testersOnly = planSteps(spec('strategy: gray').release);
  assert.deepEqual(
    testersOnly.map((x) => [x.weight, x.gate]),
    [[0, 'manual']],
  );
});

test('blue-green: preview (not analysed, manual switch) then all traffic, judged against stable before the switch', () => {
  const s = spec('strategy: blueGreen\nblueGreen: { observe: 45s }');
  const steps = planSteps(s.release);
  assert.deepEqual(
    steps.map((x) => [x.weight, x.gate, x.analyze, x.baseline, x.pauseSeconds]),
    [
      [0, 'manual', false, 'concurrent', 15],
      [100, 'auto', true, 'before-switch', 45],
    ],
  );
  assert.equal(trafficFor(s.release, steps[0]!).kind, 'gray');
  assert.deepEqual(trafficFor(s.release, steps[1]!), { kind: 'weighted', canaryPercent: 100 });
  assert.equal(
    planSteps(spec('strategy: blueGreen\nblueGreen: { autoSwitch: true }').release)[0]!.gate,
    'auto',
  );
});

test('rolling has no steps; gray refuses the replica-ratio router', () => {
  assert.deepEqual(planSteps(spec('strategy: rolling').release), []);
  assert.throws(() => spec('strategy: gray\nrouter: replicas'), /gray releases need a router/);
});

test('the canary runs beside stable: own name, track label, config and secrets; same pods otherwise', () => {
  const s = spec('strategy: canary');
  const objs = renderCanary(s, {
    image: 'registry.local/shop:2',
    secretValues: { TOKEN: 't' },
    replicas: 2,
  });
  assert.deepEqual(
    objs.map((o) => `${o.kind}/${o.metadata.name}`),
    [
      'ConfigMap/shop-canary-config',
      'Secret/shop-canary-secrets',
      'Deployment/shop-canary',
      'Service/shop-canary',
    ],
  );
  type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const d = objs.find((o) => o.kind === 'Deployment') as Any;
  const stable = renderService(s, { secretValues: { TOKEN: 't' } }).find(
    (o) => o.kind === 'Deployment',
  ) as Any;
  assert.equal(d.spec.replicas, 2);
  assert.deepEqual(d.spec.selector.matchLabels, {
    'app.kubernetes.io/name': 'shop',
    'app.kubernetes.io/instance': 'shop',
    'gantry.dev/track': 'canary',
  });
  assert.equal(d.spec.template.metadata.labels['gantry.dev/track'], 'canary');
  // Prometheus scrapes the canary like stable (the judge reads both).
  assert.deepEqual(d.spec.template.metadata.annotations['prometheus.io/scrape'], 'true');
  const vols = d.spec.template.spec.volumes as Any[];
  assert.equal(vols.find((v) => v.configMap)?.configMap.name, 'shop-canary-config');
  assert.equal(vols.find((v) => v.secret)?.secret.secretName, 'shop-canary-secrets');
  assert.equal(d.spec.template.spec.containers[0].image, 'registry.local/shop:2');
  // Apart from labels, volumes and image, the pod is the stable pod.
  assert.deepEqual(d.spec.template.spec.securityContext, stable.spec.template.spec.securityContext);
  assert.deepEqual(
    d.spec.template.spec.containers[0].readinessProbe,
    stable.spec.template.spec.containers[0].readinessProbe,
  );
  const svc = objs.find((o) => o.kind === 'Service') as Any;
  assert.equal(svc.spec.selector['gantry.dev/track'], 'canary');
  assert.equal(svc.spec.type, 'ClusterIP');
});

test('canaryRefs names exactly the objects renderCanary renders (what abort and promote remove)', () => {
  const s = spec('strategy: canary');
  const rendered = renderCanary(s, { image: 'x:2', secretValues: { TOKEN: 't' }, replicas: 1 });
  const key = (o: { kind: string; metadata: { name: string; namespace?: string } }) =>
    `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
  assert.deepEqual(canaryRefs(s).map(key).sort(), rendered.map(key).sort());
});
