// Canary and stable measured side by side from Prometheus: requests, errors, requests
// slower than a threshold, and latency quantiles, each track over a time range.
//
// How counts are taken. A counter's increase over a range is not what `increase()`
// says when series are born inside the range (a new canary pod, or the first 5xx of a
// pod: `increase()` cannot see the part before the series' first sample) and it is
// extrapolated to the range's edges. A judge that must act on the first handful of
// errors needs exact counts, so we read the raw cumulative counters summed per pod
// (`sum by (pod, ...)`: all series of one pod are scraped together, so a per-pod sum
// is itself a counter, and a status series appearing inside a pod only adds what it
// counted, which was zero before) and difference them ourselves:
//  - baseline = the per-pod value at the range's start (last sample within 10 min);
//    a pod without one was born inside the range and counts from zero;
//  - a drop between two samples is a counter reset (the container restarted) and the
//    new value is counted from zero, as Prometheus' own reset handling does.
import type { AnalysisSpec } from '../spec/index.js';
import type { InstantSample, Prometheus, RangeSeries } from './prometheus.js';
import { PrometheusError } from './prometheus.js';
import { bucketCeil, countAbove, histogramCount, histogramQuantile } from './stats.js';
import { exclusionMatcher } from './user-traffic.js';
import type { Buckets } from './stats.js';

export type Track = 'stable' | 'canary';
export const TRACKS: readonly Track[] = ['stable', 'canary'];

export interface TrackCounts {
  requests: number;
  errors: number;
  /** Requests slower than the measurement's slowThresholdSeconds (from the histogram). */
  slow: number;
  /** Seconds; undefined without histogram observations. */
  p50?: number;
  p99?: number;
  /** Requests the latency histogram observed (the slow check's denominator). */
  observed?: number;
  /** Requests to routes that are not user traffic (probes, scrapes), left out of the counts. */
  excluded?: number;
}

export interface Measurement {
  at: Date;
  windowSeconds: number;
  /** NaN when neither configured nor derivable (the stable track has no latency data). */
  slowThresholdSeconds: number;
  /** Where the slow threshold came from, for explanations. */
  slowThresholdSource?: 'configured' | 'stable-p99';
  stable: TrackCounts;
  canary: TrackCounts;
  queries: { name: string; stable?: number; canary?: number }[];
}

export interface Target {
  namespace: string;
  service: string;
  /**
   * PromQL label matchers that pick each track's series, replacing the default
   * `namespace="…",app_kubernetes_io_name="…",gantry_dev_track="<track>"`. For
   * services labelled otherwise, and for tests against series that are not Gantry pods.
   */
  selectors?: Partial<Record<Track, string>>;
}

/** Cumulative counts of one track since a recording began. */
export interface TrackSample {
  requests: number;
  errors: number;
  /** Cumulative histogram: observations ≤ le, keyed by the le label ('+Inf' included). */
  buckets: Record<string, number>;
}

export interface Tick {
  /** Unix seconds. */
  t: number;
  stable: TrackSample;
  canary: TrackSample;
}

export interface MeasureWindow {
  since: Date;
  now?: Date;
  /**
   * The longest look back at stable before a young step: its errors and requests are
   * counted from here when it is earlier than `since`, its latency only when stable is too
   * thin in the canary's own window (see stableSample). Ignored when baselineSince is given.
   */
  stableSince?: Date;
  baselineSince?: Date;
  baselineUntil?: Date;
}

/** Stable's latency window reaches back at least this far, before a step younger than it. */
export const STABLE_LEAST_SECONDS = 30;

/**
 * Stable's counts for a judgement, from stable over the canary's window (`paired`: reaching
 * back STABLE_LEAST_SECONDS before a younger step) and over MeasureWindow.stableSince
 * (`long`: the last two minutes, when the step is younger).
 *
 * Latency (the histogram: the slow threshold, slow requests, P50/P99) is paired: what slows
 * both tracks at once (a busy node, a GC pause, a dependency's hiccup) is then compared like
 * with like. Stable's latency over two minutes against a canary's few seconds turned such
 * moments into canary regressions: on a loaded node bursts of slow requests hit both
 * tracks together, stable's long window diluted its share, and good canaries were aborted
 * (bench/canary/replay.ts on the recorded releases: 4 of 22 that way, 2 paired — both
 * slower than stable in the same seconds too). Errors keep the long window: a stable that
 * serves no errors is then known to within 0.05 % rather than 0.2 %, which is what lets a
 * trickle of canary errors be stopped in seconds (with errors paired too, a 5 % error
 * canary at 5 % of 50 req/s took 40 s instead of 25 s in the simulation).
 *
 * Paired latency needs stable requests in the window: at least guardRails.minRequests and
 * half the canary's; a step's first seconds, before the stable pods' next scrape, fall back
 * to the long window.
 */
