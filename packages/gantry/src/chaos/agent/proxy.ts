// The agent's user-space proxy, run (agent `proxy` mode) inside a pod's network
// namespace and fed by an iptables REDIRECT in the nat table. This kernel has
// no netem, so delay, HTTP errors and resets are made here:
//   tcp:  every chunk from the client is forwarded `latencyMs` (± jitter) late,
//         in order: a request-response exchange takes `latencyMs` longer.
//   http: an HTTP/1.1 proxy; a request whose path starts with one of `paths`
//         is, with probability `percent`, answered with `status`, reset
//         (TCP RST), or forwarded `delayMs` late. Other requests pass as they are,
//         and so do the kubelet's probes (User-Agent kube-probe/…) unless `probes`:
//         a failed readiness probe would take the pod out of its Service's endpoints
//         (clients would then see the other pods, not the fault) and a failed liveness
//         probe would restart the container.
// It exits when its parent (the agent) is gone, so it never outlives the helper.
//
// SIGTERM drains: the agent has already closed the redirect to new connections (connections
// through the proxy keep their NAT only while the redirect rule exists: removing it makes
// their next packet meet a reset, and a client awaiting an answer would never hear of it).
// So the proxy stops listening, closes each connection once it has nothing in flight (FIN,
// which still reaches the client through the NAT), and exits when none is left or after
// drainMs(cfg).
import http from 'node:http';
import net from 'node:net';

export interface ProxyConfig {
  mode: 'tcp' | 'http';
  /** Port it listens on (all addresses of the pod's network namespace). */
  listen: number;
  /** Where it forwards to. */
  upstream: { host: string; port: number };
  latencyMs?: number;
  jitterMs?: number;
  http?: {
    action: 'error' | 'delay' | 'abort';
    /** 0..100 */
    percent: number;
    /** Path prefixes; empty: every path. */
    paths: string[];
    status?: number;
    delayMs?: number;
    /** Fault the kubelet's probes too (default: they pass). */
    probes?: boolean;
  };
}

const log = (m: string) => process.stdout.write(`${new Date().toISOString()} proxy: ${m}\n`);

function watchParent(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) {
      log('agent gone; exiting');
      process.exit(0);
    }
  }, 300).unref();
}

/** The longest a drain waits for requests in flight: the added delay and 2 s for the service. */
export const drainMs = (cfg: ProxyConfig): number =>
  Math.min(10_000, (cfg.latencyMs ?? 0) + (cfg.jitterMs ?? 0) + (cfg.http?.delayMs ?? 0) + 2000);

/** A proxy server with the drain SIGTERM starts (see above). */
export interface Drainable {
  server: net.Server;
  /** Stops listening; resolves once every connection was closed after its last answer. */
  drain(): Promise<void>;
}

/**
 * Calls `closeDone` every 20 ms, the first time 20 ms from now (what a client had just sent
 * is read by then), until it says all are closed (true).
 */
function poll(closeDone: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const tick = () => (closeDone() ? resolve() : setTimeout(tick, 20));
    setTimeout(tick, 20);
  });
}

