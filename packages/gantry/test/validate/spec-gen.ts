// A fast-check generator of gantry.yaml specs for the differential test
// (differential.test.ts): mostly ordinary values, and values on both sides of
// the boundaries the Kubernetes API server draws (name formats, label limits,
// port names and uniqueness, quantities, probe thresholds, int-or-percent
// fields, mount paths, mounts of Secrets and ConfigMaps, node ports, config keys, HTTPRoute
// paths and match counts).
//
// Every field a case sets is complete (a probe with all its fields, both
// requests and limits), so a spec the schema refuses can still be rendered by
// filling the rest with defaults (`lenientSpec`) and shown to the API server.
//
// Left out on purpose, because Gantry is stricter than the API server there by
// design (see the test's header): env names beyond C identifiers, probe
// periods and thresholds of 0 (the server would default them), routes without
// a Service to send traffic to, node ports without a Service, HPA targets above 100%.
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseSpec } from '../../src/spec/index.js';
import type { ServiceSpec } from '../../src/spec/index.js';

export type SpecInput = Record<string, unknown>;

const k = (n: number) => 'k'.repeat(n);

const labelKeys = fc.constantFrom(
  'team',
  'tier',
  'example.com/team',
  'a.b_c',
  k(63),
  k(64),
  `${'p'.repeat(240)}.com/x`,
  'Bad_Prefix/x',
  'UPPER.example/x',
  'x/',
  '/x',
  'a/b/c',
  '-a',
  'a_',
  'app.kubernetes.io/part-of',
);
const labelValues = fc.constantFrom(
  '',
  'v',
  'no',
  'A-1.b_c',
  'a'.repeat(63),
  'a'.repeat(64),
  '-a',
  'a.',
  'a b',
  '1',
);
const labelMaps = fc.dictionary(labelKeys, labelValues, { maxKeys: 3 });

const portNames = fc.constantFrom(
  'http',
  'http',
  'metrics',
  'grpc-web',
  'a',
  'x1',
  'abcdefghijklmno',
  '8080',
  'a--b',
);
const port = fc.record({
  name: portNames,
  containerPort: fc.constantFrom(8080, 8080, 9090, 53, 1, 65535),
  servicePort: fc.option(fc.constantFrom(80, 8080, 443), { nil: undefined }),
  protocol: fc.constantFrom('TCP', 'TCP', 'UDP'),
  // Node ports no Service on the test cluster holds (a dry run still asks the allocator),
  // at and beyond the edges of 30000-32767; repeated, so a case can use one twice.
  nodePort: fc.option(fc.constantFrom(30000, 32767, 31777, 31777, 29999, 32768), {
    nil: undefined,
  }),
});

/** A mount of a Secret or ConfigMap made elsewhere, with names and paths on both sides. */
const mount = fc
  .record({
    kind: fc.constantFrom('secret', 'configMap'),
    name: fc.constantFrom('shared', 'a.b-c', 'alert-relay-channels', 'Bad_Name', 'a..b', k(254)),
    path: fc.constantFrom('/m', '/m', '/etc/shared', '/tmp', '/tmp/', '/etc/app/config'),
    optional: fc.boolean(),
  })
  .map(({ kind, name, path, optional }) => ({ [kind]: name, path, optional }));

const configKeys = fc.constantFrom(
  'a',
  'b',
  'a.b',
  'APP_MODE',
  '.a',
  '..a',
  '.',
  '..',
  '-x_',
  k(253),
  k(254),
);

const probe = fc.record({
  path: fc.constantFrom('/healthz', '/'),
  initialDelaySeconds: fc.constantFrom(0, 5),
  periodSeconds: fc.constantFrom(1, 5),
  timeoutSeconds: fc.constantFrom(1, 2),
  failureThreshold: fc.constantFrom(1, 3),
  successThreshold: fc.constantFrom(1, 1, 2, 3),
});

const intOrPercent = (extra: readonly (number | string)[]) =>
  fc.constantFrom<number | string>(0, 1, 2, '0%', '25%', '100%', ...extra);

