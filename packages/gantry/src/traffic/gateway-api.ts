// The Gateway API router: one HTTPRoute per spec route, whose rules carry the
// split. Weighted: one rule with stable and canary backendRefs weighted in
// whole percent. Gray: rules that send matching requests to the canary (an
// exact header, a cookie, or a user id in the chosen hash buckets) for each of
// the route's paths, and the route's own rule to stable. A header match is
// more specific than the same path without one (Gateway API rule precedence),
// so the canary rules win wherever they match.
//
// Regular expressions here are read by the gateway (Traefik: Go RE2) and by
// the tests (JavaScript): they keep to the syntax both share, with no flags.
import type { Kube } from '../kube/client.js';
import { commonLabels } from '../render/labels.js';
import type { KubeObject } from '../render/objects.js';
import type { ServiceSpec } from '../spec/index.js';
import { confirmRoute } from './route-ready.js';
import { _checkPercent, _pct, canaryName } from './router.js';
import type { AppliedTraffic, HeaderPin, TrafficRouter, TrafficState } from './router.js';

/** User ids are bucketed by their last two hex digits. */
export const USER_BUCKETS = 256;
const HEX = '[0-9a-fA-F]';
const VERSION_LABEL = 'app.kubernetes.io/version';

interface PathMatch {
  path: { type: string; value: string };
}
interface HeaderMatch {
  type: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}
interface BackendRef {
  name: string;
  port: number;
  weight?: number;
}
interface Rule {
  matches: (PathMatch & { headers?: HeaderMatch[] })[];
  backendRefs: BackendRef[];
}

export interface RenderRoutesOptions {
  /** The service version, set as app.kubernetes.io/version (as renderService does). */
  version?: string;
}

/** The HTTPRoutes (one per spec route) that put `state` in force. Pure. */
export function renderRoutes(
  spec: ServiceSpec,
  state: TrafficState,
  opts: RenderRoutesOptions = {},
): KubeObject[] {
  const labels = commonLabels(spec, opts.version);
  return spec.routes.map((route, i) => {
    const [gwNamespace, gwName] = route.gateway.includes('/')
      ? (route.gateway.split('/') as [string, string])
      : [undefined, route.gateway];
    const port = resolveServicePort(spec, route.port);
    const paths: PathMatch[] = route.matches.map((m) => ({
      path: { type: m.pathType, value: m.path },
    }));
    return {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: {
        name: spec.routes.length === 1 ? spec.name : `${spec.name}-${i}`,
        namespace: spec.namespace,
        labels: { ...labels },
      },
      spec: {
        parentRefs: [{ name: gwName, ...(gwNamespace ? { namespace: gwNamespace } : {}) }],
        hostnames: route.hostnames,
        rules: rules(state, paths, { name: spec.name, port }, { name: canaryName(spec), port }),
      },
    };
  });
}

function rules(state: TrafficState, paths: PathMatch[], stable: BackendRef, canary: BackendRef) {
  switch (state.kind) {
    case 'stable':
      return [{ matches: paths, backendRefs: [stable] }];
    case 'weighted': {
      const w = weightOf(state.canaryPercent);
      const backendRefs =
        w === 0
          ? [{ ...stable, weight: 100 }]
          : [
              { ...stable, weight: 100 - w },
              { ...canary, weight: w },
            ];
      return [{ matches: paths, backendRefs }];
    }
    case 'gray': {
      // Canary rules first: on a tie, the first matching rule in list order wins.
      const out: Rule[] = [];
      const toCanary = (h: HeaderMatch) =>
        out.push({
          matches: paths.map((p) => ({ ...p, headers: [h] })),
          backendRefs: [canary],
        });
      if (state.header)
        toCanary({ type: 'Exact', name: state.header.name, value: state.header.value });
      if (state.cookie) {
        toCanary({ type: 'RegularExpression', name: 'Cookie', value: cookieRegex(state.cookie) });
      }
      const buckets = bucketsOf(state);
      if (state.userHeader && buckets > 0) {
        toCanary({
          type: 'RegularExpression',
          name: state.userHeader,
          value: bucketRegex(buckets),
        });
      }
      out.push({ matches: paths, backendRefs: [stable] });
      return out;
    }
  }
}

/** The canary's integer weight out of 100 for a requested percentage. */
function weightOf(canaryPercent: number): number {
  _checkPercent('canaryPercent', canaryPercent);
  return Math.round(canaryPercent);
}

/** How many of the 256 user buckets go to the canary (0 without a user header). */
function bucketsOf(state: Extract<TrafficState, { kind: 'gray' }>): number {
  _checkPercent('userPercent', state.userPercent);
  if (!state.userHeader) return 0;
  return Math.round((state.userPercent * USER_BUCKETS) / 100);
}

