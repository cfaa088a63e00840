// Host-side harness for the stress and process ops: the tests run as root on the
// cluster's node itself, so they resolve a pod's container (pid, cgroup dirs) with
// the agent's own resolveTarget against the node's /sys/fs/cgroup and call an op's
// check/apply/revert with the agent's OpContext, as the helper pod does. Run as a
// script it reverts one op in a fresh process (what a new helper does after the first
// was killed):
//
//   node --import tsx stress-host.ts revert OP POD_UID CONTAINER_ID ARGS_JSON
import './stress-env.js';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import {
  eventually,
  freeNodePort,
  kubectl,
  pushEchoImage,
} from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import type { AgentOp, OpContext, OpTarget } from '../../src/chaos/agent/op.js';
import type { FaultContext, ResolvedTarget } from '../../src/chaos/fault.js';
import { Kube } from '../../src/kube/client.js';
import { parseSpec } from '../../src/spec/load.js';
import { get } from './chaos-fixture.js';

export interface Agent {
  op: (name: string) => AgentOp;
  resolve: (podUid: string, containerId: string) => OpTarget | undefined;
  ctx: OpContext;
}

/** The agent's ops, target resolution and context, loaded after GANTRY_HOST_CGROUP is set. */
export async function loadAgent(): Promise<Agent> {
  const { processOps } = await import('../../src/chaos/agent/ops/process.js');
  const { stressOps } = await import('../../src/chaos/agent/ops/stress.js');
  const { resolveTarget } = await import('../../src/chaos/agent/target.js');
  const { opContext } = await import('../../src/chaos/agent/context.js');
  const ops = [...processOps, ...stressOps];
  return {
    op: (name) => {
      const o = ops.find((x) => x.name === name);
      if (!o) throw new Error(`no op ${name}`);
      return o;
    },
    // The agent's own resolution (it never takes a process an op placed in the container).
    resolve: (podUid, containerId) => resolveTarget(podUid, containerId),
    ctx: { ...opContext, log: () => undefined },
  };
}

/** Reverts an op from a new node process (the agent's state in this one is not used). */
export function revertInFreshProcess(
  op: string,
  podUid: string,
  containerId: string,
  args: Record<string, unknown>,
): void {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      'revert',
      op,
      podUid,
      containerId,
      JSON.stringify(args),
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (r.status !== 0) throw new Error(`revert ${op} in a fresh process: ${r.status} ${r.stderr}`);
}

/** cpuacct.usage of a cgroup dir, ns. */
export function cpuUsageNs(dir: string): number {
  return Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8'));
}

export function cgroupValue(dir: string, file: string): string {
  return readFileSync(join(dir, file), 'utf8').trim();
}

function hasMark(pid: number | string, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').includes(`GANTRY_CHAOS_MARK=${marker}\0`);
  } catch {
    return false;
  }
}

/**
 * Live processes carrying GANTRY_CHAOS_MARK=marker anywhere on the node, in their
 * environment or their session leader's (stress-ng workers overwrite theirs).
 */
export function marked(marker: string): number[] {
  const out: number[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (f[0] === 'Z') continue;
      if (hasMark(n, marker) || hasMark(f[3] ?? '0', marker)) out.push(Number(n));
    } catch {
      // gone
    }
  }
  return out;
}

/** The processes of a cgroup dir, by name, sorted: "echo" for an untouched echo container. */
export function cgroupComms(dir: string): string {
  return cgroupValue(dir, 'cgroup.procs')
    .split('\n')
    .filter(Boolean)
    .map((p) => {
      try {
        return readFileSync(`/proc/${p}/comm`, 'utf8').trim();
      } catch {
        return '?';
      }
    })
    .sort()
    .join(' ');
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'revert') {
  const [, , , op, podUid, containerId, argsJson] = process.argv;
  const agent = await loadAgent();
  const target = agent.resolve(podUid!, containerId!);
  await agent.op(op!).revert(agent.ctx, target, JSON.parse(argsJson!) as Record<string, unknown>);
  process.exit(0);
}

export interface Victim {
  env: ClusterEnv;
  ns: string;
  nodePort: number;
  ctx: FaultContext;
  events: string[];
}

/**
 * The victim of a test file: namespace `ns` with one echo Deployment ("victim", one
 * replica, limits 0.5 CPU / 128 MiB, an emptyDir "scratch" of 256 MiB at /scratch and a
 * 64 MiB tmpfs "mem" at /mem) behind a NodePort on 127.0.0.1, and a FaultContext for it.
 */
