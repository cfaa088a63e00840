// References between fields: ports named by routes, probes and metrics exist; routes have a
// Service to go to; a gateway router has routes. Reported at the field, with its place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkReferences, parseSpec } from '../../src/spec/index.js';
import { problems } from './problems.js';

const base = `apiVersion: gantry.dev/v1alpha1
name: users
image: registry.local/users
ports:
  - { name: http, containerPort: 8080, servicePort: 80 }
  - { name: dns, containerPort: 53, protocol: UDP }
`;
const route = (extra = '') => `routes:\n  - hostnames: [a.example]\n    gateway: gw\n${extra}`;

test('a route port must be a port of the service: name, container port or Service port', () => {
  for (const port of ['http', '8080', '80']) {
    assert.doesNotThrow(() => parseSpec(base + route(`    port: ${port}\n`)), port);
  }
  assert.deepEqual(problems(base + route('    port: admin\n')), [
    'svc.yaml:10:11: routes[0].port: names no port of the service (ports: http (8080, Service port 80), dns (53))',
  ]);
  assert.deepEqual(problems(base + route('    port: 9090\n')), [
    'svc.yaml:10:11: routes[0].port: is not a port of the service (ports: http (8080, Service port 80), dns (53))',
  ]);
  assert.deepEqual(problems(base + route('    port: dns\n')), [
    'svc.yaml:10:11: routes[0].port: names the UDP port dns; routes carry HTTP, which needs a TCP port',
  ]);
});

test('a route without a port goes to the first port, which must be TCP', () => {
  const udpFirst = base.replace(
    /ports:\n.*\n.*\n/,
    'ports:\n  - { name: dns, containerPort: 53, protocol: UDP }\n',
  );
  assert.deepEqual(problems(udpFirst + route()), [
    'svc.yaml:7:5: routes[0]: the route goes to the first port, dns, which is UDP; routes carry HTTP: give a TCP port (port: NAME)',
  ]);
});

test('service.type None renders no Service: routes to it are refused', () => {
  assert.deepEqual(problems(base + 'service: {type: None}\n' + route()), [
    'svc.yaml:7:17: service.type: None renders no Service, and routes send traffic to the Service; use ClusterIP or remove routes',
  ]);
  assert.doesNotThrow(() => parseSpec(base + 'service: {type: None}\n'));
});

test('probe and metrics ports given by name must name a port; numbers may be any port', () => {
  assert.deepEqual(
    problems(
      base +
        'probes:\n  liveness: {path: /h, port: admin}\n  readiness: {path: /r, port: http}\n' +
        'metrics: {port: metrics}\n',
    ),
    [
      'svc.yaml:8:30: probes.liveness.port: names no port of the container (ports: http (8080, Service port 80), dns (53))',
      'svc.yaml:10:17: metrics.port: names no port of the container (ports: http (8080, Service port 80), dns (53))',
    ],
  );
  assert.doesNotThrow(() =>
    parseSpec(base + 'probes:\n  startup: {path: /s, port: 9901}\nmetrics: {port: 9102}\n'),
  );
});

test('a gateway router needs routes; so does a gray release', () => {
  assert.deepEqual(problems(base + 'release: {strategy: canary, router: gateway}\n'), [
    'svc.yaml:7:37: release.router: gateway shifts traffic through HTTPRoutes, and the spec has no routes',
  ]);
  assert.deepEqual(problems(base + 'release: {strategy: gray}\n'), [
    'svc.yaml:7:21: release.strategy: gray releases pin users through HTTPRoutes: add routes (and a gateway)',
  ]);
  assert.doesNotThrow(() => parseSpec(base + route() + 'release: {strategy: gray}\n'));
});

test('checkReferences works on a spec built in code, by field path', () => {
  const spec = parseSpec(base);
  assert.deepEqual(checkReferences(spec), []);
  const bad = { ...spec, metrics: { path: '/metrics', port: 'nope' } };
  assert.deepEqual(
    checkReferences(bad).map((p) => p.path),
    [['metrics', 'port']],
  );
});
