// gantry alerts apply / delete / silence against the local cluster's real Alertmanager
// (Debian's 0.25, reading the file hack/cluster/cluster env names): two services'
// subtrees live side by side; a configuration amtool or Alertmanager refuses leaves the
// previous one live; delete removes only that service's subtree; silences are created,
// listed and expired through API v2; an email receiver delivers a firing and a resolved
// notification to a real SMTP server on loopback (nodemailer's smtp-server, with AUTH
// PLAIN checking the password Alertmanager reads from its file), and a webhook receiver
// gets both too. Every subtree is deleted afterwards, so Alertmanager is left as found.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { eventually, kubectl, requireCluster } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import {
  applyAlertmanagerConfig,
  fragmentsDirOf,
  hasSubtree,
  renderAlertmanager,
} from '../../src/monitor/index.js';
import { parseSpec } from '../../src/spec/index.js';
import { runGantry } from '../gantry-cli.js';
import { startHookServer, startMailbox } from './loopback-receivers.js';
import type { HookServer, Mailbox } from './loopback-receivers.js';

interface AmEnv extends ClusterEnv {
  GANTRY_ALERTMANAGER_CONFIG?: string;
  GANTRY_PROMETHEUS_RULES_DIR?: string;
}

const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const id = Date.now().toString(36);
const ns = `gantry-am-${id}`;
const relaySecret = `alert-relay-channels-test-${id}`;
const SMTP_PASSWORD = `smtp-pw-${id}-Hq7Xk2`;
const PLATFORM_TOKEN = `platform-token-${id}-Jm4Rt8`;
const DING_TOKEN = `dingtoken-${id}-Wz5Nb1`;
const DING_SECRET = `SECding-${id}-Pv6Cx9`;
const SECRETS = [SMTP_PASSWORD, PLATFORM_TOKEN, DING_TOKEN, DING_SECRET];

let env: AmEnv;
let work: string;
let smtp: Mailbox;
let hook: HookServer;
const mails = () => smtp.mails;
/** What reached the alert platform's URL (with its token in the path). */
const posts = () => hook.posts.filter((p) => p.path === `/hook/${PLATFORM_TOKEN}`);

function gantry(args: string[]) {
  const r = runGantry(
    args,
    {
      ...env,
      GANTRY_PROMETHEUS_URL: env.PROMETHEUS_URL,
      GANTRY_ALERT_RELAY_SECRET: `gantry-system/${relaySecret}`,
      TEST_SMTP_PASSWORD: SMTP_PASSWORD,
      TEST_PLATFORM_URL: `http://127.0.0.1:${hook.port}/hook/${PLATFORM_TOKEN}`,
      TEST_DING_URL: `http://127.0.0.1:9/robot/send?access_token=${DING_TOKEN}`,
      TEST_DING_SECRET: DING_SECRET,
    },
    120_000,
  );
  for (const s of SECRETS) {
    assert.ok(!(r.stdout + r.stderr).includes(s), `gantry ${args.join(' ')} printed a secret`);
  }
  return r;
}

function specText(name: string, extraRoute = ''): string {
  return `apiVersion: gantry.dev/v1alpha1
name: ${name}
namespace: ${ns}
image: 127.0.0.1:5000/none
monitoring:
  groupWait: 1s
  groupInterval: 2s
  receivers:
    mail:
      kind: email
      to: [oncall@example.test]
      from: alertmanager@example.test
      smarthost: 127.0.0.1:${smtp.port}
      authUsername: am
      authPassword: { fromEnv: TEST_SMTP_PASSWORD }
      requireTLS: false
    platform:
      kind: webhook
      url: { fromEnv: TEST_PLATFORM_URL }
    robot:
      kind: dingtalk
      url: { fromEnv: TEST_DING_URL }
      secret: { fromEnv: TEST_DING_SECRET }
  routes:
    - alerts: [CPUHigh]
      receivers: [mail]
    - alerts: [MemoryHigh]
      receivers: [platform]
    - alerts: [LatencyP99High]
      receivers: [robot]
${extraRoute}`;
}

function writeSpec(name: string, extraRoute = ''): string {
  const file = join(work, `${name}.yaml`);
  writeFileSync(file, specText(name, extraRoute));
  return file;
}

async function liveConfig(): Promise<{ text: string; doc: unknown }> {
  const res = await fetch(`${env.ALERTMANAGER_URL}/api/v2/status`);
  const body = (await res.json()) as { config: { original: string } };
  return { text: body.config.original, doc: parse(body.config.original) as unknown };
}

const svc = (name: string) => ({ namespace: ns, name });
const recv = (name: string, r: string) => `${ns}.${name}.${r}`;

before(
  async () => {
    if (skip) return;
    env = cluster as AmEnv;
    assert.ok(env.GANTRY_ALERTMANAGER_CONFIG, 'cluster env has no GANTRY_ALERTMANAGER_CONFIG');
    work = mkdtempSync(join(tmpdir(), 'gantry-am-'));
    smtp = await startMailbox({ user: 'am', password: SMTP_PASSWORD });
    hook = await startHookServer();
  },
  { timeout: 30_000 },
);

