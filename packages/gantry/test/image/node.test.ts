// Node.js service images: the dependency closure laid out so every require
// resolves as it does on this machine, a dependency layer that code changes do
// not touch, build-info.json for /version, and the image's filesystem actually
// running user-service (chroot as uid 65532 when root, else the host's node).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { dockerfileFor } from '../../src/image/dockerfile.js';
import { buildImage } from '../../src/image/image.js';
import { buildLayer } from '../../src/image/layer.js';
import { hostNodeBaseImage, nodeServiceImage, nodeServiceLayers } from '../../src/image/node.js';
import { loadSpecFile } from '../../src/spec/index.js';
import { freePort } from './registry-server.js';
import {
  ensureUserServiceBuilt,
  extractImage,
  repoRoot,
  sharedCache,
  tempDir,
  userServiceDir,
} from './helpers.js';

ensureUserServiceBuilt();

test('dependency closure: every package the service needs, nested where versions conflict', () => {
  const { packages, dependencies, code, buildInfo } = nodeServiceLayers(userServiceDir, {
    version: '1.2.3',
    gitSha: 'abc',
  });
  const names = new Set(packages.map((p) => p.name));
  const own = JSON.parse(readFileSync(join(userServiceDir, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  for (const d of Object.keys(own.dependencies)) assert.ok(names.has(d), `${d} included`);
  for (const d of Object.keys(own.devDependencies))
    assert.ok(!names.has(d), `dev dependency ${d} left out`);
  for (const dev of ['typescript', 'eslint', 'tsx', 'prettier'])
    assert.ok(!names.has(dev), `${dev} left out`);
  const sqlite = packages.find((p) => p.name === 'better-sqlite3');
  assert.ok(sqlite?.native, 'better-sqlite3 is a native addon');
  // The service's ajv (8) sits in its own node_modules; the root has another version for the tools.
  const ajv = packages.find((p) => p.target === 'node_modules/ajv');
  assert.equal(ajv?.version.split('.')[0], '8');
  assert.equal(
    new Set(packages.map((p) => p.target)).size,
    packages.length,
    'one package per path',
  );
  assert.equal(dependencies.mtime, 0, 'dependency layer time does not follow the commit');
  assert.equal(buildInfo.version, '1.2.3');
  assert.ok(code.files.some((f) => f.target === '/app/dist/build-info.json'));
});

test('the dependency layer does not change when only code, version or time change', async (t) => {
  const dir = tempDir(t);
  const cache = sharedCache();
  const a = nodeServiceLayers(userServiceDir, { version: '1.0.0', gitSha: 'a', codeMtime: 1 });
  const dist = join(dir, 'dist');
  cpSync(join(userServiceDir, 'dist'), dist, { recursive: true });
  writeFileSync(
    join(dist, 'app.js'),
    readFileSync(join(dist, 'app.js'), 'utf8') + '// a code change\n',
  );
  const b = nodeServiceLayers(userServiceDir, {
    version: '1.0.1',
    gitSha: 'b',
    codeMtime: 2,
    distDir: dist,
  });
  const [depsA, codeA, depsB, codeB] = await Promise.all([
    buildLayer(a.dependencies, { cache }),
    buildLayer(a.code, { cache }),
    buildLayer(b.dependencies, { cache }),
    buildLayer(b.code, { cache }),
  ]);
  assert.equal(depsA.digest, depsB.digest);
  assert.notEqual(codeA.digest, codeB.digest);
  assert.ok(codeA.size < 1 << 20, `code layer is small (${codeA.size} bytes)`);
  assert.ok(depsA.size > 1 << 20, `dependency layer is the big one (${depsA.size} bytes)`);
  // Repeatable: built again from the cache, same digests, no compression.
  const again = await buildLayer(a.dependencies, { cache });
  assert.equal(again.digest, depsA.digest);
  assert.equal(again.cached, true);
});

/** Walks up from `from` (inside root) for node_modules/<name>, as Node does; returns its package.json version. */
function versionSeenFrom(root: string, from: string, name: string): string | undefined {
  for (let d = from; d.startsWith(root); d = dirname(d)) {
    if (!d.endsWith('/node_modules')) {
      const p = join(d, 'node_modules', name, 'package.json');
      if (existsSync(p))
        return (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version;
    }
    if (d === root) break;
  }
  return undefined;
}

async function waitForHttp(url: string, child: ChildProcess, log: () => string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`service exited (${child.exitCode}): ${log()}`);
    const r = await fetch(url).then(
      async (res) => (res.ok ? await res.text() : undefined),
      () => undefined,
    );
    if (r !== undefined) return r;
    await sleep(100);
  }
  throw new Error(`no answer from ${url}: ${log()}`);
}

test(
  'the image filesystem runs user-service and /version reports what was baked in',
  { timeout: 240_000 },
  async (t) => {
    const dir = tempDir(t, 'gantry-rootfs-');
    const cache = sharedCache();
    const base = await buildImage({ ...hostNodeBaseImage(), cache });
    const { build, layers } = nodeServiceImage(userServiceDir, {
      base: 'unused',
      version: '3.4.5-rc.1',
      gitSha: '0123456789abcdef0123456789abcdef01234567',
      buildTime: '2024-05-06T07:08:09.000Z',
    });
    const image = await buildImage({ ...build, base, cache });
    assert.deepEqual(image.config.config?.Entrypoint, ['/usr/local/bin/node', 'dist/main.js']);
    assert.equal(image.config.config?.WorkingDir, '/app');
    assert.equal(image.config.config?.User, '65532:65532', 'the base image user is inherited');
    assert.ok(image.config.config?.Env?.includes('NODE_ENV=production'));
    const root = join(dir, 'rootfs');
    await extractImage(image, root, cache);

    // Every dependency edge resolves in the image to the version it resolves to here.
    for (const p of layers.packages) {
      const pkg = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>;
      };
      for (const dep of Object.keys(pkg.dependencies ?? {})) {
        const here = versionSeenFrom('/', p.dir, dep);
        if (here === undefined) continue;
        assert.equal(
          versionSeenFrom(join(root, 'app'), join(root, 'app', p.target), dep),
          here,
          `${p.target} -> ${dep}`,
        );
      }
    }
    assert.ok(
      existsSync(join(root, 'app/node_modules/better-sqlite3/build/Release/better_sqlite3.node')),
    );
    assert.ok(
      !existsSync(join(root, 'app/node_modules/better-sqlite3/build/Release/obj.target')),
      'no build leftovers',
    );
    assert.ok(
      !existsSync(join(root, 'app/node_modules/better-sqlite3/deps/sqlite3/sqlite3.c')),
      'no C sources',
    );

    const port = await freePort();
    const env = {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: 'sqlite::memory:',
      NODE_ENV: 'production',
    };
    const chroot = ['/usr/sbin/chroot', '/sbin/chroot'].find((c) => existsSync(c));
    const asRoot = process.getuid?.() === 0 && chroot !== undefined;
    // chroot starts in "/": the entrypoint's script is given absolute (WorkingDir is /app in the image).
    const child = asRoot
      ? spawn(
          chroot,
          ['--userspec=65532:65532', root, '/usr/local/bin/node', '/app/dist/main.js'],
          {
            env: { ...env, PATH: '/usr/local/bin' },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        )
      : spawn(process.execPath, ['dist/main.js'], {
          cwd: join(root, 'app'),
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    t.after(() => void child.kill('SIGKILL'));
    t.diagnostic(
      asRoot
        ? 'running in a chroot of the image as 65532:65532'
        : 'running with the host node (not root)',
    );
    const version = JSON.parse(
      await waitForHttp(`http://127.0.0.1:${port}/version`, child, () => out),
    ) as Record<string, string>;
    assert.deepEqual(version, {
      version: '3.4.5-rc.1',
      gitSha: '0123456789abcdef0123456789abcdef01234567',
      buildTime: '2024-05-06T07:08:09.000Z',
    });
    // The SQLite addon loads and works: create and read back a user.
    const created = await fetch(`http://127.0.0.1:${port}/api/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Ada', email: 'ada@example.com' }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const list = await (await fetch(`http://127.0.0.1:${port}/api/users`)).json();
    assert.match(JSON.stringify(list), /ada@example.com/);
  },
);

test('dockerfileFor: node from the workspace root with npm ci --omit=dev; go on scratch', () => {
  const spec = loadSpecFile(join(repoRoot, 'deploy/user-service/gantry.yaml'));
  const node = dockerfileFor(spec, {
    specDir: join(repoRoot, 'deploy/user-service'),
    version: '1.2.3',
  });
  assert.match(node, /^# syntax=docker\/dockerfile:1/);
  assert.match(node, /RUN npm ci --omit=dev --workspace services\/user-service/);
  assert.match(node, /COPY --from=deps \/src\/node_modules \/node_modules/);
  assert.match(
    node,
    /COPY --from=deps \/src\/services\/user-service\/node_modules \/app\/node_modules/,
  );
  assert.match(node, /apt-get install .*g\+\+/, 'toolchain for better-sqlite3 in the deps stage');
  assert.match(node, /dist\/build-info.json/);
  assert.match(node, /ARG VERSION=1.2.3/);
  assert.match(
    node,
    /USER 65532:65532\nEXPOSE 8080\nENTRYPOINT \["\/usr\/local\/bin\/node","dist\/main.js"\]\n$/,
  );

  const go = dockerfileFor(
    { ...spec, name: 'hello', build: { kind: 'go', context: 'services/hello-go' } },
    { specDir: repoRoot },
  );
  assert.match(go, /FROM scratch/);
  assert.match(go, /CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w -buildid="/);
  assert.match(go, /ENTRYPOINT \["\/app"\]/);
  assert.match(go, /ARG GO_VERSION=\d+\.\d+/);
});
