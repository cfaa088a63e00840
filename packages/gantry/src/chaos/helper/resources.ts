// The Kubernetes objects of the chaos helper: the namespace (Pod Security
// "privileged"), its ServiceAccount, the RBAC it needs (configmaps in the chaos
// namespace; pods get/list in a target namespace for container ids, only while a
// fault there needs it; get/patch on exactly the kinds a watchdog's record restores)
// and the helper pods.
import type { Kube } from '../../kube/client.js';
import { KubeApiError } from '../../kube/client.js';
import { EXPERIMENT_LABEL, listRecords } from '../undo-store.js';
import { CHAOS_NAMESPACE } from '../undo.js';
import type { UndoRecord } from '../undo.js';

export const HELPER_LABEL = 'gantry.dev/chaos-helper';
export const RECORD_LABEL = 'gantry.dev/chaos-record';
export const SERVICE_ACCOUNT = 'gantry-chaos-helper';
/** Time the agent has to revert after SIGTERM. */
export const GRACE_SECONDS = 30;

export type HelperMode = 'node' | 'revert' | 'watchdog' | 'standby';

/** On a record: the standby helper pod (its name) that takes it (standby mode). */
export const STANDBY_LABEL = 'gantry.dev/chaos-standby';
/** How long a standby helper waits for a fault before it exits. */
export const STANDBY_IDLE_SECONDS = 600;
/** A standby's first deadline; a claim lowers it to the fault's (a deadline may only go down). */
const STANDBY_DEADLINE_SECONDS = 6 * 3600;

export const helperPodName = (id: string, mode: HelperMode) =>
  `gantry-chaos-${mode === 'revert' ? 'r-' : mode === 'standby' ? 'sb-' : ''}${id}`
    .slice(0, 63)
    .replace(/-+$/, '');

const ready = new WeakMap<Kube, Set<string>>();

async function once(kube: Kube, key: string, fn: () => Promise<unknown>) {
  let done = ready.get(kube);
  if (!done) ready.set(kube, (done = new Set()));
  if (done.has(key)) return;
  await fn();
  done.add(key);
}

/** The chaos namespace, its ServiceAccount and the Role on undo records (idempotent). */
export async function ensureChaosNamespace(kube: Kube): Promise<void> {
  await once(kube, 'namespace', async () => {
    await kube.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: CHAOS_NAMESPACE,
        labels: {
          'pod-security.kubernetes.io/enforce': 'privileged',
          'app.kubernetes.io/managed-by': 'gantry',
        },
      },
    });
    await kube.apply({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: SERVICE_ACCOUNT, namespace: CHAOS_NAMESPACE },
    });
    await kube.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: SERVICE_ACCOUNT, namespace: CHAOS_NAMESPACE },
      // list/watch: a standby helper watches for the record that claims it.
      rules: [
        {
          apiGroups: [''],
          resources: ['configmaps'],
          verbs: ['get', 'list', 'watch', 'patch', 'delete'],
        },
      ],
    });
    await kube.apply(binding('RoleBinding', SERVICE_ACCOUNT, 'Role', CHAOS_NAMESPACE));
  });
}

function binding(
  kind: 'RoleBinding' | 'ClusterRoleBinding',
  name: string,
  roleKind: string,
  ns?: string,
) {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    metadata: { name, ...(ns ? { namespace: ns } : {}) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name },
    subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace: CHAOS_NAMESPACE }],
  };
}

/** Marks the helper's pod-reader Role and RoleBinding in target namespaces. */
export const POD_READER_LABEL = 'gantry.dev/chaos-pod-reader';

const readerLabels = { [POD_READER_LABEL]: 'true', 'app.kubernetes.io/managed-by': 'gantry' };

/**
 * Read access to pods in the target namespace (the agent finds container ids there).
 * Applied every time, after the fault's undo record is written: the record is what keeps
 * a concurrent releasePodReader() from removing it (no per-process cache, which another
 * gantry's release would make stale).
 */
