// See run.sh. One namespace, user-service (2 stable replicas) behind the gateway,
// a steady open-loop load for the whole run, then alternating releases: good ones
// (same code, new version label) and bad ones (fault injection by config: errors
// of several sizes, or added latency). Every release runs through `gantry release
// start` exactly as a user would; the client records which version answered each
// request (x-app-version), so exposure and blast radius are measured, not inferred.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  FLAGGER_DEFAULTS,
  Prometheus,
  fixedThresholdJudge,
  prometheusUrl,
  recordTicks,
} from '../../packages/gantry/src/analysis/index.js';
import { parseSpec } from '../../packages/gantry/src/spec/index.js';
import { Load, once } from '../../hack/cluster/test/load.js';
import type { Sample } from '../../hack/cluster/test/load.js';
import { userServiceSpec } from '../../hack/cluster/test/user-service-spec.js';

const GOOD = Number(process.env.BENCH_GOOD ?? 20);
const BAD = Number(process.env.BENCH_BAD ?? 20);
const RPS = Number(process.env.BENCH_RPS ?? 200);
const root = new URL('../../', import.meta.url).pathname;
const gantryBin = join(root, 'packages/gantry/bin/gantry.js');
const ns = `bench-canary-${Date.now().toString(36)}`;
const host = `users.${ns}.gantry.local`;
const GATEWAY = 'http://127.0.0.1:8000';
const work = mkdtempSync(join(tmpdir(), 'bench-canary-'));
const env = { ...process.env, BENCH_DATABASE_URL: 'sqlite::memory:' };

/** Bad releases, cycled: the target case (5% errors) most often. */
const FAULTS: { name: string; config: Record<string, string> }[] = [
  { name: 'errors 5%', config: { FAULT_ERROR_RATE: '0.05' } },
  { name: 'errors 20%', config: { FAULT_ERROR_RATE: '0.2' } },
  { name: 'errors 5%', config: { FAULT_ERROR_RATE: '0.05' } },
  { name: 'latency +200ms', config: { FAULT_LATENCY_MS: '200' } },
  { name: 'errors 2%', config: { FAULT_ERROR_RATE: '0.02' } },
];

const RELEASE = `release:
  strategy: canary
  steps: [{ weight: 5 }, { weight: 25 }, { weight: 50 }]
  analysis:
    interval: 2s
    minStepDuration: 10s
    maxStepDuration: 60s
    requests: { selector: 'route!~"/healthz|/readyz|/metrics|/version"' }
`;

function specFile(image: string, version: string, config: Record<string, string>): string {
  const file = join(work, `gantry-${version}.yaml`);
  writeFileSync(
    file,
    userServiceSpec({
      namespace: ns,
      image,
      serviceDir: join(root, 'services/user-service'),
      version,
      config,
      databaseUrlEnv: 'BENCH_DATABASE_URL',
      host,
      release: RELEASE,
    }),
  );
  return file;
}

/**
 * Runs gantry without blocking this process: the load generator lives here and
 * must keep its schedule while a release runs.
 */
function gantry(
  args: string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [gantryBin, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), 600_000);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

interface Trial {
  n: number;
  kind: 'good' | 'bad';
  fault: string;
  version: string;
  phase: string;
  /** First to last request the canary answered (s): its exposure, = time-to-abort for an aborted one. */
  exposureS: number;
  requests: number;
  canaryFailed: number;
  /** Failure rate of the canary while exposed (for the fixed-threshold judge's counterfactual). */
  canaryFailRate: number;
  canaryRps: number;
  /** Client-side P99 of the canary's responses (ms). */
  canaryP99Ms: number;
  flagger: { abortAtS?: number; censoredAtS: number };
}

