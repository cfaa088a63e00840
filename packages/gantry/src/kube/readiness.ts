// Readiness rules, as pure functions of object state. The waiter (rollout.ts)
// feeds them objects from watches; unit tests feed them fixtures.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';

export type RolloutState =
  | { phase: 'progressing'; message: string }
  | { phase: 'done'; message: string }
  | { phase: 'failed'; reason: string; message: string };

/**
 * The rollout state of a Deployment, by the rules `kubectl rollout status`
 * uses: the controller must have observed the latest generation; then all
 * replicas updated, no old replicas left, and every updated replica available.
 * ProgressDeadlineExceeded is a failure.
 */
export function deploymentRollout(d: V1Deployment): RolloutState {
  const generation = d.metadata?.generation ?? 0;
  const status = d.status ?? {};
  if ((status.observedGeneration ?? 0) < generation) {
    return { phase: 'progressing', message: 'waiting for the controller to observe the new spec' };
  }
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return {
      phase: 'failed',
      reason: 'ProgressDeadlineExceeded',
      message: progressing.message ?? 'the rollout exceeded its progress deadline',
    };
  }
  const want = d.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < want) {
    return { phase: 'progressing', message: `${updated} of ${want} replicas updated` };
  }
  if (total > updated) {
    return { phase: 'progressing', message: `${total - updated} old replicas pending termination` };
  }
  if (available < updated) {
    return {
      phase: 'progressing',
      message: `${available} of ${updated} updated replicas available`,
    };
  }
  return { phase: 'done', message: `${available} of ${want} replicas ready` };
}

/** Waiting reasons that will not resolve by waiting: fail the rollout at once. */
const FATAL_WAITING = new Set([
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CrashLoopBackOff',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

export interface PodProblem {
  pod: string;
  container?: string;
  reason: string;
  message: string;
}

/**
 * A reason this pod will not become ready without a change, or undefined.
 * A crash counts once the kubelet backs off (CrashLoopBackOff) or the
 * container has exited with an error at least twice.
 */
export function podProblem(pod: V1Pod): PodProblem | undefined {
  const name = pod.metadata?.name ?? '?';
  if (pod.metadata?.deletionTimestamp) return undefined;
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return {
      pod: name,
      reason: 'Unschedulable',
      message: scheduled.message ?? 'no node fits the pod',
    };
  }
  const statuses = [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
  ];
  for (const cs of statuses) {
    const waiting = cs.state?.waiting;
    if (waiting?.reason && FATAL_WAITING.has(waiting.reason)) {
      const last = cs.lastState?.terminated;
      const exit = last
        ? ` (last exit code ${last.exitCode}${last.reason ? `, ${last.reason}` : ''})`
        : '';
      return {
        pod: name,
        container: cs.name,
        reason: waiting.reason,
        message: (waiting.message ?? waiting.reason) + exit,
      };
    }
    const term = cs.lastState?.terminated ?? cs.state?.terminated;
    if (term && term.exitCode !== 0 && cs.restartCount >= 2) {
      return {
        pod: name,
        container: cs.name,
        reason: 'CrashLoop',
        message: `container exited with code ${term.exitCode}${term.reason ? ` (${term.reason})` : ''}, restarted ${cs.restartCount} times`,
      };
    }
  }
  if (pod.status?.phase === 'Failed') {
    return {
      pod: name,
      reason: pod.status.reason ?? 'Failed',
      message: pod.status.message ?? 'pod failed',
    };
  }
  return undefined;
}

export function podReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}
