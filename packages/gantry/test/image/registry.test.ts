// Builds and pushes real images to a real registry (Debian's docker-registry),
// with and without htpasswd auth, and reads them back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../../src/image/image.js';
import { makeLayer } from '../../src/image/layer.js';
import { RegistryClient, RegistryError, sha256 } from '../../src/image/registry.js';
import { freePort, startRegistry } from './registry-server.js';
import type { TestRegistry } from './registry-server.js';

let open: TestRegistry;
let secured: TestRegistry;
const creds = { user: 'gantry', password: 'pa55-word' };

before(async () => {
  [open, secured] = await Promise.all([startRegistry(), startRegistry(creds)]);
});
after(async () => {
  await Promise.all([open.stop(), secured.stop()]);
});

const layerOf = (text: string) =>
  makeLayer(
    [{ path: 'app/data.txt', type: 'file', mode: 0o644, data: Buffer.from(text) }],
    text,
    0,
  );

test('push, pull back, verify digests; a second push uploads nothing', async () => {
  const base = await buildImage({
    target: { registry: open.host, repository: 'base/img', tag: '1' },
    layers: [layerOf('base layer')],
    config: { env: { PATH: '/bin', A: 'base' }, user: '65532', entrypoint: ['/bin/app'] },
  });
  assert.equal(base.layers[0]!.pushed, 'uploaded');

  const target = { registry: open.host, repository: 'team/app', tag: 'v1' };
  const opts = {
    target,
    base: { registry: open.host, repository: 'base/img', tag: '1' },
    layers: [layerOf('code v1')],
    config: { env: { A: 'mine' }, labels: { 'org.opencontainers.image.version': '1.0.0' } },
  };
  const first = await buildImage(opts);
  const client = new RegistryClient(open.host);
  const { manifest, digest } = await client.getManifest('team/app', 'v1');
  assert.equal(digest, first.digest);
  assert.equal(manifest.layers.length, 2, 'base layer + code layer');
  for (const l of manifest.layers) {
    const blob = await client.getBlob('team/app', l.digest);
    assert.equal(sha256(blob), l.digest);
  }
  const config = JSON.parse(
    (await client.getBlob('team/app', manifest.config.digest)).toString(),
  ) as {
    config: { Env: string[]; User: string; Entrypoint: string[]; Labels: Record<string, string> };
    rootfs: { diff_ids: string[] };
  };
  assert.deepEqual(config.config.Env, ['PATH=/bin', 'A=mine'], 'env inherited and overridden');
  assert.equal(config.config.User, '65532');
  assert.deepEqual(config.config.Entrypoint, ['/bin/app']);
  assert.equal(config.config.Labels['org.opencontainers.image.version'], '1.0.0');
  assert.equal(config.rootfs.diff_ids.length, 2);

  const again = await buildImage(opts);
  assert.equal(again.digest, first.digest, 'same inputs, same digest');
  assert.equal(again.bytesPushed, 0, 'nothing uploaded the second time');
  assert.deepEqual(
    again.layers.map((l) => l.pushed),
    ['exists'],
  );
});

test('base layers are mounted across repositories, not uploaded again', async () => {
  await buildImage({
    target: { registry: open.host, repository: 'mount/base', tag: '1' },
    layers: [
      makeLayer(
        [{ path: 'big', type: 'file', mode: 0o644, data: Buffer.alloc(256 * 1024, 1) }],
        'big',
        0,
      ),
    ],
    config: {},
  });
  const r = await buildImage({
    target: { registry: open.host, repository: 'mount/app', tag: '1' },
    base: { registry: open.host, repository: 'mount/base', tag: '1' },
    layers: [layerOf('small')],
    config: {},
  });
  assert.ok(
    r.bytesPushed < 4096,
    `only the small layer and config went up (${r.bytesPushed} bytes)`,
  );
});

test('large blobs go up in chunks', async () => {
  const client = new RegistryClient(open.host, { chunkSize: 64 * 1024 });
  const data = Buffer.alloc(200 * 1024, 3);
  const digest = sha256(data);
  assert.equal(await client.pushBlob('chunks/app', digest, () => data), 'uploaded');
  assert.equal(client.bytesPushed, data.length);
  assert.equal(sha256(await client.getBlob('chunks/app', digest)), digest);
});

test('basic auth: credentials from docker config.json work, wrong ones fail clearly', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-docker-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
    delete process.env.DOCKER_CONFIG;
  });
  const write = (password: string) =>
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        auths: {
          [secured.host]: { auth: Buffer.from(`${creds.user}:${password}`).toString('base64') },
        },
      }),
    );
  process.env.DOCKER_CONFIG = dir;
  write(creds.password);
  const ok = await buildImage({
    target: { registry: secured.host, repository: 'private/app', tag: '1' },
    layers: [layerOf('secret sauce')],
    config: {},
  });
  assert.match(ok.digest, /^sha256:/);

  write('wrong');
  await assert.rejects(
    buildImage({
      target: { registry: secured.host, repository: 'private/app', tag: '2' },
      layers: [layerOf('x')],
      config: {},
    }),
    (err: unknown) =>
      err instanceof RegistryError &&
      err.message.includes(secured.host) &&
      /401|credentials|unauthorized/.test(err.message),
  );
  delete process.env.DOCKER_CONFIG;
  await assert.rejects(
    new RegistryClient(secured.host).getManifest('private/app', '1'),
    /requires credentials|401/,
  );
});

test('an unreachable registry and a missing base image are named in the error', async () => {
  const closed = `127.0.0.1:${await freePort()}`;
  await assert.rejects(
    buildImage({
      target: { registry: closed, repository: 'x/y', tag: '1' },
      layers: [layerOf('x')],
      config: {},
    }),
    new RegExp(`cannot reach registry ${closed.replace('.', '\\.')}`),
  );
  await assert.rejects(
    buildImage({
      target: { registry: open.host, repository: 'x/y', tag: '1' },
      base: { registry: open.host, repository: 'no/such', tag: 'v9' },
      layers: [layerOf('x')],
      config: {},
    }),
    /no\/such:v9: no such image or tag/,
  );
});
