// The Gantry image the in-cluster release driver runs: this very CLI (bin/gantry.js, its
// bundle loader and bundle/main.cjs from scripts/bundle.ts) and a runtime package.json, one
// layer on the Node.js base image, built daemonless by Gantry's own image library. Its tag
// is a digest of that content and the base, so the same CLI gives the same tag: an image
// already in the registry is used as it is, without building or pushing anything.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  RegistryClients,
  RegistryError,
  buildImage,
  defaultNodeBaseImage,
  parseImageRef,
  pushImage,
} from '../../image/index.js';

export const DRIVER_REPOSITORY = 'gantry/gantry';

export class DriverImageError extends Error {
  override name = 'DriverImageError';
}

interface PackageJson {
  name?: string;
  version?: string;
}

/** The @gantry/gantry package directory this code runs from (dist/ or bundle/ inside it). */
export function gantryPackageDir(from = fileURLToPath(import.meta.url)): string {
  for (let d = dirname(from); ; d = dirname(d)) {
    const file = join(d, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
      if (pkg.name === '@gantry/gantry') return d;
    }
    if (dirname(d) === d) {
      throw new DriverImageError(`cannot find the @gantry/gantry package above ${from}`);
    }
  }
}

/** The files of the image, checked: the bundle must be there and as new as the compiled code. */
function driverFiles(pkgDir: string): { target: string; source?: string; data?: string }[] {
  const bundle = join(pkgDir, 'bundle', 'main.cjs');
  if (!existsSync(bundle)) {
    throw new DriverImageError(
      `${bundle} does not exist: build it (npm run build -w @gantry/gantry), or pass --driver-image`,
    );
  }
  const built = join(pkgDir, 'tsconfig.tsbuildinfo');
  if (existsSync(built) && statSync(built).mtimeMs > statSync(bundle).mtimeMs) {
    throw new DriverImageError(
      `${bundle} is older than the compiled code, so the driver would run other code than this ` +
        'gantry: rebuild it (npm run build -w @gantry/gantry), or pass --driver-image',
    );
  }
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as PackageJson;
  // What the launcher and gantryVersion() read at run time; no dependencies (the bundle
  // holds them; @kubernetes/client-node is needed only for kubeconfig exec plugins).
  const runtime = { name: pkg.name, version: pkg.version ?? '0.0.0', type: 'module' };
  return [
    { target: '/app/bin/gantry.js', source: join(pkgDir, 'bin', 'gantry.js') },
    { target: '/app/bin/load-bundle.js', source: join(pkgDir, 'bin', 'load-bundle.js') },
    { target: '/app/bundle/main.cjs', source: bundle },
    { target: '/app/package.json', data: `${JSON.stringify(runtime, null, 2)}\n` },
  ];
}

export interface DriverImageOptions {
  /** Registry host[:port] to push to (the cluster must pull from it). */
  registry: string;
  /** Base image (default: the local registry's Node.js base image, GANTRY_NODE_BASE_IMAGE). */
  base?: string;
  onProgress?: (message: string) => void;
}

/** registry/gantry/gantry@sha256:…: the driver image, built and pushed unless it is there already. */
export async function ensureDriverImage(opts: DriverImageOptions): Promise<string> {
  const progress = opts.onProgress ?? (() => undefined);
  const pkgDir = gantryPackageDir();
  const files = driverFiles(pkgDir);
  const base = opts.base ?? defaultNodeBaseImage();
  const hash = createHash('sha256').update(`base ${base}\n`);
  for (const f of files) {
    hash.update(`${f.target}\n`);
    hash.update(f.data ?? readFileSync(f.source ?? ''));
  }
  const version = (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as PackageJson)
    .version;
  const tag = `${version ?? '0.0.0'}-${hash.digest('hex').slice(0, 16)}`;
  const target = { registry: opts.registry, repository: DRIVER_REPOSITORY, tag };
  const clients = new RegistryClients();
  try {
    const found = await clients.get(opts.registry).getManifest(DRIVER_REPOSITORY, tag);
    progress(`driver image ${opts.registry}/${DRIVER_REPOSITORY}:${tag} is in the registry`);
    return `${opts.registry}/${DRIVER_REPOSITORY}@${found.digest}`;
  } catch (err) {
    if (!(err instanceof RegistryError) || err.info.status !== 404) throw err;
  }
  const t0 = Date.now();
  const image = await buildImage({
    base,
    layers: [{ comment: `gantry ${version ?? ''} CLI (bundle)`, files, mtime: 0 }],
    config: {
      entrypoint: ['/usr/local/bin/node', '/app/bin/gantry.js'],
      workingDir: '/app',
      user: '65532:65532',
      // The root filesystem is read-only in the driver's pod: no V8 code cache to write.
      env: { NODE_ENV: 'production', GANTRY_CODE_CACHE: 'off' },
    },
    metadata: {
      title: 'gantry',
      version: version ?? '0.0.0',
      description: 'the Gantry CLI, as the in-cluster progressive release driver runs it',
    },
    created: 0,
    clients,
  });
  const pushed = await pushImage(image, target, { clients });
  progress(
    `driver image ${pushed.ref} built and pushed in ${((Date.now() - t0) / 1000).toFixed(1)}s`,
  );
  return pushed.pinned;
}

/** The registry of an image reference (where the cluster pulls the service's images from). */
export function registryOf(image: string): string {
  return parseImageRef(image).registry;
}
