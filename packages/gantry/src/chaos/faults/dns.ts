// DNS faults: the agent's DNS responder (agent/ops/dns.ts) in each chosen pod's network
// namespace, fed by an iptables nat REDIRECT of the pod's queries (udp and tcp port 53)
// to the cluster DNS. Queries for names matching --patterns fail; every other query is
// forwarded to the cluster DNS and answered as usual:
//   dns-error    answered SERVFAIL (--error servfail, the default) or NXDOMAIN
//   dns-timeout  dropped: the pod's resolver waits for its timeout
// A pattern is a name or a glob (`*` any characters, dots included; `?` one), matched
// case-insensitively against the name the pod asks for. Pods search their namespace
// first (ndots:5), so `db` is asked as db.NAMESPACE.svc.cluster.local, then
// db.svc.cluster.local, ...: `db.*` or the full name catches it.
//
// Refused before anything is touched, with the reason, when the cluster has no DNS
// (no Service kube-system/kube-dns), when a pod does not use it (dnsPolicy Default, None
// without it, hostNetwork) and, on the node, when the pod's /etc/resolv.conf does not
// name it (a kubelet without clusterDNS): never a fault that silently does nothing.
import { randomBytes, randomInt } from 'node:crypto';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import type { DnsAction, DnsArgs } from '../agent/ops/dns.js';
import type {
  FaultContext,
  FaultDefinition,
  FaultParam,
  FaultParams,
  ResolvedTarget,
} from '../fault.js';
import { injectNodeFault } from '../helper/inject.js';
import type { NodeUndo } from '../undo.js';
import { podPreflight } from './network.js';

/** The uid of the agent's DNS responder (agent/ops/dns.ts DNS_UID), exempt from its redirect. */
const DNS_UID = 47475;

/** Where the cluster DNS is: the conventional Service (CoreDNS and kube-dns both use it). */
export const CLUSTER_DNS_SERVICE = { namespace: 'kube-system', name: 'kube-dns' };

const patternsParam: FaultParam = {
  name: 'patterns',
  type: 'string[]',
  required: true,
  description:
    'names whose queries fail: exact names or globs (* any characters, ? one), e.g. "db.*", "*.example.com"',
};

export function patternsOf(params: FaultParams): string[] {
  const v = params.patterns;
  const list = Array.isArray(v) ? v : typeof v === 'string' && v ? v.split(',') : [];
  const out = list.map((p) => p.trim()).filter(Boolean);
  if (out.length === 0) throw new Error('--patterns: give at least one name or glob');
  for (const p of out)
    if (!/^[A-Za-z0-9_*?.-]+$/.test(p) || p.length > 253)
      throw new Error(`--patterns: "${p}" is not a DNS name or glob (letters, digits, - _ . * ?)`);
  return out;
}

/** The cluster DNS addresses, or the reason the cluster has none. */
export async function clusterDns(ctx: FaultContext): Promise<string[] | string> {
  const svc = await ctx.kube.get<V1Service>({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: CLUSTER_DNS_SERVICE,
  });
  const { namespace, name } = CLUSTER_DNS_SERVICE;
  if (!svc)
    return (
      `the cluster has no DNS: no Service ${namespace}/${name}, so pods resolve no names ` +
      'through it and a DNS fault would have nothing to act on'
    );
  const ips = (svc.spec?.clusterIPs ?? [svc.spec?.clusterIP]).filter(
    (ip): ip is string => typeof ip === 'string' && /^\d+\.\d+\.\d+\.\d+$/.test(ip),
  );
  if (ips.length === 0)
    return `the cluster DNS Service ${namespace}/${name} has no IPv4 ClusterIP to intercept`;
  return ips;
}

