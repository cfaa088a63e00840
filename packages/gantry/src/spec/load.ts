// Reading gantry.yaml: YAML with source positions -> schema validation ->
// a typed spec, or a SpecError naming file, line, column and field.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, visit } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { SpecError, closest, excerpt, fieldPath, quote } from './errors.js';
import type { SpecProblem } from './errors.js';
import {
  SPEC_LIMITS,
  checkConfigSize,
  checkExpansion,
  deepBracketOffset,
  formatSize,
} from './limits.js';
import { keyOffset, valueOffset } from './positions.js';
import { checkReferences } from './refs.js';
import { serviceSpecSchema } from './schema.js';
import { k8sRuleProblems } from '../validate/k8s-rules.js';
import { locateProblems, rememberSpecSource } from '../validate/spec-source.js';
import type { ServiceSpec } from './schema.js';

/** Problems listed for one spec at most; the rest are counted. */
const MAX_PROBLEMS = 50;

/** Loads and validates a spec file. Throws SpecError on any problem. */
export function loadSpecFile(file: string): ServiceSpec {
  let text: string;
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw problem(file, 0, 'is a directory, not a spec file');
    if (st.isFile() && st.size > SPEC_LIMITS.sourceBytes) throw problem(file, 0, tooBig(st.size));
    text = readBounded(file);
  } catch (err) {
    if (err instanceof SpecError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? String(err)})`;
    throw problem(file, 0, reason);
  }
  return parseSpec(text, file);
}

/** The file's text; a SpecError past the size limit (a pipe or device has no size to stat). */
function readBounded(file: string): string {
  const max = SPEC_LIMITS.sourceBytes;
  const buf = Buffer.alloc(max + 1);
  const fd = openSync(file, 'r');
  try {
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > max)
        throw problem(
          file,
          0,
          `the spec is over ${max} bytes (${formatSize(max)}), the most a spec may be`,
        );
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function problem(file: string, line: number, message: string): SpecError {
  return new SpecError([{ file, line, column: line ? 1 : 0, field: '', message }]);
}

function tooBig(bytes: number): string {
  const max = SPEC_LIMITS.sourceBytes;
  return `the spec is ${bytes} bytes; a spec may be at most ${max} bytes (${formatSize(max)})`;
}

/** Parses and validates spec text; `file` is only used in messages. */
export function parseSpec(text: string, file = 'gantry.yaml'): ServiceSpec {
  // Checked before parsing: the parser's time and memory grow with the text.
  if (text.length > SPEC_LIMITS.sourceBytes || Buffer.byteLength(text) > SPEC_LIMITS.sourceBytes) {
    throw problem(file, 1, tooBig(Buffer.byteLength(text)));
  }
  const lines = new LineCounter();
  const at = (offset: number | undefined): { line: number; column: number } => {
    if (offset === undefined) return { line: 1, column: 1 };
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const deep = deepBracketOffset(text);
  if (deep !== undefined) {
    // Before parsing, so the line counter has not seen the text yet.
    const before = text.slice(0, deep);
    const line = before.split('\n').length;
    const column = deep - before.lastIndexOf('\n');
    throw new SpecError([
      {
        file,
        line,
        column,
        field: '',
        message: `YAML: ${yamlMessage('Maximum call stack size exceeded')}`,
      },
    ]);
  }
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    // The parser reports what it finds as doc.errors; a throw is its own failure.
    throw problem(file, 1, `YAML: cannot parse the document (${excerpt(String(err), 120)})`);
  }

  if (doc.errors.length > 0) {
    throw specError(
      doc.errors.map((e) => ({
        file,
        ...at(e.pos[0]),
        field: '',
        message: `YAML: ${yamlMessage(e.message)}`,
      })),
    );
  }

  const limit = checkExpansion(doc);
  if (limit) {
    throw new SpecError([
      {
        file,
        ...at(limit.offset),
        field: fieldPath(pathAt(doc, limit.offset)),
        message: `YAML: ${limit.message}`,
      },
    ]);
  }
  // A mapping, list or binary value as a key has no JSON form (the yaml package would print
  // a warning and stringify it).
  let badKey: YamlNode | undefined;
  visit(doc, {
    Pair(_, pair) {
      const key = isAlias(pair.key) ? pair.key.resolve(doc) : pair.key;
      const binary = isScalar(key) && typeof key.value === 'object' && key.value !== null;
      if (isMap(key) || isSeq(key) || binary) {
        badKey = pair.key as YamlNode;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  if (badKey) {
    const offset = badKey.range?.[0];
    throw new SpecError([
      {
        file,
        ...at(offset),
        field: fieldPath(pathAt(doc, offset)),
        message:
          'YAML: a key must be a plain value such as a name, not a mapping, a list or binary data',
      },
    ]);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: SPEC_LIMITS.aliases });
  } catch (err) {
    // Aliases past the yaml package's own count (checkExpansion passed): point at the first.
    let first: number | undefined;
    visit(doc, {
      Alias(_, node) {
        first = node.range?.[0];
        return visit.BREAK;
      },
    });
    throw new SpecError([
      {
        file,
        ...at(first),
        field: fieldPath(pathAt(doc, first)),
        message: `YAML: ${excerpt(err instanceof Error ? err.message : String(err), 200)}`,
      },
    ]);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new SpecError([
      {
        file,
        line: 1,
        column: 1,
        field: '',
        message: 'the spec must be a YAML mapping (key: value)',
      },
    ]);
  }

  const result = serviceSpecSchema.safeParse(data);
  if (result.success) {
    const spec = result.data;
    const problems: SpecProblem[] = checkReferences(spec).map((p) => ({
      file,
      ...at(valueOffset(doc, p.path)),
      field: fieldPath(p.path),
      message: p.message,
    }));
    const configProblem = checkConfigSize(spec.config);
    if (configProblem) {
      problems.push({
        file,
        ...at(keyOffset(doc, [], 'config')),
        field: 'config',
        message: configProblem,
      });
    }
    const located = rememberSpecSource(spec, { file, doc, lines });
    // The API server's own rules in the same pass, so one run lists every problem (and
    // every command that loads a spec refuses what the cluster would refuse).
    problems.push(...locateProblems(located, k8sRuleProblems(located), file));
    if (problems.length === 0) return located;
    problems.sort((a, b) => a.line - b.line || a.column - b.column);
    throw specError(problems);
  }

  const problems: SpecProblem[] = [];
  const seen = new Set<string>();
  const issues = result.error.issues;
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(issue.path);
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        const hint = closest(key, known);
        if (isSecretSource(issue.path) && key === 'value') {
          problems.push({
            file,
            ...at(keyOffset(doc, issue.path, key)),
            field: fieldPath(path),
            message: 'secret values must not be written in the spec; use fromFile or fromEnv',
          });
          continue;
        }
        problems.push({
          file,
          ...at(keyOffset(doc, issue.path, key)),
          field: fieldPath(path),
          message:
            `unknown field` +
            (hint
              ? ` (did you mean "${hint}"?)`
              : known.length
                ? `; known fields: ${known.join(', ')}`
                : ''),
        });
      }
      continue;
    }
    // One problem per field: the first zod finds. The safe-integer range check zod adds
    // to every integer gives way to the field's own range.
    const where = JSON.stringify(issue.path);
    if (seen.has(where)) continue;
    if (
      isSafeIntRange(issue) &&
      issues.some((o) => o !== issue && JSON.stringify(o.path) === where)
    ) {
      continue;
    }
    seen.add(where);
    const key = issue.code === 'invalid_key' ? issue.path.at(-1) : undefined;
    problems.push({
      file,
      ...at(
        typeof key === 'string'
          ? keyOffset(doc, issue.path.slice(0, -1), key)
          : valueOffset(doc, issue.path),
      ),
      field: fieldPath(issue.path),
      message: describeIssue(issue, doc),
    });
  }
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  throw specError(problems);
}

/** A SpecError listing at most MAX_PROBLEMS problems and counting the rest. */
function specError(problems: SpecProblem[]): SpecError {
  if (problems.length <= MAX_PROBLEMS) return new SpecError(problems);
  return new SpecError(problems.slice(0, MAX_PROBLEMS), problems.length - MAX_PROBLEMS);
}

/** A yaml package message, on one line, without the position it also gives. */
function yamlMessage(message: string): string {
  const first = (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
  if (first.startsWith('Source contains multiple documents')) {
    return 'a spec is one YAML document, and this file holds more (a second --- starts one)';
  }
  if (/Maximum call stack size exceeded/.test(first)) {
    return 'nested too deeply to read (a spec needs a few levels)';
  }
  return excerpt(first, 200);
}

/** The path of the innermost node of the document around `offset`. */
function pathAt(doc: Document, offset: number | undefined): (string | number)[] {
  const path: (string | number)[] = [];
  if (offset === undefined) return path;
  const inside = (n: unknown): boolean => {
    const r = (n as YamlNode | null)?.range;
    return !!r && r[0] <= offset && offset < Math.max(r[1], r[0] + 1);
  };
  let node: unknown = doc.contents;
  for (let depth = 0; depth <= SPEC_LIMITS.depth && node; depth++) {
    let next: unknown;
    if (isMap(node)) {
      for (const pair of node.items) {
        const key: unknown = pair.key;
        if (inside(key)) {
          // At the key itself: its path when it is a name, its mapping's otherwise.
          if (isScalar(key)) path.push(String(key.value));
          break;
        }
        if (inside(pair.value)) {
          path.push(isScalar(key) ? String(key.value) : '?');
          next = pair.value;
          break;
        }
      }
    } else if (isSeq(node)) {
      const i = node.items.findIndex(inside);
      if (i >= 0) {
        path.push(i);
        next = node.items[i];
      }
    }
    node = next;
  }
  return path;
}

/** Credential fields of monitoring.receivers (SMTP password, robot URLs, keys, access keys). */
const RECEIVER_CREDENTIALS = new Set([
  'authPassword',
  'url',
  'key',
  'secret',
  'accessKeyId',
  'accessKeySecret',
]);

/**
 * Where a { fromEnv | fromFile } source belongs, so what is written there may be a secret
 * value: under secrets, a release webhook's url (a robot token) or signing secret, and the
 * credentials of alert receivers.
 */
function isSecretSource(path: readonly PropertyKey[]): boolean {
  return (
    path[0] === 'secrets' ||
    (path[0] === 'release' &&
      path[1] === 'notify' &&
      (path[3] === 'url' || path[3] === 'secret')) ||
    (path[0] === 'monitoring' &&
      path[1] === 'receivers' &&
      RECEIVER_CREDENTIALS.has(String(path[3])))
  );
}

/** zod's check that an integer is a safe one (|n| < 2^53), which every .int() carries. */
function isSafeIntRange(issue: z.core.$ZodIssue): boolean {
  return (
    (issue.code === 'too_big' || issue.code === 'too_small') &&
    issue.origin === 'int' &&
    Math.abs(Number(issue.code === 'too_big' ? issue.maximum : issue.minimum)) ===
      Number.MAX_SAFE_INTEGER
  );
}

function describeIssue(issue: z.core.$ZodIssue, doc: Document): string {
  const node = nodeAt(doc, issue.path);
  // Never echo what was written where a secret source belongs: it may be a secret value.
  const got = () => describeNode(node, isSecretSource(issue.path));
  if (
    isSecretSource(issue.path) &&
    isScalar(node) &&
    (issue.code === 'invalid_type' || issue.code === 'invalid_union')
  ) {
    return `expected { fromEnv: VAR } or { fromFile: path } (secret values never live in the spec), got ${got()}`;
  }
  switch (issue.code) {
    case 'invalid_type': {
      const want = expectedName(issue.expected, schemaAt(issue.path));
      if (node === undefined) return `required field is missing (expected ${want})`;
      return `expected ${want}, got ${got()}`;
    }
    case 'invalid_value': {
      if (node === undefined) {
        return `required field is missing (expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')})`;
      }
      if (issue.values.length === 1 && !issue.message.startsWith('Invalid input')) {
        return `${issue.message}, got ${got()}`;
      }
      return `must be one of: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}; got ${got()}`;
    }
    case 'invalid_union': {
      const options = unionOptions(schemaAt(issue.path));
      const wants = options.length
        ? [...new Set(options.map((o) => expectedName(undefined, o)))]
        : [];
      return wants.length
        ? `expected ${wants.join(' or ')}, got ${got()}`
        : `has an unexpected type or format (got ${got()})`;
    }
    case 'too_big':
    case 'too_small': {
      const big = issue.code === 'too_big';
      const bound = Number(big ? issue.maximum : issue.minimum);
      const inclusive = issue.inclusive !== false;
      if (issue.origin === 'string') {
        if (!big && bound === 1) return 'must not be empty';
        const len = isScalar(node) ? String(node.value).length : undefined;
        return (
          `must be at ${big ? 'most' : 'least'} ${bound} characters long` +
          (len !== undefined ? `, got ${len}` : '')
        );
      }
      if (issue.origin === 'array' || issue.origin === 'set') {
        const n = isSeq(node) ? node.items.length : undefined;
        return (
          `must have at ${big ? 'most' : 'least'} ${bound} item${bound === 1 ? '' : 's'}` +
          (n !== undefined ? `, got ${n}` : '')
        );
      }
      if (isSafeIntRange(issue)) return `expected a whole number, got ${got()}`;
      if (!/^Too (big|small)/.test(issue.message)) return `${issue.message}, got ${got()}`;
      const rel = inclusive
        ? `at ${big ? 'most' : 'least'} ${bound}`
        : `${big ? 'less' : 'greater'} than ${bound}`;
      const int32 = big && bound === INT32_MAX ? ' (the largest 32-bit integer)' : '';
      return `must be ${rel}${int32}, got ${got()}`;
    }
    case 'invalid_format': {
      let rule = issue.message;
      if (rule.startsWith('Invalid')) {
        if (issue.format === 'starts_with' && 'prefix' in issue) {
          rule = `must start with ${JSON.stringify(issue.prefix)}`;
        } else if (issue.format === 'url') rule = 'must be a URL';
        else if (issue.format === 'regex' && 'pattern' in issue) {
          rule = `must match ${String(issue.pattern)}`;
        }
      }
      return `${rule}, got ${got()}`;
    }
    case 'invalid_key': {
      const inner = issue.issues[0];
      return `the key ${inner ? inner.message : 'is not valid here'}`;
    }
    default:
      return excerpt(issue.message, 200);
  }
}

