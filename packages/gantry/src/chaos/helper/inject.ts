// Injecting faults through a helper pod: injectNodeFault (ops applied by the agent
// on the target's node) and injectK8sFault (patches applied here, a watchdog pod
// restores them at expiry whatever happens to gantry).
//
// For the engineers calling this (stress/process, DNS, Kubernetes faults, experiments):
//
// - injectNodeFault(ctx, kind, target, ops, durationMs, description): `ops` are
//   NodeUndo entries naming an agent op (agent/ops/index.ts registry) with every
//   argument chosen up front (chain names, devices, pids are NOT known up front: ops
//   resolve processes on the node from podUid/container). Set `container` on a NodeUndo
//   when the op needs the container's main process or cgroups (OpTarget.containerPid /
//   cgroups); without it only sandboxPid (the pod's network namespace) is resolved.
//   Ops of pods on several nodes get one record and one helper per node; the
//   ActiveFault's id is the first record's.
// - Before anything is touched the agent runs every op's check(); any reason refuses
//   the whole fault and inject throws "<kind> refused on node N: <op>: <reason>; ..."
//   (nothing was changed; the helper and the record are deleted). An apply error
//   reverts what was applied and throws with the helper's log tail. Kernel features
//   (tbf, ifb, iptables matches) are checked this way, on the node, not in preflight():
//   a fault's preflight() checks parameters and the pods (gone, hostNetwork) only.
// - Your op's check() must not change anything a snapshot would see (a scratch chain or
//   device made and removed is fine); apply() may assume check() passed; revert() must
//   succeed with target undefined (pod gone) and in a fresh helper (`revert` mode) where
//   your in-memory state is lost: derive everything from args (see agent/ops/http.ts,
//   which finds a proxy a dead helper left by its command line).
// - Children: OpContext.spawn() children are killed when the agent exits; an op that
//   must stop one on revert uses stopChild(pid) from agent/context.ts.
// - Resolves once the agent reports 'injected' (timeout 60 s, including the image
//   pull); a failure throws with the helper's last log lines.
// - ActiveFault.expiresAt is counted from the moment the fault is in effect; ended
//   resolves when the helper has reverted and exited (or recover() cleaned up after it);
//   revert() deletes the helper gracefully (SIGTERM: the agent reverts) and resolves
//   once the record is gone. Both are idempotent.
// - injectK8sFault(ctx, kind, target, undo, apply, durationMs, description): write
//   `undo` (restoring patches, with uid) BEFORE calling; inject writes the record, grants
//   the watchdog get/patch on exactly those kinds, starts the watchdog, waits until it
//   runs, then calls apply(). revert() restores through faults/k8s.ts' restoreUndo,
//   deletes the record and stops the watchdog.
// - The helper image: ctx.helperImage, else built and pushed to GANTRY_REGISTRY once per
//   process (helper/image.ts). recover(), abort(), listActive() are in ../recover.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Pod } from '@kubernetes/client-node';
import type { Kube } from '../../kube/client.js';
import type { FaultContext, InjectK8sFault, InjectNodeFault, ResolvedTarget } from '../fault.js';
import { recordFromConfigMap } from '../agent/record.js';
import type { RecordConfigMap } from '../agent/record.js';
import {
  deleteRecord,
  newRecordId,
  readRecord,
  setRecordState,
  writeRecord,
} from '../undo-store.js';
import { CHAOS_NAMESPACE } from '../undo.js';
import type { K8sUndo, NodeUndo, UndoRecord } from '../undo.js';
import { ensureHelperImage } from './image.js';
import {
  ensureChaosNamespace,
  ensurePodReader,
  grantRestore,
  helperPod,
  helperPodName,
  revokeRestore,
} from './resources.js';
import type { HelperMode } from './resources.js';

/** How long the helper may take to be in effect (image pull, pod start, ops applied). */
export const INJECT_TIMEOUT_MS = 60_000;

export async function helperImageFor(ctx: Pick<FaultContext, 'helperImage' | 'emit'>) {
  if (ctx.helperImage) return ctx.helperImage;
  return (await ensureHelperImage({ onProgress: ctx.emit })).ref;
}

const podRef = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: CHAOS_NAMESPACE },
});

export async function readHelper(kube: Kube, name: string): Promise<V1Pod | undefined> {
  return kube.get<V1Pod>(podRef(name));
}

