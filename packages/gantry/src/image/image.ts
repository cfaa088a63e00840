// OCI images: assembled from a base image (or scratch) and layers, with the
// base's config merged; pushed to a registry (base layers mounted within a
// registry, copied across registries), pulled back, or written out (layout.ts).
// The manifest is a pure function of the inputs, so the same inputs give the
// same digest.
import { BlobCache, sha256 } from './cache.js';
import { buildLayer, sourceDateEpoch } from './layer.js';
import type { BuildLayerOptions, Layer, LayerSpec } from './layer.js';
import { formatImageRef, parseImageRef, referenceOf } from './ref.js';
import type { ImageRef } from './ref.js';
import { MEDIA, RegistryClient, RegistryError } from './registry.js';
import type {
  Descriptor,
  ImageManifest,
  Platform,
  PushBlobResult,
  RegistryOptions,
} from './registry.js';

export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  /** Merged into the base image's environment (same key: replaced in place). */
  env?: Record<string, string>;
  workingDir?: string;
  /** "uid[:gid]" or a name the image's /etc/passwd knows. */
  user?: string;
  labels?: Record<string, string>;
  /** 8080 means "8080/tcp"; "53/udp" as is. Added to the base image's ports. */
  exposedPorts?: (number | string)[];
  volumes?: string[];
  stopSignal?: string;
}

/** Becomes org.opencontainers.image.* labels (and manifest annotations). */
export interface ImageMetadata {
  title?: string;
  description?: string;
  version?: string;
  revision?: string;
  source?: string;
  url?: string;
  licenses?: string;
  vendor?: string;
}

