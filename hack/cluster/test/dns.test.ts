// Cluster DNS on the local cluster (CoreDNS, hack/cluster/lib/dns.sh): a new pod gets the
// kubelet's cluster DNS in its /etc/resolv.conf, no MissingClusterDNS event, and resolves a
// Service by NAME.NAMESPACE.svc.cluster.local, NAME.NAMESPACE.svc and NAME to its ClusterIP
// with its own resolver (the echo fixture's /lookup: Go's resolver reading the pod's
// /etc/resolv.conf). Queries reach the host only as the pod's own DNS traffic; the test
// talks to the pod over its address on the node's bridge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { eventually, kubectl, pushEchoImage, requireCluster, run } from './cluster-env.js';
import type { ClusterEnv } from './cluster-env.js';

const cluster = requireCluster();

interface Lookup {
  host: string;
  addrs: string[];
  error?: string;
  notFound: boolean;
  timeout: boolean;
  temporary: boolean;
  ms: number;
}

/** The pod's own lookup of `host` (GET /lookup on its echo server). */
async function lookup(podIP: string, host: string, timeoutMs = 5000): Promise<Lookup> {
  const url = `http://${podIP}:8080/lookup?host=${encodeURIComponent(host)}&timeoutMs=${timeoutMs}`;
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs + 3000) });
  const body = (await res.json()) as Lookup;
  assert.equal(res.status, body.error === undefined ? 200 : 502, JSON.stringify(body));
  return body;
}

function manifests(image: string): string {
  return `
apiVersion: v1
kind: Pod
metadata: { name: client, labels: { app: dns-client } }
spec:
  terminationGracePeriodSeconds: 0
  securityContext: { runAsNonRoot: true, seccompProfile: { type: RuntimeDefault } }
  containers:
    - name: echo
      image: ${image}
      readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: { drop: [ALL] }
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: dns-client }
  ports: [{ port: 80, targetPort: 8080 }]
`;
}

/**
 * The /etc/resolv.conf the kubelet gave the pod's container, read on the node through
 * containerd (the bind mount's source), or undefined when ctr cannot be used here.
 */
function containerResolvConf(env: ClusterEnv, containerID: string): string | undefined {
  const sock = '/run/gantry/containerd/containerd.sock';
  if (!existsSync(sock)) return undefined;
  const r = run('ctr', ['--address', sock, '-n', 'k8s.io', 'containers', 'info', containerID], env);
  if (r.status !== 0) return undefined;
  const info = JSON.parse(r.stdout) as {
    Spec?: { mounts?: { destination: string; source: string }[] };
  };
  const m = info.Spec?.mounts?.find((x) => x.destination === '/etc/resolv.conf');
  return m ? readFileSync(m.source, 'utf8') : undefined;
}

