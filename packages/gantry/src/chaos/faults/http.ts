// HTTP faults: the agent's HTTP/1.1 proxy in each chosen pod's network namespace,
// fed by an iptables REDIRECT of new connections to the service's port (as
// LitmusChaos' HTTP faults do with toxiproxy). On requests whose path starts with
// one of --paths (default every path), with probability --percent:
//   http-error  answered with --status (default 500) by the proxy
//   http-delay  forwarded --latency late
//   http-abort  the connection reset (TCP RST), no answer
// Other requests are forwarded as they are, and so are the kubelet's probes unless
// --include-probes. Connections open before the fault (a gateway's kept-alive pool) are
// reset once on their next packet (agent/ops/http.ts' guard), so their next request comes
// back through the proxy.
import type { FaultDefinition, FaultParam, FaultParams, ResolvedTarget } from '../fault.js';
import type { ProxyConfig } from '../agent/proxy.js';
import { injectNodeFault } from '../helper/inject.js';
import { podPreflight, proxyArgs, servicePort } from './network.js';

const common: FaultParam[] = [
  {
    name: 'percent',
    type: 'percent',
    default: 100,
    min: 0,
    max: 100,
    description: 'share of the matching requests affected',
  },
  {
    name: 'paths',
    type: 'string[]',
    description: 'only requests whose path starts with one of these (default: every path)',
  },
  {
    name: 'port',
    type: 'number',
    min: 1,
    max: 65535,
    description: "the pod's HTTP port (default the service's first)",
  },
  {
    name: 'include-probes',
    type: 'boolean',
    default: false,
    description:
      "fault the kubelet's HTTP probes too; by default they pass, so the pod stays Ready " +
      '(in its Service) and is not restarted while the fault holds',
  },
];

const pathsOf = (params: FaultParams): string[] => {
  const v = params.paths;
  return Array.isArray(v) ? v : typeof v === 'string' && v ? v.split(',') : [];
};

function httpFault(
  kind: 'http-error' | 'http-delay' | 'http-abort',
  summary: string,
  extra: FaultParam[],
  action: (params: FaultParams) => NonNullable<ProxyConfig['http']>,
  what: (params: FaultParams) => string,
): FaultDefinition {
  const plan = (params: FaultParams, target: ResolvedTarget, port?: number) => {
    const paths = pathsOf(params);
    return [
      `${what(params)} for ${Number(params.percent ?? 100)}% of requests${paths.length ? ` to ${paths.join(', ')}` : ''} ` +
        `on port ${port ?? (typeof params.port === 'number' ? params.port : "the service's")} of ` +
        `${target.pods.map((p) => p.name).join(', ')} (HTTP proxy in the pod's network namespace; ` +
        `${params['include-probes'] === true ? "the kubelet's probes too" : "the kubelet's probes pass"})`,
    ];
  };
  const def: FaultDefinition = {
    kind,
    family: 'http',
    summary,
    needsHelper: true,
    params: [...extra, ...common],
    preflight: async (ctx, params, target) => {
      const out: string[] = [];
      const pct = Number(params.percent ?? 100);
      if (!(pct > 0 && pct <= 100)) out.push('--percent must be above 0 and at most 100');
      for (const p of pathsOf(params))
        if (!p.startsWith('/')) out.push(`--paths: "${p}" must start with /`);
      try {
        servicePort(ctx, params);
      } catch (err) {
        out.push((err as Error).message);
      }
      try {
        action(params);
      } catch (err) {
        out.push((err as Error).message);
      }
      return [...out, ...(await podPreflight(ctx, target))];
    },
    plan: (params, target) => plan(params, target),
    inject: (ctx, params, target, durationMs) => {
      const port = servicePort(ctx, params);
      const args = proxyArgs('H', 'inbound', port, undefined, {
        mode: 'http',
        http: action(params),
      });
      const ops = target.pods.map((p) => ({
        op: 'proxy',
        podUid: p.uid,
        args: args as unknown as Record<string, unknown>,
      }));
      return injectNodeFault(
        ctx,
        kind,
        target,
        ops,
        durationMs,
        plan(params, target, port).join('; '),
      );
    },
  };
  return def;
}

const base = (params: FaultParams) => ({
  percent: Number(params.percent ?? 100),
  paths: pathsOf(params),
  ...(params['include-probes'] === true ? { probes: true } : {}),
});

export const httpFaults: FaultDefinition[] = [
  httpFault(
    'http-error',
    'answer requests with an error status (default 500) instead of the service',
    [
      {
        name: 'status',
        type: 'number',
        default: 500,
        min: 100,
        max: 599,
        description: 'HTTP status',
      },
    ],
    (params) => {
      const status = Number(params.status ?? 500);
      if (!(status >= 100 && status <= 599)) throw new Error('--status must be 100-599');
      return { ...base(params), action: 'error', status };
    },
    (params) => `answer ${Number(params.status ?? 500)}`,
  ),
  httpFault(
    'http-delay',
    'forward requests to the service late',
    [{ name: 'latency', type: 'duration', required: true, description: 'added to each request' }],
    (params) => {
      const delayMs = Number(params.latency);
      if (!(delayMs > 0)) throw new Error('--latency must be above 0');
      return { ...base(params), action: 'delay', delayMs };
    },
    (params) => `delay by ${Number(params.latency)}ms`,
  ),
  httpFault(
    'http-abort',
    'reset the connection (TCP RST) instead of answering',
    [],
    (params) => ({ ...base(params), action: 'abort' }),
    () => 'reset the connection',
  ),
];
