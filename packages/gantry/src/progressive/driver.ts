// Driving a progressive release: start the canary, walk the steps (set the
// traffic split, let the judge compare canary with stable, wait at manual
// gates), then promote (roll stable to the new version, route everything back
// to it, remove the canary) or abort (everything to stable at once, remove the
// canary). Each transition is written to the cluster first, so a gantry that
// dies anywhere is taken over by the next `gantry release ...` command.
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Deployment } from '@kubernetes/client-node';
import { Prometheus, analysisFor, judge, measure, prometheusUrl } from '../analysis/index.js';
import type { Decision } from '../analysis/index.js';
import type { Kube } from '../kube/client.js';
import type { KubeObject } from '../render/index.js';
import { describeObject } from '../kube/errors.js';
import { waitForRollout } from '../kube/rollout.js';
import { Notifier } from '../notify/index.js';
import type { ReleaseNotice, WebhookTarget } from '../notify/index.js';
import { deploy } from '../release/deploy.js';
import { sha256 } from '../release/record.js';
import { acquireLock, defaultHolder } from '../release/lock.js';
import type { Lock } from '../release/lock.js';
import {
  SecretSourceError,
  resolveNotifyTargets,
  resolveSecretValues,
  withoutInlineWebhooks,
} from '../spec/index.js';
import type { ResolvedWebhook, ServiceSpec } from '../spec/index.js';
import { routerFor, routerKind } from '../traffic/index.js';
import type { TrafficRouter } from '../traffic/index.js';
import { canaryName, canaryRefs, renderCanary } from './canary.js';
import { planSteps, trafficFor } from './plan.js';
import { RELEASES_KEPT, RolloutStore, TERMINAL_PHASES, isActive, releaseHistory } from './state.js';
import { checkKubernetesRules } from '../validate/spec-check.js';
import type { RolloutAction, RolloutState, Versioned } from './state.js';

export type RolloutEvent =
  | { type: 'stage'; message: string }
  | { type: 'progress'; message: string }
  | { type: 'decision'; step: number; decision: Decision }
  | { type: 'warning'; message: string };

export interface DriveOptions {
  onEvent?: (e: RolloutEvent) => void;
  /** Budget for the canary's and the promotion's rollouts. */
  rolloutTimeoutMs?: number;
  /** Stop driving (leaving the release as stored, for another process to take over). */
  signal?: AbortSignal;
  actor?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * The spec this process was given (-f): its inline webhook URLs stand in for the
   * digests a stored release keeps instead (a release taken over elsewhere).
   */
  spec?: ServiceSpec;
  /**
   * Secret values and webhooks read by the process that started the release: a driver in
   * the cluster cannot read the starting user's environment or files, so they are handed
   * to it (in a Secret only it may read) and used instead of reading them here.
   */
  values?: ResolvedValues;
  /** Prometheus as this process reaches it (default: the spec's, then the environment's). */
  prometheusUrl?: string;
}

/** The values a release needs that never go into its stored state. */
export interface ResolvedValues {
  secretValues: Record<string, string>;
  webhooks: ResolvedWebhook[];
}

/** Same spec and image: a second `release start` of the same release resumes it. */
function specDigest(spec: ServiceSpec): string {
  return sha256(JSON.stringify(withoutInlineWebhooks(spec)));
}

export class ReleaseError extends Error {
  override name = 'ReleaseError';
}

/** A verdict that has not changed is shown (and recorded) again after this long. */
const SHOW_EVERY_MS = 10_000;

/** Stable is measured over at least this long a window (see MeasureWindow.stableSince). */
const STABLE_LOOKBACK_MS = 120_000;

/** After this long without a usable measurement the judge cannot vouch for the canary: abort. */
const BLIND_LIMIT_MS = 60_000;

/** Name of the lease held by the process driving a release (beside deploy's service lock). */
export function driverLeaseName(service: string): string {
  return `${service}.release`;
}

