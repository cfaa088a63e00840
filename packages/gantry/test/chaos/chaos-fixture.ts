// Shared parts of the helper-based chaos tests: one echo Deployment (one replica)
// behind a NodePort served on 127.0.0.1, the FaultContext for it, the pod's
// network-namespace state read on the host (iptables-save of every table and the
// qdiscs, through nsenter into the pod sandbox's namespace), and loopback requests
// (GETs, and POST /fault for the echo app's own switches).
import { execFile, execFileSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import {
  eventually,
  freeNodePort,
  kubectl,
  pushEchoImage,
} from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { resolveTarget as resolveOnNode } from '../../src/chaos/agent/target.js';
import type { FaultContext, ResolvedTarget } from '../../src/chaos/fault.js';
import { Kube } from '../../src/kube/client.js';
import { parseSpec } from '../../src/spec/load.js';

export interface Fixture {
  env: ClusterEnv;
  ns: string;
  name: string;
  nodePort: number;
  kube: Kube;
  ctx: FaultContext;
  events: string[];
}

export async function createFixture(
  env: ClusterEnv,
  ns: string,
  extraEnv: Record<string, string> = {},
): Promise<Fixture> {
  const name = 'echo';
  const image = pushEchoImage(env, 'gantry-chaos/echo', 'helper-tests');
  const nodePort = freeNodePort(env);
  const envList = Object.entries(extraEnv).map(([k, v]) => `{ name: ${k}, value: "${v}" }`);
  kubectl(
    env,
    ['apply', '-f', '-'],
    `apiVersion: v1
kind: Namespace
metadata: { name: ${ns} }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: ${ns} }
spec:
  replicas: 1
  selector: { matchLabels: { app.kubernetes.io/name: ${name}, gantry.dev/track: stable } }
  template:
    metadata: { labels: { app.kubernetes.io/name: ${name}, gantry.dev/track: stable } }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: ${name}
          image: ${image}
          env: [${envList.join(', ')}]
          ports: [{ containerPort: 8080 }]
          readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }
---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec:
  type: NodePort
  selector: { app.kubernetes.io/name: ${name} }
  ports: [{ port: 80, targetPort: 8080, nodePort: ${nodePort} }]
`,
  );
  await eventually('the echo pod ready', 90_000, () =>
    kubectl(env, ['-n', ns, 'get', 'deploy', name, '-o', 'jsonpath={.status.readyReplicas}']) ===
    '1'
      ? true
      : undefined,
  );
  await eventually('an answer on the NodePort', 30_000, async () =>
    (await get(nodePort, '/')).status === 200 ? true : undefined,
  );
  const kube = Kube.load({ kubeconfig: env.KUBECONFIG });
  const spec = parseSpec(
    `apiVersion: gantry.dev/v1alpha1
name: ${name}
namespace: ${ns}
image: ${image}
ports: [{ containerPort: 8080, servicePort: 80 }]
`,
  );
  const events: string[] = [];
  const ctx: FaultContext = {
    kube,
    spec,
    experiment: `test-${ns}`,
    emit: (m) => events.push(m),
  };
  return { env, ns, name, nodePort, kube, ctx, events };
}

/** The fixture's one ready pod as a ResolvedTarget. */
export function target(f: Fixture): ResolvedTarget {
  const pod = JSON.parse(
    kubectl(f.env, [
      '-n',
      f.ns,
      'get',
      'pods',
      '-l',
      `app.kubernetes.io/name=${f.name}`,
      '-o',
      'json',
    ]),
  ) as {
    items: {
      metadata: { name: string; uid: string; deletionTimestamp?: string };
      spec: { nodeName: string };
      status: { containerStatuses?: { name: string; containerID?: string; ready: boolean }[] };
    }[];
  };
  const p = pod.items.find(
    (x) => !x.metadata.deletionTimestamp && x.status.containerStatuses?.[0]?.ready,
  );
  if (!p) throw new Error('no ready echo pod');
  return {
    namespace: f.ns,
    service: f.name,
    node: p.spec.nodeName,
    pods: [
      {
        name: p.metadata.name,
        uid: p.metadata.uid,
        node: p.spec.nodeName,
        container: f.name,
        ...(p.status.containerStatuses?.[0]?.containerID
          ? { containerId: p.status.containerStatuses[0].containerID }
          : {}),
      },
    ],
  };
}

const sandboxPid = (podUid: string) => {
  process.env.GANTRY_HOST_CGROUP ??= '/sys/fs/cgroup';
  const t = resolveOnNode(podUid);
  if (!t) throw new Error(`no process of pod ${podUid} on this host`);
  return t.sandboxPid;
};

/** Runs a program in the pod's network namespace (from the host). */
export function inPodNet(podUid: string, file: string, args: string[], input?: string): string {
  return execFileSync(
    'nsenter',
    [`--net=/proc/${sandboxPid(podUid)}/ns/net`, '--', file, ...args],
    {
      encoding: 'utf8',
      input,
      timeout: 20_000,
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
}

/** inPodNet without blocking this process (for a program that talks to a server here). */
export function inPodNetAsync(podUid: string, file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      'nsenter',
      [`--net=/proc/${sandboxPid(podUid)}/ns/net`, '--', file, ...args],
      { encoding: 'utf8', timeout: 40_000 },
      (err, stdout) => (err ? reject(new Error(err.message)) : resolve(stdout)),
    ),
  );
}

/** The pod's network namespace state: every iptables table (counters zeroed) and the qdiscs. */
export function netState(podUid: string): string {
  const tables = ['filter', 'nat', 'mangle', 'raw']
    .map((t) => inPodNet(podUid, 'iptables-save', ['-t', t]))
    .join('')
    .replace(/^#.*\n/gm, '')
    .replace(/\[\d+:\d+\]/g, '[0:0]');
  const links = inPodNet(podUid, 'ip', ['-o', 'link', 'show'])
    .split('\n')
    .map((l) => l.split(':').slice(0, 2).join(':'))
    .join('\n');
  return `${tables}\n${inPodNet(podUid, 'tc', ['qdisc', 'show'])}\n${links}`;
}

export interface Answer {
  status: number;
  ms: number;
  error?: string;
  body?: string;
}

/** One GET over a fresh connection to 127.0.0.1:port. */
export function get(port: number, path: string, timeoutMs = 5000): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, body }),
        );
        res.on('error', (err) =>
          resolve({ status: 0, ms: performance.now() - t0, error: err.message }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) =>
      resolve({
        status: 0,
        ms: performance.now() - t0,
        error: (err as NodeJS.ErrnoException).code ?? err.message,
      }),
    );
  });
}

/**
 * POST /fault?QUERY to the echo fixture on 127.0.0.1:port (its run-time switches: latencyMs,
 * memoryMiB, …; never faulted by the app); the status.
 */
export function postFault(port: number, query: string, timeoutMs = 20_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/fault?${query}`,
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Whether a TCP connection to 127.0.0.1:port is established within `timeoutMs`. */
export function connects(port: number, timeoutMs: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.on('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(true);
    });
    s.on('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** `n` GETs one after another; their times. */
export async function timings(port: number, path: string, n: number): Promise<Answer[]> {
  const out: Answer[] = [];
  for (let i = 0; i < n; i++) out.push(await get(port, path));
  return out;
}
