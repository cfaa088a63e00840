// Where a field of a spec is written: offsets into the YAML source for error locations,
// used by the loader's messages and by the checks that run on a loaded spec.
import { isMap, isScalar } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';

/** Offset of the value at `path`, or of its nearest ancestor written in the file. */
export function valueOffset(doc: Document, path: readonly PropertyKey[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = (n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true)) as
      YamlNode | null | undefined;
    if (node?.range) return node.range[0];
  }
  return undefined;
}

/**
 * Offset of the key `key` inside the mapping at `path`, or (when it is not written there)
 * of the mapping itself or its nearest ancestor.
 */
export function keyOffset(
  doc: Document,
  path: readonly PropertyKey[],
  key: PropertyKey,
): number | undefined {
  const map = path.length ? doc.getIn(path, true) : doc.contents;
  if (isMap(map)) {
    for (const pair of map.items) {
      if (isScalar(pair.key) && String(pair.key.value) === String(key)) {
        return pair.key.range?.[0];
      }
    }
  }
  return valueOffset(doc, path);
}
