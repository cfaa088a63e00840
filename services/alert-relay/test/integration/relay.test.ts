// The relay as a process against the loopback stand-ins: burst within robot limits, retries,
// dedupe, resolved messages, SMS/voice signatures, unknown receivers, reload, bounded failure,
// and no secret in anything it prints, serves or stores.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { StandIns } from '../helpers/standins.js';
import type { RelayProcess } from '../helpers/relay.js';
import { SecretVolume, eventually, payload, post, spawnRelay, tempDir } from '../helpers/relay.js';

const S = {
  dtBurst: 'dt-burst-token-3f9a1c',
  dtBurstSecret: 'SECburst0c5b7e2d91',
  wcBurst: 'wc-burst-key-77e1a0',
  dtMain: 'dt-main-token-a81b22',
  dtMainSecret: 'SECmain5d0e4419aa',
  wcMain: 'wc-main-key-12cd9e',
  wcFlaky: 'wc-flaky-key-5e5e31',
  wcBroken: 'wc-unknown-key-9d9d02',
  akId: 'LTAI-test-id-4f2a',
  akSecret: 'ak-secret-value-c0ffee',
};

const stand = new StandIns();
const volume = new SecretVolume();
const queueDir = tempDir('relay-queue-');
let relay: RelayProcess;

function channels(extra: Record<string, unknown> = {}) {
  const u = stand.url;
  return {
    'default.burst.oncall': {
      language: 'en',
      channels: [
        {
          kind: 'dingtalk',
          url: `${u}/robot/send?access_token=${S.dtBurst}`,
          secret: S.dtBurstSecret,
        },
        { kind: 'wecom', url: `${u}/cgi-bin/webhook/send?key=${S.wcBurst}` },
      ],
    },
    'default.user-service.oncall': {
      language: 'zh',
      channels: [
        {
          kind: 'dingtalk',
          url: `${u}/robot/send?access_token=${S.dtMain}`,
          secret: S.dtMainSecret,
          atMobiles: ['13800000001'],
        },
        {
          kind: 'wecom',
          url: `${u}/cgi-bin/webhook/send?key=${S.wcMain}`,
          mentionedMobiles: ['13800000002'],
        },
        {
          kind: 'sms',
          provider: 'aliyun',
          endpoint: u,
          accessKeyId: S.akId,
          accessKeySecret: S.akSecret,
          signName: '告警平台',
          templateCode: 'SMS_100',
          phoneNumbers: ['13800000003', '13800000004'],
        },
        {
          kind: 'voice',
          provider: 'aliyun',
          endpoint: u,
          accessKeyId: S.akId,
          accessKeySecret: S.akSecret,
          calledShowNumber: '057100000000',
          ttsCode: 'TTS_200',
          calledNumbers: ['13800000005'],
        },
      ],
      links: { console: 'http://console.local/services/user-service' },
    },
    'default.flaky.oncall': {
      language: 'en',
      channels: [{ kind: 'wecom', url: `${u}/cgi-bin/webhook/send?key=${S.wcFlaky}` }],
    },
    'default.broken.oncall': {
      channels: [{ kind: 'wecom', url: `${u}/cgi-bin/webhook/send?key=${S.wcBroken}` }],
    },
    ...extra,
  };
}

const textsOf = (robot: string) =>
  stand.messages.filter((m) => m.robot === robot).map((m) => m.text);
const countName = (robot: string, name: string) =>
  textsOf(robot).reduce((n, t) => n + (t.match(new RegExp(`\\] ${name}\\n`, 'g'))?.length ?? 0), 0);

before(async () => {
  await stand.start();
  stand.windowMs = 1500;
  stand.dingtalk.set(S.dtBurst, S.dtBurstSecret);
  stand.dingtalk.set(S.dtMain, S.dtMainSecret);
  for (const k of [S.wcBurst, S.wcMain, S.wcFlaky]) stand.wecomKeys.add(k);
  stand.aliyunKeys.set(S.akId, S.akSecret);
  volume.write(channels());
  relay = await spawnRelay({
    RELAY_CHANNELS: volume.file,
    RELAY_QUEUE_DIR: queueDir,
    RELAY_RATE_WINDOW_MS: '1500',
    RELAY_ROBOT_RATE_LIMIT: '20',
    RELAY_RETRY_BASE_MS: '100',
    RELAY_RETRY_MAX_MS: '800',
    RELAY_MAX_ATTEMPTS: '4',
    RELAY_HTTP_TIMEOUT_MS: '700',
    RELAY_CONFIG_POLL_MS: '200',
    RELAY_DEDUPE_WINDOW_MS: '60000',
    LOG_LEVEL: 'debug',
  });
});

