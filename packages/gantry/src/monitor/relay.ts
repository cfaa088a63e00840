// The alert relay's channels, kept in one Kubernetes Secret (default
// gantry-system/alert-relay-channels) with one key per service,
// `<namespace>.<service>.json`, holding that service's relayChannels() entries.
// Services never overwrite each other: each apply reads the Secret, changes only its
// own key and writes it back with the resourceVersion it read (optimistic concurrency:
// a concurrent writer makes the API server answer 409, and the change is redone on
// the fresh object). The relay merges every key's entries. Values are never printed.
import { KubeApiError } from '../kube/client.js';
import type { Kube } from '../kube/client.js';
import type { ServiceSpec } from '../spec/index.js';
import type { RelayEntry } from './receivers.js';

export const RELAY_SECRET = { namespace: 'gantry-system', name: 'alert-relay-channels' };

export interface RelaySecretRef {
  namespace: string;
  name: string;
}

export function relaySecretKey(spec: Pick<ServiceSpec, 'namespace' | 'name'>): string {
  return `${spec.namespace}.${spec.name}.json`;
}

type SecretObject = {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
  };
  type?: string;
  data?: Record<string, string>;
};

/**
 * Puts the service's entries under its key (or, with `entries` undefined or empty,
 * removes the key). Resolves to what happened; never includes values.
 */
export async function writeRelayChannels(
  kube: Pick<Kube, 'get' | 'create' | 'replace'>,
  spec: Pick<ServiceSpec, 'namespace' | 'name'>,
  entries: Record<string, RelayEntry> | undefined,
  ref: RelaySecretRef = RELAY_SECRET,
): Promise<{ secret: string; key: string; action: 'written' | 'unchanged' | 'removed' | 'none' }> {
  const key = relaySecretKey(spec);
  const secret = `${ref.namespace}/${ref.name}`;
  const value =
    entries && Object.keys(entries).length
      ? Buffer.from(`${JSON.stringify(entries, null, 2)}\n`).toString('base64')
      : undefined;
  for (let attempt = 0; ; attempt++) {
    const cur = await kube.get<SecretObject>({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: ref,
    });
    try {
      if (!cur) {
        if (value === undefined) return { secret, key, action: 'none' };
        await kube.create<SecretObject>({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: {
            ...ref,
            labels: {
              'app.kubernetes.io/name': 'alert-relay',
              'app.kubernetes.io/managed-by': 'gantry',
            },
          },
          type: 'Opaque',
          data: { [key]: value },
        });
        return { secret, key, action: 'written' };
      }
      const data = { ...(cur.data ?? {}) };
      if (data[key] === value) return { secret, key, action: value ? 'unchanged' : 'none' };
      if (value === undefined) delete data[key];
      else data[key] = value;
      await kube.replace<SecretObject>({ ...cur, data });
      return { secret, key, action: value ? 'written' : 'removed' };
    } catch (err) {
      // 409: another service wrote first (stale resourceVersion, or created it): redo.
      if (err instanceof KubeApiError && err.status === 409 && attempt < 10) continue;
      if (err instanceof KubeApiError && err.isNamespaceNotFound(ref.namespace)) {
        throw new Error(
          `namespace ${ref.namespace} does not exist: install the alert relay first, or give --relay-secret NAMESPACE/NAME`,
        );
      }
      throw err;
    }
  }
}
