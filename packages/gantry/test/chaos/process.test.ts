// Process and container faults on the local cluster, end to end through the helper
// pod (helper/inject.ts -> the agent -> agent/ops/process.ts): one echo Deployment
// with limits behind a NodePort on 127.0.0.1. Measured: requests stall while the
// container is paused (freezer) or its process stopped and succeed after; a killed
// container is restarted once by the kubelet (reported); a pattern matching nothing
// is refused with the processes that do run. Afterwards the container's cgroups
// (freezer.state, processes), files and the Kubernetes objects are as before. The
// pause is also reverted from a fresh process (the agent's revert after its first
// helper died). Every wait is bounded; the namespace is deleted after.
import './stress-env.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { requireCluster, run, eventually } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import type { OpTarget } from '../../src/chaos/agent/op.js';
import type { ActiveFault, FaultParams } from '../../src/chaos/fault.js';
import { faultByKind } from '../../src/chaos/faults/index.js';
import { listRecords } from '../../src/chaos/undo-store.js';
import { get } from './chaos-fixture.js';
import {
  cgroupComms,
  cgroupValue,
  createVictim,
  loadAgent,
  revertInFreshProcess,
  victimObjects,
  victimPod,
  victimTarget,
} from './stress-host.js';
import type { Agent, Victim } from './stress-host.js';

const cluster = requireCluster();
const skip =
  typeof cluster === 'string'
    ? cluster
    : process.getuid?.() !== 0
      ? 'needs root on the node (the test reads the container cgroups)'
      : false;
const ns = `gantry-proc-${Date.now().toString(36)}`;
let v: Victim;
let agent: Agent;

before(
  async () => {
    if (skip) return;
    agent = await loadAgent();
    v = await createVictim(cluster as ClusterEnv, ns);
  },
  { timeout: 180_000 },
);

after(() => {
  if (skip) return;
  for (const e of v?.events ?? []) console.log(`# ${e}`);
  run('kubectl', ['delete', 'namespace', ns, '--wait=false'], cluster as ClusterEnv);
});

function onNode(): OpTarget {
  const p = victimPod(v);
  const t = agent.resolve(p.uid, p.containerId);
  assert.ok(t?.containerPid && t.cgroups?.freezer, 'the container resolved on the node');
  return t;
}

/** The container's cgroup state, files and objects, compared before and after. */
function state(): string {
  const t = onNode();
  return JSON.stringify({
    freezer: cgroupValue(t.cgroups!.freezer!, 'freezer.state'),
    procs: cgroupComms(t.cgroups!.memory!),
    stopped: /^State:\s*T/m.test(readFileSync(`/proc/${t.containerPid}/status`, 'utf8')),
    files: readdirSync(`/proc/${t.containerPid}/root`).sort(),
    objects: victimObjects(v),
  });
}

async function inject(
  kind: string,
  params: FaultParams,
  durationMs = 60_000,
): Promise<ActiveFault> {
  const def = faultByKind(kind);
  assert.ok(def, kind);
  const target = victimTarget(v);
  assert.deepEqual(await def.preflight(v.ctx, params, target), []);
  assert.ok(def.plan(params, target).length > 0);
  const t0 = performance.now();
  const a = await def.inject(v.ctx, params, target, durationMs);
  v.events.push(`${kind}: in effect ${Math.round(performance.now() - t0)} ms after inject`);
  return a;
}

/**
 * Waits (bounded) until the state is `before` again: a container stopped or frozen for
 * a while failed its readiness probe, and is Ready again a probe period after the end.
 */
async function asBefore(before: string): Promise<void> {
  let last = '';
  try {
    await eventually('the state as before the fault', 20_000, () => {
      last = state();
      return last === before ? true : undefined;
    });
  } catch {
    assert.equal(last, before);
  }
}

async function end(a: ActiveFault): Promise<void> {
  const t0 = performance.now();
  await a.revert();
  await a.ended;
  v.events.push(`${a.kind}: reverted ${Math.round(performance.now() - t0)} ms after revert()`);
  const left = (await listRecords(v.ctx.kube)).filter((r) => r.id === a.id);
  assert.deepEqual(left, [], 'no undo record left');
}

test(
  'container-pause: requests stall while frozen and succeed once thawed',
  { skip, timeout: 180_000 },
  async (t) => {
    const before = state();
    assert.equal((await get(v.nodePort, '/', 2000)).status, 200);
    const a = await inject('container-pause', {});
    try {
      const freezer = onNode().cgroups!.freezer!;
      assert.equal(cgroupValue(freezer, 'freezer.state'), 'FROZEN');
      const seen: string[] = [];
      const watch = setInterval(() => seen.push(cgroupValue(freezer, 'freezer.state')), 250);
      const stalled = await get(v.nodePort, '/', 1500);
      clearInterval(watch);
      t.diagnostic(`during the pause: ${JSON.stringify(stalled)}; freezer.state ${seen.join(' ')}`);
      assert.equal(stalled.status, 0, 'no answer from a frozen container');
    } finally {
      await end(a);
    }
    // Ready again one probe period after the thaw (the frozen container failed its probe).
    await eventually('an answer after the thaw', 20_000, async () =>
      (await get(v.nodePort, '/', 2000)).status === 200 ? true : undefined,
    );
    await asBefore(before);
  },
);

