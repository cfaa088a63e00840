// gantry alerts test and status against the local cluster's real Alertmanager (Debian's
// 0.25): a service with an email receiver (a real SMTP server on loopback, nodemailer's
// smtp-server) and a webhook receiver (an HTTP server on loopback) reports both delivered,
// and both servers get the firing and the resolved notification; targeting one receiver
// reaches only it; a receiver whose endpoint answers 500 is reported failed (exit 4).
// gantry runs as a child process without blocking this one (the servers answer meanwhile).
// Both services' subtrees are deleted afterwards, so Alertmanager is left as found.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireCluster } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import {
  applyAlertmanagerConfig,
  fragmentsDirOf,
  removeAlertmanagerConfig,
  renderAlertmanager,
  resolveReceiverSecrets,
} from '../../src/monitor/index.js';
import type { AlertTestReport } from '../../src/monitor/index.js';
import { parseSpec } from '../../src/spec/index.js';
import type { ServiceSpec } from '../../src/spec/index.js';
import { gantryBin } from '../gantry-cli.js';
import { startHookServer, startMailbox } from './loopback-receivers.js';
import type { HookServer, Mailbox } from './loopback-receivers.js';
import type { CliResult } from '../gantry-cli.js';

interface AmEnv extends ClusterEnv {
  GANTRY_ALERTMANAGER_CONFIG?: string;
}

const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const id = Date.now().toString(36);
const ns = `gantry-amtest-${id}`;

let env: AmEnv;
let work: string;
let smtp: Mailbox;
let hook: HookServer;
/** Each alert of each webhook request, with the request's path and status. */
const posts = () =>
  hook.posts.flatMap((p) =>
    p.alerts.map((a) => ({ path: p.path, status: p.status, labels: a.labels })),
  );
const mails = () => smtp.mails;
const applied: ServiceSpec[] = [];

function specText(name: string, receivers: string): string {
  return `apiVersion: gantry.dev/v1alpha1
name: ${name}
namespace: ${ns}
image: 127.0.0.1:5000/none
monitoring:
  receivers:
${receivers}
  routes:
    - alerts: [CPUHigh]
      receivers: [${name === 'svc-ok' ? 'mail, hook' : 'broken'}]
`;
}

const OK_RECEIVERS = () => `    mail:
      kind: email
      to: [oncall@example.test]
      from: alertmanager@example.test
      smarthost: 127.0.0.1:${smtp.port}
      requireTLS: false
    hook:
      kind: webhook
      url: http://127.0.0.1:${hook.port}/ok
`;
const BAD_RECEIVERS = () => `    broken:
      kind: webhook
      url: http://127.0.0.1:${hook.port}/fail
`;

/** Writes the spec and loads its routing into Alertmanager (the library apply uses). */
async function applySpec(name: string, receivers: string): Promise<string> {
  const file = join(work, `${name}.yaml`);
  writeFileSync(file, specText(name, receivers));
  const spec = parseSpec(specText(name, receivers));
  const config = env.GANTRY_ALERTMANAGER_CONFIG!;
  const secrets = resolveReceiverSecrets(spec, work);
  const rendered = renderAlertmanager(spec, {
    secrets,
    secretsDir: fragmentsDirOf({ configPath: config }),
  });
  applied.push(spec);
  await applyAlertmanagerConfig(spec, rendered, { configPath: config, url: env.ALERTMANAGER_URL });
  return file;
}

