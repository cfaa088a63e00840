// The service's Prometheus alerting rules, rendered from the spec's `monitoring`
// section: error rate, P99 latency, CPU and memory against the spec's own resource
// figures, the service being down, error log lines (counted by the node's log agent), and
// multiwindow burn-rate alerts on an SLO's error budget. The request metrics are the ones the canary judge reads
// (release.analysis.requests / latency), so one place names them.
import { stringifyYaml } from '../render/yaml.js';
import { analysisFor, exclusionMatcher } from '../analysis/user-traffic.js';
import type { ServiceSpec } from '../spec/index.js';
import { quantityValue } from './quantity.js';

export interface AlertingRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface RecordingRule {
  record: string;
  expr: string;
  labels: Record<string, string>;
}

export type Rule = AlertingRule | RecordingRule;

/**
 * Log lines of every container, by namespace, pod, container and level, as the node's log
 * agent exports them (mtail: hack/cluster/mtail/pod-logs.mtail, deploy/log-agent).
 */
export const LOG_LINES_METRIC = 'gantry_log_lines_total';
/** The levels of LOG_LINES_METRIC that GantryErrorLogsHigh counts. */
export const ERROR_LOG_LEVELS = ['error', 'fatal'] as const;

export interface RuleGroup {
  name: string;
  rules: Rule[];
}

export interface RenderedRules {
  /** A Prometheus rule file: `{ groups: [...] }`. */
  file: { groups: RuleGroup[] };
  /** Alerts the spec asks for that could not be made, and why. */
  notes: string[];
}

/** Name of the rule group (and of the local rule file) of a service. */
export function ruleGroupName(spec: Pick<ServiceSpec, 'namespace' | 'name'>): string {
  return `gantry:${spec.namespace}/${spec.name}`;
}

/** Error budget burn: share of the budget spent within the long window, and the windows. */
export const BURN_WINDOWS = [
  { severity: 'page', budget: 0.02, long: 3600, short: 300 },
  { severity: 'page', budget: 0.05, long: 6 * 3600, short: 1800 },
  { severity: 'ticket', budget: 0.1, long: 3 * 86400, short: 6 * 3600 },
] as const;