const finished = (p: V1Pod | undefined) =>
  !p || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

/** Why a helper pod is not running, from its status (image pull, scheduling). */
function podTrouble(p: V1Pod | undefined): string {
  if (!p) return 'the helper pod is gone';
  const cs = p.status?.containerStatuses?.[0];
  const waiting = cs?.state?.waiting;
  if (waiting?.reason) return `${waiting.reason}: ${waiting.message ?? ''}`.trim();
  const term = cs?.state?.terminated;
  if (term) return `exited ${term.exitCode} (${term.reason ?? ''})`;
  const cond = p.status?.conditions?.find((c) => c.status === 'False' && c.message);
  return cond?.message ?? `phase ${p.status?.phase ?? 'unknown'}`;
}

async function logTail(kube: Kube, name: string): Promise<string> {
  const text = await kube.logTail(CHAOS_NAMESPACE, name, 'agent', 15).catch(() => '');
  return text.trim();
}

/** Waits until the helper pod finished or is gone; bounded. */
export async function waitHelperDone(
  kube: Kube,
  name: string,
  timeoutMs: number,
): Promise<V1Pod | undefined> {
  const deadline = Date.now() + timeoutMs;
  let p = await readHelper(kube, name);
  while (!finished(p) && Date.now() < deadline) {
    await sleep(200);
    p = await readHelper(kube, name).catch(() => p);
  }
  return p;
}

/** Waits until the record is gone; true when it is. */
export async function waitRecordGone(kube: Kube, id: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await readRecord(kube, id).catch(() => ({}) as UndoRecord);
    if (!r) return true;
    if (Date.now() > deadline) return false;
    await sleep(150);
  }
}

/** Runs a helper pod and waits for it to finish; its log tail when it failed. */
export async function runHelperToEnd(
  kube: Kube,
  o: { id: string; mode: HelperMode; image: string; experiment: string; node?: string },
  timeoutMs: number,
): Promise<{ ok: boolean; log: string }> {
  const name = helperPodName(o.id, o.mode);
  await kube.delete(podRef(name)).catch(() => false);
  await waitHelperGone(kube, name, 40_000);
  await kube.create(helperPod({ ...o, durationMs: 0 }));
  const p = await waitHelperDone(kube, name, timeoutMs);
  const ok = p?.status?.phase === 'Succeeded';
  const log = ok ? '' : `${podTrouble(p)}\n${await logTail(kube, name)}`;
  await kube.delete(podRef(name)).catch(() => false);
  return { ok, log };
}

async function waitHelperGone(kube: Kube, name: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while ((await readHelper(kube, name)) && Date.now() < deadline) await sleep(200);
}

/** Reverts a node record whose helper is gone: a `revert` helper on its node. */
export async function revertNodeRecord(kube: Kube, rec: UndoRecord, image: string): Promise<void> {
  const r = await runHelperToEnd(
    kube,
    {
      id: rec.id,
      mode: 'revert',
      image,
      experiment: rec.experiment,
      ...(rec.node ? { node: rec.node.name } : {}),
    },
    60_000,
  );
  if (!(await waitRecordGone(kube, rec.id, 2000)))
    throw new Error(
      `${rec.kind} ${rec.id}: the revert helper on ${rec.node?.name} did not finish: ${r.log}`,
    );
}

/** Applies a record's restoring patches here (faults/k8s.ts' restoreUndo), then deletes it. */
export async function restoreK8sRecord(kube: Kube, rec: UndoRecord): Promise<void> {
  const { restoreUndo } = (await import('../faults/k8s.js')) as unknown as {
    restoreUndo: (kube: Kube, u: K8sUndo) => Promise<unknown>;
  };
  for (const u of rec.k8s) await restoreUndo(kube, u);
  await deleteRecord(kube, rec.id).catch(() => false);
}

function groupByNode(target: ResolvedTarget, ops: NodeUndo[]): Map<string, NodeUndo[]> {
  const nodeOf = new Map(target.pods.map((p) => [p.uid, p.node]));
  const out = new Map<string, NodeUndo[]>();
  for (const op of ops) {
    const node = nodeOf.get(op.podUid) ?? target.node;
    if (!node) throw new Error(`op ${op.op}: pod ${op.podUid} is not among the targets`);
    const list = out.get(node) ?? [];
    list.push(op);
    out.set(node, list);
  }
  return out;
}

