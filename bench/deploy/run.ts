// See run.sh. Every contender deploys its own copy of the same service (names differ so that
// field ownership never mixes) with the same change each round: a new env value, which rolls
// all pods. Contenders alternate within each round.
//
// Besides the medians it prints where the time goes: gantry's own stages (from its
// `-o json` timings; the rest of its wall time is process start, module load, spec and
// kubeconfig reading) and what the limit is made of (a pod watch beside the limit's
// rollout: apply, pods created, containers running, readiness probe passing, rollout
// complete). For every contender a Deployment watch in this process notes when the new
// spec reaches the API server and when the rollout is complete, which splits its wall time
// into: before the apply lands | the rollout itself | after the rollout is complete. The
// rollout varies most from round to round (pod start-up on a shared node); the two outer
// parts are the tool's own cost. BENCH_GANTRY_REF=/path/to/other/bin/gantry.js adds that
// build as a contender ("gantry-ref", e.g. an older commit), for before/after under the
// same load.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { Kube } from '../../packages/gantry/src/kube/client.js';
import { renderService, toYaml } from '../../packages/gantry/src/render/index.js';
import { parseSpec } from '../../packages/gantry/src/spec/index.js';

const runs = Number(process.env.BENCH_RUNS ?? 10);
const replicas = Number(process.env.BENCH_REPLICAS ?? 3);
const root = new URL('../../', import.meta.url).pathname;
const gantry = join(root, 'packages/gantry/bin/gantry.js');

/**
 * bin/gantry.js runs the bundle only while it is newer than the last `tsc -b`; a compile
 * during the run (an editor's, another terminal's) silently measures the unbundled CLI.
 */
function assertBundleFresh(): void {
  const mtime = (rel: string) => statSync(join(root, 'packages/gantry', rel)).mtimeMs;
  if (mtime('bundle/main.cjs') < mtime('tsconfig.tsbuildinfo'))
    throw new Error(
      'packages/gantry was compiled (tsc -b) after its bundle was made, so gantry ran from ' +
        'dist/, not the bundle: these figures do not describe `npm run build` output; rerun',
    );
}
const ns = `bench-deploy-${Date.now().toString(36)}`;
const work = mkdtempSync(join(tmpdir(), 'bench-deploy-'));
const helm = process.env.HELM && process.env.HELM.length > 0 ? process.env.HELM : undefined;
const gantryRef = process.env.BENCH_GANTRY_REF || undefined;

function sh(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): string {
  return execFileSync(cmd, args, {
    encoding: 'utf8',
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 32 << 20,
  });
}

/** As sh(), without blocking this process (its watches keep time while a contender runs). */
function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { encoding: 'utf8', maxBuffer: 32 << 20 }, (err, stdout, stderr) =>
      err
        ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`))
        : resolve(stdout),
    ),
  );
}

// The workload: the echo fixture (starts in milliseconds, so tool overhead is visible). Small
// resource requests, so that the pods of four contenders (and their surge) fit on the one
// shared node beside whatever else runs there; the requests only matter to the scheduler.
mkdirSync(join(work, 'rootfs'));
sh('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', join(work, 'rootfs/echo'), '.'], {
  cwd: join(root, 'hack/cluster/test/fixtures/echo'),
  env: { CGO_ENABLED: '0' },
});
const digest = sh(join(root, 'hack/cluster/cluster'), [
  'push-image',
  'bench/echo:1',
  join(work, 'rootfs'),
  '{"Entrypoint":["/echo"],"User":"65532:65532"}',
]).trim();
const image = `${process.env.GANTRY_REGISTRY}/bench/echo@${digest}`;

function specText(name: string, round: string): string {
  return `apiVersion: gantry.dev/v1alpha1
name: ${name}
namespace: ${ns}
image: ${image}
replicas: ${replicas}
env: { NAME: ${name}, ROUND: "${round}" }
resources: { requests: { cpu: 10m, memory: 32Mi } }
probes:
  readiness: { path: /healthz, periodSeconds: 1 }
