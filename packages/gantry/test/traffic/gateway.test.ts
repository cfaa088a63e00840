// The traffic routers on the real cluster. Two Deployments of the echo
// fixture answer with their track's name: "echo" (track stable) and
// "echo-canary" (track canary), each behind its own Service, as a release
// runs them. Through Traefik (Gateway API) on 127.0.0.1:8000:
//   weighted 20 % -> about 20 % canary; stable -> none;
//   gray -> the header and the cookie always reach canary (their rules win
//   over the route's own), user ids land by bucket, the same way every time.
// Then the replica-ratio router on the same pods, through the Service itself
// (a NodePort on 127.0.0.1, served by kube-proxy as the Service's virtual IP
// would be): about the stated share, and back to stable pods only.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import {
  eventually,
  kubectl,
  pushEchoImage,
  requireGateway,
  run,
} from '../../../../hack/cluster/test/cluster-env.js';
import type { GatewayEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { Kube } from '../../src/kube/client.js';
import { TRACK_LABEL, renderService, trackSelector } from '../../src/render/index.js';
import type { KubeObject } from '../../src/render/index.js';
import { parseSpec } from '../../src/spec/index.js';
import type { ServiceSpec } from '../../src/spec/index.js';
import { GatewayRouter, ReplicaRouter, canaryName } from '../../src/traffic/index.js';

const cluster = requireGateway();
const skip = typeof cluster === 'string' ? cluster : false;
const ns = `gantry-traffic-${Date.now().toString(36)}`;
const host = `echo.${ns}.test`;
const STABLE = 'echo';
const CANARY = 'echo-canary';
let env: GatewayEnv;
let kube: Kube;
let spec: ServiceSpec;

/** One GET on a fresh connection; resolves to the answering Deployment's name. */
function get(url: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : `HTTP ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in 5 s`)));
    req.on('error', reject);
  });
}

/** Answers to `n` requests (8 at a time), by name. */
async function tally(
  url: string,
  n: number,
  headers: (i: number) => Record<string, string> = () => ({}),
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let sent = 0; sent < n; sent += 8) {
    const batch = Array.from({ length: Math.min(8, n - sent) }, (_, k) =>
      get(url, headers(sent + k)),
    );
    for (const who of await Promise.all(batch)) counts[who] = (counts[who] ?? 0) + 1;
  }
  return counts;
}

const viaGateway = () => env.GANTRY_GATEWAY_URL ?? '';
const hostHeader =
  (extra: Record<string, string> = {}) =>
  () => ({ host, ...extra });

/** Until k consecutive answers all come from `who` (the new config is in force). */
async function settles(
  url: string,
  who: string,
  headers: () => Record<string, string>,
  k = 16,
): Promise<void> {
  await eventually(`${k} consecutive answers from ${who}`, 30_000, async () =>
    (await tally(url, k, headers))[who] === k ? true : undefined,
  );
}

/** Whether `share` of `n` trials is within 4.5 standard deviations of p. */
function withinBinomial(count: number, n: number, p: number): boolean {
  const sd = Math.sqrt(n * p * (1 - p));
  return Math.abs(count - n * p) <= 4.5 * sd;
}

before(
  async () => {
    if (skip) return;
    env = cluster as GatewayEnv;
    const image = pushEchoImage(env, 'gantry-traffic/echo', '1');

    spec = parseSpec(`apiVersion: gantry.dev/v1alpha1
name: ${STABLE}
namespace: ${ns}
image: ${image}
replicas: 3
ports: [{ name: http, containerPort: 8080, servicePort: 80 }]
service: { type: NodePort }
env: { NAME: ${STABLE} }
resources: { requests: { cpu: 10m, memory: 16Mi }, limits: { memory: 64Mi } }
probes: { readiness: { path: /healthz, periodSeconds: 1 } }
terminationGracePeriodSeconds: 2
routes: [{ hostnames: [${host}], gateway: ${env.GANTRY_GATEWAY} }]
release:
  strategy: gray
  gray:
    header: { name: x-gantry-track, value: canary }
    cookie: { name: track, value: canary }
    userHeader: x-user-id
`);
    kube = Kube.load({ kubeconfig: env.KUBECONFIG });
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const objects = renderService(spec);
    for (const o of [...objects, ...canaryObjects(objects)]) await kube.apply(o);
    kubectl(env, [
      '-n',
      ns,
      'rollout',
      'status',
      `deploy/${STABLE}`,
      `deploy/${CANARY}`,
      '--timeout=90s',
    ]);
  },
  { timeout: 150_000 },
);

