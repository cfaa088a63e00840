// The console's actions (only with `gantry console --allow-actions`): promote, pause,
// resume and abort a progressive release, roll back to a recorded revision, restart the
// pods. Each runs the library code of its CLI command with the console user's own
// kubeconfig identity, so Kubernetes RBAC decides; a refusal is kept in the API server's
// words and shown on the page.
//
// What may be done now is offered with its confirmation text, computed from the watched
// cache (service, namespace, release step and weight, revisions, images). The page shows
// that text and sends it back; the server computes it again and refuses (409) when it no
// longer matches, so what the user confirmed is exactly what runs.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Kube } from '../kube/client.js';
import { KubeApiError } from '../kube/errors.js';
import { isActive } from '../progressive/state.js';
import type { RolloutState } from '../progressive/state.js';
import type { ClusterCache } from './cache.js';
import type { ActionKind, ActionLogEntry, ActionOffer, ActionRequest } from './view-types.js';

export const ACTION_KINDS: readonly ActionKind[] = [
  'promote',
  'pause',
  'resume',
  'abort',
  'rollback',
  'restart',
];

/** Budget of the rollouts an action may drive (the CLI commands' defaults). */
const RELEASE_TIMEOUT_MS = 5 * 60_000;
const ROLLBACK_TIMEOUT_MS = 2 * 60_000;
const RESTART_TIMEOUT_MS = 5 * 60_000;
/** Entries kept per service in the page's action log. */
const LOG_KEPT = 20;

const NAME_LABEL = 'app.kubernetes.io/name';
const pct = (x: number) => `${Number(x.toFixed(2))}%`;