async function main(): Promise<void> {
  console.log(`bench/canary: ${GOOD} good + ${BAD} bad releases, ${RPS} req/s, namespace ${ns}`);
  const base = specFile(`${process.env.GANTRY_REGISTRY}/bench/user-service`, '1.0.0', {});
  const built = await gantry(['build', '-f', base, '-o', 'json']);
  if (built.status !== 0) throw new Error(built.stderr);
  const ref = JSON.parse(built.stdout) as { ref: string; digest: string };
  const image = `${ref.ref.replace(/:[^:/]+$/, '')}@${ref.digest}`;
  const first = await gantry(['deploy', '-f', specFile(image, '1.0.0', {})]);
  if (first.status !== 0) throw new Error(first.stderr + first.stdout);
  for (let i = 0; i < 60; i++) {
    const s = await once(`${GATEWAY}/version`, { host }).catch(() => undefined);
    if (s?.status === 200) break;
    await sleep(500);
  }

  const spec = parseSpec(
    RELEASE.replace(/^/, 'apiVersion: gantry.dev/v1alpha1\nname: users\nimage: x\n'),
  );
  const prom = new Prometheus(prometheusUrl(spec.release.analysis));
  const load = new Load({
    url: `${GATEWAY}/api/users?limit=1`,
    host,
    rps: RPS,
    maxDurationMs: 3 * 3600_000,
  }).start();
  await sleep(15_000); // a baseline for stable before the first release

  const trials: Trial[] = [];
  const total = GOOD + BAD;
  let good = 0;
  let bad = 0;
  for (let n = 0; n < total; n++) {
    const isBad = (n % 2 === 1 && bad < BAD) || good >= GOOD;
    const fault = isBad ? FAULTS[bad % FAULTS.length]! : { name: 'none', config: {} };
    if (isBad) bad++;
    else good++;
    const version = `${n + 2}.0.0`;
    const t0 = Date.now();
    const r = await gantry([
      'release',
      'start',
      '-f',
      specFile(image, version, fault.config),
      '--image',
      image,
      '-o',
      'json',
    ]);
    const t1 = Date.now();
    let phase = 'error';
    try {
      phase = (JSON.parse(r.stdout) as { phase: string }).phase;
    } catch {
      console.error(r.stderr.slice(-2000));
    }
    await sleep(3000); // responses in flight settle
    const during = load.samples.filter((s: Sample) => s.t >= t0 && s.t <= t1);
    const canary = during.filter((s) => s.version === version);
    const firstC = canary[0]?.t ?? t0;
    const lastC = canary.at(-1)?.t ?? t0;
    const exposureS = (lastC - firstC) / 1000;
    const canaryFailed = canary.filter((s) => s.status >= 500 || s.status === 0).length;
    // The fixed-threshold judge on the same Prometheus data, from the canary's first request.
    const ticks = await recordTicks(
      prom,
      { namespace: ns, service: 'users' },
      spec.release.analysis,
      new Date(firstC),
      new Date(Math.max(lastC, firstC + 1000)),
      2,
    );
    const fixed = fixedThresholdJudge(ticks);
    const trial: Trial = {
      n,
      kind: isBad ? 'bad' : 'good',
      fault: fault.name,
      version,
      phase,
      exposureS,
      requests: during.length,
      canaryFailed,
      canaryFailRate: canary.length ? canaryFailed / canary.length : 0,
      canaryRps: exposureS > 0 ? canary.length / exposureS : 0,
      canaryP99Ms: pct(
        canary.map((x) => x.ms),
        99,
      ),
      flagger: {
        ...(fixed.abortAt !== undefined ? { abortAtS: fixed.abortAt - firstC / 1000 } : {}),
        censoredAtS: exposureS,
      },
    };
    trials.push(trial);
    console.log(
      `#${String(n + 1).padStart(2)} ${trial.kind.padEnd(4)} ${fault.name.padEnd(15)} ${phase.padEnd(9)} ` +
        `exposure ${exposureS.toFixed(1).padStart(5)} s, canary failed ${canaryFailed}/${canary.length}, ` +
        `requests ${during.length}` +
        (fixed.abortAt !== undefined
          ? `, fixed-threshold judge would abort at ${trial.flagger.abortAtS?.toFixed(0)} s`
          : ''),
    );
  }
  const all = await load.stop();
  summarize(trials, all);
}

