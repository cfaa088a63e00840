// The judge: continue, pass or abort a canary step from one Measurement.
//
// Design. Errors and "slow" requests (slower than the measurement's threshold) are
// Bernoulli events. For each we run Wald's sequential probability ratio test on the
// canary's counts since the step began:
//     H0: p = p_stable + tolerance     (a good canary: at most `tolerance` worse)
//     H1: p = p_stable + detect        (a bad canary: `detect` worse, must be caught)
// with LLR = k·ln(p1/p0) + (n−k)·ln((1−p1)/(1−p0)); abort when LLR ≥ ln((1−β)/α),
// pass when LLR ≤ ln(β/(1−α)). α (falseAbortRate) is split evenly across the two
// tests (Bonferroni), so the step's chance of a false abort stays ≤ α; β (missRate)
// applies to each test, since a bad canary is bad in the metric that catches it.
//
// Refinements, and why:
//  - Looking often is safe. The likelihood ratio is a non-negative supermartingale
//    under any canary rate ≤ p0, so by Ville's inequality the chance it ever reaches
//    1/α is ≤ α however often we look and however long the step runs. We therefore
//    re-evaluate at every tick and keep testing after a provisional pass; an abort
//    can still come later in the step without inflating the false-abort rate.
//  - p_stable is estimated, not known. We use a one-sided 95 % Wilson upper bound of
//    the stable rate over the same window (stable usually has many more requests, so
//    the bound is tight; with few it is wide, which errs towards not aborting).
//    Without stable traffic in the window the baseline is 0: the canary is then held
//    to `tolerance` in absolute terms, and the check says so.
//  - p0 and p1 are clamped into (0, 1); when stable itself fails nearly every request
//    there is no room for H1 and the test cannot decide (it says so, and continues).
//  - "No canary traffic" never passes early: every test needs data to cross its
//    lower bound. Callers that must not pass unjudged steps set `holdWithoutTraffic`.
//  - Evidence carries across steps. Given the release-wide measurement (every canary
//    request since analysis began), the same two tests also run on it, and either
//    may abort (α is then split over four tests): at a small first step the canary
//    sees few requests, and restarting the count at each step let a bad canary climb
//    several steps before it was caught. Passing a step still takes the step's own
//    evidence, so a canary that goes bad at a higher weight is judged on what it does
//    there.
//  - A step that reaches its time limit undecided is inconclusive, and passes only
//    when nothing says the canary is worse than stable: an exact binomial test of the
//    canary's errors (and slow requests) against stable's 95 % upper bound, at the
//    5 % level, on the step's and the release's counts. A canary measurably worse is
//    aborted (default) or held open for a person (`onInconclusive: hold`). Before,
//    such a step passed "with confidence 0 %" while the canary failed 1.3 % of
//    requests against stable's 0 %.
//
// Confidence. For an abort by a sequential test: 1 − e^(−LLR), i.e. one minus a bound
// on the chance that a canary within tolerance would ever have produced this much
// evidence. Guard rails and user queries are rules, not tests: their aborts have
// confidence 1. Otherwise (pass or continue): 1 − Σ e^(LLR_i) over the sequential
// tests, clamped to [0, 1]: one minus a bound on the chance that a canary worse than
// stable by `detect` in some metric would have looked this good (e^(−LLR) is a
// supermartingale under H1 too). It is 0 before any data and grows as evidence that
// the canary is good accumulates; at the default β = 5 % a step passes near 0.9.
import type { AnalysisSpec } from '../spec/index.js';
import type { Measurement, TrackCounts } from './measure.js';
import { _clamp, bernoulliLlr, binomialUpperTail, sprtBounds, wilsonUpper } from './stats.js';

export type Verdict = 'continue' | 'pass' | 'abort';

export interface Check {
  name: string;
  verdict: Verdict;
  canary: string;
  baseline: string;
  statistic: string;
  threshold: string;
  /**
   * sequential: an SPRT; guard: an absolute guard rail; query: a user PromQL bound;
   * limit: the test at a step's time limit (worse than stable?).
   */
  kind?: 'sequential' | 'guard' | 'query' | 'limit';
  /** step: this step's requests (default); release: every canary request since analysis began. */
  scope?: 'step' | 'release';
  /** The check can abort a step but its pass is not needed for the step to pass. */
  abortOnly?: boolean;
  /** The sequential test's log-likelihood ratio (kind sequential). */
  llr?: number;
  /** The limit test's P value (kind limit). */
  p?: number;
}

