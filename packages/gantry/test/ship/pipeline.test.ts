import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPipeline } from '../../src/ship/pipeline.js';
import type { PipelineEvent, Stage } from '../../src/ship/pipeline.js';

test('stages run in order and the first failure stops the pipeline', async () => {
  const ran: string[] = [];
  const stage = (name: string, fail = false): Stage<{ n: number }> => ({
    name,
    run: (ctx) => {
      ran.push(name);
      ctx.n++;
      return fail ? Promise.reject(new Error(`${name} broke`)) : Promise.resolve(`${name} ok`);
    },
  });
  const events: PipelineEvent[] = [];
  const ctx = { n: 0 };
  const r = await runPipeline([stage('test'), stage('build', true), stage('deploy')], ctx, (e) =>
    events.push(e),
  );
  assert.equal(r.ok, false);
  assert.equal(r.error, 'build: build broke');
  assert.deepEqual(ran, ['test', 'build']);
  assert.equal(ctx.n, 2);
  assert.deepEqual(
    r.stages.map((s) => [s.name, s.ok]),
    [
      ['test', true],
      ['build', false],
    ],
  );
  assert.deepEqual(events.at(-1), { type: 'skipped', stage: 'deploy' });
});
