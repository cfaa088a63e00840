// Two recorded revisions of a service compared field by field: the objects each release
// record holds (as rendered), matched by kind and name, compared with the same field walk
// as `gantry diff` (release/diff.ts: compare). Secret values are not in the records (only
// their sha256, per key), and nothing about them leaves the server but "changed" or
// "unchanged".
import type { KubeObject } from '../render/index.js';
import { compare } from '../release/diff.js';
import type { FieldChange } from '../release/diff.js';
import type { ReleaseRecord } from '../release/record.js';
import type { RevisionDiff } from './view-types.js';

const objectKey = (o: KubeObject) =>
  `${o.apiVersion.split('/')[0]}|${o.kind}|${o.metadata.namespace ?? ''}|${o.metadata.name}`;

const HIDDEN = '(hidden)';

/** A value as the page shows it: JSON text, long ones cut. */
function shown(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v, null, 1);
  return s.length > 2000 ? `${s.slice(0, 1999)}…` : s;
}

/** The fields of an object that say what it is, without a Secret's data (values are not compared here). */
function comparable(o: KubeObject): Record<string, unknown> {
  if (o.kind !== 'Secret') return o;
  const {
    data: _d,
    stringData: _s,
    ...rest
  } = o as KubeObject & {
    data?: unknown;
    stringData?: unknown;
  };
  return rest;
}

function summary(r: ReleaseRecord): RevisionDiff['from'] {
  return {
    revision: r.revision,
    image: r.image,
    ...(r.version ? { version: r.version } : {}),
    status: r.status,
    startedAt: r.startedAt,
  };
}

export function revisionDiff(from: ReleaseRecord, to: ReleaseRecord): RevisionDiff {
  const before = new Map(from.objects.map((o) => [objectKey(o), o]));
  const after = new Map(to.objects.map((o) => [objectKey(o), o]));
  const objects: RevisionDiff['objects'] = [];
  const secretKeys = [
    ...new Set([...Object.keys(from.secretHashes), ...Object.keys(to.secretHashes)]),
  ].sort();
  const secrets = secretKeys.map((key) => {
    const a = from.secretHashes[key];
    const b = to.secretHashes[key];
    const state: RevisionDiff['secrets'][number]['state'] =
      a === undefined ? 'added' : b === undefined ? 'removed' : a === b ? 'unchanged' : 'changed';
    return { key, state };
  });
  const secretFields = secrets
    .filter((s) => s.state !== 'unchanged')
    .map((s) => ({
      path: `data.${s.key}`,
      ...(s.state !== 'added' ? { before: HIDDEN } : {}),
      ...(s.state !== 'removed' ? { after: HIDDEN } : {}),
    }));
  let secretsShown = false;
  for (const k of [...new Set([...before.keys(), ...after.keys()])]) {
    const a = before.get(k);
    const b = after.get(k);
    const o = (b ?? a)!;
    const id = {
      object: `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`,
      kind: o.kind,
      name: o.metadata.name,
    };
    if (!a || !b) {
      objects.push({ ...id, change: a ? 'removed' : 'added', fields: [] });
      continue;
    }
    const changes: FieldChange[] = [];
    compare(comparable(a), comparable(b), '', changes);
    const fields = changes.map((c) => ({
      path: c.path,
      ...(c.before !== undefined ? { before: shown(c.before)! } : {}),
      ...(c.after !== undefined ? { after: shown(c.after)! } : {}),
    }));
    // The record keeps one set of secret hashes for the service (keys of its Secret): shown
    // once, on the first Secret.
    if (o.kind === 'Secret' && !secretsShown) {
      fields.push(...secretFields);
      secretsShown = true;
    }
    objects.push({ ...id, change: fields.length ? 'changed' : 'unchanged', fields });
  }
  const order = { changed: 0, added: 1, removed: 2, unchanged: 3 };
  objects.sort((x, y) => order[x.change] - order[y.change] || x.object.localeCompare(y.object));
  return {
    namespace: to.namespace,
    name: to.service,
    from: summary(from),
    to: summary(to),
    objects,
    secrets,
  };
}
