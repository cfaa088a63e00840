// gantry release status --watch: the release's stored state, followed with a watch on its
// Secret, and what changed between two states (phase, step and traffic, verdicts, the
// message, a pending request) as the lines to show. Following changes nothing: stopping
// it (Ctrl-C) leaves whoever drives the release driving it.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kube } from '../../kube/client.js';
import type { KubeObject } from '../../render/index.js';
import { RolloutStore, TERMINAL_PHASES, decodeRolloutState, rolloutSecretName } from '../state.js';
import type { DecisionRecord, RolloutState } from '../state.js';

export type Change =
  | { type: 'phase'; message: string }
  | { type: 'step'; message: string }
  | { type: 'decision'; decision: DecisionRecord }
  | { type: 'message'; message: string }
  | { type: 'request'; message: string };

/** What changed from `prev` to `cur`, in the order to show it. */
export function changesBetween(prev: RolloutState | undefined, cur: RolloutState): Change[] {
  const out: Change[] = [];
  const step = (s: RolloutState) =>
    s.steps.length ? ` step ${Math.min(s.stepIndex + 1, s.steps.length)}/${s.steps.length}` : '';
  if (!prev || prev.startedAt !== cur.startedAt || prev.phase !== cur.phase) {
    out.push({
      type: 'phase',
      message:
        `${cur.phase}${step(cur)}` +
        (cur.phase === 'paused' && cur.pausedReason ? `: ${cur.pausedReason}` : ''),
    });
  }
  if (!prev || prev.traffic !== cur.traffic || prev.appliedStep !== cur.appliedStep) {
    out.push({ type: 'step', message: `${step(cur).trim() || 'traffic'}: ${cur.traffic}` });
  }
  const seen = new Set((prev?.startedAt === cur.startedAt ? prev.decisions : []).map((d) => d.at));
  for (const d of cur.decisions) if (!seen.has(d.at)) out.push({ type: 'decision', decision: d });
  if (cur.message && cur.message !== prev?.message) {
    out.push({ type: 'message', message: cur.message });
  }
  if (cur.request && cur.request.at !== prev?.request?.at) {
    out.push({
      type: 'request',
      message: `${cur.request.by} asked to ${cur.request.action}`,
    });
  }
  return out;
}

export interface FollowOptions {
  /** Stop following (Ctrl-C): resolves with the last state seen. */
  signal: AbortSignal;
  /** Stop after this long whatever happens. */
  timeoutMs: number;
  onState: (prev: RolloutState | undefined, cur: RolloutState) => void;
}

export interface FollowResult {
  state: RolloutState | undefined;
  /** Why following stopped. */
  end: 'ended' | 'detached' | 'timeout' | 'none';
}

/** Most watches opened again after the API server ended one (they last minutes each). */
const MAX_WATCHES = 1000;

/**
 * Shows the release's state now and each change until it ends (a terminal phase), the
 * signal stops it, or the time is up.
 */
export async function followRelease(
  kube: Kube,
  namespace: string,
  service: string,
  opts: FollowOptions,
): Promise<FollowResult> {
  const store = new RolloutStore(kube, namespace, service);
  const first = await store.read();
  if (!first) return { state: undefined, end: 'none' };
  let last = first.state;
  let version = first.resourceVersion;
  opts.onState(undefined, last);
  if (TERMINAL_PHASES.includes(last.phase)) return { state: last, end: 'ended' };
  const deadline = Date.now() + opts.timeoutMs;
  for (let n = 0; n < MAX_WATCHES; n++) {
    const end = await new Promise<FollowResult['end'] | 'again'>((resolve) => {
      let stop: (() => void) | undefined;
      let done = false;
      const finish = (why: FollowResult['end'] | 'again') => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        opts.signal.removeEventListener('abort', onAbort);
        stop?.();
        resolve(why);
      };
      const onAbort = () => finish('detached');
      const timer = setTimeout(() => finish('timeout'), Math.max(0, deadline - Date.now()));
      if (opts.signal.aborted) return finish('detached');
      opts.signal.addEventListener('abort', onAbort);
      void kube
        .watch<KubeObject>(
          `/api/v1/namespaces/${namespace}/secrets`,
          {
            fieldSelector: `metadata.name=${rolloutSecretName(service)}`,
            ...(version ? { resourceVersion: version } : {}),
          },
          (type, obj) => {
            if (type !== 'ADDED' && type !== 'MODIFIED') return;
            const v = decodeRolloutState(obj);
            if (!v) return;
            version = v.resourceVersion;
            const prev = last;
            last = v.state;
            opts.onState(prev, last);
            if (TERMINAL_PHASES.includes(last.phase)) finish('ended');
          },
          // The API server ends watches now and then (or the version is too old): read again.
          () => finish('again'),
        )
        .then((s) => {
          if (done) s();
          else stop = s;
        });
    });
    if (end !== 'again') return { state: last, end };
    await sleep(500, undefined, { signal: opts.signal }).catch(() => undefined);
    if (opts.signal.aborted) return { state: last, end: 'detached' };
    const cur = await store.read();
    if (!cur) return { state: last, end: 'none' };
    version = cur.resourceVersion;
    if (cur.state.updatedAt !== last.updatedAt) {
      const prev = last;
      last = cur.state;
      opts.onState(prev, last);
    }
    if (TERMINAL_PHASES.includes(last.phase)) return { state: last, end: 'ended' };
  }
  return { state: last, end: 'timeout' };
}
