// Routing from the spec, without a cluster: the seed's alert table in
// deploy/user-service/gantry.yaml rendered into Alertmanager's route subtree,
// receivers and inhibit rules; `amtool config routes test` on the composed file
// agrees with the routing the spec asks for; credentials never reach the output;
// spec errors carry their location and a did-you-mean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  alertmanagerConfigObject,
  composeAlertmanagerConfig,
  isTestRoute,
  relayChannels,
  renderAlertmanager,
  resolveReceiverSecrets,
} from '../../src/monitor/index.js';
import type { AmRoute } from '../../src/monitor/index.js';
import { loadSpecFile, parseSpec, SpecError } from '../../src/spec/index.js';
import type { ServiceSpec } from '../../src/spec/index.js';
import { gantryAlertName } from '../../src/spec/schema.js';
import { runGantry } from '../gantry-cli.js';

const SEED = new URL('../../../../deploy/user-service/gantry.yaml', import.meta.url).pathname;
const SEED_DIR = new URL('../../../../deploy/user-service/', import.meta.url).pathname;

/** Distinct values, so that any leak is found by a plain search. */
const ENV = {
  ALERT_SMTP_PASSWORD: 'smtp-pw-Q8s7d6f5g4',
  ALIYUN_ACCESS_KEY_ID: 'LTAI-keyid-Z9x8c7v6',
  ALIYUN_ACCESS_KEY_SECRET: 'aliyun-secret-M1n2b3v4c5',
  USER_SERVICE_WECOM_ROBOT_KEY: 'wecom-key-P0o9i8u7y6',
  USER_SERVICE_DINGTALK_URL:
    'https://oapi.dingtalk.com/robot/send?access_token=dingtoken-A1s2d3f4g5h6',
  USER_SERVICE_DINGTALK_SECRET: 'SECdingsecret-L0k9j8h7',
  USER_SERVICE_ALERT_PLATFORM_URL: 'https://alerts.example.com/hook/platform-token-R5t6y7u8i9',
};
const SECRETS = [
  ENV.ALERT_SMTP_PASSWORD,
  ENV.ALIYUN_ACCESS_KEY_ID,
  ENV.ALIYUN_ACCESS_KEY_SECRET,
  ENV.USER_SERVICE_WECOM_ROBOT_KEY,
  'dingtoken-A1s2d3f4g5h6',
  ENV.USER_SERVICE_DINGTALK_SECRET,
  'platform-token-R5t6y7u8i9',
];
const BASE = `route:
  receiver: default
  group_wait: 5s
  group_interval: 30s
  repeat_interval: 4h
receivers:
  - name: default
`;

function seed(): ServiceSpec {
  return loadSpecFile(SEED);
}

