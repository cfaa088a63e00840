// Property-based contract test: fast-check generates requests (documented and unknown paths,
// every method node:http can send, valid and invalid bodies, odd names and unicode, lone
// surrogates, bytes that are not UTF-8, __proto__ keys, oversized bodies, content types and
// codings, request ids) and sends them to the real app listening on 127.0.0.1 (SQLite in memory).
// Every answer is checked against the app's own /openapi.json: the status is listed for the
// operation (or is the 404/405 of an unknown path/method), the content type is the declared one,
// the body validates against the declared schema, and a few header and storage invariants hold.
// fuzz.test.ts checks "never a 5xx" with hand-written generators; this one checks the document.
// Reproduce a failure with CONTRACT_SEED=<seed> (printed by fast-check) and CONTRACT_RUNS=<n>.
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { after, before, test } from 'node:test';
import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';
import { SqliteUserRepository } from '../../src/db/sqlite.js';
import { NO_FAULTS } from '../../src/ops/faults.js';
import { sendRaw, startServer } from '../helpers/http.js';
import type { RawRequest, RawResponse, Running } from '../helpers/http.js';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

const RUNS = Number(process.env.CONTRACT_RUNS ?? 300);
const SEED =
  process.env.CONTRACT_SEED === undefined ? undefined : Number(process.env.CONTRACT_SEED);
const BODY_LIMIT = 2048;

interface MediaType {
  schema?: object;
}
interface OpenApiResponse {
  description: string;
  content?: Record<string, MediaType>;
}
interface Operation {
  responses: Record<string, OpenApiResponse>;
}
interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
}

const OPERATION_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

let srv: Running;
let doc: OpenApiDoc;
let ajv: Ajv;
const agent = new Agent({ keepAlive: true, maxSockets: 2 });
const knownIds: number[] = [];
const takenEmails: string[] = [];
let seq = 0;

before(async () => {
  srv = await startServer({
    repository: new SqliteUserRepository(':memory:'),
    bodyLimit: BODY_LIMIT,
  });
  const res = await sendRaw(srv.baseUrl, { method: 'GET', path: '/openapi.json' });
  assert.equal(res.status, 200);
  doc = JSON.parse(res.text) as OpenApiDoc;
  // OpenAPI 3.0 schemas are JSON Schema plus `nullable` (ajv knows it) and `example`. The whole
  // document is added under its URL and response schemas compiled by JSON pointer, so $refs to
  // #/components/schemas resolve as they would for any client.
  ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc, 'openapi.json');
  // A few users to read, replace and delete; and emails to collide with.
  for (let i = 0; i < 3; i++) {
    const email = `seed${i}@example.com`;
    const created = await sendRaw(srv.baseUrl, {
      method: 'POST',
      path: '/api/users',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: `Seed ${i}`, email }),
    });
    assert.equal(created.status, 201, created.text);
    knownIds.push((JSON.parse(created.text) as { id: number }).id);
    takenEmails.push(email);
  }
});
after(async () => {
  agent.destroy();
  await srv.close();
});

const pointerToken = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

const validators = new Map<string, ValidateFunction>();
function validatorFor(pointer: string): ValidateFunction {
  let v = validators.get(pointer);
  if (v === undefined) {
    v = ajv.getSchema(`openapi.json#${pointer}`);
    assert.ok(v, `no schema at ${pointer}`);
    validators.set(pointer, v);
  }
  return v;
}

/**
 * The documented path template a raw request path falls under (no decoding, like a client). A
 * parameter may be empty: the router sends /api/users/ to /api/users/:id (and validation to 400).
 */
function documentedPath(rawPath: string): string | undefined {
  const path = rawPath.split('?', 1)[0]!;
  for (const template of Object.keys(doc.paths)) {
    const re = new RegExp(
      '^' +
        template
          .split('/')
          .map((seg) =>
            /^\{.+\}$/.test(seg) ? '[^/]*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
          )
          .join('/') +
        '$',
    );
    if (re.test(path)) return template;
  }
  return undefined;
}

