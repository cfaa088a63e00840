// The pages' data, computed from the watched cache (and the alert and detail sources):
// pure functions from what is known now to what a page shows.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { deploymentRollout, podProblem, podReady } from '../kube/readiness.js';
import { TRACK_LABEL } from '../render/labels.js';
import { isActive } from '../progressive/state.js';
import type { RolloutState } from '../progressive/state.js';
import { analysisFor } from '../analysis/user-traffic.js';
import { trackQueries } from '../analysis/measure.js';
import type { ClusterCache, CollectionName, RevisionSummary } from './cache.js';
import { releasePanels, servicePanels } from './panels.js';
import type { PanelDef } from './panels.js';
import { specOf } from './spec-of.js';
import type {
  ActiveRelease,
  AlertRow,
  AlertsView,
  EventRow,
  FleetRow,
  FleetView,
  Health,
  Marker,
  PanelMeta,
  PodRow,
  Problem,
  ReleaseView,
  ServiceView,
} from './view-types.js';

const NAME_LABEL = 'app.kubernetes.io/name';

export interface AlertSnapshot {
  alerts: AlertRow[];
  silences: AlertsView['silences'];
  problems: Problem[];
  at: number;
}

export interface ServiceDetails {
  events: EventRow[];
  logs: { pod: string; lines: string }[];
  problems: Problem[];
}

function cacheProblems(cache: ClusterCache, only?: CollectionName[]): Problem[] {
  return Object.entries(cache.status())
    .filter(([name, s]) => s.error && (!only || only.includes(name as CollectionName)))
    .map(([name, s]) => ({
      what: name,
      message: s.error ?? '',
      ...(s.status ? { status: s.status } : {}),
    }));
}

function synced(cache: ClusterCache): boolean {
  return Object.values(cache.status()).every((s) => s.synced || s.error);
}

/** The service's own Deployment (the stable track), by namespace/name. */
function stableDeployments(cache: ClusterCache): Map<string, V1Deployment> {
  const out = new Map<string, V1Deployment>();
  for (const d of cache.deployments.items.values()) {
    const name = d.metadata?.labels?.[NAME_LABEL];
    if (!name || d.metadata?.name !== name) continue;
    out.set(`${d.metadata?.namespace ?? ''}/${name}`, d);
  }
  return out;
}

/** Pods and release records by "namespace/service", built once per cache version. */
interface Index {
  version: number;
  pods: Map<string, V1Pod[]>;
  revisions: Map<string, RevisionSummary[]>;
}
const indexes = new WeakMap<ClusterCache, Index>();

function indexOf(cache: ClusterCache): Index {
  const cached = indexes.get(cache);
  if (cached?.version === cache.version) return cached;
  const pods = new Map<string, V1Pod[]>();
  for (const p of cache.pods.items.values()) {
    const k = `${p.metadata?.namespace ?? ''}/${p.metadata?.labels?.[NAME_LABEL] ?? ''}`;
    const list = pods.get(k);
    if (list) list.push(p);
    else pods.set(k, [p]);
  }
  const revisions = new Map<string, RevisionSummary[]>();
  for (const r of cache.releases.items.values()) {
    const k = `${r.namespace}/${r.service}`;
    const list = revisions.get(k);
    if (list) list.push(r);
    else revisions.set(k, [r]);
  }
  for (const list of revisions.values()) list.sort((a, b) => b.revision - a.revision);
  const index = { version: cache.version, pods, revisions };
  indexes.set(cache, index);
  return index;
}

function podsOf(cache: ClusterCache, namespace: string, name: string): V1Pod[] {
  return indexOf(cache).pods.get(`${namespace}/${name}`) ?? [];
}

function revisionsOf(cache: ClusterCache, namespace: string, name: string): RevisionSummary[] {
  return indexOf(cache).revisions.get(`${namespace}/${name}`) ?? [];
}

export function activeRelease(s: RolloutState | undefined): ActiveRelease | undefined {
  if (!isActive(s)) return undefined;
  return {
    strategy: s.strategy,
    phase: s.phase,
    step: Math.max(0, s.appliedStep + 1),
    steps: s.steps.length,
    weight: s.canaryPercent,
    traffic: s.traffic,
    ...(s.pausedReason ? { pausedReason: s.pausedReason } : {}),
  };
}

function alertMatches(a: AlertRow, namespace: string, name: string): boolean {
  return a.namespace === namespace && a.service === name;
}

