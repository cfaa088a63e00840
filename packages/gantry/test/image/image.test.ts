// Image assembly without a registry: config merged with the base, labels,
// history, reproducible digests, OCI layout directory and tar.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlobCache, sha256 } from '../../src/image/cache.js';
import { buildImage } from '../../src/image/image.js';
import type { BuildImageOptions } from '../../src/image/image.js';
import { writeOciLayout, writeOciTar } from '../../src/image/layout.js';
import { tempDir } from './helpers.js';

function inputs(dir: string, cache: BlobCache): BuildImageOptions {
  const src = join(dir, 'src');
  mkdirSync(src, { recursive: true });
  if (!existsSync(join(src, 'main.js'))) writeFileSync(join(src, 'main.js'), 'console.log("hi")\n');
  return {
    layers: [{ comment: 'code', mtime: 0, files: [{ source: src, target: '/app' }] }],
    config: { entrypoint: ['/bin/app'], env: { A: '1' }, exposedPorts: [8080], user: '65532' },
    metadata: { title: 't', version: '1.0.0', revision: 'abc', source: 'https://example.com/r' },
    created: 0,
    cache,
  };
}

test('same inputs, same manifest digest; other creation time or content, other digest', async (t) => {
  const dir = tempDir(t);
  const one = await buildImage(inputs(dir, new BlobCache(join(dir, 'c1'))));
  const two = await buildImage(inputs(dir, new BlobCache(join(dir, 'c2'))));
  assert.equal(one.digest, two.digest);
  assert.ok(one.manifestBytes.equals(two.manifestBytes));
  assert.equal(one.digest, sha256(one.manifestBytes));
  assert.equal(one.manifest.config.digest, sha256(one.configBytes));

  const later = await buildImage({
    ...inputs(dir, new BlobCache(join(dir, 'c1'))),
    created: 1_700_000_000,
  });
  assert.notEqual(later.digest, one.digest);
  assert.equal(later.config.created, '2023-11-14T22:13:20.000Z');
  writeFileSync(join(dir, 'src', 'main.js'), 'console.log("changed")\n');
  const changed = await buildImage(inputs(dir, new BlobCache(join(dir, 'c1'))));
  assert.notEqual(changed.digest, one.digest);
});

test('config: labels from metadata, ports, history, platform; base settings inherited unless overridden', async (t) => {
  const dir = tempDir(t);
  const cache = new BlobCache(join(dir, 'c'));
  const base = await buildImage({
    layers: [
      {
        comment: 'base files',
        mtime: 0,
        files: [{ target: '/etc/os-release', data: 'ID=test\n' }],
      },
    ],
    config: {
      entrypoint: ['/bin/sh'],
      cmd: ['-c', 'echo base'],
      env: { PATH: '/bin', HOME: '/root' },
      workingDir: '/srv',
      user: '1000:1000',
      labels: { 'base.label': 'kept', 'org.opencontainers.image.title': 'base' },
      exposedPorts: ['53/udp'],
    },
    created: 0,
    cache,
  });
  const image = await buildImage({
    base,
    layers: [{ comment: 'code', mtime: 0, files: [{ target: '/app/x', data: 'x' }] }],
    config: {
      env: { HOME: '/home/app', NODE_ENV: 'production' },
      entrypoint: ['/app/x'],
      exposedPorts: [8080],
    },
    metadata: { title: 'app', version: '2.0.0', revision: 'deadbeef' },
    created: 0,
    cache,
  });
  const c = image.config.config!;
  assert.deepEqual(
    c.Env,
    ['PATH=/bin', 'HOME=/home/app', 'NODE_ENV=production'],
    'merged in place, new appended',
  );
  assert.equal(c.User, '1000:1000', 'user inherited');
  assert.equal(c.WorkingDir, '/srv', 'working dir inherited');
  assert.deepEqual(c.Entrypoint, ['/app/x']);
  assert.equal(c.Cmd, undefined, 'a new entrypoint drops the base command');
  assert.deepEqual(Object.keys(c.ExposedPorts ?? {}), ['53/udp', '8080/tcp']);
  assert.equal(c.Labels?.['base.label'], 'kept');
  assert.equal(c.Labels?.['org.opencontainers.image.title'], 'app');
  assert.equal(c.Labels?.['org.opencontainers.image.version'], '2.0.0');
  assert.equal(c.Labels?.['org.opencontainers.image.revision'], 'deadbeef');
  assert.equal(c.Labels?.['org.opencontainers.image.created'], '1970-01-01T00:00:00.000Z');
  assert.equal(image.manifest.annotations?.['org.opencontainers.image.version'], '2.0.0');
  assert.deepEqual(
    image.config.history?.map((h) => h.created_by),
    ['gantry: base files', 'gantry: code'],
  );
  assert.equal(image.config.rootfs.diff_ids.length, 2);
  assert.deepEqual(
    image.manifest.layers.map((l) => l.digest),
    [base.layers[0]!.digest, image.layers[1]!.digest],
  );
  assert.equal(image.config.os, 'linux');
  assert.equal(image.config.architecture, 'amd64');

  const keepCmd = await buildImage({
    base,
    layers: [],
    config: { user: '2000' },
    created: 0,
    cache,
  });
  assert.deepEqual(
    keepCmd.config.config?.Cmd,
    ['-c', 'echo base'],
    'no new entrypoint: base command kept',
  );
  assert.deepEqual(keepCmd.config.config?.Entrypoint, ['/bin/sh']);
  assert.equal(keepCmd.config.config?.User, '2000');
});

