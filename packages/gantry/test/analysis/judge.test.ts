// The judge on seeded synthetic traffic: how fast clear regressions abort, how rarely a
// good canary is aborted, and the rules around it (guard rails, queries, no traffic).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judge, measureFromTicks } from '../../src/analysis/index.js';
import type { Decision, Measurement, Tick } from '../../src/analysis/index.js';
import type { AnalysisSpec } from '../../src/spec/index.js';
import { LiveSim, analysisSpec, simulate } from './sim.js';
import type { TrackModel } from './sim.js';

const STABLE: TrackModel = { rate: 190, errorRate: 0.001 };
const T0 = 1_700_000_000;

interface Run {
  decision: Decision;
  seconds: number;
  canaryRequests: number;
}

/** Judges every second from the step's start until a verdict other than continue. */
function runJudge(ticks: readonly Tick[], spec: AnalysisSpec): Run {
  const last = ticks[ticks.length - 1];
  assert.ok(last);
  let d: Decision | undefined;
  let m: Measurement | undefined;
  let s = 1;
  for (; T0 + s <= last.t; s++) {
    m = measureFromTicks(ticks, T0, T0 + s, spec);
    d = judge(m, spec, {
      elapsedSeconds: s,
      minSeconds: spec.minStepDuration,
      maxSeconds: spec.maxStepDuration,
      intervalSeconds: 1,
    });
    if (d.verdict !== 'continue') break;
  }
  assert.ok(d && m);
  return { decision: d, seconds: s, canaryRequests: m.canary.requests };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

test('a 5% error canary at ~10 req/s against 0.1% stable aborts within seconds', (t) => {
  const spec = analysisSpec();
  const secs: number[] = [];
  const reqs: number[] = [];
  for (let seed = 1; seed <= 200; seed++) {
    const ticks = simulate(seed, STABLE, { rate: 10, errorRate: 0.05 }, 120);
    const r = runJudge(ticks, spec);
    assert.equal(r.decision.verdict, 'abort', `seed ${seed}: ${r.decision.summary}`);
    assert.match(r.decision.summary, /^abort: (error-rate|errors-vs-stable)/);
    secs.push(r.seconds);
    reqs.push(r.canaryRequests);
  }
  t.diagnostic(
    `5% errors: seconds to abort median ${median(secs)}, p90 ${quantile(secs, 0.9)}, max ${Math.max(...secs)}; canary requests median ${median(reqs)}`,
  );
  assert.ok(median(secs) <= 30, `median ${median(secs)} s`);
});

test('a +200 ms canary aborts on the slow rate', (t) => {
  const spec = analysisSpec();
  const secs: number[] = [];
  for (let seed = 1; seed <= 200; seed++) {
    const ticks = simulate(seed, STABLE, { rate: 10, errorRate: 0.001, delay: 0.2 }, 60);
    const r = runJudge(ticks, spec);
    assert.equal(r.decision.verdict, 'abort', `seed ${seed}: ${r.decision.summary}`);
    const slow = r.decision.checks.find((c) => c.name === 'slow-rate');
    assert.equal(slow?.verdict, 'abort');
    assert.match(
      slow?.threshold ?? '',
      /slow = over (50|100)ms \(stable P99, at least 25ms, bucket-rounded\)/,
    );
    secs.push(r.seconds);
  }
  t.diagnostic(`+200 ms: seconds to abort median ${median(secs)}, max ${Math.max(...secs)}`);
  assert.ok(median(secs) <= 5);
});

test('a good canary passes, and is falsely aborted in < 1% of 1000 runs', (t) => {
  const spec = analysisSpec();
  let falseAborts = 0;
  const passSecs: number[] = [];
  const confidences: number[] = [];
  for (let seed = 1; seed <= 1000; seed++) {
    const ticks = simulate(10_000 + seed, STABLE, { rate: 10, errorRate: 0.001 }, 300);
    const r = runJudge(ticks, spec);
    if (r.decision.verdict === 'abort') {
      falseAborts++;
      continue;
    }
    assert.equal(r.decision.verdict, 'pass', r.decision.summary);
    passSecs.push(r.seconds);
    confidences.push(r.decision.confidence);
  }
  t.diagnostic(
    `good canary: ${falseAborts}/1000 false aborts; pass after median ${median(passSecs)} s (p90 ${quantile(passSecs, 0.9)}, max ${Math.max(...passSecs)}); confidence median ${median(confidences).toFixed(3)}`,
  );
  assert.ok(falseAborts < 10, `${falseAborts} false aborts`);
});

test('a good canary with a higher background error rate (2%) is not aborted', () => {
  const spec = analysisSpec();
  let aborts = 0;
  for (let seed = 1; seed <= 200; seed++) {
    const ticks = simulate(
      20_000 + seed,
      { rate: 190, errorRate: 0.02 },
      { rate: 10, errorRate: 0.02 },
      300,
    );
    if (runJudge(ticks, spec).decision.verdict === 'abort') aborts++;
  }
  assert.ok(aborts <= 2, `${aborts} aborts`);
});

function measurement(over: Partial<Measurement> = {}): Measurement {
  return {
    at: new Date(T0 * 1000),
    windowSeconds: 30,
    slowThresholdSeconds: 0.1,
    slowThresholdSource: 'stable-p99',
    stable: { requests: 5000, errors: 5, slow: 20, observed: 5000, p50: 0.02, p99: 0.08 },
    canary: { requests: 300, errors: 0, slow: 1, observed: 300, p50: 0.02, p99: 0.08 },
    queries: [],
    ...over,
  };
}

const STEP = { elapsedSeconds: 30, minSeconds: 15, maxSeconds: 300 };

test('guard rails: error rate and P99 above the limits abort once armed', () => {
  const spec = analysisSpec({ guardRails: { maxErrorRate: 0.05, maxP99: 0.5, minRequests: 20 } });
  // As bad as stable (so the sequential test does not fire), but over the absolute limit.
  const bad = measurement({
    stable: { requests: 5000, errors: 500, slow: 20, observed: 5000, p99: 0.08 },
    canary: { requests: 40, errors: 4, slow: 0, observed: 40, p99: 0.08 },
  });
  const d = judge(bad, spec, STEP);
  assert.equal(d.verdict, 'abort');
  assert.equal(d.confidence, 1);
  const g = d.checks.find((c) => c.name === 'max-error-rate');
  assert.equal(g?.verdict, 'abort');
  assert.equal(g?.statistic, '10% > 5%');
  assert.equal(d.checks.find((c) => c.name === 'error-rate')?.verdict, 'continue');

  // Not armed below minRequests.
  const few = measurement({
    canary: { requests: 10, errors: 1, slow: 0, observed: 10, p99: 0.9 },
  });
  const d2 = judge(few, spec, STEP);
  assert.equal(d2.checks.find((c) => c.name === 'max-error-rate')?.verdict, 'continue');
  assert.equal(d2.checks.find((c) => c.name === 'max-p99')?.verdict, 'continue');

  const slow = measurement({
    canary: { requests: 100, errors: 0, slow: 0, observed: 100, p99: 0.8 },
    slowThresholdSeconds: 1,
  });
  const d3 = judge(slow, spec, STEP);
  assert.equal(d3.verdict, 'abort');
  const p = d3.checks.find((c) => c.name === 'max-p99');
  assert.equal(p?.verdict, 'abort');
  assert.equal(p?.statistic, 'P99 800ms > 500ms');
  assert.equal(p?.baseline, '80ms');
  assert.match(d3.summary, /^abort: max-p99 canary 800ms vs stable 80ms/);
});

test('user queries: a canary value outside [min, max] aborts and shows the baseline', () => {
  const spec = analysisSpec({
    queries: [{ name: 'queue-depth', query: 'max(queue{track="$track"})', max: 100 }],
  });
  const d = judge(
    measurement({ queries: [{ name: 'queue-depth', stable: 12, canary: 250 }] }),
    spec,
    STEP,
  );
  assert.equal(d.verdict, 'abort');
  const q = d.checks.find((c) => c.name === 'query queue-depth');
  assert.deepEqual(
    { verdict: q?.verdict, canary: q?.canary, baseline: q?.baseline, statistic: q?.statistic },
    { verdict: 'abort', canary: '250', baseline: '12', statistic: '250 > max 100' },
  );
  // No number for the canary: keeps the step open, never aborts.
  const d2 = judge(measurement({ queries: [{ name: 'queue-depth', stable: 12 }] }), spec, STEP);
  assert.equal(d2.checks.find((c) => c.name === 'query queue-depth')?.verdict, 'continue');
  assert.notEqual(d2.verdict, 'abort');
});

test('an empty canary continues and says it is waiting for traffic', () => {
  const spec = analysisSpec();
  const empty = measurement({
    canary: { requests: 0, errors: 0, slow: 0, observed: 0 },
  });
  const d = judge(empty, spec, STEP);
  assert.equal(d.verdict, 'continue');
  assert.equal(d.confidence, 0);
  assert.match(d.summary, /^waiting for canary traffic: no canary requests in 30s/);
  // At the time limit: passes, but says it is unverified, with confidence 0 …
  const atMax = judge(empty, spec, { ...STEP, elapsedSeconds: 300 });
  assert.equal(atMax.verdict, 'pass');
  assert.equal(atMax.confidence, 0);
  assert.match(atMax.summary, /unverified: only 0 canary requests/);
  // … or holds when asked to.
  const held = judge(empty, spec, { ...STEP, elapsedSeconds: 300, holdWithoutTraffic: true });
  assert.equal(held.verdict, 'continue');
  assert.match(held.summary, /^holding: only 0 canary requests/);
});

test('every check explains itself: metric, canary vs baseline, statistic, threshold', () => {
  const spec = analysisSpec();
  const d = judge(
    measurement({
      canary: { requests: 400, errors: 20, slow: 2, observed: 400, p99: 0.09 },
    }),
    spec,
    STEP,
  );
  assert.equal(d.verdict, 'abort');
  const e = d.checks.find((c) => c.name === 'error-rate');
  assert.ok(e);
  assert.equal(e.canary, '5% errors (20/400)');
  assert.match(e.baseline, /^0\.1% \(5\/5000, ≤ 0\.21% at 95%\)$/);
  // α 0.1% split over three tests (errors, slow requests, errors against stable itself).
  assert.match(e.statistic, /^LLR \d+(\.\d)? ≥ 8$/);
  assert.match(
    e.threshold,
    /^H0 0\.71% \(stable \+ 0\.5%\) vs H1 2\.21% \(stable \+ 2%\); α 0\.033%, β 5%$/,
  );
  const w = d.checks.find((c) => c.name === 'errors-vs-stable');
  assert.ok(w?.abortOnly);
  assert.match(w.threshold, /^H0 0\.26% \(stable \+ 0\.05%\) vs H1 2\.21% .*abort only/);
  assert.ok(d.confidence > 0.999);
  assert.match(d.summary, /^abort: error-rate canary 5% errors \(20\/400\) vs stable 0\.1%/);
});

test('a pass needs the minimum step time; before it the step continues', () => {
  const spec = analysisSpec();
  const good = measurement({
    canary: { requests: 2000, errors: 2, slow: 4, observed: 2000, p99: 0.08 },
  });
  const early = judge(good, spec, { ...STEP, elapsedSeconds: 10 });
  assert.equal(early.verdict, 'continue');
  assert.match(early.summary, /checks passed, step runs at least 15s/);
  const later = judge(good, spec, STEP);
  assert.equal(later.verdict, 'pass');
  assert.ok(later.confidence > 0.9 && later.confidence <= 1);
});

test('no histogram on either track: the slow check is skipped, not blocking', () => {
  const spec = analysisSpec();
  const d = judge(
    measurement({
      slowThresholdSeconds: NaN,
      stable: { requests: 5000, errors: 5, slow: 0, observed: 0 },
      canary: { requests: 2000, errors: 2, slow: 0, observed: 0 },
    }),
    spec,
    STEP,
  );
  assert.equal(d.checks.find((c) => c.name === 'slow-rate')?.verdict, 'pass');
  assert.equal(d.verdict, 'pass');
});

interface ReleaseRun {
  outcome: 'promoted' | 'aborted';
  seconds: number;
  decision: Decision;
  /** Canary requests that failed before the abort or promotion. */
  canaryErrors: number;
}

/**
 * A whole canary release judged every second as the driver does: `weights` in percent of
 * `total` req/s, each step until it passes (then the next) or aborts; the step's own
 * measurement and the release-wide one (since the first step began).
 */
function runRelease(
  seed: number,
  total: number,
  weights: number[],
  canary: TrackModel,
  spec: AnalysisSpec,
  opts: { releaseWide?: boolean } = {},
): ReleaseRun {
  const sim = new LiveSim(seed, { ...STABLE, rate: total }, canary, T0);
  let stepStart = T0;
  let seconds = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = (weights[i] ?? 0) / 100;
    for (;;) {
      seconds++;
      const tick = sim.next(total * (1 - w), total * w);
      const m = measureFromTicks(sim.ticks, stepStart, tick.t, spec);
      const release = measureFromTicks(sim.ticks, T0, tick.t, spec);
      const d = judge(
        m,
        spec,
        {
          elapsedSeconds: tick.t - stepStart,
          minSeconds: spec.minStepDuration,
          maxSeconds: spec.maxStepDuration,
          holdWithoutTraffic: true,
          intervalSeconds: 1,
        },
        opts.releaseWide === false ? undefined : release,
      );
      if (d.verdict === 'abort') {
        return { outcome: 'aborted', seconds, decision: d, canaryErrors: tick.canary.errors };
      }
      if (d.verdict === 'pass') {
        stepStart = tick.t;
        if (i === weights.length - 1) {
          return { outcome: 'promoted', seconds, decision: d, canaryErrors: tick.canary.errors };
        }
        break;
      }
      assert.ok(seconds < 10_000, 'the release ends');
    }
  }
  throw new Error('unreachable');
}

