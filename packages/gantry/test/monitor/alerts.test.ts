// gantry alerts against the local cluster's real Prometheus and Alertmanager: the rules
// of a deployed service are loaded from the rules directory, a rule file Prometheus
// refuses is replaced by the one before, and an error rate above the threshold reaches
// Alertmanager as GantryErrorRateHigh for that service, as do CPU and memory alerts from
// the kubelet's cAdvisor. The workload is the echo fixture answering every 2nd request
// with a 500 (FAIL_EVERY=2), loaded through the gateway on 127.0.0.1:8000.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { Load, once } from '../../../../hack/cluster/test/load.js';
import { runGantry } from '../gantry-cli.js';

interface MonitoringEnv extends ClusterEnv {
  GANTRY_PROMETHEUS_RULES_DIR?: string;
}

const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const ns = `gantry-alerts-${Date.now().toString(36)}`;
const name = 'flaky';
const host = `${name}.${ns}.test`;
const GATEWAY = 'http://127.0.0.1:8000';
let env: MonitoringEnv;
let work: string;
let image: string;

function gantry(args: string[]) {
  return runGantry(args, { ...env, GANTRY_PROMETHEUS_URL: env.PROMETHEUS_URL }, 180_000);
}

function writeSpec(file: string, selector = ''): string {
  const path = join(work, file);
  writeFileSync(
    path,
    `apiVersion: gantry.dev/v1alpha1
name: ${name}
namespace: ${ns}
image: ${image}
replicas: 1
env: { FAIL_EVERY: "2" }
ports: [{ containerPort: 8080, servicePort: 80 }]
metrics: { path: /metrics }
resources: { requests: { cpu: 10m, memory: 16Mi }, limits: { memory: 64Mi } }
probes: { readiness: { path: /healthz, periodSeconds: 1 } }
terminationGracePeriodSeconds: 2
routes: [{ hostnames: [${host}], gateway: gantry-system/gantry }]
release: { analysis: { requests: { selector: '${selector}' } } }
monitoring:
  labels: { team: it }
  alerts:
    errorRate: { above: 0.2, window: 20s, for: 0s }
    latencyP99: false
    cpu: { above: 0.001, window: 1m, for: 0s }
    memory: { above: 0.01, for: 0s }
    down: { for: 5m }
    errorLogs: false
`,
  );
  return path;
}

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: { state: string };
}

/** The active alert of that name for this test's namespace in Alertmanager, if any. */
async function firing(alertname: string): Promise<AmAlert | undefined> {
  const q = new URLSearchParams();
  q.append('filter', `alertname="${alertname}"`);
  q.append('filter', `namespace="${ns}"`);
  const res = await fetch(`${env.ALERTMANAGER_URL}/api/v2/alerts?${q.toString()}`);
  return ((await res.json()) as AmAlert[]).find((a) => a.status.state === 'active');
}

async function rulesOf(group: string): Promise<{ file: string; rules: { name: string }[] }[]> {
  const res = await fetch(`${env.PROMETHEUS_URL}/api/v1/rules`);
  const body = (await res.json()) as {
    data: { groups: { name: string; file: string; rules: { name: string }[] }[] };
  };
  return body.data.groups.filter((g) => g.name === group);
}

before(
  () => {
    if (skip) return;
    env = cluster as MonitoringEnv;
    assert.ok(env.GANTRY_PROMETHEUS_RULES_DIR, 'cluster env has no GANTRY_PROMETHEUS_RULES_DIR');
    work = mkdtempSync(join(tmpdir(), 'gantry-alerts-'));
    image = pushEchoImage(env, 'gantry-alerts/echo', '1');
  },
  { timeout: 120_000 },
);

after(() => {
  if (skip) return;
  gantry(['alerts', 'delete', '-f', join(work, 'good.yaml')]);
  run('kubectl', ['delete', 'namespace', ns, '--wait=false'], env);
  rmSync(work, { recursive: true, force: true });
});

