// Replays gantry's judge on the Prometheus ticks that bench/canary/run.ts recorded for real
// releases (trials.jsonl), on each release's recorded step schedule: a change to the judge,
// or to how stable's window is chosen, is weighed on real data before a bench is rerun. For
// each trial the judge looks every interval from the first canary request, step by step
// (a step ends where the recorded release passed it); the first abort is the replay's
// outcome. Good releases: false aborts. Bad ones: aborted and how long it took. The
// recorded schedule is the real release's, so a replay that would have passed a step sooner
// or later is not followed further: read it as "would this rule have stopped that release,
// and when", not as a new run.
//
//   BENCH_REPLAY=/tmp/bench-canary-XXXX/trials.jsonl[,more] npx tsx bench/canary/replay.ts
//   REPLAY_RULES=lookback120,paired,allPaired   (default: these three; see rule())
//
import { readFileSync } from 'node:fs';
import {
  diffSamples,
  judge,
  measurementFromSamples,
  pairedStableEnough,
  stableSample,
  STABLE_LEAST_SECONDS,
} from '../../packages/gantry/src/analysis/index.js';
import type { Measurement, Tick, TrackSample } from '../../packages/gantry/src/analysis/index.js';
import { analysisSpec } from '../../packages/gantry/test/analysis/sim.js';
import { median } from './stats.js';

interface Trial {
  cell: string;
  run: number;
  phase: string;
  firstC: number;
  lastC: number;
  passedAt: number[];
  ticks: Tick[];
  summary: string;
}

const spec = analysisSpec();
const LOOKBACK = 120;

function tickAt(ticks: readonly Tick[], t: number): Tick | undefined {
  let lo = 0;
  let hi = ticks.length - 1;
  if (hi < 0 || ticks[0]!.t > t) return undefined;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ticks[mid]!.t <= t) lo = mid;
    else hi = mid - 1;
  }
  return ticks[lo];
}

interface Rule {
  name: string;
  /** Stable's counts, given stable measured from any start. */
  stable: (
    since: number,
    now: number,
    from: (t: number) => TrackSample,
    canary: number,
  ) => TrackSample;
}

/**
 * lookback120: stable from min(since, now − 120 s) for everything (gantry before paired
 * latency windows). paired: stableSample (measure() today). pairedNN: the same with the
 * paired window at least NN s. allPaired[NN]: errors paired too.
 */
function rule(name: string): Rule {
  if (name === 'lookback120')
    return { name, stable: (since, now, from) => from(Math.min(since, now - LOOKBACK)) };
  const m = /^(all)?[pP]aired(\d+)?$/.exec(name);
  if (!m) throw new Error(`REPLAY_RULES: unknown rule ${name}`);
  const least = m[2] === undefined ? STABLE_LEAST_SECONDS : Number(m[2]);
  return {
    name,
    stable: (since, now, from, canary) => {
      const p = Math.min(since, now - least);
      const l = Math.min(since, now - LOOKBACK);
      const paired = from(p);
      if (m[1]) return pairedStableEnough(paired.requests, canary, spec) ? paired : from(l);
      return stableSample(paired, l < p ? from(l) : undefined, canary, spec);
    },
  };
}

function measureAt(ticks: readonly Tick[], since: number, now: number, r: Rule): Measurement {
  const b = tickAt(ticks, now);
  const canary = diffSamples(b?.canary, tickAt(ticks, since)?.canary);
  const from = (t: number) => diffSamples(b?.stable, tickAt(ticks, t)?.stable);
  return measurementFromSamples(r.stable(since, now, from, canary.requests), canary, {
    at: new Date(now * 1000),
    windowSeconds: Math.max(0, now - since),
    spec,
  });
}

/** Seconds from the first canary request to the replay's first abort, or undefined. */
function replay(t: Trial, r: Rule): { at?: number; why?: string } {
  const first = t.firstC / 1000;
  // Runs recorded before 2026-12-05 03:30 UTC stop their ticks at the canary's last
  // request, before the scrape with an abort's last evidence: their bad releases replay
  // with fewer aborts than were recorded. Later runs record 10 s more.
  const end = t.ticks[t.ticks.length - 1]?.t ?? 0;
  const starts = [first, ...t.passedAt.map((p) => p / 1000)];
  for (const [i, start] of starts.entries()) {
    const stepEnd = Math.min(starts[i + 1] ?? end, end);
    for (let now = start + spec.interval; now <= stepEnd; now += spec.interval) {
      const m = measureAt(t.ticks, start, now, r);
      const release = i > 0 ? measureAt(t.ticks, first, now, r) : undefined;
      const d = judge(
        m,
        spec,
        {
          elapsedSeconds: now - start,
          minSeconds: spec.minStepDuration,
          maxSeconds: spec.maxStepDuration,
          holdWithoutTraffic: true,
          intervalSeconds: spec.interval + 2,
        },
        release,
      );
      if (d.verdict === 'abort') return { at: now - first, why: d.summary };
    }
  }
  return {};
}

const files = (process.env.BENCH_REPLAY ?? '').split(',').filter(Boolean);
if (!files.length) throw new Error('BENCH_REPLAY: one or more trials.jsonl files, comma-separated');
const rules = (process.env.REPLAY_RULES ?? 'lookback120,paired,allPaired').split(',').map(rule);
const trials = files.flatMap((f) =>
  readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Trial)
    .filter((t) => t.ticks?.length && t.firstC > 0),
);
const cells = [...new Set(trials.map((t) => t.cell))];
console.log(
  `| cell | releases | recorded aborts | ${rules.map((r) => `${r.name} aborts (median s)`).join(' | ')} |`,
);
console.log(`|---|---|---|${rules.map(() => '---').join('|')}|`);
for (const cell of cells) {
  const ts = trials.filter((t) => t.cell === cell);
  const cols = rules.map((r) => {
    const at = ts.map((t) => replay(t, r).at).filter((x): x is number => x !== undefined);
    return `${at.length}${at.length ? ` (${median(at).toFixed(0)})` : ''}`;
  });
  console.log(
    `| ${cell} | ${ts.length} | ${ts.filter((t) => t.phase === 'aborted').length} | ${cols.join(' | ')} |`,
  );
}
if (process.env.REPLAY_VERBOSE) {
  for (const t of trials.filter((x) => x.cell.endsWith(':good'))) {
    for (const r of rules) {
      const o = replay(t, r);
      if (o.at !== undefined)
        console.log(`${t.cell} run ${t.run} ${r.name}: abort at ${o.at.toFixed(0)} s: ${o.why}`);
    }
  }
}
