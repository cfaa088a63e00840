// Assembling an OCI image (base + layers + config) and pushing it, or writing
// it as an OCI image layout. Same inputs give the same manifest digest.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Layer } from './layer.js';
import { sourceDateEpoch } from './layer.js';
import { formatImageRef } from './ref.js';
import type { ImageRef } from './ref.js';
import { MEDIA, RegistryClient, sha256 } from './registry.js';
import type { Descriptor, Manifest } from './registry.js';

export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  env?: Record<string, string>;
  workingDir?: string;
  user?: string;
  labels?: Record<string, string>;
  exposedPorts?: number[];
}

interface OciConfig {
  architecture: string;
  os: string;
  created?: string;
  config: {
    Entrypoint?: string[];
    Cmd?: string[];
    Env?: string[];
    WorkingDir?: string;
    User?: string;
    Labels?: Record<string, string>;
    ExposedPorts?: Record<string, object>;
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean }[];
}

export interface BuildResult {
  ref: string;
  digest: string;
  bytesPushed: number;
  layers: {
    digest: string;
    size: number;
    comment: string;
    pushed: 'exists' | 'mounted' | 'uploaded' | 'written';
  }[];
}

export interface BuildImageOptions {
  target: ImageRef;
  /** Base image, or undefined for an empty (scratch) base. */
  base?: ImageRef;
  layers: Layer[];
  config: ImageConfig;
  /** Write an OCI image layout directory here instead of pushing. */
  outputDir?: string;
  onProgress?: (message: string) => void;
}

export async function buildImage(opts: BuildImageOptions): Promise<BuildResult> {
  const progress = opts.onProgress ?? (() => undefined);
  const created = new Date(sourceDateEpoch() * 1000).toISOString();
  const targetClient = new RegistryClient(opts.target.registry);

  let baseConfig: OciConfig | undefined;
  let baseLayers: Descriptor[] = [];
  let baseClient: RegistryClient | undefined;
  if (opts.base) {
    baseClient =
      opts.base.registry === opts.target.registry
        ? targetClient
        : new RegistryClient(opts.base.registry);
    progress(`base ${formatImageRef(opts.base)}`);
    const { manifest } = await baseClient.getManifest(
      opts.base.repository,
      opts.base.digest ?? opts.base.tag ?? 'latest',
    );
    baseConfig = JSON.parse(
      (await baseClient.getBlob(opts.base.repository, manifest.config.digest)).toString('utf8'),
    ) as OciConfig;
    baseLayers = manifest.layers;
  }

  const env = new Map<string, string>();
  for (const kv of baseConfig?.config.Env ?? []) {
    const i = kv.indexOf('=');
    env.set(kv.slice(0, i), kv.slice(i + 1));
  }
  for (const [k, v] of Object.entries(opts.config.env ?? {})) env.set(k, v);
  const bc = baseConfig?.config ?? {};
  const entrypoint = opts.config.entrypoint ?? bc.Entrypoint;
  const cmd = opts.config.cmd ?? (opts.config.entrypoint ? undefined : bc.Cmd);
  const workingDir = opts.config.workingDir ?? bc.WorkingDir;
  const user = opts.config.user ?? bc.User;
  const config: OciConfig = {
    architecture: 'amd64',
    os: 'linux',
    created,
    config: {
      ...(entrypoint ? { Entrypoint: entrypoint } : {}),
      ...(cmd ? { Cmd: cmd } : {}),
      Env: [...env.entries()].map(([k, v]) => `${k}=${v}`),
      ...(workingDir ? { WorkingDir: workingDir } : {}),
      ...(user ? { User: user } : {}),
      Labels: { ...(bc.Labels ?? {}), ...(opts.config.labels ?? {}) },
      ...(opts.config.exposedPorts?.length
        ? {
            ExposedPorts: Object.fromEntries(opts.config.exposedPorts.map((p) => [`${p}/tcp`, {}])),
          }
        : {}),
    },
    rootfs: {
      type: 'layers',
      diff_ids: [...(baseConfig?.rootfs.diff_ids ?? []), ...opts.layers.map((l) => l.diffId)],
    },
    history: [
      ...(baseConfig?.history ?? []),
      ...opts.layers.map((l) => ({ created, created_by: 'gantry build', comment: l.comment })),
    ],
  };
  const configBlob = Buffer.from(JSON.stringify(config));
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, digest: sha256(configBlob), size: configBlob.length },
    layers: [
      ...baseLayers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      ...opts.layers.map((l) => ({
        mediaType: MEDIA.ociLayerGzip,
        digest: l.digest,
        size: l.size,
      })),
    ],
  };
  const manifestBlob = Buffer.from(JSON.stringify(manifest));
  const digest = sha256(manifestBlob);
  const tag = opts.target.tag ?? 'latest';
  const ref = formatImageRef({ ...opts.target, tag });

  if (opts.outputDir) {
    const blobs = join(opts.outputDir, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const write = (d: string, data: Buffer) => writeFileSync(join(blobs, d.slice(7)), data);
    for (const l of baseLayers)
      write(l.digest, await baseClient!.getBlob(opts.base!.repository, l.digest));
    for (const l of opts.layers) write(l.digest, l.blob);
    write(manifest.config.digest, configBlob);
    write(digest, manifestBlob);
    writeFileSync(
      join(opts.outputDir, 'oci-layout'),
      JSON.stringify({ imageLayoutVersion: '1.0.0' }),
    );
    writeFileSync(
      join(opts.outputDir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.ociIndex,
        manifests: [
          {
            mediaType: MEDIA.ociManifest,
            digest,
            size: manifestBlob.length,
            annotations: { 'org.opencontainers.image.ref.name': tag },
          },
        ],
      }),
    );
    return {
      ref,
      digest,
      bytesPushed: 0,
      layers: opts.layers.map((l) => ({
        digest: l.digest,
        size: l.size,
        comment: l.comment,
        pushed: 'written',
      })),
    };
  }

  const repo = opts.target.repository;
  // Base layers: mounted from the base repository on the same registry, else copied.
  await Promise.all(
    baseLayers.map(async (l) => {
      if (baseClient === targetClient) {
        await targetClient.pushBlob(
          repo,
          l.digest,
          () => targetClient.getBlob(opts.base!.repository, l.digest),
          opts.base!.repository,
        );
      } else {
        await targetClient.pushBlob(repo, l.digest, () =>
          baseClient!.getBlob(opts.base!.repository, l.digest),
        );
      }
    }),
  );
  const layers: BuildResult['layers'] = [];
  for (const l of opts.layers) {
    const how = await targetClient.pushBlob(repo, l.digest, () => l.blob);
    progress(
      `layer ${l.comment}: ${l.digest.slice(7, 19)} ${(l.size / 1024).toFixed(0)} KiB ${how}`,
    );
    layers.push({ digest: l.digest, size: l.size, comment: l.comment, pushed: how });
  }
  await targetClient.pushBlob(repo, manifest.config.digest, () => configBlob);
  await targetClient.putManifest(repo, tag, manifestBlob, MEDIA.ociManifest);
  progress(`pushed ${ref}@${digest}`);
  return { ref, digest, bytesPushed: targetClient.bytesPushed, layers };
}
