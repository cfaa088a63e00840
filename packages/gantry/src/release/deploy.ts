// gantry deploy: validate -> record -> apply -> wait -> (prune | roll back).
// The cluster is never left between releases: a failed rollout returns to the
// last good revision with its own time budget, and a killed deploy is
// reconciled by the next command (its lock expires, its record is marked).
import type { ServiceSpec } from '../spec/index.js';
import { renderService } from '../render/index.js';
import type { KubeObject } from '../render/index.js';
import { describeObject } from '../kube/errors.js';
import type { Kube } from '../kube/client.js';
import { waitForRollout } from '../kube/rollout.js';
import type { RolloutResult } from '../kube/rollout.js';
import { acquireLock, defaultHolder } from './lock.js';
import { sha256, stripSecretValues } from './record.js';
import type { ReleaseRecord } from './record.js';
import { ReleaseStore, current } from './store.js';

export type DeployEvent =
  | { type: 'stage'; stage: string; message: string }
  | { type: 'progress'; message: string }
  | { type: 'applied'; object: string }
  | { type: 'pruned'; object: string }
  | { type: 'warning'; message: string };

export interface DeployOptions {
  image?: string;
  version?: string;
  secretValues: Readonly<Record<string, string>>;
  timeoutMs: number;
  /** Return to the last good release when the rollout fails (default true). */
  autoRollback?: boolean;
  rollbackTimeoutMs?: number;
  actor?: string;
  onEvent?: (e: DeployEvent) => void;
}

export interface DeployResult {
  ok: boolean;
  revision: number;
  status: ReleaseRecord['status'];
  elapsedMs: number;
  message: string;
  rollout?: RolloutResult;
  /** Revision the service runs after a failed deploy was rolled back, if any. */
  rolledBackTo?: number;
}

const kindKey = (o: KubeObject) =>
  `${o.apiVersion.split('/')[0]}|${o.kind}|${o.metadata.namespace ?? ''}|${o.metadata.name}`;

export async function deploy(
  kube: Kube,
  spec: ServiceSpec,
  opts: DeployOptions,
): Promise<DeployResult> {
  const started = Date.now();
  const emit = opts.onEvent ?? (() => undefined);
  const store = new ReleaseStore(kube, spec.namespace, spec.name);

  emit({
    type: 'stage',
    stage: 'validate',
    message: 'rendering and checking objects (server-side dry run)',
  });
  const objects = renderService(spec, {
    ...(opts.image ? { image: opts.image } : {}),
    ...(opts.version ? { version: opts.version } : {}),
    secretValues: opts.secretValues,
  });
  const { ObjectValidationError, validateObjects } = await import('../validate/openapi.js');
  const problems = validateObjects(objects);
  if (problems.length) throw new ObjectValidationError(problems);
  await ensureNamespace(kube, spec.namespace);
  // The dry run and the lock are independent round trips: run them together.
  const locking = acquireLock(kube, spec.namespace, spec.name, opts.actor ?? defaultHolder());
  locking.catch(() => undefined); // observed below; never an unhandled rejection meanwhile
  const dryRun = await Promise.allSettled(objects.map((o) => kube.apply(o, { dryRun: true })));
  const rejected = dryRun.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) {
    await locking.then((l) => l.release()).catch(() => undefined);
    throw rejected.reason;
  }
  emit({ type: 'stage', stage: 'lock', message: `locking ${spec.namespace}/${spec.name}` });
  const lock = await locking;
  if (lock.tookOverFrom) {
    emit({ type: 'warning', message: `took over an expired lock held by ${lock.tookOverFrom}` });
  }
  try {
    let history = await store.history();
    history = await reconcileInterrupted(store, history, emit);
    const previous = current(history);
    const revision = (history[0]?.revision ?? 0) + 1;
    const stripped = stripSecretValues(objects);
    const record: ReleaseRecord = {
      service: spec.name,
      namespace: spec.namespace,
      revision,
      status: 'pending',
      specDigest: sha256(JSON.stringify(spec)),
      image: opts.image ?? spec.image,
      ...(opts.version ? { version: opts.version } : {}),
      objects: stripped.objects,
      secretHashes: stripped.secretHashes,
      actor: lock.holder,
      startedAt: new Date().toISOString(),
    };
    await store.save(record);

    emit({
      type: 'stage',
      stage: 'apply',
      message: `applying revision ${revision} (${objects.length} objects)`,
    });
    await applyAll(kube, objects, emit);

    emit({ type: 'stage', stage: 'wait', message: 'waiting for the rollout' });
    const rollout = await waitForRollout(kube, spec.namespace, spec.name, {
      timeoutMs: opts.timeoutMs,
      onProgress: (m) => emit({ type: 'progress', message: m }),
      signal: lock.lost,
    });

    if (rollout.ok) {
      // Prune what the running release owned, plus anything applied by
      // attempts since it (failed or interrupted) that this release lacks.
      const since = history.filter((r) => !previous || r.revision > previous.revision);
      record.status = 'deployed';
      record.finishedAt = new Date().toISOString();
      record.message = rollout.message;
      if (previous) previous.status = 'superseded';
      await Promise.all([
        pruneRemoved(
          kube,
          [...(previous?.objects ?? []), ...since.flatMap((r) => r.objects)],
          objects,
          emit,
        ),
        store.save(record),
        previous ? store.save(previous) : undefined,
        store.prune([record, ...history]),
      ]);
      return {
        ok: true,
        revision,
        status: 'deployed',
        elapsedMs: Date.now() - started,
        message: rollout.message,
        rollout,
      };
    }

    record.status = 'failed';
    record.finishedAt = new Date().toISOString();
    record.message = `${rollout.reason}: ${rollout.message}`;
    await store.save(record);
    const result: DeployResult = {
      ok: false,
      revision,
      status: 'failed',
      elapsedMs: Date.now() - started,
      message: record.message,
      rollout,
    };
    if ((opts.autoRollback ?? true) && previous) {
      emit({
        type: 'stage',
        stage: 'rollback',
        message: `rollout failed (${rollout.reason}); returning to revision ${previous.revision}`,
      });
      const back = await applyRelease(kube, previous, objects, {
        timeoutMs: opts.rollbackTimeoutMs ?? 120_000,
        emit,
      });
      if (back.ok) result.rolledBackTo = previous.revision;
      else
        emit({
          type: 'warning',
          message: `rollback to revision ${previous.revision} failed: ${back.message}`,
        });
    }
    result.elapsedMs = Date.now() - started;
    return result;
  } finally {
    await lock.release();
  }
}

