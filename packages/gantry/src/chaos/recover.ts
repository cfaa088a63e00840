// Ending faults whatever happened to whoever started them. Every fault leaves an
// undo record in the chaos namespace until what it changed is back:
//   recover()    for every record whose helper is gone, finished, or past its expiry
//                (plus a grace), revert what it lists: node ops by a `revert` helper on
//                its node, Kubernetes patches here; helper pods left over are removed, and
//                the helper's pod-reader Role/RoleBinding in namespaces no record needs.
//   abort()      ends every active fault now: helpers deleted gracefully (SIGTERM: they
//                revert), Kubernetes patches restored here, then recover() for the rest.
//   listActive() the records and the state of their helpers.
// All are idempotent and bounded in time.
import type { V1Pod } from '@kubernetes/client-node';
import type { Kube } from '../kube/client.js';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  helperImageFor,
  restoreK8sRecord,
  revertNodeRecord,
  waitRecordGone,
} from './helper/inject.js';
import {
  GRACE_SECONDS,
  HELPER_LABEL,
  RECORD_LABEL,
  releasePodReader,
  revokeRestore,
  sweepPodReaders,
} from './helper/resources.js';
import { listRecords } from './undo-store.js';
import { CHAOS_NAMESPACE } from './undo.js';
import type { UndoRecord } from './undo.js';

export interface ActiveRecord {
  record: UndoRecord;
  /** The helper pod's phase, or 'gone'. */
  helper: string;
  /** Whether the helper should have ended by now (expiry + its deadline's slack). */
  overdue: boolean;
}

export interface RecoverReport {
  reverted: string[];
  /** Still in effect with a live helper (left alone). */
  active: string[];
  failed: { id: string; reason: string }[];
  /** Finished helper pods removed. */
  cleaned: string[];
  /** Namespaces whose pod reader (Role/RoleBinding gantry-chaos-helper) was removed. */
  readers: string[];
}

export interface RecoverOptions {
  experiment?: string;
  /** --helper-image for the revert helpers. */
  helperImage?: string;
  /** Revert even records whose helper still runs (abort). */
  all?: boolean;
  /** Only the records of these services (gantry chaos recover -f DIR). */
  services?: readonly { namespace: string; name: string }[];
  emit?: (message: string) => void;
}

async function helpers(kube: Kube): Promise<V1Pod[]> {
  try {
    return await kube.list<V1Pod>('v1', 'Pod', CHAOS_NAMESPACE, { labelSelector: HELPER_LABEL });
  } catch (err) {
    if ((err as { status?: number }).status === 404) return [];
    throw err;
  }
}

const live = (p: V1Pod | undefined) =>
  !!p &&
  !p.metadata?.deletionTimestamp &&
  (p.status?.phase === 'Pending' || p.status?.phase === 'Running');

/** Overdue: past expiry by more than the helper's start, grace and deadline slack. */
const OVERDUE_MS = 120_000 + GRACE_SECONDS * 1000;

export async function listActive(
  kube: Kube,
  opts: { experiment?: string } = {},
): Promise<ActiveRecord[]> {
  const [records, pods] = await Promise.all([listRecords(kube, opts), helpers(kube)]);
  return records.map((record) => {
    const pod = pods.find(
      (p) =>
        p.metadata?.labels?.[RECORD_LABEL] === record.id &&
        p.metadata.labels[HELPER_LABEL] !== 'revert',
    );
    return {
      record,
      helper: pod
        ? pod.metadata?.deletionTimestamp
          ? 'Terminating'
          : (pod.status?.phase ?? 'Unknown')
        : 'gone',
      overdue: Date.now() > Date.parse(record.expiresAt) + OVERDUE_MS,
    };
  });
}

