// The Kubernetes-level faults on the local cluster, each measured in effect and
// compared with before once reverted: service-down (no-endpoints and scale-to-zero:
// requests through a loopback NodePort fail during, answer after; the Service and the
// Deployment specs equal before), node-cordon and node-taint (the Node's spec equal
// before), pod-failure (the container runs the pause image, the pod leaves the
// endpoints; its image back after), the single-node refusals and the max-percent rail.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  eventually,
  kubectl,
  requireCluster,
  run,
} from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import type { FaultDefinition } from '../../src/chaos/fault.js';
import { KubeApiError } from '../../src/kube/client.js';
import { faultByKind } from '../../src/chaos/faults/index.js';
import { resolveTarget, targetScope, TargetError } from '../../src/chaos/target.js';
import { answers, deployEcho, specOf } from './experiment-fixture.js';
import type { Fixture } from './experiment-fixture.js';

const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
let env: ClusterEnv;
let fx: Fixture;
let node = '';

before(
  async () => {
    if (skip) return;
    env = cluster as ClusterEnv;
    fx = await deployEcho(env, 'gantry-k8sfault');
    node = kubectl(env, [
      '-n',
      fx.ns,
      'get',
      'pods',
      '-o',
      'jsonpath={.items[0].spec.nodeName}',
    ]).trim();
  },
  { timeout: 180_000 },
);

after(() => {
  if (skip) return;
  // A safety net: whatever a failed test left, the node is uncordoned and untainted.
  if (node) {
    run('kubectl', ['uncordon', node], env);
    run('kubectl', ['taint', 'node', node, 'gantry.dev/chaos-'], env);
  }
  fx?.cleanup();
});

const def = (kind: string): FaultDefinition => {
  const d = faultByKind(kind);
  assert.ok(d, kind);
  return d;
};

async function target(kind: string, selector = {}) {
  return resolveTarget(fx.ctx(), selector, { scope: targetScope(def(kind)) });
}

function allReady(): true | undefined {
  const r = kubectl(env, [
    '-n',
    fx.ns,
    'get',
    'deployment',
    fx.name,
    '-o',
    'jsonpath={.status.readyReplicas}',
  ]);
  return r.trim() === '2' ? true : undefined;
}

for (const mode of ['no-endpoints', 'scale-to-zero'] as const) {
  test(
    `service-down ${mode}: requests fail during, answer after; Service and Deployment as before`,
    { skip, timeout: 120_000 },
    async (t) => {
      const svc = specOf(env, 'service', fx.name, fx.ns);
      const dep = specOf(env, 'deployment', fx.name, fx.ns);
      const d = def('service-down');
      const params = { mode };
      const tg = await target('service-down');
      assert.equal(tg.pods.length, 2);
      assert.deepEqual(await d.preflight(fx.ctx(), params, tg), []);
      const t0 = Date.now();
      const fault = await d.inject(fx.ctx(), params, tg, 30_000);
      try {
        // In effect: the NodePort stops answering (kube-proxy has no endpoint, or no pod).
        const down = await eventually(
          'requests to fail',
          20_000,
          async () => ((await answers(fx.url)) ? undefined : Date.now()),
          200,
        );
        t.diagnostic(`first failed request ${down - t0} ms after inject`);
        for (let i = 0; i < 3; i++) {
          assert.equal(await answers(fx.url), false, 'still down');
          await sleep(300);
        }
      } finally {
        await fault.revert();
      }
      const r0 = Date.now();
      await eventually(
        'requests to answer again',
        60_000,
        async () => ((await answers(fx.url)) ? true : undefined),
        200,
      );
      t.diagnostic(`first answered request ${Date.now() - r0} ms after revert`);
      await eventually('both replicas ready', 60_000, allReady);
      assert.deepEqual(specOf(env, 'service', fx.name, fx.ns), svc);
      assert.deepEqual(specOf(env, 'deployment', fx.name, fx.ns), dep);
      await fault.ended;
    },
  );
}

