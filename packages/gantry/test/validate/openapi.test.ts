// Offline validation against the Kubernetes v1.34 API schema (built-in kinds
// from k8s.io/kubernetes, HTTPRoute from the Gateway API CRD).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderService } from '../../src/render/index.js';
import type { KubeObject } from '../../src/render/index.js';
import { encodeRelease } from '../../src/release/record.js';
import { parseSpec } from '../../src/spec/index.js';
import {
  ObjectValidationError,
  formatValidationProblem,
  validateObjects,
} from '../../src/validate/openapi.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const seed = readFileSync(join(repo, 'deploy/user-service/gantry.yaml'), 'utf8');

// Every optional feature of the spec.
const everything = `apiVersion: gantry.dev/v1alpha1
name: full
namespace: shop
labels: { team: payments }
image: reg.local/full:1@sha256:${'a'.repeat(64)}
command: [/bin/app]
args: [--flag]
replicas: 2
ports:
  - { name: http, containerPort: 8080, servicePort: 80 }
  - { name: metrics, containerPort: 9100, protocol: TCP }
  - { name: dns, containerPort: 5353, protocol: UDP }
env: { A: b }
config: { K: v, other.key: '1' }
secrets: { S: { fromEnv: S }, T: { fromFile: /dev/null } }
resources: { requests: { cpu: 0.25, memory: 1Gi }, limits: { cpu: 2, memory: 2Gi } }
probes:
  liveness: { path: /healthz, initialDelaySeconds: 3 }
  readiness: { path: /readyz, port: http }
  startup: { path: /healthz, port: 8080, failureThreshold: 30 }
rollingUpdate: { maxSurge: 1, maxUnavailable: 10% }
progressDeadlineSeconds: 120
terminationGracePeriodSeconds: 5
autoscaling: { minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 70 }
disruptionBudget: { minAvailable: 50% }
service: { type: LoadBalancer }
routes:
  - { hostnames: [full.test, '*.full.test'], gateway: gw/edge }
  - hostnames: [admin.full.test]
    gateway: edge
    port: metrics
    matches: [{ path: /admin, pathType: Exact }, { path: /ops }]
metrics: { port: metrics, path: /m }
networkPolicy: { allowFrom: [{ namespace: gw }, { podLabels: { app: x } }, { namespace: a, podLabels: { b: c } }] }
`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const render = (text: string): KubeObject[] => {
  const spec = parseSpec(text);
  const secrets = Object.fromEntries(Object.keys(spec.secrets).map((k) => [k, 'value']));
  return renderService(spec, { secretValues: secrets });
};
const find = (objs: KubeObject[], kind: string): Any => {
  const o = objs.find((x) => x.kind === kind);
  assert.ok(o, `no ${kind}`);
  return o;
};
const problems = (objs: KubeObject[]) => validateObjects(objs).map(formatValidationProblem);

test('every object rendered for the seed and for a spec using every feature is valid', () => {
  for (const text of [seed, everything]) assert.deepEqual(problems(render(text)), []);
  const kinds = new Set(render(everything).map((o) => o.kind));
  assert.equal(kinds.size, 9, [...kinds].join());
});

test('the namespace, lock lease and release record gantry writes are valid', () => {
  const now = new Date().toISOString().replace('Z', '000Z');
  const objs: KubeObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
    {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'gantry-lock-full', namespace: 'shop' },
      spec: {
        holderIdentity: 'me@host pid 1',
        leaseDurationSeconds: 15,
        acquireTime: now,
        renewTime: now,
      },
    },
    encodeRelease({
      service: 'full',
      namespace: 'shop',
      revision: 1,
      status: 'deployed',
      specDigest: 'x',
      image: 'reg.local/full:1',
      objects: [],
      secretHashes: {},
      actor: 'me',
      startedAt: now,
    }),
  ];
  assert.deepEqual(problems(objs), []);
});

