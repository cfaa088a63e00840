// Offline validation of rendered objects against the Kubernetes OpenAPI
// schemas of the target release (k8s-v1.34.json, generated from upstream by
// scripts/gen-k8s-schema.ts): types, required fields, enums, and unknown
// fields (which the API server rejects under strict field validation).
import type { KubeObject } from '../render/index.js';
import bundleJson from './k8s-v1.34.json' with { type: 'json' };

type Schema = {
  $ref?: string;
  allOf?: Schema[];
  oneOf?: Schema[];
  type?: string;
  format?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
};

interface Bundle {
  source: string;
  roots: Record<string, string>;
  schemas: Record<string, Schema>;
}

export interface ValidationProblem {
  /** e.g. "Deployment default/user-service" */
  object: string;
  /** Dotted path, e.g. "spec.template.spec.containers[0].ports[0].containerPort" */
  path: string;
  message: string;
}

export class ObjectValidationError extends Error {
  override name = 'ObjectValidationError';
  constructor(readonly problems: readonly ValidationProblem[]) {
    super(
      `rendered objects do not match the Kubernetes API schema; nothing was applied:\n` +
        problems.map((p) => `  ${p.object}: ${p.path}: ${p.message}`).join('\n'),
    );
  }
}

const load = (): Bundle => bundleJson;

/** Problems in each object whose kind the bundle knows; other kinds (CRDs) are left to the server. */
export function validateObjects(objects: readonly KubeObject[]): ValidationProblem[] {
  const b = load();
  const problems: ValidationProblem[] = [];
  for (const o of objects) {
    const root = b.roots[`${o.apiVersion}/${o.kind}`];
    if (!root) continue;
    const name = `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
    check(b, { $ref: `#/components/schemas/${root}` }, o, '', (path, message) =>
      problems.push({ object: name, path: path || '(object)', message }),
    );
  }
  return problems;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function matches(b: Bundle, s: Schema, v: unknown): boolean {
  let ok = true;
  check(b, s, v, '', () => (ok = false));
  return ok;
}

function check(
  b: Bundle,
  s: Schema,
  v: unknown,
  path: string,
  report: (path: string, msg: string) => void,
): void {
  if (s.$ref) {
    const target = b.schemas[s.$ref.replace('#/components/schemas/', '')];
    if (target) check(b, target, v, path, report);
    return;
  }
  for (const part of s.allOf ?? []) check(b, part, v, path, report);
  if (s.oneOf) {
    if (!s.oneOf.some((alt) => matches(b, alt, v))) {
      const types = s.oneOf.map((alt) => alt.type ?? 'object').join(' or ');
      report(path, `expected ${types}, got ${describe(v)}`);
    }
    return;
  }
  if (s['x-kubernetes-preserve-unknown-fields']) return;
  switch (s.type) {
    case 'object': {
      if (v === null || typeof v !== 'object' || Array.isArray(v))
        return report(path, `expected a mapping, got ${describe(v)}`);
      const obj = v as Record<string, unknown>;
      for (const r of s.required ?? [])
        if (obj[r] === undefined) report(path ? `${path}.${r}` : r, 'required field is missing');
      for (const [k, val] of Object.entries(obj)) {
        const sub = path ? `${path}.${k}` : k;
        if (val === undefined) continue;
        const prop = s.properties?.[k];
        if (prop) check(b, prop, val, sub, report);
        else if (typeof s.additionalProperties === 'object')
          check(b, s.additionalProperties, val, sub, report);
        else if (s.properties && s.additionalProperties !== true) report(sub, 'unknown field');
      }
      return;
    }
    case 'array':
      if (!Array.isArray(v)) return report(path, `expected a list, got ${describe(v)}`);
      v.forEach((item, i) => s.items && check(b, s.items, item, `${path}[${i}]`, report));
      return;
    case 'string':
      if (typeof v !== 'string') return report(path, `expected string, got ${describe(v)}`);
      if (s.enum && !s.enum.includes(v))
        report(path, `must be one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`);
      return;
    case 'integer':
      if (typeof v !== 'number' || !Number.isInteger(v))
        return report(path, `expected integer, got ${describe(v)}`);
      if (s.format === 'int32' && (v > 2147483647 || v < -2147483648))
        report(path, 'out of int32 range');
      return;
    case 'number':
      if (typeof v !== 'number') report(path, `expected number, got ${describe(v)}`);
      return;
    case 'boolean':
      if (typeof v !== 'boolean') report(path, `expected boolean, got ${describe(v)}`);
      return;
    default:
      return;
  }
}
