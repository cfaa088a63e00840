// A per-service lock on a coordination.k8s.io Lease. The holder renews it while
// it works; a killed holder stops renewing, the lease expires, and the next
// command takes over and reconciles. No release can stay stuck. A holder that
// is gone from this very machine (same boot, same PID namespace, its process no
// longer there) is taken over at once instead of after the lease runs out.
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
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
    /** When the lease runs out unless its holder renews it (ISO time), if known. */
    readonly expiresAt?: string,
  ) {
    super(
      `locked by ${holder} since ${since}` +
        (expiresAt
          ? `; the lease expires at ${expiresAt} unless its holder renews it (a live holder renews` +
            ` every few seconds until it is done); --wait[=DURATION] waits for it`
          : ''),
    );
  }
}

/**
 * Who holds a lease, as a process on a machine: written into the lease's annotations so
 * a gantry on the same machine can tell a holder that is gone from one that is working.
 */
interface ProcessIdentity {
  bootId: string;
  pidNamespace: string;
  pid: number;
  /** The process' start time in clock ticks since boot (/proc/PID/stat field 22): guards PID reuse. */
  startTicks: string;
}

const ANN = {
  boot: 'gantry.dev/holder-boot-id',
  pidns: 'gantry.dev/holder-pid-namespace',
  pid: 'gantry.dev/holder-pid',
  start: 'gantry.dev/holder-start-ticks',
} as const;

function startTicksOf(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19]; // field 22 overall: starttime
  } catch {
    return undefined;
  }
}

let self: ProcessIdentity | null | undefined;
/** This process' identity, or null where /proc cannot tell it (not Linux). */
function selfIdentity(): ProcessIdentity | null {
  if (self !== undefined) return self;
  try {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const pidNamespace = readlinkSync('/proc/self/ns/pid');
    const startTicks = startTicksOf('self');
    self = bootId && startTicks ? { bootId, pidNamespace, pid: process.pid, startTicks } : null;
  } catch {
    self = null;
  }
  return self;
}

/**
 * True only when the lease's holder certainly no longer runs: it ran on this machine since
 * its last boot, in this PID namespace, and its PID is free or now names another process.
 */
export function holderIsGone(annotations: Record<string, string> | undefined): boolean {
  const me = selfIdentity();
  if (!me || !annotations) return false;
  const pid = Number(annotations[ANN.pid]);
  if (
    annotations[ANN.boot] !== me.bootId ||
    annotations[ANN.pidns] !== me.pidNamespace ||
    !Number.isInteger(pid) ||
    pid <= 0
  ) {
    return false;
  }
  const ticks = startTicksOf(pid);
  return ticks === undefined || ticks !== annotations[ANN.start];
}

export interface Lock {
  holder: string;
  /** The previous holder whose lease had expired (or whose process is gone), if taken over. */
  tookOverFrom?: string;
  /** Why it was taken over: its lease had run out, or its process on this machine is gone. */
  tookOverBecause?: 'expired' | 'holder-gone';
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
  const identity = selfIdentity();
  const lease = (resourceVersion?: string): V1Lease => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'gantry' },
      ...(identity
        ? {
            annotations: {
              [ANN.boot]: identity.bootId,
              [ANN.pidns]: identity.pidNamespace,
              [ANN.pid]: String(identity.pid),
              [ANN.start]: identity.startTicks,
            },
          }
        : {}),
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
  let tookOverBecause: Lock['tookOverBecause'];
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
    const live = renewed + ttl > Date.now();
    if (other && live && !holderIsGone(existing.metadata?.annotations)) {
      const since = existing.spec?.acquireTime
        ? new Date(existing.spec.acquireTime).toISOString()
        : 'unknown';
      throw new LockedError(
        other,
        since,
        renewed ? new Date(renewed + ttl).toISOString() : undefined,
      );
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
    tookOverBecause = live ? 'holder-gone' : 'expired';
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
    ...(tookOverFrom ? { tookOverFrom, tookOverBecause } : {}),
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

/**
 * acquireLock, waiting up to `waitMs` while another holder has it: tried again when its
 * lease would run out (or every `pollMs` at most, to catch a release early).
 */
export async function acquireLockWaiting(
  kube: Kube,
  namespace: string,
  service: string,
  opts: {
    waitMs: number;
    holder?: string;
    ttlSeconds?: number;
    pollMs?: number;
    onWait?: (err: LockedError) => void;
  },
): Promise<Lock> {
  const deadline = Date.now() + opts.waitMs;
  let told = '';
  for (;;) {
    try {
      return await acquireLock(kube, namespace, service, opts.holder, opts.ttlSeconds);
    } catch (err) {
      if (!(err instanceof LockedError) || Date.now() >= deadline) throw err;
      if (err.holder !== told) {
        told = err.holder;
        opts.onWait?.(err);
      }
      const expires = err.expiresAt ? Date.parse(err.expiresAt) : NaN;
      const untilExpiry = Number.isFinite(expires) ? expires - Date.now() + 50 : Infinity;
      await sleep(Math.max(50, Math.min(opts.pollMs ?? 1000, untilExpiry, deadline - Date.now())));
    }
  }
}
