// Counting proxies on loopback: the console under test talks to the Kubernetes API server,
// Prometheus and Alertmanager through these, so every request it sends is counted where it
// leaves the process, one by one, whatever the transport does (HTTP/2 streams, kept-alive
// connections). The API server's own apiserver_request_total cannot do this here: it has no
// user-agent or user label, it counts a watch only when the watch ends, and it counts
// every other client of the shared cluster (controllers, kwok's node heartbeats, other
// sessions' tests) as well.
//
// The Kubernetes proxy listens on plain HTTP on 127.0.0.1 (the console gets a kubeconfig
// whose server is http://127.0.0.1:PORT and no credentials) and forwards each request over
// HTTPS with the bench's own kubeconfig identity (client certificate or token), so the
// console sees exactly what it would see with that kubeconfig.
import http from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { ClusterAccess } from '../../packages/gantry/src/kube/kubeconfig.js';

/** One counted request: when it started (performance.now()), and its class. */
export interface Seen {
  at: number;
  what: string;
  /** Method, path and query without resourceVersion: the same watch renewed has the same key. */
  key: string;
}

function requestKey(method: string, url: string): string {
  const u = new URL(url, 'http://x');
  u.searchParams.delete('resourceVersion');
  u.searchParams.sort();
  return `${method} ${u.pathname}?${u.searchParams.toString()}`;
}

/** Headers a proxy must not forward (RFC 9110 §7.6.1). */
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'host',
]);

function forwardHeaders(h: IncomingMessage['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP.has(k)) out[k] = v;
  return out;
}

/** "LIST deployments", "WATCH pods", "GET events", "PATCH leases", ... for an API request. */
export function kubeClass(method: string, url: string): string {
  const u = new URL(url, 'http://x');
  const parts = u.pathname.split('/').filter(Boolean);
  // /api/v1/... or /apis/GROUP/VERSION/...: drop the prefix, then namespaces/NS.
  let rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  if (rest[0] === 'namespaces' && rest.length > 2) rest = rest.slice(2);
  const resource = rest[0] ?? u.pathname;
  const sub = rest.length >= 3 ? `/${rest[2]}` : '';
  if (method === 'GET') {
    if (u.searchParams.get('watch') === '1' || u.searchParams.get('watch') === 'true')
      return `WATCH ${resource}`;
    return rest.length === 1 ? `LIST ${resource}` : `GET ${resource}${sub}`;
  }
  return `${method} ${resource}${sub}`;
}

/** Prometheus and Alertmanager: "GET /api/v1/alerts", "GET /api/v1/query_range", ... */
export function pathClass(method: string, url: string): string {
  return `${method} ${new URL(url, 'http://x').pathname}`;
}

export class CountingProxy {
  readonly seen: Seen[] = [];
  /** Requests whose response has not ended yet (watches, event streams). */
  open = 0;
  private server: Server | undefined;
  private readonly agent: http.Agent | https.Agent;
  private readonly target: URL;
  private readonly sockets = new Set<Socket>();

  /**
   * `target`: the upstream base URL; `access`: TLS and credentials for an https upstream
   * (the API server); `classify`: the class a request is counted under.
   */
  constructor(
    target: string,
    private readonly classify: (method: string, url: string) => string,
    private readonly access?: ClusterAccess,
  ) {
    this.target = new URL(target);
    this.agent =
      this.target.protocol === 'https:'
        ? new https.Agent({
            keepAlive: true,
            ...(access?.ca ? { ca: access.ca } : {}),
            ...(access?.cert ? { cert: access.cert } : {}),
            ...(access?.key ? { key: access.key } : {}),
            rejectUnauthorized: !(access?.insecureSkipTLSVerify ?? false),
          })
        : new http.Agent({ keepAlive: true });
  }

  /** Listens on 127.0.0.1 (a free port); resolves with the base URL to give the client. */
  async start(): Promise<string> {
    const server = http.createServer((req, res) => this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Requests of each class that started in [from, to) (performance.now() times). */
  counts(from: number, to: number): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.seen) {
      if (s.at < from || s.at >= to) continue;
      out.set(s.what, (out.get(s.what) ?? 0) + 1);
    }
    return out;
  }

  /** Watches in [from, to) of a collection already watched before (renewals). */
  renewals(from: number, to: number): number {
    const before = new Set<string>();
    let n = 0;
    for (const s of this.seen) {
      if (s.at >= to) break;
      if (s.at >= from && s.what.startsWith('WATCH ') && before.has(s.key)) n++;
      before.add(s.key);
    }
    return n;
  }

  total(from: number, to: number): number {
    let n = 0;
    for (const s of this.seen) if (s.at >= from && s.at < to) n++;
    return n;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.agent.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const method = req.method ?? 'GET';
    this.seen.push({
      at: performance.now(),
      what: this.classify(method, url),
      key: requestKey(method, url),
    });
    this.open++;
    let ended = false;
    const done = () => {
      if (ended) return;
      ended = true;
      this.open--;
    };
    const headers = forwardHeaders(req.headers);
    if (this.access?.token) headers.authorization = `Bearer ${this.access.token}`;
    else if (this.access?.basic) {
      const { username, password } = this.access.basic;
      headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    }
    const basePath = this.target.pathname.replace(/\/$/, '');
    const send = this.target.protocol === 'https:' ? https.request : http.request;
    const up = send(
      {
        agent: this.agent,
        method: req.method,
        hostname: this.target.hostname,
        port: this.target.port || (this.target.protocol === 'https:' ? 443 : 80),
        path: basePath + url,
        headers,
      },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, forwardHeaders(ur.headers));
        // Watches and event streams: each chunk at once.
        res.flushHeaders();
        ur.pipe(res);
        ur.on('end', done);
        ur.on('error', () => {
          done();
          res.destroy();
        });
      },
    );
    up.on('error', (err) => {
      done();
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`bench proxy: ${err.message}\n`);
      } else res.destroy();
    });
    // The client went away (a watch stopped, the console exited): so does the upstream request.
    res.on('close', () => {
      if (!ended) up.destroy();
      done();
    });
    req.pipe(up);
  }
}
