// Is a service reachable through its routes? An HTTPRoute the API server stored is not yet
// one the gateway serves: the gateway must accept it (status conditions for the route's
// generation) and program its data plane, and until then clients get 404 or 503. Deploy
// reports "deployed" only after both: the route's conditions, then one answer through the
// gateway itself.
import http from 'node:http';
import type { Kube } from '../kube/client.js';
import type { KubeObject } from '../render/index.js';
import type { ServiceSpec } from '../spec/index.js';

export type Confirmation = { ok: true } | { ok: false; rejected: boolean; message: string };

interface RouteStatus {
  metadata: { name: string; generation?: number };
  status?: {
    parents?: {
      parentRef: { name: string; namespace?: string };
      conditions?: {
        type: string;
        status: string;
        reason?: string;
        message?: string;
        observedGeneration?: number;
      }[];
    }[];
  };
}

/**
 * Waits, from a watch, until every parent gateway reports Accepted and
 * ResolvedRefs for generation `gen` of the route (or either as False).
 */
export function confirmRoute(
  kube: Kube,
  namespace: string,
  name: string,
  gen: number,
  timeoutMs: number,
): Promise<Confirmation> {
  return new Promise((resolve) => {
    let done = false;
    let stop: (() => void) | undefined;
    const finish = (c: Confirmation) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stop?.();
      resolve(c);
    };
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          rejected: false,
          message: `the gateway had not confirmed generation ${gen} after ${Math.round(timeoutMs / 1000)}s`,
        }),
      timeoutMs,
    );
    const check = (route: RouteStatus) => {
      const parents = route.status?.parents ?? [];
      if (parents.length === 0) return;
      let pending = false;
      for (const p of parents) {
        for (const type of ['Accepted', 'ResolvedRefs']) {
          const c = p.conditions?.find((x) => x.type === type);
          if (!c || (c.observedGeneration ?? 0) < gen) {
            pending = true;
          } else if (c.status === 'False') {
            finish({
              ok: false,
              rejected: true,
              message: `${type}=False on ${p.parentRef.name} (${c.reason ?? 'no reason'}): ${c.message ?? ''}`,
            });
            return;
          }
        }
      }
      if (!pending) finish({ ok: true });
    };
    kube
      .watch<RouteStatus>(
        `/apis/gateway.networking.k8s.io/v1/namespaces/${namespace}/httproutes`,
        { fieldSelector: `metadata.name=${name}` },
        (type, obj) => {
          if (type === 'ADDED' || type === 'MODIFIED') check(obj);
        },
        (err) => {
          if (done) return;
          finish({
            ok: false,
            rejected: false,
            message: `watching the route status failed: ${err instanceof Error ? err.message : String(err)}`,
          });
        },
      )
      .then(
        (s) => {
          if (done) s();
          else stop = s;
        },
        (err: unknown) =>
          finish({
            ok: false,
            rejected: false,
            message: `could not watch the route status: ${String(err)}`,
          }),
      );
  });
}

export interface RoutesReadyOptions {
  /** Budget for every route's conditions and its first answer together. */
  timeoutMs: number;
  /**
   * Base URL of the gateway's HTTP listener as this machine reaches it (e.g.
   * http://127.0.0.1:8000). Default: $GANTRY_GATEWAY_URL, else the parent Gateway's first
   * status address and HTTP listener port. Without any, only the route conditions are checked.
   */
  gatewayUrl?: string;
  onProgress?: (message: string) => void;
}

export interface RoutesReady {
  ok: boolean;
  /** What was confirmed, or why not. */
  message: string;
  /** Checks that could not be made (no gateway address, the gateway not reachable from here). */
  warnings: string[];
}

/** One request the gateway should route to the service, and what counts as its answer. */
export interface RouteProbe {
  host: string;
  path: string;
  /** Only 2xx counts (the readiness path); otherwise any answer but 404 and 5xx. */
  want2xx: boolean;
}

/**
 * The request to send through the gateway for the spec's first route: its readiness probe
 * path when one of the route's matches covers it (a 2xx proves the service itself
 * answered), else the first plain path match. Undefined when no match is a plain path.
 */
export function routeProbe(spec: ServiceSpec): RouteProbe | undefined {
  const route = spec.routes[0];
  if (!route) return undefined;
  const host = (route.hostnames[0] ?? '').replace(/^\*/, 'gantry-probe');
  const ready = spec.probes?.readiness?.path;
  const covers = (m: (typeof route.matches)[number], p: string) =>
    m.pathType === 'Exact'
      ? m.path === p
      : m.pathType === 'PathPrefix' &&
        (m.path === '/' ||
          p === m.path.replace(/\/$/, '') ||
          p.startsWith(`${m.path.replace(/\/$/, '')}/`));
  if (ready && route.matches.some((m) => covers(m, ready))) {
    return { host, path: ready, want2xx: true };
  }
  const plain = route.matches[0];
  return plain ? { host, path: plain.path, want2xx: false } : undefined;
}

interface GatewayObject {
  spec?: { listeners?: { protocol?: string; port?: number }[] };
  status?: { addresses?: { type?: string; value?: string }[] };
}

