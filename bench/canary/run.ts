// See run.sh. A grid of REAL releases of user-service behind the local gateway, each
// cell a first-step weight × total req/s × fault, judged live by gantry with the spec a
// user writes: no `analysis:` block (the defaults), steps 1 → 5 → 25 → 50 % (the default)
// or 5 → 25 → 50 %. Per total rate, one namespace with 2 stable replicas and a steady
// open-loop load on loopback for the whole run (70 % GET /api/users?limit=1, 30 %
// GET /api/users/:id); the rates run concurrently, each rate's cells round-robin so a
// deadline leaves every cell with a similar number of runs. Faults are the canary's own
// config (FAULT_ERROR_RATE; FAULT_LATENCY_MS on /api/users/:id only). The client records
// which version answered each request (x-app-version), so harm is counted, not inferred.
//
// The Flagger-style judge (fixedThresholdJudge's check: 60 s interval, 1 m window, success
// ≥ 99 %, P99 ≤ 500 ms, threshold 1) replays the same Prometheus data with its own
// progression, as bench/canary/grid.ts runs it: it starts at the first weight, moves one
// step per passing check and rolls back at the run after a failed one. A check window is
// REAL (the recorded ticks, and the client's count of failed canary requests) when gantry's
// canary was at Flagger's weight for the whole window; otherwise (gantry had moved on or
// ended) it is drawn, seeded, from the same cell's real canary: Poisson requests at Flagger's
// weight, Binomial errors at the cell's measured canary error rate (Prometheus), latency
// from its measured histogram. The table says how many windows were real.
//
// Definitions as in grid.ts, so the tables compare: time-to-abort = seconds of canary
// exposure (gantry: first to last request the canary answered; Flagger: from the canary's
// first request to its rollback); blast radius = harmed canary requests ÷ (releases × req/s
// × 600 s), harmed = failed (5xx or no answer), plus every slowed request for the latency
// fault.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  FLAGGER_DEFAULTS,
  Prometheus,
  analysisFor,
  diffSamples,
  fixedThresholdJudge,
  prometheusUrl,
  recordTicks,
} from '../../packages/gantry/src/analysis/index.js';
import type { Tick, TrackSample } from '../../packages/gantry/src/analysis/index.js';
import { parseSpec } from '../../packages/gantry/src/spec/index.js';
import { Load, once } from '../../hack/cluster/test/load.js';
import type { Sample } from '../../hack/cluster/test/load.js';
import { userServiceSpec } from '../../hack/cluster/test/user-service-spec.js';
import { formatInterval, median, pct, ratio, ratioInterval, rng } from './stats.js';

// --- cells -------------------------------------------------------------------------------

interface Fault {
  name: string;
  config: Record<string, string>;
  bad: boolean;
  /** The latency fault slows every canary request to this route (counted as harmed). */
  slowRoute?: boolean;
}

const FAULTS: Record<string, Fault> = {
  err2: { name: 'errors 2%', config: { FAULT_ERROR_RATE: '0.02' }, bad: true },
  err5: { name: 'errors 5%', config: { FAULT_ERROR_RATE: '0.05' }, bad: true },
  err20: { name: 'errors 20%', config: { FAULT_ERROR_RATE: '0.2' }, bad: true },
  lat: {
    name: 'latency +200ms on 30%',
    config: { FAULT_LATENCY_MS: '200', FAULT_ROUTES: '/api/users/:id' },
    bad: true,
    slowRoute: true,
  },
  good: { name: 'good', config: {}, bad: false },
};

/** The steps a user writes: none (the default 1, 5, 25, 50) or starting at 5 %. */
const STEPS: Record<string, { weights: number[]; release: string }> = {
  '1': { weights: [1, 5, 25, 50], release: 'release:\n  strategy: canary\n' },
  '5': {
    weights: [5, 25, 50],
    release:
      'release:\n  strategy: canary\n  steps: [{ weight: 5 }, { weight: 25 }, { weight: 50 }]\n',
  },
};

interface Cell {
  /** FIRST:RPS:FAULT */
  key: string;
  /** Cells of one lane share a namespace and a load, one release at a time (default: one lane per rate). */
  lane: string;
  first: string;
  rps: number;
  fault: string;
}

