// Reading gantry.yaml: YAML with source positions -> schema validation ->
// a typed spec, or a SpecError naming file, line, column and field.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, visit } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { SpecError, closest, excerpt, fieldPath } from './errors.js';
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
import { describeIssue, isSafeIntRange, isSecretSource, knownKeysAt } from './wording.js';
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
