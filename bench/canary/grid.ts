// See grid.sh. A SIMULATION, not a measurement: a grid of canary releases run on the
// project's seeded synthetic traffic model (packages/gantry/test/analysis/sim.ts: Poisson
// arrivals, log-normal latency into the service's histogram buckets, Bernoulli errors),
// not on real Prometheus data. The real-cluster benchmark is bench/canary/run.ts.
//
// Per cell (first-step weight × total traffic × fault), BENCH_N bad releases (or
// BENCH_GOOD good ones), each run twice on the same traffic model and seed:
//  - gantry: the driver's loop (packages/gantry/src/progressive/driver.ts) with the
//    default AnalysisSpec (no `analysis:` block): every `analysis.interval` seconds the
//    judge gets the step's measurement (canary since the step began, stable over at
//    least the last 120 s) and, from the second step on, the release-wide one (canary
//    since the first step, stable likewise); a pass moves to the next weight, an abort
//    ends the release; the last step's pass promotes.
//  - Flagger-style: fixedThresholdJudge's semantics (60 s interval, 1 m window, success
//    ≥ 99 %, P99 ≤ 500 ms, threshold 1) driving its own progression: it starts at the
//    first weight, advances one step per interval while the check passes, and rolls
//    back at the run after a failed check; a pass at the last weight promotes.
// Both draw from the same seeded generator, but their weight schedules differ, so their
// tick series are the same model and seed, not identical ticks.
//
// Not modelled: Prometheus scrape and query delay, pod start-up, a router's rounding of
// weights; stable has served all traffic for 120 s before the release starts.
import {
  FLAGGER_DEFAULTS,
  diffSamples,
  fixedThresholdJudge,
  judge,
  measurementFromSamples,
  stableSample,
  STABLE_LEAST_SECONDS,
} from '../../packages/gantry/src/analysis/index.js';
import type { Measurement, Tick } from '../../packages/gantry/src/analysis/index.js';
import type { AnalysisSpec } from '../../packages/gantry/src/spec/index.js';
import { LiveSim, analysisSpec } from '../../packages/gantry/test/analysis/sim.js';
import type { TrackModel } from '../../packages/gantry/test/analysis/sim.js';
import { formatInterval, median, pct, ratio, ratioInterval } from './stats.js';

// 100 per cell: with 20, one cell's blast-radius ratio swung from 0.37 to 1.12 between
// blocks of seeds (see the ratio's bootstrap interval in the table).
const N = Number(process.env.BENCH_N ?? 100);
const N_GOOD = Number(process.env.BENCH_GOOD ?? 100);
const spec = analysisSpec({});
/** Seconds between judgements; the driver's is analysis.interval (default 5 s). */
const EVERY = Number(process.env.BENCH_JUDGE_EVERY ?? spec.interval);
const T0 = 1_700_000_000;
/** Stable-only traffic before the release (the driver's stable lookback is 120 s). */
const WARMUP = 120;
const STABLE_LOOKBACK = 120;
/** A release still undecided after this many simulated seconds is counted as capped. */
const CAP = 30 * 60;

const STEPS: Record<string, number[]> = { '1%': [1, 5, 25, 50], '5%': [5, 25, 50] };
const RATES = [50, 200];

interface Fault {
  name: string;
  stableErrors: number;
  /** The canary's model given stable's. */
  canary: (stable: TrackModel) => TrackModel;
  bad: boolean;
  /** Share of canary requests the fault slows (they count as harmed in the blast radius). */
  slowShare?: number;
}

const FAULTS: Fault[] = [
  ...[0.001, 0].flatMap((stableErrors) =>
    [0.02, 0.05, 0.2].map((x): Fault => ({
      name: `errors +${x * 100}%`,
      stableErrors,
      canary: (s) => ({ ...s, errorRate: s.errorRate + x }),
      bad: true,
    })),
  ),
  {
    name: 'latency +200ms on 30%',
    stableErrors: 0.001,
    canary: (s) => ({ ...s, delay: 0.2, delayShare: 0.3 }),
    bad: true,
    slowShare: 0.3,
  },
  { name: 'good', stableErrors: 0.001, canary: (s) => ({ ...s }), bad: false },
];