test('the seed table renders to one route subtree matched on namespace and service', () => {
  const spec = seed();
  const secrets = resolveReceiverSecrets(spec, SEED_DIR, ENV);
  assert.deepEqual(secrets.skipped, {});
  const r = renderAlertmanager(spec, { secrets, secretsDir: '/am/gantry.d' });
  assert.deepEqual(r.warnings, []);
  const f = r.fragment!;
  assert.deepEqual(f.route.matchers, ['namespace="default"', 'service="user-service"']);
  assert.equal(f.route.receiver, undefined, 'unrouted alerts fall to the root receiver');
  assert.deepEqual(f.route.group_by, ['alertname', 'namespace', 'service']);
  assert.equal(f.route.continue, false);
  const k = (n: string) => `default.user-service.${n}`;
  // First, one `gantry alerts test` route per receiver, then the spec's routes.
  const all = f.route.routes ?? [];
  const tests = all.filter(isTestRoute);
  assert.deepEqual(
    all.slice(0, tests.length),
    tests,
    'the test routes come before the spec routes',
  );
  assert.deepEqual(
    tests.map((x) => [x.receiver, x.matchers, x.continue]),
    Object.keys(spec.monitoring.receivers).map((n) => [
      k(n),
      ['alertname="GantryTest"', `gantry_test_receiver="${n}"`],
      false,
    ]),
  );
  const specRoutes = all.filter((x) => !isTestRoute(x));
  const leaves = specRoutes.map((x) => [x.receiver, x.matchers, x.continue]);
  assert.deepEqual(leaves, [
    [k('ops-email'), ['alertname="GantryCPUHigh"'], true],
    [k('oncall-sms'), ['alertname="GantryCPUHigh"'], false],
    [k('team-wecom'), ['alertname="GantryMemoryHigh"'], false],
    [k('oncall-voice'), ['alertname="GantryLatencyP99High"'], true],
    [k('team-dingtalk'), ['alertname="GantryLatencyP99High"'], false],
    [k('alert-platform'), ['alertname="GantryErrorLogsHigh"'], false],
  ]);
  // Repeat intervals per severity, inside every leaf.
  const sev = specRoutes[0]!.routes!.map((x) => [x.matchers![0], x.repeat_interval]);
  assert.deepEqual(sev, [
    ['severity="critical"', '1h'],
    ['severity="page"', '1h'],
    ['severity="ticket"', '12h'],
  ]);
  assert.equal(f.route.repeat_interval, '4h');

  const byName = Object.fromEntries(f.receivers.map((x) => [x.name, x]));
  // Relay kinds: a webhook to the relay, keyed <namespace>.<service>.<receiver>.
  for (const n of ['oncall-sms', 'oncall-voice', 'team-wecom', 'team-dingtalk']) {
    assert.deepEqual(byName[k(n)]!.webhook_configs, [
      { send_resolved: true, url: `http://127.0.0.1:30093/v1/alerts/${k(n)}` },
    ]);
  }
  const mail = byName[k('ops-email')]!.email_configs![0]!;
  assert.equal(mail.send_resolved, true);
  assert.equal(mail.auth_password_file, `/am/gantry.d/${k('ops-email')}.smtp-password`);
  assert.equal(r.files[`/am/gantry.d/${k('ops-email')}.smtp-password`], ENV.ALERT_SMTP_PASSWORD);
  assert.equal(byName[k('alert-platform')]!.webhook_configs![0]!.send_resolved, true);
  assert.deepEqual(f.inhibit_rules, [
    {
      source_matchers: [
        'alertname="GantryServiceDown"',
        'namespace="default"',
        'service="user-service"',
      ],
      target_matchers: [
        'alertname!="GantryServiceDown"',
        'alertname!="GantryTest"',
        'namespace="default"',
        'service="user-service"',
      ],
      equal: ['namespace', 'service'],
    },
  ]);
  // The only credential in the Alertmanager part is the alert platform's URL (Alertmanager
  // 0.25 has no url_file for webhooks); passwords, keys and robot tokens are not there.
  const text = JSON.stringify(f);
  for (const s of SECRETS.filter((x) => x !== 'platform-token-R5t6y7u8i9')) {
    assert.ok(!text.includes(s), `secret ${s.slice(0, 6)}... in the Alertmanager fragment`);
  }
});

test('relayChannels: the relay contract, credentials resolved from the sources', () => {
  const spec = seed();
  const secrets = resolveReceiverSecrets(spec, SEED_DIR, ENV);
  const ch = relayChannels(spec, secrets.values, { prometheusUrl: 'http://127.0.0.1:9090' });
  assert.deepEqual(Object.keys(ch), [
    'default.user-service.oncall-sms',
    'default.user-service.oncall-voice',
    'default.user-service.team-dingtalk',
    'default.user-service.team-wecom',
  ]);
  const links = { prometheus: 'http://127.0.0.1:9090' };
  assert.deepEqual(ch['default.user-service.team-dingtalk'], {
    language: 'zh',
    channels: [
      {
        kind: 'dingtalk',
        url: ENV.USER_SERVICE_DINGTALK_URL,
        secret: ENV.USER_SERVICE_DINGTALK_SECRET,
        atMobiles: [],
        atAll: false,
      },
    ],
    links,
  });
  assert.deepEqual(ch['default.user-service.team-wecom']!.channels, [
    {
      kind: 'wecom',
      url: `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${ENV.USER_SERVICE_WECOM_ROBOT_KEY}`,
      mentionedMobiles: [],
    },
  ]);
  assert.deepEqual(ch['default.user-service.oncall-sms']!.channels, [
    {
      kind: 'sms',
      provider: 'aliyun',
      endpoint: 'https://dysmsapi.aliyuncs.com/',
      accessKeyId: ENV.ALIYUN_ACCESS_KEY_ID,
      accessKeySecret: ENV.ALIYUN_ACCESS_KEY_SECRET,
      signName: 'Gantry',
      templateCode: 'SMS_000000000',
      phoneNumbers: ['13800000000'],
    },
  ]);
  assert.deepEqual(ch['default.user-service.oncall-voice']!.channels, [
    {
      kind: 'voice',
      provider: 'aliyun',
      endpoint: 'https://dyvmsapi.aliyuncs.com/',
      accessKeyId: ENV.ALIYUN_ACCESS_KEY_ID,
      accessKeySecret: ENV.ALIYUN_ACCESS_KEY_SECRET,
      calledShowNumber: '4000000000',
      ttsCode: 'TTS_000000000',
      calledNumbers: ['13800000000'],
    },
  ]);
});

