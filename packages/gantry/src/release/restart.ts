// gantry restart as a library: every pod of a service replaced by a rolling update
// (a new annotation on the pod template), under the service's lock, waited for. The CLI
// command and the console's Restart action both call restartService.
import type { Kube } from '../kube/client.js';
import { waitForRollout } from '../kube/rollout.js';
import type { RolloutResult } from '../kube/rollout.js';
import { acquireLockWaiting } from './lock.js';
import type { LockedError } from './lock.js';

export interface RestartOptions {
  timeoutMs: number;
  lockWaitMs: number;
  /** Who holds the service's lock (default: this user, host and pid). */
  holder?: string;
  onWait?: (e: LockedError) => void;
  onProgress?: (message: string) => void;
}

export async function restartService(
  kube: Kube,
  service: { namespace: string; name: string },
  opts: RestartOptions,
): Promise<RolloutResult> {
  const { namespace, name } = service;
  const lock = await acquireLockWaiting(kube, namespace, name, {
    waitMs: opts.lockWaitMs,
    ...(opts.holder ? { holder: opts.holder } : {}),
    ...(opts.onWait ? { onWait: opts.onWait } : {}),
  });
  try {
    // Its own field manager: the annotation only, the rest of the Deployment untouched.
    await kube.apply(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name, namespace },
        spec: {
          template: {
            metadata: {
              annotations: { 'gantry.dev/restartedAt': new Date().toISOString() },
            },
          },
        },
      },
      { fieldManager: 'gantry-restart' },
    );
    return await waitForRollout(kube, namespace, name, {
      timeoutMs: opts.timeoutMs,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
  } finally {
    await lock.release();
  }
}
