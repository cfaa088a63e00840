// Error-log alerts on the local cluster: the node's log agent (mtail, started by `cluster up`,
// hack/cluster/mtail/pod-logs.mtail) counts the lines of a real pod from the kubelet's logs in
// /var/log/pods, Prometheus scrapes the counts with the pod's namespace, pod and container, and
// gantry's GantryErrorLogsHigh rule fires for the service. The workload is the echo fixture
// writing two JSON lines at level "error" a second (LOG_ERRORS_PER_SECOND=2), 120 a minute,
// against a threshold lowered to 10 a minute.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  eventually,
  kubectl,
  pushEchoImage,
  requireCluster,
  run,
} from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { runGantry } from '../gantry-cli.js';

const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const ns = `gantry-errlogs-${Date.now().toString(36)}`;
const name = 'noisy';
let env: ClusterEnv;
let work: string;
let spec: string;

function gantry(args: string[]) {
  return runGantry(args, { ...env, GANTRY_PROMETHEUS_URL: env.PROMETHEUS_URL }, 180_000);
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(promql: string): Promise<Sample[]> {
  const res = await fetch(`${env.PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data: { result: Sample[] } };
  assert.equal(body.status, 'success');
  return body.data.result;
}

interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: string;
}

before(
  () => {
    if (skip) return;
    env = cluster as ClusterEnv;
    work = mkdtempSync(join(tmpdir(), 'gantry-errlogs-'));
    const image = pushEchoImage(env, 'gantry-errlogs/echo', '1');
    spec = join(work, 'gantry.yaml');
    writeFileSync(
      spec,
      `apiVersion: gantry.dev/v1alpha1
name: ${name}
namespace: ${ns}
image: ${image}
replicas: 1
env: { LOG_ERRORS_PER_SECOND: "2" }
ports: [{ containerPort: 8080, servicePort: 80 }]
resources: { requests: { cpu: 10m, memory: 16Mi }, limits: { memory: 64Mi } }
probes: { readiness: { path: /healthz, periodSeconds: 1 } }
terminationGracePeriodSeconds: 2
monitoring:
  alerts:
    errorRate: false
    latencyP99: false
    cpu: false
    memory: false
    down: false
    errorLogs: { above: 10, window: 30s, for: 0s }
`,
    );
  },
  { timeout: 120_000 },
);

after(() => {
  if (skip) return;
  gantry(['alerts', 'delete', '-f', spec]);
  run('kubectl', ['delete', 'namespace', ns, '--wait=false'], env);
  rmSync(work, { recursive: true, force: true });
});

test(
  "a pod's error lines are counted by the log agent and fire GantryErrorLogsHigh",
  { skip, timeout: 300_000 },
  async (t) => {
    const deployed = gantry(['deploy', '-f', spec]);
    assert.equal(deployed.status, 0, deployed.stderr);
    const applied = gantry(['-o', 'json', 'alerts', 'apply', '-f', spec]);
    assert.equal(applied.status, 0, applied.stderr);
    assert.equal((JSON.parse(applied.stdout) as { rules: number }).rules, 1);
    const pod = kubectl(env, [
      '-n',
      ns,
      'get',
      'pods',
      '-o',
      'jsonpath={.items[0].metadata.name}',
    ]).trim();
    assert.match(pod, new RegExp(`^${name}-[a-z0-9]+-[a-z0-9]+$`));

    // The agent's count of the pod's error lines reaches Prometheus, labelled like the pod's
    // own series, and rises.
    const series = `gantry_log_lines_total{namespace="${ns}",pod="${pod}",container="${name}",level="error"}`;
    const first = await eventually(`${series} in Prometheus`, 90_000, async () => {
      const [s] = await query(series);
      return s && Number(s.value[1]) > 0 ? s : undefined;
    });
    assert.equal(first.metric.job, 'log-agent');
    const rising = await eventually(`${series} to rise`, 60_000, async () => {
      const [s] = await query(series);
      return s && Number(s.value[1]) >= Number(first.value[1]) + 10 ? s : undefined;
    });
    t.diagnostic(`error lines: ${first.value[1]} then ${rising.value[1]}`);
    // echo's own start-up line (Go's log package, stderr, no level) is not an error.
    const plain = await query(
      `gantry_log_lines_total{namespace="${ns}",pod="${pod}",level!="error"}`,
    );
    assert.deepEqual(
      plain.map((s) => s.metric.level),
      plain.length ? ['unknown'] : [],
    );

    // 120 error lines a minute against a threshold of 10: the alert fires for the service.
    const alert = await eventually('GantryErrorLogsHigh in Prometheus', 90_000, async () => {
      const res = await fetch(`${env.PROMETHEUS_URL}/api/v1/alerts`);
      const body = (await res.json()) as { data: { alerts: PromAlert[] } };
      return body.data.alerts.find(
        (a) =>
          a.labels.alertname === 'GantryErrorLogsHigh' &&
          a.labels.namespace === ns &&
          (a.state === 'firing' || a.state === 'pending'),
      );
    });
    t.diagnostic(`${alert.state}: ${alert.annotations.summary}`);
    assert.equal(alert.labels.service, name);
    assert.equal(alert.labels.severity, 'warning');
    assert.match(
      alert.annotations.summary ?? '',
      new RegExp(`^${ns}/${name}: [0-9.]+ error log lines per minute$`),
    );

    const removed = gantry(['alerts', 'delete', '-f', spec]);
    assert.equal(removed.status, 0, removed.stderr);
  },
);