const DEFAULT_CELLS = '1:50:err2,1:50:err5,1:50:good,1:200:err2,1:200:err5,1:200:good,5:50:err5';

function parseCells(text: string): Cell[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((spec) => {
      const [key = '', lane] = spec.split('@');
      const [first = '', rps = '', fault = ''] = key.split(':');
      if (!STEPS[first] || !FAULTS[fault] || !(Number(rps) > 0 && Number(rps) <= 1000)) {
        throw new Error(
          `BENCH_CELLS: "${spec}" is not FIRST:RPS:FAULT[@LANE] with FIRST 1|5, RPS 1..1000, FAULT ${Object.keys(FAULTS).join('|')}`,
        );
      }
      return { key, lane: `${rps}${lane ? `-${lane}` : ''}`, first, rps: Number(rps), fault };
    });
}

/** Share of the load on GET /api/users/:id (the latency fault's route). */
const BY_ID_SHARE = 0.3;
/** The blast radius' window per release (grid.ts: WINDOW). */
const WINDOW = 10 * 60;

// --- one release's record -----------------------------------------------------------------

interface Trial {
  cell: string;
  run: number;
  version: string;
  phase: string;
  /** Release start and end (ms since the epoch). */
  t0: number;
  t1: number;
  /** First and last request the canary answered (ms). */
  firstC: number;
  lastC: number;
  requests: number;
  canaryRequests: number;
  /** Send times (ms) of canary requests that failed (5xx or no answer). */
  failedAt: number[];
  /** Send times (ms) of canary requests the latency fault slowed (its route only). */
  slowedAt: number[];
  /** When gantry passed each step (ms), in order. */
  passedAt: number[];
  /** Prometheus ticks (1 s) over the canary's exposure, analysis selection of the spec. */
  ticks: Tick[];
  summary: string;
  /** The release's own message (e.g. why a promotion failed). */
  message: string;
  /** Client-side response times (ms) over the canary's exposure: canary and stable. */
  latency: { canary: number[]; stable: number[]; over25: [number, number] };
}

// --- the run -------------------------------------------------------------------------------

const root = new URL('../../', import.meta.url).pathname;
const gantryBin = join(root, 'packages/gantry/bin/gantry.js');
const GATEWAY = 'http://127.0.0.1:8000';
const env = { ...process.env, BENCH_DATABASE_URL: 'sqlite::memory:' };

function gantry(
  args: string[],
  timeoutMs: number,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [gantryBin, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), Math.max(1000, timeoutMs));
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** BENCH_UNTIL: HH:MM (UTC, today or tomorrow) or an ISO time; no release starts after it less 3 min, and one still running then is aborted and not counted. */
function deadline(): number {
  const v = process.env.BENCH_UNTIL;
  if (!v) return Infinity;
  const hm = /^(\d\d):(\d\d)$/.exec(v);
  if (hm) {
    const d = new Date();
    d.setUTCHours(Number(hm[1]), Number(hm[2]), 0, 0);
    if (d.getTime() < Date.now() - 3600_000) d.setUTCDate(d.getUTCDate() + 1);
    return d.getTime();
  }
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new Error(`BENCH_UNTIL: "${v}" is not HH:MM or an ISO time`);
  return t;
}

