// gantry chaos pod-kill on the local cluster: a healthy two-replica echo service under
// load rides out two rounds of killed pods (each round's pod really gone, the service
// back to two ready replicas); the same service failing every 2nd request does not meet
// the steady state, so nothing is killed. Prometheus is the cluster's own; the load goes
// through the gateway on 127.0.0.1:8000 (an HTTPRoute for the service's own hostname).
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
import { Load, once } from '../../../../hack/cluster/test/load.js';
import { Prometheus } from '../../src/analysis/prometheus.js';
import { runGantry } from '../gantry-cli.js';

const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const ns = `gantry-chaos-${Date.now().toString(36)}`;
const name = 'victim';
const host = `${name}.${ns}.test`;
const GATEWAY = 'http://127.0.0.1:8000';
let env: ClusterEnv;
let work: string;
let image: string;

function gantry(args: string[]) {
  return runGantry(args, { ...env, GANTRY_PROMETHEUS_URL: env.PROMETHEUS_URL });
}

function writeSpec(failEvery: number): string {
  const file = join(work, `gantry-${failEvery}.yaml`);
  writeFileSync(
    file,
    `apiVersion: gantry.dev/v1alpha1
name: ${name}
namespace: ${ns}
image: ${image}
replicas: 2
env: { FAIL_EVERY: "${failEvery}" }
ports: [{ containerPort: 8080, servicePort: 80 }]
metrics: { path: /metrics }
resources: { requests: { cpu: 10m, memory: 16Mi }, limits: { memory: 64Mi } }
probes: { readiness: { path: /healthz, periodSeconds: 1 } }
terminationGracePeriodSeconds: 2
routes: [{ hostnames: [${host}], gateway: gantry-system/gantry }]
`,
  );
  return file;
}

const pods = () =>
  kubectl(env, ['-n', ns, 'get', 'pods', '-o', 'jsonpath={.items[*].metadata.name}'])
    .split(' ')
    .filter((x) => x !== '')
    .sort();

before(
  () => {
    if (skip) return;
    env = cluster as ClusterEnv;
    work = mkdtempSync(join(tmpdir(), 'gantry-chaos-'));
    image = pushEchoImage(env, 'gantry-chaos/echo', '1');
  },
  { timeout: 120_000 },
);

after(() => {
  if (skip) return;
  run('kubectl', ['delete', 'namespace', ns, '--wait=false'], env);
  rmSync(work, { recursive: true, force: true });
});

test(
  'pod-kill: a healthy service recovers each round; a failing one is not touched',
  { skip, timeout: 420_000 },
  async (t) => {
    const healthy = writeSpec(0);
    const deployed = gantry(['deploy', '-f', healthy]);
    assert.equal(deployed.status, 0, deployed.stderr);
    // The route is served once the gateway has programmed it.
    await eventually('an answer through the gateway', 30_000, async () =>
      (await once(`${GATEWAY}/`, { host, timeoutMs: 2000 })).status === 200 ? true : undefined,
    );
    const traffic = new Load({
      url: `${GATEWAY}/`,
      host,
      rps: 20,
      maxDurationMs: 300_000,
    }).start();
    /** Whether Prometheus has seen more than `n` requests of `status` in the last minute. */
    const seen = async (status: string, n: number) => {
      const q = `sum(increase(http_requests_total{namespace="${ns}",status_code="${status}"}[1m]))`;
      const [sample] = await new Prometheus(env.PROMETHEUS_URL).query(q);
      return (sample?.value ?? 0) > n ? true : undefined;
    };
    try {
      // The steady state is judged on what Prometheus has seen: let it see the load first.
      await eventually('Prometheus to see the load', 90_000, () => seen('200', 50));
      const first = pods();
      const r = gantry([
        '-o',
        'json',
        'chaos',
        'pod-kill',
        '-f',
        healthy,
        '--rounds',
        '2',
        '--interval',
        '1s',
        '--max-error-rate',
        '0.2',
      ]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      const report = JSON.parse(r.stdout) as {
        verdict: string;
        rounds: { killed: string[]; recoveredMs?: number }[];
        after: { readyReplicas: number; replicas: number; requests?: number };
      };
      t.diagnostic(JSON.stringify(report.rounds));
      assert.equal(report.verdict, 'passed');
      assert.equal(report.rounds.length, 2);
      const killed = report.rounds.flatMap((x) => x.killed);
      assert.equal(killed.length, 2);
      assert.ok(first.includes(killed[0]!), `${killed[0]} was not a pod before: ${first.join()}`);
      for (const round of report.rounds) assert.ok((round.recoveredMs ?? -1) > 0);
      assert.deepEqual([report.after.readyReplicas, report.after.replicas], [2, 2]);
      assert.ok((report.after.requests ?? 0) > 0, 'the steady state saw the load');
      const now = pods();
      for (const k of killed) assert.ok(!now.includes(k), `${k} still exists: ${now.join()}`);

      // Every 2nd request fails: the steady state does not hold, nothing is killed.
      const failing = writeSpec(2);
      assert.equal(gantry(['deploy', '-f', failing]).status, 0);
      await eventually('Prometheus to see the errors', 90_000, () => seen('500', 50));
      const untouched = pods();
      const refused = gantry(['chaos', 'pod-kill', '-f', failing, '--max-error-rate', '0.05']);
      assert.equal(refused.status, 4, refused.stdout + refused.stderr);
      assert.match(
        refused.stdout,
        /pod-kill .*: not-started \(steady state not met before the experiment: error rate [0-9.]+% of \d+ requests is above 5%\)/,
      );
      assert.deepEqual(pods(), untouched);
    } finally {
      await traffic.stop();
    }
  },
);
