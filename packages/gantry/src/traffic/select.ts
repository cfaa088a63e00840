// Choosing the traffic router a spec asks for.
import type { Kube } from '../kube/client.js';
import type { ServiceSpec } from '../spec/index.js';
import { GatewayRouter } from './gateway-api.js';
import { ReplicaRouter } from './replica-ratio.js';
import { routerKind } from './router.js';
import type { TrafficRouter } from './router.js';

/** spec.release.router; by default gateway when the spec has routes, else replicas. */
export function routerFor(
  kube: Kube,
  spec: ServiceSpec,
  opts: { stableReplicas: number },
): TrafficRouter {
  return routerKind(spec) === 'gateway'
    ? new GatewayRouter(kube, spec)
    : new ReplicaRouter(kube, spec, { stableReplicas: opts.stableReplicas });
}
