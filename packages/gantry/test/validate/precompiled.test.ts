// The precompiled validators (src/validate/generated/k8s-v1.34.ts) against the
// schema bundle they were generated from: the module is in sync with the
// bundle, and on valid objects and thousands of mutated ones the precompiled
// validators return exactly what ajv compiling the bundle at run time returns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { renderService } from '../../src/render/index.js';
import type { KubeObject } from '../../src/render/index.js';
import { encodeRelease } from '../../src/release/record.js';
import { parseSpec } from '../../src/spec/index.js';
import { compileBundle, rootRef } from '../../src/validate/compile.js';
import type { SchemaBundle } from '../../src/validate/compile.js';
import { precompiled } from '../../src/validate/generated/k8s-v1.34.js';
import {
  BUNDLE_FILE,
  MODULE_FILE,
  REGENERATE,
  validatorModule,
} from '../../scripts/gen-k8s-validators.js';

const bundleText = readFileSync(BUNDLE_FILE, 'utf8');
const bundle = JSON.parse(bundleText) as SchemaBundle;

test('the generated validator module is in sync with the schema bundle and ajv', () => {
  const onDisk = readFileSync(MODULE_FILE, 'utf8');
  assert.ok(
    onDisk === validatorModule(bundleText),
    `${MODULE_FILE} is out of date with ${BUNDLE_FILE} (or with the installed ajv); run: ${REGENERATE}`,
  );
  assert.deepEqual(Object.keys(precompiled.validators).sort(), Object.keys(bundle.roots).sort());
  assert.equal(precompiled.kubernetesVersion, bundle.kubernetesVersion);
});

// Every kind of the bundle, with every optional feature of the spec.
const spec = parseSpec(`apiVersion: gantry.dev/v1alpha1
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
env: { A: b }
config: { K: v }
secrets: { S: { fromEnv: S } }
resources: { requests: { cpu: 0.25, memory: 1Gi }, limits: { cpu: 2, memory: 2Gi } }
probes:
  liveness: { path: /healthz, initialDelaySeconds: 3 }
  readiness: { path: /readyz, port: http }
  startup: { path: /healthz, port: 8080, failureThreshold: 30 }
rollingUpdate: { maxSurge: 1, maxUnavailable: 10% }
autoscaling: { minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 70 }
disruptionBudget: { minAvailable: 50% }
service: { type: LoadBalancer }
routes:
  - hostnames: [full.test]
    gateway: edge
    matches: [{ path: /admin, pathType: Exact }]
networkPolicy: { allowFrom: [{ namespace: gw }, { podLabels: { app: x } }] }
`);
const now = new Date().toISOString().replace('Z', '000Z');
const corpus: KubeObject[] = [
  ...renderService(spec, { secretValues: { S: 'value' } }),
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { a: 'b' } } },
  {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'gantry-lock-full', namespace: 'shop' },
    spec: { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: now, renewTime: now },
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

const runtime = compileBundle(bundle);
const compiledAtRuntime = (gvk: string): ValidateFunction => {
  const v = runtime.getSchema(rootRef(bundle.roots[gvk]!));
  assert.ok(v, gvk);
  return v;
};

/** What a validator said about one object, in a comparable form. */
function verdict(v: (data: unknown) => boolean, errors: () => ErrorObject[] | null | undefined) {
  return (o: unknown) => {
    const ok = v(o);
    return {
      ok,
      errors: (errors() ?? []).map((e) => ({
        instancePath: e.instancePath,
        schemaPath: e.schemaPath,
        keyword: e.keyword,
        params: e.params,
        message: e.message,
        schema: e.schema,
        parentSchema: e.parentSchema,
        data: e.data,
      })),
    };
  };
}

// A small deterministic generator (mulberry32), so a failure can be replayed.
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ODD_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  2 ** 31,
  -(2 ** 31) - 1,
  '',
  'x',
  '2 GB',
  '250m',
  'Not_A_Host',
  'not base64!',
  '8080',
  [],
  ['x'],
  {},
  { unknownField: 1 },
];

/** Every (container, key) in an object tree. */
function slots(o: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []) {
  if (Array.isArray(o)) {
    o.forEach((v, i) => {
      out.push([o, i]);
      slots(v, out);
    });
  } else if (o !== null && typeof o === 'object') {
    for (const [k, v] of Object.entries(o)) {
      out.push([o as Record<string, unknown>, k]);
      slots(v, out);
    }
  }
  return out;
}

/** The object with one to three random changes: a removed field, an odd value, a new field. */
function mutate(o: KubeObject, rnd: () => number): KubeObject {
  const copy = structuredClone(o);
  const n = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < n; i++) {
    const all = slots(copy);
    const [parent, key] = all[Math.floor(rnd() * all.length)]!;
    const what = rnd();
    if (what < 0.25 && !Array.isArray(parent)) {
      delete parent[key as string];
    } else if (what < 0.4) {
      const target = (parent as Record<string, unknown>)[key];
      if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
        (target as Record<string, unknown>)[`extra${Math.floor(rnd() * 3)}`] = 'x';
        continue;
      }
      (parent as Record<string | number, unknown>)[key] = ODD_VALUES[0];
    } else {
      const value = structuredClone(ODD_VALUES[Math.floor(rnd() * ODD_VALUES.length)]);
      (parent as Record<string | number, unknown>)[key] = value;
    }
  }
  return copy;
}

test('precompiled validators accept and reject exactly what the schema does', () => {
  const kinds = new Set(corpus.map((o) => `${o.apiVersion}/${o.kind}`));
  assert.deepEqual([...kinds].sort(), Object.keys(bundle.roots).sort(), 'every kind is covered');
  const rnd = random(20241127);
  let rejected = 0;
  let total = 0;
  for (const o of corpus) {
    const gvk = `${o.apiVersion}/${o.kind}`;
    const pre = precompiled.validators[gvk]!;
    const rt = compiledAtRuntime(gvk);
    const a = verdict(pre, () => pre.errors);
    const b = verdict(rt, () => rt.errors);
    assert.equal(a(o).ok, true, `${gvk} as rendered is valid`);
    const samples = [{ spec: 5 }, { metadata: [] }, 'a string', null, ...Array(300)];
    for (const s of samples) {
      const input = s === undefined ? mutate(o, rnd) : s;
      const want = b(input);
      const got = a(input);
      assert.deepEqual(got, want, `${gvk}: ${JSON.stringify(input).slice(0, 2000)}`);
      total++;
      if (!want.ok) rejected++;
    }
  }
  // The mutations must exercise the rejecting paths, not only valid input.
  assert.ok(rejected > total / 2, `${rejected} of ${total} inputs rejected`);
});