export async function recover(kube: Kube, opts: RecoverOptions = {}): Promise<RecoverReport> {
  const emit = opts.emit ?? (() => undefined);
  const report: RecoverReport = { reverted: [], active: [], failed: [], cleaned: [], readers: [] };
  const [all, pods] = await Promise.all([listRecords(kube, opts), helpers(kube)]);
  const records = opts.services
    ? all.filter((r) =>
        opts.services!.some((s) => s.namespace === r.namespace && s.name === r.service),
      )
    : all;
  const podsOf = (id: string) => pods.filter((p) => p.metadata?.labels?.[RECORD_LABEL] === id);
  let image: string | undefined;
  await Promise.all(
    records.map(async (rec) => {
      const own = podsOf(rec.id).filter((p) => p.metadata?.labels?.[HELPER_LABEL] !== 'revert');
      const overdue = Date.now() > Date.parse(rec.expiresAt) + OVERDUE_MS;
      // A record just written whose helper is about to be created: its injector owns it.
      const starting = rec.state === 'planned' && Date.now() - Date.parse(rec.createdAt) < 60_000;
      if (!opts.all && !overdue && (own.some(live) || starting)) {
        report.active.push(rec.id);
        return;
      }
      try {
        // A helper still there (overdue, or abort): stopped first, so two never act at once.
        for (const p of own)
          await kube
            .delete({
              apiVersion: 'v1',
              kind: 'Pod',
              metadata: { name: p.metadata!.name!, namespace: CHAOS_NAMESPACE },
            })
            .catch(() => false);
        if (own.some(live) && (await waitRecordGone(kube, rec.id, (GRACE_SECONDS + 5) * 1000))) {
          report.reverted.push(rec.id);
          return;
        }
        if (rec.k8s.length) {
          await restoreK8sRecord(kube, rec);
          await revokeRestore(kube, rec).catch(() => undefined);
        }
        if (rec.node?.ops.length) {
          image ??= await helperImageFor({
            ...(opts.helperImage ? { helperImage: opts.helperImage } : {}),
            emit,
          });
          await revertNodeRecord(kube, rec, image);
        }
        emit(`recovered ${rec.kind} ${rec.id}`);
        report.reverted.push(rec.id);
      } catch (err) {
        report.failed.push({
          id: rec.id,
          reason: err instanceof Error ? err.message : String(err),
        });
      }
    }),
  );
  // Helper pods whose record is gone (finished, or their gantry died before cleaning up).
  const ids = new Set(records.map((r) => r.id));
  for (const p of pods) {
    const id = p.metadata?.labels?.[RECORD_LABEL];
    if (id && !ids.has(id) && !live(p)) {
      await kube
        .delete({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: p.metadata!.name!, namespace: CHAOS_NAMESPACE },
        })
        .catch(() => false);
      report.cleaned.push(p.metadata!.name!);
    }
  }
  // Standby helpers (GANTRY_CHAOS_STANDBY) that ended unclaimed; with `all` (abort, not
  // limited to an experiment) every idle one: nothing of Gantry's is left running.
  for (const p of pods) {
    if (p.metadata?.labels?.[HELPER_LABEL] !== 'standby') continue;
    if (live(p) && !(opts.all && !opts.experiment && !opts.services)) continue;
    await kube
      .delete({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: p.metadata.name!, namespace: CHAOS_NAMESPACE },
      })
      .catch(() => false);
    report.cleaned.push(p.metadata.name!);
  }
  // The helper's read access to pods, in namespaces where no fault needs it any more.
  const readers = opts.services
    ? (
        await Promise.all(
          [...new Set(opts.services.map((s) => s.namespace))].map(async (ns) =>
            (await releasePodReader(kube, ns).catch(() => false)) ? [ns] : [],
          ),
        )
      ).flat()
    : await sweepPodReaders(kube).catch((err: unknown) => {
        emit(`pod readers not swept: ${err instanceof Error ? err.message : String(err)}`);
        return [];
      });
  for (const ns of readers)
    emit(`removed the helper's pod reader (Role/RoleBinding gantry-chaos-helper) in ${ns}`);
  report.readers.push(...readers);
  return report;
}

/** Ends every fault Gantry injected in the cluster, now. */
export async function abort(
  kube: Kube,
  opts: Omit<RecoverOptions, 'all'> = {},
): Promise<RecoverReport> {
  const records = await listRecords(kube, opts);
  // Kubernetes-level faults are restored here at once; their watchdogs then just exit.
  await Promise.all(
    records
      .filter((r) => r.k8s.length)
      .map(async (r) => {
        await restoreK8sRecord(kube, r).catch(() => undefined);
        await revokeRestore(kube, r).catch(() => undefined);
      }),
  );
  // Only the helpers of the records in scope (of the experiment, when one is named).
  const ids = new Set(records.map((r) => r.id));
  const pods = (await helpers(kube)).filter((p) =>
    ids.has(p.metadata?.labels?.[RECORD_LABEL] ?? ''),
  );
  await Promise.all(
    pods.filter(live).map((p) =>
      kube
        .delete({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: p.metadata!.name!, namespace: CHAOS_NAMESPACE },
        })
        .catch(() => false),
    ),
  );
  // The helpers revert on SIGTERM; what is left after their grace is reverted by recover.
  const deadline = Date.now() + (GRACE_SECONDS + 5) * 1000;
  while (
    Date.now() < deadline &&
    (await listRecords(kube, opts)).some((r) => r.node && ids.has(r.id))
  )
    await sleep(200);
  return recover(kube, { ...opts, all: true });
}
