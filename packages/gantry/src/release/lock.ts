// A per-service lock on a coordination.k8s.io Lease. The holder renews it while
// it works; a killed holder stops renewing, the lease expires, and the next
// command takes over and reconciles. No release can stay stuck.
import { hostname, userInfo } from 'node:os';
import type { V1Lease } from '@kubernetes/client-node';
import { KubeApiError } from '../kube/errors.js';
import type { Kube } from '../kube/client.js';
import type { KubeObject } from '../render/index.js';

export const LOCK_TTL_SECONDS = 15;

export class LockedError extends Error {
  override name = 'LockedError';
  constructor(
    readonly holder: string,
    readonly since: string,
  ) {
    super(`locked by ${holder} since ${since}`);
  }
}

export interface Lock {
  holder: string;
  /** The previous holder whose lease had expired, if this lock took it over. */
  tookOverFrom?: string;
  /** Aborted when the lease could not be renewed (another holder may act). */
  lost: AbortSignal;
  release(): Promise<void>;
}

export function defaultHolder(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep "unknown"
  }
  return `${user}@${hostname()} pid ${process.pid}`;
}

const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export async function acquireLock(
  kube: Kube,
  namespace: string,
  service: string,
  holder = defaultHolder(),
  ttlSeconds = LOCK_TTL_SECONDS,
): Promise<Lock> {
  const name = `gantry-lock-${service}`;
  const now = new Date();
  const lease = (resourceVersion?: string): V1Lease => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'gantry' },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    spec: {
      holderIdentity: holder,
      leaseDurationSeconds: ttlSeconds,
      acquireTime: microTime(now) as unknown as Date,
      renewTime: microTime(now) as unknown as Date,
    },
  });

  let current: V1Lease;
  let tookOverFrom: string | undefined;
  try {
    current = await kube.create(lease() as unknown as KubeObject);
  } catch (err) {
    if (!(err instanceof KubeApiError) || err.status !== 409) throw err;
    const existing = await kube.get<V1Lease>({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace },
    });
    if (!existing) return acquireLock(kube, namespace, service, holder, ttlSeconds);
    const other = existing.spec?.holderIdentity;
    const renewed = existing.spec?.renewTime ? new Date(existing.spec.renewTime).getTime() : 0;
    const ttl = (existing.spec?.leaseDurationSeconds ?? ttlSeconds) * 1000;
    if (other && renewed + ttl > Date.now()) {
      const since = existing.spec?.acquireTime
        ? new Date(existing.spec.acquireTime).toISOString()
        : 'unknown';
      throw new LockedError(other, since);
    }
    try {
      current = await kube.replace(
        lease(existing.metadata?.resourceVersion) as unknown as KubeObject,
      );
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 409) {
        // Someone else took it over between our read and write.
        return acquireLock(kube, namespace, service, holder, ttlSeconds);
      }
      throw e;
    }
    tookOverFrom = other || undefined;
  }

  const lost = new AbortController();
  let released = false;
  let renewing: Promise<void> | undefined;
  const renew = async () => {
    const next = structuredClone(current);
    next.spec = { ...next.spec, renewTime: microTime(new Date()) as unknown as Date };
    current = await kube.replace(next as unknown as KubeObject);
  };
  const timer = setInterval(
    () => {
      renewing ??= renew()
        .catch(() => {
          if (!released) lost.abort(new Error(`lost the lock on ${service}: lease renewal failed`));
        })
        .finally(() => (renewing = undefined));
    },
    Math.max(1000, (ttlSeconds * 1000) / 3),
  );
  timer.unref();

  return {
    holder,
    ...(tookOverFrom ? { tookOverFrom } : {}),
    lost: lost.signal,
    async release() {
      released = true;
      clearInterval(timer);
      await renewing;
      // Only the lease as this holder last wrote it: after a lapse (a stalled process, a
      // lost renewal) another gantry may have taken it over, and its lock must stay. A
      // release that fails leaves the lease to expire.
      const { uid, resourceVersion } = current.metadata ?? {};
      await kube
        .delete(current as unknown as KubeObject, {
          ...(uid ? { uid } : {}),
          ...(resourceVersion ? { resourceVersion } : {}),
        })
        .catch(() => undefined);
    },
  };
}
