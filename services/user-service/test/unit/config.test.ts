import assert from 'node:assert/strict';
import { rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, describeConfig, faultConfigOf, loadConfig } from '../../src/config/load.js';
import { parseDatabaseUrl } from '../../src/config/keys.js';
import { KubeVolume, tempDir, writeKeys } from '../helpers/dirs.js';

const dirs: string[] = [];
function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const NONE = '/nonexistent/user-service-test';

describe('loadConfig', () => {
  test('built-in defaults when no source sets anything', () => {
    const c = loadConfig({ env: {}, configDir: NONE, secretsDir: NONE });
    assert.equal(c.values.PORT, 8080);
    assert.equal(c.values.HOST, '0.0.0.0');
    assert.equal(c.values.LOG_LEVEL, 'info');
    assert.deepEqual(c.values.DATABASE_URL, { kind: 'sqlite', path: ':memory:' });
    assert.equal(c.values.BODY_LIMIT_BYTES, 65536);
    assert.equal(c.values.SHUTDOWN_DRAIN_DELAY_MS, 5000);
    assert.equal(c.values.SHUTDOWN_TIMEOUT_MS, 30000);
    assert.equal(c.values.FAULT_ERROR_RATE, 0);
    assert.equal(c.values.FAULT_LATENCY_MS, null);
    assert.equal(c.values.FAULT_READY, true);
    assert.equal(c.sources.PORT, 'default');
  });

  test('precedence: defaults < CONFIG_DIR < env < SECRETS_DIR', () => {
    const cfg = dir();
    const sec = dir();
    writeKeys(cfg, { PORT: '1001', HOST: '127.0.0.1', LOG_LEVEL: 'debug', BODY_LIMIT_BYTES: '10' });
    writeKeys(sec, { LOG_LEVEL: 'error', DATABASE_URL: 'postgres://u:s3cret@db:5432/users' });
    const c = loadConfig({
      env: {
        PORT: '1002',
        LOG_LEVEL: 'warn',
        DATABASE_URL: 'sqlite:/tmp/from-env.db',
        CONFIG_DIR: cfg,
        SECRETS_DIR: sec,
        BODY_LIMIT_BYTES: '', // empty env counts as unset
      },
    });
    assert.equal(c.values.HOST, '127.0.0.1');
    assert.equal(c.sources.HOST, 'config-dir');
    assert.equal(c.values.PORT, 1002);
    assert.equal(c.sources.PORT, 'env');
    assert.equal(c.values.BODY_LIMIT_BYTES, 10);
    assert.equal(c.values.LOG_LEVEL, 'error');
    assert.equal(c.sources.LOG_LEVEL, 'secrets-dir');
    assert.deepEqual(c.values.DATABASE_URL, {
      kind: 'postgres',
      url: 'postgres://u:s3cret@db:5432/users',
    });
    assert.equal(c.sources.DATABASE_URL, 'secrets-dir');
    assert.equal(c.configDir, cfg);
  });

  test('describeConfig never shows secret values', () => {
    const sec = dir();
    writeKeys(sec, { DATABASE_URL: 'postgres://u:s3cret@db/users', LOG_LEVEL: 'debug' });
    const c = loadConfig({ env: {}, configDir: NONE, secretsDir: sec });
    const described = JSON.stringify(describeConfig(c));
    assert.doesNotMatch(described, /s3cret/);
    assert.equal(describeConfig(c).DATABASE_URL?.value, '[redacted]');
    // Anything mounted from the Secret is treated as secret.
    assert.equal(describeConfig(c).LOG_LEVEL?.value, '[redacted]');
    assert.equal(describeConfig(c).PORT?.value, '8080');
  });

  test('reads Kubernetes-style volumes and skips ..data and unknown files', () => {
    const cfg = dir();
    new KubeVolume(cfg).publish({ LOG_LEVEL: 'debug', FAULT_ERROR_RATE: '0.25' });
    writeFileSync(join(cfg, 'not-a-key'), 'x');
    mkdirSync(join(cfg, 'SUBDIR'));
    const c = loadConfig({ env: {}, configDir: cfg, secretsDir: NONE });
    assert.equal(c.values.LOG_LEVEL, 'debug');
    assert.equal(c.values.FAULT_ERROR_RATE, 0.25);
    assert.ok(c.warnings.some((w) => w.includes('not-a-key')));
    assert.ok(!c.warnings.some((w) => w.includes('..data')));
  });

  test('a dangling symlink is ignored (mid-swap state)', () => {
    const cfg = dir();
    symlinkSync(join(cfg, 'nowhere'), join(cfg, 'LOG_LEVEL'));
    const c = loadConfig({ env: {}, configDir: cfg, secretsDir: NONE });
    assert.equal(c.values.LOG_LEVEL, 'info');
  });

  test('a secret key in CONFIG_DIR works but warns', () => {
    const cfg = dir();
    writeKeys(cfg, { DATABASE_URL: 'sqlite::memory:' });
    const c = loadConfig({ env: {}, configDir: cfg, secretsDir: NONE });
    assert.ok(c.warnings.some((w) => /DATABASE_URL.*Secret/.test(w)));
  });

  test('bad values fail with every problem, naming key and source', () => {
    const cfg = dir();
    writeKeys(cfg, { FAULT_ERROR_RATE: '1.5', LOG_LEVEL: 'loud' });
    let err: unknown;
    try {
      loadConfig({
        env: { PORT: '70000', HOST: 'bad host', SHUTDOWN_TIMEOUT_MS: 'soon' },
        configDir: cfg,
        secretsDir: NONE,
      });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError, 'expected a ConfigError');
    const text = err.message;
    assert.match(
      text,
      /PORT \(from env\): must be a whole number between 0 and 65535, got "70000"/,
    );
    assert.match(text, /HOST \(from env\)/);
    assert.match(text, /SHUTDOWN_TIMEOUT_MS \(from env\)/);
    assert.match(text, /FAULT_ERROR_RATE \(from config-dir\): must be a number between 0 and 1/);
    assert.match(text, /LOG_LEVEL \(from config-dir\): must be one of fatal, error, warn, info/);
    assert.equal(err.problems.length, 5);
  });

  test('bad DATABASE_URL is reported without echoing the value', () => {
    const sec = dir();
    writeKeys(sec, { DATABASE_URL: 'mysql://root:hunter2@db/users' });
    assert.throws(
      () => loadConfig({ env: {}, configDir: NONE, secretsDir: sec }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /DATABASE_URL \(from secrets-dir\)/.test(e.message) &&
        !e.message.includes('hunter2'),
    );
  });

  test('the drain delay must be shorter than the shutdown timeout', () => {
    assert.throws(
      () =>
        loadConfig({
          env: { SHUTDOWN_DRAIN_DELAY_MS: '5000', SHUTDOWN_TIMEOUT_MS: '5000' },
          configDir: NONE,
          secretsDir: NONE,
        }),
      /SHUTDOWN_DRAIN_DELAY_MS \(5000\) must be less than SHUTDOWN_TIMEOUT_MS/,
    );
  });

  test('fault keys become a FaultConfig', () => {
    const c = loadConfig({
      env: {
        FAULT_LATENCY_MS: '10-20',
        FAULT_ERROR_RATE: '0.5',
        FAULT_ERROR_STATUS: '503',
        FAULT_ROUTES: '/api/users/:id, /api/users',
        FAULT_READY: 'false',
      },
      configDir: NONE,
      secretsDir: NONE,
    });
    const f = faultConfigOf(c.values);
    assert.deepEqual(f.latency, { minMs: 10, maxMs: 20 });
    assert.equal(f.errorRate, 0.5);
    assert.equal(f.errorStatus, 503);
    assert.deepEqual([...(f.routes ?? [])], ['/api/users/:id', '/api/users']);
    assert.equal(f.ready, false);
  });
});

describe('parseDatabaseUrl', () => {
  test('sqlite and postgres forms', () => {
    assert.deepEqual(parseDatabaseUrl(''), { kind: 'sqlite', path: ':memory:' });
    assert.deepEqual(parseDatabaseUrl('sqlite::memory:'), { kind: 'sqlite', path: ':memory:' });
    assert.deepEqual(parseDatabaseUrl('sqlite:/var/lib/u.db'), {
      kind: 'sqlite',
      path: '/var/lib/u.db',
    });
    assert.deepEqual(parseDatabaseUrl('sqlite:///var/lib/u.db'), {
      kind: 'sqlite',
      path: '/var/lib/u.db',
    });
    assert.equal(parseDatabaseUrl('postgresql://h/db').kind, 'postgres');
    assert.throws(() => parseDatabaseUrl('sqlite:'), /sqlite::memory:/);
    assert.throws(() => parseDatabaseUrl('redis://x'), /must be empty/);
  });
});