export async function acquireDriver(
  kube: Kube,
  spec: { namespace: string; name: string },
  actor?: string,
): Promise<Lock> {
  return acquireLock(kube, spec.namespace, driverLeaseName(spec.name), actor ?? defaultHolder());
}

/**
 * The secret values and webhooks of a release, read from the environment and files; one
 * that cannot be read stops the release before it starts. Checks the values too.
 */
export function resolveReleaseValues(
  spec: ServiceSpec,
  specDir: string,
  env?: NodeJS.ProcessEnv,
): ResolvedValues {
  const secretValues = resolveSecretValues(spec, specDir, env);
  checkKubernetesRules(spec, { secretValues });
  // Webhooks that cannot be read stop a release before it starts, as secrets do.
  const webhooks = resolveNotifyTargets(spec, specDir, env);
  if (webhooks.problems.length) throw new SecretSourceError(webhooks.problems.join('\n'));
  return { secretValues, webhooks: webhooks.targets };
}

/** Whether `s` is this very release (same image and spec): starting it again resumes it. */
export function isSameRelease(s: RolloutState, spec: ServiceSpec, image: string): boolean {
  return s.image === image && specDigest(s.spec) === specDigest(spec);
}

/** Refuses to start a release while another one (other image or spec) is in progress. */
export function refuseOtherRelease(s: RolloutState, spec: ServiceSpec, image: string): void {
  if (isSameRelease(s, spec, image)) return;
  throw new ReleaseError(
    `another release of ${s.service} (${s.image}${s.version ? ` ${s.version}` : ''}) is in progress ` +
      `(${s.phase}, step ${s.stepIndex + 1}/${s.steps.length}); ` +
      'promote or abort it first (gantry release promote | abort), or resume it with gantry release resume',
  );
}

/** The canary a release would start, checked against the stable Deployment and the API server. */
export interface PreparedCanary {
  objects: KubeObject[];
  stableReplicas: number;
  router: RolloutState['router'];
  canaryReplicas: number;
}

/** Checks the stable Deployment, renders the canary's objects and validates them (offline, then a dry run). */
export async function prepareCanary(
  kube: Kube,
  spec: ServiceSpec,
  opts: { image: string; version?: string; secretValues: Readonly<Record<string, string>> },
): Promise<PreparedCanary> {
  const stable = await kube.get<V1Deployment>({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: spec.name, namespace: spec.namespace },
  });
  if (!stable) {
    throw new ReleaseError(
      `${spec.namespace}/${spec.name} has no stable Deployment yet: ship the first version with gantry deploy`,
    );
  }
  if (stable.spec?.template.metadata?.labels?.['gantry.dev/track'] !== 'stable') {
    throw new ReleaseError(
      `the pods of ${spec.namespace}/${spec.name} lack the gantry.dev/track label: deploy the current version once with this gantry first`,
    );
  }
  const stableReplicas = stable.spec?.replicas ?? spec.replicas;
  const router = routerKind(spec);
  const canaryReplicas = canaryReplicasFor(router, stableReplicas);
  const objects = renderCanary(spec, {
    image: opts.image,
    ...(opts.version ? { version: opts.version } : {}),
    secretValues: opts.secretValues,
    replicas: canaryReplicas,
  });
  const { ObjectValidationError, validateObjects } = await import('../validate/openapi.js');
  const problems = validateObjects(objects);
  if (problems.length) throw new ObjectValidationError(problems);
  await Promise.all(objects.map((o) => kube.apply(o, { dryRun: true })));
  return { objects, stableReplicas, router, canaryReplicas };
}

function canaryReplicasFor(router: RolloutState['router'], stableReplicas: number): number {
  return router === 'gateway' ? Math.max(1, stableReplicas) : 1;
}

