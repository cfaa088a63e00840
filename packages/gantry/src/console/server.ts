// `gantry console`'s HTTP server: the bundled pages, one Server-Sent Events stream per
// page, nothing else. Bound to 127.0.0.1 by default; bound anywhere else it asks for a
// random token (in the printed URL, then an HttpOnly cookie). It reads the cluster with
// the user's own kubeconfig identity, so RBAC decides what the pages show.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Kube } from '../kube/client.js';
import { Prometheus } from '../analysis/prometheus.js';
import { ClusterCache } from './cache.js';
import { Hub } from './hub.js';
import type { HubStats, ViewRequest } from './hub.js';

export const TOKEN_COOKIE = 'gantry_console';
export const DEFAULT_ADDRESS = '127.0.0.1:3100';

export interface ConsoleOptions {
  kube: Kube;
  /** host:port; port 0 picks a free one. */
  address: string;
  prometheusUrl: string;
  alertmanagerUrl: string;
  refreshMs: number;
  /** Watch one namespace only. */
  namespace?: string;
  tls?: { cert: Buffer; key: Buffer };
  /** kubeconfig context shown on the pages. */
  context: string;
  version: string;
  /** Directory of index.html, app.js and app.css (default: the bundled assets). */
  assetsDir?: string;
}

export interface RunningConsole {
  /** The URL to open (with the token when one is needed). */
  url: string;
  /** The token, when the address is not loopback. */
  token?: string;
  stats(): HubStats & { rssBytes: number };
  close(): Promise<void>;
}

export class ConsoleError extends Error {
  override name = 'ConsoleError';
}

/** host:port → parts; "[::1]:3100" and ":3100" (all addresses) too. */
export function parseAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(address.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535) {
    throw new ConsoleError(`--address must be HOST:PORT (e.g. 127.0.0.1:3100), got "${address}"`);
  }
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Where the bundled pages are: next to the CLI bundle, or in the package's bundle/ when run from dist/ or src/. */
export function findAssets(): string {
  const candidates = [
    new URL('./console/', import.meta.url),
    new URL('../../bundle/console/', import.meta.url),
  ];
  for (const c of candidates) {
    if (c.protocol !== 'file:') continue;
    const dir = fileURLToPath(c);
    if (existsSync(`${dir}index.html`)) return dir;
  }
  throw new ConsoleError(
    'the console pages are not built: run `npm run build` (scripts/bundle.ts writes bundle/console/)',
  );
}

const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

/** Nothing leaves for another origin: scripts, styles, images and streams come from this server only. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const DNS_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function viewRequest(url: URL): ViewRequest | string {
  const view = url.searchParams.get('view') ?? 'fleet';
  if (view === 'fleet' || view === 'alerts') return { kind: view };
  if (view === 'service' || view === 'release') {
    const namespace = url.searchParams.get('namespace') ?? '';
    const name = url.searchParams.get('name') ?? '';
    if (!DNS_NAME.test(namespace) || !DNS_NAME.test(name))
      return 'namespace and name must be DNS labels';
    return { kind: view, namespace, name };
  }
  return `unknown view "${view}"`;
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function same(a: string | undefined | null, b: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function startConsole(o: ConsoleOptions): Promise<RunningConsole> {
  const { host, port } = parseAddress(o.address);
  const assetsDir = o.assetsDir ?? findAssets();
  const assets = new Map<string, Buffer>();
  for (const name of Object.keys(ASSETS)) {
    const file = `${assetsDir}/${name}`;
    if (existsSync(file)) assets.set(name, readFileSync(file));
  }
  const token = isLoopback(host) ? undefined : randomBytes(24).toString('base64url');
  const cache = new ClusterCache(o.kube, o.namespace ? { namespace: o.namespace } : {});
  const hub = new Hub({
    cache,
    kube: o.kube,
    prometheus: new Prometheus(o.prometheusUrl, { timeoutMs: 8_000 }),
    prometheusUrl: o.prometheusUrl,
    alertmanagerUrl: o.alertmanagerUrl,
    refreshMs: o.refreshMs,
    hello: {
      version: o.version,
      context: o.context,
      ...(o.namespace ? { namespace: o.namespace } : {}),
      refreshSeconds: o.refreshMs / 1000,
    },
  });
  let actualPort = port;
  const secure = o.tls !== undefined;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    res.setHeader('content-security-policy', CSP);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    const refuse = (status: number, message: string) => {
      res.writeHead(status, {
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': 'no-store',
      });
      res.end(`${message}\n`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return refuse(405, 'the console is read-only');
    if (token) {
      const given = url.searchParams.get('token');
      if (same(given, token)) {
        // Keep the token out of the address bar and the history: a cookie from now on.
        url.searchParams.delete('token');
        res.writeHead(303, {
          'set-cookie': `${TOKEN_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/${secure ? '; Secure' : ''}`,
          location: url.pathname + url.search,
          'cache-control': 'no-store',
        });
        res.end();
        return;
      }
      if (!same(cookie(req, TOKEN_COOKIE), token)) {
        return refuse(401, 'this console needs the token: open the URL `gantry console` printed');
      }
    } else {
      // Loopback only: a page of another site that resolves its name to 127.0.0.1 (DNS
      // rebinding) sends its own Host, and is refused.
      const h = (req.headers.host ?? '').toLowerCase();
      const ok = ['127.0.0.1', 'localhost', '[::1]', host].some((n) => h === `${n}:${actualPort}`);
      if (!ok)
        return refuse(403, `unexpected Host header "${h}"; open http://${host}:${actualPort}/`);
    }
    const path = url.pathname;
    if (path === '/api/events') {
      const v = viewRequest(url);
      if (typeof v === 'string') return refuse(400, v);
      hub.open(res, v);
      return;
    }
    if (path === '/api/stats') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ ...hub.stats(), rssBytes: process.memoryUsage().rss }));
      return;
    }
    const name = path === '/' ? 'index.html' : path.replace(/^\/assets\//, '');
    const body = assets.get(name);
    const type = ASSETS[name];
    if (!body || !type || (path !== '/' && !path.startsWith('/assets/')))
      return refuse(404, 'not found');
    res.writeHead(200, {
      'content-type': type,
      'cache-control': name === 'index.html' ? 'no-store' : 'no-cache',
      'content-length': body.length,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const server: Server = o.tls
    ? createHttpsServer({ cert: o.tls.cert, key: o.tls.key }, handle)
    : createHttpServer(handle);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new ConsoleError(
          err.code === 'EADDRINUSE'
            ? `${o.address} is in use; choose another port with --address`
            : `cannot listen on ${o.address}: ${err.message}`,
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  actualPort = (server.address() as AddressInfo).port;
  cache.start();
  const shownHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `${secure ? 'https' : 'http'}://${shownHost}:${actualPort}/${token ? `?token=${token}` : ''}`;
  return {
    url,
    ...(token ? { token } : {}),
    stats: () => ({ ...hub.stats(), rssBytes: process.memoryUsage().rss }),
    close: async () => {
      hub.close();
      cache.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
