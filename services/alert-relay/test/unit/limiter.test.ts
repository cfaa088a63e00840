import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WindowLimiter } from '../../src/limiter.js';

test('100 sends through the real 20-per-minute limit (simulated clock): never more than 20 in any minute', () => {
  const limiter = new WindowLimiter(20, 60_000);
  let now = 1_000_000;
  const sent: number[] = [];
  for (let i = 0; i < 100; i++) {
    const wait = limiter.waitMs(now);
    now += wait;
    assert.equal(limiter.waitMs(now), 0);
    now += 37; // the request's round trip; stamped when the answer arrives
    limiter.record(now);
    sent.push(now);
  }
  for (let i = 20; i < sent.length; i++) {
    assert.ok(sent[i]! - sent[i - 20]! >= 60_000, `send ${i} is within a minute of send ${i - 20}`);
  }
  // And no slower than needed: 100 sends in 5 windows.
  assert.ok(sent[99]! - sent[0]! < 4 * 60_000 + 5_000);
});

test('the limiter survives a restart through its snapshot', () => {
  const a = new WindowLimiter(3, 1000);
  a.record(10);
  a.record(20);
  a.record(30);
  const b = new WindowLimiter(3, 1000);
  b.restore(a.snapshot());
  assert.equal(b.waitMs(40), 970);
  assert.equal(b.waitMs(1010), 0);
});

test('used counts the sends of the window ending now (what the relay gathers bursts by)', () => {
  const l = new WindowLimiter(20, 1000);
  l.record(0);
  l.record(500);
  assert.equal(l.used(900), 2);
  assert.equal(l.used(1200), 1);
  assert.equal(l.used(1600), 0);
});
