// The agent's user-space proxy, run (agent `proxy` mode) inside a pod's network
// namespace and fed by an iptables REDIRECT in the nat table. This kernel has
// no netem, so delay, HTTP errors and resets are made here:
//   tcp:  every chunk from the client is forwarded `latencyMs` (± jitter) late,
//         in order: a request-response exchange takes `latencyMs` longer.
//   http: an HTTP/1.1 proxy; a request whose path starts with one of `paths`
//         is, with probability `percent`, answered with `status`, reset
//         (TCP RST), or forwarded `delayMs` late. Other requests pass as they are.
// It exits when its parent (the agent) is gone, so it never outlives the helper.
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

export function runProxy(cfg: ProxyConfig): void {
  watchParent();
  const server = cfg.mode === 'http' ? httpProxy(cfg) : tcpProxy(cfg);
  server.on('error', (err) => {
    log(`listen ${cfg.listen}: ${err.message}`);
    process.exit(1);
  });
  server.listen(cfg.listen, () =>
    log(`${cfg.mode} :${cfg.listen} -> ${cfg.upstream.host}:${cfg.upstream.port}`),
  );
  const stop = () => {
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function lateness(cfg: ProxyConfig): number {
  const base = cfg.latencyMs ?? 0;
  const j = cfg.jitterMs ?? 0;
  return Math.max(0, base + (j ? (Math.random() * 2 - 1) * j : 0));
}

function tcpProxy(cfg: ProxyConfig): net.Server {
  return net.createServer((client) => {
    const upstream = net.connect(cfg.upstream.port, cfg.upstream.host);
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    // Chunks leave in order, each no earlier than its arrival + latency.
    let last = 0;
    let ended = false;
    let pending = 0;
    client.on('data', (chunk) => {
      const due = Math.max(Date.now() + lateness(cfg), last);
      last = due;
      pending++;
      setTimeout(() => {
        pending--;
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
}

function httpProxy(cfg: ProxyConfig): http.Server {
  const h = cfg.http ?? { action: 'error' as const, percent: 100, paths: [] };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  return http.createServer((req, res) => {
    const path = req.url ?? '/';
    const chosen =
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
}
