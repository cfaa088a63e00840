// Images for Node.js services: two layers, so a code-only change pushes only
// the small one.
//   1. production dependencies: the package closure of the service's
//      package.json dependencies, resolved the way Node resolves them on this
//      machine (npm workspaces hoist most packages to the repository root;
//      conflicting versions stay in the service's or a package's own
//      node_modules), laid out under /app/node_modules so that every require
//      in the image finds the same package it finds here. Native addons keep
//      their compiled build/Release/*.node; build intermediates and C sources
//      are left out.
//   2. code: dist/, a runtime package.json and dist/build-info.json (what the
//      service's /version reports).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, posix, sep } from 'node:path';
import type { BuildImageOptions, ImageConfig, ImageMetadata } from './image.js';
import type { LayerFile, LayerSpec } from './layer.js';
import { sourceDateEpoch } from './layer.js';

interface PackageJson {
  name?: string;
  version?: string;
  type?: string;
  main?: string;
  exports?: unknown;
  imports?: unknown;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

export class NodeLayoutError extends Error {
  override name = 'NodeLayoutError';
}

export interface NodePackage {
  name: string;
  version: string;
  /** Where it is installed here (real path). */
  dir: string;
  /** Where it goes in the image, relative to the app directory (e.g. "node_modules/ajv"). */
  target: string;
  /** Has a compiled addon (*.node). */
  native: boolean;
}

const readPkg = (dir: string): PackageJson => {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
  } catch (err) {
    throw new NodeLayoutError(
      `cannot read ${join(dir, 'package.json')}: ${(err as Error).message}`,
    );
  }
};

/** Node's lookup from a directory: <dir>/node_modules/<name>, then each parent's (never node_modules/node_modules). */
function resolveOnDisk(fromDir: string, name: string): string | undefined {
  for (let d = fromDir; ; d = dirname(d)) {
    if (basename(d) !== 'node_modules') {
      const candidate = join(d, 'node_modules', name);
      if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    }
    if (dirname(d) === d) return undefined;
  }
}

/** The same lookup inside the image, over placed targets ("" is the app directory). */
function resolveInImage(
  placed: Map<string, string>,
  from: string,
  name: string,
): string | undefined {
  const parts = from ? from.split('/') : [];
  for (let i = parts.length; i >= 0; i--) {
    if (i > 0 && parts[i - 1] === 'node_modules') continue;
    const candidate = [...parts.slice(0, i), 'node_modules', name].join('/');
    if (placed.has(candidate)) return candidate;
  }
  return undefined;
}

function dependencyNames(pkg: PackageJson): { name: string; optional: boolean }[] {
  const out = new Map<string, boolean>();
  for (const n of Object.keys(pkg.dependencies ?? {})) out.set(n, false);
  for (const n of Object.keys(pkg.optionalDependencies ?? {})) out.set(n, true);
  // Peers are resolved from the package's location: include them when installed.
  for (const n of Object.keys(pkg.peerDependencies ?? {})) if (!out.has(n)) out.set(n, true);
  return [...out]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, optional]) => ({ name, optional }));
}

/**
 * The production dependency closure of the package in `serviceDir` and where
 * each package goes in the image (relative to the app directory).
 */
