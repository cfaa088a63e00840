// The rules the Kubernetes API server (v1.34: pkg/apis/*/validation, and the
// Gateway API v1.4 HTTPRoute CRD with its CEL rules) applies to the objects a
// spec renders to, checked on the spec itself so that each problem is reported
// at the spec's own field. The OpenAPI schema check (openapi.ts) cannot see
// these: they are cross-field (requests <= limits, unique ports), per kind
// (Service names are DNS-1035 labels), or written in Go and CEL rather than in
// the schema. The differential test (test/validate/differential.test.ts)
// checks them against a real API server.
//
// What the spec schema (spec/schema.ts) already refuses is not repeated here,
// nor are references between fields (spec/refs.ts) or int32 ranges.
import { cookieRegex } from '../traffic/gateway-api.js';
import { routerKind } from '../traffic/router.js';
import type { ServiceSpec } from '../spec/index.js';
import {
  byteLength,
  configKeyProblems,
  dns1035Problems,
  dnsSubdomainProblems,
  headerNameProblems,
  intOrPercentValue,
  labelValueProblems,
  percentValue,
  portNameProblems,
  qualifiedNameProblems,
  quantityNanos,
  routePathProblems,
} from './k8s-format.js';
import type { FieldProblem } from './spec-source.js';

/** Total bytes of a ConfigMap's or Secret's data (core.MaxSecretSize). */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Total bytes of an object's annotations, keys and values (TotalAnnotationSizeLimitB). */
export const MAX_ANNOTATION_BYTES = 256 * 1024;
/**
 * The largest object etcd stores with its default --max-request-bytes (1.5 MiB). A server-side
 * dry run never reaches etcd, so only a real apply refuses a bigger object.
 */
export const MAX_OBJECT_BYTES = 1536 * 1024;
/** HTTPRoute limits: matches per rule, matches over all rules of a route. */
export const MAX_RULE_MATCHES = 64;
export const MAX_ROUTE_MATCHES = 128;
/** The suffix of the canary's objects (progressive releases; traffic/router.ts). */
const CANARY_SUFFIX = '-canary';
/** Paths Gantry itself mounts in every container (render/objects.ts). */
const FIXED_MOUNTS = ['/tmp'];

export interface K8sRuleOptions {
  /** Secret values as deploy reads them; when given, the Secret's size is checked too. */
  secretValues?: Readonly<Record<string, string>>;
}

type Path = (string | number)[];

/** Every problem the API server would find in what `spec` renders to; [] when none. */
export function k8sRuleProblems(spec: ServiceSpec, opts: K8sRuleOptions = {}): FieldProblem[] {
  const out: FieldProblem[] = [];
  const add = (path: Path, messages: readonly string[], atKey = false) => {
    for (const message of messages) out.push({ path, message, ...(atKey ? { atKey } : {}) });
  };
  names(spec, add);
  labels(spec, add);
  container(spec, add);
  ports(spec, add);
  config(spec, opts, add);
  probes(spec, add);
  intOrPercents(spec, add);
  routes(spec, add);
  objectSize(spec, add);
  return out;
}

type Add = (path: Path, messages: readonly string[], atKey?: boolean) => void;

const hasService = (spec: ServiceSpec) => spec.service.type !== 'None';
const progressive = (spec: ServiceSpec) => spec.release.strategy !== 'rolling';

/** Object names: every kind takes a DNS subdomain, except Services (DNS-1035 labels). */
function names(spec: ServiceSpec, add: Add): void {
  if (!hasService(spec)) return;
  const problems = dns1035Problems(spec.name);
  if (problems.length) {
    add(
      ['name'],
      problems.map((m) => `names the Service, so it ${m}`),
    );
    return;
  }
  if (progressive(spec) && spec.name.length + CANARY_SUFFIX.length > 63) {
    add(
      ['name'],
      [
        `at most ${63 - CANARY_SUFFIX.length} characters with release.strategy ${spec.release.strategy}: ` +
          `the canary's Service "<name>${CANARY_SUFFIX}" must be no more than 63 characters`,
      ],
    );
  }
}

