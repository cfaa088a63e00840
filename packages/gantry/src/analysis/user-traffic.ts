// Which requests are the users'? Probes (every second per pod, from the kubelet) and
// scrapes (from Prometheus) reach the service's request metrics like any other request.
// Counted as traffic they outnumber real requests at a small canary weight (at a 1 % step,
// ~180 of ~240 counted requests a minute were probes), dilute its error rate (2.2 % of real
// requests read as 0.8 %), and let a bad canary pass. The spec already names those routes:
// its probe paths and metrics path. They are left out of the judge and of the alerts by
// default, with no configuration.
import type { AnalysisSpec, ServiceSpec } from '../spec/index.js';

/** The routes that are not user traffic: requests.exclude, else the spec's probe and metrics paths. */
export function excludedRoutes(spec: ServiceSpec): string[] {
  const configured = spec.release.analysis.requests.exclude;
  if (configured) return [...new Set(configured)];
  const paths = [
    spec.probes?.liveness?.path,
    spec.probes?.readiness?.path,
    spec.probes?.startup?.path,
    spec.metrics ? spec.metrics.path : undefined,
  ].filter((p): p is string => typeof p === 'string' && p !== '');
  return [...new Set(paths)];
}

/** The spec's analysis settings with requests.exclude filled in from the spec. */
export function analysisFor(spec: ServiceSpec): AnalysisSpec {
  const a = spec.release.analysis;
  return { ...a, requests: { ...a.requests, exclude: excludedRoutes(spec) } };
}

/** An RE2 pattern matching exactly the given routes (PromQL anchors it). */
export function routesPattern(routes: readonly string[]): string {
  return routes.map((r) => r.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
}

/**
 * The label matcher that leaves the excluded routes out (`route!~"/healthz|/readyz"`),
 * or '' when nothing is excluded. `negate: false` gives the matcher that picks them.
 */
export function exclusionMatcher(a: AnalysisSpec, negate = true): string {
  const routes = a.requests.exclude ?? [];
  if (!routes.length) return '';
  return `${a.requests.routeLabel}${negate ? '!~' : '=~'}${JSON.stringify(routesPattern(routes))}`;
}
