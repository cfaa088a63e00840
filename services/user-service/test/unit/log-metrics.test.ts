// log_lines_total{level}: every line the process's logger writes, counted by level, child
// loggers (Fastify's request loggers) included, and exposed on /metrics.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import Fastify from 'fastify';
import { Counter, Registry } from 'prom-client';
import { createLogger } from '../../src/logger.js';
import { countLogLines, logLines, registerMetrics } from '../../src/ops/metrics.js';
import pino from 'pino';

function sink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { lines, stream };
}

async function byLevel(counter: Counter<'level'>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await counter.get()).values) out[String(v.labels.level)] = v.value;
  return out;
}

test('each written line counts once under its level; disabled levels do not count', async () => {
  const counter = new Counter<'level'>({
    name: 'log_lines_total',
    help: 'test',
    labelNames: ['level'],
    registers: [],
  });
  const { lines, stream } = sink();
  const log = pino({ level: 'info', hooks: { logMethod: countLogLines(counter) } }, stream);
  log.info('one');
  log.error({ err: 'x' }, 'two');
  log.error('three');
  log.fatal('four');
  log.debug('not written');
  log.child({ req: 1 }).warn('from a child');
  assert.equal(lines.length, 5);
  assert.deepEqual(await byLevel(counter), { info: 1, error: 2, fatal: 1, warn: 1 });
  // The line itself is unchanged by the hook.
  assert.equal((JSON.parse(lines[1]!) as { msg: string; err: string }).msg, 'two');
});

test("the service's logger counts into log_lines_total, which /metrics exposes", async () => {
  const before = await byLevel(logLines);
  const { stream } = sink();
  const log = createLogger('info', stream);
  log.error('failed');
  log.child({ reqId: 'r1' }).info('request done');
  const after = await byLevel(logLines);
  assert.equal(after.error, (before.error ?? 0) + 1);
  assert.equal(after.info, (before.info ?? 0) + 1);

  // The text /metrics answers with (the route itself needs the app's Problem schema).
  const app = Fastify();
  const registry = registerMetrics(app, { registry: new Registry(), collectDefaults: false });
  const text = await registry.metrics();
  assert.match(text, /^# TYPE log_lines_total counter$/m);
  assert.match(text, new RegExp(`^log_lines_total\\{level="error"\\} ${after.error}$`, 'm'));
  // Every level has a series from the start, so a first error is a rise from 0.
  assert.match(text, /^log_lines_total\{level="trace"\} \d+$/m);
  // A second registry (another app in the same process) exposes the same counter.
  const again = await registerMetrics(Fastify(), { collectDefaults: false }).metrics();
  assert.match(again, new RegExp(`^log_lines_total\\{level="error"\\} ${after.error}$`, 'm'));
});
