// Opaque pagination cursors: base64url of "v1:<lastId>:<check>". The check (a truncated hash)
// catches edited or truncated cursors, which are answered with 400 rather than a wrong page.
import { createHash } from 'node:crypto';
import { InvalidCursorError } from './errors.js';

const PREFIX = 'v1';

function check(id: number): string {
  return createHash('sha256').update(`${PREFIX}:${id}`).digest('base64url').slice(0, 8);
}

export function encodeCursor(lastId: number): string {
  return Buffer.from(`${PREFIX}:${lastId}:${check(lastId)}`, 'utf8').toString('base64url');
}

/** Returns the id after which the next page starts; throws InvalidCursorError. */
export function decodeCursor(cursor: string): number {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) throw new InvalidCursorError('not base64url');
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^v1:([1-9]\d{0,14}):([A-Za-z0-9_-]{8})$/.exec(text);
  if (m === null) throw new InvalidCursorError('unrecognised format');
  const id = Number(m[1]);
  if (m[2] !== check(id)) throw new InvalidCursorError('checksum mismatch');
  return id;
}
