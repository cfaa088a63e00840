// The chaos page's data: the journals `gantry chaos run --report DIR` writes (journal.json,
// found below the directories given to `gantry console --chaos-reports`), with each probe's
// values over time and the resilience score, and the faults in effect now (the undo records
// in the chaos namespace, read with the user's identity on the refresh schedule while a chaos
// page is open).
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Journal } from '../chaos/experiment/journal.js';
import { listActive } from '../chaos/recover.js';
import type { ActiveRecord } from '../chaos/recover.js';
import { KubeApiError } from '../kube/errors.js';
import type { Kube } from '../kube/client.js';
import type {
  ActiveFaultRow,
  ChaosView,
  JournalDetail,
  JournalRow,
  Marker,
  Problem,
} from './view-types.js';

/** How deep below a reports directory journals are looked for (a GameDay: DIR/<experiment>/). */
const MAX_DEPTH = 4;
/** Journals listed (newest first). */
const MAX_JOURNALS = 200;

const secs = (iso: string | undefined) => (iso ? Date.parse(iso) / 1000 : NaN);

export function journalId(path: string): string {
  return createHash('sha256').update(resolve(path)).digest('hex').slice(0, 12);
}

function journalFiles(dir: string, depth = 0, out: string[] = []): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.isFile() && e.name === 'journal.json') out.push(join(dir, e.name));
    else if (
      e.isDirectory() &&
      depth < MAX_DEPTH &&
      !e.name.startsWith('.') &&
      e.name !== 'node_modules'
    )
      journalFiles(join(dir, e.name), depth + 1, out);
  }
  return out;
}

function isJournal(j: unknown): j is Journal {
  const o = j as Partial<Journal> | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o.experiment === 'string' &&
    typeof o.startedAt === 'string' &&
    Array.isArray(o.steps) &&
    Array.isArray(o.probes)
  );
}

/** Reads journals below `dirs`, re-parsing only files whose size or time changed. */
export class JournalReader {
  private readonly parsed = new Map<string, { stamp: string; journal: Journal }>();
  problems: Problem[] = [];

  constructor(readonly dirs: readonly string[]) {}

  read(): { path: string; journal: Journal }[] {
    const problems: Problem[] = [];
    const out: { path: string; journal: Journal }[] = [];
    const seen = new Set<string>();
    for (const dir of this.dirs) {
      try {
        if (!statSync(dir).isDirectory()) throw new Error('not a directory');
      } catch (err) {
        // Not there yet (no run has written a report): nothing to list, and no problem.
        const e = err as NodeJS.ErrnoException;
        if (e.code !== 'ENOENT')
          problems.push({ what: 'chaos reports', message: `${dir}: ${e.message}` });
        continue;
      }
      for (const file of journalFiles(dir)) {
        seen.add(file);
        try {
          const st = statSync(file);
          const stamp = `${st.size}:${st.mtimeMs}`;
          let p = this.parsed.get(file);
          if (p?.stamp !== stamp) {
            const j: unknown = JSON.parse(readFileSync(file, 'utf8'));
            if (!isJournal(j)) throw new Error('not a chaos journal');
            p = { stamp, journal: j };
            this.parsed.set(file, p);
          }
          out.push({ path: file, journal: p.journal });
        } catch (err) {
          problems.push({ what: 'chaos journal', message: `${file}: ${(err as Error).message}` });
        }
      }
    }
    for (const k of this.parsed.keys()) if (!seen.has(k)) this.parsed.delete(k);
    this.problems = problems;
    return out
      .sort((a, b) => b.journal.startedAt.localeCompare(a.journal.startedAt))
      .slice(0, MAX_JOURNALS);
  }
}

export function journalRow(path: string, j: Journal): JournalRow {
  return {
    id: journalId(path),
    experiment: j.experiment,
    runId: j.runId ?? '',
    namespace: j.namespace,
    service: j.service,
    verdict: j.verdict,
    ...(j.reason ? { reason: j.reason } : {}),
    score: j.score,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
    path,
    faults: [...new Set(j.steps.filter((s) => s.fault).map((s) => s.fault!))],
    probes: j.probes.map((p) => ({ name: p.name, passed: p.passed })),
  };
}