/** Methods of a path item as an Allow header would list them: HEAD comes with GET. */
function allowedMethods(template: string): string[] {
  const methods = Object.keys(doc.paths[template]!)
    .filter((m) => OPERATION_METHODS.includes(m))
    .map((m) => m.toUpperCase());
  if (methods.includes('GET')) methods.push('HEAD');
  return [...new Set(methods)].sort();
}

/** A URL the router refuses before it looks at the method: a bad %-escape or an over-long segment. */
function unroutable(path: string): boolean {
  return /%|[^/?]{201}/.test(path.split('?', 1)[0]!);
}

const PROBLEM_SCHEMA = '/components/schemas/Problem';

function checkProblem(res: RawResponse, what: string, head: boolean): void {
  assert.match(
    String(res.headers['content-type']),
    /^application\/problem\+json/,
    `${what}: problem content type`,
  );
  if (head) {
    assert.equal(res.body.length, 0, `${what}: HEAD answered with a body`);
    return;
  }
  const body: unknown = JSON.parse(res.text);
  const valid = validatorFor(PROBLEM_SCHEMA);
  assert.ok(valid(body), `${what}: not a Problem: ${ajv.errorsText(valid.errors)}`);
  assert.equal((body as { status: number }).status, res.status, `${what}: problem status`);
}

/**
 * Checks one answer against the document. Returns the parsed body of a JSON answer (or undefined).
 */
function checkAgainstDocument(req: RawRequest, res: RawResponse): unknown {
  const what = `${req.method} ${req.path.slice(0, 120)} → ${res.status} ${res.text.slice(0, 300)}`;
  assert.ok(res.headers['x-request-id'], `${what}: no x-request-id`);
  const template = documentedPath(req.path);
  const head = req.method === 'HEAD';
  const opName = head ? 'get' : req.method.toLowerCase();
  const op =
    template !== undefined && OPERATION_METHODS.includes(opName)
      ? doc.paths[template]![opName]
      : undefined;

  if (op === undefined) {
    if (template !== undefined && !unroutable(req.path)) {
      // A documented path, an undocumented method: 405 naming the documented ones.
      assert.equal(res.status, 405, what);
      assert.equal(res.headers.allow, allowedMethods(template).join(', '), `${what}: Allow`);
    } else if (template !== undefined) {
      assert.ok([400, 405, 414].includes(res.status), `${what}: unroutable URL`);
    } else {
      // No documented path: 404, or a URL that cannot be routed at all (bad escape, too long).
      assert.ok([400, 404, 414].includes(res.status), `${what}: unknown path`);
    }
    checkProblem(res, what, head);
    return undefined;
  }

  const key =
    op.responses[String(res.status)] !== undefined
      ? String(res.status)
      : op.responses[`${String(res.status)[0]}XX`] !== undefined
        ? `${String(res.status)[0]}XX`
        : 'default';
  const declared = op.responses[key];
  assert.ok(
    declared,
    `${what}: status ${res.status} is not in the document for ${opName.toUpperCase()} ${template}` +
      ` (listed: ${Object.keys(op.responses).join(', ')})`,
  );
  if (res.status === 405) assert.ok(res.headers.allow, `${what}: 405 without Allow`);
  const contentType = String(res.headers['content-type'] ?? '');
  const media = contentType.split(';', 1)[0]!.trim().toLowerCase();
  if (declared.content === undefined || Object.keys(declared.content).length === 0) {
    assert.equal(res.body.length, 0, `${what}: declared without content, but has a body`);
    return undefined;
  }
  assert.ok(
    Object.keys(declared.content).includes(media),
    `${what}: content type "${contentType}" not declared (${Object.keys(declared.content).join(', ')})`,
  );
  if (head) {
    assert.equal(res.body.length, 0, `${what}: HEAD answered with a body`);
    return undefined;
  }
  if (!media.endsWith('json')) return undefined;
  const body: unknown = JSON.parse(res.text);
  const pointer =
    `/paths/${pointerToken(template!)}/${opName}/responses/${key}` +
    `/content/${pointerToken(media)}/schema`;
  const valid = validatorFor(pointer);
  assert.ok(
    valid(body),
    `${what}: body does not match ${pointer}: ${ajv.errorsText(valid.errors)}`,
  );
  if (media === 'application/problem+json') {
    assert.equal((body as { status: number }).status, res.status, `${what}: problem status`);
  }
  return body;
}