/**
 * Re-applies a recorded release (objects exactly as recorded), prunes what
 * `live` has beyond it, and waits for the rollout. Secret objects are applied
 * only when their recorded hashes match the live values, since values are
 * never stored.
 */
export async function applyRelease(
  kube: Kube,
  target: ReleaseRecord,
  live: readonly KubeObject[],
  opts: { timeoutMs: number; emit: (e: DeployEvent) => void },
): Promise<RolloutResult> {
  const apply: KubeObject[] = [];
  for (const o of target.objects) {
    if (o.kind === 'Secret') {
      const liveSecret = await kube.get<KubeObject>(o);
      const data = (liveSecret?.data ?? {}) as Record<string, string>;
      const same = Object.entries(target.secretHashes).every(
        ([k, h]) =>
          data[k] !== undefined && sha256(Buffer.from(data[k], 'base64').toString('utf8')) === h,
      );
      if (!same) {
        opts.emit({
          type: 'warning',
          message: `${describeObject(o)}: values differ from revision ${target.revision} and are not stored; keeping the live values`,
        });
      }
      continue;
    }
    apply.push(o);
  }
  await applyAll(kube, apply, opts.emit);
  await pruneRemoved(kube, live, target.objects, opts.emit);
  const deployment = target.objects.find((o) => o.kind === 'Deployment');
  if (!deployment) return { ok: true, elapsedMs: 0, message: 'no Deployment to wait for' };
  return waitForRollout(kube, target.namespace, deployment.metadata.name, {
    timeoutMs: opts.timeoutMs,
    onProgress: (m) => opts.emit({ type: 'progress', message: m }),
  });
}

/**
 * Server-side applies objects in two waves: what pods mount or run as
 * (ServiceAccount, ConfigMap, Secret) first, then everything else at once.
 */
async function applyAll(
  kube: Kube,
  objects: readonly KubeObject[],
  emit: (e: DeployEvent) => void,
): Promise<void> {
  const first = new Set(['Namespace', 'ServiceAccount', 'ConfigMap', 'Secret']);
  const waves = [
    objects.filter((o) => first.has(o.kind)),
    objects.filter((o) => !first.has(o.kind)),
  ];
  for (const wave of waves) {
    await Promise.all(
      wave.map(async (o) => {
        await kube.apply(o);
        emit({ type: 'applied', object: describeObject(o) });
      }),
    );
  }
}

async function pruneRemoved(
  kube: Kube,
  before: readonly KubeObject[],
  after: readonly KubeObject[],
  emit: (e: DeployEvent) => void,
): Promise<void> {
  const keep = new Set(after.map(kindKey));
  const gone = new Map<string, KubeObject>();
  for (const o of before) if (!keep.has(kindKey(o))) gone.set(kindKey(o), o);
  await Promise.all(
    [...gone.values()].map(async (o) => {
      if (await kube.delete(o)) emit({ type: 'pruned', object: describeObject(o) });
    }),
  );
}

/** A record left "pending" belongs to a deploy that died; mark it so. */
async function reconcileInterrupted(
  store: ReleaseStore,
  history: ReleaseRecord[],
  emit: (e: DeployEvent) => void,
): Promise<ReleaseRecord[]> {
  for (const r of history) {
    if (r.status !== 'pending') continue;
    r.status = 'interrupted';
    r.finishedAt = new Date().toISOString();
    r.message = 'the gantry process running this deploy stopped before it finished';
    await store.save(r);
    emit({ type: 'warning', message: `revision ${r.revision} was interrupted; marked as such` });
  }
  return history;
}

async function ensureNamespace(kube: Kube, namespace: string): Promise<void> {
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } };
  if (!(await kube.get(ns))) await kube.apply(ns);
}