export interface Decision {
  verdict: Verdict;
  /** Set when the step reached its time limit without the tests deciding. */
  inconclusive?: boolean;
  /** 0..1; see the header of judge.ts for what it bounds. */
  confidence: number;
  checks: Check[];
  /** One line a human reads. */
  summary: string;
}

export interface StepProgress {
  elapsedSeconds: number;
  minSeconds: number;
  maxSeconds: number;
  /**
   * At maxSeconds, keep a step whose canary saw fewer than guardRails.minRequests
   * requests open ('continue') instead of passing it unverified.
   */
  holdWithoutTraffic?: boolean;
  /**
   * A step at maxSeconds that the tests left undecided, with the canary measurably worse
   * than stable: 'abort' (default) or 'hold' (stay open for a person to promote or abort).
   */
  onInconclusive?: 'abort' | 'hold';
  /**
   * Seconds between judgements (default 5): a checkpoint (CHECKPOINTS) is looked at once,
   * at the first judgement at or after it.
   */
  intervalSeconds?: number;
}

/**
 * Looks before the limit, as fractions of maxSeconds: at each, an undecided step whose
 * canary is measurably worse than stable at EARLY_LEVEL is aborted. Where traffic is thin
 * the sequential tests may stay open for the whole step; these looks stop a canary with
 * a few errors against a clean stable at a quarter or half of the step instead of at its
 * end, and each costs a good canary at most EARLY_LEVEL.
 */
export const CHECKPOINTS: readonly number[] = [0.25, 0.5, 0.75];
export const EARLY_LEVEL = 0.01;

/** The number of sequential tests α is split across (per scope: errors and slow requests). */
export const SEQUENTIAL_TESTS = 2;

/** The level of the at-the-limit test "is the canary worse than stable?". */
export const WORSE_LEVEL = 0.05;

/**
 * `release`, when given, is the measurement of every canary request since analysis
 * began (earlier steps included); see the header.
 */
export function judge(
  m: Measurement,
  spec: AnalysisSpec,
  step: StepProgress,
  release?: Measurement,
): Decision {
  const d = _judge(m, spec, step, release);
  const routes = spec.requests.exclude ?? [];
  const c = m.canary.excluded ?? 0;
  const s = m.stable.excluded ?? 0;
  if (routes.length && c + s > 0) {
    d.summary += `; left out ${_num(c, 0)} canary and ${_num(s, 0)} stable requests to ${routes.join(', ')} (not user traffic)`;
  }
  return d;
}

