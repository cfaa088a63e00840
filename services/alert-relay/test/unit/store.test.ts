import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Dedupe, JobStore } from '../../src/store.js';
import { tempDir } from '../helpers/relay.js';

test('dedupe survives a restart, forgets the other status, expires, and compacts its log', () => {
  const dir = tempDir('relay-dedupe-');
  const a = new Dedupe(dir, 1000);
  a.load(0);
  const firing = Dedupe.key('r', 0, 'fp1', 'firing');
  const resolved = Dedupe.key('r', 0, 'fp1', 'resolved');
  a.record([firing], 100);
  const b = new Dedupe(dir, 1000);
  b.load(200);
  assert.ok(b.isDuplicate(firing, 200));
  assert.ok(!b.isDuplicate(firing, 1100), 'expired after the window');
  b.record([resolved], 300);
  assert.ok(!b.isDuplicate(firing, 301), 'resolving forgets the firing record');
  const c = new Dedupe(dir, 1000);
  c.load(400);
  assert.ok(!c.isDuplicate(firing, 400) && c.isDuplicate(resolved, 400));
  for (let i = 0; i < 1500; i++) c.record([Dedupe.key('r', 0, `x${i}`, 'firing')], 500);
  c.maybeCompact(5000); // everything expired: the log shrinks to nothing
  assert.equal(readFileSync(join(dir, 'dedupe.log'), 'utf8'), '');
});

test('the job store drops torn temporary files and quarantines unreadable jobs', () => {
  const dir = tempDir('relay-store-');
  const store = new JobStore(dir);
  writeFileSync(join(store.jobsDir, '.x.json.tmp'), '{"half');
  writeFileSync(join(store.jobsDir, 'bad.json'), 'not json');
  const bad: string[] = [];
  assert.deepEqual(
    store.loadPending((f) => bad.push(f)),
    [],
  );
  assert.deepEqual(bad, ['bad.json']);
  assert.deepEqual(readdirSync(store.jobsDir), []);
  assert.deepEqual(readdirSync(store.failedDir), ['bad.json.corrupt']);
});
