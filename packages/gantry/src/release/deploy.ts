// gantry deploy: validate -> record -> apply -> wait -> (prune | roll back).
// The cluster is never left between releases: a failed rollout returns to the
// last good revision with its own time budget, and a killed deploy is
// reconciled by the next command (its lock expires, its record is marked).
import type { ServiceSpec } from '../spec/index.js';
import { withoutInlineWebhooks } from '../spec/secrets.js';
import { renderService } from '../render/index.js';
import { checkKubernetesRules } from '../validate/spec-check.js';
import type { KubeObject } from '../render/index.js';
import { KubeApiError, describeObject } from '../kube/errors.js';
import type { Kube } from '../kube/client.js';
import { waitForRollout } from '../kube/rollout.js';
import type { RolloutResult } from '../kube/rollout.js';
import type { V1Deployment } from '@kubernetes/client-node';
import { waitForRoutes } from '../traffic/route-ready.js';
import { acquireLockWaiting, defaultHolder } from './lock.js';
import type { Lock } from './lock.js';
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
  /**
   * Apply HTTPRoutes only once the rollout is complete. A progressive release's promotion
   * sets it: traffic stays where its router put it (all of it on the new version, after a
   * blue-green switch) while stable rolls, and moves to stable when stable runs the new
   * version. On a failed rollout the routes are not applied (a rollback applies the
   * previous release's).
   */
  deferRoutes?: boolean;
  /** How long to wait for another holder's lock on the service (default 0: refuse at once). */
  lockWaitMs?: number;
  /**
   * The gateway's HTTP listener as this machine reaches it, to check each new route answers
   * (default: the Gateway's status address). See traffic/route-ready.ts.
   */
  gatewayUrl?: string;
  /** Budget for the routes to be accepted and answer once the rollout is done (default 60 s). */
  routeTimeoutMs?: number;
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
  /**
   * Milliseconds spent in each stage, in order: validate (render, offline
   * schema check), check (server-side dry run, lock, history), record, apply,
   * wait (rollout), then finish (prune, records) or rollback, and unlock.
   */
  timings?: Record<string, number>;
}

const kindKey = (o: KubeObject) =>
  `${o.apiVersion.split('/')[0]}|${o.kind}|${o.metadata.namespace ?? ''}|${o.metadata.name}`;

export async function deploy(
  kube: Kube,
  spec: ServiceSpec,
  opts: DeployOptions,
): Promise<DeployResult> {
  const started = Date.now();
  const timings: Record<string, number> = {};
  let lap = performance.now();
  const mark = (stage: string) => {
    const now = performance.now();
    timings[stage] = Math.round(now - lap);
    lap = now;
  };
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
  checkKubernetesRules(spec, { secretValues: opts.secretValues });
  const { ObjectValidationError, validateObjects } = await import('../validate/openapi.js');
  const problems = validateObjects(objects);
  if (problems.length) throw new ObjectValidationError(problems);
  mark('validate');
  const { lock, history: read } = await checkAndLock(
    kube,
    spec.namespace,
    spec.name,
    objects,
    opts.actor ?? defaultHolder(),
    store,
    opts.lockWaitMs ?? 0,
    emit,
  );
  emit({ type: 'stage', stage: 'lock', message: `locked ${spec.namespace}/${spec.name}` });
  if (lock.tookOverFrom) {
    emit({
      type: 'warning',
      message:
        lock.tookOverBecause === 'holder-gone'
          ? `took over the lock held by ${lock.tookOverFrom}: that process is gone from this machine`
          : `took over an expired lock held by ${lock.tookOverFrom}`,
    });
  }
  mark('check');
  let result: DeployResult;
  try {
    const history = await reconcileInterrupted(store, read, emit);
    const previous = current(history);
    const revision = (history[0]?.revision ?? 0) + 1;
    const stripped = stripSecretValues(objects);
    const record: ReleaseRecord = {
      service: spec.name,
      namespace: spec.namespace,
      revision,
      status: 'pending',
      // The digest a release's stored spec gives too (inline webhook URLs as digests).
      specDigest: sha256(JSON.stringify(withoutInlineWebhooks(spec))),
      image: opts.image ?? spec.image,
      ...(opts.version ? { version: opts.version } : {}),
      objects: stripped.objects,
      secretHashes: stripped.secretHashes,
      actor: lock.holder,
      startedAt: new Date().toISOString(),
    };
    await store.save(record);
    mark('record');

    emit({
      type: 'stage',
      stage: 'apply',
      message: `applying revision ${revision} (${objects.length} objects)`,
    });
    const deferred = opts.deferRoutes ? objects.filter((o) => o.kind === 'HTTPRoute') : [];
    const applied = await applyAll(
      kube,
      objects.filter((o) => !deferred.includes(o)),
      emit,
    );
    mark('apply');

    emit({ type: 'stage', stage: 'wait', message: 'waiting for the rollout' });
    let rollout = await waitForRollout(kube, spec.namespace, spec.name, {
      timeoutMs: opts.timeoutMs,
      onProgress: (m) => emit({ type: 'progress', message: m }),
      signal: lock.lost,
      ...deploymentOf(applied),
    });
    mark('wait');

    if (rollout.ok && deferred.length) {
      emit({ type: 'stage', stage: 'routes', message: 'rollout complete; applying the routes' });
      applied.push(...(await applyAll(kube, deferred, emit)));
    }
    if (rollout.ok && applied.some((o) => o.kind === 'HTTPRoute')) {
      // "deployed" means reachable: the gateway accepted each route and answers through it.
      const routes = await waitForRoutes(kube, spec, applied, {
        timeoutMs: opts.routeTimeoutMs ?? 60_000,
        ...(opts.gatewayUrl ? { gatewayUrl: opts.gatewayUrl } : {}),
        onProgress: (m) => emit({ type: 'progress', message: m }),
      });
      for (const w of routes.warnings) emit({ type: 'warning', message: w });
      if (routes.ok) emit({ type: 'progress', message: routes.message });
      else {
        rollout = {
          ok: false,
          elapsedMs: rollout.elapsedMs,
          reason: 'RouteNotServed',
          message: routes.message,
        };
      }
      mark('routes');
    }
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
      mark('finish');
      result = {
        ok: true,
        revision,
        status: 'deployed',
        elapsedMs: 0,
        message: rollout.message,
        rollout,
        timings,
      };
    } else {
      record.status = 'failed';
      record.finishedAt = new Date().toISOString();
      record.message = `${rollout.reason}: ${rollout.message}`;
      await store.save(record);
      result = {
        ok: false,
        revision,
        status: 'failed',
        elapsedMs: 0,
        message: record.message,
        rollout,
        timings,
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
      mark('rollback');
    }
  } finally {
    await lock.release();
  }
  mark('unlock');
  result.elapsedMs = Date.now() - started;
  return result;
}