export interface History {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** The image configuration JSON (the "config" blob). */
export interface OciImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  config?: {
    User?: string;
    ExposedPorts?: Record<string, object>;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Volumes?: Record<string, object>;
    WorkingDir?: string;
    Labels?: Record<string, string>;
    StopSignal?: string;
    [other: string]: unknown;
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: History[];
}

/** Where a layer's bytes are: a local file, or a repository on a registry. */
export type BlobSource =
  { kind: 'file'; path: string } | { kind: 'registry'; registry: string; repository: string };

export interface ImageLayer extends Descriptor {
  diffId?: string;
  /** Its history line, for layers this build made. */
  comment?: string;
  source: BlobSource;
}

export interface Image {
  /** The manifest's digest: the image's identity. */
  digest: string;
  manifest: ImageManifest;
  manifestBytes: Buffer;
  config: OciImageConfig;
  configBytes: Buffer;
  layers: ImageLayer[];
  /** The base image, when there is one. */
  base?: { ref: string; digest: string };
}

/** Registry clients shared by a build and its push, so tokens are fetched once. */
export class RegistryClients {
  private readonly clients = new Map<string, RegistryClient>();
  constructor(
    private readonly options: RegistryOptions | ((registry: string) => RegistryOptions) = {},
  ) {}
  get(registry: string): RegistryClient {
    let c = this.clients.get(registry);
    if (!c) {
      const o = typeof this.options === 'function' ? this.options(registry) : this.options;
      c = new RegistryClient(registry, o);
      this.clients.set(registry, c);
    }
    return c;
  }
}

export interface BuildImageOptions {
  /** Base image reference, an image built earlier, or "scratch" / undefined for none. */
  base?: string | ImageRef | Image;
  /** Layer specs (built here, cached) or layers built already, bottom first. */
  layers: (LayerSpec | Layer)[];
  config?: ImageConfig;
  metadata?: ImageMetadata;
  /** Creation time: a Date, an ISO string or epoch seconds. Default SOURCE_DATE_EPOCH, else 0. */
  created?: Date | string | number;
  /** Platform to pick from a multi-platform base, and to record for scratch (default linux/amd64). */
  platform?: Platform;
  clients?: RegistryClients;
  cache?: BlobCache;
}

export class ImageError extends Error {
  override name = 'ImageError';
}

const LINUX_AMD64: Platform = { os: 'linux', architecture: 'amd64' };

function isImage(x: unknown): x is Image {
  return typeof x === 'object' && x !== null && 'manifestBytes' in x;
}

function isLayer(x: LayerSpec | Layer): x is Layer {
  return 'diffId' in x;
}

function baseRefOf(base: BuildImageOptions['base']): ImageRef | undefined {
  if (base === undefined || base === 'scratch' || isImage(base)) return undefined;
  return typeof base === 'string' ? parseImageRef(base) : base;
}

function createdIso(created: BuildImageOptions['created']): string {
  if (created === undefined) return new Date(sourceDateEpoch() * 1000).toISOString();
  if (typeof created === 'number') return new Date(created * 1000).toISOString();
  const d = created instanceof Date ? created : new Date(created);
  if (Number.isNaN(d.getTime()))
    throw new ImageError(`created: "${String(created)}" is not a date`);
  return d.toISOString();
}

const sorted = <T>(o: Record<string, T>): Record<string, T> =>
  Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** Docker media types of base layers become their OCI twins (the bytes are the same). */
function ociLayerType(mediaType: string): string {
  if (mediaType === MEDIA.dockerLayerGzip) return MEDIA.ociLayerGzip;
  return mediaType;
}

/** Reads an image's manifest and config from a registry; its layers stay there until needed. */
export async function pullImage(
  ref: string | ImageRef,
  opts: {
    platform?: Platform;
    clients?: RegistryClients;
    cache?: BlobCache;
    download?: boolean;
  } = {},
): Promise<Image> {
  const r = typeof ref === 'string' ? parseImageRef(ref) : ref;
  const clients = opts.clients ?? new RegistryClients();
  const client = clients.get(r.registry);
  const m = await client.getManifest(
    r.repository,
    referenceOf(r),
    opts.platform ? { platform: opts.platform } : {},
  );
  const configBytes = await client.getBlob(r.repository, m.manifest.config.digest);
  const config = JSON.parse(configBytes.toString('utf8')) as OciImageConfig;
  if (config.rootfs?.diff_ids?.length !== m.manifest.layers.length) {
    throw new ImageError(
      `${formatImageRef(r)}: the config lists ${config.rootfs?.diff_ids?.length ?? 0} layers, the manifest ${m.manifest.layers.length}`,
    );
  }
  const image: Image = {
    digest: m.digest,
    manifest: m.manifest,
    manifestBytes: m.bytes,
    config,
    configBytes,
    layers: m.manifest.layers.map((l, i) => ({
      mediaType: l.mediaType,
      digest: l.digest,
      size: l.size,
      diffId: config.rootfs.diff_ids[i]!,
      source: { kind: 'registry', registry: r.registry, repository: r.repository },
    })),
  };
  if (opts.download) {
    const cache = opts.cache ?? new BlobCache();
    image.layers = await Promise.all(
      image.layers.map(async (l) => ({
        ...l,
        source: { kind: 'file' as const, path: await localBlob(l, clients, cache) },
      })),
    );
  }
  return image;
}

/** A local file with the layer's bytes: its own file, or downloaded (verified) into the cache. */
export async function localBlob(
  layer: ImageLayer,
  clients: RegistryClients,
  cache: BlobCache,
): Promise<string> {
  if (layer.source.kind === 'file') return layer.source.path;
  const have = await cache.has(layer.digest, layer.size);
  if (have) return have;
  const dest = cache.blobPath(layer.digest);
  await clients
    .get(layer.source.registry)
    .downloadBlob(layer.source.repository, layer.digest, dest);
  return dest;
}

/** Assembles an image: base config merged with `config`, base layers then the new ones. */
export async function buildImage(opts: BuildImageOptions): Promise<Image> {
  const clients = opts.clients ?? new RegistryClients();
  const platform = opts.platform ?? LINUX_AMD64;
  const layerOpts: BuildLayerOptions = opts.cache ? { cache: opts.cache } : {};
  const pulling: Promise<Image | undefined> =
    opts.base === undefined || opts.base === 'scratch'
      ? Promise.resolve(undefined)
      : isImage(opts.base)
        ? Promise.resolve(opts.base)
        : pullImage(opts.base, { platform, clients });
  const building = Promise.all(
    opts.layers.map((l) => (isLayer(l) ? Promise.resolve(l) : buildLayer(l, layerOpts))),
  );
  const [base, layers] = await Promise.all([pulling, building]);
  const created = createdIso(opts.created);
  const c = opts.config ?? {};
  const bc = base?.config.config ?? {};

  const env = new Map<string, string>();
  for (const kv of bc.Env ?? []) {
    const i = kv.indexOf('=');
    env.set(i < 0 ? kv : kv.slice(0, i), i < 0 ? '' : kv.slice(i + 1));
  }
  for (const [k, v] of Object.entries(c.env ?? {})) env.set(k, v);
  const meta = opts.metadata ?? {};
  const metaLabels: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta) as [string, string | undefined][])
    if (v !== undefined) metaLabels[`org.opencontainers.image.${k}`] = v;
  metaLabels['org.opencontainers.image.created'] = created;
  const labels = sorted({ ...(bc.Labels ?? {}), ...metaLabels, ...(c.labels ?? {}) });
  const ports = new Set(Object.keys(bc.ExposedPorts ?? {}));
  for (const p of c.exposedPorts ?? [])
    ports.add(typeof p === 'number' ? `${p}/tcp` : p.includes('/') ? p : `${p}/tcp`);
  const volumes = new Set([...Object.keys(bc.Volumes ?? {}), ...(c.volumes ?? [])]);
  const entrypoint = c.entrypoint ?? bc.Entrypoint ?? undefined;
  // As in a Dockerfile: setting the entrypoint drops the base image's command.
  const cmd = c.cmd ?? (c.entrypoint ? undefined : (bc.Cmd ?? undefined));
  const workingDir = c.workingDir ?? bc.WorkingDir;
  const user = c.user ?? bc.User;
  const stopSignal = c.stopSignal ?? bc.StopSignal;

  const runConfig: NonNullable<OciImageConfig['config']> = { ...bc };
  for (const k of [
    'User',
    'ExposedPorts',
    'Env',
    'Entrypoint',
    'Cmd',
    'Volumes',
    'WorkingDir',
    'Labels',
    'StopSignal',
  ])
    delete runConfig[k];
  Object.assign(runConfig, {
    ...(user ? { User: user } : {}),
    ...(ports.size
      ? { ExposedPorts: Object.fromEntries([...ports].sort().map((p) => [p, {}])) }
      : {}),
    ...(env.size ? { Env: [...env].map(([k, v]) => `${k}=${v}`) } : {}),
    ...(entrypoint ? { Entrypoint: entrypoint } : {}),
    ...(cmd ? { Cmd: cmd } : {}),
    ...(volumes.size
      ? { Volumes: Object.fromEntries([...volumes].sort().map((v) => [v, {}])) }
      : {}),
    ...(workingDir ? { WorkingDir: workingDir } : {}),
    ...(Object.keys(labels).length ? { Labels: labels } : {}),
    ...(stopSignal ? { StopSignal: stopSignal } : {}),
  });

  const config: OciImageConfig = {
    created,
    architecture: base?.config.architecture ?? platform.architecture,
    os: base?.config.os ?? platform.os,
    ...((base?.config.variant ?? platform.variant)
      ? { variant: base?.config.variant ?? platform.variant }
      : {}),
    config: runConfig,
    rootfs: {
      type: 'layers',
      diff_ids: [...(base?.config.rootfs.diff_ids ?? []), ...layers.map((l) => l.diffId)],
    },
    history: [
      ...(base?.config.history ?? []),
      ...layers.map((l) => ({ created, created_by: `gantry: ${l.comment}` })),
    ],
  };
  const configBytes = Buffer.from(JSON.stringify(config));

  const imageLayers: ImageLayer[] = [
    ...(base?.layers ?? []).map((l) => ({ ...l, mediaType: ociLayerType(l.mediaType) })),
    ...layers.map((l) => ({
      mediaType: l.mediaType,
      digest: l.digest,
      size: l.size,
      diffId: l.diffId,
      comment: l.comment,
      source: { kind: 'file' as const, path: l.path },
    })),
  ];
  const annotations: Record<string, string> = { ...metaLabels };
  const baseRef = baseRefOf(opts.base);
  if (base && baseRef) {
    annotations['org.opencontainers.image.base.name'] = formatImageRef({
      registry: baseRef.registry,
      repository: baseRef.repository,
      ...(baseRef.tag ? { tag: baseRef.tag } : {}),
    });
    annotations['org.opencontainers.image.base.digest'] = base.digest;
  }
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, digest: sha256(configBytes), size: configBytes.length },
    layers: imageLayers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    annotations: sorted(annotations),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  return {
    digest: sha256(manifestBytes),
    manifest,
    manifestBytes,
    config,
    configBytes,
    layers: imageLayers,
    ...(base
      ? { base: { ref: baseRef ? formatImageRef(baseRef) : 'local image', digest: base.digest } }
      : {}),
  };
}

