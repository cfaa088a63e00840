// The replica-ratio router, for where no proxy can split traffic: the
// service's own Service is widened to select both tracks, and the canary is
// scaled so its pods are the wanted share of all pods. Coarse (whole pods) and
// per connection rather than per request (kube-proxy picks an endpoint when a
// connection opens); the effective share is stated with every split.
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import type { Kube } from '../kube/client.js';
import { KubeApiError, describeObject } from '../kube/errors.js';
import type { ObjectRef } from '../kube/errors.js';
import { waitForRollout } from '../kube/rollout.js';
import { selectorLabels, trackSelector } from '../render/labels.js';
import type { KubeObject } from '../render/objects.js';
import type { ServiceSpec } from '../spec/index.js';
import { _checkPercent, _pct, canaryName } from './router.js';
import type { AppliedTraffic, TrafficRouter, TrafficState } from './router.js';

export interface ReplicaSplit {
  stableReplicas: number;
  canaryReplicas: number;
  /** canary / (stable + canary), in percent. */
  canaryPercent: number;
}

/**
 * Canary replicas beside `stableReplicas` for a requested share w:
 * max(1, round(s*w/(100-w))); none at 0 %; as many as stable at 100 %
 * (stable is never scaled down here, so 100 % is at best half).
 */
export function replicaSplit(stableReplicas: number, canaryPercent: number): ReplicaSplit {
  _checkPercent('canaryPercent', canaryPercent);
  if (!Number.isInteger(stableReplicas) || stableReplicas < 0) {
    throw new RangeError(`stableReplicas must be a whole number >= 0, got ${stableReplicas}`);
  }
  const s = stableReplicas;
  const w = canaryPercent;
  const c = w === 0 ? 0 : w === 100 ? Math.max(1, s) : Math.max(1, Math.round((s * w) / (100 - w)));
  return { stableReplicas: s, canaryReplicas: c, canaryPercent: s + c ? (c * 100) / (s + c) : 0 };
}

export interface ReplicaRouterOptions {
  /** Replicas of the stable Deployment during the release. */
  stableReplicas: number;
  /** How long scaled-up canary pods may take to become ready. Default 120 s. */
  readyTimeoutMs?: number;
}

export class ReplicaRouter implements TrafficRouter {
  readonly kind = 'replicas' as const;

  constructor(
    private readonly kube: Kube,
    private readonly spec: ServiceSpec,
    private readonly opts: ReplicaRouterOptions,
  ) {}

  async apply(state: TrafficState): Promise<AppliedTraffic> {
    const spec = this.spec;
    if (state.kind === 'gray') {
      throw new Error(
        `gray routing is not possible with the replica-ratio router: it cannot pin a user, ` +
          `header or cookie to a version. Give ${spec.name} routes and release.router: gateway`,
      );
    }
    const split = replicaSplit(
      this.opts.stableReplicas,
      state.kind === 'stable' ? 0 : state.canaryPercent,
    );
    const service = this.serviceRef();
    const canary = this.canaryRef();

    if (split.canaryReplicas === 0) {
      // Stable pods only first, then the canary may go.
      await update<V1Service>(this.kube, service, (svc) => {
        const want = trackSelector(spec, 'stable');
        if (sameRecord(svc.spec?.selector, want)) return false;
        svc.spec = { ...svc.spec, selector: want };
        return true;
      });
      await update<V1Deployment>(this.kube, canary, (d) => {
        if (d.spec?.replicas === 0) return false;
        d.spec = { ...d.spec!, replicas: 0 };
        return true;
      });
      const requested =
        state.kind === 'weighted' && state.canaryPercent > 0
          ? ` (requested ${_pct(state.canaryPercent)})`
          : '';
      return {
        canaryPercent: 0,
        description: `all traffic to stable: Service ${spec.name} selects stable pods only, canary scaled to 0${requested}`,
      };
    }

    const scaled = await update<V1Deployment>(this.kube, canary, (d) => {
      if (d.spec?.replicas === split.canaryReplicas) return false;
      d.spec = { ...d.spec!, replicas: split.canaryReplicas };
      return true;
    });
    if (!scaled) {
      throw new Error(
        `${describeObject(canary)} does not exist: start the canary before routing traffic to it`,
      );
    }
    const ready = await waitForRollout(this.kube, spec.namespace, canary.metadata.name, {
      timeoutMs: this.opts.readyTimeoutMs ?? 120_000,
    });
    if (!ready.ok) {
      throw new Error(
        `${describeObject(canary)} did not become ready at ${split.canaryReplicas} replicas: ${ready.message}`,
      );
    }
    const widened = await update<V1Service>(this.kube, service, (svc) => {
      const want = selectorLabels(spec);
      if (sameRecord(svc.spec?.selector, want)) return false;
      svc.spec = { ...svc.spec, selector: want };
      return true;
    });
    if (!widened) {
      throw new Error(
        `${describeObject(service)} does not exist: the replica-ratio router splits traffic through ` +
          `the service's own Service (service.type must not be None)`,
      );
    }
    const requested = state.kind === 'weighted' ? state.canaryPercent : 0;
    const rounding =
      Math.abs(split.canaryPercent - requested) > 1e-9
        ? ` (requested ${_pct(requested)}; replica ratio moves in whole pods)`
        : '';
    return {
      canaryPercent: split.canaryPercent,
      description:
        `${_pct(split.canaryPercent)} of connections to canary by replica ratio: ` +
        `${split.canaryReplicas} canary beside ${split.stableReplicas} stable pods behind ` +
        `Service ${spec.name}${rounding}`,
    };
  }

  private serviceRef(): ObjectRef {
    return { apiVersion: 'v1', kind: 'Service', metadata: this.meta(this.spec.name) };
  }

  private canaryRef(): ObjectRef {
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: this.meta(canaryName(this.spec)),
    };
  }

  private meta(name: string) {
    return { name, namespace: this.spec.namespace };
  }
}

/**
 * Read-modify-replace with optimistic concurrency (retried on a conflict), so
 * only the one field changes and no other manager's fields are touched.
 * `mutate` returns false when nothing needs to change. Resolves to false when
 * the object does not exist.
 */
async function update<T>(
  kube: Kube,
  ref: ObjectRef,
  mutate: (obj: T) => boolean,
): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    const obj = await kube.get<T>(ref);
    if (obj === undefined) return false;
    if (!mutate(obj)) return true;
    try {
      await kube.replace(obj as unknown as KubeObject);
      return true;
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 409) || attempt >= 4) throw err;
    }
  }
}

function sameRecord(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  const ka = Object.keys(a ?? {});
  return ka.length === Object.keys(b).length && ka.every((k) => a?.[k] === b[k]);
}