/** Label keys and values on every object, and in the network policy's pod selectors. */
function labels(spec: ServiceSpec, add: Add): void {
  const check = (at: Path, record: Readonly<Record<string, string>>) => {
    for (const [key, value] of Object.entries(record)) {
      add(
        [...at, key],
        qualifiedNameProblems(key).map((m) => `label key ${m}`),
        true,
      );
      add(
        [...at, key],
        labelValueProblems(value).map((m) => `label value ${m}`),
      );
    }
  };
  check(['labels'], spec.labels);
  spec.networkPolicy?.allowFrom.forEach((peer, i) => {
    if (peer.podLabels) check(['networkPolicy', 'allowFrom', i, 'podLabels'], peer.podLabels);
  });
}

function container(spec: ServiceSpec, add: Add): void {
  if (spec.image !== spec.image.trim()) {
    // Checked for pods only: the Deployment would be taken, and every pod it makes refused.
    add(
      ['image'],
      [
        'must not have leading or trailing whitespace (the API server refuses every pod with such an image)',
      ],
    );
  }
  // requests <= limits, per resource (a request above its limit is refused).
  for (const resource of ['cpu', 'memory'] as const) {
    const request = spec.resources.requests[resource];
    const limit = spec.resources.limits[resource];
    if (request === undefined || limit === undefined) continue;
    const r = quantityNanos(request);
    const l = quantityNanos(limit);
    if (r !== undefined && l !== undefined && r > l) {
      add(
        ['resources', 'requests', resource],
        [`must be less than or equal to the ${resource} limit (${String(limit)})`],
      );
    }
  }
  // Mount paths must differ (exactly: the API server compares the strings).
  const mounts: { path: string; at: Path }[] = FIXED_MOUNTS.map((p) => ({ path: p, at: [] }));
  if (Object.keys(spec.config).length) {
    mounts.push({ path: spec.configMountPath, at: ['configMountPath'] });
  }
  if (Object.keys(spec.secrets).length) {
    mounts.push({ path: spec.secretMountPath, at: ['secretMountPath'] });
  }
  spec.mounts.forEach((m, i) => {
    mounts.push({ path: m.path, at: ['mounts', i, 'path'] });
    // The API server takes any name in a volume, but no such object can exist, so the pod
    // would wait forever (or, optional, run with an empty directory).
    const kind = m.secret !== undefined ? 'secret' : 'configMap';
    add(
      ['mounts', i, kind],
      dnsSubdomainProblems(m.secret ?? m.configMap ?? '').map(
        (p) => `names a ${kind === 'secret' ? 'Secret' : 'ConfigMap'}, so it ${p}`,
      ),
    );
  });
  for (let i = 0; i < mounts.length; i++) {
    const m = mounts[i]!;
    if (!m.at.length) continue;
    const earlier = mounts.slice(0, i).find((o) => o.path === m.path);
    if (earlier) {
      const what = earlier.at.length
        ? `${fieldName(earlier.at)} (a container's mount paths must differ)`
        : 'the scratch volume Gantry mounts at /tmp';
      add(m.at, [`mount path "${m.path}" is already used by ${what}`]);
    }
  }
}

