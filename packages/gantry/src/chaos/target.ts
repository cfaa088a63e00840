// Which objects a fault acts on: the target service's ready pods of the stable
// track (by count or percent), one container of each, and a node. The safety
// rails live here, so that no fault can be aimed past them: a fault touches
// only the service the spec or experiment names, and a pod-affecting fault at
// most maxPercent (default 50 %) of the service's ready pods.
import { randomInt } from 'node:crypto';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { trackSelector } from '../render/labels.js';
import type { FaultContext, FaultDefinition, ResolvedTarget, TargetSelector } from './fault.js';

/** Share of a service's ready pods one fault may touch unless raised explicitly. */
export const DEFAULT_MAX_PERCENT = 50;

/**
 * What a fault's target is: 'pods' (chosen pods, the max-percent rail applies), 'service'
 * (the whole service by design: service-down), 'node' (a node; the service's pods on it).
 */
export type TargetScope = 'pods' | 'service' | 'node';

export function targetScope(def: Pick<FaultDefinition, 'family'>): TargetScope {
  return def.family === 'service' ? 'service' : def.family === 'node' ? 'node' : 'pods';
}

export interface ResolveOptions {
  scope?: TargetScope;
  /** The namespace/service pairs the experiment names; the spec's own when undefined. */
  allowed?: readonly { namespace: string; service: string }[];
}

/** Thrown when a target cannot be resolved or a safety rail refuses it; nothing was touched. */
export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

export function readyPods(pods: readonly V1Pod[]): V1Pod[] {
  return pods.filter(
    (p) =>
      !p.metadata?.deletionTimestamp &&
      p.status?.phase === 'Running' &&
      p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  );
}

/** How many of `ready` pods a selector chooses: count, or percent rounded up; at least 1. */
export function chosenCount(selector: TargetSelector, ready: number): number {
  if (selector.count !== undefined && selector.percent !== undefined) {
    throw new TargetError('give a count or a percent of pods, not both');
  }
  if (selector.count !== undefined) {
    if (!Number.isInteger(selector.count) || selector.count < 1) {
      throw new TargetError(`count must be a whole number >= 1, not ${selector.count}`);
    }
    return selector.count;
  }
  if (selector.percent !== undefined) {
    if (!(selector.percent > 0 && selector.percent <= 100)) {
      throw new TargetError(`percent must be above 0 and at most 100, not ${selector.percent}`);
    }
    return Math.max(1, Math.ceil((ready * selector.percent) / 100));
  }
  return 1;
}

/**
 * The refusal, if any, of choosing `n` of `ready` pods with at most `maxPercent` of them.
 * Checked against the ready pods: fewer ready pods make each one a larger share.
 */
export function maxPercentProblem(
  n: number,
  ready: number,
  maxPercent: number,
): string | undefined {
  if (ready === 0) return undefined;
  const share = (n / ready) * 100;
  if (share <= maxPercent + 1e-9) return undefined;
  return (
    `${n} of ${ready} ready pods is ${Math.round(share)} % of the service, over the ` +
    `${maxPercent} % one fault may touch; choose fewer pods or raise maxPercent ` +
    `(--max-percent) explicitly`
  );
}

function pick<T>(items: readonly T[], n: number): T[] {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < n && pool.length) out.push(pool.splice(randomInt(pool.length), 1)[0]!);
  return out;
}

/** The service's ready pods (stable track), the chosen ones, the container and the node. */
export async function resolveTarget(
  ctx: FaultContext,
  selector: TargetSelector,
  opts: ResolveOptions = {},
): Promise<ResolvedTarget> {
  const { spec, kube } = ctx;
  const scope = opts.scope ?? 'pods';
  const allowed = opts.allowed ?? [{ namespace: spec.namespace, service: spec.name }];
  if (!allowed.some((a) => a.namespace === spec.namespace && a.service === spec.name)) {
    throw new TargetError(
      `${spec.namespace}/${spec.name} is not named by the experiment ` +
        `(${allowed.map((a) => `${a.namespace}/${a.service}`).join(', ') || 'none'}); ` +
        'faults only touch the services it names',
    );
  }
  const maxPercent = selector.maxPercent ?? DEFAULT_MAX_PERCENT;
  if (!(maxPercent > 0 && maxPercent <= 100)) {
    throw new TargetError(`maxPercent must be above 0 and at most 100, not ${maxPercent}`);
  }
  const labelSelector = Object.entries(trackSelector(spec, 'stable'))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const ready = readyPods(
    await kube.list<V1Pod>('v1', 'Pod', spec.namespace, { labelSelector }),
  ).sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
  const container = selector.container ?? spec.name;

  let node = selector.node;
  if (node !== undefined) {
    const n = await kube.get<V1Node>({ apiVersion: 'v1', kind: 'Node', metadata: { name: node } });
    if (!n) throw new TargetError(`node ${node} does not exist`);
  }
  let chosen: V1Pod[];
  if (scope === 'service') chosen = ready;
  else if (scope === 'node') {
    if (node === undefined) {
      const first = ready[0];
      if (!first) {
        throw new TargetError(
          `${spec.namespace}/${spec.name} has no ready pod, so no node to choose; name one with --node`,
        );
      }
      node = first.spec?.nodeName;
    }
    chosen = ready.filter((p) => p.spec?.nodeName === node);
  } else {
    if (ready.length === 0) {
      throw new TargetError(`${spec.namespace}/${spec.name} has no ready pod to act on`);
    }
    const onNode = node === undefined ? ready : ready.filter((p) => p.spec?.nodeName === node);
    const n = chosenCount(selector, ready.length);
    const refused = maxPercentProblem(n, ready.length, maxPercent);
    if (refused) throw new TargetError(`${spec.namespace}/${spec.name}: ${refused}`);
    if (n > onNode.length) {
      throw new TargetError(
        `${n} pod${n === 1 ? '' : 's'} asked, ${spec.namespace}/${spec.name} has ` +
          `${onNode.length} ready${node ? ` on node ${node}` : ''}`,
      );
    }
    chosen = pick(onNode, n);
    node ??= chosen[0]?.spec?.nodeName;
  }

  const pods = chosen.map((p) => {
    const names = (p.spec?.containers ?? []).map((c) => c.name);
    if (!names.includes(container)) {
      throw new TargetError(
        `pod ${p.metadata!.name!} has no container "${container}" (it has ${names.join(', ')})`,
      );
    }
    const status = p.status?.containerStatuses?.find((c) => c.name === container);
    return {
      name: p.metadata!.name!,
      uid: p.metadata!.uid!,
      node: p.spec?.nodeName ?? '',
      container,
      ...(status?.containerID ? { containerId: status.containerID } : {}),
    };
  });
  return {
    namespace: spec.namespace,
    service: spec.name,
    pods,
    ...(node ? { node } : {}),
  };
}