function health(
  d: V1Deployment,
  pods: V1Pod[],
  release: ActiveRelease | undefined,
  alerts: AlertRow[],
): { health: Health; reason: string } {
  const firing = alerts.filter((a) => a.state === 'firing');
  const rollout = deploymentRollout(d);
  if (rollout.phase === 'failed') return { health: 'failed', reason: rollout.message };
  const critical = firing.find((a) => a.severity === 'page' || a.severity === 'critical');
  if (critical) return { health: 'failed', reason: `alert ${critical.name} is firing` };
  for (const p of pods) {
    const problem = podProblem(p);
    if (problem) return { health: 'degraded', reason: `${problem.pod}: ${problem.message}` };
  }
  if (firing[0]) return { health: 'degraded', reason: `alert ${firing[0].name} is firing` };
  if (release) {
    const paused = release.pausedReason ? ` (${release.pausedReason})` : '';
    return {
      health: 'progressing',
      reason: `${release.strategy} release ${release.phase}, step ${release.step}/${release.steps} at ${release.weight}%${paused}`,
    };
  }
  const desired = d.spec?.replicas ?? 1;
  const ready = d.status?.readyReplicas ?? 0;
  // A rollout under way is progress; every pod on the new template but some not ready is not.
  const rolling =
    (d.status?.observedGeneration ?? 0) < (d.metadata?.generation ?? 0) ||
    (d.status?.updatedReplicas ?? 0) < desired ||
    (d.status?.replicas ?? 0) > desired;
  if (rollout.phase === 'progressing' && rolling) {
    return { health: 'progressing', reason: rollout.message };
  }
  if (ready < desired)
    return { health: 'degraded', reason: `${ready} of ${desired} replicas ready` };
  if (desired === 0) return { health: 'ok', reason: 'scaled to zero' };
  return { health: 'ok', reason: `all ${desired} replicas ready` };
}

function fleetRow(cache: ClusterCache, d: V1Deployment, alerts: AlertRow[]): FleetRow {
  const namespace = d.metadata?.namespace ?? '';
  const name = d.metadata?.name ?? '';
  const revisions = revisionsOf(cache, namespace, name);
  const current = revisions.find((r) => r.status === 'deployed');
  const release = activeRelease(cache.rollout(namespace, name));
  const mine = alerts.filter((a) => alertMatches(a, namespace, name));
  const c = d.spec?.template?.spec?.containers?.[0];
  const version = d.metadata?.labels?.['app.kubernetes.io/version'];
  return {
    namespace,
    name,
    ...(current
      ? { revision: current.revision, deployedAt: current.finishedAt ?? current.startedAt }
      : {}),
    image: c?.image ?? '',
    ...(version ? { version } : {}),
    ready: d.status?.readyReplicas ?? 0,
    desired: d.spec?.replicas ?? 1,
    ...health(d, podsOf(cache, namespace, name), release, mine),
    ...(release ? { release } : {}),
    alerts: mine.filter((a) => a.state === 'firing'),
  };
}

export function fleetView(cache: ClusterCache, alerts: AlertSnapshot): FleetView {
  const rows = [...stableDeployments(cache).values()]
    .map((d) => fleetRow(cache, d, alerts.alerts))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  return {
    kind: 'fleet',
    rows,
    synced: synced(cache),
    problems: [...cacheProblems(cache), ...alerts.problems],
  };
}

function panelMeta(namespace: string, name: string, defs: PanelDef[]): PanelMeta[] {
  return defs.map((p) => ({ ...p, key: `${namespace}/${name}/${p.id}` }));
}

/** The spec behind a service's charts, parsed once per cache version (zod parsing is not free). */
const specs = new WeakMap<
  ClusterCache,
  { version: number; byService: Map<string, ReturnType<typeof specOf>> }
>();

function specFor(cache: ClusterCache, namespace: string, name: string): ReturnType<typeof specOf> {
  let memo = specs.get(cache);
  if (memo?.version !== cache.version) {
    memo = { version: cache.version, byService: new Map() };
    specs.set(cache, memo);
  }
  const k = `${namespace}/${name}`;
  let s = memo.byService.get(k);
  if (!s) {
    const d = stableDeployments(cache).get(k);
    s = specOf(namespace, name, d, cache.rollout(namespace, name)?.spec);
    memo.byService.set(k, s);
  }
  return s;
}

/** The panels of a page, with their PromQL (the schedule runs these). */
export function servicePanelDefs(
  cache: ClusterCache,
  namespace: string,
  name: string,
): { panels: PanelMeta[]; from: 'release state' | 'deployment' } {
  const { spec, from } = specFor(cache, namespace, name);
  return { panels: panelMeta(namespace, name, servicePanels(spec)), from };
}

