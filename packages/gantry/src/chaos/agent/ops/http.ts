// The proxy op: the agent's delay/HTTP proxy (agent/proxy.ts) as a child of the
// helper inside the pod's network namespace, fed by a dedicated nat chain with
// REDIRECT (network.ts' chain helpers). Its own connections are exempt from the
// redirect by its uid (PROXY_UID, `-m owner ! --uid-owner`). A proxy a force-deleted
// helper left is found by its command line.
//
// NAT applies to a connection's first packet only (its conntrack entry's first), so a
// connection open before the REDIRECT (a gateway's or client's kept-alive pool), or one
// whose first packet conntrack saw came from the pod (an answer in flight when the rule
// went in), keeps reaching the service directly for as long as it lives. The guard, a
// filter chain beside the redirect, resets every such connection on its next packet: a
// packet that still reaches the original port from outside the pod (inbound), or leaves
// for the peer from anyone but the proxy (outbound), did not come through the redirect.
// The client sees that connection reset once (a gateway answers that request 502 or, for
// an idempotent request, retries it on a new connection) and its next connection goes
// through the proxy. Outbound, the connections to the peer open before the fault are also
// destroyed (`ss -K`), so the peer hears of it too (see ProxyArgs.existing).
//
// Revert removes the guard, opens the redirect chain (a RETURN first: new connections go
// straight to the service again) without removing it yet, because a connection redirected
// to the proxy loses its NAT when the REDIRECT rule goes: its next packet meets a reset, and
// a client awaiting an answer on it hears nothing at all (measured: a kept-alive client
// hung). The proxy drains (agent/proxy.ts: each connection closed after its last answer),
// then the chain goes.
import { readFileSync, readdirSync } from 'node:fs';
import { opContext, stopChild } from '../context.js';
import type { AgentOp, OpContext } from '../op.js';
import { drainMs } from '../proxy.js';
import type { ProxyConfig } from '../proxy.js';
import type { ChainArgs } from './network.js';
import {
  applyChain,
  checkRules,
  hostNetworkReason,
  iptablesSnapshot,
  openChain,
  revertChain,
} from './network.js';

/** The uid the proxy runs as: `-m owner ! --uid-owner` exempts its own connections. */
export const PROXY_UID = 47474;

export interface ProxyArgs {
  /** Identifies the proxy's process (its command line) and names its chain. */
  token: string;
  proxy: ProxyConfig;
  redirect: ChainArgs;
  /** Resets connections on the redirected port that bypass the proxy (see above). */
  guard?: ChainArgs;
  /**
   * Outbound: the peer (address or CIDR, port) whose connections open before the fault are
   * destroyed once the redirect is in place (`ss -K`), which resets both ends; the guard
   * alone resets only the pod's end, and the peer (a database) would keep a dead
   * connection until its keepalive (2 h by Linux's default).
   */
  existing?: { dst: string; dport: number };
}

/** The local ports of the pod's established TCP connections to `e` (needs `ss`). */
async function openTo(
  ctx: OpContext,
  pid: number,
  e: { dst: string; dport: number },
): Promise<number[] | undefined> {
  const r = await ctx
    .run('ss', ['-Htn', 'state', 'established', 'dst', e.dst, 'dport', '=', `:${e.dport}`], {
      netnsPid: pid,
      allowFail: true,
      timeoutMs: 5000,
    })
    .catch(() => undefined);
  if (!r || r.code !== 0) return undefined;
  // Recv-Q Send-Q Local:Port Peer:Port
  return r.stdout
    .split('\n')
    .map((l) => Number(l.trim().split(/\s+/)[2]?.split(':').pop()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** Whether something listens on `port` in the network namespace of `pid`. */
function listening(pid: number, port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  for (const f of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${f}`, 'utf8');
    } catch {
      continue;
    }
    // local_address is the 2nd column; state 0A is LISTEN.
    if (
      text
        .split('\n')
        .some((l) => l.split(/\s+/)[2]?.endsWith(hex.trim()) && l.split(/\s+/)[4] === '0A')
    )
      return true;
  }
  return false;
}

const proxies = new Map<string, number>();

/** Kills proxies of this token that a previous helper left (its command line names the token). */
function killLeftProxies(token: string) {
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmd.includes('\0proxy\0') && cmd.includes(`"token":"${token}"`)) {
      try {
        process.kill(Number(e), 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

const proxyOp: AgentOp = {
  name: 'proxy',
  async check(ctx, t, args) {
    const a = args as unknown as ProxyArgs;
    const out = [...hostNetworkReason(t), ...(await checkRules(ctx, t, a.redirect))];
    if (a.guard) out.push(...(await checkRules(ctx, t, a.guard)));
    if (listening(t.sandboxPid, a.proxy.listen))
      out.push(`port ${a.proxy.listen} is taken in the pod; the proxy cannot listen there`);
    return out;
  },
  async apply(ctx, t, args) {
    const a = args as unknown as ProxyArgs;
    const cfg = JSON.stringify({ ...a.proxy, token: a.token });
    const pid = opContext.spawnAs(
      process.execPath,
      [process.argv[1]!, 'proxy', cfg],
      t.sandboxPid,
      PROXY_UID,
    );
    proxies.set(a.token, pid);
    // Listening within 5 s, else the start failed (its log says why).
    const deadline = Date.now() + 5000;
    while (!listening(t.sandboxPid, a.proxy.listen)) {
      if (Date.now() > deadline)
        throw new Error(`the proxy did not listen on ${a.proxy.listen} within 5 s`);
      await new Promise((r) => setTimeout(r, 25));
    }
    // Listed before the redirect: any connection to the peer after it is the proxy's own.
    const before = a.existing ? await openTo(ctx, t.sandboxPid, a.existing) : [];
    await applyChain(ctx, t, a.redirect);
    if (a.existing && !before)
      ctx.log(
        'proxy: no ss in the helper image: connections open before the fault are reset at the pod only',
      );
    for (const port of before ?? []) {
      const e = a.existing!;
      const r = await ctx.run(
        'ss',
        ['-K', '-Htn', 'state', 'established', 'dst', e.dst, 'dport', '=', `:${e.dport}`]
          // and from that local port: the proxy's own connections are left alone
          .concat(['sport', '=', `:${port}`]),
        { netnsPid: t.sandboxPid, allowFail: true, timeoutMs: 5000 },
      );
      if (r.code !== 0)
        ctx.log(
          `proxy: ss -K of the connection from :${port}: ${r.stderr.trim() || `exit ${r.code}`}`,
        );
    }
    if (before?.length)
      ctx.log(`proxy: ${before.length} connection(s) open before the fault destroyed`);
    // After the destroys: their resets to the peer would otherwise meet the guard's REJECT.
    if (a.guard) await applyChain(ctx, t, a.guard);
  },
  async revert(ctx, t, args) {
    const a = args as unknown as ProxyArgs;
    // New connections go straight to the service again; those through the proxy are
    // drained (closed after their last answer, while their NAT still holds), then the
    // redirect goes.
    if (a.guard) await revertChain(ctx, t, a.guard);
    await openChain(ctx, t, a.redirect);
    const pid = proxies.get(a.token);
    if (pid !== undefined) await stopChild(pid, drainMs(a.proxy) + 500);
    proxies.delete(a.token);
    killLeftProxies(a.token);
    await revertChain(ctx, t, a.redirect);
  },
  snapshot: iptablesSnapshot,
};

export const httpOps: AgentOp[] = [proxyOp];
