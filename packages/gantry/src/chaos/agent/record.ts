// How an undo record is kept in its ConfigMap, shared by the CLI's store
// (undo-store.ts) and the agent: the record as JSON under `record.json`, its
// state under `state` (so the helper can report "injected" with one merge
// patch), and once in effect the moment it ends under `expiresAt`.
import type { UndoRecord } from '../undo.js';

export const RECORD_KEY = 'record.json';

export interface RecordConfigMap {
  metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

export function recordFromConfigMap(cm: RecordConfigMap): UndoRecord | undefined {
  const raw = cm.data?.[RECORD_KEY];
  if (!raw) return undefined;
  try {
    const rec = JSON.parse(raw) as UndoRecord;
    const state = cm.data?.state;
    if (state === 'planned' || state === 'injected' || state === 'reverting') rec.state = state;
    if (cm.data?.expiresAt) rec.expiresAt = cm.data.expiresAt;
    return rec;
  } catch {
    return undefined;
  }
}

/** The ConfigMap path of a record (the ConfigMap's name is the record's id). */
export const recordPath = (namespace: string, id: string) =>
  `/api/v1/namespaces/${namespace}/configmaps/${id}`;