interface Outcome {
  result: 'aborted' | 'promoted' | 'capped';
  /** Seconds from the release's start to its end. */
  seconds: number;
  /** Canary requests that failed (5xx) from the release's start to its end. */
  failed: number;
  canaryRequests: number;
  /** All requests, stable and canary, from the release's start to its end. */
  requests: number;
}

/** The sim, after WARMUP seconds of stable-only traffic; ticks[WARMUP] is at T0. */
function warmSim(seed: number, total: number, stable: TrackModel, canary: TrackModel): LiveSim {
  const sim = new LiveSim(seed, stable, canary, T0 - WARMUP);
  for (let s = 0; s < WARMUP; s++) sim.next(total, 0);
  return sim;
}

function tickAt(sim: LiveSim, t: number): Tick {
  const tick = sim.ticks[t - (T0 - WARMUP)];
  if (!tick) throw new Error(`no tick at ${t}`);
  return tick;
}

function outcome(sim: LiveSim, result: Outcome['result'], end: number): Outcome {
  const a = tickAt(sim, T0);
  const b = tickAt(sim, end);
  const canaryRequests = b.canary.requests - a.canary.requests;
  return {
    result,
    seconds: end - T0,
    failed: b.canary.errors - a.canary.errors,
    canaryRequests,
    requests: canaryRequests + b.stable.requests - a.stable.requests,
  };
}

/**
 * As measure() with MeasureWindow { since, now, stableSince: now − 120 s }: stable over the
 * canary's window (at least STABLE_LEAST_SECONDS) unless too thin there, else from
 * stableSince.
 */
function measureSim(sim: LiveSim, since: number, now: number): Measurement {
  const b = tickAt(sim, now);
  const canary = diffSamples(b.canary, tickAt(sim, since).canary);
  const from = Math.min(since, now - STABLE_LEAST_SECONDS);
  const lookback = Math.min(since, now - STABLE_LOOKBACK);
  const paired = diffSamples(b.stable, tickAt(sim, from).stable);
  const long = lookback < from ? diffSamples(b.stable, tickAt(sim, lookback).stable) : undefined;
  const stable = stableSample(paired, long, canary.requests, spec);
  return measurementFromSamples(stable, canary, {
    at: new Date(now * 1000),
    windowSeconds: now - since,
    spec,
  });
}

function gantryRelease(
  seed: number,
  total: number,
  weights: number[],
  stable: TrackModel,
  canary: TrackModel,
  s: AnalysisSpec,
): Outcome {
  const sim = warmSim(seed, total, stable, canary);
  let stepStart = T0;
  let i = 0;
  for (let t = T0 + 1; t <= T0 + CAP; t++) {
    const w = (weights[i] ?? 0) / 100;
    sim.next(total * (1 - w), total * w);
    const elapsed = t - stepStart;
    if (elapsed % EVERY !== 0) continue;
    const m = measureSim(sim, stepStart, t);
    // The driver passes the release-wide measurement once an earlier step was analysed.
    const release = stepStart > T0 ? measureSim(sim, T0, t) : undefined;
    const d = judge(
      m,
      s,
      {
        elapsedSeconds: elapsed,
        minSeconds: s.minStepDuration,
        maxSeconds: Math.max(s.minStepDuration, s.maxStepDuration),
        holdWithoutTraffic: true,
        onInconclusive: s.onInconclusive,
        intervalSeconds: EVERY,
      },
      release,
    );
    if (d.verdict === 'abort') return outcome(sim, 'aborted', t);
    if (d.verdict === 'pass') {
      if (i === weights.length - 1) return outcome(sim, 'promoted', t);
      i++;
      stepStart = t;
    }
  }
  return outcome(sim, 'capped', T0 + CAP);
}

