// The chaos page's data without a cluster: journals found below the reports directories
// (re-read when they change, broken ones reported), one run's probe series and fault
// windows, and the faults in effect from the undo records.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Journal } from '../../src/chaos/experiment/journal.js';
import { JournalReader, activeFaultRow, chaosView, journalId } from '../../src/console/chaos.js';

const work = mkdtempSync(join(tmpdir(), 'gantry-console-chaos-'));
after(() => rmSync(work, { recursive: true, force: true }));

const t0 = Date.parse('2026-01-05T10:00:00.000Z');
const iso = (ms: number) => new Date(t0 + ms).toISOString();

function journal(name: string, startMs: number, score: number): Journal {
  return {
    experiment: name,
    runId: `${name}-1a2b`,
    file: `${name}.yaml`,
    namespace: 'shop',
    service: 'cart',
    startedAt: iso(startMs),
    finishedAt: iso(startMs + 12_000),
    verdict: score === 100 ? 'passed' : 'failed',
    ...(score === 100 ? {} : { reason: 'probe front-door violated' }),
    score,
    steps: [
      {
        name: 'no endpoints',
        type: 'fault',
        fault: 'service-down',
        targets: ['Service shop/cart'],
        startedAt: iso(startMs + 1000),
        injectedAt: iso(startMs + 1500),
        endedAt: iso(startMs + 6000),
        status: 'done',
      },
      { name: 'step 2 (pause)', type: 'pause', status: 'done' },
    ],
    probes: [
      {
        name: 'ready',
        kind: 'ready',
        mode: 'continuous',
        weight: 1,
        passed: true,
        samples: [0, 2000, 4000].map((ms) => ({
          at: t0 + startMs + ms,
          ok: true,
          message: 'ready',
          phase: 'during' as const,
        })),
      },
      {
        name: 'p99',
        kind: 'promql',
        mode: 'continuous',
        weight: 2,
        passed: score === 100,
        samples: [
          { at: t0 + startMs + 1000, ok: true, value: 0.12, message: '0.12', phase: 'during' },
          {
            at: t0 + startMs + 3000,
            ok: score === 100,
            value: 0.9,
            message: '0.9',
            phase: 'during',
          },
        ],
      },
    ],
    rollbacks: [{ name: 'recover', type: 'rollback', status: 'done' }],
  };
}

test('journals below the reports directories, newest first; one run in full', () => {
  const dir = join(work, 'reports');
  mkdirSync(join(dir, 'gameday', 'drill-a'), { recursive: true });
  mkdirSync(join(dir, 'single'), { recursive: true });
  mkdirSync(join(dir, 'broken'), { recursive: true });
  writeFileSync(
    join(dir, 'gameday', 'drill-a', 'journal.json'),
    JSON.stringify(journal('drill-a', 0, 100)),
  );
  writeFileSync(
    join(dir, 'single', 'journal.json'),
    JSON.stringify(journal('single', 60_000, 33.3)),
  );
  writeFileSync(join(dir, 'broken', 'journal.json'), '{"not": "a journal"}');
  const reader = new JournalReader([dir, join(work, 'missing')]);
  const list = reader.read();
  assert.deepEqual(
    list.map((j) => j.journal.experiment),
    ['single', 'drill-a'],
  );
  // A directory not there yet is no problem (no run wrote a report yet); a broken journal is.
  assert.deepEqual(
    reader.problems.map((p) => p.message.replace(work, '')),
    ['/reports/broken/journal.json: not a chaos journal'],
  );
  const id = journalId(join(dir, 'single', 'journal.json'));
  const view = chaosView(reader.dirs, list, reader.problems, { rows: [], problems: [], at: 1 }, id);
  assert.equal(view.journals[0]?.score, 33.3);
  assert.deepEqual(view.journals[0]?.faults, ['service-down']);
  const j = view.journal!;
  assert.equal(j.experiment, 'single');
  assert.deepEqual(
    j.markers.map((m) => [m.kind, m.label, m.t - (t0 + 60_000) / 1000]),
    [
      ['fault', 'service-down in', 1.5],
      ['end', 'service-down out', 6],
    ],
  );
  const ready = j.probeSeries.find((p) => p.name === 'ready')!;
  assert.equal(ready.valued, false);
  assert.deepEqual(
    ready.points.map((p) => p[1]),
    [1, 1, 1],
  );
  const p99 = j.probeSeries.find((p) => p.name === 'p99')!;
  assert.equal(p99.valued, true);
  assert.deepEqual(
    p99.points.map((p) => p[1]),
    [0.12, 0.9],
  );
  assert.equal(p99.violations, 1);
  assert.match(p99.firstViolation ?? '', /0\.9$/);
  // Rewritten: read again.
  writeFileSync(
    join(dir, 'single', 'journal.json'),
    JSON.stringify(journal('single', 60_000, 100)),
  );
  assert.equal(reader.read()[0]?.journal.score, 100);
});

test('a fault in effect, as its undo record and helper tell', () => {
  const row = activeFaultRow({
    record: {
      id: 'service-down-0a1b2c3d',
      kind: 'service-down',
      experiment: 'single-1a2b',
      namespace: 'shop',
      service: 'cart',
      createdAt: iso(0),
      expiresAt: iso(30_000),
      state: 'injected',
      k8s: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          namespace: 'shop',
          name: 'cart',
          patchType: 'merge',
          restore: {},
        },
      ],
    },
    helper: 'Running',
    overdue: false,
  });
  assert.deepEqual(row.changes, ['Service shop/cart']);
  assert.equal(row.helper, 'Running');
  assert.equal(row.state, 'injected');
});
