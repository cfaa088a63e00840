// The channels configuration read as `gantry alerts apply` leaves it: a Secret with one
// <namespace>.<service>.json key per service, mounted as a directory, merged into one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChannelsFile, ConfigError, readChannelsText } from '../../src/config.js';

const entry = (url: string) => ({
  language: 'en',
  channels: [{ kind: 'wecom', url, mentionedMobiles: [] }],
});

test('a directory of per-service files is merged; a Secret volume layout works', () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-channels-'));
  // As kubelet mounts a Secret: files in a hidden timestamped dir, ..data and key symlinks.
  const data = join(dir, '..2026_12_04');
  mkdirSync(data);
  writeFileSync(
    join(data, 'default.shop.json'),
    JSON.stringify({ 'default.shop.oncall': entry('http://127.0.0.1:1/a') }),
  );
  writeFileSync(
    join(data, 'web.cart.json'),
    JSON.stringify({ 'web.cart.team': entry('http://127.0.0.1:1/b') }),
  );
  symlinkSync('..2026_12_04', join(dir, '..data'));
  symlinkSync('..data/default.shop.json', join(dir, 'default.shop.json'));
  symlinkSync('..data/web.cart.json', join(dir, 'web.cart.json'));
  const merged = JSON.parse(readChannelsText(dir)) as Record<string, unknown>;
  assert.deepEqual(Object.keys(merged), ['default.shop.oncall', 'web.cart.team']);

  const events: string[] = [];
  const file = new ChannelsFile(dir, (e) => events.push(e.ok ? 'ok' : e.problem));
  assert.equal(file.check(), true);
  assert.deepEqual([...(file.current?.receivers.keys() ?? [])].sort(), [
    'default.shop.oncall',
    'web.cart.team',
  ]);
  // A broken file is named, and the last good configuration stays in force.
  writeFileSync(join(data, 'web.cart.json'), '{not json');
  assert.equal(file.check(), true);
  assert.match(events.at(-1) ?? '', /web\.cart\.json: not valid JSON/);
  assert.ok(file.current?.receivers.has('web.cart.team'));
});

test('the same receiver key in two files is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-channels-'));
  writeFileSync(join(dir, 'a.json'), JSON.stringify({ 'x.y.z': entry('http://127.0.0.1:1/a') }));
  writeFileSync(join(dir, 'b.json'), JSON.stringify({ 'x.y.z': entry('http://127.0.0.1:1/b') }));
  assert.throws(() => readChannelsText(dir), ConfigError);
});
