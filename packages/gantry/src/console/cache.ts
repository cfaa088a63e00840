// One in-memory picture of what Gantry manages, kept current by Kubernetes watches:
// Deployments, ReplicaSets and Pods labelled managed-by=gantry, the release records
// (Secrets labelled gantry.dev/release-of) and the progressive-release states (Secrets
// labelled gantry.dev/rollout-of). Every open page reads this one cache; the API server
// sees one list and one watch per collection, whatever the number of pages.
//
// A watch that ends is resumed from the last resourceVersion seen; one refused (403 from
// RBAC) keeps the API's message for the pages and is retried with a growing delay.
import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { KubeApiError } from '../kube/errors.js';
import type { Kube, WatchEventType } from '../kube/client.js';
import { LABEL_RELEASE_OF, decodeRelease } from '../release/record.js';
import type { ReleaseRecord } from '../release/record.js';
import { LABEL_ROLLOUT_OF, rolloutSecretName } from '../progressive/state.js';
import type { RolloutState } from '../progressive/state.js';
import { gunzipSync } from 'node:zlib';

export const MANAGED_SELECTOR = 'app.kubernetes.io/managed-by=gantry';

/** A release record without its objects (the console shows the history, not the manifests). */
export type RevisionSummary = Omit<ReleaseRecord, 'objects' | 'secretHashes'>;

export interface WeightPoint {
  /** Unix milliseconds. */
  t: number;
  weight: number;
  phase: string;
}

export type CollectionName = 'deployments' | 'replicasets' | 'pods' | 'releases' | 'rollouts';

export interface CollectionStatus {
  synced: boolean;
  /** The API's message when the last list or watch was refused or failed. */
  error?: string;
  /** HTTP status of that refusal (403: RBAC). */
  status?: number;
}

interface CollectionSpec<T> {
  name: CollectionName;
  path: (namespace: string | undefined) => string;
  list: (kube: Kube, namespace: string | undefined) => Promise<unknown[]>;
  labelSelector: string;
  /** What is kept of each object (undefined: nothing). */
  keep: (raw: unknown) => T | undefined;
}