async function runGroup(
  lane: string,
  rps: number,
  cells: Cell[],
  runs: number,
  image: string,
  until: number,
  work: string,
  out: string,
): Promise<void> {
  const ns = `bench-canary-${lane}-${Date.now().toString(36)}`;
  const host = `users.${ns}.gantry.local`;
  const specFile = (version: string, cell: Cell | undefined): string => {
    const file = join(work, `gantry-${ns}-${version}.yaml`);
    writeFileSync(
      file,
      userServiceSpec({
        namespace: ns,
        image,
        serviceDir: join(root, 'services/user-service'),
        version,
        config: cell ? FAULTS[cell.fault]!.config : {},
        databaseUrlEnv: 'BENCH_DATABASE_URL',
        host,
        release: STEPS[cell?.first ?? '1']!.release,
      }),
    );
    return file;
  };
  const log = (s: string) =>
    console.log(`${new Date().toISOString().slice(11, 19)} [${lane}] ${s}`);
  // On a shared node the pods may wait for room (other tests' pods): retry, bounded.
  for (let attempt = 1; ; attempt++) {
    const first = await gantry(['deploy', '-f', specFile('1.0.0', undefined)], 600_000);
    if (first.status === 0) break;
    if (attempt >= 10) throw new Error(first.stderr + first.stdout);
    log(`deploy failed (attempt ${attempt}), retrying in 20 s: ${first.stdout.slice(-200)}`);
    await sleep(20_000);
  }
  for (let i = 0; i < 120; i++) {
    const s = await once(`${GATEWAY}/version`, { host }).catch(() => undefined);
    if (s?.status === 200) break;
    await sleep(500);
  }
  const maxMs = Math.min(
    4 * 3600_000,
    (Number.isFinite(until) ? until - Date.now() : 4 * 3600_000) + 120_000,
  );
  const list = new Load({
    url: `${GATEWAY}/api/users?limit=1`,
    host,
    rps: rps * (1 - BY_ID_SHARE),
    maxDurationMs: maxMs,
  }).start();
  const byId = new Load({
    url: `${GATEWAY}/api/users/00000000-0000-4000-8000-000000000000`,
    host,
    rps: rps * BY_ID_SHARE,
    maxDurationMs: maxMs,
  }).start();
  await sleep(30_000); // a baseline for stable before the first release

  const done = new Map(cells.map((c) => [c.key, 0]));
  let n = 0;
  for (let round = 0; round < runs; round++) {
    for (const cell of cells) {
      if (Date.now() > until - 180_000) break;
      const fault = FAULTS[cell.fault]!;
      const version = `${n + 2}.0.0`;
      n++;
      const file = specFile(version, cell);
      const spec = parseSpec(readFileSync(file, 'utf8'), file);
      const analysis = analysisFor(spec);
      const t0 = Date.now();
      const r = await gantry(
        ['release', 'start', '-f', file, '--image', image, '-o', 'json'],
        Math.min(40 * 60_000, until - Date.now()),
      );
      const t1 = Date.now();
      let phase = 'error';
      let passedAt: number[] = [];
      let summary = '';
      let message = '';
      try {
        const s = JSON.parse(r.stdout) as {
          phase: string;
          message?: string;
          decisions?: { at: string; step: number; verdict: string; summary: string }[];
        };
        phase = s.phase;
        const ds = s.decisions ?? [];
        passedAt = ds.filter((d) => d.verdict === 'pass').map((d) => Date.parse(d.at));
        summary = (ds.at(-1)?.summary ?? s.message ?? '').slice(0, 400);
        message = (s.message ?? '').slice(0, 300);
      } catch {
        console.error(r.stderr.slice(-2000));
      }
      // The judge passed every step but the promotion's deploy failed (on a shared node,
      // another test's taint can leave the new pods unschedulable): the judge promoted it.
      const judgedPromoted =
        phase === 'failed' && passedAt.length === STEPS[cell.first]!.weights.length;
      if (judgedPromoted) phase = 'promoted';
      if (phase !== 'promoted' && phase !== 'aborted') {
        // Cut by the deadline, or an error: send traffic back and leave it out of the table.
        await gantry(['release', 'abort', '-f', file], 120_000);
        log(`${cell.key} ${version}: ${phase} (not counted) ${message} ${r.stderr.slice(-300)}`);
        await sleep(5000);
        continue;
      }
      await sleep(6000); // responses in flight settle; Prometheus scrapes the last seconds
      const take = (l: Load) => {
        const xs = l.samples.filter((s: Sample) => s.t >= t0 && s.t <= t1);
        l.samples.splice(0, l.samples.length);
        return xs;
      };
      const a = take(list);
      const b = take(byId);
      const during = [...a, ...b].sort((x, y) => x.t - y.t);
      const canary = during.filter((s) => s.version === version);
      const firstC = canary[0]?.t ?? t0;
      const lastC = canary.at(-1)?.t ?? t0;
      const failed = (s: Sample) => s.status >= 500 || s.status === 0;
      const exposed = during.filter((s) => s.t >= firstC && s.t <= lastC && !failed(s));
      const ms = (v: boolean) =>
        exposed
          .filter((s) => (s.version === version) === v)
          .map((s) => s.ms)
          .sort((x, y) => x - y);
      const q = (xs: number[]) =>
        [0.5, 0.9, 0.99].map((p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN);
      const over = (xs: number[]) => (xs.length ? xs.filter((x) => x > 25).length / xs.length : 0);
      let ticks: Tick[] = [];
      try {
        ticks = await recordTicks(
          new Prometheus(prometheusUrl(analysis)),
          { namespace: ns, service: 'users' },
          analysis,
          new Date(Math.floor(firstC / 1000) * 1000 - 60_000),
          // 10 s past the canary's last request: the scrape that carried an abort's last
          // evidence comes after it (bench/canary/replay.ts judges up to here).
          new Date(Math.max(lastC + 10_000, firstC + 1000)),
          1,
        );
      } catch (e) {
        log(`prometheus: ${(e as Error).message}`);
      }
      const trial: Trial = {
        cell: cell.key,
        run: done.get(cell.key) ?? 0,
        version,
        phase,
        t0,
        t1,
        firstC,
        lastC,
        requests: during.length,
        canaryRequests: canary.length,
        failedAt: canary.filter(failed).map((s) => s.t),
        slowedAt: fault.slowRoute
          ? b.filter((s) => s.version === version && !failed(s)).map((s) => s.t)
          : [],
        passedAt,
        ticks,
        summary,
        message,
        latency: {
          canary: q(ms(true)),
          stable: q(ms(false)),
          over25: [over(ms(true)), over(ms(false))],
        },
      };
      done.set(cell.key, trial.run + 1);
      appendFileSync(out, JSON.stringify(trial) + '\n');
      log(
        `${cell.key.padEnd(10)} run ${trial.run + 1}: ${phase.padEnd(8)} exposure ${((lastC - firstC) / 1000).toFixed(1).padStart(6)} s, ` +
          `canary failed ${trial.failedAt.length}/${canary.length}` +
          (fault.slowRoute ? `, slowed ${trial.slowedAt.length}` : '') +
          `, steps passed ${passedAt.length}, client p50/p90/p99 ms canary ${trial.latency.canary.join('/')} stable ${trial.latency.stable.join('/')}` +
          `${judgedPromoted ? ` (promotion's deploy failed: ${message})` : ''}; ${summary.slice(0, 300)}`,
      );
      await sleep(5000);
    }
  }
  await list.stop();
  await byId.stop();
  spawn('kubectl', ['delete', 'namespace', ns, '--wait=false'], { env, stdio: 'ignore' });
}

// --- the table -------------------------------------------------------------------------------

function poisson(r: () => number, lambda: number): number {
  if (lambda > 50) {
    const u = Math.max(1e-12, r());
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
    return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * z));
  }
  const l = Math.exp(-lambda);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= r();
  } while (p > l);
  return k - 1;
}

