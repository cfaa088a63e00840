// The state of a service as `gantry status` reports it, for one service or many:
// its current revision and image from the release records, and the live health
// of its Deployment. `managedServices` finds every service Gantry deployed, in
// all namespaces, from the stable Deployments carrying Gantry's labels.
import type { V1Deployment } from '@kubernetes/client-node';
import type { Kube } from '../kube/client.js';
import { deploymentRollout } from '../kube/readiness.js';
import { MANAGED_BY, TRACK_LABEL } from '../render/labels.js';
import { ReleaseStore, current } from '../release/store.js';

export interface ServiceStatus {
  service: string;
  namespace: string;
  revision: number | null;
  image: string | null;
  latest: { revision: number; status: string } | null;
  deployment: {
    replicas: number;
    ready: number;
    updated: number;
    available: number;
    rollout: string;
    message: string;
  } | null;
  healthy: boolean;
}

export async function serviceStatus(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<ServiceStatus> {
  const [history, live] = await Promise.all([
    new ReleaseStore(kube, namespace, name).history(),
    kube.get<V1Deployment>({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace },
    }),
  ]);
  const rollout = live ? deploymentRollout(live) : undefined;
  const cur = current(history);
  const deployment = live
    ? {
        replicas: live.spec?.replicas ?? 0,
        ready: live.status?.readyReplicas ?? 0,
        updated: live.status?.updatedReplicas ?? 0,
        available: live.status?.availableReplicas ?? 0,
        rollout: rollout?.phase ?? 'unknown',
        message: rollout && 'message' in rollout ? rollout.message : '',
      }
    : null;
  return {
    service: name,
    namespace,
    revision: cur?.revision ?? null,
    image: cur?.image ?? null,
    latest: history[0] ? { revision: history[0].revision, status: history[0].status } : null,
    deployment,
    healthy: deployment?.rollout === 'done',
  };
}

/** Every service Gantry manages in the cluster (or one namespace), sorted. */
export async function managedServices(
  kube: Kube,
  namespace?: string,
): Promise<{ namespace: string; name: string }[]> {
  const list = await kube.list<V1Deployment>('apps/v1', 'Deployment', namespace, {
    labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY},${TRACK_LABEL}!=canary`,
  });
  return list
    .map((d) => ({ namespace: d.metadata?.namespace ?? '', name: d.metadata?.name ?? '' }))
    .filter((s) => s.name !== '')
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}
