// gantry build for a spec: the right layers for its kind (node or go), on its
// base image, tagged with the source version and pushed (or written out).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ServiceSpec } from '../spec/index.js';
import type { SourceVersion } from '../version/index.js';
import type { BuiltImage } from '../ship/ship.js';
import { buildImage } from './image.js';
import { collectTree, makeLayer, sourceDateEpoch } from './layer.js';
import { writeTar } from './tar.js';
import type { Layer } from './layer.js';
import { nodeCodeEntries, nodeDependencyEntries } from './node.js';
import { parseImageRef } from './ref.js';

export interface ServiceBuildOptions {
  specDir: string;
  version: SourceVersion;
  /** Write an OCI layout directory instead of pushing. */
  output?: string;
  onProgress?: (message: string) => void;
}

/** A tag from a semver: "+" (build metadata) is not allowed in tags. */
export function tagFor(version: string): string {
  return version.replace(/\+/g, '-').slice(0, 128);
}

export async function buildServiceImage(
  spec: ServiceSpec,
  opts: ServiceBuildOptions,
): Promise<BuiltImage> {
  const build = spec.build;
  if (!build) throw new Error(`spec ${spec.name} has no build section`);
  const context = resolve(opts.specDir, build.context);
  const target = parseImageRef(spec.image);
  const progress = opts.onProgress ?? (() => undefined);
  // Reproducible and still meaningful: SOURCE_DATE_EPOCH, else the commit's time.
  if (process.env.SOURCE_DATE_EPOCH === undefined) {
    try {
      process.env.SOURCE_DATE_EPOCH = execFileSync('git', ['log', '-1', '--format=%ct'], {
        cwd: opts.specDir,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      // not a git checkout: the epoch (0) it is
    }
  }
  const created = new Date(sourceDateEpoch() * 1000).toISOString();
  const labels = {
    'org.opencontainers.image.title': spec.name,
    'org.opencontainers.image.version': opts.version.version,
    'org.opencontainers.image.revision': opts.version.gitSha,
    'org.opencontainers.image.created': created,
  };
  const t0 = Date.now();
  let layers: Layer[];
  let base = build.base;
  let entrypoint = build.entrypoint;
  if (build.kind === 'node') {
    base ??= process.env.GANTRY_NODE_BASE_IMAGE;
    if (!base) {
      throw new Error(
        'build.base is not set and GANTRY_NODE_BASE_IMAGE is empty (hack/cluster/cluster env sets it)',
      );
    }
    const info = { version: opts.version.version, gitSha: opts.version.gitSha, buildTime: created };
    layers = [
      // Fixed mtime: the dependency layer must not change when only the commit does.
      makeLayer(nodeDependencyEntries(context), 'production dependencies', 0),
      makeLayer(nodeCodeEntries(context, info), 'code'),
    ];
    entrypoint ??= ['/usr/local/bin/node', 'dist/main.js'];
  } else {
    const work = mkdtempSync(join(tmpdir(), 'gantry-go-'));
    try {
      execFileSync(
        'go',
        ['build', '-trimpath', '-ldflags=-s -w -buildid=', '-o', join(work, 'app'), '.'],
        {
          cwd: context,
          env: { ...process.env, CGO_ENABLED: '0' },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      layers = [
        makeLayer(
          [
            {
              path: 'app',
              type: 'file',
              mode: 0o755,
              data: readFileSync(join(work, 'app')),
            },
          ],
          'static binary',
        ),
      ];
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    entrypoint ??= ['/app'];
  }
  const layoutDir = opts.output?.endsWith('.tar')
    ? mkdtempSync(join(tmpdir(), 'gantry-layout-'))
    : opts.output;
  progress(
    `layers ready in ${((Date.now() - t0) / 1000).toFixed(1)}s: ${layers.map((l) => `${l.comment} ${(l.size / 1024).toFixed(0)} KiB`).join(', ')}`,
  );
  const r = await buildImage({
    target: { ...target, tag: tagFor(opts.version.version) },
    ...(base ? { base: parseImageRef(base) } : {}),
    layers,
    config: {
      entrypoint,
      ...(build.kind === 'node'
        ? { workingDir: '/app', user: '65532:65532' }
        : { user: '65532:65532' }),
      env: build.kind === 'node' ? { NODE_ENV: 'production' } : {},
      labels,
      exposedPorts: spec.ports.map((p) => p.containerPort),
    },
    ...(opts.output ? { outputDir: layoutDir } : {}),
    onProgress: progress,
  });
  if (opts.output?.endsWith('.tar') && layoutDir) {
    // An OCI image layout in one reproducible tar file.
    writeFileSync(
      opts.output,
      writeTar(
        collectTree(layoutDir, '.')
          .filter((e) => e.path !== '.')
          .map((e) => ({ ...e, path: e.path.replace(/^\.\//, '') })),
        sourceDateEpoch(),
      ),
    );
    rmSync(layoutDir, { recursive: true, force: true });
    progress(`wrote ${opts.output}`);
  }
  return { ref: r.ref, digest: r.digest, bytesPushed: r.bytesPushed };
}
