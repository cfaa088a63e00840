import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { createAjv } from '../../src/http/validation.js';
import {
  CreateUserBody,
  NAME_PATTERN,
  ListUsersQuery,
  PatchUserBody,
  UserIdParams,
} from '../../src/users/schemas.js';

const body = createAjv('body');
const other = createAjv('other');
const create = body.compile(CreateUserBody);
const patch = body.compile(PatchUserBody);
const params = other.compile(UserIdParams);
const query = other.compile(ListUsersQuery);

describe('CreateUserBody', () => {
  test('accepts a plain user', () => {
    assert.equal(create({ name: 'Ada', email: 'ada@example.com' }), true);
    assert.equal(create({ name: 'Zoë 😀', email: 'a.b+c@sub.example.org' }), true);
    assert.equal(create({ name: 'x'.repeat(200), email: 'a@b.co' }), true);
  });

  for (const [label, value] of [
    ['a missing email', { name: 'Ada' }],
    ['a missing name', { email: 'a@b.co' }],
    ['an unknown field', { name: 'Ada', email: 'a@b.co', role: 'admin' }],
    ['a numeric name (no coercion in bodies)', { name: 42, email: 'a@b.co' }],
    ['an empty name', { name: '', email: 'a@b.co' }],
    ['a whitespace-only name', { name: ' \t ', email: 'a@b.co' }],
    ['a control character in the name', { name: 'A\u0000da', email: 'a@b.co' }],
    ['a newline in the name', { name: 'Ada\nKing', email: 'a@b.co' }],
    ['a name over 200 characters', { name: 'x'.repeat(201), email: 'a@b.co' }],
    ['an email without @', { name: 'Ada', email: 'ada.example.com' }],
    ['an email with spaces', { name: 'Ada', email: 'a da@example.com' }],
    ['an email over 254 characters', { name: 'Ada', email: `${'a'.repeat(250)}@b.co` }],
    ['an array', [{ name: 'Ada', email: 'a@b.co' }]],
    ['null', null],
  ] as const) {
    test(`rejects ${label}`, () => {
      assert.equal(create(value), false);
    });
  }

  test('reports every failing field at once', () => {
    assert.equal(create({ name: 1, email: 2, extra: 3 }), false);
    const keywords = (create.errors ?? []).map((e) => e.keyword).sort();
    assert.deepEqual(keywords, ['additionalProperties', 'type', 'type']);
  });
});

describe('PatchUserBody', () => {
  test('needs at least one field and rejects unknown ones', () => {
    assert.equal(patch({ name: 'New' }), true);
    assert.equal(patch({ email: 'n@example.com' }), true);
    assert.equal(patch({}), false);
    assert.equal(patch({ id: 3 }), false);
    assert.equal(patch({ name: null }), false);
  });
});

describe('UserIdParams', () => {
  test('positive decimal integers up to 15 digits only', () => {
    for (const ok of ['1', '42', '999999999999999']) assert.equal(params({ id: ok }), true, ok);
    for (const bad of ['0', '-1', '01', '1.0', '1e3', 'abc', '', ' 1', '9999999999999999']) {
      assert.equal(params({ id: bad }), false, bad);
    }
  });
});

describe('ListUsersQuery', () => {
  test('limit is coerced from the query string and bounded 1..100', () => {
    const q: Record<string, unknown> = { limit: '10' };
    assert.equal(query(q), true);
    assert.equal(q.limit, 10);
    for (const bad of ['0', '101', '-1', 'ten', '2.5']) {
      assert.equal(query({ limit: bad }), false, bad);
    }
  });

  test('limit defaults to 20', () => {
    const q: Record<string, unknown> = {};
    assert.equal(query(q), true);
    assert.equal(q.limit, 20);
  });

  test('cursor must be base64url and unknown parameters are rejected', () => {
    assert.equal(query({ cursor: 'abc_-09' }), true);
    assert.equal(query({ cursor: 'a+b/c=' }), false);
    assert.equal(query({ cursor: '' }), false);
    assert.equal(query({ sort: 'name' }), false);
  });
});

