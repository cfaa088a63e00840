// Traffic routing between the stable and the canary version of a service.
export { canaryName, routerKind } from './router.js';
export type { AppliedTraffic, HeaderPin, TrafficRouter, TrafficState } from './router.js';
export {
  GatewayRouter,
  USER_BUCKETS,
  bucketRegex,
  cookieRegex,
  gatewayTraffic,
  renderRoutes,
} from './gateway-api.js';
export type { GatewayRouterOptions, RenderRoutesOptions } from './gateway-api.js';
export { ReplicaRouter, replicaSplit } from './replica-ratio.js';
export type { ReplicaRouterOptions, ReplicaSplit } from './replica-ratio.js';
export { routerFor } from './select.js';
