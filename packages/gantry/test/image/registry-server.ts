// Real OCI registries for tests: Debian's docker-registry (distribution 2.8)
// on a free loopback port with a temporary storage directory, optionally
// behind htpasswd basic auth; and a bearer-token front for it (a token service
// plus a proxy that demands scoped tokens), to exercise the token flow.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface TestRegistry {
  /** host:port */
  host: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function htpasswdLine(user: string, password: string): string {
  const r = spawnSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      `htpasswd failed (apt-get install -y apache2-utils): ${r.error?.message ?? r.stderr}`,
    );
  }
  return r.stdout;
}

/** Starts docker-registry on 127.0.0.1:<free port>; with `auth`, behind htpasswd basic auth. */
export async function startRegistry(auth?: {
  user: string;
  password: string;
}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-registry-'));
  const port = await freePort();
  let authCfg = '';
  if (auth) {
    writeFileSync(join(dir, 'htpasswd'), htpasswdLine(auth.user, auth.password));
    authCfg = `auth:\n  htpasswd:\n    realm: gantry-test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage:
  filesystem: { rootdirectory: ${join(dir, 'data')} }
  delete: { enabled: true }
http:
  addr: 127.0.0.1:${port}
${authCfg}`,
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const host = `127.0.0.1:${port}`;
  let up = false;
  for (let i = 0; i < 150 && child.exitCode === null; i++) {
    up = await fetch(`http://${host}/v2/`).then(
      (r) => r.status === 200 || r.status === 401,
      () => false,
    );
    if (up) break;
    await sleep(100);
  }
  if (!up) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`docker-registry did not start on ${host}: ${stderr.slice(-500)}`);
  }
  return {
    host,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TokenFront extends TestRegistry {
  /** Tokens issued, with the scopes asked for. */
  issued: { user: string; scopes: string[] }[];
}

/**
 * A registry that speaks bearer-token auth: /token issues a token for the
 * requested scopes to user:password (basic auth); every /v2/ request must
 * carry a token covering repository:<name>:pull (reads) or :push (writes),
 * else 401 with a Bearer challenge naming the scope. Allowed requests are
 * proxied to `backend` (a plain docker-registry) with the Host header kept, so
 * upload locations point back here.
 */
export async function startTokenFront(
  backend: string,
  creds: { user: string; password: string },
): Promise<TokenFront> {
  const tokens = new Map<string, Set<string>>();
  const issued: { user: string; scopes: string[] }[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/token') {
      const [scheme, value] = (req.headers.authorization ?? '').split(' ');
      const [user, password] =
        scheme === 'Basic'
          ? Buffer.from(value ?? '', 'base64')
              .toString()
              .split(':')
          : [];
      if (user !== creds.user || password !== creds.password) {
        res
          .writeHead(401, { 'Content-Type': 'application/json' })
          .end('{"details":"bad credentials"}');
        return;
      }
      const scopes = url.searchParams.getAll('scope');
      const token = `t${++n}`;
      tokens.set(token, new Set(scopes));
      issued.push({ user, scopes });
      res
        .writeHead(200, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    const m = /^\/v2\/(.+?)\/(blobs|manifests|tags)\//.exec(url.pathname);
    if (m) {
      const repo = m[1]!;
      const action = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'push';
      const needed = [`repository:${repo}:${action === 'pull' ? 'pull' : 'pull,push'}`];
      const from = url.searchParams.get('from');
      if (from) needed.push(`repository:${from}:pull`);
      const granted = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      const ok = (s: string) => {
        const [, r, acts] = /^repository:(.+):(.+)$/.exec(s)!;
        return [...(granted ?? [])].some((g) => {
          const [, gr, gacts] = /^repository:(.+):(.+)$/.exec(g) ?? [];
          return gr === r && acts!.split(',').every((a) => gacts?.split(',').includes(a));
        });
      };
      if (!needed.every(ok)) {
        const port = (server.address() as AddressInfo).port;
        res
          .writeHead(401, {
            'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="gantry-test",scope="${needed[0]}"`,
            'Content-Type': 'application/json',
          })
          .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
    }
    const [bhost, bport] = backend.split(':');
    const headers = { ...req.headers };
    delete headers.authorization;
    const up = http.request(
      { host: bhost, port: Number(bport), method: req.method, path: req.url, headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', (e) => res.writeHead(502).end(e.message));
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    issued,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
