// The order of a multi-service deploy: cycles found once each, dependencies awaited,
// the concurrency bound kept, failures skipping dependents, --fail-fast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { findCycles } from '../../src/fleet/plan.js';
import { runScheduled } from '../../src/fleet/schedule.js';

const graph = (edges: Record<string, string[]>) => new Map(Object.entries(edges));

test('cycles: each found once, from its smallest member; a DAG has none', () => {
  assert.deepEqual(findCycles(graph({ a: ['b'], b: ['c'], c: [] })), []);
  assert.deepEqual(findCycles(graph({ b: ['a'], a: ['b'] })), [['a', 'b', 'a']]);
  assert.deepEqual(findCycles(graph({ x: ['x'] })), [['x', 'x']]);
  const two = findCycles(graph({ a: ['b'], b: ['a', 'c'], c: ['d'], d: ['c'] }));
  assert.deepEqual(two, [
    ['a', 'b', 'a'],
    ['c', 'd', 'c'],
  ]);
});

test('dependencies finish first, and no more than `concurrency` run at once', async () => {
  const log: string[] = [];
  let running = 0;
  let peak = 0;
  const deps = graph({ db: [], api: ['db'], worker: ['db'], web: ['api'], cron: [] });
  const r = await runScheduled([...deps.keys()], deps, { concurrency: 2 }, async (k) => {
    running++;
    peak = Math.max(peak, running);
    log.push(`start ${k}`);
    await sleep(k === 'db' ? 30 : 10);
    log.push(`end ${k}`);
    running--;
    return { ok: true, result: k };
  });
  assert.ok(r.every((x) => x.outcome === 'succeeded'));
  assert.equal(peak, 2);
  const at = (s: string) => log.indexOf(s);
  assert.ok(at('start api') > at('end db') && at('start worker') > at('end db'));
  assert.ok(at('start web') > at('end api'));
});

test('a failure skips what depends on it (transitively) and lets the rest run', async () => {
  const deps = graph({ db: [], api: ['db'], web: ['api'], cron: [] });
  const r = await runScheduled([...deps.keys()], deps, { concurrency: 4 }, (k) =>
    k === 'db' ? Promise.reject(new Error('boom')) : Promise.resolve({ ok: true, result: k }),
  );
  const by = Object.fromEntries(r.map((x) => [x.key, x]));
  assert.equal(by.db?.outcome, 'failed');
  assert.equal(by.api?.outcome, 'skipped');
  assert.equal(by.api?.reason, 'db failed');
  assert.equal(by.web?.reason, 'api was skipped');
  assert.equal(by.cron?.outcome, 'succeeded');
});

test('--fail-fast: nothing new starts after the first failure', async () => {
  const deps = graph({ a: [], b: [], c: [], d: [] });
  const started: string[] = [];
  const r = await runScheduled([...deps.keys()], deps, { concurrency: 1, failFast: true }, (k) => {
    started.push(k);
    return Promise.resolve({ ok: k !== 'b', result: k });
  });
  assert.deepEqual(started, ['a', 'b']);
  assert.deepEqual(
    r.map((x) => x.outcome),
    ['succeeded', 'failed', 'skipped', 'skipped'],
  );
  assert.match(r[2]!.reason ?? '', /not started: b failed \(--fail-fast\)/);
});
