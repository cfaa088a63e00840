import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderService } from '../../src/render/index.js';
import type { KubeObject } from '../../src/render/index.js';
import { parseSpec } from '../../src/spec/index.js';
import { validateObjects } from '../../src/validate/openapi.js';

const seed = readFileSync(
  new URL('../../../../deploy/user-service/gantry.yaml', import.meta.url),
  'utf8',
);
const everything = `apiVersion: gantry.dev/v1alpha1
name: full
namespace: shop
image: reg.local/full:1
command: [/bin/app]
args: [--flag]
ports: [{ name: http, containerPort: 8080, servicePort: 80 }, { name: metrics, containerPort: 9100, protocol: TCP }]
env: { A: b }
config: { K: v }
secrets: { S: { fromEnv: S } }
probes:
  liveness: { path: /healthz }
  readiness: { path: /readyz, port: http }
  startup: { path: /healthz, port: 8080 }
autoscaling: { minReplicas: 2, maxReplicas: 5 }
disruptionBudget: { minAvailable: 50% }
service: { type: NodePort }
routes: [{ hostnames: [full.test], gateway: gw/edge }]
metrics: { port: metrics }
networkPolicy: { allowFrom: [{ namespace: gw }, { podLabels: { app: x } }] }
`;

test('every object Gantry renders matches the Kubernetes v1.34 schema', () => {
  for (const text of [seed, everything]) {
    const spec = parseSpec(text);
    const secrets = Object.fromEntries(Object.keys(spec.secrets).map((k) => [k, 'value']));
    assert.deepEqual(validateObjects(renderService(spec, { secretValues: secrets })), []);
  }
});

test('type errors and unknown fields are named by path', () => {
  const objs = renderService(parseSpec(everything), { secretValues: { S: 'x' } });
  const d = objs.find((o) => o.kind === 'Deployment') as KubeObject & { spec: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  d.spec.progressDeadlineSeconds = 'soon';
  d.spec.template.spec.containers[0].imagePulPolicy = 'Always';
  d.spec.template.spec.containers[0].ports[0].containerPort = 'http';
  const svc = objs.find((o) => o.kind === 'Service') as KubeObject & { spec: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  svc.spec.ports = 'http';
  assert.deepEqual(
    validateObjects(objs).map((p) => `${p.object}: ${p.path}: ${p.message}`),
    [
      'Deployment shop/full: spec.progressDeadlineSeconds: expected integer, got string "soon"',
      'Deployment shop/full: spec.template.spec.containers[0].ports[0].containerPort: expected integer, got string "http"',
      'Deployment shop/full: spec.template.spec.containers[0].imagePulPolicy: unknown field',
      'Service shop/full: spec.ports: expected a list, got string "http"',
    ],
  );
});

test('kinds the bundle does not know (CRDs such as HTTPRoute) are left to the server', () => {
  const route = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'r' },
    spec: 42,
  };
  assert.deepEqual(validateObjects([route]), []);
});
