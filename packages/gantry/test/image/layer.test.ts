// Layers: reproducible tar + gzip, cached by content, files mapped with modes
// and owners independent of the build machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { BlobCache, sha256 } from '../../src/image/cache.js';
import { buildLayer, collectLayerEntries, sourceDateEpoch } from '../../src/image/layer.js';
import type { LayerSpec } from '../../src/image/layer.js';
import { writeTar } from '../../src/image/tar.js';
import { tempDir } from './helpers.js';

function tree(dir: string): string {
  const src = join(dir, 'src');
  mkdirSync(join(src, 'lib', 'empty-after-exclude'), { recursive: true });
  writeFileSync(join(src, 'lib', 'a.js'), 'export const a = 1;\n');
  writeFileSync(join(src, 'lib', 'empty-after-exclude', 'x.map'), '{}');
  writeFileSync(join(src, 'run.sh'), '#!/bin/sh\n');
  chmodSync(join(src, 'run.sh'), 0o775);
  writeFileSync(join(src, 'data.bin'), Buffer.alloc(300_000, 9));
  symlinkSync('lib/a.js', join(src, 'alias.js'));
  return src;
}

const spec = (src: string, extra: Partial<LayerSpec> = {}): LayerSpec => ({
  comment: 'test layer',
  mtime: 0,
  files: [
    { source: src, target: '/app', exclude: (rel) => rel.endsWith('.map') },
    { target: '/app/info.json', data: '{"v":1}\n' },
  ],
  ...extra,
});

test('same inputs give the same digests; another mtime gives others', async (t) => {
  const dir = tempDir(t);
  const src = tree(dir);
  const a = await buildLayer(spec(src), { cache: new BlobCache(join(dir, 'c1')) });
  const b = await buildLayer(spec(src), { cache: new BlobCache(join(dir, 'c2')) });
  assert.equal(a.cached, false);
  assert.equal(b.cached, false, 'second cache starts empty: compressed again');
  assert.equal(a.digest, b.digest, 'gzip output is stable');
  assert.equal(a.diffId, b.diffId);
  assert.equal(a.size, statSync(a.path).size);
  assert.equal(sha256(readFileSync(a.path)), a.digest, 'digest is the blob sha256');
  assert.equal(sha256(gunzipSync(readFileSync(a.path))), a.diffId, 'diff_id is the tar sha256');

  const later = await buildLayer(spec(src, { mtime: 1_700_000_000 }), {
    cache: new BlobCache(join(dir, 'c1')),
  });
  assert.notEqual(later.diffId, a.diffId);
  assert.notEqual(later.digest, a.digest);
});

test('SOURCE_DATE_EPOCH sets the default mtime', async (t) => {
  const dir = tempDir(t);
  const src = tree(dir);
  const cache = new BlobCache(join(dir, 'c'));
  const noMtime = { ...spec(src) };
  delete noMtime.mtime;
  t.after(() => delete process.env.SOURCE_DATE_EPOCH);
  delete process.env.SOURCE_DATE_EPOCH;
  assert.equal(sourceDateEpoch(), 0);
  const zero = await buildLayer(noMtime, { cache });
  assert.equal(zero.diffId, (await buildLayer(spec(src), { cache })).diffId, 'unset means 0');
  process.env.SOURCE_DATE_EPOCH = '1700000000';
  const one = await buildLayer(noMtime, { cache });
  process.env.SOURCE_DATE_EPOCH = '1700000001';
  const two = await buildLayer(noMtime, { cache });
  assert.notEqual(one.digest, zero.digest);
  assert.notEqual(two.digest, one.digest);
  process.env.SOURCE_DATE_EPOCH = 'yesterday';
  assert.throws(() => sourceDateEpoch(), /whole number of seconds/);
});

