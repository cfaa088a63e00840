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
//   node-drain     cordon, then delete the service's pods on the node (every pod but
//                  DaemonSets', mirror pods and gantry's own with all-pods); uncordon on revert
//   node-taint     a gantry.dev/chaos taint (NoExecute or NoSchedule) -> removed
import { randomBytes } from 'node:crypto';
import type { V1Deployment, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import type { Kube } from '../../kube/client.js';
import type { KubeObject } from '../../render/index.js';
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
// Patches. The Kube client speaks get/replace; a patch is applied to what was read and
// written back with its resourceVersion (a conflict re-reads, a bounded number of times).

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386 JSON merge patch: null removes a field, objects merge, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return patch;
  const out: Json = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * The part of a strategic merge patch these faults use: as a merge patch, except that a
 * list of named objects (containers) merges item by item on `name`.
 */
export function strategicPatch(target: unknown, patch: unknown): unknown {
  if (
    Array.isArray(patch) &&
    Array.isArray(target) &&
    patch.every((p) => isObj(p) && 'name' in p)
  ) {
    const out: unknown[] = (target as unknown[]).map((t): unknown => {
      const p = (patch as Json[]).find((x) => isObj(t) && x.name === t.name);
      return p ? strategicPatch(t, p) : t;
    });
    for (const p of patch as Json[]) {
      if (!target.some((t) => isObj(t) && t.name === p.name)) out.push(p);
    }
    return out;
  }
  if (!isObj(patch)) return patch;
  const out: Json = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = strategicPatch(out[k], v);
  }
  return out;
}

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
  for (let attempt = 1; ; attempt++) {
    const obj = await kube.get<Json & { metadata: { uid?: string } }>(ref);
    if (!obj) return 'gone';
    if (u.uid && obj.metadata.uid !== u.uid) return 'replaced';
    const next = (u.patchType === 'strategic' ? strategicPatch : mergePatch)(obj, patch) as Json;
    try {
      await kube.replace(next as unknown as KubeObject);
      return 'patched';
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409 && attempt < 8) continue;
      if (err instanceof KubeApiError && err.status === 404) return 'gone';
      throw err;
    }
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
      description: "image the container runs meanwhile (default: the node's pause image)",
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
      if (params.image === undefined && !(await pauseImageOn(ctx.kube, p.node))) {
        out.push(`node ${p.node} reports no pause image; pass --image`);
      }
    }
    return out;
  },
  plan: (params, target) =>
    target.pods.map(
      (p) =>
        `patch pod ${target.namespace}/${p.name} container ${p.container} image -> ` +
        `${typeof params.image === 'string' ? params.image : "the node's pause image"}; restore its image`,
    ),
  inject: async (ctx, params, target, durationMs) => {
    const undo: K8sUndo[] = [];
    const patches: { u: K8sUndo; patch: Json }[] = [];
    for (const p of target.pods) {
      const pod = await ctx.kube.get<V1Pod>(podRef(target.namespace, p.name));
      const c = pod?.spec?.containers.find((x) => x.name === p.container);
      if (!pod || !c?.image)
        throw new Error(`pod ${p.name} or its container ${p.container} is gone`);
      const image =
        typeof params.image === 'string' ? params.image : await pauseImageOn(ctx.kube, p.node);
      if (!image) throw new Error(`node ${p.node} reports no pause image; pass --image`);
      const u: K8sUndo = {
        apiVersion: 'v1',
        kind: 'Pod',
        namespace: target.namespace,
        name: p.name,
        patchType: 'strategic',
        restore: { spec: { containers: [{ name: p.container, image: c.image }] } },
        uid: p.uid,
      };
      undo.push(u);
      patches.push({ u, patch: { spec: { containers: [{ name: p.container, image }] } } });
    }
    return (await inject())(
      ctx,
      'pod-failure',
      target,
      undo,
      async () => {
        for (const { u, patch } of patches) {
          const r = await patchObject(ctx.kube, u, patch);
          if (r !== 'patched') throw new Error(`pod ${u.name} is ${r}`);
        }
      },
      durationMs,
      `paused container ${target.pods[0]?.container ?? ''} of ${podList(target)}`,
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
      const u: K8sUndo = {
        apiVersion: 'v1',
        kind: 'Service',
        namespace,
        name: service,
        patchType: 'merge',
        restore: { spec: { selector: { [CHAOS_KEY]: null } } },
        ...(s.metadata?.uid ? { uid: s.metadata.uid } : {}),
      };
      return (await inject())(
        ctx,
        'service-down',
        target,
        [u],
        async () => {
          const r = await patchObject(ctx.kube, u, {
            spec: { selector: { [CHAOS_KEY]: 'no-endpoints' } },
          });
          if (r !== 'patched') throw new Error(`Service ${namespace}/${service} is ${r}`);
        },
        durationMs,
        `Service ${namespace}/${service} selects no pod`,
      );
    }
    const d = await ctx.kube.get<V1Deployment>({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: service, namespace },
    });
    if (!d) throw new Error(`Deployment ${namespace}/${service} does not exist`);
    const replicas = d.spec?.replicas ?? 1;
    const u: K8sUndo = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace,
      name: service,
      patchType: 'merge',
      restore: { spec: { replicas } },
      ...(d.metadata?.uid ? { uid: d.metadata.uid } : {}),
    };
    return (await inject())(
      ctx,
      'service-down',
      target,
      [u],
      async () => {
        const r = await patchObject(ctx.kube, u, { spec: { replicas: 0 } });
        if (r !== 'patched') throw new Error(`Deployment ${namespace}/${service} is ${r}`);
      },
      durationMs,
      `Deployment ${namespace}/${service} scaled from ${replicas} to 0`,
    );
  },
};