/** gantry ARGS as a child process, without blocking this process's servers. */
function gantry(args: string[], timeoutMs = 150_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [gantryBin, ...args], {
      env: {
        ...process.env,
        ...env,
        GANTRY_PROMETHEUS_URL: env.PROMETHEUS_URL,
        GANTRY_ALERT_RELAY_URL: 'http://127.0.0.1:9',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

before(
  async () => {
    if (skip) return;
    env = cluster as AmEnv;
    assert.ok(env.GANTRY_ALERTMANAGER_CONFIG, 'cluster env has no GANTRY_ALERTMANAGER_CONFIG');
    work = mkdtempSync(join(tmpdir(), 'gantry-amtest-'));
    smtp = await startMailbox();
    hook = await startHookServer((path) => (path === '/ok' ? 200 : 500));
  },
  { timeout: 30_000 },
);

after(
  async () => {
    if (skip) return;
    for (const spec of applied) {
      await removeAlertmanagerConfig(spec, {
        configPath: env.GANTRY_ALERTMANAGER_CONFIG!,
        url: env.ALERTMANAGER_URL,
      }).catch((err: Error) => console.error(`cleanup ${spec.name}: ${err.message}`));
    }
    const res = await fetch(`${env.ALERTMANAGER_URL}/api/v2/status`);
    const live = ((await res.json()) as { config: { original: string } }).config.original;
    assert.ok(!live.includes(ns), 'a test subtree is still in the live configuration');
    await smtp.close();
    await hook.close();
    rmSync(work, { recursive: true, force: true });
  },
  { timeout: 60_000 },
);

test(
  'alerts test: email and webhook receivers deliver the firing and the resolved notification',
  { skip, timeout: 150_000 },
  async () => {
    const file = await applySpec('svc-ok', OK_RECEIVERS());
    const r = await gantry(['-o', 'json', 'alerts', 'test', '-f', file, '--wait', '40s']);
    assert.equal(r.status, 0, `exit ${r.status}: ${r.stdout}\n${r.stderr}`);
    const report = JSON.parse(r.stdout) as AlertTestReport;
    assert.equal(report.ok, true);
    assert.deepEqual(
      report.receivers.map((x) => [x.receiver, x.kind, x.result, x.firing, x.resolved]),
      [
        ['mail', 'email', 'delivered', 'delivered', 'delivered'],
        ['hook', 'webhook', 'delivered', 'delivered', 'delivered'],
      ],
    );
    assert.match(r.stderr, /round 1\/1: GantryTest/, 'progress on stderr');
    const [testId] = report.testIds;
    assert.ok(testId);
    // What the servers got: a firing and a resolved notification each, for this test only.
    const mine = posts().filter((p) => p.labels.test_id === testId);
    assert.deepEqual(
      mine.map((p) => [p.path, p.status, p.labels.alertname, p.labels.gantry_test_receiver]),
      [
        ['/ok', 'firing', 'GantryTest', 'hook'],
        ['/ok', 'resolved', 'GantryTest', 'hook'],
      ],
    );
    // The subject holds the group's labels, test_id among them.
    const myMails = mails().filter((m) => m.subject.includes(testId));
    assert.deepEqual(
      myMails.map((m) => m.subject.replace(/\s.*$/, '')),
      ['[FIRING:1]', '[RESOLVED]'],
      mails()
        .map((m) => m.subject)
        .join(' | '),
    );
    assert.ok(myMails.every((m) => /GantryTest .*\bmail\b/.test(m.subject)));

    // Text output: the table.
    const t = await gantry(['alerts', 'test', 'hook', '-f', file, '--wait', '40s']);
    assert.equal(t.status, 0, t.stderr);
    const lines = t.stdout.trim().split('\n');
    assert.match(lines[0]!, /^RECEIVER\s+KIND\s+RESULT\s+DETAIL$/);
    assert.match(lines[1]!, /^hook\s+webhook\s+delivered\s+firing: alertmanager webhook: \+1 sent/);
    assert.equal(lines.length, 2, 'only the targeted receiver is reported');
  },
);

test('alerts test RECEIVER reaches only that receiver', { skip, timeout: 120_000 }, async () => {
  const file = join(work, 'svc-ok.yaml');
  const mailsBefore = mails().length;
  const r = await gantry(['-o', 'json', 'alerts', 'test', 'hook', '-f', file, '--wait', '40s']);
  assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
  const report = JSON.parse(r.stdout) as AlertTestReport;
  assert.deepEqual(
    report.receivers.map((x) => [x.receiver, x.result]),
    [['hook', 'delivered']],
  );
  const testId = report.testIds[0]!;
  assert.deepEqual(
    posts()
      .filter((p) => p.labels.test_id === testId)
      .map((p) => p.status),
    ['firing', 'resolved'],
  );
  // The mail receiver would have had both by now (group_wait 1s, group_interval 2s).
  await new Promise((res) => setTimeout(res, 3000));
  assert.equal(mails().length, mailsBefore, 'the mail receiver got the test alert too');
  assert.ok(!mails().some((m) => m.subject.includes(testId)));
  // A silence on the service's GantryTest stops it, and says so.
  const sil = await gantry([
    '-o',
    'json',
    'alerts',
    'silence',
    'GantryTest',
    '--for',
    '5m',
    '-f',
    file,
  ]);
  assert.equal(sil.status, 0, sil.stderr);
  const silenceId = (JSON.parse(sil.stdout) as { id: string }).id;
  try {
    const s = await gantry(['-o', 'json', 'alerts', 'test', 'hook', '-f', file, '--wait', '20s']);
    assert.equal(s.status, 4, s.stderr);
    const [h] = (JSON.parse(s.stdout) as AlertTestReport).receivers;
    assert.equal(h?.result, 'silenced');
    assert.match(h.detail, new RegExp(`silenced by ${silenceId}`));
    assert.ok(
      !posts().some(
        (p) => p.labels.test_id === (JSON.parse(s.stdout) as AlertTestReport).testIds[0],
      ),
    );
  } finally {
    await gantry(['alerts', 'unsilence', silenceId]);
  }
  const unknown = await gantry(['alerts', 'test', 'nobody', '-f', file]);
  assert.equal(unknown.status, 3, unknown.stderr);
  assert.match(unknown.stderr, /no receiver "nobody".*mail, hook/);
});

test(
  'alerts test: a receiver answering 500 is reported failed, exit 4',
  { skip, timeout: 150_000 },
  async () => {
    const file = await applySpec('svc-bad', BAD_RECEIVERS());
    const r = await gantry(['-o', 'json', 'alerts', 'test', '-f', file, '--wait', '40s']);
    assert.equal(r.status, 4, `exit ${r.status}: ${r.stdout}\n${r.stderr}`);
    const report = JSON.parse(r.stdout) as AlertTestReport;
    assert.equal(report.ok, false);
    const [broken] = report.receivers;
    assert.equal(broken?.receiver, 'broken');
    assert.equal(broken.result, 'failed', broken.detail);
    assert.equal(broken.resolved, 'not-sent');
    assert.match(broken.detail, /failed attempts/);
    const testId = report.testIds[0]!;
    assert.ok(
      posts().some((p) => p.path === '/fail' && p.labels.test_id === testId),
      'Alertmanager did not try the endpoint',
    );
  },
);

test(
  "alerts status: each receiver with its integration's counts and their source",
  { skip, timeout: 60_000 },
  async () => {
    const r = await gantry(['-o', 'json', 'alerts', 'status', '-f', join(work, 'svc-ok.yaml')]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      alertmanager: {
        alertmanager: { error?: string };
        receivers: {
          receiver: string;
          integration: string;
          lastAttempt: string;
          alertmanager: { requests: number; source: string } | null;
        }[];
      };
    };
    assert.equal(out.alertmanager.alertmanager.error, undefined);
    const byName = Object.fromEntries(out.alertmanager.receivers.map((x) => [x.receiver, x]));
    assert.equal(byName.mail?.integration, 'email');
    assert.equal(byName.hook?.integration, 'webhook');
    assert.ok(byName.hook.alertmanager!.requests >= 3);
    assert.match(byName.hook.alertmanager!.source, /webhook integration, all receivers/);
    assert.equal(byName.mail.lastAttempt, 'n/a');
    const text = await gantry(['alerts', 'status', '-f', join(work, 'svc-ok.yaml')]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /RECEIVER\s+KIND\s+ALERTS/);
    assert.match(text.stdout, /^mail\s+email\s+0\s+email: \d+ sent/m);

    // Silenced alerts: a silence on CPUHigh, an alert it matches.
    const sil = await gantry([
      '-o',
      'json',
      'alerts',
      'silence',
      'CPUHigh',
      '--for',
      '10m',
      '-f',
      join(work, 'svc-ok.yaml'),
    ]);
    assert.equal(sil.status, 0, sil.stderr);
    const silenceId = (JSON.parse(sil.stdout) as { id: string }).id;
    const post = (endsAt: Date) =>
      fetch(`${env.ALERTMANAGER_URL}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([
          {
            labels: {
              alertname: 'GantryCPUHigh',
              namespace: ns,
              service: 'svc-ok',
              severity: 'warning',
            },
            startsAt: new Date(Date.now() - 1000).toISOString(),
            endsAt: endsAt.toISOString(),
          },
        ]),
      });
    assert.equal((await post(new Date(Date.now() + 300_000))).status, 200);
    try {
      const s = await gantry(['-o', 'json', 'alerts', 'status', '-f', join(work, 'svc-ok.yaml')]);
      const alerts = (
        JSON.parse(s.stdout) as {
          alertmanager: { alerts: { alertname: string; state: string; silencedBy: string[] }[] };
        }
      ).alertmanager.alerts;
      assert.deepEqual(
        alerts.map((a) => [a.alertname, a.state, a.silencedBy]),
        [['GantryCPUHigh', 'suppressed', [silenceId]]],
      );
      const st = await gantry(['alerts', 'status', '-f', join(work, 'svc-ok.yaml')]);
      assert.match(st.stdout, new RegExp(`GantryCPUHigh since \\S+: silenced by ${silenceId}`));
    } finally {
      await post(new Date());
      await gantry(['alerts', 'unsilence', silenceId]);
    }
  },
);
