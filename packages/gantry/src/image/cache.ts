// The on-disk blob cache: compressed layers and pulled blobs stored by digest
// ($GANTRY_CACHE, else $XDG_CACHE_HOME/gantry, else ~/.cache/gantry), plus an
// index from a layer's diff_id (sha256 of its tar) to its compressed blob, so
// a layer whose tar is unchanged is never compressed again.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export function defaultCacheDir(): string {
  if (process.env.GANTRY_CACHE) return process.env.GANTRY_CACHE;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'gantry');
}

/** "sha256:abc…" -> [algorithm, hex]; throws on anything else. */
export function splitDigest(digest: string): [string, string] {
  const m = /^(sha256|sha512):([a-f0-9]+)$/.exec(digest);
  if (!m || m[2]!.length !== (m[1] === 'sha256' ? 64 : 128))
    throw new Error(`unsupported or malformed digest "${digest}"`);
  return [m[1]!, m[2]!];
}

export const sha256 = (data: Buffer | string): string =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** The digest of a file, with its size. */
export async function digestFile(
  path: string,
  algorithm = 'sha256',
): Promise<{ digest: string; size: number }> {
  const h = createHash(algorithm);
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `${algorithm}:${h.digest('hex')}`, size };
}

/** A temporary name next to `path`, for write-then-rename. */
export const tempPath = (path: string) =>
  `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;

/** Writes a file atomically (readers see the old file or the whole new one). */
export async function writeFileAtomic(path: string, data: Buffer | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPath(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export interface CachedLayer {
  digest: string;
  size: number;
  /** Which compressor made the blob; another one means compressing again. */
  compressor: string;
}

export class BlobCache {
  constructor(readonly dir = defaultCacheDir()) {}

  /** Where a blob with this digest lives (whether or not it is there yet). */
  blobPath(digest: string): string {
    const [alg, hex] = splitDigest(digest);
    return join(this.dir, 'blobs', alg, hex);
  }

  /** The path of the blob if the cache has it with the expected size. */
  async has(digest: string, size?: number): Promise<string | undefined> {
    const path = this.blobPath(digest);
    try {
      const st = await stat(path);
      return size === undefined || st.size === size ? path : undefined;
    } catch {
      return undefined;
    }
  }

  private layerIndexPath(diffId: string): string {
    const [alg, hex] = splitDigest(diffId);
    return join(this.dir, 'layers', alg, `${hex}.json`);
  }

  /** The compressed blob for an uncompressed layer, verified against its digest. */
  async lookupLayer(diffId: string, compressor: string): Promise<CachedLayer | undefined> {
    let entry: CachedLayer;
    try {
      entry = JSON.parse(await readFile(this.layerIndexPath(diffId), 'utf8')) as CachedLayer;
    } catch {
      return undefined;
    }
    if (entry.compressor !== compressor) return undefined;
    const path = await this.has(entry.digest, entry.size);
    if (!path) return undefined;
    // A damaged cache must not produce a layer that lies about its digest.
    const actual = await digestFile(path);
    if (actual.digest !== entry.digest) {
      await rm(path, { force: true });
      return undefined;
    }
    return entry;
  }

  async rememberLayer(diffId: string, entry: CachedLayer): Promise<void> {
    await writeFileAtomic(this.layerIndexPath(diffId), JSON.stringify(entry) + '\n');
  }
}
