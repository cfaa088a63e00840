// Kubernetes-level faults: they change API objects, not a node. Each records the
// patches that put every object back exactly (K8sUndo) before it changes
// anything, through an InjectK8sFault (helper/inject.ts: an undo record in the
// cluster and a watchdog pod that restores at expiry even when gantry dies).
//
//   pod-kill       delete the chosen pods (the ReplicaSet replaces them; nothing to undo)
//   pod-failure    the container's image patched to the node's pause image: the kubelet
//                  restarts the container with it (it runs, serves nothing, fails its
//                  probes: not ready, out of the endpoints; a liveness probe makes the
//                  kubelet restart it again and again, still paused). Restoring the image
//                  makes the kubelet restart it once more, with its own image.
//   service-down   scale-to-zero (Deployment replicas -> 0 -> back) or no-endpoints (the
//                  Service's selector gains a label no pod has -> the label removed)
//   node-cordon    spec.unschedulable -> true -> back
//   node-drain     cordon, then evict the service's pods on the node (every pod but
//                  DaemonSets', mirror pods and gantry's own with all-pods) through the
//                  Eviction API, so PodDisruptionBudgets hold it back (429: retried up to
//                  --eviction-timeout, then the drain fails, naming the budget); uncordon on revert
//   node-taint     a gantry.dev/chaos taint (NoExecute or NoSchedule) -> removed
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Deployment, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import type { Kube } from '../../kube/client.js';
import { KubeApiError } from '../../kube/client.js';
import type {
  ActiveFault,
  FaultContext,
  FaultDefinition,
  FaultParams,
  InjectK8sFault,
  ResolvedTarget,
} from '../fault.js';
import { injectK8sFault } from '../helper/inject.js';
import type { K8sUndo } from '../undo.js';
import { CHAOS_NAMESPACE } from '../undo.js';

/** The key of the taint node-taint adds and of the selector label no-endpoints adds. */
export const CHAOS_KEY = 'gantry.dev/chaos';

// ---------------------------------------------------------------------------------------
// Patches: a merge or strategic merge patch sent as it is (Kube.patch), with the object's
// uid as a precondition when the undo entry has one, so a replaced object is never touched.

type Json = Record<string, unknown>;

export type PatchOutcome = 'patched' | 'gone' | 'replaced';

/**
 * Applies `patch` to the object `u` names. 'gone': it no longer exists; 'replaced': an
 * object of another uid has its name (nothing of the fault is on it): neither is patched.
 */
export async function patchObject(
  kube: Kube,
  u: Pick<K8sUndo, 'apiVersion' | 'kind' | 'namespace' | 'name' | 'patchType' | 'uid'>,
  patch: Json,
): Promise<PatchOutcome> {
  const ref = {
    apiVersion: u.apiVersion,
    kind: u.kind,
    metadata: { name: u.name, ...(u.namespace ? { namespace: u.namespace } : {}) },
  };
  try {
    const r = await kube.patch(ref, patch, {
      type: u.patchType,
      ...(u.uid ? { uid: u.uid } : {}),
    });
    return r ? 'patched' : 'gone';
  } catch (err) {
    // The uid in the patch is immutable: another object of that name is refused (422, or
    // 409 from servers that check it as a precondition), and left as it is.
    if (
      u.uid &&
      err instanceof KubeApiError &&
      (err.status === 409 || err.status === 422) &&
      /\buid\b/i.test(err.message)
    )
      return 'replaced';
    throw err;
  }
}

/** Applies an undo entry's restoring patch (idempotent; a gone or replaced object is left). */
export function restoreUndo(kube: Kube, u: K8sUndo): Promise<PatchOutcome> {
  return patchObject(kube, u, u.restore);
}

// ---------------------------------------------------------------------------------------
// The injector: helper/inject.ts's (the undo record in the cluster, a watchdog pod that
// restores at expiry whatever happens to gantry). localInjectK8sFault, in-process, is
// for tests of the faults themselves (useK8sInjector).

