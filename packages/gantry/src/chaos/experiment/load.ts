// Reading an experiment file: YAML with source positions -> the JSON Schema
// generated from the fault registry (schema.ts) -> fault parameters parsed ->
// a typed Experiment, or an ExperimentError naming file:line:col, the field and
// (for a misspelt key or kind) the closest known one. Nothing is touched in the
// cluster before an experiment has loaded.
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { SpecError, closest, excerpt, fieldPath } from '../../spec/errors.js';
import type { SpecProblem } from '../../spec/errors.js';
import { keyOffset, valueOffset } from '../../spec/positions.js';
import { loadSpecFile, parseSpec } from '../../spec/index.js';
import type { ServiceSpec } from '../../spec/index.js';
import type { FaultDefinition, TargetSelector } from '../fault.js';
import { faults as registry } from '../faults/index.js';
import { durationMs, parseFaultParams } from './params.js';
import { experimentJsonSchema } from './schema.js';
import type { Experiment, FaultStep, PauseStep, Probe, Rollback, Step } from './types.js';

/** An experiment file that cannot be run; nothing was touched. Exit 3, like a bad spec. */
export class ExperimentError extends SpecError {
  constructor(problems: readonly SpecProblem[]) {
    super(problems);
    this.name = 'ExperimentError';
    const n = problems.length;
    this.message =
      `invalid experiment (${n} problem${n === 1 ? '' : 's'}):\n` +
      problems
        .map(
          (p) =>
            `  ${p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file}: ${p.field ? `${p.field}: ` : ''}${p.message}`,
        )
        .join('\n');
  }
}

const MAX_BYTES = 256 * 1024;

let compiled: { defs: readonly FaultDefinition[]; validate: ValidateFunction } | undefined;
function validator(defs: readonly FaultDefinition[]): ValidateFunction {
  if (compiled?.defs !== defs) {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: false });
    compiled = { defs, validate: ajv.compile(experimentJsonSchema(defs)) };
  }
  return compiled.validate;
}

export function loadExperimentFile(
  file: string,
  defs: readonly FaultDefinition[] = registry,
): Experiment {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error('not a file');
    if (st.size > MAX_BYTES) {
      throw new ExperimentError([
        {
          file,
          line: 0,
          column: 0,
          field: '',
          message: `over ${MAX_BYTES} bytes, the most an experiment may be`,
        },
      ]);
    }
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ExperimentError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? String(err)})`;
    throw new ExperimentError([{ file, line: 0, column: 0, field: '', message }]);
  }
  return parseExperiment(text, file, defs);
}

/** Parses and validates experiment text; `file` names it in messages and anchors target.spec. */
export function parseExperiment(
  text: string,
  file = 'experiment.yaml',
  defs: readonly FaultDefinition[] = registry,
): Experiment {
  const lines = new LineCounter();
  const at = (offset: number | undefined) => {
    if (offset === undefined) return { line: 1, column: 1 };
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const doc: Document = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
  });
  if (doc.errors.length) {
    throw new ExperimentError(
      doc.errors.map((e) => ({
        file,
        ...at(e.pos[0]),
        field: '',
        message: `YAML: ${excerpt((e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, ''), 200)}`,
      })),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ExperimentError([
      { file, line: 1, column: 1, field: '', message: `YAML: ${String(err)}` },
    ]);
  }
  const problems: SpecProblem[] = [];
  const add = (path: (string | number)[], message: string, key?: string) =>
    problems.push({
      file,
      ...at(key !== undefined ? keyOffset(doc, path, key) : valueOffset(doc, path)),
      field: fieldPath(key !== undefined ? [...path, key] : path),
      message,
    });

  const validate = validator(defs);
  if (!validate(data)) {
    for (const e of relevant(validate.errors ?? [])) {
      const path = pointerPath(e.instancePath);
      describeError(e, path, add, defs);
    }
    throw new ExperimentError(sorted(dedupe(problems)));
  }
  const raw = data as RawExperiment;

  // What the schema cannot say: parameter values, count with percent, unique names, ranges.
  const method = raw.method.map((s, i) => toStep(s, ['method', i], add, defs));
  const probes = (raw.probes ?? []).map((p, i): Probe => {
    const base = {
      name: p.name,
      mode: p.mode,
      intervalMs: durationMs(p.interval ?? '2s') ?? 2000,
      weight: p.weight ?? 1,
    };
    if (p.kind === 'ready') return { ...base, kind: 'ready' };
    if (p.kind === 'promql') {
      if (p.min !== undefined && p.max !== undefined && p.min > p.max) {
        add(['probes', i, 'min'], `min ${p.min} is above max ${p.max}`);
      }
      return {
        ...base,
        kind: 'promql',
        query: p.query!,
        ...(p.min !== undefined ? { min: p.min } : {}),
        ...(p.max !== undefined ? { max: p.max } : {}),
        ...(p.prometheus ? { prometheus: p.prometheus } : {}),
      };
    }
    return {
      ...base,
      kind: 'http',
      url: p.url!,
      status: p.status ?? 200,
      timeoutMs: durationMs(p.timeout ?? '2s') ?? 2000,
      ...(p.host ? { host: p.host } : {}),
      ...(p.maxLatency ? { maxLatencyMs: durationMs(p.maxLatency)! } : {}),
    };
  });
  const seen = new Map<string, number>();
  probes.forEach((p, i) => {
    if (seen.has(p.name))
      add(
        ['probes', i, 'name'],
        `a second probe named "${p.name}" (first: probes[${seen.get(p.name)}])`,
      );
    else seen.set(p.name, i);
  });
  const rollbacks = (raw.rollbacks ?? []).map((r, i): Rollback => {
    const name = r.name ?? `rollback ${i + 1} (${r.action})`;
    const timeoutMs = durationMs(r.timeout ?? '60s') ?? 60_000;
    if (r.action === 'recover') return { action: 'recover', name };
    if (r.action === 'wait-ready') return { action: 'wait-ready', name, timeoutMs };
    return {
      action: 'http',
      name,
      url: r.url!,
      method: r.method ?? 'GET',
      timeoutMs,
      ...(r.host ? { host: r.host } : {}),
    };
  });

  let spec: ServiceSpec | undefined;
  let specFile: string | undefined;
  if (raw.target.spec !== undefined) {
    specFile = resolve(dirname(resolve(file)), raw.target.spec);
    try {
      statSync(specFile);
      spec = loadSpecFile(specFile);
    } catch (err) {
      if (err instanceof SpecError) throw err;
      add(
        ['target', 'spec'],
        `cannot read the spec ${specFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      );
    }
  } else {
    spec = serviceOnly(raw.target.namespace!, raw.target.service!);
  }
  if (problems.length) throw new ExperimentError(sorted(dedupe(problems)));
  return {
    file,
    name: raw.metadata.name,
    ...(raw.metadata.description ? { description: raw.metadata.description } : {}),
    spec: spec!,
    ...(specFile ? { specFile } : {}),
    probes,
    method,
    rollbacks,
  };
}

