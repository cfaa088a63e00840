// A repeat after the dedupe window goes out again; SIGTERM drains the queue before exiting.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseChannels } from '../../src/config.js';
import { StandIns } from '../helpers/standins.js';
import { SecretVolume, eventually, payload, post, spawnRelay, tempDir } from '../helpers/relay.js';

const stand = new StandIns();
after(() => stand.stop());

test('the deploy example channels file is valid', () => {
  const example = fileURLToPath(
    new URL('../../../../deploy/alert-relay/channels.example.json', import.meta.url),
  );
  const cfg = parseChannels(readFileSync(example, 'utf8'));
  assert.deepEqual(
    cfg.receivers.get('default.user-service.oncall')?.channels.map((c) => c.kind),
    ['dingtalk', 'wecom', 'sms', 'voice'],
  );
});

test('dedupe window: a repeat inside it is dropped, a repeat after it is sent; SIGTERM drains', async () => {
  await stand.start();
  stand.wecomKeys.add('wc-life-key-01');
  const volume = new SecretVolume();
  volume.write({
    'default.life.oncall': {
      channels: [{ kind: 'wecom', url: `${stand.url}/cgi-bin/webhook/send?key=wc-life-key-01` }],
    },
  });
  const relay = await spawnRelay({
    RELAY_CHANNELS: volume.file,
    RELAY_QUEUE_DIR: tempDir('relay-life-'),
    RELAY_DEDUPE_WINDOW_MS: '800',
  });
  try {
    const count = (name: string) =>
      stand.messages.filter((m) => m.text.includes(`] ${name}\n`)).length;
    const p = payload('default.life.oncall', [{ name: 'Repeat' }]);
    assert.equal(await post(relay.baseUrl, 'default.life.oncall', p), 200);
    await eventually(() => count('Repeat') === 1, 'first notification');
    assert.equal(await post(relay.baseUrl, 'default.life.oncall', p), 200);
    await new Promise((r) => setTimeout(r, 900));
    assert.equal(count('Repeat'), 1, 'the repeat inside the window was dropped');
    assert.equal(await post(relay.baseUrl, 'default.life.oncall', p), 200);
    await eventually(() => count('Repeat') === 2, 'the repeat after the window');

    stand.delayMs = 300;
    for (const name of ['Drain1', 'Drain2', 'Drain3']) {
      assert.equal(
        await post(
          relay.baseUrl,
          'default.life.oncall',
          payload('default.life.oncall', [{ name }]),
        ),
        200,
      );
    }
    relay.kill('SIGTERM');
    assert.equal(await relay.exited, 0);
    assert.deepEqual(['Drain1', 'Drain2', 'Drain3'].map(count), [1, 1, 1]);
    assert.ok(relay.logs.some((l) => l.msg === 'exiting; queue empty'));
  } finally {
    relay.kill();
  }
});