function _judge(
  m: Measurement,
  spec: AnalysisSpec,
  step: StepProgress,
  release?: Measurement,
): Decision {
  const wide = release && release.canary.requests > m.canary.requests ? release : undefined;
  // α is split over every sequential test run: errors and slow requests, and errors against
  // stable itself, on the step's counts and (when earlier steps add to them) the release's.
  const alpha = spec.falseAbortRate / ((SEQUENTIAL_TESTS + 1) * (wide ? 2 : 1));
  const beta = spec.missRate;
  const releaseChecks = wide
    ? [
        errorRateCheck(wide, spec, alpha, beta),
        slowRateCheck(wide, spec, alpha, beta),
        worseErrorsCheck(wide, spec, alpha, beta),
      ].map((c): Check => ({
        ...c,
        name: `${c.name} (release)`,
        scope: 'release',
        abortOnly: true,
      }))
    : [];
  const checks: Check[] = [
    errorRateCheck(m, spec, alpha, beta),
    slowRateCheck(m, spec, alpha, beta),
    worseErrorsCheck(m, spec, alpha, beta),
    ...releaseChecks,
    ...guardRailChecks(m, spec),
    ...queryChecks(m, spec),
  ];
  const sequential = checks.filter((c) => c.kind === 'sequential' && !c.abortOnly);
  const aborts = checks.filter((c) => c.verdict === 'abort');
  const canaryRequests = m.canary.requests;
  const secs = `${_num(m.windowSeconds, 0)}s`;

  if (aborts.length) {
    const seqLlr = aborts
      .filter((c) => c.kind === 'sequential')
      .map((c) => c.llr ?? 0)
      .reduce((a, b) => Math.max(a, b), -Infinity);
    const confidence = aborts.some((c) => c.kind !== 'sequential')
      ? 1
      : 1 - Math.exp(-Math.max(0, seqLlr));
    return {
      verdict: 'abort',
      confidence,
      checks,
      summary: `abort: ${aborts.map(_reason).join('; ')}`,
    };
  }

  const confidence = _clamp(
    1 - sequential.reduce((sum, c) => sum + Math.exp(Math.min(0, c.llr ?? 0)), 0),
    0,
    1,
  );
  const conf = `confidence ${_pct(confidence)}`;

  const decided = checks.filter((c) => !c.abortOnly).every((c) => c.verdict === 'pass');
  if (step.elapsedSeconds >= step.maxSeconds && !(decided && canaryRequests > 0)) {
    const limit = `at the step's ${_num(step.maxSeconds, 0)}s limit`;
    const thin = canaryRequests < spec.guardRails.minRequests;
    if (thin && step.holdWithoutTraffic) {
      return {
        verdict: 'continue',
        inconclusive: true,
        confidence,
        checks,
        summary: `holding: only ${_num(canaryRequests, 0)} canary requests in ${secs}, fewer than the ${spec.guardRails.minRequests} needed to judge; send traffic, or promote or abort by hand`,
      };
    }
    const worse = worseOf(m, wide, spec, WORSE_LEVEL);
    checks.push(...worse);
    if (worse.length) {
      if ((step.onInconclusive ?? 'abort') === 'hold') {
        return {
          verdict: 'continue',
          inconclusive: true,
          confidence,
          checks,
          summary: `holding ${limit}: undecided, and the canary is measurably worse than stable: ${worse.map(_reason).join('; ')}; promote or abort by hand (analysis.onInconclusive: hold)`,
        };
      }
      return _worseAbort(worse, checks, limit);
    }
    const unverified = thin ? ` (unverified: only ${_num(canaryRequests, 0)} canary requests)` : '';
    return {
      verdict: 'pass',
      inconclusive: true,
      confidence,
      checks,
      summary: `pass ${limit}, inconclusive: no sign the canary is worse than stable${unverified}; ${_brief(sequential)}; ${conf}`,
    };
  }

  const interval = step.intervalSeconds ?? 5;
  const look = CHECKPOINTS.find((f) => {
    const at = f * step.maxSeconds;
    return (
      at >= step.minSeconds && step.elapsedSeconds >= at && step.elapsedSeconds - interval < at
    );
  });
  if (look !== undefined && !decided && (step.onInconclusive ?? 'abort') === 'abort') {
    const worse = worseOf(m, wide, spec, EARLY_LEVEL);
    if (worse.length) {
      checks.push(...worse);
      return _worseAbort(
        worse,
        checks,
        `at ${_num(look * 100, 0)}% of the step's ${_num(step.maxSeconds, 0)}s limit`,
      );
    }
  }

  if (!(canaryRequests > 0)) {
    return {
      verdict: 'continue',
      confidence: 0,
      checks,
      summary: `waiting for canary traffic: no canary requests in ${secs} (stable: ${_num(m.stable.requests, 0)})`,
    };
  }

  const allPass = decided;
  if (allPass && step.elapsedSeconds >= step.minSeconds) {
    return {
      verdict: 'pass',
      confidence,
      checks,
      summary: `pass: canary as good as stable within tolerance over ${_num(canaryRequests, 0)} requests; ${_brief(sequential)}; ${conf}`,
    };
  }
  const why = allPass
    ? `checks passed, step runs at least ${_num(step.minSeconds, 0)}s`
    : checks
        .filter((c) => c.verdict !== 'pass' && !c.abortOnly)
        .map((c) => `${c.name} ${c.statistic}`)
        .join(', ');
  return {
    verdict: 'continue',
    confidence,
    checks,
    summary: `continue after ${_num(canaryRequests, 0)} canary requests in ${secs}: ${why}; ${conf}`,
  };
}

/** Wald's SPRT on the canary's error count. */
export function errorRateCheck(
  m: Measurement,
  spec: AnalysisSpec,
  alpha: number,
  beta: number,
): Check {
  return sequentialCheck({
    name: 'error-rate',
    what: 'errors',
    canaryEvents: m.canary.errors,
    canaryTrials: m.canary.requests,
    stableEvents: m.stable.errors,
    stableTrials: m.stable.requests,
    tolerance: spec.errorRate.tolerance,
    detect: spec.errorRate.detect,
    alpha,
    beta,
  });
}

