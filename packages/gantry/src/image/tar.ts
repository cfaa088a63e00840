// A reproducible tar writer: POSIX ustar headers, with a PAX extended header
// only for what ustar cannot hold (paths that do not fit name/prefix, non-ASCII
// paths, sizes of 8 GiB and more, large ids). Entries are sorted by path bytes,
// every mtime is the one given, owners are numeric only (no user/group names),
// so the same entries always give the same bytes.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

export interface TarEntry {
  /** Path inside the archive: relative, "/"-separated, no trailing "/". */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits (0o7777 at most). */
  mode: number;
  uid?: number;
  gid?: number;
  /** File content given in memory. */
  data?: Buffer;
  /** File content read from this file while writing; `size` must be its size. */
  source?: string;
  size?: number;
  /** Symlink target. */
  linkTarget?: string;
}

export class TarError extends Error {
  override name = 'TarError';
}

const BLOCK = 512;
const MAX_OCTAL_11 = 0o77777777777; // size and mtime fields
const MAX_OCTAL_7 = 0o7777777; // uid and gid fields

const isAscii = (s: string) => /^[\x20-\x7e]*$/.test(s);

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** Splits a path into ustar prefix (<=155 bytes) and name (<=100 bytes), if it can be. */
function splitUstar(path: string): { prefix: string; name: string } | undefined {
  if (!isAscii(path)) return undefined;
  if (path.length <= 100) return { prefix: '', name: path };
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
    if (i > 155) break;
    if (path.length - i - 1 <= 100 && i > 0)
      return { prefix: path.slice(0, i), name: path.slice(i + 1) };
  }
  return undefined;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return `${len}${body}`;
}

interface HeaderFields {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
}