test('OCI layout directory and tar: every blob present and matching its digest; the tar is reproducible', async (t) => {
  const dir = tempDir(t);
  const cache = new BlobCache(join(dir, 'c'));
  const image = await buildImage(inputs(dir, cache));
  const out = join(dir, 'layout');
  await writeOciLayout(image, out, { refName: '1.0.0', cache });
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'oci-layout'), 'utf8')), {
    imageLayoutVersion: '1.0.0',
  });
  const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as {
    manifests: { digest: string; size: number; annotations: Record<string, string> }[];
  };
  assert.equal(index.manifests.length, 1);
  assert.equal(index.manifests[0]!.digest, image.digest);
  assert.equal(index.manifests[0]!.annotations['org.opencontainers.image.ref.name'], '1.0.0');
  const blobs = readdirSync(join(out, 'blobs', 'sha256'));
  assert.equal(blobs.length, 3, 'manifest, config, one layer');
  for (const hex of blobs)
    assert.equal(sha256(readFileSync(join(out, 'blobs', 'sha256', hex))), `sha256:${hex}`);
  // A second image in the same layout keeps the first.
  const other = await buildImage({ ...inputs(dir, cache), created: 5 });
  await writeOciLayout(other, out, { refName: '1.0.1', cache });
  const index2 = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as {
    manifests: unknown[];
  };
  assert.equal(index2.manifests.length, 2);

  const tarA = join(dir, 'a.tar');
  const tarB = join(dir, 'b.tar');
  await writeOciTar(image, tarA, { refName: '1.0.0', cache });
  await writeOciTar(image, tarB, { refName: '1.0.0', cache });
  assert.ok(readFileSync(tarA).equals(readFileSync(tarB)), 'same image, same tar bytes');
  const listing = execFileSync('tar', ['-tf', tarA], { encoding: 'utf8' }).trim().split('\n');
  assert.deepEqual(listing.slice(0, 2), ['blobs/', 'blobs/sha256/']);
  assert.ok(listing.includes('index.json') && listing.includes('oci-layout'));
  assert.ok(listing.includes(`blobs/sha256/${image.digest.slice(7)}`));
  const x = join(dir, 'x');
  mkdirSync(x);
  execFileSync('tar', ['-xf', tarA, '-C', x]);
  for (const hex of readdirSync(join(x, 'blobs', 'sha256')))
    assert.equal(sha256(readFileSync(join(x, 'blobs', 'sha256', hex))), `sha256:${hex}`);
});