test(
  'node-cordon and node-taint NoSchedule: in effect, then the Node spec exactly as before',
  { skip, timeout: 60_000 },
  async () => {
    const beforeNode = specOf(env, 'node', node);
    const cordon = def('node-cordon');
    const tg = await target('node-cordon');
    assert.equal(tg.node, node);
    assert.deepEqual(await cordon.preflight(fx.ctx(), {}, tg), []);
    const c = await cordon.inject(fx.ctx(), {}, tg, 20_000);
    try {
      assert.equal(
        kubectl(env, ['get', 'node', node, '-o', 'jsonpath={.spec.unschedulable}']).trim(),
        'true',
      );
    } finally {
      await c.revert();
    }
    assert.deepEqual(specOf(env, 'node', node), beforeNode);

    const taint = def('node-taint');
    const params = { effect: 'NoSchedule', 'allow-single-node': false };
    assert.deepEqual(await taint.preflight(fx.ctx(), params, tg), []);
    const f = await taint.inject(fx.ctx('taint-test'), params, tg, 20_000);
    try {
      const taints = kubectl(env, ['get', 'node', node, '-o', 'jsonpath={.spec.taints}']);
      assert.match(taints, /"effect":"NoSchedule","key":"gantry.dev\/chaos","value":"taint-test"/);
    } finally {
      await f.revert();
    }
    assert.deepEqual(specOf(env, 'node', node), beforeNode);
  },
);

test(
  'a node fault expires by itself: the cordon is lifted at its expiry',
  { skip, timeout: 60_000 },
  async () => {
    const beforeNode = specOf(env, 'node', node);
    const cordon = def('node-cordon');
    const f = await cordon.inject(fx.ctx(), {}, await target('node-cordon'), 2000);
    const t0 = Date.now();
    await f.ended;
    const waited = Date.now() - t0;
    assert.ok(waited < 6000, `ended ${waited} ms after inject`);
    assert.deepEqual(specOf(env, 'node', node), beforeNode);
  },
);

test(
  'node-drain and node-taint NoExecute refuse a single-node cluster unless allowed',
  { skip, timeout: 30_000 },
  async (t) => {
    const nodes = kubectl(env, ['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}'])
      .trim()
      .split(' ');
    const tg = await target('node-drain');
    const drain = await def('node-drain').preflight(
      fx.ctx(),
      { 'all-pods': false, 'allow-single-node': false },
      tg,
    );
    const taint = await def('node-taint').preflight(
      fx.ctx(),
      { effect: 'NoExecute', 'allow-single-node': false },
      tg,
    );
    const allowed = await def('node-drain').preflight(
      fx.ctx(),
      { 'all-pods': false, 'allow-single-node': true },
      tg,
    );
    t.diagnostic(`nodes: ${nodes.join(', ')}; drain refused: ${drain.join('; ')}`);
    // Simulated (kwok) nodes carry a NoSchedule taint: they are no place to go either.
    assert.match(drain.join(), /no other node can take the pods .* --allow-single-node/);
    assert.match(taint.join(), /no other node can take the pods/);
    assert.deepEqual(allowed, []);
  },
);

