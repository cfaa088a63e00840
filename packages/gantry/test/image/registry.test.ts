// Push and pull against real registries (Debian's docker-registry on loopback):
// without auth, with htpasswd basic auth (credentials from docker's
// config.json), and behind a bearer-token service. Covers digests read back,
// idempotent pushes, cross-repository mounts, chunked uploads, clear errors,
// and the user-service image: cold push, then a code-only change that sends
// only the small code layer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BlobCache, sha256 } from '../../src/image/cache.js';
import { buildImage, pullImage, pushImage, RegistryClients } from '../../src/image/image.js';
import type { BuildImageOptions } from '../../src/image/image.js';
import { hostNodeBaseImage, nodeServiceImage } from '../../src/image/node.js';
import { RegistryClient, RegistryError } from '../../src/image/registry.js';
import { freePort, startRegistry, startTokenFront } from './registry-server.js';
import type { TestRegistry, TokenFront } from './registry-server.js';
import { ensureUserServiceBuilt, sharedCache, tempDir, userServiceDir } from './helpers.js';

const creds = { user: 'gantry', password: 'pa55-word' };
let open: TestRegistry;
let secured: TestRegistry;
let tokenBackend: TestRegistry;
let front: TokenFront;

before(async () => {
  [open, secured, tokenBackend] = await Promise.all([
    startRegistry(),
    startRegistry(creds),
    startRegistry(),
  ]);
  front = await startTokenFront(tokenBackend.host, creds);
});
after(async () => {
  await Promise.all([open?.stop(), secured?.stop(), tokenBackend?.stop(), front?.stop()]);
});