/** The state a new release starts from (phase starting); the release it replaces joins the history. */
export function newReleaseState(
  spec: ServiceSpec,
  opts: { image: string; version?: string; specDir: string },
  prepared: Pick<PreparedCanary, 'stableReplicas' | 'router'>,
  replaced: RolloutState | undefined,
): RolloutState {
  const now = new Date().toISOString();
  return {
    service: spec.name,
    namespace: spec.namespace,
    strategy: spec.release.strategy,
    router: prepared.router,
    spec,
    specDir: opts.specDir,
    image: opts.image,
    ...(opts.version ? { version: opts.version } : {}),
    phase: 'starting',
    steps: planSteps(spec.release),
    stepIndex: 0,
    canaryPercent: 0,
    traffic: 'all traffic on stable',
    appliedStep: -1,
    stableReplicas: prepared.stableReplicas,
    startedAt: now,
    stepStartedAt: now,
    updatedAt: now,
    decisions: [],
    // The release this one replaces joins the history (gantry history lists them).
    past: releaseHistory(replaced).slice(0, RELEASES_KEPT),
  };
}

/**
 * Starts a release of `spec` running `image`. Refuses when another release of
 * the service is active (unless it is the same image: then it resumes it).
 */
export async function startRelease(
  kube: Kube,
  spec: ServiceSpec,
  opts: DriveOptions & { image: string; version?: string; specDir: string },
): Promise<RolloutState> {
  const emit = opts.onEvent ?? (() => undefined);
  if (spec.release.strategy === 'rolling') {
    throw new ReleaseError(
      'release.strategy is rolling: use gantry deploy (or set release.strategy to canary, gray or blueGreen)',
    );
  }
  const store = new RolloutStore(kube, spec.namespace, spec.name);
  const { secretValues, webhooks } = resolveReleaseValues(spec, opts.specDir, opts.env);
  // States read back from the cluster hold inline webhook URLs as digests only.
  const driveOpts: DriveOptions = { ...opts, spec };
  const lock = await acquireDriver(kube, spec, opts.actor);
  try {
    const existing = await store.read();
    if (isActive(existing?.state)) {
      const s = existing.state;
      refuseOtherRelease(s, spec, opts.image);
      emit({ type: 'stage', message: `resuming the release of ${s.image} (${s.phase})` });
      return await drive(kube, existing, lock, secretValues, driveOpts);
    }

    const prepared = await prepareCanary(kube, spec, { ...opts, secretValues });
    const { objects, canaryReplicas } = prepared;
    const state = newReleaseState(spec, opts, prepared, existing?.state);
    let v = await store.write(state, existing?.resourceVersion);
    const notifier = notifierOf(webhooks, emit);
    await notify(
      notifier,
      v.state,
      'started',
      `release of ${opts.image} started (${state.strategy}, ${state.steps.length} steps)`,
    );

    emit({
      type: 'stage',
      message: `starting the canary ${canaryName(spec)} (${canaryReplicas} replicas of ${opts.image})`,
    });
    for (const o of objects) {
      await kube.apply(o);
      emit({ type: 'progress', message: `applied ${describeObject(o)}` });
    }
    const ready = await waitForRollout(kube, spec.namespace, canaryName(spec), {
      timeoutMs: opts.rolloutTimeoutMs ?? 300_000,
      onProgress: (m) => emit({ type: 'progress', message: m }),
      signal: lock.lost,
    });
    if (!ready.ok) {
      v = await store.update((s) => {
        s.phase = 'aborting';
        s.message = `the canary did not become ready: ${ready.reason}: ${ready.message}`;
      });
      return await drive(kube, v, lock, secretValues, driveOpts);
    }
    v = await store.update((s) => {
      s.phase = 'progressing';
      s.stepStartedAt = new Date().toISOString();
    });
    return await drive(kube, v, lock, secretValues, driveOpts);
  } finally {
    await lock.release();
  }
}

/**
 * Acts on a release from another terminal. When a gantry is driving the
 * release, the request is stored for it and this waits until it is taken up;
 * when none is, this process takes the release over and carries the action out
 * (resume drives the release to its end).
 */
