// The objects of a release driver in the cluster, rendered from typed input (pure): its
// ServiceAccount, a Role in the service's namespace with the verbs on the kinds the driver
// touches (by name wherever Kubernetes can narrow a verb by name), the RoleBinding, the
// Secret with the validated spec and the values the release needs, and a one-replica
// Deployment running `gantry release drive`. Everything but the Deployment names it as
// owner, so deleting the Deployment (which the driver does when the release ends) removes
// them all.
import { createHash } from 'node:crypto';
import { renderService } from '../../render/index.js';
import type { KubeObject } from '../../render/index.js';
import type { ServiceSpec } from '../../spec/index.js';
import { releaseSecretName } from '../../release/record.js';
import type { ReleaseRecord } from '../../release/record.js';
import { canaryRefs } from '../canary.js';
import { driverLeaseName } from '../driver.js';
import type { ResolvedValues } from '../driver.js';
import { rolloutSecretName } from '../state.js';

export const DRIVER_LABEL = 'gantry.dev/release-driver-of';
export const DRIVER_CONTAINER = 'driver';
/** Keys of the driver's Secret. */
export const DRIVER_SECRET_KEYS = { spec: 'spec.json', values: 'values.json' } as const;

/** Revisions a promotion may record beyond the last one (a driver restarted mid-promotion records anew). */
const REVISIONS_AHEAD = 20;

/** The name of every driver object of a service: a DNS label (at most 63 characters). */
export function driverName(service: string): string {
  const name = `gantry-driver-${service}`;
  if (name.length <= 52) return name;
  const h = createHash('sha256').update(service).digest('hex').slice(0, 8);
  return `gantry-driver-${service.slice(0, 29)}-${h}`;
}

export function driverLabels(service: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'gantry-release-driver',
    // Not managed-by=gantry: that label marks the services Gantry deploys (status -A, the
    // console's fleet), and the driver is not one of them.
    'app.kubernetes.io/part-of': 'gantry',
    [DRIVER_LABEL]: service,
  };
}

/** The lease holder name a driver pod uses, so the CLI can tell a driver from a terminal. */
export function driverHolder(pod: string): string {
  return `gantry release driver in pod ${pod}`;
}

/** Whether a lease holder is a driver pod of the service (its pods are named <driverName>-…). */
export function isDriverHolder(holder: string | undefined, service: string): boolean {
  return holder?.startsWith(driverHolder(`${driverName(service)}-`)) ?? false;
}

export interface DriverInput {
  spec: ServiceSpec;
  /** The new version's image and version label. */
  image: string;
  version?: string;
  values: ResolvedValues;
  /** The driver's image (the Gantry CLI). */
  driverImage: string;
  /** Prometheus as the cluster reaches it. */
  prometheusUrl: string;
  /** Budget for each rollout the driver waits for (ms). */
  rolloutTimeoutMs: number;
  /** Who handed the release over (shown as the actor of what the driver does). */
  actor: string;
  /** The service's release records now (their objects may be pruned by the promotion). */
  history: readonly ReleaseRecord[];
}

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

function groupOf(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
}

function resourceOf(kind: string): string {
  const k = kind.toLowerCase();
  if (k.endsWith('y')) return `${k.slice(0, -1)}ies`;
  if (k.endsWith('s')) return `${k}es`;
  return `${k}s`;
}

/**
 * The Role's rules: what the driver does, and no more.
 *  - The service's own objects (stable, canary, and those of its recorded releases, which a
 *    promotion may prune): get, create and patch (server-side apply: the API server checks
 *    create, by name, when an apply creates the object), update (the replica router),
 *    delete (the canary, pruning), by name. Deployments and HTTPRoutes also list and watch
 *    by name (rollout and route status are watched with a metadata.name field selector).
 *  - Its release state, release records (existing and the next ones) and leases, by name.
 *  - Where Kubernetes cannot narrow by name: create Leases (a lock is created anew each
 *    time), list Secrets (release records are found by label), list and watch Pods and read
 *    their logs, get ReplicaSets, list Events (rollout progress and failure detail).
 *  - Its own Secret (get) and Deployment (get, delete: it removes itself when done).
 */