export interface PushedBlob {
  kind: 'layer' | 'config';
  digest: string;
  size: number;
  comment?: string;
  result: PushBlobResult;
}

export interface PushResult {
  /** registry/repository:tag */
  ref: string;
  /** registry/repository@digest: what a deploy should pin. */
  pinned: string;
  digest: string;
  blobs: PushedBlob[];
  /** Blob bytes sent by this push (mounted and existing blobs send none). */
  bytesUploaded: number;
  requests: number;
}

export interface PushOptions {
  clients?: RegistryClients;
  cache?: BlobCache;
  /** More tags for the same manifest. */
  tags?: string[];
  /** Blobs pushed at once (default 3). */
  concurrency?: number;
  onProgress?: (message: string) => void;
}

async function limited<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

const kib = (n: number) =>
  n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;

/**
 * Pushes an image: every blob the repository lacks (base layers mounted from
 * their repository on the same registry, else copied), the config, then the
 * manifest under the target's tag (and `tags`). Blobs already there are
 * skipped, so pushing again, or after a failure, sends only what is missing.
 */
export async function pushImage(
  image: Image,
  target: string | ImageRef,
  opts: PushOptions = {},
): Promise<PushResult> {
  const t = typeof target === 'string' ? parseImageRef(target) : target;
  if (t.digest && t.digest !== image.digest)
    throw new ImageError(
      `cannot push image ${image.digest} as ${formatImageRef(t)}: the digest differs`,
    );
  const clients = opts.clients ?? new RegistryClients();
  const cache = opts.cache ?? new BlobCache();
  const client = clients.get(t.registry);
  const progress = opts.onProgress ?? (() => undefined);
  const before = { ...client.stats };
  const blobs = await limited(
    image.layers,
    opts.concurrency ?? 3,
    async (l): Promise<PushedBlob> => {
      const mountFrom =
        l.source.kind === 'registry' &&
        l.source.registry === t.registry &&
        l.source.repository !== t.repository
          ? l.source.repository
          : undefined;
      const result = await client.pushBlob(
        t.repository,
        l,
        async () => ({ path: await localBlob(l, clients, cache) }),
        { what: 'layer', ...(mountFrom ? { mountFrom } : {}) },
      );
      progress(`layer ${shortName(l)} ${kib(l.size)}: ${result}`);
      return {
        kind: 'layer',
        digest: l.digest,
        size: l.size,
        ...(l.comment ? { comment: l.comment } : {}),
        result,
      };
    },
  );
  const cfg = image.manifest.config;
  const cfgResult = await client.pushBlob(
    t.repository,
    cfg,
    { data: image.configBytes },
    { what: 'config' },
  );
  blobs.push({ kind: 'config', digest: cfg.digest, size: cfg.size, result: cfgResult });
  const tags = [
    ...new Set([...(t.tag ? [t.tag] : t.digest ? [] : ['latest']), ...(opts.tags ?? [])]),
  ];
  for (const reference of tags.length ? tags : [image.digest]) {
    const d = await client.putManifest(
      t.repository,
      reference,
      image.manifestBytes,
      image.manifest.mediaType,
    );
    if (d !== image.digest)
      throw new RegistryError(`manifest digest mismatch ${d}`, {
        registry: t.registry,
        step: 'push',
      });
  }
  const ref = formatImageRef({
    registry: t.registry,
    repository: t.repository,
    ...(tags[0] ? { tag: tags[0] } : {}),
  });
  const pinned = formatImageRef({
    registry: t.registry,
    repository: t.repository,
    digest: image.digest,
  });
  progress(`pushed ${ref} (${pinned})`);
  return {
    ref,
    pinned,
    digest: image.digest,
    blobs,
    bytesUploaded: client.stats.bytesUploaded - before.bytesUploaded,
    requests: client.stats.requests - before.requests,
  };
}

function shortName(l: ImageLayer): string {
  return `${l.digest.slice(7, 19)}${l.comment ? ` (${l.comment})` : ''}`;
}
