// References between fields of a validated spec: a route, probe or metrics port must name
// a port the spec declares, routes need a Service to send traffic to, a gateway router
// needs routes. The schema checks each field alone; these need the whole spec. Pure:
// load.ts gives each problem the file position of its field.
import type { ServiceSpec } from './schema.js';

export interface RefProblem {
  /** Path of the field the problem is reported at. */
  path: (string | number)[];
  message: string;
}

type Port = ServiceSpec['ports'][number];

/** The spec's ports as a message lists them: "http (8080), admin (9090 -> Service 90)". */
function listPorts(ports: readonly Port[]): string {
  const shown = ports.slice(0, 8).map((p) => {
    const svc = p.servicePort !== undefined ? `, Service port ${p.servicePort}` : '';
    return `${p.name} (${p.containerPort}${svc})`;
  });
  return shown.join(', ') + (ports.length > shown.length ? ', …' : '');
}

/** Every problem with references between fields; [] when there is none. */
export function checkReferences(spec: ServiceSpec): RefProblem[] {
  const problems: RefProblem[] = [];
  const names = new Set(spec.ports.map((p) => p.name));

  // A route reaches the Service by a port name, container port or Service port (as
  // traffic/gateway-api.ts resolves it).
  spec.routes.forEach((route, i) => {
    const want = route.port;
    const p =
      want === undefined
        ? spec.ports[0]
        : spec.ports.find(
            (x) => x.name === want || x.containerPort === want || x.servicePort === want,
          );
    if (!p) {
      problems.push({
        path: ['routes', i, 'port'],
        message:
          typeof want === 'string'
            ? `names no port of the service (ports: ${listPorts(spec.ports)})`
            : `is not a port of the service (ports: ${listPorts(spec.ports)})`,
      });
    } else if (p.protocol !== 'TCP') {
      problems.push({
        path: want === undefined ? ['routes', i] : ['routes', i, 'port'],
        message:
          want === undefined
            ? `the route goes to the first port, ${p.name}, which is ${p.protocol}; routes carry HTTP: give a TCP port (port: NAME)`
            : `names the ${p.protocol} port ${p.name}; routes carry HTTP, which needs a TCP port`,
      });
    }
  });

  if (spec.service.type === 'None' && spec.routes.length > 0) {
    problems.push({
      path: ['service', 'type'],
      message:
        'None renders no Service, and routes send traffic to the Service; ' +
        'use ClusterIP or remove routes',
    });
  }

  // Ports named in probes and metrics: numbers may be any container port; names must exist.
  for (const kind of ['liveness', 'readiness', 'startup'] as const) {
    const port = spec.probes[kind]?.port;
    if (typeof port === 'string' && !names.has(port)) {
      problems.push({
        path: ['probes', kind, 'port'],
        message: `names no port of the container (ports: ${listPorts(spec.ports)})`,
      });
    }
  }
  const metricsPort = spec.metrics?.port;
  if (typeof metricsPort === 'string' && !names.has(metricsPort)) {
    problems.push({
      path: ['metrics', 'port'],
      message: `names no port of the container (ports: ${listPorts(spec.ports)})`,
    });
  }

  // The traffic router a release uses (traffic/router.ts: routerKind).
  if (spec.release.router === 'gateway' && spec.routes.length === 0) {
    problems.push({
      path: ['release', 'router'],
      message: 'gateway shifts traffic through HTTPRoutes, and the spec has no routes',
    });
  }
  if (
    spec.release.strategy === 'gray' &&
    spec.release.router === undefined &&
    spec.routes.length === 0
  ) {
    problems.push({
      path: ['release', 'strategy'],
      message: 'gray releases pin users through HTTPRoutes: add routes (and a gateway)',
    });
  }

  return problems;
}
