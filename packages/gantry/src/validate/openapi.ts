// Offline validation of rendered objects against the Kubernetes OpenAPI schema
// of the target release, before anything is applied (the server-side dry run
// still follows). The schema bundle (schemas/k8s-v1.34.json) is generated from
// upstream by scripts/gen-k8s-schema.ts: the built-in kinds Gantry renders from
// k8s.io/kubernetes, HTTPRoute from the Gateway API CRD. It checks types,
// required fields, enums, patterns, int32 ranges, quantities and unknown
// fields (which the API server rejects under strict field validation); CEL
// rules of CRDs are left to the server.
//
// ajv compiles the schema of each kind once, on first use.
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { KubeObject } from '../render/index.js';
import { closest } from '../spec/errors.js';
import bundle134 from './schemas/k8s-v1.34.json' with { type: 'json' };

interface Bundle {
  kubernetesVersion: string;
  roots: Record<string, string>;
  definitions: Record<string, Record<string, unknown>>;
}

const BUNDLES: Record<string, Bundle> = { '1.34': bundle134 };
export const DEFAULT_KUBERNETES_VERSION = '1.34';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';

export interface ValidationProblem {
  kind: string;
  name: string;
  namespace?: string;
  /** Field path in the object, e.g. "spec.template.spec.containers[0].ports[0].containerPort". */
  path: string;
  message: string;
}

export function formatValidationProblem(p: ValidationProblem): string {
  const obj = `${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name}`;
  return `${obj}: ${p.path || '(object)'}: ${p.message}`;
}

/**
 * Rendered objects the Kubernetes API would reject. Raised before anything is
 * applied; the CLI exits with code 3 (invalid input).
 */
export class ObjectValidationError extends Error {
  override name = 'ObjectValidationError';
  readonly problems: readonly ValidationProblem[];

  constructor(problems: readonly ValidationProblem[], version = DEFAULT_KUBERNETES_VERSION) {
    const n = problems.length;
    super(
      `rendered objects do not match the Kubernetes v${version} API schema ` +
        `(${n} problem${n === 1 ? '' : 's'}); nothing was applied:\n` +
        problems.map((p) => `  ${formatValidationProblem(p)}`).join('\n'),
    );
    this.problems = problems;
  }
}

interface Compiled {
  ajv: Ajv;
  bundle: Bundle;
  byKind: Map<string, ValidateFunction>;
}
const compiled = new Map<string, Compiled>();

function validatorFor(version: string, gvk: string): ValidateFunction | undefined {
  const bundle = BUNDLES[version];
  if (!bundle) {
    throw new Error(
      `no Kubernetes API schema for v${version} (have ${Object.keys(BUNDLES).join(', ')})`,
    );
  }
  let c = compiled.get(version);
  if (!c) {
    const ajv = new Ajv({
      allErrors: true,
      verbose: true,
      strict: true,
      allowUnionTypes: true,
      // Upstream patterns are Go (RE2) expressions, not necessarily valid with the u flag.
      unicodeRegExp: false,
      // Compiling is most of the cost and happens once per kind: skip ajv's code optimiser.
      code: { optimize: false },
    });
    ajv.addSchema({ $id: 'k8s', definitions: bundle.definitions });
    c = { ajv, bundle, byKind: new Map() };
    compiled.set(version, c);
  }
  const root = c.bundle.roots[gvk];
  if (!root) return undefined;
  let v = c.byKind.get(gvk);
  if (!v) {
    v = c.ajv.getSchema(`k8s#/definitions/${root}`);
    if (!v) throw new Error(`schema bundle v${version}: no definition ${root}`);
    c.byKind.set(gvk, v);
  }
  return v;
}

/** Every problem the Kubernetes API schema finds in the objects; [] when all are valid. */
export function validateObjects(
  objects: readonly KubeObject[],
  version: string = DEFAULT_KUBERNETES_VERSION,
): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  for (const o of objects) {
    const at = {
      kind: String(o.kind),
      name: String(o.metadata?.name),
      ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}),
    };
    const validate = validatorFor(version, `${o.apiVersion}/${o.kind}`);
    if (!validate) {
      problems.push({
        ...at,
        path: 'apiVersion',
        message: `${o.apiVersion} ${o.kind} is not a kind this Kubernetes v${version} schema bundle knows`,
      });
      continue;
    }
    if (validate(o)) continue;
    for (const e of validate.errors ?? []) problems.push({ ...at, ...describeError(o, e) });
  }
  return problems;
}

/** Path and a message a person can act on, from one ajv error. */
function describeError(o: KubeObject, e: ErrorObject): { path: string; message: string } {
  const segments = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const path = (extra?: string) =>
    fieldPath(o, extra === undefined ? segments : [...segments, extra]);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      const props = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)
        ?.properties;
      const guess = props ? closest(field, Object.keys(props)) : undefined;
      return {
        path: path(field),
        message: `unknown field${guess ? ` (did you mean "${guess}"?)` : ''}`,
      };
    }
    case 'required':
      return { path: path(String(params.missingProperty)), message: 'required field is missing' };
    case 'type': {
      const t = params.type;
      const types = Array.isArray(t) ? t.join(' or ') : String(t);
      return { path: path(), message: `expected ${types}, got ${describe(e.data)}` };
    }
    case 'enum':
      return {
        path: path(),
        message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${describe(e.data)}`,
      };
    case 'pattern': {
      const quantity = BUNDLES[DEFAULT_KUBERNETES_VERSION]!.definitions[QUANTITY]?.pattern;
      return {
        path: path(),
        message:
          e.schema === quantity
            ? `must be a quantity such as 250m, 0.5, 128Mi or 1Gi, got ${describe(e.data)}`
            : `${describe(e.data)} must match ${String(e.schema)}`,
      };
    }
    default:
      return { path: path(), message: `${e.message ?? e.keyword}, got ${describe(e.data)}` };
  }
}

/** "spec.containers[0].env[1].name"; keys with dots or slashes as ["key"]. */
function fieldPath(o: unknown, segments: readonly string[]): string {
  let out = '';
  let cur: unknown = o;
  for (const s of segments) {
    if (Array.isArray(cur)) out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[s] : undefined;
  }
  return out;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}