interface Started {
  rec: UndoRecord;
  pod: string;
}

/** Waits until the agent reports 'injected'; throws with the reason otherwise. */
async function waitInjected(kube: Kube, s: Started, signal?: AbortSignal): Promise<UndoRecord> {
  const deadline = Date.now() + INJECT_TIMEOUT_MS;
  const node = s.rec.node?.name ?? '';
  for (;;) {
    const [cm, pod] = await Promise.all([
      kube
        .get<RecordConfigMap>({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: s.rec.id, namespace: CHAOS_NAMESPACE },
        })
        // A failed read counts as 'no news' this round, not as the record gone.
        .catch((): RecordConfigMap => ({ data: {} })),
      readHelper(kube, s.pod).catch(() => undefined),
    ]);
    const rec = cm ? (recordFromConfigMap(cm) ?? s.rec) : undefined;
    if (rec?.state === 'injected') return rec;
    const refused = cm?.data?.refused;
    if (refused) {
      // Nothing was touched: the record and the helper go, the reasons are the error.
      await deleteRecord(kube, s.rec.id).catch(() => false);
      await kube.delete(podRef(s.pod)).catch(() => false);
      throw new Error(`${s.rec.kind} refused on node ${node}: ${refused}`);
    }
    if (!rec || finished(pod)) {
      // Gone without being in effect: an apply failed (and was reverted) or the helper
      // died. Its log says why, once its container has ended.
      const done = await waitHelperDone(kube, s.pod, 15_000);
      const error = cm?.data?.error;
      const log = await logTail(kube, s.pod);
      await kube.delete(podRef(s.pod)).catch(() => false);
      throw new Error(
        `${s.rec.kind}: the helper on node ${node} failed (${podTrouble(done)})${error ? `: ${error}` : ''}\n${log}`,
      );
    }
    if (Date.now() > deadline || signal?.aborted) {
      const why = signal?.aborted
        ? 'interrupted'
        : `not in effect within ${INJECT_TIMEOUT_MS / 1000}s`;
      throw new Error(
        `${s.rec.kind} on node ${node}: ${why} (${podTrouble(pod)})\n${await logTail(kube, s.pod)}`,
      );
    }
    await sleep(100);
  }
}

/** Ends one started helper: SIGTERM (the agent reverts), then whatever is left by recover. */
async function endHelper(kube: Kube, s: Started, image: string): Promise<void> {
  await kube.delete(podRef(s.pod)).catch(() => false);
  if (await waitRecordGone(kube, s.rec.id, 45_000)) return;
  await waitHelperGone(kube, s.pod, 10_000);
  const rec = await readRecord(kube, s.rec.id);
  if (rec) await revertNodeRecord(kube, rec, image);
}

export const injectNodeFault: InjectNodeFault = async (
  ctx,
  kind,
  target,
  ops,
  durationMs,
  description,
) => {
  const kube = ctx.kube;
  if (ops.length === 0) throw new Error(`${kind}: nothing to inject (no ops)`);
  const image = await helperImageFor(ctx);
  await ensureChaosNamespace(kube);
  if (ops.some((o) => o.container)) await ensurePodReader(kube, target.namespace);
  const started: Started[] = [];
  const t0 = Date.now();
  const startOne = async (node: string, nodeOps: NodeUndo[]) => {
    const now = new Date();
    const rec: UndoRecord = {
      id: newRecordId(kind),
      kind,
      experiment: ctx.experiment,
      namespace: target.namespace,
      service: target.service,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + durationMs).toISOString(),
      state: 'planned',
      k8s: [],
      node: { name: node, ops: nodeOps },
    };
    await writeRecord(kube, rec);
    const pod = helperPodName(rec.id, 'node');
    try {
      await kube.create(
        helperPod({
          id: rec.id,
          mode: 'node',
          image,
          experiment: ctx.experiment,
          node,
          durationMs,
        }),
      );
    } catch (err) {
      await deleteRecord(kube, rec.id).catch(() => false); // nothing was changed
      throw err;
    }
    const s = { rec, pod };
    started.push(s);
    return s;
  };
  let injected: UndoRecord[];
  try {
    const groups = [...groupByNode(target, ops)];
    const ss = await Promise.all(groups.map(([node, o]) => startOne(node, o)));
    injected = await Promise.all(ss.map((s) => waitInjected(kube, s, ctx.signal)));
  } catch (err) {
    await Promise.all(started.map((s) => endHelper(kube, s, image).catch(() => undefined)));
    throw err;
  }
  ctx.emit(`${kind} in effect after ${Date.now() - t0} ms: ${description}`);
  const expiresAt = new Date(Math.max(...injected.map((r) => Date.parse(r.expiresAt))));
  let reverting: Promise<void> | undefined;
  const revert = () =>
    (reverting ??= Promise.all(started.map((s) => endHelper(kube, s, image))).then(
      () => undefined,
    ));
  const ended = (async () => {
    // The helpers finish at their expiry (bounded by their deadline); a record a dead
    // helper left is reverted here.
    const limit = expiresAt.getTime() - Date.now() + 120_000 + GRACE_MS;
    await Promise.all(
      started.map(async (s) => {
        await waitHelperDone(kube, s.pod, limit);
        if (!(await waitRecordGone(kube, s.rec.id, 5000))) {
          const rec = await readRecord(kube, s.rec.id);
          if (rec && !reverting) await revertNodeRecord(kube, rec, image);
        }
        if (!reverting) await kube.delete(podRef(s.pod)).catch(() => false);
      }),
    );
    if (reverting) await reverting;
  })();
  ended.catch(() => undefined);
  return {
    id: started[0]!.rec.id,
    kind,
    description,
    target,
    startedAt: new Date(),
    expiresAt,
    ended,
    revert,
  };
};

