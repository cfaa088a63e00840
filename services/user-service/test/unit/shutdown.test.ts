import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuntimeState } from '../../src/ops/runtime.js';
import { createShutdown } from '../../src/ops/shutdown.js';

function harness(overrides: { closeServer?: () => Promise<void>; timeoutMs?: number } = {}) {
  const events: string[] = [];
  const state = new RuntimeState();
  let exited: (code: number) => void = () => {};
  const exitCode = new Promise<number>((r) => (exited = r));
  const logger = {
    info: (_o: object, msg: string) => events.push(`info: ${msg}`),
    warn: (_o: object, msg: string) => events.push(`warn: ${msg}`),
    error: (_o: object, msg: string) => events.push(`error: ${msg}`),
  };
  const shutdown = createShutdown({
    state,
    logger,
    drainDelayMs: 30,
    timeoutMs: overrides.timeoutMs ?? 5000,
    closeServer:
      overrides.closeServer ??
      (() => {
        events.push(`closeServer (draining=${state.draining})`);
        return Promise.resolve();
      }),
    closeResources: () => {
      events.push('closeResources');
      return Promise.resolve();
    },
    exit: (code) => {
      events.push(`exit ${code}`);
      exited(code);
    },
  });
  return { events, state, shutdown, exitCode };
}

test('phases run in order: drain, close server, close resources, exit 0', async () => {
  const h = harness();
  const done = h.shutdown('SIGTERM');
  assert.equal(h.state.draining, true, 'draining must be set at once');
  await done;
  assert.equal(await h.exitCode, 0);
  const order = h.events.filter((e) => !e.startsWith('info'));
  assert.deepEqual(order, ['closeServer (draining=true)', 'closeResources', 'exit 0']);
  assert.ok(h.events.some((e) => e.includes('shutdown: complete')));
});

test('a second signal does not start a second shutdown', async () => {
  const h = harness();
  const first = h.shutdown('SIGTERM');
  await h.shutdown('SIGTERM');
  await first;
  assert.equal(h.events.filter((e) => e.startsWith('closeServer')).length, 1);
  assert.ok(h.events.includes('warn: shutdown: already in progress'));
});

test('exceeding SHUTDOWN_TIMEOUT_MS exits 1', async () => {
  const h = harness({ closeServer: () => new Promise(() => {}), timeoutMs: 100 });
  // The shutdown timer is unref'd (it must not keep a finished process alive); hold the loop.
  const hold = setInterval(() => {}, 1000);
  void h.shutdown('SIGTERM');
  try {
    assert.equal(await h.exitCode, 1);
  } finally {
    clearInterval(hold);
  }
  assert.ok(h.events.some((e) => e.startsWith('error: shutdown: did not finish')));
});

test('a failing close exits 1', async () => {
  const h = harness({ closeServer: () => Promise.reject(new Error('stuck')) });
  await h.shutdown('SIGINT');
  assert.equal(await h.exitCode, 1);
});
