// Image layers: files gathered from disk into a reproducible tar, gzipped
// deterministically, cached by content so unchanged layers cost no compression.
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join, posix } from 'node:path';
import { gzipSync } from 'node:zlib';
import { writeTar } from './tar.js';
import type { TarEntry } from './tar.js';

export interface Layer {
  /** sha256 of the gzipped blob. */
  digest: string;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  size: number;
  blob: Buffer;
  comment: string;
}

const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function cacheDir(): string {
  const dir = join(process.env.GANTRY_CACHE ?? join(homedir(), '.cache', 'gantry'), 'layers');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Builds a layer from entries; the gzip of an identical tar comes from the cache. */
export function makeLayer(
  entries: readonly TarEntry[],
  comment: string,
  mtime = sourceDateEpoch(),
): Layer {
  const tar = writeTar(withParents(entries), mtime);
  const diffId = `sha256:${hex(tar)}`;
  const cached = join(cacheDir(), `${diffId.slice(7)}.tar.gz`);
  let blob: Buffer;
  if (existsSync(cached)) blob = readFileSync(cached);
  else {
    blob = gzipSync(tar, { level: 6 });
    writeFileSync(cached, blob);
  }
  return { digest: `sha256:${hex(blob)}`, diffId, size: blob.length, blob, comment };
}

export function sourceDateEpoch(): number {
  const v = Number(process.env.SOURCE_DATE_EPOCH ?? 0);
  return Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0;
}

/** Every parent directory of every entry, so extraction never invents modes. */
function withParents(entries: readonly TarEntry[]): TarEntry[] {
  const out = new Map<string, TarEntry>();
  for (const e of entries) {
    let dir = posix.dirname(e.path);
    while (dir !== '.' && dir !== '/' && !out.has(dir)) {
      out.set(dir, { path: dir, type: 'dir', mode: 0o755 });
      dir = posix.dirname(dir);
    }
  }
  for (const e of entries) out.set(e.path, e);
  return [...out.values()];
}

export interface CollectOptions {
  /** Skip a path (relative to the source root, posix separators). */
  exclude?: (rel: string) => boolean;
  uid?: number;
  gid?: number;
}

/**
 * Entries for a directory tree mapped under `target` (no leading slash).
 * Modes keep only the executable bit's meaning (0755 or 0644), so the umask
 * of the build machine does not change digests.
 */
export function collectTree(source: string, target: string, opts: CollectOptions = {}): TarEntry[] {
  const out: TarEntry[] = [];
  const walk = (abs: string, rel: string) => {
    const st = lstatSync(abs);
    const path = rel ? posix.join(target, rel) : target;
    if (rel && opts.exclude?.(rel)) return;
    const owner = { uid: opts.uid ?? 0, gid: opts.gid ?? 0 };
    if (st.isSymbolicLink())
      out.push({ path, type: 'symlink', mode: 0o777, linkTarget: readlinkSync(abs), ...owner });
    else if (st.isDirectory()) {
      out.push({ path, type: 'dir', mode: 0o755, ...owner });
      for (const name of readdirSync(abs).sort())
        walk(join(abs, name), rel ? `${rel}/${name}` : name);
    } else if (st.isFile()) {
      out.push({
        path,
        type: 'file',
        mode: st.mode & 0o111 ? 0o755 : 0o644,
        data: readFileSync(abs),
        ...owner,
      });
    }
  };
  walk(source, '');
  return out;
}