export function driverRules(input: DriverInput): Rule[] {
  const { spec } = input;
  const name = driverName(spec.name);
  const named = new Map<string, { group: string; resource: string; names: Set<string> }>();
  const add = (o: { apiVersion: string; kind: string; metadata: { name: string } }) => {
    const group = groupOf(o.apiVersion);
    const resource = resourceOf(o.kind);
    const key = `${group}/${resource}`;
    const entry = named.get(key) ?? { group, resource, names: new Set<string>() };
    entry.names.add(o.metadata.name);
    named.set(key, entry);
  };
  const rendered = renderService(spec, {
    image: input.image,
    ...(input.version ? { version: input.version } : {}),
    secretValues: input.values.secretValues,
  });
  for (const o of [...rendered, ...canaryRefs(spec), ...input.history.flatMap((r) => r.objects)]) {
    if (o.metadata.namespace === undefined || o.metadata.namespace === spec.namespace) add(o);
  }
  const last = input.history.reduce((m, r) => Math.max(m, r.revision), 0);
  const records = new Set(input.history.map((r) => releaseSecretName(spec.name, r.revision)));
  for (let r = last + 1; r <= last + REVISIONS_AHEAD; r++) {
    records.add(releaseSecretName(spec.name, r));
  }
  const sorted = (s: Iterable<string>) => [...s].sort();
  const rules: Rule[] = [];
  for (const { group, resource, names } of [...named.values()].sort((a, b) =>
    `${a.group}/${a.resource}`.localeCompare(`${b.group}/${b.resource}`),
  )) {
    const watched = resource === 'deployments' || resource === 'httproutes';
    const verbs = [
      'get',
      'create',
      'patch',
      'update',
      'delete',
      ...(watched ? ['list', 'watch'] : []),
    ];
    rules.push({ apiGroups: [group], resources: [resource], verbs, resourceNames: sorted(names) });
  }
  rules.push(
    {
      apiGroups: [''],
      resources: ['secrets'],
      verbs: ['get', 'update'],
      resourceNames: [rolloutSecretName(spec.name)],
    },
    {
      apiGroups: [''],
      resources: ['secrets'],
      verbs: ['get', 'create', 'patch', 'delete'],
      resourceNames: sorted(records),
    },
    { apiGroups: [''], resources: ['secrets'], verbs: ['get'], resourceNames: [name] },
    { apiGroups: [''], resources: ['secrets'], verbs: ['list'] },
    {
      apiGroups: ['apps'],
      resources: ['deployments'],
      verbs: ['get', 'delete'],
      resourceNames: [name],
    },
    {
      apiGroups: ['coordination.k8s.io'],
      resources: ['leases'],
      verbs: ['get', 'update', 'delete'],
      resourceNames: [`gantry-lock-${spec.name}`, `gantry-lock-${driverLeaseName(spec.name)}`],
    },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
    { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
    { apiGroups: [''], resources: ['events'], verbs: ['list'] },
    { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get'] },
  );
  return rules;
}

/** Secret, ServiceAccount, Role and RoleBinding of the driver (owned by its Deployment once it exists). */
export function renderDriverAccess(input: DriverInput): KubeObject[] {
  const { spec } = input;
  const name = driverName(spec.name);
  const meta = { name, namespace: spec.namespace, labels: driverLabels(spec.name) };
  return [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: meta,
      automountServiceAccountToken: true,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta,
      rules: driverRules(input),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: spec.namespace }],
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta,
      type: 'gantry.dev/release-driver.v1',
      data: {
        [DRIVER_SECRET_KEYS.spec]: Buffer.from(JSON.stringify(spec)).toString('base64'),
        [DRIVER_SECRET_KEYS.values]: Buffer.from(JSON.stringify(input.values)).toString('base64'),
      },
    },
  ];
}

/** The driver's Deployment: one pod (restarted by the kubelet, replaced by its ReplicaSet). */
export function renderDriverDeployment(input: DriverInput, replicas: number): KubeObject {
  const { spec } = input;
  const name = driverName(spec.name);
  const labels = driverLabels(spec.name);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: spec.namespace, labels },
    spec: {
      replicas,
      // Never two pods from a template change; a deleted pod's replacement still overlaps the
      // terminating one, and the lease keeps them from driving at once.
      strategy: { type: 'Recreate' },
      revisionHistoryLimit: 1,
      selector: { matchLabels: { [DRIVER_LABEL]: spec.name } },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: name,
          automountServiceAccountToken: true,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: DRIVER_CONTAINER,
              image: input.driverImage,
              imagePullPolicy: 'IfNotPresent',
              args: [
                'release',
                'drive',
                '--namespace',
                spec.namespace,
                '--service',
                spec.name,
                '--timeout',
                `${Math.ceil(input.rolloutTimeoutMs / 1000)}s`,
                '--prometheus-url',
                input.prometheusUrl,
              ],
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'GANTRY_RELEASE_ACTOR', value: input.actor },
              ],
              resources: {
                requests: { cpu: '20m', memory: '64Mi' },
                limits: { memory: '256Mi' },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
            },
          ],
        },
      },
    },
  };
}