/**
 * In-process InjectK8sFault: apply, then restore at expiry or on revert(). It keeps the
 * undo in memory only: a killed gantry leaves the fault until `kubectl` puts it back.
 */
export const localInjectK8sFault: InjectK8sFault = async (
  ctx,
  kind,
  target,
  undo,
  apply,
  durationMs,
  description,
) => {
  const id = `${kind}-${randomBytes(4).toString('hex')}`;
  let done!: () => void;
  const ended = new Promise<void>((r) => (done = r));
  let reverting: Promise<void> | undefined;
  const timers: NodeJS.Timeout[] = [];
  const revert = () =>
    (reverting ??= (async () => {
      for (const t of timers) clearTimeout(t);
      // Every entry is tried; the first failure is reported after the rest were restored.
      let first: Error | undefined;
      for (const u of [...undo].reverse()) {
        await restoreUndo(ctx.kube, u).catch(
          (err: unknown) => (first ??= err instanceof Error ? err : new Error(String(err))),
        );
      }
      if (first) {
        reverting = undefined;
        throw first;
      }
      done();
    })());
  const startedAt = new Date();
  try {
    await apply();
  } catch (err) {
    await revert().catch(() => undefined);
    throw err;
  }
  // Not unref'd: a process with nothing else to do stays until the fault is reverted.
  timers.push(setTimeout(() => void revert().catch(() => undefined), durationMs));
  return {
    id,
    kind,
    description,
    target,
    startedAt,
    expiresAt: new Date(startedAt.getTime() + durationMs),
    ended,
    revert,
  };
};

let injector: InjectK8sFault | undefined;

/** Sets the InjectK8sFault the k8s faults use (undefined: helper/inject.ts's). */
export function useK8sInjector(fn: InjectK8sFault | undefined): void {
  injector = fn;
}

function inject(): Promise<InjectK8sFault> {
  return Promise.resolve(injector ?? injectK8sFault);
}

// ---------------------------------------------------------------------------------------
// Helpers shared by the faults.

const podRef = (ns: string, name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns },
});
const nodeRef = (name: string) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name } });

function noPods(target: ResolvedTarget): string[] {
  return target.pods.length ? [] : [`${target.namespace}/${target.service} has no pod chosen`];
}

function needNode(target: ResolvedTarget): string {
  if (!target.node) throw new Error('no node resolved for a node fault');
  return target.node;
}

/**
 * Nodes besides `node` that could take the service's pods: Ready, schedulable, without a
 * NoSchedule/NoExecute taint (simulated kwok nodes carry one).
 */