export function nodeProductionDependencies(serviceDir: string): NodePackage[] {
  const service = realpathSync(serviceDir);
  // Install roots: the service and each ancestor with a node_modules (longest first).
  const roots: string[] = [];
  for (let d = service; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) roots.push(join(d, 'node_modules') + sep);
    if (dirname(d) === d) break;
  }
  const mirror = (dir: string, name: string): string => {
    const root = roots.find((r) => dir.startsWith(r));
    // A workspace package linked from outside node_modules goes in by name.
    const rel = root ? dir.slice(root.length).split(sep).join('/') : name;
    return `node_modules/${rel}`;
  };

  // 1. The closure, breadth first from the service; edges resolved as Node does here.
  const edges = new Map<string, Map<string, string>>(); // dir -> name -> dir
  const pkgs = new Map<string, PackageJson>();
  const order: string[] = [];
  const queue: string[] = [service];
  pkgs.set(service, readPkg(service));
  while (queue.length) {
    const dir = queue.shift()!;
    const pkg = pkgs.get(dir)!;
    const deps = new Map<string, string>();
    for (const { name, optional } of dependencyNames(pkg)) {
      const found = resolveOnDisk(dir, name);
      if (!found) {
        if (optional) continue;
        throw new NodeLayoutError(
          `${pkg.name ?? dir} depends on ${name}, which is not installed (run npm ci in the repository)`,
        );
      }
      deps.set(name, found);
      if (!pkgs.has(found)) {
        pkgs.set(found, readPkg(found));
        order.push(found);
        queue.push(found);
      }
    }
    edges.set(dir, deps);
  }

  // 2. Placement: mirror the layout on disk (first come, first placed), then
  // make every edge resolve in the image to the package it resolves to here,
  // nesting a package under its dependent where a different version holds the slot.
  const placed = new Map<string, string>([['', service]]); // target -> dir
  const names = new Map<string, string>(); // dir -> package name (as required)
  for (const [, deps] of edges) for (const [n, d] of deps) if (!names.has(d)) names.set(d, n);
  for (const dir of order) {
    const t = mirror(dir, names.get(dir)!);
    if (!placed.has(t)) placed.set(t, dir);
  }
  for (let round = 0, changed = true; changed; round++) {
    if (round > 50)
      throw new NodeLayoutError(
        'could not lay out node_modules (dependency cycle with conflicting versions?)',
      );
    changed = false;
    for (const [t, dir] of [...placed]) {
      for (const [name, want] of edges.get(dir) ?? []) {
        const got = resolveInImage(placed, t, name);
        if (got !== undefined && placed.get(got) === want) continue;
        const slot = `${t ? `${t}/` : ''}node_modules/${name}`;
        if (placed.has(slot)) {
          throw new NodeLayoutError(
            `cannot place ${name} for ${t || 'the service'}: ${slot} holds another version`,
          );
        }
        placed.set(slot, want);
        changed = true;
      }
    }
  }
  placed.delete('');
  return [...placed]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([target, dir]) => {
      const pkg = pkgs.get(dir)!;
      return {
        name: pkg.name ?? names.get(dir) ?? basename(dir),
        version: pkg.version ?? '0.0.0',
        dir,
        target,
        native: hasAddon(dir),
      };
    });
}

function hasAddon(dir: string): boolean {
  const release = join(dir, 'build', 'Release');
  try {
    return readdirSync(release).some((f) => f.endsWith('.node'));
  } catch {
    return existsSync(join(dir, 'binding.gyp')) || existsSync(join(dir, 'prebuilds'));
  }
}

const NATIVE_SOURCES = /\.(c|cc|cpp|cxx|h|hh|hpp|hxx|o|a|obj|lib|gyp|gypi|mk|patch)$/;

/** What to leave out of an installed package. */
function packageExclude(native: boolean): (rel: string) => boolean {
  return (rel) => {
    // Nested packages are placed on their own (only those in the closure).
    if (rel === 'node_modules' || rel.startsWith('node_modules/')) return true;
    if (!native) return false;
    if (rel === 'build' || rel === 'build/Release') return false;
    if (rel.startsWith('build/'))
      return !/^build\/Release\/[^/]+\.node$/.test(rel) || rel.endsWith('/test_extension.node');
    return NATIVE_SOURCES.test(rel);
  };
}

export interface BuildInfo {
  version: string;
  gitSha: string;
  buildTime: string;
}

export interface NodeLayersOptions {
  /** For build-info.json; default the package.json version. */
  version?: string;
  gitSha?: string;
  /** Default: the image's creation time (SOURCE_DATE_EPOCH, else 0). */
  buildTime?: string;
  /** Default "/app". */
  appDir?: string;
  /** The compiled code (default <serviceDir>/dist); it goes to <appDir>/dist. */
  distDir?: string;
  /**
   * mtime of the dependency layer. Default 0 rather than SOURCE_DATE_EPOCH, so
   * the layer (and its digest) changes only when the dependencies do.
   */
  dependencyMtime?: number;
  /** mtime of the code layer (default SOURCE_DATE_EPOCH, else 0). */
  codeMtime?: number;
}

