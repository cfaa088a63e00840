// Bounded fuzzing of the HTTP surface with a seeded generator: wrong types, missing and unknown
// fields, malformed and huge bodies, wrong media types, weird ids and query strings.
// Invariant: the service answers every such request with a status below 500, and every error
// is problem+json. Reproduce a failure with FUZZ_SEED=<seed printed in the assertion>.
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { after, before, test } from 'node:test';
import { SqliteUserRepository } from '../../src/db/sqlite.js';
import { sendRaw, startServer } from '../helpers/http.js';
import type { Running } from '../helpers/http.js';

const ITERATIONS = 200;
const BODY_LIMIT = 2048;
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = prng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const int = (n: number) => Math.floor(rand() * n);

function randomString(max: number): string {
  const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '/', '%', '\u0000', '\n', 'é', '😀', '<', '{'];
  let s = '';
  const n = int(max);
  for (let i = 0; i < n; i++) s += pick(alphabet);
  return s;
}

function weirdValue(depth = 0): unknown {
  switch (int(depth > 2 ? 7 : 9)) {
    case 0:
      return int(2) ? -int(1e9) : rand() * 1e308;
    case 1:
      return randomString(40);
    case 2:
      return null;
    case 3:
      return int(2) === 1;
    case 4:
      return 'x'.repeat(int(400));
    case 5:
      return `${randomString(8)}@${randomString(8)}`;
    case 6:
      return '';
    case 7:
      return Array.from({ length: int(4) }, () => weirdValue(depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: int(4) }, () => [randomString(6), weirdValue(depth + 1)]),
      );
  }
}

function weirdObject(): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (int(3)) o.name = int(2) ? weirdValue() : 'Valid Name';
  if (int(3)) o.email = int(2) ? weirdValue() : `ok${int(1e6)}@example.com`;
  if (int(3) === 0) o[pick(['id', 'admin', 'createdAt', '__proto__', 'constructor', ''])] = 1;
  return o;
}

function weirdBody(): string | Buffer | undefined {
  switch (int(10)) {
    case 0:
      return undefined;
    case 1:
      return '';
    case 2:
      return JSON.stringify(weirdObject()).slice(0, 1 + int(30)); // truncated JSON
    case 3:
      return Buffer.from(Array.from({ length: int(64) }, () => int(256)));
    case 4:
      return JSON.stringify({ name: 'x'.repeat(BODY_LIMIT * 2), email: 'a@b.co' });
    case 5:
      return '['.repeat(2000) + ']'.repeat(2000);
    case 6:
      return JSON.stringify(weirdValue());
    default:
      return JSON.stringify(weirdObject());
  }
}

function weirdId(): string {
  return pick([
    '0',
    '-1',
    '1.0',
    '1e2',
    '9'.repeat(30),
    'abc',
    '%00',
    '%zz',
    '..%2F..%2Fetc',
    encodeURIComponent(randomString(20)),
    'a'.repeat(300),
    '1%20OR%201=1',
    String(1 + int(50)),
  ]);
}

function weirdQuery(): string {
  const parts = Array.from({ length: int(4) }, () =>
    pick([
      `limit=${pick(['0', '-5', '101', '1e9', 'abc', '', '50', '1.5', '%00'])}`,
      `cursor=${pick(['', '!!!', 'dGFtcGVyZWQ', encodeURIComponent(randomString(30))])}`,
      `${encodeURIComponent(randomString(5))}=${encodeURIComponent(randomString(5))}`,
      'limit=1&limit=2',
    ]),
  );
  return parts.length ? `?${parts.join('&')}` : '';
}

function weirdRequest() {
  const method = pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'QUERY']);
  const path = pick([
    `/api/users${weirdQuery()}`,
    `/api/users/${weirdId()}`,
    `/api/users/${weirdId()}${weirdQuery()}`,
    `/api/users//${weirdId()}`,
    `/${encodeURIComponent(randomString(10))}`,
  ]);
  const contentType = pick([
    'application/json',
    'application/json; charset=utf-8',
    'application/json; charset=latin1',
    'application/merge-patch+json',
    'text/plain',
    'multipart/form-data; boundary=x',
    'x/y',
    'application/x-www-form-urlencoded',
    undefined,
  ]);
  return { method, path, contentType, body: weirdBody() };
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });
let srv: Running;

async function send(r: ReturnType<typeof weirdRequest>): Promise<Result> {
  const headers: Record<string, string | number> = {};
  if (r.contentType !== undefined) headers['content-type'] = r.contentType;
  if (r.body !== undefined) headers['content-length'] = Buffer.byteLength(r.body);
  const res = await sendRaw(srv.baseUrl, { ...r, headers }, agent);
  return { status: res.status, contentType: res.headers['content-type'] ?? '', text: res.text };
}

interface Result {
  status: number;
  contentType: string;
  text: string;
}

before(async () => {
  srv = await startServer({
    repository: new SqliteUserRepository(':memory:'),
    bodyLimit: BODY_LIMIT,
  });
});
after(async () => {
  agent.destroy();
  await srv.close();
});

test(`${ITERATIONS} malformed requests never get a 5xx (seed ${SEED})`, async () => {
  const statuses = new Map<number, number>();
  for (let i = 0; i < ITERATIONS; i++) {
    const r = weirdRequest();
    const res = await send(r);
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const what = `#${i} ${r.method} ${r.path} [${r.contentType ?? 'no content-type'}] (FUZZ_SEED=${SEED})`;
    assert.ok(res.status >= 200 && res.status < 500, `${what} → ${res.status}: ${res.text}`);
    if (res.status >= 400 && r.method !== 'HEAD') {
      assert.match(res.contentType, /^application\/problem\+json/, `${what}: ${res.text}`);
      const problem = JSON.parse(res.text) as { status: number };
      assert.equal(problem.status, res.status, what);
    }
  }
  // The generator must actually exercise the error paths, not just succeed.
  const errors = [...statuses].filter(([s]) => s >= 400).reduce((n, [, c]) => n + c, 0);
  assert.ok(
    errors > ITERATIONS / 2,
    `only ${errors} error responses: ${JSON.stringify([...statuses])}`,
  );
  const health = await fetch(`${srv.baseUrl}/healthz`);
  assert.equal(health.status, 200);
});
