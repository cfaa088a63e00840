// Stress faults on the local cluster, through the agent's ops run on the node (the
// tests run as root on it; stress-host.ts resolves the container as the helper does):
// one echo Deployment with limits (0.5 CPU, 128 MiB, an emptyDir of 256 MiB and a
// 64 MiB tmpfs). For each fault its measured effect — the container's cpuacct usage
// rate, its memcg usage, the fio processes' writes, the volume's fill — and afterwards
// the container's cgroups (only the echo process), its files and the Kubernetes
// objects as they were before. Every wait is bounded; the namespace is deleted after.
import './stress-env.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually, requireCluster, run } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import type { OpTarget } from '../../src/chaos/agent/op.js';
import type { ActiveFault, FaultParams } from '../../src/chaos/fault.js';
import { faultByKind } from '../../src/chaos/faults/index.js';
import { listRecords } from '../../src/chaos/undo-store.js';
import {
  cgroupComms,
  cgroupValue,
  cpuUsageNs,
  createVictim,
  loadAgent,
  marked,
  victimObjects,
  victimPod,
  victimTarget,
} from './stress-host.js';
import type { Agent, Victim } from './stress-host.js';
import { postFault as postFaultTo } from './chaos-fixture.js';

const cluster = requireCluster();
const skip =
  typeof cluster === 'string'
    ? cluster
    : process.getuid?.() !== 0
      ? 'needs root on the node (the host-side harness reads and writes its cgroups)'
      : false;
const ns = `gantry-stress-${Date.now().toString(36)}`;
const MiB = 1024 * 1024;
let v: Victim;
let agent: Agent;
let seq = 0;

const pod = () => victimPod(v);

function target(): OpTarget {
  const p = pod();
  const t = agent.resolve(p.uid, p.containerId);
  assert.ok(t?.containerPid && t.cgroups?.memory, `container of ${p.name} resolved on the node`);
  return t;
}

/** What must be as before after a fault: cgroup processes, freezer, files, objects. */
function state(t: OpTarget): string {
  const root = `/proc/${t.containerPid}/root`;
  return JSON.stringify({
    procs: cgroupComms(t.cgroups!.memory!),
    cpu: cgroupComms(t.cgroups!.cpu!),
    freezer: cgroupValue(t.cgroups!.freezer!, 'freezer.state'),
    files: [root, `${root}/scratch`, `${root}/mem`].map((d) => readdirSync(d).sort()),
    objects: victimObjects(v),
  });
}

/** The node's load average: CPU rates are only as good as the CPU the node has free. */
const loadavg = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

/**
 * Asserts a CPU rate within ±20 % of `wanted` cores. On a node whose run queue is longer
 * than its CPUs (other work running), stress-ng's duty cycle cannot get the CPU it asks
 * for: then only a clear rise is asserted, and the diagnostic says so.
 */
function assertCpu(
  t: { diagnostic: (m: string) => void },
  rate: number,
  wanted: number,
  baseline: number,
) {
  const load = loadavg();
  t.diagnostic(
    `cpuacct usage rate ${rate.toFixed(3)} cores (wanted ${wanted}, idle ${baseline.toFixed(3)}), load average ${load}`,
  );
  if (load > cpus().length * 1.5) {
    t.diagnostic(
      `node oversubscribed (load ${load} on ${cpus().length} CPUs): only a rise is checked`,
    );
    assert.ok(
      rate > baseline + 0.02,
      `usage ${rate.toFixed(3)} cores, idle ${baseline.toFixed(3)}`,
    );
    return;
  }
  assert.ok(
    Math.abs(rate - wanted) <= 0.2 * wanted,
    `usage ${rate.toFixed(3)} cores, not ${wanted} ±20%`,
  );
}

async function rateOver(cpuacct: string, ms: number): Promise<number> {
  const u0 = cpuUsageNs(cpuacct);
  const t0 = process.hrtime.bigint();
  await sleep(ms);
  return (cpuUsageNs(cpuacct) - u0) / Number(process.hrtime.bigint() - t0);
}

const marker = () => `t-${Date.now().toString(36)}-${++seq}`;

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