after(
  async () => {
    if (skip) return;
    for (const name of ['svc-a', 'svc-b']) {
      const file = join(work, `${name}.yaml`);
      if (existsSync(file)) writeFileSync(file, specText(name));
      if (existsSync(file)) gantry(['alerts', 'delete', '-f', file]);
    }
    kubectl(env, ['-n', 'gantry-system', 'delete', 'secret', relaySecret, '--ignore-not-found']);
    const live = await liveConfig();
    assert.ok(!live.text.includes(ns), 'a test subtree is still in the live configuration');
    await smtp.close();
    await hook.close();
    rmSync(work, { recursive: true, force: true });
  },
  { timeout: 120_000 },
);

test(
  'apply: two services, both subtrees live; credentials only where Alertmanager reads them',
  { skip, timeout: 120_000 },
  async () => {
    for (const name of ['svc-a', 'svc-b']) {
      const r = gantry(['-o', 'json', 'alerts', 'apply', '-f', writeSpec(name)]);
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout) as {
        routing: { alertmanager: { receivers: string[] }; relay: { action: string } };
      };
      assert.deepEqual(out.routing.alertmanager.receivers, [
        recv(name, 'mail'),
        recv(name, 'platform'),
        recv(name, 'robot'),
      ]);
      assert.equal(out.routing.relay.action, 'written');
    }
    const live = await liveConfig();
    assert.ok(hasSubtree(live.doc, svc('svc-a'), [recv('svc-a', 'mail'), recv('svc-a', 'robot')]));
    assert.ok(hasSubtree(live.doc, svc('svc-b'), [recv('svc-b', 'mail'), recv('svc-b', 'robot')]));
    const config = env.GANTRY_ALERTMANAGER_CONFIG!;
    assert.equal(statSync(config).mode & 0o777, 0o600);
    const text = readFileSync(config, 'utf8');
    assert.ok(!text.includes(SMTP_PASSWORD), 'the SMTP password is in alertmanager.yml');
    const pwFile = join(
      fragmentsDirOf({ configPath: config }),
      `${recv('svc-a', 'mail')}.smtp-password`,
    );
    assert.equal(readFileSync(pwFile, 'utf8'), SMTP_PASSWORD);
    assert.equal(statSync(pwFile).mode & 0o777, 0o600);
    // The relay's channels: one key per service in one Secret.
    const secret = JSON.parse(
      kubectl(env, ['-n', 'gantry-system', 'get', 'secret', relaySecret, '-o', 'json']),
    ) as { data: Record<string, string> };
    assert.deepEqual(Object.keys(secret.data).sort(), [`${ns}.svc-a.json`, `${ns}.svc-b.json`]);
    const channels = JSON.parse(
      Buffer.from(secret.data[`${ns}.svc-a.json`]!, 'base64').toString(),
    ) as Record<string, { channels: { kind: string; secret?: string }[] }>;
    assert.deepEqual(Object.keys(channels), [recv('svc-a', 'robot')]);
    assert.equal(channels[recv('svc-a', 'robot')]!.channels[0]!.secret, DING_SECRET);
  },
);

test('a configuration amtool refuses changes nothing', { skip, timeout: 60_000 }, async () => {
  const config = env.GANTRY_ALERTMANAGER_CONFIG!;
  const before = readFileSync(config, 'utf8');
  const liveBefore = (await liveConfig()).text;
  const r = gantry([
    'alerts',
    'apply',
    '-f',
    writeSpec('svc-a', `    - matchers: ['pod=~"("']\n      receivers: [mail]\n`),
  ]);
  assert.equal(r.status, 3, `exit ${r.status}: ${r.stderr}`);
  assert.match(r.stderr, /amtool check-config refused/);
  assert.equal(readFileSync(config, 'utf8'), before);
  assert.equal((await liveConfig()).text, liveBefore);
  const frag = readFileSync(
    join(fragmentsDirOf({ configPath: config }), `${ns}.svc-a.yml`),
    'utf8',
  );
  assert.ok(!frag.includes('pod=~'), 'the refused fragment stayed');
});

test(
  'a configuration Alertmanager refuses is replaced by the previous one',
  { skip, timeout: 60_000 },
  async () => {
    const config = env.GANTRY_ALERTMANAGER_CONFIG!;
    const before = readFileSync(config, 'utf8');
    const liveBefore = (await liveConfig()).text;
    const spec = parseSpec(
      specText('svc-a', `    - matchers: ['pod=~"("']\n      receivers: [mail]\n`),
    );
    const rendered = renderAlertmanager(spec, {
      secretsDir: fragmentsDirOf({ configPath: config }),
    });
    await assert.rejects(
      applyAlertmanagerConfig(spec, rendered, {
        configPath: config,
        url: env.ALERTMANAGER_URL,
        amtool: 'true', // skip the check: Alertmanager itself must refuse it
      }),
      /refused the configuration.*previous configuration was put back/s,
    );
    assert.equal(readFileSync(config, 'utf8'), before);
    assert.equal((await liveConfig()).text, liveBefore);
  },
);