/**
 * Wald's SPRT on the canary's errors against stable itself, without the tolerance: H0 the
 * canary fails no more often than stable (its 95 % upper bound, at least a tenth of the
 * tolerance) vs H1 stable + detect. It can only abort. Where stable is clean, each canary
 * error is strong evidence (ln(p1/p0) ≈ 3.7 at the defaults against the tolerance test's
 * 1.4), so a canary failing 2 % of a trickle of requests is stopped in a fraction of the
 * requests the tolerance test needs; a good canary rarely fails at all there.
 */
export function worseErrorsCheck(
  m: Measurement,
  spec: AnalysisSpec,
  alpha: number,
  beta: number,
): Check {
  return {
    ...sequentialCheck({
      name: 'errors-vs-stable',
      what: 'errors',
      canaryEvents: m.canary.errors,
      canaryTrials: m.canary.requests,
      stableEvents: m.stable.errors,
      stableTrials: m.stable.requests,
      tolerance: spec.errorRate.tolerance / 10,
      detect: spec.errorRate.detect,
      alpha,
      beta,
      note: 'abort only: worse than stable itself',
    }),
    abortOnly: true,
  };
}

/** Wald's SPRT on the canary's count of requests slower than the threshold. */
export function slowRateCheck(
  m: Measurement,
  spec: AnalysisSpec,
  alpha: number,
  beta: number,
): Check {
  const thr = m.slowThresholdSeconds;
  const cN = _observed(m.canary);
  const sN = _observed(m.stable);
  if (!Number.isFinite(thr)) {
    const none = cN === 0 && sN === 0 && m.canary.requests > 0;
    return {
      name: 'slow-rate',
      kind: 'sequential',
      verdict: none ? 'pass' : 'continue',
      llr: none ? -Infinity : 0,
      canary: none ? 'n/a' : `${_num(cN, 0)} observed`,
      baseline: none ? 'n/a' : 'no stable latency data',
      statistic: none
        ? 'skipped: no latency histogram series on either track'
        : 'no slow threshold yet',
      threshold: `analysis.latency.slowThreshold unset; derived from the stable P99 once stable has latency data`,
    };
  }
  const src =
    m.slowThresholdSource === 'configured'
      ? 'configured'
      : 'stable P99, at least 25ms, bucket-rounded';
  return sequentialCheck({
    name: 'slow-rate',
    what: `> ${_dur(thr)}`,
    canaryEvents: m.canary.slow,
    canaryTrials: cN,
    stableEvents: m.stable.slow,
    stableTrials: sN,
    tolerance: spec.slowRate.tolerance,
    detect: spec.slowRate.detect,
    alpha,
    beta,
    note: `slow = over ${_dur(thr)} (${src})`,
  });
}

interface SequentialInput {
  name: string;
  what: string;
  canaryEvents: number;
  canaryTrials: number;
  stableEvents: number;
  stableTrials: number;
  tolerance: number;
  detect: number;
  alpha: number;
  beta: number;
  note?: string;
}

const EPS = 1e-9;

export function sequentialCheck(x: SequentialInput): Check {
  const bounds = sprtBounds(x.alpha, x.beta);
  const upper = wilsonUpper(x.stableEvents, x.stableTrials);
  const pStable = upper ?? 0;
  const p0 = _clamp(pStable + x.tolerance, EPS, 1 - 2 * EPS);
  const p1 = _clamp(pStable + x.detect, EPS, 1 - EPS);
  const canary = `${_pct(_rate(x.canaryEvents, x.canaryTrials))} ${x.what} (${_num(x.canaryEvents, 0)}/${_num(x.canaryTrials, 0)})`;
  const baseline =
    upper === undefined
      ? 'no stable traffic: judged against 0'
      : `${_pct(_rate(x.stableEvents, x.stableTrials))} (${_num(x.stableEvents, 0)}/${_num(x.stableTrials, 0)}, ≤ ${_pct(pStable)} at 95%)`;
  const threshold = [
    `H0 ${_pct(p0)} (stable + ${_pct(x.tolerance)}) vs H1 ${_pct(p1)} (stable + ${_pct(x.detect)})`,
    `α ${_pct(x.alpha)}, β ${_pct(x.beta)}`,
    ...(x.note ? [x.note] : []),
  ].join('; ');
  if (!(p1 > p0)) {
    return {
      name: x.name,
      kind: 'sequential',
      verdict: 'continue',
      llr: 0,
      canary,
      baseline,
      statistic: 'untestable: the stable rate leaves no room above it',
      threshold,
    };
  }
  const llr = bernoulliLlr(x.canaryEvents, x.canaryTrials, p0, p1);
  const verdict: Verdict =
    llr >= bounds.upper ? 'abort' : llr <= bounds.lower ? 'pass' : 'continue';
  const statistic =
    verdict === 'abort'
      ? `LLR ${_num(llr, 1)} ≥ ${_num(bounds.upper, 1)}`
      : verdict === 'pass'
        ? `LLR ${_num(llr, 1)} ≤ ${_num(bounds.lower, 1)}`
        : `LLR ${_num(llr, 1)} in (${_num(bounds.lower, 1)}, ${_num(bounds.upper, 1)})`;
  return { name: x.name, kind: 'sequential', verdict, llr, canary, baseline, statistic, threshold };
}