export function stableSample(
  paired: TrackSample,
  long: TrackSample | undefined,
  canaryRequests: number,
  spec: Pick<AnalysisSpec, 'guardRails'>,
): TrackSample {
  if (!long) return paired;
  const enough = pairedStableEnough(paired.requests, canaryRequests, spec);
  return {
    requests: long.requests,
    errors: long.errors,
    buckets: (enough ? paired : long).buckets,
  };
}

/** Whether stable's requests in the paired window make a latency baseline (see stableSample). */
export function pairedStableEnough(
  stableRequests: number,
  canaryRequests: number,
  spec: Pick<AnalysisSpec, 'guardRails'>,
): boolean {
  return stableRequests >= Math.max(spec.guardRails.minRequests, canaryRequests / 2);
}

/** Label matchers for one track of a target. */
export function trackSelector(target: Target, track: Track): string {
  const custom = target.selectors?.[track];
  if (custom !== undefined) return custom;
  return [
    `namespace=${_str(target.namespace)}`,
    `app_kubernetes_io_name=${_str(target.service)}`,
    `gantry_dev_track=${_str(track)}`,
  ].join(',');
}

/**
 * canary over [since, now]; stable over the same range (see stableSample for how far back
 * each of its counts reaches), or over baselineSince..baselineUntil when given (blue-green:
 * all traffic is on the new version, so stable is measured from before the switch).
 */
export async function measure(
  prom: Prometheus,
  target: Target,
  spec: AnalysisSpec,
  window: MeasureWindow,
): Promise<Measurement> {
  const now = window.now ?? new Date();
  const since = window.since;
  // Stable's latency window: back to STABLE_LEAST_SECONDS ago (not before stableSince) when
  // the step is younger; without stableSince (no lookback wanted), the canary's window.
  const least = window.stableSince
    ? Math.max(now.getTime() - STABLE_LEAST_SECONDS * 1000, window.stableSince.getTime())
    : since.getTime();
  const pairedFrom = window.baselineSince ?? new Date(Math.min(least, since.getTime()));
  const stableTo = window.baselineSince ? (window.baselineUntil ?? now) : now;
  const longFrom =
    !window.baselineSince && window.stableSince && window.stableSince < pairedFrom
      ? window.stableSince
      : undefined;
  const [paired, long, canary] = await Promise.all([
    _trackIncrease(prom, target, spec, 'stable', pairedFrom, stableTo),
    longFrom ? _trackIncrease(prom, target, spec, 'stable', longFrom, stableTo) : undefined,
    _trackIncrease(prom, target, spec, 'canary', since, now),
  ]);
  const stable = stableSample(paired, long, canary.requests, spec);
  const stableFrom = longFrom ?? pairedFrom;
  const [queries, excluded] = await Promise.all([
    Promise.all(
      spec.queries.map(async (q) => {
        const [s, c] = await Promise.all([
          _userQuery(prom, q, 'stable', stableFrom, stableTo),
          _userQuery(prom, q, 'canary', since, now),
        ]);
        return {
          name: q.name,
          ...(s !== undefined ? { stable: s } : {}),
          ...(c !== undefined ? { canary: c } : {}),
        };
      }),
    ),
    Promise.all([
      _excluded(prom, target, spec, 'stable', stableFrom, stableTo),
      _excluded(prom, target, spec, 'canary', since, now),
    ]),
  ]);
  const m = measurementFromSamples(stable, canary, {
    at: now,
    windowSeconds: Math.max(0, (now.getTime() - since.getTime()) / 1000),
    spec,
  });
  m.queries = queries;
  if (excluded[0] !== undefined) m.stable.excluded = excluded[0];
  if (excluded[1] !== undefined) m.canary.excluded = excluded[1];
  return m;
}

/**
 * Per-track cumulative counts every stepSeconds from start to end, as ticks: the first
 * tick is the zero point, each later one holds what each track counted since start.
 */
