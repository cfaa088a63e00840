// The pure parts of measurement: exact counter increases (births, resets, baselines),
// histogram arithmetic, ticks, and the Flagger-style comparison judge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bernoulliLlr,
  bucketCeil,
  countAbove,
  cumulativeIncrease,
  fixedThresholdJudge,
  histogramQuantile,
  judge,
  measureFromTicks,
  measurementFromSamples,
  prometheusUrl,
  sprtBounds,
  trackQueries,
  wilsonUpper,
} from '../../src/analysis/index.js';
import type { TrackSample } from '../../src/analysis/index.js';
import { analysisSpec, simulate } from './sim.js';

test('SPRT arithmetic: Wald bounds, LLR, Wilson upper bound', () => {
  const b = sprtBounds(0.0005, 0.05);
  assert.ok(Math.abs(b.upper - Math.log(0.95 / 0.0005)) < 1e-12);
  assert.ok(Math.abs(b.lower - Math.log(0.05 / 0.9995)) < 1e-12);
  // 3 events in 100 trials, H0 1% vs H1 5%.
  const llr = bernoulliLlr(3, 100, 0.01, 0.05);
  assert.ok(Math.abs(llr - (3 * Math.log(5) + 97 * Math.log(0.95 / 0.99))) < 1e-12);
  assert.equal(bernoulliLlr(0, 0, 0.01, 0.05), 0);
  assert.equal(wilsonUpper(0, 0), undefined);
  const u = wilsonUpper(0, 100);
  assert.ok(u !== undefined && u > 0.02 && u < 0.03);
  const big = wilsonUpper(10, 10_000);
  assert.ok(big !== undefined && big > 0.001 && big < 0.0017);
});

test('histograms: quantile, count above a threshold, bucket ceiling', () => {
  const h = { '0.1': 50, '0.25': 90, '0.5': 99, '1': 100, '+Inf': 100 };
  assert.equal(histogramQuantile(0.5, h), 0.1);
  assert.ok(Math.abs((histogramQuantile(0.7, h) ?? 0) - 0.175) < 1e-12);
  assert.equal(histogramQuantile(0.5, {}), undefined);
  // In the +Inf bucket: the largest finite boundary, like histogram_quantile.
  assert.equal(histogramQuantile(0.99, { '0.1': 10, '+Inf': 100 }), 0.1);
  assert.equal(countAbove(0.25, h), 10);
  assert.equal(countAbove(0.1, h), 50);
  assert.equal(countAbove(5, h), 0);
  assert.ok(Math.abs(countAbove(0.175, h) - 30) < 1e-9);
  assert.equal(bucketCeil(0.3, h), 0.5);
  assert.equal(bucketCeil(0.5, h), 0.5);
  assert.equal(bucketCeil(7, h), 1);
});

test('cumulativeIncrease: baselines, pods born inside the range, counter resets', () => {
  const t0 = 1000;
  const pod = (name: string) => ({ pod: name, namespace: 'ns' });
  const series = [
    // Existed before: 500 at start, +10, +5 → 15.
    {
      labels: pod('a'),
      points: [
        [1000, 500],
        [1001, 510],
        [1002, 515],
        [1003, 515],
      ],
    },
    // Born inside: its first sample (7) counts from zero, then +3.
    {
      labels: pod('b'),
      points: [
        [1002, 7],
        [1003, 10],
      ],
    },
    // Restarted: 100 → 4 is a reset (4 new), then +2.
    {
      labels: pod('c'),
      points: [
        [1000, 90],
        [1001, 100],
        [1002, 4],
        [1003, 6],
      ],
    },
    // Stale at the range's first step but known from the baseline lookback.
    { labels: pod('d'), points: [[1002, 43]] },
  ] as { labels: Record<string, string>; points: [number, number][] }[];
  const baseline = [
    { labels: pod('a'), value: 500 },
    { labels: pod('c'), value: 90 },
    { labels: pod('d'), value: 40 },
  ];
  const out = cumulativeIncrease(series, baseline, t0, 1, 4, () => '').get('');
  assert.deepEqual(out, [0, 10 + 10, 15 + 7 + 14 + 3, 15 + 10 + 16 + 3]);
});

