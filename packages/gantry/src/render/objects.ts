// Rendering: a validated spec -> the Kubernetes objects that run it. A pure
// function of its inputs; YAML is only an output format (see yaml.ts).
import type {
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1HorizontalPodAutoscaler,
  V1PodDisruptionBudget,
  V1Probe,
  V1Secret,
  V1Service,
  V1ServiceAccount,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type { ProbeSpec, ServiceSpec } from '../spec/index.js';
import { renderRoutes } from '../traffic/gateway-api.js';
import { contentHash } from './hash.js';
import { TRACK_LABEL, commonLabels, selectorLabels, trackSelector } from './labels.js';

/** Any Kubernetes object Gantry renders. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export interface RenderOptions {
  /** Full image reference to run (repository plus tag or digest). Default: spec.image. */
  image?: string;
  /** The service version (semver), set as app.kubernetes.io/version. */
  version?: string;
  /**
   * Secret values by key, read at deploy time. When absent, the Secret is
   * rendered with empty values and `secretHash` must identify the content.
   */
  secretValues?: Readonly<Record<string, string>>;
}

export const ANNOTATION_CONFIG_HASH = 'gantry.dev/config-hash';
/** Group that owns mounted config and secret files in every pod. */
export const POD_FS_GROUP = 65532;

export function configMapName(spec: ServiceSpec): string {
  return `${spec.name}-config`;
}

export function secretName(spec: ServiceSpec): string {
  return `${spec.name}-secrets`;
}

/** The pod volume of the spec's mounts[i] (a DNS label unlike tmp, config and secrets). */
export function mountVolumeName(i: number): string {
  return `mount-${i}`;
}

/** Renders every object of a service in apply order. */
export function renderService(spec: ServiceSpec, opts: RenderOptions = {}): KubeObject[] {
  const labels = commonLabels(spec, opts.version);
  const meta = (name: string) => ({ name, namespace: spec.namespace, labels: { ...labels } });
  const secretKeys = Object.keys(spec.secrets).sort();
  const secretValues = opts.secretValues ?? {};
  for (const key of secretKeys) {
    if (opts.secretValues && secretValues[key] === undefined) {
      throw new Error(`no value was supplied for secret key "${key}"`);
    }
  }
  const hasConfig = Object.keys(spec.config).length > 0;
  const hasSecrets = secretKeys.length > 0;

  const objects: KubeObject[] = [];
  const sa: V1ServiceAccount = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: meta(spec.name),
    automountServiceAccountToken: false,
  };
  objects.push(sa as KubeObject);

  if (hasConfig) {
    const cm: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(configMapName(spec)),
      data: sortedRecord(spec.config),
    };
    objects.push(cm as KubeObject);
  }
  if (hasSecrets) {
    const data: Record<string, string> = {};
    for (const key of secretKeys) {
      data[key] = Buffer.from(secretValues[key] ?? '', 'utf8').toString('base64');
    }
    const secret: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta(secretName(spec)),
      type: 'Opaque',
      data,
    };
    objects.push(secret as KubeObject);
  }

  objects.push(deployment(spec, opts, labels, { hasConfig, hasSecrets, secretValues }));

  if (spec.service.type !== 'None') {
    const svc: V1Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(spec.name),
      spec: {
        type: spec.service.type,
        // Stable pods only: a canary is reached through its own Service (see traffic/).
        selector: trackSelector(spec, 'stable'),
        ports: spec.ports.map((p) => ({
          name: p.name,
          port: p.servicePort ?? p.containerPort,
          targetPort: p.name,
          protocol: p.protocol,
          ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
        })),
      },
    };
    objects.push(svc as KubeObject);
  }

  if (spec.autoscaling) {
    const hpa: V1HorizontalPodAutoscaler = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: meta(spec.name),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: spec.name },
        minReplicas: spec.autoscaling.minReplicas,
        maxReplicas: spec.autoscaling.maxReplicas,
        metrics: [
          {
            type: 'Resource',
            resource: {
              name: 'cpu',
              target: {
                type: 'Utilization',
                averageUtilization: spec.autoscaling.targetCPUUtilizationPercentage,
              },
            },
          },
        ],
      } as V1HorizontalPodAutoscaler['spec'],
    };
    objects.push(hpa as KubeObject);
  }

  if (spec.disruptionBudget) {
    const pdb: V1PodDisruptionBudget = {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: meta(spec.name),
      spec: {
        selector: { matchLabels: selectorLabels(spec) },
        ...(spec.disruptionBudget.minAvailable !== undefined
          ? { minAvailable: spec.disruptionBudget.minAvailable }
          : { maxUnavailable: spec.disruptionBudget.maxUnavailable }),
      },
    };
    objects.push(pdb as KubeObject);
  }

  if (spec.networkPolicy) {
    const from = spec.networkPolicy.allowFrom.length
      ? spec.networkPolicy.allowFrom.map((peer) => ({
          ...(peer.namespace
            ? {
                namespaceSelector: {
                  matchLabels: { 'kubernetes.io/metadata.name': peer.namespace },
                },
              }
            : {}),
          ...(peer.podLabels ? { podSelector: { matchLabels: peer.podLabels } } : {}),
        }))
      : [{ podSelector: {} }];
    // Written as plain JSON: the client library's model names this field `_from`.
    const np: KubeObject = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(spec.name),
      spec: {
        podSelector: { matchLabels: selectorLabels(spec) },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from,
            ports: spec.ports.map((p) => ({ port: p.containerPort, protocol: p.protocol })),
          },
        ],
      },
    };
    objects.push(np);
  }

  objects.push(...renderRoutes(spec, { kind: 'stable' }, { version: opts.version }));

  return objects;
}