const GRACE_MS = 30_000;

export const injectK8sFault: InjectK8sFault = async (
  ctx,
  kind,
  target,
  undo,
  apply,
  durationMs,
  description,
) => {
  const kube = ctx.kube;
  const image = await helperImageFor(ctx);
  await ensureChaosNamespace(kube);
  const now = new Date();
  const rec: UndoRecord = {
    id: newRecordId(kind),
    kind,
    experiment: ctx.experiment,
    namespace: target.namespace,
    service: target.service,
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + durationMs).toISOString(),
    state: 'planned',
    k8s: undo,
  };
  await writeRecord(kube, rec);
  const pod = helperPodName(rec.id, 'watchdog');
  const node = target.node ?? target.pods[0]?.node;
  const cleanup = async () => {
    await deleteRecord(kube, rec.id).catch(() => false);
    await kube.delete(podRef(pod)).catch(() => false);
    await revokeRestore(kube, rec).catch(() => undefined);
  };
  try {
    await grantRestore(kube, rec);
    await kube.create(
      helperPod({
        id: rec.id,
        mode: 'watchdog',
        image,
        experiment: ctx.experiment,
        durationMs,
        ...(node ? { node } : {}),
      }),
    );
    // The watchdog runs before anything changes: a fault it could not end is never made.
    const deadline = Date.now() + INJECT_TIMEOUT_MS;
    for (;;) {
      const p = await readHelper(kube, pod);
      if (p?.status?.phase === 'Running') break;
      if (finished(p) || Date.now() > deadline || ctx.signal?.aborted)
        throw new Error(
          `${kind}: the watchdog did not start (${podTrouble(p)})\n${await logTail(kube, pod)}`,
        );
      await sleep(100);
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
  try {
    await apply();
  } catch (err) {
    await restoreK8sRecord(kube, rec).catch(() => undefined);
    await cleanup();
    throw err;
  }

  // The fault's time starts now; the watchdog waits for this before it counts.
  const expiresAt = new Date(Date.now() + durationMs);
  await setRecordState(kube, rec.id, 'injected', expiresAt).catch(() => undefined);
  let reverting: Promise<void> | undefined;
  const revert = () =>
    (reverting ??= (async () => {
      const still = await readRecord(kube, rec.id);
      if (still) await restoreK8sRecord(kube, still);
      await cleanup();
    })());
  const ended = (async () => {
    await waitHelperDone(kube, pod, durationMs + 120_000 + GRACE_MS);
    const left = await readRecord(kube, rec.id).catch(() => undefined);
    if (left && !reverting) await restoreK8sRecord(kube, left);
    if (!reverting) await cleanup();
    if (reverting) await reverting;
  })();
  ended.catch(() => undefined);
  return { id: rec.id, kind, description, target, startedAt: new Date(), expiresAt, ended, revert };
};