export async function otherSchedulableNodes(kube: Kube, node: string): Promise<string[]> {
  const nodes = await kube.list<V1Node>('v1', 'Node', undefined);
  return nodes
    .filter(
      (n) =>
        n.metadata?.name !== node &&
        !n.spec?.unschedulable &&
        n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') &&
        !n.spec?.taints?.some((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute'),
    )
    .map((n) => n.metadata!.name!);
}

async function singleNodeProblem(
  ctx: FaultContext,
  node: string,
  params: FaultParams,
  what: string,
): Promise<string[]> {
  if (params['allow-single-node'] === true) return [];
  const others = await otherSchedulableNodes(ctx.kube, node);
  if (others.length > 0) return [];
  return [
    `${what} ${node}: no other node can take the pods (${node} is the only schedulable one), ` +
      'so the service would be down until the fault ends, and every pod on the node without ' +
      'a toleration with it; use service-down for an outage, or pass --allow-single-node ' +
      '(allow-single-node: true) to drill exactly that',
  ];
}

/** The node's sandbox (pause) image, from the images its kubelet reports. */
export async function pauseImageOn(kube: Kube, node: string): Promise<string | undefined> {
  const n = await kube.get<V1Node>(nodeRef(node));
  for (const img of n?.status?.images ?? []) {
    const name = (img.names ?? []).find((x) => /\/pause[:@]/.test(x) && !x.includes('@sha256'));
    if (name) return name;
  }
  return undefined;
}

/**
 * The pause image pod-failure uses where the node lists none: a kubelet reports only its
 * 50 largest images (nodeStatusMaxImages), and the tiny pause image drops out of that list on
 * any busy node. kubeadm's default for Kubernetes 1.31+; pulled if the node lacks it (and
 * if it cannot be pulled the container stays down all the same, in ImagePullBackOff).
 */
export const FALLBACK_PAUSE_IMAGE = 'registry.k8s.io/pause:3.10';

/** The image pod-failure runs on `node`: --image, else the node's own pause image, else the fallback. */
async function failureImage(kube: Kube, params: FaultParams, node: string): Promise<string> {
  if (typeof params.image === 'string') return params.image;
  return (await pauseImageOn(kube, node)) ?? FALLBACK_PAUSE_IMAGE;
}

function simpleActive(kind: string, description: string, target: ResolvedTarget): ActiveFault {
  const now = new Date();
  return {
    id: `${kind}-${randomBytes(4).toString('hex')}`,
    kind,
    description,
    target,
    startedAt: now,
    expiresAt: now,
    ended: Promise.resolve(),
    revert: () => Promise.resolve(),
  };
}

const podList = (t: ResolvedTarget) => t.pods.map((p) => p.name).join(', ');

/** One object a fault patches: its undo entry (restoring patch, uid) and the fault's patch. */
interface ObjectPatch {
  u: K8sUndo;
  patch: Json;
}

const describeUndo = (u: K8sUndo) => `${u.kind} ${u.namespace ? `${u.namespace}/` : ''}${u.name}`;

/** The undo entry of `obj`: the patch that restores it, and its uid. */
function undoOf(
  obj: { metadata?: { name?: string; namespace?: string; uid?: string } },
  apiVersion: string,
  kind: string,
  restore: Json,
  patchType: K8sUndo['patchType'] = 'merge',
): K8sUndo {
  return {
    apiVersion,
    kind,
    ...(obj.metadata?.namespace ? { namespace: obj.metadata.namespace } : {}),
    name: obj.metadata!.name!,
    patchType,
    restore,
    ...(obj.metadata?.uid ? { uid: obj.metadata.uid } : {}),
  };
}

/**
 * The shape every patching fault shares: the undo entries go to the injector (record and
 * watchdog before anything changes), then each object gets its patch; one gone or
 * replaced meanwhile fails the fault (the injector restores what was patched). `then`
 * runs after the patches (node-drain's evictions).
 */
async function injectPatches(
  ctx: FaultContext,
  kind: string,
  target: ResolvedTarget,
  durationMs: number,
  description: string,
  patches: ObjectPatch[],
  then?: () => Promise<void>,
): Promise<ActiveFault> {
  return (await inject())(
    ctx,
    kind,
    target,
    patches.map((p) => p.u),
    async () => {
      for (const { u, patch } of patches) {
        const r = await patchObject(ctx.kube, u, patch);
        if (r !== 'patched') throw new Error(`${describeUndo(u)} is ${r}`);
      }
      await then?.();
    },
    durationMs,
    description,
  );
}

// ---------------------------------------------------------------------------------------
// The faults.

const podKill: FaultDefinition = {
  kind: 'pod-kill',
  family: 'pod',
  summary: 'delete the chosen pods; the ReplicaSet replaces them (nothing to undo)',
  params: [],
  needsHelper: false,
  preflight: (_ctx, _params, target) => Promise.resolve(noPods(target)),
  plan: (_params, target) =>
    target.pods.map((p) => `delete pod ${target.namespace}/${p.name} (node ${p.node})`),
  inject: async (ctx, _params, target) => {
    for (const p of target.pods) {
      await ctx.kube.delete(podRef(target.namespace, p.name), { uid: p.uid });
    }
    return simpleActive('pod-kill', `deleted ${podList(target)}`, target);
  },
};

const podFailure: FaultDefinition = {
  kind: 'pod-failure',
  family: 'pod',
  summary:
    "the container's image swapped for the pause image: it stops serving and stays down for the duration",
  params: [
    {
      name: 'image',
      type: 'string',
      description: `image the container runs meanwhile (default: the node's pause image, or ${FALLBACK_PAUSE_IMAGE} where the node lists none)`,
    },
  ],
  needsHelper: false,
  preflight: async (ctx, params, target) => {
    const out = noPods(target);
    for (const p of target.pods) {
      const pod = await ctx.kube.get<V1Pod>(podRef(target.namespace, p.name));
      const c = pod?.spec?.containers.find((x) => x.name === p.container);
      if (!pod || pod.metadata?.uid !== p.uid) out.push(`pod ${p.name} is gone`);
      else if (c?.command?.length && params.image === undefined) {
        out.push(
          `container ${p.container} of ${p.name} sets a command, which the pause image cannot ` +
            'run (the container would fail to start rather than pause); pass an image that has it',
        );
      }
    }
    return out;
  },
  plan: (params, target) =>
    target.pods.map(
      (p) =>
        `patch pod ${target.namespace}/${p.name} container ${p.container} image -> ` +
        `${typeof params.image === 'string' ? params.image : `the node's pause image (${FALLBACK_PAUSE_IMAGE} if the node lists none)`}; restore its image`,
    ),
  inject: async (ctx, params, target, durationMs) => {
    const patches: ObjectPatch[] = [];
    for (const p of target.pods) {
      const pod = await ctx.kube.get<V1Pod>(podRef(target.namespace, p.name));
      const c = pod?.spec?.containers.find((x) => x.name === p.container);
      if (!pod || !c?.image)
        throw new Error(`pod ${p.name} or its container ${p.container} is gone`);
      const image = await failureImage(ctx.kube, params, p.node);
      patches.push({
        u: undoOf(
          { metadata: { name: p.name, namespace: target.namespace, uid: p.uid } },
          'v1',
          'Pod',
          { spec: { containers: [{ name: p.container, image: c.image }] } },
          'strategic',
        ),
        patch: { spec: { containers: [{ name: p.container, image }] } },
      });
    }
    return injectPatches(
      ctx,
      'pod-failure',
      target,
      durationMs,
      `paused container ${target.pods[0]?.container ?? ''} of ${podList(target)}`,
      patches,
    );
  },
};

const serviceDown: FaultDefinition = {
  kind: 'service-down',
  family: 'service',
  summary:
    'the whole service down: Deployment scaled to zero, or the Service selecting no pod; restored exactly',
  params: [
    {
      name: 'mode',
      type: 'string',
      description:
        'scale-to-zero (replicas -> 0; pods stop) or no-endpoints (selector matches nothing; pods stay)',
      enum: ['scale-to-zero', 'no-endpoints'],
      default: 'scale-to-zero',
    },
  ],
  needsHelper: false,
  preflight: async (ctx, params, target) => {
    const { namespace, service } = target;
    if (params.mode === 'no-endpoints') {
      const s = await ctx.kube.get<V1Service>({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: service, namespace },
      });
      if (!s) return [`Service ${namespace}/${service} does not exist`];
      if (!s.spec?.selector || Object.keys(s.spec.selector).length === 0) {
        return [
          `Service ${namespace}/${service} has no selector (its endpoints are not chosen by one)`,
        ];
      }
      if (s.spec.selector[CHAOS_KEY] !== undefined) {
        return [`Service ${namespace}/${service} already selects no pod (a ${CHAOS_KEY} selector)`];
      }
      return [];
    }
    const d = await ctx.kube.get<V1Deployment>({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: service, namespace },
    });
    if (!d) return [`Deployment ${namespace}/${service} does not exist`];
    if (!d.spec?.replicas) return [`Deployment ${namespace}/${service} is already at 0 replicas`];
    return [];
  },
  plan: (params, target) =>
    params.mode === 'no-endpoints'
      ? [
          `patch Service ${target.namespace}/${target.service} selector += ${CHAOS_KEY}: no-endpoints ` +
            `(${target.pods.length} pods leave its endpoints); remove it at the end`,
        ]
      : [
          `scale Deployment ${target.namespace}/${target.service} to 0 replicas ` +
            `(${target.pods.length} pods stop); back to its replicas at the end`,
        ],
  inject: async (ctx, params, target, durationMs) => {
    const { namespace, service } = target;
    if (params.mode === 'no-endpoints') {
      const s = await ctx.kube.get<V1Service>({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: service, namespace },
      });
      if (!s) throw new Error(`Service ${namespace}/${service} does not exist`);
      return injectPatches(
        ctx,
        'service-down',
        target,
        durationMs,
        `Service ${namespace}/${service} selects no pod`,
        [
          {
            u: undoOf(s, 'v1', 'Service', { spec: { selector: { [CHAOS_KEY]: null } } }),
            patch: { spec: { selector: { [CHAOS_KEY]: 'no-endpoints' } } },
          },
        ],
      );
    }
    const d = await ctx.kube.get<V1Deployment>({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: service, namespace },
    });
    if (!d) throw new Error(`Deployment ${namespace}/${service} does not exist`);
    const replicas = d.spec?.replicas ?? 1;
    return injectPatches(
      ctx,
      'service-down',
      target,
      durationMs,
      `Deployment ${namespace}/${service} scaled from ${replicas} to 0`,
      [
        {
          u: undoOf(d, 'apps/v1', 'Deployment', { spec: { replicas } }),
          patch: { spec: { replicas: 0 } },
        },
      ],
    );
  },
};

