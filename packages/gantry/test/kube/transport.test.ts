// The API server transport against local TLS servers: HTTP/2 when the server
// offers it (one connection for concurrent requests and watches), HTTP/1.1
// when it does not, Kubernetes Status errors, and an idle client never keeping
// the process alive.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureServer } from 'node:http2';
import type { Http2ServerRequest, Http2ServerResponse, ServerHttp2Session } from 'node:http2';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kube, KubeApiError } from '../../src/kube/client.js';
import type { ClusterAccess } from '../../src/kube/kubeconfig.js';
import { httpsTransport } from '../../src/kube/transport.js';

let dir: string;
let tls: { key: Buffer; cert: Buffer };

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'gantry-transport-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
});

after(() => rmSync(dir, { recursive: true, force: true }));

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

/** A fake API server: what it saw, and how many TLS connections it accepted. */
function handler(seen: string[]) {
  return (req: Req, reply: Res) => {
    // Both response kinds have these methods; their overloads only differ in types.
    const res = reply as ServerResponse;
    seen.push(`${req.httpVersion} ${req.method} ${req.url}`);
    const url = new URL(req.url ?? '/', 'https://x');
    if (url.pathname === '/api/v1/namespaces/gone/configmaps/c') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'Status',
          status: 'Failure',
          message: 'namespaces "gone" not found',
          reason: 'NotFound',
          details: { name: 'gone', kind: 'namespaces' },
          code: 404,
        }),
      );
      return;
    }
    if (url.searchParams.get('watch') === '1') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'ADDED', object: { n: 1 } })}\n`);
      setTimeout(
        () => res.write(`${JSON.stringify({ type: 'MODIFIED', object: { n: 2 } })}\n`),
        20,
      );
      return; // open until the client stops watching
    }
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ path: url.pathname, body: body ? (JSON.parse(body) as unknown) : null }),
      );
    });
  };
}

/** An HTTP/2 server (HTTP/1.1 too) whose close() also ends the sessions clients keep open. */
function h2Server(seen: string[]) {
  const server = createSecureServer({ ...tls, allowHTTP1: true }, handler(seen));
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (s: ServerHttp2Session) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  const close = () => {
    server.close();
    for (const s of sessions) s.destroy();
  };
  return { server, close };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const access = (server: string): ClusterAccess => ({
  server,
  ca: tls.cert,
  insecureSkipTLSVerify: false,
  token: 't0ken',
  needsPlugin: false,
  contextName: 'test',
});

async function exercise(kube: Kube, http: ReturnType<typeof httpsTransport>) {
  // Requests sent at once, as a deploy does.
  const replies = await Promise.all(
    ['a', 'b', 'c', 'd'].map((n) =>
      http.request(
        'PATCH',
        `/api/v1/namespaces/x/configmaps/${n}`,
        { n },
        'application/apply-patch+yaml',
      ),
    ),
  );
  assert.deepEqual(
    replies.map((r) => [r.status, JSON.parse(r.text) as unknown]),
    ['a', 'b', 'c', 'd'].map((n) => [
      200,
      { path: `/api/v1/namespaces/x/configmaps/${n}`, body: { n } },
    ]),
  );
  // A Status error keeps its reason and details.
  const err = await kube
    .apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'gone' } })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  assert.ok(err instanceof KubeApiError);
  assert.equal(err.status, 404);
  assert.ok(err.isNamespaceNotFound('gone'));
  assert.ok(!err.isNamespaceNotFound('other'));
  assert.match(err.message, /apply ConfigMap gone\/c: namespaces "gone" not found/);
  // A watch delivers events line by line until stopped.
  const events: unknown[] = [];
  await new Promise<void>((resolve, reject) => {
    void kube
      .watch(
        '/api/v1/namespaces/x/pods',
        {},
        (type, obj) => {
          events.push([type, obj]);
          if (events.length === 2) resolve();
        },
        reject,
      )
      .then((stop) => setTimeout(() => events.length === 2 && stop(), 0));
  });
  assert.deepEqual(events, [
    ['ADDED', { n: 1 }],
    ['MODIFIED', { n: 2 }],
  ]);
}

test('HTTP/2 when the server offers it: one connection for every request and watch', async () => {
  const seen: string[] = [];
  let connections = 0;
  const { server, close } = h2Server(seen);
  server.on('secureConnection', () => connections++);
  const url = await listen(server);
  try {
    const http = httpsTransport(access(url));
    const kube = new Kube(http);
    await exercise(kube, http);
    assert.equal(connections, 1);
    assert.ok(seen.length >= 6 && seen.every((s) => s.startsWith('2.0 ')), seen.join('\n'));
  } finally {
    close();
  }
});

test('HTTP/1.1 when the server does not offer h2', async () => {
  const seen: string[] = [];
  const server = createHttpsServer(tls, handler(seen));
  const url = await listen(server);
  try {
    const http = httpsTransport(access(url));
    await exercise(new Kube(http), http);
    assert.ok(seen.length >= 6 && seen.every((s) => s.startsWith('1.1 ')), seen.join('\n'));
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('a server that cannot be reached is a clear error, and the next request tries again', async () => {
  const { server, close } = h2Server([]);
  const url = await listen(server);
  close();
  await new Promise((resolve) => server.once('close', resolve));
  const http = httpsTransport(access(url));
  await assert.rejects(http.request('GET', '/version'), (e: unknown) => {
    assert.ok(e instanceof KubeApiError);
    assert.equal(e.status, 0);
    assert.match(
      e.message,
      /cannot reach the API server https:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/,
    );
    return true;
  });
  const again = h2Server([]);
  const port = Number(new URL(url).port);
  await new Promise<void>((resolve) => again.server.listen(port, '127.0.0.1', resolve));
  try {
    assert.equal((await http.request('GET', '/version')).status, 200);
  } finally {
    again.close();
  }
});

test('an idle HTTP/2 session does not keep the process alive', async () => {
  const { server, close } = h2Server([]);
  const url = await listen(server);
  try {
    const transport = fileURLToPath(new URL('../../src/kube/transport.ts', import.meta.url));
    const script = `
      import { readFileSync } from 'node:fs';
      import { httpsTransport } from ${JSON.stringify(transport)};
      const http = httpsTransport({ server: ${JSON.stringify(url)}, ca: readFileSync(${JSON.stringify(join(dir, 'cert.pem'))}), insecureSkipTLSVerify: false, needsPlugin: false, contextName: 't' });
      const r = await http.request('GET', '/version');
      console.log(r.status);
    `;
    // The child must finish on its own (this process serves it, so no spawnSync).
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(killer);
    assert.equal(code, 0, `the child did not exit by itself: ${err}`);
    assert.equal(out.trim(), '200');
  } finally {
    close();
  }
});

test('a transport never used does not keep the process alive, even when the server is silent', async () => {
  // Accepts TCP connections and never answers the TLS handshake.
  const silent = createNetServer(() => undefined);
  const url = await listen(silent);
  try {
    const transport = fileURLToPath(new URL('../../src/kube/transport.ts', import.meta.url));
    const script = `
      import { httpsTransport } from ${JSON.stringify(transport)};
      httpsTransport({ server: ${JSON.stringify(url)}, insecureSkipTLSVerify: true, needsPlugin: false, contextName: 't' });
      console.log('done');
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(killer);
    assert.equal(code, 0, 'the child did not exit by itself');
    assert.equal(out.trim(), 'done');
  } finally {
    silent.close();
  }
});