const INT32_MAX = 2 ** 31 - 1;

/** The YAML node at `path` (through aliases), or undefined. */
function nodeAt(doc: Document, path: readonly PropertyKey[]): YamlNode | undefined {
  const node = doc.getIn(path, true) as YamlNode | undefined;
  if (isAlias(node)) return node.resolve(doc);
  return node;
}

/** What a message says was written: a short excerpt, never a whole long value. */
function describeNode(node: YamlNode | undefined, secret: boolean): string {
  if (node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (!isScalar(node)) return 'a value';
  const v = node.value;
  const src = typeof node.source === 'string' ? node.source : undefined;
  if (v === null || v === undefined) {
    return src === undefined || src === '' ? 'an empty value' : excerpt(src);
  }
  if (secret) return `a ${typeof v} (value not shown)`;
  if (typeof v === 'number') {
    const text = excerpt(src ?? String(v));
    if (Number.isNaN(v)) return `${text} (not a number)`;
    if (!Number.isFinite(v))
      return /inf/i.test(text) ? `${text} (infinite)` : `${text} (out of range)`;
    if (!Number.isSafeInteger(v) && Number.isInteger(v)) return `${text} (out of range)`;
    return text;
  }
  if (typeof v === 'string') return quote(v);
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Uint8Array) return 'binary data';
  return 'a value';
}