function deployment(
  spec: ServiceSpec,
  opts: RenderOptions,
  labels: Record<string, string>,
  parts: {
    hasConfig: boolean;
    hasSecrets: boolean;
    secretValues: Readonly<Record<string, string>>;
  },
): KubeObject {
  const volumes: V1Volume[] = [{ name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } }];
  const mounts: V1VolumeMount[] = [{ name: 'tmp', mountPath: '/tmp' }];
  if (parts.hasConfig) {
    volumes.push({ name: 'config', configMap: { name: configMapName(spec) } });
    mounts.push({ name: 'config', mountPath: spec.configMountPath, readOnly: true });
  }
  if (parts.hasSecrets) {
    // Group-readable only: the pod's fsGroup (a supplemental group of every
    // container process) owns the files, whatever user the image runs as.
    volumes.push({ name: 'secrets', secret: { secretName: secretName(spec), defaultMode: 0o440 } });
    mounts.push({ name: 'secrets', mountPath: spec.secretMountPath, readOnly: true });
  }
  // Secrets and ConfigMaps the service does not own: mounted as they are, read-only. Their
  // content is not in the config hash (gantry never reads it); the kubelet refreshes the
  // files when the object changes, so a reader that polls sees updates without a restart.
  spec.mounts.forEach((m, i) => {
    const name = mountVolumeName(i);
    const optional = m.optional ? { optional: true } : {};
    volumes.push(
      m.secret !== undefined
        ? { name, secret: { secretName: m.secret, defaultMode: 0o440, ...optional } }
        : { name, configMap: { name: m.configMap ?? '', ...optional } },
    );
    mounts.push({ name, mountPath: m.path, readOnly: true });
  });

  const env: V1EnvVar[] = Object.keys(spec.env)
    .sort()
    .map((name) => ({ name, value: spec.env[name] ?? '' }));

  const firstPort = spec.ports[0]!.name;
  const probe = (p: ProbeSpec | undefined): V1Probe | undefined =>
    p && {
      httpGet: { path: p.path, port: p.port ?? firstPort },
      initialDelaySeconds: p.initialDelaySeconds,
      periodSeconds: p.periodSeconds,
      timeoutSeconds: p.timeoutSeconds,
      failureThreshold: p.failureThreshold,
      successThreshold: p.successThreshold,
    };

  const container: V1Container = {
    name: spec.name,
    image: opts.image ?? spec.image,
    imagePullPolicy: 'IfNotPresent',
    ...(spec.command ? { command: spec.command } : {}),
    ...(spec.args ? { args: spec.args } : {}),
    ports: spec.ports.map((p) => ({
      name: p.name,
      containerPort: p.containerPort,
      protocol: p.protocol,
    })),
    env,
    resources: {
      ...(Object.keys(spec.resources.requests).length
        ? { requests: stringQuantities(spec.resources.requests) }
        : {}),
      ...(Object.keys(spec.resources.limits).length
        ? { limits: stringQuantities(spec.resources.limits) }
        : {}),
    },
    volumeMounts: mounts,
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  const liveness = probe(spec.probes.liveness);
  const readiness = probe(spec.probes.readiness);
  const startup = probe(spec.probes.startup);
  if (liveness) container.livenessProbe = liveness;
  if (readiness) container.readinessProbe = readiness;
  if (startup) container.startupProbe = startup;

  const annotations: Record<string, string> = {
    [ANNOTATION_CONFIG_HASH]: contentHash(spec.config, parts.secretValues).slice(0, 16),
  };
  if (spec.metrics) {
    const port = spec.metrics.port ?? spec.ports[0]!.containerPort;
    annotations['prometheus.io/scrape'] = 'true';
    annotations['prometheus.io/path'] = spec.metrics.path;
    annotations['prometheus.io/port'] = String(
      typeof port === 'number'
        ? port
        : (spec.ports.find((p) => p.name === port)?.containerPort ?? port),
    );
  }

  const d: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: spec.name, namespace: spec.namespace, labels: { ...labels } },
    spec: {
      ...(spec.autoscaling ? {} : { replicas: spec.replicas }),
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: spec.progressDeadlineSeconds,
      selector: { matchLabels: selectorLabels(spec) },
      strategy: {
        type: 'RollingUpdate',
        rollingUpdate: {
          maxSurge: spec.rollingUpdate.maxSurge,
          maxUnavailable: spec.rollingUpdate.maxUnavailable,
        },
      },
      template: {
        metadata: { labels: { ...labels, [TRACK_LABEL]: 'stable' }, annotations },
        spec: {
          serviceAccountName: spec.name,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds,
          securityContext: {
            runAsNonRoot: true,
            fsGroup: POD_FS_GROUP,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [container],
          volumes,
        },
      },
    },
  };
  return d as KubeObject;
}

function stringQuantities(r: {
  cpu?: string | number;
  memory?: string | number;
}): Record<string, string> {
  const out: Record<string, string> = {};
  if (r.cpu !== undefined) out.cpu = String(r.cpu);
  if (r.memory !== undefined) out.memory = String(r.memory);
  return out;
}

function sortedRecord(r: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k] ?? '';
  return out;
}