const key = (o: { metadata?: { namespace?: string; name?: string } }) =>
  `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

function slim<T extends { metadata?: { managedFields?: unknown } }>(o: T): T {
  if (o.metadata) delete o.metadata.managedFields;
  return o;
}

export interface DecodedRollout {
  namespace: string;
  service: string;
  state: RolloutState;
}

const collections = {
  deployments: {
    name: 'deployments',
    path: (ns) => (ns ? `/apis/apps/v1/namespaces/${ns}/deployments` : '/apis/apps/v1/deployments'),
    list: (kube, ns) => kube.list('apps/v1', 'Deployment', ns, { labelSelector: MANAGED_SELECTOR }),
    labelSelector: MANAGED_SELECTOR,
    keep: (raw) => slim(raw as V1Deployment),
  } satisfies CollectionSpec<V1Deployment>,
  replicasets: {
    name: 'replicasets',
    path: (ns) => (ns ? `/apis/apps/v1/namespaces/${ns}/replicasets` : '/apis/apps/v1/replicasets'),
    list: (kube, ns) => kube.list('apps/v1', 'ReplicaSet', ns, { labelSelector: MANAGED_SELECTOR }),
    labelSelector: MANAGED_SELECTOR,
    keep: (raw): V1ReplicaSet => {
      const rs = raw as V1ReplicaSet;
      // The pod template is the bulk of a ReplicaSet; the console needs its revision and image.
      const c = rs.spec?.template?.spec?.containers?.[0];
      return {
        metadata: {
          name: rs.metadata?.name ?? '',
          namespace: rs.metadata?.namespace ?? '',
          labels: rs.metadata?.labels ?? {},
          annotations: rs.metadata?.annotations ?? {},
          ...(rs.metadata?.creationTimestamp
            ? { creationTimestamp: rs.metadata.creationTimestamp }
            : {}),
          ownerReferences: rs.metadata?.ownerReferences ?? [],
        },
        spec: {
          selector: rs.spec?.selector ?? {},
          ...(rs.spec?.replicas !== undefined ? { replicas: rs.spec.replicas } : {}),
          template: { spec: { containers: c ? [{ name: c.name, image: c.image ?? '' }] : [] } },
        },
        ...(rs.status ? { status: rs.status } : {}),
      };
    },
  } satisfies CollectionSpec<V1ReplicaSet>,
  pods: {
    name: 'pods',
    path: (ns) => (ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods'),
    list: (kube, ns) => kube.list('v1', 'Pod', ns, { labelSelector: MANAGED_SELECTOR }),
    labelSelector: MANAGED_SELECTOR,
    keep: (raw) => slim(raw as V1Pod),
  } satisfies CollectionSpec<V1Pod>,
  releases: {
    name: 'releases',
    path: (ns) => (ns ? `/api/v1/namespaces/${ns}/secrets` : '/api/v1/secrets'),
    list: (kube, ns) => kube.list('v1', 'Secret', ns, { labelSelector: LABEL_RELEASE_OF }),
    labelSelector: LABEL_RELEASE_OF,
    keep: (raw) => {
      try {
        const {
          objects: _o,
          secretHashes: _s,
          ...rest
        } = decodeRelease(raw as { data?: Record<string, string> });
        return rest;
      } catch {
        return undefined;
      }
    },
  } satisfies CollectionSpec<RevisionSummary>,
  rollouts: {
    name: 'rollouts',
    path: (ns) => (ns ? `/api/v1/namespaces/${ns}/secrets` : '/api/v1/secrets'),
    list: (kube, ns) => kube.list('v1', 'Secret', ns, { labelSelector: LABEL_ROLLOUT_OF }),
    labelSelector: LABEL_ROLLOUT_OF,
    keep: (raw) => {
      const s = raw as {
        metadata?: { namespace?: string; labels?: Record<string, string> };
        data?: Record<string, string>;
      };
      const payload = s.data?.state;
      if (!payload) return undefined;
      try {
        const state = JSON.parse(
          gunzipSync(Buffer.from(payload, 'base64')).toString('utf8'),
        ) as RolloutState;
        return {
          namespace: s.metadata?.namespace ?? state.namespace,
          service: s.metadata?.labels?.[LABEL_ROLLOUT_OF] ?? state.service,
          state,
        };
      } catch {
        return undefined;
      }
    },
  } satisfies CollectionSpec<DecodedRollout>,
};

const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;
/** Canary weights remembered per service (a release has a handful of steps). */
const WEIGHT_POINTS_KEPT = 500;

export class Collection<T> {
  readonly items = new Map<string, T>();
  status: CollectionStatus = { synced: false };
  private stop: (() => void) | undefined;
  private resourceVersion: string | undefined;
  private retryMs = RETRY_MIN_MS;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Requests this collection sent to the API server (lists and watches). */
  requests = 0;

  constructor(
    private readonly kube: Kube,
    private readonly spec: CollectionSpec<T>,
    private readonly namespace: string | undefined,
    private readonly changed: (name: CollectionName, key: string, value: T | undefined) => void,
  ) {}

  start(): void {
    void this.relist();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.stop?.();
  }

  private async relist(): Promise<void> {
    if (this.closed) return;
    this.requests++;
    let raw: unknown[];
    try {
      raw = await this.spec.list(this.kube, this.namespace);
    } catch (err) {
      this.failed(err);
      return;
    }
    if (this.closed) return;
    const seen = new Set<string>();
    for (const o of raw) {
      const k = key(o as { metadata?: { namespace?: string; name?: string } });
      seen.add(k);
      this.put(k, o);
    }
    for (const k of [...this.items.keys()]) {
      if (!seen.has(k)) {
        this.items.delete(k);
        this.changed(this.spec.name, k, undefined);
      }
    }
    this.status = { synced: true };
    // Kube.list does not return the list's resourceVersion: the first watch starts at the
    // newest state (the API server sends every object once more as ADDED, which changes
    // nothing here); later ones resume from the last event's resourceVersion.
    this.resourceVersion = undefined;
    this.changed(this.spec.name, '', undefined);
    this.watch();
  }

  private put(k: string, raw: unknown): void {
    const v = this.spec.keep(raw);
    if (v === undefined) this.items.delete(k);
    else this.items.set(k, v);
    this.changed(this.spec.name, k, v);
  }

  private watch(): void {
    if (this.closed) return;
    this.requests++;
    const params: Record<string, string> = {
      labelSelector: this.spec.labelSelector,
      timeoutSeconds: '600',
    };
    if (this.resourceVersion) params.resourceVersion = this.resourceVersion;
    void this.kube
      .watch(
        this.spec.path(this.namespace),
        params,
        (type: WatchEventType, obj: unknown) => {
          const meta = (obj as { metadata?: { resourceVersion?: string } }).metadata;
          if (meta?.resourceVersion) this.resourceVersion = meta.resourceVersion;
          this.retryMs = RETRY_MIN_MS;
          if (type === 'BOOKMARK') return;
          const k = key(obj as { metadata?: { namespace?: string; name?: string } });
          if (type === 'DELETED') {
            if (this.items.delete(k)) this.changed(this.spec.name, k, undefined);
          } else this.put(k, obj);
        },
        (err) => {
          this.stop = undefined;
          if (this.closed) return;
          if (!err) {
            this.watch(); // the server closed a watch at its timeout: resume
            return;
          }
          // 410 Gone (too old a resourceVersion) arrives as an ERROR event with status 0 here.
          if (err instanceof KubeApiError && /too old|expired|Gone/i.test(err.message)) {
            this.resourceVersion = undefined;
            void this.relist();
            return;
          }
          this.failed(err);
        },
      )
      .then((stop) => {
        if (this.closed) stop();
        else this.stop = stop;
      });
  }

  private failed(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.status = {
      synced: this.status.synced,
      error: message,
      ...(err instanceof KubeApiError && err.status ? { status: err.status } : {}),
    };
    this.changed(this.spec.name, '', undefined);
    if (this.closed) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    this.timer = setTimeout(() => void this.relist(), delay);
    this.timer.unref();
  }
}

export interface CacheOptions {
  /** Watch one namespace only (for identities that may not list across namespaces). */
  namespace?: string;
}

export class ClusterCache {
  readonly deployments: Collection<V1Deployment>;
  readonly replicasets: Collection<V1ReplicaSet>;
  readonly pods: Collection<V1Pod>;
  readonly releases: Collection<RevisionSummary>;
  readonly rollouts: Collection<DecodedRollout>;
  /** Canary weight over time per service ("ns/name"), as the state objects changed. */
  readonly weights = new Map<string, WeightPoint[]>();
  /** Bumped on every change; views compare it to skip work. */
  version = 0;
  private readonly listeners = new Set<(what: CollectionName) => void>();

  constructor(
    readonly kube: Kube,
    readonly opts: CacheOptions = {},
  ) {
    const changed = (name: CollectionName, k: string, v: unknown) => {
      this.version++;
      if (name === 'rollouts' && v) this.noteWeight(k, v as DecodedRollout);
      for (const l of this.listeners) l(name);
    };
    const ns = opts.namespace;
    this.deployments = new Collection(kube, collections.deployments, ns, changed);
    this.replicasets = new Collection(kube, collections.replicasets, ns, changed);
    this.pods = new Collection(kube, collections.pods, ns, changed);
    this.releases = new Collection(kube, collections.releases, ns, changed);
    this.rollouts = new Collection(kube, collections.rollouts, ns, changed);
  }

  private all() {
    return [this.deployments, this.replicasets, this.pods, this.releases, this.rollouts] as const;
  }

  start(): void {
    for (const c of this.all()) c.start();
  }

  close(): void {
    for (const c of this.all()) c.close();
    this.listeners.clear();
  }

  onChange(l: (what: CollectionName) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  status(): Record<CollectionName, CollectionStatus> {
    return {
      deployments: this.deployments.status,
      replicasets: this.replicasets.status,
      pods: this.pods.status,
      releases: this.releases.status,
      rollouts: this.rollouts.status,
    };
  }

  /** Lists and watches sent to the API server so far. */
  apiRequests(): number {
    return this.all().reduce((n, c) => n + c.requests, 0);
  }

  rollout(namespace: string, service: string): RolloutState | undefined {
    return this.rollouts.items.get(`${namespace}/${rolloutSecretName(service)}`)?.state;
  }

  private noteWeight(k: string, r: DecodedRollout): void {
    const id = `${r.namespace}/${r.service}`;
    const s = r.state;
    let pts = this.weights.get(id);
    if (!pts || (pts[0] && pts[0].t < Date.parse(s.startedAt) - 1000)) {
      // A new release (or the first sight of one): what the decisions and steps tell of the past.
      pts = reconstructWeights(s);
      this.weights.set(id, pts);
    }
    const last = pts[pts.length - 1];
    const t = Date.parse(s.updatedAt) || Date.now();
    if (!last || last.weight !== s.canaryPercent || last.phase !== s.phase) {
      pts.push({ t: Math.max(t, last?.t ?? 0), weight: s.canaryPercent, phase: s.phase });
      if (pts.length > WEIGHT_POINTS_KEPT) pts.splice(0, pts.length - WEIGHT_POINTS_KEPT);
    }
    void k;
  }
}

/** The weights a release had before the console saw it: the start, then each step's first verdict. */
export function reconstructWeights(s: RolloutState): WeightPoint[] {
  const pts: WeightPoint[] = [{ t: Date.parse(s.startedAt), weight: 0, phase: 'starting' }];
  const seen = new Set<number>();
  for (const d of s.decisions) {
    if (seen.has(d.step)) continue;
    seen.add(d.step);
    const w = s.steps[d.step]?.weight;
    if (w !== undefined) pts.push({ t: Date.parse(d.at), weight: w, phase: 'progressing' });
  }
  return pts.filter((p) => Number.isFinite(p.t)).sort((a, b) => a.t - b.t);
}