export function runProxy(cfg: ProxyConfig): void {
  watchParent();
  const p = cfg.mode === 'http' ? httpProxy(cfg) : tcpProxy(cfg);
  const server = p.server;
  server.on('error', (err) => {
    log(`listen ${cfg.listen}: ${err.message}`);
    process.exit(1);
  });
  server.listen(cfg.listen, () =>
    log(`${cfg.mode} :${cfg.listen} -> ${cfg.upstream.host}:${cfg.upstream.port}`),
  );
  let draining = false;
  const stop = () => {
    if (draining) return;
    draining = true;
    const t0 = Date.now();
    const bound = setTimeout(() => {
      log(`drain: connections still open after ${drainMs(cfg)} ms; exiting`);
      process.exit(0);
    }, drainMs(cfg));
    void p.drain().then(() => {
      clearTimeout(bound);
      log(`drained in ${Date.now() - t0} ms`);
      process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function lateness(cfg: ProxyConfig): number {
  const base = cfg.latencyMs ?? 0;
  const j = cfg.jitterMs ?? 0;
  return Math.max(0, base + (j ? (Math.random() * 2 - 1) * j : 0));
}

interface TcpConn {
  /** Chunks from the client not yet written upstream. */
  pending: () => number;
  /** When the last chunk went upstream, and when the service last answered. */
  lastUp: number;
  lastDown: number;
  close: () => void;
}

/** The TCP mode's server, not yet listening. */
export function tcpProxy(cfg: ProxyConfig): Drainable {
  const conns = new Set<TcpConn>();
  const server = net.createServer((client) => {
    const upstream = net.connect(cfg.upstream.port, cfg.upstream.host);
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    // Chunks leave in order, each no earlier than its arrival + latency.
    let last = 0;
    let ended = false;
    let pending = 0;
    const conn: TcpConn = {
      pending: () => pending,
      lastUp: 0,
      lastDown: 0,
      close: () => {
        client.end();
        upstream.end();
      },
    };
    conns.add(conn);
    client.on('close', () => conns.delete(conn));
    upstream.on('data', () => (conn.lastDown = Date.now()));
    client.on('data', (chunk) => {
      const due = Math.max(Date.now() + lateness(cfg), last);
      last = due;
      pending++;
      setTimeout(() => {
        pending--;
        conn.lastUp = Date.now();
        if (!upstream.destroyed) upstream.write(chunk);
        if (ended && pending === 0) upstream.end();
      }, due - Date.now());
    });
    client.on('end', () => {
      ended = true;
      if (pending === 0) upstream.end();
    });
    upstream.pipe(client);
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', kill);
    upstream.on('error', kill);
    client.on('close', () => {
      if (pending === 0) upstream.destroy();
    });
  });
  return {
    server,
    // A connection closes once nothing of the client's waits here and the service answered
    // what it was sent last (or stayed silent 1 s: no answer is coming).
    drain: () => {
      server.close();
      return poll(() => {
        const now = Date.now();
        for (const c of conns)
          if (c.pending() === 0 && (c.lastDown >= c.lastUp || now - c.lastUp > 1000)) {
            c.close();
            conns.delete(c);
          }
        return conns.size === 0;
      });
    },
  };
}

/** The HTTP mode's server, not yet listening (runProxy listens; tests too). */
export function httpProxy(cfg: ProxyConfig): Drainable {
  const h = cfg.http ?? { action: 'error' as const, percent: 100, paths: [] };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  let open = 0;
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    const probe = !h.probes && /^kube-probe\//.test(req.headers['user-agent'] ?? '');
    const chosen =
      !probe &&
      (h.paths.length === 0 || h.paths.some((p) => path.startsWith(p))) &&
      Math.random() * 100 < h.percent;
    if (chosen && h.action === 'error') {
      req.resume();
      const body = `gantry chaos: http-error ${h.status ?? 500}\n`;
      res.writeHead(h.status ?? 500, {
        'content-type': 'text/plain',
        'content-length': Buffer.byteLength(body),
        'x-gantry-chaos': 'http-error',
      });
      res.end(body);
      return;
    }
    if (chosen && h.action === 'abort') {
      req.socket.resetAndDestroy();
      return;
    }
    const forward = () => {
      const up = http.request(
        {
          host: cfg.upstream.host,
          port: cfg.upstream.port,
          method: req.method,
          path,
          headers: req.headers,
          agent,
        },
        (ur) => {
          res.writeHead(ur.statusCode ?? 502, ur.rawHeaders);
          ur.pipe(res);
        },
      );
      up.on('error', (err) => {
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`gantry chaos proxy: upstream ${err.message}\n`);
        } else res.destroy();
      });
      req.pipe(up);
    };
    if (chosen && h.action === 'delay') setTimeout(forward, h.delayMs ?? 0);
    else forward();
  });
  server.on('connection', (socket: net.Socket) => {
    open++;
    socket.on('close', () => open--);
  });
  return {
    server,
    // Idle connections close at once; one serving a request closes after its answer.
    drain: () => {
      server.close();
      return poll(() => {
        server.closeIdleConnections();
        return open === 0;
      });
    },
  };
}