export async function recordTicks(
  prom: Prometheus,
  target: Target,
  spec: AnalysisSpec,
  start: Date,
  end: Date,
  stepSeconds: number,
): Promise<Tick[]> {
  const [stable, canary] = await Promise.all(
    TRACKS.map((track) => _trackSeries(prom, target, spec, track, start, end, stepSeconds)),
  );
  if (!stable || !canary) return [];
  return stable.times.map((t, i) => ({
    t,
    stable: _sampleAtIndex(stable, i),
    canary: _sampleAtIndex(canary, i),
  }));
}

/**
 * The same measurement from recorded ticks (for replays and simulations): counts over
 * (since, now]; with `stableSince`, stable's window follows measure()'s rule (without it,
 * stable over the canary's window exactly).
 */
export function measureFromTicks(
  ticks: readonly Tick[],
  since: number,
  now: number,
  spec: AnalysisSpec,
  slowThresholdSeconds?: number,
  stableSince?: number,
): Measurement {
  const a = _tickAt(ticks, since);
  const b = _tickAt(ticks, now);
  const canary = diffSamples(b?.canary, a?.canary);
  const from = stableSince === undefined ? since : Math.min(since, now - STABLE_LEAST_SECONDS);
  const paired = diffSamples(b?.stable, _tickAt(ticks, from)?.stable);
  const long =
    stableSince !== undefined && stableSince < from
      ? diffSamples(b?.stable, _tickAt(ticks, stableSince)?.stable)
      : undefined;
  const stable = stableSample(paired, long, canary.requests, spec);
  return measurementFromSamples(stable, canary, {
    at: new Date(now * 1000),
    windowSeconds: Math.max(0, now - since),
    spec,
    ...(slowThresholdSeconds !== undefined ? { slowThresholdSeconds } : {}),
  });
}

/** later − earlier, field by field (a missing sample is all zeros). */
export function diffSamples(later?: TrackSample, earlier?: TrackSample): TrackSample {
  const buckets: Record<string, number> = {};
  for (const le of new Set([
    ...Object.keys(later?.buckets ?? {}),
    ...Object.keys(earlier?.buckets ?? {}),
  ])) {
    buckets[le] = Math.max(0, (later?.buckets[le] ?? 0) - (earlier?.buckets[le] ?? 0));
  }
  return {
    requests: Math.max(0, (later?.requests ?? 0) - (earlier?.requests ?? 0)),
    errors: Math.max(0, (later?.errors ?? 0) - (earlier?.errors ?? 0)),
    buckets,
  };
}

/**
 * A Measurement from the two tracks' counts over a window. The slow threshold is the
 * configured one, else stable's P99 (at least 25 ms), rounded up to a histogram
 * bucket boundary (so "slow" is exact, not interpolated, and stable is slow in
 * well under 1 % of requests).
 */
/** A derived slow threshold is never below this. */
export const SLOW_FLOOR_SECONDS = 0.025;

export function measurementFromSamples(
  stable: TrackSample,
  canary: TrackSample,
  opts: { at: Date; windowSeconds: number; spec: AnalysisSpec; slowThresholdSeconds?: number },
): Measurement {
  const configured = opts.slowThresholdSeconds ?? opts.spec.latency.slowThreshold;
  let threshold = NaN;
  let source: Measurement['slowThresholdSource'];
  if (configured !== undefined) {
    threshold = configured;
    source = 'configured';
  } else {
    // Never under 25 ms: fresh canary pods (cold JIT, new connection pools) and
    // sub-millisecond noise must not count as a regression, while a regression users
    // notice still does. With a 1 ms P99 alone, a good canary's warm-up requests were
    // "slow" (seen in bench/canary: 5 of 12 good releases aborted).
    const p99 = histogramQuantile(0.99, stable.buckets);
    const floor = p99 === undefined ? undefined : Math.max(p99, SLOW_FLOOR_SECONDS);
    const ceil = floor === undefined ? undefined : bucketCeil(floor, stable.buckets);
    if (ceil !== undefined) {
      threshold = ceil;
      source = 'stable-p99';
    }
  }
  return {
    at: opts.at,
    windowSeconds: opts.windowSeconds,
    slowThresholdSeconds: threshold,
    ...(source ? { slowThresholdSource: source } : {}),
    stable: trackCounts(stable, threshold),
    canary: trackCounts(canary, threshold),
    queries: [],
  };
}

