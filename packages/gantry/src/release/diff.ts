// What a deploy would change, object by object and field by field. Each rendered
// object is sent as a server-side apply dry run, so the API server fills its
// defaults and merges other field managers' fields exactly as the real apply
// would; the answer is compared with the live object. Objects the running
// release has and this one lacks are the ones deploy would prune. Secret values
// never appear: a Secret's keys are reported as added, removed, changed or not.
import { createHash } from 'node:crypto';
import type { Kube } from '../kube/client.js';
import { KubeApiError, describeObject } from '../kube/errors.js';
import { renderService } from '../render/index.js';
import type { KubeObject } from '../render/index.js';
import type { ServiceSpec } from '../spec/index.js';
import { checkKubernetesRules } from '../validate/spec-check.js';
import { current, ReleaseStore } from './store.js';

export interface FieldChange {
  /** Dotted path; list items with a name are addressed by it: containers[app].image */
  path: string;
  /** undefined: the field is added (or removed, for `after`). Secret data: '(hidden)'. */
  before?: unknown;
  after?: unknown;
}

export interface ObjectDiff {
  object: string;
  kind: string;
  namespace?: string;
  name: string;
  action: 'create' | 'update' | 'delete' | 'unchanged';
  changes: FieldChange[];
}

export interface DiffResult {
  objects: ObjectDiff[];
  /** Objects that would change (created, updated or deleted). */
  changed: number;
}

/** Metadata the server maintains; it never says anything about what apply changes. */
const SERVER_METADATA = [
  'managedFields',
  'resourceVersion',
  'generation',
  'uid',
  'creationTimestamp',
  'selfLink',
];

const HIDDEN = '(hidden)';

const kindKey = (o: KubeObject) =>
  `${o.apiVersion.split('/')[0]}|${o.kind}|${o.metadata.namespace ?? ''}|${o.metadata.name}`;

/** What `gantry deploy` of `spec` would change: the same render and checks as deploy. */
export async function diffService(
  kube: Kube,
  spec: ServiceSpec,
  opts: { image?: string; version?: string; secretValues: Record<string, string> },
): Promise<DiffResult> {
  const objects = renderService(spec, {
    ...(opts.image ? { image: opts.image } : {}),
    ...(opts.version ? { version: opts.version } : {}),
    secretValues: opts.secretValues,
  });
  checkKubernetesRules(spec, { secretValues: opts.secretValues });
  const { ObjectValidationError, validateObjects } = await import('../validate/openapi.js');
  const problems = validateObjects(objects);
  if (problems.length) throw new ObjectValidationError(problems);
  return diffObjects(kube, objects, { namespace: spec.namespace, name: spec.name });
}

/**
 * Compares `objects` (as deploy would apply them) with the cluster. `service`
 * names whose running release's objects are candidates for pruning.
 */
export async function diffObjects(
  kube: Kube,
  objects: readonly KubeObject[],
  service: { namespace: string; name: string },
): Promise<DiffResult> {
  const results = await Promise.all(objects.map((o) => diffOne(kube, o)));
  const running = current(await new ReleaseStore(kube, service.namespace, service.name).history());
  const keep = new Set(objects.map(kindKey));
  for (const o of running?.objects ?? []) {
    if (keep.has(kindKey(o))) continue;
    const live = await kube.get<KubeObject>(o);
    if (!live) continue;
    results.push({ ...identity(o), action: 'delete', changes: [] });
  }
  return { objects: results, changed: results.filter((r) => r.action !== 'unchanged').length };
}

function identity(o: KubeObject): Omit<ObjectDiff, 'action' | 'changes'> {
  return {
    object: describeObject(o),
    kind: o.kind,
    ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
    name: o.metadata.name,
  };
}

async function diffOne(kube: Kube, o: KubeObject): Promise<ObjectDiff> {
  const live = await kube.get<KubeObject>(o);
  let after: KubeObject;
  try {
    after = await kube.apply(o, { dryRun: true });
  } catch (err) {
    // A namespace that does not exist yet: deploy creates it, then everything in it.
    if (!live && err instanceof KubeApiError && o.metadata.namespace) {
      if (err.isNamespaceNotFound(o.metadata.namespace)) {
        return { ...identity(o), action: 'create', changes: fieldsOf(o) };
      }
    }
    throw err;
  }
  if (!live) return { ...identity(o), action: 'create', changes: fieldsOf(after) };
  const changes = o.kind === 'Secret' ? secretChanges(live, after) : [];
  compare(normalize(live), normalize(after), '', changes);
  return { ...identity(o), action: changes.length ? 'update' : 'unchanged', changes };
}

function normalize(o: KubeObject): Record<string, unknown> {
  const { status: _status, ...rest } = o as KubeObject & { status?: unknown };
  const metadata = { ...(rest.metadata as Record<string, unknown>) };
  for (const k of SERVER_METADATA) delete metadata[k];
  const out: Record<string, unknown> = { ...rest, metadata };
  // Secret values are compared apart (secretChanges), never as values.
  if (o.kind === 'Secret') {
    delete out.data;
    delete out.stringData;
  }
  return out;
}

/** A new object: no field list (`gantry render` prints it whole); a Secret's keys, values hidden. */
function fieldsOf(o: KubeObject): FieldChange[] {
  if (o.kind !== 'Secret') return [];
  const data = {
    ...(o.data as Record<string, string>),
    ...(o.stringData as Record<string, string>),
  };
  return Object.keys(data)
    .sort()
    .map((k) => ({ path: `data.${k}`, after: HIDDEN }));
}

function secretChanges(live: KubeObject, after: KubeObject): FieldChange[] {
  const digest = (v: string | undefined) =>
    v === undefined ? undefined : createHash('sha256').update(v).digest('hex');
  const a = (live.data ?? {}) as Record<string, string>;
  const b = (after.data ?? {}) as Record<string, string>;
  const out: FieldChange[] = [];
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (digest(a[k]) === digest(b[k])) continue;
    out.push({
      path: `data.${k}`,
      ...(a[k] !== undefined ? { before: HIDDEN } : {}),
      ...(b[k] !== undefined ? { after: HIDDEN } : {}),
    });
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const named = (v: unknown[]): v is { name: string }[] =>
  v.length > 0 &&
  v.every((x) => isObject(x) && typeof x.name === 'string') &&
  new Set(v.map((x) => (x as { name: string }).name)).size === v.length;

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Field-level differences of two JSON values, appended to `out`. */
export function compare(before: unknown, after: unknown, path: string, out: FieldChange[]): void {
  if (isObject(before) && isObject(after)) {
    for (const k of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
      if (!(k in after)) out.push({ path: join(path, k), before: before[k] });
      else if (!(k in before)) out.push({ path: join(path, k), after: after[k] });
      else compare(before[k], after[k], join(path, k), out);
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after) && named(before) && named(after)) {
    const b = new Map(before.map((x) => [x.name, x]));
    const a = new Map(after.map((x) => [x.name, x]));
    for (const name of [...new Set([...b.keys(), ...a.keys()])]) {
      const p = `${path}[${name}]`;
      if (!a.has(name)) out.push({ path: p, before: b.get(name) });
      else if (!b.has(name)) out.push({ path: p, after: a.get(name) });
      else compare(b.get(name), a.get(name), p, out);
    }
    return;
  }
  if (JSON.stringify(before) !== JSON.stringify(after)) {
    out.push({
      path,
      ...(before !== undefined ? { before } : {}),
      ...(after !== undefined ? { after } : {}),
    });
  }
}