function flaggerRelease(
  seed: number,
  total: number,
  weights: number[],
  stable: TrackModel,
  canary: TrackModel,
): Outcome {
  const sim = warmSim(seed, total, stable, canary);
  const interval = FLAGGER_DEFAULTS.intervalSeconds;
  let i = 0;
  for (let run = T0 + interval; run <= T0 + CAP; run += interval) {
    const w = (weights[i] ?? 0) / 100;
    for (let k = 0; k < interval; k++) sim.next(total * (1 - w), total * w);
    const r = fixedThresholdJudge(sim.ticks, { ...FLAGGER_DEFAULTS, start: T0 });
    if (r.abortAt !== undefined) return outcome(sim, 'aborted', r.abortAt);
    const check = r.checks[r.checks.length - 1];
    if (!check || check.t !== run) throw new Error(`no Flagger check at ${run}`);
    if (check.failed) continue; // rolled back at the next run
    if (i === weights.length - 1) return outcome(sim, 'promoted', run);
    i++;
  }
  return outcome(sim, 'capped', T0 + CAP);
}

// ---------------------------------------------------------------------------------------

interface Side {
  outcomes: Outcome[];
  /** Harmed requests: failed ones, plus the slowed share of canary requests for a latency fault. */
  harmed: number;
  /** All requests the service answers in a fixed window per release (rate × WINDOW). */
  served: number;
}

/**
 * The blast radius' window per release: the same wall-clock traffic for both judges, as in
 * the real bench (its load runs for the whole run). Dividing by the requests up to each
 * judge's own end instead makes the ratio ≈ weight × error rate whatever the speed.
 */
const WINDOW = 10 * 60;

interface Cell {
  first: string;
  rate: number;
  fault: Fault;
  gantry: Side;
  flagger: Side;
}

