// Config reload in the real process: files in CONFIG_DIR change (plainly, or by Kubernetes'
// ..data symlink swap) and the service changes behaviour without a restart.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, afterEach, describe, test } from 'node:test';
import { KubeVolume, tempDir, writeKeys } from '../helpers/dirs.js';
import { eventually, spawnService } from '../helpers/child.js';
import type { ServiceProcess } from '../helpers/child.js';

const dirs: string[] = [];
let svc: ServiceProcess | undefined;
afterEach(async () => {
  if (svc !== undefined) {
    svc.proc.kill('SIGTERM');
    assert.equal(await svc.exited, 0);
    svc = undefined;
  }
});
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

async function status(url: string): Promise<number> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
}

describe('config reload', () => {
  test('editing files in CONFIG_DIR turns faults and debug logging on and off', async () => {
    const cfg = dir();
    const sec = dir();
    writeKeys(cfg, { LOG_LEVEL: 'info', FAULT_ERROR_RATE: '0' });
    writeKeys(sec, { DATABASE_URL: 'sqlite::memory:' });
    svc = await spawnService({
      CONFIG_DIR: cfg,
      SECRETS_DIR: sec,
      CONFIG_POLL_INTERVAL_MS: '500',
      SHUTDOWN_DRAIN_DELAY_MS: '0',
    });
    const base = svc.baseUrl;
    assert.equal(await status(`${base}/api/users`), 200);

    writeKeys(cfg, { LOG_LEVEL: 'debug', FAULT_ERROR_RATE: '1' });
    await eventually(async () => (await status(`${base}/api/users`)) === 500, 'faults on');
    assert.equal(await status(`${base}/healthz`), 200, 'ops routes are not faulted');
    const reloaded = await svc.waitForLog(
      (l) => l.msg === 'configuration key reloaded' && l.key === 'FAULT_ERROR_RATE',
    );
    assert.deepEqual([reloaded.from, reloaded.to], ['0', '1']);
    // Ops requests are logged at debug level only: seeing one proves LOG_LEVEL=debug applied.
    await status(`${base}/version`);
    await svc.waitForLog((l) => l.msg === 'request completed' && l.route === '/version');

    // A rotated Secret is noticed, needs a restart, and its value is never printed.
    writeKeys(sec, { DATABASE_URL: 'sqlite:/tmp/rotated-secret-marker.db' });
    await svc.waitForLog((l) => l.key === 'DATABASE_URL' && /restart/.test(l.msg ?? ''));
    assert.doesNotMatch(svc.output(), /rotated-secret-marker/);

    // An invalid value is rejected; the values in force stay.
    writeKeys(cfg, { FAULT_ERROR_RATE: 'lots' });
    await svc.waitForLog((l) => /configuration change rejected/.test(l.msg ?? ''));
    assert.equal(await status(`${base}/api/users`), 500);

    writeKeys(cfg, { LOG_LEVEL: 'info', FAULT_ERROR_RATE: '0' });
    await eventually(async () => (await status(`${base}/api/users`)) === 200, 'faults off');
  });

  test('a Kubernetes ..data symlink swap is picked up', async () => {
    const cfg = dir();
    const volume = new KubeVolume(cfg);
    volume.publish({ FAULT_ERROR_RATE: '0', LOG_LEVEL: 'info' });
    svc = await spawnService({
      CONFIG_DIR: cfg,
      CONFIG_POLL_INTERVAL_MS: '500',
      SHUTDOWN_DRAIN_DELAY_MS: '0',
    });
    const base = svc.baseUrl;
    assert.equal(await status(`${base}/api/users`), 200);

    volume.publish({ FAULT_ERROR_RATE: '1', FAULT_ERROR_STATUS: '503', LOG_LEVEL: 'info' });
    await eventually(async () => (await status(`${base}/api/users`)) === 503, 'faults on');
    volume.publish({ FAULT_READY: 'false', LOG_LEVEL: 'info' });
    await eventually(async () => (await status(`${base}/readyz`)) === 503, 'readiness off');
    assert.equal(await status(`${base}/api/users`), 200, 'FAULT_ERROR_RATE key removed → off');
    volume.publish({ LOG_LEVEL: 'info' });
    await eventually(async () => (await status(`${base}/readyz`)) === 200, 'readiness on');
  });
});
