// The contract of a node-level operation run by the chaos agent inside the
// privileged helper pod on the target's node (hostPID, the host's cgroup fs).
// An op is applied once and reverted by its record alone: revert must work
// in a fresh helper process (after the first helper was force-deleted), when
// the target container restarted (act through the pod sandbox's network
// namespace, not the container's), and when there is nothing left to revert.
// This file and everything under agent/ must import only node: built-ins:
// the agent runs in the helper image without node_modules.

/** Where an op acts: resolved on the node from the pod uid (and container). */
export interface OpTarget {
  podUid: string;
  /** pid of the pod sandbox (pause) process: its /proc/PID/ns/net is the pod's network namespace. */
  sandboxPid: number;
  /** pid of the container's main process, when a container was named and is running. */
  containerPid?: number;
  /** The container's cgroup directory per v1 controller ("cpu", "memory", "freezer", ...), absolute. */
  cgroups?: Record<string, string>;
}

export interface OpContext {
  /** Runs a program, optionally inside the target's network namespace (nsenter --net). Rejects on a non-zero exit with its stderr. */
  run: (
    file: string,
    args: string[],
    opts?: { netnsPid?: number; timeoutMs?: number; allowFail?: boolean },
  ) => Promise<{ code: number; stdout: string; stderr: string }>;
  /** Starts a long-running child (proxy, stress-ng) that dies with the helper; returns its pid. */
  spawn: (file: string, args: string[], opts?: { netnsPid?: number }) => number;
  log: (message: string) => void;
}

export interface AgentOp {
  name: string;
  /** What this node lacks for the op (kernel module, qdisc, binary): reasons, empty when it can run. */
  check: (ctx: OpContext, target: OpTarget, args: Record<string, unknown>) => Promise<string[]>;
  apply: (ctx: OpContext, target: OpTarget, args: Record<string, unknown>) => Promise<void>;
  /** Idempotent: succeeds when nothing of the op is left (already reverted, pod gone). */
  revert: (
    ctx: OpContext,
    target: OpTarget | undefined,
    args: Record<string, unknown>,
  ) => Promise<void>;
  /** Optional: the state the op touches, for before/after comparisons in tests and `chaos status`. */
  snapshot?: (ctx: OpContext, target: OpTarget) => Promise<string>;
}