test(
  'pod-failure: the container runs the pause image and leaves the endpoints; its image back after',
  { skip, timeout: 120_000 },
  async (t) => {
    const d = def('pod-failure');
    const tg = await target('pod-failure');
    assert.equal(tg.pods.length, 1);
    const pod = tg.pods[0]!.name;
    const image = () =>
      kubectl(env, [
        '-n',
        fx.ns,
        'get',
        'pod',
        pod,
        '-o',
        'jsonpath={.spec.containers[0].image}',
      ]).trim();
    const ready = () =>
      kubectl(env, [
        '-n',
        fx.ns,
        'get',
        'pod',
        pod,
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ]).trim();
    const restarts = () =>
      Number(
        kubectl(env, [
          '-n',
          fx.ns,
          'get',
          'pod',
          pod,
          '-o',
          'jsonpath={.status.containerStatuses[0].restartCount}',
        ]),
      );
    const podSpec = () =>
      (specOf(env, 'pod', pod, fx.ns) as { spec: { containers: unknown[] } }).spec.containers;
    const before = { image: image(), containers: podSpec(), restarts: restarts() };
    assert.deepEqual(await d.preflight(fx.ctx(), {}, tg), []);
    const f = await d.inject(fx.ctx(), {}, tg, 60_000);
    try {
      assert.match(image(), /\/pause[:@]/);
      // The kubelet restarts the container with the pause image: it fails readiness.
      await eventually(
        'the pod not ready',
        30_000,
        () => (ready() === 'False' ? true : undefined),
        250,
      );
      const eps = kubectl(env, [
        '-n',
        fx.ns,
        'get',
        'endpoints',
        fx.name,
        '-o',
        'jsonpath={.subsets[*].addresses[*].targetRef.name}',
      ]);
      assert.ok(!eps.includes(pod), `${pod} still in the endpoints: ${eps}`);
      assert.equal(await answers(fx.url), true, 'the other pod answers');
    } finally {
      await f.revert();
    }
    assert.equal(image(), before.image);
    assert.deepEqual(podSpec(), before.containers);
    await eventually(
      'the pod ready again',
      60_000,
      () => (ready() === 'True' ? true : undefined),
      250,
    );
    t.diagnostic(`restartCount ${before.restarts} -> ${restarts()}`);
    assert.ok(restarts() >= before.restarts + 2, 'one restart into the pause image, one back');
  },
);

test(
  'Kube.evict: a PodDisruptionBudget that forbids it answers 429 with its words; a gone pod is gone',
  { skip, timeout: 60_000 },
  async () => {
    kubectl(
      env,
      ['apply', '-f', '-'],
      `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: all-of-them, namespace: ${fx.ns} }
spec:
  minAvailable: 2
  selector: { matchLabels: { app.kubernetes.io/name: ${fx.name} } }
`,
    );
    try {
      await eventually('the budget observed (no disruption allowed)', 30_000, () =>
        kubectl(env, [
          '-n',
          fx.ns,
          'get',
          'pdb',
          'all-of-them',
          '-o',
          'jsonpath={.status.observedGeneration}/{.status.disruptionsAllowed}',
        ]).trim() === '1/0'
          ? true
          : undefined,
      );
      const pod = kubectl(env, [
        '-n',
        fx.ns,
        'get',
        'pods',
        '-o',
        'jsonpath={.items[0].metadata.name}',
      ]).trim();
      await assert.rejects(fx.kube.evict(fx.ns, pod), (err: unknown) => {
        assert.ok(err instanceof KubeApiError);
        assert.equal(err.status, 429);
        assert.match(err.message, /disruption budget/);
        return true;
      });
      assert.ok(allReady(), 'nothing evicted');
      assert.equal(await fx.kube.evict(fx.ns, 'no-such-pod'), 'gone');
    } finally {
      kubectl(env, ['-n', fx.ns, 'delete', 'pdb', 'all-of-them', '--ignore-not-found']);
    }
  },
);

test(
  'the max-percent rail: 2 of 2 pods refused unless raised; another namespace refused',
  { skip, timeout: 30_000 },
  async () => {
    await assert.rejects(
      target('pod-kill', { count: 2 }),
      (err: unknown) =>
        err instanceof TargetError && /2 of 2 ready pods is 100 %/.test(err.message),
    );
    const both = await target('pod-kill', { count: 2, maxPercent: 100 });
    assert.equal(both.pods.length, 2);
    await assert.rejects(
      resolveTarget(fx.ctx(), {}, { allowed: [{ namespace: 'default', service: 'user-service' }] }),
      /is not named by the experiment/,
    );
  },
);