/** A layer of `size` pseudo-random (incompressible) bytes plus a text file. */
function layer(name: string, size = 1000): BuildImageOptions['layers'][number] {
  const data = Buffer.alloc(size);
  for (let i = 0, x = name.length * 7919; i < size; i++)
    data[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return {
    comment: name,
    mtime: 0,
    files: [
      { target: `/data/${name}.bin`, data },
      { target: `/data/${name}.txt`, data: `${name}\n` },
    ],
  };
}

test('push, pull back and verify every digest; a second push sends nothing', async (t) => {
  const cache = new BlobCache(tempDir(t));
  const base = await buildImage({
    layers: [layer('base-a', 300_000), layer('base-b')],
    config: { env: { PATH: '/bin' }, user: '65532', entrypoint: ['/bin/app'] },
    created: 0,
    cache,
  });
  const basePush = await pushImage(base, `${open.host}/base/img:1`, { cache });
  assert.deepEqual(
    basePush.blobs.map((b) => b.result),
    ['uploaded', 'uploaded', 'uploaded'],
  );

  const clients = new RegistryClients();
  const app = await buildImage({
    base: `${open.host}/base/img:1`,
    layers: [layer('code-v1')],
    config: { env: { A: 'mine' } },
    metadata: { version: '1.0.0' },
    created: 0,
    cache,
    clients,
  });
  const first = await pushImage(app, `${open.host}/team/app:v1`, { cache, clients });
  assert.deepEqual(
    first.blobs.map((b) => `${b.kind}:${b.result}`),
    ['layer:mounted', 'layer:mounted', 'layer:uploaded', 'config:uploaded'],
    'base layers mounted from base/img, not sent',
  );
  assert.equal(first.ref, `${open.host}/team/app:v1`);
  assert.equal(first.pinned, `${open.host}/team/app@${app.digest}`);
  assert.ok(
    first.bytesUploaded < 10_000,
    `only the code layer and config sent (${first.bytesUploaded} bytes)`,
  );

  // Pull it back into an empty cache: every blob downloaded and checked.
  const pullCache = new BlobCache(tempDir(t));
  const pulled = await pullImage(`${open.host}/team/app:v1`, { download: true, cache: pullCache });
  assert.equal(pulled.digest, app.digest);
  assert.ok(pulled.manifestBytes.equals(app.manifestBytes));
  assert.ok(pulled.configBytes.equals(app.configBytes));
  assert.equal(pulled.layers.length, 3);
  for (const [i, l] of pulled.layers.entries()) {
    assert.equal(l.source.kind, 'file');
    const blob = readFileSync((l.source as { path: string }).path);
    assert.equal(sha256(blob), l.digest, `layer ${i} digest`);
    assert.equal(blob.length, l.size, `layer ${i} size`);
    assert.equal(sha256(gunzipSync(blob)), pulled.config.rootfs.diff_ids[i], `layer ${i} diff_id`);
  }
  assert.deepEqual(pulled.config.config?.Env, ['PATH=/bin', 'A=mine']);
  assert.equal(pulled.config.config?.User, '65532');
  assert.equal(
    pulled.manifest.annotations?.['org.opencontainers.image.base.name'],
    `${open.host}/base/img:1`,
  );
  assert.equal(pulled.manifest.annotations?.['org.opencontainers.image.base.digest'], base.digest);

  // Again: same digest, nothing sent, one HEAD per blob and the manifest PUT.
  const again = await pushImage(app, `${open.host}/team/app:v1`, { cache, clients });
  assert.equal(again.digest, first.digest);
  assert.equal(again.bytesUploaded, 0);
  assert.deepEqual(
    again.blobs.map((b) => b.result),
    ['exists', 'exists', 'exists', 'exists'],
  );
  assert.equal(again.requests, 5, '4 HEADs and 1 manifest PUT');

  // A second repository: base layers mounted again; the manifest is the same.
  const second = await pushImage(app, `${open.host}/other/app:v1`, {
    cache,
    clients,
    tags: ['latest'],
  });
  assert.deepEqual(
    second.blobs.map((b) => b.result),
    ['mounted', 'mounted', 'uploaded', 'uploaded'],
  );
  const client = new RegistryClient(open.host);
  assert.equal((await client.getManifest('other/app', 'latest')).digest, app.digest);
  assert.equal((await client.getManifest('other/app', app.digest)).digest, app.digest);
});

test('a mount the registry declines (202) falls back to an upload; large blobs go up in chunks', async (t) => {
  const requests: string[] = [];
  const client = new RegistryClient(open.host, {
    chunkSize: 64 * 1024,
    onRequest: (r) => requests.push(`${r.method} ${r.status}`),
  });
  const data = Buffer.alloc(300 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
  const desc = { digest: sha256(data), size: data.length };
  const how = await client.pushBlob(
    'chunks/app',
    desc,
    { data },
    { mountFrom: 'no/such-repo', what: 'layer' },
  );
  assert.equal(how, 'uploaded');
  assert.deepEqual(requests, [
    'HEAD 404',
    'POST 202',
    ...Array<string>(5).fill('PATCH 202'),
    'PUT 201',
  ]);
  assert.equal(client.stats.bytesUploaded, data.length);
  const dest = join(tempDir(t), 'blob');
  assert.equal(await client.downloadBlob('chunks/app', desc.digest, dest), data.length);
  assert.ok(readFileSync(dest).equals(data));
  // Mounting now works, since chunks/app has it.
  assert.equal(
    await client.pushBlob('chunks/other', desc, { data }, { mountFrom: 'chunks/app' }),
    'mounted',
  );
  assert.equal(await client.pushBlob('chunks/other', desc, { data }), 'exists');
});

test('basic auth: docker config.json credentials work; wrong or missing ones fail naming registry and step', async (t) => {
  const dir = tempDir(t, 'gantry-docker-');
  const prev = process.env.DOCKER_CONFIG;
  t.after(() =>
    prev === undefined ? delete process.env.DOCKER_CONFIG : (process.env.DOCKER_CONFIG = prev),
  );
  process.env.DOCKER_CONFIG = dir;
  const cfg = (password: string, key = secured.host) =>
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        auths: { [key]: { auth: Buffer.from(`${creds.user}:${password}`).toString('base64') } },
      }),
    );
  const cache = new BlobCache(tempDir(t));
  const image = await buildImage({ layers: [layer('secret-sauce')], created: 0, cache });

  cfg(creds.password, `http://${secured.host}/v1/`); // docker also writes keys as URLs
  const ok = await pushImage(image, `${secured.host}/private/app:1`, { cache });
  assert.equal(ok.digest, image.digest);
  const pulled = await pullImage(`${secured.host}/private/app:1`);
  assert.equal(pulled.digest, image.digest);

  cfg('wrong');
  const other = await buildImage({ layers: [layer('other')], created: 0, cache });
  await assert.rejects(
    pushImage(other, `${secured.host}/private/app:2`, { cache }),
    (err: unknown) => {
      assert.ok(err instanceof RegistryError);
      assert.match(
        err.message,
        new RegExp(
          `^pushing layer sha256:[0-9a-f]{12}… to ${secured.host.replace(/\./g, '\\.')}/private/app: HTTP 401 unauthorized \\(user "gantry", .*config\\.json`,
        ),
      );
      assert.equal(err.info.status, 401);
      assert.equal(err.info.registry, secured.host);
      assert.equal(err.info.repository, 'private/app');
      return true;
    },
  );

  writeFileSync(join(dir, 'config.json'), '{"auths":{}}');
  await assert.rejects(
    new RegistryClient(secured.host).getManifest('private/app', '1'),
    new RegExp(
      `reading manifest ${secured.host.replace(/\./g, '\\.')}/private/app:1: HTTP 401: .*requires a user name and password \\(no credentials: no entry for ${secured.host.replace(/\./g, '\\.')}`,
    ),
  );
  // Explicit credentials need no config file.
  const explicit = new RegistryClient(secured.host, {
    credentials: { username: creds.user, password: creds.password },
  });
  assert.equal((await explicit.getManifest('private/app', '1')).digest, image.digest);
});