// ---- generators ----------------------------------------------------------------------------

/** Characters that look like nothing (whitespace, format characters, fillers). */
const invisibleChar = fc.constantFrom(
  ' ',
  '\u00a0',
  '\u00ad',
  '\u200b',
  '\u200c',
  '\u200d',
  '\u200e',
  '\u2060',
  '\u2028',
  '\u202e',
  '\u3000',
  '\u3164',
  '\ufe0f',
  '\ufeff',
  '\u180e',
);
const controlChar = fc.constantFrom('\u0000', '\t', '\n', '\u001b', '\u007f', '\u0085', '\u009f');
const loneSurrogate = fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff');

const name: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }) },
  fc.string({ unit: 'binary', maxLength: 20 }), // any code point, lone surrogates included
  fc.string({ unit: invisibleChar, minLength: 1, maxLength: 8 }),
  fc
    .tuple(
      fc.string({ unit: invisibleChar, maxLength: 3 }),
      fc.string({ minLength: 1, maxLength: 5 }),
    )
    .map(([a, b]) => a + b),
  fc
    .tuple(
      fc.string({ maxLength: 5 }),
      fc.oneof(controlChar, loneSurrogate),
      fc.string({ maxLength: 5 }),
    )
    .map(([a, c, b]) => a + c + b),
  fc.constantFrom('', 'x'.repeat(200), 'x'.repeat(201), '😀', '\u{e0041}', 'Zoë', 'a\ud83d'),
);

const email: fc.Arbitrary<string> = fc.oneof(
  // Fresh addresses (the counter keeps them unique across runs and shrinking)...
  { weight: 8, arbitrary: fc.nat().map((n) => `u${n}.${++seq}@example.com`) },
  // ...and ones taken already, in another case: 409.
  { weight: 3, arbitrary: fc.nat().map((n) => takenEmails[n % takenEmails.length]!.toUpperCase()) },
  { weight: 1, arbitrary: fc.constantFrom('not-an-email', '', 'a@b', `${'a'.repeat(250)}@b.co`) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);

/** A JSON value that is not a string, for wrong-type fields. */
const otherJson = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 2 }),
);

/** JSON text of an object; keys may be __proto__ or constructor, written literally. */
const userObjectText: fc.Arbitrary<string> = fc
  .record({
    // Mostly both fields and no other, so that writes succeed; sometimes a field missing, of the
    // wrong type, or another key beside them.
    name: fc.option(fc.oneof({ weight: 5, arbitrary: name }, { weight: 1, arbitrary: otherJson }), {
      freq: 8,
      nil: undefined,
    }),
    email: fc.option(
      fc.oneof({ weight: 5, arbitrary: email }, { weight: 1, arbitrary: otherJson }),
      { freq: 8, nil: undefined },
    ),
    extra: fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'id', 'admin', '') },
    ),
  })
  .map((r) =>
    Object.entries(r)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) =>
        k === 'extra' ? `${JSON.stringify(v)}: {"polluted": true}` : `"${k}": ${JSON.stringify(v)}`,
      )
      .join(', '),
  )
  .map((fields) => `{${fields}}`);

