import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import {
  NO_FAULTS,
  parseBoolean,
  parseFaultErrorRate,
  parseFaultErrorStatus,
  parseFaultLatency,
  parseFaultRoutes,
  registerFaultInjection,
} from '../../src/ops/faults.js';
import type { FaultConfig } from '../../src/ops/faults.js';

describe('fault config parsing', () => {
  test('latency: off, fixed, range', () => {
    assert.equal(parseFaultLatency(''), null);
    assert.equal(parseFaultLatency('0'), null);
    assert.deepEqual(parseFaultLatency('250'), { minMs: 250, maxMs: 250 });
    assert.deepEqual(parseFaultLatency('100-300'), { minMs: 100, maxMs: 300 });
    assert.deepEqual(parseFaultLatency(' 5 - 5 '), { minMs: 5, maxMs: 5 });
    assert.throws(() => parseFaultLatency('300-100'), /reversed/);
    assert.throws(() => parseFaultLatency('-5'), /whole number/);
    assert.throws(() => parseFaultLatency('1.5'), /whole number/);
    assert.throws(() => parseFaultLatency('fast'), /whole number/);
    assert.throws(() => parseFaultLatency('60001'), /at most 60000/);
  });

  test('error rate is a share between 0 and 1', () => {
    assert.equal(parseFaultErrorRate(''), 0);
    assert.equal(parseFaultErrorRate('0'), 0);
    assert.equal(parseFaultErrorRate('0.25'), 0.25);
    assert.equal(parseFaultErrorRate('.5'), 0.5);
    assert.equal(parseFaultErrorRate('1'), 1);
    for (const bad of ['1.01', '-0.1', '50%', 'half', '1e-1', 'NaN']) {
      assert.throws(() => parseFaultErrorRate(bad), /between 0 and 1/, bad);
    }
  });

  test('error status must be 5xx', () => {
    assert.equal(parseFaultErrorStatus(''), 500);
    assert.equal(parseFaultErrorStatus('503'), 503);
    assert.throws(() => parseFaultErrorStatus('404'), /5xx/);
    assert.throws(() => parseFaultErrorStatus('5000'), /5xx/);
  });

  test('routes are templates', () => {
    assert.equal(parseFaultRoutes(''), null);
    assert.equal(parseFaultRoutes(' , '), null);
    assert.deepEqual(
      [...parseFaultRoutes('/api/users/:id,/api/users')!],
      ['/api/users/:id', '/api/users'],
    );
    assert.throws(() => parseFaultRoutes('api/users'), /starting with "\/"/);
  });

  test('booleans', () => {
    assert.equal(parseBoolean('', true), true);
    assert.equal(parseBoolean('FALSE', true), false);
    assert.equal(parseBoolean('0', true), false);
    assert.equal(parseBoolean('yes', false), true);
    assert.throws(() => parseBoolean('maybe', true), /true or false/);
  });
});

describe('fault injection hook', () => {
  async function appWith(faults: FaultConfig, random: () => number) {
    const app = Fastify();
    registerFaultInjection(app, { faults: () => faults, random });
    app.get('/api/a/:id', { config: { kind: 'api' } }, () => ({ ok: true }));
    app.get('/api/b', { config: { kind: 'api' } }, () => ({ ok: true }));
    app.get('/healthz', { config: { kind: 'ops' } }, () => ({ ok: true }));
    await app.ready();
    return app;
  }

  test('error rate decides per request with the random source', async () => {
    const rolls = [0.1, 0.9];
    const app = await appWith({ ...NO_FAULTS, errorRate: 0.5 }, () => rolls.shift() ?? 0);
    const first = await app.inject('/api/b');
    assert.equal(first.statusCode, 500);
    assert.match(String(first.headers['content-type']), /application\/problem\+json/);
    assert.equal(first.json().type, 'urn:gantry:problem:injected-fault');
    assert.equal((await app.inject('/api/b')).statusCode, 200);
  });

  test('ops routes are never faulted; FAULT_ROUTES limits by template', async () => {
    const app = await appWith(
      { ...NO_FAULTS, errorRate: 1, errorStatus: 503, routes: new Set(['/api/a/:id']) },
      () => 0,
    );
    assert.equal((await app.inject('/healthz')).statusCode, 200);
    assert.equal((await app.inject('/api/b')).statusCode, 200);
    assert.equal((await app.inject('/api/a/7')).statusCode, 503);
  });

  test('latency is added within the configured range', async () => {
    let rolls = 0;
    const app = await appWith({ ...NO_FAULTS, latency: { minMs: 40, maxMs: 60 } }, () => {
      rolls++;
      return 0.5;
    });
    const t0 = performance.now();
    assert.equal((await app.inject('/api/b')).statusCode, 200);
    assert.ok(performance.now() - t0 >= 39, 'latency not applied');
    assert.equal(rolls, 1);
    assert.equal((await app.inject('/healthz')).statusCode, 200);
    assert.equal(rolls, 1, 'latency was drawn for an ops route');
  });
});