test(
  'container-pause is thawed by a revert in a fresh process',
  { skip, timeout: 60_000 },
  async () => {
    const before = state();
    const p = victimPod(v);
    const op = agent.op('container-pause');
    await op.apply(agent.ctx, onNode(), {});
    assert.equal(cgroupValue(onNode().cgroups!.freezer!, 'freezer.state'), 'FROZEN');
    revertInFreshProcess('container-pause', p.uid, p.containerId, {});
    assert.equal(cgroupValue(onNode().cgroups!.freezer!, 'freezer.state'), 'THAWED');
    // Reverting again (nothing left) is fine.
    revertInFreshProcess('container-pause', p.uid, p.containerId, {});
    assert.equal((await get(v.nodePort, '/', 2000)).status, 200);
    await asBefore(before);
  },
);

test(
  'process-stop: the echo process is stopped (requests stall), SIGCONT after',
  { skip, timeout: 180_000 },
  async (t) => {
    const before = state();
    const a = await inject('process-stop', { process: 'echo' });
    try {
      const st = readFileSync(`/proc/${onNode().containerPid}/status`, 'utf8').match(
        /^State:\s*(\S)/m,
      )?.[1];
      assert.equal(st, 'T', 'stopped');
      const stalled = await get(v.nodePort, '/', 1500);
      t.diagnostic(`while stopped: ${JSON.stringify(stalled)}`);
      assert.equal(stalled.status, 0);
    } finally {
      await end(a);
    }
    assert.equal((await get(v.nodePort, '/', 2000)).status, 200);
    await asBefore(before);
  },
);

test(
  'process-kill matching nothing is refused, naming what runs; nothing changes',
  { skip, timeout: 120_000 },
  async () => {
    const before = state();
    // The agent's reason, as its apply gives it (the helper reports it to inject).
    await assert.rejects(
      agent.op('process-kill').apply(agent.ctx, onNode(), { process: '/no-such-thing/' }),
      /no process of the container matches "\/no-such-thing\/" \(running: echo \(pid 1 in the container/,
    );
    const def = faultByKind('process-kill')!;
    await assert.rejects(
      def.inject(v.ctx, { process: '/no-such-thing/', signal: 'SIGKILL' }, victimTarget(v), 30_000),
      /process-kill/,
    );
    assert.deepEqual(
      (await listRecords(v.ctx.kube)).filter((r) => r.namespace === ns),
      [],
      'no undo record left',
    );
    await asBefore(before);
  },
);

test(
  'container-kill: the kubelet restarts the container once, and it is reported',
  { skip, timeout: 180_000 },
  async (t) => {
    const p0 = victimPod(v);
    const a = await inject('container-kill', {}, 5000);
    await end(a);
    const p1 = await eventually('the container running again', 60_000, () => {
      const p = victimPod(v);
      return p.running && p.restarts === p0.restarts + 1 ? p : undefined;
    });
    t.diagnostic(
      `restarts ${p0.restarts} -> ${p1.restarts}, last exit ${p1.lastExit} (${p1.lastReason})`,
    );
    assert.equal(p1.lastExit, 137);
    assert.deepEqual([p1.name, p1.uid], [p0.name, p0.uid], 'the same pod');
    assert.ok(
      v.events.some((e) =>
        /container victim of .* restarted by the kubelet \(restarts \d+ -> \d+\)/.test(e),
      ),
      v.events.join('\n'),
    );
    await eventually('answers again', 30_000, async () =>
      (await get(v.nodePort, '/', 2000)).status === 200 ? true : undefined,
    );
    assert.equal(cgroupValue(onNode().cgroups!.freezer!, 'freezer.state'), 'THAWED');
    assert.equal(cgroupComms(onNode().cgroups!.memory!), 'echo');
  },
);

test(
  'process-kill SIGTERM by name: echo exits cleanly, the container restarts',
  { skip, timeout: 180_000 },
  async (t) => {
    const p0 = victimPod(v);
    const a = await inject('process-kill', { process: 'echo', signal: 'SIGTERM' }, 5000);
    await end(a);
    const p1 = await eventually('the container running again', 60_000, () => {
      const p = victimPod(v);
      return p.running && p.restarts === p0.restarts + 1 ? p : undefined;
    });
    t.diagnostic(
      `restarts ${p0.restarts} -> ${p1.restarts}, last exit ${p1.lastExit} (${p1.lastReason})`,
    );
    assert.equal(p1.lastExit, 0, 'the echo server stops cleanly on SIGTERM');
    assert.equal(cgroupComms(onNode().cgroups!.memory!), 'echo');
  },
);