const routePaths = fc.constantFrom(
  '/',
  '/api',
  '/api/v1',
  '/~u',
  "/a'b",
  '/%7e',
  '/a//b',
  '/a/./b',
  '/a/../b',
  '/a%2Fb',
  '/a%2fb',
  '/a#b',
  '/a b',
  '/a/..',
  '/a/.',
  '/a/.b',
  '/ä',
  `/${'p'.repeat(1023)}`,
  `/${'p'.repeat(1024)}`,
);
const match = fc.record({
  path: routePaths,
  pathType: fc.constantFrom('PathPrefix', 'Exact'),
});
/** n distinct ordinary matches, to probe the match-count limits. */
const manyMatches = fc
  .constantFrom(21, 32, 33, 42, 43, 63, 64, 65)
  .map((n) => Array.from({ length: n }, (_, i) => ({ path: `/p${i}`, pathType: 'PathPrefix' })));
const route = fc.record({
  hostnames: fc.array(
    fc.constantFrom('a.example.com', '*.example.com', 'app.local', '1.2.3.4', 'Web.example.com'),
    { minLength: 1, maxLength: 3 },
  ),
  matches: fc.oneof(
    { weight: 4, arbitrary: fc.array(match, { minLength: 1, maxLength: 3 }) },
    { weight: 1, arbitrary: manyMatches },
  ),
  gateway: fc.constantFrom('gantry', 'infra/gantry'),
});

const headerNames = fc.constantFrom('x-gantry-track', 'X-Canary', 'x track', 'x:a');
const release = (hasRoutes: boolean) =>
  hasRoutes
    ? fc.oneof(
        fc.constant({ strategy: 'rolling' }),
        fc.constant({ strategy: 'canary' }),
        fc.record({ strategy: fc.constant('blueGreen') }),
        fc.record({
          strategy: fc.constant('gray'),
          gray: fc.record(
            {
              header: fc.record({ name: headerNames, value: fc.constantFrom('canary', 'on') }),
              userHeader: headerNames,
              cookie: fc.record({ name: fc.constantFrom('c', 'beta'), value: fc.constant('1') }),
            },
            { requiredKeys: [] },
          ),
        }),
      )
    : fc.constantFrom({ strategy: 'rolling' }, { strategy: 'canary' }, { strategy: 'blueGreen' });

const ordinaryPorts = fc
  .uniqueArray(
    fc.record({
      name: fc.constantFrom('http', 'metrics', 'grpc-web', 'x1', 'abcdefghijklmno'),
      containerPort: fc.constantFrom(8080, 9090, 53, 1, 65535),
      servicePort: fc.constant(undefined),
      protocol: fc.constant('TCP'),
    }),
    { minLength: 1, maxLength: 3, selector: (p) => p.name },
  )
  .map((ps) => ps.filter((p, i) => ps.findIndex((q) => q.containerPort === p.containerPort) === i));

const quantities = {
  requestCpu: fc.constantFrom<string | number>('100m', '0.1', '1', '250m', 0.5, '1001m'),
  requestMemory: fc.constantFrom('128Mi', '1Gi', '1024Mi', '1073741824', '1G', '1025Mi'),
  limitCpu: fc.constantFrom<string | number>('1', '100m', '0.1', 2),
  limitMemory: fc.constantFrom('256Mi', '1Gi', '1073741824', '1G'),
};

/**
 * The metrics path length that fills a pod's annotations to exactly 256 KiB: the keys of
 * the four annotations, a 16-character config hash, "true", and a 4-digit port (specs that
 * set metrics get a first port of 8080, see specArbitrary).
 */
const METRICS_PATH_AT_LIMIT =
  256 * 1024 -
  [
    'gantry.dev/config-hash',
    'prometheus.io/scrape',
    'prometheus.io/path',
    'prometheus.io/port',
  ].join('').length -
  16 -
  4 -
  4;

const orNone = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

/**
 * Each field: [an ordinary value, a value from the edges (either side of a boundary)].
 * A case takes the ordinary value of every field but a few.
 */
