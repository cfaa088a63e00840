// DNS ops: the `dns-responder` op puts a tiny DNS responder (this file, run as its own
// node process) into the pod sandbox's network namespace and sends the pod's DNS queries
// to it with an iptables nat REDIRECT in a chain of its own (network.ts' chain helpers):
// queries to the cluster DNS address(es) on udp and tcp port 53 go to 127.0.0.1:<listen>.
// A query whose name matches one of the patterns is answered SERVFAIL or NXDOMAIN, or
// dropped (no answer: the resolver times out); every other query is forwarded unchanged to
// the cluster DNS and its answer relayed. The responder runs as DNS_UID, and the redirect
// exempts that uid (`-m owner ! --uid-owner`), so its own upstream queries leave as usual.
//
// Revert removes the redirect first (queries go straight to the cluster DNS again), then
// stops the responder; one a force-deleted helper left is found by its command line (and
// exits by itself once its parent, the agent, is gone). conntrack entries of the pod's
// queries to the cluster DNS are dropped at both ends when `conntrack` is there, so a
// client that reuses its socket is not held on the old path.
//
//   node dns.js gantry-dns-responder CONFIG_JSON    the responder (runResponder)
//
// node: built-ins only (the agent runs without node_modules).
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { readFileSync, readdirSync, realpathSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { opContext, stopChild } from '../context.js';
import type { AgentOp, OpContext, OpTarget } from '../op.js';
import type { ChainArgs } from './network.js';
import {
  applyChain,
  checkRules,
  hostNetworkReason,
  iptablesSnapshot,
  revertChain,
} from './network.js';

/** The uid the responder runs as: the redirect exempts its own (upstream) queries. */
export const DNS_UID = 47475;
/** argv[2] of a responder process (and how a left one is found). */
export const RESPONDER_ARG = 'gantry-dns-responder';

export type DnsAction = 'servfail' | 'nxdomain' | 'drop';

export interface DnsResponderConfig {
  /** Identifies the responder's process (its command line) and the fault. */
  token: string;
  /** Port on 127.0.0.1 (udp and tcp) in the pod's network namespace. */
  listen: number;
  /** The cluster DNS addresses (port 53) the pod's queries are for; the others go there. */
  upstream: string[];
  /** Names (case-insensitive, no trailing dot) or globs: `*` any characters, `?` one. */
  patterns: string[];
  action: DnsAction;
}

export interface DnsArgs {
  responder: DnsResponderConfig;
  /**
   * nat chain hooked into OUTPUT: per cluster DNS address and protocol (udp, tcp), `-d IP/32
   * -p PROTO --dport 53 -m owner ! --uid-owner DNS_UID -j REDIRECT --to-ports LISTEN`.
   */
  redirect: ChainArgs;
}

// ---- DNS messages ------------------------------------------------------------------

export const RCODE = { servfail: 2, nxdomain: 3 } as const;

/** A glob (`*` any characters, dots included; `?` one) as an anchored, case-insensitive RegExp. */
export function patternRegExp(pattern: string): RegExp {
  const p = pattern.trim().toLowerCase().replace(/\.$/, '');
  const body = p
    .replace(/[.+^${}()|[\]\\/]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** The question's name (lower case, no trailing dot) and where the question ends, if one. */
export function parseQuestion(msg: Buffer): { name: string; end: number } | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return undefined;
  let i = 12;
  const labels: string[] = [];
  // At most 127 labels fit a 255-byte name.
  for (let n = 0; n < 128; n++) {
    const len = msg[i];
    if (len === undefined) return undefined;
    if (len === 0) {
      i += 1;
      if (i + 4 > msg.length) return undefined;
      return { name: labels.join('.').toLowerCase(), end: i + 4 };
    }
    // A compression pointer (or a reserved label type) in a question: not from a stub resolver.
    if ((len & 0xc0) !== 0 || i + 1 + len > msg.length) return undefined;
    labels.push(msg.toString('latin1', i + 1, i + 1 + len));
    i += 1 + len;
  }
  return undefined;
}

/** An answer to `query` with only its question and `rcode`: QR, RA, the query's opcode and RD. */
export function errorReply(query: Buffer, questionEnd: number, rcode: number): Buffer {
  const out = Buffer.from(query.subarray(0, questionEnd));
  const flags = query.readUInt16BE(2);
  out.writeUInt16BE(0x8000 | (flags & 0x7900) | 0x0080 | (rcode & 0x0f), 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}

/**
 * What the responder does with one query: an answer to send now, 'drop', or 'forward'.
 * A query it cannot read is forwarded (the cluster DNS answers it as it would have).
 */
export function decide(
  query: Buffer,
  patterns: RegExp[],
  action: DnsAction,
): { reply: Buffer; name: string } | { drop: true; name: string } | { forward: true } {
  const q = parseQuestion(query);
  if (!q || !patterns.some((p) => p.test(q.name))) return { forward: true };
  if (action === 'drop') return { drop: true, name: q.name };
  return { reply: errorReply(query, q.end, RCODE[action]), name: q.name };
}

// ---- the responder process -----------------------------------------------------------

const FORWARD_TIMEOUT_MS = 5000;
const MAX_INFLIGHT = 512;
const MAX_TCP = 128;
const TCP_IDLE_MS = 30_000;

/** Runs the responder until SIGTERM or until its parent (the agent) is gone. */
export function runResponder(cfg: DnsResponderConfig): void {
  const log = (m: string) => process.stdout.write(`${new Date().toISOString()} dns: ${m}\n`);
  const patterns = cfg.patterns.map(patternRegExp);
  const counts = { matched: 0, forwarded: 0, upstreamFailed: 0 };
  let next = 0;
  const upstream = () => cfg.upstream[next++ % cfg.upstream.length]!;
  const inflight = new Set<Socket>();

  /** Forwards one query over udp; `answer` gets the upstream's reply (not called on a timeout). */
  const forwardUdp = (query: Buffer, answer: (m: Buffer) => void) => {
    if (inflight.size >= MAX_INFLIGHT) {
      counts.upstreamFailed++;
      return;
    }
    const s = createSocket('udp4');
    inflight.add(s);
    const done = () => {
      clearTimeout(timer);
      if (inflight.delete(s)) s.close();
    };
    const timer = setTimeout(() => {
      counts.upstreamFailed++;
      done();
    }, FORWARD_TIMEOUT_MS);
    s.on('message', (m) => {
      if (m.length >= 2 && m.readUInt16BE(0) === query.readUInt16BE(0)) {
        answer(m);
        done();
      }
    });
    s.on('error', () => {
      counts.upstreamFailed++;
      done();
    });
    s.send(query, 53, upstream());
  };

  /** Forwards one query over tcp (length-prefixed); `answer` gets the reply. */
  const forwardTcp = (query: Buffer, answer: (m: Buffer) => void) => {
    const c = net.connect({ host: upstream(), port: 53 });
    let buf = Buffer.alloc(0);
    c.setTimeout(FORWARD_TIMEOUT_MS, () => {
      counts.upstreamFailed++;
      c.destroy();
    });
    c.on('connect', () => c.write(Buffer.concat([u16(query.length), query])));
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        answer(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        c.end();
      }
    });
    c.on('error', () => {
      counts.upstreamFailed++;
      c.destroy();
    });
  };

  const handle = (query: Buffer, answer: (m: Buffer) => void, forward: typeof forwardUdp) => {
    const d = decide(query, patterns, cfg.action);
    if ('forward' in d) {
      counts.forwarded++;
      forward(query, answer);
      return;
    }
    counts.matched++;
    if ('reply' in d) answer(d.reply);
  };

  const udp = createSocket('udp4');
  udp.on('message', (m: Buffer, from: RemoteInfo) =>
    handle(m, (r) => udp.send(r, from.port, from.address), forwardUdp),
  );
  udp.on('error', (err) => {
    log(`udp 127.0.0.1:${cfg.listen}: ${err.message}`);
    process.exit(1);
  });
  udp.bind(cfg.listen, '127.0.0.1');

  const tcp = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      // Every complete message in the buffer (each at least 2 bytes long: bounded).
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        handle(
          Buffer.from(msg),
          (r) => {
            if (!sock.destroyed) sock.write(Buffer.concat([u16(r.length), r]));
          },
          forwardTcp,
        );
      }
    });
  });
  tcp.maxConnections = MAX_TCP;
  tcp.on('error', (err) => {
    log(`tcp 127.0.0.1:${cfg.listen}: ${err.message}`);
    process.exit(1);
  });
  tcp.listen(cfg.listen, '127.0.0.1', () =>
    log(
      `127.0.0.1:${cfg.listen} (udp, tcp): ${cfg.action} for ${cfg.patterns.join(', ')}; ` +
        `others to ${cfg.upstream.join(', ')}:53`,
    ),
  );

  let last = '';
  const parent = process.ppid;
  setInterval(() => {
    const now = JSON.stringify(counts);
    if (now !== last)
      log(
        `${cfg.action} ${counts.matched}, forwarded ${counts.forwarded}, upstream failed ${counts.upstreamFailed}`,
      );
    last = now;
    if (process.ppid !== parent) {
      log('agent gone; exiting');
      process.exit(0);
    }
  }, 300).unref();
  const stop = () => {
    udp.close();
    tcp.close();
    for (const s of inflight) s.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};