test('receivers whose credentials are absent are left out with a warning, never failing', () => {
  const spec = seed();
  const secrets = resolveReceiverSecrets(spec, SEED_DIR, {
    ALERT_SMTP_PASSWORD: ENV.ALERT_SMTP_PASSWORD,
  });
  assert.deepEqual(Object.keys(secrets.values), ['ops-email']);
  assert.match(secrets.skipped['team-dingtalk']!.join(), /USER_SERVICE_DINGTALK_URL is not set/);
  const r = renderAlertmanager(spec, { secrets, secretsDir: '/x' });
  assert.deepEqual(
    r.fragment!.receivers.map((x) => x.name),
    ['default.user-service.ops-email'],
  );
  assert.deepEqual(
    r.fragment!.route.routes!.filter((x) => !isTestRoute(x)).map((x) => [x.receiver, x.continue]),
    [['default.user-service.ops-email', false]],
    'the CPU route keeps its usable receiver, and is now the last one of its route',
  );
  assert.ok(r.warnings.some((w) => /receiver team-wecom left out/.test(w)));
  assert.ok(r.warnings.some((w) => /monitoring\.routes\[2\] left out/.test(w)));
  assert.deepEqual(relayChannels(spec, secrets.values), {});
});

/** The receivers the spec's routes give a label set, computed from the spec alone. */
function expected(spec: ServiceSpec, labels: Record<string, string>): string[] {
  if (labels.namespace !== spec.namespace || labels.service !== spec.name) return ['default'];
  const out: string[] = [];
  for (const r of spec.monitoring.routes) {
    const alerts = r.alerts?.map((a) => gantryAlertName(a) ?? a);
    if (alerts && !alerts.includes(labels.alertname ?? '')) continue;
    if (r.severity && !r.severity.includes(labels.severity ?? '')) continue;
    out.push(...r.receivers.map((n) => `${spec.namespace}.${spec.name}.${n}`));
    if (!r.continue) break;
  }
  return out.length ? out : ['default'];
}