export async function requestAction(
  kube: Kube,
  namespace: string,
  service: string,
  action: RolloutAction,
  opts: DriveOptions = {},
): Promise<RolloutState> {
  const emit = opts.onEvent ?? (() => undefined);
  const store = new RolloutStore(kube, namespace, service);
  const cur = (await store.read())?.state;
  if (!cur || TERMINAL_PHASES.includes(cur.phase)) {
    throw new ReleaseError(
      cur
        ? `the last release of ${namespace}/${service} already ended (${cur.phase}); nothing to ${action}`
        : `no release of ${namespace}/${service} is recorded`,
    );
  }
  const by = opts.actor ?? defaultHolder();
  const at = new Date().toISOString();
  await store.update((s) => {
    s.request = { action, by, at };
  });
  const deadline = Date.now() + (opts.rolloutTimeoutMs ?? 300_000) + 30_000;
  let told = false;
  for (;;) {
    // Nobody holds the driver's lease (or it expired with a dead driver): take over.
    let lock: Lock | undefined;
    try {
      lock = await acquireDriver(kube, { namespace, name: service }, by);
    } catch (err) {
      if (!(err instanceof Error) || err.name !== 'LockedError') throw err;
    }
    if (lock) {
      try {
        const v = await store.read();
        if (!v) throw new ReleaseError('the release state disappeared');
        if (v.state.request?.at !== at && !isActive(v.state)) return v.state;
        emit({
          type: 'stage',
          message: `no gantry is driving this release: taking it over to ${action}`,
        });
        if (action === 'pause') return (await handleRequest(store, v, emit)).state;
        const secretValues =
          action === 'abort'
            ? {}
            : (opts.values?.secretValues ??
              resolveSecretValues(v.state.spec, v.state.specDir, opts.env));
        return await drive(kube, v, lock, secretValues, opts);
      } finally {
        await lock.release();
      }
    }
    if (!told) {
      emit({
        type: 'stage',
        message: `asked the gantry driving this release to ${action} (waiting for it, or for its lease to expire)`,
      });
      told = true;
    }
    await sleep(1000);
    const s = (await store.read())?.state;
    if (!s) throw new ReleaseError('the release state disappeared');
    // Taken up: pause and resume are done then; promote and abort once the release ends.
    if (s.request?.at !== at && (action === 'pause' || action === 'resume' || !isActive(s))) {
      return s;
    }
    if (Date.now() > deadline) {
      throw new ReleaseError(`the driving gantry did not ${action} in time; it may be stuck`);
    }
  }
}

/**
 * The release's webhooks, URLs and signing secrets read from env or files (as in this
 * process: a release taken over elsewhere reads them there). One that cannot be read is
 * left out with a warning: notifications never fail a release once it runs.
 */
function notifierFor(
  spec: ServiceSpec,
  specDir: string,
  opts: DriveOptions,
  emit: (e: RolloutEvent) => void,
): Notifier {
  if (opts.values) return notifierOf(opts.values.webhooks, emit);
  const { targets, problems } = resolveNotifyTargets(spec, specDir, opts.env, opts.spec);
  for (const p of problems) emit({ type: 'warning', message: `notification left out: ${p}` });
  return notifierOf(targets, emit);
}

/** Tells the release's webhooks that it started (as `release start` does once the state is written). */
export async function notifyStarted(
  s: RolloutState,
  webhooks: readonly WebhookTarget[],
  emit: (e: RolloutEvent) => void = () => undefined,
): Promise<void> {
  await notify(
    notifierOf(webhooks, emit),
    s,
    'started',
    `release of ${s.image} started (${s.strategy}, ${s.steps.length} steps)`,
  );
}

function notifierOf(targets: readonly WebhookTarget[], emit: (e: RolloutEvent) => void) {
  return new Notifier(targets, {
    onError: (m) => emit({ type: 'warning', message: `notification failed: ${m}` }),
  });
}

