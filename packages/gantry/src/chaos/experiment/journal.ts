// The journal of a run: every step with its timing and targets, every probe
// evaluation with its value, the verdict and the resilience score. Written as
// JSON (journal.json) and read back by the report and by GameDay summaries.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProbeMode } from './types.js';

export type Verdict = 'passed' | 'failed' | 'not-started' | 'aborted' | 'dry-run';

export interface ProbeSample {
  /** ms since the epoch. */
  at: number;
  ok: boolean;
  value?: number;
  message: string;
  /** start | end | during (continuous/during probes) */
  phase: 'start' | 'during' | 'end';
}

export interface ProbeRecord {
  name: string;
  kind: string;
  mode: ProbeMode;
  weight: number;
  samples: ProbeSample[];
  /** Passed: evaluated at least once and never violated. */
  passed: boolean;
}

export interface StepRecord {
  name: string;
  type: 'fault' | 'pause' | 'parallel' | 'rollback';
  fault?: string;
  params?: Record<string, unknown>;
  /** The pods / node it acted on. */
  targets?: string[];
  description?: string;
  plan?: string[];
  startedAt?: string;
  /** When the fault was in effect (inject returned). */
  injectedAt?: string;
  endedAt?: string;
  /** From inject to reverted, ms. */
  ms?: number;
  status: 'done' | 'failed' | 'skipped' | 'planned' | 'refused' | 'reverted-early';
  error?: string;
}

export interface Journal {
  experiment: string;
  /** This run's id: its undo records' experiment label (gantry chaos recover --experiment). */
  runId: string;
  file: string;
  namespace: string;
  service: string;
  startedAt: string;
  finishedAt: string;
  verdict: Verdict;
  reason?: string;
  /** Resilience score 0..100 (see score.ts). */
  score: number;
  steps: StepRecord[];
  probes: ProbeRecord[];
  rollbacks: StepRecord[];
  /** ms from the violation (or signal) to every active fault reverted. */
  abortRevertMs?: number;
}

/** Writes journal.json (and returns its path) under `dir`. */
export function writeJournal(dir: string, journal: Journal): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'journal.json');
  writeFileSync(file, JSON.stringify(journal, null, 2) + '\n');
  return file;
}
