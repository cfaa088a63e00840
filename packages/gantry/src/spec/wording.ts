// What a schema problem in gantry.yaml says: the zod issue turned into one sentence about
// the field the user wrote (what was found, what was expected, the closest known key),
// with secret values never echoed. load.ts finds the problems; this words them.
import { isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { excerpt, quote } from './errors.js';
import { serviceSpecSchema } from './schema.js';
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
export function isSecretSource(path: readonly PropertyKey[]): boolean {
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
export function isSafeIntRange(issue: z.core.$ZodIssue): boolean {
  return (
    (issue.code === 'too_big' || issue.code === 'too_small') &&
    issue.origin === 'int' &&
    Math.abs(Number(issue.code === 'too_big' ? issue.maximum : issue.minimum)) ===
      Number.MAX_SAFE_INTEGER
  );
}

export function describeIssue(issue: z.core.$ZodIssue, doc: Document): string {
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
export function knownKeysAt(path: readonly PropertyKey[]): string[] {
  const schema = schemaAt(path);
  const options = unionOptions(schema);
  const shape = [...(schema ? [schema] : []), ...options].map((s) => defOf(s).shape).find(Boolean);
  return shape ? Object.keys(shape) : [];
}
