// Resource limits on reading a spec, far above anything a real gantry.yaml needs (a few
// kB), so that a hostile or broken file ends in an "invalid spec" answer with a location,
// not in minutes of CPU, gigabytes of memory or an object no API server would take: a
// 1 MB value anchored once and aliased a hundred times is 100 MB of ConfigMap.
import { isAlias, isMap, isPair, isScalar, isSeq } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';

export const SPEC_LIMITS = {
  /** Bytes of spec text. */
  sourceBytes: 1024 * 1024,
  /**
   * Size of the document with every alias expanded, in characters of its JSON form (about):
   * what rendering would write out. Twice the source limit.
   */
  expandedSize: 2 * 1024 * 1024,
  /** Aliases (*name) in one document; the yaml package's maxAliasCount is set to the same. */
  aliases: 100,
  /** Levels of nesting (a spec needs about 6). */
  depth: 64,
  /**
   * Bytes of keys and values in `config`: the API server refuses a ConfigMap (or Secret)
   * whose data exceeds 1 MiB in total.
   */
  configBytes: 1024 * 1024,
} as const;

/**
 * Offset of the first "[" or "{" past `max` open ones, counting every bracket in the text
 * (quoted or not: no spec has hundreds of unclosed brackets in its strings), or undefined.
 * Checked before parsing: the parser would spend seconds and hundreds of MB on
 * 1 MiB of "[".
 */
export function deepBracketOffset(text: string, max = 512): number | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return i;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
  return undefined;
}

/** A limit the document passes, and the node where it does. */
export interface LimitProblem {
  /** Offset in the source of the node where the limit is passed. */
  offset: number | undefined;
  message: string;
}

/** "1.5 MiB", "900 kB"-style sizes for messages. */
export function formatSize(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1).replace(/\.0$/, '')} KiB`;
  return `${n} bytes`;
}

/**
 * Walks the document in order, expanding aliases by their measured size (never by
 * copying), and reports the first limit passed: alias count, an alias inside the node it
 * names, nesting depth, or the expanded size. Stops at the first problem.
 */
export function checkExpansion(doc: Document): LimitProblem | undefined {
  const sizes = new Map<YamlNode, number>();
  const open = new Set<YamlNode>();
  let total = 0;
  let aliases = 0;
  let problem: LimitProblem | undefined;

  const add = (n: number, node: YamlNode | undefined): void => {
    total += n;
    if (total > SPEC_LIMITS.expandedSize && !problem) {
      problem = {
        offset: node?.range?.[0],
        message:
          `the document grows past ${formatSize(SPEC_LIMITS.expandedSize)} here when its aliases are ` +
          'expanded; a spec needs far less (is an anchor used more often than intended?)',
      };
    }
  };

  const walk = (node: unknown, depth: number): void => {
    if (problem || node === null || node === undefined) return;
    if (depth > SPEC_LIMITS.depth) {
      problem = {
        offset: (node as YamlNode).range?.[0],
        message: `nested more than ${SPEC_LIMITS.depth} levels deep`,
      };
      return;
    }
    if (isAlias(node)) {
      if (++aliases > SPEC_LIMITS.aliases) {
        problem = {
          offset: node.range?.[0],
          message: `more than ${SPEC_LIMITS.aliases} aliases (*name) in one document`,
        };
        return;
      }
      const source = node.resolve(doc);
      if (source === undefined) {
        problem = {
          offset: node.range?.[0],
          message: `alias *${node.source} names no anchor (&${node.source}) set before it`,
        };
        return;
      }
      if (open.has(source)) {
        problem = {
          offset: node.range?.[0],
          message: `alias *${node.source} is inside the node it names (a cycle)`,
        };
        return;
      }
      const size = sizes.get(source);
      if (size === undefined) walk(source, depth + 1);
      else add(size, node);
      return;
    }
    const n = node as YamlNode;
    const before = total;
    open.add(n);
    if (isScalar(n)) {
      const v = n.value;
      add((typeof v === 'string' ? v.length : String(v).length) + 2, n);
    } else if (isMap(n)) {
      add(2, n);
      for (const pair of n.items) {
        if (!isPair(pair)) continue;
        add(2, n);
        walk(pair.key, depth + 1);
        walk(pair.value, depth + 1);
        if (problem) break;
      }
    } else if (isSeq(n)) {
      add(2, n);
      for (const item of n.items) {
        add(1, n);
        walk(item, depth + 1);
        if (problem) break;
      }
    }
    open.delete(n);
    sizes.set(n, total - before);
  };

  walk(doc.contents, 0);
  return problem;
}

/** UTF-8 bytes of a ConfigMap's or Secret's data: every key and value, as the API server counts them. */
export function dataBytes(data: Record<string, string>): number {
  let n = 0;
  for (const [k, v] of Object.entries(data)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

/** A problem with the size of `config` (the ConfigMap it becomes), or undefined. */
export function checkConfigSize(config: Record<string, string>): string | undefined {
  const bytes = dataBytes(config);
  if (bytes <= SPEC_LIMITS.configBytes) return undefined;
  return (
    `keys and values total ${bytes} bytes; a ConfigMap holds at most ${SPEC_LIMITS.configBytes} ` +
    `(${formatSize(SPEC_LIMITS.configBytes)}): ship larger files in the image or a volume`
  );
}
