// renderRoutes and the router arithmetic, without a cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec } from '../../src/spec/index.js';
import type { ServiceSpec } from '../../src/spec/index.js';
import { renderService } from '../../src/render/index.js';
import {
  GatewayRouter,
  ReplicaRouter,
  bucketRegex,
  cookieRegex,
  gatewayTraffic,
  renderRoutes,
  replicaSplit,
  routerFor,
} from '../../src/traffic/index.js';
import type { TrafficState } from '../../src/traffic/index.js';
import type { Kube } from '../../src/kube/client.js';

const seed = `apiVersion: gantry.dev/v1alpha1
name: shop
namespace: web
image: reg.local/shop
ports: [{ name: http, containerPort: 8080, servicePort: 80 }]
`;
const oneRoute = `routes:
  - hostnames: [shop.test]
    gateway: infra/edge
    matches: [{ path: /api }, { path: /health, pathType: Exact }]
`;
const spec = (extra = oneRoute): ServiceSpec => parseSpec(seed + extra);

interface Match {
  path: { type: string; value: string };
  headers?: { type: string; name: string; value: string }[];
}
interface Backend {
  name: string;
  port: number;
  weight?: number;
}
interface Rule {
  matches: Match[];
  backendRefs: Backend[];
}
const rulesOf = (s: ServiceSpec, state: TrafficState): Rule[] => {
  const routes = renderRoutes(s, state);
  assert.equal(routes.length, 1);
  return (routes[0]!.spec as { rules: Rule[] }).rules;
};
const paths: Match[] = [
  { path: { type: 'PathPrefix', value: '/api' } },
  { path: { type: 'Exact', value: '/health' } },
];
const HEX = '0123456789abcdef';
const suffixes = [...HEX].flatMap((h) => [...HEX].map((l) => h + l));

test('stable: one rule to the stable Service, as renderService renders it', () => {
  const s = spec();
  const routes = renderRoutes(s, { kind: 'stable' }, { version: '1.2.3' });
  const fromRender = renderService(s, { version: '1.2.3' }).filter((o) => o.kind === 'HTTPRoute');
  assert.deepEqual(routes, fromRender);
  const r = routes[0]!;
  assert.equal(r.metadata.name, 'shop');
  assert.equal(r.metadata.namespace, 'web');
  assert.equal(r.metadata.labels?.['app.kubernetes.io/version'], '1.2.3');
  assert.deepEqual(r.spec, {
    parentRefs: [{ name: 'edge', namespace: 'infra' }],
    hostnames: ['shop.test'],
    rules: [{ matches: paths, backendRefs: [{ name: 'shop', port: 80 }] }],
  });
  assert.deepEqual(gatewayTraffic({ kind: 'stable' }).canaryPercent, 0);
});

test('several routes: one HTTPRoute each, named <name>-<i>', () => {
  const s = spec(`routes:
  - { hostnames: [a.test], gateway: edge }
  - { hostnames: [b.test], gateway: edge, port: http }
`);
  const routes = renderRoutes(s, { kind: 'weighted', canaryPercent: 10 });
  assert.deepEqual(
    routes.map((r) => r.metadata.name),
    ['shop-0', 'shop-1'],
  );
  assert.deepEqual((routes[0]!.spec as { parentRefs: unknown }).parentRefs, [{ name: 'edge' }]);
  assert.deepEqual(renderRoutes(spec(''), { kind: 'stable' }), []);
});

test('weighted: integer weights in one rule that sum to 100', () => {
  for (const p of [0, 0.4, 1, 2.5, 5, 33.3, 50, 99.6, 100]) {
    const rules = rulesOf(spec(), { kind: 'weighted', canaryPercent: p });
    assert.equal(rules.length, 1);
    assert.deepEqual(rules[0]!.matches, paths);
    const refs = rules[0]!.backendRefs;
    const w = Math.round(p);
    const weights = Object.fromEntries(refs.map((b) => [b.name, b.weight]));
    assert.ok(
      refs.every((b) => Number.isInteger(b.weight) && b.port === 80),
      JSON.stringify(refs),
    );
    assert.equal(
      refs.reduce((sum, b) => sum + (b.weight ?? 0), 0),
      100,
    );
    assert.equal(weights.shop, 100 - w);
    assert.equal(weights['shop-canary'], w === 0 ? undefined : w);
    const applied = gatewayTraffic({ kind: 'weighted', canaryPercent: p });
    assert.equal(applied.canaryPercent, w);
    assert.equal(applied.description.includes('1% steps'), w !== p, applied.description);
  }
  assert.throws(() => renderRoutes(spec(), { kind: 'weighted', canaryPercent: 101 }), /0 and 100/);
  assert.throws(() => renderRoutes(spec(), { kind: 'weighted', canaryPercent: NaN }), /0 and 100/);
});

test('gray: header, cookie and user-bucket rules to canary for every path, then stable', () => {
  const state: TrafficState = {
    kind: 'gray',
    userPercent: 25,
    header: { name: 'x-gantry-track', value: 'canary' },
    cookie: { name: 'track', value: 'canary' },
    userHeader: 'x-user-id',
  };
  const rules = rulesOf(spec(), state);
  assert.equal(rules.length, 4);
  const canary = [{ name: 'shop-canary', port: 80 }];
  const withHeader = (h: Match['headers']) => paths.map((p) => ({ ...p, headers: h }));
  assert.deepEqual(rules[0], {
    matches: withHeader([{ type: 'Exact', name: 'x-gantry-track', value: 'canary' }]),
    backendRefs: canary,
  });
  assert.deepEqual(rules[1], {
    matches: withHeader([
      { type: 'RegularExpression', name: 'Cookie', value: cookieRegex(state.cookie!) },
    ]),
    backendRefs: canary,
  });
  assert.deepEqual(rules[2], {
    matches: withHeader([{ type: 'RegularExpression', name: 'x-user-id', value: bucketRegex(64) }]),
    backendRefs: canary,
  });
  assert.deepEqual(rules[3], { matches: paths, backendRefs: [{ name: 'shop', port: 80 }] });
  const applied = gatewayTraffic(state);
  assert.equal(applied.canaryPercent, 25);
  assert.match(applied.description, /64\/256 buckets/);
});

