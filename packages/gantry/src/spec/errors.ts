// Spec errors that point at the exact place in the file: file:line:col, the
// field's dotted path, and a message a person can act on.

export interface SpecProblem {
  file: string;
  /** 1-based line, 0 when unknown. */
  line: number;
  /** 1-based column, 0 when unknown. */
  column: number;
  /** Dotted path of the field, e.g. "ports[0].containerPort"; "" for the document. */
  field: string;
  message: string;
}

export function formatProblem(p: SpecProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
  return p.field ? `${where}: ${p.field}: ${p.message}` : `${where}: ${p.message}`;
}

/** Thrown when a spec is rejected. Nothing has been applied when it is raised. */
export class SpecError extends Error {
  readonly problems: readonly SpecProblem[];
  /** Problems found but not listed (a document with thousands lists the first ones). */
  readonly omitted: number;

  constructor(problems: readonly SpecProblem[], omitted = 0) {
    const n = problems.length + omitted;
    const shown = omitted ? `, the first ${problems.length} shown` : '';
    super(
      `invalid spec (${n} problem${n === 1 ? '' : 's'}${shown}):\n` +
        problems.map((p) => `  ${formatProblem(p)}`).join('\n'),
    );
    this.name = 'SpecError';
    this.problems = problems;
    this.omitted = omitted;
  }
}

/** Longest value (or key) a message quotes; longer ones are cut to an excerpt. */
export const EXCERPT_LENGTH = 60;

/** The first `n` UTF-16 units of `text`, never splitting a surrogate pair. */
function prefix(text: string, n: number): string {
  const c = text.charCodeAt(n - 1);
  return text.slice(0, c >= 0xd800 && c <= 0xdbff ? n - 1 : n);
}

/**
 * `text` cut to `max` characters with an ellipsis and its full length, so that a message
 * never carries a whole 100 kB value: excerpt("aaaa…", 8) -> "aaaaaaa… (100000 characters)".
 */
export function excerpt(text: string, max = EXCERPT_LENGTH): string {
  if (text.length <= max) return text;
  return `${prefix(text, max - 1)}… (${text.length} characters)`;
}

/** A string value as a message quotes it: JSON-escaped, cut to an excerpt when long. */
export function quote(text: string, max = EXCERPT_LENGTH): string {
  if (text.length <= max) return JSON.stringify(text);
  return `${JSON.stringify(prefix(text, max - 1))}… (${text.length} characters)`;
}

/** Dotted path of a field; keys longer than an excerpt are cut. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/[\p{Cc}\u2028\u2029]/u.test(String(seg))) out += `[${quote(String(seg), 40)}]`;
    else {
      const key = excerpt(String(seg), 40);
      out += out ? `.${key}` : key;
    }
  }
  return out;
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + cost);
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate within a small edit distance, case-insensitively. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  // No key this long is a typo of a known one, and the distance costs length x length.
  if (word.length > 64) return undefined;
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  return bestD <= limit ? best : undefined;
}
