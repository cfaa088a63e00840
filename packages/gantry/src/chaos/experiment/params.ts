// A fault's parameters as written (a flag's text, an experiment file's value) ->
// FaultParams (durations in ms, percents 0..100, bytes as numbers), and the JSON
// Schema of each parameter. Both the CLI's one-line forms and experiment files
// go through here, so a value means the same in both.
import type { FaultDefinition, FaultParam, FaultParams } from '../fault.js';

export const DURATION_PATTERN = '^[0-9]+(\\.[0-9]+)?(ms|s|m|h)$';
export const BYTES_PATTERN = '^[0-9]+(\\.[0-9]+)?(B|k|K|M|G|T|Ki|Mi|Gi|Ti|KB|MB|GB|TB)?$';
export const PERCENT_PATTERN = '^[0-9]+(\\.[0-9]+)?%?$';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "200ms", "1.5s", "5m", "1h" -> ms; undefined when it is not a duration. */
export function durationMs(v: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/.exec(v.trim());
  return m ? Math.round(Number(m[1]) * UNIT_MS[m[2]!]!) : undefined;
}

const BYTE_UNITS: Record<string, number> = {
  B: 1,
  k: 1e3,
  K: 1e3,
  KB: 1e3,
  M: 1e6,
  MB: 1e6,
  G: 1e9,
  GB: 1e9,
  T: 1e12,
  TB: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** "512Mi", "1G", "4096" -> bytes. */
export function bytes(v: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)$/.exec(v.trim());
  if (!m) return undefined;
  const unit = m[2] ? BYTE_UNITS[m[2]] : 1;
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

/** One value as written -> its parsed form, or a message saying what it must be. */
export function parseParamValue(
  p: FaultParam,
  raw: unknown,
): { value: FaultParams[string] } | { error: string } {
  const text = typeof raw === 'number' ? String(raw) : raw;
  const range = (n: number) => {
    if (p.min !== undefined && n < p.min) return `must be at least ${p.min}`;
    if (p.max !== undefined && n > p.max) return `must be at most ${p.max}`;
    return undefined;
  };
  switch (p.type) {
    case 'duration': {
      // A number is already in ms (a definition's default); written values are strings.
      if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) return { value: raw };
      const ms = typeof text === 'string' ? durationMs(text) : undefined;
      if (ms === undefined) return { error: 'expected a duration such as 200ms, 30s or 5m' };
      return { value: ms };
    }
    case 'number': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN;
      if (typeof raw === 'string' && raw.trim() === '') return { error: 'expected a number' };
      if (!Number.isFinite(n)) return { error: 'expected a number' };
      const bad = range(n);
      return bad ? { error: bad } : { value: n };
    }
    case 'percent': {
      const s = typeof text === 'string' ? text.trim().replace(/%$/, '') : '';
      const n = s === '' ? NaN : Number(s);
      if (!Number.isFinite(n) || n < 0 || n > 100) {
        return { error: 'expected a percentage from 0 to 100, such as 30 or 30%' };
      }
      const bad = range(n);
      return bad ? { error: bad } : { value: n };
    }
    case 'bytes': {
      const n = typeof text === 'string' ? bytes(text) : undefined;
      if (n === undefined) return { error: 'expected a size such as 512Mi, 1G or 4096' };
      const bad = range(n);
      return bad ? { error: bad } : { value: n };
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return { value: raw };
      if (raw === 'true' || raw === '') return { value: true };
      if (raw === 'false') return { value: false };
      return { error: 'expected true or false' };
    }
    case 'string[]': {
      if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) return { value: raw };
      if (typeof raw === 'string') {
        return {
          value: raw
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        };
      }
      return { error: 'expected a list of strings (a comma-separated list on the command line)' };
    }
    case 'string': {
      if (typeof text !== 'string') return { error: 'expected a string' };
      if (p.enum && !p.enum.includes(text)) {
        return { error: `must be one of: ${p.enum.join(', ')}` };
      }
      return { value: text };
    }
  }
}

/**
 * Parses every parameter of `def` from `raw` (kebab-case keys), defaults filled in.
 * Returns the parsed values and the problems, each with the parameter's name.
 */
export function parseFaultParams(
  def: FaultDefinition,
  raw: Record<string, unknown>,
): { params: FaultParams; problems: { param: string; message: string }[] } {
  const params: FaultParams = {};
  const problems: { param: string; message: string }[] = [];
  for (const p of def.params) {
    const v = raw[p.name] ?? p.default;
    if (v === undefined) {
      if (p.required) problems.push({ param: p.name, message: 'required parameter is missing' });
      continue;
    }
    const r = parseParamValue(p, v);
    if ('error' in r) problems.push({ param: p.name, message: r.error });
    else params[p.name] = r.value;
  }
  for (const k of Object.keys(raw)) {
    if (!def.params.some((p) => p.name === k)) {
      problems.push({ param: k, message: `${def.kind} has no parameter "${k}"` });
    }
  }
  return { params, problems };
}

/** The JSON Schema of one parameter's value as an experiment file writes it. */
export function paramJsonSchema(p: FaultParam): Record<string, unknown> {
  const base = {
    description: p.description,
    ...(p.default !== undefined ? { default: p.default } : {}),
  };
  switch (p.type) {
    case 'duration':
      return { ...base, type: 'string', pattern: DURATION_PATTERN };
    case 'number':
      return {
        ...base,
        type: 'number',
        ...(p.min !== undefined ? { minimum: p.min } : {}),
        ...(p.max !== undefined ? { maximum: p.max } : {}),
      };
    case 'percent':
      return {
        ...base,
        anyOf: [
          { type: 'number', minimum: p.min ?? 0, maximum: p.max ?? 100 },
          { type: 'string', pattern: PERCENT_PATTERN },
        ],
      };
    case 'bytes':
      return {
        ...base,
        anyOf: [
          { type: 'integer', minimum: p.min ?? 0 },
          { type: 'string', pattern: BYTES_PATTERN },
        ],
      };
    case 'boolean':
      return { ...base, type: 'boolean' };
    case 'string[]':
      return { ...base, type: 'array', items: { type: 'string' } };
    case 'string':
      return { ...base, type: 'string', ...(p.enum ? { enum: p.enum } : {}) };
  }
}

/** One parameter in plans and reports: durations and sizes as people write them. */
export function formatParam(p: FaultParam | undefined, v: FaultParams[string]): string {
  if (typeof v === 'number' && p?.type === 'duration') {
    return v % 1000 === 0 ? `${v / 1000}s` : `${v}ms`;
  }
  if (typeof v === 'number' && p?.type === 'percent') return `${v}%`;
  if (Array.isArray(v)) return v.join(',');
  return String(v);
}