const FIELDS = {
  name: [
    fc.stringMatching(/^[a-z][a-z0-9-]{0,12}[a-z0-9]$/),
    fc.oneof(
      fc.constantFrom('1web', '0-a', '9', 'a'),
      fc.integer({ min: 55, max: 63 }).map((n) => `a${'b'.repeat(n - 1)}`),
    ),
  ],
  labels: [
    fc.dictionary(
      fc.constantFrom('team', 'tier', 'example.com/team'),
      fc.constantFrom('v', 'payments', 'A-1.b_c', 'no', ''),
      { maxKeys: 2 },
    ),
    labelMaps,
  ],
  image: [
    fc.constant('reg.local/web:1'),
    fc.constantFrom(' reg.local/web:1', 'reg.local/web:1 ', 'Reg.Local/Web:1'),
  ],
  ports: [ordinaryPorts, fc.array(port, { minLength: 1, maxLength: 3 })],
  config: [
    fc.dictionary(fc.constantFrom('a', 'a.b', 'APP_MODE'), fc.constantFrom('v', ''), {
      maxKeys: 2,
    }),
    fc.dictionary(configKeys, fc.constantFrom('v', ''), { minKeys: 1, maxKeys: 2 }),
  ],
  mounts: [
    fc.constantFrom(
      [],
      [],
      [{ secret: 'shared', path: '/etc/shared', optional: true }],
      [{ configMap: 'a.b-c', path: '/etc/flags' }],
    ),
    fc.array(mount, { minLength: 1, maxLength: 2 }),
  ],
  configMountPath: [
    fc.constantFrom('/etc/app/config', '/data'),
    fc.constantFrom('/tmp', '/tmp/', '/etc/app/secrets'),
  ],
  secrets: [
    fc.dictionary(fc.constantFrom('s', 'db.password'), fc.constant({ fromEnv: 'S' }), {
      maxKeys: 1,
    }),
    fc.dictionary(configKeys, fc.constant({ fromEnv: 'S' }), { minKeys: 1, maxKeys: 1 }),
  ],
  secretMountPath: [
    fc.constant('/etc/app/secrets'),
    fc.constantFrom('/etc/app/config', '/tmp', '/etc/app/secrets/'),
  ],
  resources: [
    fc.record({
      requests: fc.record({ cpu: fc.constant('100m'), memory: fc.constant('128Mi') }),
      limits: fc.record(
        { cpu: quantities.limitCpu, memory: quantities.limitMemory },
        { requiredKeys: ['memory'] },
      ),
    }),
    fc.record({
      requests: fc.record({ cpu: quantities.requestCpu, memory: quantities.requestMemory }),
      limits: fc.record(
        { cpu: quantities.limitCpu, memory: quantities.limitMemory },
        { requiredKeys: [] },
      ),
    }),
  ],
  probes: [
    fc.record(
      {
        liveness: probe.map((p) => ({ ...p, successThreshold: 1 })),
        readiness: probe,
        startup: probe.map((p) => ({ ...p, successThreshold: 1 })),
      },
      { requiredKeys: [] },
    ),
    fc.record({ liveness: probe, readiness: probe, startup: probe }, { requiredKeys: [] }),
  ],
  rollingUpdate: [
    fc.record({ maxSurge: fc.constantFrom('25%', 1), maxUnavailable: fc.constantFrom(0, '25%') }),
    fc.record({
      maxSurge: intOrPercent(['150%']),
      maxUnavailable: intOrPercent(['101%']),
    }),
  ],
  disruptionBudget: [
    orNone(fc.constantFrom({ minAvailable: 1 }, { maxUnavailable: '50%' })),
    fc.oneof(
      fc.record({ minAvailable: intOrPercent(['101%']) }),
      fc.record({ maxUnavailable: intOrPercent(['150%']) }),
    ),
  ],
  autoscaling: [
    orNone(fc.constant({ minReplicas: 1, maxReplicas: 3, targetCPUUtilizationPercentage: 80 })),
    fc.constant({ minReplicas: 1, maxReplicas: 1, targetCPUUtilizationPercentage: 100 }),
  ],
  service: [
    fc.record({ type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer') }),
    fc.record({ type: fc.constant('None') }),
  ],
  routes: [
    fc.oneof(
      fc.constant([]),
      fc.array(
        fc.record({
          hostnames: fc.array(fc.constantFrom('a.example.com', '*.example.com', 'app.local'), {
            minLength: 1,
            maxLength: 2,
          }),
          matches: fc.array(
            fc.record({
              path: fc.constantFrom('/', '/api', '/api/v1'),
              pathType: fc.constantFrom('PathPrefix', 'Exact'),
            }),
            { minLength: 1, maxLength: 2 },
          ),
          gateway: fc.constantFrom('gantry', 'infra/gantry'),
        }),
        { minLength: 1, maxLength: 2 },
      ),
    ),
    fc.array(route, { minLength: 1, maxLength: 2 }),
  ],
  networkPolicy: [
    orNone(fc.constant({ allowFrom: [] })),
    fc.record({ allowFrom: fc.array(fc.record({ podLabels: labelMaps }), { maxLength: 1 }) }),
  ],
  metrics: [
    orNone(fc.constant({ path: '/metrics' })),
    // The path is a pod annotation: at the 256 KiB limit of all annotations, and one past.
    fc
      .constantFrom(0, 1)
      .map((over) => ({ path: `/${'m'.repeat(METRICS_PATH_AT_LIMIT - 1 + over)}` })),
  ],
  progressDeadlineSeconds: [fc.constant(600), fc.constantFrom(10, 2 ** 31 - 1, 2 ** 31)],
  terminationGracePeriodSeconds: [fc.constant(30), fc.constantFrom(0, 2 ** 31 - 1, 2 ** 31)],
  release: [fc.constant('ordinary'), fc.constant('edge')],
} satisfies Record<string, [fc.Arbitrary<unknown>, fc.Arbitrary<unknown>]>;

type Field = keyof typeof FIELDS;
const FIELD_NAMES = Object.keys(FIELDS) as Field[];

/** Specs in `namespace`, valid and invalid near the API server's boundaries. */
export function specArbitrary(namespace: string): fc.Arbitrary<SpecInput> {
  const pick = (i: 0 | 1) =>
    fc.record(
      Object.fromEntries(FIELD_NAMES.map((f) => [f, FIELDS[f][i]])) as {
        [F in Field]: (typeof FIELDS)[F][0];
      },
    );
  return fc
    .tuple(pick(0), pick(1), fc.subarray(FIELD_NAMES, { maxLength: 3 }))
    .map(([ordinary, edge, edged]) => {
      const s: Record<string, unknown> = { ...ordinary };
      for (const f of edged) s[f] = edge[f];
      return s;
    })
    .chain((s) => {
      // Routes need a Service, and the route's port must be TCP (spec references).
      const service = s.service as { type: string };
      const routes = service.type === 'None' ? [] : (s.routes as unknown[]);
      // Node ports need a Service (the spec refuses them without one; the server sees nothing).
      const ports = (s.ports as { protocol: string; nodePort?: number }[]).map((p) =>
        service.type === 'None' ? { ...p, nodePort: undefined } : p,
      );
      // A metrics annotation's size depends on the first port's number (METRICS_PATH_AT_LIMIT).
      const metrics = s.metrics !== undefined;
      const tcpFirst = ports.map((p, i) =>
        i
          ? p
          : {
              ...p,
              ...(routes.length ? { protocol: 'TCP' } : {}),
              ...(metrics ? { containerPort: 8080 } : {}),
            },
      );
      const ordinaryRelease = fc.constantFrom(
        { strategy: 'rolling' },
        { strategy: 'rolling' },
        { strategy: 'canary' },
      );
      return (s.release === 'edge' ? release(routes.length > 0) : ordinaryRelease).map((r) => ({
        apiVersion: 'gantry.dev/v1alpha1',
        namespace,
        ...s,
        ports: tcpFirst,
        routes,
        release: r,
      }));
    })
    .map(dropUndefined);
}

function dropUndefined(o: SpecInput): SpecInput {
  return JSON.parse(JSON.stringify(o)) as SpecInput;
}

export function specYaml(input: SpecInput): string {
  return stringify(input, { lineWidth: 0 });
}

let defaults: ServiceSpec | undefined;

/**
 * The spec as Gantry would render it, even where its schema refuses it: the generated
 * fields over the defaults of a minimal spec. Only for showing such a spec to the API server.
 */
export function lenientSpec(input: SpecInput): ServiceSpec {
  defaults ??= parseSpec('apiVersion: gantry.dev/v1alpha1\nname: x\nimage: x\n');
  const release = { ...defaults.release, ...(input.release as object | undefined) };
  return { ...defaults, ...input, release };
}
