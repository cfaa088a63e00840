// Faults that cannot be left behind, on the local cluster: the gantry process
// SIGKILLed mid-fault (the helper ends the fault at its expiry), the helper pod
// force-deleted mid-fault (what it left, a REDIRECT to a dead proxy, is removed
// by recover()), the target container restarted mid-fault (no error, nothing
// left), and abort() ending every active fault at once. After each, the pod's
// network namespace is what it was before and no undo record is left.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  eventually,
  kubectl,
  requireCluster,
  run,
} from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { resolveTarget as resolveOnNode } from '../../src/chaos/agent/target.js';
import { faultByKind } from '../../src/chaos/faults/index.js';
import type { ActiveFault } from '../../src/chaos/fault.js';
import { injectK8sFault } from '../../src/chaos/helper/inject.js';
import { abort, listActive, recover } from '../../src/chaos/recover.js';
import { listRecords } from '../../src/chaos/undo-store.js';
import { CHAOS_NAMESPACE } from '../../src/chaos/undo.js';
import { createFixture, get, netState, target } from './chaos-fixture.js';
import type { Fixture } from './chaos-fixture.js';

const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const ns = `gantry-chaosrec-${Date.now().toString(36)}`;
let f: Fixture;

before(
  async () => {
    if (skip) return;
    f = await createFixture(cluster as ClusterEnv, ns);
  },
  { timeout: 180_000 },
);

after(() => {
  if (skip) return;
  run('kubectl', ['delete', 'namespace', ns, '--wait=false'], cluster as ClusterEnv);
});

const mine = async () => (await listRecords(f.kube)).filter((r) => r.namespace === ns);

async function inject(
  kind: string,
  params: Record<string, unknown>,
  durationMs = 60_000,
): Promise<ActiveFault> {
  const def = faultByKind(kind)!;
  return def.inject(f.ctx, params as never, target(f), durationMs);
}

test(
  'gantry SIGKILLed mid-fault: the helper ends the fault at its expiry',
  { skip, timeout: 120_000 },
  async () => {
    const t = target(f);
    const before = netState(t.pods[0]!.uid);
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('./inject-child.ts', import.meta.url)),
        JSON.stringify({
          kind: 'http-error',
          params: { status: 418, percent: 100, paths: [] },
          durationMs: 8000,
          target: t,
          kubeconfig: f.env.KUBECONFIG,
        }),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...f.env } },
    );
    const injectedAt = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(
        () => reject(new Error(`child not injected in 60 s: ${out}`)),
        60_000,
      );
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('injected ')) {
          clearTimeout(timer);
          resolve(Date.now());
        }
      });
      child.on('exit', (code) => reject(new Error(`child exited ${code}: ${out}`)));
    });
    child.kill('SIGKILL');
    assert.equal((await get(f.nodePort, '/')).status, 418);
    // Over by the expiry (8 s from in effect) plus the revert; nothing of it left.
    await eventually('the fault to end by itself', 30_000, async () =>
      (await get(f.nodePort, '/')).status === 200 && (await mine()).length === 0 ? true : undefined,
    );
    const endedAfter = Date.now() - injectedAt;
    assert.ok(endedAfter >= 7500, `ended after ${endedAfter} ms, before its expiry`);
    assert.equal(netState(t.pods[0]!.uid), before);
    // The finished helper pod is cleaned up by the next recover().
    const r = await recover(f.kube);
    assert.deepEqual(r.failed, []);
  },
);

test(
  'helper killed and force-deleted mid-fault: recover() removes what it left',
  { skip, timeout: 150_000 },
  async () => {
    const t = target(f);
    const uid = t.pods[0]!.uid;
    const before = netState(uid);
    const a = await inject('http-error', { status: 503, percent: 100, paths: [] }, 60_000);
    assert.equal((await get(f.nodePort, '/')).status, 503);
    const [active] = (await listActive(f.kube)).filter((x) => x.record.id === a.id);
    assert.match(active?.helper ?? 'none', /^(Pending|Running)$/); // the kubelet's status may trail
    // Given a SIGTERM, the agent reverts within its grace, even on a forced delete; so it is
    // SIGKILLed first (as by the OOM killer or a node problem), then its pod force-deleted.
    const agent = readdirSync('/proc').find((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`main.js\0node\0${a.id}`);
      } catch {
        return false;
      }
    });
    assert.ok(agent, 'the agent process on the node');
    process.kill(Number(agent), 'SIGKILL');
    kubectl(f.env, [
      '-n',
      CHAOS_NAMESPACE,
      'delete',
      'pod',
      '-l',
      `gantry.dev/chaos-record=${a.id}`,
      '--grace-period=0',
      '--force',
    ]);
    // The proxy died with the helper; its REDIRECT is still there: connections are refused.
    await eventually('the helper gone', 30_000, async () =>
      (await listActive(f.kube)).find((x) => x.record.id === a.id)?.helper === 'gone'
        ? true
        : undefined,
    );
    // Once the kubelet has killed its container (the proxy exits with the agent).
    await eventually('connections refused by the left REDIRECT', 30_000, async () =>
      (await get(f.nodePort, '/', 1000)).status === 0 ? true : undefined,
    );
    assert.notEqual(netState(uid), before);
    // Limited to other services (gantry chaos recover -f DIR), it leaves this record alone.
    const other = await recover(f.kube, {
      experiment: f.ctx.experiment,
      services: [{ namespace: f.ctx.spec.namespace, name: 'another-service' }],
    });
    assert.deepEqual(other.reverted, []);
    assert.notEqual(netState(uid), before);
    const t0 = Date.now();
    const r = await recover(f.kube, {
      experiment: f.ctx.experiment,
      services: [{ namespace: f.ctx.spec.namespace, name: f.ctx.spec.name }],
    });
    const took = Date.now() - t0;
    assert.deepEqual(r.failed, []);
    assert.deepEqual(r.reverted, [a.id]);
    assert.equal((await get(f.nodePort, '/')).status, 200);
    assert.equal(netState(uid), before);
    assert.deepEqual(await mine(), []);
    console.log(`# recover() after a force-deleted helper: ${took} ms`);
    await a.revert(); // idempotent: nothing left to do
    await a.ended;
    // Idempotent: a second recover finds nothing.
    assert.deepEqual((await recover(f.kube, { experiment: f.ctx.experiment })).reverted, []);
  },
);

