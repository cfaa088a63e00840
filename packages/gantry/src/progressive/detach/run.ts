// The release driver in the cluster (`gantry release drive`, the command the driver's pod
// runs): take the release's lease (waiting while another driver or a terminal holds it),
// drive the stored release as a terminal's gantry would, and when it has ended remove
// itself. A pod that stops (SIGTERM: deleted, evicted, its node drained) leaves the release
// as stored and gives the lease back at once, so its replacement takes over within a
// second; one that dies without a word is taken over when its lease runs out.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kube } from '../../kube/client.js';
import type { KubeObject } from '../../render/index.js';
import { LockedError, acquireLockWaiting } from '../../release/lock.js';
import type { ServiceSpec } from '../../spec/index.js';
import { driveHeld, driverLeaseName } from '../driver.js';
import type { ResolvedValues, RolloutEvent } from '../driver.js';
import { RolloutStore, TERMINAL_PHASES, isActive } from '../state.js';
import { removeOwnDeployment } from './cleanup.js';
import { DRIVER_SECRET_KEYS, driverHolder, driverName } from './objects.js';

export interface DriverRunOptions {
  namespace: string;
  service: string;
  /** This pod's name (the lease holder is named after it). */
  pod: string;
  prometheusUrl: string;
  rolloutTimeoutMs: number;
  actor?: string;
  /** Aborted on SIGTERM: stop driving, leave the release as stored. */
  signal: AbortSignal;
  /** One line of the driver's log (never a secret value). */
  log: (line: string) => void;
  /** How long to wait for another holder of the lease each time (default 10 min). */
  leaseWaitMs?: number;
}

/** Tries (each a lease wait, or a drive that failed) before the process exits and the kubelet restarts it. */
const ATTEMPTS = 30;

async function readHandover(
  kube: Kube,
  namespace: string,
  service: string,
): Promise<{ spec: ServiceSpec; values: ResolvedValues } | undefined> {
  const secret = await kube.get<KubeObject & { data?: Record<string, string> }>({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: driverName(service), namespace },
  });
  const decode = (k: string) => {
    const v = secret?.data?.[k];
    return v === undefined
      ? undefined
      : (JSON.parse(Buffer.from(v, 'base64').toString('utf8')) as unknown);
  };
  const spec = decode(DRIVER_SECRET_KEYS.spec) as ServiceSpec | undefined;
  const values = decode(DRIVER_SECRET_KEYS.values) as ResolvedValues | undefined;
  return spec && values ? { spec, values } : undefined;
}

function eventLine(e: RolloutEvent): string {
  if (e.type === 'decision') {
    const d = e.decision;
    return (
      `judge (step ${e.step + 1}): ${d.verdict.toUpperCase()} ` +
      `(${d.inconclusive ? 'inconclusive; ' : ''}confidence ${(d.confidence * 100).toFixed(1)}%): ${d.summary}`
    );
  }
  if (e.type === 'stage') return `==> ${e.message}`;
  if (e.type === 'warning') return `warning: ${e.message}`;
  return `    ${e.message}`;
}

/** Runs the driver; resolves to the process exit code. */
export async function runDriver(kube: Kube, opts: DriverRunOptions): Promise<number> {
  const { namespace, service, signal, log } = opts;
  const store = new RolloutStore(kube, namespace, service);
  const holder = driverHolder(opts.pod);
  for (let attempt = 1; attempt <= ATTEMPTS && !signal.aborted; attempt++) {
    const handover = await readHandover(kube, namespace, service);
    if (!handover) {
      // Its Secret is gone: the driver is being removed (its release ended).
      const s = (await store.read())?.state;
      log(`no handover Secret ${driverName(service)}; release ${s?.phase ?? 'not recorded'}`);
      return isActive(s) ? 1 : await finish(kube, opts);
    }
    let lock;
    try {
      lock = await acquireLockWaiting(kube, namespace, driverLeaseName(service), {
        holder,
        waitMs: opts.leaseWaitMs ?? 600_000,
        pollMs: 250,
        onWait: (err) => log(`waiting for the release lease: ${err.message.split(';')[0]}`),
      });
    } catch (err) {
      if (!(err instanceof LockedError)) throw err;
      log(`the release lease is still held: ${err.message.split(';')[0]}`);
      continue;
    }
    log(
      `holds the release lease as "${holder}"` +
        (lock.tookOverFrom
          ? ` (took over from ${lock.tookOverFrom}: ${lock.tookOverBecause})`
          : ''),
    );
    let state;
    try {
      state = await driveHeld(kube, namespace, service, lock, {
        spec: handover.spec,
        values: handover.values,
        prometheusUrl: opts.prometheusUrl,
        rolloutTimeoutMs: opts.rolloutTimeoutMs,
        ...(opts.actor ? { actor: opts.actor } : {}),
        signal,
        onEvent: (e) => log(eventLine(e)),
      });
    } catch (err) {
      log(
        `error: ${err instanceof Error ? err.message : String(err)} (attempt ${attempt}/${ATTEMPTS})`,
      );
      await lock.release();
      log('released the release lease');
      await sleep(2000, undefined, { signal }).catch(() => undefined);
      continue;
    }
    await lock.release();
    log('released the release lease');
    if (signal.aborted) {
      log('stopping: the release stays as stored for the next driver');
      return 0;
    }
    if (!state || TERMINAL_PHASES.includes(state.phase)) {
      log(
        `the release ended: ${state?.phase ?? 'not recorded'}${state?.message ? ` (${state.message})` : ''}`,
      );
      return finish(kube, opts);
    }
  }
  return signal.aborted ? 0 : 1;
}

/** Removes the driver (its Deployment, and with it the rest), then waits to be stopped. */
async function finish(kube: Kube, opts: DriverRunOptions): Promise<number> {
  if (await removeOwnDeployment(kube, opts.namespace, opts.service)) {
    opts.log(`removed the driver ${opts.namespace}/${driverName(opts.service)}`);
  }
  // Exiting now would have the kubelet start the container again until the pod is gone.
  await sleep(60_000, undefined, { signal: opts.signal }).catch(() => undefined);
  return 0;
}
