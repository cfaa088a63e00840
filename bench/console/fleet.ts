// The fleet the console is measured against: N Gantry services spread over a few
// namespaces, their pods on kwok's simulated nodes (hack/cluster/lib/kwok.sh), and the
// clean-up of all of it.
//
// Each service is deployed by Gantry's own deploy() (packages/gantry/src/release/deploy.ts,
// what `gantry deploy -f DIR` runs per service): rendered objects, server-side dry run, the
// lock Lease, the release record Secret (pending, then deployed), apply, the rollout watch.
// So the console sees exactly the labels, records and ReplicaSets a real deploy leaves. The
// one difference: the spec has no node placement, and the shared node cannot take 500 more
// pods, so the Kube handed to deploy() adds kwok's nodeSelector and toleration to every
// Deployment it applies (and dry-runs). The release record keeps the objects as rendered.
// `gantry deploy -f DIR` itself cannot be used for that reason, and driving it in-process
// is cheaper too (one process and one connection for all 500).
import { spawnSync } from 'node:child_process';
import type { KubeObject } from '../../packages/gantry/src/render/index.js';
import { Kube } from '../../packages/gantry/src/kube/client.js';
import { deploy } from '../../packages/gantry/src/release/deploy.js';
import { parseSpec } from '../../packages/gantry/src/spec/index.js';

const root = new URL('../../', import.meta.url).pathname;
const cluster = `${root}hack/cluster/cluster`;
/** Every namespace of this bench carries this label: a run deletes leftovers of earlier ones. */
export const BENCH_LABEL = 'gantry.dev/bench=console';
const KWOK_TOLERATION = {
  key: 'kwok.x-k8s.io/node',
  operator: 'Equal',
  value: 'fake',
  effect: 'NoSchedule',
};

export interface FleetPlan {
  id: string;
  services: number;
  namespaces: number;
  concurrency: number;
}

export const nsName = (p: FleetPlan, i: number) => `bench-console-${p.id}-${i}`;
export const svcName = (i: number) => `svc-${String(i + 1).padStart(4, '0')}`;

/** Service i lives in namespace i mod namespaces. */
export function placement(p: FleetPlan, i: number): { namespace: string; name: string } {
  return { namespace: nsName(p, i % p.namespaces), name: svcName(i) };
}

function specText(namespace: string, name: string): string {
  // No container ever runs on a kwok node: the image is never pulled.
  return `apiVersion: gantry.dev/v1alpha1
name: ${name}
namespace: ${namespace}
image: 127.0.0.1:5000/bench/console-fleet:1
replicas: 1
env: { NAME: ${name} }
resources: { requests: { cpu: 1m, memory: 8Mi }, limits: { memory: 32Mi } }
terminationGracePeriodSeconds: 1
`;
}

/** A Kube whose applies put Deployments' pods on kwok nodes; everything else as is. */
export function kwokKube(): Kube {
  const kube = Kube.load();
  const apply = kube.apply.bind(kube);
  kube.apply = <T extends KubeObject>(obj: T, opts?: { dryRun?: boolean; fieldManager?: string }) =>
    apply(obj.kind === 'Deployment' ? onKwok(obj) : obj, opts);
  return kube;
}

function onKwok<T extends KubeObject>(obj: T): T {
  const o = structuredClone(obj) as T & {
    spec?: { template?: { spec?: Record<string, unknown> } };
  };
  const pod = o.spec?.template?.spec;
  if (pod) {
    pod.nodeSelector = { type: 'kwok' };
    pod.tolerations = [KWOK_TOLERATION];
  }
  return o;
}

/** Runs task(i) for i in [0, n), at most `limit` at once; the first failure rejects. */
async function pool(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

/** Creates the namespaces and deploys every service; resolves once all are deployed. */
export async function createFleet(
  p: FleetPlan,
  progress: (line: string) => void,
): Promise<{ elapsedMs: number }> {
  const kube = kwokKube();
  const t0 = performance.now();
  for (let i = 0; i < p.namespaces; i++) {
    await kube.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: nsName(p, i), labels: { 'gantry.dev/bench': 'console' } },
    });
  }
  let done = 0;
  await pool(p.services, p.concurrency, async (i) => {
    const { namespace, name } = placement(p, i);
    const r = await deploy(kube, parseSpec(specText(namespace, name)), {
      secretValues: {},
      version: '1.0.0',
      timeoutMs: 5 * 60_000,
      autoRollback: false,
      lockWaitMs: 10_000,
    });
    if (!r.ok) throw new Error(`deploy ${namespace}/${name}: ${r.message}`);
    if (++done % 50 === 0 || done === p.services)
      progress(
        `${done}/${p.services} deployed (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
      );
  });
  return { elapsedMs: performance.now() - t0 };
}

/** Deletes every namespace of this bench (this run's and leftovers), waiting up to `waitS`. */
export function deleteBenchNamespaces(waitS: number): void {
  spawnSync(
    'kubectl',
    [
      'delete',
      'namespace',
      '-l',
      BENCH_LABEL,
      `--wait=${waitS > 0}`,
      `--timeout=${Math.max(waitS, 1)}s`,
      '--ignore-not-found',
    ],
    { stdio: 'ignore', timeout: (waitS + 20) * 1000 },
  );
}

// --- kwok ------------------------------------------------------------------------

function kwokNodes(): number {
  const r = spawnSync('kubectl', ['get', 'nodes', '-l', 'type=kwok', '-o', 'name'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean).length : 0;
}

function kwokHealthy(): boolean {
  return spawnSync(cluster, ['kwok', 'status'], { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

/** What kwok was before the bench, to put it back. */
export interface KwokBefore {
  running: boolean;
  nodes: number;
}

/**
 * Ensures kwok runs with at least `nodes` fake nodes; never fewer than there were (kwok up N
 * deletes nodes beyond N, which may be someone else's).
 */
export function kwokUp(nodes: number, log: (line: string) => void): KwokBefore {
  const before = { running: kwokHealthy(), nodes: kwokNodes() };
  if (before.running && before.nodes >= nodes) {
    log(`kwok: running with ${before.nodes} fake nodes, used as is`);
    return before;
  }
  const n = Math.max(nodes, before.nodes);
  log(
    `kwok: cluster kwok up ${n} (was ${before.running ? 'running' : 'down'}, ${before.nodes} nodes)`,
  );
  const r = spawnSync('nice', ['-n', '19', cluster, 'kwok', 'up', String(n)], {
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 15 * 60_000,
  });
  if (r.status !== 0) throw new Error(`cluster kwok up ${n} failed (exit ${r.status})`);
  return before;
}

/** Puts kwok back as it was: down if the bench started it, else the node count it had. */
export function kwokRestore(before: KwokBefore, nodes: number, log: (line: string) => void): void {
  if (!before.running) {
    log('kwok: cluster kwok down');
    spawnSync(cluster, ['kwok', 'down'], { stdio: 'ignore', timeout: 180_000 });
  } else if (before.nodes < nodes) {
    log(`kwok: back to ${before.nodes} fake nodes`);
    spawnSync(cluster, ['kwok', 'up', String(before.nodes)], {
      stdio: 'ignore',
      timeout: 180_000,
    });
  }
}
