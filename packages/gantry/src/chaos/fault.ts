// The contract every chaos fault keeps. A fault is defined once (kind, family,
// parameters) and the CLI's one-line commands, experiment files and the JSON
// Schema are all generated from these definitions; nothing else lists faults.
//
// Life of a fault: preflight (refuse with the reason, nothing touched) ->
// an undo record written in the cluster (undo.ts) -> inject -> it ends by its
// own expiry (a watchdog/helper pod in the cluster reverts at expiresAt even
// when gantry is SIGKILLed) or by revert() -> the record is deleted only once
// what it lists is back. `gantry chaos recover` reverts whatever records remain.
import type { Kube } from '../kube/client.js';
import type { ServiceSpec } from '../spec/index.js';
import type { K8sUndo, NodeUndo } from './undo.js';

export type FaultFamily =
  'pod' | 'service' | 'node' | 'network' | 'http' | 'dns' | 'stress' | 'disk';

/** One parameter of a fault: the CLI flag (--name), the experiment file key, the schema. */
export interface FaultParam {
  /** kebab-case; the flag is --<name>, the experiment key is the same. */
  name: string;
  type: 'duration' | 'number' | 'percent' | 'string' | 'string[]' | 'boolean' | 'bytes';
  description: string;
  required?: boolean;
  default?: string | number | boolean | string[];
  /** Allowed values for 'string'. */
  enum?: string[];
  min?: number;
  max?: number;
}

/** Parsed parameter values: durations in ms, percents as 0..100, bytes as numbers. */
export type FaultParams = Record<string, string | number | boolean | string[] | undefined>;

/** Which of the service's pods (and container) a fault acts on. */
export interface TargetSelector {
  /** Pods by count, or by percent of the ready pods (rounded up, at least 1). Default: 1 pod. */
  count?: number;
  percent?: number;
  /** One container of each pod; default the service's main container. */
  container?: string;
  /** Node-level faults: the node by name; default the node of the first chosen pod. */
  node?: string;
  /** Most of the service's pods one fault may touch (0..100, default 50). */
  maxPercent?: number;
}

/** The concrete objects a fault acts on, resolved from a TargetSelector. */
export interface ResolvedTarget {
  namespace: string;
  service: string;
  pods: { name: string; uid: string; node: string; containerId?: string; container: string }[];
  node?: string;
}

export interface FaultContext {
  kube: Kube;
  /** The target service's spec (namespace, name, ports, probes, ...). */
  spec: ServiceSpec;
  /** Groups the undo records, journal entries and helper pods of one run. */
  experiment: string;
  /** Helper image (local cluster: built by gantry; elsewhere --helper-image). */
  helperImage?: string;
  dryRun?: boolean;
  signal?: AbortSignal;
  emit: (message: string) => void;
}

/** A fault in effect. */
export interface ActiveFault {
  /** The undo record's id. */
  id: string;
  kind: string;
  /** What was done to which objects, one line. */
  description: string;
  target: ResolvedTarget;
  startedAt: Date;
  expiresAt: Date;
  /** Resolves once the fault has ended by its expiry and is reverted. */
  ended: Promise<void>;
  /** Reverts now; idempotent; resolves once what the record lists is back. */
  revert: () => Promise<void>;
}

export interface FaultDefinition {
  kind: string;
  family: FaultFamily;
  /** One line for --help and `gantry chaos list`. */
  summary: string;
  params: FaultParam[];
  /** Node-level faults need the helper on the target's node. */
  needsHelper: boolean;
  /**
   * What is missing for this fault on this cluster/node (kernel feature, cluster
   * DNS, a tool in the helper image, RBAC): each entry is a reason the fault is
   * refused before anything is touched. Empty: go.
   */
  preflight: (ctx: FaultContext, params: FaultParams, target: ResolvedTarget) => Promise<string[]>;
  /** What inject would do, for --dry-run. */
  plan: (params: FaultParams, target: ResolvedTarget) => string[];
  /** Writes the undo record first, then injects; throws with the reason when it cannot. */
  inject: (
    ctx: FaultContext,
    params: FaultParams,
    target: ResolvedTarget,
    durationMs: number,
  ) => Promise<ActiveFault>;
}

/**
 * Node-level faults (implemented in helper/inject.ts): writes the undo record
 * listing `ops`, starts the helper pod on the target's node, which applies the
 * ops (agent/ops), reverts them at expiry or on SIGTERM, and deletes the record.
 * Resolves once the helper reports the fault in effect.
 */
export type InjectNodeFault = (
  ctx: FaultContext,
  kind: string,
  target: ResolvedTarget,
  ops: NodeUndo[],
  durationMs: number,
  description: string,
) => Promise<ActiveFault>;

/**
 * Kubernetes-level faults (implemented in helper/inject.ts): writes the undo
 * record with the restoring patches, starts a watchdog pod that applies them at
 * expiry whatever happens to gantry, then calls `apply` (scale, cordon, taint,
 * patch). revert() applies the restoring patches and stops the watchdog.
 */
export type InjectK8sFault = (
  ctx: FaultContext,
  kind: string,
  target: ResolvedTarget,
  undo: K8sUndo[],
  apply: () => Promise<void>,
  durationMs: number,
  description: string,
) => Promise<ActiveFault>;