function header(f: HeaderFields): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(f.name, 0, 100, 'utf8');
  h.write(octal(f.mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(f.uid, 8), 108, 'ascii');
  h.write(octal(f.gid, 8), 116, 'ascii');
  h.write(octal(f.size, 12), 124, 'ascii');
  h.write(octal(f.mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(f.typeflag, 156, 'ascii');
  h.write(f.linkname, 157, 100, 'utf8');
  h.write('ustar\u000000', 257, 'latin1');
  // uname and gname stay empty: owners are numeric only.
  h.write(octal(0, 8), 329, 'ascii');
  h.write(octal(0, 8), 337, 'ascii');
  h.write(f.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

const padding = (n: number) => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);

/** A short ASCII name for a PAX header entry (readers ignore it; GNU tar shows it on failure). */
function paxHeaderName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1).replace(/[^\x20-\x7e]/g, '_');
  return `PaxHeaders/${base.slice(-80)}`;
}

/** The header blocks (PAX extended header first when needed) for one entry. */
export function entryHeader(e: TarEntry, size: number, mtime: number): Buffer {
  const uid = e.uid ?? 0;
  const gid = e.gid ?? 0;
  const path = e.type === 'dir' ? `${e.path}/` : e.path;
  const link = e.type === 'symlink' ? (e.linkTarget ?? '') : '';
  const pax: string[] = [];
  let split = splitUstar(path);
  if (!split) {
    pax.push(paxRecord('path', path));
    split = { prefix: '', name: path.replace(/[^\x20-\x7e]/g, '_').slice(-100) };
  }
  let linkname = link;
  if (Buffer.byteLength(link) > 100 || !isAscii(link)) {
    pax.push(paxRecord('linkpath', link));
    linkname = link.replace(/[^\x20-\x7e]/g, '_').slice(0, 100);
  }
  if (size > MAX_OCTAL_11) pax.push(paxRecord('size', String(size)));
  if (uid > MAX_OCTAL_7) pax.push(paxRecord('uid', String(uid)));
  if (gid > MAX_OCTAL_7) pax.push(paxRecord('gid', String(gid)));
  if (mtime > MAX_OCTAL_11) throw new TarError(`mtime ${mtime} is out of range`);
  const main = header({
    ...split,
    mode: e.mode,
    uid: Math.min(uid, MAX_OCTAL_7),
    gid: Math.min(gid, MAX_OCTAL_7),
    size: Math.min(size, MAX_OCTAL_11),
    mtime,
    typeflag: e.type === 'file' ? '0' : e.type === 'dir' ? '5' : '2',
    linkname,
  });
  if (pax.length === 0) return main;
  const body = Buffer.from(pax.join(''), 'utf8');
  const paxHeader = header({
    name: paxHeaderName(path),
    prefix: '',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime,
    typeflag: 'x',
    linkname: '',
  });
  return Buffer.concat([paxHeader, body, padding(body.length), main]);
}

/** Entries sorted by the bytes of their paths; duplicate paths are an error. */
export function sortEntries(entries: readonly TarEntry[]): TarEntry[] {
  const sorted = entries
    .map((e) => ({ e, key: Buffer.from(e.path, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.key, b.key));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.e.path === sorted[i - 1]!.e.path)
      throw new TarError(`duplicate path in archive: ${sorted[i]!.e.path}`);
  }
  return sorted.map((s) => s.e);
}

function check(e: TarEntry): void {
  if (e.path === '' || e.path.startsWith('/') || e.path.endsWith('/') || e.path.includes('\0'))
    throw new TarError(`bad archive path "${e.path}": relative, no trailing slash`);
  if (e.path.split('/').some((c) => c === '' || c === '.' || c === '..'))
    throw new TarError(`bad archive path "${e.path}": no empty, "." or ".." components`);
  if (e.type === 'file' && e.data === undefined && e.source !== undefined && e.size === undefined)
    throw new TarError(`${e.path}: a file read from disk needs its size`);
  if (e.type === 'symlink' && !e.linkTarget)
    throw new TarError(`${e.path}: symlink without target`);
}

const entrySize = (e: TarEntry) =>
  e.type !== 'file' ? 0 : e.data !== undefined ? e.data.length : (e.size ?? 0);

const SMALL_FILE = 4 << 20;
const BATCH = 1 << 20;

/** A file's bytes in chunks, checked against the size recorded when it was collected. */
function* readSource(path: string, size: number): Generator<Buffer> {
  const changed = (got: number) =>
    new TarError(`${path} changed while it was being archived (size ${size} -> ${got})`);
  if (size <= SMALL_FILE) {
    const data = readFileSync(path);
    if (data.length !== size) throw changed(data.length);
    yield data;
    return;
  }
  const fd = openSync(path, 'r');
  try {
    let off = 0;
    while (off < size) {
      const buf = Buffer.allocUnsafe(Math.min(BATCH, size - off));
      const n = readSync(fd, buf, 0, buf.length, off);
      if (n === 0) throw changed(off);
      off += n;
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
    if (readSync(fd, Buffer.alloc(1), 0, 1, off) !== 0) throw changed(off + 1);
  } finally {
    closeSync(fd);
  }
}

/**
 * The archive as a stream of chunks of about 1 MiB, reading file sources as it
 * goes (small files whole, large ones in 1 MiB pieces; synchronous reads are
 * many times faster than a stream per file for trees like node_modules). A
 * source whose size differs from the size recorded when it was collected
 * fails the stream: the layer would lie.
 */
export async function* tarStream(
  entries: readonly TarEntry[],
  mtime = 0,
): AsyncGenerator<Buffer, void, undefined> {
  let batch: Buffer[] = [];
  let batched = 0;
  const add = (b: Buffer): Buffer | undefined => {
    if (b.length === 0) return undefined;
    batch.push(b);
    batched += b.length;
    if (batched < BATCH) return undefined;
    const out = batch.length === 1 ? batch[0]! : Buffer.concat(batch);
    batch = [];
    batched = 0;
    return out;
  };
  for (const e of sortEntries(entries)) {
    check(e);
    const size = entrySize(e);
    const parts = (function* (): Generator<Buffer> {
      yield entryHeader(e, size, mtime);
      if (e.type !== 'file' || size === 0) return;
      if (e.data !== undefined) yield e.data;
      else yield* readSource(e.source!, size);
      yield padding(size);
    })();
    for (const p of parts) {
      const out = add(p);
      if (!out) continue;
      // Reads are synchronous: let other work (downloads, uploads) run between batches.
      await new Promise((r) => setImmediate(r));
      yield out;
    }
  }
  const out = add(Buffer.alloc(BLOCK * 2));
  if (out) yield out;
  if (batched) yield Buffer.concat(batch);
}

/** The whole archive in memory (for small archives and tests). */
export function writeTar(entries: readonly TarEntry[], mtime = 0): Buffer {
  const parts: Buffer[] = [];
  for (const e of sortEntries(entries)) {
    check(e);
    const data =
      e.type !== 'file'
        ? Buffer.alloc(0)
        : (e.data ?? (e.source !== undefined ? readFileSync(e.source) : Buffer.alloc(0)));
    parts.push(entryHeader(e, data.length, mtime), data, padding(data.length));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
