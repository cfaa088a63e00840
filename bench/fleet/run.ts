// See run.sh. N copies of the echo fixture per contender, each contender in its own
// namespace (all N services of one contender share it): contenders never share objects
// (field managers, Helm's ownership annotations), and a handful of namespaces is cheap to
// create and delete on the shared node where N x 3 would not be. One namespace is also the
// harder case for gantry: every service's lock, history and watch lands in the same place.
//
// Round 0 deploys everything (not timed). Every timed round gives every service a new env
// value (ROUND), so every Deployment rolls, and runs the contenders one after another (order
// alternating, a random pause of up to 1 s before each). A Deployment watch per namespace in
// this process notes, per service, when the new spec landed and when its rollout was
// complete: the floor is the slowest of those rollouts in gantry's run (no tool that waits
// for every rollout can finish before it). A lone service ("single": server-side apply of
// the rendered objects from this process, then the watch) is measured the same way each
// round, for the rollout time of one service with nothing else rolling.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { Kube } from '../../packages/gantry/src/kube/client.js';
import { renderService } from '../../packages/gantry/src/render/index.js';
import { parseSpec } from '../../packages/gantry/src/spec/index.js';

const positive = (name: string, dflt: number, max: number): number => {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isInteger(v) || v < 1 || v > max) throw new Error(`${name}: 1..${max}, got ${v}`);
  return v;
};
const services = positive('BENCH_SERVICES', 50, 200);
const concurrency = positive('BENCH_CONCURRENCY', 10, 64);
const runs = positive('BENCH_RUNS', 3, 20);
const root = new URL('../../', import.meta.url).pathname;
const gantry = join(root, 'packages/gantry/bin/gantry.js');
const helm = process.env.HELM && process.env.HELM.length > 0 ? process.env.HELM : undefined;
/** Every namespace of this bench carries this label: a run deletes leftovers of earlier ones. */
const LABEL = 'gantry.dev/bench=fleet';
const id = Date.now().toString(36);
const work = mkdtempSync(join(tmpdir(), 'bench-fleet-'));
/** No single command or wait of the bench may take longer than this. */
const STEP_TIMEOUT_MS = 10 * 60_000;

function sh(cmd: string, args: string[], env: Record<string, string> = {}, cwd?: string): string {
  return execFileSync(cmd, args, {
    encoding: 'utf8',
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
    timeout: STEP_TIMEOUT_MS,
  });
}

/** As sh(), without blocking this process (its watches keep time while a contender runs). */
function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      cmd,
      args,
      { encoding: 'utf8', maxBuffer: 64 << 20, timeout: STEP_TIMEOUT_MS },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`))
          : resolve(stdout),
    ),
  );
}

/** Runs task(i) for i in [0, n), at most `limit` at once; the first failure rejects. */
async function pool(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

/**
 * bin/gantry.js runs the bundle only while it is newer than the last `tsc -b`; a compile
 * during the run silently measures the unbundled CLI.
 */
function assertBundleFresh(): void {
  const mtime = (rel: string) => statSync(join(root, 'packages/gantry', rel)).mtimeMs;
  if (mtime('bundle/main.cjs') < mtime('tsconfig.tsbuildinfo'))
    throw new Error('packages/gantry was compiled after its bundle was made: rerun');
}

const kube = Kube.load();

// The workload: the echo fixture, 1 replica, the smallest requests (the shared node's CPU
// requests are nearly all taken), readiness every second.
mkdirSync(join(work, 'rootfs'));
function buildEcho(): void {
  execFileSync(
    'go',
    ['build', '-trimpath', '-ldflags=-s -w', '-o', join(work, 'rootfs/echo'), '.'],
    {
      cwd: join(root, 'hack/cluster/test/fixtures/echo'),
      env: { ...process.env, CGO_ENABLED: '0' },
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: STEP_TIMEOUT_MS,
    },
  );
}
buildEcho();
const digest = sh(join(root, 'hack/cluster/cluster'), [
  'push-image',
  'bench/echo:1',
  join(work, 'rootfs'),
  '{"Entrypoint":["/echo"],"User":"65532:65532"}',
]).trim();
const image = `${process.env.GANTRY_REGISTRY}/bench/echo@${digest}`;

const svcName = (i: number) => `echo-${String(i + 1).padStart(3, '0')}`;

function specText(namespace: string, name: string, round: string): string {
  return `apiVersion: gantry.dev/v1alpha1
name: ${name}
namespace: ${namespace}
image: ${image}
replicas: 1
env: { NAME: ${name}, ROUND: "${round}" }
resources: { requests: { cpu: 1m, memory: 8Mi }, limits: { memory: 32Mi } }
probes:
  readiness: { path: /healthz, periodSeconds: 1 }
