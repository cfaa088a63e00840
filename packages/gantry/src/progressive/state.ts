// The state of a progressive release, kept in the cluster (one Secret per
// service) so that any gantry process can show it, steer it, or take it over
// when the process driving it dies. Writes are compare-and-swap on the
// object's resourceVersion: two writers never silently overwrite each other.
import { gunzipSync, gzipSync } from 'node:zlib';
import { KubeApiError } from '../kube/errors.js';
import type { Kube } from '../kube/client.js';
import type { KubeObject } from '../render/index.js';
import { withoutInlineWebhooks } from '../spec/index.js';
import type { ServiceSpec } from '../spec/index.js';
import type { PlannedStep } from './plan.js';

export type RolloutPhase =
  | 'starting'
  | 'progressing'
  | 'paused'
  | 'promoting'
  | 'aborting'
  | 'promoted'
  | 'aborted'
  | 'failed';

export const TERMINAL_PHASES: readonly RolloutPhase[] = ['promoted', 'aborted', 'failed'];

export type RolloutAction = 'pause' | 'resume' | 'promote' | 'abort';

export interface CheckRecord {
  name: string;
  verdict: string;
  canary: string;
  baseline: string;
  statistic: string;
  threshold: string;
}

export interface DecisionRecord {
  at: string;
  step: number;
  verdict: string;
  confidence: number;
  summary: string;
  checks: CheckRecord[];
}

export interface RolloutState {
  service: string;
  namespace: string;
  strategy: ServiceSpec['release']['strategy'];
  router: 'gateway' | 'replicas';
  /**
   * The validated spec of the new version: secret sources only, never values; webhook
   * URLs written inline are stored as their digest (see withoutInlineWebhooks).
   */
  spec: ServiceSpec;
  /** Directory relative secret files are read from when another process takes over. */
  specDir: string;
  image: string;
  version?: string;
  phase: RolloutPhase;
  steps: PlannedStep[];
  stepIndex: number;
  /** Effective canary share now (after the router's rounding). */
  canaryPercent: number;
  traffic: string;
  /** The step whose traffic split is in force (-1: none yet). */
  appliedStep: number;
  stableReplicas: number;
  startedAt: string;
  stepStartedAt: string;
  /** When the first analysed step with canary traffic began (the release-wide evidence starts here). */
  analysisStartedAt?: string;
  updatedAt: string;
  finishedAt?: string;
  /** Blue-green: when all traffic moved to the new version. */
  switchedAt?: string;
  /** Blue-green: when the preview began (stable's baseline runs from here to the switch). */
  previewStartedAt?: string;
  pausedReason?: string;
  /** A request from another gantry (pause, resume, promote, abort) the driver has not acted on yet. */
  request?: { action: RolloutAction; by: string; at: string };
  /** Set when resume released a manual gate of the current step. */
  gateOpened?: number;
  decisions: DecisionRecord[];
  message?: string;
  /** Revision recorded by the promotion's deploy. */
  revision?: number;
  /** Earlier releases of the service, newest first (kept across releases for history). */
  past?: ReleaseSummary[];
  /**
   * Set when the release was handed to a driver in the cluster (gantry release start
   * --detach): the driver's Deployment, its image and when it was handed over.
   */
  driver?: { deployment: string; image: string; since: string };
}

/** One ended release as `gantry history` lists it. */
export interface ReleaseSummary {
  strategy: RolloutState['strategy'];
  image: string;
  version?: string;
  /** promoted, aborted or failed (or the phase it was left in when replaced). */
  outcome: RolloutPhase;
  /** Why it ended: the judge's verdict, or who promoted or aborted it ("aborted by …"). */
  reason?: string;
  startedAt: string;
  finishedAt?: string;
  /** Steps reached (1-based) of all steps. */
  stepReached: number;
  steps: number;
  revision?: number;
}

export const RELEASES_KEPT = 20;

export function summarize(s: RolloutState): ReleaseSummary {
  return {
    strategy: s.strategy,
    image: s.image,
    ...(s.version ? { version: s.version } : {}),
    outcome: s.phase,
    ...(s.message ? { reason: s.message } : {}),
    startedAt: s.startedAt,
    ...(s.finishedAt ? { finishedAt: s.finishedAt } : {}),
    stepReached: Math.min(s.steps.length, Math.max(0, s.appliedStep + 1)),
    steps: s.steps.length,
    ...(s.revision !== undefined ? { revision: s.revision } : {}),
  };
}

