import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, isoTimeCached } from '../../src/logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { lines, stream };
}

test('credentials are redacted from log lines', () => {
  const { lines, stream } = capture();
  const log = createLogger('info', stream);
  log.info(
    {
      req: { headers: { authorization: 'Bearer s3cret-token', cookie: 'sid=s3cret-cookie' } },
      DATABASE_URL: 'postgres://u:s3cret-pw@db/x',
      password: 's3cret-plain',
    },
    'incoming',
  );
  const out = lines.join('');
  assert.doesNotMatch(out, /s3cret/);
  const parsed = JSON.parse(out) as { req: { headers: Record<string, string> }; level: string };
  assert.equal(parsed.req.headers.authorization, '[redacted]');
  assert.equal(parsed.level, 'info');
});

test('timestamps are ISO 8601', () => {
  const { lines, stream } = capture();
  createLogger('info', stream).info('hello');
  const parsed = JSON.parse(lines.join('')) as { time: string };
  assert.match(parsed.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.match(isoTimeCached(), /^,"time":"\d{4}-/);
});