function binomial(r: () => number, n: number, p: number): number {
  let k = 0;
  for (let i = 0; i < n; i++) if (r() < p) k++;
  return k;
}

function trackAt(
  ticks: readonly Tick[],
  t: number,
  track: 'stable' | 'canary',
): TrackSample | undefined {
  let found: TrackSample | undefined;
  for (const tick of ticks) {
    if (tick.t <= t + 1e-9) found = tick[track];
    else break;
  }
  return found;
}

const canaryAt = (ticks: readonly Tick[], t: number) => trackAt(ticks, t, 'canary');

/**
 * The cell's canary for the Flagger replay's drawn windows. Latency: the real canary's
 * histogram over every run's exposure (Prometheus). Errors: the injected rate on top of
 * stable's measured one — not the canary's measured rate, which gantry's early stopping
 * biases upwards (a run ends soon after a burst of errors).
 */
function pooled(
  trials: Trial[],
  fault: Fault,
): {
  errorRate: number;
  stableErrorRate: number;
  measuredErrorRate: number;
  buckets: Record<string, number>;
} {
  let requests = 0;
  let errors = 0;
  let sRequests = 0;
  let sErrors = 0;
  const buckets: Record<string, number> = {};
  for (const t of trials) {
    const from = t.firstC / 1000 - 1;
    const to = t.lastC / 1000;
    const w = diffSamples(canaryAt(t.ticks, to), canaryAt(t.ticks, from));
    const s = diffSamples(trackAt(t.ticks, to, 'stable'), trackAt(t.ticks, from, 'stable'));
    requests += w.requests;
    errors += w.errors;
    sRequests += s.requests;
    sErrors += s.errors;
    for (const [le, v] of Object.entries(w.buckets)) buckets[le] = (buckets[le] ?? 0) + v;
  }
  const injected = Number(fault.config.FAULT_ERROR_RATE ?? 0);
  const stableErrorRate = sRequests > 0 ? sErrors / sRequests : 0;
  return {
    errorRate: injected + (1 - injected) * stableErrorRate,
    stableErrorRate,
    measuredErrorRate: requests > 0 ? errors / requests : 0,
    buckets,
  };
}

