// gantry release start --detach: everything `release start` checks and records before the
// canary starts (the values the release needs read, the stable Deployment found, the
// canary's objects validated and dry-run, the release state written), then the release is
// handed to a driver in the cluster: a one-replica Deployment running this CLI's image,
// with the same state, lease and takeover rules as a driver in a terminal. This returns
// once the driver holds the release's lease.
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Lease, V1Pod } from '@kubernetes/client-node';
import type { Kube } from '../../kube/client.js';
import type { KubeObject } from '../../render/index.js';
import { LockedError, defaultHolder } from '../../release/lock.js';
import { ReleaseStore } from '../../release/store.js';
import type { ServiceSpec } from '../../spec/index.js';
import {
  ReleaseError,
  acquireDriver,
  driverLeaseName,
  isSameRelease,
  newReleaseState,
  notifyStarted,
  prepareCanary,
  refuseOtherRelease,
  resolveReleaseValues,
} from '../driver.js';
import type { RolloutEvent } from '../driver.js';
import { RolloutStore, isActive } from '../state.js';
import type { RolloutState } from '../state.js';
import { removeDriverObjects } from './cleanup.js';
import { ensureDriverImage, registryOf } from './image.js';
import {
  DRIVER_LABEL,
  driverName,
  isDriverHolder,
  renderDriverAccess,
  renderDriverDeployment,
} from './objects.js';
import type { DriverInput } from './objects.js';

export interface DetachOptions {
  image: string;
  version?: string;
  specDir: string;
  env?: NodeJS.ProcessEnv;
  /** The driver's image; default: this CLI's, built and pushed to the new version's registry. */
  driverImage?: string;
  /** Prometheus as the cluster reaches it. */
  prometheusUrl: string;
  rolloutTimeoutMs: number;
  /** How long to wait for the driver to hold the lease (default 120 s: image pull and start). */
  handoverTimeoutMs?: number;
  actor?: string;
  onEvent?: (e: RolloutEvent) => void;
}

export interface DetachResult {
  state: RolloutState;
  /** The driver's Deployment. */
  deployment: string;
  driverImage: string;
  /** The lease holder: the driver pod now driving the release. */
  holder: string;
  /** From this call to the driver holding the lease (ms). */
  handoverMs: number;
  /** The same release was already driven in the cluster: nothing was changed. */
  alreadyDriven: boolean;
}

export async function startDetached(
  kube: Kube,
  spec: ServiceSpec,
  opts: DetachOptions,
): Promise<DetachResult> {
  const t0 = Date.now();
  const emit = opts.onEvent ?? (() => undefined);
  if (spec.release.strategy === 'rolling') {
    throw new ReleaseError(
      'release.strategy is rolling: use gantry deploy (or set release.strategy to canary, gray or blueGreen)',
    );
  }
  const values = resolveReleaseValues(spec, opts.specDir, opts.env);
  const store = new RolloutStore(kube, spec.namespace, spec.name);
  const name = driverName(spec.name);
  const driverImage =
    opts.driverImage ??
    (await ensureDriverImage({
      registry: registryOf(opts.image),
      onProgress: (m) => emit({ type: 'progress', message: m }),
    }));
  const actor = opts.actor ?? defaultHolder();

  let lock;
  try {
    lock = await acquireDriver(kube, spec, actor);
  } catch (err) {
    if (!(err instanceof LockedError)) throw err;
    const cur = (await store.read())?.state;
    if (!isActive(cur)) throw err;
    if (isSameRelease(cur, spec, opts.image) && isDriverHolder(err.holder, spec.name)) {
      emit({
        type: 'stage',
        message: `this release is already driven in the cluster (${err.holder})`,
      });
      return {
        state: cur,
        deployment: name,
        driverImage: cur.driver?.image ?? driverImage,
        holder: err.holder,
        handoverMs: 0,
        alreadyDriven: true,
      };
    }
    // The reason, as a second `release start` gives it, and who drives the release now.
    const refused = new LockedError(err.holder, err.since, err.expiresAt);
    refused.message =
      `another release of ${cur.service} (${cur.image}${cur.version ? ` ${cur.version}` : ''}) is in progress ` +
      `(${cur.phase}, step ${Math.min(cur.stepIndex + 1, cur.steps.length)}/${cur.steps.length}), ` +
      `driven by ${err.holder}; follow it with gantry release status --watch, or promote or abort it first`;
    throw refused;
  }

  let state: RolloutState;
  try {
    const existing = await store.read();
    let resumed = false;
    if (isActive(existing?.state)) {
      refuseOtherRelease(existing.state, spec, opts.image);
      resumed = true;
    }
    const prepared = resumed
      ? undefined
      : await prepareCanary(kube, spec, { ...opts, secretValues: values.secretValues });
    const history = await new ReleaseStore(kube, spec.namespace, spec.name).history();
    // A driver left from a release that ended (it could not remove itself) goes first.
    if (!resumed) await removeDriverObjects(kube, spec.namespace, spec.name);
    const driver = { deployment: name, image: driverImage, since: new Date().toISOString() };
    if (resumed) {
      emit({
        type: 'stage',
        message: `handing the release of ${opts.image} to a driver in the cluster`,
      });
      state = (
        await store.update((s) => {
          s.driver = driver;
        })
      ).state;
    } else {
      const fresh = newReleaseState(spec, opts, prepared!, existing?.state);
      fresh.driver = driver;
      state = (await store.write(fresh, existing?.resourceVersion)).state;
      await notifyStarted(state, values.webhooks, emit);
    }
    const input: DriverInput = {
      spec,
      image: opts.image,
      ...(opts.version ? { version: opts.version } : {}),
      values,
      driverImage,
      prometheusUrl: opts.prometheusUrl,
      rolloutTimeoutMs: opts.rolloutTimeoutMs,
      actor,
      history,
    };
    emit({
      type: 'stage',
      message: `starting the release driver ${spec.namespace}/${name} (${driverImage})`,
    });
    await applyDriver(kube, input);
  } finally {
    // The driver waits for this lease: released now, it takes it at once.
    await lock.release();
  }

  const holder = await waitForDriver(kube, spec, opts.handoverTimeoutMs ?? 120_000, emit);
  emit({
    type: 'stage',
    message: `the driver holds the release (${holder}) after ${((Date.now() - t0) / 1000).toFixed(1)}s`,
  });
  return {
    state,
    deployment: name,
    driverImage,
    holder,
    handoverMs: Date.now() - t0,
    alreadyDriven: false,
  };
}