function cordon(node: V1Node): ObjectPatch {
  return {
    u: undoOf(node, 'v1', 'Node', {
      spec: { unschedulable: node.spec?.unschedulable ? true : null },
    }),
    patch: { spec: { unschedulable: true } },
  };
}

async function readNode(ctx: FaultContext, name: string): Promise<V1Node> {
  const n = await ctx.kube.get<V1Node>(nodeRef(name));
  if (!n) throw new Error(`node ${name} does not exist`);
  return n;
}

const nodeCordon: FaultDefinition = {
  kind: 'node-cordon',
  family: 'node',
  summary: 'mark the node unschedulable: new pods cannot land on it; uncordoned at the end',
  params: [],
  needsHelper: false,
  preflight: async (ctx, _params, target) => {
    const node = needNode(target);
    const n = await ctx.kube.get<V1Node>(nodeRef(node));
    if (!n) return [`node ${node} does not exist`];
    if (n.spec?.unschedulable)
      return [`node ${node} is already cordoned: the fault would do nothing`];
    return [];
  },
  plan: (_params, target) => [
    `cordon node ${target.node ?? '?'} (spec.unschedulable: true); uncordon at the end`,
  ],
  inject: async (ctx, _params, target, durationMs) => {
    const n = await readNode(ctx, needNode(target));
    return injectPatches(
      ctx,
      'node-cordon',
      target,
      durationMs,
      `node ${n.metadata!.name!} cordoned`,
      [cordon(n)],
    );
  },
};