interface FlaggerOutcome {
  result: 'aborted' | 'promoted';
  seconds: number;
  harmed: number;
  /** Of which failed (5xx or no answer). */
  failed: number;
  windows: number;
  realWindows: number;
}

/** The Flagger-style judge's own progression over this release (see the header). */
function flaggerReplay(
  t: Trial,
  cell: Cell,
  pool: ReturnType<typeof pooled>,
  seed: number,
): FlaggerOutcome {
  const weights = STEPS[cell.first]!.weights;
  const slowRoute = FAULTS[cell.fault]!.slowRoute ?? false;
  const r = rng(seed);
  const S = t.firstC / 1000;
  const E = t.lastC / 1000;
  const gantryStep = (x: number) => t.passedAt.filter((p) => p / 1000 <= x).length;
  const total = pool.buckets['+Inf'] ?? 0;
  const interval = FLAGGER_DEFAULTS.intervalSeconds;
  let harmed = 0;
  let failed = 0;
  let windows = 0;
  let realWindows = 0;
  /** Flagger's canary over (from, from + interval] at step i: real when gantry's matched. */
  const window = (from: number, i: number): TrackSample => {
    const to = from + interval;
    windows++;
    if (to <= E && gantryStep(from) === i && gantryStep(to) === i) {
      realWindows++;
      const inW = (ms: number) => ms / 1000 > from && ms / 1000 <= to;
      const f = t.failedAt.filter(inW).length;
      failed += f;
      harmed += f + t.slowedAt.filter(inW).length;
      return diffSamples(canaryAt(t.ticks, to), canaryAt(t.ticks, from));
    }
    const n = poisson(r, ((cell.rps * weights[i]!) / 100) * interval);
    const e = binomial(r, n, pool.errorRate);
    failed += e;
    harmed += e + (slowRoute ? binomial(r, n - e, BY_ID_SHARE) : 0);
    const buckets: Record<string, number> = {};
    for (const [le, v] of Object.entries(pool.buckets)) {
      buckets[le] = total > 0 ? Math.round((n * v) / total) : 0;
    }
    return { requests: n, errors: e, buckets };
  };
  let i = 0;
  for (let run = S + interval; ; run += interval) {
    const w = window(run - interval, i);
    const check = fixedThresholdJudge(
      [
        { t: run - interval, stable: w, canary: { requests: 0, errors: 0, buckets: {} } },
        { t: run, stable: w, canary: w },
      ],
      { start: run - interval },
    ).checks[0];
    if (!check) throw new Error('no Flagger check');
    if (check.failed) {
      window(run, i); // it serves at this weight until the next run rolls it back
      return {
        result: 'aborted',
        seconds: run + interval - S,
        harmed,
        failed,
        windows,
        realWindows,
      };
    }
    if (i === weights.length - 1) {
      return { result: 'promoted', seconds: run - S, harmed, failed, windows, realWindows };
    }
    i++;
  }
}