async function inject(
  kind: string,
  params: FaultParams,
  durationMs = 60_000,
): Promise<ActiveFault> {
  const def = faultByKind(kind);
  assert.ok(def, kind);
  const t = victimTarget(v);
  assert.deepEqual(await def.preflight(v.ctx, params, t), []);
  const t0 = performance.now();
  const a = await def.inject(v.ctx, params, t, durationMs);
  v.events.push(`${kind}: in effect ${Math.round(performance.now() - t0)} ms after inject`);
  return a;
}

async function end(a: ActiveFault): Promise<void> {
  const t0 = performance.now();
  await a.revert();
  await a.ended;
  v.events.push(`${a.kind}: reverted ${Math.round(performance.now() - t0)} ms after revert()`);
  assert.deepEqual(
    (await listRecords(v.ctx.kube)).filter((r) => r.id === a.id),
    [],
    'no undo record left',
  );
}

test(
  'cpu-hog: the container uses 80% of its 0.5-CPU limit, then nothing is left',
  { skip, timeout: 60_000 },
  async (t) => {
    const tg = target();
    const before = state(tg);
    const idle = await rateOver(tg.cgroups!.cpuacct!, 1000);
    const args = { marker: marker(), load: 80, durationMs: 30_000 };
    const op = agent.op('cpu-hog');
    assert.deepEqual(await op.check(agent.ctx, tg, args), []);
    await op.apply(agent.ctx, tg, args);
    try {
      await sleep(1000);
      const cpuacct = tg.cgroups!.cpuacct!;
      assertCpu(t, await rateOver(cpuacct, 3000), 0.4, idle);
      assert.ok(marked(args.marker).length >= 2, 'stress-ng runs marked');
    } finally {
      await op.revert(agent.ctx, tg, args);
    }
    assert.deepEqual(marked(args.marker), []);
    assert.equal(state(tg), before);
  },
);

test(
  'cpu-hog: 0.3 of a core by --cores on top of the limit, and the agent expires it by itself',
  { skip, timeout: 60_000 },
  async (t) => {
    const tg = target();
    const before = state(tg);
    const idle = await rateOver(tg.cgroups!.cpuacct!, 1000);
    // 2 s: stress-ng's own --timeout (the duration + 1 s) ends it with nobody reverting.
    const args = { marker: marker(), load: 100, cores: 0.3, durationMs: 3000 };
    const op = agent.op('cpu-hog');
    await op.apply(agent.ctx, tg, args);
    let expired = false;
    try {
      await sleep(500);
      const cpuacct = tg.cgroups!.cpuacct!;
      assertCpu(t, await rateOver(cpuacct, 2000), 0.3, idle);
      expired = await eventually('stress-ng to end by its own timeout', 6000, () =>
        marked(args.marker).length === 0 ? true : undefined,
      );
    } finally {
      if (!expired) await op.revert(agent.ctx, tg, args);
    }
    assert.equal(state(tg), before);
  },
);

test(
  'memory-hog: the memcg usage rises by 40% of the 128 MiB limit and falls back',
  { skip, timeout: 60_000 },
  async (t) => {
    const tg = target();
    const before = state(tg);
    const memory = tg.cgroups!.memory!;
    const usage = () => Number(cgroupValue(memory, 'memory.usage_in_bytes'));
    const u0 = usage();
    const args = { marker: marker(), percent: 40, durationMs: 30_000 };
    const op = agent.op('memory-hog');
    assert.deepEqual(await op.check(agent.ctx, tg, args), []);
    await op.apply(agent.ctx, tg, args);
    try {
      const wanted = 0.4 * 128 * MiB;
      const rise = usage() - u0;
      t.diagnostic(
        `memory.usage_in_bytes +${(rise / MiB).toFixed(1)} MiB (wanted ${wanted / MiB} MiB)`,
      );
      assert.ok(Math.abs(rise - wanted) <= 0.2 * wanted, `rise ${rise} not ${wanted} ±20%`);
      await sleep(1000);
      const held = usage() - u0;
      assert.ok(Math.abs(held - wanted) <= 0.2 * wanted, `held ${held} for the duration`);
    } finally {
      await op.revert(agent.ctx, tg, args);
    }
    assert.deepEqual(marked(args.marker), []);
    assert.ok(usage() - u0 < 4 * MiB, 'the memory is given back');
    assert.equal(state(tg), before);
  },
);