async function notify(
  notifier: Notifier,
  s: RolloutState,
  event: string,
  summary: string,
  decision?: Decision,
): Promise<void> {
  const n: ReleaseNotice = {
    service: s.service,
    namespace: s.namespace,
    ...(s.revision !== undefined ? { revision: s.revision } : {}),
    strategy: s.strategy,
    event,
    step: s.stepIndex + 1,
    steps: s.steps.length,
    canaryPercent: s.canaryPercent,
    ...(decision ? { verdict: decision.verdict, checks: decision.checks } : {}),
    summary,
    at: new Date().toISOString(),
  };
  await notifier.send(n);
}

/** Applies a pending pause/resume request; promote and abort are left for the loop. */
async function handleRequest(
  store: RolloutStore,
  v: Versioned,
  emit: (e: RolloutEvent) => void,
): Promise<Versioned> {
  const req = v.state.request;
  if (!req) return v;
  return store.update((s) => {
    const r = s.request;
    if (!r) return;
    if (r.action === 'pause') {
      if (s.phase === 'progressing' || s.phase === 'paused') {
        s.phase = 'paused';
        s.pausedReason = `paused by ${r.by}`;
      }
      emit({ type: 'stage', message: `paused by ${r.by}` });
      delete s.request;
    } else if (r.action === 'resume') {
      // Resuming a paused release opens its manual gate; resuming one whose
      // driver died only takes it over.
      if (s.phase === 'paused') {
        s.phase = 'progressing';
        s.gateOpened = s.stepIndex;
      }
      delete s.pausedReason;
      emit({ type: 'stage', message: `resumed by ${r.by}` });
      delete s.request;
    } else if (r.action === 'promote') {
      s.phase = 'promoting';
      s.message = `promoted by ${r.by}`;
      delete s.request;
    } else {
      s.phase = 'aborting';
      s.message = `aborted by ${r.by}`;
      delete s.request;
    }
  });
}