export function releasePanelDefs(cache: ClusterCache, namespace: string, name: string) {
  const { spec } = specFor(cache, namespace, name);
  return { spec, panels: panelMeta(namespace, name, releasePanels(spec)) };
}

const secs = (iso: string | undefined) => (iso ? Date.parse(iso) / 1000 : NaN);

/** Deploys, rollbacks and release steps of a service, for the charts' time axis. */
export function markers(revisions: RevisionSummary[], s: RolloutState | undefined): Marker[] {
  const out: Marker[] = [];
  for (const r of revisions) {
    if (r.status === 'pending') continue;
    out.push({
      t: secs(r.finishedAt ?? r.startedAt),
      kind: r.rollbackOf !== undefined ? 'rollback' : 'deploy',
      label:
        r.rollbackOf !== undefined
          ? `rollback to r${r.rollbackOf} (r${r.revision})`
          : `deploy r${r.revision}${r.status === 'failed' ? ' failed' : ''}`,
    });
  }
  if (s) {
    for (const p of s.past ?? []) {
      out.push({ t: secs(p.startedAt), kind: 'release', label: `${p.strategy} start` });
      if (p.finishedAt) out.push({ t: secs(p.finishedAt), kind: 'end', label: p.outcome });
    }
    out.push({ t: secs(s.startedAt), kind: 'release', label: `${s.strategy} start` });
    const seen = new Set<number>();
    for (const d of s.decisions) {
      if (seen.has(d.step)) continue;
      seen.add(d.step);
      out.push({
        t: secs(d.at),
        kind: 'step',
        label: `step ${d.step + 1}: ${s.steps[d.step]?.weight ?? '?'}%`,
      });
    }
    if (s.appliedStep >= 0 && !seen.has(s.appliedStep)) {
      out.push({
        t: secs(s.stepStartedAt),
        kind: 'step',
        label: `step ${s.appliedStep + 1}: ${s.steps[s.appliedStep]?.weight ?? '?'}%`,
      });
    }
    if (s.finishedAt) out.push({ t: secs(s.finishedAt), kind: 'end', label: s.phase });
  }
  return out.filter((m) => Number.isFinite(m.t)).sort((a, b) => a.t - b.t);
}

function podRow(p: V1Pod): PodRow {
  const statuses = p.status?.containerStatuses ?? [];
  const problem = podProblem(p);
  const terminating = p.metadata?.deletionTimestamp !== undefined;
  return {
    name: p.metadata?.name ?? '',
    phase: terminating ? 'Terminating' : (p.status?.phase ?? 'Unknown'),
    ready: podReady(p),
    restarts: statuses.reduce((n, c) => n + c.restartCount, 0),
    track: p.metadata?.labels?.[TRACK_LABEL] ?? 'stable',
    ...(p.spec?.nodeName ? { node: p.spec.nodeName } : {}),
    ...(p.status?.startTime ? { startedAt: new Date(p.status.startTime).toISOString() } : {}),
    image: p.spec?.containers[0]?.image ?? '',
    ...(problem ? { problem: `${problem.reason}: ${problem.message}` } : {}),
  };
}

export function servicePods(cache: ClusterCache, namespace: string, name: string): string[] {
  return podsOf(cache, namespace, name)
    .map((p) => p.metadata?.name ?? '')
    .filter(Boolean)
    .sort();
}