/** The pods node-drain evicts on `node`: the service's, or every pod but DaemonSets', mirror pods and gantry's own. */
async function drainVictims(
  ctx: FaultContext,
  params: FaultParams,
  target: ResolvedTarget,
): Promise<{ namespace: string; name: string; uid: string }[]> {
  const node = needNode(target);
  if (params['all-pods'] !== true) {
    return target.pods
      .filter((p) => p.node === node)
      .map((p) => ({ namespace: target.namespace, name: p.name, uid: p.uid }));
  }
  const pods = await ctx.kube.list<V1Pod>('v1', 'Pod', undefined, {
    fieldSelector: `spec.nodeName=${node}`,
  });
  return pods
    .filter(
      (p) =>
        p.metadata?.namespace !== CHAOS_NAMESPACE &&
        !p.metadata?.deletionTimestamp &&
        !p.metadata?.annotations?.['kubernetes.io/config.mirror'] &&
        !p.metadata?.ownerReferences?.some((o) => o.kind === 'DaemonSet') &&
        p.status?.phase !== 'Succeeded' &&
        p.status?.phase !== 'Failed',
    )
    .map((p) => ({
      namespace: p.metadata!.namespace!,
      name: p.metadata!.name!,
      uid: p.metadata!.uid!,
    }));
}