export interface NodeServiceLayers {
  dependencies: LayerSpec;
  code: LayerSpec;
  packages: NodePackage[];
  buildInfo: BuildInfo;
  /** Things worth telling the user (a dist/ older than src/, …). */
  warnings: string[];
}

function newestMtime(dir: string): number {
  let newest = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  if (existsSync(dir)) walk(dir);
  return newest;
}

/** The dependency and code layers of the Node.js service in `serviceDir` (built with tsc: dist/). */
export function nodeServiceLayers(
  serviceDir: string,
  opts: NodeLayersOptions = {},
): NodeServiceLayers {
  const appDir = posix.normalize(`/${opts.appDir ?? '/app'}`);
  const dist = opts.distDir ?? join(serviceDir, 'dist');
  const pkg = readPkg(serviceDir);
  const main = 'main.js';
  if (!existsSync(join(dist, main)))
    throw new NodeLayoutError(
      `${join(dist, main)} does not exist: build the service first (npx tsc -b)`,
    );
  const warnings: string[] = [];
  if (newestMtime(join(serviceDir, 'src')) > newestMtime(dist) + 1000)
    warnings.push(
      `${join(serviceDir, 'src')} has files newer than dist/: the image may hold stale code (npx tsc -b)`,
    );

  const packages = nodeProductionDependencies(serviceDir);
  const dependencies: LayerSpec = {
    comment: `production dependencies (${packages.length} packages)`,
    mtime: opts.dependencyMtime ?? 0,
    files: packages.map((p): LayerFile => ({
      source: p.dir,
      target: `${appDir}/${p.target}`,
      exclude: packageExclude(p.native),
    })),
  };

  const buildInfo: BuildInfo = {
    version: opts.version ?? pkg.version ?? '0.0.0',
    gitSha: opts.gitSha ?? 'unknown',
    buildTime:
      opts.buildTime ?? new Date((opts.codeMtime ?? sourceDateEpoch()) * 1000).toISOString(),
  };
  // What Node reads from package.json at run time, and the version; no scripts or devDependencies.
  const runtimePkg: PackageJson = {
    name: pkg.name,
    version: buildInfo.version,
    ...(pkg.type ? { type: pkg.type } : {}),
    ...(pkg.main ? { main: pkg.main } : {}),
    ...(pkg.exports ? { exports: pkg.exports } : {}),
    ...(pkg.imports ? { imports: pkg.imports } : {}),
    ...(pkg.engines ? { engines: pkg.engines } : {}),
    ...(pkg.dependencies ? { dependencies: pkg.dependencies } : {}),
  };
  const code: LayerSpec = {
    comment: 'code',
    ...(opts.codeMtime !== undefined ? { mtime: opts.codeMtime } : {}),
    files: [
      {
        source: dist,
        target: `${appDir}/dist`,
        exclude: (rel) => /\.(tsbuildinfo|map)$/.test(rel) || rel.endsWith('.d.ts'),
      },
      { data: JSON.stringify(runtimePkg, null, 2) + '\n', target: `${appDir}/package.json` },
      // Read by the service's /version (src/ops/version.ts: build-info.json next to dist/ops).
      { data: JSON.stringify(buildInfo, null, 2) + '\n', target: `${appDir}/dist/build-info.json` },
    ],
  };
  return { dependencies, code, packages, buildInfo, warnings };
}

/** The node base image the local cluster publishes (hack/cluster: push_node_base_image). */
export function defaultNodeBaseImage(env: NodeJS.ProcessEnv = process.env): string {
  return env.GANTRY_NODE_BASE_IMAGE || `127.0.0.1:5000/gantry/node-base:${process.versions.node}`;
}

export interface NodeServiceImageOptions extends NodeLayersOptions {
  /** Default GANTRY_NODE_BASE_IMAGE, else 127.0.0.1:5000/gantry/node-base:<this node's version>. */
  base?: string;
  /** Default ["/usr/local/bin/node", "dist/main.js"]. */
  entrypoint?: string[];
  /** Merged over NODE_ENV=production. */
  env?: Record<string, string>;
  exposedPorts?: number[];
  /** Default: the base image's user (65532 in the node base image). */
  user?: string;
  metadata?: ImageMetadata;
  labels?: Record<string, string>;
}

