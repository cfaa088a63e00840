// Every chart the console draws, defined once: title, PromQL, unit and thresholds. The
// PromQL is built from the same request selectors the alert rules use
// (monitor/rules.ts requestSelectors), so a chart and the alert on it always agree on
// which requests count. Pure: spec in, definitions out; the console's server runs them
// and a Grafana renderer can turn the same definitions into dashboard panels.
//
// One panel is one PromQL query: several lines of a chart (P50 and P99, stable and
// canary, one line per pod) come from one query and are told apart by `seriesLabel`.
import { requestSelectors } from '../monitor/rules.js';
import { quantityValue } from '../monitor/quantity.js';
import type { ServiceSpec } from '../spec/index.js';
import { TRACK_LABEL } from '../render/labels.js';

/** Grafana's unit ids, so the definitions carry over to dashboards unchanged. */
export type PanelUnit = 'reqps' | 'percentunit' | 's' | 'cores' | 'bytes';

export interface PanelThreshold {
  value: number;
  /** What the line stands for, e.g. "alert above 5%" or "limit 500m". */
  label: string;
  severity: 'warning' | 'critical';
}

export interface PanelDef {
  /** Stable within a page: service.requests, release.errors, … */
  id: string;
  title: string;
  /** One sentence: what the chart shows and how it is counted. */
  description: string;
  unit: PanelUnit;
  /** A range-queryable PromQL expression. */
  expr: string;
  /** The label that names each line (absent: one line named `title`). */
  seriesLabel?: string;
  thresholds: PanelThreshold[];
}

/** The rate window of every panel: long enough to span several scrapes. */
export const RATE_WINDOW = '1m';

/** The Prometheus label the track label of the pods becomes (gantry.dev/track). */
export const TRACK_SERIES_LABEL = TRACK_LABEL.replace(/[./-]/g, '_');

const str = (s: string) => JSON.stringify(s);

/**
 * Matchers for the service's containers in cAdvisor series: the pods of the stable and
 * canary Deployments (<name>-<rs hash>-<pod hash>, <name>-canary-…), not a StatefulSet such
 * as <name>-db-0. The same pattern as the CPU and memory alerts of monitor/rules.ts.
 */
export function containerSelector(spec: Pick<ServiceSpec, 'name' | 'namespace'>): string {
  const safe = '[bcdfghjklmnpqrstvwxz2456789]';
  const podName = `${spec.name}(-canary)?-${safe}{1,10}-${safe}{5}`;
  return `namespace=${str(spec.namespace)},pod=~${str(podName)},container=${str(spec.name)}`;
}

const pct = (x: number) => `${Number((x * 100).toFixed(2))}%`;

/** Request rate, error rate, latency, CPU and memory of a service (both tracks together). */
export function servicePanels(spec: ServiceSpec): PanelDef[] {
  const { sel, errSel } = requestSelectors(spec);
  const req = spec.release.analysis.requests.metric;
  const bucket = `${spec.release.analysis.latency.metric}_bucket`;
  const w = RATE_WINDOW;
  const alerts = spec.monitoring.alerts;
  const container = containerSelector(spec);
  const limits = spec.resources.limits;
  const all = `sum(rate(${req}{${sel}}[${w}]))`;
  const quantile = (q: number, name: string) =>
    `label_replace(histogram_quantile(${q}, sum by (le) (rate(${bucket}{${sel}}[${w}]))), "quantile", ${str(name)}, "", "")`;
  return [
    {
      id: 'service.requests',
      title: 'Request rate',
      description: `User requests per second (${req}), probes and scrapes left out.`,
      unit: 'reqps',
      expr: `sum(rate(${req}{${sel}}[${w}]))`,
      thresholds: [],
    },
    {
      id: 'service.errors',
      title: 'Error rate',
      description: `Share of user requests answered with status ${spec.release.analysis.requests.errorStatus}.`,
      unit: 'percentunit',
      // No error series at all is 0 %, not "no data" (a counter for 5xx appears with the first one).
      expr: `(sum(rate(${req}{${errSel}}[${w}])) or ${all} * 0) / ${all}`,
      thresholds: alerts.errorRate
        ? [
            {
              value: alerts.errorRate.above,
              label: `alert above ${pct(alerts.errorRate.above)}`,
              severity: 'critical',
            },
          ]
        : [],
    },
    {
      id: 'service.latency',
      title: 'Latency P50 / P99',
      description: `Quantiles of ${spec.release.analysis.latency.metric} over ${w}.`,
      unit: 's',
      expr: `${quantile(0.5, 'p50')} or ${quantile(0.99, 'p99')}`,
      seriesLabel: 'quantile',
      thresholds: alerts.latencyP99
        ? [
            {
              value: alerts.latencyP99.above,
              label: `P99 alert above ${alerts.latencyP99.above}s`,
              severity: 'critical',
            },
          ]
        : [],
    },
    {
      id: 'service.cpu',
      title: 'CPU per pod',
      description: 'CPU cores used by each pod of the service, against its limit (or request).',
      unit: 'cores',
      expr: `sum by (pod) (rate(container_cpu_usage_seconds_total{${container}}[${w}]))`,
      seriesLabel: 'pod',
      thresholds: resourceLine(limits.cpu ?? spec.resources.requests.cpu, limits.cpu),
    },
    {
      id: 'service.memory',
      title: 'Memory per pod',
      description: 'Working set of each pod of the service, against its limit (or request).',
      unit: 'bytes',
      expr: `sum by (pod) (container_memory_working_set_bytes{${container}})`,
      seriesLabel: 'pod',
      thresholds: resourceLine(limits.memory ?? spec.resources.requests.memory, limits.memory),
    },
  ];
}