/**
 * The Deployment first with no pod (its uid owns the rest), then its Secret, account and
 * rights, then its one pod: the pod never starts without what it needs.
 */
async function applyDriver(kube: Kube, input: DriverInput): Promise<void> {
  const owner = await kube.apply(renderDriverDeployment(input, 0));
  const uid = (owner.metadata as { uid?: string }).uid;
  const ownerReferences = uid
    ? [{ apiVersion: 'apps/v1', kind: 'Deployment', name: owner.metadata.name, uid }]
    : [];
  await Promise.all(
    renderDriverAccess(input).map((o) =>
      kube.apply({ ...o, metadata: { ...o.metadata, ownerReferences } } as KubeObject),
    ),
  );
  await kube.apply(renderDriverDeployment(input, 1));
}

/** A driver pod that cannot run: its reason and message (image pull, crash loop, …). */
function podProblem(pod: V1Pod): string | undefined {
  for (const c of pod.status?.containerStatuses ?? []) {
    const w = c.state?.waiting;
    if (w?.reason && w.reason !== 'ContainerCreating' && w.reason !== 'PodInitializing') {
      return `${w.reason}${w.message ? `: ${w.message}` : ''}`;
    }
  }
  return undefined;
}

/** Waits until a driver pod holds the release's lease; fails on a pod that cannot run. */
async function waitForDriver(
  kube: Kube,
  spec: ServiceSpec,
  timeoutMs: number,
  emit: (e: RolloutEvent) => void,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const leaseRef = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: `gantry-lock-${driverLeaseName(spec.name)}`, namespace: spec.namespace },
  };
  let lastPodCheck = 0;
  let told = '';
  for (let i = 0; ; i++) {
    const lease = await kube.get<V1Lease>(leaseRef);
    const holder = lease?.spec?.holderIdentity;
    if (holder && isDriverHolder(holder, spec.name)) return holder;
    if (Date.now() - lastPodCheck > 2000) {
      lastPodCheck = Date.now();
      const pods = await kube.list<V1Pod>('v1', 'Pod', spec.namespace, {
        labelSelector: `${DRIVER_LABEL}=${spec.name}`,
      });
      for (const p of pods) {
        const problem = podProblem(p);
        if (problem && /BackOff|Err|Invalid/.test(problem)) {
          throw new ReleaseError(
            `the release driver pod ${p.metadata?.name ?? ''} cannot run (${problem}); the release ` +
              'is stored: gantry release resume drives it from a terminal, gantry release abort ends it',
          );
        }
        const phase = p.status?.phase ?? 'Pending';
        const msg = `driver pod ${p.metadata?.name ?? ''}: ${phase}`;
        if (msg !== told) {
          told = msg;
          emit({ type: 'progress', message: msg });
        }
      }
    }
    if (Date.now() > deadline || i > 10_000) {
      throw new ReleaseError(
        `the release driver did not take the release over within ${Math.round(timeoutMs / 1000)}s; ` +
          `see kubectl -n ${spec.namespace} describe deployment ${driverName(spec.name)}`,
      );
    }
    await sleep(150);
  }
}
