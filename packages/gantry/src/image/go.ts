// Images for Go services: a static binary (CGO off, no paths, symbols, build
// id or VCS stamp, so the same source gives the same bytes) as the one layer
// of an image built on scratch.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BuildImageOptions, ImageConfig, ImageMetadata } from './image.js';
import { buildLayer } from './layer.js';
import type { Layer } from './layer.js';
import type { BlobCache } from './cache.js';
import type { Platform } from './registry.js';

export class GoBuildError extends Error {
  override name = 'GoBuildError';
}

export interface GoBinaryOptions {
  /** Package to build, relative to the module directory (default "."). */
  pkg?: string;
  platform?: Platform;
  /** Extra -ldflags (e.g. "-X main.version=1.2.3"); appended to "-s -w -buildid=". */
  ldflags?: string;
  /** Go binary (default "go" on PATH). */
  go?: string;
}

/** Runs `go build` for a static linux binary; returns its path in `outDir`. */
export async function buildGoBinary(
  moduleDir: string,
  outDir: string,
  opts: GoBinaryOptions = {},
): Promise<string> {
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const out = join(outDir, 'app');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CGO_ENABLED: '0',
    GOOS: platform.os,
    GOARCH: platform.architecture,
    ...(platform.architecture === 'arm' && platform.variant
      ? { GOARM: platform.variant.replace(/^v/, '') }
      : {}),
  };
  const args = [
    'build',
    '-trimpath',
    '-buildvcs=false',
    `-ldflags=-s -w -buildid=${opts.ldflags ? ` ${opts.ldflags}` : ''}`,
    '-o',
    out,
    opts.pkg ?? '.',
  ];
  try {
    await promisify(execFile)(opts.go ?? 'go', args, { cwd: moduleDir, env, maxBuffer: 16 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; code?: string | number; message: string };
    if (e.code === 'ENOENT') throw new GoBuildError('go is not installed (or not on PATH)');
    throw new GoBuildError(`go build in ${moduleDir} failed:\n${(e.stderr ?? e.message).trim()}`);
  }
  return out;
}

export interface GoServiceImageOptions extends GoBinaryOptions {
  /** Where the binary goes in the image (default "/app"). */
  target?: string;
  /** Default "65532:65532" (there is no /etc/passwd on scratch: numeric only). */
  user?: string;
  env?: Record<string, string>;
  exposedPorts?: number[];
  metadata?: ImageMetadata;
  labels?: Record<string, string>;
  /** mtime of the layer and the image's creation time (default SOURCE_DATE_EPOCH, else 0). */
  mtime?: number;
  cache?: BlobCache;
}

/** Builds the binary and its layer; returns buildImage options for an image on scratch. */
export async function goServiceImage(
  moduleDir: string,
  opts: GoServiceImageOptions = {},
): Promise<{ build: BuildImageOptions; layer: Layer }> {
  const work = mkdtempSync(join(tmpdir(), 'gantry-go-'));
  try {
    const bin = await buildGoBinary(moduleDir, work, opts);
    const target = opts.target ?? '/app';
    const layer = await buildLayer(
      {
        comment: 'static binary',
        files: [{ source: bin, target, mode: 0o755 }],
        ...(opts.mtime !== undefined ? { mtime: opts.mtime } : {}),
      },
      opts.cache ? { cache: opts.cache } : {},
    );
    const config: ImageConfig = {
      entrypoint: [target],
      user: opts.user ?? '65532:65532',
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.exposedPorts ? { exposedPorts: opts.exposedPorts } : {}),
      ...(opts.labels ? { labels: opts.labels } : {}),
    };
    return {
      build: {
        base: 'scratch',
        layers: [layer],
        config,
        ...(opts.metadata ? { metadata: opts.metadata } : {}),
        ...(opts.platform ? { platform: opts.platform } : {}),
        ...(opts.mtime !== undefined ? { created: opts.mtime } : {}),
      },
      layer,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