/** Every release recorded for the service, newest first: the current one and the past ones. */
export function releaseHistory(s: RolloutState | undefined): ReleaseSummary[] {
  if (!s) return [];
  return [summarize(s), ...(s.past ?? [])];
}

export const ROLLOUT_TYPE = 'gantry.dev/rollout.v1';
export const LABEL_ROLLOUT_OF = 'gantry.dev/rollout-of';
const DECISIONS_KEPT = 40;

export function rolloutSecretName(service: string): string {
  return `gantry.rollout.${service}`;
}

export function isActive(s: RolloutState | undefined): s is RolloutState {
  return s !== undefined && !TERMINAL_PHASES.includes(s.phase);
}

/** A state as read, with the version a write must be based on. */
export interface Versioned {
  state: RolloutState;
  resourceVersion: string;
}

function resourceVersionOf(o: KubeObject): string {
  return (o.metadata as { resourceVersion?: string }).resourceVersion ?? '';
}

/** The state a release's Secret holds (as read or watched), or undefined when it holds none. */
export function decodeRolloutState(secret: KubeObject): Versioned | undefined {
  const payload = (secret as { data?: Record<string, string> }).data?.state;
  if (!payload) return undefined;
  const state = JSON.parse(
    gunzipSync(Buffer.from(payload, 'base64')).toString('utf8'),
  ) as RolloutState;
  return { state, resourceVersion: resourceVersionOf(secret) };
}

export class ConflictError extends Error {
  override name = 'ConflictError';
}

export class RolloutStore {
  constructor(
    private readonly kube: Kube,
    readonly namespace: string,
    readonly service: string,
  ) {}

  private ref(): KubeObject {
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: rolloutSecretName(this.service), namespace: this.namespace },
    };
  }

  async read(): Promise<Versioned | undefined> {
    const s = await this.kube.get<KubeObject & { data?: Record<string, string> }>(this.ref());
    return s ? decodeRolloutState(s) : undefined;
  }

  /**
   * Writes `state` if the stored object is still at `resourceVersion`
   * (undefined: create, or replace a finished release's state). Throws
   * ConflictError when someone wrote in between.
   */
  async write(state: RolloutState, resourceVersion: string | undefined): Promise<Versioned> {
    state.updatedAt = new Date().toISOString();
    state.decisions = state.decisions.slice(-DECISIONS_KEPT);
    const body = {
      ...this.ref(),
      metadata: {
        ...this.ref().metadata,
        labels: {
          'app.kubernetes.io/managed-by': 'gantry',
          [LABEL_ROLLOUT_OF]: state.service,
          'gantry.dev/phase': state.phase,
        },
        ...(resourceVersion ? { resourceVersion } : {}),
      },
      type: ROLLOUT_TYPE,
      data: {
        state: gzipSync(
          Buffer.from(
            JSON.stringify({ ...state, spec: withoutInlineWebhooks(state.spec) }),
            'utf8',
          ),
        ).toString('base64'),
      },
    } as KubeObject;
    try {
      const saved = resourceVersion ? await this.kube.replace(body) : await this.kube.create(body);
      return { state, resourceVersion: resourceVersionOf(saved) };
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409) {
        throw new ConflictError(
          `the release state of ${this.namespace}/${this.service} changed meanwhile`,
        );
      }
      throw err;
    }
  }

  /**
   * Read-modify-write with retries on conflict: `change` is applied to the
   * freshest state each time. Returns the written state.
   */
  async update(change: (s: RolloutState) => void): Promise<Versioned> {
    for (let attempt = 0; ; attempt++) {
      const cur = await this.read();
      if (!cur) throw new Error(`no release of ${this.namespace}/${this.service} is recorded`);
      change(cur.state);
      try {
        return await this.write(cur.state, cur.resourceVersion);
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt >= 10) throw err;
      }
    }
  }
}

/**
 * Throws when a progressive release of the service is under way: a plain
 * deploy or rollback meanwhile would fight the release over the same objects.
 */
export async function assertNoActiveRelease(
  kube: Kube,
  namespace: string,
  service: string,
): Promise<void> {
  const cur = await new RolloutStore(kube, namespace, service).read();
  if (isActive(cur?.state)) {
    const s = cur.state;
    throw new ActiveReleaseError(
      `a ${s.strategy} release of ${s.image} is under way (${s.phase}); ` +
        'finish it first with gantry release promote or gantry release abort',
    );
  }
}

export class ActiveReleaseError extends Error {
  override name = 'ReleaseError';
}