test('gzip output: no name, mtime 0, fixed level; stream and one-shot agree', async (t) => {
  const dir = tempDir(t);
  const layer = await buildLayer(spec(tree(dir)), { cache: new BlobCache(join(dir, 'c')) });
  const gz = readFileSync(layer.path);
  assert.deepEqual([gz[0], gz[1], gz[2]], [0x1f, 0x8b, 8], 'gzip, deflate');
  assert.equal(gz[3], 0, 'FLG: no file name, comment or extra field');
  assert.equal(gz.readUInt32LE(4), 0, 'MTIME is 0');
  const tar = gunzipSync(gz);
  assert.ok(gzipSync(tar, { level: 6 }).equals(gz), 'streamed gzip = zlib one-shot at level 6');
});

test('the cache: an unchanged layer is not compressed again; a damaged blob is rebuilt', async (t) => {
  const dir = tempDir(t);
  const src = tree(dir);
  const cache = new BlobCache(join(dir, 'c'));
  const first = await buildLayer(spec(src), { cache });
  const again = await buildLayer(spec(src), { cache });
  assert.equal(again.cached, true);
  assert.equal(again.digest, first.digest);
  assert.equal(again.path, first.path);
  assert.deepEqual(
    readdirSync(join(cache.dir, 'blobs', 'sha256')),
    [first.digest.slice(7)],
    'one blob, no temp files',
  );

  writeFileSync(join(src, 'lib', 'a.js'), 'export const a = 2;\n');
  const changed = await buildLayer(spec(src), { cache });
  assert.equal(changed.cached, false);
  assert.notEqual(changed.digest, first.digest);

  writeFileSync(changed.path, 'garbage');
  const rebuilt = await buildLayer(spec(src), { cache });
  assert.equal(rebuilt.cached, false, 'a damaged cached blob is not trusted');
  assert.equal(rebuilt.digest, changed.digest);
  assert.equal(sha256(readFileSync(rebuilt.path)), rebuilt.digest);
});

test('modes follow the executable bit only; owners as given; later files win; parents added', (t) => {
  const dir = tempDir(t);
  const src = tree(dir);
  const es = collectLayerEntries([
    { source: src, target: '/app', uid: 10, gid: 20, exclude: (rel) => rel.endsWith('.map') },
    { target: '/app/lib/a.js', data: 'replaced', mode: 0o600 },
    { target: 'srv/x', dir: true, dirMode: 0o700 },
    { target: '/usr/bin/tool', symlink: '/app/run.sh' },
  ]);
  const byPath = new Map(es.map((e) => [e.path, e]));
  assert.equal(byPath.get('app/run.sh')?.mode, 0o755, '0775 on disk becomes 0755');
  assert.equal(byPath.get('app/data.bin')?.mode, 0o644);
  assert.equal(byPath.get('app/data.bin')?.uid, 10);
  assert.equal(byPath.get('app/data.bin')?.gid, 20);
  assert.equal(byPath.get('app/lib/a.js')?.data?.toString(), 'replaced');
  assert.equal(byPath.get('app/lib/a.js')?.mode, 0o600);
  assert.equal(byPath.get('app/alias.js')?.type, 'symlink');
  assert.equal(byPath.get('app/alias.js')?.linkTarget, 'lib/a.js');
  assert.equal(
    byPath.has('app/lib/empty-after-exclude'),
    false,
    'a directory emptied by exclusions is left out',
  );
  assert.equal(byPath.get('srv/x')?.mode, 0o700);
  assert.equal(byPath.get('srv')?.mode, 0o755, 'parent directories are added');
  assert.equal(byPath.get('usr/bin/tool')?.linkTarget, '/app/run.sh');

  // The build machine's umask does not leak into the layer.
  chmodSync(join(src, 'data.bin'), 0o664);
  const again = collectLayerEntries([
    { source: src, target: '/app', uid: 10, gid: 20, exclude: (r) => r.endsWith('.map') },
  ]);
  assert.equal(again.find((e) => e.path === 'app/data.bin')?.mode, 0o644);
  assert.throws(() => collectLayerEntries([{ target: '/x' }]), /exactly one of/);
  assert.throws(() => collectLayerEntries([{ target: '/', data: 'x' }]), /below \//);
  assert.throws(
    () => collectLayerEntries([{ target: '/x', source: join(dir, 'nope') }]),
    /cannot read/,
  );
  // The archive of collected entries lists what was collected.
  assert.ok(writeTar(again).length > 300_000);
});