/** The image without its registry and with a short digest, as the pages show it. */
function short(image: string): string {
  return image
    .replace(/^[^/]+\.[^/]+\//, '')
    .replace(/^[^/]+:\d+\//, '')
    .replace(/@sha256:([0-9a-f]{12})[0-9a-f]+$/, '@$1');
}

function stableDeployment(cache: ClusterCache, namespace: string, name: string) {
  const d = cache.deployments.items.get(`${namespace}/${name}`);
  return d && d.metadata?.labels?.[NAME_LABEL] === name ? d : undefined;
}

function releaseOffers(s: RolloutState, stableImage: string | undefined): ActionOffer[] {
  const svc = `${s.namespace}/${s.service}`;
  const at =
    s.appliedStep >= 0
      ? `step ${s.appliedStep + 1} of ${s.steps.length}, ${pct(s.canaryPercent)} of traffic to the new version`
      : `before its first step (${pct(s.canaryPercent)} of traffic to the new version)`;
  const what = `the ${s.strategy} release of ${svc} (new image ${short(s.image)}${s.version ? `, version ${s.version}` : ''})`;
  const stable = stableImage ? ` (image ${short(stableImage)})` : '';
  const base = { namespace: s.namespace, name: s.service };
  const out: ActionOffer[] = [];
  if (s.phase !== 'starting' && s.phase !== 'progressing' && s.phase !== 'paused') return out;
  if (s.phase === 'paused') {
    const next = s.steps[s.appliedStep + 1];
    out.push({
      ...base,
      action: 'resume',
      label: 'Resume',
      confirm:
        `Resume ${what}, paused at ${at}${s.pausedReason ? ` (${s.pausedReason})` : ''}: ` +
        (next
          ? `it goes on to step ${s.appliedStep + 2} (${pct(next.weight)}) and the steps after it.`
          : 'it goes on to its promotion.'),
    });
  } else if (s.phase === 'progressing') {
    out.push({
      ...base,
      action: 'pause',
      label: 'Pause',
      confirm: `Pause ${what} at ${at}: it stays there until resumed (the judge still aborts a bad canary).`,
    });
  }
  const left = s.steps.length - Math.max(0, s.appliedStep + 1);
  out.push({
    ...base,
    action: 'promote',
    label: 'Promote',
    confirm:
      `Promote ${what} now, at ${at}` +
      `${left > 0 ? `, skipping the ${left} remaining step${left === 1 ? '' : 's'}` : ''}: ` +
      `stable${stable} is rolled to ${short(s.image)} and takes all traffic.`,
  });
  out.push({
    ...base,
    action: 'abort',
    label: 'Abort',
    confirm: `Abort ${what} at ${at}: all traffic goes back to stable${stable} at once and the new version's pods are removed.`,
  });
  return out;
}

/** What may be done to a service now, each with its confirmation. */
export function offersFor(cache: ClusterCache, namespace: string, name: string): ActionOffer[] {
  const s = cache.rollout(namespace, name);
  const d = stableDeployment(cache, namespace, name);
  const stableImage = d?.spec?.template?.spec?.containers?.[0]?.image;
  if (isActive(s)) return releaseOffers(s, stableImage);
  const out: ActionOffer[] = [];
  const revisions = [...cache.releases.items.values()]
    .filter((r) => r.namespace === namespace && r.service === name)
    .sort((a, b) => b.revision - a.revision);
  const cur = revisions.find((r) => r.status === 'deployed');
  const next = (revisions[0]?.revision ?? 0) + 1;
  if (d) {
    const replicas = d.spec?.replicas ?? 1;
    out.push({
      namespace,
      name,
      action: 'restart',
      label: 'Restart',
      confirm:
        `Restart every pod of ${namespace}/${name} (Deployment ${name}, ${replicas} replica${replicas === 1 ? '' : 's'}` +
        `${cur ? `, revision r${cur.revision}` : ''}) with a rolling update; image and configuration stay as they are.`,
    });
  }
  for (const r of revisions) {
    if (r.status !== 'superseded' || (cur && r.revision === cur.revision)) continue;
    out.push({
      namespace,
      name,
      action: 'rollback',
      revision: r.revision,
      label: `Roll back to r${r.revision}`,
      confirm:
        `Roll ${namespace}/${name} back to revision r${r.revision} (image ${short(r.image)}${r.version ? `, version ${r.version}` : ''}): ` +
        `its recorded objects are applied again as new revision r${next}` +
        `${cur ? `, replacing r${cur.revision} (image ${short(cur.image)})` : ''}.`,
    });
  }
  return out;
}

const sameOffer = (o: ActionOffer, r: Omit<ActionRequest, 'confirm'>) =>
  o.action === r.action &&
  o.namespace === r.namespace &&
  o.name === r.name &&
  (o.revision ?? null) === (r.revision ?? null);

/** What the library calls do; injectable so the server can be tested without a cluster. */
export interface ActionRunner {
  run(
    kube: Kube,
    req: Omit<ActionRequest, 'confirm'>,
    actor: string,
    /** Aborted when the console stops: a release it drives is left as stored, for another to take over. */
    signal: AbortSignal,
  ): Promise<{ ok: boolean; message: string }>;
}

/** The CLI commands' library code: requestAction, rollbackService, restartService. */
export const libraryRunner: ActionRunner = {
  async run(kube, req, actor, signal) {
    const service = { namespace: req.namespace, name: req.name };
    switch (req.action) {
      case 'promote':
      case 'pause':
      case 'resume':
      case 'abort': {
        const { requestAction } = await import('../progressive/index.js');
        const { cleanUpFinishedDriver } = await import('../progressive/detach/index.js');
        const s = await requestAction(kube, req.namespace, req.name, req.action, {
          actor,
          rolloutTimeoutMs: RELEASE_TIMEOUT_MS,
          signal,
        });
        // A driver in the cluster removes itself when the release ends; one that could not is removed here.
        await cleanUpFinishedDriver(kube, s);
        const ok =
          req.action === 'abort'
            ? s.phase === 'aborted'
            : s.phase !== 'aborting' && s.phase !== 'aborted' && s.phase !== 'failed';
        return {
          ok,
          message: `release ${s.phase}${s.message ? `: ${s.message}` : ''}${s.pausedReason ? ` (${s.pausedReason})` : ''}`,
        };
      }
      case 'rollback': {
        const { rollbackService } = await import('../release/rollback.js');
        const r = await rollbackService(kube, service, {
          ...(req.revision !== undefined ? { revision: req.revision } : {}),
          timeoutMs: ROLLBACK_TIMEOUT_MS,
          lockWaitMs: 0,
          holder: actor,
        });
        return { ok: r.ok, message: `revision r${r.revision} ${r.status}: ${r.message}` };
      }
      case 'restart': {
        const { restartService } = await import('../release/restart.js');
        const r = await restartService(kube, service, {
          timeoutMs: RESTART_TIMEOUT_MS,
          lockWaitMs: 0,
          holder: actor,
        });
        return { ok: r.ok, message: r.ok ? r.message : `${r.reason}: ${r.message}` };
      }
    }
  },
};

export type StartResult =
  | { ok: true; entry: ActionLogEntry }
  | { ok: false; status: number; message: string; offer?: ActionOffer };

export interface ActionsOptions {
  kube: Kube;
  cache: ClusterCache;
  /** The kubeconfig identity actions run as (SelfSubjectReview, else the context). */
  user: string;
  /** Called when an action starts and when it ends (the server log and the JSON line). */
  audit: (entry: ActionLogEntry) => void;
  /** Called when the action log changes (pages are sent their view again). */
  onChange: () => void;
  runner?: ActionRunner;
}

/** The actions of one console: offers, the running ones, and their log. */
export class Actions {
  private readonly log = new Map<string, ActionLogEntry[]>();
  private readonly runner: ActionRunner;
  private readonly stopping = new AbortController();
  readonly actor: string;

  constructor(private readonly o: ActionsOptions) {
    this.runner = o.runner ?? libraryRunner;
    this.actor = `${o.user} via gantry console on ${hostname()} pid ${process.pid}`;
  }

  get user(): string {
    return this.o.user;
  }

  offers(namespace: string, name: string): ActionOffer[] {
    return offersFor(this.o.cache, namespace, name);
  }

  logOf(namespace: string, name: string): ActionLogEntry[] {
    return this.log.get(`${namespace}/${name}`) ?? [];
  }

  /** Checks the request against what is on offer now and starts it; the outcome arrives in the log. */
  start(req: ActionRequest): StartResult {
    const key = `${req.namespace}/${req.name}`;
    const running = this.logOf(req.namespace, req.name).find((e) => e.outcome === 'running');
    if (running) {
      return {
        ok: false,
        status: 409,
        message: `${running.action} of ${key} (started by ${running.user}) is still running; wait for it to end`,
      };
    }
    const offer = this.offers(req.namespace, req.name).find((o) => sameOffer(o, req));
    if (!offer) {
      return {
        ok: false,
        status: 409,
        message: `${req.action}${req.revision !== undefined ? ` to r${req.revision}` : ''} is not possible for ${key} now (the service or its release changed); nothing was done`,
      };
    }
    if (offer.confirm !== req.confirm) {
      return {
        ok: false,
        status: 409,
        message: 'the situation changed since the page asked; confirm again what will happen now',
        offer,
      };
    }
    const entry: ActionLogEntry = {
      id: randomBytes(6).toString('hex'),
      action: req.action,
      namespace: req.namespace,
      name: req.name,
      ...(req.revision !== undefined ? { revision: req.revision } : {}),
      user: this.o.user,
      confirm: offer.confirm,
      startedAt: new Date().toISOString(),
      outcome: 'running',
    };
    const list = [entry, ...this.logOf(req.namespace, req.name)].slice(0, LOG_KEPT);
    this.log.set(key, list);
    this.o.audit(entry);
    this.o.onChange();
    const { confirm: _c, ...what } = req;
    void this.runner
      .run(this.o.kube, what, this.actor, this.stopping.signal)
      .then(
        (r) => {
          entry.outcome = r.ok ? 'ok' : 'failed';
          entry.message = r.message;
        },
        (err: unknown) => {
          entry.outcome = 'failed';
          entry.message = err instanceof Error ? err.message : String(err);
          if (err instanceof KubeApiError) entry.status = err.status;
        },
      )
      .finally(() => {
        entry.finishedAt = new Date().toISOString();
        this.o.audit(entry);
        this.o.onChange();
      });
    return { ok: true, entry };
  }

  /** The console stops: a release this console drives is left as stored (another gantry may take it over). */
  close(): void {
    this.stopping.abort();
  }
}

/** Who the kubeconfig identity is, as the API server sees it (SelfSubjectReview), else undefined. */
export async function whoAmI(kube: Kube): Promise<string | undefined> {
  try {
    const r = await kube.create<{
      apiVersion: string;
      kind: string;
      metadata: { name: string };
      status?: { userInfo?: { username?: string } };
    }>({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'SelfSubjectReview',
      metadata: { name: '' },
    });
    return r.status?.userInfo?.username || undefined;
  } catch {
    return undefined;
  }
}

/** Parses POST /api/actions' body; a message when it is not a valid request. */
export function parseActionRequest(body: unknown): ActionRequest | string {
  const b = body as Partial<ActionRequest> | null;
  if (typeof b !== 'object' || b === null) return 'the body must be a JSON object';
  if (!ACTION_KINDS.includes(b.action as ActionKind))
    return `action must be one of ${ACTION_KINDS.join(', ')}`;
  const dns = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
  if (typeof b.namespace !== 'string' || !dns.test(b.namespace))
    return 'namespace must be a DNS label';
  if (typeof b.name !== 'string' || !dns.test(b.name)) return 'name must be a DNS label';
  if (b.revision !== undefined && (!Number.isInteger(b.revision) || b.revision < 1))
    return 'revision must be a whole number';
  if (b.action === 'rollback' && b.revision === undefined) return 'rollback needs a revision';
  if (typeof b.confirm !== 'string' || !b.confirm) return 'confirm: the text the page showed';
  return {
    action: b.action as ActionKind,
    namespace: b.namespace,
    name: b.name,
    ...(b.revision !== undefined ? { revision: b.revision } : {}),
    confirm: b.confirm,
  };
}
