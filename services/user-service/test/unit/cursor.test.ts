import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCursor, encodeCursor } from '../../src/users/cursor.js';
import { InvalidCursorError } from '../../src/users/errors.js';

test('cursors round-trip and are opaque base64url', () => {
  for (const id of [1, 42, 999_999_999_999_999]) {
    const c = encodeCursor(id);
    assert.match(c, /^[A-Za-z0-9_-]+$/);
    assert.equal(decodeCursor(c), id);
  }
});

test('tampered, truncated or foreign cursors are rejected with InvalidCursorError', () => {
  const good = encodeCursor(1234);
  const forged = Buffer.from('v1:9999:AAAAAAAA').toString('base64url');
  const noCheck = Buffer.from('v1:1234').toString('base64url');
  const flipped = (good[3] === 'A' ? 'B' : 'A') + good.slice(1);
  const tampered = good.slice(0, 3) + (good[3] === 'A' ? 'B' : 'A') + good.slice(4);
  for (const bad of [forged, noCheck, flipped, tampered, good.slice(0, -3), '', '!!', 'a b']) {
    assert.throws(() => decodeCursor(bad), InvalidCursorError, `accepted ${JSON.stringify(bad)}`);
  }
});
