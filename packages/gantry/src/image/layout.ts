// Writing an image as an OCI image layout: a directory (oci-layout, index.json,
// blobs/sha256/…), or the same tree in one reproducible tar file.
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobCache, splitDigest, tempPath, writeFileAtomic } from './cache.js';
import { localBlob, RegistryClients } from './image.js';
import type { Image } from './image.js';
import { MEDIA } from './registry.js';
import type { Descriptor } from './registry.js';
import { tarStream } from './tar.js';
import type { TarEntry } from './tar.js';

export interface LayoutOptions {
  /** The org.opencontainers.image.ref.name annotation in index.json (a tag, e.g. "1.2.0"). */
  refName?: string;
  clients?: RegistryClients;
  cache?: BlobCache;
}

const OCI_LAYOUT = Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }));

function indexEntry(image: Image, refName?: string): Descriptor {
  return {
    mediaType: image.manifest.mediaType,
    digest: image.digest,
    size: image.manifestBytes.length,
    ...(refName ? { annotations: { 'org.opencontainers.image.ref.name': refName } } : {}),
  };
}

const indexJson = (manifests: Descriptor[]) =>
  Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests }, null, 2) + '\n',
  );

/** Every blob of the image as a local file (remote base layers are downloaded, verified, into the cache). */
async function blobFiles(image: Image, opts: LayoutOptions): Promise<Map<string, string | Buffer>> {
  const clients = opts.clients ?? new RegistryClients();
  const cache = opts.cache ?? new BlobCache();
  const out = new Map<string, string | Buffer>();
  for (const l of image.layers) out.set(l.digest, await localBlob(l, clients, cache));
  out.set(image.manifest.config.digest, image.configBytes);
  out.set(image.digest, image.manifestBytes);
  return out;
}

/**
 * Writes (or adds to) an OCI image layout directory. An existing index.json
 * keeps its other images; one with the same ref name is replaced.
 */
export async function writeOciLayout(
  image: Image,
  dir: string,
  opts: LayoutOptions = {},
): Promise<void> {
  const blobs = await blobFiles(image, opts);
  for (const [digest, content] of blobs) {
    const [alg, hex] = splitDigest(digest);
    const dest = join(dir, 'blobs', alg, hex);
    await mkdir(join(dir, 'blobs', alg), { recursive: true });
    const size = typeof content === 'string' ? (await stat(content)).size : content.length;
    if ((await stat(dest).catch(() => undefined))?.size === size) continue;
    if (typeof content === 'string') {
      const tmp = tempPath(dest);
      await copyFile(content, tmp);
      await rename(tmp, dest);
    } else {
      await writeFileAtomic(dest, content);
    }
  }
  await writeFile(join(dir, 'oci-layout'), OCI_LAYOUT);
  let manifests: Descriptor[] = [];
  try {
    const existing = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
      manifests?: Descriptor[];
    };
    manifests = existing.manifests ?? [];
  } catch {
    // a new layout
  }
  const ref = (d: Descriptor) => d.annotations?.['org.opencontainers.image.ref.name'];
  manifests = manifests.filter((d) =>
    opts.refName ? ref(d) !== opts.refName : !(d.digest === image.digest && ref(d) === undefined),
  );
  manifests.push(indexEntry(image, opts.refName));
  await writeFileAtomic(join(dir, 'index.json'), indexJson(manifests));
}

/**
 * Writes the image as an OCI image layout inside one uncompressed tar file
 * (sorted entries, fixed times: the same image gives the same file).
 * Load it with e.g. `skopeo copy oci-archive:FILE …` or `ctr image import`.
 */
export async function writeOciTar(
  image: Image,
  path: string,
  opts: LayoutOptions & { mtime?: number } = {},
): Promise<void> {
  const blobs = await blobFiles(image, opts);
  const entries: TarEntry[] = [
    { path: 'oci-layout', type: 'file', mode: 0o644, data: OCI_LAYOUT },
    {
      path: 'index.json',
      type: 'file',
      mode: 0o644,
      data: indexJson([indexEntry(image, opts.refName)]),
    },
    { path: 'blobs', type: 'dir', mode: 0o755 },
  ];
  const dirs = new Set<string>();
  for (const [digest, content] of blobs) {
    const [alg, hex] = splitDigest(digest);
    if (!dirs.has(alg)) entries.push({ path: `blobs/${alg}`, type: 'dir', mode: 0o755 });
    dirs.add(alg);
    entries.push(
      typeof content === 'string'
        ? {
            path: `blobs/${alg}/${hex}`,
            type: 'file',
            mode: 0o644,
            source: content,
            size: (await stat(content)).size,
          }
        : { path: `blobs/${alg}/${hex}`, type: 'file', mode: 0o644, data: content },
    );
  }
  const tmp = tempPath(path);
  try {
    await pipeline(Readable.from(tarStream(entries, opts.mtime ?? 0)), createWriteStream(tmp));
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
