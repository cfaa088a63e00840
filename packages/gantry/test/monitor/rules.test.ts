// Alerting rules rendered from the spec. The expressions are checked by Prometheus' own
// rule engine: promtool (Debian's prometheus package) evaluates them over synthetic
// series and compares the alerts that fire with the expected ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { promDuration, quantityValue, renderAlertRules } from '../../src/monitor/index.js';
import type { AlertingRule, Rule } from '../../src/monitor/index.js';
import { parseSpec } from '../../src/spec/index.js';

const base = (extra = '') => `apiVersion: gantry.dev/v1alpha1
name: users
namespace: shop
image: registry.local/users
metrics: { path: /metrics }
${extra}`;

const alerts = (rules: Rule[]) => rules.filter((r): r is AlertingRule => 'alert' in r);

test('quantities and durations', () => {
  assert.equal(quantityValue('250m'), 0.25);
  assert.equal(quantityValue('128Mi'), 134217728);
  assert.equal(quantityValue('1G'), 1e9);
  assert.equal(quantityValue(2), 2);
  assert.throws(() => quantityValue('12 parsecs'), /not a Kubernetes quantity/);
  assert.deepEqual([300, 90, 0.25, 3 * 86400, 6 * 3600, 0].map(promDuration), [
    '5m',
    '90s',
    '250ms',
    '3d',
    '6h',
    '0s',
  ]);
});

test('defaults: six alerts on the service, labelled for routing', () => {
  const { file, notes } = renderAlertRules(
    parseSpec(base('monitoring: { labels: { team: shop } }')),
  );
  assert.deepEqual(notes, []);
  const [group] = file.groups;
  assert.equal(group?.name, 'gantry:shop/users');
  const rules = alerts(group?.rules ?? []);
  assert.deepEqual(
    rules.map((r) => `${r.alert} ${r.for ?? ''} ${r.labels.severity}`),
    [
      'GantryErrorRateHigh 2m page',
      'GantryLatencyP99High 5m page',
      'GantryCPUHigh 5m warning',
      'GantryMemoryHigh 5m warning',
      'GantryServiceDown 1m page',
      'GantryErrorLogsHigh 1m warning',
    ],
  );
  for (const r of rules) {
    assert.equal(r.labels.namespace, 'shop');
    assert.equal(r.labels.service, 'users');
    assert.equal(r.labels.team, 'shop');
  }
  // CPU against the request (no CPU limit by default), memory against the 256Mi limit.
  assert.match(rules[2]!.expr, /\/ 0\.1 > 0\.8$/);
  assert.match(rules[2]!.annotations.description ?? '', /CPU request \(100m\)/);
  assert.match(rules[3]!.expr, /\/ 268435456 > 0\.85$/);
  // Error and fatal lines per minute of the service's pods, from the node's log agent.
  assert.equal(
    rules[5]!.expr,
    'sum(rate(gantry_log_lines_total{namespace="shop",pod=~"users(-canary)?-[bcdfghjklmnpqrstvwxz2456789]{1,10}-[bcdfghjklmnpqrstvwxz2456789]{5}",level=~"error|fatal"}[1m])) * 60\n  > 100',
  );
});

test('alerts set to false are left out; request alerts need the pods scraped', () => {
  const off = renderAlertRules(
    parseSpec(
      base(
        'monitoring: { alerts: { cpu: false, memory: false, latencyP99: false, errorLogs: false } }',
      ),
    ),
  );
  assert.deepEqual(
    alerts(off.file.groups[0]!.rules).map((r) => r.alert),
    ['GantryErrorRateHigh', 'GantryServiceDown'],
  );
  const unscraped = renderAlertRules(
    parseSpec(
      base().replace(
        'metrics: { path: /metrics }\n',
        'monitoring: { slo: { availability: 0.999 } }\n',
      ),
    ),
  );
  assert.deepEqual(
    alerts(unscraped.file.groups[0]!.rules).map((r) => r.alert),
    // Log lines are counted by the node's agent, whether or not the pods are scraped.
    ['GantryCPUHigh', 'GantryMemoryHigh', 'GantryErrorLogsHigh'],
  );
  assert.equal(unscraped.notes.length, 4, unscraped.notes.join('\n'));
  assert.match(
    unscraped.notes[0]!,
    /^monitoring\.alerts\.errorRate: left out, because spec\.metrics is not set/,
  );
  const noResources = renderAlertRules(
    parseSpec(base('resources: { requests: {}, limits: {} }\n')),
  );
  assert.deepEqual(noResources.notes, [
    'monitoring.alerts.cpu: left out, because the spec sets no CPU limit or request',
    'monitoring.alerts.memory: left out, because the spec sets no memory limit or request',
  ]);
});