/** worseThanStable on the step's counts and, when given, the release's. */
function worseOf(
  m: Measurement,
  wide: Measurement | undefined,
  spec: AnalysisSpec,
  level: number,
): Check[] {
  return [
    ...worseThanStable(m, spec, 'step', level),
    ...(wide ? worseThanStable(wide, spec, 'release', level) : []),
  ];
}

/** The abort of an undecided step whose canary is measurably worse than stable. */
function _worseAbort(worse: Check[], checks: Check[], where: string): Decision {
  return {
    verdict: 'abort',
    inconclusive: true,
    confidence: 1 - Math.min(...worse.map((c) => c.p ?? 1)),
    checks,
    summary: `abort ${where}: undecided, and the canary is measurably worse than stable: ${worse.map(_reason).join('; ')}`,
  };
}

/**
 * At a step's limit (and at the early looks): is the canary measurably worse than stable?
 * P(at least the canary's count | the canary's requests at the reference rate) below
 * `level`. Errors: the reference is stable's 95 % upper bound itself (without stable
 * traffic, the tolerance) — an error is something a user sees, and a canary measurably
 * failing more often than stable does not pass. Slow requests: stable's 95 % upper bound
 * plus slowRate.tolerance, the margin the sequential test grants a good canary too.
 * "Slow" is defined by stable's own P99, so stable sits near 1 % by construction, and a
 * good canary's tail moves with things a release does not change: new pods idle at a
 * 1 % step, cold connection pools when the weight grows, a neighbour on the node. On real
 * releases on a loaded machine, 7 of 22 good canaries were aborted by this test without
 * the margin (2–6 slow requests in 36–327 against stable's 0.2–0.9 %); none with it.
 * Returns the failing checks only.
 */
export function worseThanStable(
  m: Measurement,
  spec: AnalysisSpec,
  scope: 'step' | 'release',
  level = WORSE_LEVEL,
): Check[] {
  const out: Check[] = [];
  const test = (
    name: string,
    k: number,
    n: number,
    sk: number,
    sn: number,
    fallback: number,
    margin: number,
  ): void => {
    if (!(n > 0) || !(k > 0)) return;
    const bound = wilsonUpper(sk, sn);
    const ref = _clamp((bound ?? fallback) + margin, 0, 1);
    const p = binomialUpperTail(k, n, ref);
    if (p >= level || k / n <= ref) return;
    out.push({
      name: `${name} vs stable${scope === 'release' ? ' (release)' : ''}`,
      kind: 'limit',
      scope,
      verdict: 'abort',
      p,
      canary: `${_pct(_rate(k, n))} (${_num(k, 0)}/${_num(n, 0)})`,
      baseline:
        bound === undefined
          ? `no stable traffic: against ${_pct(ref)}`
          : `${_pct(_rate(sk, sn))} (${_num(sk, 0)}/${_num(sn, 0)}, ≤ ${_pct(bound)} at 95%${margin > 0 ? `, + ${_pct(margin)} tolerance` : ''})`,
      statistic: `P(≥ ${_num(k, 0)} of ${_num(n, 0)} at ${_pct(ref)}) = ${p.toPrecision(2)} < ${level}`,
      threshold: `undecided: the canary must not be worse than stable (exact binomial, ${_pct(level)} level)`,
    });
  };
  test(
    'error-rate',
    m.canary.errors,
    m.canary.requests,
    m.stable.errors,
    m.stable.requests,
    spec.errorRate.tolerance,
    0,
  );
  if (Number.isFinite(m.slowThresholdSeconds)) {
    test(
      'slow-rate',
      m.canary.slow,
      _observed(m.canary),
      m.stable.slow,
      _observed(m.stable),
      0,
      spec.slowRate.tolerance,
    );
  }
  return out;
}