/** A spec naming only a service (experiments that target namespace/service). */
export function serviceOnly(namespace: string, service: string): ServiceSpec {
  return parseSpec(
    `apiVersion: gantry.dev/v1alpha1\nname: ${service}\nnamespace: ${namespace}\nimage: unknown.invalid/${service}\n`,
    `${namespace}/${service}`,
  );
}

interface RawStep {
  name?: string;
  fault?: string;
  params?: Record<string, unknown>;
  target?: TargetSelector;
  duration?: string;
  pause?: string;
  parallel?: RawStep[];
}

interface RawExperiment {
  metadata: { name: string; description?: string };
  target: { spec?: string; namespace?: string; service?: string };
  probes?: {
    name: string;
    kind: 'ready' | 'promql' | 'http';
    mode: Probe['mode'];
    interval?: string;
    weight?: number;
    query?: string;
    min?: number;
    max?: number;
    prometheus?: string;
    url?: string;
    host?: string;
    status?: number;
    maxLatency?: string;
    timeout?: string;
  }[];
  method: RawStep[];
  rollbacks?: {
    name?: string;
    action: Rollback['action'];
    timeout?: string;
    url?: string;
    method?: string;
    host?: string;
  }[];
}

const STEP_KEYS = ['name', 'fault', 'params', 'target', 'duration', 'pause', 'parallel'];

type Add = (path: (string | number)[], message: string, key?: string) => void;