function side(outcomes: Outcome[], fault: Fault, rate: number): Side {
  const harmed = outcomes.reduce(
    (a, o) => a + o.failed + (fault.slowShare ?? 0) * o.canaryRequests,
    0,
  );
  return { outcomes, harmed, served: outcomes.length * rate * WINDOW };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const failed = (s: Side) => sum(s.outcomes.map((o) => o.failed));
const blast = (s: Side) => s.harmed / Math.max(1, s.served);
const perRelease = (s: Side) => s.harmed / Math.max(1, s.outcomes.length);
const abortSecs = (s: Side) =>
  s.outcomes.filter((o) => o.result === 'aborted').map((o) => o.seconds);
const count = (s: Side, r: Outcome['result']) => s.outcomes.filter((o) => o.result === r).length;

function tta(s: Side): string {
  const xs = abortSecs(s);
  if (!xs.length) return 'none';
  return `${median(xs)} (${Math.max(...xs)})`;
}

/** The cell's blast-radius ratio gantry / Flagger: Σ harmed (gantry) ÷ Σ harmed (Flagger). */
function interval(c: Cell, ci: number): string {
  const harm = (o: Outcome) => o.failed + (c.fault.slowShare ?? 0) * o.canaryRequests;
  return formatInterval(
    ratioInterval(c.gantry.outcomes.map(harm), c.flagger.outcomes.map(harm), 7919 * (ci + 1)),
  );
}

function cellName(c: Cell): string {
  return `${c.first} first, ${c.rate} req/s, stable ${c.fault.stableErrors * 100}% errors, ${c.fault.name}`;
}

const started = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
const cells: Cell[] = [];
const plan = Object.entries(STEPS).flatMap(([first, weights]) =>
  RATES.flatMap((rate) => FAULTS.map((fault) => ({ first, weights, rate, fault }))),
);
plan.forEach(({ first, weights, rate, fault }, ci) => {
  const stable: TrackModel = { rate, errorRate: fault.stableErrors };
  const canary = fault.canary(stable);
  const n = fault.bad ? N : N_GOOD;
  const g: Outcome[] = [];
  const f: Outcome[] = [];
  for (let r = 0; r < n; r++) {
    const seed = 1_000_003 * (ci + 1) + r;
    g.push(gantryRelease(seed, rate, weights, stable, canary, spec));
    f.push(flaggerRelease(seed, rate, weights, stable, canary));
  }
  const cell: Cell = {
    first,
    rate,
    fault,
    gantry: side(g, fault, rate),
    flagger: side(f, fault, rate),
  };
  cells.push(cell);
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  process.stderr.write(
    `[${ci + 1}/${plan.length}] ${cellName(cell)}: ` +
      `gantry aborted ${count(cell.gantry, 'aborted')}/${n} (s: ${tta(cell.gantry)}), ` +
      `Flagger aborted ${count(cell.flagger, 'aborted')}/${n} (s: ${tta(cell.flagger)}) ` +
      `[simulated; ${secs.toFixed(1)} s]\n`,
  );
});

const out: string[] = [];
const say = (s = '') => out.push(s);
say('# Canary judges on SIMULATED traffic (not real Prometheus data)');
say();
say(
  "Simulation with the project's synthetic traffic model (packages/gantry/test/analysis/sim.ts), " +
    'seeded and deterministic; the real-cluster benchmark is bench/canary/run.ts.',
);
say(
  `gantry: default analysis (no \`analysis:\` block), judged every ${EVERY} s as the driver does; ` +
    `Flagger-style: ${FLAGGER_DEFAULTS.intervalSeconds} s interval, 1 m window, success ≥ ${FLAGGER_DEFAULTS.minSuccessRate}%, ` +
    `P99 ≤ ${FLAGGER_DEFAULTS.maxP99Ms} ms, threshold ${FLAGGER_DEFAULTS.threshold}, one step per passing interval.`,
);
say(
  'Both run on the same model and seed; their weight schedules differ, so the ticks are not identical.',
);
say(
  `Stable: median 20 ms (log-normal, σ 0.5); ${N} bad and ${N_GOOD} good releases per cell; ` +
    `steps 1% first: [${STEPS['1%']!.join(', ')}], 5% first: [${STEPS['5%']!.join(', ')}]; releases capped at ${CAP / 60} simulated minutes.`,
);
say(
  'Time to abort: seconds from the release start, median (max), aborted bad releases only. ' +
    `Blast radius: harmed canary requests ÷ all requests the service answers in the same ${WINDOW / 60}-minute window per release ` +
    '(the real bench loads the service for its whole run), summed over the cell; harmed = failed (5xx), and for the latency ' +
    'fault also the slowed 30% of canary requests (expected count). Harmed per release: mean count.',
);
say();
say(
  '| first step | req/s | stable errors | canary | gantry abort s | Flagger abort s | ratio (median) | bad promoted gantry / Flagger | false aborts gantry / Flagger | gantry blast radius | Flagger blast radius | ratio | ratio 95% interval | harmed per release gantry / Flagger |',
);
say('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const [ci, c] of cells.entries()) {
  const g = c.gantry;
  const f = c.flagger;
  const bad = c.fault.bad;
  const capped = count(g, 'capped') + count(f, 'capped');
  say(
    `| ${c.first} | ${c.rate} | ${c.fault.stableErrors * 100}% | ${c.fault.name} | ` +
      `${bad ? tta(g) : '—'} | ${bad ? tta(f) : '—'} | ` +
      `${bad ? ratio(median(abortSecs(g)), median(abortSecs(f))) : '—'} | ` +
      `${bad ? `${count(g, 'promoted')} / ${count(f, 'promoted')} of ${N}` : '—'} | ` +
      `${bad ? '—' : `${count(g, 'aborted')} / ${count(f, 'aborted')} of ${N_GOOD}`} | ` +
      `${pct(blast(g))} | ${pct(blast(f))} | ${ratio(blast(g), blast(f))}${capped ? ` (capped: ${count(g, 'capped')} / ${count(f, 'capped')})` : ''} | ${interval(c, ci)} | ` +
      `${perRelease(g).toFixed(1)} / ${perRelease(f).toFixed(1)} |`,
  );
}

const all = (k: 'gantry' | 'flagger') => cells.map((c) => c[k]);
const overall = (k: 'gantry' | 'flagger', harmedToo: boolean) =>
  sum(all(k).map((s) => (harmedToo ? s.harmed : failed(s)))) / sum(all(k).map((s) => s.served));
say();
say(
  `Overall blast radius, failed (5xx) requests ÷ all requests over every release's window: ` +
    `gantry ${pct(overall('gantry', false))}, Flagger ${pct(overall('flagger', false))}; ` +
    `counting slowed requests as harmed too: gantry ${pct(overall('gantry', true))}, Flagger ${pct(overall('flagger', true))}.`,
);

// Targets from the issue.
const badCells = cells.filter((c) => c.fault.bad);
const goodCells = cells.filter((c) => !c.fault.bad);
const worseBlast = badCells.filter((c) => blast(c.gantry) > blast(c.flagger));
const moreHarmed = badCells.filter((c) => perRelease(c.gantry) > perRelease(c.flagger));
const worseGood = goodCells.filter((c) => blast(c.gantry) > blast(c.flagger));
const promoted = sum(badCells.map((c) => count(c.gantry, 'promoted')));
const cappedBad = sum(badCells.map((c) => count(c.gantry, 'capped')));
const falseAborts = goodCells.map((c) => count(c.gantry, 'aborted'));
const target = cells.filter(
  (c) => c.first === '5%' && c.fault.name === 'errors +5%' && c.fault.stableErrors === 0.001,
);
const met = (ok: boolean) => (ok ? 'MET   ' : 'MISSED');
say();
say('Targets (on this simulation):');
say(
  `- ${met(!worseBlast.length)} blast radius ≤ Flagger's in every bad-release cell` +
    (worseBlast.length
      ? `: worse in ${worseBlast.map((c) => `${cellName(c)} (${pct(blast(c.gantry))} vs ${pct(blast(c.flagger))}, ratio 95% interval ${interval(c, cells.indexOf(c))})`).join('; ')}`
      : ` (${badCells.length} cells)`),
);
say(
  `- (not an issue target) harmed requests per release ≤ Flagger's in every bad-release cell: ` +
    (moreHarmed.length
      ? `more in ${moreHarmed.map((c) => `${cellName(c)} (${perRelease(c.gantry).toFixed(1)} vs ${perRelease(c.flagger).toFixed(1)})`).join('; ')}`
      : `yes (${badCells.length} cells)`),
);
say(
  `- ${met(!worseGood.length)} the same in the good-release cells (there "failed" is stable's own error rate on the canary)` +
    (worseGood.length
      ? `: worse in ${worseGood.map((c) => `${cellName(c)} (${pct(blast(c.gantry))} vs ${pct(blast(c.flagger))})`).join('; ')}`
      : ''),
);
say(
  `- ${met(overall('gantry', false) <= 0.001)} overall blast radius ≤ 0.1%: ${pct(overall('gantry', false))} (5xx only); ` +
    `${pct(overall('gantry', true))} counting slowed requests`,
);
say(
  `- ${met(promoted === 0 && cappedBad === 0)} 0 bad releases promoted: ${promoted} promoted` +
    (cappedBad ? `, ${cappedBad} undecided at the ${CAP / 60} min cap` : ''),
);
say(
  `- ${met(falseAborts.every((x) => x <= N_GOOD / 20))} ≤ 1 false abort in 20 good releases: ` +
    goodCells.map((c, i) => `${c.first}/${c.rate} req/s ${falseAborts[i]}/${N_GOOD}`).join(', '),
);
say(
  `- ${met(target.every((c) => median(abortSecs(c.gantry)) <= 30))} median time to abort ≤ 30 s for +5% errors at a 5% first step: ` +
    target.map((c) => `${c.rate} req/s ${median(abortSecs(c.gantry))} s`).join(', '),
);
const cpu = process.cpuUsage(cpu0);
say();
say(
  `(simulation: ${cells.length} cells, ${sum(cells.map((c) => c.gantry.outcomes.length))} releases per judge; ` +
    `wall ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s)`,
);
console.log(out.join('\n'));