const body: fc.Arbitrary<string | Buffer | undefined> = fc.oneof(
  { weight: 16, arbitrary: userObjectText },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom('', '{', '{"name": "x",', 'null', '[]', '"x"', '42') },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)) },
  {
    weight: 1,
    // "é" in Latin-1, an overlong "/", a CESU-8 surrogate: none of them is UTF-8.
    arbitrary: fc
      .constantFrom([0xe9], [0xc0, 0xaf], [0xed, 0xa0, 0x80])
      .map((bad) =>
        Buffer.concat([
          Buffer.from('{"name": "a'),
          Buffer.from(bad),
          Buffer.from('", "email": "x@example.com"}'),
        ]),
      ),
  },
  {
    weight: 1,
    arbitrary: fc.constant(
      JSON.stringify({ name: 'x'.repeat(BODY_LIMIT), email: 'big@example.com' }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 3000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  },
);

const idSegment: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.nat().map((n) => String(knownIds[n % knownIds.length])) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 999_999_999_999_999 }).map(String) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '0',
      '-1',
      '01',
      '1.5',
      '1e3',
      'abc',
      '%zz',
      '%00',
      '%2F',
      '9'.repeat(16),
      '9'.repeat(300),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }).map(encodeURIComponent),
  },
  { weight: 1, arbitrary: fc.constant('9'.repeat(201)) }, // over the router's parameter limit
);

const query: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        'limit=1',
        'limit=100',
        'limit=0',
        'limit=101',
        'limit=x',
        'limit=',
        'limit=1&limit=2',
      ),
      fc.constantFrom('cursor=abc', 'cursor=', 'cursor=!!', `cursor=${'a'.repeat(201)}`),
      fc.string({ maxLength: 6 }).map((k) => `${encodeURIComponent(k)}=1`),
    ),
    { maxLength: 3 },
  )
  .map((parts) => (parts.length > 0 ? `?${parts.join('&')}` : ''));

const anyPath: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: query.map((q) => `/api/users${q}`) },
  { weight: 6, arbitrary: idSegment.map((id) => `/api/users/${id}`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('/healthz', '/readyz', '/metrics', '/version', '/openapi.json'),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '/',
      '/nope',
      '/api',
      '/api/users/',
      '/api/users/1/x',
      '//api/users',
      '/API/USERS',
      '/api/users/%zz/x',
    ),
  },
);

const anyMethod = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE') },
  // Methods node:http accepts that no route has; CONNECT is not routed by Node at all.
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'HEAD',
      'OPTIONS',
      'QUERY',
      'TRACE',
      'PROPFIND',
      'PURGE',
      'LINK',
      'SEARCH',
      'M-SEARCH',
    ),
  },
);

/** Mostly documented operations with plausible parameters, else any method on any path. */
const target: fc.Arbitrary<{ method: string; path: string }> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.oneof(
      {
        weight: 2,
        arbitrary: fc.record({ method: fc.constant('POST'), path: fc.constant('/api/users') }),
      },
      fc.record({ method: fc.constant('GET'), path: query.map((q) => `/api/users${q}`) }),
      fc.record({
        method: fc.constantFrom('GET', 'PATCH', 'PUT', 'DELETE', 'HEAD'),
        path: idSegment.map((id) => `/api/users/${id}`),
      }),
    ),
  },
  { weight: 2, arbitrary: fc.record({ method: anyMethod, path: anyPath }) },
);

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/merge-patch+json',
      'Application/JSON',
      'text/plain',
      'application/x-www-form-urlencoded',
      'x',
      undefined,
    ),
  },
);

const headers = fc.record(
  {
    contentEncoding: fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('identity', 'gzip', 'br', 'deflate, identity', 'GZIP', ''),
      },
    ),
    requestId: fc.oneof(
      fc.constantFrom('trace-1', 'a'.repeat(129), 'bad id'),
      fc.string({ maxLength: 10 }),
    ),
    accept: fc.constantFrom('*/*', 'text/html', 'application/xml'),
    chunked: fc.boolean(),
  },
  { requiredKeys: ['chunked'] },
);

const requestArb = fc
  .record({ target, contentType, body, headers })
  .map(({ target: { method, path }, contentType, body: content, headers: h }): RawRequest => {
    // A TRACE request must not carry a body (RFC 9110 §9.3.8).
    const body = method === 'TRACE' ? undefined : content;
    const out: Record<string, string | number> = {};
    if (contentType !== undefined) out['content-type'] = contentType;
    if (h.contentEncoding !== undefined) out['content-encoding'] = h.contentEncoding;
    if (h.requestId !== undefined && /^[\t\x20-\x7e]*$/.test(h.requestId)) {
      out['x-request-id'] = h.requestId;
    }
    if (h.accept !== undefined) out.accept = h.accept;
    // node:http sends a GET or DELETE body without any framing unless told to chunk it.
    if (body !== undefined) {
      if (h.chunked) out['transfer-encoding'] = 'chunked';
      else out['content-length'] = Buffer.byteLength(body);
    }
    return { method, path, headers: out, ...(body !== undefined && { body }) };
  });