/** POST /fault?QUERY to the victim (the echo fixture's switches: memoryMiB holds memory). */
const postFault = (query: string) => postFaultTo(v.nodePort, query);

const oomKills = (memory: string) =>
  Number(/^oom_kill (\d+)$/m.exec(cgroupValue(memory, 'memory.oom_control'))?.[1]);

test(
  'memory-hog up to the limit: the app growing past it is never OOM-killed, the hog makes way',
  { skip, timeout: 90_000 },
  async (t) => {
    const p0 = pod();
    const tg = target();
    const before = state(tg);
    const memory = tg.cgroups!.memory!;
    const k0 = oomKills(memory);
    const args = { marker: marker(), bytes: 64 * MiB, durationMs: 30_000 };
    const op = agent.op('memory-hog');
    assert.deepEqual(await op.check(agent.ctx, tg, args), []);
    await op.apply(agent.ctx, tg, args);
    // The pod's memcg has the same limit (the sum of its containers'): it is reached first.
    const podMemcg = dirname(memory);
    try {
      assert.match(cgroupValue(memory, 'memory.oom_control'), /^oom_kill_disable 1$/m);
      assert.match(cgroupValue(podMemcg, 'memory.oom_control'), /^oom_kill_disable 1$/m);
      const hog = marked(args.marker);
      assert.ok(hog.length >= 2, 'stress-ng holds the memory');
      for (const pid of hog)
        assert.equal(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim(), '1000');
      // The app grows by 96 MiB: with the hog's 64 MiB, past the 128 MiB limit.
      const t0 = Date.now();
      assert.equal(await postFault('memoryMiB=96'), 200, 'the app got its memory');
      t.diagnostic(`the app's 96 MiB allocation returned after ${Date.now() - t0} ms`);
      await eventually('the hog gone', 10_000, () =>
        marked(args.marker).length === 0 ? true : undefined,
      );
      assert.equal(oomKills(memory), k0, 'the OOM killer killed nothing');
      // The agent clears the flag once the hog is gone: a moment after the test sees it gone.
      await eventually('oom_kill_disable cleared', 2_000, () =>
        /^oom_kill_disable 0$/m.test(cgroupValue(memory, 'memory.oom_control')) ? true : undefined,
      );
      const p1 = pod();
      assert.deepEqual([p1.containerId, p1.restarts], [p0.containerId, p0.restarts], 'no restart');
    } finally {
      await postFault('memoryMiB=0').catch(() => 0);
      await op.revert(agent.ctx, tg, args);
    }
    assert.deepEqual(marked(args.marker), []);
    assert.match(cgroupValue(memory, 'memory.oom_control'), /^oom_kill_disable 0$/m);
    assert.match(cgroupValue(podMemcg, 'memory.oom_control'), /^oom_kill_disable 0$/m);
    assert.equal(state(tg), before);
  },
);

test(
  'memory-hog past the limit without oom is refused before anything starts',
  { skip, timeout: 30_000 },
  async () => {
    const tg = target();
    const before = state(tg);
    const args = { marker: marker(), percent: 100, durationMs: 10_000 };
    await assert.rejects(
      agent.op('memory-hog').apply(agent.ctx, tg, args),
      /would pass its limit 128 MiB .*oom: true/,
    );
    assert.deepEqual(marked(args.marker), []);
    assert.equal(state(tg), before);
  },
);

