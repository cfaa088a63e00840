// A reproducible tar writer (POSIX ustar, PAX headers for long names): entries
// sorted, times fixed, owners numeric only. Same inputs, same bytes.

export interface TarEntry {
  /** Path inside the archive, without a leading slash. Directories end without "/". */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  uid?: number;
  gid?: number;
  data?: Buffer;
  linkTarget?: string;
}

const BLOCK = 512;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(
  name: string,
  e: TarEntry,
  size: number,
  mtime: number,
  typeflag: string,
  link = '',
): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(e.mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(e.uid ?? 0, 8), 108, 'ascii');
  h.write(octal(e.gid ?? 0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(typeflag, 156, 'ascii');
  h.write(link, 157, 100, 'utf8');
  h.write('ustar\u000000', 257, 'binary');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

function pad(n: number): Buffer {
  const r = n % BLOCK;
  return Buffer.alloc(r === 0 ? 0 : BLOCK - r);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len)
    len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** The archive bytes for the entries, sorted by path, every mtime set to `mtime`. */
export function writeTar(entries: readonly TarEntry[], mtime = 0): Buffer {
  const parts: Buffer[] = [];
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const e of sorted) {
    const name = e.type === 'dir' ? `${e.path}/` : e.path;
    const data = e.type === 'file' ? (e.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const link = e.linkTarget ?? '';
    const long = Buffer.byteLength(name) > 100 || Buffer.byteLength(link) > 100;
    if (long) {
      const pax = Buffer.from(
        (Buffer.byteLength(name) > 100 ? paxRecord('path', name) : '') +
          (Buffer.byteLength(link) > 100 ? paxRecord('linkpath', link) : ''),
      );
      parts.push(
        header(`PaxHeaders/${name.slice(-80)}`, { ...e, mode: 0o644 }, pax.length, mtime, 'x'),
        pax,
        pad(pax.length),
      );
    }
    const flag = e.type === 'file' ? '0' : e.type === 'dir' ? '5' : '2';
    parts.push(header(name.slice(0, 100), e, data.length, mtime, flag, link.slice(0, 100)));
    if (data.length) parts.push(data, pad(data.length));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
