// Go service images: a static, reproducible binary as the one layer on scratch,
// and it serves from the unpacked image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { BlobCache } from '../../src/image/cache.js';
import { goServiceImage } from '../../src/image/go.js';
import { buildImage } from '../../src/image/image.js';
import { freePort } from './registry-server.js';
import { extractImage, helloGoDir, tempDir } from './helpers.js';

const noGo = spawnSync('go', ['version']).status !== 0 ? 'go is not installed' : false;

test(
  'hello-go: static binary on scratch, same digest twice, serves from the unpacked image',
  { skip: noGo, timeout: 300_000 },
  async (t) => {
    const dir = tempDir(t);
    const one = await goServiceImage(helloGoDir, {
      mtime: 0,
      exposedPorts: [8080],
      cache: new BlobCache(join(dir, 'c1')),
    });
    const two = await goServiceImage(helloGoDir, {
      mtime: 0,
      exposedPorts: [8080],
      cache: new BlobCache(join(dir, 'c2')),
    });
    assert.equal(one.layer.digest, two.layer.digest, 'the binary and its layer are reproducible');
    const image = await buildImage({ ...one.build, cache: new BlobCache(join(dir, 'c1')) });
    const image2 = await buildImage({ ...two.build, cache: new BlobCache(join(dir, 'c2')) });
    assert.equal(image.digest, image2.digest);
    assert.equal(image.layers.length, 1, 'scratch: one layer');
    assert.deepEqual(image.config.config?.Entrypoint, ['/app']);
    assert.equal(image.config.config?.User, '65532:65532');
    assert.deepEqual(Object.keys(image.config.config?.ExposedPorts ?? {}), ['8080/tcp']);

    const tar = gunzipSync(readFileSync(one.layer.path));
    assert.equal(
      tar.subarray(0, 100).toString('latin1').replace(/\0+$/, ''),
      'app',
      'one entry: app',
    );
    const root = join(dir, 'root');
    await extractImage(image, root, new BlobCache(join(dir, 'c1')));
    const bin = join(root, 'app');
    assert.equal(statSync(bin).mode & 0o777, 0o755);
    const file = spawnSync('file', [bin], { encoding: 'utf8' });
    if (!file.error) assert.match(file.stdout, /statically linked/);

    const port = await freePort();
    const child = spawn(bin, [], {
      env: { PORT: String(port), HOST: '127.0.0.1' },
      stdio: 'ignore',
    });
    t.after(() => void child.kill('SIGKILL'));
    let body: string | undefined;
    for (let i = 0; i < 100 && body === undefined; i++) {
      body = await fetch(`http://127.0.0.1:${port}/`).then(
        (r) => r.text(),
        () => undefined,
      );
      if (body === undefined) await sleep(100);
    }
    assert.equal(body, 'Hello, World!');
  },
);