export async function createVictim(env: ClusterEnv, ns: string): Promise<Victim> {
  const image = pushEchoImage(env, 'gantry-chaos/echo', 'stress');
  const nodePort = freeNodePort(env);
  const labels = { 'app.kubernetes.io/name': 'victim', 'gantry.dev/track': 'stable' };
  kubectl(env, ['create', 'namespace', ns]);
  const objects = [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'victim', namespace: ns },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            terminationGracePeriodSeconds: 2,
            containers: [
              {
                name: 'victim',
                image,
                ports: [{ containerPort: 8080 }],
                readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
                resources: {
                  requests: { cpu: '50m', memory: '32Mi' },
                  limits: { cpu: '500m', memory: '128Mi' },
                },
                volumeMounts: [
                  { name: 'scratch', mountPath: '/scratch' },
                  { name: 'mem', mountPath: '/mem' },
                ],
              },
            ],
            volumes: [
              { name: 'scratch', emptyDir: { sizeLimit: '256Mi' } },
              { name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'victim', namespace: ns },
      spec: {
        type: 'NodePort',
        selector: labels,
        ports: [{ port: 80, targetPort: 8080, nodePort }],
      },
    },
  ];
  kubectl(
    env,
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  );
  kubectl(env, ['-n', ns, 'rollout', 'status', 'deployment/victim', '--timeout=90s']);
  await eventually('an answer on the NodePort', 30_000, async () =>
    (await get(nodePort, '/', 2000)).status === 200 ? true : undefined,
  );
  const spec = parseSpec(
    `apiVersion: gantry.dev/v1alpha1
name: victim
namespace: ${ns}
image: ${image}
ports: [{ containerPort: 8080, servicePort: 80 }]
`,
  );
  const events: string[] = [];
  const ctx: FaultContext = {
    kube: Kube.load({ kubeconfig: env.KUBECONFIG }),
    spec,
    experiment: `test-${ns}`,
    emit: (m) => events.push(m),
  };
  return { env, ns, nodePort, ctx, events };
}

export interface VictimPod {
  name: string;
  uid: string;
  node: string;
  containerId: string;
  restarts: number;
  running: boolean;
  lastReason?: string;
  lastExit?: number;
}

/** The victim's one live pod, from the API. */
export function victimPod(v: Victim): VictimPod {
  const list = JSON.parse(
    kubectl(v.env, [
      '-n',
      v.ns,
      'get',
      'pods',
      '-l',
      'app.kubernetes.io/name=victim',
      '-o',
      'json',
    ]),
  ) as {
    items: {
      metadata: { name: string; uid: string; deletionTimestamp?: string };
      spec: { nodeName: string };
      status: {
        containerStatuses?: {
          containerID?: string;
          restartCount: number;
          state?: { running?: unknown };
          lastState?: { terminated?: { reason?: string; exitCode?: number } };
        }[];
      };
    }[];
  };
  const live = list.items.filter((i) => !i.metadata.deletionTimestamp);
  if (live.length !== 1) throw new Error(`${live.length} live victim pods`);
  const i = live[0]!;
  const c = i.status.containerStatuses?.[0];
  return {
    name: i.metadata.name,
    uid: i.metadata.uid,
    node: i.spec.nodeName,
    containerId: (c?.containerID ?? '').replace(/^[a-z]+:\/\//, ''),
    restarts: c?.restartCount ?? -1,
    running: c?.state?.running !== undefined,
    ...(c?.lastState?.terminated?.reason ? { lastReason: c.lastState.terminated.reason } : {}),
    ...(c?.lastState?.terminated?.exitCode !== undefined
      ? { lastExit: c.lastState.terminated.exitCode }
      : {}),
  };
}

/** The victim pod as a fault's ResolvedTarget. */
export function victimTarget(v: Victim): ResolvedTarget {
  const p = victimPod(v);
  return {
    namespace: v.ns,
    service: 'victim',
    node: p.node,
    pods: [
      {
        name: p.name,
        uid: p.uid,
        node: p.node,
        container: 'victim',
        containerId: `containerd://${p.containerId}`,
      },
    ],
  };
}

/** The Deployment and its pod as compared before and after a fault. */
export function victimObjects(v: Victim): string {
  const d = JSON.parse(
    kubectl(v.env, ['-n', v.ns, 'get', 'deployment', 'victim', '-o', 'json']),
  ) as {
    metadata: { generation: number; uid: string };
    spec: unknown;
    status: { readyReplicas?: number };
  };
  return JSON.stringify({
    deployment: [d.metadata.uid, d.metadata.generation, d.spec, d.status.readyReplicas],
    pod: victimPod(v),
  });
}