test(
  'pods resolve Services by name through the cluster DNS',
  { skip: typeof cluster === 'string' ? cluster : false, timeout: 240_000 },
  async (t) => {
    const env = cluster as ClusterEnv;
    const ns = `dns-${process.pid}`;
    t.after(() => {
      run('kubectl', ['delete', 'namespace', ns, '--wait=false'], env);
    });

    const dnsIP = kubectl(env, [
      '-n',
      'kube-system',
      'get',
      'service',
      'kube-dns',
      '-o',
      'jsonpath={.spec.clusterIP}',
    ]).trim();
    assert.match(dnsIP, /^10\.96\.\d+\.\d+$/, 'Service kube-system/kube-dns has a ClusterIP');

    const image = pushEchoImage(env, 'dns/echo');
    kubectl(env, ['create', 'namespace', ns]);
    kubectl(env, ['-n', ns, 'apply', '-f', '-'], manifests(image));
    kubectl(env, ['-n', ns, 'wait', '--for=condition=Ready', 'pod/client', '--timeout=120s']);
    const pod = JSON.parse(kubectl(env, ['-n', ns, 'get', 'pod', 'client', '-o', 'json'])) as {
      status: { podIP: string; containerStatuses: { containerID: string }[] };
    };
    const podIP = pod.status.podIP;
    const clusterIP = kubectl(env, [
      '-n',
      ns,
      'get',
      'service',
      'web',
      '-o',
      'jsonpath={.spec.clusterIP}',
    ]).trim();
    assert.match(clusterIP, /^10\.96\.\d+\.\d+$/);

    // What the kubelet wrote for the pod (dnsPolicy ClusterFirst, clusterDNS, clusterDomain).
    const containerID = pod.status.containerStatuses[0]!.containerID.replace(
      /^containerd:\/\//,
      '',
    );
    const resolv = containerResolvConf(env, containerID);
    if (resolv === undefined) {
      t.diagnostic('containerd not reachable from here: the pod resolv.conf is not read');
    } else {
      assert.match(resolv, new RegExp(`^nameserver ${dnsIP.replaceAll('.', '\\.')}$`, 'm'));
      assert.match(
        resolv,
        new RegExp(
          `^search ${ns}\\.svc\\.cluster\\.local svc\\.cluster\\.local cluster\\.local`,
          'm',
        ),
      );
      assert.match(resolv, /^options ndots:5$/m);
    }

    // A Service created a moment ago: the cache may hold its NXDOMAIN for a few seconds.
    const full = await eventually(`web.${ns}.svc.cluster.local from the pod`, 30_000, async () => {
      const r = await lookup(podIP, `web.${ns}.svc.cluster.local`);
      return r.addrs.length ? r : undefined;
    });
    assert.deepEqual(full.addrs, [clusterIP]);
    t.diagnostic(`web.${ns}.svc.cluster.local -> ${full.addrs.join(',')} in ${full.ms} ms`);
    for (const name of [`web.${ns}.svc`, `web.${ns}`, 'web']) {
      const r = await lookup(podIP, name);
      assert.deepEqual(r.addrs, [clusterIP], `${name}: ${JSON.stringify(r)}`);
    }
    const api = await lookup(podIP, 'kubernetes.default.svc.cluster.local');
    assert.deepEqual(api.addrs, ['10.96.0.1']);

    const missing = await lookup(podIP, `nosuch.${ns}.svc.cluster.local`);
    assert.equal(missing.notFound, true, JSON.stringify(missing));
    assert.deepEqual(missing.addrs, []);

    // Names outside the cluster get an answer at once (REFUSED, or the upstream's when
    // cluster up was given GANTRY_CLUSTER_DNS_UPSTREAM), never a resolver timeout.
    const corefile = join(dirname(env.KUBECONFIG), 'coredns', 'Corefile');
    if (existsSync(corefile) && !/^\s*forward /m.test(readFileSync(corefile, 'utf8'))) {
      const outside = await lookup(podIP, 'gantry-dns-test.invalid', 8000);
      assert.deepEqual(outside.addrs, []);
      assert.equal(outside.timeout, false, JSON.stringify(outside));
      assert.ok(outside.ms < 2000, `an outside name failed in ${outside.ms} ms`);
    }

    // The kubelet had a cluster DNS for the pod: no MissingClusterDNS event. Its other
    // events (Scheduled, Pulled, Started) are there, so the query itself works.
    const events = JSON.parse(
      kubectl(env, [
        '-n',
        ns,
        'get',
        'events',
        '--field-selector',
        'involvedObject.kind=Pod,involvedObject.name=client',
        '-o',
        'json',
      ]),
    ) as { items: { reason: string; message: string }[] };
    const reasons = events.items.map((e) => e.reason);
    assert.ok(reasons.includes('Started'), `events of pod client: ${reasons.join(', ')}`);
    assert.deepEqual(
      events.items.filter((e) => e.reason === 'MissingClusterDNS'),
      [],
      'no MissingClusterDNS event',
    );
  },
);
