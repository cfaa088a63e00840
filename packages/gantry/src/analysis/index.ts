// Canary analysis: measure canary and stable side by side from Prometheus, and judge.
export {
  DEFAULT_PROMETHEUS_URL,
  Prometheus,
  PrometheusError,
  prometheusUrl,
} from './prometheus.js';
export type { InstantSample, PrometheusErrorKind, RangeSeries } from './prometheus.js';
export {
  cumulativeIncrease,
  diffSamples,
  measure,
  measureFromTicks,
  measurementFromSamples,
  pairedStableEnough,
  stableSample,
  STABLE_LEAST_SECONDS,
  recordTicks,
  trackCounts,
  trackQueries,
  trackSelector,
  TRACKS,
} from './measure.js';
export type {
  MeasureWindow,
  Measurement,
  Target,
  Tick,
  Track,
  TrackCounts,
  TrackSample,
} from './measure.js';
export { judge, SEQUENTIAL_TESTS, WORSE_LEVEL, worseThanStable } from './judge.js';
export { analysisFor, excludedRoutes, exclusionMatcher, routesPattern } from './user-traffic.js';
export type { Check, Decision, StepProgress, Verdict } from './judge.js';
export { FLAGGER_DEFAULTS, fixedThresholdJudge } from './fixed-threshold.js';
export type {
  FixedThresholdCheck,
  FixedThresholdOptions,
  FixedThresholdResult,
} from './fixed-threshold.js';
export {
  bernoulliLlr,
  binomialUpperTail,
  bucketCeil,
  countAbove,
  histogramCount,
  histogramQuantile,
  sprtBounds,
  wilsonUpper,
} from './stats.js';
