// Reading gantry.yaml: YAML with source positions -> schema validation ->
// a typed spec, or a SpecError naming file, line, column and field.
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { SpecError, closest, fieldPath } from './errors.js';
import type { SpecProblem } from './errors.js';
import { serviceSpecSchema } from './schema.js';
import type { ServiceSpec } from './schema.js';

/** Loads and validates a spec file. Throws SpecError on any problem. */
export function loadSpecFile(file: string): ServiceSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(err);
    throw new SpecError([{ file, line: 0, column: 0, field: '', message: reason }]);
  }
  return parseSpec(text, file);
}

/** Parses and validates spec text; `file` is only used in messages. */
export function parseSpec(text: string, file = 'gantry.yaml'): ServiceSpec {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined): { line: number; column: number } => {
    if (offset === undefined) return { line: 0, column: 0 };
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };

  if (doc.errors.length > 0) {
    throw new SpecError(
      doc.errors.map((e) => ({
        file,
        ...at(e.pos[0]),
        field: '',
        message: `YAML: ${e.message.split('\n')[0] ?? e.message}`,
      })),
    );
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
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
  if (result.success) return result.data;

  const problems: SpecProblem[] = [];
  for (const issue of result.error.issues) {
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
    problems.push({
      file,
      ...at(valueOffset(doc, issue.path)),
      field: fieldPath(issue.path),
      message: describeIssue(issue, doc),
    });
  }
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  throw new SpecError(problems);
}

/**
 * Where a { fromEnv | fromFile } source belongs, so what is written there may be a secret
 * value: under secrets, and a release webhook's url (a robot token) or signing secret.
 */
function isSecretSource(path: readonly PropertyKey[]): boolean {
  return (
    path[0] === 'secrets' ||
    (path[0] === 'release' && path[1] === 'notify' && (path[3] === 'url' || path[3] === 'secret'))
  );
}

function describeIssue(issue: z.core.$ZodIssue, doc: Document): string {
  if (issue.code === 'invalid_type') {
    const node = doc.getIn(issue.path, true) as YamlNode | undefined;
    if (node === undefined) return `required field is missing (expected ${issue.expected})`;
    // Never echo what was written where a secret source belongs: it may be a secret value.
    const got = isScalar(node)
      ? isSecretSource(issue.path)
        ? `a ${typeof node.value} (value not shown)`
        : JSON.stringify(node.value)
      : isMap(node)
        ? 'a mapping'
        : 'a list';
    return `expected ${issue.expected}, got ${got}`;
  }
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return `must be one of: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (issue.code === 'invalid_union') {
    return 'has an unexpected type or format';
  }
  return issue.message;
}

/** Offset of the value at `path`, or of its nearest existing ancestor. */
function valueOffset(doc: Document, path: readonly PropertyKey[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as YamlNode | undefined;
    if (node?.range) return node.range[0];
  }
  return undefined;
}

/** Offset of the key `key` inside the mapping at `path`. */
function keyOffset(doc: Document, path: readonly PropertyKey[], key: string): number | undefined {
  const map = path.length ? doc.getIn(path, true) : doc.contents;
  if (isMap(map)) {
    for (const pair of map.items) {
      if (isScalar(pair.key) && pair.key.value === key) return pair.key.range?.[0];
    }
  }
  return valueOffset(doc, path);
}

/** The field names the schema allows for the object at `path`. */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let schema: z.core.$ZodType | undefined = serviceSpecSchema;
  const unwrap = (s: z.core.$ZodType): z.core.$ZodType => {
    let cur = s;
    for (let i = 0; i < 10; i++) {
      const def = cur._zod.def as {
        type: string;
        innerType?: z.core.$ZodType;
        in?: z.core.$ZodType;
      };
      if (def.innerType) cur = def.innerType;
      else if (def.type === 'pipe' && def.in) cur = def.in;
      else break;
    }
    return cur;
  };
  for (const seg of [...path, undefined]) {
    if (!schema) return [];
    schema = unwrap(schema);
    const def = schema._zod.def as {
      type: string;
      shape?: Record<string, z.core.$ZodType>;
      element?: z.core.$ZodType;
      valueType?: z.core.$ZodType;
    };
    if (seg === undefined) return def.shape ? Object.keys(def.shape) : [];
    if (typeof seg === 'number') schema = def.element;
    else if (def.shape) schema = def.shape[String(seg)];
    else schema = def.valueType;
  }
  return [];
}