const json = { 'content-type': 'application/json' };
/** The cases of issue 12 and one of each rarer answer, run before the generated ones. */
const EXAMPLES: RawRequest[] = [
  ['\u200b', '\u200b\u200c\u2060', ' \u3000\u00a0', '\ufeff\u00ad\u180e', 'a\ud800', '\udc00'].map(
    (n, i): RawRequest => ({
      method: 'POST',
      path: '/api/users',
      headers: json,
      body: JSON.stringify({ name: n, email: `example${i}@example.com` }),
    }),
  ),
  [
    {
      method: 'POST',
      path: '/api/users',
      headers: json,
      body: '{"__proto__": {"polluted": true}, "name": "p", "email": "p@example.com"}',
    },
    {
      method: 'POST',
      path: '/api/users',
      headers: json,
      body: '{"name": "Ada", "email": "ada@example.com"}',
    },
    {
      method: 'POST',
      path: '/api/users',
      headers: json,
      body: '{"name": "Ada", "email": "ADA@example.com"}',
    },
    {
      method: 'POST',
      path: '/api/users',
      headers: { ...json, 'content-encoding': 'gzip' },
      body: '{"name": "Ada", "email": "gz@example.com"}',
    },
    {
      method: 'POST',
      path: '/api/users',
      headers: json,
      body: JSON.stringify({ name: 'x'.repeat(BODY_LIMIT), email: 'big@example.com' }),
    },
    { method: 'QUERY', path: '/api/users' },
    { method: 'QUERY', path: '/api/users', headers: json, body: '{}' },
    { method: 'GET', path: `/api/users/${'9'.repeat(300)}` },
    { method: 'DELETE', path: '/api/users/2' },
    { method: 'GET', path: '/nope' },
  ],
].flat();

// ---- oracles beyond the document ------------------------------------------------------------

const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const INVISIBLE = /^[\p{White_Space}\p{Cf}\p{Default_Ignorable_Code_Point}]$/u;
const CONTROL = /\p{Cc}/u;
/** Independent of the server's pattern: \p classes here, characters outside the BMP visible. */
function acceptableName(s: string): boolean {
  return (
    !LONE.test(s) &&
    !CONTROL.test(s) &&
    [...s].some((c) => c.codePointAt(0)! > 0xffff || !INVISIBLE.test(c))
  );
}