/**
 * The server-side dry run of every object and the lock go out together; the
 * history is read as soon as the lock is held, while the dry run may still be
 * running. The namespace is created only when the dry run reports it missing
 * (then both are tried once more), which saves a round trip on every other
 * deploy. On any failure nothing is held.
 */
async function checkAndLock(
  kube: Kube,
  namespace: string,
  service: string,
  objects: readonly KubeObject[],
  holder: string,
  store: ReleaseStore,
  lockWaitMs: number,
  emit: (e: DeployEvent) => void,
): Promise<{ lock: Lock; history: ReleaseRecord[] }> {
  type Attempt = { rejected: unknown } | { lock: Lock; history: ReleaseRecord[] };
  const attempt = async (): Promise<Attempt> => {
    const locking = acquireLockWaiting(kube, namespace, service, {
      holder,
      waitMs: lockWaitMs,
      onWait: (err) =>
        emit({ type: 'progress', message: `waiting for the lock: ${err.message.split(';')[0]}` }),
    });
    const reading = locking.then(() => store.history());
    // Both are observed below; never an unhandled rejection meanwhile.
    locking.catch(() => undefined);
    reading.catch(() => undefined);
    const dryRun = await Promise.allSettled(objects.map((o) => kube.apply(o, { dryRun: true })));
    const rejected = dryRun.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) {
      await locking.then((l) => l.release()).catch(() => undefined);
      return { rejected: rejected.reason };
    }
    const lock = await locking;
    try {
      return { lock, history: await reading };
    } catch (err) {
      await lock.release();
      throw err;
    }
  };
  let r = await attempt();
  if (
    'rejected' in r &&
    r.rejected instanceof KubeApiError &&
    r.rejected.isNamespaceNotFound(namespace)
  ) {
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    r = await attempt();
  }
  if ('rejected' in r) throw r.rejected;
  return r;
}

/** The Deployment as the apply returned it, so the waiter need not read it again. */
function deploymentOf(applied: readonly KubeObject[]): { initial?: V1Deployment } {
  const d = applied.find((o) => o.kind === 'Deployment');
  return d ? { initial: d } : {};
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
): Promise<KubeObject[]> {
  const first = new Set(['Namespace', 'ServiceAccount', 'ConfigMap', 'Secret']);
  const waves = [
    objects.filter((o) => first.has(o.kind)),
    objects.filter((o) => !first.has(o.kind)),
  ];
  const applied: KubeObject[] = [];
  for (const wave of waves) {
    if (!wave.length) continue;
    await Promise.all(
      wave.map(async (o) => {
        applied.push(await kube.apply(o));
        emit({ type: 'applied', object: describeObject(o) });
      }),
    );
  }
  return applied;
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
