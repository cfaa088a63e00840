// Resource faults, injected by the helper on each chosen pod's node into the
// container's own cgroups (helper/inject.ts; the ops are agent/ops/stress.ts):
//   cpu-hog     stress-ng CPU workers: --load percent of the container's CPU limit, or
//               of --cores when given (needed without a limit)
//   memory-hog  stress-ng holds --bytes, or --percent-of-limit of the memory limit, in
//               the container's memcg. Up to the limit the app is never the victim (the
//               hog at oom_score_adj 1000 makes way: agent/ops/stress.ts); --oom goes past
//               the limit so the OOM killer kills the container (refused, with the reason,
//               on a node where the kernel would choose the hog)
//   io-stress   fio writing (or reading) files in a directory of the container's
//               filesystem (its writable layer by default), removed at the end
//   disk-fill   a file filling a volume (emptyDir, tmpfs) or the writable layer to
//               --fill-percent of its size limit, or by --bytes; removed at the end
// Every program is bounded by its own timeout at the fault's duration, so it ends
// even when no helper is left to revert it.
//
// disk-fill's safety rail: the node's root filesystem holds the OS, the images, the
// logs and every pod's emptyDirs, and the kubelet evicts pods (any pods) once it is
// short of space (nodefs.available < 10 %, imagefs < 15 % by default). So a fill on
// it is refused (by the agent, which sees the filesystem) when it is above
// --max-node-fill (default 1 GiB: enough to hit a volume's sizeLimit or an app's own
// checks, small enough that a typo cannot take the node) or would leave less than 20 %
// of the disk free. A tmpfs volume is charged to the pod's memory, not the disk.
import { randomBytes } from 'node:crypto';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { quantityValue } from '../../monitor/quantity.js';
import type { FaultDefinition, FaultParams } from '../fault.js';
import { injectNodeFault } from '../helper/inject.js';
import { containerOps, containerPreflight, describeTargets } from './process.js';

const MiB = 2 ** 20;
const mib = (n: number) => `${Math.round(n / MiB)} MiB`;

/** An op's marker: names its processes (environment) and files (.gantry-chaos-MARKER). */
const marker = (kind: string) => `${kind}-${randomBytes(4).toString('hex')}`;

function container(pod: V1Pod, name: string): V1Container | undefined {
  return pod.spec?.containers.find((c) => c.name === name);
}

function limit(c: V1Container | undefined, resource: string): number | undefined {
  const q = c?.resources?.limits?.[resource];
  return q === undefined ? undefined : quantityValue(q);
}

const num = (v: FaultParams[string]) => (typeof v === 'number' ? v : undefined);

// ---------------------------------------------------------------------------------------

const cpuHog: FaultDefinition = {
  kind: 'cpu-hog',
  family: 'stress',
  summary:
    "burn CPU in the container's own cgroups (stress-ng): a percent of its CPU limit, or of --cores",
  needsHelper: true,
  params: [
    {
      name: 'load',
      type: 'percent',
      default: 100,
      description: "CPU used, in percent of the container's CPU limit (or of --cores)",
    },
    {
      name: 'cores',
      type: 'number',
      min: 0.01,
      max: 256,
      description: 'the load is a percent of this many cores instead of the limit',
    },
  ],
  preflight: (ctx, params, target) =>
    containerPreflight(ctx, target, (pod, p) =>
      num(params.cores) === undefined && limit(container(pod, p.container), 'cpu') === undefined
        ? [`container ${p.container} of ${p.name} has no CPU limit: give --cores`]
        : [],
    ),
  plan: (params, target) => {
    const load = num(params.load) ?? 100;
    const of =
      num(params.cores) === undefined
        ? "of the container's CPU limit"
        : `of ${String(params.cores)} cores`;
    return [
      `run stress-ng CPU workers at ${load}% ${of} in the cgroups of ${describeTargets(target)}`,
    ];
  },
  inject: (ctx, params, target, durationMs) =>
    injectNodeFault(
      ctx,
      'cpu-hog',
      target,
      containerOps(target, 'cpu-hog', () => ({
        marker: marker('cpu'),
        load: num(params.load) ?? 100,
        ...(num(params.cores) === undefined ? {} : { cores: num(params.cores) }),
        durationMs,
      })),
      durationMs,
      cpuHog.plan(params, target).join('; '),
    ),
};

