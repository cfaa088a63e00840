// gantry build for a spec: the image for its build kind (node: dependencies and
// code layers on the node base image; go: a static binary on scratch), tagged
// with the source version and labelled with it, then pushed, or written as an
// OCI layout directory or tar.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { ServiceSpec } from '../spec/index.js';
import type { SourceVersion } from '../version/index.js';
import type { BuiltImage } from '../ship/ship.js';
import { goServiceImage } from './go.js';
import { buildImage, pushImage, RegistryClients } from './image.js';
import type { BuildImageOptions, ImageMetadata } from './image.js';
import { sourceDateEpoch } from './layer.js';
import { writeOciLayout, writeOciTar } from './layout.js';
import { defaultNodeBaseImage, nodeServiceImage } from './node.js';
import { formatImageRef, parseImageRef } from './ref.js';

export interface ServiceBuildOptions {
  specDir: string;
  version: SourceVersion;
  /** Write an OCI layout directory (or, for a path ending in .tar, an OCI layout tar) instead of pushing. */
  output?: string;
  onProgress?: (message: string) => void;
}

/** A tag from a semver: "+" (build metadata) is not allowed in tags. */
export function tagFor(version: string): string {
  return version.replace(/\+/g, '-').slice(0, 128);
}

function git(dir: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', args, {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/** SOURCE_DATE_EPOCH when set, else the time of the last commit, else 0. */
export function buildEpoch(dir: string): number {
  if (process.env.SOURCE_DATE_EPOCH) return sourceDateEpoch();
  const t = Number(git(dir, ['log', '-1', '--format=%ct']));
  return Number.isSafeInteger(t) && t > 0 ? t : 0;
}

/** The origin remote as a URL without credentials, for org.opencontainers.image.source. */
function sourceUrl(dir: string): string | undefined {
  const url = git(dir, ['remote', 'get-url', 'origin']);
  if (!url) return undefined;
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return undefined; // scp-like (git@host:path) or a local path: not a URL to publish
  }
}

export async function buildServiceImage(
  spec: ServiceSpec,
  opts: ServiceBuildOptions,
): Promise<BuiltImage> {
  const build = spec.build;
  if (!build) throw new Error(`spec ${spec.name} has no build section`);
  const context = resolve(opts.specDir, build.context);
  const tag = tagFor(opts.version.version);
  const { registry, repository } = parseImageRef(spec.image);
  const target = { registry, repository, tag };
  const progress = opts.onProgress ?? (() => undefined);
  const epoch = buildEpoch(opts.specDir);
  const source = sourceUrl(opts.specDir);
  const metadata: ImageMetadata = {
    title: spec.name,
    version: opts.version.version,
    revision: opts.version.gitSha,
    ...(source ? { source } : {}),
  };
  const ports = spec.ports.map((p) => p.containerPort);
  const t0 = Date.now();
  let options: BuildImageOptions;
  if (build.kind === 'node') {
    const node = nodeServiceImage(context, {
      version: opts.version.version,
      gitSha: opts.version.gitSha,
      codeMtime: epoch,
      base: build.base ?? defaultNodeBaseImage(),
      user: '65532:65532',
      exposedPorts: ports,
      metadata,
      ...(build.entrypoint ? { entrypoint: build.entrypoint } : {}),
    });
    for (const w of node.layers.warnings) progress(`warning: ${w}`);
    options = node.build;
  } else {
    const go = await goServiceImage(context, {
      mtime: epoch,
      exposedPorts: ports,
      metadata,
      ...(build.entrypoint?.[0] ? { target: build.entrypoint[0] } : {}),
    });
    options = { ...go.build, ...(build.base ? { base: build.base } : {}) };
    if (build.entrypoint) options.config = { ...options.config, entrypoint: build.entrypoint };
  }
  const clients = new RegistryClients();
  const image = await buildImage({ ...options, clients });
  progress(
    `image ${image.digest.slice(7, 19)} in ${((Date.now() - t0) / 1000).toFixed(1)}s: ${image.layers
      .filter((l) => l.comment)
      .map((l) => `${l.comment} ${(l.size / 1048576).toFixed(1)} MiB`)
      .join(', ')}`,
  );
  const ref = formatImageRef(target);
  if (opts.output) {
    if (opts.output.endsWith('.tar'))
      await writeOciTar(image, opts.output, { refName: tag, clients, mtime: epoch });
    else await writeOciLayout(image, opts.output, { refName: tag, clients });
    progress(`wrote ${opts.output}`);
    return { ref, digest: image.digest, bytesPushed: 0 };
  }
  const pushed = await pushImage(image, target, { clients, onProgress: progress });
  return { ref: pushed.ref, digest: pushed.digest, bytesPushed: pushed.bytesUploaded };
}