export function trackCounts(s: TrackSample, slowThresholdSeconds: number): TrackCounts {
  const observed = histogramCount(s.buckets);
  const p50 = histogramQuantile(0.5, s.buckets);
  const p99 = histogramQuantile(0.99, s.buckets);
  return {
    requests: s.requests,
    errors: Math.min(s.errors, s.requests),
    slow: Number.isFinite(slowThresholdSeconds) ? countAbove(slowThresholdSeconds, s.buckets) : 0,
    ...(p50 !== undefined ? { p50 } : {}),
    ...(p99 !== undefined ? { p99 } : {}),
    observed,
  };
}

// ---------------------------------------------------------------------------------------

interface TrackSeries {
  times: number[];
  requests: number[];
  errors: number[];
  buckets: Map<string, number[]>;
}

/** The PromQL measure() and recordTicks() run for a track (exported for tests and docs). */
export function trackQueries(spec: AnalysisSpec, target: Target, track: Track) {
  const sel = [trackSelector(target, track), spec.requests.selector.trim(), exclusionMatcher(spec)]
    .filter((s) => s !== '')
    .join(',');
  const errSel = `${sel},${spec.requests.statusLabel}=~${_str(spec.requests.errorStatus)}`;
  const by = 'namespace, pod, instance, job';
  const counter = spec.requests.metric;
  const bucket = `${spec.latency.metric}_bucket`;
  const leftOut = exclusionMatcher(spec, false);
  return {
    /** Requests to the excluded routes over a window (for the explanation only). */
    excluded: leftOut
      ? (seconds: number) =>
          `sum(increase(${counter}{${[trackSelector(target, track), leftOut].join(',')}}[${Math.max(1, Math.round(seconds))}s]))`
      : undefined,
    requests: `sum by (${by}) (${counter}{${sel}})`,
    errors: `sum by (${by}) (${counter}{${errSel}})`,
    buckets: `sum by (${by}, le) (${bucket}{${sel}})`,
    /** Per-pod values at the start of a range: a pod without one was born inside it. */
    baseline: {
      requests: `sum by (${by}) (last_over_time(${counter}{${sel}}[${BASELINE_LOOKBACK}]))`,
      errors: `sum by (${by}) (last_over_time(${counter}{${errSel}}[${BASELINE_LOOKBACK}]))`,
      buckets: `sum by (${by}, le) (last_over_time(${bucket}{${sel}}[${BASELINE_LOOKBACK}]))`,
    },
  };
}

const BASELINE_LOOKBACK = '10m';

/** Resolution of measure()'s range queries: every sample at 1 s, ≤ 600 points per series. */
function _stepFor(rangeSeconds: number): number {
  return Math.max(1, Math.ceil(rangeSeconds / 600));
}

async function _trackIncrease(
  prom: Prometheus,
  target: Target,
  spec: AnalysisSpec,
  track: Track,
  from: Date,
  to: Date,
): Promise<TrackSample> {
  const rangeMs = to.getTime() - from.getTime();
  if (!(rangeMs > 0)) return { requests: 0, errors: 0, buckets: {} };
  // The last point of the range query must fall exactly on `to`, or a sample scraped
  // between the last whole step and `to` would be missed: use n equal steps (whole
  // milliseconds, as Prometheus keeps them) ending at `to`; the start moves later by
  // less than n ms, far below the scrape interval.
  const n = Math.max(1, Math.ceil(rangeMs / (_stepFor(rangeMs / 1000) * 1000)));
  const stepMs = Math.max(1, Math.floor(rangeMs / n));
  const start = new Date(to.getTime() - n * stepMs);
  const s = await _trackSeries(prom, target, spec, track, start, to, stepMs / 1000);
  return _sampleAtIndex(s, s.times.length - 1);
}

async function _trackSeries(
  prom: Prometheus,
  target: Target,
  spec: AnalysisSpec,
  track: Track,
  start: Date,
  end: Date,
  step: number,
): Promise<TrackSeries> {
  const q = trackQueries(spec, target, track);
  const t0 = start.getTime() / 1000;
  const n = Math.max(1, Math.floor((end.getTime() / 1000 - t0) / step + 1e-9) + 1);
  const times = Array.from({ length: n }, (_, i) => t0 + i * step);
  const [req, reqBase, err, errBase, bkt, bktBase] = await Promise.all([
    prom.queryRange(q.requests, start, end, step),
    prom.query(q.baseline.requests, start),
    prom.queryRange(q.errors, start, end, step),
    prom.query(q.baseline.errors, start),
    prom.queryRange(q.buckets, start, end, step),
    prom.query(q.baseline.buckets, start),
  ]);
  const one = (series: RangeSeries[], base: InstantSample[]) =>
    cumulativeIncrease(series, base, t0, step, n, () => '').get('') ?? new Array<number>(n).fill(0);
  return {
    times,
    requests: one(req, reqBase),
    errors: one(err, errBase),
    buckets: cumulativeIncrease(bkt, bktBase, t0, step, n, (l) => l.le ?? '+Inf'),
  };
}

