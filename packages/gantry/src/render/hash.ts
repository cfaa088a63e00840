import { createHash } from 'node:crypto';

/** A stable hash of string maps: key order does not matter, content does. */
export function contentHash(...maps: Readonly<Record<string, string>>[]): string {
  const h = createHash('sha256');
  for (const m of maps) {
    for (const key of Object.keys(m).sort()) {
      h.update(key)
        .update('\0')
        .update(m[key] ?? '')
        .update('\0');
    }
    h.update('\u0001');
  }
  return h.digest('hex');
}
