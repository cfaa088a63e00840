// gantry rollback as a library: re-apply an earlier revision as a new one, under the
// service's lock, recorded like a deploy. The CLI command and the console's Rollback
// action both call rollbackService.
import type { Kube } from '../kube/client.js';
import { assertNoActiveRelease } from '../progressive/state.js';
import { applyRelease } from './deploy.js';
import type { DeployEvent, DeployResult } from './deploy.js';
import { acquireLockWaiting } from './lock.js';
import { ReleaseStore, current } from './store.js';

/** No such revision, or no earlier good one: nothing was changed. */
export class RollbackTargetError extends Error {
  override name = 'RollbackTargetError';
}

export interface RollbackOptions {
  /** The revision to return to (default: the newest superseded one before the current). */
  revision?: number;
  timeoutMs: number;
  lockWaitMs: number;
  /** Who holds the service's lock (default: this user, host and pid). */
  holder?: string;
  emit?: (e: DeployEvent) => void;
}

export async function rollbackService(
  kube: Kube,
  service: { namespace: string; name: string },
  opts: RollbackOptions,
): Promise<DeployResult> {
  const { namespace, name } = service;
  const emit = opts.emit ?? (() => undefined);
  await assertNoActiveRelease(kube, namespace, name);
  const store = new ReleaseStore(kube, namespace, name);
  const lock = await acquireLockWaiting(kube, namespace, name, {
    waitMs: opts.lockWaitMs,
    ...(opts.holder ? { holder: opts.holder } : {}),
    onWait: (e) => emit({ type: 'progress', message: `waiting: ${e.message.split(';')[0]}` }),
  });
  try {
    const history = await store.history();
    const cur = current(history);
    const target =
      opts.revision !== undefined
        ? history.find((r) => r.revision === opts.revision)
        : history.find((r) => r.status === 'superseded' && (!cur || r.revision < cur.revision));
    if (!target)
      throw new RollbackTargetError(
        opts.revision !== undefined
          ? `no revision ${opts.revision} of ${name}`
          : `${name} has no earlier good revision`,
      );
    const started = Date.now();
    const revision = (history[0]?.revision ?? 0) + 1;
    emit({
      type: 'stage',
      stage: 'rollback',
      message: `re-applying revision ${target.revision} as revision ${revision}`,
    });
    const record = {
      ...target,
      revision,
      status: 'pending' as const,
      rollbackOf: target.revision,
      actor: lock.holder,
      startedAt: new Date().toISOString(),
    };
    delete record.finishedAt;
    await store.save(record);
    const r = await applyRelease(kube, target, cur?.objects ?? [], {
      timeoutMs: opts.timeoutMs,
      emit,
    });
    const done = {
      ...record,
      status: r.ok ? ('deployed' as const) : ('failed' as const),
      finishedAt: new Date().toISOString(),
      message: r.ok ? `rollback to ${target.revision}: ${r.message}` : `${r.reason}: ${r.message}`,
    };
    await store.save(done);
    if (r.ok && cur) await store.save({ ...cur, status: 'superseded' });
    return {
      ok: r.ok,
      revision,
      status: done.status,
      elapsedMs: Date.now() - started,
      message: done.message,
      rollout: r,
    };
  } finally {
    await lock.release();
  }
}