after(() => {
  if (skip) return;
  run('kubectl', ['delete', 'namespace', ns, '--wait=false'], env);
});

/** The canary Deployment and Service beside the rendered stable ones (what a release adds). */
function canaryObjects(objects: KubeObject[]): KubeObject[] {
  const name = canaryName(spec);
  const out: KubeObject[] = [];
  for (const o of objects) {
    if (o.kind !== 'Deployment' && o.kind !== 'Service') continue;
    const c = structuredClone(o);
    c.metadata.name = name;
    c.metadata.labels = { ...c.metadata.labels, [TRACK_LABEL]: 'canary' };
    if (c.kind === 'Service') {
      (c.spec as { selector: unknown }).selector = trackSelector(spec, 'canary');
    } else {
      const s = c.spec as {
        replicas: number;
        selector: unknown;
        template: {
          metadata: { labels: Record<string, string> };
          spec: { containers: { env: { name: string; value: string }[] }[] };
        };
      };
      s.replicas = 1;
      s.selector = { matchLabels: trackSelector(spec, 'canary') };
      s.template.metadata.labels[TRACK_LABEL] = 'canary';
      s.template.spec.containers[0]!.env = [{ name: 'NAME', value: name }];
    }
    out.push(c);
  }
  return out;
}

test(
  'Gateway API router: weighted, stable and sticky gray routing through Traefik',
  { skip, timeout: 120_000 },
  async (t) => {
    const router = new GatewayRouter(kube, spec);
    const url = viaGateway();

    // Weighted 20 %: the canary share of 400 requests is binomially close to 20 %.
    const weighted = await router.apply({ kind: 'weighted', canaryPercent: 20 });
    t.diagnostic(weighted.description);
    assert.equal(weighted.canaryPercent, 20);
    await eventually('a canary answer through the gateway', 30_000, async () =>
      (await get(url, { host })) === CANARY ? true : undefined,
    );
    const split = await tally(url, 400, hostHeader());
    t.diagnostic(`weighted 20%, 400 requests: ${JSON.stringify(split)}`);
    assert.deepEqual(Object.keys(split).sort(), [STABLE, CANARY].sort(), JSON.stringify(split));
    assert.ok(withinBinomial(split[CANARY] ?? 0, 400, 0.2), JSON.stringify(split));

    // Stable: no canary at all.
    assert.equal((await router.apply({ kind: 'stable' })).canaryPercent, 0);
    await settles(url, STABLE, hostHeader());
    assert.deepEqual(await tally(url, 200, hostHeader()), { [STABLE]: 200 });

    // Gray: pinned requests and 25 % of users by id to canary, the rest to stable.
    const gray = await router.apply({
      kind: 'gray',
      userPercent: 25,
      header: spec.release.gray.header!,
      cookie: spec.release.gray.cookie!,
      userHeader: spec.release.gray.userHeader!,
    });
    t.diagnostic(gray.description);
    assert.equal(gray.canaryPercent, 25);
    await settles(url, CANARY, hostHeader({ 'x-gantry-track': 'canary' }));
    // The header and cookie rules win over the route's own rule for the same path.
    assert.deepEqual(await tally(url, 80, hostHeader({ 'x-gantry-track': 'canary' })), {
      [CANARY]: 80,
    });
    assert.deepEqual(await tally(url, 80, hostHeader({ cookie: 'a=1; track=canary; b=2' })), {
      [CANARY]: 80,
    });
    const misses: Record<string, string>[] = [
      {},
      { 'x-gantry-track': 'stable' },
      { cookie: 'track=canaryX' },
      { cookie: 'mytrack=canary' },
    ];
    for (const miss of misses) {
      assert.deepEqual(
        await tally(url, 40, hostHeader(miss)),
        { [STABLE]: 40 },
        `unpinned ${JSON.stringify(miss)} must go to stable`,
      );
    }

    // 100 random user ids (half upper case), 5 requests each: every user on one
    // version every time, exactly the one its bucket gives.
    const users = Array.from({ length: 100 }, (_, i) => {
      const id = randomBytes(16).toString('hex');
      return i % 2 ? id.toUpperCase() : id;
    });
    const byUser = new Map<string, Set<string>>();
    const answers = await Promise.all(
      users.map(async (id) => {
        const seen: string[] = [];
        for (let r = 0; r < 5; r++) seen.push(await get(url, { host, 'x-user-id': id }));
        return [id, seen] as const;
      }),
    );
    for (const [id, seen] of answers) byUser.set(id, new Set(seen));
    const expected = (id: string) => (parseInt(id.slice(-2), 16) < 64 ? CANARY : STABLE);
    let canaryUsers = 0;
    for (const id of users) {
      const seen = [...byUser.get(id)!];
      assert.deepEqual(seen, [expected(id)], `user ${id} saw ${seen.join(', ')}`);
      if (seen[0] === CANARY) canaryUsers++;
    }
    t.diagnostic(`gray 25%: ${canaryUsers} of 100 users on canary`);
    assert.ok(withinBinomial(canaryUsers, 100, 0.25), `${canaryUsers} of 100 users on canary`);

    // Back to stable: the pins no longer reach the canary.
    await router.apply({ kind: 'stable' });
    await settles(url, STABLE, hostHeader({ 'x-gantry-track': 'canary' }));

    // A split the gateway cannot resolve (no such canary Service) is an error, not a silent 500.
    const ghost = parseSpec(`apiVersion: gantry.dev/v1alpha1
name: ghost
namespace: ${ns}
image: ${spec.image}
routes: [{ hostnames: [ghost.${ns}.test], gateway: ${env.GANTRY_GATEWAY} }]
`);
    await assert.rejects(
      new GatewayRouter(kube, ghost).apply({ kind: 'weighted', canaryPercent: 10 }),
      /HTTPRoute .*\/ghost: the gateway rejected it: ResolvedRefs=False/,
    );
  },
);

