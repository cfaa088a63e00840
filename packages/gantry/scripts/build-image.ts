// Builds the user-service image with the image API, end to end, and reports
// what each step cost:
//   1. the node base image (GANTRY_NODE_BASE_IMAGE, or one made from this
//      machine's node when the registry is a throwaway one),
//   2. a cold build + push of the service (dependency and code layers),
//   3. a warm rebuild after a code-only change (a copy of dist/ with one
//      changed file): only the code layer goes up,
//   4. optionally an OCI layout directory or tar (--out).
//
//   node --import tsx packages/gantry/scripts/build-image.ts [--registry HOST:PORT]
//     [--repository gantry/user-service] [--service services/user-service] [--out PATH]
//     [--cold]   (use an empty cache dir, so step 2 compresses everything)
//
// Without --registry it starts a throwaway docker-registry on loopback.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  BlobCache,
  buildImage,
  defaultNodeBaseImage,
  hostNodeBaseImage,
  nodeServiceImage,
  pushImage,
  RegistryClients,
  writeOciLayout,
  writeOciTar,
} from '../src/image/index.js';
import type { Image, PushResult } from '../src/image/index.js';
import { startRegistry } from '../test/image/registry-server.js';

const { values: args } = parseArgs({
  options: {
    registry: { type: 'string' },
    repository: { type: 'string', default: 'gantry/user-service' },
    service: { type: 'string', default: 'services/user-service' },
    out: { type: 'string' },
    cold: { type: 'boolean', default: false },
  },
});

const repoRoot = resolve(import.meta.dirname, '../../..');
const serviceDir = resolve(repoRoot, args.service);
const mib = (n: number) => `${(n / 1048576).toFixed(2)} MiB`;
const secs = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(2)}s`;
const log = (m: string) => process.stdout.write(`${m}\n`);

function describe(image: Image): void {
  for (const l of image.layers) {
    log(`    ${l.digest.slice(0, 19)}  ${mib(l.size).padStart(10)}  ${l.comment ?? '(base)'}`);
  }
}

function describePush(r: PushResult): void {
  const by = (what: string) => r.blobs.filter((b) => b.result === what).length;
  log(
    `    ${r.ref}  ${r.digest.slice(0, 19)}: uploaded ${by('uploaded')}, mounted ${by('mounted')}, ` +
      `already there ${by('exists')}; ${mib(r.bytesUploaded)} sent in ${r.requests} requests`,
  );
}

const scratch = mkdtempSync(join(tmpdir(), 'gantry-build-image-'));
const registry = args.registry ? undefined : await startRegistry();
const host = args.registry ?? registry!.host;
const cache = args.cold ? new BlobCache(join(scratch, 'cache')) : new BlobCache();
const clients = new RegistryClients();
try {
  log(`registry ${host}${registry ? ' (throwaway docker-registry)' : ''}, cache ${cache.dir}`);

  // 1. Base image.
  let base = defaultNodeBaseImage();
  if (registry) {
    const t0 = performance.now();
    const baseImage = await buildImage({ ...hostNodeBaseImage(), cache, clients });
    base = `${host}/gantry/node-base:${process.versions.node}`;
    describePush(await pushImage(baseImage, base, { clients, cache }));
    log(`1. node base image from the host's node: ${secs(t0)}`);
  }

  // 2. Cold build + push of the service.
  const version = (
    JSON.parse(readFileSync(join(serviceDir, 'package.json'), 'utf8')) as { version: string }
  ).version;
  const target = `${host}/${args.repository}:${version}`;
  let t0 = performance.now();
  const first = nodeServiceImage(serviceDir, {
    base,
    version,
    gitSha: 'build-image-script',
    exposedPorts: [8080],
  });
  for (const w of first.layers.warnings) log(`    warning: ${w}`);
  const image = await buildImage({ ...first.build, cache, clients });
  const built = secs(t0);
  const pushed = await pushImage(image, target, { clients, cache });
  describe(image);
  describePush(pushed);
  log(`2. build ${built} + push = ${secs(t0)} (${first.layers.packages.length} packages)`);

  // 3. Code-only change: one line appended to a copy of dist/app.js.
  const dist = join(scratch, 'dist');
  cpSync(join(serviceDir, 'dist'), dist, { recursive: true });
  writeFileSync(join(dist, 'app.js'), readFileSync(join(dist, 'app.js'), 'utf8') + '// changed\n');
  t0 = performance.now();
  const second = nodeServiceImage(serviceDir, {
    base,
    version,
    gitSha: 'build-image-script',
    exposedPorts: [8080],
    distDir: dist,
  });
  const rebuilt = await buildImage({ ...second.build, cache, clients });
  const rebuildTime = secs(t0);
  const repushed = await pushImage(rebuilt, `${host}/${args.repository}:${version}-changed`, {
    clients,
    cache,
  });
  describePush(repushed);
  log(
    `3. code-only rebuild ${rebuildTime} + push = ${secs(t0)}, ${mib(repushed.bytesUploaded)} sent`,
  );

  // 4. Optional OCI layout.
  if (args.out) {
    t0 = performance.now();
    if (args.out.endsWith('.tar'))
      await writeOciTar(image, args.out, { refName: version, clients, cache });
    else await writeOciLayout(image, args.out, { refName: version, clients, cache });
    log(`4. wrote ${args.out} in ${secs(t0)}`);
  }
} finally {
  await registry?.stop();
  rmSync(scratch, { recursive: true, force: true });
}