/** Everything buildImage needs for a Node.js service: base, the two layers, runtime config. */
export function nodeServiceImage(
  serviceDir: string,
  opts: NodeServiceImageOptions = {},
): { build: BuildImageOptions; layers: NodeServiceLayers } {
  const layers = nodeServiceLayers(serviceDir, opts);
  const appDir = posix.normalize(`/${opts.appDir ?? '/app'}`);
  const base = opts.base ?? defaultNodeBaseImage();
  const tag = /:([\w][\w.-]*)$/.exec(base)?.[1];
  const natives = layers.packages.filter((p) => p.native).map((p) => p.name);
  if (
    natives.length &&
    tag &&
    /^\d+\./.test(tag) &&
    tag.split('.')[0] !== process.versions.node.split('.')[0]
  ) {
    layers.warnings.push(
      `native addons (${natives.join(', ')}) were built for Node ${process.versions.node}, the base image is ${base}`,
    );
  }
  const config: ImageConfig = {
    entrypoint: opts.entrypoint ?? ['/usr/local/bin/node', 'dist/main.js'],
    workingDir: appDir,
    env: { NODE_ENV: 'production', ...opts.env },
    ...(opts.user ? { user: opts.user } : {}),
    ...(opts.exposedPorts ? { exposedPorts: opts.exposedPorts } : {}),
    ...(opts.labels ? { labels: opts.labels } : {}),
  };
  return {
    build: {
      base,
      layers: [layers.dependencies, layers.code],
      config,
      metadata: { version: layers.buildInfo.version, ...opts.metadata },
      ...(opts.codeMtime !== undefined ? { created: opts.codeMtime } : {}),
    },
    layers,
  };
}

/**
 * A Node.js runtime image built from this machine's node binary and the shared
 * libraries it links (as hack/cluster publishes gantry/node-base): CA
 * certificates, a non-root user 65532 ("nonroot"), /tmp, /app. For registries
 * that lack a node base image, and for tests.
 */
export function hostNodeBaseImage(): BuildImageOptions {
  const node = realpathSync(process.execPath);
  const ldd = spawnSync('ldd', [node], { encoding: 'utf8' });
  if (ldd.status !== 0) throw new NodeLayoutError(`ldd ${node} failed: ${ldd.stderr}`);
  const libs = new Set<string>();
  for (const line of ldd.stdout.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.add(m[1]!);
  }
  const files: LayerFile[] = [
    { source: node, target: '/usr/local/bin/node', mode: 0o755 },
    ...[...libs].sort().map((lib): LayerFile => ({ source: realpathSync(lib), target: lib })),
    { dir: true, target: '/tmp', dirMode: 0o1777 },
    { dir: true, target: '/app' },
    { dir: true, target: '/home/nonroot', uid: 65532, gid: 65532 },
    {
      target: '/etc/passwd',
      data: 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n',
    },
    { target: '/etc/group', data: 'root:x:0:\nnonroot:x:65532:\n' },
    { target: '/etc/nsswitch.conf', data: 'hosts: files dns\n' },
  ];
  const certs = '/etc/ssl/certs/ca-certificates.crt';
  if (existsSync(certs)) files.push({ source: realpathSync(certs), target: certs });
  return {
    base: 'scratch',
    layers: [{ comment: `node ${process.versions.node} runtime from the host`, files, mtime: 0 }],
    created: 0,
    config: {
      entrypoint: ['/usr/local/bin/node'],
      user: '65532:65532',
      workingDir: '/app',
      env: {
        PATH: '/usr/local/bin:/usr/bin:/bin',
        NODE_ENV: 'production',
        SSL_CERT_FILE: certs,
        HOME: '/home/nonroot',
      },
    },
    metadata: {
      title: 'gantry node-base',
      version: process.versions.node,
      description: 'Node.js runtime built from the host node binary and its shared libraries',
    },
  };
}