/** Absolute limits, armed once the canary has guardRails.minRequests requests. */
export function guardRailChecks(m: Measurement, spec: AnalysisSpec): Check[] {
  const g = spec.guardRails;
  const out: Check[] = [];
  const armed = (n: number) => n >= g.minRequests;
  if (g.maxErrorRate !== undefined) {
    const n = m.canary.requests;
    const rate = _rate(m.canary.errors, n);
    const over = armed(n) && rate > g.maxErrorRate;
    out.push({
      name: 'max-error-rate',
      kind: 'guard',
      verdict: !armed(n) ? 'continue' : over ? 'abort' : 'pass',
      canary: `${_pct(rate)} (${_num(m.canary.errors, 0)}/${_num(n, 0)})`,
      baseline: _pct(_rate(m.stable.errors, m.stable.requests)),
      statistic: !armed(n)
        ? `armed at ${g.minRequests} requests (have ${_num(n, 0)})`
        : `${_pct(rate)} ${over ? '>' : '≤'} ${_pct(g.maxErrorRate)}`,
      threshold: `error rate ≤ ${_pct(g.maxErrorRate)} once ≥ ${g.minRequests} requests`,
    });
  }
  if (g.maxP99 !== undefined) {
    const n = _observed(m.canary);
    const p99 = m.canary.p99;
    const ready = armed(n) && p99 !== undefined;
    const over = ready && p99 > g.maxP99;
    out.push({
      name: 'max-p99',
      kind: 'guard',
      verdict: !ready ? 'continue' : over ? 'abort' : 'pass',
      canary: p99 === undefined ? 'no latency data' : _dur(p99),
      baseline: m.stable.p99 === undefined ? 'no latency data' : _dur(m.stable.p99),
      statistic: !ready
        ? `armed at ${g.minRequests} observed requests (have ${_num(n, 0)})`
        : `P99 ${_dur(p99)} ${over ? '>' : '≤'} ${_dur(g.maxP99)}`,
      threshold: `P99 ≤ ${_dur(g.maxP99)} once ≥ ${g.minRequests} requests`,
    });
  }
  return out;
}

/** User PromQL: the canary's value must lie in [min, max]. */
export function queryChecks(m: Measurement, spec: AnalysisSpec): Check[] {
  return spec.queries.map((q) => {
    const got = m.queries.find((x) => x.name === q.name);
    const c = got?.canary;
    const s = got?.stable;
    const range = `[${q.min ?? '-∞'}, ${q.max ?? '+∞'}]`;
    const low = c !== undefined && q.min !== undefined && c < q.min;
    const high = c !== undefined && q.max !== undefined && c > q.max;
    return {
      name: `query ${q.name}`,
      kind: 'query' as const,
      verdict: c === undefined ? 'continue' : low || high ? 'abort' : 'pass',
      canary: c === undefined ? 'no data' : _num(c, 4),
      baseline: s === undefined ? 'no data' : _num(s, 4),
      statistic:
        c === undefined
          ? 'the query returned no number for the canary'
          : low
            ? `${_num(c, 4)} < min ${q.min}`
            : high
              ? `${_num(c, 4)} > max ${q.max}`
              : `${_num(c, 4)} in ${range}`,
      threshold: `canary value in ${range}`,
    };
  });
}

function _observed(t: TrackCounts): number {
  return t.observed ?? t.requests;
}

function _reason(c: Check): string {
  return `${c.name} canary ${c.canary} vs stable ${c.baseline} (${c.statistic})`;
}

function _brief(seq: Check[]): string {
  return seq.map((c) => `${c.name} ${c.canary.replace(/ \(.*$/, '')}`).join(', ');
}

function _rate(k: number, n: number): number {
  return n > 0 ? _clamp(k / n, 0, 1) : 0;
}

function _num(x: number, digits: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Number(x.toFixed(digits)).toString();
}

export function _pct(x: number): string {
  const p = x * 100;
  if (p === 0) return '0%';
  if (p < 0.1) return `${Number(p.toPrecision(2))}%`;
  if (p < 10) return `${Number(p.toFixed(2))}%`;
  return `${Number(p.toFixed(1))}%`;
}

export function _dur(seconds: number): string {
  if (seconds < 1) return `${Number((seconds * 1000).toPrecision(3))}ms`;
  return `${Number(seconds.toPrecision(3))}s`;
}
