// The proxy op: the agent's delay/HTTP proxy (agent/proxy.ts) as a child of the
// helper inside the pod's network namespace, fed by a dedicated nat chain with
// REDIRECT (network.ts' chain helpers). Its own connections are exempt from the
// redirect by its uid (PROXY_UID, `-m owner ! --uid-owner`). Revert removes the
// redirect first (traffic goes straight to the service again), then stops the
// proxy; a proxy a force-deleted helper left is found by its command line.
//
// NAT applies to a connection's first packet only, so connections open before the
// REDIRECT (a gateway's or client's kept-alive pool) would bypass the proxy for as long
// as they live. Once the redirect is in place their conntrack entries in the pod's
// namespace are deleted (`conntrack -D` on the redirected port): the next packet of such
// a connection is picked up as new, meets the REDIRECT, reaches the proxy's port where
// no socket knows it, and is answered with a reset. The client sees that connection
// reset once (a gateway answers that request 502) and its next connection goes through
// the proxy. Without conntrack in the helper image this is logged, not silent.
import { readFileSync, readdirSync } from 'node:fs';
import { opContext, stopChild } from '../context.js';
import type { AgentOp, OpContext } from '../op.js';
import type { ProxyConfig } from '../proxy.js';
import type { ChainArgs } from './network.js';
import {
  applyChain,
  checkRules,
  hostNetworkReason,
  iptablesSnapshot,
  revertChain,
} from './network.js';

/** The uid the proxy runs as: `-m owner ! --uid-owner` exempts its own connections. */
export const PROXY_UID = 47474;

export interface ProxyArgs {
  /** Identifies the proxy's process (its command line) and names its chain. */
  token: string;
  proxy: ProxyConfig;
  redirect: ChainArgs;
  /**
   * conntrack filter (e.g. ["-p","tcp","--orig-port-dst","8080"]) of the connections the
   * redirect catches: their entries are deleted once it is in place, so connections
   * open before the fault are reset and come back through the proxy.
   */
  flush?: string[];
}

/** Deletes the conntrack entries `filter` matches in the pod's network namespace. */
async function flushConnections(ctx: OpContext, pid: number, filter: string[]): Promise<void> {
  const r = await ctx
    .run('conntrack', ['-D', ...filter], { netnsPid: pid, allowFail: true, timeoutMs: 5000 })
    .catch((err: unknown) => ({ code: 127, stdout: '', stderr: (err as Error).message }));
  // Exit 1 with "0 flow entries have been deleted" is the usual case with nothing open.
  const msg = (r.stderr || r.stdout).trim().split('\n').pop() ?? '';
  if (r.code === 0 || /0 flow entries/.test(msg)) ctx.log(`proxy: conntrack -D: ${msg}`);
  else
    ctx.log(
      `proxy: conntrack -D ${filter.join(' ')} failed (${msg || `exit ${r.code}`}): ` +
        'connections open before the fault keep bypassing the proxy until they close',
    );
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
    await applyChain(ctx, t, a.redirect);
    if (a.flush) await flushConnections(ctx, t.sandboxPid, a.flush);
  },
  async revert(ctx, t, args) {
    const a = args as unknown as ProxyArgs;
    // Traffic first goes back to the service, then the proxy stops.
    await revertChain(ctx, t, a.redirect);
    const pid = proxies.get(a.token);
    if (pid !== undefined) await stopChild(pid);
    proxies.delete(a.token);
    killLeftProxies(a.token);
  },
  snapshot: iptablesSnapshot,
};

export const httpOps: AgentOp[] = [proxyOp];