test('an undecided step at its limit never passes a canary worse than stable', () => {
  // The case found by hand: ~1 canary req/s failing 1.3% of requests, stable 0 of 30,000.
  const spec = analysisSpec();
  for (let seed = 1; seed <= 100; seed++) {
    const ticks = simulate(
      40_000 + seed,
      { rate: 100, errorRate: 0 },
      { rate: 1, errorRate: 0.013 },
      400,
    );
    const r = runJudge(ticks, spec);
    // A pass needs the tests to decide for the canary; never a pass at the limit.
    assert.ok(
      !(r.decision.verdict === 'pass' && r.decision.inconclusive),
      `seed ${seed}: ${r.decision.summary}`,
    );
  }
  // The exact numbers of the report (4 of 303 against 0 of 29,999): stopped, now by the
  // test against stable itself before the limit is reached.
  const stable = { requests: 29_999, errors: 0, slow: 0, observed: 29_999 };
  const reported = judge(
    measurement({
      windowSeconds: 300,
      stable,
      canary: { requests: 303, errors: 4, slow: 0, observed: 303 },
    }),
    spec,
    { elapsedSeconds: 300, minSeconds: 15, maxSeconds: 300 },
  );
  assert.equal(reported.verdict, 'abort', reported.summary);
  assert.match(reported.summary, /^abort: errors-vs-stable canary 1.32% errors \(4\/303\)/);
  // 3 of 303: the tests leave it open; at the limit it is measurably worse: abort, saying why.
  const three = measurement({
    windowSeconds: 300,
    stable,
    canary: { requests: 303, errors: 3, slow: 0, observed: 303 },
  });
  const d = judge(three, spec, { elapsedSeconds: 300, minSeconds: 15, maxSeconds: 300 });
  assert.equal(d.verdict, 'abort', d.summary);
  assert.equal(d.inconclusive, true);
  assert.match(
    d.summary,
    /^abort at the step's 300s limit: undecided, and the canary is measurably worse than stable: error-rate vs stable canary 0.99% \(3\/303\)/,
  );
  const early = judge(three, spec, { elapsedSeconds: 299, minSeconds: 15, maxSeconds: 300 });
  assert.equal(early.verdict, 'continue', 'undecided before the limit');
  // The same with onInconclusive: hold stays open for a person.
  const held = judge(three, spec, {
    elapsedSeconds: 300,
    minSeconds: 15,
    maxSeconds: 300,
    onInconclusive: 'hold',
  });
  assert.equal(held.verdict, 'continue');
  assert.match(held.summary, /^holding at the step's 300s limit/);
});

test('an undecided step whose canary is no worse than stable passes, and says it was inconclusive', () => {
  const d = judge(
    measurement({
      windowSeconds: 300,
      stable: { requests: 29_999, errors: 30, slow: 0, observed: 29_999 },
      canary: { requests: 150, errors: 1, slow: 0, observed: 150 },
    }),
    analysisSpec(),
    { elapsedSeconds: 300, minSeconds: 15, maxSeconds: 300 },
  );
  assert.equal(d.verdict, 'pass', d.summary);
  assert.equal(d.inconclusive, true);
  assert.match(
    d.summary,
    /^pass at the step's 300s limit, inconclusive: no sign the canary is worse/,
  );
});

test('slow requests at the limit and the early looks: stable plus the slow-rate tolerance, not stable alone', () => {
  const spec = analysisSpec();
  const stable = { requests: 30_000, errors: 0, slow: 150, observed: 30_000 };
  // Counts of good canaries aborted on real releases (bench/canary/run.ts on a loaded
  // machine) by the test against stable's bound alone: now within the tolerance.
  for (const [slow, n, at] of [
    [6, 327, 300],
    [2, 36, 75],
    [4, 120, 150],
  ] as const) {
    const d = judge(
      measurement({
        windowSeconds: at,
        stable,
        canary: { requests: n, errors: 0, slow, observed: n },
      }),
      spec,
      { elapsedSeconds: at, minSeconds: 15, maxSeconds: 300, intervalSeconds: 5 },
    );
    assert.notEqual(d.verdict, 'abort', `${slow}/${n} at ${at}s: ${d.summary}`);
    assert.ok(!d.checks.some((c) => c.kind === 'limit'), d.summary);
  }
  // A canary clearly slower than that (5 % over stable's P99 against 0.5 %) is still stopped.
  const d = judge(
    measurement({
      windowSeconds: 300,
      stable,
      canary: { requests: 300, errors: 0, slow: 15, observed: 300 },
    }),
    spec,
    { elapsedSeconds: 300, minSeconds: 15, maxSeconds: 300 },
  );
  assert.equal(d.verdict, 'abort', d.summary);
  assert.match(d.summary, /slow-rate/);
  const limit = d.checks.find((c) => c.kind === 'limit');
  if (limit) assert.match(limit.baseline, /\+ 1% tolerance/);
});

test('at 1 canary req/s, a 2% error excess is caught; a good canary is not aborted', (t) => {
  const spec = analysisSpec();
  const weights = [1, 5, 25, 50];
  const secs: number[] = [];
  let caught = 0;
  const N = 40;
  for (let seed = 1; seed <= N; seed++) {
    const r = runRelease(50_000 + seed, 100, weights, { rate: 0, errorRate: 0.021 }, spec);
    if (r.outcome === 'aborted') caught++;
    secs.push(r.seconds);
  }
  let falseAborts = 0;
  for (let seed = 1; seed <= N; seed++) {
    const r = runRelease(60_000 + seed, 100, weights, { rate: 0, errorRate: 0.001 }, spec);
    if (r.outcome === 'aborted') falseAborts++;
  }
  t.diagnostic(
    `2% excess at a 1% first step of 100 req/s: ${caught}/${N} caught, seconds to abort median ${median(secs)}, max ${Math.max(...secs)}; good canaries: ${falseAborts}/${N} false aborts`,
  );
  assert.equal(caught, N, 'every bad release is caught');
  assert.ok(falseAborts <= N / 20, `${falseAborts} false aborts in ${N}`);
});
