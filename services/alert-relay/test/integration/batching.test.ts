// The real robot limit (20 messages in 60 s) against a burst as Alertmanager delivers one: 100
// alert groups, one webhook each, arriving over about a second (Alertmanager flushes every new
// group after its own group_wait). Sending each message the moment something is waiting spent
// the robot's 20 messages of the minute on the first few dozen alerts and held the rest for a
// whole minute; the relay gathers a burst once a robot has had a few messages in the window, so
// the 100 alerts arrive within seconds, in a handful of messages. A lone alert still leaves at
// once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { StandIns } from '../helpers/standins.js';
import type { RelayProcess } from '../helpers/relay.js';
import { SecretVolume, eventually, payload, post, spawnRelay, tempDir } from '../helpers/relay.js';

const S = {
  dtBurst: 'dt-trickle-token-8c1e',
  dtBurstSecret: 'SECtrickle7a2b9f',
  wcBurst: 'wc-trickle-key-41d0',
  dtLone: 'dt-lone-token-5b3a',
};

const stand = new StandIns();
const volume = new SecretVolume();
let relay: RelayProcess;

before(async () => {
  await stand.start();
  stand.dingtalk.set(S.dtBurst, S.dtBurstSecret);
  stand.dingtalk.set(S.dtLone, undefined);
  stand.wecomKeys.add(S.wcBurst);
  const u = stand.url;
  volume.write({
    'default.trickle.oncall': {
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
    'default.lone.oncall': {
      language: 'en',
      channels: [{ kind: 'dingtalk', url: `${u}/robot/send?access_token=${S.dtLone}` }],
    },
  });
  relay = await spawnRelay({
    RELAY_CHANNELS: volume.file,
    RELAY_QUEUE_DIR: tempDir('relay-batching-'),
    RELAY_CONFIG_POLL_MS: '200',
  });
});

after(async () => {
  relay?.kill();
  await stand.stop();
});

const alertsOn = (robot: string) =>
  stand.messages
    .filter((m) => m.robot === robot)
    .reduce((n, m) => n + (m.text.match(/^#### .*\] Trickle\d+$/gm)?.length ?? 0), 0);

test('100 groups arriving one by one reach both robots within seconds of the last, at the real 20-per-minute limit', async (t) => {
  for (let i = 0; i < 100; i++) {
    const status = await post(
      relay.baseUrl,
      'default.trickle.oncall',
      payload('default.trickle.oncall', [{ name: `Trickle${i}` }]),
    );
    assert.equal(status, 200);
    await new Promise((r) => setTimeout(r, 10));
  }
  const last = Date.now();
  // Without gathering, the robots' 20 messages went on the first alerts and the rest waited
  // for the window to roll on: a minute.
  await eventually(
    () => alertsOn(S.dtBurst) >= 100 && alertsOn(S.wcBurst) >= 100,
    'all 100 alerts on both robots',
    20_000,
  );
  const dt = stand.messages.filter((m) => m.robot === S.dtBurst).length;
  const wc = stand.messages.filter((m) => m.robot === S.wcBurst).length;
  t.diagnostic(
    `all 100 alerts ${Date.now() - last} ms after the last post: ${dt} DingTalk and ${wc} WeCom messages`,
  );
  for (const robot of [S.dtBurst, S.wcBurst]) {
    assert.equal(alertsOn(robot), 100, 'an alert was sent twice');
    assert.ok(stand.maxPerWindow(robot) <= 20);
  }
  assert.deepEqual(stand.rejections, []);
});

test('a lone alert is not held back', async () => {
  const sent = Date.now();
  assert.equal(
    await post(
      relay.baseUrl,
      'default.lone.oncall',
      payload('default.lone.oncall', [{ name: 'Lone1' }]),
    ),
    200,
  );
  await eventually(
    () => stand.messages.some((m) => m.robot === S.dtLone),
    'the lone alert on its robot',
    5000,
  );
  const at = stand.messages.find((m) => m.robot === S.dtLone)!.at;
  assert.ok(at - sent < 1000, `the lone alert took ${at - sent} ms`);
});