export async function ensurePodReader(kube: Kube, namespace: string): Promise<void> {
  await kube.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: SERVICE_ACCOUNT, namespace, labels: readerLabels },
    rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }],
  });
  await kube.apply({
    ...binding('RoleBinding', SERVICE_ACCOUNT, 'Role', namespace),
    metadata: { name: SERVICE_ACCOUNT, namespace, labels: readerLabels },
  });
}

/** Whether an undo record still needs the pod reader in `namespace` (an op on a container). */
async function readerNeeded(kube: Kube, namespace: string): Promise<boolean> {
  return (await listRecords(kube)).some(
    (r) => r.namespace === namespace && !!r.node?.ops.some((o) => o.container),
  );
}

/**
 * Removes the pod reader of `namespace` once no undo record there needs it (the last
 * fault using it ended). A fault starting meanwhile writes its record before it applies
 * the reader: the records are read again after the removal, and the reader is put back
 * when one appeared. True when it was removed. Never in the chaos namespace, whose Role
 * of the same name is the helper's own.
 */
export async function releasePodReader(kube: Kube, namespace: string): Promise<boolean> {
  if (namespace === CHAOS_NAMESPACE) return false;
  if (await readerNeeded(kube, namespace)) return false;
  const del = (kind: string) =>
    kube
      .delete({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind,
        metadata: { name: SERVICE_ACCOUNT, namespace },
      })
      .catch((err: unknown) => {
        if (err instanceof KubeApiError && err.status === 404) return false;
        throw err;
      });
  const binding = await del('RoleBinding');
  const role = await del('Role');
  const removed = binding || role;
  if (await readerNeeded(kube, namespace)) {
    await ensurePodReader(kube, namespace);
    return false;
  }
  return removed;
}

/**
 * Every pod reader (a RoleBinding named like the helper's ServiceAccount in another
 * namespace, labelled or left by an older gantry) whose namespace has no record needing
 * it is removed: `gantry chaos recover` runs this. The namespaces it removed them from.
 */
export async function sweepPodReaders(kube: Kube): Promise<string[]> {
  const found = await Promise.all(
    ['RoleBinding', 'Role'].map((kind) =>
      kube.list<{ metadata?: { namespace?: string } }>(
        'rbac.authorization.k8s.io/v1',
        kind,
        undefined,
        { fieldSelector: `metadata.name=${SERVICE_ACCOUNT}` },
      ),
    ),
  );
  const namespaces = [...new Set(found.flat().map((b) => b.metadata?.namespace ?? ''))].filter(
    (ns) => ns && ns !== CHAOS_NAMESPACE,
  );
  const out: string[] = [];
  for (const ns of namespaces) if (await releasePodReader(kube, ns)) out.push(ns);
  return out;
}

/** The resource name of a kind (Deployment -> deployments, NetworkPolicy -> networkpolicies). */
export function pluralOf(kind: string): string {
  const k = kind.toLowerCase();
  if (k === 'endpoints') return k;
  if (/(s|x|ch|sh)$/.test(k)) return `${k}es`;
  if (/[^aeiou]y$/.test(k)) return `${k.slice(0, -1)}ies`;
  return `${k}s`;
}

const roleName = (id: string) => `gantry-chaos-${id}`.slice(0, 63);

/**
 * For a watchdog: get and patch on exactly the kinds its record restores, as a Role in
 * each namespace it names and a ClusterRole for cluster-scoped kinds (nodes).
 */
export async function grantRestore(kube: Kube, rec: UndoRecord): Promise<void> {
  const byNs = new Map<string, Map<string, Set<string>>>();
  for (const u of rec.k8s) {
    const ns = u.namespace ?? '';
    const group = u.apiVersion.includes('/') ? u.apiVersion.split('/')[0]! : '';
    let groups = byNs.get(ns);
    if (!groups) byNs.set(ns, (groups = new Map<string, Set<string>>()));
    let res = groups.get(group);
    if (!res) groups.set(group, (res = new Set<string>()));
    res.add(pluralOf(u.kind));
  }
  const name = roleName(rec.id);
  const labels = { [RECORD_LABEL]: rec.id };
  for (const [ns, groups] of byNs) {
    const rules = [...groups].map(([g, res]) => ({
      apiGroups: [g],
      resources: [...res].sort(),
      verbs: ['get', 'patch'],
    }));
    if (ns) {
      await kube.apply({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name, namespace: ns, labels },
        rules,
      });
      await kube.apply({
        ...binding('RoleBinding', name, 'Role', ns),
        metadata: { name, namespace: ns, labels },
      });
    } else {
      await kube.apply({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name, labels },
        rules,
      });
      await kube.apply({
        ...binding('ClusterRoleBinding', name, 'ClusterRole'),
        metadata: { name, labels },
      });
    }
  }
}

