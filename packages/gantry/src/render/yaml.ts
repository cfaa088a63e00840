import { stringify } from 'yaml';
import type { KubeObject } from './objects.js';

/** Multi-document YAML, one object per document, in the given order. */
export function toYaml(objects: readonly KubeObject[]): string {
  return objects
    .map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false }))
    .join('---\n');
}

/** A copy of the objects with Secret data replaced by a placeholder, for display. */
export function redactSecrets(objects: readonly KubeObject[]): KubeObject[] {
  return objects.map((o) => {
    if (o.kind !== 'Secret') return o;
    const data = (o.data ?? {}) as Record<string, string>;
    const redacted: Record<string, string> = {};
    for (const k of Object.keys(data)) redacted[k] = Buffer.from('<redacted>').toString('base64');
    return { ...o, data: redacted };
  });
}