describe('name pattern', () => {
  const INVISIBLE = /^[\p{White_Space}\p{Cf}\p{Default_Ignorable_Code_Point}]$/u;
  const CONTROL = /^\p{Cc}$/u;
  const engines = {
    'ECMA-262 without u': new RegExp(NAME_PATTERN),
    'with u (ajv)': new RegExp(NAME_PATTERN, 'u'),
  };

  test('uses no \\p{..}, \\u escapes or lookaround, so other regex engines read it too', () => {
    assert.doesNotMatch(NAME_PATTERN, /\\[pPuU]|\(\?/);
    const raw = [...NAME_PATTERN].filter((c) => c.charCodeAt(0) < 0x20);
    assert.deepEqual(raw, [], 'control characters are written as \\xHH, never raw');
  });

  test('a BMP character alone is a name exactly when it is visible: \\p classes agree', () => {
    for (const [engine, re] of Object.entries(engines)) {
      const wrong: string[] = [];
      for (let c = 0; c <= 0xffff; c++) {
        if (c >= 0xd800 && c <= 0xdfff) continue; // lone surrogates: refused by the body parser
        const ch = String.fromCharCode(c);
        const visible = !INVISIBLE.test(ch) && !CONTROL.test(ch);
        if (re.test(ch) !== visible) wrong.push(c.toString(16));
        // Invisible characters are allowed beside a visible one; controls never are.
        if (re.test(`a${ch}`) !== !CONTROL.test(ch)) wrong.push(`a+${c.toString(16)}`);
      }
      assert.deepEqual(
        wrong,
        [],
        `${engine}: pattern disagrees for ${wrong.slice(0, 20).join(' ')}`,
      );
    }
  });

  test('invisible-only names are refused, names with a visible character accepted', () => {
    for (const bad of [
      '\u200b',
      '\u200b\u200c\u200d',
      ' \u3000\u00a0',
      '\ufeff',
      '\u2060\u00ad',
      '\u3164',
      '\ufe0f',
    ]) {
      assert.equal(create({ name: bad, email: 'a@b.co' }), false, JSON.stringify(bad));
    }
    for (const good of ['\u200bAda', 'Ada\u200d', '😀', '\u{20000}', 'ﷺ', '\u0301']) {
      assert.equal(create({ name: good, email: 'a@b.co' }), true, JSON.stringify(good));
    }
    // Both engines agree on characters outside the BMP (they count as visible).
    for (const s of ['😀', '\u{e0041}', '\u{1d173}', 'a\u{e0001}']) {
      assert.equal(engines['ECMA-262 without u'].test(s), engines['with u (ajv)'].test(s), s);
    }
  });

  test('Python reads the pattern the same way (when installed)', (t) => {
    // Every BMP code point once, as in the test above, through a code-point regex engine.
    const samples: string[] = [];
    for (let c = 0; c <= 0xffff; c++) {
      if (c < 0xd800 || c > 0xdfff) samples.push(String.fromCharCode(c));
    }
    samples.push('😀', 'a\u0000', '\u200bA', '\u{e0041}');
    const expected = samples.map((s) => new RegExp(NAME_PATTERN, 'u').test(s));
    const input = JSON.stringify({ pattern: NAME_PATTERN, samples });
    const python = spawnSync(
      'python3',
      [
        '-c',
        'import json,re,sys; d=json.load(sys.stdin); p=re.compile(d["pattern"]); print(json.dumps([p.search(s) is not None for s in d["samples"]]))',
      ],
      { input, encoding: 'utf8' },
    );
    if (python.error) {
      t.skip('python3 not installed');
      return;
    }
    assert.equal(python.status, 0, python.stderr);
    assert.deepEqual(JSON.parse(python.stdout) as boolean[], expected);
  });
});
