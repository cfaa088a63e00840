// The tar writer, read back by GNU tar and Python's tarfile: entries, modes,
// owners, times, symlinks, long and non-ASCII names; PAX only when needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tarStream, writeTar } from '../../src/image/tar.js';
import type { TarEntry } from '../../src/image/tar.js';
import { tempDir } from './helpers.js';

const long = `deep/${'x'.repeat(120)}/file.txt`; // > 100 bytes, splits into ustar prefix + name
const veryLong = `${'d'.repeat(90)}/${'e'.repeat(90)}/${'f'.repeat(110)}.txt`; // needs PAX
const unicode = 'données/ünïcødé.txt';

function entries(dir: string): TarEntry[] {
  const big = join(dir, 'big.bin');
  writeFileSync(big, Buffer.alloc(5 << 20, 0x5a)); // > the 4 MiB whole-file read
  return [
    { path: 'bin/run', type: 'file', mode: 0o755, data: Buffer.from('#!/bin/sh\necho hi\n') },
    { path: 'bin', type: 'dir', mode: 0o755 },
    { path: 'etc', type: 'dir', mode: 0o750, uid: 1234, gid: 5678 },
    {
      path: 'etc/conf',
      type: 'file',
      mode: 0o640,
      uid: 1234,
      gid: 5678,
      data: Buffer.from('a=1\n'),
    },
    { path: 'etc/empty', type: 'file', mode: 0o600, data: Buffer.alloc(0) },
    { path: 'link', type: 'symlink', mode: 0o777, linkTarget: 'etc/conf' },
    { path: 'deep', type: 'dir', mode: 0o755 },
    { path: long, type: 'file', mode: 0o644, data: Buffer.alloc(5000, 7) },
    { path: veryLong, type: 'file', mode: 0o644, data: Buffer.from('very long\n') },
    { path: unicode, type: 'file', mode: 0o644, data: Buffer.from('utf-8\n') },
    { path: 'big.bin', type: 'file', mode: 0o644, source: big, size: 5 << 20 },
    { path: 'tmp', type: 'dir', mode: 0o1777 },
    { path: 'home/nonroot', type: 'dir', mode: 0o700, uid: 65532, gid: 65532 },
    {
      path: 'huge-id',
      type: 'file',
      mode: 0o644,
      uid: 3_000_000,
      gid: 3_000_001,
      data: Buffer.from('x'),
    },
  ];
}

