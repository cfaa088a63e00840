// Waiting for a Deployment rollout from watches (no polling of the API), and
// failing fast with the reason when a new pod cannot become ready.
import type { CoreV1Event, V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { Kube } from './client.js';
import { deploymentRollout, podProblem, podReady } from './readiness.js';
import type { PodProblem } from './readiness.js';

export interface RolloutOptions {
  timeoutMs: number;
  /** A new pod running this long without becoming ready fails the rollout. */
  unreadyGraceMs?: number;
  onProgress?: (message: string) => void;
  signal?: AbortSignal;
  /** The Deployment as just applied (saves reading it before the watches start). */
  initial?: V1Deployment;
}

export interface FailureDetail extends PodProblem {
  events: string[];
  logs: string;
}

export type RolloutResult =
  | { ok: true; elapsedMs: number; message: string }
  | { ok: false; elapsedMs: number; reason: string; message: string; detail?: FailureDetail };

const REVISION = 'deployment.kubernetes.io/revision';

export async function waitForRollout(
  kube: Kube,
  namespace: string,
  name: string,
  opts: RolloutOptions,
): Promise<RolloutResult> {
  const started = Date.now();
  const unreadyGrace = opts.unreadyGraceMs ?? 90_000;
  let deployment: V1Deployment | undefined;
  const pods = new Map<string, V1Pod>();
  const rsRevision = new Map<string, Promise<string>>();
  const unreadySince = new Map<string, number>();
  let lastMessage = '';

  return new Promise<RolloutResult>((resolve) => {
    let settled = false;
    const stops: (() => void)[] = [];
    const finish = (r: RolloutResult) => {
      if (settled) return;
      settled = true;
      clearInterval(tick);
      clearTimeout(timer);
      for (const s of stops) s();
      resolve(r);
    };
    const fail = (problem: PodProblem | undefined, reason: string, message: string) => {
      if (settled) return;
      if (!problem) {
        finish({ ok: false, elapsedMs: Date.now() - started, reason, message });
        return;
      }
      settled = true; // stop evaluating while the detail is gathered
      void gatherDetail(kube, namespace, problem).then((detail) => {
        settled = false;
        finish({ ok: false, elapsedMs: Date.now() - started, reason, message, detail });
      });
    };
    const progress = (m: string) => {
      if (m !== lastMessage) {
        lastMessage = m;
        opts.onProgress?.(m);
      }
    };

    const isNewPod = async (pod: V1Pod): Promise<boolean> => {
      const rs = pod.metadata?.ownerReferences?.find((o) => o.kind === 'ReplicaSet')?.name;
      const want = deployment?.metadata?.annotations?.[REVISION];
      if (!rs || !want) return false;
      // An old ReplicaSet reused by a rollback gets a new revision: key the cache by both.
      const key = `${rs}@${want}`;
      // One read per ReplicaSet, however many evaluations ask at once.
      let rev = rsRevision.get(key);
      if (rev === undefined) {
        rev = kube
          .get<V1ReplicaSet>({
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            metadata: { name: rs, namespace },
          })
          .then((obj) => obj?.metadata?.annotations?.[REVISION] ?? '');
        rsRevision.set(key, rev);
        rev.catch(() => rsRevision.delete(key));
      }
      return (await rev) === want;
    };

    const evaluate = async () => {
      if (settled || !deployment) return;
      const state = deploymentRollout(deployment);
      if (state.phase === 'failed') return fail(undefined, state.reason, state.message);
      // Until the controller has seen the new spec, the revision annotation (and so which
      // pods are "new") still describes the previous rollout.
      const observed = deployment.status?.observedGeneration ?? 0;
      if (observed < (deployment.metadata?.generation ?? 0)) return progress(state.message);
      if (state.phase === 'done') {
        finish({ ok: true, elapsedMs: Date.now() - started, message: state.message });
        return;
      }
      // Not done yet: fail fast when a new pod cannot become ready. Pods being
      // deleted (old ones scaled down) are no longer part of the rollout.
      for (const pod of pods.values()) {
        const problem = podProblem(pod);
        const name = pod.metadata?.name ?? '';
        if (pod.metadata?.deletionTimestamp) {
          unreadySince.delete(name);
          continue;
        }
        if (!problem && (pod.status?.phase !== 'Running' || podReady(pod))) {
          unreadySince.delete(name);
          continue;
        }
        if (!(await isNewPod(pod))) continue;
        if (problem) return fail(problem, problem.reason, `pod ${problem.pod}: ${problem.message}`);
        const since = unreadySince.get(name) ?? Date.now();
        unreadySince.set(name, since);
        if (Date.now() - since > unreadyGrace) {
          const p = {
            pod: name,
            reason: 'NotReady',
            message: `running but not ready for ${Math.round(unreadyGrace / 1000)}s (failing readiness probe?)`,
          };
          return fail(p, p.reason, `pod ${name}: ${p.message}`);
        }
      }
      progress(state.message);
    };
    const evaluateSoon = () => {
      evaluate().catch((err: unknown) => fail(undefined, 'Error', String(err)));
    };

    const timer = setTimeout(
      () =>
        fail(
          undefined,
          'Timeout',
          `timed out after ${Math.round(opts.timeoutMs / 1000)}s: ${lastMessage || 'no progress'}`,
        ),
      opts.timeoutMs,
    );
    const tick = setInterval(evaluateSoon, 1000);
    opts.signal?.addEventListener('abort', () => fail(undefined, 'Aborted', 'interrupted'));

    const onWatchEnd = (what: string) => (err: unknown) => {
      if (!settled) fail(undefined, 'WatchError', `watch on ${what} ended: ${String(err)}`);
    };
    void (async () => {
      const d =
        opts.initial ??
        (await kube.get<V1Deployment>({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name, namespace },
        }));
      if (!d) return fail(undefined, 'NotFound', `Deployment ${namespace}/${name} does not exist`);
      deployment = d;
      const selector = Object.entries(d.spec?.selector.matchLabels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      stops.push(
        await kube.watch<V1Deployment>(
          `/apis/apps/v1/namespaces/${namespace}/deployments`,
          { fieldSelector: `metadata.name=${name}` },
          (type, obj) => {
            if (type === 'ADDED' || type === 'MODIFIED') {
              deployment = obj;
              evaluateSoon();
            } else if (type === 'DELETED') {
              fail(undefined, 'Deleted', `Deployment ${namespace}/${name} was deleted`);
            }
          },
          onWatchEnd('the Deployment'),
        ),
      );
      stops.push(
        await kube.watch<V1Pod>(
          `/api/v1/namespaces/${namespace}/pods`,
          { labelSelector: selector },
          (type, obj) => {
            const podName = obj.metadata?.name ?? '';
            if (type === 'DELETED') pods.delete(podName);
            else if (type === 'ADDED' || type === 'MODIFIED') pods.set(podName, obj);
            evaluateSoon();
          },
          onWatchEnd('pods'),
        ),
      );
      if (settled) for (const s of stops) s();
      evaluateSoon();
    })().catch((err: unknown) => fail(undefined, 'Error', String(err)));
  });
}

async function gatherDetail(kube: Kube, namespace: string, p: PodProblem): Promise<FailureDetail> {
  const events = await kube
    .list<CoreV1Event>('v1', 'Event', namespace, { fieldSelector: `involvedObject.name=${p.pod}` })
    .then((all) =>
      all
        .sort((a, b) => eventTime(a) - eventTime(b))
        .slice(-6)
        .map(
          (e) =>
            `${e.type ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}${(e.count ?? 1) > 1 ? ` (x${e.count})` : ''}`,
        ),
    )
    .catch(() => []);
  const logs = p.container ? await kube.logTail(namespace, p.pod, p.container, 15) : '';
  return { ...p, events, logs };
}

function eventTime(e: CoreV1Event): number {
  const t = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp;
  return t ? new Date(t).getTime() : 0;
}