test(
  'target container restarted mid-fault: no error, nothing left',
  { skip, timeout: 150_000 },
  async () => {
    const t = target(f);
    const uid = t.pods[0]!.uid;
    const before = netState(uid);
    const a = await inject('packet-loss', { loss: 20, direction: 'inbound' }, 60_000);
    try {
      const cid = t.pods[0]!.containerId!.replace(/^[a-z]+:\/\//, '');
      process.env.GANTRY_HOST_CGROUP ??= '/sys/fs/cgroup';
      const main = resolveOnNode(uid, cid)?.containerPid;
      assert.ok(main, 'the container main process');
      process.kill(main, 'SIGKILL');
      await eventually('the container restarted and ready', 60_000, () => {
        const s = kubectl(f.env, [
          '-n',
          ns,
          'get',
          'pod',
          t.pods[0]!.name,
          '-o',
          'jsonpath={.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].ready}',
        ]);
        return /^[1-9]\d* true$/.test(s.trim()) ? true : undefined;
      });
      // Same sandbox, so the fault is still in effect there.
      assert.match(netState(uid), /statistic --mode random/);
    } finally {
      await a.revert();
      await a.ended;
    }
    assert.equal(netState(uid), before);
    assert.deepEqual(await mine(), []);
  },
);

const readers = () =>
  ['role', 'rolebinding'].filter(
    (k) =>
      run('kubectl', ['-n', ns, 'get', k, 'gantry-chaos-helper', '-o', 'name'], f.env).status === 0,
  );

test(
  "the helper's pod reader in the namespace goes with the last fault needing it, and by recover()",
  { skip, timeout: 120_000 },
  async () => {
    const a = await inject('container-pause', {});
    assert.deepEqual(readers(), ['role', 'rolebinding'], 'granted while the fault is on');
    await a.revert();
    await a.ended;
    assert.deepEqual(readers(), [], 'gone with the fault');
    // One an older gantry left (no fault needs it): recover() removes it.
    run(
      'kubectl',
      ['-n', ns, 'create', 'role', 'gantry-chaos-helper', '--verb=get', '--resource=pods'],
      f.env,
    );
    const r = await recover(f.kube);
    assert.ok(r.readers.includes(ns), JSON.stringify(r));
    assert.deepEqual(readers(), []);
    assert.equal(
      run(
        'kubectl',
        ['-n', CHAOS_NAMESPACE, 'get', 'role', 'gantry-chaos-helper', '-o', 'name'],
        f.env,
      ).status,
      0,
      "the chaos namespace's own Role stays",
    );
  },
);

test('abort(): every active fault ends now', { skip, timeout: 150_000 }, async () => {
  const uid = target(f).pods[0]!.uid;
  const before = netState(uid);
  const a = await inject('http-error', { status: 500, percent: 100, paths: ['/x'] }, 120_000);
  const b = await inject('packet-loss', { loss: 10, direction: 'outbound' }, 120_000);
  assert.equal((await mine()).length, 2);
  const t0 = Date.now();
  const r = await abort(f.kube, { experiment: f.ctx.experiment });
  console.log(`# abort() of two faults: ${Date.now() - t0} ms`);
  assert.deepEqual(r.failed, []);
  await Promise.all([a.ended, b.ended]);
  assert.deepEqual(await mine(), []);
  assert.equal(netState(uid), before);
  assert.equal((await get(f.nodePort, '/x')).status, 200);
});

test(
  'a Kubernetes-level fault: the watchdog restores at expiry; revert() restores now',
  { skip, timeout: 240_000 },
  async () => {
    const label = () =>
      kubectl(f.env, [
        '-n',
        ns,
        'get',
        'deploy',
        f.name,
        '-o',
        'jsonpath={.metadata.labels.chaos-test}',
      ]);
    const uid = kubectl(f.env, [
      '-n',
      ns,
      'get',
      'deploy',
      f.name,
      '-o',
      'jsonpath={.metadata.uid}',
    ]);
    const undo = [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: ns,
        name: f.name,
        patchType: 'merge' as const,
        restore: { metadata: { labels: { 'chaos-test': null } } },
        uid,
      },
    ];
    const apply = async () => {
      kubectl(f.env, ['-n', ns, 'label', 'deploy', f.name, 'chaos-test=on']);
      return Promise.resolve();
    };
    // Ends by its expiry: the watchdog (not this process) restores it.
    const a = await injectK8sFault(
      f.ctx,
      'test-label',
      target(f),
      undo,
      apply,
      4000,
      'label the Deployment',
    );
    assert.equal(label(), 'on');
    await a.ended;
    assert.equal(label(), '');
    assert.deepEqual(await mine(), []);
    // Ended early by revert().
    const b = await injectK8sFault(
      f.ctx,
      'test-label',
      target(f),
      undo,
      apply,
      60_000,
      'label the Deployment',
    );
    assert.equal(label(), 'on');
    const t0 = Date.now();
    await b.revert();
    console.log(`# Kubernetes-level revert(): ${Date.now() - t0} ms`);
    assert.equal(label(), '');
    await b.ended;
    assert.deepEqual(await mine(), []);
  },
);