/** http://ADDRESS:PORT of the Gateway's first HTTP listener, from its status. */
export async function gatewayBaseUrl(
  kube: Kube,
  ref: string,
  namespace: string,
): Promise<string | undefined> {
  const [ns, name] = ref.includes('/') ? ref.split('/', 2) : [namespace, ref];
  const gw = await kube
    .get<KubeObject & GatewayObject>({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: name!, namespace: ns! },
    })
    .catch(() => undefined);
  const address = gw?.status?.addresses?.find((a) => a.value)?.value;
  const listener = gw?.spec?.listeners?.find((l) => l.protocol === 'HTTP');
  if (!address || !listener?.port) return undefined;
  const host = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
  return `http://${host}:${listener.port}`;
}

type Answer = { status: number } | { error: string };

function ask(base: string, probe: RouteProbe, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(probe.path, base);
    } catch {
      resolve({ error: `bad gateway URL ${base}` });
      return;
    }
    const req = http.request(
      url,
      { method: 'GET', headers: { host: probe.host }, timeout: timeoutMs, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', (e) => resolve({ error: e.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ error: e.message }));
    req.end();
  });
}

/** After this long of connection errors only, the gateway is taken as out of this machine's reach. */
const UNREACHABLE_AFTER_MS = 3000;
/** A steady 404 this long is taken as the service's own answer at that path. */
const STEADY_404_MS = 5000;

/**
 * Waits until the gateway answers a request for the route with the service's answer.
 * Connection errors for UNREACHABLE_AFTER_MS only (the gateway is not reachable from this
 * machine) give a warning, not a failure.
 */
export async function probeThroughGateway(
  base: string,
  probe: RouteProbe,
  timeoutMs: number,
): Promise<RoutesReady> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let connected = false;
  let first404 = 0;
  let last = '';
  const what = `GET ${probe.path} (Host: ${probe.host}) through ${base}`;
  for (;;) {
    const a = await ask(base, probe, Math.max(200, Math.min(2000, deadline - Date.now())));
    if ('status' in a) {
      connected = true;
      last = `HTTP ${a.status}`;
      const good = probe.want2xx
        ? a.status >= 200 && a.status < 300
        : a.status < 500 && a.status !== 404;
      if (good) return { ok: true, message: `${what} answered ${a.status}`, warnings: [] };
      if (a.status === 404 && !probe.want2xx) {
        first404 ||= Date.now();
        if (Date.now() - first404 >= STEADY_404_MS) {
          return {
            ok: true,
            message: `${what} answered 404 for ${STEADY_404_MS / 1000}s`,
            warnings: [
              `${what} answers 404: the service's own answer at that path, or a route the gateway does not serve`,
            ],
          };
        }
      } else first404 = 0;
    } else {
      last = a.error;
      if (!connected && Date.now() - started >= UNREACHABLE_AFTER_MS) {
        return {
          ok: true,
          message: 'routes accepted by the gateway',
          warnings: [
            `could not reach the gateway at ${base} to check that the route answers (${a.error}); pass --gateway-url`,
          ],
        };
      }
    }
    if (Date.now() >= deadline) {
      return {
        ok: false,
        message: `${what}: no answer from the service within ${Math.round(timeoutMs / 1000)}s (last: ${last})`,
        warnings: [],
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Every applied HTTPRoute confirmed by its gateways for its current generation, then one
 * request through the gateway answered by the service.
 */
export async function waitForRoutes(
  kube: Kube,
  spec: ServiceSpec,
  applied: readonly KubeObject[],
  opts: RoutesReadyOptions,
): Promise<RoutesReady> {
  const routes = applied.filter((o) => o.kind === 'HTTPRoute');
  if (!routes.length) return { ok: true, message: 'no routes', warnings: [] };
  const deadline = Date.now() + opts.timeoutMs;
  opts.onProgress?.(`waiting for the gateway to accept ${routes.length} route(s)`);
  const verdicts = await Promise.all(
    routes.map((r) =>
      confirmRoute(
        kube,
        r.metadata.namespace ?? spec.namespace,
        r.metadata.name,
        (r.metadata as { generation?: number }).generation ?? 0,
        opts.timeoutMs,
      ),
    ),
  );
  const bad = verdicts
    .map((v, i) => (v.ok ? '' : `HTTPRoute ${routes[i]!.metadata.name}: ${v.message}`))
    .filter(Boolean);
  if (bad.length) return { ok: false, message: bad.join('; '), warnings: [] };
  const probe = routeProbe(spec);
  const base =
    opts.gatewayUrl ??
    process.env.GANTRY_GATEWAY_URL ??
    (spec.routes[0] ? await gatewayBaseUrl(kube, spec.routes[0].gateway, spec.namespace) : '');
  if (!probe || !base) {
    return {
      ok: true,
      message: 'routes accepted by the gateway',
      warnings: [
        !probe
          ? 'the route has no plain path match to check it through the gateway'
          : 'the gateway reports no address, so the route was not checked through it; pass --gateway-url',
      ],
    };
  }
  opts.onProgress?.(`routes accepted; checking ${probe.path} through the gateway at ${base}`);
  return probeThroughGateway(base, probe, Math.max(1000, deadline - Date.now()));
}