test(
  'email and webhook receivers deliver firing and resolved notifications',
  { skip, timeout: 90_000 },
  async () => {
    const alert = (alertname: string, endsAt: Date) => ({
      labels: { alertname, namespace: ns, service: 'svc-a', severity: 'warning' },
      annotations: { summary: `test ${alertname}` },
      startsAt: new Date(Date.now() - 1000).toISOString(),
      endsAt: endsAt.toISOString(),
    });
    const post = async (endsAt: Date) => {
      const res = await fetch(`${env.ALERTMANAGER_URL}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([alert('GantryCPUHigh', endsAt), alert('GantryMemoryHigh', endsAt)]),
      });
      assert.equal(res.status, 200, await res.text());
    };
    await post(new Date(Date.now() + 600_000));
    const firing = await eventually('a FIRING mail', 30_000, () =>
      mails().find((m) => /\[FIRING:1\] GantryCPUHigh/.test(m.subject)),
    );
    assert.equal(firing.to, 'oncall@example.test');
    assert.ok(smtp.logins.length > 0, 'Alertmanager did not authenticate with the password file');
    await eventually('a firing webhook post', 30_000, () =>
      posts().find(
        (p) => p.status === 'firing' && p.alerts[0]?.labels.alertname === 'GantryMemoryHigh',
      ),
    );
    assert.ok(
      !mails().some((m) => m.subject.includes('GantryMemoryHigh')),
      'MemoryHigh was routed to the mail receiver too',
    );
    await post(new Date(Date.now() - 500));
    await eventually('a RESOLVED mail', 30_000, () =>
      mails().find((m) => /\[RESOLVED\] GantryCPUHigh/.test(m.subject)),
    );
    await eventually('a resolved webhook post', 30_000, () =>
      posts().find((p) => p.status === 'resolved'),
    );
  },
);

test('silence, silences, unsilence through API v2', { skip, timeout: 60_000 }, () => {
  const file = join(work, 'svc-a.yaml');
  writeFileSync(file, specText('svc-a'));
  const made = gantry([
    '-o',
    'json',
    'alerts',
    'silence',
    'CPUHigh',
    '--for',
    '1h',
    '--comment',
    `test ${id}`,
    '-f',
    file,
  ]);
  assert.equal(made.status, 0, made.stderr);
  const s = JSON.parse(made.stdout) as { id: string; endsAt: string };
  const hours = (Date.parse(s.endsAt) - Date.now()) / 3_600_000;
  assert.ok(hours > 0.95 && hours <= 1, `ends in ${hours} h`);
  const list = gantry(['-o', 'json', 'alerts', 'silences', '-f', file]);
  assert.equal(list.status, 0, list.stderr);
  const silences = (
    JSON.parse(list.stdout) as {
      silences: { id: string; comment: string; matchers: { name: string; value: string }[] }[];
    }
  ).silences;
  const mine = silences.find((x) => x.id === s.id);
  assert.ok(mine, 'the new silence is not listed');
  assert.equal(mine.comment, `test ${id}`);
  assert.deepEqual(Object.fromEntries(mine.matchers.map((m) => [m.name, m.value])), {
    alertname: 'GantryCPUHigh',
    namespace: ns,
    service: 'svc-a',
  });
  const other = gantry(['-o', 'json', 'alerts', 'silences', '-f', writeSpec('svc-b')]);
  assert.ok(!other.stdout.includes(s.id), "svc-b lists svc-a's silence");
  const gone = gantry(['alerts', 'unsilence', s.id]);
  assert.equal(gone.status, 0, gone.stderr);
  const after = gantry(['-o', 'json', 'alerts', 'silences', '-f', file]);
  assert.ok(!after.stdout.includes(s.id), 'the expired silence is still listed');
  const expired = gantry(['-o', 'json', 'alerts', 'silences', '--expired', '-f', file]);
  assert.ok(expired.stdout.includes(s.id));
  assert.equal(gantry(['alerts', 'silence', 'CPUHigh', '--for', 'soon', '-f', file]).status, 2);
});

test(
  "delete removes only that service's subtree and relay key",
  { skip, timeout: 60_000 },
  async () => {
    const r = gantry(['alerts', 'delete', '-f', join(work, 'svc-a.yaml')]);
    assert.equal(r.status, 0, r.stderr);
    const live = await liveConfig();
    assert.ok(!hasSubtree(live.doc, svc('svc-a'), []), 'svc-a is still routed');
    assert.ok(!live.text.includes(recv('svc-a', 'mail')));
    assert.ok(
      hasSubtree(live.doc, svc('svc-b'), [recv('svc-b', 'mail')]),
      'svc-b lost its subtree',
    );
    const dir = fragmentsDirOf({ configPath: env.GANTRY_ALERTMANAGER_CONFIG! });
    assert.ok(!existsSync(join(dir, `${recv('svc-a', 'mail')}.smtp-password`)));
    const secret = JSON.parse(
      kubectl(env, ['-n', 'gantry-system', 'get', 'secret', relaySecret, '-o', 'json']),
    ) as { data: Record<string, string> };
    assert.deepEqual(Object.keys(secret.data), [`${ns}.svc-b.json`]);
  },
);