terminationGracePeriodSeconds: 2
`;
}

const nsOf = (contender: string) => `bench-fleet-${id}-${contender}`;

/** Deployments and pods of one namespace as a watch last saw them, and when. */
class Mirror<T extends { metadata?: { name?: string } }> {
  readonly objects = new Map<string, { obj: T; at: number }>();
  private readonly waiters = new Set<() => void>();
  /** Called after every event, until removed. */
  readonly listeners = new Set<() => void>();
  private stop: (() => void) | undefined;
  private closed = false;
  private restarts = 0;

  constructor(private readonly path: string) {}

  async start(): Promise<void> {
    this.stop = await kube.watch<T>(
      this.path,
      {},
      (type, obj) => {
        if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return;
        const name = obj.metadata?.name ?? '';
        if (type === 'DELETED') this.objects.delete(name);
        else this.objects.set(name, { obj, at: performance.now() });
        for (const w of this.waiters) w();
        for (const l of this.listeners) l();
      },
      // The server ends watches now and then: start again (bounded), after a pause.
      () => {
        if (this.closed || ++this.restarts > 1000) return;
        void sleep(200).then(() => (this.closed ? undefined : this.start()));
      },
    );
  }

  close(): void {
    this.closed = true;
    this.stop?.();
  }

  /** Resolves with what `test` returns once it returns something; rejects after timeoutMs. */
  until<R>(test: () => R | undefined, timeoutMs: number, what: string): Promise<R> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const r = test();
        if (r === undefined) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${what} (after ${timeoutMs / 1000} s)`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}

