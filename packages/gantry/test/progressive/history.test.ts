// Ended releases stay findable: each new release carries the ones before it, and
// `gantry history` lists them with their outcome and why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec } from '../../src/spec/index.js';
import { planSteps } from '../../src/progressive/plan.js';
import { releaseHistory, summarize } from '../../src/progressive/state.js';
import type { RolloutState } from '../../src/progressive/state.js';

const spec = parseSpec(
  `apiVersion: gantry.dev/v1alpha1
name: shop
image: example/shop:1
release: { strategy: canary }
`,
  'gantry.yaml',
);

function state(over: Partial<RolloutState>): RolloutState {
  return {
    service: 'shop',
    namespace: 'default',
    strategy: 'canary',
    router: 'replicas',
    spec,
    specDir: '.',
    image: 'example/shop:2',
    phase: 'progressing',
    steps: planSteps(spec.release),
    stepIndex: 0,
    canaryPercent: 0,
    traffic: '',
    appliedStep: -1,
    stableReplicas: 1,
    startedAt: '2026-12-04T10:00:00.000Z',
    stepStartedAt: '2026-12-04T10:00:00.000Z',
    updatedAt: '2026-12-04T10:00:00.000Z',
    decisions: [],
    ...over,
  };
}

test('a release summary: outcome, why, steps reached of all steps, the revision it became', () => {
  const aborted = summarize(
    state({
      phase: 'aborted',
      appliedStep: 1,
      stepIndex: 1,
      message: 'abort: errors-vs-stable canary 3% errors (6/200)',
      finishedAt: '2026-12-04T10:03:00.000Z',
      version: '2.0.0',
    }),
  );
  assert.deepEqual(aborted, {
    strategy: 'canary',
    image: 'example/shop:2',
    version: '2.0.0',
    outcome: 'aborted',
    reason: 'abort: errors-vs-stable canary 3% errors (6/200)',
    startedAt: '2026-12-04T10:00:00.000Z',
    finishedAt: '2026-12-04T10:03:00.000Z',
    stepReached: 2,
    steps: 4,
  });
  const promoted = summarize(
    state({ phase: 'promoted', appliedStep: 3, message: 'promoted by ana', revision: 7 }),
  );
  assert.equal(promoted.stepReached, 4);
  assert.equal(promoted.revision, 7);
  assert.equal(promoted.reason, 'promoted by ana');
});

test('history: the current release first, then the ones it replaced', () => {
  const first = state({ phase: 'aborted', image: 'example/shop:2' });
  const second = state({
    phase: 'promoted',
    image: 'example/shop:3',
    past: releaseHistory(first),
  });
  const third = state({
    phase: 'progressing',
    image: 'example/shop:4',
    past: releaseHistory(second),
  });
  assert.deepEqual(
    releaseHistory(third).map((r) => [r.image, r.outcome]),
    [
      ['example/shop:4', 'progressing'],
      ['example/shop:3', 'promoted'],
      ['example/shop:2', 'aborted'],
    ],
  );
  assert.deepEqual(releaseHistory(undefined), []);
});
