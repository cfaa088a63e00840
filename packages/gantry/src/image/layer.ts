// Image layers: files and directories from disk (or generated) mapped to paths
// in the image, written as a reproducible tar and gzipped deterministically.
// The compressed blob is cached by the tar's digest, so rebuilding an unchanged
// layer costs one read of its files and no compression.
import { createHash } from 'node:crypto';
import { createWriteStream, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { BlobCache, tempPath } from './cache.js';
import { tarStream } from './tar.js';
import type { TarEntry } from './tar.js';

export const LAYER_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** One thing to put in a layer. Exactly one of source, data, symlink or dir. */
export interface LayerFile {
  /** Path in the image, e.g. "/app/dist" (a leading "/" is optional). */
  target: string;
  /** A file, directory (copied recursively) or symlink on disk. */
  source?: string;
  /** Generated file content. */
  data?: string | Buffer;
  /** Make `target` a symlink to this. */
  symlink?: string;
  /** Make `target` an (empty) directory. */
  dir?: boolean;
  /**
   * Mode of files. Default: 0755 when the source file is executable by anyone,
   * else 0644, so the build machine's umask never changes a digest.
   */
  mode?: number;
  /** Mode of directories. Default 0755. */
  dirMode?: number;
  /** Owner (numeric only). Default 0:0. */
  uid?: number;
  gid?: number;
  /** For directory sources: skip a path, given relative to the source ("/"-separated). */
  exclude?: (rel: string) => boolean;
}

export interface LayerSpec {
  files: readonly LayerFile[];
  /** Shown in the image history ("created_by"). */
  comment: string;
  /** Modification time of every entry. Default: SOURCE_DATE_EPOCH, else 0. */
  mtime?: number;
}

export interface Layer {
  mediaType: string;
  /** sha256 of the compressed blob. */
  digest: string;
  /** Size of the compressed blob. */
  size: number;
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids entry). */
  diffId: string;
  uncompressedSize: number;
  /** The compressed blob on disk (in the blob cache). */
  path: string;
  comment: string;
  entries: number;
  /** True when the compressed blob came from the cache. */
  cached: boolean;
}

export class LayerError extends Error {
  override name = 'LayerError';
}

/** SOURCE_DATE_EPOCH as a number of seconds, or 0 when unset. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return 0;
  if (!/^\d+$/.test(raw))
    throw new LayerError(`SOURCE_DATE_EPOCH must be a whole number of seconds, got "${raw}"`);
  return Number(raw);
}

function normaliseTarget(target: string): string {
  const p = posix.normalize(`/${target}`).replace(/^\/+/, '').replace(/\/+$/, '');
  if (p === '' || p.split('/').includes('..'))
    throw new LayerError(`layer target "${target}" must name a path below /`);
  return p;
}

/**
 * The tar entries for a layer: every file mapped to its target, later files
 * replacing earlier ones at the same path, plus each missing parent directory
 * (0755, root). File contents are not read here, only their sizes.
 */
