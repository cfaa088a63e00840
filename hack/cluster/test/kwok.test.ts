// kwok on the local cluster: `cluster kwok up 20` adds 20 simulated nodes, a
// 200-replica Deployment that selects them (and tolerates their taint) becomes
// fully Ready without running anything, the real node gets none of it, and
// `cluster kwok down` removes the fake nodes and stops kwok. The cluster is left
// as the test found it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { clusterScript, eventually, kubectl, requireCluster, run } from './cluster-env.js';
import type { ClusterEnv } from './cluster-env.js';

const cluster = requireCluster();
const NODES = 20;
const REPLICAS = 200;
const REAL_NODE = 'gantry-node';

interface NodeList {
  items: {
    metadata: { name: string; labels?: Record<string, string> };
    spec: { taints?: { key: string; value?: string; effect: string }[] };
    status: { conditions?: { type: string; status: string }[] };
  }[];
}

interface PodList {
  items: {
    metadata: { name: string; deletionTimestamp?: string };
    spec: { nodeName?: string };
    status: {
      phase?: string;
      podIP?: string;
      conditions?: { type: string; status: string }[];
    };
  }[];
}

const ready = (conds: { type: string; status: string }[] | undefined): boolean =>
  conds?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

function fakeNodes(env: ClusterEnv): NodeList['items'] {
  return (JSON.parse(kubectl(env, ['get', 'nodes', '-l', 'type=kwok', '-o', 'json'])) as NodeList)
    .items;
}

function kwokCli(env: ClusterEnv, args: string[]): { status: number | null; out: string } {
  const r = run(clusterScript, ['kwok', ...args], env);
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

function pauseImage(env: ClusterEnv): string {
  const versions = readFileSync(new URL('../versions.env', import.meta.url), 'utf8');
  const tag = /^PAUSE_TAG=(.+)$/m.exec(versions)?.[1] ?? 'latest';
  return `${env.GANTRY_REGISTRY}/gantry/pause:${tag}`;
}

test(
  'kwok: 200 replicas become Ready on 20 simulated nodes, and go away cleanly',
  { skip: typeof cluster === 'string' ? cluster : false, timeout: 1_800_000 },
  async (t) => {
    const env = cluster as ClusterEnv;
    const ns = `kwok-${process.pid}`;

    // What to restore afterwards: kwok may already be running with its own nodes.
    const before = kwokCli(env, ['status']);
    const wasRunning = before.status === 0;
    const nodesBefore = wasRunning ? fakeNodes(env).length : 0;
    t.after(() => {
      run('kubectl', ['delete', 'namespace', ns, '--wait=true', '--timeout=120s'], env);
      const restore = wasRunning
        ? kwokCli(env, ['up', String(nodesBefore)])
        : kwokCli(env, ['down']);
      if (restore.status !== 0) throw new Error(`restoring kwok failed:\n${restore.out}`);
    });

    // Cold, this builds kwok first (several minutes).
    const up = kwokCli(env, ['up', String(NODES)]);
    assert.equal(up.status, 0, up.out);
    const nodes = fakeNodes(env);
    assert.equal(nodes.length, NODES);
    for (const n of nodes) {
      assert.ok(ready(n.status.conditions), `${n.metadata.name} is not Ready`);
      assert.ok(
        n.spec.taints?.some(
          (tn) =>
            tn.key === 'kwok.x-k8s.io/node' && tn.value === 'fake' && tn.effect === 'NoSchedule',
        ),
        `${n.metadata.name} lacks the kwok taint`,
      );
    }

    kubectl(env, ['create', 'namespace', ns]);
    kubectl(env, ['apply', '-n', ns, '-f', '-'], deployment(pauseImage(env)));
    const t0 = Date.now();
    const pods = await eventually(
      `${REPLICAS} Ready pods on fake nodes`,
      300_000,
      () => {
        const list = (
          JSON.parse(kubectl(env, ['-n', ns, 'get', 'pods', '-o', 'json'])) as PodList
        ).items.filter((p) => !p.metadata.deletionTimestamp);
        const ok = list.filter((p) => p.status.phase === 'Running' && ready(p.status.conditions));
        return ok.length === REPLICAS ? list : undefined;
      },
      2000,
    );
    assert.equal(pods.length, REPLICAS);
    const fakeNames = new Set(nodes.map((n) => n.metadata.name));
    const used = new Set(pods.map((p) => p.spec.nodeName ?? ''));
    assert.ok(
      [...used].every((n) => fakeNames.has(n)),
      `pods landed outside the fake nodes: ${[...used].filter((n) => !fakeNames.has(n)).join(', ')}`,
    );
    assert.ok(used.size > 1, 'the scheduler should spread the replicas over several fake nodes');
    t.diagnostic(`${REPLICAS} pods Ready on ${used.size} fake nodes in ${Date.now() - t0} ms`);
    // kwok's pod IPs come from 10.244.128.0/17, which the host never routes.
    for (const p of pods) {
      const octets = (p.status.podIP ?? '').split('.').map(Number);
      assert.ok(
        octets[0] === 10 && octets[1] === 244 && (octets[2] ?? 0) >= 128,
        `pod IP ${p.status.podIP} outside 10.244.128.0/17`,
      );
    }
    // The Deployment's status follows its pods after the controller's next sync (it lagged
    // the pods by a moment once in CI): wait for it rather than read it once.
    await eventually(
      `the Deployment to count ${REPLICAS} ready replicas`,
      60_000,
      () => {
        const deploy = JSON.parse(
          kubectl(env, ['-n', ns, 'get', 'deployment', 'fleet', '-o', 'json']),
        ) as { status: { readyReplicas?: number } };
        return deploy.status.readyReplicas === REPLICAS ? true : undefined;
      },
      500,
    );

    // The real node is unaffected: still Ready, no kwok label or taint, none of these pods.
    const real = JSON.parse(
      kubectl(env, ['get', 'node', REAL_NODE, '-o', 'json']),
    ) as NodeList['items'][number];
    assert.ok(ready(real.status.conditions), 'the real node should stay Ready');
    assert.notEqual(real.metadata.labels?.type, 'kwok');
    assert.ok(!real.spec.taints?.some((tn) => tn.key === 'kwok.x-k8s.io/node'));

    // Scale to zero: kwok's delete stage lets the pods go at once.
    kubectl(env, ['-n', ns, 'scale', 'deployment', 'fleet', '--replicas=0']);
    await eventually(
      'all pods deleted',
      180_000,
      () =>
        kubectl(env, ['-n', ns, 'get', 'pods', '-o', 'name']).trim() === '' ? true : undefined,
      2000,
    );
    kubectl(env, ['delete', 'namespace', ns, '--wait=true', '--timeout=120s']);

    if (!wasRunning) {
      const down = kwokCli(env, ['down']);
      assert.equal(down.status, 0, down.out);
      assert.equal(fakeNodes(env).length, 0, 'fake nodes left behind');
      assert.notEqual(kwokCli(env, ['status']).status, 0, 'kwok still running after kwok down');
    }
  },
);

function deployment(image: string): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata: { name: fleet }
spec:
  replicas: ${REPLICAS}
  selector: { matchLabels: { app: fleet } }
  template:
    metadata:
      labels: { app: fleet }
    spec:
      nodeSelector: { type: kwok }
      tolerations:
        - { key: kwok.x-k8s.io/node, operator: Equal, value: fake, effect: NoSchedule }
      containers:
        - name: pause
          image: ${image}
          resources: { requests: { cpu: 10m, memory: 16Mi } }
`;
}