function toStep(
  s: RawStep,
  path: (string | number)[],
  add: Add,
  defs: readonly FaultDefinition[],
): Step {
  const label = path
    .filter((x) => typeof x === 'number')
    .map((x) => Number(x) + 1)
    .join('.');
  if (s.parallel) {
    return {
      type: 'parallel',
      name: s.name ?? `step ${label} (parallel)`,
      steps: s.parallel.map(
        (x, i) => toStep(x, [...path, 'parallel', i], add, defs) as FaultStep | PauseStep,
      ),
    };
  }
  if (s.fault === undefined) {
    return {
      type: 'pause',
      name: s.name ?? `step ${label} (pause)`,
      durationMs: durationMs(s.pause!)!,
    };
  }
  const def = defs.find((d) => d.kind === s.fault)!;
  const { params, problems } = parseFaultParams(def, s.params ?? {});
  for (const p of problems) {
    if (p.message.startsWith(`${def.kind} has no parameter`)) {
      const hint = closest(
        p.param,
        def.params.map((x) => x.name),
      );
      add(
        [...path, 'params'],
        `${def.kind} has no parameter "${p.param}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
        p.param,
      );
    } else add([...path, 'params', p.param], p.message);
  }
  const target = s.target ?? {};
  if (target.count !== undefined && target.percent !== undefined) {
    add([...path, 'target', 'percent'], 'give count or percent, not both');
  }
  return {
    type: 'fault',
    name: s.name ?? `step ${label} (${def.kind})`,
    fault: def.kind,
    params,
    target,
    durationMs: durationMs(s.duration!)!,
  };
}

function pointerPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** ajv's errors without the bookkeeping of if/then and of unions whose branches say more. */
function relevant(errors: ErrorObject[]): ErrorObject[] {
  return errors.filter(
    (e) =>
      e.keyword !== 'if' &&
      !(
        e.keyword === 'anyOf' &&
        errors.some((o) => o !== e && o.instancePath === e.instancePath && o.keyword !== 'anyOf')
      ),
  );
}

function describeError(
  e: ErrorObject,
  path: (string | number)[],
  add: Add,
  defs: readonly FaultDefinition[],
): void {
  const params = e.params as Record<string, unknown>;
  const parent = e.parentSchema as { properties?: Record<string, unknown> } | undefined;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      let known = Object.keys(parent?.properties ?? {});
      // A step that is none of fault/pause/parallel is checked as a pause: offer every step key.
      if (known.includes('pause') && !known.includes('fault')) known = [...STEP_KEYS];
      const hint = closest(key, known);
      add(
        path,
        `unknown field${hint ? ` (did you mean "${hint}"?)` : known.length ? `; known fields: ${known.join(', ')}` : ''}`,
        key,
      );
      return;
    }
    case 'required': {
      const missing = String(params.missingProperty);
      if (missing === 'pause') add(path, 'a step needs one of fault:, pause: or parallel:');
      else add(path, `required field "${missing}" is missing`);
      return;
    }
    case 'false schema': {
      const key = path.at(-1);
      add(path.slice(0, -1), `not a field of this kind of entry`, String(key));
      return;
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const got = typeof e.data === 'string' ? e.data : JSON.stringify(e.data);
      const hint = typeof e.data === 'string' ? closest(e.data, allowed) : undefined;
      if (path.at(-1) === 'fault') {
        add(
          path,
          `unknown fault kind ${JSON.stringify(got)}${hint ? ` (did you mean "${hint}"?)` : ''}; gantry chaos list shows the ${defs.length} kinds`,
        );
      } else {
        add(
          path,
          `must be one of: ${allowed.join(', ')}; got ${JSON.stringify(got)}${hint ? ` (did you mean "${hint}"?)` : ''}`,
        );
      }
      return;
    }
    case 'const':
      add(path, `must be ${JSON.stringify(params.allowedValue)}, got ${JSON.stringify(e.data)}`);
      return;
    case 'pattern': {
      const p = String(params.pattern);
      const what = p.includes('ms|s|m|h')
        ? 'a duration such as 500ms, 30s or 5m'
        : p.startsWith('^http://(127')
          ? 'a loopback http:// URL (127.0.0.1, localhost, [::1]): probes send no traffic elsewhere'
          : `a value matching ${p}`;
      add(path, `expected ${what}, got ${JSON.stringify(e.data)}`);
      return;
    }
    case 'type':
      {
        const pattern = (parent as { pattern?: string } | undefined)?.pattern ?? '';
        const want = pattern.includes('ms|s|m|h')
          ? 'a duration such as 500ms, 30s or 5m'
          : typeName(String(params.type));
        add(path, `expected ${want}, got ${JSON.stringify(e.data)}`);
        return;
      }
      return;
    case 'anyOf':
      if (Array.isArray(e.schema) && e.schema.every((s: { required?: string[] }) => s.required)) {
        add(
          path,
          `needs one of: ${(e.schema as { required: string[] }[]).map((s) => s.required.join('')).join(', ')}`,
        );
      } else add(path, `has an unexpected value ${JSON.stringify(e.data)}`);
      return;
    default:
      add(path, excerpt(e.message ?? e.keyword, 200));
  }
}

function typeName(t: string): string {
  return (
    {
      string: 'a string',
      number: 'a number',
      integer: 'a whole number',
      boolean: 'true or false',
      object: 'a mapping',
      array: 'a list',
    }[t] ?? t
  );
}

function dedupe(ps: SpecProblem[]): SpecProblem[] {
  const seen = new Set<string>();
  return ps.filter((p) => {
    const k = `${p.line}:${p.column}:${p.field}:${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function sorted(ps: SpecProblem[]): SpecProblem[] {
  return ps.sort((a, b) => a.line - b.line || a.column - b.column);
}