test(
  'io-stress: fio writes into the container writable layer; its directory is removed',
  { skip, timeout: 60_000 },
  async (t) => {
    const tg = target();
    const before = state(tg);
    const args = { marker: marker(), mode: 'write', size: 32 * MiB, durationMs: 30_000 };
    const op = agent.op('io-stress');
    assert.deepEqual(await op.check(agent.ctx, tg, args), []);
    await op.apply(agent.ctx, tg, args);
    const dir = `/proc/${tg.containerPid}/root/.gantry-chaos-${args.marker}`;
    try {
      const written = () =>
        marked(args.marker).reduce((sum, p) => {
          try {
            return (
              sum + Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${p}/io`, 'utf8'))?.[1] ?? 0)
            );
          } catch {
            return sum;
          }
        }, 0);
      const w0 = written();
      await sleep(2000);
      const rate = (written() - w0) / 2 / MiB;
      t.diagnostic(`fio writes ${rate.toFixed(0)} MiB/s into ${dir}`);
      assert.ok(rate > 5, `fio wrote ${rate} MiB/s`);
      assert.ok(existsSync(dir), 'the files are in the container root');
      const inCgroup = cgroupComms(tg.cgroups!.memory!);
      assert.match(inCgroup, /fio/, 'fio runs in the container cgroup');
    } finally {
      await op.revert(agent.ctx, tg, args);
    }
    assert.ok(!existsSync(dir), `${dir} removed`);
    assert.deepEqual(marked(args.marker), []);
    assert.equal(state(tg), before);
  },
);

test(
  'disk-fill: the emptyDir reaches 50% of its 256 MiB limit, the tmpfs 50% of 64 MiB; both emptied',
  { skip, timeout: 60_000 },
  async (t) => {
    const tg = target();
    const before = state(tg);
    const op = agent.op('disk-fill');
    const root = `/proc/${tg.containerPid}/root`;
    const du = (dir: string) =>
      Number(run('du', ['-sb', '--apparent-size', dir], v.env).stdout.split('\t')[0]);
    const disk = {
      marker: marker(),
      path: '/scratch',
      percent: 50,
      sizeLimit: 256 * MiB,
      durationMs: 30_000,
    };
    const mem = { marker: marker(), path: '/mem', percent: 50, durationMs: 30_000 };
    assert.deepEqual(await op.check(agent.ctx, tg, disk), []);
    await op.apply(agent.ctx, tg, disk);
    await op.apply(agent.ctx, tg, mem);
    try {
      const scratch = du(`${root}/scratch`);
      t.diagnostic(`/scratch holds ${(scratch / MiB).toFixed(1)} MiB (wanted 128)`);
      assert.ok(Math.abs(scratch - 128 * MiB) <= 2 * MiB, `scratch ${scratch}`);
      const fs = statfsSync(`${root}/mem`);
      const used = (fs.blocks - fs.bfree) / fs.blocks;
      t.diagnostic(`/mem is ${(used * 100).toFixed(1)}% full (wanted 50%)`);
      assert.ok(Math.abs(used - 0.5) <= 0.02, `mem ${used}`);
    } finally {
      await op.revert(agent.ctx, tg, mem);
      await op.revert(agent.ctx, tg, disk);
    }
    assert.ok(du(`${root}/scratch`) < MiB);
    assert.equal(state(tg), before);
  },
);

test(
  "disk-fill refuses what would fill the node's root filesystem past its cap",
  { skip, timeout: 30_000 },
  async () => {
    const tg = target();
    const before = state(tg);
    const op = agent.op('disk-fill');
    // The writable layer has no size limit: 50% of the node's disk is refused by the cap.
    const whole = { marker: marker(), path: '/', percent: 50, durationMs: 10_000 };
    const [why] = await op.check(agent.ctx, tg, whole);
    assert.match(why ?? '', /on the node's root filesystem is above the safety cap of 1024 MiB/);
    await assert.rejects(op.apply(agent.ctx, tg, whole), /safety cap/);
    const big = { marker: marker(), path: '/scratch', bytes: 2048 * MiB, durationMs: 10_000 };
    await assert.rejects(op.apply(agent.ctx, tg, big), /2048 MiB .* above the safety cap/);
    assert.equal(state(tg), before);
  },
);

test(
  'checks name what the node lacks (no stress-ng, no memory limit for a percent)',
  { skip, timeout: 30_000 },
  async () => {
    const tg = target();
    const missing = {
      ...agent.ctx,
      run: (file: string, args: string[]) =>
        file === 'stress-ng'
          ? Promise.resolve({ code: 127, stdout: '', stderr: 'not found' })
          : agent.ctx.run(file, args),
    };
    const why = await agent
      .op('cpu-hog')
      .check(missing, tg, { marker: 'x', load: 50, durationMs: 1000 });
    assert.deepEqual(why, [
      'stress-ng is not installed in the helper image (stress-ng --version failed)',
    ]);
    // A container without a memory limit: its cgroups with memory.limit_in_bytes of the root.
    const unlimited: OpTarget = {
      ...tg,
      cgroups: { ...tg.cgroups, memory: '/sys/fs/cgroup/memory' },
    };
    const why2 = await agent
      .op('memory-hog')
      .check(agent.ctx, unlimited, { marker: 'x', percent: 50, durationMs: 1000 });
    assert.deepEqual(why2, [
      'the container has no memory limit: give the amount in bytes (--bytes)',
    ]);
  },
);

test(
  'through the helper: cpu-hog at 50% of the limit and memory-hog of 32 MiB at once',
  { skip, timeout: 180_000 },
  async (t) => {
    const tg = target();
    const before = state(tg);
    const memory = tg.cgroups!.memory!;
    const usage = () => Number(cgroupValue(memory, 'memory.usage_in_bytes'));
    const idle = await rateOver(tg.cgroups!.cpuacct!, 1000);
    const cpu = await inject('cpu-hog', { load: 50 });
    let mem: ActiveFault | undefined;
    try {
      // The memory baseline with the CPU workers (their own few MiB) already running.
      const u0 = usage();
      mem = await inject('memory-hog', { bytes: 32 * MiB, oom: false });
      await sleep(500);
      assertCpu(t, await rateOver(tg.cgroups!.cpuacct!, 3000), 0.25, idle);
      const rise = usage() - u0;
      t.diagnostic(`memory.usage_in_bytes +${(rise / MiB).toFixed(1)} MiB (wanted 32 MiB)`);
      assert.ok(Math.abs(rise - 32 * MiB) <= 0.2 * 32 * MiB, `rise ${rise}`);
      assert.match(cgroupComms(memory), /stress-ng/);
    } finally {
      await Promise.all([end(cpu), ...(mem ? [end(mem)] : [])]);
    }
    assert.equal(state(tg), before);
  },
);

test(
  'through the helper: io-stress writes in the writable layer, disk-fill fills the volume to 25%',
  { skip, timeout: 180_000 },
  async (t) => {
    const tg = target();
    const before = state(tg);
    const root = `/proc/${tg.containerPid}/root`;
    const du = (dir: string) =>
      Number(run('du', ['-sb', '--apparent-size', dir], v.env).stdout.split('\t')[0]);
    const [io, fill] = await Promise.all([
      inject('io-stress', { mode: 'write', workers: 1, size: 16 * MiB, path: '/' }),
      inject('disk-fill', { volume: 'scratch', 'fill-percent': 25, 'max-node-fill': 1024 * MiB }),
    ]);
    try {
      const dirs = readdirSync(root).filter((n) => n.startsWith('.gantry-chaos-io-'));
      assert.equal(dirs.length, 1, 'the io-stress directory in the writable layer');
      const written = du(`${root}/${dirs[0]}`);
      t.diagnostic(`io-stress: ${(written / MiB).toFixed(0)} MiB in ${dirs[0]}`);
      assert.ok(written > 0);
      assert.match(cgroupComms(tg.cgroups!.memory!), /fio/);
      const scratch = du(`${root}/scratch`);
      t.diagnostic(`/scratch holds ${(scratch / MiB).toFixed(1)} MiB (wanted 64 of 256)`);
      assert.ok(Math.abs(scratch - 64 * MiB) <= 2 * MiB, `scratch ${scratch}`);
    } finally {
      await Promise.all([end(io), end(fill)]);
    }
    assert.equal(state(tg), before);
  },
);

test(
  'helper force-deleted mid cpu-hog: stress-ng ends within the duration, the record is cleaned up',
  { skip, timeout: 180_000 },
  async (t) => {
    const tg = target();
    const before = state(tg);
    const a = await inject('cpu-hog', { load: 40 }, 6000);
    const helpers = run(
      'kubectl',
      ['-n', 'gantry-chaos', 'get', 'pods', '-o', 'name', '-l', `gantry.dev/chaos-record=${a.id}`],
      v.env,
    ).stdout.trim();
    const t0 = Date.now();
    // The agent is SIGKILLed and reverts nothing. stress-ng is not in its cgroup: it ends
    // by its parent-death signal (stress-ng sets one), at the latest by its --timeout.
    run(
      'kubectl',
      [
        '-n',
        'gantry-chaos',
        'delete',
        '--force',
        '--grace-period=0',
        ...helpers.split('\n').filter(Boolean),
      ],
      v.env,
    );
    await eventually("stress-ng to end by the fault's expiry", 9000, () =>
      /stress-ng/.test(cgroupComms(tg.cgroups!.memory!)) ? undefined : true,
    );
    t.diagnostic(
      `stress-ng gone ${Date.now() - t0} ms after the helper was force-deleted (fault 6 s)`,
    );
    await a.ended;
    assert.deepEqual(
      (await listRecords(v.ctx.kube)).filter((r) => r.id === a.id),
      [],
      'the record was reverted and deleted by a revert helper',
    );
    assert.equal(state(tg), before);
  },
);

test(
  'through the helper: memory-hog --oom, the OOM killer acts in the container memcg; nothing left',
  { skip, timeout: 180_000 },
  async (t) => {
    const p0 = pod();
    const tg = target();
    const kills = () => {
      try {
        return Number(
          /^oom_kill (\d+)$/m.exec(cgroupValue(tg.cgroups!.memory!, 'memory.oom_control'))?.[1],
        );
      } catch {
        return Infinity; // the container was killed and its cgroup removed
      }
    };
    const k0 = kills();
    const a = await inject('memory-hog', { 'percent-of-limit': 50, oom: true }, 5000);
    assert.ok(kills() > k0, 'the OOM killer acted in the container memcg');
    await end(a);
    const p1 = await eventually('the container restarted and running', 60_000, () => {
      const p = pod();
      return p.running && p.restarts > p0.restarts ? p : undefined;
    });
    // The hog at the lowest oom_score_adj the helper may give it: the container, not the
    // hog, is the OOM killer's victim (a Burstable pod at 999 here).
    t.diagnostic(`restarts ${p0.restarts} -> ${p1.restarts}, last state ${p1.lastReason ?? '-'}`);
    assert.equal(p1.lastReason, 'OOMKilled');
    const t1 = agent.resolve(p1.uid, p1.containerId);
    // A hog the OOM killer chose may still be exiting: bounded wait.
    await eventually('no stress-ng left in the container', 10_000, () =>
      cgroupComms(t1!.cgroups!.memory!) === 'echo' ? true : undefined,
    );
    assert.deepEqual([p1.name, p1.uid], [p0.name, p0.uid], 'the same pod');
  },
);

// Last: it restarts the container.
test(
  'memory-hog oom: the OOM killer kills the container (OOMKilled, one restart), nothing left',
  { skip, timeout: 90_000 },
  async (t) => {
    const p0 = pod();
    const tg = target();
    const args = { marker: marker(), percent: 50, oom: true, durationMs: 30_000 };
    const op = agent.op('memory-hog');
    await op.apply(agent.ctx, tg, args);
    const p1 = await eventually('the container restarted', 60_000, () => {
      const p = pod();
      return p.restarts === p0.restarts + 1 && p.containerId !== p0.containerId ? p : undefined;
    });
    t.diagnostic(`restarts ${p0.restarts} -> ${p1.restarts}, last state ${p1.lastReason}`);
    assert.equal(p1.lastReason, 'OOMKilled');
    await op.revert(agent.ctx, agent.resolve(p1.uid, p1.containerId), args);
    assert.deepEqual(marked(args.marker), []);
    const t1 = await eventually('the new container on the node', 30_000, () => {
      const x = agent.resolve(p1.uid, p1.containerId);
      return x?.containerPid ? x : undefined;
    });
    assert.equal(cgroupComms(t1.cgroups!.memory!), 'echo');
    assert.ok(!existsSync(tg.cgroups!.memory!), "the old container's cgroup is gone");
    assert.deepEqual([p1.name, p1.uid], [p0.name, p0.uid], 'the same pod');
  },
);
