// Reading and writing release records in the cluster.
import type { Kube } from '../kube/client.js';
import { LABEL_RELEASE_OF, decodeRelease, encodeRelease, releaseSecretName } from './record.js';
import type { ReleaseRecord } from './record.js';

/** Revisions kept per service; older records are deleted. */
export const HISTORY_LIMIT = 20;

export class ReleaseStore {
  constructor(
    private readonly kube: Kube,
    readonly namespace: string,
    readonly service: string,
  ) {}

  /** Every recorded revision, newest first. */
  async history(): Promise<ReleaseRecord[]> {
    const secrets = await this.kube.list<{ data?: Record<string, string> }>(
      'v1',
      'Secret',
      this.namespace,
      { labelSelector: `${LABEL_RELEASE_OF}=${this.service}` },
    );
    return secrets.map(decodeRelease).sort((a, b) => b.revision - a.revision);
  }

  async get(revision: number): Promise<ReleaseRecord | undefined> {
    const s = await this.kube.get<{ data?: Record<string, string> }>({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: releaseSecretName(this.service, revision), namespace: this.namespace },
    });
    return s ? decodeRelease(s) : undefined;
  }

  async save(r: ReleaseRecord): Promise<void> {
    await this.kube.apply(encodeRelease(r));
  }

  async prune(history: readonly ReleaseRecord[]): Promise<void> {
    for (const old of history.slice(HISTORY_LIMIT)) {
      await this.kube.delete(encodeRelease(old));
    }
  }
}

/** The release the cluster currently runs: the newest "deployed" revision. */
export function current(history: readonly ReleaseRecord[]): ReleaseRecord | undefined {
  return history.find((r) => r.status === 'deployed');
}