/** The split `state` gives through this router, and its one-line description. Pure. */
export function gatewayTraffic(state: TrafficState): AppliedTraffic {
  switch (state.kind) {
    case 'stable':
      return { canaryPercent: 0, description: 'all traffic to stable' };
    case 'weighted': {
      const w = weightOf(state.canaryPercent);
      const rounded =
        w === state.canaryPercent
          ? ''
          : ` (requested ${_pct(state.canaryPercent)}; HTTPRoute weights in 1% steps)`;
      return {
        canaryPercent: w,
        description: `${w}% of requests to canary, ${100 - w}% to stable by HTTPRoute weights${rounded}`,
      };
    }
    case 'gray': {
      const buckets = bucketsOf(state);
      const effective = (buckets * 100) / USER_BUCKETS;
      const pinned: string[] = [];
      if (state.header) pinned.push(`header ${state.header.name}: ${state.header.value}`);
      if (state.cookie) pinned.push(`cookie ${state.cookie.name}=${state.cookie.value}`);
      let users: string;
      if (state.userHeader) {
        const rounded =
          effective === state.userPercent
            ? ''
            : `, requested ${_pct(state.userPercent)}; buckets of ${_pct(100 / USER_BUCKETS)}`;
        users =
          `${_pct(effective)} of users to canary (${buckets}/${USER_BUCKETS} buckets of the ` +
          `last two hex digits of ${state.userHeader}${rounded})`;
      } else {
        users =
          state.userPercent > 0
            ? `no users by id (release.gray.userHeader is not set, so ${_pct(state.userPercent)} cannot be chosen)`
            : 'no users by id';
      }
      const pins = pinned.length ? `; always canary: ${pinned.join(', ')}` : '';
      return {
        canaryPercent: effective,
        description: `gray: ${users}${pins}; all else to stable`,
      };
    }
  }
}

/** A regex (RE2 and JavaScript) matching a Cookie header that carries name=value. */
export function cookieRegex(c: HeaderPin): string {
  return `(?:^|;)\\s*${escapeRegex(c.name)}=${escapeRegex(c.value)}\\s*(?:;|$)`;
}

/**
 * A regex (RE2 and JavaScript) matching ids whose last two hex digits, read as
 * a number, are below `buckets` (1..256): buckets 00..(buckets-1), any case.
 */
export function bucketRegex(buckets: number): string {
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > USER_BUCKETS) {
    throw new RangeError(`buckets must be an integer in 1..${USER_BUCKETS}, got ${buckets}`);
  }
  const whole = Math.floor(buckets / 16); // high digits 0..whole-1 take every low digit
  const rest = buckets % 16; // high digit `whole` takes low digits 0..rest-1
  const alts: string[] = [];
  if (whole > 0) alts.push(`${nibbles(whole - 1)}${HEX}`);
  if (rest > 0) alts.push(`${nibble(whole)}${nibbles(rest - 1)}`);
  return `(?:${alts.join('|')})$`;
}

/** A class of the hex digits 0..top, both cases. */
function nibbles(top: number): string {
  if (top === 0) return '0';
  if (top <= 9) return `[0-${top}]`;
  const l = top.toString(16);
  const letters = top === 10 ? 'aA' : `a-${l}A-${l.toUpperCase()}`;
  return `[0-9${letters}]`;
}

function nibble(d: number): string {
  const h = d.toString(16);
  return d <= 9 ? h : `[${h}${h.toUpperCase()}]`;
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

function resolveServicePort(spec: ServiceSpec, port: number | string | undefined): number {
  const p =
    port === undefined
      ? spec.ports[0]!
      : spec.ports.find(
          (x) => x.name === port || x.containerPort === port || x.servicePort === port,
        );
  if (!p) throw new Error(`route port "${String(port)}" is not one of the service's ports`);
  return p.servicePort ?? p.containerPort;
}

export interface GatewayRouterOptions {
  /** How long to wait for the gateway to accept each applied route. Default 20 s. */
  confirmTimeoutMs?: number;
}

/** Splits traffic by server-side applying renderRoutes(spec, state). */
export class GatewayRouter implements TrafficRouter {
  readonly kind = 'gateway' as const;

  constructor(
    private readonly kube: Kube,
    private readonly spec: ServiceSpec,
    private readonly opts: GatewayRouterOptions = {},
  ) {}

  async apply(state: TrafficState): Promise<AppliedTraffic> {
    const spec = this.spec;
    if (spec.routes.length === 0) {
      throw new Error(
        `${spec.name} has no routes, so there is no HTTPRoute to split traffic with: ` +
          `add routes (hostnames and a gateway) to the spec, or set release.router: replicas`,
      );
    }
    const applied = gatewayTraffic(state);
    // Every route first (an abort must not wait on one route's confirmation to move the next).
    const routes: { name: string; generation: number }[] = [];
    for (const route of renderRoutes(spec, state)) {
      // Keep the version label gantry deploy set: an apply without it would remove it.
      const live = await this.kube.get<KubeObject>(route);
      const version = live?.metadata.labels?.[VERSION_LABEL];
      if (version) route.metadata.labels = { ...route.metadata.labels, [VERSION_LABEL]: version };
      const out = await this.kube.apply(route);
      const generation = (out.metadata as { generation?: number }).generation ?? 0;
      routes.push({ name: route.metadata.name, generation });
    }
    const timeoutMs = this.opts.confirmTimeoutMs ?? 20_000;
    const verdicts = await Promise.all(
      routes.map((r) => confirmRoute(this.kube, spec.namespace, r.name, r.generation, timeoutMs)),
    );
    const notes: string[] = [];
    verdicts.forEach((verdict, i) => {
      if (verdict.ok) return;
      const what = `HTTPRoute ${spec.namespace}/${routes[i]!.name}`;
      if (verdict.rejected && state.kind !== 'stable') {
        throw new Error(`${what}: the gateway rejected it: ${verdict.message}`);
      }
      notes.push(`${what}: ${verdict.message}`);
    });
    return notes.length
      ? { ...applied, description: `${applied.description} (${notes.join('; ')})` }
      : applied;
  }
}
