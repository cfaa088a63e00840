// Answers given outside the routes, over raw sockets: requests the HTTP parser refuses, and
// requests that arrive while the server closes. Both are problem+json like every other error,
// and listed in the OpenAPI document (431 and 503 on every operation).
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { SqliteUserRepository } from '../../src/db/sqlite.js';
import { NO_FAULTS } from '../../src/ops/faults.js';
import { startServer } from '../helpers/http.js';
import type { Running } from '../helpers/http.js';

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Splits what a socket received into responses (each with a content-length). */
function parseResponses(raw: string): Parsed[] {
  const out: Parsed[] = [];
  let rest = raw;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    out.push({
      status: Number(statusLine!.split(' ')[1]),
      headers,
      body: rest.slice(end + 4, end + 4 + length),
    });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

function open(
  srv: Running,
): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const url = new URL(srv.baseUrl);
  return new Promise((resolve, reject) => {
    let data = '';
    const socket = connect(Number(url.port), url.hostname, () =>
      resolve({ socket, received: () => data, closed }),
    );
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', reject);
  });
}

function assertProblem(r: Parsed | undefined, status: number): void {
  assert.ok(r, `no ${status} response`);
  assert.equal(r.status, status, r.body);
  assert.match(r.headers['content-type'] ?? '', /^application\/problem\+json/);
  const body = JSON.parse(r.body) as { status: number; title: string; requestId: string };
  assert.equal(body.status, status);
  assert.equal(typeof body.title, 'string');
  assert.equal(body.requestId, r.headers['x-request-id']);
}

test('headers over 16 KiB get a 431 problem; a malformed request a 400 problem', async () => {
  const srv = await startServer({ repository: new SqliteUserRepository(':memory:') });
  try {
    const big = await open(srv);
    big.socket.write(`GET /api/users HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    await big.closed;
    assertProblem(parseResponses(big.received())[0], 431);

    const bad = await open(srv);
    bad.socket.write('GET /api/users HTTP/1.1\r\nhost x\r\n\r\n');
    await bad.closed;
    assertProblem(parseResponses(bad.received())[0], 400);
  } finally {
    await srv.close();
  }
});

test('a request arriving on a busy connection while the server closes gets a 503 problem', async () => {
  const srv = await startServer({ repository: new SqliteUserRepository(':memory:') });
  srv.app.state.faults = { ...NO_FAULTS, latency: { minMs: 600, maxMs: 600 } };
  const conn = await open(srv);
  conn.socket.write('GET /api/users HTTP/1.1\r\nhost: x\r\n\r\n'); // in flight for 600 ms
  await new Promise((r) => setTimeout(r, 150));
  const closing = srv.close();
  await new Promise((r) => setTimeout(r, 100));
  conn.socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n'); // pipelined behind it
  await closing;
  await conn.closed;
  const [first, second] = parseResponses(conn.received());
  assert.equal(first?.status, 200, conn.received());
  assertProblem(second, 503);
  assert.equal(second!.headers.connection, 'close');
  assert.match(second!.body, /shutting down/);
});