after(async () => {
  relay?.kill();
  await stand.stop();
});

test('a burst of 100 alerts reaches each robot within 20 messages per window, none lost or doubled', async () => {
  const big = 'Latency of the checkout path is above its objective. '.repeat(10);
  const statuses: number[] = [];
  for (let i = 0; i < 100; i += 10) {
    const batch = Array.from({ length: 10 }, (_, k) =>
      post(
        relay.baseUrl,
        'default.burst.oncall',
        payload('default.burst.oncall', [
          { name: `Burst${i + k}`, annotations: { description: big } },
        ]),
      ),
    );
    statuses.push(...(await Promise.all(batch)));
  }
  assert.deepEqual(new Set(statuses), new Set([200]));
  await eventually(
    () =>
      [S.dtBurst, S.wcBurst].every((r) =>
        Array.from({ length: 100 }, (_, i) => countName(r, `Burst${i}`)).every((n) => n >= 1),
      ),
    'all 100 alerts on both robots',
    30_000,
  );
  for (const r of [S.dtBurst, S.wcBurst]) {
    for (let i = 0; i < 100; i++) assert.equal(countName(r, `Burst${i}`), 1, `Burst${i} on ${r}`);
    assert.ok(stand.maxPerWindow(r) <= 20, `${stand.maxPerWindow(r)} messages in one window`);
  }
  assert.deepEqual(
    stand.rejections.filter((x) => x.code === 130101 || x.code === 45009),
    [],
  );
  // The WeCom robot needed more than 20 messages (4096-byte limit), so its limiter did wait.
  assert.ok(textsOf(S.wcBurst).length > 20, `${textsOf(S.wcBurst).length} WeCom messages`);
  const metrics = await (await fetch(`${relay.baseUrl}/metrics`)).text();
  assert.match(metrics, /relay_rate_limit_waits_total\{channel="wecom"\} [1-9]/);
  assert.match(metrics, /relay_alerts_delivered_total\{channel="wecom"\} 100\b/);
});

test('firing alert: signed DingTalk, WeCom with mentions, SMS per number, voice; Chinese text', async () => {
  const before = stand.phone.length;
  const body = payload('default.user-service.oncall', [
    {
      name: 'HighCPU',
      annotations: { value: '92%', threshold: '80%', description: 'CPU above 80% for 5m' },
    },
  ]);
  assert.equal(await post(relay.baseUrl, 'default.user-service.oncall', body), 200);
  await eventually(
    () =>
      countName(S.dtMain, 'HighCPU') === 1 &&
      countName(S.wcMain, 'HighCPU') === 1 &&
      stand.phone.length === before + 3,
    'delivered everywhere',
  );
  const dt = stand.messages.find((m) => m.robot === S.dtMain)!;
  assert.match(dt.text, /\[告警\] HighCPU/);
  assert.match(dt.text, /当前值: 92% \(阈值 80%\)/);
  assert.match(dt.text, /@13800000001/);
  assert.deepEqual(dt.body.at?.atMobiles, ['13800000001']);
  const wc = stand.messages.find((m) => m.robot === S.wcMain)!;
  assert.deepEqual(wc.body.text?.mentioned_mobile_list, ['13800000002']);
  const sms = stand.phone.slice(before).filter((p) => p.action === 'SendSms');
  assert.deepEqual(sms.map((p) => p.params.PhoneNumbers).sort(), ['13800000003', '13800000004']);
  const vars = JSON.parse(sms[0]!.params.TemplateParam!) as Record<string, string>;
  assert.equal(vars.alert, 'HighCPU');
  assert.equal(vars.status, '告警');
  const voice = stand.phone.slice(before).filter((p) => p.action === 'SingleCallByTts');
  assert.equal(voice.length, 1);
  assert.equal(voice[0]!.params.CalledNumber, '13800000005');
});