test('SLO burn-rate thresholds follow the budget and its period', () => {
  const burn = (days: number) =>
    alerts(
      renderAlertRules(
        parseSpec(base(`monitoring: { slo: { availability: 0.999, windowDays: ${days} } }`)),
      ).file.groups[0]!.rules,
    )
      .filter((r) => r.alert === 'GantryErrorBudgetBurn')
      .map(
        (r) =>
          `${r.labels.severity} ${r.labels.long_window}/${r.labels.short_window} ${/> ([0-9.e-]+)$/.exec(r.expr)?.[1]}`,
      );
  // 30 days: the SRE workbook's 14.4x, 6x and 1x of a 0.1% budget.
  assert.deepEqual(burn(30), ['page 1h/5m 0.0144', 'page 6h/30m 0.006', 'ticket 3d/6h 0.001']);
  assert.deepEqual(burn(7), [
    'page 1h/5m 0.00336',
    'page 6h/30m 0.0014',
    'ticket 3d/6h 0.000233333333333',
  ]);
});

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const noPromtool =
  promtool.status === 0 ? false : 'promtool is not installed (Debian package prometheus)';
if (noPromtool && process.env.CI === 'true') throw new Error(noPromtool);

test("Prometheus' rule engine fires exactly the expected alerts", { skip: noPromtool }, () => {
  const spec = parseSpec(
    base(`resources: { requests: { cpu: 250m, memory: 64Mi }, limits: { cpu: 500m, memory: 256Mi } }
release: { analysis: { requests: { selector: 'route!="/healthz"' } } }
monitoring:
  alerts:
    errorRate: { above: 0.05, window: 1m, for: 2m }
    latencyP99: { above: 300ms, window: 1m, for: 1m }
    cpu: { above: 0.8, window: 1m, for: 1m }
    memory: { above: 0.85, for: 1m }
    down: { for: 2m }
    errorLogs: { above: 100, window: 2m, for: 1m }
  slo: { availability: 0.9, windowDays: 1 }
`),
  );
  const { file } = renderAlertRules(spec);
  // Annotations are templates for people; promtool would compare them verbatim.
  for (const r of alerts(file.groups[0]!.rules)) r.annotations = {};
  const dir = mkdtempSync(join(tmpdir(), 'gantry-promtool-'));
  try {
    writeFileSync(join(dir, 'rules.yml'), stringify(file));
    const svc = 'namespace="shop",app_kubernetes_io_name="users"';
    const other = 'namespace="shop",app_kubernetes_io_name="carts"';
    const pod = (p: string) => `namespace="shop",pod="${p}",container="users"`;
    const labels = (alertname: string, extra: Record<string, string> = {}) => ({
      alertname,
      severity: ['GantryCPUHigh', 'GantryMemoryHigh', 'GantryErrorLogsHigh'].includes(alertname)
        ? 'warning'
        : 'page',
      namespace: 'shop',
      service: 'users',
      ...extra,
    });
    const unitTests = {
      rule_files: ['rules.yml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            // users: 600 requests a minute, 60 of them 5xx (10%), and health checks that
            // never fail and would dilute the ratio if the selector missed them.
            {
              series: `http_requests_total{${svc},route="/api",status_code="200"}`,
              values: '0+540x80',
            },
            {
              series: `http_requests_total{${svc},route="/api",status_code="503"}`,
              values: '0+60x80',
            },
            {
              series: `http_requests_total{${svc},route="/healthz",status_code="200"}`,
              values: '0+100000x80',
            },
            // Another service's errors never count for users.
            {
              series: `http_requests_total{${other},route="/api",status_code="500"}`,
              values: '0+900x80',
            },
            // Latency: of 100 requests a minute, 98 under 0.1 s and 2 between 0.5 and 1 s.
            {
              series: `http_request_duration_seconds_bucket{${svc},route="/api",le="0.1"}`,
              values: '0+98x80',
            },
            {
              series: `http_request_duration_seconds_bucket{${svc},route="/api",le="0.5"}`,
              values: '0+98x80',
            },
            {
              series: `http_request_duration_seconds_bucket{${svc},route="/api",le="1"}`,
              values: '0+100x80',
            },
            {
              series: `http_request_duration_seconds_bucket{${svc},route="/api",le="+Inf"}`,
              values: '0+100x80',
            },
            // CPU: pod a at 0.45 cores (90% of 500m), its canary at 0.1, a stranger at 5.
            {
              series: `container_cpu_usage_seconds_total{${pod('users-6c8f9d7b54-x2v9q')}}`,
              values: '0+27x80',
            },
            {
              series: `container_cpu_usage_seconds_total{${pod('users-canary-5f7c6b8d9-k4m2z')}}`,
              values: '0+6x80',
            },
            {
              series: `container_cpu_usage_seconds_total{namespace="shop",pod="users-db-0",container="users"}`,
              values: '0+300x80',
            },
            // Memory: 240Mi of 256Mi on the canary.
            {
              series: `container_memory_working_set_bytes{${pod('users-canary-5f7c6b8d9-k4m2z')}}`,
              values: `${240 * 2 ** 20}x80`,
            },
            {
              series: `container_memory_working_set_bytes{${pod('users-6c8f9d7b54-x2v9q')}}`,
              values: `${100 * 2 ** 20}x80`,
            },
            // Log lines (the node's agent): 60 error and 20 fatal lines a minute from the
            // users pod and 5 from its canary, 85 in all, then 90 error lines from minute 10
            // on, 115 in all; warnings, a StatefulSet's pod and a pod of the same name in
            // another namespace never count (with them, 85 would be above 100).
            ...[
              ['shop', 'users-6c8f9d7b54-x2v9q', 'error', '0+60x10 600+90x70'],
              ['shop', 'users-6c8f9d7b54-x2v9q', 'fatal', '0+20x80'],
              ['shop', 'users-canary-5f7c6b8d9-k4m2z', 'error', '0+5x80'],
              ['shop', 'users-6c8f9d7b54-x2v9q', 'warn', '0+1000x80'],
              ['shop', 'users-db-0', 'error', '0+1000x80'],
              ['other', 'users-6c8f9d7b54-x2v9q', 'error', '0+1000x80'],
            ].map(([namespace, p, level, values]) => ({
              series: `gantry_log_lines_total{namespace="${namespace}",pod="${p}",container="users",level="${level}"}`,
              values: values!,
            })),
            // Scrapes: up for 70 minutes, then down.
            { series: `up{${svc},pod="users-6c8f9d7b54-x2v9q"}`, values: '1x70 0x10' },
          ],
          alert_rule_test: [
            { eval_time: '1m', alertname: 'GantryErrorRateHigh', exp_alerts: [] },
            {
              eval_time: '4m',
              alertname: 'GantryErrorRateHigh',
              exp_alerts: [{ exp_labels: labels('GantryErrorRateHigh') }],
            },
            {
              eval_time: '4m',
              alertname: 'GantryLatencyP99High',
              exp_alerts: [{ exp_labels: labels('GantryLatencyP99High') }],
            },
            {
              eval_time: '4m',
              alertname: 'GantryCPUHigh',
              exp_alerts: [
                { exp_labels: labels('GantryCPUHigh', { pod: 'users-6c8f9d7b54-x2v9q' }) },
              ],
            },
            {
              eval_time: '4m',
              alertname: 'GantryMemoryHigh',
              exp_alerts: [
                { exp_labels: labels('GantryMemoryHigh', { pod: 'users-canary-5f7c6b8d9-k4m2z' }) },
              ],
            },
            { eval_time: '8m', alertname: 'GantryErrorLogsHigh', exp_alerts: [] },
            {
              eval_time: '14m',
              alertname: 'GantryErrorLogsHigh',
              exp_alerts: [{ exp_labels: labels('GantryErrorLogsHigh') }],
            },
            { eval_time: '60m', alertname: 'GantryServiceDown', exp_alerts: [] },
            {
              eval_time: '75m',
              alertname: 'GantryServiceDown',
              exp_alerts: [{ exp_labels: labels('GantryServiceDown') }],
            },
            {
              // 10% errors against a 10% budget over 1 day: the 1h/5m (0.048) and 6h/30m
              // (0.02) pages and the 3d/6h ticket (0.0033) all fire.
              eval_time: '65m',
              alertname: 'GantryErrorBudgetBurn',
              exp_alerts: [
                ['page', '1h', '5m'],
                ['page', '6h', '30m'],
                ['ticket', '3d', '6h'],
              ].map(([severity, long, short]) => ({
                exp_labels: {
                  ...labels('GantryErrorBudgetBurn'),
                  severity: severity!,
                  long_window: long!,
                  short_window: short!,
                },
              })),
            },
          ],
        },
      ],
    };
    writeFileSync(join(dir, 'test.yml'), stringify(unitTests));
    const check = spawnSync('promtool', ['check', 'rules', join(dir, 'rules.yml')], {
      encoding: 'utf8',
    });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    const r = spawnSync('promtool', ['test', 'rules', 'test.yml'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the service's own rules: rendered with its labels, routable by name, fired by Prometheus", () => {
  const spec = parseSpec(
    base(`monitoring:
  rules:
    - alert: QueueStuck
      expr: max(queue_oldest_seconds{namespace="shop"}) > 600
      for: 2m
      severity: page
      summary: the queue is stuck
  receivers: { hook: { kind: webhook, url: 'http://127.0.0.1:1/x' } }
  routes: [{ alerts: [QueueStuck], receivers: [hook] }]
`),
  );
  const own = alerts(renderAlertRules(spec).file.groups[0]!.rules).find(
    (r) => r.alert === 'QueueStuck',
  );
  assert.deepEqual(own, {
    alert: 'QueueStuck',
    expr: 'max(queue_oldest_seconds{namespace="shop"}) > 600',
    for: '2m',
    labels: { severity: 'page', namespace: 'shop', service: 'users' },
    annotations: { summary: 'the queue is stuck' },
  });
  // A route naming an alert that is neither gantry's nor the service's own is refused.
  assert.throws(
    () => parseSpec(base('monitoring:\n  routes: [{ alerts: [QueueStuk], receivers: [] }]\n')),
    /"QueueStuk" is not an alert of gantry's rules or monitoring\.rules/,
  );
  if (noPromtool) return;
  const { file } = renderAlertRules(spec);
  for (const r of alerts(file.groups[0]!.rules)) r.annotations = {};
  const dir = mkdtempSync(join(tmpdir(), 'gantry-promtool-'));
  try {
    writeFileSync(join(dir, 'rules.yml'), stringify(file));
    writeFileSync(
      join(dir, 'test.yml'),
      stringify({
        rule_files: ['rules.yml'],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [
              { series: 'queue_oldest_seconds{namespace="shop"}', values: '0+100x20' },
            ],
            alert_rule_test: [
              { eval_time: '6m', alertname: 'QueueStuck', exp_alerts: [] },
              {
                eval_time: '10m',
                alertname: 'QueueStuck',
                exp_alerts: [
                  { exp_labels: { severity: 'page', namespace: 'shop', service: 'users' } },
                ],
              },
            ],
          },
        ],
      }),
    );
    const r = spawnSync('promtool', ['test', 'rules', 'test.yml'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
