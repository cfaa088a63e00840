// The steady-state hypothesis of a chaos experiment: the service answers (its
// Deployment has every replica ready) and, when Prometheus scrapes it, its error
// rate since a given moment stays at or under a limit. The error rate is read the
// way the alert rules read it (release.analysis.requests), both tracks together.
import type { V1Deployment } from '@kubernetes/client-node';
import type { Prometheus } from '../analysis/prometheus.js';
import type { Kube } from '../kube/client.js';
import { requestSelectors } from '../monitor/rules.js';
import type { ServiceSpec } from '../spec/index.js';

export interface SteadyState {
  ok: boolean;
  readyReplicas: number;
  replicas: number;
  /** Errors over requests since `since`; undefined without metrics or without requests. */
  errorRate?: number;
  requests?: number;
  /** Why it is not ok. */
  reason?: string;
}

export interface SteadyStateOptions {
  /** Highest acceptable error rate (0..1). */
  maxErrorRate: number;
  /** undefined: the error rate is not part of the hypothesis (no metrics). */
  prometheus?: Prometheus;
}

export async function readSteadyState(
  kube: Kube,
  spec: ServiceSpec,
  since: Date,
  opts: SteadyStateOptions,
): Promise<SteadyState> {
  const d = await kube.get<V1Deployment>({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: spec.name, namespace: spec.namespace },
  });
  if (!d) {
    return {
      ok: false,
      readyReplicas: 0,
      replicas: 0,
      reason: `${spec.namespace}/${spec.name} has no Deployment`,
    };
  }
  const replicas = d.spec?.replicas ?? 0;
  const readyReplicas = d.status?.readyReplicas ?? 0;
  const out: SteadyState = { ok: true, readyReplicas, replicas };
  if (opts.prometheus) {
    // increase() needs two samples of a series inside the window: at least 30 s (pods
    // are scraped every few seconds), plus a few seconds for the last scrape to land.
    const seconds = Math.max(30, Math.round((Date.now() - since.getTime()) / 1000) + 5);
    const { requests, errors } = await errorCounts(opts.prometheus, spec, seconds);
    out.requests = requests;
    if (requests > 0) out.errorRate = errors / requests;
  }
  if (readyReplicas < replicas) {
    out.ok = false;
    out.reason = `${readyReplicas} of ${replicas} replicas ready`;
  } else if (out.errorRate !== undefined && out.errorRate > opts.maxErrorRate) {
    out.ok = false;
    out.reason =
      `error rate ${pct(out.errorRate)} of ${Math.round(out.requests ?? 0)} requests ` +
      `is above ${pct(opts.maxErrorRate)}`;
  }
  return out;
}

async function errorCounts(
  prom: Prometheus,
  spec: ServiceSpec,
  seconds: number,
): Promise<{ requests: number; errors: number }> {
  const metric = spec.release.analysis.requests.metric;
  const { sel, errSel } = requestSelectors(spec);
  const sum = async (s: string) =>
    (await prom.query(`sum(increase(${metric}{${s}}[${seconds}s]))`))[0]?.value ?? 0;
  const [requests, errors] = await Promise.all([sum(sel), sum(errSel)]);
  return {
    requests: Number.isFinite(requests) ? requests : 0,
    errors: Number.isFinite(errors) ? errors : 0,
  };
}

export function pct(r: number): string {
  return `${Number((r * 100).toPrecision(3))}%`;
}
