import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fieldErrors } from '../../src/http/problem.js';

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
