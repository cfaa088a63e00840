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
// - With GANTRY_CHAOS_STANDBY=1 a fault first claims a standby helper already running on
//   its node (claimStandby: the pod relabelled as this record's helper, its deadline
//   lowered to the fault's; the record carries the standby's name and its agent, watching
//   for that, runs the fault) and leaves a new standby for the next fault: no pod start
//   before the fault is in effect. Unclaimed standbys exit after 10 minutes; recover()
//   removes finished ones, abort() every one.
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Pod } from '@kubernetes/client-node';
import type { Kube } from '../../kube/client.js';
import type { FaultContext, InjectK8sFault, InjectNodeFault, ResolvedTarget } from '../fault.js';
import { recordFromConfigMap } from '../agent/record.js';
import type { RecordConfigMap } from '../agent/record.js';
import {
  EXPERIMENT_LABEL,
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
  HELPER_LABEL,
  RECORD_LABEL,
  STANDBY_IDLE_SECONDS,
  STANDBY_LABEL,
  ensurePodReader,
  grantRestore,
  helperPod,
  helperPodName,
  releasePodReader,
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

/**
 * Wakes a wait loop as soon as the named objects of the chaos namespace change (watches
 * with a name field selector), so it does not sleep through the moment it waits for; a
 * poll every `fallbackMs` stays as the floor when a watch cannot start or ends.
 */
function changes(kube: Kube, names: { configmap?: string; pod?: string }) {
  let dirty = false;
  let wake: (() => void) | undefined;
  const poke = () => {
    dirty = true;
    wake?.();
  };
  const stops = (
    [
      ['configmaps', names.configmap],
      ['pods', names.pod],
    ] as const
  )
    .filter((x): x is readonly ['configmaps' | 'pods', string] => x[1] !== undefined)
    .map(([res, name]) =>
      kube
        .watch(
          `/api/v1/namespaces/${CHAOS_NAMESPACE}/${res}`,
          { fieldSelector: `metadata.name=${name}` },
          poke,
        )
        .catch(() => () => undefined),
    );
  return {
    /** Resolves at the next change (or at once if one came since the last call), or after fallbackMs. */
    next(fallbackMs: number): Promise<void> {
      if (dirty) {
        dirty = false;
        return Promise.resolve();
      }
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          wake = undefined;
          dirty = false;
          resolve();
        };
        const timer = setTimeout(done, fallbackMs);
        wake = done;
      });
    },
    stop() {
      for (const s of stops) void s.then((f) => f());
    },
  };
}

