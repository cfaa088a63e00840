// Chaos: kill pods of a service and check it rides it out. Before anything is
// injected the steady state must hold (every replica ready, error rate within the
// limit); otherwise nothing is killed. Then, round by round, `count` random ready
// pods of the stable Deployment are deleted and the experiment waits until the
// Deployment has every replica ready again (the recovery time), while the error
// rate since the start is watched. The first violation aborts the experiment: no
// further pods are killed. Every loop is bounded by the rounds and the timeouts.
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Pod } from '@kubernetes/client-node';
import type { Prometheus } from '../analysis/prometheus.js';
import type { Kube } from '../kube/client.js';
import { trackSelector } from '../render/labels.js';
import type { ServiceSpec } from '../spec/index.js';
import { readSteadyState } from './steady-state.js';
import type { SteadyState } from './steady-state.js';

export interface PodKillOptions {
  rounds: number;
  /** Pods killed per round. */
  count: number;
  /** Pause after a round has recovered, before the next. */
  intervalMs: number;
  /** How long the Deployment may take to have every replica ready again. */
  recoverTimeoutMs: number;
  maxErrorRate: number;
  prometheus?: Prometheus;
  onEvent?: (message: string) => void;
  /** Stops between steps (Ctrl-C): no further pod is killed. */
  signal?: AbortSignal;
}

export interface PodKillRound {
  round: number;
  killed: string[];
  /** ms from the delete to every replica ready again; undefined when it did not recover. */
  recoveredMs?: number;
}

export interface PodKillReport {
  experiment: 'pod-kill';
  service: string;
  namespace: string;
  verdict: 'passed' | 'failed' | 'not-started' | 'stopped';
  reason?: string;
  startedAt: string;
  finishedAt: string;
  before: SteadyState;
  after?: SteadyState;
  rounds: PodKillRound[];
}

export async function podKill(
  kube: Kube,
  spec: ServiceSpec,
  opts: PodKillOptions,
): Promise<PodKillReport> {
  const emit = opts.onEvent ?? (() => undefined);
  const started = new Date();
  // The steady state before: over the last minute, so a service already failing is caught.
  const before = await readSteadyState(kube, spec, new Date(started.getTime() - 60_000), opts);
  const report: PodKillReport = {
    experiment: 'pod-kill',
    service: spec.name,
    namespace: spec.namespace,
    verdict: 'passed',
    startedAt: started.toISOString(),
    finishedAt: '',
    before,
    rounds: [],
  };
  const end = (verdict: PodKillReport['verdict'], reason?: string) => {
    report.verdict = verdict;
    if (reason) report.reason = reason;
    report.finishedAt = new Date().toISOString();
    return report;
  };
  if (!before.ok) {
    return end('not-started', `steady state not met before the experiment: ${before.reason}`);
  }
  emit(`steady state holds: ${describe(before)}`);

  for (let round = 1; round <= opts.rounds; round++) {
    if (opts.signal?.aborted) return end('stopped', 'interrupted; no further pods killed');
    const pods = await readyPods(kube, spec);
    if (pods.length === 0) return end('failed', 'no ready pod to kill');
    const victims = pick(pods, Math.min(opts.count, pods.length));
    const killed: string[] = [];
    const t0 = Date.now();
    for (const p of victims) {
      const name = p.metadata!.name!;
      await kube.delete(
        { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: spec.namespace } },
        { uid: p.metadata!.uid! },
      );
      killed.push(name);
    }
    emit(`round ${round}/${opts.rounds}: killed ${killed.join(', ')}`);
    const r: PodKillRound = { round, killed };
    report.rounds.push(r);
    const deadline = t0 + opts.recoverTimeoutMs;
    let state: SteadyState;
    for (;;) {
      state = await readSteadyState(kube, spec, started, opts);
      // Recovered: as many ready pods as replicas, none of them one just killed (the
      // pod list is read directly, so a deletion not yet counted in the Deployment's
      // status cannot pass for a recovery).
      const live = (await readyPods(kube, spec)).map((p) => p.metadata!.name!);
      if (live.length >= state.replicas && !live.some((n) => killed.includes(n))) break;
      if (state.errorRate !== undefined && state.errorRate > opts.maxErrorRate) {
        report.after = state;
        return end('failed', `steady state violated in round ${round}: ${state.reason}`);
      }
      if (Date.now() > deadline) {
        report.after = state;
        return end(
          'failed',
          `round ${round}: not recovered within ${opts.recoverTimeoutMs / 1000}s (${describe(state)})`,
        );
      }
      await sleep(500);
    }
    r.recoveredMs = Date.now() - t0;
    emit(`round ${round}/${opts.rounds}: recovered in ${(r.recoveredMs / 1000).toFixed(1)}s`);
    if (state.errorRate !== undefined && state.errorRate > opts.maxErrorRate) {
      report.after = state;
      return end('failed', `steady state violated in round ${round}: ${state.reason}`);
    }
    if (round < opts.rounds)
      await sleep(opts.intervalMs, undefined, { signal: opts.signal }).catch(() => undefined);
  }
  // Requests of the last moments reach Prometheus at its next scrape; and the
  // Deployment's status may trail the pods by a moment: a bounded wait for both.
  if (opts.prometheus) await sleep(5000);
  const settle = Date.now() + opts.recoverTimeoutMs;
  report.after = await readSteadyState(kube, spec, started, opts);
  while (
    !report.after.ok &&
    !(report.after.errorRate !== undefined && report.after.errorRate > opts.maxErrorRate) &&
    Date.now() < settle
  ) {
    await sleep(500);
    report.after = await readSteadyState(kube, spec, started, opts);
  }
  if (!report.after.ok) {
    return end('failed', `steady state violated after the experiment: ${report.after.reason}`);
  }
  return end('passed');
}

async function readyPods(kube: Kube, spec: ServiceSpec): Promise<V1Pod[]> {
  const selector = Object.entries(trackSelector(spec, 'stable'))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const pods = await kube.list<V1Pod>('v1', 'Pod', spec.namespace, { labelSelector: selector });
  return pods.filter(
    (p) =>
      !p.metadata?.deletionTimestamp &&
      p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  );
}

function pick<T>(items: T[], n: number): T[] {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < n && pool.length) out.push(pool.splice(randomInt(pool.length), 1)[0]!);
  return out;
}

export function describe(s: SteadyState): string {
  const rate =
    s.errorRate === undefined
      ? s.requests === undefined
        ? ''
        : ', no requests measured'
      : `, error rate ${(s.errorRate * 100).toPrecision(3)}% of ${Math.round(s.requests ?? 0)} requests`;
  return `${s.readyReplicas}/${s.replicas} replicas ready${rate}`;
}