const memoryHog: FaultDefinition = {
  kind: 'memory-hog',
  family: 'stress',
  summary:
    "hold memory in the container's memcg (stress-ng): bytes or a percent of its limit; --oom goes past it",
  needsHelper: true,
  params: [
    { name: 'bytes', type: 'bytes', description: 'memory held, e.g. 256Mi' },
    {
      name: 'percent-of-limit',
      type: 'percent',
      description: "memory held, in percent of the container's memory limit",
    },
    {
      name: 'oom',
      type: 'boolean',
      default: false,
      description:
        'go past the limit so the OOM killer kills the container (OOMKilled and restarted); ' +
        'without it the hog makes way for the app should the app reach the limit',
    },
  ],
  preflight: (ctx, params, target) => {
    const bytes = num(params.bytes);
    const percent = num(params['percent-of-limit']);
    if ((bytes === undefined) === (percent === undefined)) {
      return Promise.resolve(['give --bytes or --percent-of-limit (one of them)']);
    }
    return containerPreflight(ctx, target, (pod, p) => {
      const lim = limit(container(pod, p.container), 'memory');
      const where = `container ${p.container} of ${p.name}`;
      if (lim === undefined && (percent !== undefined || params.oom === true)) {
        return [
          `${where} has no memory limit: give --bytes${params.oom ? ' (--oom needs a limit)' : ''}`,
        ];
      }
      if (lim !== undefined && bytes !== undefined && bytes >= lim && params.oom !== true) {
        return [
          `${mib(bytes)} is not below the ${mib(lim)} limit of ${where}: set --oom to go past it`,
        ];
      }
      return [];
    });
  },
  plan: (params, target) => {
    const amount =
      num(params.bytes) !== undefined
        ? mib(num(params.bytes)!)
        : `${String(params['percent-of-limit'])}% of the memory limit`;
    return [
      `hold ${amount} in the memcg of ${describeTargets(target)} (stress-ng)` +
        (params.oom === true ? ', going past the limit until the OOM killer acts' : ''),
    ];
  },
  inject: (ctx, params, target, durationMs) =>
    injectNodeFault(
      ctx,
      'memory-hog',
      target,
      containerOps(target, 'memory-hog', () => ({
        marker: marker('mem'),
        ...(num(params.bytes) === undefined ? {} : { bytes: num(params.bytes) }),
        ...(num(params['percent-of-limit']) === undefined
          ? {}
          : { percent: num(params['percent-of-limit']) }),
        oom: params.oom === true,
        durationMs,
      })),
      durationMs,
      memoryHog.plan(params, target).join('; '),
    ),
};

const IO_MODES = ['write', 'randwrite', 'read', 'randread', 'readwrite', 'randrw'];

const ioStress: FaultDefinition = {
  kind: 'io-stress',
  family: 'stress',
  summary:
    "fio reading/writing files in the container's filesystem (its writable layer by default), removed at the end",
  needsHelper: true,
  params: [
    { name: 'mode', type: 'string', enum: IO_MODES, default: 'write', description: 'fio --rw' },
    { name: 'workers', type: 'number', min: 1, max: 16, default: 1, description: 'fio jobs' },
    { name: 'size', type: 'bytes', default: '64Mi', description: 'file size per job' },
    {
      name: 'path',
      type: 'string',
      default: '/',
      description:
        'a directory in the container (a volume mount path, or / for the writable layer)',
    },
  ],
  preflight: (ctx, params, target) => {
    const path = typeof params.path === 'string' ? params.path : '/';
    if (!path.startsWith('/')) return Promise.resolve(['--path must be absolute']);
    return containerPreflight(ctx, target, (pod, p) => readOnlyProblem(pod, p.container, path));
  },
  plan: (params, target) => [
    `run fio (${String(params.mode ?? 'write')}, ${String(params.workers ?? 1)} job(s) of ` +
      `${mib(num(params.size) ?? 64 * MiB)}) in ${String(params.path ?? '/')} of ${describeTargets(target)}; ` +
      'its directory removed at the end',
  ],
  inject: (ctx, params, target, durationMs) =>
    injectNodeFault(
      ctx,
      'io-stress',
      target,
      containerOps(target, 'io-stress', () => ({
        marker: marker('io'),
        mode: String(params.mode ?? 'write'),
        workers: num(params.workers) ?? 1,
        size: num(params.size) ?? 64 * MiB,
        path: String(params.path ?? '/'),
        durationMs,
      })),
      durationMs,
      ioStress.plan(params, target).join('; '),
    ),
};

/** Where disk-fill writes in a container and the size limit a percent is of. */
export function fillTarget(
  pod: V1Pod,
  containerName: string,
  params: FaultParams,
): { path: string; sizeLimit?: number; medium?: string; what: string } {
  const c = container(pod, containerName);
  const volume = typeof params.volume === 'string' ? params.volume : undefined;
  if (volume) {
    const mount = c?.volumeMounts?.find((m) => m.name === volume);
    if (!mount) throw new Error(`volume ${volume} is not mounted in container ${containerName}`);
    const v = pod.spec?.volumes?.find((x) => x.name === volume);
    const sizeLimit = v?.emptyDir?.sizeLimit;
    return {
      path: mount.mountPath,
      ...(sizeLimit === undefined || v?.emptyDir?.medium === 'Memory'
        ? {}
        : { sizeLimit: quantityValue(sizeLimit) }),
      ...(v?.emptyDir?.medium ? { medium: v.emptyDir.medium } : {}),
      what: `volume ${volume} (${mount.mountPath})`,
    };
  }
  const path = typeof params.path === 'string' ? params.path : '/';
  const eph = limit(c, 'ephemeral-storage');
  return {
    path,
    ...(eph === undefined || path !== '/' ? {} : { sizeLimit: eph }),
    what: path === '/' ? 'the writable layer' : path,
  };
}

