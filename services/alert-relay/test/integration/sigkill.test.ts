// A relay SIGKILLed in the middle of a burst loses none of the alerts it answered 200 for: the
// restarted process finds them in its queue directory and delivers them, still within the robots'
// per-window limits (the limiter's state is on disk too).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { StandIns } from '../helpers/standins.js';
import { SecretVolume, eventually, payload, post, spawnRelay, tempDir } from '../helpers/relay.js';

const stand = new StandIns();
after(() => stand.stop());

test('SIGKILL mid-burst: every alert answered 200 is delivered after the restart', async (t) => {
  await stand.start();
  stand.windowMs = 1000;
  stand.delayMs = 60; // a slow far end keeps deliveries in flight and queued
  stand.dingtalk.set('dt-kill-token-01', 'SECkill01');
  stand.wecomKeys.add('wc-kill-key-01');
  stand.aliyunKeys.set('LTAI-kill', 'kill-secret-01');
  const volume = new SecretVolume();
  volume.write({
    'default.kill.oncall': {
      channels: [
        {
          kind: 'dingtalk',
          url: `${stand.url}/robot/send?access_token=dt-kill-token-01`,
          secret: 'SECkill01',
        },
        { kind: 'wecom', url: `${stand.url}/cgi-bin/webhook/send?key=wc-kill-key-01` },
        {
          kind: 'sms',
          provider: 'aliyun',
          endpoint: stand.url,
          accessKeyId: 'LTAI-kill',
          accessKeySecret: 'kill-secret-01',
          signName: 'x',
          templateCode: 'SMS_1',
          phoneNumbers: ['13900000000'],
        },
      ],
    },
  });
  const env = {
    RELAY_CHANNELS: volume.file,
    RELAY_QUEUE_DIR: tempDir('relay-kill-'),
    RELAY_RATE_WINDOW_MS: '1000',
    RELAY_RETRY_BASE_MS: '100',
  };
  const first = await spawnRelay(env);
  const big = 'The error rate of the service is above its objective. '.repeat(10);
  const acked: string[] = [];
  let killed = false;
  const send = async (i: number) => {
    const name = `Kill${i}`;
    try {
      const status = await post(
        first.baseUrl,
        'default.kill.oncall',
        payload('default.kill.oncall', [{ name, annotations: { description: big } }]),
      );
      if (status === 200) acked.push(name);
    } catch {
      /* the connection died with the process: Alertmanager would retry this one */
    }
    if (!killed && acked.length >= 40) {
      killed = true;
      first.kill('SIGKILL');
    }
  };
  for (let i = 0; i < 100 && !killed; i += 5)
    await Promise.all([0, 1, 2, 3, 4].map((k) => send(i + k)));
  await first.exited;
  assert.ok(killed, 'the relay was killed during the burst');
  const beforeRestart = new Set(stand.messages.map((m) => m.text));
  const delivered = (robot: string, name: string) =>
    stand.messages.some((m) => m.robot === robot && m.text.includes(`] ${name}\n`));
  const missing = () =>
    acked.filter((n) => !delivered('dt-kill-token-01', n) || !delivered('wc-kill-key-01', n));
  const undeliveredAtKill = missing().length;
  assert.ok(undeliveredAtKill > 0, 'some acknowledged alerts were still undelivered at the kill');

  const second = await spawnRelay(env);
  try {
    const recovered = await second.waitForLog(
      (l) => l.msg === 'redelivering jobs left pending by the previous run',
    );
    assert.ok(Number(recovered.pending) > 0);
    t.diagnostic(
      `acknowledged ${acked.length}; undelivered at the kill ${undeliveredAtKill}; jobs recovered ${Number(recovered.pending)}`,
    );
    await eventually(
      () => missing().length === 0,
      `acknowledged alerts delivered after restart: ${missing().join(',')}`,
      30_000,
    );
    await eventually(
      () =>
        acked.every((n) =>
          stand.phone.some((p) => JSON.parse(p.params.TemplateParam!).alert === n),
        ),
      'one SMS per acknowledged group',
      30_000,
    );
    assert.ok(stand.messages.some((m) => !beforeRestart.has(m.text)));
    for (const r of ['dt-kill-token-01', 'wc-kill-key-01'])
      assert.ok(stand.maxPerWindow(r) <= 20, r);
    assert.deepEqual(stand.rejections, []);
    for (const out of [first.output(), second.output()]) {
      for (const s of [
        'dt-kill-token-01',
        'SECkill01',
        'wc-kill-key-01',
        'kill-secret-01',
        'LTAI-kill',
      ])
        assert.ok(!out.includes(s), s);
    }
  } finally {
    second.kill();
  }
});