test('amtool config routes test on the composed file agrees with the spec', () => {
  const spec = seed();
  const secrets = resolveReceiverSecrets(spec, SEED_DIR, ENV);
  const dir = mkdtempSync(join(tmpdir(), 'gantry-routing-'));
  try {
    const r = renderAlertmanager(spec, { secrets, secretsDir: dir });
    for (const [f, v] of Object.entries(r.files)) writeFileSync(f, v, { mode: 0o600 });
    const other = renderAlertmanager({ ...spec, name: 'orders' }, { secrets, secretsDir: dir });
    for (const [f, v] of Object.entries(other.files)) writeFileSync(f, v, { mode: 0o600 });
    const file = join(dir, 'alertmanager.yml');
    writeFileSync(file, composeAlertmanagerConfig(BASE, [other.fragment!, r.fragment!]));
    const check = spawnSync('amtool', ['check-config', file], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    const cases: Record<string, string>[] = [];
    for (const alertname of [
      'GantryCPUHigh',
      'GantryMemoryHigh',
      'GantryLatencyP99High',
      'GantryErrorLogsHigh',
      'GantryErrorRateHigh',
      'GantryServiceDown',
    ]) {
      for (const severity of ['warning', 'page']) {
        cases.push({ alertname, severity, namespace: 'default', service: 'user-service' });
      }
    }
    cases.push({ alertname: 'GantryCPUHigh', namespace: 'other', service: 'user-service' });
    cases.push({ alertname: 'Watchdog' });
    for (const labels of cases) {
      const args = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
      const res = spawnSync(
        'amtool',
        ['config', 'routes', 'test', `--config.file=${file}`, ...args],
        { encoding: 'utf8' },
      );
      assert.equal(res.status, 0, res.stderr);
      const got = res.stdout.trim().split(',').filter(Boolean);
      assert.deepEqual(got, expected(spec, labels), `labels ${args.join(' ')}`);
    }
    // The other service's subtree routes its own alerts to its own receivers.
    const res = spawnSync(
      'amtool',
      [
        'config',
        'routes',
        'test',
        `--config.file=${file}`,
        'alertname=GantryMemoryHigh',
        'namespace=default',
        'service=orders',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(res.stdout.trim(), 'default.orders.team-wecom');
    // `gantry alerts test`'s alert for one receiver reaches that receiver alone.
    for (const n of Object.keys(spec.monitoring.receivers)) {
      const t = spawnSync(
        'amtool',
        [
          'config',
          'routes',
          'test',
          `--config.file=${file}`,
          'alertname=GantryTest',
          'namespace=default',
          'service=user-service',
          'severity=page',
          `gantry_test_receiver=${n}`,
          'test_id=x',
        ],
        { encoding: 'utf8' },
      );
      assert.equal(t.stdout.trim(), `default.user-service.${n}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gantry alerts render prints the Alertmanager part and operator objects, no secret', () => {
  const env = { ...process.env, ...ENV, GANTRY_ALERTMANAGER_CONFIG: '/am/alertmanager.yml' };
  const am = runGantry(['alerts', 'render', '-f', SEED, '--format', 'alertmanager'], env);
  assert.equal(am.status, 0, am.stderr);
  const doc = parse(am.stdout) as { route: AmRoute; receivers: { name: string }[] };
  assert.equal(doc.receivers.length, 6);
  assert.deepEqual(doc.route.matchers, ['namespace="default"', 'service="user-service"']);
  const op = runGantry(['alerts', 'render', '-f', SEED, '--format', 'operator'], env);
  assert.equal(op.status, 0, op.stderr);
  const docs = op.stdout.split(/^---$/m).map((d) => parse(d) as { kind: string });
  assert.deepEqual(
    docs.map((d) => d.kind),
    ['PrometheusRule', 'AlertmanagerConfig'],
  );
  const json = runGantry(['-o', 'json', 'alerts', 'render', '-f', SEED], env);
  assert.equal(json.status, 0, json.stderr);
  for (const out of [am, op, json]) {
    for (const s of SECRETS) {
      assert.ok(!(out.stdout + out.stderr).includes(s), `secret ${s.slice(0, 6)}... printed`);
    }
  }
});

test('AlertmanagerConfig: secret references, matchers as objects', () => {
  const spec = seed();
  const r = renderAlertmanager(spec, { secretsDir: '/x' });
  const o = alertmanagerConfigObject(spec, r);
  assert.equal(o.apiVersion, 'monitoring.coreos.com/v1alpha1');
  const route = o.spec.route as unknown as { matchers: unknown[]; routes: { receiver: string }[] };
  assert.deepEqual(route.matchers, [{ name: 'service', matchType: '=', value: 'user-service' }]);
  assert.equal(route.routes[0]!.receiver, 'ops-email');
  const mail = o.spec.receivers.find((x) => x.name === 'ops-email') as unknown as {
    emailConfigs: { authPassword: unknown }[];
  };
  assert.deepEqual(mail.emailConfigs[0]!.authPassword, {
    name: 'user-service-alert-receivers',
    key: 'ops-email-smtp-password',
  });
  assert.ok(!JSON.stringify(o).includes('redacted.invalid'), 'secret URLs are Secret references');
});

function specError(text: string): string {
  try {
    parseSpec(text, 'g.yaml');
  } catch (err) {
    assert.ok(err instanceof SpecError, String(err));
    return err.message;
  }
  assert.fail('the spec was accepted');
}

test('spec errors: location, did-you-mean, no inline credentials', () => {
  const head = 'apiVersion: gantry.dev/v1alpha1\nname: a\nimage: a\nmonitoring:\n';
  const unknownReceiver = specError(
    `${head}  receivers:\n    ops-mail: { kind: webhook, url: "https://x.example/h" }\n  routes:\n    - alerts: [CPUHigh]\n      receivers: [ops-mial]\n`,
  );
  assert.match(unknownReceiver, /g\.yaml:9:\d+/);
  assert.match(unknownReceiver, /did you mean "ops-mail"/);
  const badAlert = specError(
    `${head}  receivers:\n    m: { kind: webhook, url: "https://x.example/h" }\n  routes:\n    - alerts: [CPUHihg]\n      receivers: [m]\n`,
  );
  assert.match(badAlert, /g\.yaml:8:\d+/);
  assert.match(badAlert, /did you mean "CPUHigh"/);
  const inline = specError(
    `${head}  receivers:\n    d: { kind: dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token=abc" }\n`,
  );
  assert.match(inline, /g\.yaml:6:\d+/);
  const pw = specError(
    `${head}  receivers:\n    e: { kind: email, to: [a@b.c], from: x@y.z, smarthost: "h:25", authPassword: hunter2 }\n`,
  );
  assert.match(pw, /authPassword/);
});

test('the JSON Schema file names the receiver kinds', () => {
  const schema = readFileSync(
    new URL('../../../../deploy/gantry.schema.json', import.meta.url),
    'utf8',
  );
  for (const kind of ['email', 'webhook', 'dingtalk', 'wecom', 'sms', 'voice']) {
    assert.ok(schema.includes(`"const": "${kind}"`), kind);
  }
});