function resourceLine(
  q: string | number | undefined,
  limit: string | number | undefined,
): PanelThreshold[] {
  if (q === undefined) return [];
  let value: number;
  try {
    value = quantityValue(q);
  } catch {
    return [];
  }
  return [
    {
      value,
      label: `${limit !== undefined ? 'limit' : 'request'} ${q}`,
      severity: limit !== undefined ? 'critical' : 'warning',
    },
  ];
}

/** Canary against stable during a release: traffic, errors and P99 per track, and the canary's measured share. */
export function releasePanels(spec: ServiceSpec): PanelDef[] {
  const { sel, errSel } = requestSelectors(spec);
  const req = spec.release.analysis.requests.metric;
  const bucket = `${spec.release.analysis.latency.metric}_bucket`;
  const w = RATE_WINDOW;
  const t = TRACK_SERIES_LABEL;
  const guard = spec.release.analysis.guardRails;
  const byTrack = `sum by (${t}) (rate(${req}{${sel}}[${w}]))`;
  return [
    {
      id: 'release.share',
      title: 'Canary share of requests (measured)',
      description: 'Requests the canary answered, of all user requests of the service.',
      unit: 'percentunit',
      expr: `sum(rate(${req}{${sel},${t}="canary"}[${w}])) / sum(rate(${req}{${sel}}[${w}]))`,
      thresholds: [],
    },
    {
      id: 'release.requests',
      title: 'Requests by track',
      description: 'User requests per second, stable and canary.',
      unit: 'reqps',
      expr: `sum by (${t}) (rate(${req}{${sel}}[${w}]))`,
      seriesLabel: t,
      thresholds: [],
    },
    {
      id: 'release.errors',
      title: 'Error rate by track',
      description: `Share of requests answered with status ${spec.release.analysis.requests.errorStatus}, stable and canary.`,
      unit: 'percentunit',
      expr: `(sum by (${t}) (rate(${req}{${errSel}}[${w}])) or ${byTrack} * 0) / ${byTrack}`,
      seriesLabel: t,
      thresholds: guard.maxErrorRate !== undefined ? [ceiling(guard.maxErrorRate, pct)] : [],
    },
    {
      id: 'release.latency',
      title: 'Latency P99 by track',
      description: `P99 of ${spec.release.analysis.latency.metric}, stable and canary.`,
      unit: 's',
      expr: `histogram_quantile(0.99, sum by (${t}, le) (rate(${bucket}{${sel}}[${w}])))`,
      seriesLabel: t,
      thresholds: guard.maxP99 !== undefined ? [ceiling(guard.maxP99, (x) => `${x}s`)] : [],
    },
  ];
}

function ceiling(value: number, show: (x: number) => string): PanelThreshold {
  return { value, label: `guard rail ${show(value)}`, severity: 'critical' };
}
