// Smoke test of the local cluster: image push, Deployment + Service, pod
// replacement, Service routing from the host (a NodePort on 127.0.0.1: kube-proxy
// serves NodePorts on loopback, which is how tests reach a Service; never its
// virtual IP) and Prometheus discovery.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, kubectl, pushEchoImage, requireCluster, run } from './cluster-env.js';
import type { ClusterEnv } from './cluster-env.js';

interface PodList {
  items: {
    metadata: { name: string; deletionTimestamp?: string };
    status: { podIP?: string; conditions?: { type: string; status: string }[] };
  }[];
}

function readyPods(env: ClusterEnv, ns: string): string[] {
  const pods = JSON.parse(
    kubectl(env, ['-n', ns, 'get', 'pods', '-l', 'app=hello', '-o', 'json']),
  ) as PodList;
  return pods.items
    .filter((p) => !p.metadata.deletionTimestamp)
    .filter((p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    .map((p) => p.metadata.name);
}

const cluster = requireCluster();

test(
  'local cluster runs, routes and monitors a two-replica app',
  { skip: typeof cluster === 'string' ? cluster : false, timeout: 300_000 },
  async (t) => {
    const env = cluster as ClusterEnv;
    const ns = `smoke-${process.pid}`;
    t.after(() => {
      run('kubectl', ['delete', 'namespace', ns, '--wait=false'], env);
    });

    // A static Go binary on an empty base: the smallest real image.
    const image = pushEchoImage(env, 'smoke/hello', `smoke-${Date.now()}`);

    kubectl(env, ['create', 'namespace', ns]);
    kubectl(env, ['apply', '-n', ns, '-f', '-'], manifests(image));

    await eventually('2 Ready pods', 120_000, () =>
      readyPods(env, ns).length === 2 ? true : undefined,
    );

    const nodePort = kubectl(env, [
      '-n',
      ns,
      'get',
      'svc',
      'hello',
      '-o',
      'jsonpath={.spec.ports[0].nodePort}',
    ]).trim();
    assert.match(nodePort, /^3\d{4}$/);
    const body = await eventually('the app through the NodePort on 127.0.0.1', 30_000, async () => {
      const res = await fetch(`http://127.0.0.1:${nodePort}/`, {
        signal: AbortSignal.timeout(2000),
      });
      return res.ok ? res.text() : undefined;
    });
    assert.equal(body.trim(), 'echo');

    const [victim] = readyPods(env, ns);
    assert.ok(victim);
    kubectl(env, ['-n', ns, 'delete', 'pod', victim, '--wait=false']);
    await eventually('a replacement pod Ready', 120_000, () => {
      const pods = readyPods(env, ns);
      return pods.length === 2 && !pods.includes(victim) ? pods : undefined;
    });

    await eventually('both pods as Prometheus targets that are up', 90_000, async () => {
      const res = await fetch(`${env.PROMETHEUS_URL}/api/v1/targets?state=active`);
      const data = (await res.json()) as {
        data: { activeTargets: { labels: Record<string, string>; health: string }[] };
      };
      const ours = data.data.activeTargets.filter(
        (tg) => tg.labels.namespace === ns && tg.health === 'up',
      );
      const current = new Set(readyPods(env, ns));
      return ours.filter((tg) => current.has(tg.labels.pod ?? '')).length === 2 ? true : undefined;
    });
  },
);

function manifests(image: string): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata: { name: hello }
spec:
  replicas: 2
  selector: { matchLabels: { app: hello } }
  template:
    metadata:
      labels: { app: hello }
      annotations: { prometheus.io/scrape: "true", prometheus.io/port: "8080", prometheus.io/path: /metrics }
    spec:
      terminationGracePeriodSeconds: 5
      securityContext: { runAsNonRoot: true, seccompProfile: { type: RuntimeDefault } }
      containers:
        - name: hello
          image: ${image}
          ports: [{ containerPort: 8080 }]
          readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: { drop: [ALL] }
---
apiVersion: v1
kind: Service
metadata: { name: hello }
spec:
  type: NodePort
  selector: { app: hello }
  ports: [{ port: 80, targetPort: 8080 }]
`;
}
