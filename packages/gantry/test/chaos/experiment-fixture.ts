// What the chaos experiment and k8s-fault tests share: a namespace of their own with
// the echo fixture deployed by `gantry deploy` (2 replicas, a NodePort Service on
// 127.0.0.1), object snapshots for before/after comparisons, and one-request checks.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  eventually,
  freeNodePort,
  kubectl,
  pushEchoImage,
  run,
} from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { once } from '../../../../hack/cluster/test/load.js';
import type { FaultContext } from '../../src/chaos/fault.js';
import { Kube } from '../../src/kube/client.js';
import { loadSpecFile } from '../../src/spec/index.js';
import type { ServiceSpec } from '../../src/spec/index.js';
import { runGantry } from '../gantry-cli.js';

export interface Fixture {
  env: ClusterEnv;
  ns: string;
  name: string;
  work: string;
  specFile: string;
  spec: ServiceSpec;
  nodePort: number;
  url: string;
  kube: Kube;
  ctx: (experiment?: string) => FaultContext;
  cleanup: () => void;
}

/** Deploys `name` (the echo fixture, 2 replicas, NodePort) into a fresh namespace. */
export async function deployEcho(
  env: ClusterEnv,
  prefix: string,
  name = 'victim',
): Promise<Fixture> {
  const ns = `${prefix}-${Date.now().toString(36)}`;
  const work = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const image = pushEchoImage(env, 'gantry-chaos/echo', '1');
  const nodePort = freeNodePort(env);
  const specFile = join(work, 'gantry.yaml');
  writeFileSync(
    specFile,
    `apiVersion: gantry.dev/v1alpha1
name: ${name}
namespace: ${ns}
image: ${image}
replicas: 2
ports: [{ containerPort: 8080, servicePort: 80, nodePort: ${nodePort} }]
service: { type: NodePort }
resources: { requests: { cpu: 10m, memory: 16Mi }, limits: { memory: 64Mi } }
probes: { readiness: { path: /healthz, periodSeconds: 1 } }
terminationGracePeriodSeconds: 2
`,
  );
  const deployed = runGantry(['deploy', '-f', specFile], env);
  assert.equal(deployed.status, 0, deployed.stdout + deployed.stderr);
  const url = `http://127.0.0.1:${nodePort}/`;
  await eventually('an answer through the NodePort', 30_000, async () =>
    (await once(url, { timeoutMs: 1000 })).status === 200 ? true : undefined,
  );
  await eventually('both replicas ready', 60_000, () =>
    kubectl(env, [
      '-n',
      ns,
      'get',
      'deployment',
      name,
      '-o',
      'jsonpath={.status.readyReplicas}',
    ]).trim() === '2'
      ? true
      : undefined,
  );
  const kube = Kube.load({ kubeconfig: env.KUBECONFIG });
  const spec = loadSpecFile(specFile);
  return {
    env,
    ns,
    name,
    work,
    specFile,
    spec,
    nodePort,
    url,
    kube,
    ctx: (experiment = 'test') => ({ kube, spec, experiment, emit: () => undefined }),
    cleanup: () => {
      run('kubectl', ['delete', 'namespace', ns, '--wait=false'], env);
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** The object's spec (and a Service's selector / a Node's taints) as JSON, for before/after. */
export function specOf(env: ClusterEnv, kind: string, name: string, ns?: string): unknown {
  const out = kubectl(env, ['get', kind, name, ...(ns ? ['-n', ns] : []), '-o', 'json']);
  const obj = JSON.parse(out) as { spec: Record<string, unknown>; metadata: { uid: string } };
  return { uid: obj.metadata.uid, spec: obj.spec };
}

/** Whether one request through the NodePort is answered 200 (false: refused, reset, timeout, 5xx). */
export async function answers(url: string): Promise<boolean> {
  try {
    return (await once(url, { timeoutMs: 1000 })).status === 200;
  } catch {
    return false;
  }
}

/** The node the cluster runs on (the first). */
export function nodeName(env: ClusterEnv): string {
  return kubectl(env, ['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}']).trim();
}