test('the same alert again within the window is not sent twice; resolved is; a re-fire is', async () => {
  const phone = stand.phone.length;
  const again = payload('default.user-service.oncall', [{ name: 'HighCPU' }]);
  const res = await fetch(`${relay.baseUrl}/v1/alerts/default.user-service.oncall`, {
    method: 'POST',
    body: JSON.stringify(again),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'accepted', queued: 0, duplicates: 4 });
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(countName(S.dtMain, 'HighCPU'), 1);
  assert.equal(stand.phone.length, phone);

  const resolved = payload('default.user-service.oncall', [
    { name: 'HighCPU', status: 'resolved' },
  ]);
  assert.equal(await post(relay.baseUrl, 'default.user-service.oncall', resolved), 200);
  await eventually(
    () =>
      textsOf(S.dtMain).some((t) => /\[已恢复\] HighCPU/.test(t)) &&
      textsOf(S.wcMain).some((t) => /\[已恢复\] HighCPU/.test(t)) &&
      stand.phone.length === phone + 3,
    'resolved delivered',
  );
  assert.match(textsOf(S.dtMain).at(-1)!, /恢复于: 2026-12-05 04:05:00/);

  assert.equal(await post(relay.baseUrl, 'default.user-service.oncall', again), 200);
  await eventually(() => countName(S.dtMain, 'HighCPU') === 3, 'the re-fire delivered');
});

test('a timeout and 500s are retried until delivered', async () => {
  const before = stand.requests;
  stand.hang = 1;
  stand.fail500 = 2;
  assert.equal(
    await post(
      relay.baseUrl,
      'default.flaky.oncall',
      payload('default.flaky.oncall', [{ name: 'Flaky' }]),
    ),
    200,
  );
  await eventually(() => countName(S.wcFlaky, 'Flaky') === 1, 'delivered after retries');
  assert.ok(stand.requests - before >= 4);
  await relay.waitForLog(
    (l) => l.msg === 'delivery attempt failed; will retry' && /timeout/.test(String(l.reason)),
  );
  await relay.waitForLog(
    (l) => l.msg === 'delivery attempt failed; will retry' && l.reason === 'HTTP 500',
  );
});

test('a channel that keeps refusing is marked failed after bounded attempts (metric, log, failed/)', async () => {
  assert.equal(
    await post(
      relay.baseUrl,
      'default.broken.oncall',
      payload('default.broken.oncall', [{ name: 'Doomed' }]),
    ),
    200,
  );
  const line = await relay.waitForLog(
    (l) => l.msg === 'delivery failed for good; job moved to failed/',
    15_000,
  );
  assert.equal(line.attempts, 4);
  assert.match(String(line.reason), /errcode 93000/);
  assert.equal(readdirSync(join(queueDir, 'failed')).length, 1);
  const metrics = await (await fetch(`${relay.baseUrl}/metrics`)).text();
  assert.match(metrics, /relay_deliveries_total\{channel="wecom",outcome="failed"\} 1\b/);
});

test('unknown receiver is 404, a bad payload 400, and a new receiver is picked up on reload', async () => {
  const p = payload('default.new.oncall', [{ name: 'Fresh' }]);
  assert.equal(await post(relay.baseUrl, 'default.new.oncall', p), 404);
  assert.equal(await post(relay.baseUrl, 'default.new.oncall', { version: '3' }), 400);
  volume.write(
    channels({
      'default.new.oncall': {
        channels: [{ kind: 'wecom', url: `${stand.url}/cgi-bin/webhook/send?key=${S.wcFlaky}` }],
      },
    }),
  );
  await eventually(
    async () => (await post(relay.baseUrl, 'default.new.oncall', p)) === 200,
    'reloaded',
  );
  await eventually(() => countName(S.wcFlaky, 'Fresh') === 1, 'delivered to the new receiver');
});

test('no secret value in stdout/stderr, metrics, answers or the queue directory', async () => {
  const metrics = await (await fetch(`${relay.baseUrl}/metrics`)).text();
  assert.match(metrics, /relay_queue_depth\{channel="dingtalk"\} 0/);
  assert.match(metrics, /relay_oldest_undelivered_age_seconds 0/);
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else files.push(readFileSync(join(d, e.name), 'utf8'));
    }
  };
  walk(queueDir);
  const haystacks = { output: relay.output(), metrics, queue: files.join('\n') };
  assert.ok(relay.output().length > 1000);
  for (const [where, text] of Object.entries(haystacks)) {
    for (const [name, value] of Object.entries(S)) {
      assert.ok(!text.includes(value), `${name} appears in ${where}`);
    }
  }
});