/** Removes what grantRestore made (idempotent). */
export async function revokeRestore(kube: Kube, rec: UndoRecord): Promise<void> {
  const name = roleName(rec.id);
  const namespaces = new Set(rec.k8s.map((u) => u.namespace ?? ''));
  const del = (apiVersion: string, kind: string, namespace?: string) =>
    kube
      .delete({ apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}) } })
      .catch((err: unknown) => {
        if (!(err instanceof KubeApiError && err.status === 404)) throw err;
        return false;
      });
  for (const ns of namespaces) {
    if (ns) {
      await del('rbac.authorization.k8s.io/v1', 'RoleBinding', ns);
      await del('rbac.authorization.k8s.io/v1', 'Role', ns);
    } else {
      await del('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding');
      await del('rbac.authorization.k8s.io/v1', 'ClusterRole');
    }
  }
}

export interface HelperPodOptions {
  id: string;
  mode: HelperMode;
  image: string;
  experiment: string;
  node?: string;
  /** For node/watchdog: the fault's duration; the pod's deadline is a little over it. */
  durationMs: number;
}

/**
 * The helper pod: privileged with hostPID on the node for node ops; plain for a watchdog.
 * A standby (mode 'standby', `id` a token) is a node helper started ahead of any fault: it
 * waits for a record labelled with its name and is then that fault's helper.
 */
export function helperPod(o: HelperPodOptions) {
  const nodeLevel = o.mode !== 'watchdog';
  const standby = o.mode === 'standby';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: helperPodName(o.id, o.mode),
      namespace: CHAOS_NAMESPACE,
      labels: {
        [HELPER_LABEL]: o.mode,
        ...(standby ? {} : { [RECORD_LABEL]: o.id }),
        [EXPERIMENT_LABEL]: o.experiment.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 63),
        'app.kubernetes.io/managed-by': 'gantry',
      },
    },
    spec: {
      ...(o.node ? { nodeName: o.node } : {}),
      restartPolicy: 'Never',
      serviceAccountName: SERVICE_ACCOUNT,
      // Start, the fault's duration, and the revert.
      activeDeadlineSeconds: standby
        ? STANDBY_DEADLINE_SECONDS
        : Math.ceil(o.durationMs / 1000) + 120,
      terminationGracePeriodSeconds: GRACE_SECONDS,
      // Whatever the fault does to the node (a NoExecute taint, a cordon), the helper stays.
      tolerations: [{ operator: 'Exists' }],
      enableServiceLinks: false,
      ...(nodeLevel
        ? { hostPID: true, hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }
        : {}),
      containers: [
        {
          name: 'agent',
          image: o.image,
          imagePullPolicy: 'IfNotPresent',
          args: [o.mode, standby ? helperPodName(o.id, o.mode) : o.id],
          env: [
            { name: 'CHAOS_NAMESPACE', value: CHAOS_NAMESPACE },
            { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
            ...(standby
              ? [{ name: 'STANDBY_IDLE_SECONDS', value: String(STANDBY_IDLE_SECONDS) }]
              : []),
          ],
          resources: { requests: { cpu: '10m', memory: '32Mi' } },
          ...(nodeLevel
            ? {
                securityContext: { privileged: true },
                volumeMounts: [{ name: 'cgroup', mountPath: '/host/sys/fs/cgroup' }],
              }
            : {}),
        },
      ],
      ...(nodeLevel
        ? { volumes: [{ name: 'cgroup', hostPath: { path: '/sys/fs/cgroup', type: 'Directory' } }] }
        : {}),
    },
  };
}