const complete = (d: V1Deployment) => {
  const st = d.status ?? {};
  return (
    (st.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    st.updatedReplicas === 1 &&
    st.replicas === 1 &&
    st.availableReplicas === 1
  );
};

interface Contender {
  namespace: string;
  count: number;
  deployments: Mirror<V1Deployment>;
  pods: Mirror<V1Pod>;
  /** Deploys every service of the contender with env ROUND=round. */
  deploy: (round: string) => Promise<void>;
}

function contender(name: string, count: number, deploy: Contender['deploy']): Contender {
  const namespace = nsOf(name);
  return {
    namespace,
    count,
    deployments: new Mirror(`/apis/apps/v1/namespaces/${namespace}/deployments`),
    pods: new Mirror(`/api/v1/namespaces/${namespace}/pods`),
    deploy,
  };
}

/** Per service of a round: when its new spec landed and when its rollout was complete. */
interface Rollouts {
  applied: Map<string, number>;
  done: Map<string, number>;
}

/** Notes, for every Deployment past its generation now, when the next one lands and completes. */
function noteRollouts(c: Contender): { rollouts: Rollouts; stop: () => void } {
  const before = new Map(
    [...c.deployments.objects].map(([n, s]) => [n, s.obj.metadata?.generation ?? 0]),
  );
  const rollouts: Rollouts = { applied: new Map(), done: new Map() };
  const check = () => {
    for (const [n, s] of c.deployments.objects) {
      if ((s.obj.metadata?.generation ?? 0) <= (before.get(n) ?? 0)) continue;
      if (!rollouts.applied.has(n)) rollouts.applied.set(n, s.at);
      if (!rollouts.done.has(n) && complete(s.obj)) rollouts.done.set(n, s.at);
    }
  };
  c.deployments.listeners.add(check);
  return { rollouts, stop: () => c.deployments.listeners.delete(check) };
}

/**
 * Resolves once every Deployment of the contender is complete and it has exactly one pod
 * per service, none being deleted (the next contender starts on a node that is not still
 * stopping the last one's pods), plus half a second for sandboxes to go.
 */
async function settled(c: Contender, round: number): Promise<void> {
  await c.deployments.until(
    () => {
      const ds = [...c.deployments.objects.values()];
      return ds.length === c.count && ds.every((d) => complete(d.obj)) ? true : undefined;
    },
    STEP_TIMEOUT_MS,
    `${c.namespace}: round ${round}: not every Deployment complete`,
  );
  await c.pods.until(
    () => {
      const ps = [...c.pods.objects.values()];
      return ps.length === c.count && !ps.some((p) => p.obj.metadata?.deletionTimestamp)
        ? true
        : undefined;
    },
    STEP_TIMEOUT_MS,
    `${c.namespace}: round ${round}: old pods still there`,
  );
  await sleep(500);
}

// --- the contenders ---------------------------------------------------------------

const contenders: Record<string, Contender> = {};
const gantrySpecs = join(work, 'gantry');
/** gantry's own per-service elapsedMs (-o json) of each timed round. */
const gantryElapsed: number[][] = [];

contenders.gantry = contender('gantry', services, async (round) => {
  const ns = nsOf('gantry');
  for (let i = 0; i < services; i++) {
    mkdirSync(join(gantrySpecs, svcName(i)), { recursive: true });
    writeFileSync(join(gantrySpecs, svcName(i), 'gantry.yaml'), specText(ns, svcName(i), round));
  }
  const out = await run(process.execPath, [
    gantry,
    '-o',
    'json',
    'deploy',
    '-f',
    gantrySpecs,
    '--concurrency',
    String(concurrency),
    '--timeout',
    '5m',
  ]);
  const r = JSON.parse(out) as {
    ok: boolean;
    services: { service: string; outcome: string; elapsedMs: number; message: string }[];
  };
  const bad = r.services.filter((s) => s.outcome !== 'deployed');
  if (!r.ok || bad.length || r.services.length !== services)
    throw new Error(`gantry deploy: ${JSON.stringify(bad.slice(0, 3))}`);
  if (round !== '0') gantryElapsed.push(r.services.map((s) => s.elapsedMs));
});

const charts = join(work, 'charts');
function helmUpgrade(ns: string, i: number, round: string): Promise<string> {
  return run(helm!, [
    'upgrade',
    '--install',
    svcName(i),
    join(charts, svcName(i)),
    '-n',
    ns,
    '--wait',
    '--timeout',
    '5m',
    '--set-string',
    `env.ROUND=${round}`,
  ]);
}
if (helm) {
  contenders['helm-seq'] = contender('helm-seq', services, async (round) => {
    for (let i = 0; i < services; i++) await helmUpgrade(nsOf('helm-seq'), i, round);
  });
  contenders['helm-par'] = contender('helm-par', services, async (round) => {
    await pool(services, concurrency, async (i) => {
      await helmUpgrade(nsOf('helm-par'), i, round);
    });
  });
}

contenders.single = contender('single', 1, async (round) => {
  const spec = parseSpec(specText(nsOf('single'), svcName(0), round));
  for (const o of renderService(spec)) await kube.apply(o);
  const c = contenders.single!;
  await c.deployments.until(
    () => {
      const d = c.deployments.objects.get(svcName(0))?.obj;
      return d &&
        d.spec?.template?.spec?.containers?.[0]?.env?.some(
          (e) => e.name === 'ROUND' && e.value === round,
        ) &&
        complete(d)
        ? true
        : undefined;
    },
    STEP_TIMEOUT_MS,
    'single: rollout',
  );
});

const only = process.env.BENCH_CONTENDERS?.split(',').filter(Boolean);
if (only) {
  for (const n of Object.keys(contenders)) if (!only.includes(n)) delete contenders[n];
  const missing = only.filter((n) => !contenders[n]);
  if (missing.length) throw new Error(`BENCH_CONTENDERS: no contender ${missing.join(', ')}`);
}

// --- the run ----------------------------------------------------------------------

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function deleteBenchNamespaces(wait: boolean): void {
  spawnSync(
    'kubectl',
    ['delete', 'namespace', '-l', LABEL, `--wait=${wait}`, '--timeout=300s', '--ignore-not-found'],
    { stdio: 'ignore', timeout: 320_000 },
  );
}

function machineLoad(): string {
  const pods = sh('kubectl', ['get', 'pods', '-A', '--no-headers']).trim().split('\n').length;
  const cpu = sh('sh', [
    '-c',
    'kubectl describe node | awk \'/Allocated resources/{a=1} a && $1=="cpu"{print $2" "$3; exit}\'',
  ]).trim();
  return `load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}, ${pods} pods on the node, CPU requests ${cpu}`;
}

async function main(): Promise<void> {
  // Leftovers of an earlier run (interrupted before its own clean-up) go first.
  deleteBenchNamespaces(true);
  const names = Object.keys(contenders);
  const loadBefore = machineLoad();
  process.stderr.write(
    `bench/fleet: ${services} services, concurrency ${concurrency}, ${runs} runs; ${loadBefore}\n`,
  );
  for (const c of Object.values(contenders)) {
    await kube.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: c.namespace, labels: { 'gantry.dev/bench': 'fleet' } },
    });
    await c.deployments.start();
    await c.pods.start();
  }
  if (helm) {
    // One chart per service, written by gantry chart from the same spec (not timed).
    await pool(services, concurrency, async (i) => {
      const spec = join(work, 'chart-specs', `${svcName(i)}.yaml`);
      mkdirSync(join(work, 'chart-specs'), { recursive: true });
      writeFileSync(spec, specText('default', svcName(i), '0'));
      await run(process.execPath, [gantry, 'chart', '-f', spec, '--out', join(charts, svcName(i))]);
    });
  }
  // Round 0: everything deployed once, not timed (helm-seq with concurrency too: it is
  // only the warm-up).
  const t0 = performance.now();
  for (const n of names) {
    if (n === 'helm-seq')
      await pool(services, concurrency, async (i) => {
        await helmUpgrade(nsOf('helm-seq'), i, '0');
      });
    else await contenders[n]!.deploy('0');
    await settled(contenders[n]!, 0);
  }
  process.stderr.write(`warm-up: ${s(performance.now() - t0)}\n`);

  const wall: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  /** Per contender and round: the slowest and the median per-service rollout (watch). */
  const slowest: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const typical: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 1; i <= runs; i++) {
    const order = i % 2 ? names : [...names].reverse();
    for (const n of order) {
      const c = contenders[n]!;
      const note = noteRollouts(c);
      await sleep(Math.random() * 1000);
      const t = performance.now();
      await c.deploy(String(i));
      wall[n]!.push(performance.now() - t);
      await settled(c, i);
      note.stop();
      const per = [...note.rollouts.done].map(([d, at]) => at - note.rollouts.applied.get(d)!);
      if (per.length !== c.count)
        throw new Error(`${n}: round ${i}: ${per.length} of ${c.count} rollouts seen`);
      slowest[n]!.push(Math.max(...per));
      typical[n]!.push(median(per));
    }
    assertBundleFresh();
    const el = gantryElapsed.at(-1);
    process.stderr.write(
      `run ${i}/${runs}: ${order.map((n) => `${n} ${s(wall[n]!.at(-1)!)}`).join('  ')}` +
        (slowest.gantry ? `  (floor ${s(slowest.gantry.at(-1)!)})` : '') +
        (el ? `  gantry per service: median ${s(median(el))}, slowest ${s(Math.max(...el))}` : '') +
        '\n',
    );
  }
  const loadAfter = machineLoad();

  const med = (n: string) => median(wall[n] ?? []);
  const cpu = sh('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]).trim();
  console.log(
    `\nbench/fleet — ${new Date().toISOString()} — ${services} services, concurrency ${concurrency}, ` +
      `${runs} runs, ${cpu}, ${sh('nproc', []).trim()} cores`,
  );
  console.log(`before: ${loadBefore}\nafter:  ${loadAfter}\n`);
  console.log(
    'contender   median wall (min .. max)      per-service rollout, median of runs: median / slowest',
  );
  const label: Record<string, string> = {
    gantry: `gantry deploy -f DIR --concurrency ${concurrency}`,
    'helm-seq': 'helm upgrade --install --wait, one after another',
    'helm-par': `helm upgrade --install --wait, ${concurrency} at a time`,
    single: 'one service alone: server-side apply + watch',
  };
  for (const n of names) {
    const xs = wall[n]!;
    console.log(
      `${n.padEnd(12)}${s(med(n)).padStart(8)} (${s(Math.min(...xs))} .. ${s(Math.max(...xs))})`.padEnd(
        42,
      ) +
        `${s(median(typical[n]!)).padStart(8)} / ${s(median(slowest[n]!))}`.padEnd(22) +
        `  ${label[n]}`,
    );
  }
  if (gantryElapsed.length) {
    const maxEl = gantryElapsed.map((r) => Math.max(...r));
    const medEl = gantryElapsed.map((r) => median(r));
    console.log(
      `\ngantry -o json per-service elapsedMs (its whole deploy of one service), median of runs: ` +
        `median ${s(median(medEl))}, slowest ${s(median(maxEl))}`,
    );
  }
  const g = med('gantry');
  if (Number.isNaN(g)) return;
  const floor = median(slowest.gantry!);
  console.log(
    `\nfloor (the slowest single rollout in gantry's run, from its apply to ready) = ${s(floor)}`,
  );
  console.log(`gantry / floor           = ${(g / floor).toFixed(2)}   (target <= 2)`);
  if (wall.single?.length) {
    const one = median(wall.single);
    const waves = Math.ceil(services / concurrency);
    console.log(
      `gantry / single rollout  = ${(g / one).toFixed(2)}   (one service alone ${s(one)}; ` +
        `${services} services ${concurrency} at a time is ${waves} wave${waves === 1 ? '' : 's'}: ${waves} x ${s(one)} = ${s(waves * one)})`,
    );
  }
  if (wall['helm-seq']?.length)
    console.log(`gantry / helm sequential = ${(g / med('helm-seq')).toFixed(2)}   (target <= 0.2)`);
  if (wall['helm-par']?.length)
    console.log(`gantry / helm ${concurrency} at a time = ${(g / med('helm-par')).toFixed(2)}`);
  if (!helm) console.log('helm: not built (hack/tools/build-helm.sh missing); skipped');
}

try {
  await main();
} finally {
  for (const c of Object.values(contenders)) {
    c.deployments.close();
    c.pods.close();
  }
  deleteBenchNamespaces(true);
  rmSync(work, { recursive: true, force: true });
}