async function drive(
  kube: Kube,
  start: Versioned,
  lock: Lock,
  secretValues: Readonly<Record<string, string>>,
  opts: DriveOptions,
): Promise<RolloutState> {
  const emit = opts.onEvent ?? (() => undefined);
  const spec = start.state.spec;
  const store = new RolloutStore(kube, spec.namespace, spec.name);
  const router = routerFor(kube, spec, { stableReplicas: start.state.stableReplicas });
  const notifier = notifierFor(spec, start.state.specDir, opts, emit);
  const prom = new Prometheus(prometheusUrl(spec.release.analysis, opts.prometheusUrl));
  const interval = spec.release.analysis.interval * 1000;
  // Probes and scrapes left out of the counts (analysis/user-traffic.ts).
  const analysis = analysisFor(spec);
  let blindSince: number | undefined;
  let shown = { key: '', at: 0 };
  let passedNotified = -1;
  let v = start;

  for (;;) {
    if (lock.lost.aborted)
      throw new ReleaseError('lost the release lease; another gantry may drive it now');
    if (opts.signal?.aborted) return v.state;
    v = await handleRequest(store, (await store.read()) ?? v, emit);
    const s = v.state;
    if (s.phase === 'aborting') return abortRelease(kube, store, router, notifier, v, emit);
    if (s.phase === 'promoting')
      return promoteRelease(kube, store, router, notifier, v, secretValues, opts);
    if (!isActive(s)) return s;
    if (s.phase === 'starting' && s.driver) {
      // Handed to a driver in the cluster before the canary was started: start it (again,
      // when a driver died meanwhile: applying is idempotent).
      v = await startCanary(kube, store, v, lock, secretValues, opts);
      continue;
    }
    if (s.phase === 'starting') {
      // The driver that created the canary died before it was ready: start over from abort.
      v = await store.update((x) => {
        x.phase = 'aborting';
        x.message = 'the gantry starting this release stopped before the canary was ready';
      });
      continue;
    }

    const step = s.steps[s.stepIndex];
    if (!step) {
      v = await store.update((x) => {
        x.phase = 'promoting';
        x.message = 'every step passed';
      });
      continue;
    }
    if (s.appliedStep !== s.stepIndex) {
      const applied = await router.apply(trafficFor(spec.release, step));
      v = await store.update((x) => {
        x.appliedStep = s.stepIndex;
        x.canaryPercent = applied.canaryPercent;
        x.traffic = applied.description;
        x.stepStartedAt = new Date().toISOString();
        if (step.analyze && step.weight > 0) x.analysisStartedAt ??= x.stepStartedAt;
        if (x.strategy === 'blueGreen' && step.weight === 0) x.previewStartedAt = x.stepStartedAt;
        if (x.strategy === 'blueGreen' && step.weight === 100) x.switchedAt = x.stepStartedAt;
      });
      const msg = `step ${s.stepIndex + 1}/${s.steps.length}: ${applied.description}`;
      emit({ type: 'stage', message: msg });
      await notify(notifier, v.state, 'step', msg);
      continue;
    }

    // The canary must stay up: a router sending traffic to no endpoints fails requests the
    // application's metrics never see.
    const canary = await kube.get<V1Deployment>({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: canaryName(spec), namespace: spec.namespace },
    });
    if (!canary || (canary.status?.availableReplicas ?? 0) < 1) {
      v = await store.update((x) => {
        x.phase = 'aborting';
        x.message = canary ? 'the canary has no available pod' : 'the canary Deployment is gone';
      });
      continue;
    }

    const elapsed = (Date.now() - Date.parse(s.stepStartedAt)) / 1000;
    let passed = elapsed >= step.pauseSeconds;
    if (step.analyze) {
      let decision: Decision | undefined;
      try {
        const target = { namespace: spec.namespace, service: spec.name };
        const now = new Date();
        const beforeSwitch =
          step.baseline === 'before-switch' && s.previewStartedAt && s.switchedAt
            ? { baselineSince: new Date(s.previewStartedAt), baselineUntil: new Date(s.switchedAt) }
            : undefined;
        const stableSince = new Date(now.getTime() - STABLE_LOOKBACK_MS);
        const analysisSince = s.analysisStartedAt ? new Date(s.analysisStartedAt) : undefined;
        const [m, release] = await Promise.all([
          measure(prom, target, analysis, {
            since: new Date(s.stepStartedAt),
            now,
            stableSince,
            ...(beforeSwitch ?? {}),
          }),
          // Every canary request since the first analysed step: evidence carries across steps.
          !beforeSwitch && analysisSince && analysisSince < new Date(s.stepStartedAt)
            ? measure(prom, target, analysis, {
                since: analysisSince,
                now,
                stableSince,
              })
            : undefined,
        ]);
        decision = judge(
          m,
          analysis,
          {
            elapsedSeconds: elapsed,
            minSeconds: step.pauseSeconds,
            maxSeconds: Math.max(step.pauseSeconds, spec.release.analysis.maxStepDuration),
            // No verdict without evidence: a step that should carry traffic but saw
            // too little stays open (promote or abort it by hand) rather than pass unjudged.
            holdWithoutTraffic: step.weight > 0,
            onInconclusive: spec.release.analysis.onInconclusive,
            // A judgement takes a little beyond the interval (the queries): looks at a
            // checkpoint within that long after it.
            intervalSeconds: spec.release.analysis.interval + 2,
          },
          release,
        );
        blindSince = undefined;
      } catch (err) {
        blindSince ??= Date.now();
        const why = err instanceof Error ? err.message : String(err);
        emit({ type: 'warning', message: `no measurement: ${why}` });
        if (Date.now() - blindSince > BLIND_LIMIT_MS) {
          v = await store.update((x) => {
            x.phase = 'aborting';
            x.message = `no metrics for ${BLIND_LIMIT_MS / 1000}s (${why}): cannot vouch for the canary`;
          });
          continue;
        }
      }
      if (decision) {
        // Show a verdict when it changes, and a still-open one every 10 s; keep the
        // same cadence for the record in the cluster (gantry release status).
        const key = `${s.stepIndex} ${decision.verdict}`;
        const due = key !== shown.key || Date.now() - shown.at >= SHOW_EVERY_MS;
        if (due) {
          emit({ type: 'decision', step: s.stepIndex, decision });
          shown = { key, at: Date.now() };
        }
        if (decision.verdict === 'abort') {
          v = await store.update((x) => {
            x.phase = 'aborting';
            x.message = decision.summary;
            x.decisions.push(record(s.stepIndex, decision));
          });
          await notify(notifier, v.state, 'decision', decision.summary, decision);
          continue;
        }
        passed = decision.verdict === 'pass' && elapsed >= step.pauseSeconds;
        if (due) {
          v = await store.update((x) => {
            x.decisions.push(record(s.stepIndex, decision));
          });
        }
        if (passed && passedNotified !== s.stepIndex) {
          passedNotified = s.stepIndex;
          await notify(notifier, v.state, 'decision', decision.summary, decision);
        }
      } else passed = false;
    }

    if (passed && s.phase === 'progressing') {
      if (step.gate === 'manual' && s.gateOpened !== s.stepIndex) {
        v = await store.update((x) => {
          x.phase = 'paused';
          x.pausedReason = `manual gate after step ${s.stepIndex + 1}: run gantry release resume (or promote)`;
        });
        emit({ type: 'stage', message: v.state.pausedReason ?? 'paused' });
        await notify(notifier, v.state, 'paused', v.state.pausedReason ?? 'paused');
      } else {
        v = await store.update((x) => {
          x.stepIndex = s.stepIndex + 1;
        });
        continue;
      }
    }
    await sleep(interval, undefined, { signal: opts.signal }).catch(() => undefined);
  }
}