export function renderAlertRules(spec: ServiceSpec): RenderedRules {
  const m = spec.monitoring;
  const a = m.alerts;
  const notes: string[] = [];
  const rules: Rule[] = [];
  const req = spec.release.analysis.requests;
  const scraped = spec.metrics !== undefined;
  const { sel, errSel } = requestSelectors(spec);
  const who = `${spec.namespace}/${spec.name}`;
  // monitoring.labels may change severity, never the labels that name the service.
  const labels = (severity: string): Record<string, string> => ({
    severity,
    ...m.labels,
    namespace: spec.namespace,
    service: spec.name,
  });
  const needScrape = (what: string) =>
    notes.push(
      `${what}: left out, because spec.metrics is not set and Prometheus does not scrape the pods`,
    );
  const errorRatio = (window: number) =>
    `sum(rate(${req.metric}{${errSel}}[${promDuration(window)}]))\n` +
    `  /\nsum(rate(${req.metric}{${sel}}[${promDuration(window)}]))`;

  if (a.errorRate) {
    if (!scraped) needScrape('monitoring.alerts.errorRate');
    else
      rules.push({
        alert: 'GantryErrorRateHigh',
        expr: `(\n${errorRatio(a.errorRate.window)}\n) > ${num(a.errorRate.above)}`,
        for: promDuration(a.errorRate.for),
        labels: labels('page'),
        annotations: {
          summary: `${who}: {{ $value | humanizePercentage }} of requests fail`,
          description:
            `More than ${pct(a.errorRate.above)} of the requests of ${who} were answered with ` +
            `status ${req.errorStatus} over ${promDuration(a.errorRate.window)}.`,
        },
      });
  }
  if (a.latencyP99) {
    if (!scraped) needScrape('monitoring.alerts.latencyP99');
    else {
      const w = promDuration(a.latencyP99.window);
      const bucket = `${spec.release.analysis.latency.metric}_bucket`;
      rules.push({
        alert: 'GantryLatencyP99High',
        expr: `histogram_quantile(0.99, sum by (le) (rate(${bucket}{${sel}}[${w}]))) > ${num(a.latencyP99.above)}`,
        for: promDuration(a.latencyP99.for),
        labels: labels('page'),
        annotations: {
          summary: `${who}: P99 latency {{ $value | humanizeDuration }}`,
          description: `The 99th percentile latency of ${who} over ${w} is above ${promDuration(a.latencyP99.above)}.`,
        },
      });
    }
  }

  // cAdvisor series name the pod and container, not the Deployment: match the pod names of
  // the service's Deployment and of its canary, <deployment>-<template hash>-<5 characters>,
  // both from Kubernetes' safe alphabet (no vowels, no 0, 1 or 3), so that the pods of a
  // StatefulSet such as <name>-db-0 stay out.
  const safe = '[bcdfghjklmnpqrstvwxz2456789]';
  const podName = `${spec.name}(-canary)?-${safe}{1,10}-${safe}{5}`;
  const container = `namespace=${str(spec.namespace)},pod=~${str(podName)},container=${str(spec.name)}`;
  const { limits, requests } = spec.resources;
  if (a.cpu) {
    const cores = limits.cpu ?? requests.cpu;
    if (cores === undefined)
      notes.push('monitoring.alerts.cpu: left out, because the spec sets no CPU limit or request');
    else {
      const of = limits.cpu !== undefined ? 'limit' : 'request';
      const w = promDuration(a.cpu.window);
      rules.push({
        alert: 'GantryCPUHigh',
        expr:
          `max by (pod) (rate(container_cpu_usage_seconds_total{${container}}[${w}]))\n` +
          `  / ${num(quantityValue(cores))} > ${num(a.cpu.above)}`,
        for: promDuration(a.cpu.for),
        labels: labels('warning'),
        annotations: {
          summary: `${who}: pod {{ $labels.pod }} uses {{ $value | humanizePercentage }} of its CPU ${of}`,
          description: `A pod of ${who} used more than ${pct(a.cpu.above)} of its CPU ${of} (${cores}) over ${w}.`,
        },
      });
    }
  }
  if (a.memory) {
    const bytes = limits.memory ?? requests.memory;
    if (bytes === undefined)
      notes.push(
        'monitoring.alerts.memory: left out, because the spec sets no memory limit or request',
      );
    else {
      const of = limits.memory !== undefined ? 'limit' : 'request';
      rules.push({
        alert: 'GantryMemoryHigh',
        expr:
          `max by (pod) (container_memory_working_set_bytes{${container}})\n` +
          `  / ${num(quantityValue(bytes))} > ${num(a.memory.above)}`,
        for: promDuration(a.memory.for),
        labels: labels('warning'),
        annotations: {
          summary: `${who}: pod {{ $labels.pod }} uses {{ $value | humanizePercentage }} of its memory ${of}`,
          description: `A pod of ${who} has a working set above ${pct(a.memory.above)} of its memory ${of} (${bytes}).`,
        },
      });
    }
  }
  if (a.down) {
    if (!scraped) needScrape('monitoring.alerts.down');
    else if (spec.replicas === 0 && !spec.autoscaling)
      notes.push('monitoring.alerts.down: left out, because the service runs 0 replicas');
    else
      rules.push({
        alert: 'GantryServiceDown',
        expr: `(sum(up{namespace=${str(spec.namespace)},app_kubernetes_io_name=${str(spec.name)}}) or vector(0)) == 0`,
        for: promDuration(a.down.for),
        labels: labels('page'),
        annotations: {
          summary: `${who}: no pod answers Prometheus`,
          description: `No pod of ${who} has been scraped successfully for ${promDuration(a.down.for)}.`,
        },
      });
  }
  if (a.errorLogs) {
    // The agent names the pod, not the Deployment: the same pod-name match as the cAdvisor
    // alerts (there is no kube-state-metrics to join kube_pod_labels with), over every
    // container of the pod, sidecars included. Per minute, whatever the window.
    const w = promDuration(a.errorLogs.window);
    const levels = ERROR_LOG_LEVELS.join('|');
    rules.push({
      alert: 'GantryErrorLogsHigh',
      expr:
        `sum(rate(${LOG_LINES_METRIC}{namespace=${str(spec.namespace)},pod=~${str(podName)},level=~${str(levels)}}[${w}])) * 60\n` +
        `  > ${num(a.errorLogs.above)}`,
      for: promDuration(a.errorLogs.for),
      labels: labels('warning'),
      annotations: {
        summary: `${who}: {{ $value | humanize }} error log lines per minute`,
        description:
          `The pods of ${who} wrote more than ${num(a.errorLogs.above)} log lines at level ` +
          `${ERROR_LOG_LEVELS.join(' or ')} per minute over ${w} (the node's log agent, ${LOG_LINES_METRIC}).`,
      },
    });
  }

  for (const r of m.rules) {
    rules.push({
      alert: r.alert,
      expr: r.expr,
      ...(r.for > 0 ? { for: promDuration(r.for) } : {}),
      labels: labels(r.severity),
      annotations: {
        summary: r.summary ?? `${who}: ${r.alert}`,
        ...(r.description ? { description: r.description } : {}),
      },
    });
  }

  if (m.slo) {
    if (!scraped) needScrape('monitoring.slo');
    else {
      const budget = 1 - m.slo.availability;
      const period = m.slo.windowDays * 86400;
      const windows = [...new Set(BURN_WINDOWS.flatMap((b) => [b.short, b.long]))].sort(
        (x, y) => x - y,
      );
      const sloLabels = { namespace: spec.namespace, service: spec.name };
      const ratioSel = `namespace=${str(spec.namespace)},service=${str(spec.name)}`;
      for (const w of windows) {
        rules.push({
          record: `gantry:slo_errors:ratio_rate${promDuration(w)}`,
          expr: errorRatio(w),
          labels: sloLabels,
        });
      }
      for (const b of BURN_WINDOWS) {
        const burn = (b.budget * period) / b.long;
        const threshold = num(burn * budget);
        const series = (w: number) => `gantry:slo_errors:ratio_rate${promDuration(w)}{${ratioSel}}`;
        rules.push({
          alert: 'GantryErrorBudgetBurn',
          expr: `${series(b.long)} > ${threshold}\nand\n${series(b.short)} > ${threshold}`,
          labels: {
            ...labels(b.severity),
            long_window: promDuration(b.long),
            short_window: promDuration(b.short),
          },
          annotations: {
            summary: `${who}: error budget burning ${num(burn)}x too fast`,
            description:
              `At this rate ${who} spends ${pct(b.budget)} of its ${m.slo.windowDays}-day error budget ` +
              `(availability ${pct(m.slo.availability)}) within ${promDuration(b.long)}.`,
          },
        });
      }
    }
  }
  return { file: { groups: [{ name: ruleGroupName(spec), rules }] }, notes };
}

