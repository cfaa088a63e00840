// The resilience score, as LitmusChaos defines it: a fault's resilience is its
// weight times its probe success percentage (probes passed over probes run), and
// a run's score is the sum of those over the sum of the weights. Gantry weights
// probes rather than faults, so within one experiment
//
//   score = 100 * sum(weight_p * passed_p) / sum(weight_p)     (passed_p: 1 or 0)
//
// where a probe passed when it was evaluated and never violated (a probe never
// evaluated, because the run stopped first, counts as not passed). A GameDay of
// several experiments combines them the Litmus way, each experiment weighing 1:
// the mean of their scores. No probes: 100 when the run passed, else 0.
import type { Journal, ProbeRecord } from './journal.js';

export function resilienceScore(
  probes: readonly Pick<ProbeRecord, 'weight' | 'passed'>[],
  runPassed: boolean,
): number {
  const total = probes.reduce((s, p) => s + p.weight, 0);
  if (probes.length === 0 || total === 0) return runPassed ? 100 : 0;
  const ok = probes.reduce((s, p) => s + (p.passed ? p.weight : 0), 0);
  return Math.round((1000 * ok) / total) / 10;
}

/** The score of several runs (a GameDay): sum(w_e * score_e) / sum(w_e), w_e = 1. */
export function gamedayScore(runs: readonly Pick<Journal, 'score'>[]): number {
  if (runs.length === 0) return 0;
  return Math.round((10 * runs.reduce((s, r) => s + r.score, 0)) / runs.length) / 10;
}
