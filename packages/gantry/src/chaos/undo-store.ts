// The undo record store: one ConfigMap per record in the chaos namespace, named
// by the record's id and labelled for lookup (UNDO_LABEL, the experiment, the
// node). The encoding is shared with the agent (agent/record.ts), which reports
// 'injected' and the real expiry with a merge patch and deletes the record once
// everything it lists is back.
import { randomBytes } from 'node:crypto';
import type { Kube } from '../kube/client.js';
import { RECORD_KEY, recordFromConfigMap } from './agent/record.js';
import type { RecordConfigMap } from './agent/record.js';
import { CHAOS_NAMESPACE, UNDO_LABEL } from './undo.js';
import type { UndoRecord } from './undo.js';

export const EXPERIMENT_LABEL = 'gantry.dev/chaos-experiment';
export const KIND_LABEL = 'gantry.dev/chaos-kind';
export const NODE_LABEL = 'gantry.dev/chaos-node';

/** A new record id: the kind (shortened) and 8 random hex digits; a DNS label. */
export function newRecordId(kind: string): string {
  const k = kind
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 40)
    .replace(/-+$/, '');
  return `${k}-${randomBytes(4).toString('hex')}`;
}

const labelValue = (s: string) =>
  s
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');

const ref = (id: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: id, namespace: CHAOS_NAMESPACE },
});

/** Writes a new record (fails when one of that id exists); `labels` besides the lookup ones. */
export async function writeRecord(
  kube: Kube,
  rec: UndoRecord,
  labels: Record<string, string> = {},
): Promise<void> {
  await kube.create({
    ...ref(rec.id),
    metadata: {
      ...ref(rec.id).metadata,
      labels: {
        [UNDO_LABEL]: 'true',
        [EXPERIMENT_LABEL]: labelValue(rec.experiment),
        [KIND_LABEL]: labelValue(rec.kind),
        ...(rec.node ? { [NODE_LABEL]: labelValue(rec.node.name) } : {}),
        ...labels,
      },
    },
    data: { [RECORD_KEY]: JSON.stringify(rec), state: rec.state },
  });
}

export async function readRecord(kube: Kube, id: string): Promise<UndoRecord | undefined> {
  const cm = await kube.get<RecordConfigMap>(ref(id));
  return cm ? recordFromConfigMap(cm) : undefined;
}

/** The error a helper wrote on the record before it gave up, if any. */
export async function recordError(kube: Kube, id: string): Promise<string | undefined> {
  const cm = await kube.get<RecordConfigMap>(ref(id));
  return cm?.data?.error;
}

/** Every record (of one experiment); none when the chaos namespace does not exist. */
export async function listRecords(
  kube: Kube,
  opts: { experiment?: string } = {},
): Promise<UndoRecord[]> {
  const selector = [
    `${UNDO_LABEL}=true`,
    ...(opts.experiment ? [`${EXPERIMENT_LABEL}=${labelValue(opts.experiment)}`] : []),
  ].join(',');
  let items: RecordConfigMap[];
  try {
    items = await kube.list<RecordConfigMap>('v1', 'ConfigMap', CHAOS_NAMESPACE, {
      labelSelector: selector,
    });
  } catch (err) {
    if ((err as { status?: number }).status === 404) return [];
    throw err;
  }
  return items
    .map(recordFromConfigMap)
    .filter((r): r is UndoRecord => r !== undefined)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Sets the record's state (and its expiry); read, change, replace, retried on a conflict. */
export async function setRecordState(
  kube: Kube,
  id: string,
  state: UndoRecord['state'],
  expiresAt?: Date,
): Promise<void> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const cm = await kube.get<RecordConfigMap & { apiVersion: string; kind: string }>(ref(id));
    if (!cm) return;
    try {
      await kube.replace({
        ...cm,
        metadata: { ...cm.metadata, name: id, namespace: CHAOS_NAMESPACE },
        data: { ...cm.data, state, ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}) },
      });
      return;
    } catch (err) {
      if ((err as { status?: number }).status !== 409) throw err;
    }
  }
}

/** Deletes a record; true when it existed. */
export async function deleteRecord(kube: Kube, id: string): Promise<boolean> {
  return kube.delete(ref(id));
}