test('bearer tokens: scoped per repository (mounts ask for both), wrong credentials fail clearly', async (t) => {
  const cache = new BlobCache(tempDir(t));
  const credentials = { username: creds.user, password: creds.password };
  const clients = new RegistryClients({ credentials });
  const base = await buildImage({ layers: [layer('tok-base', 100_000)], created: 0, cache });
  await pushImage(base, `${front.host}/tok/base:1`, { cache, clients });
  const app = await buildImage({
    base: `${front.host}/tok/base:1`,
    layers: [layer('tok-app')],
    created: 0,
    cache,
    clients,
  });
  const pushed = await pushImage(app, `${front.host}/tok/app:1`, { cache, clients });
  assert.deepEqual(
    pushed.blobs.map((b) => b.result),
    ['mounted', 'uploaded', 'uploaded'],
  );
  const scopes = front.issued.map((i) => i.scopes.join(' '));
  assert.ok(
    scopes.some((s) => s.includes('repository:tok/base:pull,push')),
    scopes.join(' | '),
  );
  assert.ok(
    scopes.some(
      (s) => s.includes('repository:tok/app:pull,push') && s.includes('repository:tok/base:pull'),
    ),
    `a mount token covers both repositories: ${scopes.join(' | ')}`,
  );
  const issuedBefore = front.issued.length;
  await pushImage(app, `${front.host}/tok/app:1`, { cache, clients });
  assert.ok(front.issued.length - issuedBefore <= 1, 'tokens are reused, not fetched per request');

  const pulled = await pullImage(`${front.host}/tok/app:1`, {
    clients: new RegistryClients({ credentials }),
  });
  assert.equal(pulled.digest, app.digest);

  await assert.rejects(
    new RegistryClient(front.host, {
      credentials: { username: 'gantry', password: 'nope' },
    }).getManifest('tok/app', '1'),
    /reading manifest .*tok\/app:1: HTTP 401 unauthorized: the token service http:\/\/127\.0\.0\.1:\d+ rejected the credentials \(user "gantry", given explicitly\)/,
  );
  await assert.rejects(
    new RegistryClient(front.host, { anonymous: true }).getManifest('tok/app', '1'),
    /HTTP 401 unauthorized: the token service .* rejected the credentials \(no credentials: anonymous\)/,
  );
});

