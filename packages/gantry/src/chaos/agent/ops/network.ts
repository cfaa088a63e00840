// Network ops, all inside the pod sandbox's network namespace (nsenter --net=
// /proc/<pause pid>/ns/net), so they hold while a container restarts and revert
// through the same namespace:
//   iptables-chain  a dedicated chain per fault (rules chosen by the fault) and a
//                   jump to it from a built-in chain; revert deletes the jumps,
//                   flushes and deletes the chain: exactly what was added goes.
//   tc-tbf          a token bucket on eth0's egress, or on ingress through an ifb
//                   device (ingress qdisc + mirred redirect); refused when eth0
//                   already has a qdisc of its own there (nothing to restore over).
// (The proxy op, fed by an iptables-chain in the nat table, is in http.ts.)
import type { AgentOp, OpContext, OpTarget } from '../op.js';
import { inHostNetwork } from '../target.js';

export interface ChainArgs {
  table: 'filter' | 'nat' | 'mangle';
  /** Dedicated chain name (≤ 28 chars), unique per fault. */
  chain: string;
  /** Built-in chains that jump to it, each with the jump's own match (e.g. ["-p","tcp"]). */
  hooks: { parent: string; match?: string[] }[];
  /** Rules appended to the chain, as iptables arguments after `-A CHAIN`. */
  rules: string[][];
}

export interface TbfArgs {
  direction: 'egress' | 'ingress';
  dev: string;
  /** tc rate, e.g. "1mbit". */
  rate: string;
  /** Bucket size, e.g. "32kb". */
  burst: string;
  /** Queue limit by latency, e.g. "400ms". */
  latency: string;
  /** The ifb device for ingress (≤ 15 chars), unique per fault. */
  ifb?: string;
}

function ipt(ctx: OpContext, pid: number, table: string, args: string[], allowFail = false) {
  return ctx.run('iptables', ['-w', '5', '-t', table, ...args], { netnsPid: pid, allowFail });
}

async function chainExists(ctx: OpContext, pid: number, a: ChainArgs) {
  return (await ipt(ctx, pid, a.table, ['-S', a.chain], true)).code === 0;
}

export function hostNetworkReason(t: OpTarget): string[] {
  return inHostNetwork(t.sandboxPid)
    ? ['the pod uses the node network (hostNetwork): a network fault would hit the node']
    : [];
}

/** Whether the kernel takes the rules: a scratch chain nothing jumps to, created and removed. */
export async function checkRules(ctx: OpContext, t: OpTarget, a: ChainArgs): Promise<string[]> {
  const scratch = `GTYCHK-${process.pid}`;
  const out: string[] = [];
  const made = await ipt(ctx, t.sandboxPid, a.table, ['-N', scratch], true);
  if (made.code !== 0) return [`iptables ${a.table} table: ${made.stderr.trim()}`];
  try {
    for (const r of a.rules) {
      const res = await ipt(ctx, t.sandboxPid, a.table, ['-A', scratch, ...r], true);
      if (res.code !== 0)
        out.push(
          `the node's kernel does not take "iptables -t ${a.table} ${r.join(' ')}": ${res.stderr.trim()}`,
        );
    }
  } finally {
    await ipt(ctx, t.sandboxPid, a.table, ['-F', scratch], true);
    await ipt(ctx, t.sandboxPid, a.table, ['-X', scratch], true);
  }
  if (await chainExists(ctx, t.sandboxPid, a)) out.push(`chain ${a.chain} exists already`);
  return out;
}

export async function applyChain(ctx: OpContext, t: OpTarget, a: ChainArgs) {
  const pid = t.sandboxPid;
  await ipt(ctx, pid, a.table, ['-N', a.chain]);
  for (const r of a.rules) await ipt(ctx, pid, a.table, ['-A', a.chain, ...r]);
  for (const h of a.hooks)
    await ipt(ctx, pid, a.table, ['-I', h.parent, '1', ...(h.match ?? []), '-j', a.chain]);
}

/**
 * Makes the chain let everything through (a RETURN before its rules) while it stays in
 * place: in the nat table new connections are no longer redirected, and those redirected
 * before keep their NAT (removing the rule would end it). revertChain removes it all.
 */
export async function openChain(ctx: OpContext, t: OpTarget | undefined, a: ChainArgs) {
  if (!t) return;
  await ipt(ctx, t.sandboxPid, a.table, ['-I', a.chain, '1', '-j', 'RETURN'], true);
}

export async function revertChain(ctx: OpContext, t: OpTarget | undefined, a: ChainArgs) {
  if (!t) return; // the pod (and its network namespace) is gone
  const pid = t.sandboxPid;
  for (const h of a.hooks) {
    // Every copy of the jump (bounded: a jump is added once per hook).
    for (let i = 0; i < 8; i++) {
      const del = await ipt(
        ctx,
        pid,
        a.table,
        ['-D', h.parent, ...(h.match ?? []), '-j', a.chain],
        true,
      );
      if (del.code !== 0) break;
    }
  }
  if (!(await chainExists(ctx, pid, a))) return;
  await ipt(ctx, pid, a.table, ['-F', a.chain]);
  await ipt(ctx, pid, a.table, ['-X', a.chain]);
}