/** Typeflags of every header in an archive, walking header to header. */
function typeflags(tar: Buffer): string[] {
  const out: string[] = [];
  for (let off = 0; off + 512 <= tar.length;) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    out.push(String.fromCharCode(h[156]!));
    assert.equal(
      h.subarray(265, 329).toString('latin1').replace(/\0/g, ''),
      '',
      'no user/group names',
    );
    const size = parseInt(h.subarray(124, 136).toString('latin1').replace(/\0.*$/, ''), 8);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

test('GNU tar reads back every entry, mode, owner, time, symlink and long name', async (t) => {
  const dir = tempDir(t);
  const es = entries(dir);
  const mtime = 1_700_000_000;
  const tar = writeTar(es, mtime);
  // The streaming writer produces the same bytes as the in-memory one.
  const chunks: Buffer[] = [];
  for await (const c of tarStream(es, mtime)) chunks.push(c);
  assert.ok(Buffer.concat(chunks).equals(tar), 'tarStream = writeTar');
  writeFileSync(join(dir, 'a.tar'), tar);

  const listing = execFileSync(
    'tar',
    ['-tvf', join(dir, 'a.tar'), '--numeric-owner', '--full-time'],
    {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC' },
    },
  );
  const names = execFileSync('tar', ['-tf', join(dir, 'a.tar')], { encoding: 'utf8' }).split('\n');
  for (const p of [long, veryLong, unicode, 'bin/run', 'link', 'big.bin'])
    assert.ok(names.includes(p), `${p} listed: ${names.join(', ')}`);
  assert.ok(names.includes('tmp/'), 'directories listed with a trailing slash');
  assert.match(listing, /-rw-r----- 1234\/5678 +4 2023-11-14 22:13:20 etc\/conf/);
  assert.match(
    listing,
    /-rw-r--r-- 3000000\/3000001 +1 .* huge-id/,
    'ids beyond ustar range via PAX',
  );
  assert.match(listing, /drwxrwxrwt 0\/0 .* tmp\//);
  assert.match(listing, /lrwxrwxrwx 0\/0 .* link -> etc\/conf/);

  const out = join(dir, 'x');
  execFileSync('mkdir', [out]);
  execFileSync('tar', ['-xpf', join(dir, 'a.tar'), '-C', out, '--numeric-owner']);
  assert.equal(readFileSync(join(out, 'etc/conf'), 'utf8'), 'a=1\n');
  assert.equal(statSync(join(out, 'bin/run')).mode & 0o7777, 0o755);
  assert.equal(statSync(join(out, 'etc/conf')).mode & 0o7777, 0o640);
  assert.equal(statSync(join(out, 'etc/empty')).size, 0);
  assert.equal(statSync(join(out, 'tmp')).mode & 0o7777, 0o1777);
  assert.equal(statSync(join(out, 'home/nonroot')).uid, 65532);
  assert.equal(statSync(join(out, 'etc/conf')).mtimeMs, mtime * 1000);
  assert.equal(statSync(join(out, long)).size, 5000);
  assert.equal(readFileSync(join(out, veryLong), 'utf8'), 'very long\n');
  assert.equal(readFileSync(join(out, unicode), 'utf8'), 'utf-8\n');
  assert.ok(readFileSync(join(out, 'big.bin')).equals(Buffer.alloc(5 << 20, 0x5a)));
  assert.ok(lstatSync(join(out, 'link')).isSymbolicLink());
  assert.equal(readlinkSync(join(out, 'link')), 'etc/conf');
});

test("Python's tarfile agrees on names, sizes and modes", (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'a.tar');
  writeFileSync(file, writeTar(entries(dir), 0));
  const py = spawnSync(
    'python3',
    [
      '-c',
      'import sys,tarfile,json\n' +
        'print(json.dumps({m.name: [m.size, m.mode, m.uid, m.type.decode()] for m in tarfile.open(sys.argv[1])}))',
      file,
    ],
    { encoding: 'utf8' },
  );
  if (py.error) return t.skip('python3 is not installed');
  assert.equal(py.status, 0, py.stderr);
  const m = JSON.parse(py.stdout) as Record<string, [number, number, number, string]>;
  assert.deepEqual(m[veryLong], [10, 0o644, 0, '0']);
  assert.deepEqual(m[unicode], [6, 0o644, 0, '0']);
  assert.deepEqual(m['huge-id'], [1, 0o644, 3_000_000, '0']);
  assert.deepEqual(m.tmp, [0, 0o1777, 0, '5']);
  assert.equal(m.link?.[3], '2');
});

test('PAX headers appear only for what ustar cannot hold', () => {
  const plain = writeTar([
    { path: 'a', type: 'dir', mode: 0o755 },
    { path: 'a/b.txt', type: 'file', mode: 0o644, data: Buffer.from('b') },
    { path: long, type: 'file', mode: 0o644, data: Buffer.from('c') },
  ]);
  assert.deepEqual(
    typeflags(plain),
    ['5', '0', '0'],
    'no PAX for short names or prefix-split long ones',
  );
  const pax = writeTar([{ path: veryLong, type: 'file', mode: 0o644, data: Buffer.from('c') }]);
  assert.deepEqual(typeflags(pax), ['x', '0']);
  assert.deepEqual(typeflags(writeTar([{ path: unicode, type: 'file', mode: 0o644 }])), ['x', '0']);
});

test('entries are sorted by path bytes; the input order does not matter; bad paths fail', () => {
  const es: TarEntry[] = [
    { path: 'b', type: 'file', mode: 0o644, data: Buffer.from('2') },
    { path: 'a-b', type: 'file', mode: 0o644, data: Buffer.from('1') },
    { path: 'a', type: 'dir', mode: 0o755 },
    { path: 'a/z', type: 'file', mode: 0o644, data: Buffer.from('3') },
  ];
  assert.ok(writeTar(es).equals(writeTar([...es].reverse())));
  assert.throws(() => writeTar([...es, es[0]!]), /duplicate path in archive: b/);
  assert.throws(() => writeTar([{ path: '/abs', type: 'dir', mode: 0o755 }]), /bad archive path/);
  assert.throws(() => writeTar([{ path: 'a/../b', type: 'dir', mode: 0o755 }]), /bad archive path/);
});

test('a source file that changes size while archived fails the stream', async (t) => {
  const dir = tempDir(t);
  const f = join(dir, 'f');
  writeFileSync(f, 'now longer than recorded');
  await assert.rejects(async () => {
    for await (const _ of tarStream([
      { path: 'f', type: 'file', mode: 0o644, source: f, size: 3 },
    ]));
  }, /changed while it was being archived/);
});