export function serviceView(
  cache: ClusterCache,
  namespace: string,
  name: string,
  alerts: AlertSnapshot,
  details: ServiceDetails | undefined,
): ServiceView {
  const d = stableDeployments(cache).get(`${namespace}/${name}`);
  const revisions = revisionsOf(cache, namespace, name);
  const state = cache.rollout(namespace, name);
  const { panels, from } = servicePanelDefs(cache, namespace, name);
  return {
    kind: 'service',
    namespace,
    name,
    found: d !== undefined,
    synced: synced(cache),
    ...(d ? { row: fleetRow(cache, d, alerts.alerts) } : {}),
    pods: podsOf(cache, namespace, name)
      .map(podRow)
      .sort((a, b) => a.track.localeCompare(b.track) || a.name.localeCompare(b.name)),
    replicaSets: [...cache.replicasets.items.values()]
      .filter(
        (rs) =>
          rs.metadata?.namespace === namespace &&
          rs.metadata.labels?.[NAME_LABEL] === name &&
          ((rs.spec?.replicas ?? 0) > 0 || (rs.status?.replicas ?? 0) > 0),
      )
      .map((rs) => ({
        name: rs.metadata?.name ?? '',
        track: rs.metadata?.labels?.[TRACK_LABEL] ?? 'stable',
        revision: rs.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? '',
        image: rs.spec?.template?.spec?.containers[0]?.image ?? '',
        ready: rs.status?.readyReplicas ?? 0,
        desired: rs.spec?.replicas ?? 0,
        ...(rs.metadata?.creationTimestamp
          ? { createdAt: new Date(rs.metadata.creationTimestamp).toISOString() }
          : {}),
      }))
      .sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '')),
    history: revisions.map((r) => ({
      revision: r.revision,
      status: r.status,
      image: r.image,
      ...(r.version ? { version: r.version } : {}),
      actor: r.actor,
      startedAt: r.startedAt,
      ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}),
      ...(r.message ? { message: r.message } : {}),
      ...(r.rollbackOf !== undefined ? { rollbackOf: r.rollbackOf } : {}),
    })),
    releases: state
      ? [state, ...(state.past ?? [])].map((s) => {
          const isState = 'steps' in s && Array.isArray(s.steps);
          const st = s as RolloutState;
          return {
            strategy: s.strategy,
            image: s.image,
            ...(s.version ? { version: s.version } : {}),
            outcome: isState ? st.phase : (s as { outcome: string }).outcome,
            ...(isState
              ? st.message
                ? { reason: st.message }
                : {}
              : (s as { reason?: string }).reason
                ? { reason: (s as { reason?: string }).reason }
                : {}),
            startedAt: s.startedAt,
            ...(s.finishedAt ? { finishedAt: s.finishedAt } : {}),
            stepReached: isState
              ? Math.min(st.steps.length, Math.max(0, st.appliedStep + 1))
              : (s as { stepReached: number }).stepReached,
            steps: isState ? st.steps.length : (s as unknown as { steps: number }).steps,
          };
        })
      : [],
    markers: markers(revisions, state),
    panels,
    selectorsFrom: from,
    events: details?.events ?? [],
    logs: details?.logs ?? [],
    problems: [...cacheProblems(cache), ...(details?.problems ?? []), ...alerts.problems],
  };
}

export function releaseView(cache: ClusterCache, namespace: string, name: string): ReleaseView {
  const s = cache.rollout(namespace, name);
  const { spec, panels } = releasePanelDefs(cache, namespace, name);
  const target = { namespace, service: name };
  const analysis = analysisFor(spec);
  const judgeQueries = (['stable', 'canary'] as const).map((track) => {
    const q = trackQueries(analysis, target, track);
    return { track, requests: q.requests, errors: q.errors, buckets: q.buckets };
  });
  const weights = (cache.weights.get(`${namespace}/${name}`) ?? []).map(
    (p) => [p.t / 1000, p.weight] as [number, number],
  );
  return {
    kind: 'release',
    namespace,
    name,
    synced: synced(cache),
    ...(s
      ? {
          release: {
            strategy: s.strategy,
            router: s.router,
            image: s.image,
            ...(s.version ? { version: s.version } : {}),
            phase: s.phase,
            active: isActive(s),
            stepIndex: s.stepIndex,
            appliedStep: s.appliedStep,
            canaryPercent: s.canaryPercent,
            traffic: s.traffic,
            startedAt: s.startedAt,
            stepStartedAt: s.stepStartedAt,
            updatedAt: s.updatedAt,
            ...(s.finishedAt ? { finishedAt: s.finishedAt } : {}),
            ...(s.pausedReason ? { pausedReason: s.pausedReason } : {}),
            ...(s.message ? { message: s.message } : {}),
            ...(s.request ? { request: s.request } : {}),
            steps: s.steps.map((st, i) => ({
              weight: st.weight,
              pauseSeconds: st.pauseSeconds,
              gate: st.gate,
              analyze: st.analyze,
              state:
                i < s.appliedStep || (i === s.appliedStep && !isActive(s))
                  ? ('done' as const)
                  : i === s.appliedStep
                    ? ('current' as const)
                    : ('waiting' as const),
            })),
            decisions: [...s.decisions].reverse(),
          },
        }
      : {}),
    weights,
    markers: markers(revisionsOf(cache, namespace, name), s),
    panels,
    judgeQueries,
    problems: cacheProblems(cache, ['rollouts', 'deployments']),
  };
}

export function alertsView(a: AlertSnapshot): AlertsView {
  const by = (state: AlertRow['state'][]) => a.alerts.filter((x) => state.includes(x.state));
  return {
    kind: 'alerts',
    firing: by(['firing']),
    pending: by(['pending']),
    silenced: by(['silenced', 'inhibited']),
    silences: a.silences,
    problems: a.problems,
    at: a.at,
  };
}