function ratioText(a: number[], b: number[], seed: number): string {
  if (![...a, ...b].some((x) => x > 0)) return '—';
  return formatInterval(ratioInterval(a, b, seed));
}

const fmtS = (xs: number[]) =>
  xs.length ? `${median(xs).toFixed(0)} (${Math.max(...xs).toFixed(0)})` : 'none';

export function table(all: Trial[], cells: Cell[], header: string): string {
  // A canary that never served (say, its pod found no room on a shared node) was not judged.
  const trials = all.filter((t) => t.canaryRequests > 0);
  const unjudged = all.length - trials.length;
  const out: string[] = [];
  const say = (s = '') => out.push(s);
  say(header);
  say();
  say(
    '| first step | req/s | canary | runs | gantry abort s | Flagger abort s | ratio (median) | bad promoted gantry / Flagger | false aborts gantry / Flagger | gantry blast radius | Flagger blast radius | ratio | ratio 95% interval | harmed per release gantry / Flagger | Flagger windows real |',
  );
  say('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  let gHarmAll = 0;
  let gFailedAll = 0;
  let fFailedAll = 0;
  let fHarmAll = 0;
  let servedAll = 0;
  const seen = new Set<string>();
  const notes: string[] = [];
  cells.forEach((cell, ci) => {
    const ts = trials.filter((t) => t.cell === cell.key);
    if (!ts.length || seen.has(cell.key)) return;
    seen.add(cell.key);
    const fault = FAULTS[cell.fault]!;
    const pool = pooled(ts, fault);
    const fl = ts.map((t, k) => flaggerReplay(t, cell, pool, 1_000_003 * (ci + 1) + k));
    notes.push(
      `${cell.key} canary errors ${pct(pool.measuredErrorRate)}, stable ${pct(pool.stableErrorRate)}`,
    );
    const gHarm = ts.map((t) => t.failedAt.length + t.slowedAt.length);
    const gTta = ts.filter((t) => t.phase === 'aborted').map((t) => (t.lastC - t.firstC) / 1000);
    const fTta = fl.filter((o) => o.result === 'aborted').map((o) => o.seconds);
    const served = ts.length * cell.rps * WINDOW;
    const g = gHarm.reduce((a, b) => a + b, 0);
    const f = fl.reduce((a, o) => a + o.harmed, 0);
    gHarmAll += g;
    fHarmAll += f;
    gFailedAll += ts.reduce((a, t) => a + t.failedAt.length, 0);
    fFailedAll += fl.reduce((a, o) => a + o.failed, 0);
    servedAll += served;
    const bad = fault.bad;
    say(
      `| ${cell.first}% | ${cell.rps} | ${fault.name} | ${ts.length} | ${bad ? fmtS(gTta) : '—'} | ${bad ? fmtS(fTta) : '—'} | ` +
        `${bad ? ratio(median(gTta), median(fTta)) : '—'} | ` +
        `${bad ? `${ts.filter((t) => t.phase === 'promoted').length} / ${fl.filter((o) => o.result === 'promoted').length}` : '—'} | ` +
        `${bad ? '—' : `${ts.filter((t) => t.phase === 'aborted').length} / ${fl.filter((o) => o.result === 'aborted').length}`} | ` +
        `${pct(g / served)} | ${pct(f / served)} | ${ratio(g, f)} | ` +
        `${ratioText(
          gHarm,
          fl.map((o) => o.harmed),
          7919 * (ci + 1),
        )} | ` +
        `${(g / ts.length).toFixed(1)} / ${(f / ts.length).toFixed(1)} | ` +
        `${fl.reduce((a, o) => a + o.realWindows, 0)} of ${fl.reduce((a, o) => a + o.windows, 0)} |`,
    );
  });
  say();
  say(`Measured on the cells' canaries (Prometheus, over gantry's exposure): ${notes.join('; ')}.`);
  say(
    `Overall blast radius over every release's ${WINDOW / 60}-minute window, failed (5xx) requests only: ` +
      `gantry ${pct(gFailedAll / Math.max(1, servedAll))}, Flagger-style ${pct(fFailedAll / Math.max(1, servedAll))}; ` +
      `counting slowed requests as harmed too: gantry ${pct(gHarmAll / Math.max(1, servedAll))}, Flagger-style ${pct(fHarmAll / Math.max(1, servedAll))}.` +
      (unjudged ? ` Left out: ${unjudged} release(s) whose canary never served a request.` : ''),
  );
  return out.join('\n');
}

function describe(cells: Cell[], runs: number): string {
  return (
    `# Canary judges on REAL releases (user-service, gateway 127.0.0.1:8000, Prometheus)\n\n` +
    `gantry: the spec a user writes (no \`analysis:\` block), live; Flagger-style: ${FLAGGER_DEFAULTS.intervalSeconds} s interval, ` +
    `1 m window, success ≥ ${FLAGGER_DEFAULTS.minSuccessRate}%, P99 ≤ ${FLAGGER_DEFAULTS.maxP99Ms} ms, threshold ${FLAGGER_DEFAULTS.threshold}, ` +
    `one step per passing check, replayed on the same Prometheus data (windows where gantry's weight differed or had ended are drawn from the cell's real canary).\n` +
    `Cells: ${cells.map((c) => c.key).join(', ')}; up to ${runs} runs per cell. Time to abort: canary exposure in s, median (max), aborted bad releases. ` +
    `Blast radius: harmed canary requests ÷ (runs × req/s × ${WINDOW} s).`
  );
}

async function main(): Promise<void> {
  const summaryOf = process.env.BENCH_SUMMARY;
  if (summaryOf) {
    // Recompute the table from a finished run's trials.jsonl.
    const trials = summaryOf
      .split(',')
      .flatMap((f) => readFileSync(f, 'utf8').split('\n'))
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Trial);
    const keys = [...new Set(trials.map((t) => t.cell))];
    const cells = parseCells(process.env.BENCH_CELLS ?? keys.join(','));
    console.log(
      table(
        trials,
        cells,
        describe(
          cells,
          Math.max(...cells.map((c) => trials.filter((t) => t.cell === c.key).length)),
        ),
      ),
    );
    return;
  }
  const cells = parseCells(process.env.BENCH_CELLS ?? DEFAULT_CELLS);
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  if (!(runs >= 1 && runs <= 100)) throw new Error('BENCH_RUNS: 1..100');
  const until = deadline();
  const work = mkdtempSync(join(tmpdir(), 'bench-canary-'));
  const out = join(work, 'trials.jsonl');
  const lanes = [...new Set(cells.map((c) => c.lane))];
  console.log(
    `bench/canary: cells ${cells.map((c) => c.key).join(', ')}; ${runs} runs per cell; lanes ${lanes.join(', ')} concurrently` +
      (Number.isFinite(until) ? `; until ${new Date(until).toISOString()}` : '') +
      `\ntrials: ${out}`,
  );
  const base = join(work, 'gantry-build.yaml');
  writeFileSync(
    base,
    userServiceSpec({
      namespace: 'bench-canary-build',
      image: `${process.env.GANTRY_REGISTRY}/bench/user-service`,
      serviceDir: join(root, 'services/user-service'),
      version: '1.0.0',
      databaseUrlEnv: 'BENCH_DATABASE_URL',
      host: 'users.bench-canary-build.gantry.local',
      release: STEPS['1']!.release,
    }),
  );
  const built = await gantry(['build', '-f', base, '-o', 'json'], 600_000);
  if (built.status !== 0) throw new Error(built.stderr);
  const ref = JSON.parse(built.stdout) as { ref: string; digest: string };
  const image = `${ref.ref.replace(/:[^:/]+$/, '')}@${ref.digest}`;
  await Promise.all(
    lanes.map((lane) =>
      runGroup(
        lane,
        cells.find((c) => c.lane === lane)!.rps,
        cells.filter((c) => c.lane === lane),
        runs,
        image,
        until,
        work,
        out,
      ),
    ),
  );
  const trials = readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Trial);
  console.log('\n' + table(trials, cells, describe(cells, runs)));
  console.log(
    `\ntrials: ${out}  (BENCH_SUMMARY=${out} bash bench/canary/run.sh prints the table again)`,
  );
}

await main();