/**
 * Drives the stored release of a service to its end (or until `opts.signal`), with the
 * driver's lease held: what the in-cluster driver runs. Undefined when none is recorded.
 */
export async function driveHeld(
  kube: Kube,
  namespace: string,
  service: string,
  lock: Lock,
  opts: DriveOptions = {},
): Promise<RolloutState | undefined> {
  const v = await new RolloutStore(kube, namespace, service).read();
  if (!v || !isActive(v.state)) return v?.state;
  const secretValues =
    opts.values?.secretValues ?? resolveSecretValues(v.state.spec, v.state.specDir, opts.env);
  return drive(kube, v, lock, secretValues, opts);
}

/** Applies the canary of a release handed to a driver and waits until it is ready. */
async function startCanary(
  kube: Kube,
  store: RolloutStore,
  v: Versioned,
  lock: Lock,
  secretValues: Readonly<Record<string, string>>,
  opts: DriveOptions,
): Promise<Versioned> {
  const emit = opts.onEvent ?? (() => undefined);
  const s = v.state;
  const replicas = canaryReplicasFor(s.router, s.stableReplicas);
  const objects = renderCanary(s.spec, {
    image: s.image,
    ...(s.version ? { version: s.version } : {}),
    secretValues,
    replicas,
  });
  emit({
    type: 'stage',
    message: `starting the canary ${canaryName(s.spec)} (${replicas} replicas of ${s.image})`,
  });
  for (const o of objects) {
    await kube.apply(o);
    emit({ type: 'progress', message: `applied ${describeObject(o)}` });
  }
  const ready = await waitForRollout(kube, s.namespace, canaryName(s.spec), {
    timeoutMs: opts.rolloutTimeoutMs ?? 300_000,
    onProgress: (m) => emit({ type: 'progress', message: m }),
    signal: opts.signal ? AbortSignal.any([lock.lost, opts.signal]) : lock.lost,
  });
  // Stopped (or the lease lost): the release stays as stored for the next driver.
  if (opts.signal?.aborted || lock.lost.aborted) return v;
  return store.update((x) => {
    if (x.phase !== 'starting') return;
    if (ready.ok) {
      x.phase = 'progressing';
      x.stepStartedAt = new Date().toISOString();
    } else {
      x.phase = 'aborting';
      x.message = `the canary did not become ready: ${ready.reason}: ${ready.message}`;
    }
  });
}