function summarize(trials: Trial[], all: Sample[]): void {
  const goods = trials.filter((t) => t.kind === 'good');
  const bads = trials.filter((t) => t.kind === 'bad');
  const falseAborts = goods.filter((t) => t.phase !== 'promoted').length;
  const missed = bads.filter((t) => t.phase !== 'aborted').length;
  console.log('\n== gantry (sequential judge, live)');
  console.log(`false aborts: ${falseAborts} of ${goods.length} good releases`);
  console.log(`missed: ${missed} of ${bads.length} bad releases promoted`);
  for (const f of [...new Set(bads.map((t) => t.fault))]) {
    const xs = bads.filter((t) => t.fault === f && t.phase === 'aborted').map((t) => t.exposureS);
    console.log(
      `time-to-abort ${f.padEnd(15)}: median ${median(xs).toFixed(1)} s, p90 ${pct(xs, 90).toFixed(1)} s, max ${Math.max(...xs).toFixed(1)} s (n=${xs.length})`,
    );
  }
  const failedByCanary = trials.reduce((a, t) => a + t.canaryFailed, 0);
  const requests = trials.reduce((a, t) => a + t.requests, 0);
  const badRequests = bads.reduce((a, t) => a + t.requests, 0);
  const badFailed = bads.reduce((a, t) => a + t.canaryFailed, 0);
  console.log(
    `blast radius: ${((100 * failedByCanary) / requests).toFixed(3)}% of all requests during the releases ` +
      `(${failedByCanary}/${requests}); ${((100 * badFailed) / badRequests).toFixed(3)}% during bad releases only`,
  );
  const ok = all.filter((s) => s.status === 200).length;
  console.log(`load: ${all.length} requests, ${ok} answered 200`);

  // The fixed-threshold judge. Its first check comes 60 s after the canary gets traffic;
  // gantry usually aborted before that, so the recorded data ends first. Then the same
  // canary, unchanged, is extrapolated: a check fails when the canary's measured success
  // rate is under 99% or its P99 over 500 ms, and the rollback comes at the run after
  // `threshold` failed checks (Flagger's scheduler); a canary passing both is never caught.
  const d = FLAGGER_DEFAULTS;
  console.log(
    `\n== Flagger-style fixed-threshold judge (interval ${d.intervalSeconds} s, window ${d.windowSeconds} s, ` +
      `success ≥ ${d.minSuccessRate}%, P99 ≤ ${d.maxP99Ms} ms, threshold ${d.threshold}), same data`,
  );
  const flaggerTta: number[] = [];
  let flaggerFailed = 0;
  let flaggerMissed = 0;
  for (const t of bads) {
    let at = t.flagger.abortAtS;
    if (at === undefined) {
      const fails = 100 * (1 - t.canaryFailRate) < d.minSuccessRate || t.canaryP99Ms > d.maxP99Ms;
      at = fails ? (d.threshold + 1) * d.intervalSeconds : Infinity;
    }
    flaggerTta.push(at);
    if (Number.isFinite(at)) flaggerFailed += t.canaryFailRate * t.canaryRps * at;
    else flaggerMissed++;
  }
  const flaggerFalse = goods.filter((t) => t.flagger.abortAtS !== undefined).length;
  console.log(`false aborts: ${flaggerFalse} of ${goods.length} good releases`);
  console.log(`missed: ${flaggerMissed} of ${bads.length} bad releases never aborted`);
  const caught = flaggerTta.filter((x) => Number.isFinite(x));
  console.log(`time-to-abort (caught bad releases): median ${median(caught).toFixed(0)} s`);
  const gantryTta = bads.filter((t) => t.phase === 'aborted').map((t) => t.exposureS);
  console.log(
    `median time-to-abort, gantry / fixed-threshold: ${(median(gantryTta) / median(caught)).toFixed(2)}`,
  );
  // Its releases run longer, so more requests pass during them: the denominator grows too.
  let extraRequests = 0;
  for (const t of bads) {
    const at = flaggerTta[bads.indexOf(t)];
    if (at !== undefined && Number.isFinite(at))
      extraRequests += Math.max(0, at - t.exposureS) * RPS;
  }
  const goodFailed = goods.reduce((a, t) => a + t.canaryFailed, 0);
  const flaggerBlast = (100 * (flaggerFailed + goodFailed)) / (requests + extraRequests);
  console.log(
    `blast radius (caught releases, estimated at the same load): ${flaggerBlast.toFixed(3)}% of requests`,
  );
  writeFileSync(join(work, 'trials.json'), JSON.stringify(trials, null, 2));
  console.log(`\ntrials: ${join(work, 'trials.json')}`);
  spawnSync('kubectl', ['delete', 'namespace', ns, '--wait=false'], { env });
}

await main();
