// Deterministic synthetic traffic for the judge's tests: Poisson arrivals per second on
// each track, a log-normal latency (plus an optional fixed delay) counted into the
// user-service histogram buckets, and Bernoulli errors. Cumulative ticks, as recordTicks
// would return them.
import type { Tick, TrackSample } from '../../src/analysis/index.js';
import { SPEC_API_VERSION, serviceSpecSchema } from '../../src/spec/index.js';
import type { AnalysisSpec } from '../../src/spec/index.js';

export const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function poisson(rand: () => number, lambda: number): number {
  if (lambda <= 0) return 0;
  if (lambda < 30) {
    const l = Math.exp(-lambda);
    let k = 0;
    let p = 1;
    do {
      k++;
      p *= rand();
    } while (p > l);
    return k - 1;
  }
  return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * normal(rand)));
}

export function binomial(rand: () => number, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  if (n < 60) {
    let k = 0;
    for (let i = 0; i < n; i++) if (rand() < p) k++;
    return k;
  }
  // Inversion from the mode-free start: fine for the small n·p used here.
  let q = Math.pow(1 - p, n);
  if (q < 1e-300) return Math.max(0, Math.round(n * p + Math.sqrt(n * p * (1 - p)) * normal(rand)));
  const u = rand();
  let cdf = q;
  let k = 0;
  while (u > cdf && k < n) {
    q *= ((n - k) / (k + 1)) * (p / (1 - p));
    cdf += q;
    k++;
  }
  return k;
}

function normal(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

function erf(x: number): number {
  // Abramowitz–Stegun 7.1.26
  const s = Math.sign(x);
  const ax = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * ax);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-ax * ax);
  return s * y;
}

export interface TrackModel {
  /** Requests per second. */
  rate: number;
  errorRate: number;
  /** Median latency in seconds of the log-normal part. */
  median?: number;
  sigma?: number;
  /** Fixed extra latency in seconds. */
  delay?: number;
  /** Fraction of requests the delay applies to (a slow route); default 1, every request. */
  delayShare?: number;
}

/** P(latency ≤ le) for each bucket boundary. */
function bucketCdf(m: TrackModel): number[] {
  const median = m.median ?? 0.02;
  const sigma = m.sigma ?? 0.5;
  const delay = m.delay ?? 0;
  const share = m.delayShare ?? 1;
  const cdf = (x: number) =>
    x <= 0 ? 0 : 0.5 * (1 + erf(Math.log(x / median) / (sigma * Math.SQRT2)));
  if (share >= 1) return BUCKETS.map((le) => cdf(le - delay));
  // A mixture: `share` of requests delayed, the rest not.
  return BUCKETS.map((le) => (1 - share) * cdf(le) + share * cdf(le - delay));
}

function emptySample(): TrackSample {
  const buckets: Record<string, number> = { '+Inf': 0 };
  for (const le of BUCKETS) buckets[String(le)] = 0;
  return { requests: 0, errors: 0, buckets };
}

/** One second of traffic added to a cumulative sample. */
function step(rand: () => number, m: TrackModel, cdf: number[], prev: TrackSample): TrackSample {
  const next: TrackSample = { ...prev, buckets: { ...prev.buckets } };
  // Requests per bucket are independent Poisson (thinning a Poisson process).
  let below = 0;
  let total = 0;
  const perBucket: number[] = [];
  for (let i = 0; i <= BUCKETS.length; i++) {
    const p = i < BUCKETS.length ? (cdf[i] ?? 1) - below : 1 - below;
    below += Math.max(0, p);
    const k = poisson(rand, m.rate * Math.max(0, p));
    perBucket.push(k);
    total += k;
  }
  let cum = 0;
  BUCKETS.forEach((le, i) => {
    cum += perBucket[i] ?? 0;
    next.buckets[String(le)] = (prev.buckets[String(le)] ?? 0) + cum;
  });
  next.buckets['+Inf'] = (prev.buckets['+Inf'] ?? 0) + total;
  next.requests = prev.requests + total;
  next.errors = prev.errors + binomial(rand, total, m.errorRate);
  return next;
}

/** `seconds` + 1 cumulative ticks, one a second from t0 (the first all zeros). */
export function simulate(
  seed: number,
  stable: TrackModel,
  canary: TrackModel,
  seconds: number,
  t0 = 1_700_000_000,
): Tick[] {
  const rand = prng(seed);
  const cs = bucketCdf(stable);
  const cc = bucketCdf(canary);
  const ticks: Tick[] = [{ t: t0, stable: emptySample(), canary: emptySample() }];
  for (let s = 1; s <= seconds; s++) {
    const prev = ticks[ticks.length - 1];
    if (!prev) break;
    ticks.push({
      t: t0 + s,
      stable: step(rand, stable, cs, prev.stable),
      canary: step(rand, canary, cc, prev.canary),
    });
  }
  return ticks;
}

/** A fully defaulted AnalysisSpec, as the spec schema produces it. */
export function analysisSpec(overrides: Record<string, unknown> = {}): AnalysisSpec {
  return serviceSpecSchema.parse({
    apiVersion: SPEC_API_VERSION,
    name: 'svc',
    image: 'example.com/svc',
    release: { strategy: 'canary', analysis: overrides },
  }).release.analysis;
}

/**
 * Traffic one second at a time, with rates that may change between seconds (a release
 * moving the canary's weight): `next(stableRate, canaryRate)` adds a tick.
 */
export class LiveSim {
  readonly ticks: Tick[];
  private readonly rand: () => number;
  private readonly cs: number[];
  private readonly cc: number[];

  constructor(
    seed: number,
    private readonly stable: TrackModel,
    private readonly canary: TrackModel,
    t0 = 1_700_000_000,
  ) {
    this.rand = prng(seed);
    this.cs = bucketCdf(stable);
    this.cc = bucketCdf(canary);
    this.ticks = [{ t: t0, stable: emptySample(), canary: emptySample() }];
  }

  next(stableRate: number, canaryRate: number): Tick {
    const prev = this.ticks[this.ticks.length - 1]!;
    const tick: Tick = {
      t: prev.t + 1,
      stable: step(this.rand, { ...this.stable, rate: stableRate }, this.cs, prev.stable),
      canary: step(this.rand, { ...this.canary, rate: canaryRate }, this.cc, prev.canary),
    };
    this.ticks.push(tick);
    return tick;
  }
}
