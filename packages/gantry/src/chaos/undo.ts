// Undo records: before a fault changes anything, what will put it back is
// written in the cluster as a ConfigMap in the chaos namespace (labelled
// gantry.dev/chaos-undo=true). Whoever ends the fault — the CLI, the helper
// at expiry, `gantry chaos recover` / `abort` — reverts what the record lists
// (every step idempotent) and deletes the record only once all of it is back.
// Types only here; the store and the reverters live next to it.

/** The namespace of undo records, helper pods and their RBAC. */
export const CHAOS_NAMESPACE = 'gantry-chaos';
export const UNDO_LABEL = 'gantry.dev/chaos-undo';

/** A change to a Kubernetes object and the patch that puts it back exactly. */
export interface K8sUndo {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  /** 'merge': JSON merge patch (null removes a field the fault added); 'strategic' for pods' containers. */
  patchType: 'merge' | 'strategic';
  /** The patch that restores the object. */
  restore: Record<string, unknown>;
  /** uid of the object when the fault began: a replaced object is not patched (nothing of ours left on it). */
  uid?: string;
}

/** A change inside a pod's namespaces or cgroups on a node, reverted by a helper there (agent/op.ts). */
export interface NodeUndo {
  /** The agent op's name (agent/ops). */
  op: string;
  podUid: string;
  /** Container name (process/cgroup faults); the pod sandbox's network namespace otherwise. */
  container?: string;
  /** Everything the op needs to apply and to revert, chosen before it is applied (chain names, devices). */
  args: Record<string, unknown>;
}

export interface UndoRecord {
  id: string;
  kind: string;
  experiment: string;
  namespace: string;
  service: string;
  createdAt: string;
  expiresAt: string;
  /** 'planned' before injection starts; 'injected' once in effect; 'reverting' when an end began. */
  state: 'planned' | 'injected' | 'reverting';
  k8s: K8sUndo[];
  node?: { name: string; ops: NodeUndo[] };
}