/**
 * Sum over series of each series' increase since t0, at every step: grouped by
 * `groupOf(labels)` (the `le` of a bucket, or one group). `baseline` holds each
 * series' value at t0; a series without one started inside the range and counts
 * from zero. A value lower than the one before is a counter reset.
 */
export function cumulativeIncrease(
  series: readonly RangeSeries[],
  baseline: readonly InstantSample[],
  t0: number,
  step: number,
  n: number,
  groupOf: (labels: Record<string, string>) => string,
): Map<string, number[]> {
  const base = new Map(baseline.map((b) => [_key(b.labels), b.value]));
  const out = new Map<string, number[]>();
  for (const s of series) {
    const group = groupOf(s.labels);
    let total = out.get(group);
    if (!total) {
      total = new Array<number>(n).fill(0);
      out.set(group, total);
    }
    const at = new Array<number | undefined>(n).fill(undefined);
    const b = base.get(_key(s.labels));
    let prev = b !== undefined && Number.isFinite(b) ? b : undefined;
    let c = 0;
    for (const [t, v] of s.points) {
      if (!Number.isFinite(v)) continue;
      const i = Math.round((t - t0) / step);
      if (i < 0 || i >= n) continue;
      if (prev === undefined) c += v;
      else c += v >= prev ? v - prev : v;
      prev = v;
      at[i] = c;
    }
    let last = 0;
    for (let i = 0; i < n; i++) {
      last = at[i] ?? last;
      total[i] = (total[i] ?? 0) + last;
    }
  }
  return out;
}

function _sampleAtIndex(s: TrackSeries, i: number): TrackSample {
  const buckets: Record<string, number> = {};
  for (const [le, arr] of s.buckets) buckets[le] = arr[i] ?? 0;
  return { requests: s.requests[i] ?? 0, errors: s.errors[i] ?? 0, buckets };
}

function _tickAt(ticks: readonly Tick[], t: number): Tick | undefined {
  let found: Tick | undefined;
  for (const tick of ticks) {
    if (tick.t <= t + 1e-9) found = tick;
    else break;
  }
  return found;
}

/** Requests to the excluded routes over [from, to], or undefined (none excluded, no data). */
async function _excluded(
  prom: Prometheus,
  target: Target,
  spec: AnalysisSpec,
  track: Track,
  from: Date,
  to: Date,
): Promise<number | undefined> {
  const q = trackQueries(spec, target, track).excluded;
  const seconds = (to.getTime() - from.getTime()) / 1000;
  if (!q || !(seconds > 0)) return undefined;
  const v = (await prom.query(q(seconds), to).catch(() => []))[0]?.value;
  return v !== undefined && Number.isFinite(v) ? Math.round(v) : undefined;
}

async function _userQuery(
  prom: Prometheus,
  q: AnalysisSpec['queries'][number],
  track: Track,
  from: Date,
  to: Date,
): Promise<number | undefined> {
  const seconds = Math.max(1, Math.round((to.getTime() - from.getTime()) / 1000));
  // $track picks the track; $window (an extension) is the measured range, e.g. [$window].
  const promql = q.query.replaceAll('$track', track).replaceAll('$window', `${seconds}s`);
  let samples: InstantSample[];
  try {
    samples = await prom.query(promql, to);
  } catch (err) {
    if (err instanceof PrometheusError) {
      throw new PrometheusError(
        `analysis query ${q.name} (${track}): ${err.message}`,
        err.kind,
        promql,
      );
    }
    throw err;
  }
  const v = samples[0]?.value;
  return v !== undefined && Number.isFinite(v) ? v : undefined;
}

function _key(labels: Record<string, string>): string {
  return JSON.stringify(
    Object.entries(labels)
      .filter(([k]) => k !== '__name__')
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

/** A PromQL string literal (JSON's escaping is valid PromQL). */
function _str(s: string): string {
  return JSON.stringify(s);
}

export type { Buckets };