test(
  'rules are loaded, a refused rule file is put back, and an error rate reaches Alertmanager',
  { skip, timeout: 300_000 },
  async (t) => {
    const group = `gantry:${ns}/${name}`;
    const good = writeSpec('good.yaml');
    const deployed = gantry(['deploy', '-f', good]);
    assert.equal(deployed.status, 0, deployed.stderr);

    // Nowhere to write: bad input, nothing changed.
    const noDir = gantry(['alerts', 'apply', '-f', good, '--rules-dir', join(work, 'missing')]);
    assert.equal(noDir.status, 3, noDir.stderr);
    assert.match(noDir.stderr, /rules directory .*missing does not exist/);

    const applied = gantry(['-o', 'json', 'alerts', 'apply', '-f', good]);
    assert.equal(applied.status, 0, applied.stderr);
    const r = JSON.parse(applied.stdout) as { file: string; rules: number; group: string };
    assert.deepEqual([r.group, r.rules], [group, 4]);
    const loaded = await rulesOf(group);
    assert.deepEqual(
      loaded.map((g) => g.rules.map((x) => x.name)),
      [['GantryErrorRateHigh', 'GantryCPUHigh', 'GantryMemoryHigh', 'GantryServiceDown']],
    );
    const goodText = readFileSync(r.file, 'utf8');

    // A selector Prometheus cannot parse: the reload fails, the good file is put back.
    const bad = writeSpec('bad.yaml', 'route!~"("');
    const refused = gantry(['alerts', 'apply', '-f', bad]);
    assert.equal(refused.status, 6, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /could not load the rules .* the previous rule file was put back/);
    assert.equal(readFileSync(r.file, 'utf8'), goodText);
    assert.equal((await rulesOf(group))[0]?.rules.length, 4);

    // Half the requests fail: well above 20 %. Load through the gateway, bounded.
    await eventually('an answer through the gateway', 30_000, async () =>
      (await once(`${GATEWAY}/`, { host, timeoutMs: 2000 })).status === 200 ? true : undefined,
    );
    const load = new Load({ url: `${GATEWAY}/`, host, rps: 10, maxDurationMs: 180_000 }).start();
    try {
      const fired = await eventually('GantryErrorRateHigh in Alertmanager', 120_000, () =>
        firing('GantryErrorRateHigh'),
      );
      t.diagnostic(`${fired.annotations.summary}`);
      assert.equal(fired.labels.service, name);
      assert.equal(fired.labels.team, 'it');
      assert.equal(fired.labels.severity, 'page');
      assert.match(
        fired.annotations.summary ?? '',
        new RegExp(`^${ns}/${name}: [0-9.]+% of requests fail$`),
      );
      // CPU and memory from the kubelet's cAdvisor, against thresholds set far below what
      // any process uses: the rules' selectors match the real series of the service's pod.
      const pod = kubectl(env, [
        '-n',
        ns,
        'get',
        'pods',
        '-o',
        'jsonpath={.items[0].metadata.name}',
      ]);
      for (const alertname of ['GantryCPUHigh', 'GantryMemoryHigh']) {
        const a = await eventually(`${alertname} in Alertmanager`, 120_000, () =>
          firing(alertname),
        );
        t.diagnostic(`${a.annotations.summary}`);
        assert.equal(a.labels.pod, pod.trim());
        assert.equal(a.labels.severity, 'warning');
      }

      const status = gantry(['-o', 'json', 'alerts', 'status', '-f', good]);
      assert.equal(status.status, 0, status.stderr);
      const alerts = (
        JSON.parse(status.stdout) as { alerts: { alertname: string; state: string }[] }
      ).alerts;
      assert.ok(
        alerts.some((a) => a.alertname === 'GantryErrorRateHigh' && a.state === 'firing'),
        status.stdout,
      );
    } finally {
      await load.stop();
    }

    const removed = gantry(['alerts', 'delete', '-f', good]);
    assert.equal(removed.status, 0, removed.stderr);
    assert.equal(existsSync(r.file), false);
    assert.deepEqual(await rulesOf(group), []);
  },
);