function cordonUndo(node: V1Node): K8sUndo {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    name: node.metadata!.name!,
    patchType: 'merge',
    restore: { spec: { unschedulable: node.spec?.unschedulable ? true : null } },
    ...(node.metadata?.uid ? { uid: node.metadata.uid } : {}),
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
    const u = cordonUndo(n);
    return (await inject())(
      ctx,
      'node-cordon',
      target,
      [u],
      async () => {
        await patchObject(ctx.kube, u, { spec: { unschedulable: true } });
      },
      durationMs,
      `node ${u.name} cordoned`,
    );
  },
};

/** The pods node-drain deletes on `node`: the service's, or every pod but DaemonSets', mirror pods and gantry's own. */
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
    "cordon the node and delete the service's pods on it (all-pods: every pod but DaemonSets'); uncordon at the end",
  params: [
    {
      name: 'all-pods',
      type: 'boolean',
      description:
        "delete every pod on the node (not DaemonSets', mirror pods or gantry's own), not only the service's",
      default: false,
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
      ? `delete every pod on ${target.node ?? '?'} but DaemonSets', mirror pods and ${CHAOS_NAMESPACE}'s`
      : `delete ${target.pods.length} pods of ${target.namespace}/${target.service} on it: ${podList(target) || '-'}`,
    'uncordon at the end (the deleted pods are replaced by their controllers, not restored)',
  ],
  inject: async (ctx, params, target, durationMs) => {
    const n = await readNode(ctx, needNode(target));
    const u = cordonUndo(n);
    return (await inject())(
      ctx,
      'node-drain',
      target,
      [u],
      async () => {
        await patchObject(ctx.kube, u, { spec: { unschedulable: true } });
        // The pods are deleted (their grace period honoured), not evicted: the client has
        // no eviction subresource, so a PodDisruptionBudget does not hold the drain back.
        for (const p of await drainVictims(ctx, params, target)) {
          await ctx.kube
            .delete(podRef(p.namespace, p.name), { uid: p.uid })
            .catch((err: unknown) => {
              // A pod deleted meanwhile (409: another uid, 404: gone) is drained already.
              if (!(err instanceof KubeApiError && (err.status === 409 || err.status === 404)))
                throw err;
            });
        }
      },
      durationMs,
      `node ${u.name} drained`,
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
    const u: K8sUndo = {
      apiVersion: 'v1',
      kind: 'Node',
      name: n.metadata!.name!,
      patchType: 'merge',
      restore: { spec: { taints: before.length ? before : null } },
      ...(n.metadata?.uid ? { uid: n.metadata.uid } : {}),
    };
    return (await inject())(
      ctx,
      'node-taint',
      target,
      [u],
      async () => {
        await patchObject(ctx.kube, u, { spec: { taints: [...before, taint] } });
      },
      durationMs,
      `node ${u.name} tainted ${taint.key}=${taint.value}:${taint.effect}`,
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
