// Release records: one Secret per revision in the service's namespace, holding
// the gzip-compressed release (rendered objects with secret values replaced by
// their hashes). Labels make revisions listable without decoding them.
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { KubeObject } from '../render/index.js';

export type ReleaseStatus = 'pending' | 'deployed' | 'superseded' | 'failed' | 'interrupted';

export interface ReleaseRecord {
  service: string;
  namespace: string;
  revision: number;
  status: ReleaseStatus;
  /** sha256 of the validated spec (with defaults). */
  specDigest: string;
  image: string;
  version?: string;
  /** Rendered objects; Secret `data` is empty and the hashes below stand for it. */
  objects: KubeObject[];
  /** sha256 of each secret value, by key. Values are never stored. */
  secretHashes: Record<string, string>;
  actor: string;
  startedAt: string;
  finishedAt?: string;
  message?: string;
  /** Set when this revision re-applied an earlier one (gantry rollback). */
  rollbackOf?: number;
}

export const RELEASE_TYPE = 'gantry.dev/release.v1';
export const LABEL_RELEASE_OF = 'gantry.dev/release-of';
export const LABEL_REVISION = 'gantry.dev/revision';
export const LABEL_STATUS = 'gantry.dev/status';

export function releaseSecretName(service: string, revision: number): string {
  return `gantry.release.${service}.v${revision}`;
}

export function sha256(data: string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Replaces Secret values with nothing and returns their hashes. */
export function stripSecretValues(objects: readonly KubeObject[]): {
  objects: KubeObject[];
  secretHashes: Record<string, string>;
} {
  const secretHashes: Record<string, string> = {};
  const out = objects.map((o) => {
    if (o.kind !== 'Secret') return o;
    const data = (o.data ?? {}) as Record<string, string>;
    for (const [k, v] of Object.entries(data)) {
      secretHashes[k] = sha256(Buffer.from(v, 'base64').toString('utf8'));
    }
    return { ...o, data: {} };
  });
  return { objects: out, secretHashes };
}

export function encodeRelease(r: ReleaseRecord): KubeObject {
  const payload = gzipSync(Buffer.from(JSON.stringify(r), 'utf8'), { level: 9 }).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: releaseSecretName(r.service, r.revision),
      namespace: r.namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'gantry',
        [LABEL_RELEASE_OF]: r.service,
        [LABEL_REVISION]: String(r.revision),
        [LABEL_STATUS]: r.status,
      },
    },
    type: RELEASE_TYPE,
    data: { release: payload },
  };
}

export function decodeRelease(secret: { data?: Record<string, string> }): ReleaseRecord {
  const payload = secret.data?.release;
  if (!payload) throw new Error('release record has no data');
  return JSON.parse(gunzipSync(Buffer.from(payload, 'base64')).toString('utf8')) as ReleaseRecord;
}