/** What the request meant to store, when its body was a JSON object of strings. */
function sentFields(req: RawRequest): { name?: unknown; email?: unknown } | undefined {
  if (typeof req.body !== 'string') return undefined;
  try {
    const v: unknown = JSON.parse(req.body);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

test(`every answer to ${RUNS} generated requests matches the OpenAPI document`, async () => {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(requestArb, async (req) => {
      const res = await sendRaw(srv.baseUrl, req, agent);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const answer = checkAgainstDocument(req, res);
      const what = `${req.method} ${req.path} → ${res.status}`;
      assert.ok(res.status < 500, `${what}: ${res.text}`);
      const wrote = ['POST', 'PUT', 'PATCH'].includes(req.method) && res.status < 300;
      if (wrote) {
        const user = answer as { id: number; name: string; email: string };
        const sent = sentFields(req)!;
        // Stored as sent, only trimmed: nothing replaced by U+FFFD, nothing else normalised.
        if (typeof sent.name === 'string') assert.equal(user.name, sent.name.trim(), what);
        if (typeof sent.email === 'string') assert.equal(user.email, sent.email.trim(), what);
        assert.ok(acceptableName(user.name), `${what}: accepted name ${JSON.stringify(user.name)}`);
        if (req.method === 'POST') {
          assert.equal(res.headers.location, `/api/users/${user.id}`, what);
          knownIds.push(user.id);
        }
        takenEmails.push(user.email);
      }
      // A compressed body is refused before it is read, whatever it holds.
      const coded = /gzip|br|deflate/i.test(String(req.headers?.['content-encoding']));
      const hasBody = req.body !== undefined && Buffer.byteLength(req.body) > 0;
      if (coded && hasBody && ['POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method)) {
        const routable = documentedPath(req.path) !== undefined && !unroutable(req.path);
        if (routable && res.status !== 405) assert.equal(res.status, 415, `${what}: ${res.text}`);
        if (res.status === 415) assert.equal(res.headers['accept-encoding'], 'identity', what);
      }
      assert.equal(
        ({} as Record<string, unknown>).polluted,
        undefined,
        'Object.prototype polluted',
      );
    }),
    {
      numRuns: RUNS,
      includeErrorInReport: true,
      examples: EXAMPLES.map((r) => [r]),
      ...(SEED !== undefined && { seed: SEED }),
    },
  );
  // With the examples, every status the document lists for a client error or success was seen...
  const seen = [...statuses.keys()];
  for (const s of [200, 201, 204, 400, 404, 405, 409, 413, 414, 415]) {
    assert.ok(seen.includes(s), `no ${s} among the answers: ${JSON.stringify([...statuses])}`);
  }
  // ...and the generators alone reach the success paths and the common error paths.
  for (const s of [200, 201, 400, 404, 405, 415]) {
    assert.ok((statuses.get(s) ?? 0) >= 4, `too few ${s}: ${JSON.stringify([...statuses])}`);
  }
});

test('every operation lists its answers and every pattern in the document is portable', () => {
  const patterns: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) {
      for (const [k, child] of Object.entries(v)) {
        if (k === 'pattern' && typeof child === 'string') patterns.push(child);
        else walk(child);
      }
    }
  };
  walk(doc);
  assert.ok(patterns.length >= 3, `only ${patterns.length} patterns found`);
  for (const p of patterns) {
    // No \p{..} (needs the u flag), no \u (RE2 and PCRE lack it), no lookaround (RE2 lacks it).
    assert.doesNotMatch(p, /\\[pPuU]|\(\?[=!<]/, p);
    assert.doesNotThrow(() => new RegExp(p), p); // ECMA-262 without the u flag
    assert.doesNotThrow(() => new RegExp(p, 'u'), p); // ajv, on the server
  }
  for (const [template, item] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(item)) {
      if (!OPERATION_METHODS.includes(m)) continue;
      for (const s of ['431', '500', '503']) {
        assert.ok(op.responses[s], `${m.toUpperCase()} ${template} does not list ${s}`);
      }
      if (template.startsWith('/api/')) {
        assert.ok(op.responses['5XX'], `${m.toUpperCase()} ${template}: no 5XX (injected faults)`);
      }
      if (template.includes('{')) assert.ok(op.responses['414'], `${m} ${template}: no 414`);
      if (['post', 'put', 'patch', 'delete'].includes(m)) {
        for (const s of ['413', '415']) assert.ok(op.responses[s], `${m} ${template}: no ${s}`);
      }
    }
  }
});

test('injected faults (any 5xx) are answers the document lists for API routes', async () => {
  try {
    for (const errorStatus of [500, 502, 503, 507, 599]) {
      srv.app.state.faults = { ...NO_FAULTS, errorRate: 1, errorStatus };
      for (const req of [
        { method: 'GET', path: '/api/users' },
        { method: 'GET', path: `/api/users/${knownIds[0]}` },
        {
          method: 'POST',
          path: '/api/users',
          headers: json,
          body: '{"name": "f", "email": "f@x.io"}',
        },
        { method: 'GET', path: '/healthz' },
      ]) {
        const res = await sendRaw(srv.baseUrl, req, agent);
        checkAgainstDocument(req, res);
        assert.equal(res.status, req.path === '/healthz' ? 200 : errorStatus);
      }
    }
  } finally {
    srv.app.state.faults = NO_FAULTS;
  }
});