type AnySchema = z.core.$ZodType;
interface SchemaDef {
  type: string;
  innerType?: AnySchema;
  in?: AnySchema;
  shape?: Record<string, AnySchema>;
  element?: AnySchema;
  valueType?: AnySchema;
  options?: AnySchema[];
  values?: unknown[];
  checks?: { _zod: { def: { check?: string; format?: string } } }[];
}

function defOf(s: AnySchema): SchemaDef {
  return s._zod.def;
}

/** The schema under defaults, optionals and transforms. */
function unwrap(s: AnySchema): AnySchema {
  let cur = s;
  for (let i = 0; i < 10; i++) {
    const def = defOf(cur);
    if (def.innerType) cur = def.innerType;
    else if (def.type === 'pipe' && def.in) cur = def.in;
    else break;
  }
  return cur;
}

/** The schema of the field at `path` (unwrapped), or undefined. */
function schemaAt(path: readonly PropertyKey[]): AnySchema | undefined {
  let schema: AnySchema | undefined = serviceSpecSchema;
  for (const seg of path) {
    if (!schema) return undefined;
    schema = unwrap(schema);
    let def = defOf(schema);
    if (def.type === 'union' && def.options) {
      // Through a union: the option that has this field.
      const fit = def.options
        .map(unwrap)
        .find((o) =>
          typeof seg === 'number'
            ? defOf(o).element
            : (defOf(o).shape?.[String(seg)] ?? defOf(o).valueType),
        );
      if (!fit) return undefined;
      def = defOf(fit);
    }
    if (typeof seg === 'number') schema = def.element;
    else if (def.shape) schema = def.shape[String(seg)];
    else schema = def.valueType;
  }
  return schema && unwrap(schema);
}

