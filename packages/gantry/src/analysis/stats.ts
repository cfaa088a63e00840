// The statistics the judge rests on, kept pure and separate so they can be tested on
// their own: Wald's sequential probability ratio test for a Bernoulli rate, a one-sided
// upper confidence bound for the stable track's rate, and quantiles read off a
// cumulative histogram the way Prometheus' histogram_quantile reads them.

/** Wald's thresholds on the log-likelihood ratio for error probabilities alpha and beta. */
export interface SprtBounds {
  /** Accept H1 (abort) when the LLR reaches this: ln((1 - beta) / alpha). */
  upper: number;
  /** Accept H0 (pass) when the LLR falls to this: ln(beta / (1 - alpha)). */
  lower: number;
}

export function sprtBounds(alpha: number, beta: number): SprtBounds {
  const a = _clamp(alpha, 1e-12, 0.5);
  const b = _clamp(beta, 1e-12, 0.5);
  return { upper: Math.log((1 - b) / a), lower: Math.log(b / (1 - a)) };
}

/**
 * Log-likelihood ratio of H1: p = p1 against H0: p = p0 after `events` successes in
 * `trials` Bernoulli trials (p0 < p1, both strictly inside (0, 1)). Counts may be
 * fractional (they come from counters); events are clamped to [0, trials].
 */
export function bernoulliLlr(events: number, trials: number, p0: number, p1: number): number {
  const n = Math.max(0, trials);
  const k = _clamp(events, 0, n);
  return k * Math.log(p1 / p0) + (n - k) * Math.log((1 - p1) / (1 - p0));
}

/**
 * One-sided upper confidence bound of a rate from `events` in `trials` (Wilson score
 * interval; z = 1.645 is a 95 % one-sided bound). With many trials it is close to the
 * observed rate; with few it is wide, which is the conservative side for a baseline
 * the canary must not exceed by more than a tolerance. Returns undefined without trials.
 */
export function wilsonUpper(events: number, trials: number, z = 1.645): number | undefined {
  if (!(trials > 0)) return undefined;
  const n = trials;
  const p = _clamp(events / n, 0, 1);
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const spread = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return Math.min(1, (centre + spread) / (1 + z2 / n));
}

/**
 * P(X ≥ k) for X ~ Binomial(n, p): how likely a track whose true rate is `p` shows at least
 * `k` events in `n` trials. Counts from counters may be fractional: k rounds up, n down.
 * Summed in log space, so large n with small p neither underflows nor loses precision.
 */
export function binomialUpperTail(k: number, n: number, p: number): number {
  const kk = Math.ceil(Math.max(0, k) - 1e-9);
  const nn = Math.floor(Math.max(0, n) + 1e-9);
  if (kk <= 0) return 1;
  if (kk > nn) return 0;
  if (!(p > 0)) return 0;
  if (p >= 1) return 1;
  // 1 − P(X ≤ k−1), the lower tail summed from its first term.
  const ratio = Math.log(p) - Math.log1p(-p);
  let logTerm = nn * Math.log1p(-p);
  let logSum = logTerm;
  for (let i = 0; i < kk - 1; i++) {
    logTerm += Math.log(nn - i) - Math.log(i + 1) + ratio;
    const hi = Math.max(logSum, logTerm);
    logSum = hi + Math.log(Math.exp(logSum - hi) + Math.exp(logTerm - hi));
  }
  return _clamp(1 - Math.exp(logSum), 0, 1);
}

/** A cumulative histogram: count of observations ≤ le, keyed by the `le` label ('+Inf' last). */
export type Buckets = Readonly<Record<string, number>>;

/** Bucket boundaries and counts, sorted by boundary; counts made non-decreasing. */
export function sortedBuckets(buckets: Buckets): { le: number; key: string; count: number }[] {
  const out = Object.entries(buckets)
    .map(([key, count]) => ({ le: _parseLe(key), key, count: Math.max(0, count) }))
    .filter((b) => !Number.isNaN(b.le))
    .sort((a, b) => a.le - b.le);
  // Scrapes are atomic per target, but sums across pods and replayed ticks can wobble:
  // a cumulative histogram never decreases with le.
  for (let i = 1; i < out.length; i++) {
    const prev = out[i - 1];
    const cur = out[i];
    if (prev && cur && cur.count < prev.count) cur.count = prev.count;
  }
  return out;
}

/** Number of observations in the histogram (its +Inf bucket, or the largest count). */
export function histogramCount(buckets: Buckets): number {
  const s = sortedBuckets(buckets);
  return s.length ? (s[s.length - 1]?.count ?? 0) : 0;
}

/**
 * The q-quantile of a cumulative histogram, interpolating linearly inside the bucket
 * that holds it (histogram_quantile's rule): undefined without observations; the
 * largest finite boundary when the quantile falls in the +Inf bucket.
 */
export function histogramQuantile(q: number, buckets: Buckets): number | undefined {
  const s = sortedBuckets(buckets);
  const total = s.length ? (s[s.length - 1]?.count ?? 0) : 0;
  if (!(total > 0)) return undefined;
  const rank = _clamp(q, 0, 1) * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of s) {
    if (b.count >= rank && b.count > prevCount) {
      if (!Number.isFinite(b.le)) return prevLe;
      const lower = b.le > 0 && prevLe <= b.le ? prevLe : 0;
      return lower + (b.le - lower) * ((rank - prevCount) / (b.count - prevCount));
    }
    if (Number.isFinite(b.le)) prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/**
 * Observations above `threshold` seconds. Exact when the threshold is a bucket boundary;
 * otherwise interpolated inside its bucket (as histogram_quantile would), which treats
 * both tracks alike. Above the largest finite boundary only the +Inf bucket counts.
 */
export function countAbove(threshold: number, buckets: Buckets): number {
  const s = sortedBuckets(buckets);
  const total = s.length ? (s[s.length - 1]?.count ?? 0) : 0;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of s) {
    if (threshold <= b.le) {
      if (threshold === b.le || !Number.isFinite(b.le)) {
        return total - (Number.isFinite(b.le) ? b.count : prevCount);
      }
      const frac = b.le > prevLe ? (threshold - prevLe) / (b.le - prevLe) : 1;
      return total - (prevCount + (b.count - prevCount) * _clamp(frac, 0, 1));
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return total - prevCount;
}

/** The smallest finite bucket boundary ≥ value (the largest finite one when none is). */
export function bucketCeil(value: number, buckets: Buckets): number | undefined {
  const finite = sortedBuckets(buckets)
    .map((b) => b.le)
    .filter((le) => Number.isFinite(le));
  if (!finite.length) return undefined;
  return finite.find((le) => le >= value - 1e-12) ?? finite[finite.length - 1];
}

function _parseLe(key: string): number {
  if (key === '+Inf' || key === 'Inf' || key === '+inf') return Infinity;
  return Number(key);
}

export function _clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
