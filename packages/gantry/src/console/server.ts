// `gantry console`'s HTTP server: the bundled pages, one Server-Sent Events stream per
// page, two revisions' diff, and (only with --allow-actions) the actions endpoint.
// Bound to 127.0.0.1 by default; bound anywhere else it asks for a random token (in the
// printed URL, then an HttpOnly cookie). It reads the cluster with the user's own
// kubeconfig identity, so RBAC decides what the pages show and may do.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Kube } from '../kube/client.js';
import { Prometheus } from '../analysis/prometheus.js';
import { KubeApiError } from '../kube/errors.js';
import { ReleaseStore } from '../release/store.js';
import { ClusterCache } from './cache.js';
import { Hub } from './hub.js';
import type { HubStats, ViewRequest } from './hub.js';
import { Actions, parseActionRequest } from './actions.js';
import type { ActionRunner } from './actions.js';
import { revisionDiff } from './revision-diff.js';
import type { ActionLogEntry } from './view-types.js';

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
  /**
   * --allow-actions: promote, pause, resume, abort, rollback and restart, run as `user`
   * (the kubeconfig identity); `audit` is told when each starts and ends. Absent: the
   * console is read-only and its action endpoint does not exist.
   */
  actions?: { user: string; audit: (entry: ActionLogEntry) => void; runner?: ActionRunner };
  /** Directories below which chaos journals (journal.json) are read for the chaos page. */
  chaosReports?: string[];
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
  if (view === 'chaos') {
    const journal = url.searchParams.get('journal');
    if (journal && !/^[0-9a-f]{12}$/.test(journal)) return 'journal must be a journal id';
    return { kind: 'chaos', ...(journal ? { journal } : {}) };
  }
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

/**
 * Whether a request may run an action: CSRF. A page of another site can make the browser
 * send a POST here (a form, or fetch in no-cors mode), with this console's cookie when
 * it has one; it cannot read this server's answers. So an action request must carry:
 *  - the header X-Gantry-CSRF with this process' random token, which a page learns only
 *    from its event stream's hello (same-origin only: the server sends no CORS headers,
 *    so another site can neither read the stream nor set a custom header without a
 *    preflight the server never approves);
 *  - Content-Type application/json (also not sendable cross-site without a preflight);
 *  - an Origin header naming this console (browsers send it with every POST), and
 *    Sec-Fetch-Site, when the browser sends it, "same-origin".
 * The token cookie (non-loopback addresses) is SameSite=Strict besides, and on loopback
 * the Host header check keeps out DNS rebinding. Returns why a request is refused.
 */
export function actionAllowed(
  req: IncomingMessage,
  csrf: string,
  secure: boolean,
): string | undefined {
  const origin = req.headers.origin;
  const own = `${secure ? 'https' : 'http'}://${req.headers.host ?? ''}`;
  if (!origin || origin !== own)
    return `cross-origin request refused (Origin ${origin ?? 'missing'})`;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return `cross-site request refused (${site})`;
  if (!/^application\/json\b/.test(req.headers['content-type'] ?? ''))
    return 'actions are JSON (Content-Type: application/json)';
  const given = req.headers['x-gantry-csrf'];
  if (typeof given !== 'string' || !same(given, csrf))
    return 'missing or wrong X-Gantry-CSRF token: reload the page';
  return undefined;
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error(`the body is over ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
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
  // A random token per console process for the action requests (see `actionAllowed`).
  const csrf = randomBytes(24).toString('base64url');
  const actions = o.actions
    ? new Actions({
        kube: o.kube,
        cache,
        user: o.actions.user,
        audit: o.actions.audit,
        // Called only once pages are open, after `hub` below exists.
        onChange: () => hub.changed(),
        ...(o.actions.runner ? { runner: o.actions.runner } : {}),
      })
    : undefined;
  const hub = new Hub({
    ...(actions ? { actions } : {}),
    chaosReports: o.chaosReports ?? [],
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
      ...(actions ? { actions: { user: actions.user, csrf } } : {}),
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
    const json = (status: number, body: unknown) => {
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
      });
      res.end(JSON.stringify(body));
    };
    const isActionPath = url.pathname === '/api/actions';
    // Read-only: the action endpoint does not exist (404), whatever the method.
    if (isActionPath && !actions) return refuse(404, 'not found');
    if (req.method !== 'GET' && req.method !== 'HEAD' && !(isActionPath && req.method === 'POST'))
      return refuse(405, actions ? 'method not allowed' : 'the console is read-only');
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
    if (isActionPath && actions) {
      if (req.method !== 'POST') return refuse(405, 'POST an action');
      const why = actionAllowed(req, csrf, secure);
      if (why) return json(403, { error: why });
      readBody(req, 16_384).then(
        (text) => {
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            return json(400, { error: 'the body must be JSON' });
          }
          const r = parseActionRequest(body);
          if (typeof r === 'string') return json(400, { error: r });
          const started = actions.start(r);
          if (!started.ok)
            return json(started.status, {
              error: started.message,
              ...(started.offer ? { offer: started.offer } : {}),
            });
          json(202, started.entry);
        },
        (err: Error) => json(413, { error: err.message }),
      );
      return;
    }
    if (path === '/api/diff') {
      const namespace = url.searchParams.get('namespace') ?? '';
      const name = url.searchParams.get('name') ?? '';
      const from = Number(url.searchParams.get('from'));
      const to = Number(url.searchParams.get('to'));
      if (!DNS_NAME.test(namespace) || !DNS_NAME.test(name))
        return json(400, { error: 'namespace and name must be DNS labels' });
      if (!Number.isInteger(from) || !Number.isInteger(to) || from < 1 || to < 1)
        return json(400, { error: 'from and to must be revision numbers' });
      const store = new ReleaseStore(o.kube, namespace, name);
      Promise.all([store.get(from), store.get(to)]).then(
        ([a, b]) => {
          if (!a || !b)
            return json(404, {
              error: `no revision ${!a ? from : to} of ${namespace}/${name} is recorded`,
            });
          json(200, revisionDiff(a, b));
        },
        (err: unknown) =>
          json(err instanceof KubeApiError && err.status >= 400 ? err.status : 502, {
            error: err instanceof Error ? err.message : String(err),
            ...(err instanceof KubeApiError ? { status: err.status } : {}),
          }),
      );
      return;
    }
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
      actions?.close();
      hub.close();
      cache.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
