// The console's chart definitions (src/console/panels.ts) and its address rules: every
// panel's PromQL is accepted by the real local Prometheus, and only loopback addresses
// go without a token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { requireCluster } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { loadSpecFile } from '../../src/spec/index.js';
import { releasePanels, servicePanels } from '../../src/console/panels.js';
import { requestSelectors } from '../../src/monitor/rules.js';
import { isLoopback, parseAddress } from '../../src/console/server.js';

const userService = fileURLToPath(
  new URL('../../../../deploy/user-service/gantry.yaml', import.meta.url),
);

test('panels are built from the alert rules’ request selectors, with the spec’s thresholds', () => {
  const spec = loadSpecFile(userService);
  const { sel, errSel } = requestSelectors(spec);
  const panels = [...servicePanels(spec), ...releasePanels(spec)];
  const ids = panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  const byId = (id: string) => panels.find((p) => p.id === id)!;
  assert.ok(byId('service.requests').expr.includes(`{${sel}}`));
  assert.ok(byId('service.errors').expr.includes(`{${errSel}}`));
  assert.ok(byId('release.errors').expr.includes('gantry_dev_track'));
  if (spec.monitoring.alerts.errorRate) {
    assert.equal(
      byId('service.errors').thresholds[0]?.value,
      spec.monitoring.alerts.errorRate.above,
    );
  }
  for (const p of panels) assert.ok(p.title && p.description && p.unit, p.id);
});

const cluster = requireCluster();
test(
  'every panel’s PromQL is accepted by the local Prometheus',
  { skip: typeof cluster === 'string' ? cluster : false },
  async () => {
    const prom = (cluster as ClusterEnv).PROMETHEUS_URL;
    const spec = loadSpecFile(userService);
    for (const p of [...servicePanels(spec), ...releasePanels(spec)]) {
      const end = Math.floor(Date.now() / 1000);
      const res = await fetch(`${prom}/api/v1/query_range`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          query: p.expr,
          start: String(end - 600),
          end: String(end),
          step: '15',
        }),
      });
      const body = (await res.json()) as { status: string; error?: string };
      assert.equal(body.status, 'success', `${p.id}: ${body.error ?? ''}\n${p.expr}`);
    }
  },
);

test('addresses: HOST:PORT, and only loopback goes without a token', () => {
  assert.deepEqual(parseAddress('127.0.0.1:3100'), { host: '127.0.0.1', port: 3100 });
  assert.deepEqual(parseAddress('[::1]:0'), { host: '::1', port: 0 });
  assert.deepEqual(parseAddress(':8080'), { host: '0.0.0.0', port: 8080 });
  assert.throws(() => parseAddress('localhost'), /HOST:PORT/);
  assert.throws(() => parseAddress('1.2.3.4:70000'), /HOST:PORT/);
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.ok(isLoopback(h), h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com'])
    assert.ok(!isLoopback(h), h);
});
