// Where a parsed spec came from, so that checks run long after parsing (gantry
// validate, the deploy pre-check) still report file:line:col at the spec's own
// field. spec/load.ts records the YAML document of every spec it returns; a
// spec built in code has no source, and its problems name the field only.
import type { Document, LineCounter } from 'yaml';
import { fieldPath } from '../spec/errors.js';
import { keyOffset, valueOffset } from '../spec/positions.js';
import type { SpecProblem } from '../spec/errors.js';

export interface SpecSource {
  file: string;
  doc: Document;
  lines: LineCounter;
}

const sources = new WeakMap<object, SpecSource>();

/** Records where `spec` was parsed from (called by spec/load.ts); returns `spec`. */
export function rememberSpecSource<T extends object>(spec: T, source: SpecSource): T {
  sources.set(spec, source);
  return spec;
}

export function specSourceOf(spec: object): SpecSource | undefined {
  return sources.get(spec);
}

/** A problem found in a spec: the field's path and a message. */
export interface FieldProblem {
  path: readonly (string | number)[];
  message: string;
  /** Point at the mapping key rather than its value (a bad label key, a bad config key). */
  atKey?: boolean;
}

/** Spec problems with file:line:col from the spec's source when it has one. */
export function locateProblems(
  spec: object,
  problems: readonly FieldProblem[],
  fallbackFile = 'gantry.yaml',
): SpecProblem[] {
  const src = specSourceOf(spec);
  const out = problems.map((p): SpecProblem => {
    const pos = src ? position(src, p) : undefined;
    return {
      file: src?.file ?? fallbackFile,
      line: pos?.line ?? 0,
      column: pos?.column ?? 0,
      field: fieldPath(p.path),
      message: p.message,
    };
  });
  out.sort((a, b) => a.line - b.line || a.column - b.column);
  return out;
}

function position(src: SpecSource, p: FieldProblem): { line: number; column: number } | undefined {
  const last = p.path[p.path.length - 1];
  const offset =
    p.atKey && last !== undefined
      ? keyOffset(src.doc, p.path.slice(0, -1), last)
      : valueOffset(src.doc, p.path);
  if (offset === undefined) return undefined;
  const lc = src.lines.linePos(offset);
  return { line: lc.line, column: lc.col };
}