rollingUpdate: { maxSurge: 2, maxUnavailable: 1 }
terminationGracePeriodSeconds: 5
`;
}

const kube = Kube.load();

/** Milliseconds from the start of each limit round to the events of its rollout. */
interface LimitTimeline {
  applied: number;
  done: number;
  /** Per new pod: created (seen by the watch), containers running, Ready. */
  pods: { created: number; running?: number; ready?: number }[];
}
const limitTimelines: LimitTimeline[] = [];

/**
 * Watches the pods of bench-limit and notes when each pod created after `t0` is seen,
 * when its container runs and when it turns Ready. Returns the stop function.
 */
async function podTimeline(
  t0: number,
  pods: Map<string, { created: number; running?: number; ready?: number }>,
): Promise<() => void> {
  const roundStart = Date.now() - (performance.now() - t0);
  const old = new Set<string>();
  return kube.watch<V1Pod>(
    `/api/v1/namespaces/${ns}/pods`,
    { labelSelector: 'app.kubernetes.io/name=bench-limit' },
    (type, pod) => {
      if (type !== 'ADDED' && type !== 'MODIFIED') return;
      const name = pod.metadata?.name ?? '';
      const now = performance.now() - t0;
      if (old.has(name)) return;
      let p = pods.get(name);
      if (!p) {
        // creationTimestamp has whole seconds: older than a second before the round is old.
        const created = new Date(pod.metadata?.creationTimestamp ?? 0).getTime();
        if (created < roundStart - 1000) {
          old.add(name);
          return;
        }
        pods.set(name, (p = { created: now }));
      }
      if (p.running === undefined && pod.status?.containerStatuses?.[0]?.state?.running)
        p.running = now;
      if (
        p.ready === undefined &&
        pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
      )
        p.ready = now;
    },
  );
}

/** The limit: apply the rendered objects ourselves, then watch until the rollout is complete. */
async function limitDeploy(round: string): Promise<void> {
  const t0 = performance.now();
  const pods = new Map<string, { created: number; running?: number; ready?: number }>();
  const stopPods = await podTimeline(t0, pods);
  const spec = parseSpec(specText('bench-limit', round));
  const objects = renderService(spec);
  await ensureNs();
  let generation = 0;
  for (const o of objects) {
    const out = await kube.apply(o);
    if (o.kind === 'Deployment')
      generation = (out.metadata as { generation?: number }).generation ?? 0;
  }
  const applied = performance.now() - t0;
  await new Promise<void>((resolve, reject) => {
    let stop: (() => void) | undefined;
    const check = (d: V1Deployment) => {
      const s = d.status ?? {};
      if (
        (s.observedGeneration ?? 0) >= generation &&
        s.updatedReplicas === replicas &&
        s.replicas === replicas &&
        s.availableReplicas === replicas
      ) {
        stop?.();
        resolve();
      }
    };
    kube
      .watch<V1Deployment>(
        `/apis/apps/v1/namespaces/${ns}/deployments`,
        { fieldSelector: 'metadata.name=bench-limit' },
        (_t, d) => check(d),
        (err) => reject(new Error(String(err))),
      )
      .then((s) => (stop = s), reject);
  });
  const done = performance.now() - t0;
  stopPods();
  if (round !== '0') limitTimelines.push({ applied, done, pods: [...pods.values()] });
}

async function ensureNs(): Promise<void> {
  const o = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } };
  if (!(await kube.get(o))) await kube.apply(o);
}

/** gantry's own stage timings (deploy -o json), per contender and round. */
const stageTimes: Record<string, Record<string, number>[]> = {};

function gantryContender(name: string, bin: string) {
  return async (round: string) => {
    const file = join(work, `${name}.yaml`);
    writeFileSync(file, specText(`bench-${name.replace(/-/g, '')}`, round));
    const out = await run(process.execPath, [
      bin,
      'deploy',
      '-f',
      file,
      '--timeout',
      '3m',
      '-o',
      'json',
    ]);
    const timings = (JSON.parse(out) as { timings?: Record<string, number> }).timings;
    if (timings && round !== '0') (stageTimes[name] ??= []).push(timings);
  };
}

const contenders: Record<string, (round: string) => Promise<void> | void> = {
  gantry: gantryContender('gantry', gantry),
  ...(gantryRef ? { 'gantry-ref': gantryContender('gantry-ref', gantryRef) } : {}),
  kubectl: async (round) => {
    const file = join(work, 'kubectl.yaml');
    writeFileSync(file, toYaml(renderService(parseSpec(specText('bench-kubectl', round)))));
    await run('kubectl', ['apply', '-f', file]);
    await run('kubectl', [
      '-n',
      ns,
      'rollout',
      'status',
      'deployment/bench-kubectl',
      '--timeout=3m',
    ]);
  },
  limit: limitDeploy,
};
if (helm) {
  const chartSpec = join(work, 'helm.yaml');
  writeFileSync(chartSpec, specText('bench-helm', '0'));
  sh(process.execPath, [gantry, 'chart', '-f', chartSpec, '--out', join(work, 'chart')]);
  contenders.helm = async (round) => {
    await run(helm, [
      'upgrade',
      '--install',
      'bench-helm',
      join(work, 'chart'),
      '-n',
      ns,
      '--wait',
      '--timeout',
      '3m',
      '--set-string',
      `env.ROUND=${round}`,
    ]);
  };
}

// BENCH_CONTENDERS=gantry,gantry-ref,limit runs only those (the node has room for the pods
// of about four contenders at once).
const only = process.env.BENCH_CONTENDERS?.split(',').filter(Boolean);
if (only) {
  for (const n of Object.keys(contenders)) if (!only.includes(n)) delete contenders[n];
  const missing = only.filter((n) => !contenders[n]);
  if (missing.length) throw new Error(`BENCH_CONTENDERS: no contender ${missing.join(', ')}`);
}

/** The Deployment each contender rolls. */
const deploymentOf: Record<string, string> = {
  gantry: 'bench-gantry',
  'gantry-ref': 'bench-gantryref',
  kubectl: 'bench-kubectl',
  limit: 'bench-limit',
  helm: 'bench-helm',
};

/**
 * Objects of one kind in the namespace by name, as a watch last saw them and when
 * (deleted ones dropped), and waiters that are checked after every event. The server
 * ends watches now and then: the watch starts again until it is closed.
 */
class Mirror<T extends { metadata?: { name?: string } }> {
  readonly objects = new Map<string, { obj: T; at: number }>();
  private readonly waiters = new Set<() => void>();
  private stop: (() => void) | undefined;
  private closed = false;

  constructor(private readonly path: string) {}

  async start(): Promise<void> {
    this.stop = await kube.watch<T>(
      this.path,
      {},
      (type, obj) => {
        const name = obj.metadata?.name ?? '';
        if (type === 'DELETED') this.objects.delete(name);
        else this.objects.set(name, { obj, at: performance.now() });
        for (const w of this.waiters) w();
      },
      () => void (!this.closed && this.start()),
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
        reject(new Error(what));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}

const deployments = new Mirror<V1Deployment>(`/apis/apps/v1/namespaces/${ns}/deployments`);
const pods = new Mirror<V1Pod>(`/api/v1/namespaces/${ns}/pods`);

const complete = (d: V1Deployment) => {
  const st = d.status ?? {};
  return (
    (st.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    st.updatedReplicas === replicas &&
    st.replicas === replicas &&
    st.availableReplicas === replicas
  );
};

/** Resolves with the time the first state of `name` past generation `after` matching `test` was seen. */
function seenWhen(
  name: string,
  after: number,
  test: (d: V1Deployment) => boolean,
  timeoutMs = 180_000,
): Promise<number> {
  return deployments.until(
    () => {
      const s = deployments.objects.get(name);
      return s && (s.obj.metadata?.generation ?? 0) > after && test(s.obj) ? s.at : undefined;
    },
    timeoutMs,
    `Deployment ${name}: no rollout past generation ${after}`,
  );
}

/**
 * Resolves once Deployment `name` has exactly its replicas as pods, none of them being
 * deleted, plus half a second for the runtime to tear the old sandboxes down.
 */
async function podsSettled(name: string, timeoutMs = 60_000): Promise<void> {
  await pods.until(
    () => {
      const mine = [...pods.objects.values()].filter(
        (p) => p.obj.metadata?.labels?.['app.kubernetes.io/name'] === name,
      );
      return mine.length === replicas && !mine.some((p) => p.obj.metadata?.deletionTimestamp)
        ? true
        : undefined;
    },
    timeoutMs,
    `${name}: old pods still there after ${timeoutMs / 1000}s`,
  );
  await sleep(500);
}

/** Per contender and round: before the apply lands, the rollout, after it completed. */
const phases: Record<string, { before: number; rollout: number; after: number }[]> = {};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  await ensureNs();
  const names = Object.keys(contenders);
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  await deployments.start();
  await pods.start();
  // Round 0 creates everything; it is not timed.
  for (const n of names) {
    await contenders[n]!('0');
    await seenWhen(deploymentOf[n]!, 0, complete);
    await podsSettled(deploymentOf[n]!);
  }
  for (let i = 1; i <= runs; i++) {
    const order = i % 2 ? names : [...names].reverse();
    for (const n of order) {
      const name = deploymentOf[n]!;
      const generation = deployments.objects.get(name)?.obj.metadata?.generation ?? 0;
      // Noted while the contender runs, from this process's watch.
      const applied = seenWhen(name, generation, () => true);
      const done = seenWhen(name, generation, complete);
      applied.catch(() => undefined);
      done.catch(() => undefined);
      // The kubelet notices started containers at its once-a-second relist, and the moment
      // the old pods are seen gone (after which the next contender starts) is set by that same
      // clock. Without a random start, each contender's pods would meet the relist at a
      // fixed phase given by how long its tool takes before the apply lands, and the rollout
      // column would differ between contenders by up to a second for that reason alone.
      await sleep(Math.random() * 1000);
      const t0 = performance.now();
      await contenders[n]!(String(i));
      const t1 = performance.now();
      times[n]!.push(t1 - t0);
      // A tool may return before the rollout is complete (Helm does): the next one starts
      // only once it is, and once the old pods are gone (stopping them is the node's work
      // too, and would slow whichever contender came next).
      const [ta, td] = [await applied, await done];
      await podsSettled(name);
      (phases[n] ??= []).push({ before: ta - t0, rollout: td - ta, after: t1 - td });
    }
    assertBundleFresh();
    process.stderr.write(
      `round ${i}/${runs}: ${order.map((n) => `${n} ${(times[n]!.at(-1)! / 1000).toFixed(2)}s`).join('  ')}\n`,
    );
  }
  const med = Object.fromEntries(names.map((n) => [n, median(times[n]!)]));
  const ms = (x: number) => `${Math.round(x)} ms`.padStart(8);
  const cpu = sh('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]).trim();
  console.log(
    `\nbench/deploy — ${new Date().toISOString()} — ${runs} rounds, ${replicas} replicas, ${cpu}, ${sh('nproc', []).trim()} cores`,
  );
  console.log('contender   median wall time   (min .. max)');
  for (const n of names) {
    const xs = times[n]!;
    console.log(
      `${n.padEnd(12)}${(med[n]! / 1000).toFixed(2)} s           (${(Math.min(...xs) / 1000).toFixed(2)} .. ${(Math.max(...xs) / 1000).toFixed(2)})`,
    );
  }
  console.log(
    '\nmedian split of the wall time (a Deployment watch in this process):\n' +
      'contender   before the apply lands   rollout   after the rollout completed',
  );
  for (const n of names) {
    const p = phases[n] ?? [];
    const m = (k: 'before' | 'rollout' | 'after') => ms(median(p.map((x) => x[k])));
    console.log(
      `${n.padEnd(12)}${m('before').padStart(22)}${m('rollout').padStart(10)}${m('after').padStart(16)}`,
    );
  }
  for (const [n, rounds] of Object.entries(stageTimes)) {
    const stages = Object.keys(rounds[0] ?? {});
    const inside = rounds.map((r) => Object.values(r).reduce((a, b) => a + b, 0));
    console.log(`\n${n}: median per stage (deploy -o json timings)`);
    for (const st of stages)
      console.log(`  ${st.padEnd(34)}${ms(median(rounds.map((r) => r[st] ?? 0)))}`);
    const outside = times[n]!.map((t, i) => t - (inside[i] ?? 0));
    console.log(`  ${'process start, load, spec, exit'.padEnd(34)}${ms(median(outside))}`);
  }
  if (limitTimelines.length) {
    // Per round: the first and the last new pod to be seen, run and turn Ready.
    const at = (f: (t: LimitTimeline) => number) => ms(median(limitTimelines.map(f)));
    const sorted = (t: LimitTimeline, k: 'created' | 'running' | 'ready') =>
      t.pods.map((p) => p[k] ?? Number.NaN).sort((a, b) => a - b);
    const gaps = limitTimelines.flatMap((t) =>
      t.pods.filter((p) => p.running !== undefined && p.ready !== undefined),
    );
    console.log('\nlimit: median time from the start of the round (a pod watch beside it)');
    console.log(`  ${'objects applied'.padEnd(34)}${at((t) => t.applied)}`);
    console.log(`  ${'first new pod created'.padEnd(34)}${at((t) => sorted(t, 'created')[0]!)}`);
    console.log(`  ${'first new pod Ready'.padEnd(34)}${at((t) => sorted(t, 'ready')[0]!)}`);
    console.log(`  ${'last new pod created'.padEnd(34)}${at((t) => sorted(t, 'created').at(-1)!)}`);
    console.log(`  ${'last new pod Ready'.padEnd(34)}${at((t) => sorted(t, 'ready').at(-1)!)}`);
    console.log(`  ${'rollout complete (watch)'.padEnd(34)}${at((t) => t.done)}`);
    console.log(
      `  per pod: created -> running ${ms(median(gaps.map((p) => p.running! - p.created)))}, running -> Ready ${ms(median(gaps.map((p) => p.ready! - p.running!)))} (readiness probe every 1 s)`,
    );
  }
  const g = med.gantry;
  if (g === undefined) return;
  console.log('');
  if (med.limit)
    console.log(
      `gantry - limit           = ${((g - med.limit) / 1000).toFixed(2)} s   (target <= 0.50 s)`,
    );
  if (med.kubectl) console.log(`gantry / kubectl         = ${(g / med.kubectl).toFixed(2)}`);
  if (med['gantry-ref'])
    console.log(`gantry / gantry-ref      = ${(g / med['gantry-ref']).toFixed(2)}`);
  if (med.helm) {
    console.log(`gantry / helm            = ${(g / med.helm).toFixed(2)}   (target <= 0.60)`);
    if (med.limit && 0.6 * med.helm < med.limit)
      console.log(
        `0.6 x helm = ${((0.6 * med.helm) / 1000).toFixed(2)} s is below the limit (${(med.limit / 1000).toFixed(2)} s): ` +
          'no tool that waits for the whole rollout can meet it. Helm v3 --wait polls every 2 s and ' +
          'calls a Deployment ready once its new ReplicaSet has replicas - maxUnavailable ready pods.',
      );
  } else if (!helm) console.log('helm: not built (hack/tools/build-helm.sh missing); skipped');
}

try {
  await main();
} finally {
  deployments.close();
  pods.close();
  spawnSync('kubectl', ['delete', 'namespace', ns, '--wait=false'], { stdio: 'ignore' });
}