/** Why a pod would not query the cluster DNS at `ips`, from its spec; undefined: it does. */
function podDnsReason(pod: V1Pod, ips: string[]): string | undefined {
  const name = pod.metadata?.name ?? '?';
  const policy = pod.spec?.dnsPolicy ?? 'ClusterFirst';
  if (policy === 'Default')
    return `pod ${name} has dnsPolicy Default: it uses the node's resolver, not the cluster DNS`;
  if (policy === 'None' && !(pod.spec?.dnsConfig?.nameservers ?? []).some((s) => ips.includes(s)))
    return `pod ${name} has dnsPolicy None without the cluster DNS (${ips.join(', ')}) among its nameservers`;
  return undefined;
}

function dnsFault(
  kind: 'dns-error' | 'dns-timeout',
  summary: string,
  extra: FaultParam[],
  action: (params: FaultParams) => DnsAction,
): FaultDefinition {
  const what = (params: FaultParams) => {
    const a = action(params);
    return a === 'drop' ? 'drop DNS queries' : `answer ${a.toUpperCase()} to DNS queries`;
  };
  const plan = (params: FaultParams, target: ResolvedTarget, ips?: string[]) => [
    `${what(params)} for ${patternsOf(params).join(', ')} from ` +
      `${target.pods.map((p) => p.name).join(', ')}; other names forwarded to the cluster DNS` +
      `${ips ? ` ${ips.join(', ')}` : ''} (a DNS responder in the pod's network namespace)`,
  ];
  return {
    kind,
    family: 'dns',
    summary,
    needsHelper: true,
    params: [patternsParam, ...extra],
    preflight: async (ctx, params, target) => {
      const out: string[] = [];
      try {
        patternsOf(params);
        action(params);
      } catch (err) {
        out.push((err as Error).message);
      }
      const ips = await clusterDns(ctx);
      if (typeof ips === 'string') return [...out, ips];
      out.push(...(await podPreflight(ctx, target)));
      for (const p of target.pods) {
        const pod = await ctx.kube.get<V1Pod>({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: p.name, namespace: target.namespace },
        });
        const why = pod && podDnsReason(pod, ips);
        if (why) out.push(why);
      }
      return out;
    },
    plan: (params, target) => plan(params, target),
    inject: async (ctx, params, target, durationMs) => {
      const ips = await clusterDns(ctx);
      if (typeof ips === 'string') throw new Error(ips);
      const patterns = patternsOf(params);
      const ops: NodeUndo[] = target.pods.map((p) => {
        const token = randomBytes(3).toString('hex');
        const listen = randomInt(40000, 40999);
        const args: DnsArgs = {
          responder: { token, listen, upstream: ips, patterns, action: action(params) },
          redirect: {
            table: 'nat',
            chain: `GTY-DNS-${token}`,
            hooks: [{ parent: 'OUTPUT' }],
            rules: ips.flatMap((ip) =>
              ['udp', 'tcp'].map((proto) => [
                '-d',
                `${ip}/32`,
                '-p',
                proto,
                '--dport',
                '53',
                '-m',
                'owner',
                '!',
                '--uid-owner',
                String(DNS_UID),
                '-j',
                'REDIRECT',
                '--to-ports',
                String(listen),
              ]),
            ),
          },
        };
        return {
          op: 'dns-responder',
          podUid: p.uid,
          args: args as unknown as Record<string, unknown>,
        };
      });
      return injectNodeFault(
        ctx,
        kind,
        target,
        ops,
        durationMs,
        plan(params, target, ips).join('; '),
      );
    },
  };
}

export const dnsFaults: FaultDefinition[] = [
  dnsFault(
    'dns-error',
    'answer DNS queries for matching names with SERVFAIL or NXDOMAIN; other names resolve',
    [
      {
        name: 'error',
        type: 'string',
        enum: ['servfail', 'nxdomain'],
        default: 'servfail',
        description: 'the answer: SERVFAIL (server failure) or NXDOMAIN (no such name)',
      },
    ],
    (params) => {
      const e = String(params.error ?? 'servfail').toLowerCase();
      if (e !== 'servfail' && e !== 'nxdomain')
        throw new Error('--error must be servfail or nxdomain');
      return e;
    },
  ),
  dnsFault(
    'dns-timeout',
    'drop DNS queries for matching names (the resolver times out); other names resolve',
    [],
    () => 'drop',
  ),
];
