// Layers for a Node.js service: production dependencies (one layer, which a
// code-only change leaves untouched) and the compiled code (a small layer).
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { TarEntry } from './tar.js';
import { collectTree } from './layer.js';

interface PackageJson {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

export class NodeLayoutError extends Error {
  override name = 'NodeLayoutError';
}

const readPkg = (dir: string): PackageJson =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;

/** Build intermediates that native packages leave behind and nothing loads at run time. */
function excludeBuildLeftovers(pkgDir: string): (rel: string) => boolean {
  const native = existsSync(join(pkgDir, 'binding.gyp'));
  return (rel) =>
    /(^|\/)(obj\.target|\.deps|obj)(\/|$)/.test(rel) ||
    /\.(o|a|mk|d)$/.test(rel) ||
    rel.endsWith('test_extension.node') ||
    (native && /^(deps|src)(\/|$)/.test(rel));
}

/**
 * The production dependency closure of a package, resolved the way Node
 * does: the package's own node_modules, then each parent's (npm workspaces
 * hoist most packages to the repository root).
 */
export function productionDependencies(serviceDir: string): { name: string; dir: string }[] {
  const found = new Map<string, string>();
  const visit = (fromDir: string, deps: Record<string, string>, optional: Set<string>) => {
    for (const name of Object.keys(deps).sort()) {
      if (found.has(name)) continue;
      let dir: string | undefined;
      for (let d = resolve(fromDir); ; d = dirname(d)) {
        const candidate = join(d, 'node_modules', name);
        if (existsSync(join(candidate, 'package.json'))) {
          dir = realpathSync(candidate);
          break;
        }
        if (dirname(d) === d) break;
      }
      if (!dir) {
        if (optional.has(name)) continue;
        throw new NodeLayoutError(`dependency ${name} of ${fromDir} is not installed (run npm ci)`);
      }
      found.set(name, dir);
      const pkg = readPkg(dir);
      visit(
        dir,
        { ...pkg.dependencies, ...pkg.optionalDependencies },
        new Set(Object.keys(pkg.optionalDependencies ?? {})),
      );
    }
  };
  const pkg = readPkg(serviceDir);
  visit(serviceDir, pkg.dependencies ?? {}, new Set(Object.keys(pkg.optionalDependencies ?? {})));
  return [...found.entries()]
    .map(([name, dir]) => ({ name, dir }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function nodeDependencyEntries(serviceDir: string, appDir = 'app'): TarEntry[] {
  return productionDependencies(serviceDir).flatMap(({ name, dir }) =>
    collectTree(dir, `${appDir}/node_modules/${name}`, {
      exclude: (rel) => rel.startsWith('node_modules/.cache') || excludeBuildLeftovers(dir)(rel),
    }),
  );
}

export interface BuildInfo {
  version: string;
  gitSha: string;
  buildTime: string;
}

export function nodeCodeEntries(serviceDir: string, info: BuildInfo, appDir = 'app'): TarEntry[] {
  const dist = join(serviceDir, 'dist');
  if (!existsSync(dist))
    throw new NodeLayoutError(`${dist} does not exist: build the service first (npm run build)`);
  const pkg = readPkg(serviceDir);
  // Only what the runtime reads from package.json: no scripts, no dev dependencies.
  const runtimePkg = {
    name: pkg.name,
    version: info.version,
    type: 'module',
    dependencies: pkg.dependencies,
  };
  return [
    ...collectTree(dist, `${appDir}/dist`, {
      exclude: (rel) => rel.endsWith('.tsbuildinfo') || rel.endsWith('.map'),
    }),
    {
      path: `${appDir}/package.json`,
      type: 'file',
      mode: 0o644,
      data: Buffer.from(JSON.stringify(runtimePkg, null, 2) + '\n'),
    },
    {
      path: `${appDir}/dist/build-info.json`,
      type: 'file',
      mode: 0o644,
      data: Buffer.from(JSON.stringify(info) + '\n'),
    },
  ];
}
