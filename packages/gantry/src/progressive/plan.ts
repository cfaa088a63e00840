// The step plan of a progressive release: what share of traffic the canary gets
// at each step, how long the step lasts at least, whether a person must let it
// go on, and whether the judge analyses it. Pure: strategy + spec in, steps out.
import type { ReleaseSpec } from '../spec/index.js';
import type { TrafficState } from '../traffic/router.js';

export interface PlannedStep {
  /** canary: % of requests; gray: % of users; blue-green: 0 (preview) then 100 (switched). */
  weight: number;
  /** Least seconds at this step. */
  pauseSeconds: number;
  /** manual: wait for `gantry release resume` (or promote) before going on. */
  gate: 'auto' | 'manual';
  /** Whether the judge compares canary with stable during this step. */
  analyze: boolean;
  /**
   * concurrent: stable measured over the same range (it still takes traffic);
   * before-switch: stable measured over the preview step, before all traffic moved.
   */
  baseline: 'concurrent' | 'before-switch';
}

export const DEFAULT_CANARY_WEIGHTS = [1, 5, 25, 50];
export const DEFAULT_GRAY_PERCENTS = [5, 25, 50];

export function planSteps(release: ReleaseSpec): PlannedStep[] {
  const minStep = release.analysis.minStepDuration;
  const fromSpec = (defaults: number[]): PlannedStep[] =>
    (release.steps ?? defaults.map((weight) => ({ weight, gate: 'auto' as const }))).map((s) => ({
      weight: s.weight,
      pauseSeconds: 'pause' in s && s.pause !== undefined ? s.pause : minStep,
      gate: s.gate,
      analyze: true,
      baseline: 'concurrent' as const,
    }));
  switch (release.strategy) {
    case 'rolling':
      return [];
    case 'canary':
      return fromSpec(DEFAULT_CANARY_WEIGHTS);
    case 'gray':
      // Without a user header only opted-in testers (header or cookie) reach the
      // canary, so there is nothing to widen: wait for a person after analysis.
      return release.gray.userHeader !== undefined || release.steps
        ? fromSpec(DEFAULT_GRAY_PERCENTS)
        : [
            {
              weight: 0,
              pauseSeconds: minStep,
              gate: 'manual',
              analyze: true,
              baseline: 'concurrent',
            },
          ];
    case 'blueGreen':
      return [
        {
          weight: 0,
          pauseSeconds: minStep,
          gate: release.blueGreen.autoSwitch ? 'auto' : 'manual',
          analyze: false,
          baseline: 'concurrent',
        },
        {
          weight: 100,
          pauseSeconds: release.blueGreen.observe,
          gate: 'auto',
          analyze: true,
          baseline: 'before-switch',
        },
      ];
  }
}

/** The traffic split of a step. */
export function trafficFor(release: ReleaseSpec, step: PlannedStep): TrafficState {
  if (release.strategy === 'gray') {
    return {
      kind: 'gray',
      userPercent: step.weight,
      ...(release.gray.header ? { header: release.gray.header } : {}),
      ...(release.gray.cookie ? { cookie: release.gray.cookie } : {}),
      ...(release.gray.userHeader ? { userHeader: release.gray.userHeader } : {}),
    };
  }
  if (release.strategy === 'blueGreen' && step.weight === 0) {
    // The preview is reachable with the gray header only, for smoke tests.
    return {
      kind: 'gray',
      userPercent: 0,
      ...(release.gray.header ? { header: release.gray.header } : {}),
    };
  }
  return { kind: 'weighted', canaryPercent: step.weight };
}
