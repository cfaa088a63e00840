import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseChannels, ConfigError } from '../../src/config.js';
import { dingtalkBody, dingtalkOverhead } from '../../src/channels/robots.js';
import { buildRobotMessage, byteLength, phoneParams } from '../../src/render.js';
import type { RenderOptions } from '../../src/render.js';
import type { Job } from '../../src/store.js';
import { payload } from '../helpers/relay.js';

function job(n: number, opts: { status?: 'firing' | 'resolved'; big?: boolean } = {}): Job {
  const p = payload(
    'r',
    Array.from({ length: n }, (_, i) => ({
      name: `Alert${i}`,
      status: opts.status ?? 'firing',
      annotations: {
        description: opts.big ? '很长的描述'.repeat(400) : 'CPU usage is above 80%',
        value: '92%',
        threshold: '80%',
      },
    })),
  );
  return {
    v: 1,
    id: 'j',
    receiver: 'r',
    channel: 0,
    kind: 'wecom',
    acceptedAt: 0,
    groupKey: p.groupKey,
    groupLabels: p.groupLabels,
    commonLabels: p.commonLabels,
    externalURL: p.externalURL,
    truncatedAlerts: 0,
    alerts: p.alerts,
    progress: 0,
    done: [],
    attempts: 0,
    nextAt: 0,
  };
}

const zh: RenderOptions = {
  language: 'zh',
  timeZone: 'Asia/Shanghai',
  links: { console: 'http://console.local' },
};
const en: RenderOptions = { ...zh, language: 'en' };

test('Chinese and English messages say what fired, where, value vs threshold, since when, links', () => {
  const z = buildRobotMessage([job(1)], zh, 4096, byteLength).text;
  assert.match(z, /\[告警\] Alert0/);
  assert.match(z, /服务: user-service · 命名空间: default/);
  assert.match(z, /级别: critical/);
  assert.match(z, /当前值: 92% \(阈值 80%\)/);
  assert.match(z, /开始于: 2026-12-05 04:00:00 \(Asia\/Shanghai\)/); // 20:00Z is 04:00 in Shanghai
  assert.match(z, /\[处理手册\]\(https:\/\/runbooks\.example\/x\)/);
  assert.match(z, /\[Prometheus\]\(http:\/\/prometheus\.local/);
  assert.match(z, /\[控制台\]\(http:\/\/console\.local\)/);
  const e = buildRobotMessage([job(1, { status: 'resolved' })], en, 4096, byteLength).text;
  assert.match(e, /\[RESOLVED\] Alert0/);
  assert.match(e, /Resolved at: 2026-12-05 04:05:00 \(lasted 5m\)/);
  assert.match(e, /Value: 92% \(threshold 80%\)/);
});

test('a big group is split at 4096 bytes with "and N more", and every alert goes out once', () => {
  const j = job(60, { big: true });
  const seen: string[] = [];
  let messages = 0;
  while (j.progress < j.alerts.length) {
    const m = buildRobotMessage([j], en, 4096, byteLength);
    assert.ok(byteLength(m.text) <= 4096, `message of ${byteLength(m.text)} bytes`);
    const upto = m.parts[0]!.upto;
    assert.ok(upto > j.progress, 'progress');
    if (upto < j.alerts.length)
      assert.match(m.text, new RegExp(`and ${j.alerts.length - upto} more`));
    for (const [, name] of m.text.matchAll(/\] (Alert\d+)\n/g)) seen.push(name!);
    j.progress = upto;
    messages++;
  }
  assert.ok(messages > 1);
  assert.deepEqual(
    seen,
    j.alerts.map((a) => a.labels.alertname),
  );
});

test('a DingTalk body stays within 20,000 bytes once JSON-encoded', () => {
  const j = job(200, { big: true });
  const ch = {
    kind: 'dingtalk' as const,
    url: 'http://x/robot/send?access_token=t',
    atMobiles: ['13800000000'],
    atAll: false,
  };
  const cost = (s: string) => byteLength(JSON.stringify(s)) - 2;
  const m = buildRobotMessage(
    [j],
    zh,
    20_000 - dingtalkOverhead(ch, 'x'.repeat(130)),
    cost,
    '\n@13800000000',
  );
  assert.ok(byteLength(dingtalkBody(ch, m.title, m.text)) <= 20_000);
  assert.ok(m.parts[0]!.upto > 1);
  assert.match(m.text, /还有 \d+ 条告警/);
});

test('SMS/voice template variables are at most 20 characters', () => {
  const j = job(1);
  j.alerts[0]!.labels.alertname = 'AVeryLongAlertNameThatGoesOnAndOn';
  const p = phoneParams(j, 'zh');
  for (const v of Object.values(p)) assert.ok([...v].length <= 20, v);
  assert.equal(p.status, '告警');
  assert.equal(p.count, '1');
});

test('configuration errors name the field, never the value', () => {
  const secret = 'SEC-very-secret-value';
  try {
    parseChannels(
      JSON.stringify({ 'a.b': { channels: [{ kind: 'dingtalk', url: secret, secret }] } }),
    );
    assert.fail('accepted');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /channels\[0\]\.url/);
    assert.ok(!err.message.includes(secret));
  }
});
