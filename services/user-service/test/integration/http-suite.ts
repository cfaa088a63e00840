// The HTTP contract of user-service, run over real HTTP against each storage backend
// (http-sqlite.test.ts, http-postgres.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RuntimeState } from '../../src/ops/runtime.js';
import { NO_FAULTS } from '../../src/ops/faults.js';
import type { UserRepository } from '../../src/users/repository.js';
import { call, sendRaw, startServer } from '../helpers/http.js';
import type { Response, Running } from '../helpers/http.js';

export interface Backend {
  readonly repository: UserRepository;
  cleanup(): Promise<void>;
}

const BODY_LIMIT = 4096;

function assertProblem(res: Response, status: number): void {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(res.body.status, status);
  assert.equal(typeof res.body.title, 'string');
  assert.equal(typeof res.body.type, 'string');
  assert.equal(typeof res.body.instance, 'string');
}

function pointers(res: Response): string[] {
  return (res.body.errors as { pointer: string }[]).map((e) => e.pointer);
}

export function defineHttpSuite(
  name: string,
  open: () => Promise<Backend>,
  options: { skip?: string | false } = {},
): void {
  describe(name, { skip: options.skip ?? false }, () => {
    let backend: Backend;
    let srv: Running;
    let state: RuntimeState;
    let base: string;
    let seq = 0;
    const uniqueEmail = (tag = 'user') => `${tag}.${Date.now()}.${++seq}@example.com`;

    before(async () => {
      backend = await open();
      state = new RuntimeState();
      srv = await startServer({
        repository: backend.repository,
        state,
        bodyLimit: BODY_LIMIT,
        buildInfo: { version: '1.2.3', gitSha: 'abc1234', buildTime: '2026-01-01T00:00:00Z' },
      });
      base = srv.baseUrl;
    });
    after(async () => {
      await srv?.close();
      await backend?.repository.close();
      await backend?.cleanup();
    });

    test('create, get, patch, put, delete a user', async () => {
      const email = uniqueEmail('ada');
      const created = await call(base, 'POST', '/api/users', {
        json: { name: 'Ada Lovelace', email },
      });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.name, 'Ada Lovelace');
      assert.equal(created.body.email, email);
      assert.ok(Number.isInteger(created.body.id) && created.body.id > 0);
      assert.ok(!Number.isNaN(Date.parse(created.body.createdAt)));
      const id: number = created.body.id;
      assert.equal(created.headers.get('location'), `/api/users/${id}`);

      const got = await call(base, 'GET', `/api/users/${id}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, created.body);

      const patched = await call(base, 'PATCH', `/api/users/${id}`, {
        json: { name: 'Ada King' },
      });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.body.name, 'Ada King');
      assert.equal(patched.body.email, email);

      const merge = await call(base, 'PATCH', `/api/users/${id}`, {
        body: JSON.stringify({ name: 'Ada M' }),
        headers: { 'content-type': 'application/merge-patch+json' },
      });
      assert.equal(merge.status, 200, merge.text);
      assert.equal(merge.body.name, 'Ada M');

      const email2 = uniqueEmail('countess');
      const put = await call(base, 'PUT', `/api/users/${id}`, {
        json: { name: 'Countess', email: email2 },
      });
      assert.equal(put.status, 200, put.text);
      assert.deepEqual([put.body.name, put.body.email], ['Countess', email2]);

      const putPartial = await call(base, 'PUT', `/api/users/${id}`, { json: { name: 'x' } });
      assertProblem(putPartial, 400);
      assert.deepEqual(pointers(putPartial), ['#/email']);

      const del = await call(base, 'DELETE', `/api/users/${id}`);
      assert.equal(del.status, 204);
      assert.equal(del.text, '');
      assertProblem(await call(base, 'GET', `/api/users/${id}`), 404);
      assertProblem(await call(base, 'DELETE', `/api/users/${id}`), 404);
      assertProblem(await call(base, 'PATCH', `/api/users/${id}`, { json: { name: 'y' } }), 404);
    });

    test('duplicate email (any case) is 409 on create and update', async () => {
      const email = uniqueEmail('Dup');
      const first = await call(base, 'POST', '/api/users', { json: { name: 'one', email } });
      assert.equal(first.status, 201);
      const again = await call(base, 'POST', '/api/users', {
        json: { name: 'two', email: email.toUpperCase() },
      });
      assertProblem(again, 409);
      assert.match(again.body.detail, /already exists/);

      const other = await call(base, 'POST', '/api/users', {
        json: { name: 'three', email: uniqueEmail('other') },
      });
      assert.equal(other.status, 201);
      const clash = await call(base, 'PATCH', `/api/users/${other.body.id}`, {
        json: { email: email.toLowerCase() },
      });
      assertProblem(clash, 409);
      // Changing only the case of one's own email is not a conflict.
      const own = await call(base, 'PATCH', `/api/users/${first.body.id}`, {
        json: { email: email.toUpperCase() },
      });
      assert.equal(own.status, 200, own.text);
    });

    test('cursor pagination walks every user once, in id order', async () => {
      const ids: number[] = [];
      for (let i = 0; i < 25; i++) {
        const r = await call(base, 'POST', '/api/users', {
          json: { name: `page ${i}`, email: uniqueEmail('page') },
        });
        assert.equal(r.status, 201);
        ids.push(r.body.id);
      }
      const seen: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = cursor === null ? '?limit=7' : `?limit=7&cursor=${cursor}`;
        const page = await call(base, 'GET', `/api/users${q}`);
        assert.equal(page.status, 200, page.text);
        assert.ok(page.body.items.length <= 7);
        seen.push(...page.body.items.map((u: { id: number }) => u.id));
        cursor = page.body.nextCursor;
        pages++;
        assert.ok(pages < 100, 'pagination does not terminate');
      } while (cursor !== null);
      assert.deepEqual(
        seen,
        [...seen].sort((a, b) => a - b),
      );
      assert.equal(new Set(seen).size, seen.length, 'a user appeared twice');
      for (const id of ids) assert.ok(seen.includes(id), `user ${id} missing from pages`);

      const dflt = await call(base, 'GET', '/api/users');
      assert.equal(dflt.body.items.length, 20);
      assert.equal(typeof dflt.body.nextCursor, 'string');
    });

    test('bad ids are 400, never 404 or 500', async () => {
      for (const id of ['abc', '0', '-1', '1.5', '1e3', '0x10', '01', '9999999999999999', '%20']) {
        const res = await call(base, 'GET', `/api/users/${id}`);
        assertProblem(res, 400);
        assert.deepEqual(pointers(res), ['#/id']);
        assert.equal(res.body.errors[0]!.location, 'path');
      }
      assertProblem(await call(base, 'GET', '/api/users/999999999999999'), 404);
    });

    test('body validation names each failing field', async () => {
      const res = await call(base, 'POST', '/api/users', {
        json: { name: 42, email: 'not-an-email', admin: true },
      });
      assertProblem(res, 400);
      assert.equal(res.body.type, 'urn:gantry:problem:validation');
      assert.deepEqual(pointers(res).sort(), ['#/admin', '#/email', '#/name']);
      assert.ok(res.body.errors.every((e: { location: string }) => e.location === 'body'));

      const missing = await call(base, 'POST', '/api/users', { json: { name: 'x' } });
      assertProblem(missing, 400);
      assert.deepEqual(pointers(missing), ['#/email']);

      assertProblem(await call(base, 'POST', '/api/users', { json: [] }), 400);
      assertProblem(await call(base, 'POST', '/api/users', { json: 'x' }), 400);
      assertProblem(await call(base, 'POST', '/api/users', { json: null }), 400);
      const blank = await call(base, 'POST', '/api/users', {
        json: { name: '   ', email: uniqueEmail() },
      });
      assertProblem(blank, 400);
      assert.deepEqual(pointers(blank), ['#/name']);
      assertProblem(await call(base, 'PATCH', '/api/users/1', { json: {} }), 400);
    });

    test('query validation: limit bounds, unknown parameters, tampered cursor', async () => {
      for (const q of ['limit=0', 'limit=101', 'limit=abc', 'limit=1.5', 'color=red']) {
        const res = await call(base, 'GET', `/api/users?${q}`);
        assertProblem(res, 400);
        assert.equal(res.body.errors[0]!.location, 'query');
      }
      const page = await call(base, 'GET', '/api/users?limit=1');
      const cursor = page.body.nextCursor;
      assert.ok(typeof cursor === 'string');
      const flipped = cursor.slice(0, -2) + (cursor.endsWith('A') ? 'B' : 'A') + cursor.slice(-1);
      for (const bad of [flipped, 'garbage', cursor.slice(0, 5), 'a'.repeat(150)]) {
        const res = await call(base, 'GET', `/api/users?cursor=${bad}`);
        assertProblem(res, 400);
        assert.deepEqual(pointers(res), ['#/cursor']);
      }
    });

    test('malformed JSON is 400, oversize body 413, wrong media type 415', async () => {
      const malformed = await call(base, 'POST', '/api/users', {
        body: '{"name": "x", ',
        headers: { 'content-type': 'application/json' },
      });
      assertProblem(malformed, 400);
      assert.match(malformed.body.detail, /JSON/);

      // __proto__ is an unknown field like any other: named, not "invalid JSON".
      for (const key of ['__proto__', 'constructor']) {
        const proto = await call(base, 'POST', '/api/users', {
          body: `{"${key}": {"x": 1}, "name": "p", "email": "p@example.com"}`,
          headers: { 'content-type': 'application/json' },
        });
        assertProblem(proto, 400);
        assert.equal(proto.body.type, 'urn:gantry:problem:validation');
        assert.deepEqual(pointers(proto), [`#/${key}`]);
        assert.equal(proto.body.errors[0]!.detail, 'is not an allowed field');
      }
      assert.equal(({} as Record<string, unknown>).x, undefined);

      const huge = await call(base, 'POST', '/api/users', {
        json: { name: 'x'.repeat(BODY_LIMIT), email: uniqueEmail() },
      });
      assertProblem(huge, 413);

      for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
        const res = await call(base, 'POST', '/api/users', {
          body: 'name=x',
          headers: { 'content-type': type },
        });
        assertProblem(res, 415);
      }
      assertProblem(await call(base, 'POST', '/api/users', { body: '{}' }), 415);
      assertProblem(await call(base, 'GET', `/api/users/${'9'.repeat(300)}`), 414);
      assertProblem(await call(base, 'GET', '/api/users/%zz'), 400);
    });

    test('names need a visible character; lone surrogates and non-UTF-8 bytes are refused', async () => {
      for (const name of [
        '\u200b',
        '\u200b\u2060\u200d',
        '\u3000 \u00a0',
        '\ufeff\u00ad',
        '\u3164',
      ]) {
        const res = await call(base, 'POST', '/api/users', {
          json: { name, email: uniqueEmail('invisible') },
        });
        assertProblem(res, 400);
        assert.deepEqual(pointers(res), ['#/name']);
        assert.match(res.body.errors[0]!.detail, /visible character/);
        assert.doesNotMatch(res.body.detail, /pattern/, 'the detail should not echo the pattern');
      }
      const visible = await call(base, 'POST', '/api/users', {
        json: { name: '\u200bAda\u200d', email: uniqueEmail('visible') },
      });
      assert.equal(visible.status, 201, visible.text);
      assert.equal(visible.body.name, '\u200bAda\u200d');

      // JSON.stringify writes a lone surrogate as the escape "\ud800".
      for (const name of ['a\ud800', '\udc00b', 'x\udbff\udbff']) {
        const res = await call(base, 'POST', '/api/users', {
          json: { name, email: uniqueEmail('surrogate') },
        });
        assertProblem(res, 400);
        assert.equal(res.body.type, 'urn:gantry:problem:validation');
        assert.deepEqual(pointers(res), ['#/name']);
        assert.match(res.body.detail, /lone surrogate/);
      }
      const id = visible.body.id;
      const patched = await call(base, 'PATCH', `/api/users/${id}`, { json: { name: 'b\udfff' } });
      assertProblem(patched, 400);
      assert.equal((await call(base, 'GET', `/api/users/${id}`)).body.name, '\u200bAda\u200d');
      // A surrogate pair, escaped or not, is one ordinary character.
      const pair = await call(base, 'POST', '/api/users', {
        body: `{"name": "\\ud83d\\ude00", "email": "${uniqueEmail('pair')}"}`,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(pair.status, 201, pair.text);
      assert.equal(pair.body.name, '😀');

      // Latin-1 "é" is not UTF-8: refused, not stored as U+FFFD.
      const latin1 = await call(base, 'POST', '/api/users', {
        body: Buffer.from(`{"name": "Jos\xe9", "email": "${uniqueEmail('latin1')}"}`, 'latin1'),
        headers: { 'content-type': 'application/json; charset=utf-8' },
      });
      assertProblem(latin1, 400);
      assert.match(latin1.body.detail, /not valid UTF-8/);
    });

    test('a compressed body is 415 with Accept-Encoding: identity', async () => {
      for (const coding of ['gzip', 'br', 'deflate, identity', 'GZIP']) {
        const res = await call(base, 'POST', '/api/users', {
          json: { name: 'gz', email: uniqueEmail('gz') },
          headers: { 'content-encoding': coding },
        });
        assertProblem(res, 415);
        assert.equal(res.headers.get('accept-encoding'), 'identity');
        assert.match(res.body.detail, /Content-Encoding .* is not supported/);
      }
      const identity = await call(base, 'POST', '/api/users', {
        json: { name: 'plain', email: uniqueEmail('identity') },
        headers: { 'content-encoding': 'identity' },
      });
      assert.equal(identity.status, 201, identity.text);
      // GET bodies are never read, so their coding does not matter.
      const get = await call(base, 'GET', '/api/users?limit=1', {
        headers: { 'content-encoding': 'gzip' },
      });
      assert.equal(get.status, 200);
    });

    test('unknown routes are 404 and wrong methods 405, as problem+json', async () => {
      // Methods no route has are answered before any body is read: QUERY without a
      // Content-Type was a 400, with a text/plain body a 415.
      for (const [method, opts] of [
        ['QUERY', {}],
        ['QUERY', { body: 'x', headers: { 'content-type': 'text/plain' } }],
        ['QUERY', { body: '{', headers: { 'content-type': 'application/json' } }],
        ['PROPFIND', {}],
        ['OPTIONS', {}],
      ] as const) {
        const res = await sendRaw(base, { method, path: '/api/users', ...opts });
        assert.equal(res.status, 405, `${method}: ${res.text}`);
        assert.equal(res.headers.allow, 'GET, HEAD, POST');
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
        assert.equal(res.headers['x-request-id']?.length, 36);
      }
      const docs = await sendRaw(base, { method: 'POST', path: '/docs' });
      assert.equal(docs.status, 405, docs.text);
      const nowhere = await sendRaw(base, {
        method: 'POST',
        path: '/nope',
        body: '{',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(nowhere.status, 404, nowhere.text);
      assertProblem(await call(base, 'POST', '/api/users/', { json: {} }), 405);

      const nf = await call(base, 'GET', '/nope');
      assertProblem(nf, 404);
      assertProblem(await call(base, 'GET', '/api/users/1/friends'), 404);
      const na = await call(base, 'POST', '/api/users/1', { json: {} });
      assertProblem(na, 405);
      assert.match(na.headers.get('allow') ?? '', /GET/);
      assertProblem(await call(base, 'DELETE', '/api/users'), 405);
    });

    test('request ids: a sane incoming x-request-id is echoed, others replaced', async () => {
      const kept = await call(base, 'GET', '/healthz', {
        headers: { 'x-request-id': 'req-123.a' },
      });
      assert.equal(kept.headers.get('x-request-id'), 'req-123.a');
      const replaced = await call(base, 'GET', '/healthz', {
        headers: { 'x-request-id': 'bad id with spaces' },
      });
      const id = replaced.headers.get('x-request-id') ?? '';
      assert.match(id, /^[0-9a-f-]{36}$/);
      const problem = await call(base, 'GET', '/nope', { headers: { 'x-request-id': 'trace-9' } });
      assert.equal(problem.body.requestId, 'trace-9');
    });

    test('/openapi.json describes every route and /docs serves the UI', async () => {
      const doc = await call(base, 'GET', '/openapi.json');
      assert.equal(doc.status, 200);
      assert.match(doc.body.openapi, /^3\./);
      assert.equal(doc.body.info.version, '1.2.3');
      const expected: Record<string, string[]> = {
        '/api/users': ['get', 'post'],
        '/api/users/{id}': ['delete', 'get', 'patch', 'put'],
        '/healthz': ['get'],
        '/readyz': ['get'],
        '/metrics': ['get'],
        '/version': ['get'],
        '/openapi.json': ['get'],
      };
      assert.deepEqual(Object.keys(doc.body.paths).sort(), Object.keys(expected).sort());
      for (const [path, methods] of Object.entries(expected)) {
        const ops = Object.keys(doc.body.paths[path]!).filter((k) => k !== 'parameters');
        for (const m of methods) assert.ok(ops.includes(m), `${m.toUpperCase()} ${path} missing`);
        for (const m of methods) {
          assert.ok(doc.body.paths[path]![m]!.responses, `${m} ${path} has no responses`);
        }
      }
      const getUser = doc.body.paths['/api/users/{id}']!.get!;
      assert.ok(getUser.responses['404']!.content['application/problem+json']);
      for (const status of ['400', '404', '414', '431', '500', '503', '5XX']) {
        assert.ok(getUser.responses[status], `GET /api/users/{id} does not list ${status}`);
      }
      assert.doesNotMatch(doc.text, /\\\\p\{/, 'a \\p{..} pattern needs the u flag');
      assert.ok(doc.body.components.schemas.Problem);

      const ui = await call(base, 'GET', '/docs');
      assert.equal(ui.status, 200);
      assert.match(ui.headers.get('content-type') ?? '', /text\/html/);
      assert.match(ui.text, /swagger-ui/i);
    });

    test('/metrics has the RED histogram labelled by route template', async () => {
      const created = await call(base, 'POST', '/api/users', {
        json: { name: 'metric', email: uniqueEmail('metric') },
      });
      await call(base, 'GET', `/api/users/${created.body.id}`);
      await call(base, 'GET', '/no/such/route');
      const res = await call(base, 'GET', '/metrics');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      const m = res.text;
      assert.match(
        m,
        /http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/api\/users\/:id",status_code="200"\}/,
      );
      assert.match(
        m,
        /http_requests_total\{method="GET",route="\/api\/users\/:id",status_code="200"\} \d+/,
      );
      assert.match(
        m,
        /http_requests_total\{method="GET",route="__unmatched__",status_code="404"\}/,
      );
      assert.doesNotMatch(m, new RegExp(`route="/api/users/${created.body.id}"`));
      assert.match(m, /nodejs_eventloop_lag_seconds/);
      assert.match(m, /process_cpu_seconds_total/);
    });

    test('/version, /healthz and /readyz', async () => {
      const v = await call(base, 'GET', '/version');
      assert.deepEqual(v.body, {
        version: '1.2.3',
        gitSha: 'abc1234',
        buildTime: '2026-01-01T00:00:00Z',
      });
      assert.deepEqual((await call(base, 'GET', '/healthz')).body, { status: 'ok' });
      const ready = await call(base, 'GET', '/readyz');
      assert.equal(ready.status, 200);
      assert.equal(ready.body.checks.database, 'ok');

      state.draining = true;
      try {
        const draining = await call(base, 'GET', '/readyz');
        assertProblem(draining, 503);
        assert.match(draining.body.detail, /draining/);
        assert.equal((await call(base, 'GET', '/healthz')).status, 200);
      } finally {
        state.draining = false;
      }
      state.faults = { ...NO_FAULTS, ready: false };
      try {
        assertProblem(await call(base, 'GET', '/readyz'), 503);
      } finally {
        state.faults = NO_FAULTS;
      }
    });

    test('fault injection: errors on API routes only, counted in metrics', async () => {
      state.faults = { ...NO_FAULTS, errorRate: 1, errorStatus: 503 };
      try {
        const res = await call(base, 'GET', '/api/users');
        assertProblem(res, 503);
        assert.equal(res.body.type, 'urn:gantry:problem:injected-fault');
        assert.equal((await call(base, 'GET', '/healthz')).status, 200);
        assert.equal((await call(base, 'GET', '/readyz')).status, 200);
        const metrics = await call(base, 'GET', '/metrics');
        assert.match(
          metrics.text,
          /http_requests_total\{method="GET",route="\/api\/users",status_code="503"\} [1-9]/,
        );
        state.faults = { ...NO_FAULTS, errorRate: 1, routes: new Set(['/api/users/:id']) };
        assert.equal((await call(base, 'GET', '/api/users')).status, 200);
        assertProblem(await call(base, 'GET', '/api/users/1'), 500);
      } finally {
        state.faults = NO_FAULTS;
      }
      assert.equal((await call(base, 'GET', '/api/users')).status, 200);
    });
  });
}