export function collectLayerEntries(files: readonly LayerFile[]): TarEntry[] {
  const out = new Map<string, TarEntry>();
  for (const f of files) {
    const target = normaliseTarget(f.target);
    const owner = { uid: f.uid ?? 0, gid: f.gid ?? 0 };
    const kinds = [f.source, f.data, f.symlink, f.dir || undefined].filter((x) => x !== undefined);
    if (kinds.length !== 1)
      throw new LayerError(
        `layer file ${f.target}: give exactly one of source, data, symlink, dir`,
      );
    if (f.data !== undefined) {
      const data = Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data, 'utf8');
      out.set(target, { path: target, type: 'file', mode: f.mode ?? 0o644, data, ...owner });
    } else if (f.symlink !== undefined) {
      out.set(target, {
        path: target,
        type: 'symlink',
        mode: 0o777,
        linkTarget: f.symlink,
        ...owner,
      });
    } else if (f.dir) {
      out.set(target, { path: target, type: 'dir', mode: f.dirMode ?? 0o755, ...owner });
    } else {
      // Returns false when a directory had entries and every one was excluded:
      // such a directory is dropped too, rather than left empty in the image.
      const walk = (abs: string, rel: string): boolean => {
        if (rel && f.exclude?.(rel)) return false;
        let st;
        try {
          st = lstatSync(abs);
        } catch (err) {
          throw new LayerError(
            `layer file ${f.target}: cannot read ${abs}: ${(err as Error).message}`,
          );
        }
        const path = rel ? `${target}/${rel}` : target;
        if (st.isSymbolicLink()) {
          out.set(path, {
            path,
            type: 'symlink',
            mode: 0o777,
            linkTarget: readlinkSync(abs),
            ...owner,
          });
        } else if (st.isDirectory()) {
          out.set(path, { path, type: 'dir', mode: f.dirMode ?? 0o755, ...owner });
          const names = readdirSync(abs).sort();
          let kept = names.length === 0;
          for (const name of names)
            kept = walk(join(abs, name), rel ? `${rel}/${name}` : name) || kept;
          if (!kept && rel) {
            out.delete(path);
            return false;
          }
        } else if (st.isFile()) {
          const mode = f.mode ?? (st.mode & 0o111 ? 0o755 : 0o644);
          out.set(path, { path, type: 'file', mode, source: abs, size: st.size, ...owner });
        } else {
          return false; // sockets, FIFOs and devices have no place in an image layer
        }
        return true;
      };
      walk(f.source!, '');
    }
  }
  for (const path of [...out.keys()]) {
    for (let d = posix.dirname(path); d !== '.' && !out.has(d); d = posix.dirname(d))
      out.set(d, { path: d, type: 'dir', mode: 0o755, uid: 0, gid: 0 });
  }
  return [...out.values()];
}

/** Identifies the compressor: a different zlib may compress differently. */
export const COMPRESSOR = `node-zlib-${process.versions.zlib}-gzip-6`;

function hashingPassThrough(onChunk: (b: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onChunk(chunk);
      cb(null, chunk);
    },
  });
}

export interface BuildLayerOptions {
  cache?: BlobCache;
}

/** Builds (or finds in the cache) the compressed layer for a list of tar entries. */
export async function layerFromEntries(
  entries: readonly TarEntry[],
  comment: string,
  mtime: number,
  opts: BuildLayerOptions = {},
): Promise<Layer> {
  const cache = opts.cache ?? new BlobCache();
  // Pass 1: the tar's digest, which keys the cache. No compression yet.
  const tarHash = createHash('sha256');
  let uncompressedSize = 0;
  for await (const chunk of tarStream(entries, mtime)) {
    tarHash.update(chunk);
    uncompressedSize += chunk.length;
  }
  const diffId = `sha256:${tarHash.digest('hex')}`;
  const base = {
    mediaType: LAYER_MEDIA_TYPE,
    diffId,
    uncompressedSize,
    comment,
    entries: entries.length,
  };
  const hit = await cache.lookupLayer(diffId, COMPRESSOR);
  if (hit)
    return {
      ...base,
      digest: hit.digest,
      size: hit.size,
      path: cache.blobPath(hit.digest),
      cached: true,
    };

  // Pass 2: tar -> gzip (fixed level; zlib writes no name and mtime 0) -> cache.
  const incoming = join(cache.dir, 'blobs', 'sha256');
  await mkdir(incoming, { recursive: true });
  const tmp = tempPath(join(incoming, 'layer'));
  const again = createHash('sha256');
  const gzHash = createHash('sha256');
  let size = 0;
  try {
    await pipeline(
      Readable.from(tarStream(entries, mtime)),
      hashingPassThrough((b) => again.update(b)),
      createGzip({ level: 6 }),
      hashingPassThrough((b) => {
        gzHash.update(b);
        size += b.length;
      }),
      createWriteStream(tmp),
    );
    if (`sha256:${again.digest('hex')}` !== diffId)
      throw new LayerError(
        `files of layer "${comment}" changed while it was being built; build again`,
      );
    const digest = `sha256:${gzHash.digest('hex')}`;
    const path = cache.blobPath(digest);
    await mkdir(dirname(path), { recursive: true });
    await rename(tmp, path);
    await cache.rememberLayer(diffId, { digest, size, compressor: COMPRESSOR });
    return { ...base, digest, size, path, cached: false };
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Builds a layer from its spec: collect, tar, gzip (or reuse the cached blob). */
export async function buildLayer(spec: LayerSpec, opts: BuildLayerOptions = {}): Promise<Layer> {
  return layerFromEntries(
    collectLayerEntries(spec.files),
    spec.comment,
    spec.mtime ?? sourceDateEpoch(),
    opts,
  );
}
