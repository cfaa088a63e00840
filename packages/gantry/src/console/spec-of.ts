// The spec a running service's charts are built from. A progressive release records the
// validated spec in its state object: that one is exact. Otherwise the spec's defaults,
// with what the live Deployment shows of the fields the selectors depend on (probe and
// metrics paths, which the judge and the alerts leave out of user traffic) and of its
// resource limits.
import type { V1Deployment } from '@kubernetes/client-node';
import { serviceSpecSchema, SPEC_API_VERSION } from '../spec/schema.js';
import type { ServiceSpec } from '../spec/index.js';

export function specOf(
  namespace: string,
  name: string,
  deployment: V1Deployment | undefined,
  recorded: ServiceSpec | undefined,
): { spec: ServiceSpec; from: 'release state' | 'deployment' } {
  if (recorded) return { spec: recorded, from: 'release state' };
  const pod = deployment?.spec?.template;
  const c = pod?.spec?.containers?.find((x) => x.name === name) ?? pod?.spec?.containers?.[0];
  const path = (p: { httpGet?: { path?: string } } | undefined) =>
    p?.httpGet?.path?.startsWith('/') ? { path: p.httpGet.path } : undefined;
  const probes = Object.fromEntries(
    (
      [
        ['liveness', path(c?.livenessProbe)],
        ['readiness', path(c?.readinessProbe)],
        ['startup', path(c?.startupProbe)],
      ] as const
    ).filter(([, v]) => v !== undefined),
  );
  const ann = pod?.metadata?.annotations ?? {};
  const resources = (list: Record<string, string> | undefined) =>
    Object.fromEntries(
      Object.entries(list ?? {}).filter(([k]) => k === 'cpu' || k === 'memory'),
    ) as { cpu?: string; memory?: string };
  const base = {
    apiVersion: SPEC_API_VERSION,
    name,
    namespace,
    image: c?.image ?? 'unknown',
  };
  const full = {
    ...base,
    ...(Object.keys(probes).length ? { probes } : {}),
    ...(ann['prometheus.io/scrape'] === 'true'
      ? { metrics: { path: ann['prometheus.io/path'] ?? '/metrics' } }
      : {}),
    ...(c?.resources
      ? {
          resources: {
            requests: resources(c.resources.requests),
            limits: resources(c.resources.limits),
          },
        }
      : {}),
  };
  const parsed = serviceSpecSchema.safeParse(full);
  return {
    spec: parsed.success ? parsed.data : serviceSpecSchema.parse(base),
    from: 'deployment',
  };
}
