// The console's views as pure functions of the watched cache: health colours and their
// reasons, markers on the time axis, and the canary weights a release had before the
// console saw it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { ClusterCache, reconstructWeights } from '../../src/console/cache.js';
import { fleetView, markers } from '../../src/console/views.js';
import type { Kube } from '../../src/kube/client.js';
import type { RolloutState } from '../../src/progressive/state.js';

const labels = (name: string) => ({
  'app.kubernetes.io/name': name,
  'app.kubernetes.io/managed-by': 'gantry',
});

function deployment(name: string, ready: number, desired = 2): V1Deployment {
  return {
    metadata: { name, namespace: 'shop', labels: labels(name), generation: 1 },
    spec: {
      replicas: desired,
      selector: {},
      template: { spec: { containers: [{ name, image: `registry.local/${name}:1` }] } },
    },
    status: {
      observedGeneration: 1,
      replicas: desired,
      updatedReplicas: desired,
      readyReplicas: ready,
      availableReplicas: ready,
      conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }],
    },
  };
}

function crashing(name: string): V1Pod {
  return {
    metadata: { name: `${name}-abc12-xyz34`, namespace: 'shop', labels: labels(name) },
    spec: { containers: [{ name, image: 'x' }] },
    status: {
      phase: 'Running',
      containerStatuses: [
        {
          name,
          image: 'x',
          imageID: '',
          ready: false,
          restartCount: 4,
          state: {
            waiting: {
              reason: 'CrashLoopBackOff',
              message: 'back-off 40s restarting failed container',
            },
          },
        },
      ],
    },
  };
}

test('fleet health: ready, missing replicas, a crashing pod, a firing page alert', () => {
  const cache = new ClusterCache({} as Kube);
  const put = <T>(c: { items: Map<string, T> }, k: string, v: T) => c.items.set(k, v);
  put(cache.deployments, 'shop/cart', deployment('cart', 2));
  put(cache.deployments, 'shop/pay', deployment('pay', 1));
  put(cache.deployments, 'shop/auth', deployment('auth', 1));
  put(cache.pods, 'shop/auth-abc12-xyz34', crashing('auth'));
  put(cache.deployments, 'shop/mail', deployment('mail', 2));
  cache.version++;
  const alert = {
    name: 'GantryErrorRateHigh',
    severity: 'page',
    state: 'firing' as const,
    namespace: 'shop',
    service: 'mail',
    labels: {},
  };
  const view = fleetView(cache, { alerts: [alert], silences: [], problems: [], at: 0 });
  const by = Object.fromEntries(view.rows.map((r) => [r.name, r]));
  assert.equal(by.cart?.health, 'ok');
  assert.equal(by.cart?.reason, 'all 2 replicas ready');
  assert.equal(by.pay?.health, 'degraded');
  assert.equal(by.pay?.reason, '1 of 2 replicas ready');
  assert.equal(by.auth?.health, 'degraded');
  assert.match(by.auth?.reason ?? '', /CrashLoopBackOff|back-off/);
  assert.equal(by.mail?.health, 'failed');
  assert.equal(by.mail?.reason, 'alert GantryErrorRateHigh is firing');
  assert.deepEqual(
    by.mail?.alerts.map((a) => a.name),
    ['GantryErrorRateHigh'],
  );
});

const state = {
  service: 'cart',
  namespace: 'shop',
  strategy: 'canary',
  phase: 'progressing',
  steps: [
    { weight: 5, pauseSeconds: 10, gate: 'auto', analyze: true, baseline: 'concurrent' },
    { weight: 50, pauseSeconds: 10, gate: 'auto', analyze: true, baseline: 'concurrent' },
  ],
  stepIndex: 1,
  appliedStep: 1,
  canaryPercent: 50,
  startedAt: '2026-01-01T00:00:00Z',
  stepStartedAt: '2026-01-01T00:01:00Z',
  updatedAt: '2026-01-01T00:01:30Z',
  decisions: [
    {
      at: '2026-01-01T00:00:20Z',
      step: 0,
      verdict: 'continue',
      confidence: 0,
      summary: '',
      checks: [],
    },
    {
      at: '2026-01-01T00:00:40Z',
      step: 0,
      verdict: 'pass',
      confidence: 1,
      summary: '',
      checks: [],
    },
    {
      at: '2026-01-01T00:01:20Z',
      step: 1,
      verdict: 'continue',
      confidence: 0,
      summary: '',
      checks: [],
    },
  ],
} as unknown as RolloutState;

test('weights before the console saw the release: start, then each step at its first verdict', () => {
  const t = (iso: string) => Date.parse(iso);
  assert.deepEqual(
    reconstructWeights(state).map((p) => [p.t, p.weight]),
    [
      [t('2026-01-01T00:00:00Z'), 0],
      [t('2026-01-01T00:00:20Z'), 5],
      [t('2026-01-01T00:01:20Z'), 50],
    ],
  );
});

test('markers: deploys, rollbacks, the release start and each step, in time order', () => {
  const rev = (revision: number, at: string, rollbackOf?: number) => ({
    service: 'cart',
    namespace: 'shop',
    revision,
    status: 'superseded' as const,
    specDigest: '',
    image: 'x',
    actor: 'me',
    startedAt: at,
    finishedAt: at,
    ...(rollbackOf !== undefined ? { rollbackOf } : {}),
  });
  const m = markers([rev(2, '2025-12-31T23:50:00Z', 1), rev(1, '2025-12-31T23:40:00Z')], state);
  assert.deepEqual(
    m.map((x) => `${x.kind}:${x.label}`),
    [
      'deploy:deploy r1',
      'rollback:rollback to r1 (r2)',
      'release:canary start',
      'step:step 1: 5%',
      'step:step 2: 50%',
    ],
  );
});