/** mounts[2].path, configMountPath */
function fieldName(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${p}` : p)).join('');
}

/**
 * Port names (IANA service names), unique names, port numbers unique per protocol, and node
 * ports: only on a NodePort or LoadBalancer Service, each used once.
 */
function ports(spec: ServiceSpec, add: Add): void {
  const names = new Map<string, number>();
  const servicePorts = new Map<string, number>();
  const containerPorts = new Map<string, number>();
  const nodePorts = new Map<number, { at: number; port: number; protocol: string }>();
  const type = spec.service.type;
  spec.ports.forEach((p, i) => {
    if (p.nodePort !== undefined) {
      if (type !== 'NodePort' && type !== 'LoadBalancer') {
        add(
          ['ports', i, 'nodePort'],
          [
            type === 'None'
              ? 'needs a Service, and service.type is None (use NodePort)'
              : `may not be used when service.type is ${type} (use NodePort)`,
          ],
        );
      } else {
        // The allocator gives a node port to one Service port number: the same number in TCP
        // and UDP may share it, two different numbers may not.
        const number = p.servicePort ?? p.containerPort;
        const first = nodePorts.get(p.nodePort);
        if (first === undefined) {
          nodePorts.set(p.nodePort, { at: i, port: number, protocol: p.protocol });
        } else if (first.port !== number || first.protocol === p.protocol) {
          add(
            ['ports', i, 'nodePort'],
            [
              `node port ${p.nodePort} is already used by ports[${first.at}]` +
                (first.port !== number
                  ? ` (Service port ${first.port}); only the same Service port in another protocol may share it`
                  : ''),
            ],
          );
        }
      }
    }
    const problems = portNameProblems(p.name);
    add(['ports', i, 'name'], problems);
    if (!problems.length) {
      const first = names.get(p.name);
      if (first !== undefined) {
        add(
          ['ports', i, 'name'],
          [`duplicate port name "${p.name}" (also ports[${first}]); give each port its own name`],
        );
      } else names.set(p.name, i);
    }
    // The API server's validation only warns, but server-side apply (what Gantry applies
    // with) keys a container's ports by port and protocol and refuses duplicates.
    const containerKey = `${p.containerPort}/${p.protocol}`;
    const firstContainer = containerPorts.get(containerKey);
    if (firstContainer !== undefined) {
      add(
        ['ports', i, 'containerPort'],
        [
          `container port ${containerKey} is already declared by ports[${firstContainer}]; ` +
            'each container port must be unique per protocol',
        ],
      );
    } else containerPorts.set(containerKey, i);
    if (hasService(spec)) {
      const number = p.servicePort ?? p.containerPort;
      const key = `${number}/${p.protocol}`;
      const first = servicePorts.get(key);
      if (first !== undefined) {
        add(
          ['ports', i, p.servicePort === undefined ? 'containerPort' : 'servicePort'],
          [
            `Service port ${number}/${p.protocol} is already used by ports[${first}]; ` +
              'each Service port number must be unique per protocol (set servicePort)',
          ],
        );
      } else servicePorts.set(key, i);
    }
  });
}

/** ConfigMap and Secret keys, and their total size. */
function config(spec: ServiceSpec, opts: K8sRuleOptions, add: Add): void {
  // The ConfigMap's total size is checked as the spec is read (spec/limits.ts).
  for (const key of Object.keys(spec.config)) {
    add(
      ['config', key],
      configKeyProblems(key).map((m) => `key ${m}`),
      true,
    );
  }
  for (const key of Object.keys(spec.secrets)) {
    add(
      ['secrets', key],
      configKeyProblems(key).map((m) => `key ${m}`),
      true,
    );
  }
  if (opts.secretValues) {
    let secretBytes = 0;
    for (const key of Object.keys(spec.secrets)) {
      secretBytes += byteLength(opts.secretValues[key] ?? '');
    }
    if (secretBytes > MAX_CONFIG_BYTES) {
      add(
        ['secrets'],
        [
          `the secret values are ${secretBytes} bytes in all; a Secret holds at most ${MAX_CONFIG_BYTES} (1 MiB)`,
        ],
      );
    }
  }
}

function probes(spec: ServiceSpec, add: Add): void {
  for (const kind of ['liveness', 'readiness', 'startup'] as const) {
    const p = spec.probes[kind];
    if (!p) continue;
    if (kind !== 'readiness' && p.successThreshold !== 1) {
      add(['probes', kind, 'successThreshold'], [`must be 1 for a ${kind} probe`]);
    }
    if (typeof p.port === 'string') {
      add(
        ['probes', kind, 'port'],
        portNameProblems(p.port).map((m) => `a port name ${m}`),
      );
    }
  }
}

/** Rolling update and disruption budget: counts or percentages (apps and policy rules). */
function intOrPercents(spec: ServiceSpec, add: Add): void {
  const { maxSurge, maxUnavailable } = spec.rollingUpdate;
  if (intOrPercentValue(maxSurge) === 0 && intOrPercentValue(maxUnavailable) === 0) {
    add(
      ['rollingUpdate', 'maxUnavailable'],
      ['may not be 0 when maxSurge is 0: a rolling update could never make progress'],
    );
  }
  const notOver100 = (at: Path, v: number | string | undefined) => {
    const pct = v === undefined ? undefined : percentValue(v);
    if (pct !== undefined && pct > 100) add(at, ['must not be greater than 100%']);
  };
  notOver100(['rollingUpdate', 'maxUnavailable'], maxUnavailable);
  notOver100(['disruptionBudget', 'minAvailable'], spec.disruptionBudget?.minAvailable);
  notOver100(['disruptionBudget', 'maxUnavailable'], spec.disruptionBudget?.maxUnavailable);
}

/** HTTPRoutes (Gateway API CRD schema and CEL rules), including a gray release's rules. */
function routes(spec: ServiceSpec, add: Add): void {
  const gray = spec.release.gray;
  const strategy = spec.release.strategy;
  // The canary rules a release puts before the route's own (traffic/gateway-api.ts).
  const gateway = routerKind(spec) === 'gateway';
  const pins = !gateway
    ? 0
    : strategy === 'gray'
      ? [gray.header, gray.cookie, gray.userHeader].filter((x) => x !== undefined).length
      : strategy === 'blueGreen' && gray.header
        ? 1
        : 0;
  if (spec.routes.length && gateway && (strategy === 'gray' || strategy === 'blueGreen')) {
    if (gray.header) {
      add(['release', 'gray', 'header', 'name'], headerNameProblems(gray.header.name));
      if (gray.header.value.length > 4096) {
        add(['release', 'gray', 'header', 'value'], ['must be no more than 4096 characters']);
      }
    }
    if (strategy === 'gray' && gray.userHeader !== undefined) {
      add(['release', 'gray', 'userHeader'], headerNameProblems(gray.userHeader));
    }
    if (strategy === 'gray' && gray.cookie && cookieRegex(gray.cookie).length > 4096) {
      add(
        ['release', 'gray', 'cookie'],
        ['name and value are too long: the header match they make must be at most 4096 characters'],
      );
    }
  }
  spec.routes.forEach((route, r) => {
    const at: Path = ['routes', r];
    // Hostnames and the gateway reference are checked by the spec schema.
    if (route.matches.length > MAX_RULE_MATCHES) {
      add([...at, 'matches'], [`must have at most ${MAX_RULE_MATCHES} matches`]);
    } else if (route.matches.length * (pins + 1) > MAX_ROUTE_MATCHES) {
      add(
        [...at, 'matches'],
        [
          `at most ${Math.floor(MAX_ROUTE_MATCHES / (pins + 1))} matches with this ${strategy} release: ` +
            `its HTTPRoute repeats them in ${pins + 1} rules, and a route takes ${MAX_ROUTE_MATCHES} matches in all`,
        ],
      );
    }
    route.matches.forEach((m, i) => add([...at, 'matches', i, 'path'], routePathProblems(m.path)));
  });
}

/** Annotations and whole objects that exceed the API server's and etcd's size limits. */
function objectSize(spec: ServiceSpec, add: Add): void {
  if (spec.metrics) {
    // The pod template's annotations: the config hash and the Prometheus scrape ones
    // (render/objects.ts).
    const port = spec.metrics.port ?? spec.ports[0]!.containerPort;
    const portValue = String(
      typeof port === 'number'
        ? port
        : (spec.ports.find((p) => p.name === port)?.containerPort ?? port),
    );
    const annotations: Record<string, string> = {
      'gantry.dev/config-hash': 'x'.repeat(16),
      'prometheus.io/scrape': 'true',
      'prometheus.io/path': spec.metrics.path,
      'prometheus.io/port': portValue,
    };
    const bytes = Object.entries(annotations).reduce(
      (n, [k, v]) => n + byteLength(k) + byteLength(v),
      0,
    );
    if (bytes > MAX_ANNOTATION_BYTES) {
      add(
        ['metrics', 'path'],
        [
          `is ${byteLength(spec.metrics.path)} bytes: it becomes a pod annotation, and a pod's annotations take at most ${MAX_ANNOTATION_BYTES} bytes (256 KiB) in all`,
        ],
      );
    }
  }
  // The Deployment carries env, command and args whole; its own fields take a few kB.
  const parts: [Path, number][] = [
    [['env'], jsonBytes(spec.env)],
    [['command'], jsonBytes(spec.command ?? [])],
    [['args'], jsonBytes(spec.args ?? [])],
    [['labels'], 3 * jsonBytes(spec.labels)],
  ];
  const total = parts.reduce((n, [, b]) => n + b, 0) + 8 * 1024;
  if (total > MAX_OBJECT_BYTES) {
    const [largest] = parts.reduce((a, b) => (b[1] > a[1] ? b : a));
    add(largest, [
      `makes the Deployment about ${total} bytes; Kubernetes stores objects of at most ${MAX_OBJECT_BYTES} bytes (1.5 MiB)`,
    ]);
  }
}

function jsonBytes(v: unknown): number {
  return byteLength(JSON.stringify(v));
}
