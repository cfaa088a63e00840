// YAML output that every Kubernetes tool reads as Gantry meant it.
//
// The `yaml` package writes YAML 1.2 (core schema): it leaves plain any string
// that the core schema reads as a string. The tools that read Gantry's output
// do not all use that schema: kubectl, Helm, kubeconform and Prometheus parse
// with Go's yaml.v2 (YAML 1.1 rules, plus Go's number syntax), PyYAML with
// YAML 1.1. They read a plain `no`, `on`, `y`, `1_000`, `0777`, `1:20`,
// `2001-12-14` or `<<` as something other than the string. So every string
// scalar (value or key) that any of those readers would resolve to anything
// but itself is written double-quoted, and characters that YAML 1.1 reads as
// line breaks (NEL, LS, PS) or that Go's reader refuses raw (C1 controls, DEL,
// BOM, U+FFFE/U+FFFF) are written as escapes. Each document is then parsed
// back with the YAML 1.1 and the YAML 1.2 core schema and must give the input.
import { Document, Schema, parse, visit } from 'yaml';
import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from './objects.js';

/** Default-resolving scalar tags (other than str) of a schema: what a plain scalar may turn into. */
function implicitTests(schema: 'yaml-1.1' | 'core'): RegExp[] {
  const tests: RegExp[] = [];
  for (const tag of new Schema({ schema }).tags) {
    const test = (tag as { test?: RegExp }).test;
    if (tag.default && test) tests.push(test);
  }
  return tests;
}

const IMPLICIT = [...implicitTests('yaml-1.1'), ...implicitTests('core')];

/** Plain scalars Go's yaml.v2 (and PyYAML) resolve by name, compared case-insensitively. */
const KEYWORDS = new Set(
  [
    ...['y', 'n', 'yes', 'no', 'true', 'false', 'on', 'off'],
    ...['null', '~', '', '.nan', '.inf', '+.inf', '-.inf', '<<', '='],
  ].map((w) => w.toLowerCase()),
);

/**
 * Go's yaml.v2 resolver, for a plain scalar starting with a digit, sign or dot:
 * strconv.ParseInt/ParseUint with base prefixes (0b, 0o, 0x in either case, a
 * leading 0 for octal) after removing every `_`, then a decimal float; and
 * timestamps. Over-approximated: anything number-like is quoted.
 */
const GO_NUMBER =
  /^[-+]?(?:0[bBoOxX][0-9a-fA-F]+|(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$/;
const TIMESTAMP_PREFIX = /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}/;

/** Characters written as escapes (so in a double-quoted scalar): see the header. */
const ESCAPED = /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g;
const HAS_ESCAPED = new RegExp(ESCAPED.source);

/**
 * Whether a string must be quoted to be read back as the same string by YAML
 * 1.1 and 1.2 readers. Syntax (indicators, `: `, `#`, leading and trailing
 * spaces) is the `yaml` package's concern: it quotes those itself; this is
 * about what a well-formed plain scalar resolves to.
 */
export function needsQuotes(s: string): boolean {
  if (HAS_ESCAPED.test(s)) return true;
  if (s.includes('\n')) return false; // a block scalar (or quoted by the library): always a string
  if (KEYWORDS.has(s.toLowerCase())) return true;
  if (IMPLICIT.some((re) => re.test(s))) return true;
  if (/^[-+.0-9]/.test(s)) {
    if (GO_NUMBER.test(s.replaceAll('_', '')) || TIMESTAMP_PREFIX.test(s)) return true;
  }
  return s.includes('\t') || s !== s.trim();
}

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  if (code === 0x85) return '\\N';
  if (code === 0x2028) return '\\L';
  if (code === 0x2029) return '\\P';
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

function emit(value: unknown, quoteAll: boolean): string {
  const doc = new Document(value, { aliasDuplicateObjects: false });
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && (quoteAll || needsQuotes(node.value))) {
        node.type = 'QUOTE_DOUBLE';
      }
    },
  });
  // Only double-quoted scalars can hold ESCAPED characters here (needsQuotes
  // forced them), and inside those an escape is read as the character.
  return doc.toString({ lineWidth: 0 }).replace(ESCAPED, escapeChar);
}

/** A string as a double-quoted YAML scalar (JSON's escapes, plus those of ESCAPED). */
export function doubleQuoted(s: string): string {
  return JSON.stringify(s).replace(ESCAPED, escapeChar);
}

/** The value as JSON would carry it (undefined fields dropped): what a reader must get back. */
function normalise(value: unknown): unknown {
  const json = JSON.stringify(value);
  return json === undefined ? undefined : (JSON.parse(json) as unknown);
}

/** Whether YAML 1.1 and YAML 1.2 (core) readers both read `text` as `expected`. */
export function readsBackAs(text: string, expected: unknown): boolean {
  for (const opts of [{ version: '1.1' as const }, { schema: 'core' as const }]) {
    let got: unknown;
    try {
      got = parse(text, { ...opts, uniqueKeys: true });
    } catch {
      return false;
    }
    if (!isDeepStrictEqual(normalise(got), expected)) return false;
  }
  return true;
}

/**
 * One YAML document (no `---`) for a JSON-like value, read back identically by
 * YAML 1.1 and 1.2 readers (see the header). Throws if it cannot be written so.
 */
export function stringifyYaml(value: unknown): string {
  const expected = normalise(value);
  let text = emit(value, false);
  if (readsBackAs(text, expected)) return text;
  // A string the rules above missed: quote every string (always read as itself).
  text = emit(value, true);
  if (readsBackAs(text, expected)) return text;
  throw new Error('internal error: a value cannot be written as YAML that reads back the same');
}

/** Multi-document YAML, one object per document, in the given order. */
export function toYaml(objects: readonly KubeObject[]): string {
  return objects.map((o) => stringifyYaml(o)).join('---\n');
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