// ---- the op --------------------------------------------------------------------------

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The nameservers of the pod's /etc/resolv.conf (the sandbox has the kubelet's file too). */
export function podNameservers(t: OpTarget): string[] | undefined {
  const text =
    read(`/proc/${t.sandboxPid}/root/etc/resolv.conf`) ??
    (t.containerPid === undefined
      ? undefined
      : read(`/proc/${t.containerPid}/root/etc/resolv.conf`));
  if (text === undefined) return undefined;
  return text
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined);
}

/** Whether something holds `port` on udp or tcp in the network namespace of `pid`. */
function portUse(pid: number, port: number): { udp: boolean; tcp: boolean } {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const used = (f: string, state?: string) =>
    (read(`/proc/${pid}/net/${f}`) ?? '')
      .split('\n')
      .slice(1)
      .some((l) => {
        const cols = l.trim().split(/\s+/);
        return cols[1]?.endsWith(hex) === true && (state === undefined || cols[3] === state);
      });
  return { udp: used('udp') || used('udp6'), tcp: used('tcp', '0A') || used('tcp6', '0A') };
}

const responders = new Map<string, number>();

/** Responders of this token that a previous helper left (found by their command line). */
function killLeftResponders(token: string): void {
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const cmd = read(`/proc/${e}/cmdline`) ?? '';
    if (cmd.includes(`\0${RESPONDER_ARG}\0`) && cmd.includes(`"token":"${token}"`)) {
      try {
        process.kill(Number(e), 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

/** Drops conntrack entries of the pod's queries to the cluster DNS (best effort). */
async function forgetFlows(ctx: OpContext, t: OpTarget, a: DnsArgs): Promise<void> {
  for (const ip of a.responder.upstream)
    for (const proto of ['udp', 'tcp']) {
      const r = await ctx.run(
        'conntrack',
        ['-D', '-p', proto, '--orig-dst', ip, '--orig-port-dst', '53'],
        { netnsPid: t.sandboxPid, allowFail: true, timeoutMs: 5000 },
      );
      // "0 flow entries have been deleted" (exit 1) is the usual case; no conntrack program
      // (empty stderr) leaves the entries to expire.
      if (r.code !== 0 && r.stderr.trim() !== '' && !/0 flow entries/.test(r.stderr))
        ctx.log(`conntrack -D ${proto} ${ip}:53: ${r.stderr.trim()}`);
    }
}

const thisFile = fileURLToPath(import.meta.url);

const responderOp: AgentOp = {
  name: 'dns-responder',
  async check(ctx, t, args) {
    const a = args as unknown as DnsArgs;
    const out = hostNetworkReason(t);
    const servers = podNameservers(t);
    if (servers === undefined) out.push("cannot read the pod's /etc/resolv.conf on the node");
    else if (!servers.some((s) => a.responder.upstream.includes(s)))
      out.push(
        `the pod's /etc/resolv.conf names ${servers.length ? `nameserver ${servers.join(', ')}` : 'no nameserver'}, ` +
          `not the cluster DNS (${a.responder.upstream.join(', ')}): the pod does not use the cluster DNS ` +
          '(dnsPolicy, or a kubelet without clusterDNS), so a DNS fault would have nothing to act on',
      );
    const used = portUse(t.sandboxPid, a.responder.listen);
    if (used.udp || used.tcp)
      out.push(
        `port ${a.responder.listen} is taken in the pod; the DNS responder cannot listen there`,
      );
    out.push(...(await checkRules(ctx, t, a.redirect)));
    return out;
  },
  async apply(ctx, t, args) {
    const a = args as unknown as DnsArgs;
    const pid = opContext.spawnAs(
      process.execPath,
      [thisFile, RESPONDER_ARG, JSON.stringify(a.responder)],
      t.sandboxPid,
      DNS_UID,
    );
    responders.set(a.responder.token, pid);
    // Listening on udp and tcp within 5 s, else the start failed (its log says why).
    const deadline = Date.now() + 5000;
    for (;;) {
      const used = portUse(t.sandboxPid, a.responder.listen);
      if (used.udp && used.tcp) break;
      if (Date.now() > deadline)
        throw new Error(`the DNS responder did not listen on ${a.responder.listen} within 5 s`);
      await new Promise((r) => setTimeout(r, 25));
    }
    await applyChain(ctx, t, a.redirect);
    await forgetFlows(ctx, t, a);
  },
  async revert(ctx, t, args) {
    const a = args as unknown as DnsArgs;
    // Queries first go straight to the cluster DNS again, then the responder stops.
    await revertChain(ctx, t, a.redirect);
    const pid = responders.get(a.responder.token);
    if (pid !== undefined) await stopChild(pid);
    responders.delete(a.responder.token);
    killLeftResponders(a.responder.token);
    if (t) await forgetFlows(ctx, t, a);
  },
  snapshot: iptablesSnapshot,
};

export const dnsOps: AgentOp[] = [responderOp];

// Run as a program: `node dns.js gantry-dns-responder CONFIG_JSON` (started by apply above).
const argv1 = process.argv[1];
if (process.argv[2] === RESPONDER_ARG && argv1 !== undefined && sameFile(argv1, thisFile))
  runResponder(JSON.parse(process.argv[3] ?? '{}') as DnsResponderConfig);

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}