test('hand-broken objects are rejected with the field path', () => {
  const objs = render(everything);
  const d = find(objs, 'Deployment');
  delete d.spec.replicas; // autoscaled: not rendered; put a bad one back
  d.spec.replicas = '3';
  const c = d.spec.template.spec.containers[0];
  c.imagePulPolicy = 'Always';
  c.livenessProbe.httpGet.port = { name: 'http' };
  c.readinessProbe.httpGet.port = true;
  c.ports[0].containerPort = 2 ** 31;
  c.resources.limits.memory = '2 GB';
  d.spec.template.metadata.annotations['prometheus.io/port'] = 9100;
  const route = objs.filter((o) => o.kind === 'HTTPRoute')[1] as Any;
  route.spec.rules[0].matches[0].path.type = 'Prefix';
  route.spec.hostnames = ['Not_A_Host'];
  const secret = find(objs, 'Secret');
  secret.data.S = 'not base64!';
  const svc = find(objs, 'Service');
  delete svc.spec.ports[0].port;
  const ns = 'shop/full';
  assert.deepEqual(problems(objs), [
    `Secret ${ns}-secrets: data.S: string "not base64!" must match ^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$`,
    `Deployment ${ns}: spec.replicas: expected integer, got string "3"`,
    `Deployment ${ns}: spec.template.metadata.annotations["prometheus.io/port"]: expected string, got number 9100`,
    `Deployment ${ns}: spec.template.spec.containers[0].imagePulPolicy: unknown field (did you mean "imagePullPolicy"?)`,
    `Deployment ${ns}: spec.template.spec.containers[0].livenessProbe.httpGet.port: expected integer or string, got a mapping`,
    `Deployment ${ns}: spec.template.spec.containers[0].ports[0].containerPort: must be <= 2147483647, got number 2147483648`,
    `Deployment ${ns}: spec.template.spec.containers[0].readinessProbe.httpGet.port: expected integer or string, got boolean true`,
    `Deployment ${ns}: spec.template.spec.containers[0].resources.limits.memory: must be a quantity such as 250m, 0.5, 128Mi or 1Gi, got string "2 GB"`,
    `Service ${ns}: spec.ports[0].port: required field is missing`,
    `HTTPRoute ${ns}-1: spec.hostnames[0]: string "Not_A_Host" must match ^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`,
    `HTTPRoute ${ns}-1: spec.rules[0].matches[0].path.type: must be one of "Exact", "PathPrefix", "RegularExpression", got string "Prefix"`,
  ]);
});

test('an unknown field at the top of an object, and a kind without a schema, are reported', () => {
  const objs = render(seed);
  find(objs, 'ConfigMap').spec = {};
  const unknownKind: KubeObject = {
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: { name: 'w' },
  };
  assert.deepEqual(problems([...objs, unknownKind]), [
    'ConfigMap default/user-service-config: spec: unknown field',
    'Widget w: apiVersion: example.com/v1 Widget is not a kind this Kubernetes v1.34 schema bundle knows',
  ]);
  assert.throws(() => validateObjects(objs, '1.20'), /no Kubernetes API schema for v1\.20/);
});

test('the error names every problem and says nothing was applied', () => {
  const objs = render(seed);
  find(objs, 'Deployment').spec.replicas = 'three';
  const err = new ObjectValidationError(validateObjects(objs));
  assert.equal(err.name, 'ObjectValidationError');
  assert.equal(err.problems.length, 1);
  assert.match(err.message, /Kubernetes v1\.34 API schema \(1 problem\); nothing was applied/);
  assert.match(err.message, /Deployment default\/user-service: spec\.replicas: expected integer/);
});

test('gantry validate exits 3 when the spec renders objects the API would reject', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-validate-'));
  try {
    const file = join(dir, 'gantry.yaml');
    // A hostname the HTTPRoute schema refuses: reported at the spec's own field.
    writeFileSync(
      file,
      'apiVersion: gantry.dev/v1alpha1\nname: web\nimage: web:1\n' +
        'routes: [{ hostnames: [Bad_Host], gateway: gw }]\n',
    );
    const bin = join(repo, 'packages/gantry/bin/gantry.js');
    const r = spawnSync(process.execPath, [bin, 'validate', '-f', file], { encoding: 'utf8' });
    assert.equal(r.status, 3, r.stderr);
    assert.match(
      r.stderr,
      /gantry\.yaml:4:24: routes\[0\]\.hostnames\[0\]: must be a lower-case DNS name .*, got "Bad_Host"/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
