// Process and container faults, injected by the helper on each chosen pod's node
// (helper/inject.ts; the ops are agent/ops/process.ts):
//   container-kill   SIGKILL to the container's main process; the kubelet restarts it
//                    (the restart is reported)
//   process-kill     a signal (default SIGKILL) to the container's processes matching a
//                    name, an in-container pid or a /regex/ on the command line
//   process-stop     SIGSTOP to the matching processes for the duration, SIGCONT after
//   container-pause  the container's cgroup v1 freezer FROZEN for the duration, THAWED after
// The CLI side checks what it can from the pod spec (the pod is there, the container
// runs); the agent checks the node (freezer controller) before anything is touched.
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Pod } from '@kubernetes/client-node';
import { SIGNALS } from '../agent/ops/process.js';
import type {
  ActiveFault,
  FaultContext,
  FaultDefinition,
  FaultParams,
  ResolvedTarget,
} from '../fault.js';
import { injectNodeFault } from '../helper/inject.js';
import type { NodeUndo } from '../undo.js';

type TargetPod = ResolvedTarget['pods'][number];

export async function readPod(
  ctx: FaultContext,
  target: ResolvedTarget,
  p: TargetPod,
): Promise<V1Pod | undefined> {
  const pod = await ctx.kube.get<V1Pod>({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: target.namespace },
  });
  return pod && pod.metadata?.uid === p.uid ? pod : undefined;
}

/** What keeps a fault from acting on the chosen containers: pods gone, containers not running. */
export async function containerPreflight(
  ctx: FaultContext,
  target: ResolvedTarget,
  each?: (pod: V1Pod, p: TargetPod) => string[],
): Promise<string[]> {
  if (target.pods.length === 0) return ['no pod to act on'];
  const out: string[] = [];
  for (const p of target.pods) {
    const pod = await readPod(ctx, target, p);
    if (!pod) {
      out.push(`pod ${p.name} is gone`);
      continue;
    }
    const status = pod.status?.containerStatuses?.find((c) => c.name === p.container);
    if (!pod.spec?.containers.some((c) => c.name === p.container)) {
      out.push(`pod ${p.name} has no container ${p.container}`);
    } else if (!status?.state?.running) {
      out.push(`container ${p.container} of pod ${p.name} is not running`);
    } else if (each) {
      out.push(...each(pod, p));
    }
  }
  return out;
}

/** One op per chosen pod, on its container. */
export function containerOps(
  target: ResolvedTarget,
  op: string,
  args: (p: TargetPod) => Record<string, unknown>,
): NodeUndo[] {
  return target.pods.map((p) => ({ op, podUid: p.uid, container: p.container, args: args(p) }));
}

export const describeTargets = (t: ResolvedTarget) =>
  t.pods.map((p) => `${p.container} of ${t.namespace}/${p.name}`).join(', ');

const processParam = {
  name: 'process',
  type: 'string' as const,
  required: true,
  description:
    'which processes of the container: a name (e.g. java), a pid inside the container, or /regex/ on the command line',
};

function processProblems(params: FaultParams): string[] {
  const p = params.process;
  if (typeof p !== 'string' || p.trim() === '') return ['--process is required'];
  const re = /^\/(.+)\/$/.exec(p);
  if (re?.[1]) {
    try {
      new RegExp(re[1]);
    } catch (err) {
      return [`--process ${p}: ${(err as Error).message}`];
    }
  }
  return [];
}

const restarts = (pod: V1Pod | undefined, container: string) =>
  pod?.status?.containerStatuses?.find((c) => c.name === container)?.restartCount;

/**
 * After a kill: waits (bounded) until the kubelet restarted each killed container and
 * says so through ctx.emit — with its restart count and how long it took.
 */
async function reportRestarts(
  ctx: FaultContext,
  target: ResolvedTarget,
  before: Map<string, number | undefined>,
  timeoutMs = 60_000,
): Promise<void> {
  const t0 = Date.now();
  const waiting = new Set(target.pods.map((p) => p.uid));
  while (waiting.size > 0 && Date.now() - t0 < timeoutMs && !ctx.signal?.aborted) {
    for (const p of target.pods) {
      if (!waiting.has(p.uid)) continue;
      const pod = await readPod(ctx, target, p).catch(() => undefined);
      const now = restarts(pod, p.container);
      const running = pod?.status?.containerStatuses?.find((c) => c.name === p.container)?.state
        ?.running;
      const was = before.get(p.uid);
      if (now !== undefined && was !== undefined && now > was && running) {
        ctx.emit(
          `container ${p.container} of ${p.name} restarted by the kubelet (restarts ${was} -> ${now}) ` +
            `${Date.now() - t0} ms after the kill`,
        );
        waiting.delete(p.uid);
      }
    }
    if (waiting.size > 0) await sleep(250);
  }
  for (const p of target.pods) {
    if (waiting.has(p.uid)) {
      ctx.emit(`container ${p.container} of ${p.name} not restarted within ${timeoutMs / 1000}s`);
    }
  }
}

