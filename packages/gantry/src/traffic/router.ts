// The traffic-router contract: how requests are split between the stable and
// the canary version of a service during a release. Routers differ in what
// they can express (a proxy can match headers and cookies; a replica ratio
// cannot) and in granularity, which every applied split states.
import type { ServiceSpec } from '../spec/index.js';

export interface HeaderPin {
  name: string;
  value: string;
}

export type TrafficState =
  /** Everything to stable: the state outside a release and after an abort. */
  | { kind: 'stable' }
  /** canaryPercent of requests (0..100), chosen at random per request. */
  | { kind: 'weighted'; canaryPercent: number }
  /**
   * Sticky: requests carrying the header or the cookie always go to the
   * canary; requests whose userHeader value falls in the first userPercent %
   * of the user buckets go to the canary; everything else to stable.
   */
  | {
      kind: 'gray';
      userPercent: number;
      header?: HeaderPin;
      cookie?: HeaderPin;
      userHeader?: string;
    };

export interface AppliedTraffic {
  /** Effective canary share in percent, after rounding to the router's granularity. */
  canaryPercent: number;
  /** One line for humans, including the granularity when it rounds. */
  description: string;
}

export interface TrafficRouter {
  readonly kind: 'gateway' | 'replicas';
  /** Puts a split in force; resolves once the cluster holds it. */
  apply(state: TrafficState): Promise<AppliedTraffic>;
}

/** Name of the canary's Deployment and Service. */
export function canaryName(spec: ServiceSpec): string {
  return `${spec.name}-canary`;
}

/** The router a spec asks for: release.router, else gateway when it has routes. */
export function routerKind(spec: ServiceSpec): 'gateway' | 'replicas' {
  return spec.release.router ?? (spec.routes.length > 0 ? 'gateway' : 'replicas');
}

/** A percentage for humans: at most two decimals, no trailing zeros. */
export function _pct(p: number): string {
  return `${Number(p.toFixed(2))}%`;
}

/** Throws unless p is a number in 0..100. */
export function _checkPercent(what: string, p: number): void {
  if (!Number.isFinite(p) || p < 0 || p > 100) {
    throw new RangeError(`${what} must be between 0 and 100, got ${p}`);
  }
}