function record(step: number, d: Decision) {
  return {
    at: new Date().toISOString(),
    step,
    verdict: d.verdict,
    confidence: d.confidence,
    summary: d.summary,
    checks: d.checks.map((c) => ({ ...c })),
  };
}

/** Everything to stable at once, then the canary goes. */
async function abortRelease(
  kube: Kube,
  store: RolloutStore,
  router: TrafficRouter,
  notifier: Notifier,
  v: Versioned,
  emit: (e: RolloutEvent) => void,
): Promise<RolloutState> {
  const spec = v.state.spec;
  emit({
    type: 'stage',
    message: `aborting: ${v.state.message ?? 'requested'}; all traffic back to stable`,
  });
  const applied = await router.apply({ kind: 'stable' });
  await removeCanary(kube, spec, emit);
  const done = await store.update((s) => {
    s.phase = 'aborted';
    s.canaryPercent = applied.canaryPercent;
    s.traffic = applied.description;
    s.finishedAt = new Date().toISOString();
  });
  emit({ type: 'stage', message: `aborted; ${applied.description}` });
  await notify(notifier, done.state, 'aborted', done.state.message ?? 'aborted');
  return done.state;
}

/** Stable becomes the new version (a recorded deploy), then the canary goes. */
async function promoteRelease(
  kube: Kube,
  store: RolloutStore,
  router: TrafficRouter,
  notifier: Notifier,
  v: Versioned,
  secretValues: Readonly<Record<string, string>>,
  opts: DriveOptions,
): Promise<RolloutState> {
  const emit = opts.onEvent ?? (() => undefined);
  const s = v.state;
  emit({ type: 'stage', message: `promoting ${s.image}: rolling stable to the new version` });
  const result = await deploy(kube, s.spec, {
    image: s.image,
    ...(s.version ? { version: s.version } : {}),
    secretValues,
    timeoutMs: opts.rolloutTimeoutMs ?? 300_000,
    ...(opts.actor ? { actor: opts.actor } : {}),
    // Traffic stays on the router's split (after a blue-green switch: all on the new
    // version) until stable runs the new version.
    deferRoutes: true,
    onEvent: (e) =>
      emit(
        e.type === 'stage' || e.type === 'warning'
          ? { type: e.type === 'stage' ? 'stage' : 'warning', message: `deploy: ${e.message}` }
          : {
              type: 'progress',
              message: e.type === 'progress' ? e.message : `${e.type} ${e.object}`,
            },
      ),
  });
  const applied = await router.apply({ kind: 'stable' });
  await removeCanary(kube, s.spec, emit);
  const done = await store.update((x) => {
    x.phase = result.ok ? 'promoted' : 'failed';
    x.revision = result.revision;
    x.canaryPercent = applied.canaryPercent;
    x.traffic = applied.description;
    x.finishedAt = new Date().toISOString();
    x.message = result.ok
      ? `revision ${result.revision} deployed: ${result.message}`
      : `promotion failed: ${result.message}` +
        (result.rolledBackTo !== undefined
          ? `; stable is back on revision ${result.rolledBackTo}`
          : '');
  });
  emit({ type: 'stage', message: done.state.message ?? done.state.phase });
  await notify(notifier, done.state, result.ok ? 'promoted' : 'failed', done.state.message ?? '');
  return done.state;
}

async function removeCanary(
  kube: Kube,
  spec: ServiceSpec,
  emit: (e: RolloutEvent) => void,
): Promise<void> {
  const refs = canaryRefs(spec);
  for (const r of refs) {
    if (await kube.delete(r)) emit({ type: 'progress', message: `deleted ${describeObject(r)}` });
  }
}