/** Like Promise.all, but every promise has settled when it rejects (nothing still in flight). */
async function settled(ps: readonly (Promise<unknown> | undefined)[]): Promise<void> {
  const rs = await Promise.allSettled(ps.map((p) => p ?? Promise.resolve()));
  const bad = rs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (bad) throw bad.reason;
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
  const w = changes(kube, { configmap: id });
  try {
    for (;;) {
      const r = await readRecord(kube, id).catch(() => ({}) as UndoRecord);
      if (!r) return true;
      if (Date.now() > deadline) return false;
      await w.next(150);
    }
  } finally {
    w.stop();
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

/**
 * Standby helpers (GANTRY_CHAOS_STANDBY=1): a node fault takes a helper already running
 * on its node instead of starting a pod (the pod start is most of the time to a fault in
 * effect), and leaves a new standby for the next one. Off by default until the chaos suite
 * has run with it.
 */
export const standbyEnabled = () => process.env.GANTRY_CHAOS_STANDBY === '1';

/** A standby this close to the end of its wait is not claimed (see claimStandby). */
const STANDBY_CLAIM_MARGIN_SECONDS = 60;

const standbyLabel = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 63);

/**
 * Claims a running standby helper of this image on `node` for record `id`: its labels
 * become a node helper's (record, experiment) and its deadline the fault's, in one patch
 * with its resourceVersion (two claims of one standby: the second gets a 409 and tries the
 * next). The pod's name, or undefined when there is none to take.
 */
async function claimStandby(
  kube: Kube,
  node: string,
  image: string,
  id: string,
  experiment: string,
  durationMs: number,
  mode: 'node' | 'watchdog' = 'node',
): Promise<string | undefined> {
  const pods = await kube
    .list<V1Pod>('v1', 'Pod', CHAOS_NAMESPACE, {
      labelSelector: `${HELPER_LABEL}=standby`,
      fieldSelector: `spec.nodeName=${node}`,
    })
    .catch(() => [] as V1Pod[]);
  for (const p of pods) {
    const name = p.metadata?.name;
    if (
      !name ||
      p.metadata?.deletionTimestamp ||
      !p.status?.containerStatuses?.[0]?.state?.running ||
      p.spec?.containers[0]?.image !== image
    )
      continue;
    // (JSON strings at run time, whatever the client library's types say.)
    const since = Date.parse(String(p.status.startTime ?? p.metadata?.creationTimestamp)) || 0;
    const age = Math.max(0, (Date.now() - since) / 1000);
    // One near the end of its wait may exit before it sees the record that claims it (the
    // fault then failed with "the helper … exited 0"): left to exit, a new pod is started.
    const idle =
      Number(p.spec?.containers[0]?.env?.find((e) => e.name === 'STANDBY_IDLE_SECONDS')?.value) ||
      STANDBY_IDLE_SECONDS;
    if (age > idle - STANDBY_CLAIM_MARGIN_SECONDS) continue;
    try {
      await kube.patch(podRef(name), {
        metadata: {
          resourceVersion: p.metadata!.resourceVersion,
          labels: {
            [HELPER_LABEL]: mode,
            [RECORD_LABEL]: id,
            [EXPERIMENT_LABEL]: standbyLabel(experiment),
          },
        },
        spec: { activeDeadlineSeconds: Math.ceil(age + durationMs / 1000) + 120 },
      });
      return name;
    } catch {
      // taken meanwhile, or gone: the next one
    }
  }
  return undefined;
}

/** Starts a standby helper on `node` unless one is there (best effort, not awaited by faults). */
export async function ensureStandby(kube: Kube, node: string, image: string): Promise<void> {
  const pods = await kube.list<V1Pod>('v1', 'Pod', CHAOS_NAMESPACE, {
    labelSelector: `${HELPER_LABEL}=standby`,
    fieldSelector: `spec.nodeName=${node}`,
  });
  if (pods.some((p) => !p.metadata?.deletionTimestamp && !finished(p))) return;
  await kube.create(
    helperPod({
      id: newRecordId('sb').slice(3),
      mode: 'standby',
      image,
      experiment: 'standby',
      node,
      durationMs: 0,
    }),
  );
}

/** Waits until the agent reports 'injected'; throws with the reason otherwise. */
async function waitInjected(kube: Kube, s: Started, signal?: AbortSignal): Promise<UndoRecord> {
  const w = changes(kube, { configmap: s.rec.id, pod: s.pod });
  try {
    return await waitInjectedLoop(kube, s, () => w.next(100), signal);
  } finally {
    w.stop();
  }
}

async function waitInjectedLoop(
  kube: Kube,
  s: Started,
  next: () => Promise<void>,
  signal?: AbortSignal,
): Promise<UndoRecord> {
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
    await next();
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
  // The agent reads the pods' container ids: read access in the target namespace, given
  // once this fault's record is written (what keeps another fault's end from removing
  // it) and removed when the last fault needing it there ended.
  const needsReader = ops.some((o) => o.container);
  let reader: Promise<void> | undefined;
  const release = async () => {
    if (needsReader) await releasePodReader(kube, target.namespace).catch(() => false);
  };
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
    // A standby already running on the node takes the record (its claim changes nothing
    // on the node); else a helper pod of its own is started.
    const standby = standbyEnabled()
      ? await claimStandby(kube, node, image, rec.id, ctx.experiment, durationMs)
      : undefined;
    const pod = standby ?? helperPodName(rec.id, 'node');
    try {
      await writeRecord(kube, rec, standby ? { [STANDBY_LABEL]: standby } : {});
    } catch (err) {
      if (standby) await kube.delete(podRef(standby)).catch(() => false);
      throw err;
    }
    if (standbyEnabled())
      void ensureStandby(kube, node, image).catch((err: unknown) =>
        ctx.emit(`no standby helper started on ${node}: ${String(err)}`),
      );
    try {
      // The reader is needed once the agent runs (a second later): granted meanwhile.
      await settled([
        needsReader ? (reader ??= ensurePodReader(kube, target.namespace)) : undefined,
        standby
          ? undefined
          : kube.create(
              helperPod({
                id: rec.id,
                mode: 'node',
                image,
                experiment: ctx.experiment,
                node,
                durationMs,
              }),
            ),
      ]);
    } catch (err) {
      // Nothing was changed: the record goes, and a helper created meanwhile with it.
      await kube.delete(podRef(pod)).catch(() => false);
      await deleteRecord(kube, rec.id).catch(() => false);
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
    await release();
    throw err;
  }
  ctx.emit(`${kind} in effect after ${Date.now() - t0} ms: ${description}`);
  const expiresAt = new Date(Math.max(...injected.map((r) => Date.parse(r.expiresAt))));
  let reverting: Promise<void> | undefined;
  const revert = () =>
    (reverting ??= Promise.all(started.map((s) => endHelper(kube, s, image))).then(release));
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
    else await release();
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
  const node = target.node ?? target.pods[0]?.node;
  // A standby helper (GANTRY_CHAOS_STANDBY=1) already running on the node is the watchdog.
  const standby =
    standbyEnabled() && node
      ? await claimStandby(kube, node, image, rec.id, ctx.experiment, durationMs, 'watchdog')
      : undefined;
  try {
    await writeRecord(kube, rec, standby ? { [STANDBY_LABEL]: standby } : {});
  } catch (err) {
    if (standby) await kube.delete(podRef(standby)).catch(() => false);
    throw err;
  }
  if (standbyEnabled() && node)
    void ensureStandby(kube, node, image).catch((err: unknown) =>
      ctx.emit(`no standby helper started on ${node}: ${String(err)}`),
    );
  const pod = standby ?? helperPodName(rec.id, 'watchdog');
  const cleanup = async () => {
    await deleteRecord(kube, rec.id).catch(() => false);
    await kube.delete(podRef(pod)).catch(() => false);
    await revokeRestore(kube, rec).catch(() => undefined);
  };
  const w = changes(kube, { pod });
  try {
    // The watchdog needs its grant only at the expiry: both at once.
    await settled([
      grantRestore(kube, rec),
      standby
        ? undefined
        : kube.create(
            helperPod({
              id: rec.id,
              mode: 'watchdog',
              image,
              experiment: ctx.experiment,
              durationMs,
              ...(node ? { node } : {}),
            }),
          ),
    ]);
    // The watchdog runs before anything changes: a fault it could not end is never made.
    const deadline = Date.now() + INJECT_TIMEOUT_MS;
    for (;;) {
      const p = await readHelper(kube, pod);
      if (p?.status?.phase === 'Running') break;
      if (finished(p) || Date.now() > deadline || ctx.signal?.aborted)
        throw new Error(
          `${kind}: the watchdog did not start (${podTrouble(p)})\n${await logTail(kube, pod)}`,
        );
      await w.next(100);
    }
  } catch (err) {
    w.stop();
    await cleanup();
    throw err;
  }
  w.stop();
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