/**
 * PromQL label matchers for the service's user requests (both tracks, as the pods' labels
 * reach Prometheus; probe and metrics routes left out) and for those that count as
 * errors, per release.analysis.requests.
 */
export function requestSelectors(spec: ServiceSpec): { sel: string; errSel: string } {
  const analysis = analysisFor(spec);
  const req = analysis.requests;
  const sel = [
    `namespace=${str(spec.namespace)}`,
    `app_kubernetes_io_name=${str(spec.name)}`,
    req.selector.trim(),
    // Probes and scrapes are not user traffic (analysis/user-traffic.ts).
    exclusionMatcher(analysis),
  ]
    .filter((x) => x !== '')
    .join(',');
  return { sel, errSel: `${sel},${req.statusLabel}=~${str(req.errorStatus)}` };
}

/** The rules as a Prometheus Operator PrometheusRule object. */
export function prometheusRuleObject(spec: ServiceSpec, rendered: RenderedRules) {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: `${spec.name}-gantry`,
      namespace: spec.namespace,
      labels: { 'app.kubernetes.io/name': spec.name, 'app.kubernetes.io/managed-by': 'gantry' },
    },
    spec: rendered.file,
  };
}

/** A rule file as YAML that YAML 1.1 readers (Prometheus's) and 1.2 readers read alike. */
export function rulesYaml(doc: unknown): string {
  return stringifyYaml(doc);
}

/** Seconds as a Prometheus duration: 300 -> 5m, 90 -> 90s, 0.25 -> 250ms, 259200 -> 3d. */
export function promDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const ms = Math.round(seconds * 1000);
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** A PromQL string literal. */
function str(s: string): string {
  return JSON.stringify(s);
}

/** A number in PromQL without float noise (0.1 * 3 -> 0.3). */
function num(x: number): string {
  return String(Number(x.toPrecision(12)));
}

function pct(r: number): string {
  return `${num(r * 100)}%`;
}
