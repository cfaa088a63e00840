import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { ConfigWatcher } from '../../src/config/watch.js';
import type { ConfigChange } from '../../src/config/watch.js';
import type { ConfigValues } from '../../src/config/keys.js';
import { KubeVolume, tempDir, writeKeys } from '../helpers/dirs.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(initial: Record<string, string>, secrets: Record<string, string> = {}) {
  const cfg = tempDir();
  const sec = tempDir();
  dirs.push(cfg, sec);
  writeKeys(cfg, initial);
  writeKeys(sec, secrets);
  const load = () => loadConfig({ env: {}, configDir: cfg, secretsDir: sec });
  const logs: { level: string; obj: object; msg: string }[] = [];
  const logger = {
    info: (obj: object, msg: string) => logs.push({ level: 'info', obj, msg }),
    warn: (obj: object, msg: string) => logs.push({ level: 'warn', obj, msg }),
    error: (obj: object, msg: string) => logs.push({ level: 'error', obj, msg }),
  };
  const applied: { values: ConfigValues; changes: readonly ConfigChange[] }[] = [];
  const watcher = new ConfigWatcher({
    initial: load(),
    load,
    logger,
    pollIntervalMs: 60_000,
    onApply: (values, changes) => applied.push({ values: { ...values }, changes }),
  });
  return { cfg, sec, watcher, logs, applied };
}

describe('ConfigWatcher', () => {
  test('applies reloadable keys and reports the change', () => {
    const { cfg, watcher, applied, logs } = setup({ LOG_LEVEL: 'info', FAULT_ERROR_RATE: '0' });
    assert.deepEqual(watcher.reload(), []);
    writeKeys(cfg, { LOG_LEVEL: 'debug', FAULT_ERROR_RATE: '1' });
    const changes = watcher.reload();
    assert.deepEqual(
      changes.map((c) => [c.key, c.applied, c.from, c.to]),
      [
        ['LOG_LEVEL', true, 'info', 'debug'],
        ['FAULT_ERROR_RATE', true, '0', '1'],
      ],
    );
    assert.equal(applied.length, 1);
    assert.equal(applied[0]!.values.LOG_LEVEL, 'debug');
    assert.equal(applied[0]!.values.FAULT_ERROR_RATE, 1);
    assert.ok(logs.some((l) => l.msg === 'configuration key reloaded'));
    assert.deepEqual(watcher.reload(), [], 'no change the second time');
  });

  test('keys that need a restart are reported, not applied', () => {
    const { cfg, watcher, applied, logs } = setup({ PORT: '8080' });
    writeKeys(cfg, { PORT: '9090' });
    const changes = watcher.reload();
    assert.deepEqual(changes, [{ key: 'PORT', applied: false, from: '8080', to: '9090' }]);
    assert.equal(applied.length, 0);
    assert.equal(watcher.values.PORT, 8080);
    assert.ok(logs.some((l) => l.level === 'warn' && /restart/.test(l.msg)));
  });

  test('secret changes are reported without values', () => {
    const { sec, watcher, logs } = setup({}, { DATABASE_URL: 'postgres://u:old-pw@db/x' });
    writeKeys(sec, { DATABASE_URL: 'postgres://u:new-pw@db/x' });
    const changes = watcher.reload();
    assert.deepEqual(changes, [{ key: 'DATABASE_URL', applied: false }]);
    assert.doesNotMatch(JSON.stringify(logs), /pw@/);
  });

  test('an invalid change is rejected and the values in force are kept', () => {
    const { cfg, watcher, applied, logs } = setup({ FAULT_ERROR_RATE: '0.5' });
    writeKeys(cfg, { FAULT_ERROR_RATE: '7' });
    assert.deepEqual(watcher.reload(), []);
    assert.equal(watcher.values.FAULT_ERROR_RATE, 0.5);
    assert.equal(applied.length, 0);
    const errors = logs.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1);
    watcher.reload();
    assert.equal(logs.filter((l) => l.level === 'error').length, 1, 'same error logged twice');
    writeKeys(cfg, { FAULT_ERROR_RATE: '0.1' });
    watcher.reload();
    assert.equal(watcher.values.FAULT_ERROR_RATE, 0.1);
  });

  test('fs.watch notices a Kubernetes ..data swap without polling', async () => {
    const { cfg, watcher, applied } = setup({});
    const vol = new KubeVolume(cfg);
    vol.publish({ FAULT_ERROR_RATE: '0' });
    watcher.reload();
    watcher.start();
    try {
      vol.publish({ FAULT_ERROR_RATE: '0.75' });
      const deadline = Date.now() + 5000;
      while (applied.length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(applied.at(-1)?.values.FAULT_ERROR_RATE, 0.75);
    } finally {
      watcher.close();
    }
  });
});
