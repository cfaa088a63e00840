// An experiment as the runner sees it: loaded, validated, durations in ms, fault
// parameters parsed, the target's spec resolved.
import type { FaultParams, TargetSelector } from '../fault.js';
import type { ServiceSpec } from '../../spec/index.js';

export type ProbeMode = 'start' | 'end' | 'continuous' | 'during';

interface ProbeBase {
  name: string;
  mode: ProbeMode;
  intervalMs: number;
  weight: number;
}

export interface ReadyProbe extends ProbeBase {
  kind: 'ready';
}

export interface PromqlProbe extends ProbeBase {
  kind: 'promql';
  query: string;
  min?: number;
  max?: number;
  prometheus?: string;
}

export interface HttpProbe extends ProbeBase {
  kind: 'http';
  url: string;
  host?: string;
  status: number;
  maxLatencyMs?: number;
  timeoutMs: number;
}

export type Probe = ReadyProbe | PromqlProbe | HttpProbe;

export interface FaultStep {
  type: 'fault';
  name: string;
  fault: string;
  params: FaultParams;
  target: TargetSelector;
  durationMs: number;
}

export interface PauseStep {
  type: 'pause';
  name: string;
  durationMs: number;
}

export interface ParallelStep {
  type: 'parallel';
  name: string;
  steps: (FaultStep | PauseStep)[];
}

export type Step = FaultStep | PauseStep | ParallelStep;

export type Rollback =
  | { action: 'recover'; name: string }
  | { action: 'wait-ready'; name: string; timeoutMs: number }
  | { action: 'http'; name: string; url: string; method: string; host?: string; timeoutMs: number };

export interface Experiment {
  /** The file it was loaded from ('' for one built on the command line). */
  file: string;
  name: string;
  description?: string;
  /** The service under test. */
  spec: ServiceSpec;
  /** The spec file, when the target named one. */
  specFile?: string;
  probes: Probe[];
  method: Step[];
  rollbacks: Rollback[];
}
