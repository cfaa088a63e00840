// Grafana dashboards as code: the dashboard model of a spec (variables, rows, one panel
// per console panel definition, annotations, the sidecar ConfigMap), and every panel's
// PromQL accepted by the real local Prometheus and answering with series for a real,
// scraped service under load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { eventually, pushEchoImage } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { clusterSuite } from '../../../../hack/cluster/test/suite.js';
import { Load } from '../../../../hack/cluster/test/load.js';
import { Prometheus } from '../../src/analysis/prometheus.js';
import { dashboardPanels, interpolate, renderDashboard } from '../../src/dashboards/grafana.js';
import { loadSpecFile } from '../../src/spec/index.js';
import { runGantry } from '../gantry-cli.js';

const userSpec = fileURLToPath(
  new URL('../../../../deploy/user-service/gantry.yaml', import.meta.url),
);

interface Dashboard {
  uid: string;
  title: string;
  templating: { list: { name: string; type: string; query?: unknown }[] };
  annotations: { list: { name: string; expr?: string }[] };
  panels: {
    type: string;
    title: string;
    gridPos: { x: number; y: number; w: number; h: number };
    targets?: { expr: string }[];
    fieldConfig?: { defaults?: { unit?: string } };
  }[];
}

test('the dashboard of user-service: variables, rows, every console panel, annotations', () => {
  const spec = loadSpecFile(userSpec);
  const d = renderDashboard(spec) as unknown as Dashboard;
  assert.equal(d.uid, 'gantry-default-user-service');
  assert.deepEqual(
    d.templating.list.map((v) => [v.name, v.type]),
    [
      ['datasource', 'datasource'],
      ['namespace', 'custom'],
      ['service', 'custom'],
    ],
  );
  const defs = dashboardPanels(spec).flatMap((r) => r.panels);
  const graphs = d.panels.filter((p) => p.type === 'timeseries');
  assert.equal(graphs.length, defs.length);
  assert.deepEqual(
    graphs.map((p) => p.targets?.[0]?.expr),
    defs.map((p) => p.expr),
  );
  for (const p of graphs) {
    const expr = p.targets?.[0]?.expr ?? '';
    assert.ok(!expr.includes('"default"') && !expr.includes('user-service'), expr);
    assert.ok(expr.includes('$namespace') || expr.includes('$service'), expr);
  }
  assert.equal(d.panels.filter((p) => p.type === 'row').length, 2);
  // No two panels overlap on the grid.
  const cells = new Set<string>();
  for (const p of d.panels) {
    for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++)
      for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
        assert.ok(!cells.has(`${x},${y}`), `overlap at ${x},${y}: ${p.title}`);
        cells.add(`${x},${y}`);
      }
  }
  assert.deepEqual(
    d.annotations.list.filter((a) => a.expr).map((a) => a.name),
    ['Pods started (deploys, rollbacks, release steps)', 'Alerts firing'],
  );
});

test('gantry dashboards render --format configmap: the sidecar label and the JSON in it', () => {
  const r = runGantry(
    [
      'dashboards',
      'render',
      '-f',
      userSpec,
      '--format',
      'configmap',
      '--configmap-namespace',
      'monitoring',
    ],
    {},
    60_000,
  );
  assert.equal(r.status, 0, r.stderr);
  const cm = parse(r.stdout) as {
    metadata: { namespace: string; labels: Record<string, string> };
    data: Record<string, string>;
  };
  assert.equal(cm.metadata.namespace, 'monitoring');
  assert.equal(cm.metadata.labels.grafana_dashboard, '1');
  const json = JSON.parse(Object.values(cm.data)[0]!) as Dashboard;
  assert.equal(json.uid, 'gantry-default-user-service');
  const bad = runGantry(['dashboards', 'render', '-f', userSpec, '--format', 'xml'], {}, 60_000);
  assert.equal(bad.status, 2);
});

let env: ClusterEnv;
let work: string;
const suite = clusterSuite('gantry-dash', { setup: (s) => void ({ env, work } = s) });
const { skip, ns } = suite;

test(
  "every panel's PromQL is accepted by the local Prometheus and the service's panels show series",
  { skip, timeout: 240_000 },
  async () => {
    const image = pushEchoImage(env, 'gantry-it/echo', '1');
    const host = `web.${ns}.test`;
    const file = join(work, 'gantry.yaml');
    writeFileSync(
      file,
      `apiVersion: gantry.dev/v1alpha1
name: web
namespace: ${ns}
image: ${image}
replicas: 1
ports: [{ containerPort: 8080, servicePort: 80 }]
metrics: { path: /metrics }
resources: { requests: { cpu: 5m, memory: 16Mi }, limits: { memory: 64Mi } }
probes: { readiness: { path: /healthz, periodSeconds: 1 } }
terminationGracePeriodSeconds: 2
routes: [{ hostnames: [${host}], gateway: gantry-system/gantry }]
`,
    );
    const d = runGantry(['deploy', '-f', file, '--timeout', '90s'], env, 150_000);
    assert.equal(d.status, 0, d.stdout + d.stderr);
    const load = new Load({
      url: 'http://127.0.0.1:8000/',
      host,
      rps: 10,
      maxDurationMs: 150_000,
    }).start();
    try {
      const spec = loadSpecFile(file);
      const prom = new Prometheus(env.PROMETHEUS_URL);
      const rows = dashboardPanels(spec);
      // Every query is valid PromQL once Grafana has put in the variables.
      for (const p of rows.flatMap((r) => r.panels)) {
        await prom.query(interpolate(p.expr, spec));
      }
      // The service's panels answer with series once Prometheus has scraped the load twice.
      for (const p of rows[0]!.panels) {
        await eventually(`series for "${p.title}"`, 120_000, async () =>
          (await prom.query(interpolate(p.expr, spec))).length > 0 ? true : undefined,
        );
      }
    } finally {
      await load.stop();
    }
  },
);
