// Kubernetes recommended labels (app.kubernetes.io/*) for every object.
import type { ServiceSpec } from '../spec/index.js';

export const MANAGED_BY = 'gantry';

/** Labels that select a service's pods. Never includes the version: selectors are immutable. */
export function selectorLabels(spec: ServiceSpec): Record<string, string> {
  return {
    'app.kubernetes.io/name': spec.name,
    'app.kubernetes.io/instance': spec.name,
  };
}

/** Which Deployment a pod belongs to during a release: "stable" (the service's own) or "canary". */
export const TRACK_LABEL = 'gantry.dev/track';
export type Track = 'stable' | 'canary';

/** Labels that select one track's pods (the Service <name> selects the stable track). */
export function trackSelector(spec: ServiceSpec, track: Track): Record<string, string> {
  return { ...selectorLabels(spec), [TRACK_LABEL]: track };
}

export function commonLabels(
  spec: ServiceSpec,
  version: string | undefined,
): Record<string, string> {
  const labels: Record<string, string> = {
    ...spec.labels,
    ...selectorLabels(spec),
    'app.kubernetes.io/managed-by': MANAGED_BY,
  };
  if (version) labels['app.kubernetes.io/version'] = labelValue(version);
  return labels;
}

/** A label value: at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends. */
export function labelValue(v: string): string {
  return v
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}
