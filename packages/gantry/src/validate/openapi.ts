// Offline validation of rendered objects against the Kubernetes OpenAPI schema
// of the target release, before anything is applied (the server-side dry run
// still follows). The schema bundle (schemas/k8s-v1.34.json) is generated from
// upstream by scripts/gen-k8s-schema.ts: the built-in kinds Gantry renders from
// k8s.io/kubernetes, HTTPRoute from the Gateway API CRD. It checks types,
// required fields, enums, patterns, int32 ranges, quantities and unknown
// fields (which the API server rejects under strict field validation); CEL
// rules of CRDs are left to the server.
//
// The validators are compiled ahead of time (generated/k8s-v1.34.ts, by
// scripts/gen-k8s-validators.ts): loading them costs tens of milliseconds,
// where compiling the bundle with ajv cost most of a second on every run.
import type { ErrorObject } from 'ajv';
import type { KubeObject } from '../render/index.js';
import { closest } from '../spec/errors.js';
import { precompiled as v134 } from './generated/k8s-v1.34.js';
import type { PrecompiledBundle, PrecompiledValidator } from './precompiled.js';

const BUNDLES: Record<string, PrecompiledBundle> = { '1.34': v134 };
export const DEFAULT_KUBERNETES_VERSION = '1.34';

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

function validatorFor(version: string, gvk: string): PrecompiledValidator | undefined {
  const bundle = BUNDLES[version];
  if (!bundle) {
    throw new Error(
      `no Kubernetes API schema for v${version} (have ${Object.keys(BUNDLES).join(', ')})`,
    );
  }
  return bundle.validators[gvk];
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
    const quantity = BUNDLES[version]!.quantityPattern;
    for (const e of validate.errors ?? [])
      problems.push({ ...at, ...describeError(o, e, quantity) });
  }
  return problems;
}

/** Path and a message a person can act on, from one ajv error. */
function describeError(
  o: KubeObject,
  e: ErrorObject,
  quantityPattern: string,
): { path: string; message: string } {
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
      return {
        path: path(),
        message:
          e.schema === quantityPattern
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