function unionOptions(s: AnySchema | undefined): AnySchema[] {
  const def = s && defOf(s);
  return def?.type === 'union' && def.options ? def.options.map(unwrap) : [];
}

/** "a whole number", "a string", "a mapping"…: what a field takes, for messages. */
function expectedName(expected: string | undefined, schema: AnySchema | undefined): string {
  const def = schema && defOf(unwrap(schema));
  const type = def?.type ?? expected;
  const isInt = !!def?.checks?.some((c) => c._zod.def.format?.includes('int'));
  switch (expected === 'int' ? 'int' : type) {
    case 'int':
      return 'a whole number';
    case 'number':
      return isInt ? 'a whole number' : 'a number';
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'object':
    case 'record':
    case 'map':
      return 'a mapping';
    case 'array':
    case 'tuple':
    case 'set':
      return 'a list';
    case 'literal':
      return (def?.values ?? []).map((v) => JSON.stringify(v)).join(' or ');
    case 'union':
      return [...new Set(unionOptions(schema).map((o) => expectedName(undefined, o)))].join(' or ');
    default:
      return type ?? 'another value';
  }
}

/** The field names the schema allows for the object at `path`. */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  const schema = schemaAt(path);
  const options = unionOptions(schema);
  const shape = [...(schema ? [schema] : []), ...options].map((s) => defOf(s).shape).find(Boolean);
  return shape ? Object.keys(shape) : [];
}