test('trackQueries: the selector applies to the counter and the histogram', () => {
  const spec = analysisSpec({
    requests: { selector: 'route!~"/healthz|/readyz|/metrics"' },
  });
  const q = trackQueries(spec, { namespace: 'shop', service: 'user-service' }, 'canary');
  const sel =
    'namespace="shop",app_kubernetes_io_name="user-service",gantry_dev_track="canary",route!~"/healthz|/readyz|/metrics"';
  assert.equal(q.requests, `sum by (namespace, pod, instance, job) (http_requests_total{${sel}})`);
  assert.equal(
    q.errors,
    `sum by (namespace, pod, instance, job) (http_requests_total{${sel},status_code=~"5.."})`,
  );
  assert.equal(
    q.buckets,
    `sum by (namespace, pod, instance, job, le) (http_request_duration_seconds_bucket{${sel}})`,
  );
});

test('measureFromTicks: counts over (since, now] from cumulative ticks', () => {
  const spec = analysisSpec();
  const ticks = simulate(7, { rate: 100, errorRate: 0.01 }, { rate: 10, errorRate: 0.5 }, 20);
  const t0 = ticks[0]?.t ?? 0;
  const m = measureFromTicks(ticks, t0 + 5, t0 + 15, spec);
  const a = ticks[5];
  const b = ticks[15];
  assert.ok(a && b);
  assert.equal(m.windowSeconds, 10);
  assert.equal(m.canary.requests, b.canary.requests - a.canary.requests);
  assert.equal(m.canary.errors, b.canary.errors - a.canary.errors);
  assert.equal(m.stable.observed, m.stable.requests);
  // Stable's P99 (at least 25 ms), bucket-rounded.
  assert.ok([0.05, 0.1].includes(m.slowThresholdSeconds), String(m.slowThresholdSeconds));
  assert.ok(m.stable.p99 !== undefined && m.stable.p99 <= m.slowThresholdSeconds);
  assert.ok(m.stable.p99 !== undefined && m.stable.p99 <= m.slowThresholdSeconds);
  // A configured threshold wins.
  assert.equal(measureFromTicks(ticks, t0, t0 + 20, spec, 0.25).slowThresholdSeconds, 0.25);
  // Before the first tick counts as zero.
  assert.equal(
    measureFromTicks(ticks, t0 - 100, t0 + 20, spec).canary.requests,
    ticks[20]?.canary.requests,
  );
});

