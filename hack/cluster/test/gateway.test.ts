// Gateway API on the local cluster: Traefik (on the host) routes an HTTPRoute's
// traffic straight to pod IPs. Two Deployments of a tiny echo server, "stable"
// and "canary", behind one hostname:
//   1. backendRefs weighted 80/20 split the traffic about 80/20;
//   2. a rule matching the header `x-canary: always`, and one matching the
//      cookie `canary=always` (a RegularExpression match on the Cookie header),
//      send everything to canary while other traffic keeps the 80/20 split;
//   3. weights 0/100 send everything to canary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { eventually, kubectl, pushEchoImage, requireGateway, run } from './cluster-env.js';
import type { GatewayEnv } from './cluster-env.js';

const cluster = requireGateway();

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

interface HTTPRouteStatus {
  metadata: { generation: number };
  status?: {
    parents?: { controllerName: string; parentRef: { name: string }; conditions?: Condition[] }[];
  };
}

/** Resolves once the gateway controller has accepted generation `gen` of the route and resolved its backends. */
function routeReady(env: GatewayEnv, ns: string, name: string, gatewayName: string): boolean {
  const route = JSON.parse(
    kubectl(env, ['-n', ns, 'get', 'httproute', name, '-o', 'json']),
  ) as HTTPRouteStatus;
  const gen = route.metadata.generation;
  const parent = route.status?.parents?.find((p) => p.parentRef.name === gatewayName);
  const ok = (type: string): boolean =>
    parent?.conditions?.some(
      (c) => c.type === type && c.status === 'True' && c.observedGeneration === gen,
    ) ?? false;
  return ok('Accepted') && ok('ResolvedRefs');
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

/** One GET through the gateway; resolves to the answering backend's name (or `HTTP <code>`). */
function get(
  gatewayUrl: string,
  host: string,
  headers: Record<string, string> = {},
): Promise<string> {
  const url = new URL(gatewayUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: '/',
        method: 'GET',
        headers: { ...headers, host },
        timeout: 5000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () =>
          resolve(res.statusCode === 200 ? body.trim() : `HTTP ${res.statusCode}`),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Sends `n` requests (8 at a time) and counts answers by backend. */
async function tally(
  gatewayUrl: string,
  host: string,
  n: number,
  headers: Record<string, string> = {},
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let sent = 0; sent < n; sent += 8) {
    const batch = Array.from({ length: Math.min(8, n - sent) }, () =>
      get(gatewayUrl, host, headers),
    );
    for (const who of await Promise.all(batch)) counts[who] = (counts[who] ?? 0) + 1;
  }
  return counts;
}

/** Waits until `k` consecutive requests are all answered by `backend` (config propagated). */
async function settlesOn(
  gatewayUrl: string,
  host: string,
  backend: string,
  headers: Record<string, string> = {},
  k = 20,
): Promise<void> {
  await eventually(`${k} consecutive answers from ${backend}`, 60_000, async () => {
    const counts = await tally(gatewayUrl, host, k, headers);
    return counts[backend] === k ? true : undefined;
  });
}

test(
  'Gateway API: weighted, header and cookie routing through Traefik',
  { skip: typeof cluster === 'string' ? cluster : false, timeout: 300_000 },
  async (t) => {
    const env = cluster as GatewayEnv;
    const gatewayUrl = env.GANTRY_GATEWAY_URL ?? '';
    const [gwNs, gwName] = (env.GANTRY_GATEWAY ?? '').split('/') as [string, string];
    const ns = `gateway-${process.pid}`;
    const host = `echo.${ns}.test`;
    t.after(() => {
      agent.destroy();
      run('kubectl', ['delete', 'namespace', ns, '--wait=false'], env);
    });

    const image = pushEchoImage(env, 'gateway-test/echo');

    kubectl(env, ['create', 'namespace', ns]);
    kubectl(
      env,
      ['apply', '-n', ns, '-f', '-'],
      backend('stable', image) + backend('canary', image),
    );
    kubectl(env, [
      '-n',
      ns,
      'rollout',
      'status',
      'deploy/stable',
      'deploy/canary',
      '--timeout=120s',
    ]);

    const applyRoute = async (rules: string): Promise<void> => {
      kubectl(env, ['apply', '-n', ns, '-f', '-'], httpRoute(gwNs, gwName, host, rules));
      await eventually('HTTPRoute Accepted and ResolvedRefs', 60_000, () =>
        routeReady(env, ns, 'echo', gwName) ? true : undefined,
      );
    };

    // 1. 80/20 by weight.
    await applyRoute(weighted(80, 20));
    await eventually('the route to answer', 60_000, async () =>
      (await get(gatewayUrl, host)).startsWith('HTTP') ? undefined : true,
    );
    const split = await tally(gatewayUrl, host, 400);
    t.diagnostic(`weights 80/20, 400 requests: ${JSON.stringify(split)}`);
    assert.deepEqual(Object.keys(split).sort(), ['canary', 'stable'], JSON.stringify(split));
    const canaryShare = (split.canary ?? 0) / 400;
    assert.ok(
      canaryShare > 0.12 && canaryShare < 0.28,
      `canary got ${canaryShare * 100}% of 400 requests, expected about 20%: ${JSON.stringify(split)}`,
    );

    // 2. Header and cookie matches pin a request to canary; the rest keep the split.
    await applyRoute(
      `
    - matches: [{ headers: [{ name: x-canary, value: always }] }]
      backendRefs: [{ name: canary, port: 80 }]
    - matches: [{ headers: [{ name: cookie, type: RegularExpression, value: '(^|;\\s*)canary=always(\\s*;|$)' }] }]
      backendRefs: [{ name: canary, port: 80 }]` + weighted(80, 20),
    );
    await settlesOn(gatewayUrl, host, 'canary', { 'x-canary': 'always' });
    assert.deepEqual(await tally(gatewayUrl, host, 100, { 'x-canary': 'always' }), {
      canary: 100,
    });
    assert.deepEqual(
      await tally(gatewayUrl, host, 100, { cookie: 'session=abc; canary=always; theme=dark' }),
      { canary: 100 },
    );
    const unmatched: Record<string, string>[] = [
      { 'x-canary': 'never' },
      { cookie: 'canary=alwaysnot' },
      {},
    ];
    for (const headers of unmatched) {
      const rest = await tally(gatewayUrl, host, 100, headers);
      assert.ok(
        (rest.stable ?? 0) >= 60 && (rest.stable ?? 0) <= 95 && (rest.canary ?? 0) > 0,
        `unmatched ${JSON.stringify(headers)} should keep the 80/20 split: ${JSON.stringify(rest)}`,
      );
    }

    // 3. 0/100: everything to canary.
    await applyRoute(weighted(0, 100));
    await settlesOn(gatewayUrl, host, 'canary');
    assert.deepEqual(await tally(gatewayUrl, host, 200), { canary: 200 });
  },
);

function weighted(stable: number, canary: number): string {
  return `
    - backendRefs:
        - { name: stable, port: 80, weight: ${stable} }
        - { name: canary, port: 80, weight: ${canary} }`;
}

function httpRoute(gwNs: string, gwName: string, host: string, rules: string): string {
  return `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: echo }
spec:
  parentRefs: [{ name: ${gwName}, namespace: ${gwNs} }]
  hostnames: [${host}]
  rules:${rules}
`;
}

function backend(name: string, image: string): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: 1
  selector: { matchLabels: { app: echo, track: ${name} } }
  template:
    metadata:
      labels: { app: echo, track: ${name} }
    spec:
      terminationGracePeriodSeconds: 5
      securityContext: { runAsNonRoot: true, seccompProfile: { type: RuntimeDefault } }
      containers:
        - name: echo
          image: ${image}
          env: [{ name: NAME, value: ${name} }]
          ports: [{ containerPort: 8080 }]
          readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: { drop: [ALL] }
---
apiVersion: v1
kind: Service
metadata: { name: ${name} }
spec:
  selector: { app: echo, track: ${name} }
  ports: [{ port: 80, targetPort: 8080 }]
---
`;
}
