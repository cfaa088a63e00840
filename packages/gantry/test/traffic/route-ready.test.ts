// Which request deploy sends through the gateway to prove a route is served, and how it
// reads the answers: against real HTTP servers on loopback that behave like a gateway
// before and after it programs a route.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseSpec } from '../../src/spec/index.js';
import { probeThroughGateway, routeProbe } from '../../src/traffic/route-ready.js';

const spec = (extra: string) =>
  parseSpec(
    `apiVersion: gantry.dev/v1alpha1
name: svc
image: example/svc:1
${extra}`,
    'gantry.yaml',
  );

test('the probe: the readiness path when a route covers it, else the first match', () => {
  const routes = (matches: string) =>
    `routes: [{ hostnames: ['*.example.com'], gateway: gw${matches} }]\n`;
  assert.deepEqual(routeProbe(spec(`probes: { readiness: { path: /readyz } }\n${routes('')}`)), {
    host: 'gantry-probe.example.com',
    path: '/readyz',
    want2xx: true,
  });
  assert.deepEqual(
    routeProbe(
      spec(`probes: { readiness: { path: /readyz } }\n${routes(', matches: [{ path: /api }]')}`),
    ),
    { host: 'gantry-probe.example.com', path: '/api', want2xx: false },
  );
  assert.deepEqual(
    routeProbe(
      spec(
        `probes: { readiness: { path: /api/ready } }\n${routes(', matches: [{ path: /api/ }]')}`,
      ),
    ),
    { host: 'gantry-probe.example.com', path: '/api/ready', want2xx: true },
  );
  assert.equal(routeProbe(spec('')), undefined, 'no routes, nothing to probe');
});

/** A gateway that answers `first` for `forMs`, then `then`; records the Host headers. */
async function gateway(first: number, forMs: number, then: number) {
  const hosts: string[] = [];
  const t0 = Date.now();
  const server = http.createServer((req, res) => {
    hosts.push(req.headers.host ?? '');
    res.statusCode = Date.now() - t0 < forMs ? first : then;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, hosts, close: () => server.close() };
}

test('a gateway answering 503 until the route is programmed: ready once the service answers', async () => {
  const gw = await gateway(503, 700, 200);
  try {
    const t0 = Date.now();
    const r = await probeThroughGateway(
      gw.url,
      { host: 'svc.test', path: '/readyz', want2xx: true },
      10_000,
    );
    assert.equal(r.ok, true, r.message);
    assert.ok(Date.now() - t0 >= 650, 'not before the gateway served the route');
    assert.match(r.message, /answered 200/);
    assert.ok(gw.hosts.every((h) => h === 'svc.test'));
  } finally {
    gw.close();
  }
});

test('a gateway that never serves the route fails within the budget', async () => {
  const gw = await gateway(503, 60_000, 503);
  try {
    const r = await probeThroughGateway(
      gw.url,
      { host: 'svc.test', path: '/', want2xx: false },
      1500,
    );
    assert.equal(r.ok, false);
    assert.match(r.message, /no answer from the service within 2s \(last: HTTP 503\)/);
  } finally {
    gw.close();
  }
});

test('the readiness path must answer 2xx; another path may answer any non-error', async () => {
  const gw = await gateway(404, 300, 401);
  try {
    const other = await probeThroughGateway(
      gw.url,
      { host: 'svc.test', path: '/api', want2xx: false },
      5000,
    );
    assert.equal(other.ok, true);
    assert.match(other.message, /answered 401/);
    const ready = await probeThroughGateway(
      gw.url,
      { host: 'svc.test', path: '/readyz', want2xx: true },
      1000,
    );
    assert.equal(ready.ok, false, '401 is not the readiness answer');
  } finally {
    gw.close();
  }
});

test('a gateway out of reach from this machine is a warning, not a failed deploy', async () => {
  const gw = await gateway(200, 0, 200);
  gw.close(); // its port is now closed: connection refused
  const r = await probeThroughGateway(
    gw.url,
    { host: 'svc.test', path: '/', want2xx: false },
    20_000,
  );
  assert.equal(r.ok, true);
  assert.match(r.warnings.join('\n'), /could not reach the gateway at .* --gateway-url/);
});