test('an unreachable registry, a missing repository and a missing tag are named', async (t) => {
  const closed = `127.0.0.1:${await freePort()}`;
  const cache = new BlobCache(tempDir(t));
  const image = await buildImage({ layers: [layer('x')], created: 0, cache });
  await assert.rejects(
    pushImage(image, `${closed}/x/y:1`, { cache }),
    new RegExp(
      `pushing layer sha256:[0-9a-f]{12}… to ${closed}/x/y: cannot reach registry ${closed} at http://${closed} \\(ECONNREFUSED\\)`.replace(
        /\./g,
        '\\.',
      ),
    ),
  );
  await assert.rejects(
    buildImage({ base: `${closed}/base:1`, layers: [], cache }),
    /reading manifest 127\.0\.0\.1:\d+\/base:1: cannot reach registry 127\.0\.0\.1:\d+ at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
  );
  await assert.rejects(
    buildImage({ base: `${open.host}/no/such:v9`, layers: [], cache }),
    (err: unknown) => {
      assert.ok(err instanceof RegistryError);
      assert.match(
        err.message,
        /no\/such:v9: HTTP 404 (repository no\/such does not exist on|tag "v9" not found in)/,
      );
      return true;
    },
  );
  await pushImage(image, `${open.host}/exists/app:1`, { cache });
  await assert.rejects(
    buildImage({ base: `${open.host}/exists/app:v9`, layers: [], cache }),
    new RegExp(
      `reading manifest ${open.host.replace(/\./g, '\\.')}/exists/app:v9: HTTP 404 tag "v9" not found in ${open.host.replace(/\./g, '\\.')}/exists/app`,
    ),
  );
});

test(
  'user-service: cold build and push, then a code-only change sends only the code layer',
  { timeout: 300_000 },
  async (t) => {
    ensureUserServiceBuilt();
    const cache = sharedCache();
    const clients = new RegistryClients();
    const baseRef = `${open.host}/gantry/node-base:${process.versions.node}`;
    await pushImage(await buildImage({ ...hostNodeBaseImage(), cache }), baseRef, {
      cache,
      clients,
    });

    // Cold: an empty cache for the service's own layers (the base image is pushed already).
    const coldCache = new BlobCache(tempDir(t));
    let t0 = performance.now();
    const v1 = nodeServiceImage(userServiceDir, {
      base: baseRef,
      version: '1.0.0',
      gitSha: 'a'.repeat(40),
      codeMtime: 1,
    });
    const image1 = await buildImage({ ...v1.build, cache: coldCache, clients });
    const built = performance.now() - t0;
    const push1 = await pushImage(image1, `${open.host}/gantry/user-service:1.0.0`, {
      cache: coldCache,
      clients,
    });
    const cold = performance.now() - t0;
    assert.deepEqual(
      push1.blobs.map((b) => b.result),
      ['mounted', 'uploaded', 'uploaded', 'uploaded'],
      'base mounted; dependencies, code and config uploaded',
    );

    // Code-only change: a copy of dist/ with one file changed, and a new version.
    const dist = join(tempDir(t), 'dist');
    cpSync(join(userServiceDir, 'dist'), dist, { recursive: true });
    writeFileSync(
      join(dist, 'app.js'),
      readFileSync(join(dist, 'app.js'), 'utf8') + '// changed\n',
    );
    t0 = performance.now();
    const v2 = nodeServiceImage(userServiceDir, {
      base: baseRef,
      version: '1.0.1',
      gitSha: 'b'.repeat(40),
      codeMtime: 2,
      distDir: dist,
    });
    const image2 = await buildImage({ ...v2.build, cache: coldCache, clients });
    const push2 = await pushImage(image2, `${open.host}/gantry/user-service:1.0.1`, {
      cache: coldCache,
      clients,
    });
    const warm = performance.now() - t0;
    assert.equal(image2.layers[1]!.digest, image1.layers[1]!.digest, 'same dependency layer');
    assert.deepEqual(
      push2.blobs.map((b) => b.result),
      ['exists', 'exists', 'uploaded', 'uploaded'],
      'only the code layer and the config go up',
    );
    assert.ok(push2.bytesUploaded < 1 << 20, `code-only push sent ${push2.bytesUploaded} bytes`);
    t.diagnostic(
      `cold build ${(built / 1000).toFixed(1)}s, build+push ${(cold / 1000).toFixed(1)}s, ` +
        `${(push1.bytesUploaded / 1048576).toFixed(1)} MiB sent; code-only rebuild+push ${(warm / 1000).toFixed(1)}s, ` +
        `${(push2.bytesUploaded / 1024).toFixed(1)} KiB sent`,
    );
  },
);