/**
 * Why `path` cannot be written in the container: the root filesystem read-only
 * (readOnlyRootFilesystem, as Gantry deploys services) and no volume mounted there.
 */
export function readOnlyProblem(pod: V1Pod, containerName: string, path: string): string[] {
  const c = container(pod, containerName);
  if (!c?.securityContext?.readOnlyRootFilesystem) return [];
  const mounts = (c.volumeMounts ?? []).filter((m) => !m.readOnly);
  const inVolume = mounts.some(
    (m) => path === m.mountPath || path.startsWith(`${m.mountPath.replace(/\/$/, '')}/`),
  );
  if (inVolume) return [];
  const choices = mounts.map((m) => `--volume ${m.name} (${m.mountPath})`).join(', ');
  return [
    `${path} in container ${containerName} of ${pod.metadata?.name ?? '?'} is on its read-only root ` +
      `filesystem: ${choices ? `use ${choices}` : 'it has no writable volume'}`,
  ];
}

const diskFill: FaultDefinition = {
  kind: 'disk-fill',
  family: 'disk',
  summary:
    "fill a volume or the container's writable layer to a percent of its size limit (or by bytes); removed at the end",
  needsHelper: true,
  params: [
    {
      name: 'volume',
      type: 'string',
      description: 'a volume of the pod mounted in the container (default: the writable layer)',
    },
    {
      name: 'path',
      type: 'string',
      description: 'a directory in the container instead of a volume (default /)',
    },
    {
      name: 'fill-percent',
      type: 'percent',
      description:
        "fill until this share of the volume's sizeLimit (tmpfs: its size; writable layer: the ephemeral-storage limit) is used",
    },
    { name: 'bytes', type: 'bytes', description: 'write this much instead' },
    {
      name: 'max-node-fill',
      type: 'bytes',
      default: '1Gi',
      description: "most a fill may write on the node's root filesystem",
    },
  ],
  preflight: (ctx, params, target) => {
    if ((num(params.bytes) === undefined) === (num(params['fill-percent']) === undefined)) {
      return Promise.resolve(['give --fill-percent or --bytes (one of them)']);
    }
    return containerPreflight(ctx, target, (pod, p) => {
      try {
        const where = fillTarget(pod, p.container, params);
        const ro = readOnlyProblem(pod, p.container, where.path);
        if (ro.length) return ro;
        const memory = where.medium === 'Memory';
        if (num(params['fill-percent']) !== undefined && where.sizeLimit === undefined && !memory) {
          // A percent of the node's whole disk: the agent's safety cap would refuse it.
          return [
            `${where.what} of ${p.name} has no size limit (a volume's sizeLimit, the container's ` +
              "ephemeral-storage limit): --fill-percent would be of the node's disk; give --bytes",
          ];
        }
        return [];
      } catch (err) {
        return [(err as Error).message];
      }
    });
  },
  plan: (params, target) => {
    const amount =
      num(params.bytes) !== undefined
        ? `write ${mib(num(params.bytes)!)}`
        : `fill to ${String(params['fill-percent'])}%`;
    const where =
      typeof params.volume === 'string'
        ? `volume ${params.volume}`
        : typeof params.path === 'string'
          ? params.path
          : 'the writable layer';
    return [`${amount} of ${where} of ${describeTargets(target)}; the file removed at the end`];
  },
  inject: async (ctx, params, target, durationMs) => {
    const pods = new Map<string, V1Pod>();
    for (const p of target.pods) {
      const pod = await ctx.kube.get<V1Pod>({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: p.name, namespace: target.namespace },
      });
      if (!pod) throw new Error(`pod ${p.name} is gone`);
      pods.set(p.uid, pod);
    }
    return injectNodeFault(
      ctx,
      'disk-fill',
      target,
      containerOps(target, 'disk-fill', (p) => {
        const where = fillTarget(pods.get(p.uid)!, p.container, params);
        return {
          marker: marker('fill'),
          path: where.path,
          ...(where.sizeLimit === undefined ? {} : { sizeLimit: where.sizeLimit }),
          ...(num(params.bytes) === undefined ? {} : { bytes: num(params.bytes) }),
          ...(num(params['fill-percent']) === undefined
            ? {}
            : { percent: num(params['fill-percent']) }),
          maxNodeFill: num(params['max-node-fill']) ?? 1024 * MiB,
          durationMs,
        };
      }),
      durationMs,
      diskFill.plan(params, target).join('; '),
    );
  },
};

export const stressFaults: FaultDefinition[] = [cpuHog, memoryHog, ioStress, diskFill];