async function killAndReport(
  ctx: FaultContext,
  kind: string,
  target: ResolvedTarget,
  ops: NodeUndo[],
  durationMs: number,
  description: string,
  report: boolean,
): Promise<ActiveFault> {
  const before = new Map<string, number | undefined>();
  for (const p of target.pods) {
    before.set(p.uid, restarts(await readPod(ctx, target, p).catch(() => undefined), p.container));
  }
  const fault = await injectNodeFault(ctx, kind, target, ops, durationMs, description);
  if (report) await reportRestarts(ctx, target, before);
  return fault;
}

// ---------------------------------------------------------------------------------------

const containerKill: FaultDefinition = {
  kind: 'container-kill',
  family: 'pod',
  summary:
    "SIGKILL the container's main process; the kubelet restarts the container (the restart is reported)",
  needsHelper: true,
  params: [],
  preflight: (ctx, _params, target) => containerPreflight(ctx, target),
  plan: (_params, target) => [
    `SIGKILL the main process of ${describeTargets(target)}; the kubelet restarts the container`,
  ],
  inject: (ctx, params, target, durationMs) =>
    killAndReport(
      ctx,
      'container-kill',
      target,
      containerOps(target, 'container-kill', () => ({})),
      durationMs,
      containerKill.plan(params, target).join('; '),
      true,
    ),
};

const processKill: FaultDefinition = {
  kind: 'process-kill',
  family: 'pod',
  summary:
    "send a signal (default SIGKILL) to the container's processes matching a name, pid or /regex/",
  needsHelper: true,
  params: [
    processParam,
    {
      name: 'signal',
      type: 'string',
      enum: [...SIGNALS],
      default: 'SIGKILL',
      description: 'the signal sent',
    },
  ],
  preflight: async (ctx, params, target) => [
    ...processProblems(params),
    ...(await containerPreflight(ctx, target)),
  ],
  plan: (params, target) => [
    `send ${String(params.signal ?? 'SIGKILL')} to the processes matching "${String(params.process)}" in ${describeTargets(target)}`,
  ],
  inject: (ctx, params, target, durationMs) =>
    killAndReport(
      ctx,
      'process-kill',
      target,
      containerOps(target, 'process-kill', () => ({
        process: String(params.process),
        signal: String(params.signal ?? 'SIGKILL'),
      })),
      durationMs,
      processKill.plan(params, target).join('; '),
      // Killing the main process restarts the container: say so when it happens.
      false,
    ),
};

const processStop: FaultDefinition = {
  kind: 'process-stop',
  family: 'pod',
  summary: "SIGSTOP the container's processes matching a name, pid or /regex/; SIGCONT at the end",
  needsHelper: true,
  params: [processParam],
  preflight: async (ctx, params, target) => [
    ...processProblems(params),
    ...(await containerPreflight(ctx, target)),
  ],
  plan: (params, target) => [
    `SIGSTOP the processes matching "${String(params.process)}" in ${describeTargets(target)}; SIGCONT at the end`,
  ],
  inject: (ctx, params, target, durationMs) =>
    injectNodeFault(
      ctx,
      'process-stop',
      target,
      containerOps(target, 'process-stop', () => ({ process: String(params.process) })),
      durationMs,
      processStop.plan(params, target).join('; '),
    ),
};

const containerPause: FaultDefinition = {
  kind: 'container-pause',
  family: 'pod',
  summary:
    'freeze every process of the container (cgroup v1 freezer) for the duration; thawed at the end',
  needsHelper: true,
  params: [],
  preflight: (ctx, _params, target) => containerPreflight(ctx, target),
  plan: (_params, target) => [
    `freeze ${describeTargets(target)} (freezer.state FROZEN), THAWED at the end`,
  ],
  inject: (ctx, params, target, durationMs) =>
    injectNodeFault(
      ctx,
      'container-pause',
      target,
      containerOps(target, 'container-pause', () => ({})),
      durationMs,
      containerPause.plan(params, target).join('; '),
    ),
};

export const processFaults: FaultDefinition[] = [
  containerKill,
  processKill,
  processStop,
  containerPause,
];