/** How long node-drain retries evictions a PodDisruptionBudget refuses, by default. */
export const EVICTION_TIMEOUT_MS = 30_000;
/** Pause between rounds of refused evictions (kubectl drain waits 5 s). */
const EVICTION_RETRY_MS = 1000;

/**
 * Evicts the pods through the Eviction API, as kubectl drain does. An eviction a
 * PodDisruptionBudget refuses (429) is retried every second for up to `timeoutMs`; still
 * refused then, the drain fails with the budget's own words (the injector uncordons the
 * node; pods evicted so far are replaced by their controllers).
 */
export async function evictAll(
  ctx: Pick<FaultContext, 'kube' | 'emit'>,
  pods: { namespace: string; name: string; uid: string }[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = pods;
  let evicted = 0;
  for (let round = 1; ; round++) {
    const refused: { pod: string; why: string }[] = [];
    for (const p of pending) {
      try {
        if ((await ctx.kube.evict(p.namespace, p.name, { uid: p.uid })) === 'evicted') evicted++;
      } catch (err) {
        if (!(err instanceof KubeApiError && err.status === 429)) throw err;
        refused.push({ pod: `${p.namespace}/${p.name}`, why: err.message });
      }
    }
    if (refused.length === 0) return;
    pending = pending.filter((p) => refused.some((r) => r.pod === `${p.namespace}/${p.name}`));
    if (Date.now() + EVICTION_RETRY_MS > deadline) {
      throw new Error(
        `node-drain: a PodDisruptionBudget refuses the eviction of ${refused.map((r) => r.pod).join(', ')} ` +
          `(HTTP 429, still after ${Math.round(timeoutMs / 1000)} s: ${refused[0]!.why}); ` +
          `${evicted} pod(s) evicted before; the node is uncordoned. Loosen the budget, or raise ` +
          '--eviction-timeout to wait for it',
      );
    }
    if (round === 1)
      ctx.emit(
        `node-drain: ${refused.length} eviction(s) refused by a PodDisruptionBudget, retrying for up to ${Math.round(timeoutMs / 1000)} s`,
      );
    await sleep(EVICTION_RETRY_MS);
  }
}

const singleNodeParam = {
  name: 'allow-single-node',
  type: 'boolean' as const,
  description:
    'go ahead even when no other node can take the pods (the drill is then an outage of the node)',
  default: false,
};

const nodeDrain: FaultDefinition = {
  kind: 'node-drain',
  family: 'node',
  summary:
    "cordon the node and evict the service's pods on it (all-pods: every pod but DaemonSets'), PodDisruptionBudgets respected; uncordon at the end",
  params: [
    {
      name: 'all-pods',
      type: 'boolean',
      description:
        "evict every pod on the node (not DaemonSets', mirror pods or gantry's own), not only the service's",
      default: false,
    },
    {
      name: 'eviction-timeout',
      type: 'duration',
      default: EVICTION_TIMEOUT_MS,
      min: 0,
      description:
        'how long evictions a PodDisruptionBudget refuses are retried before the drain fails',
    },
    singleNodeParam,
  ],
  needsHelper: false,
  preflight: async (ctx, params, target) => {
    const node = needNode(target);
    const n = await ctx.kube.get<V1Node>(nodeRef(node));
    if (!n) return [`node ${node} does not exist`];
    const out = await singleNodeProblem(ctx, node, params, 'draining');
    if (n.spec?.unschedulable) out.push(`node ${node} is already cordoned`);
    return out;
  },
  plan: (params, target) => [
    `cordon node ${target.node ?? '?'}`,
    params['all-pods'] === true
      ? `evict every pod on ${target.node ?? '?'} but DaemonSets', mirror pods and ${CHAOS_NAMESPACE}'s`
      : `evict ${target.pods.length} pods of ${target.namespace}/${target.service} on it: ${podList(target) || '-'}`,
    'PodDisruptionBudgets respected: a refused eviction is retried up to --eviction-timeout, then the drain fails',
    'uncordon at the end (the evicted pods are replaced by their controllers, not restored)',
  ],
  inject: async (ctx, params, target, durationMs) => {
    const n = await readNode(ctx, needNode(target));
    const timeoutMs = Number(params['eviction-timeout'] ?? EVICTION_TIMEOUT_MS);
    return injectPatches(
      ctx,
      'node-drain',
      target,
      durationMs,
      `node ${n.metadata!.name!} drained`,
      [cordon(n)],
      // Evicted, as kubectl drain does: a PodDisruptionBudget holds the drain back.
      async () => evictAll(ctx, await drainVictims(ctx, params, target), timeoutMs),
    );
  },
};

const nodeTaint: FaultDefinition = {
  kind: 'node-taint',
  family: 'node',
  summary: `a ${CHAOS_KEY} taint on the node: NoExecute evicts pods that do not tolerate it, NoSchedule keeps new ones off`,
  params: [
    {
      name: 'effect',
      type: 'string',
      description: 'NoExecute (pods without a toleration are evicted) or NoSchedule',
      enum: ['NoExecute', 'NoSchedule'],
      default: 'NoExecute',
    },
    singleNodeParam,
  ],
  needsHelper: false,
  preflight: async (ctx, params, target) => {
    const node = needNode(target);
    const n = await ctx.kube.get<V1Node>(nodeRef(node));
    if (!n) return [`node ${node} does not exist`];
    const out =
      params.effect === 'NoSchedule' ? [] : await singleNodeProblem(ctx, node, params, 'tainting');
    if (n.spec?.taints?.some((t) => t.key === CHAOS_KEY)) {
      out.push(`node ${node} already has a ${CHAOS_KEY} taint`);
    }
    return out;
  },
  plan: (params, target) => [
    `taint node ${target.node ?? '?'} ${CHAOS_KEY}=<experiment>:${String(params.effect ?? 'NoExecute')}; remove it at the end`,
  ],
  inject: async (ctx, params, target, durationMs) => {
    const n = await readNode(ctx, needNode(target));
    const before = n.spec?.taints ?? [];
    const taint = {
      key: CHAOS_KEY,
      value:
        ctx.experiment
          .replace(/[^A-Za-z0-9._-]/g, '-')
          .slice(0, 63)
          .replace(/^-+|-+$/g, '') || 'x',
      effect: String(params.effect ?? 'NoExecute'),
    };
    return injectPatches(
      ctx,
      'node-taint',
      target,
      durationMs,
      `node ${n.metadata!.name!} tainted ${taint.key}=${taint.value}:${taint.effect}`,
      [
        {
          u: undoOf(n, 'v1', 'Node', { spec: { taints: before.length ? before : null } }),
          patch: { spec: { taints: [...before, taint] } },
        },
      ],
    );
  },
};

export const k8sFaults: FaultDefinition[] = [
  podKill,
  podFailure,
  serviceDown,
  nodeCordon,
  nodeDrain,
  nodeTaint,
];
