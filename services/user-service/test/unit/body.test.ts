import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BodyError,
  loneSurrogatePointers,
  parseJsonBody,
  unsupportedCodings,
} from '../../src/http/body.js';

function refused(raw: Buffer | string): BodyError {
  try {
    parseJsonBody(Buffer.isBuffer(raw) ? raw : Buffer.from(raw));
  } catch (err) {
    assert.ok(err instanceof BodyError, String(err));
    return err;
  }
  assert.fail(`accepted ${String(raw)}`);
}

describe('parseJsonBody', () => {
  test('parses JSON, drops a byte order mark, and an empty body is no body', () => {
    assert.deepEqual(parseJsonBody(Buffer.from('{"name": "Zoë 😀"}')), { name: 'Zoë 😀' });
    assert.deepEqual(parseJsonBody(Buffer.from('\ufeff[1]')), [1]);
    assert.equal(parseJsonBody(Buffer.alloc(0)), undefined);
    // An escaped surrogate pair is one well-formed character.
    assert.deepEqual(parseJsonBody(Buffer.from('"\\ud83d\\ude00"')), '😀');
  });

  test('bytes that are not UTF-8 are refused, not replaced by U+FFFD', () => {
    for (const bad of [[0xe9], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff]]) {
      const err = refused(
        Buffer.concat([Buffer.from('{"name": "a'), Buffer.from(bad), Buffer.from('"}')]),
      );
      assert.equal(err.statusCode, 400);
      assert.match(err.message, /not valid UTF-8/);
      assert.equal(err.validation, undefined);
    }
  });

  test('malformed JSON names the parse error', () => {
    const err = refused('{"name": ');
    assert.equal(err.statusCode, 400);
    assert.match(err.message, /^malformed JSON body: /);
  });

  test('a lone surrogate, escaped, is a field error naming every place', () => {
    const err = refused(
      '{"name": "a\\ud800", "nested": [{"x": "\\udfff"}], "ok": "\\ud83d\\ude00"}',
    );
    assert.equal(err.statusCode, 400);
    assert.equal(err.validationContext, 'body');
    assert.deepEqual(
      err.validation?.map((v) => v.instancePath),
      ['/name', '/nested/0/x'],
    );
    assert.match(err.message, /^body\/name contains a lone surrogate/);
    assert.deepEqual(
      refused('{"a\\udc00/b": 1}').validation?.map((v) => v.instancePath),
      ['/a\udc00~1b'],
    );
    refused('"\\uD800"');
  });

  test('__proto__ and constructor are ordinary own keys; no prototype is touched', () => {
    const v = parseJsonBody(
      Buffer.from('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"p": 1}}}'),
    ) as Record<string, unknown>;
    assert.deepEqual(Object.keys(v), ['__proto__', 'constructor']);
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.equal((v as { polluted?: unknown }).polluted, undefined);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });

  test('deep nesting neither overflows the stack nor slows the surrogate check', () => {
    const deep = `${'['.repeat(100_000)}"\\ud800"${']'.repeat(100_000)}`;
    const err = refused(deep);
    assert.equal(err.validation?.length, 1);
    assert.equal(loneSurrogatePointers(['ok', { a: ['\ud800'] }])[0], '/1/a/0');
  });
});

describe('unsupportedCodings', () => {
  test('identity (or nothing) is fine; any other coding is named', () => {
    assert.deepEqual(unsupportedCodings(undefined), []);
    assert.deepEqual(unsupportedCodings(''), []);
    assert.deepEqual(unsupportedCodings('identity'), []);
    assert.deepEqual(unsupportedCodings(' Identity '), []);
    assert.deepEqual(unsupportedCodings('GZIP'), ['gzip']);
    assert.deepEqual(unsupportedCodings('deflate, identity, br'), ['deflate', 'br']);
  });
});
