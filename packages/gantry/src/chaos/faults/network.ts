// Network faults, applied in each chosen pod's network namespace by the helper
// (helper/inject.ts, agent/ops/network.ts and http.ts). No netem on these kernels:
//   network-partition  DROP in a dedicated filter chain (ingress and/or egress, all or by peer)
//   packet-loss        DROP with `-m statistic --mode random` (inbound and/or outbound)
//   bandwidth          tbf on eth0 egress; ingress through an ifb device (mirred redirect)
//   dependency-down    REJECT (TCP reset) or DROP of egress to host:port
//   network-delay      the agent's TCP proxy fed by REDIRECT: inbound to the service's port,
//                      or outbound to a peer host:port (the proxy's own uid is exempt)
// Every chain is named per fault (GTY-<tag>-<token>-<dir>): revert removes exactly it.
// What the node's kernel lacks (a match, tbf, ifb) is found by the agent before
// anything is touched, and the fault is refused with the reason.
import { randomBytes, randomInt } from 'node:crypto';
import { isIP } from 'node:net';
import type { V1Pod } from '@kubernetes/client-node';
import type { ChainArgs, TbfArgs } from '../agent/ops/network.js';
import type { ProxyArgs } from '../agent/ops/http.js';
import type { ProxyConfig } from '../agent/proxy.js';
import type {
  FaultContext,
  FaultDefinition,
  FaultParam,
  FaultParams,
  ResolvedTarget,
} from '../fault.js';
import { injectNodeFault } from '../helper/inject.js';
import type { NodeUndo } from '../undo.js';

/** The uid of the agent's proxy (agent/ops/http.ts PROXY_UID), exempt from its own redirects. */
const PROXY_UID = 47474;

export interface Peer {
  /** An address or CIDR. */
  cidr: string;
  port?: number;
}

/** "10.0.0.0/8", "10.1.2.3", "10.1.2.3:5432"; host names are not resolved (say why). */
export function parsePeer(s: string): Peer {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})(\/\d{1,2})?(?::(\d{1,5}))?$/.exec(s.trim());
  if (!m || isIP(m[1]!) !== 4)
    throw new Error(
      `peer "${s}": give an IPv4 address or CIDR, optionally with :port (a name would be resolved ` +
        'on the node, not in the pod; use the address)',
    );
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && !(port > 0 && port < 65536)) throw new Error(`peer "${s}": bad port`);
  return { cidr: `${m[1]}${m[2] ?? ''}`, ...(port ? { port } : {}) };
}

const token = () => randomBytes(3).toString('hex');
const RESET = ['-j', 'REJECT', '--reject-with', 'tcp-reset'];
const chain = (tag: string, t: string, dir: string) => `GTY-${tag}-${t}-${dir}`;

function peersOf(params: FaultParams, name = 'peers'): Peer[] {
  const v = params[name];
  const list = Array.isArray(v) ? v : typeof v === 'string' && v ? v.split(',') : [];
  return list.map(parsePeer);
}

/** Matches of packets to (egress) or from (ingress) a peer. */
function peerMatch(p: Peer, dir: 'in' | 'out'): string[] {
  const addr = dir === 'out' ? ['-d', p.cidr] : ['-s', p.cidr];
  if (p.port === undefined) return addr;
  return [...addr, '-p', 'tcp', dir === 'out' ? '--dport' : '--sport', String(p.port)];
}

/** One filter chain per direction: loopback passes, then `action` for all or per peer. */
function filterChains(
  tag: string,
  dirs: ('in' | 'out')[],
  peers: Peer[],
  action: string[],
): ChainArgs[] {
  const t = token();
  return dirs.map((d) => ({
    table: 'filter',
    chain: chain(tag, t, d.toUpperCase()),
    hooks: [{ parent: d === 'in' ? 'INPUT' : 'OUTPUT' }],
    rules: [
      [d === 'in' ? '-i' : '-o', 'lo', '-j', 'RETURN'],
      ...(peers.length ? peers.map((p) => [...peerMatch(p, d), ...action]) : [action]),
    ],
  }));
}

const opsFor = (target: ResolvedTarget, op: string, args: object[]): NodeUndo[] =>
  target.pods.flatMap((p) =>
    args.map((a) => ({ op, podUid: p.uid, args: a as Record<string, unknown> })),
  );

/** What every network fault refuses on the CLI side: no pods, hostNetwork pods. */
export async function podPreflight(ctx: FaultContext, target: ResolvedTarget): Promise<string[]> {
  if (target.pods.length === 0) return ['no pod to act on'];
  const out: string[] = [];
  for (const p of target.pods) {
    const pod = await ctx.kube.get<V1Pod>({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: p.name, namespace: target.namespace },
    });
    if (!pod || pod.metadata?.uid !== p.uid) out.push(`pod ${p.name} is gone`);
    else if (pod.spec?.hostNetwork)
      out.push(
        `pod ${p.name} uses the node's network (hostNetwork): a network fault would hit the node`,
      );
  }
  return out;
}

