import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTar } from '../../src/image/tar.js';
import { makeLayer } from '../../src/image/layer.js';
import { parseImageRef } from '../../src/image/ref.js';

test('the system tar reads back every entry, mode and long name', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-tar-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const long = `deep/${'x'.repeat(120)}/file.txt`;
  const tar = writeTar([
    { path: 'bin/run', type: 'file', mode: 0o755, data: Buffer.from('#!/bin/sh\n') },
    { path: 'etc', type: 'dir', mode: 0o755 },
    { path: 'etc/conf', type: 'file', mode: 0o644, data: Buffer.from('a=1\n') },
    { path: 'link', type: 'symlink', mode: 0o777, linkTarget: 'etc/conf' },
    { path: long, type: 'file', mode: 0o600, data: Buffer.alloc(5000, 7) },
  ]);
  writeFileSync(join(dir, 'a.tar'), tar);
  const listing = execFileSync('tar', ['-tf', join(dir, 'a.tar')], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  assert.ok(listing.includes(long), `long name listed: ${listing.join(', ')}`);
  execFileSync('tar', ['-xf', join(dir, 'a.tar'), '-C', dir]);
  assert.equal(readFileSync(join(dir, 'etc/conf'), 'utf8'), 'a=1\n');
  assert.equal(statSync(join(dir, 'bin/run')).mode & 0o777, 0o755);
  assert.equal(statSync(join(dir, long)).size, 5000);
  assert.equal(readFileSync(join(dir, 'link'), 'utf8'), 'a=1\n');
});

test('layers are reproducible: same input, same digest; other mtime, other digest', () => {
  const entries = [
    { path: 'b', type: 'file' as const, mode: 0o644, data: Buffer.from('2') },
    { path: 'a', type: 'file' as const, mode: 0o644, data: Buffer.from('1') },
  ];
  const one = makeLayer(entries, 'x', 0);
  const two = makeLayer([...entries].reverse(), 'x', 0);
  assert.equal(one.digest, two.digest);
  assert.equal(one.diffId, two.diffId);
  assert.notEqual(makeLayer(entries, 'x', 1700000000).digest, one.digest);
});

test('image references normalise like docker', () => {
  assert.deepEqual(parseImageRef('nginx'), { registry: 'docker.io', repository: 'library/nginx' });
  assert.deepEqual(parseImageRef('127.0.0.1:5000/gantry/app:1.2.0'), {
    registry: '127.0.0.1:5000',
    repository: 'gantry/app',
    tag: '1.2.0',
  });
  assert.deepEqual(parseImageRef(`ghcr.io/a/b@sha256:${'a'.repeat(64)}`), {
    registry: 'ghcr.io',
    repository: 'a/b',
    digest: `sha256:${'a'.repeat(64)}`,
  });
  assert.throws(() => parseImageRef('Bad/Name'), /lower-case/);
});
