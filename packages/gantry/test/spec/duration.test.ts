// Durations: the spec's parser (seconds) and the CLI flags built on it (milliseconds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from '../../src/spec/duration.js';
import { parseDuration as flagMs } from '../../src/cli/context.js';
import { UsageError } from '../../src/cli/output.js';

test('spec durations are seconds, with ms, s, m and h', () => {
  assert.equal(parseDuration('250ms'), 0.25);
  assert.equal(parseDuration('2s'), 2);
  assert.equal(parseDuration('1.5m'), 90);
  assert.equal(parseDuration('1h'), 3600);
  for (const bad of ['2', '2 s', '-1s', '1d', '']) {
    assert.throws(() => parseDuration(bad), /^Error: not a duration: /, bad);
  }
});

test('duration flags are milliseconds; a bare number is seconds', () => {
  assert.equal(flagMs('1500ms'), 1500);
  assert.equal(flagMs('90s'), 90_000);
  assert.equal(flagMs(' 5m '), 300_000);
  assert.equal(flagMs('30'), 30_000);
  assert.equal(flagMs('0.5'), 500);
  assert.throws(
    () => flagMs('5 min'),
    (err: unknown) =>
      err instanceof UsageError &&
      err.message === 'invalid duration "5 min" (examples: 90s, 5m, 1500ms)',
  );
});