function paramProblems(params: FaultParams, check: () => void): string[] {
  try {
    check();
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}

const dirsOf = (v: unknown, both: ('in' | 'out')[]): ('in' | 'out')[] =>
  v === 'both' ? both : v === 'egress' || v === 'outbound' ? ['out'] : ['in'];

const podNames = (t: ResolvedTarget) => t.pods.map((p) => p.name).join(', ');

export function servicePort(ctx: FaultContext | undefined, params: FaultParams): number {
  if (typeof params.port === 'number') return params.port;
  const p = ctx?.spec.ports[0]?.containerPort;
  if (!p) throw new Error('the service has no port; pass --port');
  return p;
}

const peersParam: FaultParam = {
  name: 'peers',
  type: 'string[]',
  description:
    'only traffic to/from these peers: IPv4 address or CIDR, optionally :port (default: all)',
};

// ---------------------------------------------------------------------------------------

const partition: FaultDefinition = {
  kind: 'network-partition',
  family: 'network',
  summary: "drop the pods' traffic: ingress, egress or both, with everyone or only given peers",
  needsHelper: true,
  params: [
    {
      name: 'direction',
      type: 'string',
      enum: ['ingress', 'egress', 'both'],
      default: 'both',
      description: 'which traffic is dropped',
    },
    peersParam,
  ],
  preflight: async (ctx, params, target) => [
    ...paramProblems(params, () => peersOf(params)),
    ...(await podPreflight(ctx, target)),
  ],
  plan: (params, target) => {
    const peers = peersOf(params);
    return [
      `drop ${String(params.direction ?? 'both')} traffic of ${podNames(target)}` +
        `${peers.length ? ` with ${peers.map((p) => p.cidr + (p.port ? `:${p.port}` : '')).join(', ')}` : ' (all but loopback)'}`,
    ];
  },
  inject: (ctx, params, target, durationMs) => {
    const chains = filterChains(
      'P',
      dirsOf(params.direction ?? 'both', ['in', 'out']),
      peersOf(params),
      ['-j', 'DROP'],
    );
    return injectNodeFault(
      ctx,
      'network-partition',
      target,
      opsFor(target, 'iptables-chain', chains),
      durationMs,
      partition.plan(params, target).join('; '),
    );
  },
};

const loss: FaultDefinition = {
  kind: 'packet-loss',
  family: 'network',
  summary: 'drop a share of the packets at random (iptables statistic): inbound, outbound or both',
  needsHelper: true,
  params: [
    {
      name: 'loss',
      type: 'percent',
      required: true,
      min: 0,
      max: 100,
      description: 'share of packets dropped',
    },
    {
      name: 'direction',
      type: 'string',
      enum: ['inbound', 'outbound', 'both'],
      default: 'inbound',
      description: 'which packets',
    },
    peersParam,
  ],
  preflight: async (ctx, params, target) => [
    ...(typeof params.loss === 'number' && params.loss > 0 && params.loss <= 100
      ? []
      : ['--loss must be above 0 and at most 100 %']),
    ...paramProblems(params, () => peersOf(params)),
    ...(await podPreflight(ctx, target)),
  ],
  plan: (params, target) => [
    `drop ${Number(params.loss)}% of ${String(params.direction ?? 'inbound')} packets of ${podNames(target)} at random`,
  ],
  inject: (ctx, params, target, durationMs) => {
    const p = (Number(params.loss) / 100).toFixed(6);
    const chains = filterChains(
      'L',
      dirsOf(params.direction ?? 'inbound', ['in', 'out']),
      peersOf(params),
      ['-m', 'statistic', '--mode', 'random', '--probability', p, '-j', 'DROP'],
    );
    return injectNodeFault(
      ctx,
      'packet-loss',
      target,
      opsFor(target, 'iptables-chain', chains),
      durationMs,
      loss.plan(params, target).join('; '),
    );
  },
};

const RATE = /^\d+(\.\d+)?(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$/i;

const bandwidth: FaultDefinition = {
  kind: 'bandwidth',
  family: 'network',
  summary:
    "limit the pods' bandwidth with a token bucket (tbf): egress on eth0, ingress through an ifb",
  needsHelper: true,
  params: [
    {
      name: 'rate',
      type: 'string',
      required: true,
      description: 'rate as tc writes it: 1mbit, 500kbit, 10mbps',
    },
    {
      name: 'direction',
      type: 'string',
      enum: ['egress', 'ingress', 'both'],
      default: 'egress',
      description: 'which traffic is limited',
    },
    { name: 'burst', type: 'string', default: '32kb', description: 'bucket size (tc burst)' },
    {
      name: 'latency',
      type: 'duration',
      default: 400,
      description: 'longest a packet may wait in the queue',
    },
  ],
  preflight: async (ctx, params, target) => [
    ...(typeof params.rate === 'string' && RATE.test(params.rate)
      ? []
      : [`--rate "${String(params.rate)}": give e.g. 1mbit, 500kbit`]),
    ...(await podPreflight(ctx, target)),
  ],
  plan: (params, target) => [
    `limit ${String(params.direction ?? 'egress')} of ${podNames(target)} to ${String(params.rate)} (tbf on eth0${params.direction === 'egress' || !params.direction ? '' : ', ingress via an ifb device'})`,
  ],
  inject: (ctx, params, target, durationMs) => {
    const t = token();
    const dirs =
      params.direction === 'both' ? ['egress', 'ingress'] : [String(params.direction ?? 'egress')];
    const args: TbfArgs[] = dirs.map((d) => ({
      direction: d as TbfArgs['direction'],
      dev: 'eth0',
      rate: String(params.rate),
      burst: String(params.burst ?? '32kb'),
      latency: `${Number(params.latency ?? 400)}ms`,
      ...(d === 'ingress' ? { ifb: `gty${t}` } : {}),
    }));
    return injectNodeFault(
      ctx,
      'bandwidth',
      target,
      opsFor(target, 'tc-tbf', args),
      durationMs,
      bandwidth.plan(params, target).join('; '),
    );
  },
};

const dependencyDown: FaultDefinition = {
  kind: 'dependency-down',
  family: 'network',
  summary:
    "block the pods' egress to a dependency (host:port), refused with a reset or silently dropped",
  needsHelper: true,
  params: [
    {
      name: 'dependency',
      type: 'string[]',
      required: true,
      description: 'the dependency: IPv4 address or CIDR with :port (e.g. 10.96.0.20:5432)',
    },
    {
      name: 'mode',
      type: 'string',
      enum: ['reject', 'drop'],
      default: 'reject',
      description: 'reject: connections fail at once (TCP reset); drop: they time out',
    },
  ],
  preflight: async (ctx, params, target) => [
    ...paramProblems(params, () => {
      if (peersOf(params, 'dependency').length === 0) throw new Error('--dependency is required');
    }),
    ...(await podPreflight(ctx, target)),
  ],
  plan: (params, target) => [
    `${params.mode === 'drop' ? 'drop' : 'reject'} egress of ${podNames(target)} to ${peersOf(
      params,
      'dependency',
    )
      .map((p) => p.cidr + (p.port ? `:${p.port}` : ''))
      .join(', ')}`,
  ],
  inject: (ctx, params, target, durationMs) => {
    const peers = peersOf(params, 'dependency');
    // A reset needs TCP: a peer without a port gets `-p tcp` here, one with a port has it.
    const action = (p: Peer) =>
      params.mode === 'drop'
        ? ['-j', 'DROP']
        : [
            ...(p.port === undefined ? ['-p', 'tcp'] : []),
            '-j',
            'REJECT',
            '--reject-with',
            'tcp-reset',
          ];
    const t = token();
    const c: ChainArgs = {
      table: 'filter',
      chain: chain('D', t, 'OUT'),
      hooks: [{ parent: 'OUTPUT' }],
      rules: [
        ...peers.map((p) => [...peerMatch(p, 'out'), ...action(p)]),
        // UDP to the dependency (no reset for it): dropped in either mode.
        ...(params.mode === 'drop'
          ? []
          : peers.map((p) => [
              ...['-d', p.cidr, '-p', 'udp'],
              ...(p.port ? ['--dport', String(p.port)] : []),
              ...['-j', 'DROP'],
            ])),
      ],
    };
    return injectNodeFault(
      ctx,
      'dependency-down',
      target,
      opsFor(target, 'iptables-chain', [c]),
      durationMs,
      dependencyDown.plan(params, target).join('; '),
    );
  },
};

/** A proxy op: the agent's proxy on a free port of the pod, fed by REDIRECT. */
export function proxyArgs(
  tag: string,
  direction: 'inbound' | 'outbound',
  port: number,
  peer: Peer | undefined,
  cfg: Omit<ProxyConfig, 'listen' | 'upstream'>,
): ProxyArgs {
  const t = token();
  const listen = randomInt(39000, 39999);
  const redirect: ChainArgs =
    direction === 'inbound'
      ? {
          table: 'nat',
          chain: chain(tag, t, 'IN'),
          hooks: [{ parent: 'PREROUTING', match: ['-p', 'tcp'] }],
          rules: [
            ['-p', 'tcp', '--dport', String(port), '-j', 'REDIRECT', '--to-ports', String(listen)],
          ],
        }
      : {
          table: 'nat',
          chain: chain(tag, t, 'OUT'),
          hooks: [{ parent: 'OUTPUT', match: ['-p', 'tcp'] }],
          rules: [
            [
              '-p',
              'tcp',
              '-d',
              peer!.cidr,
              '--dport',
              String(peer!.port),
              '-m',
              'owner',
              '!',
              '--uid-owner',
              String(PROXY_UID),
              '-j',
              'REDIRECT',
              '--to-ports',
              String(listen),
            ],
          ],
        };
  // Connections that did not come through the redirect (open before it, or first seen by
  // conntrack from the other end) are reset by a filter rule on the original port, so they
  // come back through the proxy (agent/ops/http.ts).
  const guard: ChainArgs =
    direction === 'inbound'
      ? {
          table: 'filter',
          chain: chain(tag, t, 'GIN'),
          hooks: [{ parent: 'INPUT', match: ['-p', 'tcp'] }],
          rules: [['!', '-i', 'lo', '-p', 'tcp', '--dport', String(port), ...RESET]],
        }
      : {
          table: 'filter',
          chain: chain(tag, t, 'GOUT'),
          hooks: [{ parent: 'OUTPUT', match: ['-p', 'tcp'] }],
          rules: [
            [
              ...['-p', 'tcp', '-d', peer!.cidr, '--dport', String(peer!.port)],
              ...['-m', 'owner', '!', '--uid-owner', String(PROXY_UID), ...RESET],
            ],
          ],
        };
  return {
    token: t,
    guard,
    ...(direction === 'outbound' ? { existing: { dst: peer!.cidr, dport: peer!.port! } } : {}),
    proxy: {
      ...cfg,
      listen,
      upstream:
        direction === 'inbound'
          ? { host: '127.0.0.1', port }
          : { host: peer!.cidr, port: peer!.port! },
    },
    redirect,
  };
}

const delay: FaultDefinition = {
  kind: 'network-delay',
  family: 'network',
  summary:
    "add latency: inbound to the service's port, or outbound to a peer host:port (user-space proxy)",
  needsHelper: true,
  params: [
    {
      name: 'latency',
      type: 'duration',
      required: true,
      description: 'added to every request (one way)',
    },
    { name: 'jitter', type: 'duration', default: 0, description: 'latency varies by up to ± this' },
    {
      name: 'direction',
      type: 'string',
      enum: ['inbound', 'outbound'],
      default: 'inbound',
      description: "inbound: to the service's port; outbound: to --peer",
    },
    {
      name: 'port',
      type: 'number',
      min: 1,
      max: 65535,
      description: "inbound: the pod's port (default the service's first)",
    },
    { name: 'peer', type: 'string', description: 'outbound: IPv4 address:port the pods talk to' },
  ],
  preflight: async (ctx, params, target) => [
    ...(typeof params.latency === 'number' && params.latency > 0
      ? []
      : ['--latency must be above 0']),
    ...paramProblems(params, () => {
      if (params.direction === 'outbound') {
        const p = parsePeer(String(params.peer ?? ''));
        if (!p.port || p.cidr.includes('/')) throw new Error('--peer must be an address:port');
      } else servicePort(ctx, params);
    }),
    ...(await podPreflight(ctx, target)),
  ],
  plan: (params, target) => [
    `delay ${params.direction === 'outbound' ? `connections to ${String(params.peer)}` : `inbound connections to port ${typeof params.port === 'number' ? params.port : "the service's port"}`} of ${podNames(target)} by ${Number(params.latency)}ms` +
      `${Number(params.jitter ?? 0) ? ` ± ${Number(params.jitter)}ms` : ''} (proxy in the pod's network namespace)`,
  ],
  inject: (ctx, params, target, durationMs) => {
    const dir = params.direction === 'outbound' ? 'outbound' : 'inbound';
    const peer = dir === 'outbound' ? parsePeer(String(params.peer)) : undefined;
    const args = proxyArgs('N', dir, servicePort(ctx, params), peer, {
      mode: 'tcp',
      latencyMs: Number(params.latency),
      jitterMs: Number(params.jitter ?? 0),
    });
    const plan = delay.plan({ ...params, port: servicePort(ctx, params) }, target).join('; ');
    return injectNodeFault(
      ctx,
      'network-delay',
      target,
      opsFor(target, 'proxy', [args]),
      durationMs,
      plan,
    );
  },
};

export const networkFaults: FaultDefinition[] = [partition, loss, bandwidth, dependencyDown, delay];