test('prometheusUrl: spec, then $GANTRY_PROMETHEUS_URL, then $PROMETHEUS_URL, then the default', () => {
  const saved = { g: process.env.GANTRY_PROMETHEUS_URL, p: process.env.PROMETHEUS_URL };
  try {
    process.env.GANTRY_PROMETHEUS_URL = 'http://g:9090/';
    process.env.PROMETHEUS_URL = 'http://p:9090';
    assert.equal(prometheusUrl({ prometheus: 'http://spec:9090' }), 'http://spec:9090');
    assert.equal(prometheusUrl({}), 'http://g:9090');
    delete process.env.GANTRY_PROMETHEUS_URL;
    assert.equal(prometheusUrl({}), 'http://p:9090');
    delete process.env.PROMETHEUS_URL;
    assert.equal(prometheusUrl({}), 'http://127.0.0.1:9090');
  } finally {
    for (const [k, v] of [
      ['GANTRY_PROMETHEUS_URL', saved.g],
      ['PROMETHEUS_URL', saved.p],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});

test('Flagger-style judge: 60 s interval, 1 m window, rollback after the threshold', () => {
  const stable = { rate: 190, errorRate: 0.001 };
  const bad = simulate(3, stable, { rate: 10, errorRate: 0.05 }, 400);
  const r = fixedThresholdJudge(bad);
  const t0 = bad[0]?.t ?? 0;
  // First run at 60 s fails (success rate < 99%); the counter reaches threshold 1 and
  // the rollback happens at the next run.
  assert.equal(r.checks[0]?.t, t0 + 60);
  assert.equal(r.checks[0]?.failed, true);
  assert.match(r.checks[0]?.reason ?? '', /^success rate 9\d\.\d\d% < 99%$/);
  assert.equal(r.abortAt, t0 + 120);
  // threshold 5: rollback at the sixth run.
  assert.equal(fixedThresholdJudge(bad, { threshold: 5 }).abortAt, t0 + 360);

  const good = simulate(4, stable, { rate: 10, errorRate: 0.001 }, 300);
  const g = fixedThresholdJudge(good);
  assert.equal(g.abortAt, undefined);
  assert.equal(g.checks.length, 5);
  assert.ok(g.checks.every((c) => !c.failed && (c.p99Ms ?? 0) < 500));

  const slow = simulate(5, stable, { rate: 10, errorRate: 0.001, delay: 0.6 }, 200);
  const s = fixedThresholdJudge(slow);
  assert.match(s.checks[0]?.reason ?? '', /request duration P99 \d+ms > 500ms/);
  assert.equal(s.abortAt, t0 + 120);
});

test('a derived slow threshold is never under 25 ms: a fast stable does not make warm-up requests slow', () => {
  // Stable answers everything within 1 ms; the canary's first requests take 2-10 ms.
  const le = (counts: number[]) =>
    Object.fromEntries(
      ['0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '+Inf'].map((k, i) => [k, counts[i]]),
    ) as Record<string, number>;
  const stable = {
    requests: 1000,
    errors: 0,
    buckets: le([1000, 1000, 1000, 1000, 1000, 1000, 1000]),
  };
  const canary = { requests: 100, errors: 0, buckets: le([40, 70, 90, 100, 100, 100, 100]) };
  const m = measurementFromSamples(stable, canary, {
    at: new Date(0),
    windowSeconds: 10,
    spec: analysisSpec(),
  });
  assert.equal(m.slowThresholdSeconds, 0.025);
  assert.equal(m.canary.slow, 0);
  // A configured threshold still wins.
  const strict = measurementFromSamples(stable, canary, {
    at: new Date(0),
    windowSeconds: 10,
    spec: analysisSpec(),
    slowThresholdSeconds: 0.005,
  });
  assert.equal(strict.canary.slow, 10);
});

test("stable's latency is judged over the canary's own seconds, its errors over the long window", () => {
  const spec = analysisSpec();
  const LE = ['0.01', '0.025', '0.05', '0.1', '0.25', '+Inf'];
  // Cumulative ticks, one a second: each second `fast` requests at 10 ms, `slow` at 100 ms.
  type Second = { fast: number; slow: number; errors?: number };
  const ticks: { t: number; stable: TrackSample; canary: TrackSample }[] = [];
  const zero = (): TrackSample => ({
    requests: 0,
    errors: 0,
    buckets: Object.fromEntries(LE.map((le) => [le, 0])),
  });
  let stable = zero();
  let canary = zero();
  const add = (c: TrackSample, s: Second): TrackSample => {
    const buckets = { ...c.buckets };
    for (const le of LE) buckets[le]! += Number(le) >= 0.01 || le === '+Inf' ? s.fast : 0;
    for (const le of LE) buckets[le]! += le === '+Inf' || Number(le) >= 0.1 ? s.slow : 0;
    return { requests: c.requests + s.fast + s.slow, errors: c.errors + (s.errors ?? 0), buckets };
  };
  const T = 1_700_000_000;
  const step = T + 150; // the canary's step starts here, after 150 s of stable alone
  for (let t = T; t <= step + 8; t++) {
    // A node-wide moment in the step's first 8 s: a tenth of every request is slow.
    const burst = t > step;
    stable = add(stable, burst ? { fast: 90, slow: 10 } : { fast: 100, slow: 0 });
    if (t > step) canary = add(canary, { fast: 18, slow: 2 });
    ticks.push({ t, stable, canary });
  }
  const now = step + 8;
  const m = measureFromTicks(ticks, step, now, spec, undefined, now - 120);
  // Errors and requests: the last 120 s. Latency: the last 30 s (the step is younger).
  assert.equal(m.stable.requests, 120 * 100);
  assert.equal(m.stable.observed, 30 * 100);
  // Stable's P99 over those seconds is in the 100 ms bucket: the moment moves the threshold.
  assert.equal(m.slowThresholdSeconds, 0.1);
  const d = judge(m, spec, { elapsedSeconds: 8, minSeconds: 15, maxSeconds: 300 });
  assert.notEqual(d.verdict, 'abort', d.summary);
  // Stable's latency over the long window too would have made the moment the canary's.
  const long = measureFromTicks(ticks, step, now, spec);
  const wide = measurementFromSamples(
    {
      requests: m.stable.requests,
      errors: 0,
      buckets: Object.fromEntries(
        LE.map((le) => [
          le,
          ticks.at(-1)!.stable.buckets[le]! - ticks.at(-121)!.stable.buckets[le]!,
        ]),
      ),
    },
    { requests: long.canary.requests, errors: 0, buckets: ticks.at(-1)!.canary.buckets },
    { at: new Date(now * 1000), windowSeconds: 8, spec, slowThresholdSeconds: 0.025 },
  );
  assert.equal(
    judge(wide, spec, { elapsedSeconds: 8, minSeconds: 15, maxSeconds: 300 }).verdict,
    'abort',
  );
});