export async function iptablesSnapshot(ctx: OpContext, t: OpTarget): Promise<string> {
  const out: string[] = [];
  for (const table of ['filter', 'nat', 'mangle', 'raw']) {
    const r = await ctx.run('iptables-save', ['-t', table], {
      netnsPid: t.sandboxPid,
      allowFail: true,
    });
    out.push(r.stdout.replace(/^#.*\n/gm, '').replace(/\[\d+:\d+\]/g, '[0:0]'));
  }
  return out.join('');
}

const chainOp: AgentOp = {
  name: 'iptables-chain',
  async check(ctx, t, args) {
    return [...hostNetworkReason(t), ...(await checkRules(ctx, t, args as unknown as ChainArgs))];
  },
  apply: (ctx, t, args) => applyChain(ctx, t, args as unknown as ChainArgs),
  revert: (ctx, t, args) => revertChain(ctx, t, args as unknown as ChainArgs),
  snapshot: iptablesSnapshot,
};

async function qdiscs(ctx: OpContext, pid: number, dev: string): Promise<string> {
  return (await ctx.run('tc', ['qdisc', 'show', 'dev', dev], { netnsPid: pid })).stdout;
}

/** Qdiscs a fresh veth has, which `tc qdisc del` gives back. */
const DEFAULT_ROOT = /^qdisc (noqueue|pfifo_fast|mq) /;

const tbfOp: AgentOp = {
  name: 'tc-tbf',
  async check(ctx, t, args) {
    const a = args as unknown as TbfArgs;
    const out = hostNetworkReason(t);
    const shown = await ctx.run('tc', ['qdisc', 'show', 'dev', a.dev], {
      netnsPid: t.sandboxPid,
      allowFail: true,
    });
    if (shown.code !== 0) return [...out, `no device ${a.dev} in the pod: ${shown.stderr.trim()}`];
    const lines = shown.stdout.split('\n').filter(Boolean);
    if (a.direction === 'egress') {
      const root = lines.find((l) => / root /.test(l));
      if (root && !DEFAULT_ROOT.test(root))
        out.push(`${a.dev} has a root qdisc of its own (${root.trim()}); not replacing it`);
    } else if (lines.some((l) => /^qdisc (ingress|clsact) /.test(l))) {
      out.push(`${a.dev} has an ingress qdisc of its own; not replacing it`);
    }
    // The kernel must have tbf (and for ingress ifb): tried on a scratch ifb device,
    // made and removed again.
    const scratch = `gtychk${process.pid % 100000}`;
    const made = await ctx.run('ip', ['link', 'add', scratch, 'type', 'ifb'], {
      netnsPid: t.sandboxPid,
      allowFail: true,
    });
    if (made.code !== 0) {
      out.push(`cannot create an ifb device: ${made.stderr.trim()}`);
      return out;
    }
    const tbf = await ctx.run(
      'tc',
      [
        'qdisc',
        'add',
        'dev',
        scratch,
        'root',
        'tbf',
        'rate',
        a.rate,
        'burst',
        a.burst,
        'latency',
        a.latency,
      ],
      { netnsPid: t.sandboxPid, allowFail: true },
    );
    if (tbf.code !== 0) out.push(`the node's kernel has no tbf qdisc: ${tbf.stderr.trim()}`);
    await ctx.run('ip', ['link', 'del', scratch], { netnsPid: t.sandboxPid, allowFail: true });
    return out;
  },
  async apply(ctx, t, args) {
    const a = args as unknown as TbfArgs;
    const pid = t.sandboxPid;
    const tbf = ['tbf', 'rate', a.rate, 'burst', a.burst, 'latency', a.latency];
    if (a.direction === 'egress') {
      await ctx.run('tc', ['qdisc', 'add', 'dev', a.dev, 'root', ...tbf], { netnsPid: pid });
      return;
    }
    const ifb = a.ifb!;
    await ctx.run('ip', ['link', 'add', ifb, 'type', 'ifb'], { netnsPid: pid });
    await ctx.run('ip', ['link', 'set', ifb, 'up'], { netnsPid: pid });
    await ctx.run('tc', ['qdisc', 'add', 'dev', ifb, 'root', ...tbf], { netnsPid: pid });
    await ctx.run('tc', ['qdisc', 'add', 'dev', a.dev, 'handle', 'ffff:', 'ingress'], {
      netnsPid: pid,
    });
    await ctx.run(
      'tc',
      [
        'filter',
        'add',
        'dev',
        a.dev,
        'parent',
        'ffff:',
        'protocol',
        'all',
        'u32',
        'match',
        'u32',
        '0',
        '0',
        'action',
        'mirred',
        'egress',
        'redirect',
        'dev',
        ifb,
      ],
      { netnsPid: pid },
    );
  },
  async revert(ctx, t, args) {
    if (!t) return;
    const a = args as unknown as TbfArgs;
    const pid = t.sandboxPid;
    const shown = await qdiscs(ctx, pid, a.dev).catch(() => '');
    if (a.direction === 'egress') {
      if (/^qdisc tbf .* root /m.test(shown))
        await ctx.run('tc', ['qdisc', 'del', 'dev', a.dev, 'root'], { netnsPid: pid });
      return;
    }
    if (/^qdisc ingress /m.test(shown))
      await ctx.run('tc', ['qdisc', 'del', 'dev', a.dev, 'handle', 'ffff:', 'ingress'], {
        netnsPid: pid,
      });
    await ctx.run('ip', ['link', 'del', a.ifb!], { netnsPid: pid, allowFail: true });
  },
  async snapshot(ctx, t) {
    return (await ctx.run('tc', ['qdisc', 'show'], { netnsPid: t.sandboxPid })).stdout;
  },
};

export const networkOps: AgentOp[] = [chainOp, tbfOp];