test('gray: only the pins given; 0 % users adds no bucket rule', () => {
  const rules = rulesOf(spec(), {
    kind: 'gray',
    userPercent: 0,
    header: { name: 'x-canary', value: '1' },
    userHeader: 'x-user-id',
  });
  assert.equal(rules.length, 2);
  assert.equal(rules[0]!.matches[0]!.headers![0]!.name, 'x-canary');
  assert.equal(rules[1]!.backendRefs[0]!.name, 'shop');
  // Without a user header the percentage cannot be applied, and says so.
  const noUsers = gatewayTraffic({ kind: 'gray', userPercent: 10 });
  assert.equal(noUsers.canaryPercent, 0);
  assert.match(noUsers.description, /userHeader is not set/);
  assert.equal(rulesOf(spec(), { kind: 'gray', userPercent: 10 }).length, 1);
});

test('gray: user percent rounds to 256 buckets and states it', () => {
  const a = gatewayTraffic({ kind: 'gray', userPercent: 1, userHeader: 'x-user-id' });
  assert.equal(a.canaryPercent, (3 * 100) / 256);
  assert.match(a.description, /1\.17% of users .*3\/256 buckets.*requested 1%/);
  const b = gatewayTraffic({ kind: 'gray', userPercent: 50, userHeader: 'x-user-id' });
  assert.equal(b.canaryPercent, 50);
  assert.doesNotMatch(b.description, /requested/);
});

test('bucket regex accepts exactly the first n two-hex-digit suffixes, any case', () => {
  for (let n = 1; n <= 256; n++) {
    const re = new RegExp(bucketRegex(n));
    for (const sfx of suffixes) {
      const want = parseInt(sfx, 16) < n;
      for (const id of [
        `3f2c1d9e-aa00-4b7e-9c1a-5e0d6f7a8b${sfx}`,
        `3F2C1D9E-AA00-4B7E-9C1A-5E0D6F7A8B${sfx.toUpperCase()}`,
        sfx,
      ]) {
        assert.equal(re.test(id), want, `n=${n} ${re.source} on ${id}`);
      }
    }
    // Only the end of the id counts; non-hex endings are never chosen.
    assert.equal(re.test('00zz'), false);
    assert.equal(re.test('0'), false);
  }
  assert.equal(suffixes.filter((s) => new RegExp(bucketRegex(64)).test(s)).length, 64);
  assert.throws(() => bucketRegex(0), /1\.\.256/);
  assert.throws(() => bucketRegex(257), /1\.\.256/);
});

test('cookie regex matches the cookie among others, and nothing like it', () => {
  const re = new RegExp(cookieRegex({ name: 'track', value: 'can.ary' }));
  for (const ok of [
    'track=can.ary',
    'a=1; track=can.ary',
    'track=can.ary; b=2',
    'a=1;track=can.ary;b=2',
  ]) {
    assert.ok(re.test(ok), ok);
  }
  for (const no of [
    'track=canXary',
    'mytrack=can.ary',
    'track=can.ary2',
    'track=can',
    'x=track=can.ary',
  ]) {
    assert.equal(re.test(no), false, no);
  }
});

test('GatewayRouter refuses a spec without routes', async () => {
  const kube = {} as Kube;
  const router = new GatewayRouter(kube, spec(''));
  await assert.rejects(
    router.apply({ kind: 'stable' }),
    /has no routes.*release\.router: replicas/,
  );
});

test('replica ratio: canary replicas and the effective share', () => {
  const cases: [number, number, number, number][] = [
    // stable, requested %, canary replicas, effective %
    [4, 0, 0, 0],
    [4, 20, 1, 20],
    [4, 1, 1, 20],
    [4, 50, 4, 50],
    [4, 100, 4, 50],
    [9, 10, 1, 10],
    [3, 25, 1, 25],
    [3, 60, 5, 62.5],
    [1, 5, 1, 50],
    [0, 30, 1, 100],
    [0, 0, 0, 0],
  ];
  for (const [s, w, c, eff] of cases) {
    const r = replicaSplit(s, w);
    assert.deepEqual([r.canaryReplicas, r.canaryPercent], [c, eff], `s=${s} w=${w}`);
  }
  assert.throws(() => replicaSplit(-1, 5), /stableReplicas/);
  assert.throws(() => replicaSplit(2, 120), /0 and 100/);
});

test('ReplicaRouter refuses gray; routerFor picks by spec', async () => {
  const kube = {} as Kube;
  await assert.rejects(
    new ReplicaRouter(kube, spec(''), { stableReplicas: 2 }).apply({
      kind: 'gray',
      userPercent: 5,
    }),
    /gray routing is not possible with the replica-ratio router/,
  );
  assert.equal(routerFor(kube, spec(), { stableReplicas: 1 }).kind, 'gateway');
  assert.equal(routerFor(kube, spec(''), { stableReplicas: 1 }).kind, 'replicas');
  assert.equal(
    routerFor(kube, spec(oneRoute + 'release: { router: replicas }\n'), { stableReplicas: 1 }).kind,
    'replicas',
  );
});
