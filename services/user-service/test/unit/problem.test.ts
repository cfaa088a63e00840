import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PATTERN_DETAIL, fieldErrors, validationDetail } from '../../src/http/problem.js';

test('ajv errors become RFC 9457 field errors with JSON pointers', () => {
  const errors = fieldErrors(
    [
      { instancePath: '', keyword: 'required', params: { missingProperty: 'email' } },
      {
        instancePath: '',
        keyword: 'additionalProperties',
        params: { additionalProperty: 'a/b~c' },
      },
      { instancePath: '/name', keyword: 'type', params: {}, message: 'must be string' },
      { instancePath: '', keyword: 'type', params: {}, message: 'must be object' },
    ],
    'body',
  );
  assert.deepEqual(errors, [
    { location: 'body', pointer: '#/email', detail: 'is required' },
    { location: 'body', pointer: '#/a~1b~0c', detail: 'is not an allowed field' },
    { location: 'body', pointer: '#/name', detail: 'must be string' },
    { location: 'body', pointer: '#', detail: 'must be object' },
  ]);
  assert.equal(fieldErrors([{ instancePath: '/id' }], 'params')[0]?.location, 'path');
  assert.equal(fieldErrors([{ instancePath: '/limit' }], 'querystring')[0]?.location, 'query');
});

test('a pattern with x-pattern-detail is described, not echoed, in the detail and the field', () => {
  const errors = [
    {
      instancePath: '/name',
      keyword: 'pattern',
      params: { pattern: '^[\u200b]*x$' },
      message: 'must match pattern "^[\u200b]*x$"',
      parentSchema: { type: 'string', [PATTERN_DETAIL]: 'must contain a visible character' },
    },
    { instancePath: '/email', keyword: 'format', params: {}, message: 'must match format "email"' },
  ];
  assert.deepEqual(
    fieldErrors(errors, 'body').map((e) => e.detail),
    ['must contain a visible character', 'must match format "email"'],
  );
  assert.equal(
    validationDetail(errors, 'body', 'fallback'),
    'body/name must contain a visible character, body/email must match format "email"',
  );
  assert.equal(validationDetail(errors.slice(1), 'body', 'fallback'), 'fallback');
});