test(
  'replica-ratio router: the share through the Service follows the replicas, stable restores the selector',
  { skip, timeout: 120_000 },
  async (t) => {
    const router = new ReplicaRouter(kube, spec, { stableReplicas: 3 });
    const svc = JSON.parse(kubectl(env, ['-n', ns, 'get', 'service', STABLE, '-o', 'json'])) as {
      spec: { ports: { nodePort: number }[]; selector: Record<string, string> };
    };
    const url = `http://127.0.0.1:${svc.spec.ports[0]!.nodePort}/`;
    await settles(url, STABLE, () => ({}));

    // 20 % asked: 1 canary pod beside 3 stable ones, 25 % stated.
    const applied = await router.apply({ kind: 'weighted', canaryPercent: 20 });
    t.diagnostic(applied.description);
    assert.equal(applied.canaryPercent, 25);
    assert.match(applied.description, /requested 20%/);
    const widened = JSON.parse(
      kubectl(env, ['-n', ns, 'get', 'service', STABLE, '-o', 'json']),
    ) as typeof svc;
    assert.equal(widened.spec.selector[TRACK_LABEL], undefined);
    await eventually('a canary answer through the Service', 30_000, async () =>
      (await get(url)) === CANARY ? true : undefined,
    );
    const split = await tally(url, 400);
    t.diagnostic(`replica ratio 1:3, 400 connections: ${JSON.stringify(split)}`);
    assert.ok(withinBinomial(split[CANARY] ?? 0, 400, 0.25), JSON.stringify(split));
    assert.equal((split[STABLE] ?? 0) + (split[CANARY] ?? 0), 400, JSON.stringify(split));

    // Stable: the selector names the stable track again and the canary is scaled to 0.
    assert.equal((await router.apply({ kind: 'stable' })).canaryPercent, 0);
    const restored = JSON.parse(
      kubectl(env, ['-n', ns, 'get', 'service', STABLE, '-o', 'json']),
    ) as typeof svc;
    assert.deepEqual(restored.spec.selector, trackSelector(spec, 'stable'));
    const replicas = kubectl(env, [
      '-n',
      ns,
      'get',
      'deploy',
      CANARY,
      '-o',
      'jsonpath={.spec.replicas}',
    ]);
    assert.equal(replicas, '0');
    await settles(url, STABLE, () => ({}));
    assert.deepEqual(await tally(url, 100), { [STABLE]: 100 });
  },
);
