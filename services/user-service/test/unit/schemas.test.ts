import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAjv } from '../../src/http/validation.js';
import {
  CreateUserBody,
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
