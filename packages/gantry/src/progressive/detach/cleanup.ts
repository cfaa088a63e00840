// Removing a release driver: the driver deletes its own Deployment when the release ends
// (its Secret, ServiceAccount, Role and RoleBinding are owned by it and go with it); a
// command that finds the objects of a driver whose release has ended removes them all.
import type { Kube } from '../../kube/client.js';
import type { KubeObject } from '../../render/index.js';
import { TERMINAL_PHASES } from '../state.js';
import type { RolloutState } from '../state.js';
import { driverName } from './objects.js';

function refs(namespace: string, service: string): KubeObject[] {
  const metadata = { name: driverName(service), namespace };
  return [
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata },
    { apiVersion: 'v1', kind: 'Secret', metadata },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata },
  ];
}

/** Deletes every driver object of the service; returns the kinds that existed. */
export async function removeDriverObjects(
  kube: Kube,
  namespace: string,
  service: string,
): Promise<string[]> {
  const all = refs(namespace, service);
  const existed = await Promise.all(all.map((r) => kube.delete(r)));
  return all.filter((_, i) => existed[i]).map((r) => r.kind);
}

/** The driver removing itself: its Deployment, and through ownership everything else. */
export async function removeOwnDeployment(
  kube: Kube,
  namespace: string,
  service: string,
): Promise<boolean> {
  return kube.delete(refs(namespace, service)[0]!);
}

/** Removes the driver of a release that has ended, if it is still there (a driver that could not remove itself). */
export async function cleanUpFinishedDriver(
  kube: Kube,
  state: RolloutState | undefined,
): Promise<string[]> {
  if (!state?.driver || !TERMINAL_PHASES.includes(state.phase)) return [];
  return removeDriverObjects(kube, state.namespace, state.service);
}