/** Everything the page draws of one run: probe series, fault windows as markers, steps. */
export function journalDetail(path: string, j: Journal): JournalDetail {
  const markers: Marker[] = [];
  for (const s of j.steps) {
    if (s.type !== 'fault' || !s.startedAt) continue;
    const label = s.fault ?? s.name;
    markers.push({ t: secs(s.injectedAt ?? s.startedAt), kind: 'fault', label: `${label} in` });
    if (s.endedAt) markers.push({ t: secs(s.endedAt), kind: 'end', label: `${label} out` });
  }
  return {
    ...journalRow(path, j),
    steps: j.steps.map((s) => ({
      name: s.name,
      type: s.type,
      ...(s.fault ? { fault: s.fault } : {}),
      targets: s.targets ?? [],
      ...(s.startedAt ? { startedAt: s.startedAt } : {}),
      ...(s.injectedAt ? { injectedAt: s.injectedAt } : {}),
      ...(s.endedAt ? { endedAt: s.endedAt } : {}),
      status: s.status,
      ...(s.error ? { error: s.error } : {}),
      ...(s.description ? { description: s.description } : {}),
    })),
    probeSeries: j.probes.map((p) => {
      const valued = p.samples.some((x) => x.value !== undefined);
      const bad = p.samples.filter((x) => !x.ok);
      return {
        name: p.name,
        kind: p.kind,
        mode: p.mode,
        weight: p.weight,
        passed: p.passed,
        evaluations: p.samples.length,
        violations: bad.length,
        valued,
        points: p.samples.map(
          (x) =>
            [x.at / 1000, valued ? (x.value ?? (x.ok ? 1 : 0)) : x.ok ? 1 : 0] as [number, number],
        ),
        ...(bad[0]
          ? { firstViolation: `${new Date(bad[0].at).toISOString()}: ${bad[0].message}` }
          : {}),
      };
    }),
    rollbacks: j.rollbacks.map((r) => ({
      name: r.name,
      status: r.status,
      ...(r.description ? { description: r.description } : {}),
      ...(r.error ? { error: r.error } : {}),
    })),
    ...(j.abortRevertMs !== undefined ? { abortRevertMs: j.abortRevertMs } : {}),
    markers: markers.filter((m) => Number.isFinite(m.t)).sort((a, b) => a.t - b.t),
  };
}

export function activeFaultRow(a: ActiveRecord): ActiveFaultRow {
  const r = a.record;
  return {
    id: r.id,
    kind: r.kind,
    experiment: r.experiment,
    namespace: r.namespace,
    service: r.service,
    state: r.state,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    helper: a.helper,
    overdue: a.overdue,
    changes: [
      ...r.k8s.map((k) => `${k.kind} ${k.namespace ? `${k.namespace}/` : ''}${k.name}`),
      ...(r.node ? r.node.ops.map((o) => `${o.op} on node ${r.node!.name}`) : []),
    ],
  };
}

export interface ActiveFaults {
  rows: ActiveFaultRow[];
  problems: Problem[];
  /** Unix seconds. */
  at: number;
}

/** The undo records and their helpers, as the user may read them. */
export async function readActiveFaults(kube: Kube): Promise<ActiveFaults> {
  try {
    const rows = (await listActive(kube)).map(activeFaultRow);
    return { rows, problems: [], at: Date.now() / 1000 };
  } catch (err) {
    return {
      rows: [],
      problems: [
        {
          what: 'chaos undo records',
          message: err instanceof Error ? err.message : String(err),
          ...(err instanceof KubeApiError ? { status: err.status } : {}),
        },
      ],
      at: Date.now() / 1000,
    };
  }
}

export function chaosView(
  dirs: readonly string[],
  journals: { path: string; journal: Journal }[],
  journalProblems: Problem[],
  active: ActiveFaults,
  selected?: string,
): ChaosView {
  const chosen = selected ? journals.find((j) => journalId(j.path) === selected) : undefined;
  return {
    kind: 'chaos',
    reportDirs: [...dirs],
    journals: journals.map((j) => journalRow(j.path, j.journal)),
    ...(chosen ? { journal: journalDetail(chosen.path, chosen.journal) } : {}),
    active: active.rows,
    activeAt: active.at,
    problems: [...journalProblems, ...active.problems],
  };
}
